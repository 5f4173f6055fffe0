//! The transport against a raw HTTP server on 127.0.0.1 that answers as the
//! test says: opening the stream, refusing what cannot work, POST statuses,
//! and closing while the reader is busy.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;

use super::*;
use crate::config::PoolConfig;
use crate::protocol::Incoming;
use crate::transport::http::agent_for;

/// What a clock bound may add to the limit it checks on a loaded machine.
const MARGIN: Duration = Duration::from_millis(1500);

/// A raw HTTP server: every GET is answered with `get_reply` and kept open
/// (until the server is dropped); every POST with `post_status`.
struct RawServer {
    url: String,
    post_status: Arc<AtomicU16>,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
}

impl RawServer {
    fn start(get_reply: &str) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let post_status = Arc::new(AtomicU16::new(202));
        let stop = Arc::new(AtomicBool::new(false));
        let (status, stopped, reply) = (post_status.clone(), stop.clone(), get_reply.to_owned());
        std::thread::spawn(move || {
            let mut held = Vec::new(); // open streams stay open until the server stops
            for conn in listener.incoming() {
                if stopped.load(Ordering::Acquire) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let status = status.clone();
                if let Some(stream) = answer(conn, &reply, &status) {
                    held.push(stream);
                }
            }
        });
        RawServer { url: format!("http://{addr}/sse"), post_status, stop, addr }
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
    }
}

/// Answers one request; returns a GET's connection, to be held open.
fn answer(conn: TcpStream, get_reply: &str, post_status: &AtomicU16) -> Option<TcpStream> {
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    let mut head = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let mut conn = conn;
    if head.starts_with("GET") {
        conn.write_all(get_reply.as_bytes()).ok()?;
        return Some(conn);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let status = post_status.load(Ordering::Acquire);
    // The server closes after each answer, so it says so: a client may reuse a
    // keep-alive connection it has not yet seen closed, and then meets a reset.
    let reply = format!("HTTP/1.1 {status} Whatever\r\ncontent-length: 4\r\nconnection: close\r\n\r\nnope");
    conn.write_all(reply.as_bytes()).ok()?;
    None
}

/// An event stream's head and events (close-delimited: no length).
fn stream(events: &str) -> String {
    format!("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n{events}")
}

/// Records what the reader hands over; `on_message` waits for `release` when given.
#[derive(Default)]
struct Probe {
    entered: Option<Sender<()>>,
    release: Option<Receiver<()>>,
    closed: Mutex<Option<Error>>,
}

impl Inbound for Probe {
    fn on_message(&self, _message: Incoming) -> Option<Vec<u8>> {
        if let (Some(entered), Some(release)) = (&self.entered, &self.release) {
            let _ = entered.send(());
            let _ = release.recv_timeout(Duration::from_secs(10));
        }
        None
    }

    fn on_closed(&self, error: Error) {
        *self.closed.lock() = Some(error);
    }

    fn on_stray(&self, _line: &str) {}
}

fn connect(url: &str, inbound: Arc<dyn Inbound>, timeout: Duration) -> Result<LegacySseTransport> {
    let agent = agent_for(&PoolConfig::default());
    LegacySseTransport::connect("t", agent, &HttpConfig::new(url), inbound, (timeout, 1 << 20), None)
}

#[test]
fn close_while_the_reader_is_busy_ends_it() {
    let server = RawServer::start(&stream(
        "event: endpoint\ndata: /m\n\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}\n\n",
    ));
    let (entered_tx, entered) = crossbeam_channel::bounded(1);
    let (release, release_rx) = crossbeam_channel::bounded(1);
    let probe =
        Arc::new(Probe { entered: Some(entered_tx), release: Some(release_rx), ..Default::default() });
    let transport = Arc::new(connect(&server.url, probe.clone(), Duration::from_secs(10)).expect("connect"));
    entered.recv_timeout(Duration::from_secs(10)).expect("the reader is handling the message");
    let closer = {
        let transport = transport.clone();
        std::thread::spawn(move || transport.close())
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !transport.interrupt.fired() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    // The interrupt fired while the reader was not reading: its next read must end it.
    release.send(()).expect("release the reader");
    closer.join().expect("close returns");
    let closed = probe.closed.lock().take().expect("the reader ended and closed the inbound side");
    assert!(closed.to_string().contains("session closed"), "{closed}");
    assert!(!transport.is_open());
}

#[test]
fn what_is_not_a_usable_stream_is_refused_before_anything_is_sent() {
    let cases = [
        ("HTTP/1.1 404 Not Found\r\ncontent-length: 4\r\n\r\ngone".to_owned(), "404"),
        (
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}".to_owned(),
            "not text/event-stream",
        ),
        (
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: 0\r\n\r\n".to_owned(),
            "ended before its endpoint event",
        ),
        (stream("event: endpoint\ndata: http://evil.example/m\n\n"), "another origin"),
    ];
    for (reply, expected) in cases {
        let server = RawServer::start(&reply);
        let e = connect(&server.url, Arc::new(Probe::default()), Duration::from_secs(10))
            .err()
            .unwrap_or_else(|| panic!("{expected}: connected"));
        assert!(e.to_string().contains(expected), "{expected}: {e}");
        assert!(!e.may_have_run(), "{expected}: {e:?}");
    }
}

#[test]
fn a_stream_without_its_endpoint_event_times_out_as_connect() {
    let server = RawServer::start(&stream(": waiting\n\n"));
    let limit = Duration::from_millis(300);
    let started = Instant::now();
    let e = connect(&server.url, Arc::new(Probe::default()), limit).err().expect("no endpoint event");
    assert!(matches!(e, Error::Timeout { phase: TimeoutPhase::Connect, .. }), "{e:?}");
    assert!(started.elapsed() < limit + MARGIN, "{:?}", started.elapsed());
}

#[test]
fn post_statuses_map_to_errors_that_say_whether_the_message_may_have_run() {
    let server = RawServer::start(&stream("event: endpoint\ndata: /m\n\n"));
    let transport =
        connect(&server.url, Arc::new(Probe::default()), Duration::from_secs(10)).expect("connect");
    let body = b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";
    transport.send_message(body, Duration::from_secs(5)).expect("202 Accepted");
    server.post_status.store(200, Ordering::Release);
    transport.send_message(body, Duration::from_secs(5)).expect("200 OK is accepted too");
    for (status, may_have_run) in [(400, false), (404, false), (500, true), (503, true)] {
        server.post_status.store(status, Ordering::Release);
        match transport.send_message(body, Duration::from_secs(5)) {
            Err(Error::Transport { status: Some(s), may_have_run: m, .. }) => {
                assert_eq!((s, m), (status, may_have_run), "{status}");
            }
            other => panic!("{status}: {other:?}"),
        }
    }
    transport.close();
    let e = transport.send_message(body, Duration::from_secs(5)).unwrap_err();
    assert!(matches!(e, Error::Closed { may_have_run: false, .. }), "{e:?}");
}
