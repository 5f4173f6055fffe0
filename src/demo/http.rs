//! The Streamable HTTP transport: a small HTTP/1.1 server on `std::net`
//! (a thread per connection, keep-alive) serving the MCP endpoint `/mcp`.
//!
//! - `POST /mcp`: one JSON-RPC message (or a batch array). `initialize`
//!   without a session creates one (`Mcp-Session-Id` response header); all
//!   other POSTs need a live session id (missing: 400, unknown or expired:
//!   404). Notifications and responses get 202; requests get an SSE stream
//!   (or one JSON body with `--json`).
//! - `GET /mcp` with `Last-Event-ID`: replays a stream the server closed
//!   early (`--sse-disconnect-every`); without it: 405.
//! - `DELETE /mcp`: ends the session (200; unknown: 404).

use std::collections::HashMap;
use std::io::{self, BufReader, BufWriter, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::Value;

use super::DemoOptions;
use super::dispatch::{Admission, Outbound, Outcome, Pending, Server, Transport};
use super::http_session::{LogOutbound, Session, Sessions};
use super::http_wire::{LAST_CHUNK, Request, WireError, chunk, head, read_request};
use super::rpc::{self, INVALID_REQUEST, Message, PARSE_ERROR};
use super::sse::{self, EVENT_STREAM, GARBAGE, SseResponse};

/// Retry delay (ms) announced before the server closes an SSE stream early.
const RETRY_MS: u64 = 100;

/// A running in-process HTTP demo server. Dropping it (or calling
/// [`HttpServerHandle::shutdown`]) stops it: the accept loop exits,
/// connections are closed and their threads end.
pub struct HttpServerHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl HttpServerHandle {
    /// The bound address (the real port when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The MCP endpoint URL, `http://ADDR/mcp`.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    /// Stops the server and waits for its threads.
    pub fn shutdown(mut self) {
        self.stop();
    }

    /// Blocks until the server stops (that is, forever unless another
    /// thread could stop it; used by the foreground `run`).
    pub fn wait(mut self) {
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }

    fn stop(&mut self) {
        let Some(accept) = self.accept.take() else {
            return;
        };
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.server.shutdown();
        // Wake the blocking accept().
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => [127, 0, 0, 1].into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        let _ = accept.join();
    }
}

impl Drop for HttpServerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Shared {
    server: Arc<Server>,
    sessions: Sessions,
    transport: Transport,
    stop: AtomicBool,
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
    next_stream: AtomicU64,
    sse_calls: AtomicU64,
}

impl Shared {
    fn opts(&self) -> &DemoOptions {
        self.server.options()
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// Starts the HTTP server on `addr` (e.g. `127.0.0.1:0`) on background
/// threads and returns at once.
///
/// `--crash-after` still exits the whole process in this mode.
pub fn spawn_http(opts: DemoOptions, addr: &str) -> io::Result<HttpServerHandle> {
    let transport = if opts.json_response { Transport::HttpJson } else { Transport::HttpSse };
    let server = Arc::new(Server::new(opts)?);
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    let shared = Arc::new(Shared {
        server,
        sessions: Sessions::default(),
        transport,
        stop: AtomicBool::new(false),
        conns: Mutex::new(HashMap::new()),
        next_conn: AtomicU64::new(0),
        next_stream: AtomicU64::new(0),
        sse_calls: AtomicU64::new(0),
    });
    let s = shared.clone();
    let accept = std::thread::Builder::new()
        .name("demo-http-accept".into())
        .spawn(move || accept_loop(s, listener))?;
    Ok(HttpServerHandle { addr: local, shared, accept: Some(accept) })
}

fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    for conn in listener.incoming() {
        if shared.stopping() {
            break;
        }
        let stream = match conn {
            Ok(s) => s,
            Err(e) => {
                // E.g. out of file descriptors: back off a little.
                log::warn!("demo server: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        // Nagle would add ~40 ms stalls to small request/response pairs.
        let _ = stream.set_nodelay(true);
        let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        if let Ok(c) = stream.try_clone() {
            shared.conns.lock().insert(id, c);
        }
        let s = shared.clone();
        match std::thread::Builder::new()
            .name("demo-http-conn".into())
            .spawn(move || serve_connection(&s, stream, id))
        {
            Ok(t) => threads.push(t),
            Err(e) => {
                log::warn!("demo server: cannot spawn a connection thread: {e}");
                if let Some(c) = shared.conns.lock().remove(&id) {
                    let _ = c.shutdown(Shutdown::Both);
                }
            }
        }
        threads.retain(|t| !t.is_finished());
    }
    for c in shared.conns.lock().values() {
        let _ = c.shutdown(Shutdown::Both);
    }
    for t in threads {
        let _ = t.join();
    }
}

fn serve_connection(shared: &Shared, stream: TcpStream, id: u64) {
    if let Ok(read_half) = stream.try_clone() {
        let mut reader = BufReader::with_capacity(16 * 1024, read_half);
        let mut writer = BufWriter::with_capacity(64 * 1024, stream);
        loop {
            let req = match read_request(&mut reader, &mut writer) {
                Ok(r) => r,
                Err(WireError::Closed) => break,
                Err(WireError::Io(e)) => {
                    log::debug!("demo server: connection read failed: {e}");
                    break;
                }
                Err(WireError::Bad(why)) => {
                    let _ = respond(
                        &mut writer,
                        400,
                        &[],
                        Some("text/plain"),
                        format!("bad request: {why}\n").as_bytes(),
                        false,
                    );
                    break;
                }
                Err(WireError::TooLarge) => {
                    let _ = respond(
                        &mut writer,
                        413,
                        &[],
                        Some("text/plain"),
                        b"request body too large\n",
                        false,
                    );
                    break;
                }
            };
            if shared.stopping() {
                break;
            }
            let keep_alive = req.keep_alive();
            match handle(shared, &req, &mut writer, keep_alive) {
                Ok(true) => {}
                _ => break,
            }
        }
        let _ = writer.flush();
        let _ = writer.get_ref().shutdown(Shutdown::Both);
    }
    shared.conns.lock().remove(&id);
}

/// Writes a whole response with one write; returns `keep_alive`.
fn respond<W: Write>(
    w: &mut W,
    status: u16,
    headers: &[(&str, &str)],
    content_type: Option<&str>,
    body: &[u8],
    keep_alive: bool,
) -> io::Result<bool> {
    let mut hs = headers.to_vec();
    if let Some(ct) = content_type {
        hs.push(("Content-Type", ct));
    }
    let mut buf = head(status, &hs, Some(body.len()), keep_alive);
    buf.extend_from_slice(body);
    w.write_all(&buf)?;
    w.flush()?;
    Ok(keep_alive)
}

/// An HTTP error with a JSON-RPC error body (id null).
fn rpc_error<W: Write>(
    w: &mut W,
    status: u16,
    code: i64,
    message: &str,
    keep_alive: bool,
) -> io::Result<bool> {
    let body = rpc::error(Value::Null, code, message).to_string();
    respond(w, status, &[], Some("application/json"), body.as_bytes(), keep_alive)
}

fn origin_allowed(origin: &str) -> bool {
    let Some(rest) = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host = if authority.starts_with('[') {
        authority.split(']').next().map(|h| format!("{h}]"))
    } else {
        authority.split(':').next().map(str::to_string)
    };
    matches!(host.as_deref(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

/// Blocks a request forever (the hang fault), until the server stops.
fn hang(shared: &Shared) -> io::Result<bool> {
    while !shared.stopping() {
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(false)
}

fn handle<W: Write>(shared: &Shared, req: &Request, w: &mut W, keep_alive: bool) -> io::Result<bool> {
    if req.path() != "/mcp" {
        return respond(
            w,
            404,
            &[],
            Some("text/plain"),
            b"not found: the MCP endpoint is /mcp\n",
            keep_alive,
        );
    }
    if let Some((name, value)) = &shared.opts().require_header
        && req.header(name) != Some(value.as_str())
    {
        let msg = format!("Unauthorized: missing or wrong {name} header");
        return rpc_error(w, 401, -32001, &msg, keep_alive);
    }
    if req.header("origin").is_some_and(|o| !origin_allowed(o)) {
        return rpc_error(w, 403, -32001, "Forbidden: Origin not allowed", keep_alive);
    }
    if shared.server.is_hung() {
        return hang(shared);
    }
    match req.method.as_str() {
        "POST" => post(shared, req, w, keep_alive),
        "GET" => get(shared, req, w, keep_alive),
        "DELETE" => delete(shared, req, w, keep_alive),
        _ => respond(
            w,
            405,
            &[("Allow", "GET, POST, DELETE")],
            Some("text/plain"),
            b"method not allowed\n",
            keep_alive,
        ),
    }
}

/// The session named by the request; `Err((status, message))` if missing
/// (400) or unknown/expired (404). POSTs count towards expiry.
fn session_for(shared: &Shared, req: &Request, count: bool) -> Result<Arc<Session>, (u16, &'static str)> {
    let Some(id) = req.header("mcp-session-id") else {
        return Err((400, "Bad Request: missing Mcp-Session-Id header"));
    };
    let Some(session) = shared.sessions.get(id.trim()) else {
        return Err((404, "Session not found"));
    };
    if count {
        let n = session.count_post();
        if shared.opts().expire_sessions_after.is_some_and(|limit| n > limit) {
            shared.sessions.remove(&session.id);
            return Err((404, "Session expired"));
        }
    }
    Ok(session)
}

fn post<W: Write>(shared: &Shared, req: &Request, w: &mut W, keep_alive: bool) -> io::Result<bool> {
    if let Some(v) = req.header("mcp-protocol-version")
        && !shared.server.supports_version(v.trim())
    {
        let msg = format!("Bad Request: unsupported MCP-Protocol-Version {v:?}");
        return rpc_error(w, 400, INVALID_REQUEST, &msg, keep_alive);
    }
    let value: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => {
            return rpc_error(w, 400, PARSE_ERROR, &format!("Parse error: {e}"), keep_alive);
        }
    };
    let is_initialize =
        value.get("method").and_then(Value::as_str) == Some("initialize") && value.get("id").is_some();
    let (session, new_session) = if is_initialize {
        shared.server.stats().session_created();
        (shared.sessions.create(shared.transport), true)
    } else {
        match session_for(shared, req, true) {
            Ok(s) => (s, false),
            Err((status, msg)) => return rpc_error(w, status, INVALID_REQUEST, msg, keep_alive),
        }
    };
    let (batch, items) = match value {
        Value::Array(items) if items.is_empty() => {
            return rpc_error(w, 400, INVALID_REQUEST, "Invalid Request: empty batch", keep_alive);
        }
        Value::Array(items) => (true, items),
        other => (false, vec![other]),
    };
    let peer = &session.peer;
    let mut errors: Vec<Value> = Vec::new();
    let mut requests: Vec<Pending> = Vec::new();
    for item in items {
        match rpc::classify(item) {
            Message::Invalid { id, reason } => {
                errors.push(rpc::error(id, INVALID_REQUEST, &format!("Invalid Request: {reason}")));
            }
            Message::Notification { method, params } => shared.server.notification(peer, &method, &params),
            Message::Response { id, message } => shared.server.client_response(&id, message),
            Message::Request { id, method, params } => match shared.server.admit(peer, id, method, params) {
                Admission::Hang => return hang(shared),
                Admission::Run(p) => requests.push(p),
            },
        }
    }
    if !batch && let Some(err) = errors.pop() {
        let body = err.to_string();
        return respond(w, 400, &[], Some("application/json"), body.as_bytes(), keep_alive);
    }
    if requests.is_empty() && errors.is_empty() {
        return respond(w, 202, &[], None, b"", keep_alive);
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    if new_session {
        headers.push(("Mcp-Session-Id".into(), session.id.clone()));
    }
    if shared.transport == Transport::HttpJson {
        return reply_json(shared, &session, batch, errors, requests, headers, w, keep_alive);
    }
    let single_call = !batch && requests.len() == 1 && requests[0].method() == "tools/call";
    if let (true, Some(every)) = (single_call, shared.opts().sse_disconnect_every) {
        let n = shared.sse_calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n.is_multiple_of(every)
            && let Some(p) = requests.pop()
        {
            return disconnect_early(shared, &session, p, headers, w, keep_alive);
        }
    }
    let stream =
        shared.opts().sse_disconnect_every.map(|_| shared.next_stream.fetch_add(1, Ordering::SeqCst) + 1);
    let sse = SseResponse::new(w, headers, keep_alive, stream);
    for e in &errors {
        sse.send(e);
    }
    if batch {
        for p in requests {
            match shared.server.execute(peer, p, &sse) {
                Outcome::Reply(v) => sse.send(&v),
                Outcome::Garbage => return sse.finish_garbage(),
                Outcome::Silent => {}
            }
        }
        return sse.finish_silent();
    }
    match requests.pop().map(|p| shared.server.execute(peer, p, &sse)) {
        Some(Outcome::Reply(v)) => sse.finish(&v),
        Some(Outcome::Garbage) => sse.finish_garbage(),
        Some(Outcome::Silent) | None => sse.finish_silent(),
    }
}

/// Drops messages sent before the response (no room for them in a JSON body).
struct Discard;

impl Outbound for Discard {
    fn send(&self, _msg: &Value) {}
}

#[allow(clippy::too_many_arguments)]
fn reply_json<W: Write>(
    shared: &Shared,
    session: &Session,
    batch: bool,
    mut replies: Vec<Value>,
    requests: Vec<Pending>,
    headers: Vec<(String, String)>,
    w: &mut W,
    keep_alive: bool,
) -> io::Result<bool> {
    let hs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    for p in requests {
        match shared.server.execute(&session.peer, p, &Discard) {
            Outcome::Reply(v) => replies.push(v),
            Outcome::Garbage => {
                return respond(w, 200, &hs, Some("application/json"), GARBAGE, keep_alive);
            }
            Outcome::Silent => {}
        }
    }
    let body = match (batch, replies.pop()) {
        (_, None) => return respond(w, 204, &hs, None, b"", keep_alive),
        (false, Some(v)) => v.to_string(),
        (true, Some(v)) => {
            replies.push(v);
            Value::Array(replies).to_string()
        }
    };
    respond(w, 200, &hs, Some("application/json"), body.as_bytes(), keep_alive)
}

/// `--sse-disconnect-every`: sends a priming event (id + retry), ends the
/// response, and runs the request in the background, storing its events
/// for a `GET` with `Last-Event-ID`.
fn disconnect_early<W: Write>(
    shared: &Shared,
    session: &Arc<Session>,
    pending: Pending,
    headers: Vec<(String, String)>,
    w: &mut W,
    keep_alive: bool,
) -> io::Result<bool> {
    let stream = shared.next_stream.fetch_add(1, Ordering::SeqCst) + 1;
    let log = session.new_stream(stream);
    let mut hs: Vec<(&str, &str)> = vec![("Content-Type", EVENT_STREAM), ("Cache-Control", "no-cache")];
    hs.extend(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let mut buf = head(200, &hs, None, keep_alive);
    chunk(&mut buf, &sse::priming(&sse::event_id(stream, 0), Some(RETRY_MS)));
    buf.extend_from_slice(LAST_CHUNK);
    w.write_all(&buf)?;
    w.flush()?;
    let server = shared.server.clone();
    let peer = session.peer.clone();
    let bg_log = log.clone();
    let spawned = std::thread::Builder::new().name("demo-http-bg".into()).spawn(move || {
        let out = LogOutbound(bg_log.clone());
        match server.execute(&peer, pending, &out) {
            Outcome::Reply(v) => out.send(&v),
            Outcome::Garbage => bg_log.push(GARBAGE.to_vec()),
            Outcome::Silent => {}
        }
        bg_log.finish();
    });
    if spawned.is_err() {
        log::warn!("demo server: cannot spawn a background call thread");
        log.finish();
    }
    Ok(keep_alive)
}

fn get<W: Write>(shared: &Shared, req: &Request, w: &mut W, keep_alive: bool) -> io::Result<bool> {
    let session = match session_for(shared, req, false) {
        Ok(s) => s,
        Err((status, msg)) => return rpc_error(w, status, INVALID_REQUEST, msg, keep_alive),
    };
    let Some(last) = req.header("last-event-id") else {
        return respond(
            w,
            405,
            &[("Allow", "POST, DELETE")],
            Some("text/plain"),
            b"GET /mcp is only for resuming a stream with Last-Event-ID\n",
            keep_alive,
        );
    };
    let Some((stream, mut after)) = sse::parse_event_id(last) else {
        return rpc_error(w, 400, INVALID_REQUEST, "Bad Request: malformed Last-Event-ID", keep_alive);
    };
    let Some(log) = session.stream(stream) else {
        return rpc_error(w, 400, INVALID_REQUEST, "Bad Request: unknown Last-Event-ID", keep_alive);
    };
    let head_bytes =
        head(200, &[("Content-Type", EVENT_STREAM), ("Cache-Control", "no-cache")], None, keep_alive);
    w.write_all(&head_bytes)?;
    w.flush()?;
    loop {
        let (events, done) = log.wait_after(after, Duration::from_millis(100));
        let mut buf = Vec::new();
        for (seq, data) in events {
            chunk(&mut buf, &sse::event(Some(&sse::event_id(stream, seq)), &data));
            after = seq;
        }
        if !buf.is_empty() {
            w.write_all(&buf)?;
            w.flush()?;
        }
        if done {
            break;
        }
        if shared.stopping() {
            return Ok(false);
        }
    }
    w.write_all(LAST_CHUNK)?;
    w.flush()?;
    Ok(keep_alive)
}

fn delete<W: Write>(shared: &Shared, req: &Request, w: &mut W, keep_alive: bool) -> io::Result<bool> {
    let session = match session_for(shared, req, false) {
        Ok(s) => s,
        Err((status, msg)) => return rpc_error(w, status, INVALID_REQUEST, msg, keep_alive),
    };
    if shared.sessions.remove(&session.id) {
        shared.server.stats().session_deleted();
    }
    respond(w, 200, &[], None, b"", keep_alive)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::{BufRead, Read};

    /// A tiny blocking HTTP client for the tests (keep-alive).
    struct Client {
        r: BufReader<TcpStream>,
        w: TcpStream,
    }

    struct Resp {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    }

    impl Resp {
        fn header(&self, n: &str) -> Option<&str> {
            self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.as_str())
        }
        /// The JSON messages in an SSE or JSON body.
        fn messages(&self) -> Vec<Value> {
            if self.header("content-type") == Some("application/json") {
                return vec![serde_json::from_str(&self.body).unwrap()];
            }
            self.body
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .filter(|d| !d.trim().is_empty())
                .map(|d| serde_json::from_str(d).unwrap())
                .collect()
        }
    }

    impl Client {
        fn new(addr: SocketAddr) -> Self {
            let w = TcpStream::connect(addr).unwrap();
            Client { r: BufReader::new(w.try_clone().unwrap()), w }
        }

        fn send(&mut self, method: &str, headers: &[(&str, &str)], body: &str) -> Resp {
            let mut raw = format!(
                "{method} /mcp HTTP/1.1\r\nHost: x\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\n",
                body.len()
            );
            for (n, v) in headers {
                raw.push_str(&format!("{n}: {v}\r\n"));
            }
            raw.push_str("\r\n");
            raw.push_str(body);
            self.w.write_all(raw.as_bytes()).unwrap();
            self.read()
        }

        fn read(&mut self) -> Resp {
            let mut line = String::new();
            self.r.read_line(&mut line).unwrap();
            let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
            let mut headers = Vec::new();
            loop {
                line.clear();
                self.r.read_line(&mut line).unwrap();
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                let (n, v) = l.split_once(':').unwrap();
                headers.push((n.to_string(), v.trim().to_string()));
            }
            let mut resp = Resp { status, headers, body: String::new() };
            if let Some(n) = resp.header("content-length") {
                let mut b = vec![0; n.parse().unwrap()];
                self.r.read_exact(&mut b).unwrap();
                resp.body = String::from_utf8(b).unwrap();
            } else if resp.header("transfer-encoding").is_some() {
                loop {
                    line.clear();
                    self.r.read_line(&mut line).unwrap();
                    let size = usize::from_str_radix(line.trim(), 16).unwrap();
                    let mut b = vec![0; size + 2];
                    self.r.read_exact(&mut b).unwrap();
                    if size == 0 {
                        break;
                    }
                    resp.body.push_str(std::str::from_utf8(&b[..size]).unwrap());
                }
            }
            resp
        }
    }

    fn init(c: &mut Client) -> String {
        let r = c.send("POST", &[], r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#);
        assert_eq!(r.status, 200);
        assert_eq!(r.messages()[0]["result"]["protocolVersion"], "2025-11-25");
        let sid = r.header("mcp-session-id").unwrap().to_string();
        let n = c.send(
            "POST",
            &[("Mcp-Session-Id", &sid)],
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        );
        assert_eq!(n.status, 202);
        assert!(n.body.is_empty());
        sid
    }

    fn call(c: &mut Client, sid: &str, id: u64, name: &str, args: Value) -> Resp {
        let body =
            json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":name,"arguments":args}})
                .to_string();
        c.send("POST", &[("Mcp-Session-Id", sid), ("MCP-Protocol-Version", "2025-11-25")], &body)
    }

    #[test]
    fn sse_session_lifecycle() {
        let h = spawn_http(DemoOptions::default(), "127.0.0.1:0").unwrap();
        let mut c = Client::new(h.addr());
        let sid = init(&mut c);
        let r = call(&mut c, &sid, 2, "echo", json!({"message": "hi"}));
        assert_eq!(r.header("content-type"), Some("text/event-stream"));
        assert_eq!(r.messages()[0]["result"]["content"][0]["text"], "hi");
        let r = call(&mut c, &sid, 3, "log", json!({"level": "info", "message": "m"}));
        let m = r.messages();
        assert_eq!(m[0]["method"], "notifications/message");
        assert_eq!(m[1]["id"], 3);
        // Missing, unknown session; bad protocol version; wrong method.
        assert_eq!(c.send("POST", &[], r#"{"jsonrpc":"2.0","id":4,"method":"ping"}"#).status, 400);
        assert_eq!(
            c.send("POST", &[("Mcp-Session-Id", "nope")], r#"{"jsonrpc":"2.0","id":4,"method":"ping"}"#)
                .status,
            404
        );
        assert_eq!(
            c.send(
                "POST",
                &[("Mcp-Session-Id", &sid), ("MCP-Protocol-Version", "1999-01-01")],
                r#"{"jsonrpc":"2.0","id":4,"method":"ping"}"#
            )
            .status,
            400
        );
        assert_eq!(c.send("GET", &[("Mcp-Session-Id", &sid)], "").status, 405);
        assert_eq!(c.send("PUT", &[("Mcp-Session-Id", &sid)], "").status, 405);
        assert_eq!(c.send("POST", &[("Mcp-Session-Id", &sid)], "{garbage").status, 400);
        assert_eq!(c.send("DELETE", &[("Mcp-Session-Id", &sid)], "").status, 200);
        assert_eq!(call(&mut c, &sid, 5, "echo", json!({"message": "x"})).status, 404);
        let mut c2 = Client::new(h.addr());
        let sid2 = init(&mut c2);
        let st =
            call(&mut c2, &sid2, 1, "stats", json!({})).messages()[0]["result"]["structuredContent"].clone();
        assert_eq!(st["sessions"], 2);
        assert_eq!(st["deleted_sessions"], 1);
        h.shutdown();
    }

    #[test]
    fn json_mode_expiry_and_required_header() {
        let opts = DemoOptions {
            json_response: true,
            expire_sessions_after: Some(2),
            require_header: Some(("Authorization".into(), "Bearer t".into())),
            ..Default::default()
        };
        let h = spawn_http(opts, "127.0.0.1:0").unwrap();
        let mut c = Client::new(h.addr());
        let r = c.send("POST", &[], r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#);
        assert_eq!(r.status, 401);
        let auth = ("Authorization", "Bearer t");
        let r = c.send("POST", &[auth], r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/json"));
        let sid = r.header("mcp-session-id").unwrap().to_string();
        let ping = r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#;
        let r = c.send("POST", &[auth, ("Mcp-Session-Id", &sid)], ping);
        assert_eq!(r.messages()[0]["result"], json!({}));
        let r = c.send("POST", &[auth, ("Mcp-Session-Id", &sid)], r#"[{"jsonrpc":"2.0","id":3,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"}]"#);
        assert_eq!(r.status, 200);
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v[0]["id"], 3);
        assert_eq!(c.send("POST", &[auth, ("Mcp-Session-Id", &sid)], ping).status, 404);
        assert_eq!(c.send("POST", &[auth, ("Mcp-Session-Id", &sid)], ping).status, 404);
        assert_eq!(c.send("POST", &[auth, ("Origin", "http://evil.example")], ping).status, 403);
    }

    #[test]
    fn disconnect_and_resume() {
        let opts = DemoOptions { sse_disconnect_every: Some(2), ..Default::default() };
        let h = spawn_http(opts, "127.0.0.1:0").unwrap();
        let mut c = Client::new(h.addr());
        let sid = init(&mut c);
        let r = call(&mut c, &sid, 2, "echo", json!({"message": "one"}));
        assert!(r.body.contains("id: "));
        assert_eq!(r.messages()[0]["result"]["content"][0]["text"], "one");
        let r = call(&mut c, &sid, 3, "sleep", json!({"ms": 50}));
        assert!(r.body.contains("retry: 100"));
        assert!(r.messages().is_empty());
        let last = r.body.lines().find_map(|l| l.strip_prefix("id: ")).unwrap().to_string();
        let g = c.send("GET", &[("Mcp-Session-Id", &sid), ("Last-Event-ID", &last)], "");
        assert_eq!(g.status, 200);
        let m = g.messages();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0]["id"], 3);
        assert_eq!(m[0]["result"]["content"][0]["text"], "slept 50 ms");
        drop(h);
    }

    #[test]
    fn ping_client_over_sse() {
        let h = spawn_http(DemoOptions::default(), "127.0.0.1:0").unwrap();
        let mut c = Client::new(h.addr());
        let sid = init(&mut c);
        let body =
            json!({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"ping_client"}}).to_string();
        let raw = format!(
            "POST /mcp HTTP/1.1\r\nHost: x\r\nMcp-Session-Id: {sid}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        c.w.write_all(raw.as_bytes()).unwrap();
        // Read the head and the first chunk (the server's ping request).
        let mut line = String::new();
        loop {
            line.clear();
            c.r.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
        }
        line.clear();
        c.r.read_line(&mut line).unwrap();
        let size = usize::from_str_radix(line.trim(), 16).unwrap();
        let mut b = vec![0; size + 2];
        c.r.read_exact(&mut b).unwrap();
        let text = String::from_utf8(b).unwrap();
        let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
        let ping: Value = serde_json::from_str(data).unwrap();
        assert_eq!(ping["method"], "ping");
        let mut c2 = Client::new(h.addr());
        let answer = json!({"jsonrpc":"2.0","id":ping["id"],"result":{}}).to_string();
        assert_eq!(c2.send("POST", &[("Mcp-Session-Id", &sid)], &answer).status, 202);
        let mut rest = String::new();
        loop {
            line.clear();
            c.r.read_line(&mut line).unwrap();
            let size = usize::from_str_radix(line.trim(), 16).unwrap();
            let mut b = vec![0; size + 2];
            c.r.read_exact(&mut b).unwrap();
            if size == 0 {
                break;
            }
            rest.push_str(std::str::from_utf8(&b[..size]).unwrap());
        }
        assert!(rest.contains("pong"));
        h.shutdown();
    }

    #[test]
    fn origin_rules() {
        assert!(origin_allowed("http://localhost:3000"));
        assert!(origin_allowed("http://127.0.0.1"));
        assert!(origin_allowed("https://[::1]:8080"));
        assert!(!origin_allowed("http://localhost.evil.com"));
        assert!(!origin_allowed("null"));
    }
}
