//! mcpstore: a blocking MCP client library.

pub mod demo;
