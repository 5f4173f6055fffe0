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

use std::io::{BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use ureq::http::{HeaderName, HeaderValue, Response, StatusCode};

use super::auth_hook::{AuthHook, send_authorized};
use super::http_conn::{CallScope, InterruptibleConnector, ReadCap, take_connecting};
use super::http_net::{CachingResolver, QuickAck};
use super::sse::SseReader;
use super::{Inbound, Outcome, OutgoingRequest, Transport};
use crate::config::{HttpConfig, PoolConfig, validate_header};
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
/// Its resolver and sockets spare the hot path every system call a request
/// does not need (no thread per request, socket options set once per
/// connection): see the `http_net` module.
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
    ureq::Agent::with_parts(config, InterruptibleConnector::new(), CachingResolver::default())
}

/// The most idle keep-alive connections one service keeps.
const MAX_IDLE_CONNECTIONS: usize = 512;

/// One MCP session over Streamable HTTP: what its requests and its
/// listening stream share.
pub(crate) struct HttpCore {
    pub(super) agent: ureq::Agent,
    pub(super) url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    pub(super) session_id: RwLock<Option<HeaderValue>>,
    /// The id of a session being initialized: used only by the handshake
    /// until `notifications/initialized` was sent, so other threads never use
    /// a session before it is ready.
    pending_session: Mutex<Option<Option<HeaderValue>>>,
    protocol_version: RwLock<Option<HeaderValue>>,
    inbound: Arc<dyn Inbound>,
    pub(super) open: AtomicBool,
    pub(super) max_message_bytes: usize,
    /// The service's authorization (OAuth), when it has one.
    pub(super) auth: Option<Arc<dyn AuthHook>>,
    /// The stateless era (2026-07-28): `Mcp-Method`/`Mcp-Name`/`Mcp-Param-*`
    /// headers, no session, no stream resumption.
    pub(super) modern: AtomicBool,
}

impl HttpCore {
    /// A transport for `config.url`, sending `config.headers` with every
    /// request (checked by `ServiceConfig::validate`; checked again here).
    pub fn new(
        agent: ureq::Agent,
        config: &HttpConfig,
        inbound: Arc<dyn Inbound>,
        max_message_bytes: usize,
    ) -> Result<Self> {
        Ok(HttpCore {
            agent,
            url: config.url.clone(),
            headers: parse_headers(config)?,
            session_id: RwLock::new(None),
            pending_session: Mutex::new(None),
            protocol_version: RwLock::new(None),
            inbound,
            open: AtomicBool::new(true),
            max_message_bytes,
            auth: None,
            modern: AtomicBool::new(false),
        })
    }

    pub(crate) fn request_builder<B>(
        &self,
        builder: ureq::RequestBuilder<B>,
        with_session: bool,
    ) -> ureq::RequestBuilder<B> {
        self.request_builder_for(
            builder,
            with_session.then(|| self.session_id.read().clone()).flatten(),
            with_session,
        )
    }

    fn request_builder_for<B>(
        &self,
        mut builder: ureq::RequestBuilder<B>,
        session: Option<HeaderValue>,
        with_session: bool,
    ) -> ureq::RequestBuilder<B> {
        for (k, v) in &self.headers {
            builder = builder.header(k, v);
        }
        if with_session {
            if let Some(id) = session.as_ref() {
                builder = builder.header(SESSION_HEADER, id);
            }
            if let Some(v) = self.protocol_version.read().as_ref() {
                builder = builder.header(VERSION_HEADER, v);
            }
        }
        builder
    }

    fn post(
        &self,
        body: &[u8],
        request: Option<&OutgoingRequest<'_>>,
        timeout: Duration,
    ) -> Result<(Response<ureq::Body>, bool)> {
        let initialize = request.is_some_and(|r| r.method == "initialize");
        let session = (!initialize).then(|| self.session_id.read().clone()).flatten();
        self.post_with(body, session, !initialize, request, timeout)
    }

