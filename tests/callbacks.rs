//! User code never runs on a reader thread: progress and completion
//! callbacks run on the store's dispatch thread, in order, so a slow callback
//! or one that calls the same service cannot stall replies.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcpstore::{CallOptions, PerformanceConfig, PoolConfig, Progress, Store, ToolCall};
use serde_json::json;
use support::*;

/// One stdio session only: a callback that blocked its reader would block every reply.
fn one_session() -> PerformanceConfig {
    PerformanceConfig {
        pool: PoolConfig { min_connections: 1, max_connections: 1, ..test_pool() },
        ..config()
    }
}

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("").to_owned()
}

#[test]
fn a_slow_progress_callback_does_not_hold_the_reply_back() {
    let store = stdio_store(one_session(), &[]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let options = CallOptions {
        progress: Some(Arc::new(move |p: &Progress| {
            s.lock().unwrap().push((p.progress, thread_name()));
            std::thread::sleep(Duration::from_millis(500)); // much slower than the call itself
        })),
        ..Default::default()
    };
    let started = Instant::now();
    let r = store.call_tool_with("sleep", json!({"ms": 300}), &options).unwrap();
    let took = started.elapsed();
    assert_eq!(r.text(), "slept 300 ms");
    // The demo sends several progress notices; run on the reader they would delay the reply by 500 ms each.
    assert!(took < Duration::from_millis(1200), "the reply waited for the callbacks: {took:?}");
    assert!(eventually(Duration::from_secs(10), || seen.lock().unwrap().len() >= 3));
    let seen = seen.lock().unwrap();
    assert!(seen.iter().all(|(_, t)| t == "mcps-dispatch"), "callbacks ran on: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "in order: {seen:?}");
}

#[test]
fn a_progress_callback_may_call_the_same_service() {
    let store = Arc::new(stdio_store(one_session(), &[]));
    let inner: Arc<Mutex<Option<String>>> = Arc::default();
    let (st, out) = (Arc::downgrade(&store), inner.clone());
    let options = CallOptions {
        progress: Some(Arc::new(move |_p: &Progress| {
            let Some(store) = st.upgrade() else { return };
            let mut slot = out.lock().unwrap();
            if slot.is_none() {
                let quick = CallOptions { timeout: Some(Duration::from_secs(5)), ..Default::default() };
                let r = store.call_tool_with("echo", json!({"message": "from a callback"}), &quick);
                *slot = Some(r.map(|r| r.text()).unwrap_or_else(|e| format!("failed: {e}")));
            }
        })),
        ..Default::default()
    };
    store.call_tool_with("sleep", json!({"ms": 300}), &options).unwrap();
    assert!(eventually(Duration::from_secs(10), || inner.lock().unwrap().is_some()));
    assert_eq!(inner.lock().unwrap().as_deref(), Some("from a callback"));
}

#[test]
fn completion_callbacks_run_on_the_dispatch_thread() {
    let store: Store = stdio_store(config(), &[]);
    let (tx, rx) = crossbeam_channel::unbounded();
    for i in 0..5 {
        let tx = tx.clone();
        store
            .submit_with_callback(ToolCall::new("echo", json!({"message": format!("c{i}")})), move |r| {
                let _ = tx.send((r.map(|r| r.text()).unwrap_or_default(), thread_name()));
            })
            .unwrap();
    }
    let mut got: Vec<(String, String)> =
        (0..5).map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap()).collect();
    got.sort();
    assert_eq!(got.iter().map(|g| g.0.as_str()).collect::<Vec<_>>(), ["c0", "c1", "c2", "c3", "c4"]);
    assert!(got.iter().all(|(_, t)| t == "mcps-dispatch"), "{got:?}");
}
