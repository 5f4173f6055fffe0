//! Batches: order, per-item errors, cache hits, bounded parallelism, pipelining.

mod support;

use std::time::Duration;

use mcpstore::{BatchOptions, CallOptions, Error, ToolCall};
use mcpstore_demo_server::DemoOptions;
use serde_json::json;
use support::*;

#[test]
fn results_keep_input_order_with_mixed_outcomes() {
    let store = stdio_store(config(), &[]);
    // Warm the cache under the key the batch's `add` calls carry.
    store.call_tool_with("add", json!({"a": 1, "b": 1}), &keyed("add-1-1")).unwrap();
    let mut calls = Vec::new();
    for i in 0..200 {
        calls.push(match i % 5 {
            0 => ToolCall::new("echo", json!({"message": format!("m{i}")})),
            1 => ToolCall::new("no_such_tool", json!({})),
            2 => ToolCall::new("echo", json!({"wrong": i})),
            3 => ToolCall::new("fail", json!({"message": format!("f{i}")})),
            _ => ToolCall {
                options: CallOptions { cache_key: Some("add-1-1".into()), ..Default::default() },
                ..ToolCall::new("add", json!({"a": 1, "b": 1}))
            },
        });
    }
    let results = store.batch_call(&calls, &BatchOptions::default());
    assert_eq!(results.len(), 200);
    for (i, r) in results.iter().enumerate() {
        match i % 5 {
            0 => assert_eq!(r.as_ref().unwrap().text(), format!("m{i}")),
            1 => assert!(matches!(r, Err(Error::ToolNotFound { .. })), "{i}: {r:?}"),
            2 => assert!(matches!(r, Err(Error::Rpc { code: -32602, .. })), "{i}: {r:?}"),
            3 => {
                let r = r.as_ref().unwrap();
                assert!(r.is_error);
                assert_eq!(r.text(), format!("f{i}"));
            }
            _ => assert_eq!(r.as_ref().unwrap().text(), "2"),
        }
    }
    let cache = store.cache_stats();
    assert!(cache.hits >= 40, "every add came from the cache: {cache:?}");
}

#[test]
fn identical_cacheable_calls_run_once() {
    let store = stdio_store(config(), &[]);
    let calls: Vec<ToolCall> = (0..20)
        .map(|_| ToolCall {
            options: CallOptions { cache_key: Some("c".into()), ..Default::default() },
            ..ToolCall::new("counter", json!({}))
        })
        .collect();
    let results = store.batch_call(&calls, &BatchOptions::default());
    let first = results[0].as_ref().unwrap().text();
    assert!(results.iter().all(|r| r.as_ref().unwrap().text() == first));
    assert_eq!(store.call_tool("counter", json!({})).unwrap().text(), "2", "the server counted one call");
}

fn assert_bounded(store: &mcpstore::Store, tool_prefix: &str, workers: usize) {
    store.call_tool(&format!("{tool_prefix}reset_stats"), json!({})).unwrap();
    let calls: Vec<ToolCall> =
        (0..24).map(|_| ToolCall::new(format!("{tool_prefix}sleep"), json!({"ms": 60}))).collect();
    let options = BatchOptions { max_workers: Some(workers), ..Default::default() };
    let results = store.batch_call(&calls, &options);
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    let stats = server_stats(store, &format!("{tool_prefix}stats"));
    let peak = stats["peak_in_flight"].as_u64().unwrap() as usize;
    assert!(peak <= workers, "peak {peak} > max_workers {workers}");
    assert!(peak >= 2, "calls should overlap, peak was {peak}");
}

#[test]
fn parallelism_never_exceeds_max_workers_over_stdio() {
    let store = stdio_store(config(), &[]);
    assert_bounded(&store, "demo.", 3);
}

#[test]
fn parallelism_never_exceeds_max_workers_over_http() {
    let (store, _server) = http_store(config(), DemoOptions::default());
    assert_bounded(&store, "web.", 3);
}

#[test]
fn a_slow_batch_times_out_per_item_and_the_store_survives() {
    let store = stdio_store(config(), &[]);
    let calls: Vec<ToolCall> = (0..4).map(|_| ToolCall::new("sleep", json!({"ms": 2000}))).collect();
    let options = BatchOptions { timeout: Some(Duration::from_millis(200)), ..Default::default() };
    let results = store.batch_call(&calls, &options);
    // Each item gave up at its own timeout: had the batch waited for the 2 s
    // sleeps, the items would have succeeded.
    assert!(results.iter().all(|r| matches!(r, Err(Error::Timeout { .. }))), "{results:?}");
    assert!(eventually(Duration::from_secs(10), || store
        .call_tool("echo", json!({"message": "ok"}))
        .is_ok()));
}
