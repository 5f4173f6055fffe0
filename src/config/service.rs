//! One service's definition: how to reach it ([`TransportConfig`]) and how to
//! treat its calls (pool, cache policy, retry policy).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::{AuthConfig, PoolConfig};
use crate::error::{Error, Result};

/// One service: how to reach it, and its own pool, cache and retry settings.
///
/// Build one with [`ServiceConfig::stdio`] or [`ServiceConfig::http`] and set
/// the rest with struct update syntax:
///
/// ```
/// use mcpstore::{PoolConfig, RetryPolicy, ServiceConfig};
/// let config = ServiceConfig {
///     pool: Some(PoolConfig { max_connections: 4, ..Default::default() }),
///     retry: RetryPolicy { trust_annotations: false, ..Default::default() },
///     ..ServiceConfig::stdio("mcpstore-demo-server", ["--root", "/tmp"])
/// };
/// # let _ = config;
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceConfig {
    /// How the service is reached.
    pub transport: TransportConfig,
    /// Pool settings of this service; `None` uses the store's.
    pub pool: Option<PoolConfig>,
    /// Which tools' results may be cached, and how long (nothing by default).
    pub cache: CachePolicy,
    /// Which calls may be sent again after they may have reached the server.
    pub retry: RetryPolicy,
    /// The roots this service's server gets for `roots/list` (`None`: the store's).
    pub roots: Option<Vec<crate::protocol::Root>>,
    /// Whether `structuredContent` is checked against a tool's `outputSchema`
    /// (on by default; a mismatch is reported on the result).
    pub check_output_schema: bool,
    /// Which protocol era to speak (by default: found out per server).
    pub protocol: ProtocolChoice,
}

/// Which protocol a service speaks: found out per server (`"auto"`), or one version.
///
/// `Auto` asks a new server with `server/discover` (the stateless era,
/// 2026-07-28) and falls back to the `initialize` handshake when it does not
/// answer as a modern server; what it found is remembered per command (stdio)
/// or origin (HTTP) for the process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProtocolChoice {
    /// Find out per server.
    #[default]
    Auto,
    /// Speak this version: a modern one (`2026-07-28`) or a handshake one (`2025-11-25`, ...).
    Version(String),
}

impl ProtocolChoice {
    /// Parses `"auto"` or a version this client speaks.
    pub fn parse(text: &str) -> std::result::Result<ProtocolChoice, String> {
        if text == "auto" {
            return Ok(ProtocolChoice::Auto);
        }
        let known = crate::protocol::modern::MODERN_VERSIONS
            .iter()
            .chain(crate::protocol::version::SUPPORTED_PROTOCOL_VERSIONS)
            .any(|v| *v == text);
        match known {
            true => Ok(ProtocolChoice::Version(text.to_owned())),
            false => Err(format!(
                "unknown protocol '{text}' (expected auto, {}, or {})",
                crate::protocol::modern::MODERN_VERSIONS.join(", "),
                crate::protocol::version::SUPPORTED_PROTOCOL_VERSIONS.join(", ")
            )),
        }
    }
}

impl ServiceConfig {
    /// A service reached through `transport`, with default settings.
    pub fn new(transport: impl Into<TransportConfig>) -> Self {
        ServiceConfig {
            transport: transport.into(),
            pool: None,
            cache: CachePolicy::default(),
            retry: RetryPolicy::default(),
            roots: None,
            check_output_schema: true,
            protocol: ProtocolChoice::Auto,
        }
    }

    /// A stdio service: `command` with `args`.
    pub fn stdio<I, S>(command: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ServiceConfig::new(StdioConfig::new(command, args))
    }

    /// An HTTP service at `url`: Streamable HTTP, or the legacy HTTP+SSE
    /// transport when the server refuses it ([`HttpTransportKind::Auto`]).
    pub fn http(url: impl Into<String>) -> Self {
        ServiceConfig::new(HttpConfig::new(url))
    }

