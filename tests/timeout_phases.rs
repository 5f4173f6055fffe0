//! Each phase of a call has its own timeout, reported as
//! `Error::Timeout { phase, .. }` with that phase: connect (a listening socket
//! whose backlog is full never completes the TCP handshake), initialize (a
//! server that reads but never answers: the era probe and `initialize`
//! share the connection timeout), write (a server that
//! stops reading stdin: its pipe fills), health check (a server that stops
//! answering `ping`). (The pool's use of failed health checks, eviction, is
//! tested in pool_faults.rs.)

mod common;

use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use common::{LOAD_MARGIN, bounded, session_options};
use mcpstore::{
    CallOptions, Error, HttpConfig, ProtocolChoice, Session, SessionOptions, StdioConfig, TimeoutPhase,
    TransportConfig,
};
use serde_json::json;

fn sh(script: &str) -> TransportConfig {
    TransportConfig::Stdio(StdioConfig::new("sh", ["-c", script]))
}

/// A server that answers `initialize` (whatever its id), then reads nothing
/// and answers nothing more.
const MUTE_AFTER_INITIALIZE: &str = r#"read -r line
id=$(printf '%s' "$line" | sed -n 's/.*"id":\([0-9]*\).*/\1/p')
printf '{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-11-25","capabilities":{"tools":{}},"serverInfo":{"name":"mute","version":"1"}}}\n' "$id"
exec sleep 60"#;

/// For [`MUTE_AFTER_INITIALIZE`]: it answers one message only, which the
/// era probe of `protocol: auto` would use up, so the era is named.
fn mute_options() -> SessionOptions {
    SessionOptions { protocol: ProtocolChoice::Version("2025-11-25".into()), ..session_options() }
}

fn options(connect: Duration) -> SessionOptions {
    SessionOptions { connection_timeout: connect, ..session_options() }
}

fn assert_phase<T: std::fmt::Debug>(got: mcpstore::Result<T>, phase: TimeoutPhase, limit: Duration) {
    match got {
        Err(Error::Timeout { phase: p, after, .. }) => {
            assert_eq!(p, phase, "after {after:?}");
            assert_eq!(after, limit, "the limit that ran out");
        }
        other => panic!("expected a {phase:?} timeout, got {other:?}"),
    }
}

/// A listener on 127.0.0.1 whose accept queue is full: further connection
/// attempts get no answer to their SYN, so connecting hangs.
fn full_backlog() -> (TcpListener, Vec<TcpStream>, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: changes the backlog of a socket this function owns.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    // Fill the queue until a connection attempt no longer completes.
    while held.len() < 64 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => held.push(s),
            Err(_) => return (listener, held, addr.port()),
        }
    }
    panic!("the accept queue never filled");
}

#[test]
fn connect_phase() {
    bounded(Duration::from_secs(60), || {
        let (_listener, _held, port) = full_backlog();
        let url = format!("http://127.0.0.1:{port}/mcp");
        let limit = Duration::from_millis(500);
        let started = Instant::now();
        let got = Session::connect("blackhole", &HttpConfig::new(url.as_str()).into(), options(limit));
        assert!(started.elapsed() < limit + LOAD_MARGIN, "{:?}", started.elapsed());
        assert_phase(got, TimeoutPhase::Connect, limit);
    });
}

#[test]
fn initialize_phase() {
    bounded(Duration::from_secs(60), || {
        let limit = Duration::from_millis(500);
        let started = Instant::now();
        let got = Session::connect("silent", &sh("read -r line; exec sleep 60"), options(limit));
        assert!(started.elapsed() < limit + LOAD_MARGIN, "{:?}", started.elapsed());
        assert_phase(got, TimeoutPhase::Initialize, limit);
    });
}

#[test]
fn write_phase() {
    bounded(Duration::from_secs(60), || {
        let write = Duration::from_millis(500);
        let options = SessionOptions { write_timeout: write, ..mute_options() };
        let s = Session::connect("mute", &sh(MUTE_AFTER_INITIALIZE), options).expect("initialized");
        // Requests of about 1 KB (below PIPE_BUF, so each is written whole or
        // not at all) from many threads: the server reads none, the 64 KiB pipe
        // fills, and the requests that find it full time out writing.
        let message = "x".repeat(1000);
        let results: Vec<mcpstore::Result<_>> = std::thread::scope(|scope| {
            let calls: Vec<_> = (0..100)
                .map(|_| {
                    scope.spawn(|| {
                        let opts =
                            CallOptions { timeout: Some(Duration::from_secs(3)), ..Default::default() };
                        s.call_tool("echo", json!({ "message": message }), &opts)
                    })
                })
                .collect();
            calls.into_iter().map(|c| c.join().unwrap()).collect()
        });
        let mut writes = 0;
        for r in results {
            match r {
                Err(Error::Timeout { phase: TimeoutPhase::Write, after, .. }) => {
                    assert_eq!(after, write);
                    writes += 1;
                }
                // Written, then never answered.
                Err(Error::Timeout { phase: TimeoutPhase::Response, .. }) => {}
                other => panic!("expected a write or response timeout, got {other:?}"),
            }
        }
        assert!(writes > 0, "100 KB cannot fit a 64 KiB pipe: some requests time out writing");
        assert!(
            !Error::Timeout { phase: TimeoutPhase::Write, after: write, detail: None }.may_have_run(),
            "never sent"
        );
    });
}

#[test]
fn health_check_phase() {
    bounded(Duration::from_secs(60), || {
        let limit = Duration::from_millis(300);
        // A server that answers nothing after initialize.
        let s = Session::connect("mute", &sh(MUTE_AFTER_INITIALIZE), mute_options()).expect("initialized");
        assert_phase(s.ping(limit), TimeoutPhase::HealthCheck, limit);
        // The demo server that hangs after its first call: it answered pings before.
        let demo = common::demo_stdio(&["--hang-after", "1"]).transport;
        let s = Session::connect("hangs", &demo, session_options()).expect("initialized");
        s.ping(Duration::from_secs(10)).expect("answers pings at first");
        common::core::call_ok(&s, "echo", json!({"message": "1"}));
        let quick = CallOptions { timeout: Some(limit), ..Default::default() };
        let hung = s.call_tool("echo", json!({"message": "2"}), &quick);
        assert!(matches!(hung, Err(Error::Timeout { phase: TimeoutPhase::Response, .. })), "{hung:?}");
        assert_phase(s.ping(limit), TimeoutPhase::HealthCheck, limit);
    });
}
