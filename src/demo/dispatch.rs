//! JSON-RPC message handling shared by both transports: lifecycle, ping,
//! tools/list, tools/call (including the stateful tools), notifications,
//! responses to server-initiated requests and the fault switches.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, select};
use parking_lot::Mutex;
use serde_json::{Map, Value, json};

use super::DemoOptions;
use super::rpc::{self, INVALID_PARAMS, METHOD_NOT_FOUND, RpcError};
use super::state::{CancelToken, Stats};
use super::tools::{self, error_result, text_result};

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

/// The transport a request arrived on (decides what the server can send).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// stdin/stdout.
    Stdio,
    /// HTTP POST answered with an SSE stream.
    HttpSse,
    /// HTTP POST answered with one JSON body (no room for extra messages).
    HttpJson,
}

/// The client a message came from: a stdio connection or an HTTP session.
#[derive(Clone)]
pub struct Peer {
    /// "stdio" or the HTTP session id; scopes request ids for cancellation.
    pub key: Arc<str>,
    /// The transport of the current request.
    pub transport: Transport,
    /// Index into [`tools::LOG_LEVELS`] set by `logging/setLevel`.
    pub min_log_level: Arc<AtomicUsize>,
}

impl Peer {
    /// A peer with the default log level (everything).
    pub fn new(key: &str, transport: Transport) -> Self {
        Peer { key: Arc::from(key), transport, min_log_level: Arc::new(AtomicUsize::new(0)) }
    }
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
}

