//! Connection pool reuse and limits (issue 3): sequential calls reuse the warm
//! sessions; many threads never open more than `max_connections`; calls beyond
//! capacity wait, and fail with `PoolExhausted` only after `acquire_timeout`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{demo_http, demo_stats, demo_stdio, eventually, marked_children, test_pool, unique, with_env};
use mcpstore::{Error, PoolConfig, ServiceConfig, Store};
use serde_json::json;

fn store(config: ServiceConfig, pool: PoolConfig) -> Store {
    common::store_with_pool("demo", config, pool)
}

fn sequential_reuse(config: ServiceConfig) {
    let pool = PoolConfig { min_connections: 2, max_connections: 10, ..test_pool() };
    let store = store(config, pool);
    eventually(Duration::from_secs(10), "warm-up to 2 sessions", || store.pool_stats()["demo"].open == 2);
    let before = store.pool_stats()["demo"].clone();
    assert_eq!(before.created, 2, "{before:?}");
    assert_eq!(before.reused, 0, "{before:?}");
    const CALLS: u64 = 1000;
    for i in 0..CALLS {
        let msg = format!("seq {i}");
        let r = store.call_tool("demo.echo", json!({ "message": msg })).unwrap();
        assert_eq!(r.text(), msg);
    }
    let st = store.pool_stats()["demo"].clone();
    assert!(st.created <= 2, "{st:?}");
    assert_eq!(st.reused, CALLS - st.created, "{st:?}");
    assert_eq!(st.open, 2);
    assert_eq!(st.failed, 0);
    assert_eq!(st.evicted, 0);
    assert_eq!(st.in_flight, 0);
    assert_eq!(st.exhausted, 0);
}

#[test]
fn thousand_sequential_calls_reuse_two_stdio_sessions() {
    common::bounded(Duration::from_secs(90), move || {
        sequential_reuse(demo_stdio(&[]));
    });
}

#[test]
fn thousand_sequential_calls_reuse_two_http_sessions() {
    common::bounded(Duration::from_secs(90), move || {
        let demo = demo_http(&[]);
        sequential_reuse(demo.config());
        drop(demo);
    });
}

/// Runs `threads` threads of `calls` slow calls each while sampling the pool;
/// returns the largest `open` seen and the largest number of marked processes.
fn run_sampled(store: &Store, threads: usize, calls: usize, marker: Option<&str>) -> (usize, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let max_open = AtomicUsize::new(0);
    let max_procs = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let st = store.pool_stats()["demo"].clone();
                max_open.fetch_max(st.open, Ordering::Relaxed);
                if let Some(m) = marker {
                    max_procs.fetch_max(marked_children(m).len(), Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    for i in 0..calls {
                        let r = store
                            .call_tool("demo.sleep", json!({"ms": 40}))
                            .unwrap_or_else(|e| panic!("thread {t} call {i}: {e}"));
                        assert_eq!(r.text(), "slept 40 ms");
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        sampler.join().unwrap();
    });
    (max_open.into_inner(), max_procs.into_inner())
}

fn limited_pool() -> PoolConfig {
    PoolConfig { min_connections: 1, max_connections: 4, max_in_flight_per_connection: 1, ..test_pool() }
}

#[test]
fn sixteen_threads_never_open_more_than_four_stdio_sessions() {
    common::bounded(Duration::from_secs(90), move || {
        let marker = unique("limit");
        let store = store(with_env(demo_stdio(&[]), "MCPSTORE_TEST_MARKER", marker.clone()), limited_pool());
        let (max_open, max_procs) = run_sampled(&store, 16, 5, Some(&marker));
        assert!(max_open <= 4, "open sessions peaked at {max_open}");
        assert!(max_procs <= 4, "server processes peaked at {max_procs}");
        assert!(max_open >= 2, "the pool grew under load (peak {max_open})");
        let st = store.pool_stats()["demo"].clone();
        assert!(st.created <= 4, "{st:?}");
        assert!(st.waits > 0, "calls beyond capacity waited: {st:?}");
        assert_eq!(st.exhausted, 0, "{st:?}");
        // Each stdio session is its own process, so every process saw at most one call at a time.
        assert!(marked_children(&marker).len() <= 4);
    });
}

#[test]
fn sixteen_threads_never_exceed_four_calls_in_flight_over_http() {
    common::bounded(Duration::from_secs(90), move || {
        // One HTTP server process: its peak_in_flight counts calls across all sessions.
        let demo = demo_http(&[]);
        let store = store(demo.config(), limited_pool());
        let (max_open, _) = run_sampled(&store, 16, 5, None);
        assert!(max_open <= 4, "open sessions peaked at {max_open}");
        let stats = demo_stats(&store, "demo.stats");
        let peak = stats["peak_in_flight"].as_u64().unwrap();
        assert!(peak <= 4, "the server saw {peak} calls at once: {stats}");
        assert!(peak >= 2, "calls ran in parallel: {stats}");
        assert_eq!(stats["calls"], 80, "{stats}");
        let st = store.pool_stats()["demo"].clone();
        assert!(st.created <= 4 && st.waits > 0, "{st:?}");
    });
}

#[test]
fn pool_exhausted_only_after_acquire_timeout() {
    common::bounded(Duration::from_secs(90), move || {
        let acquire = Duration::from_millis(400);
        let pool = PoolConfig {
            min_connections: 1,
            max_connections: 2,
            max_in_flight_per_connection: 1,
            acquire_timeout: acquire,
            ..test_pool()
        };
        let store = store(demo_stdio(&[]), pool);
        std::thread::scope(|s| {
            let busy: Vec<_> =
                (0..2).map(|_| s.spawn(|| store.call_tool("demo.sleep", json!({"ms": 3000})))).collect();
            eventually(Duration::from_secs(10), "both sessions busy", || {
                store.pool_stats()["demo"].in_flight == 2
            });
            let started = Instant::now();
            let err = store.call_tool("demo.echo", json!({"message": "no room"})).unwrap_err();
            let took = started.elapsed();
            // It gave up while both sessions were still busy: it did not wait for a free one.
            assert_eq!(store.pool_stats()["demo"].in_flight, 2);
            match &err {
                Error::PoolExhausted { service, waited } => {
                    assert_eq!(service, "demo");
                    assert!(*waited >= acquire, "{waited:?}");
                }
                other => panic!("expected PoolExhausted, got {other:?}"),
            }
            assert!(took >= acquire, "PoolExhausted came early: {took:?}");
            assert!(took < acquire + common::LOAD_MARGIN, "PoolExhausted came late: {took:?}");
            for b in busy {
                assert_eq!(b.join().unwrap().unwrap().text(), "slept 3000 ms");
            }
        });
        let st = store.pool_stats()["demo"].clone();
        assert_eq!(st.exhausted, 1, "{st:?}");
        assert!(st.open <= 2);
        // With room again, calls go through.
        assert_eq!(store.call_tool("demo.echo", json!({"message": "room"})).unwrap().text(), "room");
    });
}
