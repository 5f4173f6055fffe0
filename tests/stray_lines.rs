//! Lines on a stdio server's stdout that are not JSON-RPC for this client
//! (issue 9, point 4): a banner before the handshake and noise between replies
//! are skipped and counted (`PoolStats::stray_lines`), never fatal; a call that
//! times out while the server writes such lines names what it wrote.
//! Against the demo server's `--banner` and `--noise-every`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{bounded, demo_stdio, eventually, store_with_pool, test_pool};
use mcpstore::{BatchOptions, CallOptions, Error, PoolConfig, Store, TimeoutPhase, ToolCall};
use serde_json::json;

fn pool_stats(store: &Store) -> mcpstore::PoolStats {
    store.pool_stats()["demo"].clone()
}

/// One session at most, so every line counted came from the same process.
fn one_session() -> PoolConfig {
    PoolConfig { min_connections: 1, max_connections: 1, ..test_pool() }
}

fn echo(store: &Store, message: &str) -> String {
    store.call_tool("echo", json!({ "message": message })).map(|r| r.text()).unwrap_or_else(|e| e.to_string())
}

#[test]
fn a_banner_before_the_handshake_is_skipped_and_counted() {
    bounded(Duration::from_secs(60), || {
        let banner = "demo server 1.0 starting (this line is not JSON-RPC)";
        let store = store_with_pool("demo", demo_stdio(&["--banner", banner]), one_session());
        assert_eq!(echo(&store, "after the banner"), "after the banner");
        let st = pool_stats(&store);
        assert_eq!(st.created, 1, "{st:?}");
        assert_eq!(st.stray_lines, 1, "the banner, once: {st:?}");
        assert_eq!((st.failed, st.evicted), (0, 0), "{st:?}");
    });
}

#[test]
fn noise_between_replies_does_not_end_the_session() {
    bounded(Duration::from_secs(60), || {
        let store = store_with_pool("demo", demo_stdio(&["--noise-every", "2"]), one_session());
        for i in 0..30 {
            let message = format!("m{i}");
            assert_eq!(echo(&store, &message), message);
        }
        // Pipelined calls of a batch, with noise among their replies.
        let calls: Vec<ToolCall> =
            (0..20).map(|i| ToolCall::new("echo", json!({"message": format!("b{i}")}))).collect();
        let results = store.batch_call(&calls, &BatchOptions::default());
        for (i, r) in results.iter().enumerate() {
            assert_eq!(r.as_ref().map(|r| r.text()).unwrap_or_else(|e| e.to_string()), format!("b{i}"));
        }
        let st = pool_stats(&store);
        assert_eq!((st.created, st.failed, st.evicted), (1, 0, 0), "one session throughout: {st:?}");
        // One noise line before every second reply: 50 calls alone make 25.
        assert!(st.stray_lines >= 25, "{st:?}");
    });
}

#[test]
fn a_timeout_names_what_the_server_wrote_instead_of_the_reply() {
    bounded(Duration::from_secs(60), || {
        // Every reply is preceded by a noise line; two calls share the one session.
        let pool = PoolConfig { max_in_flight_per_connection: 2, ..one_session() };
        let store = Arc::new(store_with_pool("demo", demo_stdio(&["--noise-every", "1"]), pool));
        let s = store.clone();
        let slow = std::thread::spawn(move || {
            let options = CallOptions { timeout: Some(Duration::from_secs(2)), ..Default::default() };
            s.call_tool_with("sleep", json!({"ms": 5000}), &options)
        });
        eventually(Duration::from_secs(10), "the slow call in flight", || pool_stats(&store).in_flight == 1);
        let before = pool_stats(&store).stray_lines;
        // A quick call meanwhile: the server writes a noise line, then its reply.
        assert_eq!(echo(&store, "quick"), "quick");
        assert!(pool_stats(&store).stray_lines > before);

        let err = slow.join().unwrap().expect_err("the slow call times out");
        let Error::Timeout { phase: TimeoutPhase::Response, detail: Some(detail), .. } = &err else {
            panic!("expected a response timeout naming the noise, got {err:?}");
        };
        let noise = detail.starts_with("debug: noise ")
            || detail.starts_with(r#"{"log":"noise "#)
            || detail == r#"{"jsonrpc":"2.0","id":1.5,"result":{}}"#;
        assert!(noise, "the detail is the noise line the server wrote: {detail:?}");
        assert!(err.to_string().contains(detail.as_str()), "the message names it: {err}");
        // A call that timed out without any noise meanwhile has no detail.
        let quiet = store_with_pool("demo", demo_stdio(&[]), one_session());
        let options = CallOptions { timeout: Some(Duration::from_millis(500)), ..Default::default() };
        match quiet.call_tool_with("sleep", json!({"ms": 3000}), &options) {
            Err(Error::Timeout { phase: TimeoutPhase::Response, detail: None, .. }) => {}
            other => panic!("expected a response timeout without detail, got {other:?}"),
        }
    });
}
