//! The legacy HTTP+SSE transport (protocol 2024-11-05) against the official
//! Python SDK's server (tests/servers/python_sse_server.py), and the
//! automatic fallback to it: a service without a declared transport tries
//! Streamable HTTP and falls back only when the server refuses it.

mod common;

use std::time::{Duration, Instant};

use common::{LOAD_MARGIN, ServerProcess, bounded, eventually};
use mcpstore::{
    CallOptions, CancelToken, Error, HttpConfig, HttpTransportKind, Session, Store, TimeoutPhase,
    TransportConfig,
};
use serde_json::{Value, json};

use common::python_sse_on;

fn python_sse() -> ServerProcess {
    python_sse_on(0)
}

fn config(url: &str, transport: HttpTransportKind) -> TransportConfig {
    TransportConfig::Http(HttpConfig { transport, ..HttpConfig::new(url) })
}

fn legacy(url: &str) -> TransportConfig {
    config(url, HttpTransportKind::Sse)
}

fn connect_as(name: &str, transport: &TransportConfig) -> Session {
    Session::connect(name, transport, common::session_options()).unwrap_or_else(|e| panic!("connect: {e}"))
}

/// The JSON a tool answered with (the Python SDK returns a dict as text and structured content).
fn json_of(session: &Session, tool: &str) -> Value {
    let r =
        session.call_tool(tool, json!({}), &CallOptions::default()).unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(!r.is_error, "{}", r.to_json());
    serde_json::from_str(&r.text()).unwrap_or_else(|e| panic!("{tool} answered {}: {e}", r.text()))
}

fn count(stats: &Value, key: &str) -> u64 {
    stats[key].as_u64().unwrap_or(0)
}

#[test]
fn tools_over_legacy_sse_from_mcp_json() {
    bounded(Duration::from_secs(90), || {
        let server = python_sse();
        let text = json!({"mcpServers": {"py": {"url": server.ready, "transport": "sse",
            "headers": {"X-Test": "1"}}}})
        .to_string();
        let store = Store::builder().pool(common::test_pool()).build().expect("store");
        store.load_json(&text).expect("load mcp.json");
        let not_ready = store.wait_ready(Duration::from_secs(30));
        assert!(not_ready.is_empty(), "{:?}", not_ready.iter().map(|s| &s.last_error).collect::<Vec<_>>());
        assert_eq!(store.service_config("py").unwrap().transport.kind(), "sse");

        let mut tools: Vec<String> =
            store.list_tools(Some("py")).unwrap().into_iter().map(|(_, t)| t.name.clone()).collect();
        tools.sort_unstable();
        assert_eq!(
            tools,
            [
                "add",
                "add_tool_later",
                "add_tool_silently",
                "ask_model",
                "ask_user",
                "echo",
                "http_requests",
                "slow",
                "stats"
            ]
        );
        let r = store.call_tool("py.echo", json!({"message": "over legacy SSE"})).unwrap();
        assert!(!r.is_error, "{}", r.to_json());
        assert_eq!(r.text(), "over legacy SSE");
        assert_eq!(store.call_tool("py.add", json!({"a": 2, "b": 40})).unwrap().text(), "42");
        match store.call_tool("py.add", json!({"a": 2})) {
            Ok(r) => assert!(r.is_error, "a missing argument is an error: {}", r.to_json()),
            Err(Error::Rpc { .. }) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }

        // Every request carried the configured header: the GET and every POST.
        let seen: Value =
            serde_json::from_str(&store.call_tool("py.http_requests", json!({})).unwrap().text())
                .expect("http_requests JSON");
        let total: u64 = seen
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| *k != "with x-test")
            .map(|(_, v)| v.as_u64().unwrap())
            .sum();
        assert!(count(&seen, "GET /sse") >= 1, "{seen}");
        assert_eq!(
            count(&seen, "POST /sse"),
            0,
            "a declared sse service never probes Streamable HTTP: {seen}"
        );
        assert_eq!(count(&seen, "with x-test"), total, "{seen}");
    });
}

#[test]
fn a_session_reports_its_transport_and_the_server() {
    bounded(Duration::from_secs(60), || {
        let server = python_sse();
        let s = connect_as("info", &legacy(&server.ready));
        assert_eq!(s.transport_kind(), "sse");
        let info = s.server_info().expect("initialize result");
        assert_eq!(info.server_info.name, "mcpstore-test-python-sse");
        s.ping(Duration::from_secs(10)).expect("ping");
        s.close();
        assert!(!s.is_alive());
        let e = s.call_tool("echo", json!({"message": "x"}), &CallOptions::default()).unwrap_err();
        assert!(matches!(e, Error::Closed { .. }), "{e:?}");
    });
}

