//! One initialized MCP session: handshake, requests with timeouts and
//! cancellation, and the routing of everything the server sends.
//!
//! A session is shared by many threads at once: each request gets its own id
//! and waits on its own channel; the transport's reader (stdio, legacy SSE) or
//! the calling thread itself (Streamable HTTP) routes the response by id.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::call_options::CallOptions;
use crate::config::{HttpTransportKind, ProtocolChoice, TransportConfig};
use crate::dispatch::Dispatcher;
use crate::error::{Error, Result, TimeoutPhase};
use crate::protocol::jsonrpc;
use crate::protocol::messages::{Progress, methods};
use crate::protocol::tool_result_shape::ToolResultShape;
use crate::protocol::{InitializeResult, LogLevel, ToolResult, version};
use crate::transport::HttpTransport;
use crate::transport::legacy_sse::LegacySseTransport;
use crate::transport::stdio::StdioTransport;
use crate::transport::{AuthHook, Inbound, ListenStatus, Transport};
use crate::util::IdMap;

mod establish;
mod features;
mod http_choice;
mod listen;
mod mrtr;
mod read_lead;
mod reply;
mod request;
mod router;
mod server_requests;
mod tasks;
mod wire;

use http_choice::Failed;
pub(crate) use request::Exchange;
use router::Router;
pub(crate) use server_requests::{Responder, ServerRequests};
use wire::Wire;

/// A wire of each era, for the micro-benchmarks.
#[cfg(feature = "bench-internals")]
pub(crate) fn wire_for_bench(modern: bool) -> Wire {
    match modern {
        true => Wire::modern(
            crate::protocol::modern::MODERN_PROTOCOL_VERSION,
            &serde_json::json!({}),
            "bench",
            None,
        ),
        false => Wire::legacy(version::LATEST_PROTOCOL_VERSION),
    }
}

/// How long a reply to a server request waits for room in the notice queue
/// before it is sent on the answering thread itself.
const REPLY_QUEUE_WAIT: Duration = Duration::from_secs(5);

/// The longest a background cancellation notification may take.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(2);

/// Limits and identity used by a session (plain data; `Default` gives the
/// store's default pool timeouts).
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
    /// Which protocol era to speak (found out per server by default).
    pub protocol: ProtocolChoice,
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
            protocol: ProtocolChoice::Auto,
        }
    }
}

/// Something a server told the client on its own.
#[derive(Debug, Clone)]
pub(crate) enum SessionEvent {
    /// `notifications/tools/list_changed`.
    ToolsListChanged,
    /// `notifications/resources/list_changed`.
    ResourcesListChanged,
    /// `notifications/prompts/list_changed`.
    PromptsListChanged,
    /// `notifications/resources/updated` for a subscribed URI.
    ResourceUpdated(String),
    /// `notifications/message` (its params: level, logger, data).
    Log(Value),
    /// `notifications/elicitation/complete` for a URL-mode elicitation.
    ElicitationComplete(String),
    /// `notifications/progress` for a request of this session.
    Progress(Progress),
    /// The session's connection ended.
    #[allow(dead_code)] // carried for handlers that want the reason
    Closed(Error),
}

/// Receives a session's events (called on the transport's reader thread or the
/// calling thread: library code only, which hands user code to the dispatcher).
pub(crate) type EventHandler = Arc<dyn Fn(&SessionEvent) + Send + Sync>;

/// What a pool gives the sessions it opens: the service's shared HTTP agent,
/// where events go, and the store's dispatch threads. A standalone session
/// makes its own dispatch threads (started on first use).
#[derive(Clone, Default)]
pub(crate) struct SessionContext {
    /// The service's HTTP agent (keep-alive connections shared by its sessions).
    pub(crate) agent: Option<ureq::Agent>,
    /// Receives the session's events.
    pub(crate) events: Option<EventHandler>,
    /// Runs user callbacks (progress) off the reader thread.
    pub(crate) callbacks: Option<Arc<Dispatcher>>,
    /// Sends cancellation notices, so a timed-out or cancelled call never waits for them.
    pub(crate) notices: Option<Arc<Dispatcher>>,
    /// Counts lines the servers wrote that were not JSON-RPC (shared by a pool's sessions).
    pub(crate) stray_lines: Arc<AtomicU64>,
    /// Answers the server's requests and says which capabilities to declare.
    pub(crate) requests: Option<Arc<dyn ServerRequests>>,
    /// The service's authorization (HTTP), one credential shared by all its sessions.
    pub(crate) auth: Option<Arc<dyn AuthHook>>,
}

