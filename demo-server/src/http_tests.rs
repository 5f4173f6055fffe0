//! Tests of the HTTP transport over real sockets, with a small raw HTTP/1.1
//! client (keep-alive, Content-Length and chunked bodies).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::DemoOptions;
use super::http::spawn_http;
use super::http_mcp::origin_allowed;

mod listen_tests;
mod modern_tests;

/// Every read in these tests gives up after this long (no test hangs).
const READ_LIMIT: Duration = Duration::from_secs(10);

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
        w.set_read_timeout(Some(READ_LIMIT)).unwrap();
        Client { r: BufReader::new(w.try_clone().unwrap()), w }
    }

    fn write(&mut self, method: &str, headers: &[(&str, &str)], body: &str) {
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
    }

    fn send(&mut self, method: &str, headers: &[(&str, &str)], body: &str) -> Resp {
        self.write(method, headers, body);
        self.read()
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.r.read_line(&mut line).unwrap();
        line
    }

    fn read_head(&mut self) -> Resp {
        let line = self.line();
        let status: u16 =
            line.split(' ').nth(1).unwrap_or_else(|| panic!("status line {line:?}")).parse().unwrap();
        let mut headers = Vec::new();
        loop {
            let line = self.line();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':').unwrap();
            headers.push((n.to_string(), v.trim().to_string()));
        }
        Resp { status, headers, body: String::new() }
    }

    /// One chunk of a chunked body (None for the last chunk).
    fn chunk(&mut self) -> Option<String> {
        let size = usize::from_str_radix(self.line().trim(), 16).unwrap();
        let mut b = vec![0; size + 2];
        self.r.read_exact(&mut b).unwrap();
        (size > 0).then(|| String::from_utf8(b[..size].to_vec()).unwrap())
    }

    fn read(&mut self) -> Resp {
        let mut resp = self.read_head();
        if let Some(n) = resp.header("content-length") {
            let mut b = vec![0; n.parse().unwrap()];
            self.r.read_exact(&mut b).unwrap();
            resp.body = String::from_utf8(b).unwrap();
        } else if resp.header("transfer-encoding").is_some() {
            while let Some(c) = self.chunk() {
                resp.body.push_str(&c);
            }
        }
        resp
    }

    /// Whether the server closes the connection within the read limit
    /// (after whatever it still sends).
    fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        self.r.read_to_end(&mut rest).is_ok()
    }
}

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

