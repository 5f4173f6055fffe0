//! The library's one error type and its stable numeric codes.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// A convenient alias for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which step of a call ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutPhase {
    /// Spawning a process or opening a TCP connection.
    Connect,
    /// The `initialize` handshake.
    Initialize,
    /// Writing a request to the server.
    Write,
    /// Waiting for the server's response.
    Response,
    /// Waiting for a free session in the pool (the call's own deadline passed
    /// first; `acquire_timeout` running out is [`Error::PoolExhausted`]).
    Acquire,
    /// Waiting for a `ping` answer during a health check.
    HealthCheck,
    /// Waiting for a background call or a batch to finish.
    Wait,
}

impl TimeoutPhase {
    /// A short lower-case name of the phase, used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeoutPhase::Connect => "connect",
            TimeoutPhase::Initialize => "initialize",
            TimeoutPhase::Write => "write",
            TimeoutPhase::Response => "response",
            TimeoutPhase::Acquire => "acquire",
            TimeoutPhase::HealthCheck => "health check",
            TimeoutPhase::Wait => "wait",
        }
    }
}

/// Which step of an OAuth authorization failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthStep {
    /// Reading the server's `WWW-Authenticate` challenge or its Protected
    /// Resource Metadata (RFC 9728), including a `resource` that does not
    /// match the server.
    ProtectedResource,
    /// Discovering the authorization server's metadata (RFC 8414 / OpenID
    /// Connect Discovery), including one without PKCE S256.
    ServerMetadata,
    /// Registering the client (pre-registered, Client ID Metadata Document or
    /// Dynamic Client Registration).
    Registration,
    /// The user agent step: the authorization URL, the redirect, `state`.
    Authorization,
    /// The token request (authorization code or client credentials).
    Token,
    /// Refreshing an access token.
    Refresh,
    /// The server asks for scopes the authorization cannot give (step-up failed).
    Scope,
    /// Reading or writing stored credentials.
    TokenStore,
}

impl AuthStep {
    /// A short lower-case name of the step, used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthStep::ProtectedResource => "protected resource metadata",
            AuthStep::ServerMetadata => "authorization server metadata",
            AuthStep::Registration => "client registration",
            AuthStep::Authorization => "authorization",
            AuthStep::Token => "token request",
            AuthStep::Refresh => "token refresh",
            AuthStep::Scope => "scope step-up",
            AuthStep::TokenStore => "token store",
        }
    }
}

