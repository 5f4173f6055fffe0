//! The core checks against the demo server, shared by `core_stdio.rs` and
//! `core_http.rs` (each runs them over its own transport).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use mcpstore::{CallOptions, Error, Session, TimeoutPhase, TransportConfig};
use serde_json::{Value, json};

use super::{
    DemoHttp, HANDSHAKE_ERA, LOAD_MARGIN, STATELESS_ERA, TempDir, connect, connect_pinned, demo_http,
    demo_stdio, eventually, is_stateless, try_connect,
};

/// The transport a check runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Stdio,
    /// Streamable HTTP, replies as SSE streams.
    HttpSse,
    /// Streamable HTTP, replies as one JSON body (`--json`).
    HttpJson,
}

/// A demo server for `target` started with `args`; keep the guard alive while using it.
pub struct Demo {
    pub transport: TransportConfig,
    pub http: Option<DemoHttp>,
}

impl Demo {
    pub fn start(target: Target, args: &[&str]) -> Demo {
        match target {
            Target::Stdio => Demo { transport: demo_stdio(args).transport, http: None },
            Target::HttpSse | Target::HttpJson => {
                let mut all: Vec<&str> = args.to_vec();
                if target == Target::HttpJson {
                    all.push("--json");
                }
                let http = demo_http(&all);
                Demo { transport: http.transport(), http: Some(http) }
            }
        }
    }

    pub fn connect(&self) -> Session {
        connect(&self.transport)
    }

    pub fn config(&self) -> mcpstore::ServiceConfig {
        mcpstore::ServiceConfig::new(self.transport.clone())
    }
}

pub const CALL: Duration = Duration::from_secs(20);

/// Calls a tool on a session with the default test timeout.
pub fn call(s: &Session, tool: &str, args: Value) -> mcpstore::Result<mcpstore::ToolResult> {
    s.call_tool(tool, args, &CallOptions { timeout: Some(CALL), ..Default::default() })
}

pub fn call_ok(s: &Session, tool: &str, args: Value) -> mcpstore::ToolResult {
    let r = call(s, tool, args.clone()).unwrap_or_else(|e| panic!("{tool} {args} failed: {e}"));
    assert!(!r.is_error, "{tool} {args} reported a tool error: {}", r.to_json());
    r
}

/// The demo server's tools, in `tools/list` order.
pub const DEMO_TOOLS: [&str; 25] = [
    "echo",
    "add",
    "read_file",
    "list_directory",
    "sleep",
    "fail",
    "counter",
    "stats",
    "reset_stats",
    "mixed_content",
    "big",
    "ping_client",
    "log",
    "add_tool",
    "notify_list_changed",
    "env",
    "env_names",
    "cwd",
    "headers",
    "write_note",
    "ask_model",
    "ask_user",
    "list_roots",
    "notify_later",
    "drop_listen_streams",
];

/// The start of a session in each era: `auto` finds the stateless era
/// (`server/discover`), a pinned 2025-11-25 does the `initialize` handshake;
/// both describe the same server.
pub fn handshake(target: Target) {
    let demo = Demo::start(target, &[]);
    let auto = demo.connect();
    assert_eq!(auto.server_info().expect("server info").protocol_version, STATELESS_ERA);
    assert_eq!(auto.server_info().unwrap().server_info.name, "mcpstore-demo-server");
    auto.ping(CALL).expect("server/discover as the health check");
    auto.close();
    let s = connect_pinned(&demo.transport, HANDSHAKE_ERA);
    let info = s.server_info().expect("server info after connect");
    assert_eq!(info.server_info.name, "mcpstore-demo-server");
    assert_eq!(info.server_info.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(info.protocol_version, HANDSHAKE_ERA);
    assert!(info.tools_list_changed(), "{:?}", info.capabilities);
    assert!(info.instructions.as_deref().unwrap_or("").contains("demo server"));
    assert!(s.is_alive());
    let expected_kind = if target == Target::Stdio { "stdio" } else { "streamable-http" };
    assert_eq!(s.transport_kind(), expected_kind);
    s.ping(CALL).expect("ping");
    s.close();
    assert!(!s.is_alive());
    let err = call(&s, "echo", json!({"message": "after close"})).unwrap_err();
    assert!(matches!(err, Error::Closed { .. }), "{err:?}");
}

pub fn list_tools(target: Target) {
    for args in [&[][..], &["--page-size", "2"][..]] {
        let demo = Demo::start(target, args);
        let s = demo.connect();
        let tools = s.list_tools().expect("tools/list");
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, DEMO_TOOLS, "args {args:?}");
        let add = &tools[1];
        assert_eq!(add.title.as_deref(), Some("Add two numbers"));
        assert!(add.is_read_only() && add.is_retry_safe());
        assert!(add.output_schema.is_some());
        assert_eq!(add.input_schema["required"], json!(["a", "b"]));
        assert!(!tools[0].is_retry_safe(), "echo is neither read-only nor idempotent");
    }
}

