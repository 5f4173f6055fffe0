//! One initialized MCP session: handshake, requests with timeouts and
//! cancellation, and the routing of everything the server sends.
//!
//! A session is shared by many threads at once: each request gets its own id
//! and waits on its own channel; the transport's reader (stdio) or the calling
//! thread itself (HTTP) routes the response by id.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::error::{Error, Result, TimeoutPhase};
use crate::protocol::jsonrpc;
use crate::protocol::messages::{self, Progress, methods};
use crate::protocol::{InitializeResult, ListToolsResult, Tool, ToolResult, version};
use crate::servers::TransportConfig;
use crate::transport::http::HttpTransport;
use crate::transport::stdio::StdioTransport;
use crate::transport::{Inbound, OutgoingRequest, Transport};

mod cancel;
mod router;

pub use cancel::CancelToken;
pub(crate) use router::Reply;
use router::Router;

/// The longest a background cancellation notification may take.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(2);

/// Limits and identity used by a session.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// The name sent as `clientInfo.name`.
    pub client_name: String,
    /// Spawn / connect plus handshake.
    pub connection_timeout: Duration,
    /// Default wait for a response.
    pub read_timeout: Duration,
    /// Limit for writing one request.
    pub write_timeout: Duration,
    /// Largest message accepted from the server.
    pub max_message_bytes: usize,
}

impl Default for SessionOptions {
    fn default() -> Self {
        let pool = crate::config::PoolConfig::default();
        SessionOptions {
            client_name: "mcpstore".to_owned(),
            connection_timeout: pool.connection_timeout,
            read_timeout: pool.read_timeout,
            write_timeout: pool.write_timeout,
            max_message_bytes: crate::config::DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// Something a server told the client on its own.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SessionEvent {
    /// `notifications/tools/list_changed`.
    ToolsListChanged,
    /// `notifications/progress` for a request of this session.
    Progress(Progress),
    /// The session's connection ended.
    Closed(Error),
}

/// Receives a session's events (called on the transport's reader thread or the calling thread).
pub type EventHandler = Arc<dyn Fn(&SessionEvent) + Send + Sync>;

struct SessionInner {
    router: Arc<Router>,
    transport: Box<dyn Transport>,
    next_id: AtomicI64,
    info: RwLock<Option<Arc<InitializeResult>>>,
    options: SessionOptions,
    generation: AtomicU64,
    reinit: Mutex<()>,
}

/// One initialized MCP session, cheap to clone and safe to share between threads.
#[derive(Clone)]
pub struct Session {
    inner: Arc<SessionInner>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("service", &self.inner.router.service)
            .field("transport", &self.inner.transport.kind())
            .finish()
    }
}

impl Session {
    /// Opens a transport to the server and performs the `initialize` handshake.
    ///
    /// `agent` is the service's shared HTTP agent (ignored for stdio).
    pub fn connect(
        service: &str,
        config: &TransportConfig,
        agent: Option<&ureq::Agent>,
        options: SessionOptions,
        events: Option<EventHandler>,
    ) -> Result<Session> {
        let router = Arc::new(Router {
            service: service.to_owned(),
            pending: Mutex::new(HashMap::new()),
            progress: Mutex::new(HashMap::new()),
            closed: RwLock::new(None),
            is_closed: AtomicBool::new(false),
            events,
        });
        let inbound: Arc<dyn Inbound> = router.clone();
        let transport: Box<dyn Transport> = match config {
            TransportConfig::Stdio { .. } => {
                Box::new(StdioTransport::spawn(service, config, inbound, options.max_message_bytes)?)
            }
            TransportConfig::Http { url, headers } => {
                let agent = agent.cloned().unwrap_or_else(|| {
                    let pool = crate::config::PoolConfig {
                        connection_timeout: options.connection_timeout,
                        ..Default::default()
                    };
                    crate::transport::http::agent_for(&pool)
                });
                Box::new(HttpTransport::new(agent, url, headers, inbound, options.max_message_bytes)?)
            }
        };
        let session = Session {
            inner: Arc::new(SessionInner {
                router,
                transport,
                next_id: AtomicI64::new(1),
                info: RwLock::new(None),
                options,
                generation: AtomicU64::new(0),
                reinit: Mutex::new(()),
            }),
        };
        if let Err(e) = session.handshake() {
            session.close();
            return Err(e);
        }
        Ok(session)
    }