struct SessionInner {
    router: Arc<Router>,
    transport: Box<dyn Transport>,
    next_id: AtomicI64,
    info: RwLock<Option<Arc<InitializeResult>>>,
    options: SessionOptions,
    generation: AtomicU64,
    reinit: Mutex<()>,
    notices: Arc<Dispatcher>,
    /// How requests look on the wire (the era, its version, the `_meta` of modern requests).
    wire: RwLock<Arc<Wire>>,
    /// What the era is remembered under (the command line or the origin).
    era_key: String,
    /// What a stateless-era session listens for (`subscriptions/listen`).
    subscriptions: listen::Subscriptions,
}

/// One initialized MCP session to one server, without a pool: cheap to clone
/// and safe to share between threads (many calls may be in flight at once).
/// A [`crate::Store`] keeps pools of these.
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
    /// Starts the server (stdio) or connects to it (HTTP: Streamable HTTP or
    /// legacy HTTP+SSE, as [`crate::HttpConfig::transport`] says) and performs
    /// the `initialize` handshake. `name` labels the session in logs and errors.
    pub fn connect(name: &str, transport: &TransportConfig, options: SessionOptions) -> Result<Session> {
        Session::open(name, transport, options, SessionContext::default())
    }

    /// Like [`Session::connect`], with the pool's agent and event handler.
    /// The one place that builds transports (for HTTP, the transport chosen
    /// by [`http_choice::open_http`]).
    pub(crate) fn open(
        service: &str,
        config: &TransportConfig,
        options: SessionOptions,
        context: SessionContext,
    ) -> Result<Session> {
        let SessionContext { agent, events, callbacks, notices, stray_lines, requests, auth } = context;
        let callbacks = callbacks.unwrap_or_else(|| Arc::new(Dispatcher::new("mcps-callbacks")));
        let notices = notices.unwrap_or_else(|| Arc::new(Dispatcher::new("mcps-notices")));
        let new_router = || {
            Arc::new(Router {
                service: service.to_owned(),
                pending: Mutex::new(IdMap::default()),
                progress: Mutex::new(HashMap::new()),
                closed: RwLock::new(None),
                is_closed: AtomicBool::new(false),
                events: events.clone(),
                callbacks: callbacks.clone(),
                stray_lines: stray_lines.clone(),
                last_stray: Mutex::new(None),
                requests: requests.clone(),
                send_reply: RwLock::new(None),
                listen_id: AtomicI64::new(0),
            })
        };
        let router = new_router();
        let era_key = establish::era_key(config);
        let start = |router: &Arc<Router>, transport: Box<dyn Transport>, options: SessionOptions| {
            Session::start(router.clone(), transport, options, notices.clone(), era_key.clone())
        };
        let max_message_bytes = options.max_message_bytes;
        match config {
            TransportConfig::Stdio(stdio) => {
                let transport = StdioTransport::spawn(service, stdio, router.clone(), max_message_bytes)?;
                match start(&router, Box::new(transport), options.clone()) {
                    // The server ended on the era probe: a new process, with the handshake.
                    Err(Failed { respawn_for_handshake: true, .. }) => {
                        let router = new_router();
                        let transport =
                            StdioTransport::spawn(service, stdio, router.clone(), max_message_bytes)?;
                        let handshake = ProtocolChoice::Version(version::LATEST_PROTOCOL_VERSION.to_owned());
                        start(&router, Box::new(transport), SessionOptions { protocol: handshake, ..options })
                            .map_err(Error::from)
                    }
                    other => other.map_err(Error::from),
                }
            }
            TransportConfig::Http(http) => {
                let agent = agent.unwrap_or_else(|| {
                    let pool = crate::config::PoolConfig {
                        connection_timeout: options.connection_timeout,
                        ..Default::default()
                    };
                    crate::transport::http::agent_for(&pool)
                });
                http_choice::open_http(service, http, options.connection_timeout, |kind, timeout| {
                    let inbound: Arc<dyn Inbound> = router.clone();
                    let transport: Box<dyn Transport> = match kind {
                        HttpTransportKind::Sse => Box::new(LegacySseTransport::connect(
                            service,
                            agent.clone(),
                            http,
                            inbound,
                            (timeout, max_message_bytes),
                            auth.clone(),
                        )?),
                        _ => Box::new(
                            HttpTransport::new(agent.clone(), http, inbound, max_message_bytes)?
                                .with_auth(auth.clone()),
                        ),
                    };
                    start(
                        &router,
                        transport,
                        SessionOptions { connection_timeout: timeout, ..options.clone() },
                    )
                })
            }
        }
    }

    /// Runs the handshake over `transport`. A session that fails is closed;
    /// when the server refused `initialize` itself, only its transport is, so
    /// that `router` can serve the next attempt.
    fn start(
        router: Arc<Router>,
        transport: Box<dyn Transport>,
        options: SessionOptions,
        notices: Arc<Dispatcher>,
        era_key: String,
    ) -> std::result::Result<Session, Failed> {
        let session = Session {
            inner: Arc::new(SessionInner {
                router,
                transport,
                next_id: AtomicI64::new(1),
                info: RwLock::new(None),
                options,
                generation: AtomicU64::new(0),
                reinit: Mutex::new(()),
                notices,
                wire: RwLock::new(Arc::new(Wire::legacy(version::LATEST_PROTOCOL_VERSION))),
                era_key,
                subscriptions: listen::Subscriptions::default(),
            }),
        };
        session.wire_replies();
        if let Err(mut failed) = session.establish() {
            failed.initialize_refused =
                session.server_info().is_none() && http_choice::refuses_streamable(&failed.error);
            if failed.initialize_refused {
                session.inner.transport.close();
            } else {
                session.close();
            }
            return Err(failed);
        }
        Ok(session)
    }

    /// Lets the router answer server requests: replies go out on the notice
    /// thread, so whoever answers (a handler on the dispatch thread, a
    /// handler timeout) does not block on the server while the queue has room.
    fn wire_replies(&self) {
        let session = Arc::downgrade(&self.inner);
        let notices = self.inner.notices.clone();
        let timeout = self.inner.options.write_timeout;
        let send = move |reply: Vec<u8>| {
            let session = session.clone();
            let job = move || {
                let Some(inner) = session.upgrade() else { return };
                if let Err(e) = inner.transport.send_message(&reply, timeout) {
                    log::warn!(target: "mcpstore::session", "[{}] could not answer a server request: {e}", inner.router.service);
                }
            };
            notices.post_or_run(job, REPLY_QUEUE_WAIT);
        };
        // Replaced when a fallback transport takes over the same router.
        *self.inner.router.send_reply.write() = Some(Arc::new(send));
    }

    /// The listening stream's state (Streamable HTTP sessions).
    pub fn listen_status(&self) -> Option<ListenStatus> {
        self.inner.transport.listen_status()
    }

    /// Tells the server the client's roots changed (`notifications/roots/list_changed`;
    /// a stateless-era server asks for the roots each time it needs them).
    pub(crate) fn notify_roots_changed(&self) {
        if self.is_modern() {
            return;
        }
        self.post_notification(methods::ROOTS_LIST_CHANGED, None);
    }

    /// Sends a notification through the store's notice thread, never
    /// blocking the caller (one bounded queue, a short write limit); what
    /// cannot be sent is logged.
    pub(super) fn post_notification(&self, method: &'static str, params: Option<&Value>) {
        let mut buf = Vec::with_capacity(96);
        jsonrpc::write_notification(&mut buf, method, params);
        buf.push(b'\n');
        let timeout = self.inner.options.write_timeout.min(CANCEL_TIMEOUT);
        let session = Arc::downgrade(&self.inner);
        let queued = self.inner.notices.post(move || {
            let Some(inner) = session.upgrade() else { return };
            if let Err(e) = inner.transport.send_message(&buf, timeout) {
                log::debug!(target: "mcpstore::session", "[{}] could not send {method}: {e}", inner.router.service);
            }
        });
        if !queued {
            log::warn!(target: "mcpstore::session", "[{}] {method} not sent: the notice queue is full", self.inner.router.service);
        }
    }

    /// The server's `initialize` answer (name, version, capabilities).
    pub fn server_info(&self) -> Option<Arc<InitializeResult>> {
        self.inner.info.read().clone()
    }

    /// The transport in use: `"stdio"`, `"streamable-http"` or `"sse"` (the
    /// legacy HTTP+SSE transport, configured or fallen back to).
    pub fn transport_kind(&self) -> &'static str {
        self.inner.transport.kind()
    }

    /// Whether the session can still carry requests.
    pub fn is_alive(&self) -> bool {
        self.inner.transport.is_open() && !self.inner.router.is_closed.load(Ordering::Acquire)
    }

    /// Requests of this session waiting for their response right now (over
    /// stdio; over HTTP each waits on its calling thread and is not counted).
    pub fn pending_requests(&self) -> usize {
        let pending = self.inner.router.pending.lock();
        // A stdio `subscriptions/listen` waits as long as the session lives: it is no call.
        let listening = self.inner.subscriptions.listen_id().is_some_and(|id| pending.contains_key(&id));
        pending.len() - usize::from(listening)
    }

    /// Sends any request (for methods this library does not wrap) and waits
    /// for its `result`, up to `options.timeout` (else the read timeout),
    /// cancellable through `options.cancel`.
    pub fn request_json(&self, method: &str, params: Option<Value>, options: &CallOptions) -> Result<Value> {
        let timeout = options.timeout.unwrap_or(self.inner.options.read_timeout);
        let raw = self.request(method, params.as_ref(), timeout, options.cancel.as_ref())?;
        serde_json::from_str(raw.get()).map_err(|e| Error::Protocol(format!("invalid {method} result: {e}")))
    }

    /// Closes the session (stdin closed then signals for stdio; DELETE for HTTP).
    pub fn close(&self) {
        self.inner.transport.close();
        if !self.inner.router.is_closed.load(Ordering::Acquire) {
            self.inner
                .router
                .on_closed(Error::Closed { message: "session closed".into(), may_have_run: false });
        }
    }

    /// Checks the server answers, within `timeout`: `ping` (the handshake
    /// era) or `server/discover` (the stateless era, which has no `ping`).
    pub fn ping(&self, timeout: Duration) -> Result<()> {
        let method = if self.is_modern() { methods::SERVER_DISCOVER } else { methods::PING };
        self.request::<Value>(method, None, timeout, None).map(|_| ()).map_err(|e| match e {
            Error::Timeout { after, .. } => {
                Error::Timeout { phase: TimeoutPhase::HealthCheck, after, detail: None }
            }
            other => other,
        })
    }

    /// Calls a tool and waits for its result: up to `options.timeout` (else
    /// the session's read timeout), cancellable through `options.cancel`, with
    /// `options.progress` receiving the server's progress notifications. The
    /// cache and retry options are the store's business and are ignored here.
    pub fn call_tool(&self, name: &str, arguments: Value, options: &CallOptions) -> Result<ToolResult> {
        let timeout = options.timeout.unwrap_or(self.inner.options.read_timeout);
        let call = ToolRequest {
            name,
            arguments: &arguments,
            timeout,
            options,
            headers: &[],
            task: options.task_watch(),
        };
        self.call_tool_measured(&call, &mut MessageSizes::default())
            .map(|(_, raw)| crate::protocol::tool_result_shape::parse_checked(raw.get()))
    }

    /// Calls a tool and records the bytes sent and received; gives the
    /// result's bytes as the server sent them, checked to be a `CallToolResult`.
    pub(crate) fn call_tool_measured(
        &self,
        call: &ToolRequest<'_>,
        sizes: &mut MessageSizes,
    ) -> Result<(ToolResultShape, Box<RawValue>)> {
        let params =
            request::encode_params(Some(&CallParams { name: call.name, arguments: call.arguments }))?;
        let progress = call.options.progress.as_ref();
        let token = progress.map(|cb| {
            let token = format!("mcps-{}", NEXT_PROGRESS_TOKEN.fetch_add(1, Ordering::Relaxed));
            self.inner.router.progress.lock().insert(Value::String(token.clone()).to_string(), cb.clone());
            token
        });
        let exchange = Exchange {
            method: methods::TOOLS_CALL,
            params: params.as_deref(),
            timeout: call.timeout,
            cancel: call.options.cancel.as_ref(),
            progress: token.as_deref(),
            name: Some(call.name),
            headers: call.headers,
            task: call.task,
        };
        let outcome = self.exchange_tool(&exchange, sizes);
        if let Some(t) = token {
            self.inner.router.progress.lock().remove(&Value::String(t).to_string());
        }
        let (shape, raw) = outcome?;
        sizes.received = raw.get().len();
        Ok((shape, raw))
    }

    /// Takes the reply of a pipelined `tools/call` to its final result (in
    /// the stateless era the server may still need input or run a task), by
    /// `deadline`, with the final result's bytes as the server sent them. Also
    /// says whether the result came after such rounds (then it must not be cached).
    pub(crate) fn finish_tool_reply(
        &self,
        name: &str,
        arguments: &Value,
        raw: Box<RawValue>,
        deadline: std::time::Instant,
    ) -> Result<(ToolResultShape, Box<RawValue>, bool)> {
        if !self.is_modern() {
            return check_tool_result(&raw).map(|shape| (shape, raw, false));
        }
        if let Ok(shape) = check_tool_result(&raw)
            && shape.complete
        {
            return Ok((shape, raw, false));
        }
        // More rounds or a task: the request's bytes are needed again.
        let params = request::encode_params(Some(&CallParams { name, arguments }))?;
        let timeout = deadline.saturating_duration_since(std::time::Instant::now());
        let exchange = Exchange {
            name: Some(name),
            ..Exchange::plain(methods::TOOLS_CALL, params.as_deref(), timeout, None)
        };
        let mut sizes = MessageSizes::default();
        let (shape, raw) = self.finish_tool(&exchange, raw, deadline, &mut sizes)?;
        Ok((shape, raw, sizes.input_rounds > 0 || sizes.task))
    }
}

