//! # mcpstore
//!
//! A blocking Model Context Protocol (MCP) client library: a [`Store`] keeps
//! many MCP servers at hand (stdio child processes and Streamable HTTP),
//! keeps pools of live initialized sessions to each, resolves tool, prompt
//! and resource names across services and calls tools fast — from programs
//! that have no async runtime. It is a whole MCP 2025-11-25 client: tools,
//! resources, prompts, completions, logging, and handlers for the server's
//! sampling, elicitation and roots requests; what servers send on their own
//! arrives as [`Event`]s. A stable C ABI (`include/mcpstore.h`) exposes the same to C, C++
//! and Go.
//!
//! ```no_run
//! use mcpstore::{Store, ServiceConfig};
//! use serde_json::json;
//!
//! let store = Store::builder().build()?;
//! store.add_service("demo", ServiceConfig::stdio("mcpstore-demo-server", Vec::<String>::new()))?;
//! let result = store.call_tool("echo", json!({"message": "hi"}))?;
//! assert_eq!(result.text(), "hi");
//! # Ok::<(), mcpstore::Error>(())
//! ```
//!
//! Conventions: configuration and option types are plain structs with public
//! fields and `Default` (write `PoolConfig { max_connections: 4,
//! ..Default::default() }`); the store alone is made by a builder, because
//! building it starts threads. Tool arguments are passed as a
//! [`serde_json::Value`] by value.

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod auth;
mod bench;
mod cache;
mod call_options;
mod callback_slot;
mod cancel;
mod config;
mod dispatch;
mod error;
mod exec;
mod ffi;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod metrics;
mod monitor;
mod objpool;
mod pool;
mod protocol;
mod session;
mod store;
mod transport;
mod util;

pub use auth::{
    AuthStatus, AuthorizationRequest, Authorizer, CredentialKey, FileTokenStore, HeadlessAuthorizer,
    LoopbackAuthorizer, MemoryTokenStore, StoredCredential, TokenStore,
};
pub use bench::{BenchmarkResult, PerformanceBenchmark, Workload};
pub use cache::CacheStats;
pub use call_options::{CallOptions, ProgressCallback, TaskWatcher};
pub use cancel::CancelToken;
pub use config::{
    AuthConfig, AuthMode, BatchConfig, CacheConfig, CachePolicy, CredentialsConfig,
    DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_REDIRECT_URI, FLAT_KEYS, HttpConfig, HttpTransportKind, InheritEnv,
    MemoryConfig, PerformanceConfig, PoolConfig, ProtocolChoice, RetryPolicy, SecretSource, ServersFile,
    ServiceConfig, StdioConfig, TransportConfig,
};
pub use error::{AuthStep, Error, ErrorCode, Result, TimeoutPhase};
pub use exec::{CallHandle, CallResult, Completion, CompletionQueue, ExecutorStats, ToolCall, ToolOutput};
pub use metrics::{LatencySummary, ToolStats};
pub use monitor::{LiveObjects, MemoryMonitor, MemorySample, MemorySummary, PressureCallback, ReliefCounts};
pub use objpool::{ObjectPool, ObjectPoolStats, Pooled};
pub use pool::{PoolStats, ServiceState};
pub use protocol::{
    CompleteResult, CompletionRef, CreateMessageRequest, CreateMessageResult, ElicitAction, ElicitRequest,
    ElicitResult, GetPromptResult, Implementation, InitializeResult, LogLevel, Progress, Prompt,
    PromptArgument, PromptMessage, ReadResourceResult, Resource, ResourceContents, ResourceTemplate, Root,
    SamplingMessage, Tool, ToolAnnotations, ToolResult,
};
pub use session::{Session, SessionOptions};
pub use store::{
    AcceptDefaults, ApplyReport, BatchOptions, ElicitationHandler, Event, EventQueue, HandlerError,
    LOGIN_TIMEOUT, Listed, Reply, RequestContext, RootsHandler, SamplingHandler, ServiceInfo, Store,
    StoreBuilder, StoreStats,
};
pub use transport::{ListenState, ListenStatus};

/// Internals for the micro-benchmarks (`cargo bench --bench micro --features
/// bench-internals`); not part of the API.
#[cfg(feature = "bench-internals")]
#[doc(hidden)]
pub mod internals {
    pub use crate::cache::ResultCache;
    pub use crate::protocol::Incoming;
    pub use crate::protocol::jsonrpc::parse_message;

    /// Encodes a request as a session does: params (encoded once), then the
    /// era's `_meta` (`modern`: 2026-07-28 per-request fields).
    pub fn encode_request(buf: &mut Vec<u8>, id: i64, method: &str, params: &[u8], modern: bool) {
        crate::session::wire_for_bench(modern).encode(buf, id, method, Some(params), "", None);
    }

    /// Takes one session of `service`'s pool and gives it back: the cost of a checkout.
    pub fn checkout(store: &crate::Store, service: &str) -> crate::Result<()> {
        store.checkout_once(service)
    }
}

/// The README's Rust examples, compiled as doctests (`cargo test --doc`), so
/// that the quickstart stays correct for the current API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The library's version (from Cargo.toml), for example `"0.1.0"`.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