    /// Checks what cannot work, for a config built in code as for one read
    /// from JSON: the pool settings (`pool.<field>`), an empty command, NUL
    /// bytes in the command or arguments, environment names (`env.<name>`,
    /// `inheritEnv`), a URL that is not `http(s)://host...`, header names and
    /// values (`headers.<name>`), a zero cache time to live
    /// (`cache.tools.<tool>.ttl`), roots that are not `file://` URIs
    /// (`roots[<i>]`), OAuth settings (`auth.<field>`). The error names
    /// `service` and the field.
    pub fn validate(&self, service: &str) -> Result<()> {
        let err = |field: &str, message: &str| Error::config(Some(service), Some(field), message);
        if let Some(pool) = &self.pool {
            pool.validate(Some(service)).map_err(|e| match e {
                Error::Config { service, field, message } => {
                    Error::Config { service, field: field.map(|f| format!("pool.{f}")), message }
                }
                other => other,
            })?;
        }
        if let ProtocolChoice::Version(v) = &self.protocol {
            ProtocolChoice::parse(v).map_err(|m| err("protocol", &m))?;
        }
        for (i, root) in self.roots.iter().flatten().enumerate() {
            root.validate().map_err(|m| err(&format!("roots[{i}]"), &m))?;
        }
        for (tool, ttl) in &self.cache.tools {
            if ttl.is_zero() {
                return Err(err(&format!("cache.tools.{tool}.ttl"), "must be greater than 0"));
            }
        }
        match &self.transport {
            TransportConfig::Stdio(s) => {
                if s.command.trim().is_empty() {
                    return Err(err("command", "must not be empty"));
                }
                if s.command.contains('\0') {
                    return Err(err("command", "must not contain a NUL byte"));
                }
                if let Some(i) = s.args.iter().position(|a| a.contains('\0')) {
                    return Err(err(&format!("args[{i}]"), "must not contain a NUL byte"));
                }
                for (name, value) in &s.env {
                    validate_env_name(name).map_err(|m| err(&format!("env.{name}"), m))?;
                    if value.contains('\0') {
                        return Err(err(&format!("env.{name}"), "must not contain a NUL byte"));
                    }
                }
                if let InheritEnv::Names(names) = &s.inherit_env {
                    for (i, name) in names.iter().enumerate() {
                        validate_env_name(name).map_err(|m| err(&format!("inheritEnv[{i}]"), m))?;
                    }
                }
                Ok(())
            }
            TransportConfig::Http(h) => {
                let rest = h.url.strip_prefix("http://").or_else(|| h.url.strip_prefix("https://"));
                let Some(rest) = rest else {
                    return Err(err("url", "must start with http:// or https://"));
                };
                if rest.split(['/', '?', '#']).next().unwrap_or("").is_empty() {
                    return Err(err("url", "has no host"));
                }
                if h.url.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(err("url", "must not contain spaces or control characters"));
                }
                for (name, value) in &h.headers {
                    validate_header(name, value).map_err(|m| err(&format!("headers.{name}"), m))?;
                }
                h.auth.check().map_err(|(field, m)| err(&field, &m))?;
                let static_auth = h.headers.keys().any(|k| k.eq_ignore_ascii_case("authorization"));
                if static_auth && !h.auth.is_default() {
                    return Err(err(
                        "auth",
                        "the entry has both a static Authorization header and an auth setting; keep one",
                    ));
                }
                Ok(())
            }
        }
    }
}

/// Checks an environment variable name: non-empty, without `=` or NUL.
fn validate_env_name(name: &str) -> std::result::Result<(), &'static str> {
    if name.is_empty() || name.contains(['=', '\0']) {
        return Err("an environment variable name must be non-empty, without '=' or NUL");
    }
    Ok(())
}

/// How a service is reached.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TransportConfig {
    /// A child process speaking newline-delimited JSON on stdin/stdout.
    Stdio(StdioConfig),
    /// HTTP: Streamable HTTP (one POST per message; JSON or SSE replies) or
    /// the legacy HTTP+SSE transport, as [`HttpConfig::transport`] says.
    Http(HttpConfig),
}

