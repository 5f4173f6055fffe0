//! The legacy HTTP+SSE transport (protocol 2024-11-05), for servers that
//! predate Streamable HTTP.
//!
//! A GET opens one event stream per session; its first `endpoint` event names
//! the URI every client message is POSTed to (answered with 202 Accepted).
//! Everything the server sends (responses, notifications, its own requests)
//! arrives as `message` events on that one stream, so, as over stdio, one
//! reader thread hands each message to the [`Inbound`], which routes
//! responses by id: many requests share a session and pipelining works.
//!
//! The stream is opened on the calling thread within the connection timeout,
//! then owned by the reader. Its connection is bound to an [`Interrupt`], so
//! [`Transport::close`] shuts the socket down and the blocked read returns at
//! once. A session never reconnects its stream: when it ends, the session is
//! closed and the pool opens a new one (a new GET, a new server session).

mod endpoint;
mod events;

/// The endpoint resolution and the event handling, for the fuzz targets (`src/fuzzing.rs`).
#[cfg(feature = "fuzzing")]
pub(crate) mod fuzz_access {
    pub(crate) use super::endpoint::resolve_endpoint;
    pub(crate) use super::events::{EventHandler, pump};
}

use std::io::{BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use parking_lot::{Mutex, RwLock};
use ureq::http::{HeaderName, HeaderValue, Response};

use super::auth_hook::{AuthHook, send_authorized};
use super::http::{map_ureq_error, parse_headers, status_proves_unprocessed};
use super::http_conn::{CallScope, ReadCap, take_connecting};
use super::sse::SseReader;
use super::{Inbound, Interrupt, Outcome, OutgoingRequest, Transport};
use crate::config::HttpConfig;
use crate::error::{Error, Result, TimeoutPhase};
use crate::protocol::jsonrpc::snippet;
use crate::util::deadline_after;
use endpoint::resolve_endpoint;
use events::{EventHandler, pump};

/// The header that carries the negotiated protocol version on every POST
/// (as the official TypeScript client sends it over this transport too).
const VERSION_HEADER: &str = "mcp-protocol-version";
/// How long the reader may spend POSTing the answer to a server request
/// (such as `ping`). Messages are not routed meanwhile, so this is short.
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);
/// How long `close` waits for the reader once its socket is shut down (it may
/// be finishing a reply POST, bounded by [`REPLY_TIMEOUT`]).
const JOIN_GRACE: Duration = Duration::from_secs(3);
/// The most of a POST's answer that is read (it is `Accepted` or empty);
/// reading it to its end lets the connection go back to the keep-alive pool.
const MAX_POST_ANSWER: u64 = 64 * 1024;

/// The event stream as the reader owns it.
type Stream = SseReader<BufReader<ureq::BodyReader<'static>>>;

/// One MCP session over the legacy HTTP+SSE transport.
pub struct LegacySseTransport {
    poster: Arc<Poster>,
    /// Shuts the stream's socket down (bound to its connection at the GET).
    interrupt: Arc<Interrupt>,
    reader: Mutex<Option<Reader>>,
}

/// Sends messages to the endpoint; shared by callers and the reader thread
/// (which answers server requests).
struct Poster {
    service: String,
    agent: ureq::Agent,
    /// Where messages go: the `endpoint` event, resolved.
    endpoint: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    protocol_version: RwLock<Option<HeaderValue>>,
    /// The service's authorization (OAuth), when it has one.
    auth: Option<Arc<dyn AuthHook>>,
    /// Cleared when the stream ends or the transport is closed.
    open: AtomicBool,
}

/// The reader thread and the means to wait for it with a deadline.
struct Reader {
    handle: JoinHandle<()>,
    /// Disconnected once the thread has finished (its sender is dropped on exit).
    done: Receiver<()>,
}

impl LegacySseTransport {
    /// Opens the event stream at `config.url` with the service's `agent` and
    /// waits, up to `connect_timeout`, for its `endpoint` event; then starts
    /// the reader thread `mcps-sse-<service>`. Every request carries
    /// `config.headers` and, with `auth`, the service's credential (a
    /// refusal lets the authorization layer act, then it is sent again).
    pub(crate) fn connect(
        service: &str,
        agent: ureq::Agent,
        config: &HttpConfig,
        inbound: Arc<dyn Inbound>,
        (connect_timeout, max_message_bytes): (Duration, usize),
        auth: Option<Arc<dyn AuthHook>>,
    ) -> Result<Self> {
        let headers = parse_headers(config)?;
        let interrupt = Interrupt::new();
        let (stream, endpoint) = {
            // The connection binds to the interrupt on its first I/O, here.
            let _scope = CallScope::enter(Some(&interrupt));
            let _cap = ReadCap::until(deadline_after(connect_timeout));
            open_stream(&agent, config, &headers, auth.as_deref(), (connect_timeout, max_message_bytes))?
        };
        log::debug!(target: "mcpstore::sse", "[{service}] SSE stream open; messages go to {endpoint}");
        let poster = Arc::new(Poster {
            service: service.to_owned(),
            agent,
            endpoint,
            headers,
            protocol_version: RwLock::new(None),
            auth,
            open: AtomicBool::new(true),
        });
        let reader = spawn_reader(poster.clone(), inbound, interrupt.clone(), stream, max_message_bytes)?;
        Ok(LegacySseTransport { poster, interrupt, reader: Mutex::new(Some(reader)) })
    }
}

