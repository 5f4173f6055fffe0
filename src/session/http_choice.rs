//! Which HTTP transport a session speaks.
//!
//! A service configured [`HttpTransportKind::Auto`] tries Streamable HTTP
//! and, when the server refuses its `initialize` POST with 400, 404 or 405,
//! the legacy HTTP+SSE transport on the same URL (the backwards compatibility
//! section of the MCP specification's transports). What worked is
//! remembered per URL for the whole process, so later sessions of the
//! service go straight to it; a remembered legacy choice that fails to open
//! is forgotten, so the next session probes again (the server may have been
//! upgraded).

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::Session;
use crate::config::{HttpConfig, HttpTransportKind};
use crate::error::{Error, Result};
use crate::util::deadline_after;

/// A session that did not start.
pub(super) struct Failed {
    /// Why.
    pub(super) error: Error,
    /// The server refused the `initialize` request itself (see
    /// [`refuses_streamable`]), before anything else happened.
    pub(super) initialize_refused: bool,
    /// The server (a process) ended on the era probe: start it again for the handshake.
    pub(super) respawn_for_handshake: bool,
}

impl From<Error> for Failed {
    fn from(error: Error) -> Self {
        Failed { error, initialize_refused: false, respawn_for_handshake: false }
    }
}

impl From<Failed> for Error {
    fn from(failed: Failed) -> Self {
        failed.error
    }
}

/// Whether the answer to an `initialize` POST says the server does not speak
/// Streamable HTTP at that URL: HTTP 400, 404 or 405, as the specification
/// lists. (A 4xx carrying a JSON-RPC error is the server's answer to the
/// request, so it is an `Rpc` error here, not a refusal.)
pub(super) fn refuses_streamable(error: &Error) -> bool {
    matches!(error, Error::Transport { status: Some(400 | 404 | 405), .. })
}

/// The transport that worked, per URL.
fn remembered() -> &'static Mutex<HashMap<String, HttpTransportKind>> {
    static KNOWN: OnceLock<Mutex<HashMap<String, HttpTransportKind>>> = OnceLock::new();
    KNOWN.get_or_init(Mutex::default)
}

/// Opens a session to `http`: `attempt(kind, timeout)` starts one over the
/// given transport; every attempt together stays within `timeout`.
pub(super) fn open_http(
    service: &str,
    http: &HttpConfig,
    timeout: Duration,
    mut attempt: impl FnMut(HttpTransportKind, Duration) -> std::result::Result<Session, Failed>,
) -> Result<Session> {
    if http.transport != HttpTransportKind::Auto {
        return attempt(http.transport, timeout).map_err(Error::from);
    }
    let url = http.url.as_str();
    let known = remembered().lock().get(url).copied();
    if known == Some(HttpTransportKind::Sse) {
        return attempt(HttpTransportKind::Sse, timeout).map_err(|failed| {
            remembered().lock().remove(url);
            failed.error
        });
    }
    let deadline = deadline_after(timeout);
    let refusal = match attempt(HttpTransportKind::StreamableHttp, timeout) {
        Ok(session) => return Ok(remember(url, HttpTransportKind::StreamableHttp, session)),
        Err(Failed { error, initialize_refused: true, .. }) => error,
        Err(failed) => return Err(failed.error),
    };
    log::info!(
        target: "mcpstore::session",
        "[{service}] the server refused Streamable HTTP ({refusal}); trying the legacy HTTP+SSE transport"
    );
    let left = deadline.saturating_duration_since(Instant::now());
    match attempt(HttpTransportKind::Sse, left) {
        Ok(session) => Ok(remember(url, HttpTransportKind::Sse, session)),
        Err(failed) => Err(after_refusal(&refusal, failed.error)),
    }
}

fn remember(url: &str, kind: HttpTransportKind, session: Session) -> Session {
    remembered().lock().insert(url.to_owned(), kind);
    session
}

/// The error of a fallback that failed too, saying which refusal led to it.
fn after_refusal(refusal: &Error, error: Error) -> Error {
    let context = |message: String| format!("{message} (tried after Streamable HTTP was refused: {refusal})");
    match error {
        Error::Transport { message, status, retry_after, may_have_run } => {
            Error::Transport { message: context(message), status, retry_after, may_have_run }
        }
        Error::Closed { message, may_have_run } => Error::Closed { message: context(message), may_have_run },
        Error::Protocol(message) => Error::Protocol(context(message)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_400_404_and_405_are_refusals() {
        let status = |s| Error::Transport {
            message: String::new(),
            status: Some(s),
            retry_after: None,
            may_have_run: false,
        };
        for s in [400, 404, 405] {
            assert!(refuses_streamable(&status(s)), "{s}");
        }
        for s in [401, 403, 406, 415, 429, 500, 502] {
            assert!(!refuses_streamable(&status(s)), "{s}");
        }
        assert!(!refuses_streamable(&Error::unsent("connection refused")));
        assert!(!refuses_streamable(&Error::Rpc { code: -32600, message: String::new(), data: None }));
    }

    #[test]
    fn a_failed_fallback_names_the_refusal() {
        let refusal = Error::Transport {
            message: "405 Method Not Allowed".into(),
            status: Some(405),
            retry_after: None,
            may_have_run: false,
        };
        let e = after_refusal(&refusal, Error::unsent("opening the SSE stream: 404"));
        assert!(e.to_string().contains("opening the SSE stream: 404"), "{e}");
        assert!(e.to_string().contains("405 Method Not Allowed"), "{e}");
    }
}
