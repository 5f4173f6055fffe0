//! Transport faults: ping replies to a server that does not read, SSE
//! streams that stay open or keep ending, HTTP error statuses and body
//! timeouts. (SIGPIPE and shutdown faults, seen through a session, are in
//! `session/stdio_fault_tests.rs`.)
//!
//! The HTTP cases run against tiny raw HTTP servers written here with
//! `std::net`, so each fault is exact and deterministic.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::{Value, json};

use super::HttpTransport;
use super::http::agent_for;
use super::stdio::StdioTransport;
use super::{Inbound, Outcome, OutgoingRequest, Transport};
use crate::config::{HttpConfig, PoolConfig, StdioConfig};
use crate::error::{Error, TimeoutPhase};
use crate::protocol::{Incoming, RequestId};

pub(super) fn sh(script: &str, args: &[&str]) -> StdioConfig {
    let mut all = vec!["-c".to_owned(), script.to_owned()];
    all.extend(args.iter().map(|s| (*s).to_owned()));
    StdioConfig::new("sh", all)
}

/// Runs `f` on its own thread and fails the test if it has not returned within `limit`.
pub(super) fn bounded<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(v)) => v,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("test body did not finish within {limit:?} (hang?)"),
    }
}

// ------------------------------------------------------------------ ping replies (fix 8)

/// Answers pings, forwards responses.
pub(super) struct PingAnswerer {
    pub(super) responses: crossbeam_channel::Sender<i64>,
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

    fn on_stray(&self, _line: &str) {}
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
    // 1 s of sleep plus three ping replies that cannot be written (1 s each at
    // most), plus a margin for load; never held until the server's 30 s sleep ends.
    assert!(
        elapsed < Duration::from_secs(4) + Duration::from_millis(1500),
        "response routed after {elapsed:?}"
    );
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

    fn on_stray(&self, _line: &str) {}
}

fn http(url: &str) -> HttpTransport {
    HttpTransport::new(agent_for(&PoolConfig::default()), &HttpConfig::new(url), Arc::new(NoInbound), 1 << 20)
        .unwrap()
}

fn call(t: &HttpTransport, id: i64, params: Value, timeout: Duration) -> crate::error::Result<Outcome> {
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
        interrupt: None,
        name: None,
        headers: &[],
    };
    t.send_request(&request).map(|o| o.expect("HTTP answers inline"))
}

fn assert_ok(outcome: crate::error::Result<Outcome>) {
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
        let read_timeout = Duration::from_secs(20);
        for id in 1..=3 {
            let started = Instant::now();
            assert_ok(call(&t, id, json!({}), read_timeout));
            let elapsed = started.elapsed();
            // Held by the open stream, the call would last until the read timeout
            // (20 s) or the stream's end (30 s); it returns with the response.
            assert!(elapsed < Duration::from_secs(5), "call {id} took {elapsed:?}");
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
        Err(Error::Closed { may_have_run: true, .. }) => {}
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
    // 408 and 503 may come after the tool ran (a proxy in front of a slow tool): may have run.
    let unprocessed = [400, 401, 403, 404, 405, 406, 413, 415, 429];
    let maybe_processed = [408, 409, 422, 500, 501, 502, 503, 504];
    for (status, expect_sent) in
        unprocessed.iter().map(|s| (*s, false)).chain(maybe_processed.iter().map(|s| (*s, true)))
    {
        match call(&t, 1, json!({"status": status}), Duration::from_secs(10)) {
            Err(Error::Transport { status: Some(got), may_have_run, retry_after, .. }) => {
                assert_eq!(got, status);
                assert_eq!(may_have_run, expect_sent, "HTTP {status}");
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
            Err(Error::Timeout { phase: TimeoutPhase::Response, after, detail: None }) => {
                assert_eq!(after, limit, "sse {sse}")
            }
            other => panic!("sse {sse}: expected a timeout, got {other:?}"),
        }
    }
}

/// A port held by a socket bound without listening: connections to it are
/// refused, and no other process can take it while the descriptor is open
/// (a port picked free and closed could be taken before it is used).
fn refusing_port() -> (std::os::fd::OwnedFd, u16) {
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: plain socket calls on a descriptor this function owns, with
    // initialized address structures of the sizes passed.
    unsafe {
        let raw = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
        let fd = std::os::fd::OwnedFd::from_raw_fd(raw);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), len), 0, "bind");
        assert_eq!(libc::getsockname(fd.as_raw_fd(), (&raw mut addr).cast(), &mut len), 0, "getsockname");
        (fd, u16::from_be(addr.sin_port))
    }
}

#[test]
fn a_refused_connection_was_not_sent() {
    let (_held, port) = refusing_port();
    let t = http(&format!("http://127.0.0.1:{port}/mcp"));
    match call(&t, 1, json!({}), Duration::from_secs(5)) {
        Err(Error::Transport { may_have_run: false, .. }) => {}
        other => panic!("expected an unsent transport error, got {other:?}"),
    }
}
