//! A tiny scripted MCP server over HTTP (std::net, JSON replies), for faults
//! the demo server does not make: an HTTP status after the tool ran or
//! before, a JSON-RPC error in a 4xx body, sessions that expire on demand.
//! It counts every tool execution, so a test can tell a call that ran twice.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use serde_json::{Value, json};

/// What the server does with the next `tools/call`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Runs the tool and answers with its result.
    Run,
    /// Runs the tool, then answers with this HTTP status (the reply is lost).
    RunThenStatus(u16),
    /// Answers with this HTTP status without running the tool.
    Refuse(u16),
    /// Answers 400 with a JSON-RPC error (`-32602`) without running the tool.
    RpcErrorIn400,
    /// Answers 404 for the session (it expired) without running the tool.
    ExpireSession,
}

#[derive(Default)]
struct State {
    script: VecDeque<Step>,
    executions: HashMap<String, usize>,
    next_session: u64,
    /// Session id -> whether `notifications/initialized` arrived.
    sessions: HashMap<String, bool>,
    /// Requests that used a session before its `notifications/initialized`.
    early_requests: usize,
    /// `initialize` requests still to refuse with 429 and `Retry-After: 0`.
    refused_initializes: usize,
}

/// A running scripted server; stopped on drop.
pub struct RawMcp {
    /// The MCP endpoint URL.
    pub url: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl RawMcp {
    /// Starts the server on a port of its own (bound before the URL is known, so no collision).
    pub fn start() -> RawMcp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/mcp", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || serve(conn, &st));
            }
        });
        RawMcp { url, state, stop }
    }

    /// Refuses the next `n` `initialize` requests with 429 and `Retry-After: 0`.
    pub fn refuse_initialize(&self, n: usize) {
        self.state.lock().refused_initializes = n;
    }

    /// `initialize` requests still to refuse.
    pub fn refusals_left(&self) -> usize {
        self.state.lock().refused_initializes
    }

    /// Queues what the next `tools/call`s do (then they run normally).
    pub fn script(&self, steps: &[Step]) {
        self.state.lock().script.extend(steps.iter().copied());
    }

    /// How many times `tool` ran.
    pub fn executions(&self, tool: &str) -> usize {
        self.state.lock().executions.get(tool).copied().unwrap_or(0)
    }

    /// Requests that carried a session id before the client finished that session's handshake.
    pub fn early_requests(&self) -> usize {
        self.state.lock().early_requests
    }

    /// Sessions opened so far.
    pub fn sessions(&self) -> u64 {
        self.state.lock().next_session
    }
}

impl Drop for RawMcp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.url.trim_start_matches("http://").trim_end_matches("/mcp"));
    }
}

/// The tools: `charge` (no annotations: not safe to repeat) and `lookup`
/// (`idempotentHint`: safe to repeat).
fn tools() -> Value {
    json!([
        {"name": "charge", "inputSchema": {"type": "object"}},
        {"name": "lookup", "inputSchema": {"type": "object"}, "annotations": {"idempotentHint": true}}
    ])
}

fn serve(conn: TcpStream, state: &Mutex<State>) {
    let _ = conn.set_nodelay(true);
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut conn = conn;
    loop {
        let mut head = Vec::new();
        let mut session = None;
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = line.trim_end().to_owned();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = v.trim().parse().unwrap_or(0),
                    "mcp-session-id" => session = Some(v.trim().to_owned()),
                    _ => {}
                }
            }
            head.push(line);
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let method_line = head.first().cloned().unwrap_or_default();
        let (status, extra, reply) = if method_line.starts_with("POST") {
            handle(state, session.as_deref(), &body)
        } else if method_line.starts_with("DELETE") {
            (200, String::new(), None)
        } else {
            (405, String::new(), None)
        };
        let text = reply.map(|v| v.to_string()).unwrap_or_default();
        let kind = if text.is_empty() { "" } else { "Content-Type: application/json\r\n" };
        let response =
            format!("HTTP/1.1 {status} X\r\n{kind}{extra}Content-Length: {}\r\n\r\n{text}", text.len());
        if conn.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// Handles one POST: `(status, extra header lines, JSON body)`.
fn handle(state: &Mutex<State>, session: Option<&str>, body: &[u8]) -> (u16, String, Option<Value>) {
    let Ok(msg) = serde_json::from_slice::<Value>(body) else { return (400, String::new(), None) };
    let method = msg["method"].as_str().unwrap_or("").to_owned();
    let id = msg.get("id").cloned();
    let mut st = state.lock();
    if method == "initialize" && st.refused_initializes > 0 {
        st.refused_initializes -= 1;
        return (429, "Retry-After: 0\r\n".into(), None);
    }
    if method == "initialize" {
        st.next_session += 1;
        let sid = format!("s{}", st.next_session);
        st.sessions.insert(sid.clone(), false);
        let result = json!({"protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
            "serverInfo": {"name": "raw-mcp", "version": "1"}});
        return (
            200,
            format!("Mcp-Session-Id: {sid}\r\n"),
            Some(json!({"jsonrpc": "2.0", "id": id, "result": result})),
        );
    }
    let Some(sid) = session.filter(|s| st.sessions.contains_key(*s)).map(str::to_owned) else {
        return (404, String::new(), None);
    };
    if method == "notifications/initialized" {
        st.sessions.insert(sid, true);
        return (202, String::new(), None);
    }
    if !st.sessions[&sid] {
        st.early_requests += 1;
    }
    if id.is_none() {
        return (202, String::new(), None); // other notifications
    }
    let ok =
        |result: Value| (200, String::new(), Some(json!({"jsonrpc": "2.0", "id": id, "result": result})));
    match method.as_str() {
        "tools/list" => ok(json!({"tools": tools()})),
        "ping" => ok(json!({})),
        "tools/call" => {
            let tool = msg["params"]["name"].as_str().unwrap_or("").to_owned();
            let step = st.script.pop_front().unwrap_or(Step::Run);
            let run = |st: &mut State| {
                let n = st.executions.entry(tool.clone()).or_default();
                *n += 1;
                *n
            };
            match step {
                Step::Run => {
                    let n = run(&mut st);
                    ok(json!({"content": [{"type": "text", "text": format!("{tool} ran {n}")}]}))
                }
                Step::RunThenStatus(code) => {
                    run(&mut st);
                    (code, String::new(), None)
                }
                Step::Refuse(code) => (code, "Retry-After: 0\r\n".into(), None),
                Step::RpcErrorIn400 => (
                    400,
                    String::new(),
                    Some(
                        json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32602, "message": "bad arguments"}}),
                    ),
                ),
                Step::ExpireSession => {
                    st.sessions.remove(&sid);
                    (404, String::new(), None)
                }
            }
        }
        _ => (
            200,
            String::new(),
            Some(json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "no"}})),
        ),
    }
}