/// Everything that can go wrong in mcpstore.
///
/// A tool result with `isError: true` is not an `Error`: it is data, returned
/// as a [`crate::ToolResult`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid; names the service and the field when known.
    Config {
        /// The service whose entry is wrong, if any.
        service: Option<String>,
        /// The field (or key) that is wrong, if any.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// An argument given by the caller is invalid (malformed JSON, bad UTF-8, NULL).
    InvalidArgument(String),
    /// No service has that name.
    ServiceNotFound {
        /// The name that was asked for.
        name: String,
        /// Up to five similar names that do exist.
        suggestions: Vec<String>,
    },
    /// No tool has that name.
    ToolNotFound {
        /// The name that was asked for.
        name: String,
        /// Up to five similar names that do exist.
        suggestions: Vec<String>,
    },
    /// A bare tool name matches tools of several services.
    AmbiguousTool {
        /// The name that was asked for.
        name: String,
        /// The qualified names (`service.tool`) that match.
        candidates: Vec<String>,
    },
    /// No prompt has that name.
    PromptNotFound {
        /// The name that was asked for.
        name: String,
        /// Up to five similar names that do exist.
        suggestions: Vec<String>,
    },
    /// A bare prompt name matches prompts of several services.
    AmbiguousPrompt {
        /// The name that was asked for.
        name: String,
        /// The qualified names (`service.prompt`) that match.
        candidates: Vec<String>,
    },
    /// No service lists that resource URI or has a template matching it.
    ResourceNotFound {
        /// The URI that was asked for.
        uri: String,
        /// Up to five similar URIs that do exist.
        suggestions: Vec<String>,
    },
    /// Several services list the URI or have templates matching it.
    AmbiguousResource {
        /// The URI that was asked for.
        uri: String,
        /// The services that could serve it (name one explicitly).
        candidates: Vec<String>,
    },
    /// The transport failed: I/O, connection, or an HTTP status.
    Transport {
        /// What failed.
        message: String,
        /// The HTTP status, when the server answered with one.
        status: Option<u16>,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
        /// Whether the request may have reached the server and run there
        /// (`false` only when it provably did not: nothing was written, the
        /// connection was refused, the server answered 404 for an expired
        /// session or 429).
        may_have_run: bool,
    },
    /// The server sent something that is not valid JSON-RPC / MCP.
    Protocol(String),
    /// The server does not speak a protocol version this client accepts.
    UnsupportedVersion(String),
    /// The server answered with a JSON-RPC error.
    Rpc {
        /// The JSON-RPC error code.
        code: i64,
        /// The server's message.
        message: String,
        /// The server's optional `data`.
        data: Option<Value>,
    },
    /// A step did not finish in time.
    Timeout {
        /// Which step.
        phase: TimeoutPhase,
        /// The limit that was exceeded.
        after: Duration,
        /// What the server sent instead of the awaited reply, when it sent
        /// something that was not one (the start of the last such line).
        detail: Option<String>,
    },
    /// Every session of the service was busy for the whole acquire timeout.
    PoolExhausted {
        /// The service.
        service: String,
        /// How long the call waited.
        waited: Duration,
    },
    /// Too many background calls are in flight.
    Busy {
        /// How long `submit` waited for a free slot.
        waited: Duration,
    },
    /// The call was cancelled.
    Cancelled,
    /// The session, service or store was closed.
    Closed {
        /// Why.
        message: String,
        /// Whether the request may have reached the server (and run) before it closed.
        may_have_run: bool,
    },
    /// A response exceeded the configured size limit.
    ResponseTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// OAuth authorization of an HTTP service failed (the request it was for
    /// never ran: the server refused it). Never carries a token or a secret.
    Auth {
        /// Which step failed.
        step: AuthStep,
        /// What went wrong.
        message: String,
    },
    /// A bug in mcpstore (for example a panic caught at the C boundary).
    Internal(String),
}

/// The stable numeric code of an error, shared with the C ABI (`mcps_status`).
///
/// Numbers are grouped by class (1xx caller, 2xx transport, 3xx protocol,
/// 4xx flow control, 5xx internal) and never reused.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Success.
    Ok = 0,
    /// An argument was NULL, not UTF-8, or malformed.
    InvalidArgument = 100,
    /// The configuration is invalid.
    Config = 101,
    /// No service has that name.
    ServiceNotFound = 102,
    /// No tool has that name.
    ToolNotFound = 103,
    /// A bare tool name matches several services.
    AmbiguousTool = 104,
    /// No prompt has that name.
    PromptNotFound = 105,
    /// A bare prompt name matches several services.
    AmbiguousPrompt = 106,
    /// No service serves that resource URI.
    ResourceNotFound = 107,
    /// Several services could serve that resource URI.
    AmbiguousResource = 108,
    /// I/O or connection failure.
    Transport = 200,
    /// The server answered with an HTTP error status.
    HttpStatus = 201,
    /// The session, service or store is closed.
    Closed = 202,
    /// OAuth authorization failed (discovery, registration, login, token, scope).
    Auth = 203,
    /// The server sent an invalid message.
    Protocol = 300,
    /// The server answered with a JSON-RPC error.
    Rpc = 301,
    /// The server's protocol version is not supported.
    UnsupportedVersion = 302,
    /// A response exceeded the size limit.
    ResponseTooLarge = 303,
    /// A step did not finish in time.
    Timeout = 400,
    /// No session became free within the acquire timeout.
    PoolExhausted = 401,
    /// Too many background calls are in flight.
    Busy = 402,
    /// The call was cancelled.
    Cancelled = 403,
    /// A background call has not finished yet.
    NotReady = 404,
    /// A panic was caught at the C boundary.
    Panic = 500,
    /// Another internal error.
    Internal = 501,
}

