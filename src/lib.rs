//! # mcpstore
//!
//! A blocking Model Context Protocol (MCP) client library: a [`Store`] keeps
//! many MCP servers at hand (stdio child processes and Streamable HTTP),
//! keeps pools of live initialized sessions to each, resolves tool names
//! across services and calls tools fast — from programs that have no async
//! runtime. A stable C ABI (`include/mcpstore.h`) exposes the same to C, C++
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

pub mod bench;
pub mod cache;
pub mod config;
pub mod demo;
pub mod error;
pub mod exec;
pub mod ffi;
pub mod metrics;
pub mod monitor;
pub mod pool;
pub mod protocol;
pub mod servers;
pub mod session;
pub mod stats;
pub mod store;
pub mod transport;

pub use bench::{BenchmarkResult, PerformanceBenchmark};
pub use cache::{CacheStats, ResultCache};
pub use config::{BatchConfig, CacheConfig, MemoryConfig, PerformanceConfig, PoolConfig};
pub use error::{Error, ErrorCode, Result, TimeoutPhase};
pub use exec::{BatchOptions, CallHandle, CallResult, Completion, CompletionQueue, ToolCall};
pub use pool::{ObjectPool, ObjectPoolStats, PoolStats, Pooled, ServiceState};
pub use protocol::{Implementation, InitializeResult, Tool, ToolAnnotations, ToolResult};
pub use servers::{ServiceConfig, TransportConfig};
pub use session::{CancelToken, Session, SessionOptions};
pub use store::{CallOptions, ServiceInfo, Store, StoreBuilder};

/// The library's version (from Cargo.toml), for example `"0.1.0"`.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
