//! Dropping a store leaves no child process and no thread behind (issue 3).
//!
//! This file holds a single test so that it runs alone in its process and the
//! process's threads can be counted.

mod common;

use std::time::{Duration, Instant};

use common::{
    bounded, demo_http, demo_stdio, eventually, library_threads, marked_children, test_pool, thread_names,
    unique, with_env,
};
use mcpstore::{BatchOptions, PoolConfig, Store, ToolCall};
use serde_json::json;

#[test]
fn dropping_the_store_ends_every_process_and_thread() {
    // The HTTP server is a separate process, so none of its threads are ours.
    let http = demo_http(&[]);
    let url = http.url();
    bounded(Duration::from_secs(60), move || {
        let threads_before = thread_names();
        assert!(library_threads().is_empty(), "{threads_before:?}");
        let marker = unique("drop");
        let pool = PoolConfig {
            min_connections: 2,
            max_connections: 4,
            health_check_interval: Duration::from_millis(100),
            ..test_pool()
        };
        let store = Store::builder().pool(pool).build().unwrap();
        for name in ["a", "b"] {
            let config = with_env(demo_stdio(&[]), "MCPSTORE_TEST_MARKER", marker.clone());
            store.add_service(name, config).unwrap();
        }
        store.add_service("web", mcpstore::ServiceConfig::http(url)).unwrap();
        assert!(store.wait_ready(Duration::from_secs(30)).is_empty());
        eventually(Duration::from_secs(10), "warm sessions", || {
            store.pool_stats().values().all(|p| p.open == 2)
        });
        // Use everything that starts threads: calls, batches, background calls,
        // a tools refresh, health checks, a timeout.
        let calls: Vec<ToolCall> = (0..40)
            .map(|i| ToolCall::new(if i % 2 == 0 { "a.add" } else { "web.add" }, json!({"a": i, "b": 1})))
            .collect();
        let results = store.batch_call(&calls, &BatchOptions::default());
        let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert!(failed.is_empty(), "{failed:?}");
        let handle = store.submit(ToolCall::new("b.sleep", json!({"ms": 20}))).unwrap();
        handle.wait_timeout(Duration::from_secs(10)).unwrap();
        store.call_tool("web.add_tool", json!({"name": "added"})).unwrap();
        eventually(Duration::from_secs(10), "tools refreshed", || store.resolve_tool("added").is_ok());
        let _ = store.call_tool_with(
            "web.sleep",
            json!({"ms": 2000}),
            &mcpstore::CallOptions { timeout: Some(Duration::from_millis(100)), ..Default::default() },
        );
        // A long call still in flight when the store is dropped.
        let _pending = store.submit(ToolCall::new("b.sleep", json!({"ms": 30_000}))).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(marked_children(&marker).len(), 4, "2 services x 2 sessions");
        assert!(!library_threads().is_empty());

        let started = Instant::now();
        drop(store);
        let drop_took = started.elapsed();
        assert!(drop_took < Duration::from_secs(10), "drop took {drop_took:?}");

        eventually(Duration::from_secs(10), "no child process left", || marked_children(&marker).is_empty());
        eventually(Duration::from_secs(10), "no library thread left", || library_threads().is_empty());
        eventually(Duration::from_secs(10), "as many threads as before", || {
            thread_names().len() <= threads_before.len()
        });
    });
    drop(http);
}