    fn handshake(&self) -> Result<()> {
        let opts = &self.inner.options;
        let params = messages::initialize_params(&opts.client_name, env!("CARGO_PKG_VERSION"));
        let raw = self
            .send_and_wait(
                methods::INITIALIZE,
                Some(&params),
                opts.connection_timeout,
                None,
                &mut MessageSizes::default(),
            )
            .map_err(|e| match e {
                Error::Timeout { after, .. } => Error::Timeout { phase: TimeoutPhase::Initialize, after },
                other => other,
            })?;
        let result: InitializeResult = serde_json::from_str(raw.get())
            .map_err(|e| Error::Protocol(format!("invalid initialize result: {e}")))?;
        version::negotiate(&result.protocol_version)?;
        self.inner.transport.set_protocol_version(&result.protocol_version);
        *self.inner.info.write() = Some(Arc::new(result));
        self.notify(methods::INITIALIZED, None::<&Value>)
    }

    /// The server's `initialize` answer (name, version, capabilities).
    pub fn server_info(&self) -> Option<Arc<InitializeResult>> {
        self.inner.info.read().clone()
    }

    /// The transport's kind: `"stdio"` or `"streamable-http"`.
    pub fn transport_kind(&self) -> &'static str {
        self.inner.transport.kind()
    }

    /// Whether the session can still carry requests.
    pub fn is_alive(&self) -> bool {
        self.inner.transport.is_open() && !self.inner.router.is_closed.load(Ordering::Acquire)
    }

    /// Requests waiting for a response right now (stdio; HTTP waits on the calling thread).
    pub fn pending_requests(&self) -> usize {
        self.inner.router.pending.lock().len()
    }

    /// Whether responses are routed by a reader thread (stdio), which allows pipelining.
    pub fn supports_pipelining(&self) -> bool {
        self.inner.transport.routes_responses()
    }

    /// Closes the session (stdin closed then signals for stdio; DELETE for HTTP).
    pub fn close(&self) {
        self.inner.transport.close();
        if !self.inner.router.is_closed.load(Ordering::Acquire) {
            self.inner.router.on_closed(Error::Closed { message: "session closed".into(), sent: false });
        }
    }

    /// Sends a notification.
    pub fn notify<P: Serialize + ?Sized>(&self, method: &str, params: Option<&P>) -> Result<()> {
        let mut buf = Vec::with_capacity(128);
        jsonrpc::write_notification(&mut buf, method, params);
        buf.push(b'\n');
        self.inner.transport.send_message(&buf, self.inner.options.write_timeout)
    }

    /// Sends `ping` and waits up to `timeout` for the answer.
    pub fn ping(&self, timeout: Duration) -> Result<()> {
        self.request::<Value>(methods::PING, None, timeout, None).map(|_| ()).map_err(|e| match e {
            Error::Timeout { after, .. } => Error::Timeout { phase: TimeoutPhase::HealthCheck, after },
            other => other,
        })
    }

