//! `Store::apply_performance_config` changes what a running store does: a
//! smaller background call limit makes `submit` return `Busy`; a new pool
//! configuration warms up new sessions and bounds responses by its timeout.

mod common;

use std::time::Duration;

use common::{bounded, demo_stdio, eventually};
use mcpstore::{BatchConfig, Error, PerformanceConfig, PoolConfig, Store, TimeoutPhase, ToolCall};
use serde_json::json;

fn store() -> Store {
    let config = PerformanceConfig {
        pool: PoolConfig { min_connections: 1, ..common::test_pool() },
        batch: BatchConfig {
            max_concurrent_calls: 4,
            submit_timeout: Duration::from_millis(100),
            ..Default::default()
        },
        ..PerformanceConfig::new()
    };
    let store = Store::builder().performance(config).build().unwrap();
    store.add_service("demo", demo_stdio(&[])).unwrap();
    assert!(store.wait_ready(Duration::from_secs(30)).is_empty());
    store
}

#[test]
fn a_smaller_call_limit_makes_submit_busy() {
    bounded(Duration::from_secs(60), || {
        let store = store();
        let sleep = || ToolCall::new("sleep", json!({"ms": 1500}));
        // Limit 4: two at once are fine.
        let a = store.submit(sleep()).unwrap();
        let b = store.submit(sleep()).unwrap();
        assert!(a.wait().is_ok() && b.wait().is_ok());

        let mut cfg = store.config();
        cfg.batch.max_concurrent_calls = 1;
        let report = store.apply_performance_config(cfg).unwrap();
        assert!(report.applied.contains(&"max_concurrent_calls".to_owned()), "{report:?}");
        let running = store.submit(sleep()).unwrap();
        match store.submit(sleep()) {
            Err(Error::Busy { waited }) => assert_eq!(waited, Duration::from_millis(100)),
            other => panic!("expected Busy with the new limit of 1, got {other:?}"),
        }
        assert_eq!(store.executor_stats().rejected, 1);
        assert!(running.wait().is_ok());
        assert!(store.submit(sleep()).unwrap().wait().is_ok(), "a free slot again");
    });
}

#[test]
fn a_new_pool_config_takes_effect() {
    bounded(Duration::from_secs(60), || {
        let store = store();
        eventually(Duration::from_secs(10), "one warm session", || store.pool_stats()["demo"].open == 1);
        assert_eq!(store.call_tool("sleep", json!({"ms": 600})).unwrap().text(), "slept 600 ms");

        let mut cfg = store.config();
        cfg.pool.min_connections = 3;
        cfg.pool.read_timeout = Duration::from_millis(300);
        let report = store.apply_performance_config(cfg).unwrap();
        assert!(report.applied.contains(&"pool".to_owned()), "{report:?}");
        // New sessions are opened up to the new minimum...
        eventually(Duration::from_secs(20), "warm-up to the new minimum", || {
            let st = &store.pool_stats()["demo"];
            st.open == 3 && st.created == 3
        });
        // ... and responses are waited for up to the new read timeout.
        match store.call_tool("sleep", json!({"ms": 600})) {
            Err(Error::Timeout { phase: TimeoutPhase::Response, after, .. }) => {
                assert_eq!(after, Duration::from_millis(300))
            }
            other => panic!("expected the new 300 ms read timeout, got {other:?}"),
        }
    });
}
