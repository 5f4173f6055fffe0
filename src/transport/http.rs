//! The Streamable HTTP transport over ureq.
//!
//! Every message is its own POST; the reply is a JSON body or an SSE stream
//! that may carry notifications and server requests before the response. The
//! calling thread does the blocking POST and reads its own response, so HTTP
//! needs no reader thread. One `ureq::Agent` per service keeps TCP
//! connections alive across its sessions.
//!
//! A connection goes back to the agent's keep-alive pool only once its reply
//! was read to the end. After the response event of an SSE stream, what is
//! left is read with a short bound ([`DRAIN_GRACE`]): a server that keeps the
//! stream open (keep-alive comments) costs the connection, never the call's
//! whole timeout.

use std::cell::Cell;
use std::io::{BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use ureq::http::{HeaderName, HeaderValue, Response, StatusCode};
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, DefaultConnector, NextTimeout, Transport as WireTransport,
};

use super::sse::SseReader;
use super::{Inbound, Outcome, OutgoingRequest, Transport};
use crate::config::PoolConfig;
use crate::error::{Error, Result, TimeoutPhase};
use crate::protocol::jsonrpc::{parse_message, snippet};
use crate::protocol::{Incoming, RequestId};

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";
const ACCEPT_BOTH: &str = "application/json, text/event-stream";
/// Resumptions in a row that bring nothing (no event, no event id) before giving up;
/// a resumed stream that delivers events starts the count again, so a server
/// that ends its streams on purpose (polling) is followed until the deadline.
const MAX_RESUMES: u32 = 5;
/// The reconnection delay when the server names none.
const DEFAULT_RETRY: Duration = Duration::from_millis(1000);
/// How long reading the rest of a stream after its response may take. A server
/// ends the stream right after the response: the end is usually in the same
/// packet, else close behind it (up to a delayed ACK, 40 ms, when the server
/// has Nagle's algorithm on). One that keeps the stream open loses the
/// connection, not the call's whole timeout.
const DRAIN_GRACE: Duration = Duration::from_millis(50);

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
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(pool.connection_timeout))
        .max_idle_connections(idle)
        .max_idle_connections_per_host(idle)
        .max_idle_age(pool.max_idle_time.max(Duration::from_secs(1)))
        .no_delay(true)
        .user_agent(concat!("mcpstore/", env!("CARGO_PKG_VERSION")))
        .build();
    ureq::Agent::with_parts(config, DefaultConnector::new().chain(CappedReads), DefaultResolver::default())
}

