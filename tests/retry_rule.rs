//! No call runs twice unless that is safe (one retry rule for single calls,
//! batches and background calls): a request that provably never reached the
//! server (404 for an expired session, 429) is sent again; one that may have
//! run (408, 500, 502, 503, 504 after the tool ran) is sent again only for a
//! tool known safe to repeat. Against a scripted server that counts runs.

mod common;

use std::time::Duration;

use common::raw_mcp::{RawMcp, Step};
use mcpstore::{BatchOptions, CallOptions, Error, PoolConfig, RetryPolicy, ServiceConfig, Store, ToolCall};
use serde_json::json;

fn store_for(server: &RawMcp, retry: RetryPolicy) -> Store {
    let pool = PoolConfig {
        min_connections: 1,
        max_connections: 2,
        retry_delay: Duration::from_millis(10),
        ..common::test_pool()
    };
    let store = Store::builder().pool(pool).build().unwrap();
    store.add_service("raw", ServiceConfig { retry, ..ServiceConfig::http(server.url.clone()) }).unwrap();
    assert!(store.wait_ready(Duration::from_secs(20)).is_empty());
    store
}

#[test]
fn a_call_that_may_have_run_is_not_sent_again() {
    let server = RawMcp::start();
    let store = store_for(&server, RetryPolicy::default());
    for status in [408u16, 500, 502, 503, 504] {
        let before = server.executions("charge");
        server.script(&[Step::RunThenStatus(status)]);
        match store.call_tool("raw.charge", json!({})) {
            Err(e @ Error::Transport { .. }) => {
                assert!(e.to_string().contains(&status.to_string()), "{e}");
                assert!(e.may_have_run(), "HTTP {status} after sending may have run: {e:?}");
            }
            other => panic!("HTTP {status}: expected the error, got {other:?}"),
        }
        assert_eq!(server.executions("charge"), before + 1, "HTTP {status}: charged once, never twice");
    }
}

#[test]
fn a_request_that_never_ran_is_sent_again() {
    let server = RawMcp::start();
    let store = store_for(&server, RetryPolicy::default());
    server.script(&[Step::Refuse(429)]);
    assert_eq!(store.call_tool("raw.charge", json!({})).unwrap().text(), "charge ran 1");
    let sessions = server.sessions();
    server.script(&[Step::ExpireSession]);
    assert_eq!(store.call_tool("raw.charge", json!({})).unwrap().text(), "charge ran 2");
    assert!(server.sessions() > sessions, "the expired session was replaced");
    assert_eq!(server.executions("charge"), 2);
}

#[test]
fn annotations_are_trusted_unless_the_service_says_no() {
    let server = RawMcp::start();
    let trusting = store_for(&server, RetryPolicy::default());
    server.script(&[Step::RunThenStatus(503)]);
    assert_eq!(
        trusting.call_tool("raw.lookup", json!({})).unwrap().text(),
        "lookup ran 2",
        "idempotent: retried"
    );

    let distrust = store_for(&server, RetryPolicy { trust_annotations: false, ..Default::default() });
    server.script(&[Step::RunThenStatus(503)]);
    assert!(distrust.call_tool("raw.lookup", json!({})).is_err(), "annotations not trusted: not retried");
    assert_eq!(server.executions("lookup"), 3);

    let named = store_for(
        &server,
        RetryPolicy { idempotent_tools: ["charge".to_owned()].into(), ..Default::default() },
    );
    server.script(&[Step::RunThenStatus(503)]);
    assert!(named.call_tool("raw.charge", json!({})).is_ok(), "a tool the user named is retried");
    assert_eq!(server.executions("charge"), 2);

    let opted_in = CallOptions { retry_non_idempotent: true, ..Default::default() };
    server.script(&[Step::RunThenStatus(502)]);
    assert!(distrust.call_tool_with("raw.charge", json!({}), &opted_in).is_ok(), "the caller's opt-in");
    assert_eq!(server.executions("charge"), 4);
}

#[test]
fn batches_and_background_calls_follow_the_same_rule() {
    let server = RawMcp::start();
    let store = store_for(&server, RetryPolicy::default());
    server.script(&[Step::RunThenStatus(503)]);
    let results = store.batch_call(&[ToolCall::new("raw.charge", json!({}))], &BatchOptions::default());
    assert!(results[0].is_err());
    assert_eq!(server.executions("charge"), 1);
    server.script(&[Step::RunThenStatus(503)]);
    let handle = store.submit(ToolCall::new("raw.charge", json!({}))).unwrap();
    assert!(handle.wait().is_err());
    assert_eq!(server.executions("charge"), 2);
    server.script(&[Step::Refuse(429)]);
    let handle = store.submit(ToolCall::new("raw.charge", json!({}))).unwrap();
    assert!(handle.wait().is_ok(), "never ran: sent again");
    assert_eq!(server.executions("charge"), 3);
}

#[test]
fn a_json_rpc_error_in_a_4xx_body_is_an_rpc_error() {
    let server = RawMcp::start();
    let store = store_for(&server, RetryPolicy::default());
    server.script(&[Step::RpcErrorIn400]);
    match store.call_tool("raw.charge", json!({})) {
        Err(Error::Rpc { code, message, .. }) => {
            assert_eq!((code, message.as_str()), (-32602, "bad arguments"))
        }
        other => panic!("expected the server's JSON-RPC error, got {other:?}"),
    }
    assert_eq!(server.executions("charge"), 0);
}

#[test]
fn a_renewed_session_is_used_only_after_its_handshake() {
    let server = RawMcp::start();
    let store = store_for(&server, RetryPolicy::default());
    std::thread::scope(|s| {
        for t in 0..8 {
            let (store, server) = (&store, &server);
            s.spawn(move || {
                for i in 0..40 {
                    // One thread expires the session now and then; the others keep calling through it.
                    if t == 0 && i % 5 == 0 {
                        server.script(&[Step::ExpireSession]);
                    }
                    let r = store.call_tool("raw.lookup", json!({}));
                    assert!(r.is_ok(), "thread {t} call {i}: {r:?}");
                }
            });
        }
    });
    assert!(server.sessions() > 2, "sessions expired and were renewed");
    assert_eq!(server.early_requests(), 0, "no request used a session before notifications/initialized");
}

/// A server that refuses new sessions with 429 and `Retry-After: 0` says when
/// to come back: the pool tries again then, not after the doubling back-off of
/// unexplained failures (250 ms, 0.5 s, 1 s, 2 s, 4 s: about 8 s before a sixth try).
#[test]
fn a_refusal_with_retry_after_sets_the_next_attempt() {
    common::bounded(Duration::from_secs(60), || {
        let server = RawMcp::start();
        server.refuse_initialize(6);
        let pool =
            PoolConfig { min_connections: 1, max_connections: 1, max_retries: 0, ..common::test_pool() };
        let store = Store::builder().pool(pool).build().unwrap();
        let started = std::time::Instant::now();
        store.add_service("busy", ServiceConfig::http(&server.url)).unwrap();
        common::eventually(Duration::from_secs(30), "the refusals were used up", || {
            server.refusals_left() == 0
        });
        let took = started.elapsed();
        assert!(took < Duration::from_secs(5), "six attempts took {took:?}");
        common::eventually(Duration::from_secs(10), "a call after the refusals", || {
            store.call_tool("busy.lookup", json!({})).is_ok()
        });
    });
}