impl TransportConfig {
    /// `"stdio"`, `"streamable-http"` or `"sse"` (the legacy HTTP+SSE
    /// transport). An [`HttpTransportKind::Auto`] service reports
    /// `"streamable-http"`, what it tries first; `Session::transport_kind`
    /// says which one a session uses.
    pub fn kind(&self) -> &'static str {
        match self {
            TransportConfig::Stdio(_) => "stdio",
            TransportConfig::Http(h) if h.transport == HttpTransportKind::Sse => "sse",
            TransportConfig::Http(_) => "streamable-http",
        }
    }
}

impl From<StdioConfig> for TransportConfig {
    fn from(c: StdioConfig) -> Self {
        TransportConfig::Stdio(c)
    }
}

impl From<HttpConfig> for TransportConfig {
    fn from(c: HttpConfig) -> Self {
        TransportConfig::Http(c)
    }
}

impl From<StdioConfig> for ServiceConfig {
    fn from(c: StdioConfig) -> Self {
        ServiceConfig::new(c)
    }
}

impl From<HttpConfig> for ServiceConfig {
    fn from(c: HttpConfig) -> Self {
        ServiceConfig::new(c)
    }
}

/// A server run as a child process.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct StdioConfig {
    /// The program to run.
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Variables set for the server on top of what it inherits.
    pub env: BTreeMap<String, String>,
    /// What of this process's environment the server sees (by default only
    /// [`InheritEnv::MINIMAL`]).
    pub inherit_env: InheritEnv,
    /// The working directory, if not the current one.
    pub cwd: Option<PathBuf>,
}

impl StdioConfig {
    /// `command` with `args`, the minimal environment and the current directory.
    pub fn new<I, S>(command: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        StdioConfig {
            command: command.into(),
            args: args.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }
}

/// Which of this process's environment variables a stdio server inherits.
///
/// By default only [`InheritEnv::MINIMAL`] (`HOME`, `LOGNAME`, `PATH`,
/// `SHELL`, `TERM`, `USER`, those that are set), as the official SDKs do, so
/// that secrets in the host's environment never reach a server that was not
/// given them. The entry's `env` is added on top. In `mcp.json`:
/// `"inheritEnv": ["LANG", "HTTPS_PROXY"]` adds names, `"inheritEnv": true`
/// passes everything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum InheritEnv {
    /// The minimal set only.
    #[default]
    Minimal,
    /// The minimal set and these names.
    Names(Vec<String>),
    /// Everything (`"inheritEnv": true`).
    All,
}

impl InheritEnv {
    /// The variables every stdio server inherits (when they are set).
    pub const MINIMAL: &'static [&'static str] = &["HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER"];
}

/// A server reached over HTTP.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct HttpConfig {
    /// The MCP endpoint, for example `http://127.0.0.1:8000/mcp` (for the
    /// legacy transport, its SSE stream, such as `http://127.0.0.1:8000/sse`).
    pub url: String,
    /// Headers sent with every request (for example `Authorization`); never logged.
    pub headers: BTreeMap<String, String>,
    /// Which HTTP transport to speak (by default: Streamable HTTP, falling
    /// back to the legacy HTTP+SSE transport when the server refuses it).
    pub transport: HttpTransportKind,
    /// OAuth authorization when the server asks for it (HTTP 401). A static
    /// `Authorization` header in `headers` turns it off.
    pub auth: AuthConfig,
}

impl HttpConfig {
    /// The endpoint at `url`, with no extra headers and the transport chosen
    /// automatically.
    pub fn new(url: impl Into<String>) -> Self {
        HttpConfig {
            url: url.into(),
            headers: BTreeMap::new(),
            transport: HttpTransportKind::Auto,
            auth: AuthConfig::default(),
        }
    }
}

/// Which HTTP transport a service speaks. In `mcp.json`: `"transport"` (or
/// `"type"`) `"streamable-http"` / `"http"`, or `"sse"`; without it, `Auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum HttpTransportKind {
    /// Streamable HTTP first; when the server answers the `initialize` POST
    /// with 400, 404 or 405, the legacy HTTP+SSE transport (as the MCP
    /// specification's backwards-compatibility section describes). The
    /// transport that worked for a URL is remembered for later sessions.
    #[default]
    Auto,
    /// Streamable HTTP only (protocol 2025-03-26 and later).
    StreamableHttp,
    /// The legacy HTTP+SSE transport only (protocol 2024-11-05): a GET opens
    /// the event stream, its `endpoint` event names where to POST messages.
    Sse,
}