#[test]
fn eight_threads_share_one_session() {
    bounded(Duration::from_secs(90), || {
        let server = python_sse();
        let s = connect_as("eight", &legacy(&server.ready));
        std::thread::scope(|scope| {
            for t in 0..8i64 {
                let s = &s;
                scope.spawn(move || {
                    for i in 0..20i64 {
                        let r = s.call_tool("add", json!({"a": t, "b": i}), &CallOptions::default()).unwrap();
                        assert_eq!(r.text(), (t + i).to_string());
                    }
                });
            }
        });
        // Eight slow calls wait on the one stream at the same time (responses routed by id).
        std::thread::scope(|scope| {
            let calls: Vec<_> = (0..8)
                .map(|_| {
                    let s = &s;
                    scope.spawn(move || s.call_tool("slow", json!({"ms": 1500}), &CallOptions::default()))
                })
                .collect();
            eventually(Duration::from_secs(10), "8 requests in flight on one session", || {
                s.pending_requests() == 8
            });
            for c in calls {
                assert_eq!(c.join().unwrap().unwrap().text(), "slept 1500ms");
            }
        });
        assert_eq!(s.pending_requests(), 0);
        s.close();
    });
}

#[test]
fn a_call_timeout_leaves_the_session_usable() {
    bounded(Duration::from_secs(60), || {
        let server = python_sse();
        let s = connect_as("timeout", &legacy(&server.ready));
        let limit = Duration::from_millis(300);
        let options = CallOptions { timeout: Some(limit), ..Default::default() };
        let started = Instant::now();
        let r = s.call_tool("slow", json!({"ms": 20_000}), &options);
        let took = started.elapsed();
        assert!(matches!(r, Err(Error::Timeout { phase: TimeoutPhase::Response, .. })), "{r:?}");
        assert!(took < limit + LOAD_MARGIN, "the timeout fired after {took:?}");
        assert!(s.is_alive());
        let r = s.call_tool("echo", json!({"message": "still here"}), &CallOptions::default()).unwrap();
        assert_eq!(r.text(), "still here");
        // The server was told to stop (notifications/cancelled on timeout).
        let mut last = Value::Null;
        let told = common::wait_until(Duration::from_secs(10), || {
            last = json_of(&s, "stats");
            count(&last, "cancelled") == 1
        });
        assert!(told, "the server stopped the timed-out call: {last}");
        assert_eq!(count(&last, "finished"), 0, "{last}");
    });
}

#[test]
fn a_cancel_token_stops_a_slow_call_at_once() {
    bounded(Duration::from_secs(60), || {
        let server = python_sse();
        let s = connect_as("cancel", &legacy(&server.ready));
        let token = CancelToken::new();
        let options = CallOptions { cancel: Some(token.clone()), ..Default::default() };
        let (r, cancelled_at, returned) = std::thread::scope(|scope| {
            let call = {
                let s = &s;
                scope.spawn(move || {
                    let r = s.call_tool("slow", json!({"ms": 30_000}), &options);
                    (r, Instant::now())
                })
            };
            eventually(Duration::from_secs(10), "the slow call running on the server", || {
                count(&json_of(&s, "stats"), "started") == 1
            });
            let at = Instant::now();
            token.cancel();
            let (r, returned) = call.join().unwrap();
            (r, at, returned)
        });
        assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
        let took = returned.duration_since(cancelled_at);
        assert!(took < LOAD_MARGIN, "returned {took:?} after the cancel");
        let mut last = Value::Null;
        let told = common::wait_until(Duration::from_secs(10), || {
            last = json_of(&s, "stats");
            count(&last, "cancelled") == 1
        });
        assert!(told, "the server was told and stopped the call: {last}");
        assert_eq!(s.call_tool("add", json!({"a": 1, "b": 1}), &CallOptions::default()).unwrap().text(), "2");
    });
}