/// Bytes of one exchange, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MessageSizes {
    /// Encoded request bytes written (all attempts).
    pub sent: usize,
    /// Bytes of the raw result received.
    pub received: usize,
    /// Rounds the server asked input for (multi round-trip requests; never cached).
    pub input_rounds: u32,
    /// The call became a task (its result is never cached).
    pub task: bool,
}

/// The params of `tools/call` (the session adds `_meta`).
#[derive(Serialize)]
pub(crate) struct CallParams<'a> {
    pub(crate) name: &'a str,
    pub(crate) arguments: &'a Value,
}

/// One `tools/call` as the session sends it.
pub(crate) struct ToolRequest<'a> {
    /// The tool's name on the server.
    pub(crate) name: &'a str,
    /// The arguments object.
    pub(crate) arguments: &'a Value,
    /// How long to wait for the result.
    pub(crate) timeout: Duration,
    /// Cancellation and progress (the rest is the store's business).
    pub(crate) options: &'a CallOptions,
    /// The call's `Mcp-Param-*` headers (stateless-era HTTP).
    pub(crate) headers: &'a [(String, String)],
    /// Where a task the call becomes is shown.
    pub(crate) task: Option<&'a crate::call_options::TaskWatcher>,
}

static NEXT_PROGRESS_TOKEN: AtomicU64 = AtomicU64::new(1);