thread_local! {
    /// While set, a read on this thread's HTTP connections waits no later than this.
    static READ_CAP: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Caps the waits of reads on the current thread until dropped.
struct ReadCap;

impl ReadCap {
    fn until(deadline: Instant) -> ReadCap {
        READ_CAP.with(|c| c.set(Some(deadline)));
        ReadCap
    }
}

impl Drop for ReadCap {
    fn drop(&mut self) {
        READ_CAP.with(|c| c.set(None));
    }
}

/// The last link of the agent's connector chain: wraps every connection
/// (plain or TLS) so that [`ReadCap`] can shorten its read waits.
#[derive(Debug)]
struct CappedReads;

impl Connector<Box<dyn WireTransport>> for CappedReads {
    type Out = CappedTransport;

    fn connect(
        &self,
        _details: &ConnectionDetails,
        chained: Option<Box<dyn WireTransport>>,
    ) -> std::result::Result<Option<CappedTransport>, ureq::Error> {
        Ok(chained.map(CappedTransport))
    }
}

/// A connection whose read waits honour the calling thread's [`ReadCap`].
#[derive(Debug)]
struct CappedTransport(Box<dyn WireTransport>);

impl WireTransport for CappedTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.0.buffers()
    }

    fn transmit_output(
        &mut self,
        amount: usize,
        timeout: NextTimeout,
    ) -> std::result::Result<(), ureq::Error> {
        self.0.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, mut timeout: NextTimeout) -> std::result::Result<bool, ureq::Error> {
        if let Some(cap) = READ_CAP.with(Cell::get) {
            let left = cap.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ureq::Error::Timeout(timeout.reason));
            }
            let left = left.into();
            if left < timeout.after {
                timeout.after = left;
            }
        }
        self.0.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.0.is_open()
    }

    fn is_tls(&self) -> bool {
        self.0.is_tls()
    }
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
        self.session_id.read().as_ref().and_then(|v| v.to_str().ok()).map(str::to_owned)
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
            return Err(Error::Closed { message: "HTTP session is closed".into(), sent: false });
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
        let response = builder.send(trim_newline(body)).map_err(|e| map_ureq_error(e, timeout))?;
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
        let _ = response.body_mut().as_reader().take(2048).read_to_string(&mut text);
        let detail = snippet(text.as_bytes());
        let message = if status == StatusCode::NOT_FOUND && carried_session {
            format!("session expired (HTTP 404): {detail}")
        } else {
            format!("{} {}: {detail}", status.as_u16(), status.canonical_reason().unwrap_or(""))
        };
        Err(Error::Transport {
            message,
            status: Some(status.as_u16()),
            retry_after,
            sent: !status_proves_unprocessed(status.as_u16()),
        })
    }

    fn read_json_reply(
        &self,
        response: Response<ureq::Body>,
        id: i64,
        timeout: Duration,
    ) -> Result<Option<Outcome>> {
        let mut body = Vec::new();
        let limit = self.max_message_bytes as u64;
        response
            .into_body()
            .into_with_config()
            .limit(limit)
            .reader()
            .read_to_end(&mut body)
            .map_err(|e| map_body_error(e, self.max_message_bytes, timeout))?;
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
    fn read_sse_reply(
        &self,
        response: Response<ureq::Body>,
        id: i64,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<Outcome> {
        let mut stream =
            SseReader::new(BufReader::new(response.into_body().into_reader()), self.max_message_bytes);
        let mut resumes = 0;
        let mut started_at_id: Option<String> = None;
        loop {
            let mut got_event = false;
            while let Some(event) =
                stream.next_event().map_err(|e| map_body_error(e, self.max_message_bytes, timeout))?
            {
                got_event = true;
                if event.data.trim().is_empty() || !(event.event.is_empty() || event.event == "message") {
                    continue; // priming events and other event types carry no message
                }
                if let Some(outcome) = self.route(parse_message(event.data.as_bytes())?, id) {
                    // The server ends the stream after the response; reading to the end
                    // lets the connection go back to the agent's keep-alive pool.
                    drain_events(&mut stream);
                    return Ok(outcome);
                }
            }
            let Some(last_id) = stream.last_event_id.clone() else {
                return Err(Error::Closed {
                    message: "SSE stream ended before the response".into(),
                    sent: true,
                });
            };
            if got_event || started_at_id.as_ref() != Some(&last_id) {
                resumes = 0; // the stream made progress: only the deadline bounds the wait
            }
            started_at_id = Some(last_id.clone());
            resumes += 1;
            if resumes > MAX_RESUMES {
                return Err(Error::Closed {
                    message: "SSE stream kept ending before the response".into(),
                    sent: true,
                });
            }
            let delay = stream.retry_ms.map(Duration::from_millis).unwrap_or(DEFAULT_RETRY);
            let now = Instant::now();
            if now + delay >= deadline {
                return Err(Error::Timeout { phase: TimeoutPhase::Response, after: deadline - now });
            }
            std::thread::sleep(delay);
            let retry_ms = stream.retry_ms;
            let resumed = self.resume(&last_id, deadline)?;
            stream =
                SseReader::new(BufReader::new(resumed.into_body().into_reader()), self.max_message_bytes);
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
            Error::Transport { message, status, retry_after, .. } => Error::Transport {
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
            return Err(Error::Protocol("server answered a request with 202 Accepted".into()));
        }
        if content_type.starts_with("text/event-stream") {
            self.read_sse_reply(response, request.id, deadline, timeout).map(Some)
        } else if content_type.starts_with("application/json") || content_type.is_empty() {
            match self.read_json_reply(response, request.id, timeout)? {
                Some(outcome) => Ok(Some(outcome)),
                None => Err(Error::Protocol(format!("reply carried no response to request {}", request.id))),
            }
        } else {
            Err(Error::Protocol(format!("unexpected content type '{content_type}'")))
        }
    }

    fn routes_responses(&self) -> bool {
        false
    }

    fn send_message(&self, body: &[u8], timeout: Duration) -> Result<()> {
        let (mut response, carried) = self.post(body, false, timeout)?;
        self.check_status(&mut response, carried)?;
        // Drain whatever body there is so the connection can be reused.
        let _ = std::io::copy(&mut response.body_mut().as_reader().take(1 << 20), &mut std::io::sink());
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

/// Reads what is left of a stream after its response (a few events at most),
/// waiting no longer than [`DRAIN_GRACE`]. Returns whether the stream ended
/// (then its connection went back to the keep-alive pool); otherwise the
/// caller drops the stream, which closes the connection.
///
/// A body with a `Content-Length` that was read entirely ends without any wait;
/// a chunked body ends when its last chunk is already received or arrives
/// within the grace period.
fn drain_events<R: std::io::BufRead>(stream: &mut SseReader<R>) -> bool {
    let _cap = ReadCap::until(Instant::now() + DRAIN_GRACE);
    for _ in 0..64 {
        match stream.next_event() {
            Ok(Some(_)) => {}
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
    false
}

/// Whether an error status proves that the server did not process the request
/// (so it is safe to send again, even for a tool that is not idempotent).
/// Any other status — 500, 502 and 504 from a proxy in front of a slow tool
/// among them — may come after the tool ran.
fn status_proves_unprocessed(status: u16) -> bool {
    matches!(status, 400 | 401 | 403 | 404 | 405 | 406 | 408 | 413 | 415 | 429 | 503)
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

/// Maps an error reading a reply body; `timeout` is the limit the read ran under.
fn map_body_error(e: std::io::Error, limit: usize, timeout: Duration) -> Error {
    if e.kind() == std::io::ErrorKind::InvalidData && e.to_string().contains("too large") {
        return Error::ResponseTooLarge { limit }; // from the SSE reader's own limits
    }
    // ureq hands its errors out wrapped in io::Error; unwrap them to tell them apart.
    match ureq::Error::from(e) {
        ureq::Error::BodyExceedsLimit(_) => Error::ResponseTooLarge { limit },
        ureq::Error::Timeout(_) => Error::Timeout { phase: TimeoutPhase::Response, after: timeout },
        ureq::Error::Io(io)
            if matches!(io.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) =>
        {
            Error::Timeout { phase: TimeoutPhase::Response, after: timeout }
        }
        other => Error::io_sent(format!("reading the reply failed: {other}")),
    }
}

/// Maps an error of sending a request and receiving its response head.
///
/// A connection that could not be made (refused, unreachable, unknown host)
/// carried nothing: `sent: false`. `Timeout::Global` cannot tell a slow connect
/// from a slow response, so it counts as the response phase (maybe sent).
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
            Error::Timeout { phase, after: timeout }
        }
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
            Error::unsent(format!("cannot connect: {e}"))
        }
        ureq::Error::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::HostUnreachable
                    | std::io::ErrorKind::NetworkUnreachable
                    | std::io::ErrorKind::NetworkDown
                    | std::io::ErrorKind::AddrNotAvailable
            ) =>
        {
            Error::unsent(format!("cannot connect: {io}"))
        }
        ureq::Error::BadUri(u) => Error::config(None, Some("url"), format!("invalid URL: {u}")),
        ureq::Error::BodyExceedsLimit(n) => Error::ResponseTooLarge { limit: n as usize },
        other => Error::io_sent(format!("HTTP request failed: {other}")),
    }
}