#[test]
fn close_ends_the_reader_thread() {
    bounded(Duration::from_secs(60), || {
        let server = python_sse();
        // Thread names are cut to 15 bytes in /proc: "mcps-sse-close1" fits.
        let s = connect_as("close1", &legacy(&server.ready));
        assert!(common::library_threads().iter().any(|n| n == "mcps-sse-close1"));
        s.close();
        // close() joins the reader: its blocked read was interrupted.
        assert!(!common::library_threads().iter().any(|n| n == "mcps-sse-close1"));
    });
}

#[test]
fn a_killed_server_closes_its_sessions_and_the_pool_replaces_them() {
    bounded(Duration::from_secs(120), || {
        let mut server = python_sse();
        let url = server.ready.clone();
        let port: u16 = url.rsplit(':').next().and_then(|p| p.split('/').next()).unwrap().parse().unwrap();
        let store = common::store_with("py", mcpstore::ServiceConfig::new(legacy(&url)));
        assert_eq!(store.call_tool("py.echo", json!({"message": "before"})).unwrap().text(), "before");
        let direct = connect_as("direct", &legacy(&url));

        server.kill();
        eventually(Duration::from_secs(10), "the session sees its stream end", || !direct.is_alive());
        let e = direct.call_tool("echo", json!({"message": "x"}), &CallOptions::default()).unwrap_err();
        assert!(matches!(&e, Error::Closed { .. }), "{e:?}");
        assert!(e.to_string().contains("SSE stream"), "a clear reason: {e}");

        let _restarted = python_sse_on(port);
        let mut last = String::new();
        let recovered = common::wait_until(Duration::from_secs(30), || {
            match store.call_tool("py.echo", json!({"message": "after"})) {
                Ok(r) => r.text() == "after",
                Err(e) => {
                    last = e.to_string();
                    false
                }
            }
        });
        assert!(recovered, "the store reaches the restarted server; last error: {last}");
        assert!(store.pool_stats()["py"].created >= 2, "a new session was opened");
    });
}

#[test]
fn auto_falls_back_to_legacy_sse_and_remembers_it() {
    bounded(Duration::from_secs(60), || {
        let server = python_sse();
        let auto = config(&server.ready, HttpTransportKind::Auto);
        let first = connect_as("auto1", &auto);
        assert_eq!(first.transport_kind(), "sse");
        let r = first.call_tool("echo", json!({"message": "fell back"}), &CallOptions::default()).unwrap();
        assert_eq!(r.text(), "fell back");
        let seen = json_of(&first, "http_requests");
        // The era probe (server/discover) and initialize, both refused with 405.
        assert_eq!(count(&seen, "POST /sse"), 2, "two Streamable HTTP POSTs, refused with 405: {seen}");

        // A later session of the same URL goes straight to the legacy transport.
        let second = connect_as("auto2", &auto);
        assert_eq!(second.transport_kind(), "sse");
        let seen = json_of(&second, "http_requests");
        assert_eq!(count(&seen, "POST /sse"), 2, "no second probe: {seen}");
        assert_eq!(count(&seen, "GET /sse"), 2, "{seen}");

        // Streamable HTTP only: the refusal is the error, no fallback.
        let e = Session::connect(
            "strict",
            &config(&server.ready, HttpTransportKind::StreamableHttp),
            common::session_options(),
        )
        .unwrap_err();
        assert!(matches!(e, Error::Transport { status: Some(405), .. }), "{e:?}");
        first.close();
        second.close();
    });
}

#[test]
fn auto_stays_on_streamable_http() {
    bounded(Duration::from_secs(60), || {
        let server = mcpstore_demo_server::spawn_http(Default::default(), "127.0.0.1:0").expect("demo http");
        let s = connect_as("auto-http", &config(&server.url(), HttpTransportKind::Auto));
        assert_eq!(s.transport_kind(), "streamable-http");
        let r = s.call_tool("echo", json!({"message": "streamable"}), &CallOptions::default()).unwrap();
        assert_eq!(r.text(), "streamable");
        s.close();
    });
}

#[test]
fn auto_reports_both_failures_when_the_url_is_wrong() {
    bounded(Duration::from_secs(60), || {
        let server = python_sse();
        let wrong = server.ready.replace("/sse", "/nowhere");
        let e =
            Session::connect("wrong", &config(&wrong, HttpTransportKind::Auto), common::session_options())
                .unwrap_err();
        assert!(matches!(e, Error::Transport { status: Some(404), may_have_run: false, .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("opening the SSE stream") && text.contains("Streamable HTTP was refused"),
            "{text}"
        );
    });
}