/// Which tools' results a service caches, and for how long.
///
/// Empty by default: only calls with a caller's cache key are cached. In
/// `mcp.json`: `"cache": {"tools": {"get_forecast": {"ttl": 60}}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct CachePolicy {
    /// Tool name to time to live.
    pub tools: BTreeMap<String, Duration>,
}

impl CachePolicy {
    /// The time to live of `tool`'s results, if the policy names it.
    pub fn ttl_for(&self, tool: &str) -> Option<Duration> {
        self.tools.get(tool).copied()
    }
}

/// Which `tools/call` requests may be sent again after they may have reached
/// the server (a timeout, a reset, a 5xx). A request that provably never
/// reached the server is always retried, within the call's deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetryPolicy {
    /// Trust the server's `idempotentHint` and `readOnlyHint` (default `true`).
    pub trust_annotations: bool,
    /// Tools the user knows are safe to repeat, whatever the server says.
    pub idempotent_tools: BTreeSet<String>,
    /// Every tool of the service is safe to repeat (`retry_non_idempotent`).
    pub retry_all: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { trust_annotations: true, idempotent_tools: BTreeSet::new(), retry_all: false }
    }
}

/// Checks a service name: non-empty, no whitespace, no dots (dots qualify tool names).
pub(crate) fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '.' || c.is_control()) {
        return Err(Error::config(
            Some(name),
            None,
            "a service name must be non-empty, without spaces or dots",
        ));
    }
    Ok(())
}

/// Checks an HTTP header (RFC 9110): the name is a token, the value visible
/// ASCII, spaces and tabs. The one copy of this rule.
pub(crate) fn validate_header(name: &str, value: &str) -> std::result::Result<(), &'static str> {
    const TOKEN_SPECIALS: &[u8] = b"!#$%&'*+-.^_`|~";
    let token = |b: u8| b.is_ascii_alphanumeric() || TOKEN_SPECIALS.contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err("invalid HTTP header name");
    }
    if !value.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)) {
        return Err("invalid HTTP header value");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_rule() {
        assert!(validate_header("Authorization", "Bearer a.b-c").is_ok());
        assert!(validate_header("X-Empty", "").is_ok());
        assert!(validate_header("bad name", "x").is_err());
        assert!(validate_header("", "x").is_err());
        assert!(validate_header("X", "line\nbreak").is_err());
        assert!(validate_header("X", "caf\u{e9}").is_err());
    }

    #[test]
    fn code_built_configs_are_checked() {
        let bad_pool = ServiceConfig {
            pool: Some(PoolConfig { max_in_flight_per_connection: 0, ..Default::default() }),
            ..ServiceConfig::stdio("x", Vec::<String>::new())
        };
        let e = bad_pool.validate("s").unwrap_err();
        assert!(e.to_string().contains("max_in_flight_per_connection"), "{e}");
        let mut http = HttpConfig::new("http://127.0.0.1:1/mcp");
        http.headers.insert("X-A".into(), "a\r\nb".into());
        let e = ServiceConfig::new(http).validate("s").unwrap_err();
        assert!(e.to_string().contains("headers.X-A"), "{e}");
        assert!(ServiceConfig::http("ftp://x").validate("s").is_err());
    }

    #[test]
    fn kinds_of_http_services() {
        let http =
            |transport| TransportConfig::Http(HttpConfig { transport, ..HttpConfig::new("http://h/") });
        assert_eq!(HttpConfig::new("http://h/").transport, HttpTransportKind::Auto);
        assert_eq!(http(HttpTransportKind::Auto).kind(), "streamable-http");
        assert_eq!(http(HttpTransportKind::StreamableHttp).kind(), "streamable-http");
        assert_eq!(http(HttpTransportKind::Sse).kind(), "sse");
        let json = serde_json::to_value(http(HttpTransportKind::Sse)).unwrap();
        assert_eq!(json["transport"], "sse");
    }
}
