//! Batches use everything they may: calls to different services run at the
//! same time, and no item fails before the batch's deadline unless its own
//! request failed or passed its own read timeout.

mod common;

use std::time::{Duration, Instant};

use common::{demo_http, demo_stdio, test_pool};
use mcpstore::{BatchOptions, Error, PoolConfig, ServiceConfig, Store, TimeoutPhase, ToolCall};
use serde_json::json;

fn store(services: &[(&str, ServiceConfig)], pool: PoolConfig) -> Store {
    let store = Store::builder().pool(pool).build().unwrap();
    for (name, config) in services {
        store.add_service(name, config.clone()).unwrap();
    }
    assert!(store.wait_ready(Duration::from_secs(20)).is_empty());
    store
}

#[test]
fn calls_to_different_services_run_at_the_same_time() {
    common::bounded(Duration::from_secs(60), || {
        let http = demo_http(&[]);
        let services = [("a", demo_stdio(&[])), ("b", demo_stdio(&[])), ("web", http.config())];
        let store = store(&services, test_pool());
        let calls: Vec<ToolCall> = ["a.sleep", "b.sleep", "web.sleep"]
            .iter()
            .map(|t| ToolCall::new(*t, json!({"ms": 1000})))
            .collect();
        let started = Instant::now();
        let results = store.batch_call(&calls, &BatchOptions::default());
        let took = started.elapsed();
        for r in &results {
            assert_eq!(r.as_ref().unwrap().text(), "slept 1000 ms");
        }
        // About one second, not three (one service after the other); a margin for a loaded machine.
        assert!(took < Duration::from_millis(2500), "the services ran one after another: {took:?}");
    });
}

#[test]
fn a_slow_item_fails_alone_and_the_rest_of_the_batch_goes_on() {
    common::bounded(Duration::from_secs(60), || {
        // One request at a time on one session, and a read timeout shorter than the slow item.
        let pool = PoolConfig {
            min_connections: 1,
            max_connections: 1,
            max_in_flight_per_connection: 1,
            read_timeout: Duration::from_secs(1),
            ..test_pool()
        };
        let store = store(&[("demo", demo_stdio(&[]))], pool);
        let mut calls = vec![ToolCall::new("sleep", json!({"ms": 3000}))];
        calls.extend((0..5).map(|i| ToolCall::new("echo", json!({"message": format!("e{i}")}))));
        let options = BatchOptions { timeout: Some(Duration::from_secs(20)), ..Default::default() };
        let results = store.batch_call(&calls, &options);
        assert!(
            matches!(results[0], Err(Error::Timeout { phase: TimeoutPhase::Response, .. })),
            "{:?}",
            results[0]
        );
        for (i, r) in results[1..].iter().enumerate() {
            assert_eq!(r.as_ref().map(|r| r.text()).unwrap_or_else(|e| e.to_string()), format!("e{i}"));
        }
    });
}

#[test]
fn a_batch_spreads_calls_of_one_stdio_service_over_its_sessions() {
    common::bounded(Duration::from_secs(60), || {
        // A server that answers one request at a time, one request per session,
        // up to three sessions: three sleeps in parallel only over three sessions.
        let pool = PoolConfig {
            min_connections: 1,
            max_connections: 3,
            max_in_flight_per_connection: 1,
            ..test_pool()
        };
        let store = store(&[("demo", demo_stdio(&["--serial"]))], pool);
        let calls: Vec<ToolCall> = (0..3).map(|_| ToolCall::new("sleep", json!({"ms": 1000}))).collect();
        let started = Instant::now();
        let results = store.batch_call(&calls, &BatchOptions::default());
        let took = started.elapsed();
        for r in &results {
            assert_eq!(r.as_ref().map(|r| r.text()).unwrap_or_else(|e| e.to_string()), "slept 1000 ms");
        }
        let st = store.pool_stats()["demo"].clone();
        assert_eq!(st.created, 3, "one session per call: {st:?}");
        assert_eq!((st.open, st.failed), (3, 0), "{st:?}");
        // About one second, not three (one call after the other on one serial session).
        assert!(took < Duration::from_millis(2500), "the calls ran one after another: {took:?}");
    });
}
