//! The listening stream of a Streamable HTTP session: a GET the server uses
//! for notifications and requests of its own while no call runs (MCP
//! 2025-11-25), or a `subscriptions/listen` POST whose long-lived response
//! carries the notifications the client subscribed to (2026-07-28). One thread per session reads it, hands every message to the
//! session's inbound side, and reconnects with back-off and `Last-Event-ID`
//! when it ends. A 4xx on the first GET means the server offers none (no
//! retry); otherwise it never gives up while the session lives, and never
//! silently: its state says what it is doing.

use std::io::BufReader;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use serde::Serialize;

use super::Interrupt;
use super::auth_hook::send_authorized;
use super::http::{HttpCore, map_ureq_error};
use super::http_conn::{CallScope, take_connecting};
use super::sse::SseReader;
use crate::protocol::Incoming;
use crate::protocol::jsonrpc::parse_message;

/// The first pause before reconnecting when the server names none.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The shortest pause, whatever `retry` the server names.
const MIN_PAUSE: Duration = Duration::from_millis(250);
/// The longest pause between reconnections.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A stream open this long counts as healthy: the next reconnect starts from the first pause.
const HEALTHY_AFTER: Duration = Duration::from_secs(10);
/// How long the server may take to answer the GET itself.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// What a listening stream is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ListenState {
    /// Opening the stream.
    Connecting,
    /// Open: the server can send at any time.
    Open,
    /// The server offers no listening stream (it answered the GET with 405 or another 4xx).
    NotOffered,
    /// The stream ended or failed; it is opened again after a pause.
    Reconnecting,
    /// The session ended (closed, or the server forgot it).
    Closed,
}

/// The state of one session's listening stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListenStatus {
    /// What the stream is doing.
    pub state: ListenState,
    /// How many times it was opened again after ending.
    pub reconnects: u64,
    /// Why it last ended or failed, if it did.
    pub last_error: Option<String>,
}

struct Shared {
    status: Mutex<ListenStatus>,
    /// Signalled when the first GET was answered (or failed), and on stop.
    changed: Condvar,
    answered: AtomicBool,
    stop: AtomicBool,
    interrupt: Arc<Interrupt>,
}

impl Shared {
    fn set(&self, state: ListenState, error: Option<String>) {
        let mut status = self.status.lock();
        status.state = state;
        if error.is_some() {
            status.last_error = error;
        }
    }

    fn answered(&self) {
        self.answered.store(true, Ordering::Release);
        let _guard = self.status.lock();
        self.changed.notify_all();
    }

    /// Sleeps `pause` unless stopped first; `false` when stopped.
    fn pause(&self, pause: Duration) -> bool {
        let deadline = crate::util::deadline_after(pause);
        let mut status = self.status.lock();
        while !self.stop.load(Ordering::Acquire) {
            if self.changed.wait_until(&mut status, deadline).timed_out() {
                return !self.stop.load(Ordering::Acquire);
            }
        }
        false
    }
}

/// How the stream is opened.
#[derive(Clone)]
pub(crate) enum Opener {
    /// A GET (2025-11-25), resumed with `Last-Event-ID`.
    Get,
    /// A `subscriptions/listen` request (2026-07-28): the function encodes a
    /// new one (a new id) for each connection.
    Listen(ListenRequest),
}

/// Encodes a new `subscriptions/listen` request: its id and body.
pub(crate) type ListenRequest = Arc<dyn Fn() -> (i64, Vec<u8>) + Send + Sync>;

/// A running listening stream.
pub(crate) struct Listener {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    /// Starts the stream's thread and waits up to `wait` for the server's
    /// answer to the GET (a server may send a request on it right after a
    /// call that needs it, so calls should not start before it is open).
    pub(crate) fn start(core: Arc<HttpCore>, opener: Opener, wait: Duration) -> Option<Listener> {
        let shared = Arc::new(Shared {
            status: Mutex::new(ListenStatus {
                state: ListenState::Connecting,
                reconnects: 0,
                last_error: None,
            }),
            changed: Condvar::new(),
            answered: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            interrupt: Interrupt::new(),
        });
        let for_thread = shared.clone();
        let thread = crate::util::spawn_thread("mcps-listen", move || run(&core, &opener, &for_thread))
            .inspect_err(|e| log::warn!(target: "mcpstore::http", "{e}; no listening stream"))
            .ok()?;
        let deadline = crate::util::deadline_after(wait);
        let mut status = shared.status.lock();
        while !shared.answered.load(Ordering::Acquire) {
            if shared.changed.wait_until(&mut status, deadline).timed_out() {
                break;
            }
        }
        drop(status);
        Some(Listener { shared, thread: Some(thread) })
    }