impl Session {
    /// How requests look on the wire now.
    pub(crate) fn wire(&self) -> Arc<Wire> {
        self.inner.wire.read().clone()
    }

    /// Whether replies reach the session through a reader (stdio, legacy SSE)
    /// rather than inline with each request (Streamable HTTP).
    pub(crate) fn routes_responses(&self) -> bool {
        self.inner.transport.routes_responses()
    }

    /// A `tools/call` reply that is the call's end (no input rounds or task
    /// follow), checked once: its shape, or (legacy era) why it is not a
    /// result. `None` when more rounds may follow, or a stateless-era reply is
    /// not a complete result: [`Session::finish_tool_reply`] runs the rounds or
    /// reports the error.
    pub(crate) fn final_tool_reply(&self, raw: &RawValue) -> Option<Result<ToolResultShape>> {
        let checked = check_tool_result(raw);
        match checked {
            Ok(shape) if !shape.complete && self.is_modern() => None,
            Err(_) if self.is_modern() => None,
            checked => Some(checked),
        }
    }

    /// Whether the session speaks the stateless era (2026-07-28).
    pub fn is_modern(&self) -> bool {
        self.inner.wire.read().modern
    }

    /// The protocol version the session speaks.
    pub fn protocol_version(&self) -> String {
        self.inner.wire.read().version.clone()
    }

    /// Moves a modern session to `version` (the server refused the one it had).
    fn use_version(&self, version: &str) {
        let mut wire = self.inner.wire.write();
        *wire = Arc::new(wire.with_version(version));
        drop(wire);
        self.inner.transport.set_protocol_version(version);
        if let Some(info) = self.inner.info.write().as_mut() {
            Arc::make_mut(info).protocol_version = version.to_owned();
        }
    }

    /// Sets the log level a modern session sends with every request.
    pub(super) fn set_wire_log_level(&self, level: Option<LogLevel>) {
        let mut wire = self.inner.wire.write();
        *wire = Arc::new(wire.with_log_level(level));
    }
}

/// Checks that a `tools/call` result is a `CallToolResult` (see [`ToolResultShape`]).
pub(crate) fn check_tool_result(raw: &RawValue) -> Result<ToolResultShape> {
    ToolResultShape::check(raw.get()).map_err(|e| Error::Protocol(format!("invalid tools/call result: {e}")))
}

#[cfg(test)]
mod stdio_fault_tests;
#[cfg(test)]
mod tests;