    /// POSTs `body` with `session` as its session id (when `with_session`);
    /// in the stateless era with the headers that route `request`.
    fn post_with(
        &self,
        body: &[u8],
        session: Option<HeaderValue>,
        with_session: bool,
        request: Option<&OutgoingRequest<'_>>,
        timeout: Duration,
    ) -> Result<(Response<ureq::Body>, bool)> {
        let routing = if self.modern.load(Ordering::Acquire) { request.map(routing_headers) } else { None };
        if !self.open.load(Ordering::Acquire) {
            return Err(Error::Closed { message: "HTTP session is closed".into(), may_have_run: false });
        }
        let carried_session = with_session && session.is_some();
        let deadline = Instant::now() + timeout;
        // A request refused for authorization never ran: it is sent again once authorized.
        let response = send_authorized(self.auth.as_deref(), deadline, |credential| {
            let mut builder = self
                .request_builder_for(self.agent.post(&self.url), session.clone(), with_session)
                .header("content-type", "application/json")
                .header("accept", ACCEPT_BOTH);
            if let Some(value) = credential {
                builder = builder.header("authorization", value);
            }
            for (name, value) in routing.iter().flatten() {
                builder = builder.header(name.as_str(), value.as_str());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let builder = builder.config().timeout_global(Some(left)).build();
            take_connecting(); // a fresh mark for this request
            builder.send(trim_newline(body)).map_err(|e| map_ureq_error(e, timeout))
        })?;
        Ok((response, carried_session))
    }

    /// Checks the status of a reply; 404 on a session means it expired.
    pub(crate) fn check_status(
        &self,
        response: &mut Response<ureq::Body>,
        carried_session: bool,
    ) -> Result<()> {
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
        // A JSON-RPC error in a 4xx body is the server's answer to the request
        // (auth, expired sessions and throttling keep their HTTP meaning; a
        // 404 without a session is 2026-07-28's unknown method, -32601).
        if status.is_client_error()
            && !matches!(status.as_u16(), 401 | 403 | 429)
            && !(status == StatusCode::NOT_FOUND && carried_session)
            && let Some(rpc) = rpc_error_in(text.as_bytes())
        {
            return Err(rpc);
        }
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
            may_have_run: !status_proves_unprocessed(status.as_u16()),
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
                self.deliver(other);
                None
            }
        }
    }

    /// Hands a message the server sent on its own (a notification, a request
    /// of its own) to the inbound side, and POSTs the reply it gives at once.
    pub(crate) fn deliver(&self, message: Incoming) {
        if let Some(reply) = self.inbound.on_message(message)
            && let Err(e) = self.send_message(&reply, Duration::from_secs(10))
        {
            log::warn!(target: "mcpstore::http", "could not answer a server request: {e}");
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
        // Every further read waits for the server's next write: acknowledge at once,
        // or a server with Nagle's algorithm on holds that write for our delayed ACK.
        let _quick = QuickAck::enter();
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
            // The stateless era has no resumption: a broken stream lost its request.
            let resumable = stream.last_event_id.clone().filter(|_| !self.modern.load(Ordering::Acquire));
            let Some(last_id) = resumable else {
                return Err(Error::Closed {
                    message: "SSE stream ended before the response".into(),
                    may_have_run: true,
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
                    may_have_run: true,
                });
            }
            let delay = stream.retry_ms.map(Duration::from_millis).unwrap_or(DEFAULT_RETRY);
            let now = Instant::now();
            if now + delay >= deadline {
                return Err(Error::Timeout {
                    phase: TimeoutPhase::Response,
                    after: deadline - now,
                    detail: None,
                });
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
        let mut response = send_authorized(self.auth.as_deref(), deadline, |credential| {
            let mut builder = self
                .request_builder(self.agent.get(&self.url), true)
                .header("accept", "text/event-stream")
                .header("last-event-id", last_event_id);
            if let Some(value) = credential {
                builder = builder.header("authorization", value);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            take_connecting();
            builder.config().timeout_global(Some(left)).build().call().map_err(|e| map_ureq_error(e, timeout))
        })?;
        let carried = self.session_id.read().is_some();
        self.check_status(&mut response, carried).map_err(|e| match e {
            Error::Transport { message, status, retry_after, .. } => Error::Transport {
                message: format!("resuming the stream failed: {message}"),
                status,
                retry_after,
                may_have_run: true,
            },
            other => other,
        })?;
        Ok(response)
    }
}

impl Transport for HttpCore {
    fn kind(&self) -> &'static str {
        "streamable-http"
    }

    fn send_request(&self, request: &OutgoingRequest<'_>) -> Result<Option<Outcome>> {
        let _scope = CallScope::enter(request.interrupt);
        let initialize = request.method == "initialize";
        let timeout = request.read_timeout;
        let deadline = Instant::now() + timeout;
        let (mut response, carried) = self.post(request.body, Some(request), timeout)?;
        self.check_status(&mut response, carried)?;
        if initialize {
            // The new session (none: the server is stateless) is used by the
            // handshake alone until `notifications/initialized` went out.
            *self.pending_session.lock() = Some(response.headers().get(SESSION_HEADER).cloned());
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
        let (mut response, carried) = self.post(body, None, timeout)?;
        self.check_status(&mut response, carried)?;
        // Drain whatever body there is so the connection can be reused.
        let _ = std::io::copy(&mut response.body_mut().as_reader().take(1 << 20), &mut std::io::sink());
        Ok(())
    }

    fn finish_handshake(&self, initialized: &[u8], timeout: Duration) -> Result<()> {
        let pending = self.pending_session.lock().take();
        let session = match &pending {
            Some(id) => id.clone(),
            None => self.session_id.read().clone(),
        };
        let (mut response, carried) = self.post_with(initialized, session, true, None, timeout)?;
        self.check_status(&mut response, carried)?;
        let _ = std::io::copy(&mut response.body_mut().as_reader().take(1 << 20), &mut std::io::sink());
        if let Some(id) = pending {
            *self.session_id.write() = id; // now other threads may use it
        }
        Ok(())
    }

    fn begin_session(&self) {
        // Nothing to forget: `initialize` is sent without the session headers and
        // its answer replaces the session id. Clearing the id here would make
        // requests of other threads, sent while the session is renewed, fail
        // with 400 (no session id) instead of 404 (which they recover from).
    }

    fn set_protocol_version(&self, version: &str) {
        // An empty version: the era is not known yet (back to the handshake's defaults).
        *self.protocol_version.write() =
            (!version.is_empty()).then(|| HeaderValue::from_str(version).ok()).flatten();
        self.modern.store(crate::protocol::modern::is_modern(version), Ordering::Release);
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
            let limit = Duration::from_secs(2);
            let mut builder = self.request_builder(self.agent.delete(&self.url), true);
            if let Some(value) = self.auth.as_ref().and_then(|a| a.header(Instant::now() + limit)) {
                builder = builder.header("authorization", value);
            }
            let result = builder.config().timeout_global(Some(limit)).build().call();
            if let Ok(mut r) = result {
                let _ = std::io::copy(&mut r.body_mut().as_reader().take(1 << 16), &mut std::io::sink());
            }
        }
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

/// The configured headers of `config` as HTTP values (checked by
/// `ServiceConfig::validate`; checked again here).
pub(super) fn parse_headers(config: &HttpConfig) -> Result<Vec<(HeaderName, HeaderValue)>> {
    let mut parsed = Vec::with_capacity(config.headers.len());
    for (k, v) in &config.headers {
        let bad = |m: &str| Error::config(None, Some(&format!("headers.{k}")), m);
        validate_header(k, v).map_err(bad)?;
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| bad("invalid HTTP header name"))?;
        let value = HeaderValue::from_str(v).map_err(|_| bad("invalid HTTP header value"))?;
        parsed.push((name, value));
    }
    Ok(parsed)
}

/// The headers of a stateless-era request: `Mcp-Method`, `Mcp-Name` (its
/// tool, prompt, resource or task, header-safe or in the Base64 form) and the
/// tool's `Mcp-Param-*`.
fn routing_headers(request: &OutgoingRequest<'_>) -> Vec<(String, String)> {
    let mut headers = Vec::with_capacity(2 + request.headers.len());
    headers.push(("mcp-method".to_owned(), request.method.to_owned()));
    if let Some(name) = request.name {
        headers.push(("mcp-name".to_owned(), crate::protocol::param_headers::encode(name)));
    }
    headers.extend(request.headers.iter().cloned());
    headers
}

/// Whether an error status proves that the server did not process the request
/// (so it is safe to send again, even for a tool that is not idempotent): a
/// refusal of the request itself (400, 405, 406, 413, 415), authorization
/// (401, 403), an expired session (404) or throttling (429). Any other status
/// (408, 500, 502, 503 and 504 from a proxy in front of a slow tool among
/// them) may come after the tool ran.
pub(super) fn status_proves_unprocessed(status: u16) -> bool {
    matches!(status, 400 | 401 | 403 | 404 | 405 | 406 | 413 | 415 | 429)
}

/// The JSON-RPC error a response body carries, if it is one.
fn rpc_error_in(body: &[u8]) -> Option<Error> {
    match parse_message(trim_newline(body)).ok()? {
        Incoming::Response { outcome: Err(e), .. } | Incoming::UnattributedError(e) => Some(e.into()),
        _ => None,
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

/// Maps an error reading a reply body; `timeout` is the limit the read ran under.
fn map_body_error(e: std::io::Error, limit: usize, timeout: Duration) -> Error {
    if e.kind() == std::io::ErrorKind::InvalidData && e.to_string().contains("too large") {
        return Error::ResponseTooLarge { limit }; // from the SSE reader's own limits
    }
    // ureq hands its errors out wrapped in io::Error; unwrap them to tell them apart.
    match ureq::Error::from(e) {
        ureq::Error::BodyExceedsLimit(_) => Error::ResponseTooLarge { limit },
        ureq::Error::Timeout(_) => {
            Error::Timeout { phase: TimeoutPhase::Response, after: timeout, detail: None }
        }
        ureq::Error::Io(io)
            if matches!(io.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) =>
        {
            Error::Timeout { phase: TimeoutPhase::Response, after: timeout, detail: None }
        }
        other => Error::io_sent(format!("reading the reply failed: {other}")),
    }
}

/// Maps an error of sending a request and receiving its response head.
///
/// A connection that could not be made (refused, unreachable, unknown host)
/// carried nothing: `may_have_run: false`. `Timeout::Global` cannot tell a slow connect
/// from a slow response, so it counts as the response phase (maybe sent).
pub(crate) fn map_ureq_error(e: ureq::Error, timeout: Duration) -> Error {
    let connecting = take_connecting();
    match e {
        ureq::Error::Timeout(which) => {
            let phase = match which {
                ureq::Timeout::Resolve | ureq::Timeout::Connect => TimeoutPhase::Connect,
                // The connection never came up: nothing was sent.
                _ if connecting => TimeoutPhase::Connect,
                ureq::Timeout::SendRequest | ureq::Timeout::SendBody | ureq::Timeout::Await100 => {
                    TimeoutPhase::Write
                }
                _ => TimeoutPhase::Response,
            };
            Error::Timeout { phase, after: timeout, detail: None }
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
        // Only a write sees EPIPE: the server had closed the (reused) connection
        // before the request reached it, so it cannot have run.
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe => {
            Error::unsent(format!("the server had closed the connection: {io}"))
        }
        ureq::Error::BadUri(u) => Error::config(None, Some("url"), format!("invalid URL: {u}")),
        ureq::Error::BodyExceedsLimit(n) => Error::ResponseTooLarge { limit: n as usize },
        other => Error::io_sent(format!("HTTP request failed: {other}")),
    }
}