    /// The stream's state.
    pub(crate) fn status(&self) -> ListenStatus {
        self.shared.status.lock().clone()
    }

    /// Whether the thread ended (the server offers no stream, or forgot the session).
    pub(crate) fn ended(&self) -> bool {
        matches!(self.status().state, ListenState::NotOffered | ListenState::Closed)
    }

    /// Stops the stream: its socket is shut down, so the thread ends at once.
    pub(crate) fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.interrupt.fire();
        {
            let _guard = self.shared.status.lock();
            self.shared.changed.notify_all();
        }
        if let Some(t) = self.thread.take()
            && t.thread().id() != std::thread::current().id()
        {
            let _ = t.join();
        }
        self.shared.set(ListenState::Closed, None);
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How one GET ended.
enum Ended {
    /// The server offers no stream, or the session is gone: stop for good.
    Final(ListenState, String),
    /// Try again after a pause (the server's `retry`, if it named one).
    Retry(String, Option<Duration>),
}

fn run(core: &HttpCore, opener: &Opener, shared: &Shared) {
    let _scope = CallScope::enter(Some(&shared.interrupt));
    let mut last_event_id: Option<String> = None;
    let mut backoff = FIRST_BACKOFF;
    let mut was_open = false;
    loop {
        if shared.stop.load(Ordering::Acquire) || !core.open.load(Ordering::Acquire) {
            break;
        }
        let started = Instant::now();
        let ended = match opener {
            Opener::Get => listen_once(core, shared, &mut last_event_id, &mut was_open),
            Opener::Listen(request) => subscribe_once(core, shared, request, &mut was_open),
        };
        shared.answered();
        if shared.stop.load(Ordering::Acquire) {
            break;
        }
        match ended {
            Ended::Final(state, why) => {
                log::debug!(target: "mcpstore::http", "listening stream: {why}");
                shared.set(state, Some(why));
                return;
            }
            Ended::Retry(why, retry) => {
                // A stream that stayed open a while reconnects after the server's
                // pause; one that keeps ending at once backs off further each time.
                let pause = if started.elapsed() >= HEALTHY_AFTER {
                    backoff = FIRST_BACKOFF;
                    retry.unwrap_or(FIRST_BACKOFF).max(MIN_PAUSE)
                } else {
                    let pause = retry.unwrap_or(backoff).max(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    pause
                };
                log::debug!(target: "mcpstore::http", "listening stream ended ({why}); reconnecting in {} ms", pause.as_millis());
                shared.set(ListenState::Reconnecting, Some(why));
                if !shared.pause(pause) {
                    break;
                }
                shared.status.lock().reconnects += 1;
            }
        }
    }
    shared.set(ListenState::Closed, None);
}

/// One GET: open it, read its events until it ends.
fn listen_once(
    core: &HttpCore,
    shared: &Shared,
    last_event_id: &mut Option<String>,
    was_open: &mut bool,
) -> Ended {
    // Authorized like every request of the session: a refusal is answered by
    // the auth layer (refresh, or a new authorization) and the GET sent again.
    let deadline = Instant::now() + RESPONSE_TIMEOUT;
    let sent = send_authorized(core.auth.as_deref(), deadline, |credential| {
        take_connecting();
        let mut request =
            core.request_builder(core.agent.get(&core.url), true).header("accept", "text/event-stream");
        if let Some(id) = last_event_id.as_deref() {
            request = request.header("last-event-id", id);
        }
        if let Some(value) = credential {
            request = request.header("authorization", value);
        }
        request
            .config()
            .timeout_global(None)
            .timeout_recv_response(Some(RESPONSE_TIMEOUT))
            .timeout_recv_body(None)
            .build()
            .call()
            .map_err(|e| map_ureq_error(e, RESPONSE_TIMEOUT))
    });
    let mut response = match sent {
        Ok(r) => r,
        Err(e) => return Ended::Retry(e.to_string(), None),
    };
    let status = response.status().as_u16();
    let carried = core.session_id.read().is_some();
    if let Err(e) = core.check_status(&mut response, carried) {
        return match status {
            404 if *was_open => {
                Ended::Final(ListenState::Closed, format!("the server forgot the session: {e}"))
            }
            400..=499 if !*was_open => Ended::Final(ListenState::NotOffered, e.to_string()),
            _ => Ended::Retry(e.to_string(), None),
        };
    }
    let is_stream = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("text/event-stream"));
    if !is_stream {
        return Ended::Final(
            ListenState::NotOffered,
            "the server answered the GET without an event stream".into(),
        );
    }
    *was_open = true;
    shared.set(ListenState::Open, None);
    shared.answered();
    let reader = BufReader::new(response.into_body().into_reader());
    let mut stream = SseReader::new(reader, core.max_message_bytes);
    stream.last_event_id = last_event_id.clone();
    let why = loop {
        match stream.next_event() {
            Ok(Some(event)) => {
                *last_event_id = stream.last_event_id.clone();
                if event.data.trim().is_empty() || !(event.event.is_empty() || event.event == "message") {
                    continue; // priming events and other event types carry no message
                }
                match parse_message(event.data.as_bytes()) {
                    Ok(message) => core.deliver(message),
                    Err(e) => {
                        log::warn!(target: "mcpstore::http", "listening stream: skipped an invalid message: {e}")
                    }
                }
            }
            Ok(None) => break "the server ended the stream".to_owned(),
            Err(e) => break format!("reading the stream failed: {e}"),
        }
    };
    Ended::Retry(why, stream.retry_ms.map(Duration::from_millis))
}

/// One `subscriptions/listen` POST: open it, deliver its notifications until
/// the server ends it (its result, or its stream closing).
fn subscribe_once(core: &HttpCore, shared: &Shared, request: &ListenRequest, was_open: &mut bool) -> Ended {
    let (id, body) = request();
    let deadline = Instant::now() + RESPONSE_TIMEOUT;
    let sent = send_authorized(core.auth.as_deref(), deadline, |credential| {
        take_connecting();
        let mut post = core
            .request_builder(core.agent.post(&core.url), true)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-method", "subscriptions/listen");
        if let Some(value) = credential {
            post = post.header("authorization", value);
        }
        post.config()
            .timeout_global(None)
            .timeout_recv_response(Some(RESPONSE_TIMEOUT))
            .timeout_recv_body(None)
            .build()
            .send(body.strip_suffix(b"\n").unwrap_or(&body))
            .map_err(|e| map_ureq_error(e, RESPONSE_TIMEOUT))
    });
    let mut response = match sent {
        Ok(r) => r,
        Err(e) => return Ended::Retry(e.to_string(), None),
    };
    let status = response.status().as_u16();
    if let Err(e) = core.check_status(&mut response, false) {
        return match status {
            400..=499 if !*was_open => Ended::Final(ListenState::NotOffered, e.to_string()),
            _ if matches!(e, crate::error::Error::Rpc { .. }) && !*was_open => {
                Ended::Final(ListenState::NotOffered, e.to_string())
            }
            _ => Ended::Retry(e.to_string(), None),
        };
    }
    let is_stream = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("text/event-stream"));
    if !is_stream {
        // A JSON answer at once: the server refused the subscription (or ended it at once).
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(
            &mut std::io::Read::take(response.body_mut().as_reader(), 4096),
            &mut text,
        );
        let why = format!("the server answered subscriptions/listen without a stream: {}", text.trim());
        return if *was_open { Ended::Retry(why, None) } else { Ended::Final(ListenState::NotOffered, why) };
    }
    *was_open = true;
    shared.set(ListenState::Open, None);
    shared.answered();
    let reader = BufReader::new(response.into_body().into_reader());
    let mut stream = SseReader::new(reader, core.max_message_bytes);
    let why = loop {
        match stream.next_event() {
            Ok(Some(event)) => {
                if event.data.trim().is_empty() || !(event.event.is_empty() || event.event == "message") {
                    continue;
                }
                match parse_message(event.data.as_bytes()) {
                    Ok(Incoming::Response { id: rid, .. }) if request_id_is(&rid, id) => {
                        break "the server ended the subscription".to_owned();
                    }
                    Ok(message) => core.deliver(message),
                    Err(e) => {
                        log::warn!(target: "mcpstore::http", "subscription stream: skipped an invalid message: {e}")
                    }
                }
            }
            Ok(None) => break "the server ended the stream".to_owned(),
            Err(e) => break format!("reading the stream failed: {e}"),
        }
    };
    Ended::Retry(why, None)
}

fn request_id_is(id: &crate::protocol::RequestId, expected: i64) -> bool {
    match id {
        crate::protocol::RequestId::Number(n) => *n == expected,
        crate::protocol::RequestId::String(s) => s.parse::<i64>().ok() == Some(expected),
    }
}
