//! The MCP wire format: JSON-RPC 2.0 framing and MCP message types.
//!
//! Pure data, no I/O: everything here turns bytes into values and back.

pub mod jsonrpc;
pub mod messages;
pub mod version;

pub use jsonrpc::{Incoming, RequestId, RpcError};
pub use messages::{Implementation, InitializeResult, ListToolsResult, Tool, ToolAnnotations, ToolResult};
pub use version::{LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS};
