//! Starting a session in the right protocol era.
//!
//! With [`ProtocolChoice::Auto`], a new server is asked `server/discover`
//! (the stateless era, 2026-07-28): a discover result, or an error only a
//! modern server sends, means modern; anything else (another error, a 4xx
//! without a modern error, no answer in time, a process that exits) means a
//! handshake-era server, which then gets `initialize`. What was found is
//! remembered per command (stdio) or origin (HTTP) for the process, so later
//! sessions do not probe again; a remembered era that fails is probed afresh.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::{Value, json};

use super::http_choice::Failed;
use super::request::Exchange;
use super::wire::Wire;
use super::{MessageSizes, Session};
use crate::config::{ProtocolChoice, TransportConfig};
use crate::error::{Error, Result, TimeoutPhase};
use crate::protocol::messages::{self, methods};
use crate::protocol::modern::{self, DiscoverResult, MODERN_PROTOCOL_VERSION};
use crate::protocol::{InitializeResult, jsonrpc, version};

/// The longest the `server/discover` probe waits for an answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a new session waits for the server to answer its listening stream.
const LISTEN_WAIT: Duration = Duration::from_secs(5);

/// What a server turned out to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Era {
    Modern,
    Handshake,
}

fn remembered() -> &'static Mutex<HashMap<String, Era>> {
    static KNOWN: OnceLock<Mutex<HashMap<String, Era>>> = OnceLock::new();
    KNOWN.get_or_init(Mutex::default)
}

/// What identifies "the same server" for the era: the command line (stdio)
/// or the URL's origin (HTTP).
pub(super) fn era_key(config: &TransportConfig) -> String {
    match config {
        TransportConfig::Stdio(s) => format!("stdio:{}\0{}", s.command, s.args.join("\0")),
        TransportConfig::Http(h) => {
            let rest = h.url.split_once("://").map_or(h.url.as_str(), |(_, r)| r);
            let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
            let scheme = h.url.split_once("://").map_or("http", |(s, _)| s);
            format!("http:{scheme}://{host}")
        }
    }
}

/// Why a probe did not find a modern server.
enum Probe {
    /// Not a modern server: fall back to `initialize` (`exited`: the process is gone).
    NotModern { why: String, exited: bool },
    /// A failure that says nothing about the era (connect, authorization, a modern refusal).
    Failed(Error),
}

impl Session {
    /// Starts the session in the era `options.protocol` asks for, or finds it out.
    pub(super) fn establish(&self) -> std::result::Result<(), Failed> {
        let started = Instant::now();
        let limit = self.inner.options.connection_timeout;
        let choice = self.inner.options.protocol.clone();
        let key = &self.inner.era_key;
        let (version, auto) = match &choice {
            ProtocolChoice::Version(v) if !modern::is_modern(v) => {
                return self.handshake(limit).map_err(Failed::from);
            }
            ProtocolChoice::Version(v) => (v.clone(), false),
            ProtocolChoice::Auto if remembered().lock().get(key) == Some(&Era::Handshake) => {
                return self.handshake(limit).map_err(Failed::from);
            }
            // The legacy HTTP+SSE transport (2024-11-05) predates the stateless era.
            ProtocolChoice::Auto if self.inner.transport.kind() == "sse" => {
                return self.handshake(limit).map_err(Failed::from);
            }
            ProtocolChoice::Auto => (MODERN_PROTOCOL_VERSION.to_owned(), true),
        };
        match self.discover_as(&version, auto) {
            Ok(()) => {
                remembered().lock().insert(key.clone(), Era::Modern);
                Ok(())
            }
            Err(Probe::NotModern { why, exited }) if auto => {
                log::debug!(target: "mcpstore::session", "[{}] not a {version} server ({why}); using initialize", self.inner.router.service);
                remembered().lock().insert(key.clone(), Era::Handshake);
                *self.inner.wire.write() = Arc::new(Wire::legacy(version::LATEST_PROTOCOL_VERSION));
                self.inner.transport.set_protocol_version("");
                if exited || !self.is_alive() {
                    let error = Error::Closed {
                        message: format!("the server ended on the server/discover probe ({why})"),
                        may_have_run: false,
                    };
                    return Err(Failed { error, initialize_refused: false, respawn_for_handshake: true });
                }
                // The probe and the handshake share the one connection timeout.
                self.handshake(limit.saturating_sub(started.elapsed())).map_err(Failed::from)
            }
            Err(Probe::NotModern { why, .. }) => Err(Failed::from(Error::UnsupportedVersion(format!(
                "the server does not speak {version}, which the service is configured for: {why}"
            )))),
            // A timeout names the connection timeout, not the probe's share of it.
            Err(Probe::Failed(Error::Timeout { phase, detail, .. })) => {
                Err(Failed::from(Error::Timeout { phase, after: limit, detail }))
            }
            Err(Probe::Failed(error)) => Err(Failed::from(error)),
        }
    }

    /// `server/discover` at `version` (auto: as a probe, with a shorter wait).
    fn discover_as(&self, version: &str, auto: bool) -> std::result::Result<(), Probe> {
        let capabilities = self.client_capabilities();
        let wire = Wire::modern(version, &capabilities, &self.inner.options.client_name, None);
        *self.inner.wire.write() = Arc::new(wire);
        self.inner.transport.set_protocol_version(version);
        let timeout = if auto {
            // Half of it at most, so a silent server still gets its `initialize` in time.
            (self.inner.options.connection_timeout / 2).min(PROBE_TIMEOUT)
        } else {
            self.inner.options.connection_timeout
        };
        let exchange = Exchange::plain(methods::SERVER_DISCOVER, None, timeout, None);
        let raw = self.exchange(&exchange, &mut MessageSizes::default()).map_err(classify)?;
        let discovered: DiscoverResult = serde_json::from_str(raw.get())
            .map_err(|e| Probe::NotModern { why: format!("invalid discover result: {e}"), exited: false })?;
        let current = self.wire().version.clone();
        let chosen = if discovered.supported_versions.contains(&current) {
            current
        } else {
            match discovered.choose_version() {
                Some(v) => {
                    self.use_version(v);
                    v.to_owned()
                }
                None => {
                    let why = format!("it supports {}", discovered.supported_versions.join(", "));
                    return Err(Probe::NotModern { why, exited: false });
                }
            }
        };
        *self.inner.info.write() = Some(Arc::new(discovered.into_server_description(&chosen)));
        // What a handshake session's listening stream does: list changes the server announces.
        self.refresh_subscription();
        Ok(())
    }