pub fn every_tool(target: Target) {
    let root = TempDir::new("mcps-root");
    std::fs::write(root.path().join("a.txt"), "alpha\nbeta\n").unwrap();
    std::fs::write(root.path().join("b.txt"), "").unwrap();
    std::fs::create_dir(root.path().join("sub")).unwrap();
    let root_arg = root.str();
    let demo = Demo::start(target, &["--root", &root_arg]);
    let s = demo.connect();

    assert_eq!(call_ok(&s, "echo", json!({"message": "héllo ✓"})).text(), "héllo ✓");
    let sum = call_ok(&s, "add", json!({"a": 2, "b": 3}));
    assert_eq!(sum.text(), "5");
    assert_eq!(sum.structured_content, Some(json!({"sum": 5})));
    assert_eq!(call_ok(&s, "add", json!({"a": 1.5, "b": 1})).text(), "2.5");
    assert_eq!(call_ok(&s, "read_file", json!({"path": "a.txt"})).text(), "alpha\nbeta\n");
    let listing = call_ok(&s, "list_directory", json!({"path": "."})).text();
    let mut lines: Vec<&str> = listing.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["[DIR] sub", "[FILE] a.txt", "[FILE] b.txt"]);
    assert_eq!(call_ok(&s, "sleep", json!({"ms": 10})).text(), "slept 10 ms");
    let failed = call(&s, "fail", json!({"message": "boom"})).unwrap();
    assert!(failed.is_error);
    assert_eq!(failed.text(), "boom");
    assert_eq!(call_ok(&s, "counter", json!({})).text(), "1");
    assert_eq!(call_ok(&s, "counter", json!({})).text(), "2");
    let stats = call_ok(&s, "stats", json!({})).structured_content.expect("stats structuredContent");
    assert!(stats["calls"].as_u64().unwrap() >= 8, "{stats}");
    assert_eq!(stats["in_flight"], 0);
    assert_eq!(call_ok(&s, "reset_stats", json!({})).text(), "stats reset");
    let stats = call_ok(&s, "stats", json!({})).structured_content.unwrap();
    assert_eq!(stats["calls"], 0, "{stats}");
    let big = call_ok(&s, "big", json!({"bytes": 300_000})).text();
    assert_eq!(big.len(), 300_000);
    assert!(big.bytes().all(|b| b == b'x'));
    assert_eq!(call_ok(&s, "log", json!({"level": "warning", "message": "from the tests"})).text(), "logged");
    assert_eq!(call_ok(&s, "add_tool", json!({"name": "extra_one"})).text(), "added tool extra_one");
    assert_eq!(call_ok(&s, "extra_one", json!({"message": "via extra"})).text(), "via extra");
    assert_eq!(call_ok(&s, "notify_list_changed", json!({})).text(), "notified");
    if target == Target::HttpJson || is_stateless(&s) {
        // No stream to carry the server's request, or (2026-07-28) no server
        // requests at all: the demo says so as a tool error.
        assert!(call(&s, "ping_client", json!({})).unwrap().is_error);
    } else {
        assert_eq!(call_ok(&s, "ping_client", json!({})).text(), "pong");
    }
    mixed_content_on(&s);
    assert!(s.list_tools().unwrap().iter().any(|t| t.name == "extra_one"));
}

pub fn mixed_content_on(s: &Session) {
    let r = call_ok(s, "mixed_content", json!({}));
    let mut expected = json!({
        "content": [
            {"type": "text", "text": "plain text"},
            {"type": "image", "data": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=",
             "mimeType": "image/png", "annotations": {"audience": ["user"], "priority": 0.5}},
            {"type": "audio", "data": "UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQgAAACAoMCggGBAYA==",
             "mimeType": "audio/wav"},
            {"type": "resource_link", "uri": "file:///demo/readme.txt", "name": "readme.txt",
             "title": "Demo readme", "description": "A linked resource", "mimeType": "text/plain"},
            {"type": "resource", "resource": {"uri": "demo://embedded/hello",
             "mimeType": "text/plain", "text": "hello from an embedded resource"}},
        ],
        "structuredContent": {"kinds": ["text", "image", "audio", "resource_link", "resource"], "count": 5},
        "_meta": {"demo": true},
    });
    if is_stateless(s) {
        // A 2026-07-28 result says its kind; the library keeps the field.
        expected["resultType"] = json!("complete");
    }
    assert_eq!(r.to_value(), expected);
    assert_eq!(serde_json::from_str::<Value>(&r.to_json()).unwrap(), expected);
    assert_eq!(r.content.len(), 5);
    assert_eq!(r.meta, Some(json!({"demo": true})));
    assert_eq!(r.text(), "plain text");
}

