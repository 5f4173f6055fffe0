//! The MCP wire format: JSON-RPC 2.0 framing and MCP message types.
//!
//! Pure data, no I/O: everything here turns bytes into values and back.

pub(crate) mod client_requests;
pub(crate) mod jsonrpc;
pub(crate) mod messages;
pub(crate) mod modern;
pub(crate) mod param_headers;
pub(crate) mod prompts;
pub(crate) mod resources;
pub(crate) mod tool_result_shape;
pub(crate) mod version;

pub use client_requests::{
    CreateMessageRequest, CreateMessageResult, ElicitAction, ElicitRequest, ElicitResult, LogLevel, Root,
    SamplingMessage,
};
pub use prompts::{CompleteResult, CompletionRef, GetPromptResult, Prompt, PromptArgument, PromptMessage};
pub(crate) use resources::template_matches;
pub use resources::{ReadResourceResult, Resource, ResourceContents, ResourceTemplate};

pub use jsonrpc::{Incoming, RequestId, RpcError};
pub use messages::{Implementation, InitializeResult, Progress, Tool, ToolAnnotations, ToolResult};
pub use modern::TaskInfo;