    /// Lists every tool, following `nextCursor` until the last page.
    pub fn list_tools(&self) -> Result<Vec<Tool>> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..10_000 {
            let params = cursor.as_ref().map(|c| json!({ "cursor": c }));
            let raw =
                self.request(methods::TOOLS_LIST, params.as_ref(), self.inner.options.read_timeout, None)?;
            let page: ListToolsResult = serde_json::from_str(raw.get())
                .map_err(|e| Error::Protocol(format!("invalid tools/list result: {e}")))?;
            tools.extend(page.tools);
            match page.next_cursor {
                Some(next) if cursor.as_deref() == Some(next.as_str()) => {
                    return Err(Error::Protocol("tools/list returned the same cursor twice".into()));
                }
                Some(next) => cursor = Some(next),
                None => return Ok(tools),
            }
        }
        Err(Error::Protocol("tools/list did not end after 10000 pages".into()))
    }

    /// Calls a tool and waits up to `timeout` for its result.
    pub fn call_tool(
        &self,
        name: &str,
        arguments: &Value,
        timeout: Duration,
        cancel: Option<&CancelToken>,
    ) -> Result<ToolResult> {
        self.call_tool_measured(name, arguments, timeout, cancel, &mut MessageSizes::default())
    }

    /// Like [`Session::call_tool`], and records the bytes sent and received.
    pub fn call_tool_measured(
        &self,
        name: &str,
        arguments: &Value,
        timeout: Duration,
        cancel: Option<&CancelToken>,
        sizes: &mut MessageSizes,
    ) -> Result<ToolResult> {
        self.call_tool_with_progress(name, arguments, timeout, cancel, None, sizes)
    }

    /// Like [`Session::call_tool_measured`]; `progress` receives the server's
    /// `notifications/progress` for this call (on the reader or calling thread).
    pub fn call_tool_with_progress(
        &self,
        name: &str,
        arguments: &Value,
        timeout: Duration,
        cancel: Option<&CancelToken>,
        progress: Option<&ProgressCallback>,
        sizes: &mut MessageSizes,
    ) -> Result<ToolResult> {
        let token = progress.map(|cb| {
            let token = format!("mcps-{}", NEXT_PROGRESS_TOKEN.fetch_add(1, Ordering::Relaxed));
            self.inner.router.progress.lock().insert(Value::String(token.clone()).to_string(), cb.clone());
            token
        });
        let meta = token.as_ref().map(|t| json!({ "progressToken": t }));
        let params = CallParams { name, arguments, meta: meta.as_ref() };
        let raw = self.request_measured(methods::TOOLS_CALL, Some(&params), timeout, cancel, sizes);
        if let Some(t) = token {
            self.inner.router.progress.lock().remove(&Value::String(t).to_string());
        }
        let raw = raw?;
        sizes.received = raw.get().len();
        parse_tool_result(&raw)
    }

    /// Sends a request and waits for its raw result; re-initializes once when
    /// an HTTP session expired (404).
    pub fn request<P: Serialize + ?Sized>(
        &self,
        method: &str,
        params: Option<&P>,
        timeout: Duration,
        cancel: Option<&CancelToken>,
    ) -> Result<Box<RawValue>> {
        self.request_measured(method, params, timeout, cancel, &mut MessageSizes::default())
    }

    fn request_measured<P: Serialize + ?Sized>(
        &self,
        method: &str,
        params: Option<&P>,
        timeout: Duration,
        cancel: Option<&CancelToken>,
        sizes: &mut MessageSizes,
    ) -> Result<Box<RawValue>> {
        let generation = self.inner.generation.load(Ordering::Acquire);
        match self.send_and_wait(method, params, timeout, cancel, sizes) {
            // Only a request the server refused (404 = expired session) is sent again;
            // one that may be running (a 404 while resuming its stream) is not.
            Err(Error::Transport { status: Some(404), sent: false, .. })
                if !self.inner.transport.routes_responses() =>
            {
                self.reinitialize(generation)?;
                self.send_and_wait(method, params, timeout, cancel, sizes)
            }
            other => other,
        }
    }

    fn reinitialize(&self, seen_generation: u64) -> Result<()> {
        let _guard = self.inner.reinit.lock();
        if self.inner.generation.load(Ordering::Acquire) != seen_generation {
            return Ok(()); // another thread already opened a new server session
        }
        log::info!(target: "mcpstore::session", "[{}] HTTP session expired; initializing a new one", self.inner.router.service);
        self.inner.transport.begin_session();
        self.handshake()?;
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    fn next_id(&self) -> i64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn send_and_wait<P: Serialize + ?Sized>(
        &self,
        method: &str,
        params: Option<&P>,
        timeout: Duration,
        cancel: Option<&CancelToken>,
        sizes: &mut MessageSizes,
    ) -> Result<Box<RawValue>> {
        if cancel.is_some_and(CancelToken::is_cancelled) {
            return Err(Error::Cancelled);
        }
        let id = self.next_id();
        let mut body = Vec::with_capacity(256);
        jsonrpc::write_request(&mut body, id, method, params);
        body.push(b'\n');
        sizes.sent += body.len();
        let request = OutgoingRequest {
            id,
            method,
            body: &body,
            write_timeout: self.inner.options.write_timeout.min(timeout),
            read_timeout: timeout,
        };
        let deadline = deadline_after(timeout);
        // The initialize request must never be cancelled (MCP lifecycle).
        let cancellable = method != methods::INITIALIZE;
        let result = if self.inner.transport.routes_responses() {
            // A pooled reply channel: creating a channel per request costs more than reusing one.
            let channel = reply_channels().get();
            // Registered before the cancel token learns the id, so a cancel always finds it.
            self.inner.router.register(id, channel.0.clone(), tag_of(id))?;
            if let Some(token) = cancel
                && !token.attach(&self.inner, id)
            {
                let owned = self.inner.router.pending.lock().remove(&id).is_some();
                if !owned {
                    drop(channel.detach());
                }
                return Err(Error::Cancelled);
            }
            let (result, clean) = match self.inner.transport.send_request(&request) {
                Ok(_) => self.wait(id, &channel.1, deadline, timeout, cancellable),
                Err(e) => {
                    // Clean only if the waiter was still ours: a closing reader may have
                    // taken it and be about to send into the channel.
                    let owned = self.inner.router.pending.lock().remove(&id).is_some();
                    (Err(e), owned)
                }
            };
            if !clean {
                drop(channel.detach()); // a late reply may still land in it: never reuse it
            }
            result
        } else {
            if let Some(token) = cancel
                && !token.attach(&self.inner, id)
            {
                return Err(Error::Cancelled);
            }
            match self.inner.transport.send_request(&request) {
                Ok(Some(outcome)) => outcome.map_err(Error::from),
                Ok(None) => Err(Error::Internal("inline transport returned no response".into())),
                Err(e @ Error::Timeout { phase: TimeoutPhase::Response, .. }) => {
                    if cancellable {
                        // The server may hang: the caller must not wait for this POST too.
                        self.send_cancel_in_background(id, "timeout");
                    }
                    Err(e)
                }
                Err(e) => Err(e),
            }
        };
        if let Some(token) = cancel {
            token.detach();
            if token.is_cancelled() && result.is_err() {
                return Err(Error::Cancelled);
            }
        }
        result
    }

    /// Waits for the reply of request `id`; also says whether the channel is
    /// clean (no reply can arrive in it any more) so it may be reused.
    fn wait(
        &self,
        id: i64,
        rx: &Receiver<Reply>,
        deadline: Instant,
        timeout: Duration,
        cancellable: bool,
    ) -> (Result<Box<RawValue>>, bool) {
        let timed_out = || Error::Timeout { phase: TimeoutPhase::Response, after: timeout };
        loop {
            match rx.recv_deadline(deadline) {
                Ok((tag, result)) if tag == tag_of(id) => return (result, true),
                Ok((tag, _)) => {
                    // Never expected (channels are reused only when clean); drop it and keep waiting.
                    log::warn!(target: "mcpstore::session", "[{}] discarded a stray reply (tag {tag})", self.inner.router.service);
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self.inner.router.pending.lock().remove(&id).is_some() {
                        if cancellable {
                            self.send_cancel_in_background(id, "timeout");
                        }
                        return (Err(timed_out()), true);
                    }
                    // The response raced the deadline: it is in the channel or about to be.
                    return match rx.recv_timeout(Duration::from_millis(100)) {
                        Ok((tag, r)) if tag == tag_of(id) => (r, true),
                        _ => (Err(timed_out()), false),
                    };
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return (Err(self.inner.router.closed_error(true)), false);
                }
            }
        }
    }

    /// Writes several `tools/call` requests back to back (stdio pipelining);
    /// each reply arrives on `tx` with its tag. Returns the request ids, in order.
    pub(crate) fn start_tool_calls(
        &self,
        calls: &[(usize, &str, &Value)],
        tx: &Sender<Reply>,
    ) -> Result<Vec<i64>> {
        let mut bodies = Vec::with_capacity(calls.len());
        let mut ids = Vec::with_capacity(calls.len());
        for (tag, name, arguments) in calls {
            let id = self.next_id();
            let mut body = Vec::with_capacity(128);
            jsonrpc::write_request(
                &mut body,
                id,
                methods::TOOLS_CALL,
                Some(&CallParams { name, arguments, meta: None }),
            );
            body.push(b'\n');
            self.inner.router.register(id, tx.clone(), *tag)?;
            bodies.push(body);
            ids.push(id);
        }
        let write_timeout = self.inner.options.write_timeout;
        let requests: Vec<OutgoingRequest<'_>> = ids
            .iter()
            .zip(&bodies)
            .map(|(id, body)| OutgoingRequest {
                id: *id,
                method: methods::TOOLS_CALL,
                body,
                write_timeout,
                read_timeout: self.inner.options.read_timeout,
            })
            .collect();
        if let Err(e) = self.inner.transport.send_pipelined(&requests) {
            let mut pending = self.inner.router.pending.lock();
            for id in &ids {
                pending.remove(id);
            }
            return Err(e);
        }
        Ok(ids)
    }

    /// Forgets a pipelined request that timed out and tells the server.
    pub(crate) fn abandon_request(&self, id: i64) -> bool {
        let removed = self.inner.router.pending.lock().remove(&id).is_some();
        if removed {
            self.send_cancel_in_background(id, "timeout");
        }
        removed
    }

    /// Tells the server to stop working on request `id`, never blocking the
    /// caller for long: over stdio the write is bounded by a short limit; over
    /// HTTP (a POST that a hung server may never answer) it runs on a
    /// short-lived thread.
    pub(super) fn send_cancel_in_background(&self, id: i64, reason: &str) {
        let params = json!({ "requestId": id, "reason": reason });
        let mut buf = Vec::with_capacity(96);
        jsonrpc::write_notification(&mut buf, methods::CANCELLED, Some(&params));
        buf.push(b'\n');
        let timeout = self.inner.options.write_timeout.min(CANCEL_TIMEOUT);
        if self.inner.transport.routes_responses() {
            if let Err(e) = self.inner.transport.send_message(&buf, timeout) {
                log::debug!(target: "mcpstore::session", "[{}] could not send cancellation: {e}", self.inner.router.service);
            }
            return;
        }
        let session = self.clone();
        PENDING_CANCELS.fetch_add(1, Ordering::AcqRel);
        let spawned = std::thread::Builder::new().name("mcps-cancel".into()).stack_size(256 * 1024).spawn(move || {
            if let Err(e) = session.inner.transport.send_message(&buf, timeout) {
                log::debug!(target: "mcpstore::session", "[{}] could not send cancellation: {e}", session.inner.router.service);
            }
            PENDING_CANCELS.fetch_sub(1, Ordering::AcqRel);
        });
        if spawned.is_err() {
            PENDING_CANCELS.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Cancellation notifications being sent on background threads (process-wide).
static PENDING_CANCELS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Waits (at most `limit`) until background cancellations have been sent, so
/// that a closing store tells servers to stop before it ends their sessions.
pub(crate) fn wait_for_cancellations(limit: Duration) {
    let deadline = deadline_after(limit);
    while PENDING_CANCELS.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The tag a single request's reply carries: its id (pipelined batches use their own tags).
fn tag_of(id: i64) -> usize {
    id as usize
}

/// `now + d`, saturating far in the future instead of overflowing.
pub(crate) fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d).unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// The process-wide pool of one-shot reply channels used by stdio requests.
fn reply_channels() -> &'static crate::pool::ObjectPool<(Sender<Reply>, Receiver<Reply>)> {
    static POOL: std::sync::OnceLock<crate::pool::ObjectPool<(Sender<Reply>, Receiver<Reply>)>> =
        std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let pool = crate::pool::ObjectPool::new(
            1024,
            || crossbeam_channel::bounded(1),
            |(_, rx): &mut (Sender<Reply>, Receiver<Reply>)| while rx.try_recv().is_ok() {},
        );
        crate::pool::register_object_pool("reply_channels", pool.clone());
        pool
    })
}

/// Bytes of one exchange, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageSizes {
    /// Encoded request bytes written (all attempts).
    pub sent: usize,
    /// Bytes of the raw result received.
    pub received: usize,
}

#[derive(Serialize)]
struct CallParams<'a> {
    name: &'a str,
    arguments: &'a Value,
    #[serde(rename = "_meta", skip_serializing_if = "Option::is_none")]
    meta: Option<&'a Value>,
}

/// Receives `notifications/progress` of one call.
pub type ProgressCallback = Arc<dyn Fn(&Progress) + Send + Sync>;

static NEXT_PROGRESS_TOKEN: AtomicU64 = AtomicU64::new(1);

/// Parses the raw result of `tools/call`.
pub(crate) fn parse_tool_result(raw: &RawValue) -> Result<ToolResult> {
    serde_json::from_str(raw.get()).map_err(|e| Error::Protocol(format!("invalid tools/call result: {e}")))
}