pub fn tool_errors(target: Target) {
    let root = TempDir::new("mcps-root");
    let root_arg = root.str();
    let demo = Demo::start(target, &["--root", &root_arg]);
    let s = demo.connect();
    let r = call(&s, "fail", json!({})).expect("a tool error is a result");
    assert!(r.is_error);
    assert_eq!(r.text(), "failed as requested");
    let r = call(&s, "read_file", json!({"path": "/etc/hostname"})).unwrap();
    assert!(r.is_error, "{}", r.to_json());
    assert!(r.text().contains("outside the server root"), "{}", r.text());
    let r = call(&s, "read_file", json!({"path": "missing.txt"})).unwrap();
    assert!(r.is_error);
    // The session is unharmed.
    assert_eq!(call_ok(&s, "echo", json!({"message": "still here"})).text(), "still here");
}

pub fn rpc_errors(target: Target) {
    let demo = Demo::start(target, &[]);
    let s = demo.connect();
    match call(&s, "nope", json!({})) {
        Err(Error::Rpc { code, message, .. }) => {
            assert_eq!(code, -32602);
            assert_eq!(message, "Unknown tool: nope");
        }
        other => panic!("expected an Rpc error, got {other:?}"),
    }
    match call(&s, "echo", json!({})) {
        Err(e @ Error::Rpc { .. }) => {
            assert_eq!(e.rpc_code(), Some(-32602));
            let Error::Rpc { message, .. } = &e else { unreachable!() };
            assert!(message.contains("\"message\""), "{message}");
            assert_eq!(e.code() as i32, 301);
        }
        other => panic!("expected an Rpc error, got {other:?}"),
    }
    match call(&s, "add", json!({"a": "two", "b": 3})) {
        Err(Error::Rpc { code, message, .. }) => {
            assert_eq!(code, -32602);
            assert!(message.contains("\"a\""), "{message}");
        }
        other => panic!("expected an Rpc error, got {other:?}"),
    }
    match s.request_json("no/such/method", None, &CallOptions { timeout: Some(CALL), ..Default::default() }) {
        Err(Error::Rpc { code, message, .. }) => {
            assert_eq!(code, -32601);
            assert!(message.contains("no/such/method"), "{message}");
        }
        other => panic!("expected an Rpc error, got {other:?}"),
    }
    assert_eq!(call_ok(&s, "echo", json!({"message": "ok"})).text(), "ok");
}

/// 8 threads × 200 calls on one session; every reply matches its request.
pub fn concurrent_calls(target: Target) {
    let demo = Demo::start(target, &[]);
    let s = demo.connect();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    let msg = format!("t{t}-call{i}-{}", "x".repeat(i % 7));
                    let r = call(&s, "echo", json!({ "message": msg }))
                        .unwrap_or_else(|e| panic!("thread {t} call {i}: {e}"));
                    assert_eq!(r.text(), msg, "a reply went to the wrong request");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("caller thread panicked");
    }
    let stats = call_ok(&s, "stats", json!({})).structured_content.unwrap();
    assert_eq!(stats["calls"], 1600, "{stats}");
    if target == Target::Stdio {
        assert_eq!(s.pending_requests(), 0);
    }
}

/// A response timeout fires at its limit (not early, and within the limit plus
/// a margin for a loaded machine) and the session stays usable.
pub fn timeout_keeps_session(target: Target) {
    let demo = Demo::start(target, &[]);
    let s = demo.connect();
    let limit = Duration::from_millis(300);
    let started = Instant::now();
    let err = s
        .call_tool("sleep", json!({"ms": 5000}), &CallOptions { timeout: Some(limit), ..Default::default() })
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, Error::Timeout { phase: TimeoutPhase::Response, .. }), "{err:?}");
    assert!(took >= limit, "timed out early: {took:?}");
    assert!(took < limit + LOAD_MARGIN, "timeout fired late: {took:?}");
    assert!(s.is_alive());
    assert_eq!(call_ok(&s, "echo", json!({"message": "after"})).text(), "after");
    // The client told the server it gave up (notifications/cancelled).
    eventually(Duration::from_secs(5), "the server to count the cancellation", || {
        let st = call_ok(&s, "stats", json!({})).structured_content.unwrap();
        st["cancelled"].as_u64().unwrap_or(0) >= 1 && st["in_flight"] == 0
    });
}

