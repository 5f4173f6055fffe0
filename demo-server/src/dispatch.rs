//! JSON-RPC message handling shared by both transports: lifecycle, ping,
//! tools/list, tools/call (including the stateful tools), notifications,
//! responses to server-initiated requests and the fault switches; per
//! request, the era it belongs to (a stateless 2026-07-28 request carries
//! its protocol version in `_meta`, see [`modern`](super::modern)).

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_channel::Sender;
use parking_lot::Mutex;
use serde_json::{Map, Value, json};

mod ask;
mod background;
mod features;
mod interactive;
#[cfg(test)]
mod modern_tests;

use super::DemoOptions;
use super::catalog::Catalog;
use super::modern::{self, RequestMeta};
use super::peers::Peers;
pub use super::peers::{Peer, Transport};
use super::process_tools;
use super::rpc::{self, INVALID_PARAMS, METHOD_NOT_FOUND, RpcError};
use super::serial::{SerialQueue, Ticket};
use super::state::{CancelToken, Stats};
use super::subscriptions::{Filter, LineSink, ListenStream, Subscriptions};
use super::tools::{self, text_result};

/// Protocol versions the server accepts, newest first.
pub const SUPPORTED_VERSIONS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
/// How long `ping_client` waits for the client's answer.
const PING_CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where messages generated while handling a request go (notifications and
/// server-to-client requests that precede the response).
pub trait Outbound {
    /// Sends one message to the client, now.
    fn send(&self, msg: &Value);
}

/// What to send back for a request.
#[derive(Debug)]
pub enum Outcome {
    /// This response message.
    Reply(Value),
    /// The garbage fault fired: send a non-JSON payload instead.
    Garbage,
    /// Nothing (the request was cancelled).
    Silent,
}

/// A request accepted by [`Server::admit`], ready for [`Server::execute`].
pub struct Pending {
    id: Value,
    method: String,
    params: Value,
    cancel: Option<(String, Arc<CancelToken>)>,
    /// The HTTP headers of the POST that carried it (`{}` over stdio).
    headers: Value,
    /// Its place in the `--serial` queue.
    ticket: Option<Ticket>,
    /// A stateless (2026-07-28) request: what its `_meta` says.
    modern: Option<Arc<RequestMeta>>,
}

impl Pending {
    /// Attaches the headers of the HTTP request that carried it (an object
    /// from [`process_tools::header_object`]), for the `headers` tool.
    pub fn set_headers(&mut self, headers: Value) {
        self.headers = headers;
    }

    /// The request method.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request id.
    pub fn id(&self) -> &Value {
        &self.id
    }

    /// Whether it is a stateless (2026-07-28) request.
    pub fn is_modern(&self) -> bool {
        self.modern.is_some()
    }

    /// The tool name of a `tools/call` (None otherwise or when missing).
    pub fn tool_name(&self) -> Option<&str> {
        if self.method != "tools/call" {
            return None;
        }
        self.params.get("name").and_then(Value::as_str)
    }
}

/// Result of admitting a request.
pub enum Admission {
    /// Never answer this request (the server is hung, or it is an
    /// `initialize` under `--never-initialize`).
    Hang,
    /// Run it.
    Run(Pending),
    /// Refused on arrival with this error response (a stateless request
    /// with bad `_meta`, or a version the server does not speak).
    Answer(Value),
}

enum Failure {
    Rpc(RpcError),
    Cancelled,
}

impl From<RpcError> for Failure {
    fn from(e: RpcError) -> Self {
        Failure::Rpc(e)
    }
}

type ToolResult = Result<Value, Failure>;

/// The transport-independent MCP server.
pub struct Server {
    opts: DemoOptions,
    root: PathBuf,
    stats: Stats,
    counter: AtomicU64,
    catalog: Arc<Catalog>,
    peers: Arc<Peers>,
    cancels: Mutex<HashMap<String, Arc<CancelToken>>>,
    client_waiters: Mutex<HashMap<String, Sender<Value>>>,
    next_server_request: AtomicU64,
    calls_received: AtomicU64,
    calls_answered: AtomicU64,
    hung: AtomicBool,
    stopping: Arc<AtomicBool>,
    serial: Option<Arc<SerialQueue>>,
    /// The `subscriptions/listen` requests of the stateless era.
    subscriptions: Arc<Subscriptions>,
    /// The versions of the stateless era the server speaks.
    modern_versions: Vec<String>,
}

fn cancel_key(peer: &Peer, id: &Value) -> String {
    format!("{}\u{1f}{id}", peer.key)
}

impl Server {
    /// Creates the server; fails if the root directory cannot be resolved.
    pub fn new(opts: DemoOptions) -> io::Result<Self> {
        let root = match &opts.root {
            Some(r) => r.clone(),
            None => std::env::current_dir()?,
        };
        let root = std::fs::canonicalize(&root)
            .map_err(|e| io::Error::new(e.kind(), format!("bad --root {}: {e}", root.display())))?;
        Ok(Server {
            root,
            stats: Stats::default(),
            counter: AtomicU64::new(0),
            catalog: Arc::default(),
            peers: Arc::default(),
            cancels: Mutex::new(HashMap::new()),
            client_waiters: Mutex::new(HashMap::new()),
            next_server_request: AtomicU64::new(0),
            calls_received: AtomicU64::new(0),
            calls_answered: AtomicU64::new(0),
            hung: AtomicBool::new(false),
            stopping: Arc::default(),
            serial: opts.serial.then(|| Arc::new(SerialQueue::default())),
            subscriptions: Arc::default(),
            modern_versions: opts.modern_versions(),
            opts,
        })
    }

    /// Starts the background work of `--log-every` (a thread that ends
    /// with [`Server::shutdown`]); the transports call it once.
    pub fn start_background(&self) {
        if let Some(every) = self.opts.log_every_ms {
            background::start_ticker(self.peers.clone(), self.stopping.clone(), Duration::from_millis(every));
        }
    }

    /// Adds a client (a stdio connection or an HTTP session): messages for
    /// every client reach it from now on.
    pub fn register(&self, peer: &Peer) {
        self.peers.register(peer);
    }

    /// The options the server runs with.
    pub fn options(&self) -> &DemoOptions {
        &self.opts
    }

    /// The statistics (the HTTP layer counts sessions there).
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Whether the hang fault fired.
    pub fn is_hung(&self) -> bool {
        self.hung.load(Ordering::Relaxed)
    }

    /// Whether [`Server::shutdown`] was called.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// Stops: cancels every running or queued request.
    pub fn shutdown(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        for token in self.cancels.lock().values() {
            token.cancel();
        }
        if let Some(q) = &self.serial {
            q.wake();
        }
    }

    /// Whether `version` is acceptable in an `MCP-Protocol-Version` header.
    pub fn supports_version(&self, version: &str) -> bool {
        SUPPORTED_VERSIONS.contains(&version)
            || self.opts.protocol_version.as_deref() == Some(version)
            || (self.opts.eras().modern() && self.is_modern_version(version))
    }

    /// Whether `version` belongs to the stateless era (served or not).
    pub fn is_modern_version(&self, version: &str) -> bool {
        version >= modern::MODERN_VERSION
    }

    /// The versions of the stateless era the server speaks.
    pub fn modern_versions(&self) -> &[String] {
        &self.modern_versions
    }

    /// The era of a request: `Some` for a stateless one (its checked
    /// `_meta`), `None` for the handshake era; the error response for a
    /// request the server refuses on arrival.
    fn request_era(
        &self,
        id: &Value,
        method: &str,
        params: &Value,
    ) -> Result<Option<Arc<RequestMeta>>, Value> {
        let eras = self.opts.eras();
        if eras.modern() && modern::requested_version(params).is_some() {
            return modern::parse_meta(id, params, &self.modern_versions).map(|m| Some(Arc::new(m)));
        }
        if eras.handshake() {
            return Ok(None);
        }
        // Only the stateless era: `initialize` names a version the server does not speak.
        if method == "initialize" {
            let requested = params.get("protocolVersion").and_then(Value::as_str).unwrap_or("");
            return Err(modern::unsupported_version(id.clone(), requested, &self.modern_versions));
        }
        modern::parse_meta(id, params, &self.modern_versions).map(|m| Some(Arc::new(m)))
    }

    /// Accepts a request on arrival, in arrival order: applies the exit,
    /// crash and hang faults, registers the request for cancellation
    /// (`tools/call`, or every request under `--serial`) and queues it under
    /// `--serial`.
    pub fn admit(&self, peer: &Peer, id: Value, method: String, params: Value) -> Admission {
        self.arrived(&method);
        let opening = method == "initialize" || method == "server/discover";
        if self.is_hung() || (self.opts.never_initialize && opening) {
            return Admission::Hang;
        }
        let modern = match self.request_era(&id, &method, &params) {
            Ok(m) => m,
            Err(reply) => return Admission::Answer(reply),
        };
        if method == "tools/call" {
            let n = self.calls_received.fetch_add(1, Ordering::SeqCst) + 1;
            if self.opts.crash_after.is_some_and(|limit| n > limit) {
                eprintln!("mcpstore-demo-server: --crash-after reached at tools/call #{n}; exiting");
                std::process::exit(3);
            }
            if self.opts.hang_after.is_some_and(|limit| n > limit) {
                eprintln!("mcpstore-demo-server: --hang-after reached at tools/call #{n}; hanging");
                self.hung.store(true, Ordering::SeqCst);
                return Admission::Hang;
            }
        }
        let listen = method == "subscriptions/listen";
        let cancellable = !listen && (method == "tools/call" || self.serial.is_some());
        let cancel = cancellable.then(|| {
            let key = cancel_key(peer, &id);
            let token = Arc::new(CancelToken::new());
            if self.is_stopping() {
                token.cancel();
            }
            self.cancels.lock().insert(key.clone(), token.clone());
            (key, token)
        });
        // A subscription lasts: it must not hold the `--serial` turn.
        let ticket = if listen { None } else { self.serial.as_ref().map(|q| q.ticket()) };
        Admission::Run(Pending { id, method, params, cancel, headers: Value::Null, ticket, modern })
    }

    /// `--exit-on`: exits the process (status 3) when a request with that
    /// method arrives. Transports call it as soon as they see the request,
    /// before any check that could answer it (HTTP sessions); `admit` calls
    /// it too.
    pub fn arrived(&self, method: &str) {
        if self.opts.exit_on.as_deref() == Some(method) {
            eprintln!("mcpstore-demo-server: --exit-on {method}: a {method} request arrived; exiting");
            std::process::exit(3);
        }
    }

    /// Whether a request is quick enough to run on the reading thread.
    /// Under `--serial` none is: waiting for its turn there would stop the
    /// reader from seeing the cancellation of the request that runs.
    pub fn is_quick(&self, pending: &Pending) -> bool {
        if self.serial.is_some() {
            return false;
        }
        if pending.method != "tools/call" {
            return true;
        }
        // The tools that wait for the client must not block the stdio reader,
        // which reads the client's answer.
        self.opts.delay_ms == 0
            && !matches!(
                pending.tool_name(),
                Some("sleep" | "ping_client" | "ask_model" | "ask_user" | "list_roots")
            )
    }

    /// Runs an admitted request (under `--serial`, once its turn came);
    /// messages it generates go to `out` before the returned outcome.
    pub fn execute(&self, peer: &Peer, pending: Pending, out: &dyn Outbound) -> Outcome {
        let mut outcome = Outcome::Silent;
        self.execute_then(peer, pending, out, |o| outcome = o);
        outcome
    }

    /// Like [`Server::execute`], handing the outcome to `finish` while the
    /// request still holds its `--serial` turn, so that a transport that
    /// writes it there keeps the replies in arrival order.
    pub fn execute_then(
        &self,
        peer: &Peer,
        mut pending: Pending,
        out: &dyn Outbound,
        finish: impl FnOnce(Outcome),
    ) {
        let turn = match (pending.ticket.take(), &pending.cancel) {
            (Some(ticket), Some((_, token))) => match ticket.wait(token) {
                Some(turn) => Some(turn),
                None => {
                    self.forget(&pending);
                    return finish(Outcome::Silent);
                }
            },
            _ => None,
        };
        let key = pending.cancel.as_ref().map(|(k, _)| k.clone());
        let outcome = self.run(peer, pending, out);
        if let Some(key) = key {
            self.cancels.lock().remove(&key);
        }
        finish(outcome);
        drop(turn);
    }

    /// The cancellation token of an admitted request, if it has one.
    pub fn cancel_token(&self, pending: &Pending) -> Option<Arc<CancelToken>> {
        pending.cancel.as_ref().map(|(_, t)| t.clone())
    }

    /// The client went away while request `id` ran (the stateless era's
    /// cancellation over HTTP): counted as a cancellation, and stopped.
    pub fn disconnected(&self, id: Value, token: &CancelToken) {
        self.stats.cancelled(id);
        token.cancel();
    }

    /// Drops an admitted request that will not run.
    pub fn discard(&self, pending: Pending) {
        self.forget(&pending);
    }

    /// Drops a request's cancellation entry.
    fn forget(&self, pending: &Pending) {
        if let Some((key, _)) = &pending.cancel {
            self.cancels.lock().remove(key);
        }
    }

    fn run(&self, peer: &Peer, pending: Pending, out: &dyn Outbound) -> Outcome {
        if pending.modern.is_some() {
            return self.run_modern(peer, pending, out);
        }
        let id = pending.id.clone();
        let result = match pending.method.as_str() {
            "tools/call" => return self.call_tool(peer, pending, out),
            "initialize" => Ok(self.initialize(peer, &pending.params)),
            "ping" => {
                self.stats.ping();
                Ok(json!({}))
            }
            "tools/list" => self.list_tools(&pending.params),
            "logging/setLevel" => self.set_level(peer, &pending.params),
            "resources/list" => self.list_resources(&pending.params),
            "resources/templates/list" => self.list_templates(&pending.params),
            "resources/read" => self.read_resource(&pending.params),
            "resources/subscribe" => self.subscribe(peer, &pending.params),
            "resources/unsubscribe" => self.unsubscribe(peer, &pending.params),
            "prompts/list" => self.list_prompts(&pending.params),
            "prompts/get" => self.get_prompt(&pending.params),
            "completion/complete" => self.complete(&pending.params),
            other => Err(RpcError { code: METHOD_NOT_FOUND, message: format!("Method not found: {other}") }),
        };
        Outcome::Reply(match result {
            Ok(v) => rpc::response(id, v),
            Err(e) => rpc::error(id, e.code, &e.message),
        })
    }

    /// A stateless (2026-07-28) request: no session, no `initialize`,
    /// `ping`, `logging/setLevel` or resource subscriptions; every result
    /// says its `resultType`, lists say how long they stay fresh.
    fn run_modern(&self, peer: &Peer, pending: Pending, out: &dyn Outbound) -> Outcome {
        let (id, method) = (pending.id.clone(), pending.method.clone());
        let params = &pending.params;
        let result = match method.as_str() {
            "tools/call" => return self.call_tool(peer, pending, out),
            "subscriptions/listen" => return self.listen_on_stdout(peer, &pending),
            "server/discover" => {
                self.stats.discover();
                Ok(self.discover())
            }
            "tools/list" => self.list_tools(params),
            "resources/list" => self.list_resources(params),
            "resources/templates/list" => self.list_templates(params),
            // 2026-07-28 has no -32002: an unknown resource is invalid params.
            "resources/read" => {
                self.read_resource(params).map_err(|e| RpcError { code: INVALID_PARAMS, ..e })
            }
            "prompts/list" => self.list_prompts(params),
            "prompts/get" => self.get_prompt(params),
            "completion/complete" => self.complete(params),
            other => Err(RpcError {
                code: METHOD_NOT_FOUND,
                message: format!("Method not found: {other} (not in protocol {})", modern::MODERN_VERSION),
            }),
        };
        Outcome::Reply(match result {
            Ok(mut v) => {
                modern::decorate(&method, &mut v);
                rpc::response(id, v)
            }
            Err(e) => rpc::error(id, e.code, &e.message),
        })
    }

    /// `server/discover`: what `initialize` says in the handshake era.
    fn discover(&self) -> Value {
        let mut info = self.initialize_result(modern::MODERN_VERSION);
        if let Value::Object(m) = &mut info {
            m.remove("protocolVersion");
            m.remove("serverInfo");
            m.insert("supportedVersions".into(), json!(self.modern_versions));
        }
        info
    }

    /// `subscriptions/listen` over stdio: acknowledged at once, its
    /// notifications go to stdout until the client cancels it; no response.
    fn listen_on_stdout(&self, peer: &Peer, pending: &Pending) -> Outcome {
        if self.opts.no_listen_stream {
            let msg = "Method not found: subscriptions/listen (--no-listen-stream)";
            return Outcome::Reply(rpc::error(pending.id.clone(), METHOD_NOT_FOUND, msg));
        }
        let filter = match Filter::parse(&pending.params) {
            Ok(f) => f,
            Err(e) => return Outcome::Reply(rpc::error(pending.id.clone(), e.code, &e.message)),
        };
        self.stats.listen_stream_opened();
        let sink = Arc::new(LineSink(peer.state.background_arc()));
        self.subscriptions.start(pending.id.clone(), filter, sink, Some(cancel_key(peer, &pending.id)));
        Outcome::Silent
    }

    /// `subscriptions/listen` over HTTP: the stream that answers it, or the
    /// error response. `conn` is the connection carrying it (closed to end
    /// the stream abruptly).
    pub fn open_listen(
        &self,
        pending: Pending,
        conn: Option<std::net::TcpStream>,
    ) -> Result<ListenStream, Value> {
        self.forget(&pending);
        if self.opts.no_listen_stream {
            let msg = "Method not found: subscriptions/listen (--no-listen-stream)";
            return Err(rpc::error(pending.id, METHOD_NOT_FOUND, msg));
        }
        let filter =
            Filter::parse(&pending.params).map_err(|e| rpc::error(pending.id.clone(), e.code, &e.message))?;
        self.stats.listen_stream_opened();
        Ok(ListenStream::open(&self.subscriptions, pending.id, filter, conn, self.stopping.clone()))
    }

    /// Handles a notification from the client.
    pub fn notification(&self, peer: &Peer, method: &str, params: &Value) {
        if self.is_hung() {
            return;
        }
        if method == "notifications/cancelled" {
            let id = params.get("requestId").cloned().unwrap_or(Value::Null);
            if self.subscriptions.forget(&cancel_key(peer, &id)) {
                return; // the end of a subscription, not of a call
            }
            self.stats.cancelled(id.clone());
            if let Some(token) = self.cancels.lock().get(&cancel_key(peer, &id)) {
                token.cancel();
            }
            if let Some(q) = &self.serial {
                q.wake();
            }
        }
        if method == "notifications/initialized" {
            peer.state.mark_initialized();
        }
        // Anything else: accepted, nothing to do.
    }

    /// Handles the client's response to a server-initiated request.
    pub fn client_response(&self, id: &Value, message: Value) {
        let waiter = id.as_str().and_then(|id| self.client_waiters.lock().remove(id));
        match waiter {
            Some(tx) => {
                let _ = tx.try_send(message);
            }
            None => log::debug!("demo server: response to unknown request {id}"),
        }
    }

    fn initialize(&self, peer: &Peer, params: &Value) -> Value {
        peer.state.set_capabilities(params.get("capabilities").cloned().unwrap_or(Value::Null));
        let requested = params.get("protocolVersion").and_then(Value::as_str);
        let version = match (&self.opts.protocol_version, requested) {
            (Some(forced), _) => forced.clone(),
            (None, Some(v)) if SUPPORTED_VERSIONS.contains(&v) => v.to_string(),
            _ => SUPPORTED_VERSIONS[0].to_string(),
        };
        self.initialize_result(&version)
    }

    /// What `initialize` answers (`server/discover` says the same).
    fn initialize_result(&self, version: &str) -> Value {
        json!({
            "protocolVersion": version,
            "capabilities": {
                "tools": {"listChanged": true},
                "resources": {"subscribe": true, "listChanged": true},
                "prompts": {"listChanged": true},
                "completions": {},
                "logging": {},
            },
            "serverInfo": modern::server_info(),
            "instructions": "mcpstore demo server: tools for testing MCP clients (echo, add, sleep, stats, faults), resources, prompts, completions, logging and requests to the client.",
        })
    }

    fn list_tools(&self, params: &Value) -> Result<Value, RpcError> {
        let mut all = tools::builtin().to_vec();
        all.extend(self.catalog.tools().iter().map(|n| tools::extra_tool(n)));
        self.page(all, params, "tools")
    }

    fn set_level(&self, peer: &Peer, params: &Value) -> Result<Value, RpcError> {
        let level = params.get("level").and_then(Value::as_str).unwrap_or("");
        let idx = tools::LOG_LEVELS
            .iter()
            .position(|l| *l == level)
            .ok_or_else(|| RpcError::invalid_params(format!("Invalid log level: {level:?}")))?;
        peer.state.set_min_log_level(idx);
        Ok(json!({}))
    }

    fn call_tool(&self, peer: &Peer, pending: Pending, out: &dyn Outbound) -> Outcome {
        let token = match &pending.cancel {
            Some((_, t)) => t.clone(),
            None => Arc::new(CancelToken::new()),
        };
        let counted = !matches!(pending.tool_name(), Some("stats" | "reset_stats"));
        if counted {
            self.stats.call_started();
        }
        let result = if self.opts.delay_ms > 0 && !token.sleep(Duration::from_millis(self.opts.delay_ms)) {
            Err(Failure::Cancelled)
        } else {
            super::chaos::record(&pending.params);
            self.run_tool(peer, &pending, &token, out)
        };
        if counted {
            self.stats.call_finished();
        }
        let reply = match result {
            _ if token.is_cancelled() => return Outcome::Silent,
            Err(Failure::Cancelled) => return Outcome::Silent,
            Ok(mut v) if pending.modern.is_some() => {
                modern::decorate("tools/call", &mut v);
                rpc::response(pending.id, v)
            }
            Ok(v) => rpc::response(pending.id, v),
            Err(Failure::Rpc(e)) => rpc::error(pending.id, e.code, &e.message),
        };
        let answered = self.calls_answered.fetch_add(1, Ordering::SeqCst);
        if self.opts.garbage_after == Some(answered) || super::chaos::take(super::chaos::Fault::Garbage) {
            return Outcome::Garbage;
        }
        Outcome::Reply(reply)
    }

    fn run_tool(
        &self,
        peer: &Peer,
        pending: &Pending,
        token: &CancelToken,
        out: &dyn Outbound,
    ) -> ToolResult {
        let params = &pending.params;
        let name = match params.get("name") {
            Some(Value::String(n)) => n.as_str(),
            _ => {
                return Err(
                    RpcError::invalid_params("Missing tool name: params.name must be a string").into()
                );
            }
        };
        let empty = Map::new();
        let args = match params.get("arguments") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(m)) => m,
            Some(_) => {
                return Err(RpcError::invalid_params("Invalid arguments: expected an object").into());
            }
        };
        Ok(match name {
            "echo" => tools::echo(args)?,
            "add" => tools::add(args)?,
            "read_file" => tools::read_file(&self.root, args)?,
            "list_directory" => tools::list_directory(&self.root, args)?,
            "fail" => tools::fail(args)?,
            "big" => tools::big(args)?,
            "mixed_content" => tools::mixed_content(),
            "sleep" => {
                let progress = params.get("_meta").and_then(|m| m.get("progressToken"));
                return self.sleep(args, progress, token, out);
            }
            "counter" => text_result((self.counter.fetch_add(1, Ordering::SeqCst) + 1).to_string()),
            "stats" => {
                let snapshot = self.stats.snapshot();
                json!({"content": [{"type": "text", "text": snapshot.to_string()}], "structuredContent": snapshot})
            }
            "reset_stats" => {
                self.stats.reset();
                text_result("stats reset")
            }
            "ping_client" if pending.is_modern() => tools::error_result(
                "ping_client needs protocol 2025-11-25: a 2026-07-28 server sends the client no requests",
            ),
            "ping_client" => return self.ping_client(peer, token, out),
            "log" => self.log(peer, pending.modern.as_deref(), args, out)?,
            "add_tool" => self.add_tool(args, pending.is_modern(), out)?,
            "notify_list_changed" => {
                self.tools_changed(pending.is_modern(), out);
                text_result("notified")
            }
            "env" => process_tools::env(args)?,
            "env_names" => process_tools::env_names(),
            "cwd" => process_tools::cwd(),
            "headers" => process_tools::headers(&pending.headers),
            "write_note" => self.write_note(args)?,
            "ask_model" => return self.ask_model(peer, pending, args, token, out),
            "ask_user" => return self.ask_user(peer, pending, args, token, out),
            "list_roots" => return self.list_roots(peer, pending, token, out),
            "notify_later" => self.notify_later(peer, pending.is_modern(), args)?,
            "drop_listen_streams" => self.drop_listen_streams(peer, pending.is_modern()),
            other if self.catalog.has_tool(other) => tools::echo(args)?,
            other => {
                return Err(
                    RpcError { code: INVALID_PARAMS, message: format!("Unknown tool: {other}") }.into()
                );
            }
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::RefCell;

    #[derive(Default)]
    pub(crate) struct Collect(pub(crate) RefCell<Vec<Value>>);
    impl Outbound for Collect {
        fn send(&self, msg: &Value) {
            self.0.borrow_mut().push(msg.clone());
        }
    }

    pub(crate) fn server(opts: DemoOptions) -> Server {
        Server::new(opts).unwrap()
    }

    pub(crate) fn call(
        s: &Server,
        peer: &Peer,
        id: i64,
        method: &str,
        params: Value,
        out: &Collect,
    ) -> Option<Outcome> {
        match s.admit(peer, json!(id), method.into(), params) {
            Admission::Hang => None,
            Admission::Run(p) => Some(s.execute(peer, p, out)),
            Admission::Answer(v) => Some(Outcome::Reply(v)),
        }
    }

    pub(crate) fn reply(o: Option<Outcome>) -> Value {
        match o {
            Some(Outcome::Reply(v)) => v,
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn initialize_negotiates() {
        let s = server(DemoOptions::default());
        let p = Peer::new("t", Transport::Stdio);
        let out = Collect::default();
        let r = reply(call(&s, &p, 1, "initialize", json!({"protocolVersion": "2025-06-18"}), &out));
        assert_eq!(r["result"]["protocolVersion"], "2025-06-18");
        assert_eq!(r["result"]["serverInfo"]["name"], "mcpstore-demo-server");
        assert_eq!(r["result"]["capabilities"]["tools"]["listChanged"], true);
        let r = reply(call(&s, &p, 2, "initialize", json!({"protocolVersion": "1999-01-01"}), &out));
        assert_eq!(r["result"]["protocolVersion"], "2025-11-25");
        let forced =
            server(DemoOptions { protocol_version: Some("2000-01-01".into()), ..Default::default() });
        let r = reply(call(&forced, &p, 3, "initialize", json!({"protocolVersion": "2025-06-18"}), &out));
        assert_eq!(r["result"]["protocolVersion"], "2000-01-01");
        assert!(forced.supports_version("2000-01-01"));
        assert!(!s.supports_version("2000-01-01"));
    }

    #[test]
    fn errors_and_methods() {
        let s = server(DemoOptions::default());
        let p = Peer::new("t", Transport::Stdio);
        let out = Collect::default();
        let r = reply(call(&s, &p, 1, "nope", Value::Null, &out));
        assert_eq!(r["error"]["code"], -32601);
        let r = reply(call(&s, &p, 2, "tools/call", json!({"name": "zzz"}), &out));
        assert_eq!(r["error"]["code"], -32602);
        assert_eq!(r["error"]["message"], "Unknown tool: zzz");
        let r = reply(call(&s, &p, 3, "tools/call", json!({"name": "echo", "arguments": {}}), &out));
        assert_eq!(r["error"]["code"], -32602);
        assert!(r["error"]["message"].as_str().unwrap().contains("message"));
        let r = reply(call(&s, &p, 4, "ping", Value::Null, &out));
        assert_eq!(r["result"], json!({}));
        let r = reply(call(&s, &p, 5, "tools/call", json!({"name": "counter"}), &out));
        assert_eq!(r["result"]["content"][0]["text"], "1");
        let r = reply(call(&s, &p, 6, "tools/call", json!({"name": "stats"}), &out));
        let st = &r["result"]["structuredContent"];
        assert_eq!(st["pings"], 1);
        assert_eq!(st["calls"], 3);
        assert_eq!(st["in_flight"], 0);
    }

    #[test]
    fn list_paginates_and_add_tool_notifies() {
        let s = server(DemoOptions { page_size: 4, ..Default::default() });
        let p = Peer::new("t", Transport::Stdio);
        let out = Collect::default();
        let r = reply(call(
            &s,
            &p,
            1,
            "tools/call",
            json!({"name": "add_tool", "arguments": {"name": "extra1"}}),
            &out,
        ));
        assert_eq!(r["result"]["content"][0]["text"], "added tool extra1");
        assert_eq!(out.0.borrow()[0]["method"], "notifications/tools/list_changed");
        let mut names = Vec::new();
        let mut cursor = Value::Null;
        for i in 0..10 {
            let r = reply(call(&s, &p, 10 + i, "tools/list", json!({"cursor": cursor}), &out));
            for t in r["result"]["tools"].as_array().unwrap() {
                names.push(t["name"].as_str().unwrap().to_string());
            }
            cursor = r["result"].get("nextCursor").cloned().unwrap_or(Value::Null);
            if cursor.is_null() {
                break;
            }
        }
        assert_eq!(names.len(), 26);
        assert_eq!(names.last().map(String::as_str), Some("extra1"));
        let r = reply(call(
            &s,
            &p,
            30,
            "tools/call",
            json!({"name": "extra1", "arguments": {"message": "m"}}),
            &out,
        ));
        assert_eq!(r["result"]["content"][0]["text"], "m");
        let r = reply(call(&s, &p, 31, "tools/list", json!({"cursor": "bad"}), &out));
        assert_eq!(r["error"]["code"], -32602);
    }

    #[test]
    fn garbage_and_hang_faults() {
        let s = server(DemoOptions { garbage_after: Some(1), hang_after: Some(3), ..Default::default() });
        let p = Peer::new("t", Transport::Stdio);
        let out = Collect::default();
        let echo = json!({"name": "echo", "arguments": {"message": "x"}});
        assert!(matches!(call(&s, &p, 1, "tools/call", echo.clone(), &out), Some(Outcome::Reply(_))));
        assert!(matches!(call(&s, &p, 2, "tools/call", echo.clone(), &out), Some(Outcome::Garbage)));
        assert!(matches!(call(&s, &p, 3, "tools/call", echo.clone(), &out), Some(Outcome::Reply(_))));
        assert!(call(&s, &p, 4, "tools/call", echo, &out).is_none());
        assert!(call(&s, &p, 5, "ping", Value::Null, &out).is_none());
    }
}
