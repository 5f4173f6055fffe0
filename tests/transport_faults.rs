//! Transport faults: SIGPIPE from a server that exited, shutdown with pipes
//! held by a daemonized grandchild, ping replies to a server that does not
//! read, SSE streams that stay open or keep ending, HTTP error statuses and
//! body timeouts.
//!
//! The HTTP cases run against tiny raw HTTP servers written here with
//! `std::net`, so each fault is exact and deterministic.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{bounded, connect, demo_bin, unique};
use mcpstore::protocol::{Incoming, RequestId};
use mcpstore::transport::http::{HttpTransport, agent_for};
use mcpstore::transport::stdio::StdioTransport;
use mcpstore::transport::{Inbound, Outcome, OutgoingRequest, Transport};
use mcpstore::{Error, PoolConfig, TimeoutPhase, TransportConfig};
use parking_lot::Mutex;
use serde_json::{Value, json};

fn sh(script: &str, args: &[&str]) -> TransportConfig {
    let mut all = vec!["-c".to_owned(), script.to_owned()];
    all.extend(args.iter().map(|s| (*s).to_owned()));
    TransportConfig::Stdio { command: "sh".into(), args: all, env: BTreeMap::new(), cwd: None }
}

// ------------------------------------------------------------------ SIGPIPE (fix 1)

const SIGPIPE_CHILD: &str = "MCPSTORE_TEST_SIGPIPE_CHILD";

/// Runs only inside the child process started by the test below: with SIGPIPE
/// at its default action (as in a C or Go host), writes to a server whose stdin
/// has no reader any more. Without the library's protection the process dies.
#[test]
fn sigpipe_child() {
    if std::env::var_os(SIGPIPE_CHILD).is_none() {
        return;
    }
    // SAFETY: restores the default action, as a C program has it.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // The demo server gets stdin and exits on its first tools/call; `sleep`
    // keeps stdout open, so the library only learns of the exit by writing.
    // (An asynchronous command's stdin is /dev/null unless redirected: pass it on via fd 3.)
    let script = r#"exec 3<&0; "$0" --crash-after 0 <&3 3<&- & exec 0<&- 3<&-; exec sleep 20"#;
    let session = connect(&sh(script, &[demo_bin()]));
    let first = session.call_tool("echo", &json!({"message": "crash"}), Duration::from_millis(500), None);
    assert!(first.is_err(), "{first:?}");
    for _ in 0..3 {
        match session.call_tool("echo", &json!({"message": "again"}), Duration::from_secs(2), None) {
            Err(e @ Error::Closed { sent: false, .. }) => println!("write failed as it should: {e}"),
            other => panic!("expected a closed error, got {other:?}"),
        }
    }
    println!("SURVIVED");
}

#[test]
fn writing_to_an_exited_server_never_raises_sigpipe() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "sigpipe_child", "--nocapture", "--test-threads=1"])
        .env(SIGPIPE_CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("SURVIVED"),
        "child status {:?} (signal {:?})\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        out.status.signal(),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ------------------------------------------------------------------ stdio shutdown (fix 2)

#[test]
fn dropping_a_session_returns_while_a_daemonized_grandchild_holds_the_pipes() {
    let pidfile = std::env::temp_dir().join(unique("grandchild-pid"));
    let pidfile_str = pidfile.to_string_lossy().into_owned();
    // The grandchild leaves the process group (own session) and inherits stdout/stderr.
    let script = r#"setsid sleep 30 & echo $! > "$1"; exec "$0""#;
    let config = sh(script, &[demo_bin(), &pidfile_str]);
    let elapsed = bounded(Duration::from_secs(60), move || {
        let session = connect(&config);
        let r = session.call_tool("echo", &json!({"message": "hi"}), Duration::from_secs(10), None).unwrap();
        assert_eq!(r.text(), "hi");
        let started = Instant::now();
        drop(session);
        started.elapsed()
    });
    if let Some(pid) = std::fs::read_to_string(&pidfile).ok().and_then(|s| s.trim().parse::<i32>().ok()) {
        // SAFETY: ends the sleep this test started.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    let _ = std::fs::remove_file(&pidfile);
    assert!(elapsed < Duration::from_secs(5), "drop took {elapsed:?}");
}

// ------------------------------------------------------------------ ping replies (fix 8)

/// Answers pings, forwards responses.
struct PingAnswerer {
    responses: crossbeam_channel::Sender<i64>,
}

impl Inbound for PingAnswerer {
    fn on_message(&self, message: Incoming) -> Option<Vec<u8>> {
        match message {
            Incoming::Request { id, .. } => {
                let id = match id {
                    RequestId::Number(n) => json!(n),
                    RequestId::String(s) => json!(s),
                };
                let mut reply =
                    serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "result": {}})).unwrap();
                reply.push(b'\n');
                Some(reply)
            }
            Incoming::Response { id: RequestId::Number(n), .. } => {
                let _ = self.responses.send(n);
                None
            }
            _ => None,
        }
    }

    fn on_closed(&self, _error: Error) {}
}