impl Pending {
    /// The request method.
    pub fn method(&self) -> &str {
        &self.method
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
    /// The server is hung: never answer.
    Hang,
    /// Run it.
    Run(Pending),
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
    extra_tools: Mutex<Vec<String>>,
    cancels: Mutex<HashMap<String, Arc<CancelToken>>>,
    client_waiters: Mutex<HashMap<String, Sender<Value>>>,
    next_server_request: AtomicU64,
    calls_received: AtomicU64,
    calls_answered: AtomicU64,
    hung: AtomicBool,
    stopping: AtomicBool,
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
            opts,
            root,
            stats: Stats::default(),
            counter: AtomicU64::new(0),
            extra_tools: Mutex::new(Vec::new()),
            cancels: Mutex::new(HashMap::new()),
            client_waiters: Mutex::new(HashMap::new()),
            next_server_request: AtomicU64::new(0),
            calls_received: AtomicU64::new(0),
            calls_answered: AtomicU64::new(0),
            hung: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
        })
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

    /// Stops: cancels every running request.
    pub fn shutdown(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        for token in self.cancels.lock().values() {
            token.cancel();
        }
    }

    /// Whether `version` is acceptable in an `MCP-Protocol-Version` header.
    pub fn supports_version(&self, version: &str) -> bool {
        SUPPORTED_VERSIONS.contains(&version) || self.opts.protocol_version.as_deref() == Some(version)
    }

    /// Accepts a request on arrival, in arrival order: applies the crash and
    /// hang faults and registers `tools/call` for cancellation.
    pub fn admit(&self, peer: &Peer, id: Value, method: String, params: Value) -> Admission {
        if self.is_hung() {
            return Admission::Hang;
        }
        let mut cancel = None;
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
            let key = cancel_key(peer, &id);
            let token = Arc::new(CancelToken::new());
            if self.is_stopping() {
                token.cancel();
            }
            self.cancels.lock().insert(key.clone(), token.clone());
            cancel = Some((key, token));
        }
        Admission::Run(Pending { id, method, params, cancel })
    }

    /// Whether a request is quick enough to run on the reading thread.
    pub fn is_quick(&self, pending: &Pending) -> bool {
        if pending.method != "tools/call" {
            return true;
        }
        self.opts.delay_ms == 0 && !matches!(pending.tool_name(), Some("sleep" | "ping_client"))
    }

    /// Runs an admitted request; messages it generates go to `out` before
    /// the returned outcome.
    pub fn execute(&self, peer: &Peer, pending: Pending, out: &dyn Outbound) -> Outcome {
        let id = pending.id.clone();
        let result = match pending.method.as_str() {
            "tools/call" => return self.call_tool(peer, pending, out),
            "initialize" => Ok(self.initialize(&pending.params)),
            "ping" => {
                self.stats.ping();
                Ok(json!({}))
            }
            "tools/list" => self.list_tools(&pending.params),
            "logging/setLevel" => self.set_level(peer, &pending.params),
            other => Err(RpcError { code: METHOD_NOT_FOUND, message: format!("Method not found: {other}") }),
        };
        Outcome::Reply(match result {
            Ok(v) => rpc::response(id, v),
            Err(e) => rpc::error(id, e.code, &e.message),
        })
    }

    /// Handles a notification from the client.
    pub fn notification(&self, peer: &Peer, method: &str, params: &Value) {
        if self.is_hung() {
            return;
        }
        if method == "notifications/cancelled" {
            let id = params.get("requestId").cloned().unwrap_or(Value::Null);
            self.stats.cancelled(id.clone());
            if let Some(token) = self.cancels.lock().get(&cancel_key(peer, &id)) {
                token.cancel();
            }
        }
        // notifications/initialized and anything else: accepted, nothing to do.
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

    fn initialize(&self, params: &Value) -> Value {
        let requested = params.get("protocolVersion").and_then(Value::as_str);
        let version = match (&self.opts.protocol_version, requested) {
            (Some(forced), _) => forced.clone(),
            (None, Some(v)) if SUPPORTED_VERSIONS.contains(&v) => v.to_string(),
            _ => SUPPORTED_VERSIONS[0].to_string(),
        };
        json!({
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": true}, "logging": {}},
            "serverInfo": {"name": "mcpstore-demo-server", "version": env!("CARGO_PKG_VERSION")},
            "instructions": "mcpstore demo server: tools for testing MCP clients (echo, add, sleep, stats, faults).",
        })
    }

    fn list_tools(&self, params: &Value) -> Result<Value, RpcError> {
        let cursor = match params.get("cursor") {
            None | Some(Value::Null) => None,
            Some(Value::String(c)) => Some(c.as_str()),
            Some(_) => {
                return Err(RpcError::invalid_params("Invalid cursor: expected a string"));
            }
        };
        let mut all = tools::builtin().to_vec();
        all.extend(self.extra_tools.lock().iter().map(|n| tools::extra_tool(n)));
        let (page, next) = tools::paginate(all, cursor, self.opts.page_size)?;
        let mut result = json!({"tools": page});
        if let (Some(next), Some(obj)) = (next, result.as_object_mut()) {
            obj.insert("nextCursor".into(), Value::String(next));
        }
        Ok(result)
    }

    fn set_level(&self, peer: &Peer, params: &Value) -> Result<Value, RpcError> {
        let level = params.get("level").and_then(Value::as_str).unwrap_or("");
        let idx = tools::LOG_LEVELS
            .iter()
            .position(|l| *l == level)
            .ok_or_else(|| RpcError::invalid_params(format!("Invalid log level: {level:?}")))?;
        peer.min_log_level.store(idx, Ordering::Relaxed);
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
            self.run_tool(peer, &pending.params, &token, out)
        };
        if counted {
            self.stats.call_finished();
        }
        if let Some((key, _)) = &pending.cancel {
            self.cancels.lock().remove(key);
        }
        let reply = match result {
            _ if token.is_cancelled() => return Outcome::Silent,
            Err(Failure::Cancelled) => return Outcome::Silent,
            Ok(v) => rpc::response(pending.id, v),
            Err(Failure::Rpc(e)) => rpc::error(pending.id, e.code, &e.message),
        };
        let answered = self.calls_answered.fetch_add(1, Ordering::SeqCst);
        if self.opts.garbage_after == Some(answered) {
            return Outcome::Garbage;
        }
        Outcome::Reply(reply)
    }

    fn run_tool(&self, peer: &Peer, params: &Value, token: &CancelToken, out: &dyn Outbound) -> ToolResult {
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
            "ping_client" => return self.ping_client(peer, token, out),
            "log" => self.log(peer, args, out)?,
            "add_tool" => self.add_tool(args, out)?,
            "notify_list_changed" => {
                out.send(&rpc::notification("notifications/tools/list_changed", Value::Null));
                text_result("notified")
            }
            other if self.extra_tools.lock().iter().any(|t| t == other) => tools::echo(args)?,
            other => {
                return Err(
                    RpcError { code: INVALID_PARAMS, message: format!("Unknown tool: {other}") }.into()
                );
            }
        })
    }

    fn sleep(
        &self,
        args: &Map<String, Value>,
        progress: Option<&Value>,
        token: &CancelToken,
        out: &dyn Outbound,
    ) -> ToolResult {
        let ms = tools::arg_u64(args, "ms", tools::MAX_SLEEP_MS)?;
        let total = Duration::from_millis(ms);
        match progress {
            Some(progress_token) if ms > 0 => {
                let start = Instant::now();
                for step in 1..=10u64 {
                    let target = total * step as u32 / 10;
                    let elapsed = start.elapsed();
                    if target > elapsed && !token.sleep(target - elapsed) {
                        return Err(Failure::Cancelled);
                    }
                    let done = ms * step;
                    let value =
                        if done % 10 == 0 { Value::from(done / 10) } else { Value::from(done as f64 / 10.0) };
                    out.send(&rpc::notification(
                        "notifications/progress",
                        json!({
                            "progressToken": progress_token,
                            "progress": value,
                            "total": ms,
                            "message": format!("slept {value} of {ms} ms"),
                        }),
                    ));
                }
            }
            _ => {
                if !token.sleep(total) {
                    return Err(Failure::Cancelled);
                }
            }
        }
        Ok(text_result(format!("slept {ms} ms")))
    }

    fn ping_client(&self, peer: &Peer, token: &CancelToken, out: &dyn Outbound) -> ToolResult {
        if peer.transport == Transport::HttpJson {
            return Ok(error_result("ping_client needs SSE: the server answers with plain JSON (--json)"));
        }
        let id = format!("srv-{}", self.next_server_request.fetch_add(1, Ordering::SeqCst) + 1);
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.client_waiters.lock().insert(id.clone(), tx);
        out.send(&rpc::request(&id, "ping"));
        let answer = select! {
            recv(rx) -> msg => Some(msg.ok()),
            recv(token.receiver()) -> _ => None,
            default(PING_CLIENT_TIMEOUT) => Some(None),
        };
        self.client_waiters.lock().remove(&id);
        match answer {
            None => Err(Failure::Cancelled),
            Some(None) => Ok(error_result(format!(
                "the client did not answer ping {id} within {} s",
                PING_CLIENT_TIMEOUT.as_secs()
            ))),
            Some(Some(msg)) => match msg.get("error") {
                Some(err) => Ok(error_result(format!("the client answered ping {id} with an error: {err}"))),
                None => Ok(text_result("pong")),
            },
        }
    }

    fn log(&self, peer: &Peer, args: &Map<String, Value>, out: &dyn Outbound) -> Result<Value, RpcError> {
        let level = tools::arg_str(args, "level")?;
        let message = tools::arg_str(args, "message")?;
        let idx = tools::LOG_LEVELS.iter().position(|l| *l == level).ok_or_else(|| {
            RpcError::invalid_params(format!(
                "Invalid argument \"level\": {level:?} is not one of {}",
                tools::LOG_LEVELS.join(", ")
            ))
        })?;
        if idx >= peer.min_log_level.load(Ordering::Relaxed) {
            out.send(&rpc::notification(
                "notifications/message",
                json!({"level": level, "logger": "demo", "data": message}),
            ));
        }
        Ok(text_result("logged"))
    }

    fn add_tool(&self, args: &Map<String, Value>, out: &dyn Outbound) -> Result<Value, RpcError> {
        let name = tools::arg_str(args, "name")?;
        if !tools::valid_tool_name(name) {
            return Err(RpcError::invalid_params(format!(
                "Invalid argument \"name\": {name:?} must be 1-64 characters of A-Z a-z 0-9 _ - ."
            )));
        }
        if tools::is_builtin(name) {
            return Ok(error_result(format!("tool {name:?} already exists (built-in)")));
        }
        {
            let mut extra = self.extra_tools.lock();
            if !extra.iter().any(|t| t == name) {
                extra.push(name.to_string());
            }
        }
        out.send(&rpc::notification("notifications/tools/list_changed", Value::Null));
        Ok(text_result(format!("added tool {name}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[derive(Default)]
    struct Collect(RefCell<Vec<Value>>);
    impl Outbound for Collect {
        fn send(&self, msg: &Value) {
            self.0.borrow_mut().push(msg.clone());
        }
    }

    fn server(opts: DemoOptions) -> Server {
        Server::new(opts).unwrap()
    }

    fn call(s: &Server, peer: &Peer, id: i64, method: &str, params: Value, out: &Collect) -> Option<Outcome> {
        match s.admit(peer, json!(id), method.into(), params) {
            Admission::Hang => None,
            Admission::Run(p) => Some(s.execute(peer, p, out)),
        }
    }

    fn reply(o: Option<Outcome>) -> Value {
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
        assert_eq!(names.len(), 16);
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
    fn log_respects_level() {
        let s = server(DemoOptions::default());
        let p = Peer::new("t", Transport::Stdio);
        let out = Collect::default();
        reply(call(&s, &p, 1, "logging/setLevel", json!({"level": "warning"}), &out));
        reply(call(
            &s,
            &p,
            2,
            "tools/call",
            json!({"name": "log", "arguments": {"level": "info", "message": "a"}}),
            &out,
        ));
        assert!(out.0.borrow().is_empty());
        let r = reply(call(
            &s,
            &p,
            3,
            "tools/call",
            json!({"name": "log", "arguments": {"level": "error", "message": "b"}}),
            &out,
        ));
        assert_eq!(r["result"]["content"][0]["text"], "logged");
        assert_eq!(out.0.borrow()[0]["params"], json!({"level": "error", "logger": "demo", "data": "b"}));
        let r = reply(call(
            &s,
            &p,
            4,
            "tools/call",
            json!({"name": "log", "arguments": {"level": "loud", "message": "b"}}),
            &out,
        ));
        assert_eq!(r["error"]["code"], -32602);
    }

    #[test]
    fn sleep_progress_and_cancel() {
        let s = Arc::new(server(DemoOptions::default()));
        let p = Peer::new("t", Transport::Stdio);
        let out = Collect::default();
        let r = reply(call(
            &s,
            &p,
            1,
            "tools/call",
            json!({"name": "sleep", "arguments": {"ms": 20}, "_meta": {"progressToken": "tok"}}),
            &out,
        ));
        assert_eq!(r["result"]["content"][0]["text"], "slept 20 ms");
        let notes = out.0.borrow();
        assert_eq!(notes.len(), 10);
        assert_eq!(notes[9]["params"]["progress"], 20);
        assert_eq!(notes[9]["params"]["total"], 20);
        assert_eq!(notes[0]["params"]["progressToken"], "tok");
        drop(notes);

        let s2 = s.clone();
        let p2 = p.clone();
        let h = std::thread::spawn(move || {
            let out = Collect::default();
            matches!(
                call(&s2, &p2, 7, "tools/call", json!({"name": "sleep", "arguments": {"ms": 10000}}), &out),
                Some(Outcome::Silent)
            )
        });
        std::thread::sleep(Duration::from_millis(50));
        s.notification(&p, "notifications/cancelled", &json!({"requestId": 7}));
        assert!(h.join().unwrap());
        let st = s.stats.snapshot();
        assert_eq!(st["cancelled"], 1);
        assert_eq!(st["cancelled_ids"], json!([7]));
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

    #[test]
    fn ping_client_json_mode_needs_sse() {
        let s = server(DemoOptions::default());
        let p = Peer::new("t", Transport::HttpJson);
        let out = Collect::default();
        let r = reply(call(&s, &p, 1, "tools/call", json!({"name": "ping_client"}), &out));
        assert_eq!(r["result"]["isError"], true);
    }
}