/// GETs the event stream and reads up to its `endpoint` event; returns the
/// stream, positioned after it, and the resolved endpoint. Every failure
/// here happened before any message was sent.
fn open_stream(
    agent: &ureq::Agent,
    config: &HttpConfig,
    headers: &[(HeaderName, HeaderValue)],
    auth: Option<&dyn AuthHook>,
    (timeout, max_message_bytes): (Duration, usize),
) -> Result<(Stream, String)> {
    let response = send_authorized(auth, deadline_after(timeout), |credential| {
        let mut builder = agent.get(&config.url);
        for (k, v) in headers {
            builder = builder.header(k, v);
        }
        if let Some(value) = credential {
            builder = builder.header("authorization", value);
        }
        take_connecting(); // a fresh mark for this request
        builder
            .header("accept", "text/event-stream")
            .header("cache-control", "no-cache")
            .config()
            // No overall limit: the stream lives as long as the session. The
            // calling thread's read cap bounds the wait for the endpoint event.
            .timeout_connect(Some(timeout))
            .timeout_send_request(Some(timeout))
            .build()
            .call()
            .map_err(|e| unsent(map_ureq_error(e, timeout), timeout))
    })?;
    let response = check_stream_response(response)?;
    let mut stream = SseReader::new(
        BufReader::with_capacity(64 * 1024, response.into_body().into_reader()),
        max_message_bytes,
    );
    loop {
        let event = match stream.next_event() {
            Ok(Some(event)) => event,
            Ok(None) => return Err(Error::unsent("the SSE stream ended before its endpoint event")),
            Err(e) => return Err(opening_read_error(e, timeout, max_message_bytes)),
        };
        if event.event != "endpoint" {
            // The endpoint must come first; nothing else can be for us yet.
            log::debug!(target: "mcpstore::sse", "skipping a '{}' event before the endpoint event", event.event);
            continue;
        }
        let endpoint = resolve_endpoint(&config.url, &event.data)
            .map_err(|m| Error::unsent(format!("unusable endpoint event: {m}")))?;
        return Ok((stream, endpoint));
    }
}

/// Checks that the GET opened an event stream.
fn check_stream_response(mut response: Response<ureq::Body>) -> Result<Response<ureq::Body>> {
    let status = response.status();
    if !status.is_success() {
        let mut text = Vec::new();
        let _ = response.body_mut().as_reader().take(2048).read_to_end(&mut text);
        return Err(Error::Transport {
            message: format!(
                "opening the SSE stream: {} {}: {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or(""),
                snippet(&text)
            ),
            status: Some(status.as_u16()),
            retry_after: None,
            may_have_run: false,
        });
    }
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.to_ascii_lowercase().starts_with("text/event-stream") {
        return Err(Error::unsent(format!(
            "the server answered the SSE GET with content type '{content_type}', not text/event-stream"
        )));
    }
    Ok(response)
}

/// Opening the stream sent no message: a timeout is the connect phase, and
/// nothing may have run.
fn unsent(e: Error, timeout: Duration) -> Error {
    match e {
        Error::Timeout { .. } => Error::timeout(TimeoutPhase::Connect, timeout),
        Error::Transport { message, status, retry_after, .. } => {
            Error::Transport { message, status, retry_after, may_have_run: false }
        }
        other => other,
    }
}

/// Maps a failed read of the stream before its endpoint event.
fn opening_read_error(e: std::io::Error, timeout: Duration, limit: usize) -> Error {
    if e.kind() == std::io::ErrorKind::InvalidData && e.to_string().contains("too large") {
        return Error::ResponseTooLarge { limit };
    }
    match ureq::Error::from(e) {
        ureq::Error::Timeout(_) => Error::timeout(TimeoutPhase::Connect, timeout),
        other => Error::unsent(format!("reading the SSE stream failed: {other}")),
    }
}

