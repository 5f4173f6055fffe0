//! Progress notifications reach the caller's callback, over stdio and HTTP.

mod support;

use std::sync::{Arc, Mutex};

use mcpstore::{CallOptions, Store};
use mcpstore_demo_server::DemoOptions;
use serde_json::json;
use support::*;

fn progress_of_a_sleep(store: &Store, tool: &str) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let options = CallOptions {
        progress: Some(Arc::new(move |p: &mcpstore::Progress| {
            s.lock().unwrap().push((p.progress, p.total));
        })),
        ..Default::default()
    };
    let r = store.call_tool_with(tool, json!({"ms": 300}), &options).unwrap();
    assert_eq!(r.text(), "slept 300 ms");
    let seen = seen.lock().unwrap();
    assert!(seen.len() >= 3, "progress updates: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "progress only grows: {seen:?}");
}

#[test]
fn progress_over_stdio() {
    let store = stdio_store(config(), &[]);
    progress_of_a_sleep(&store, "sleep");
}

#[test]
fn progress_over_http_sse() {
    let (store, _server) = http_store(config(), DemoOptions::default());
    progress_of_a_sleep(&store, "sleep");
}