/// A server that never reads stdin sends pings, then a response: each ping
/// reply blocks on the full pipe, which must not hold the response back long.
#[test]
fn unanswerable_pings_hold_routing_back_only_briefly() {
    let script = r#"sleep 1
for i in 1 2 3; do printf '{"jsonrpc":"2.0","id":"p%s","method":"ping"}\n' "$i"; done
printf '{"jsonrpc":"2.0","id":1,"result":{}}\n'
exec sleep 30"#;
    let (tx, rx) = crossbeam_channel::unbounded();
    let started = Instant::now();
    let transport =
        StdioTransport::spawn("pinger", &sh(script, &[]), Arc::new(PingAnswerer { responses: tx }), 1 << 20)
            .unwrap();
    // Fill the server's stdin pipe (small writes are atomic: all or nothing).
    for size in [1000, 1] {
        let mut body = vec![b' '; size - 1];
        body.push(b'\n');
        let mut n = 0;
        loop {
            match transport.send_message(&body, Duration::from_millis(20)) {
                Ok(()) => n += 1,
                Err(Error::Timeout { .. }) => break,
                Err(e) => panic!("filling the pipe: {e:?}"),
            }
            assert!(n < 1_000_000, "the pipe never filled");
        }
    }
    assert!(transport.is_open());
    let got = rx.recv_timeout(Duration::from_secs(30));
    let elapsed = started.elapsed();
    assert_eq!(got, Ok(1));
    // 1 s of sleep plus three ping replies that cannot be written.
    assert!(elapsed < Duration::from_secs(8), "response routed after {elapsed:?}");
    transport.close();
}

// ------------------------------------------------------------------ raw HTTP servers

struct RawRequest {
    method: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn rpc_id(&self) -> i64 {
        self.json()["id"].as_i64().unwrap_or(0)
    }
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<RawRequest> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let method = line.split_whitespace().next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(RawRequest { method, headers, body })
}

/// A server answering each request with `handler`, which returns whether to keep the connection.
struct RawServer {
    url: String,
    connections: Arc<AtomicUsize>,
}

fn raw_server(handler: impl Fn(&RawRequest, &mut TcpStream) -> bool + Send + Sync + 'static) -> RawServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    let handler = Arc::new(handler);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            count.fetch_add(1, Ordering::SeqCst);
            let handler = handler.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                while let Some(req) = read_request(&mut reader) {
                    if !handler(&req, &mut stream) {
                        break;
                    }
                }
            });
        }
    });
    RawServer { url, connections }
}

const SSE_CHUNKED: &str =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

fn chunk(data: &str) -> Vec<u8> {
    let mut c = format!("{:x}\r\n", data.len()).into_bytes();
    c.extend_from_slice(data.as_bytes());
    c.extend_from_slice(b"\r\n");
    c
}

fn response_event(id: i64, event_id: Option<&str>) -> String {
    let id_line = event_id.map(|e| format!("id: {e}\n")).unwrap_or_default();
    format!(
        "event: message\n{id_line}data: {{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{\"ok\":true}}}}\n\n"
    )
}

struct NoInbound;

impl Inbound for NoInbound {
    fn on_message(&self, _message: Incoming) -> Option<Vec<u8>> {
        None
    }