/// `--crash-after 2`: the third call fails with an error (not a hang).
pub fn crash_mid_call(target: Target) {
    let demo = Demo::start(target, &["--crash-after", "2"]);
    let s = demo.connect();
    call_ok(&s, "echo", json!({"message": "1"}));
    call_ok(&s, "echo", json!({"message": "2"}));
    // Noticed at the crash, not at the call's timeout (that would be Error::Timeout).
    let err = call(&s, "echo", json!({"message": "3"})).unwrap_err();
    assert!(matches!(err, Error::Closed { .. } | Error::Transport { .. }), "{err:?}");
    assert!(err.may_have_run(), "the request was sent: {err:?}");
    if target == Target::Stdio {
        assert!(!s.is_alive());
        let msg = err.to_string();
        assert!(msg.contains("exited"), "{msg}");
    }
    // Later calls fail fast too.
    let err = call(&s, "echo", json!({"message": "4"})).unwrap_err();
    assert!(matches!(err, Error::Closed { .. } | Error::Transport { .. }), "{err:?}");
}

/// `--garbage-after 1`: the second reply is garbage. Over HTTP that body was
/// the answer: a protocol error quoting it. Over stdio a stray line is
/// skipped (the session lives on): the call times out, saying what the server
/// wrote instead of its reply.
pub fn garbage_reply(target: Target) {
    let demo = Demo::start(target, &["--garbage-after", "1"]);
    let s = demo.connect();
    call_ok(&s, "echo", json!({"message": "fine"}));
    let quick = CallOptions { timeout: Some(Duration::from_secs(2)), ..Default::default() };
    match (target, s.call_tool("echo", json!({"message": "garbled"}), &quick)) {
        (Target::Stdio, Err(Error::Timeout { detail: Some(d), .. })) => {
            assert!(d.contains("this is not json <<garbage>>"), "{d}");
            assert!(s.is_alive(), "one stray line does not end the session");
            assert_eq!(call_ok(&s, "echo", json!({"message": "after"})).text(), "after");
        }
        (Target::HttpSse | Target::HttpJson, Err(Error::Protocol(msg))) => {
            assert!(msg.contains("this is not json <<garbage>>"), "{msg}")
        }
        (_, other) => panic!("{target:?}: unexpected {other:?}"),
    }
}

/// Protocol versions: 2024-11-05 is accepted, 1999-01-01 refused.
pub fn protocol_versions(target: Target) {
    let demo = Demo::start(target, &["--protocol-version", "2024-11-05"]);
    let s = demo.connect();
    assert_eq!(s.server_info().unwrap().protocol_version, "2024-11-05");
    assert_eq!(call_ok(&s, "echo", json!({"message": "old"})).text(), "old");

    let demo = Demo::start(target, &["--protocol-version", "1999-01-01"]);
    match try_connect(&demo.transport) {
        Err(Error::UnsupportedVersion(v)) => assert_eq!(v, "1999-01-01"),
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
}

/// The server pings the client during a call; the client answers (2025-11-25:
/// a 2026-07-28 server sends no requests).
pub fn server_ping(target: Target) {
    let demo = Demo::start(target, &[]);
    let s = connect_pinned(&demo.transport, HANDSHAKE_ERA);
    for _ in 0..3 {
        assert_eq!(call_ok(&s, "ping_client", json!({})).text(), "pong");
    }
}

/// Through a store: `add_tool` makes the server announce a new tool, and the
/// store's index picks it up without any call from the user.
pub fn store_sees_new_tool(target: Target) {
    let demo = Demo::start(target, &[]);
    let store = super::store_with("demo", demo.config());
    let name = format!("fresh_{}", std::process::id());
    assert!(matches!(store.call_tool(&name, json!({"message": "x"})), Err(Error::ToolNotFound { .. })));
    let r = store.call_tool("demo.add_tool", json!({ "name": name })).expect("add_tool");
    assert!(!r.is_error, "{}", r.to_json());
    eventually(Duration::from_secs(10), "the new tool in the index", || store.resolve_tool(&name).is_ok());
    let r = store.call_tool(&name, json!({"message": "new tool works"})).expect("call the new tool");
    assert_eq!(r.text(), "new tool works");
    let r = store.call_tool(&format!("demo.{name}"), json!({"message": "qualified"})).unwrap();
    assert_eq!(r.text(), "qualified");
    let listed: HashSet<String> =
        store.list_tools(Some("demo")).unwrap().into_iter().map(|(_, t)| t.name.clone()).collect();
    assert!(listed.contains(&name));
    assert_eq!(listed.len(), DEMO_TOOLS.len() + 1);
}

/// Through a store: the mixed result is kept whole.
pub fn store_mixed_content(target: Target) {
    let demo = Demo::start(target, &[]);
    let store = super::store_with("demo", demo.config());
    let r = store
        .call_tool_with("mixed_content", json!({}), &CallOptions { bypass_cache: true, ..Default::default() })
        .unwrap();
    let direct = demo.connect();
    assert_eq!(*r, call_ok(&direct, "mixed_content", json!({})));
    assert_eq!(r.to_value()["structuredContent"]["count"], 5);
}