fn init(c: &mut Client) -> String {
    let r = c.send("POST", &[], INIT);
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

fn call_body(id: u64, name: &str, args: Value) -> String {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":name,"arguments":args}}).to_string()
}

fn call(c: &mut Client, sid: &str, id: u64, name: &str, args: Value) -> Resp {
    let body = call_body(id, name, args);
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
    let unknown =
        c.send("POST", &[("Mcp-Session-Id", "nope")], r#"{"jsonrpc":"2.0","id":4,"method":"ping"}"#);
    assert_eq!(unknown.status, 404);
    let bad_version = c.send(
        "POST",
        &[("Mcp-Session-Id", &sid), ("MCP-Protocol-Version", "1999-01-01")],
        r#"{"jsonrpc":"2.0","id":4,"method":"ping"}"#,
    );
    assert_eq!(bad_version.status, 400);
    assert_eq!(c.send("PUT", &[("Mcp-Session-Id", &sid)], "").status, 405);
    assert_eq!(c.send("POST", &[("Mcp-Session-Id", &sid)], "{garbage").status, 400);
    assert_eq!(c.send("DELETE", &[("Mcp-Session-Id", &sid)], "").status, 200);
    assert_eq!(call(&mut c, &sid, 5, "echo", json!({"message": "x"})).status, 404);
    let mut c2 = Client::new(h.addr());
    let sid2 = init(&mut c2);
    let st = call(&mut c2, &sid2, 1, "stats", json!({})).messages()[0]["result"]["structuredContent"].clone();
    assert_eq!(st["sessions"], 2);
    assert_eq!(st["deleted_sessions"], 1);
    h.shutdown();
}

#[test]
fn complete_sse_bodies_have_a_length_and_streams_keep_the_connection() {
    let h = spawn_http(DemoOptions::default(), "127.0.0.1:0").unwrap();
    let mut c = Client::new(h.addr());
    let sid = init(&mut c);
    // A plain result: one complete body with a Content-Length, even a large one.
    let r = call(&mut c, &sid, 2, "big", json!({"bytes": 100_000}));
    assert!(r.header("content-length").is_some(), "{:?}", r.headers);
    assert!(r.header("transfer-encoding").is_none());
    assert_eq!(r.messages()[0]["result"]["content"][0]["text"].as_str().map(str::len), Some(100_000));
    // Notifications first: a chunked stream, then more requests on the same connection.
    let r = call(&mut c, &sid, 3, "sleep", json!({"ms": 20}));
    assert!(r.header("content-length").is_some());
    let body = json!({"jsonrpc":"2.0","id":4,"method":"tools/call",
        "params":{"name":"sleep","arguments":{"ms":20},"_meta":{"progressToken":"p"}}})
    .to_string();
    let r = c.send("POST", &[("Mcp-Session-Id", &sid)], &body);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    let m = r.messages();
    assert_eq!(m.len(), 11, "ten progress notifications and the result: {m:?}");
    assert_eq!(m[10]["id"], 4);
    assert_eq!(call(&mut c, &sid, 5, "echo", json!({"message": "again"})).status, 200);
    // A cancelled request that sent nothing: 204.
    let mut c2 = Client::new(h.addr());
    c2.write("POST", &[("Mcp-Session-Id", &sid)], &call_body(6, "sleep", json!({"ms": 10_000})));
    std::thread::sleep(Duration::from_millis(50));
    let cancel = r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":6}}"#;
    assert_eq!(c.send("POST", &[("Mcp-Session-Id", &sid)], cancel).status, 202);
    assert_eq!(c2.read().status, 204);
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
    let r = c.send(
        "POST",
        &[auth, ("Mcp-Session-Id", &sid)],
        r#"[{"jsonrpc":"2.0","id":3,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"}]"#,
    );
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
    assert_eq!(c.send("GET", &[("Mcp-Session-Id", &sid), ("Last-Event-ID", "x")], "").status, 400);
    assert_eq!(c.send("GET", &[("Mcp-Session-Id", &sid), ("Last-Event-ID", "99_0")], "").status, 400);
    drop(h);
}

#[test]
fn ping_client_over_sse() {
    let h = spawn_http(DemoOptions::default(), "127.0.0.1:0").unwrap();
    let mut c = Client::new(h.addr());
    let sid = init(&mut c);
    c.write("POST", &[("Mcp-Session-Id", &sid)], &call_body(9, "ping_client", json!({})));
    // The head and the first chunk (the server's ping request) arrive before the result.
    let head = c.read_head();
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    let first = c.chunk().unwrap();
    let data = first.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let ping: Value = serde_json::from_str(data).unwrap();
    assert_eq!(ping["method"], "ping");
    let mut c2 = Client::new(h.addr());
    let answer = json!({"jsonrpc":"2.0","id":ping["id"],"result":{}}).to_string();
    assert_eq!(c2.send("POST", &[("Mcp-Session-Id", &sid)], &answer).status, 202);
    let mut rest = String::new();
    while let Some(chunk) = c.chunk() {
        rest.push_str(&chunk);
    }
    assert!(rest.contains("pong"));
    h.shutdown();
}

#[test]
fn headers_tool_sees_the_post() {
    let h = spawn_http(DemoOptions::default(), "127.0.0.1:0").unwrap();
    let mut c = Client::new(h.addr());
    let sid = init(&mut c);
    let body = call_body(2, "headers", json!({}));
    let r = c.send("POST", &[("Mcp-Session-Id", &sid), ("X-Custom", "one"), ("x-custom", "two")], &body);
    let headers = &r.messages()[0]["result"]["structuredContent"]["headers"];
    assert_eq!(headers["x-custom"], "one, two");
    assert_eq!(headers["mcp-session-id"], sid.as_str());
    assert_eq!(headers["host"], "x");
    h.shutdown();
}

#[test]
fn shutdown_closes_connections_and_refuses_new_ones() {
    let opts = DemoOptions { never_initialize: true, ..Default::default() };
    let h = spawn_http(opts, "127.0.0.1:0").unwrap();
    let addr = h.addr();
    // An idle kept-alive connection and a POST that is never answered.
    let mut idle = Client::new(addr);
    let r = idle.send("POST", &[("Mcp-Session-Id", "none")], r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#);
    assert_eq!(r.status, 404);
    let mut waiting = Client::new(addr);
    waiting.write("POST", &[], INIT);
    waiting.w.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut b = [0u8; 1];
    assert!(waiting.r.read(&mut b).is_err(), "initialize gets no answer");
    waiting.w.set_read_timeout(Some(READ_LIMIT)).unwrap();
    let started = Instant::now();
    h.shutdown();
    assert!(idle.closed(), "the idle connection was closed");
    assert!(waiting.closed(), "the unanswered POST's connection was closed");
    assert!(started.elapsed() < READ_LIMIT);
    assert!(TcpStream::connect(addr).is_err(), "new connections are refused");
}

#[test]
fn many_connections_at_once_are_all_served_and_closed_at_shutdown() {
    let h = spawn_http(DemoOptions::default(), "127.0.0.1:0").unwrap();
    let shared = h.shared();
    // A burst of connections, each with a slow call in flight.
    let mut clients: Vec<Client> = (0..12).map(|_| Client::new(h.addr())).collect();
    let sid = init(&mut clients[0]);
    for (i, c) in clients.iter_mut().enumerate() {
        c.write("POST", &[("Mcp-Session-Id", &sid)], &call_body(10 + i as u64, "sleep", json!({"ms": 100})));
    }
    for c in &mut clients {
        assert_eq!(c.read().messages()[0]["result"]["content"][0]["text"], "slept 100 ms");
    }
    assert_eq!(shared.open_connections(), 12);
    for (i, c) in clients.iter_mut().enumerate() {
        c.write(
            "POST",
            &[("Mcp-Session-Id", &sid)],
            &call_body(30 + i as u64, "sleep", json!({"ms": 10_000})),
        );
    }
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    h.shutdown();
    assert_eq!(shared.open_connections(), 0, "shutdown waits for every connection thread");
    for mut c in clients {
        assert!(c.closed(), "the connections of running requests are closed");
    }
    assert!(started.elapsed() < READ_LIMIT);
}

#[test]
fn serial_runs_one_request_at_a_time_across_sessions() {
    let h = spawn_http(DemoOptions { serial: true, ..Default::default() }, "127.0.0.1:0").unwrap();
    let (mut a, mut b, mut ctl) = (Client::new(h.addr()), Client::new(h.addr()), Client::new(h.addr()));
    let sid_a = init(&mut a);
    let sid_b = init(&mut b);
    a.write("POST", &[("Mcp-Session-Id", &sid_a)], &call_body(1, "sleep", json!({"ms": 300})));
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    // Another session's ping waits for the sleep.
    let r = b.send("POST", &[("Mcp-Session-Id", &sid_b)], r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#);
    assert_eq!(r.messages()[0]["id"], 7);
    assert!(started.elapsed() >= Duration::from_millis(200), "ping overtook the sleep");
    assert!(a.read().messages()[0]["result"]["content"][0]["text"] == "slept 300 ms");
    // A queued request cancelled before its turn gets no reply; the running one is cancelled too.
    a.write("POST", &[("Mcp-Session-Id", &sid_a)], &call_body(2, "sleep", json!({"ms": 10_000})));
    std::thread::sleep(Duration::from_millis(50));
    b.write("POST", &[("Mcp-Session-Id", &sid_b)], r#"{"jsonrpc":"2.0","id":8,"method":"ping"}"#);
    std::thread::sleep(Duration::from_millis(50));
    let cancel =
        |id: u64| json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":id}});
    assert_eq!(ctl.send("POST", &[("Mcp-Session-Id", &sid_b)], &cancel(8).to_string()).status, 202);
    assert_eq!(b.read().status, 204, "the queued ping was dropped unanswered");
    assert_eq!(ctl.send("POST", &[("Mcp-Session-Id", &sid_a)], &cancel(2).to_string()).status, 202);
    assert_eq!(a.read().status, 204, "the running sleep was cancelled");
    let st =
        call(&mut ctl, &sid_a, 3, "stats", json!({})).messages()[0]["result"]["structuredContent"].clone();
    assert_eq!(st["peak_in_flight"], 1, "{st}");
    h.shutdown();
}

#[test]
fn hang_after_leaves_posts_unanswered() {
    let h = spawn_http(DemoOptions { hang_after: Some(1), ..Default::default() }, "127.0.0.1:0").unwrap();
    let mut c = Client::new(h.addr());
    let sid = init(&mut c);
    assert_eq!(call(&mut c, &sid, 2, "echo", json!({"message": "ok"})).status, 200);
    c.write("POST", &[("Mcp-Session-Id", &sid)], &call_body(3, "echo", json!({"message": "no"})));
    c.w.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut b = [0u8; 1];
    assert!(c.r.read(&mut b).is_err(), "no answer once hung");
    let mut other = Client::new(h.addr());
    other.write("POST", &[("Mcp-Session-Id", &sid)], r#"{"jsonrpc":"2.0","id":4,"method":"ping"}"#);
    other.w.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    assert!(other.r.read(&mut b).is_err(), "nothing is answered once hung");
    h.shutdown();
    c.w.set_read_timeout(Some(READ_LIMIT)).unwrap();
    assert!(c.closed());
}

#[test]
fn chunked_request_bodies_and_unknown_paths() {
    let h = spawn_http(DemoOptions::default(), "127.0.0.1:0").unwrap();
    let mut c = Client::new(h.addr());
    let raw = format!(
        "POST /mcp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{INIT}\r\n0\r\n\r\n",
        INIT.len()
    );
    c.w.write_all(raw.as_bytes()).unwrap();
    let r = c.read();
    assert_eq!(r.status, 200);
    assert!(r.header("mcp-session-id").is_some());
    c.w.write_all(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(c.read().status, 404);
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