    fn on_closed(&self, _error: Error) {}
}

fn http(url: &str) -> HttpTransport {
    HttpTransport::new(agent_for(&PoolConfig::default()), url, &BTreeMap::new(), Arc::new(NoInbound), 1 << 20)
        .unwrap()
}

fn call(t: &HttpTransport, id: i64, params: Value, timeout: Duration) -> mcpstore::Result<Outcome> {
    let mut body = serde_json::to_vec(&json!({
        "jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params
    }))
    .unwrap();
    body.push(b'\n');
    let request = OutgoingRequest {
        id,
        method: "tools/call",
        body: &body,
        write_timeout: timeout,
        read_timeout: timeout,
    };
    t.send_request(&request).map(|o| o.expect("HTTP answers inline"))
}

fn assert_ok(outcome: mcpstore::Result<Outcome>) {
    match outcome {
        Ok(Ok(raw)) => assert_eq!(raw.get(), r#"{"ok":true}"#),
        other => panic!("expected a result, got {other:?}"),
    }
}

// ------------------------------------------------------------------ SSE drain (fix 3)

/// The server sends the response, then keeps the stream open with `: ping`
/// comments every 100 ms: the call returns at once, not after its timeout.
#[test]
fn sse_stream_kept_open_after_the_response_does_not_hold_the_call() {
    let server = raw_server(|req, s| {
        let mut head = SSE_CHUNKED.as_bytes().to_vec();
        head.extend(chunk(&response_event(req.rpc_id(), None)));
        if s.write_all(&head).is_err() {
            return false;
        }
        for _ in 0..300 {
            std::thread::sleep(Duration::from_millis(100));
            if s.write_all(&chunk(": ping\n\n")).is_err() {
                break;
            }
        }
        false
    });
    let t = http(&server.url);
    bounded(Duration::from_secs(60), move || {
        for id in 1..=3 {
            let started = Instant::now();
            assert_ok(call(&t, id, json!({}), Duration::from_secs(10)));
            let elapsed = started.elapsed();
            assert!(elapsed < Duration::from_secs(1), "call {id} took {elapsed:?}");
        }
    });
}

/// Connections go back to the keep-alive pool after a complete stream: with a
/// Content-Length (as the demo server sends) and chunked with the last chunk
/// written separately (as the MCP SDK servers do, with TCP_NODELAY).
#[test]
fn finished_sse_streams_keep_their_connection() {
    let sized = raw_server(|req, s| {
        let event = response_event(req.rpc_id(), Some("1"));
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\n\r\n{event}",
            event.len()
        );
        s.write_all(reply.as_bytes()).is_ok()
    });
    let chunked = raw_server(|req, s| {
        s.set_nodelay(true).unwrap();
        let mut head = SSE_CHUNKED.as_bytes().to_vec();
        head.extend(chunk(&response_event(req.rpc_id(), None)));
        if s.write_all(&head).and_then(|()| s.flush()).is_err() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
        s.write_all(LAST_CHUNK).is_ok()
    });
    for server in [&sized, &chunked] {
        let t = http(&server.url);
        for id in 1..=20 {
            assert_ok(call(&t, id, json!({}), Duration::from_secs(10)));
        }
        assert_eq!(server.connections.load(Ordering::SeqCst), 1, "{}", server.url);
    }
}

// ------------------------------------------------------------------ SSE resume (fix 4)

/// A server that ends every stream after one event (polling, `retry: 10`) and
/// answers on the ninth resumption: followed until the response.
#[test]
fn sse_resumes_continue_while_streams_bring_events() {
    let resumes = Arc::new(AtomicUsize::new(0));
    let rpc_id = Arc::new(Mutex::new(0_i64));
    let (r, id) = (resumes.clone(), rpc_id.clone());
    let server = raw_server(move |req, s| {
        let mut out = SSE_CHUNKED.as_bytes().to_vec();
        if req.method == "POST" {
            *id.lock() = req.rpc_id();
            out.extend(chunk("id: 0\nretry: 10\ndata: \n\n"));
        } else {
            assert!(req.header("last-event-id").is_some());
            let n = r.fetch_add(1, Ordering::SeqCst) + 1;
            if n < 9 {
                out.extend(chunk(&format!("id: {n}\ndata: \n\n")));
            } else {
                out.extend(chunk(&response_event(*id.lock(), Some("final"))));
            }
        }
        out.extend_from_slice(LAST_CHUNK);
        s.write_all(&out).is_ok()
    });
    let t = http(&server.url);
    assert_ok(call(&t, 7, json!({}), Duration::from_secs(10)));
    assert_eq!(resumes.load(Ordering::SeqCst), 9);
}

