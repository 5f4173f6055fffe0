//! The Streamable HTTP transport over ureq.
//!
//! Every message is its own POST; the reply is a JSON body or an SSE stream
//! that may carry notifications and server requests before the response. The
//! calling thread does the blocking POST and reads its own response, so HTTP
//! needs no reader thread. One `ureq::Agent` per service keeps TCP
//! connections alive across its sessions.

use std::io::{BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use ureq::http::{HeaderName, HeaderValue, Response, StatusCode};

use super::sse::SseReader;
use super::{Inbound, Outcome, OutgoingRequest, Transport};
use crate::config::PoolConfig;
use crate::error::{Error, Result, TimeoutPhase};
use crate::protocol::jsonrpc::{parse_message, snippet};
use crate::protocol::{Incoming, RequestId};

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";
const ACCEPT_BOTH: &str = "application/json, text/event-stream";
/// Resumptions of one stream before giving up.
const MAX_RESUMES: u32 = 5;
/// The reconnection delay when the server names none.
const DEFAULT_RETRY: Duration = Duration::from_millis(1000);

/// Builds the agent shared by every session of one HTTP service.
///
/// Every request in flight needs its own TCP connection, so the keep-alive
/// pool holds as many idle connections as the service can have requests in
/// flight (capped): a smaller pool would close and reopen connections under
/// load, paying a handshake per call and piling up TIME_WAIT sockets.
pub fn agent_for(pool: &PoolConfig) -> ureq::Agent {
    let idle = pool
        .max_connections
        .max(1)
        .saturating_mul(pool.max_in_flight_per_connection.max(1))
        .clamp(16, MAX_IDLE_CONNECTIONS);
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(pool.connection_timeout))
        .max_idle_connections(idle)
        .max_idle_connections_per_host(idle)
        .max_idle_age(pool.max_idle_time.max(Duration::from_secs(1)))
        .no_delay(true)
        .user_agent(concat!("mcpstore/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// The most idle keep-alive connections one service keeps.
const MAX_IDLE_CONNECTIONS: usize = 512;

/// One MCP session over Streamable HTTP.
pub struct HttpTransport {
    agent: ureq::Agent,
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    session_id: RwLock<Option<HeaderValue>>,
    protocol_version: RwLock<Option<HeaderValue>>,
    inbound: Arc<dyn Inbound>,
    open: AtomicBool,
    max_message_bytes: usize,
}

impl HttpTransport {
    /// A transport for `url`, sending `headers` with every request.
    pub fn new(
        agent: ureq::Agent,
        url: &str,
        headers: &std::collections::BTreeMap<String, String>,
        inbound: Arc<dyn Inbound>,
        max_message_bytes: usize,
    ) -> Result<Self> {
        let mut parsed = Vec::with_capacity(headers.len());
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| Error::config(None, Some(&format!("headers.{k}")), "invalid header name"))?;
            let value = HeaderValue::from_str(v)
                .map_err(|_| Error::config(None, Some(&format!("headers.{k}")), "invalid header value"))?;
            parsed.push((name, value));
        }
        Ok(HttpTransport {
            agent,
            url: url.to_owned(),
            headers: parsed,
            session_id: RwLock::new(None),
            protocol_version: RwLock::new(None),
            inbound,
            open: AtomicBool::new(true),
            max_message_bytes,
        })
    }

    /// The server's session id, once `initialize` returned one.
    pub fn session_id(&self) -> Option<String> {
        self.session_id
            .read()
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    fn request_builder<B>(
        &self,
        mut builder: ureq::RequestBuilder<B>,
        with_session: bool,
    ) -> ureq::RequestBuilder<B> {
        for (k, v) in &self.headers {
            builder = builder.header(k, v);
        }
        if with_session {
            if let Some(id) = self.session_id.read().as_ref() {
                builder = builder.header(SESSION_HEADER, id);
            }
            if let Some(v) = self.protocol_version.read().as_ref() {
                builder = builder.header(VERSION_HEADER, v);
            }
        }
        builder
    }

    fn post(&self, body: &[u8], initialize: bool, timeout: Duration) -> Result<(Response<ureq::Body>, bool)> {
        if !self.open.load(Ordering::Acquire) {
            return Err(Error::Closed {
                message: "HTTP session is closed".into(),
                sent: false,
            });
        }
        let with_session = !initialize;
        let carried_session = with_session && self.session_id.read().is_some();
        let builder = self
            .request_builder(self.agent.post(&self.url), with_session)
            .header("content-type", "application/json")
            .header("accept", ACCEPT_BOTH)
            .config()
            .timeout_global(Some(timeout))
            .build();
        let response = builder
            .send(trim_newline(body))
            .map_err(|e| map_ureq_error(e, timeout))?;
        Ok((response, carried_session))
    }

    /// Checks the status of a reply; 404 on a session means it expired.
    fn check_status(&self, response: &mut Response<ureq::Body>, carried_session: bool) -> Result<()> {
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut text = String::new();
        let _ = response
            .body_mut()
            .as_reader()
            .take(2048)
            .read_to_string(&mut text);
        let detail = snippet(text.as_bytes());
        let message = if status == StatusCode::NOT_FOUND && carried_session {
            format!("session expired (HTTP 404): {detail}")
        } else {
            format!(
                "{} {}: {detail}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            )
        };
        Err(Error::Transport {
            message,
            status: Some(status.as_u16()),
            retry_after,
            sent: false,
        })
    }

    fn read_json_reply(&self, response: Response<ureq::Body>, id: i64) -> Result<Option<Outcome>> {
        let mut body = Vec::new();
        let limit = self.max_message_bytes as u64;
        response
            .into_body()
            .into_with_config()
            .limit(limit)
            .reader()
            .read_to_end(&mut body)
            .map_err(|e| map_body_error(e, self.max_message_bytes))?;
        let text = trim_newline(&body);
        if text.first() == Some(&b'[') {
            // A JSON-RPC batch from an older server: handle each element.
            let items: Vec<Box<serde_json::value::RawValue>> = serde_json::from_slice(text)
                .map_err(|e| Error::Protocol(format!("invalid JSON reply ({e}): {}", snippet(text))))?;
            let mut found = None;
            for item in items {
                if let Some(o) = self.route(parse_message(item.get().as_bytes())?, id) {
                    found = Some(o);
                }
            }
            return Ok(found);
        }
        Ok(self.route(parse_message(text)?, id))
    }

    /// Hands a message to the inbound side unless it is the response to `id`.
    fn route(&self, message: Incoming, id: i64) -> Option<Outcome> {
        match message {
            Incoming::Response { id: rid, outcome } if id_matches(&rid, id) => Some(outcome),
            other => {
                if let Some(reply) = self.inbound.on_message(other)
                    && let Err(e) = self.send_message(&reply, Duration::from_secs(10))
                {
                    log::warn!(target: "mcpstore::http", "could not answer a server request: {e}");
                }
                None
            }
        }
    }

    /// Reads an SSE stream until the response to `id`; resumes with GET +
    /// `Last-Event-ID` when the stream ends early.
    fn read_sse_reply(&self, response: Response<ureq::Body>, id: i64, deadline: Instant) -> Result<Outcome> {
        let mut stream = SseReader::new(
            BufReader::new(response.into_body().into_reader()),
            self.max_message_bytes,
        );
        let mut resumes = 0;
        loop {
            while let Some(event) = stream
                .next_event()
                .map_err(|e| map_body_error(e, self.max_message_bytes))?
            {
                if event.data.trim().is_empty() || !(event.event.is_empty() || event.event == "message") {
                    continue; // priming events and other event types carry no message
                }
                if let Some(outcome) = self.route(parse_message(event.data.as_bytes())?, id) {
                    if resumes == 0 {
                        // The server ends a POST's stream after its response; reading to the
                        // end lets the connection go back to the agent's keep-alive pool.
                        drain_events(&mut stream);
                    }
                    return Ok(outcome);
                }
            }
            let Some(last_id) = stream.last_event_id.clone() else {
                return Err(Error::Closed {
                    message: "SSE stream ended before the response".into(),
                    sent: true,
                });
            };
            resumes += 1;
            if resumes > MAX_RESUMES {
                return Err(Error::Closed {
                    message: "SSE stream kept ending before the response".into(),
                    sent: true,
                });
            }
            let delay = stream
                .retry_ms
                .map(Duration::from_millis)
                .unwrap_or(DEFAULT_RETRY);
            let now = Instant::now();
            if now + delay >= deadline {
                return Err(Error::Timeout {
                    phase: TimeoutPhase::Response,
                    after: deadline - now,
                });
            }
            std::thread::sleep(delay);
            let retry_ms = stream.retry_ms;
            let resumed = self.resume(&last_id, deadline)?;
            stream = SseReader::new(
                BufReader::new(resumed.into_body().into_reader()),
                self.max_message_bytes,
            );
            stream.last_event_id = Some(last_id);
            stream.retry_ms = retry_ms;
        }
    }

    fn resume(&self, last_event_id: &str, deadline: Instant) -> Result<Response<ureq::Body>> {
        let timeout = deadline.saturating_duration_since(Instant::now());
        let mut response = self
            .request_builder(self.agent.get(&self.url), true)
            .header("accept", "text/event-stream")
            .header("last-event-id", last_event_id)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .call()
            .map_err(|e| map_ureq_error(e, timeout))?;
        let carried = self.session_id.read().is_some();
        self.check_status(&mut response, carried).map_err(|e| match e {
            Error::Transport {
                message,
                status,
                retry_after,
                ..
            } => Error::Transport {
                message: format!("resuming the stream failed: {message}"),
                status,
                retry_after,
                sent: true,
            },
            other => other,
        })?;
        Ok(response)
    }
}

impl Transport for HttpTransport {
    fn kind(&self) -> &'static str {
        "streamable-http"
    }

    fn send_request(&self, request: &OutgoingRequest<'_>) -> Result<Option<Outcome>> {
        let initialize = request.method == "initialize";
        let timeout = request.read_timeout;
        let deadline = Instant::now() + timeout;
        let (mut response, carried) = self.post(request.body, initialize, timeout)?;
        self.check_status(&mut response, carried)?;
        if initialize {
            // Replaces the id of an expired session (none: the server is stateless).
            *self.session_id.write() = response.headers().get(SESSION_HEADER).cloned();
        }
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if response.status() == StatusCode::ACCEPTED {
            return Err(Error::Protocol(
                "server answered a request with 202 Accepted".into(),
            ));
        }
        if content_type.starts_with("text/event-stream") {
            self.read_sse_reply(response, request.id, deadline).map(Some)
        } else if content_type.starts_with("application/json") || content_type.is_empty() {
            match self.read_json_reply(response, request.id)? {
                Some(outcome) => Ok(Some(outcome)),
                None => Err(Error::Protocol(format!(
                    "reply carried no response to request {}",
                    request.id
                ))),
            }
        } else {
            Err(Error::Protocol(format!(
                "unexpected content type '{content_type}'"
            )))
        }
    }

    fn routes_responses(&self) -> bool {
        false
    }

    fn send_message(&self, body: &[u8], timeout: Duration) -> Result<()> {
        let (mut response, carried) = self.post(body, false, timeout)?;
        self.check_status(&mut response, carried)?;
        // Drain whatever body there is so the connection can be reused.
        let _ = std::io::copy(
            &mut response.body_mut().as_reader().take(1 << 20),
            &mut std::io::sink(),
        );
        Ok(())
    }

    fn begin_session(&self) {
        // Nothing to forget: `initialize` is sent without the session headers and
        // its answer replaces the session id. Clearing the id here would make
        // requests of other threads, sent while the session is renewed, fail
        // with 400 (no session id) instead of 404 (which they recover from).
    }

    fn set_protocol_version(&self, version: &str) {
        *self.protocol_version.write() = HeaderValue::from_str(version).ok();
    }

    fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    fn close(&self) {
        if !self.open.swap(false, Ordering::AcqRel) {
            return;
        }
        if self.session_id.read().is_some() {
            // Tell the server the session is over; failures do not matter.
            let result = self
                .request_builder(self.agent.delete(&self.url), true)
                .config()
                .timeout_global(Some(Duration::from_secs(2)))
                .build()
                .call();
            if let Ok(mut r) = result {
                let _ = std::io::copy(&mut r.body_mut().as_reader().take(1 << 16), &mut std::io::sink());
            }
        }
    }
}

impl Drop for HttpTransport {
    fn drop(&mut self) {
        self.close();
    }
}

/// Reads what is left of a finished stream (a few events at most).
fn drain_events<R: std::io::BufRead>(stream: &mut SseReader<R>) {
    for _ in 0..64 {
        match stream.next_event() {
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return,
        }
    }
}

fn id_matches(rid: &RequestId, id: i64) -> bool {
    match rid {
        RequestId::Number(n) => *n == id,
        RequestId::String(s) => s.parse::<i64>().ok() == Some(id),
    }
}

fn trim_newline(body: &[u8]) -> &[u8] {
    body.strip_suffix(b"\n").unwrap_or(body)
}

fn map_body_error(e: std::io::Error, limit: usize) -> Error {
    let text = e.to_string();
    if text.contains("limit") || e.kind() == std::io::ErrorKind::InvalidData && text.contains("too large") {
        return Error::ResponseTooLarge { limit };
    }
    if e.kind() == std::io::ErrorKind::TimedOut || text.contains("timeout") || text.contains("timed out") {
        return Error::Timeout {
            phase: TimeoutPhase::Response,
            after: Duration::ZERO,
        };
    }
    Error::io_sent(format!("reading the reply failed: {e}"))
}

fn map_ureq_error(e: ureq::Error, timeout: Duration) -> Error {
    match e {
        ureq::Error::Timeout(which) => {
            let phase = match which {
                ureq::Timeout::Resolve | ureq::Timeout::Connect => TimeoutPhase::Connect,
                ureq::Timeout::SendRequest | ureq::Timeout::SendBody | ureq::Timeout::Await100 => {
                    TimeoutPhase::Write
                }
                _ => TimeoutPhase::Response,
            };
            Error::Timeout {
                phase,
                after: timeout,
            }
        }
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
            Error::unsent(format!("cannot connect: {e}"))
        }
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            Error::unsent(format!("cannot connect: {io}"))
        }
        ureq::Error::BadUri(u) => Error::config(None, Some("url"), format!("invalid URL: {u}")),
        ureq::Error::BodyExceedsLimit(n) => Error::ResponseTooLarge { limit: n as usize },
        other => Error::io_sent(format!("HTTP request failed: {other}")),
    }
}
