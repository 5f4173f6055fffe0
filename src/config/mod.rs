//! Configuration as plain data: the store's tunables ([`PerformanceConfig`]),
//! one service's definition ([`ServiceConfig`]) and the `mcp.json` format
//! that holds both. Nothing here does I/O beyond reading a file.
//!
//! Every type is a plain struct with public fields and a `Default` (or a
//! constructor for its required fields): write `PoolConfig { max_connections: 4,
//! ..Default::default() }`. Values built in code are checked like values read
//! from JSON: `validate()` names the field that cannot work.

mod auth;
mod credentials;
mod mcp_json;
mod performance;
mod service;
mod values;

pub(crate) use auth::is_loopback;
pub use auth::{AuthConfig, AuthMode, DEFAULT_REDIRECT_URI, SecretSource};
pub use credentials::CredentialsConfig;
pub use mcp_json::ServersFile;
pub(crate) use mcp_json::{load_file, parse_str};
pub use performance::{
    BatchConfig, CacheConfig, DEFAULT_MAX_RESPONSE_BYTES, FLAT_KEYS, MemoryConfig, PerformanceConfig,
    PoolConfig,
};
pub use service::{
    CachePolicy, HttpConfig, HttpTransportKind, InheritEnv, ProtocolChoice, RetryPolicy, ServiceConfig,
    StdioConfig, TransportConfig,
};
pub(crate) use service::{validate_header, validate_name};