/// Resumed streams that bring nothing still end the wait after five tries.
#[test]
fn sse_resumes_that_bring_nothing_give_up() {
    let resumes = Arc::new(AtomicUsize::new(0));
    let r = resumes.clone();
    let server = raw_server(move |req, s| {
        let mut out = SSE_CHUNKED.as_bytes().to_vec();
        if req.method == "POST" {
            out.extend(chunk("id: 0\nretry: 10\ndata: \n\n"));
        } else {
            r.fetch_add(1, Ordering::SeqCst);
        }
        out.extend_from_slice(LAST_CHUNK);
        s.write_all(&out).is_ok()
    });
    let t = http(&server.url);
    match call(&t, 1, json!({}), Duration::from_secs(10)) {
        Err(Error::Closed { sent: true, .. }) => {}
        other => panic!("expected closed, got {other:?}"),
    }
    assert_eq!(resumes.load(Ordering::SeqCst), 5);
}

// ------------------------------------------------------------------ HTTP statuses (fix 6)

#[test]
fn error_statuses_tell_whether_the_request_may_have_run() {
    let server = raw_server(|req, s| {
        let status = req.json()["params"]["status"].as_u64().unwrap_or(500);
        let reply = format!("HTTP/1.1 {status} Whatever\r\nContent-Length: 4\r\nRetry-After: 3\r\n\r\nnope");
        s.write_all(reply.as_bytes()).is_ok()
    });
    let t = http(&server.url);
    let unprocessed = [400, 401, 403, 404, 405, 406, 408, 413, 415, 429, 503];
    let maybe_processed = [409, 422, 500, 501, 502, 504];
    for (status, expect_sent) in
        unprocessed.iter().map(|s| (*s, false)).chain(maybe_processed.iter().map(|s| (*s, true)))
    {
        match call(&t, 1, json!({"status": status}), Duration::from_secs(10)) {
            Err(Error::Transport { status: Some(got), sent, retry_after, .. }) => {
                assert_eq!(got, status);
                assert_eq!(sent, expect_sent, "HTTP {status}");
                assert_eq!(retry_after, Some(Duration::from_secs(3)), "HTTP {status}");
            }
            other => panic!("HTTP {status}: {other:?}"),
        }
    }
}

// ------------------------------------------------------------------ error details (fix 7)

#[test]
fn body_timeouts_carry_the_limit() {
    let server = raw_server(|req, s| {
        let head = if req.json()["params"]["sse"] == json!(true) {
            let mut out = SSE_CHUNKED.as_bytes().to_vec();
            out.extend(chunk(": working\n\n"));
            out
        } else {
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\""
                .to_vec()
        };
        let _ = s.write_all(&head);
        std::thread::sleep(Duration::from_secs(5));
        false
    });
    let t = http(&server.url);
    let limit = Duration::from_millis(400);
    for sse in [false, true] {
        match call(&t, 1, json!({"sse": sse}), limit) {
            Err(Error::Timeout { phase: TimeoutPhase::Response, after }) => {
                assert_eq!(after, limit, "sse {sse}")
            }
            other => panic!("sse {sse}: expected a timeout, got {other:?}"),
        }
    }
}

#[test]
fn a_refused_connection_was_not_sent() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let t = http(&format!("http://127.0.0.1:{port}/mcp"));
    match call(&t, 1, json!({}), Duration::from_secs(5)) {
        Err(Error::Transport { sent: false, .. }) => {}
        other => panic!("expected an unsent transport error, got {other:?}"),
    }
}