    /// The capabilities this client declares: those its handlers give.
    pub(super) fn client_capabilities(&self) -> Value {
        let router = &self.inner.router;
        router.requests.as_ref().map_or_else(|| json!({}), |r| r.capabilities(&router.service))
    }

    /// The `initialize` handshake (the handshake era), within `budget` (what
    /// is left of the connection timeout), then the listening stream.
    pub(super) fn handshake(&self, budget: Duration) -> Result<()> {
        let opts = &self.inner.options;
        let offered = match &opts.protocol {
            ProtocolChoice::Version(v) if !modern::is_modern(v) => v.as_str(),
            _ => version::LATEST_PROTOCOL_VERSION,
        };
        let params = messages::initialize_params(
            &opts.client_name,
            env!("CARGO_PKG_VERSION"),
            self.client_capabilities(),
            offered,
        );
        let raw = self.request(methods::INITIALIZE, Some(&params), budget, None).map_err(|e| {
            match e {
                // Waiting for the answer is the initialize phase (of the whole
                // connection timeout); a connect or write timeout keeps its own phase.
                Error::Timeout { phase: TimeoutPhase::Response, detail, .. } => {
                    Error::Timeout { phase: TimeoutPhase::Initialize, after: opts.connection_timeout, detail }
                }
                other => other,
            }
        })?;
        let result: InitializeResult = serde_json::from_str(raw.get())
            .map_err(|e| Error::Protocol(format!("invalid initialize result: {e}")))?;
        version::negotiate(&result.protocol_version)?;
        *self.inner.wire.write() = Arc::new(Wire::legacy(&result.protocol_version));
        self.inner.transport.set_protocol_version(&result.protocol_version);
        *self.inner.info.write() = Some(Arc::new(result));
        let mut buf = Vec::with_capacity(64);
        jsonrpc::write_notification::<Value>(&mut buf, methods::INITIALIZED, None);
        buf.push(b'\n');
        self.inner.transport.finish_handshake(&buf, self.inner.options.write_timeout)?;
        // A server may send its requests on the listening stream only: open
        // it before the first call (bounded: a server that never answers it
        // costs this much once).
        self.inner.transport.start_listening(opts.connection_timeout.min(LISTEN_WAIT));
        Ok(())
    }
}

/// What an error of the probe says about the server's era.
fn classify(error: Error) -> Probe {
    let not_modern = |why: String, exited: bool| Probe::NotModern { why, exited };
    match error {
        // Only a modern server sends these: it is one, but refuses the request.
        Error::Rpc { code, .. } if modern::codes::is_modern(code) => Probe::Failed(error),
        Error::Rpc { code, message, .. } => not_modern(format!("error {code}: {message}"), false),
        Error::Transport { status: Some(401 | 403 | 407 | 429), .. } => Probe::Failed(error),
        Error::Transport { status: Some(s), message, .. } if (400..500).contains(&s) => {
            not_modern(message, false)
        }
        Error::Timeout { phase: TimeoutPhase::Response, after, .. } => {
            not_modern(format!("no answer within {} ms", after.as_millis()), false)
        }
        Error::Closed { message, .. } => not_modern(message, true),
        Error::Protocol(message) => not_modern(message, false),
        other => Probe::Failed(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{HttpConfig, StdioConfig};

    #[test]
    fn one_era_per_command_and_origin() {
        let a = era_key(&TransportConfig::Http(HttpConfig::new("http://h:1/mcp")));
        let b = era_key(&TransportConfig::Http(HttpConfig::new("http://h:1/other?x")));
        assert_eq!(a, b);
        assert_ne!(a, era_key(&TransportConfig::Http(HttpConfig::new("https://h:1/mcp"))));
        let s = era_key(&TransportConfig::Stdio(StdioConfig::new("srv", ["--a"])));
        assert_ne!(s, era_key(&TransportConfig::Stdio(StdioConfig::new("srv", ["--b"]))));
    }

    #[test]
    fn probe_errors_say_what_the_server_is() {
        let rpc = |code| Error::Rpc { code, message: "m".into(), data: None };
        assert!(matches!(classify(rpc(-32601)), Probe::NotModern { .. }));
        assert!(matches!(classify(rpc(-32022)), Probe::Failed(_)));
        let status = |s| Error::Transport {
            message: "x".into(),
            status: Some(s),
            retry_after: None,
            may_have_run: false,
        };
        assert!(matches!(classify(status(400)), Probe::NotModern { .. }));
        assert!(matches!(classify(status(405)), Probe::NotModern { .. }));
        assert!(matches!(classify(status(401)), Probe::Failed(_)));
        assert!(matches!(classify(status(500)), Probe::Failed(_)));
        assert!(matches!(
            classify(Error::timeout(TimeoutPhase::Response, Duration::from_secs(1))),
            Probe::NotModern { .. }
        ));
        assert!(matches!(classify(Error::unsent("refused")), Probe::Failed(_)));
    }
}
