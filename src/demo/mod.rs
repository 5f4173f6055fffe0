//! The embedded demo MCP server (stdio and Streamable HTTP).