impl ErrorCode {
    /// A short stable name of the code (`Error::kind`, metrics, JSON).
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::Ok => "ok",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::Config => "config",
            ErrorCode::ServiceNotFound => "service_not_found",
            ErrorCode::ToolNotFound => "tool_not_found",
            ErrorCode::AmbiguousTool => "ambiguous_tool",
            ErrorCode::PromptNotFound => "prompt_not_found",
            ErrorCode::AmbiguousPrompt => "ambiguous_prompt",
            ErrorCode::ResourceNotFound => "resource_not_found",
            ErrorCode::AmbiguousResource => "ambiguous_resource",
            ErrorCode::Transport => "transport",
            ErrorCode::HttpStatus => "http_status",
            ErrorCode::Closed => "closed",
            ErrorCode::Auth => "auth",
            ErrorCode::Protocol => "protocol",
            ErrorCode::Rpc => "rpc",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::ResponseTooLarge => "response_too_large",
            ErrorCode::Timeout => "timeout",
            ErrorCode::PoolExhausted => "pool_exhausted",
            ErrorCode::Busy => "busy",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::NotReady => "not_ready",
            ErrorCode::Panic => "panic",
            ErrorCode::Internal => "internal",
        }
    }
}

impl Error {
    /// The stable code of this error; the only mapping to the C status codes.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Config { .. } => ErrorCode::Config,
            Error::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Error::ServiceNotFound { .. } => ErrorCode::ServiceNotFound,
            Error::ToolNotFound { .. } => ErrorCode::ToolNotFound,
            Error::AmbiguousTool { .. } => ErrorCode::AmbiguousTool,
            Error::PromptNotFound { .. } => ErrorCode::PromptNotFound,
            Error::AmbiguousPrompt { .. } => ErrorCode::AmbiguousPrompt,
            Error::ResourceNotFound { .. } => ErrorCode::ResourceNotFound,
            Error::AmbiguousResource { .. } => ErrorCode::AmbiguousResource,
            Error::Transport { status: Some(_), .. } => ErrorCode::HttpStatus,
            Error::Transport { .. } => ErrorCode::Transport,
            Error::Protocol(_) => ErrorCode::Protocol,
            Error::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            Error::Rpc { .. } => ErrorCode::Rpc,
            Error::Timeout { .. } => ErrorCode::Timeout,
            Error::PoolExhausted { .. } => ErrorCode::PoolExhausted,
            Error::Busy { .. } => ErrorCode::Busy,
            Error::Cancelled => ErrorCode::Cancelled,
            Error::Closed { .. } => ErrorCode::Closed,
            Error::ResponseTooLarge { .. } => ErrorCode::ResponseTooLarge,
            Error::Auth { .. } => ErrorCode::Auth,
            Error::Internal(_) => ErrorCode::Internal,
        }
    }

    /// A short stable name of the error's kind (used in metrics and JSON).
    pub fn kind(&self) -> &'static str {
        self.code().name()
    }

    /// The JSON-RPC error code, for [`Error::Rpc`].
    pub fn rpc_code(&self) -> Option<i64> {
        match self {
            Error::Rpc { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the failed request may have reached the server and run there.
    ///
    /// `false` only when the request provably never reached it: the process
    /// could not be spawned or the connection made, nothing was written, the
    /// session had closed before the write, the server refused it with HTTP 404
    /// (expired session) or 429. Every other outcome after sending (408, 5xx, a
    /// reset, a timeout, garbage) may have run. A call that may have run is
    /// retried only when it is known safe to repeat.
    pub fn may_have_run(&self) -> bool {
        match self {
            Error::Transport { may_have_run, .. } | Error::Closed { may_have_run, .. } => *may_have_run,
            Error::Timeout { phase, .. } => matches!(phase, TimeoutPhase::Response | TimeoutPhase::Wait),
            Error::Protocol(_) | Error::ResponseTooLarge { .. } | Error::Rpc { .. } => true,
            Error::Internal(_) => true,
            _ => false,
        }
    }

    /// Whether a retry on another (or a new) session can help.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { status, .. } => match status {
                None => true,
                Some(s) => matches!(s, 404 | 408 | 429 | 502 | 503 | 504),
            },
            Error::Closed { .. } | Error::Protocol(_) => true,
            Error::Timeout { phase, .. } => {
                matches!(
                    phase,
                    TimeoutPhase::Connect
                        | TimeoutPhase::Initialize
                        | TimeoutPhase::Write
                        | TimeoutPhase::Response
                )
            }
            _ => false,
        }
    }

    /// The error as JSON: `{"error": {"code", "kind", "message", "rpc_code"?}}`
    /// (the CLI's and the C ABI's form).
    pub fn to_json(&self) -> Value {
        let mut err =
            serde_json::json!({"code": self.code() as i32, "kind": self.kind(), "message": self.to_string()});
        if let Some(rpc) = self.rpc_code() {
            err["rpc_code"] = rpc.into();
        }
        serde_json::json!({ "error": err })
    }

    /// The one retry rule, for single calls, batches and background calls:
    /// retry an error that another attempt can help, if the request provably
    /// never ran or the call is known safe to repeat (`repeat_safe`).
    pub(crate) fn should_retry(&self, repeat_safe: bool) -> bool {
        self.is_retryable() && (!self.may_have_run() || repeat_safe)
    }

    /// Shorthand for a configuration error.
    pub(crate) fn config(service: Option<&str>, field: Option<&str>, message: impl Into<String>) -> Error {
        Error::Config {
            service: service.map(str::to_owned),
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }

    /// Shorthand for a transport error that happened before the request was sent.
    pub(crate) fn unsent(message: impl Into<String>) -> Error {
        Error::Transport { message: message.into(), status: None, retry_after: None, may_have_run: false }
    }

    /// Shorthand for a transport error after the request may have been sent.
    pub(crate) fn io_sent(message: impl Into<String>) -> Error {
        Error::Transport { message: message.into(), status: None, retry_after: None, may_have_run: true }
    }

    /// Shorthand for an authorization error.
    pub(crate) fn auth(step: AuthStep, message: impl Into<String>) -> Error {
        Error::Auth { step, message: message.into() }
    }

    /// Shorthand for a timeout with nothing more to say.
    pub(crate) fn timeout(phase: TimeoutPhase, after: Duration) -> Error {
        Error::Timeout { phase, after, detail: None }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config { service, field, message } => {
                write!(f, "config error")?;
                if let Some(s) = service {
                    write!(f, " in service '{s}'")?;
                }
                if let Some(k) = field {
                    write!(f, " at field '{k}'")?;
                }
                write!(f, ": {message}")
            }
            Error::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            Error::ServiceNotFound { name, suggestions } => {
                write!(f, "unknown service '{name}'")?;
                write_suggestions(f, suggestions)
            }
            Error::ToolNotFound { name, suggestions } => {
                write!(f, "unknown tool '{name}'")?;
                write_suggestions(f, suggestions)
            }
            Error::AmbiguousTool { name, candidates } => {
                write!(f, "tool name '{name}' is ambiguous; use one of: {}", candidates.join(", "))
            }
            Error::PromptNotFound { name, suggestions } => {
                write!(f, "unknown prompt '{name}'")?;
                write_suggestions(f, suggestions)
            }
            Error::AmbiguousPrompt { name, candidates } => {
                write!(f, "prompt name '{name}' is ambiguous; use one of: {}", candidates.join(", "))
            }
            Error::ResourceNotFound { uri, suggestions } => {
                write!(f, "no service lists resource '{uri}' or has a template matching it")?;
                write_suggestions(f, suggestions)
            }
            Error::AmbiguousResource { uri, candidates } => {
                write!(
                    f,
                    "resource '{uri}' could come from several services; name one of: {}",
                    candidates.join(", ")
                )
            }
            Error::Transport { message, status, .. } => match status {
                Some(s) => write!(f, "transport error (HTTP {s}): {message}"),
                None => write!(f, "transport error: {message}"),
            },
            Error::Protocol(m) => write!(f, "protocol error: {m}"),
            Error::UnsupportedVersion(v) => {
                write!(f, "server answered with unsupported protocol version '{v}'")
            }
            Error::Rpc { code, message, .. } => write!(f, "server error {code}: {message}"),
            Error::Timeout { phase, after, detail } => {
                write!(f, "timed out in {} after {} ms", phase.as_str(), after.as_millis())?;
                match detail {
                    Some(d) => write!(f, "; instead of a reply the server wrote: {d}"),
                    None => Ok(()),
                }
            }
            Error::PoolExhausted { service, waited } => {
                write!(f, "no free session for service '{service}' after waiting {} ms", waited.as_millis())
            }
            Error::Busy { waited } => {
                write!(f, "too many calls in flight (waited {} ms for a slot)", waited.as_millis())
            }
            Error::Cancelled => write!(f, "call cancelled"),
            Error::Closed { message, .. } => write!(f, "closed: {message}"),
            Error::ResponseTooLarge { limit } => write!(f, "response larger than the limit of {limit} bytes"),
            Error::Auth { step, message } => write!(f, "authorization failed ({}): {message}", step.as_str()),
            Error::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

fn write_suggestions(f: &mut fmt::Formatter<'_>, suggestions: &[String]) -> fmt::Result {
    if suggestions.is_empty() { Ok(()) } else { write!(f, "; did you mean: {}?", suggestions.join(", ")) }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_grouped_and_stable() {
        assert_eq!(Error::Cancelled.code() as i32, 403);
        assert_eq!(Error::unsent("x").code() as i32, 200);
        let http = Error::Transport {
            message: "x".into(),
            status: Some(503),
            retry_after: None,
            may_have_run: true,
        };
        assert_eq!(http.code() as i32, 201);
        assert!(http.is_retryable());
        assert!(http.may_have_run());
        assert!(!http.should_retry(false), "a 503 after sending is not retried for an unsafe call");
        assert!(http.should_retry(true));
        let expired = Error::Transport {
            message: "x".into(),
            status: Some(404),
            retry_after: None,
            may_have_run: false,
        };
        assert!(expired.should_retry(false), "an expired session never ran the request");
        assert!(!Error::timeout(TimeoutPhase::Response, Duration::from_secs(1)).should_retry(false));
        assert!(Error::timeout(TimeoutPhase::Connect, Duration::from_secs(1)).should_retry(false));
    }

    #[test]
    fn display_names_service_and_field() {
        let e = Error::config(Some("files"), Some("command"), "must be a string");
        assert_eq!(e.to_string(), "config error in service 'files' at field 'command': must be a string");
        let e = Error::auth(AuthStep::Token, "the token endpoint did not answer");
        assert_eq!(e.code() as i32, 203);
        assert_eq!(e.kind(), "auth");
        assert!(!e.may_have_run() && !e.is_retryable());
        assert_eq!(e.to_string(), "authorization failed (token request): the token endpoint did not answer");
        let e = Error::ToolNotFound { name: "ecoh".into(), suggestions: vec!["echo".into()] };
        assert!(e.to_string().contains("did you mean: echo"));
    }
}