fn spawn_reader(
    poster: Arc<Poster>,
    inbound: Arc<dyn Inbound>,
    interrupt: Arc<Interrupt>,
    stream: Stream,
    max_message_bytes: usize,
) -> Result<Reader> {
    let (done_tx, done) = crossbeam_channel::bounded::<()>(0);
    let name = format!("mcps-sse-{}", poster.service);
    let handle = crate::util::spawn_thread(name, move || {
        let _done = done_tx; // dropped when the thread ends, even by a panic
        read_stream(&poster, &*inbound, &interrupt, stream, max_message_bytes);
    })
    .map_err(|e| Error::unsent(e.to_string()))?;
    Ok(Reader { handle, done })
}

/// The reader thread: hands every message to `inbound` until the stream
/// ends, then closes the session's side with the reason.
fn read_stream(
    poster: &Poster,
    inbound: &dyn Inbound,
    interrupt: &Arc<Interrupt>,
    mut stream: Stream,
    max_message_bytes: usize,
) {
    let mut handler = EventHandler::new(&poster.service, inbound);
    let next = || {
        // Only the stream's reads run under its interrupt: a reply POST in
        // between must not bind its own connection to it.
        let _scope = CallScope::enter(Some(interrupt));
        stream.next_event()
    };
    let mut reply = |answer: &[u8]| {
        if let Err(e) = poster.post(answer, REPLY_TIMEOUT) {
            log::warn!(target: "mcpstore::sse", "[{}] could not answer a server request: {e}", poster.service);
        }
    };
    let mut error = pump(&mut handler, next, &mut reply, max_message_bytes);
    poster.open.store(false, Ordering::Release);
    if interrupt.fired() {
        error = Error::Closed { message: "session closed".into(), may_have_run: true };
    }
    log::debug!(target: "mcpstore::sse", "[{}] SSE stream ended: {error}", poster.service);
    inbound.on_closed(error);
}

impl Poster {
    /// POSTs one message (`body`, newline-terminated) to the endpoint within `timeout`.
    fn post(&self, body: &[u8], timeout: Duration) -> Result<()> {
        if !self.open.load(Ordering::Acquire) {
            return Err(Error::Closed {
                message: format!("the SSE stream of server '{}' has ended", self.service),
                may_have_run: false,
            });
        }
        // A message refused for authorization never ran: it is sent again once authorized.
        let mut response = send_authorized(self.auth.as_deref(), deadline_after(timeout), |credential| {
            let mut builder = self.agent.post(&self.endpoint);
            for (k, v) in &self.headers {
                builder = builder.header(k, v);
            }
            if let Some(v) = self.protocol_version.read().as_ref() {
                builder = builder.header(VERSION_HEADER, v);
            }
            if let Some(value) = credential {
                builder = builder.header("authorization", value);
            }
            take_connecting(); // a fresh mark for this request
            builder
                .header("content-type", "application/json")
                .config()
                .timeout_global(Some(timeout))
                .build()
                .send(body.strip_suffix(b"\n").unwrap_or(body))
                .map_err(|e| map_ureq_error(e, timeout))
        })?;
        let mut answer = Vec::new();
        let _ = response.body_mut().as_reader().take(MAX_POST_ANSWER).read_to_end(&mut answer);
        let status = response.status();
        if status.is_success() {
            return Ok(()); // 202 Accepted (some servers say 200): the answer comes on the stream
        }
        Err(Error::Transport {
            message: format!(
                "{} {}: {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or(""),
                snippet(&answer)
            ),
            status: Some(status.as_u16()),
            retry_after: None,
            may_have_run: !status_proves_unprocessed(status.as_u16()),
        })
    }
}

impl Transport for LegacySseTransport {
    fn kind(&self) -> &'static str {
        "sse"
    }

    fn send_request(&self, request: &OutgoingRequest<'_>) -> Result<Option<Outcome>> {
        self.poster.post(request.body, request.write_timeout).map(|()| None)
    }

    fn routes_responses(&self) -> bool {
        true
    }

    fn send_message(&self, body: &[u8], timeout: Duration) -> Result<()> {
        self.poster.post(body, timeout)
    }

    fn set_protocol_version(&self, version: &str) {
        *self.poster.protocol_version.write() = HeaderValue::from_str(version).ok();
    }

    fn is_open(&self) -> bool {
        self.poster.open.load(Ordering::Acquire)
    }

    fn close(&self) {
        self.poster.open.store(false, Ordering::Release);
        self.interrupt.fire(); // the reader's blocked read returns at once
        let Some(reader) = self.reader.lock().take() else { return };
        if reader.handle.thread().id() == std::thread::current().id() {
            return; // closed from the reader itself (on_closed): it is ending anyway
        }
        match reader.done.recv_deadline(Instant::now() + JOIN_GRACE) {
            Err(RecvTimeoutError::Timeout) => {
                log::warn!(target: "mcpstore::sse", "[{}] the SSE reader did not end within {JOIN_GRACE:?}; leaving it", self.poster.service);
            }
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                let _ = reader.handle.join();
            }
        }
    }
}

impl Drop for LegacySseTransport {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests;
