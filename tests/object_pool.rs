//! Pooled objects all come back after use, and the pools never grow past their bound.
//! (Its own test binary: the pools are process-wide.)

mod support;

use std::time::Duration;

use mcpstore::{BatchOptions, ToolCall};
use serde_json::json;
use support::*;

#[test]
fn pooled_objects_return_and_stay_bounded() {
    let store = stdio_store(config(), &[]);
    let calls: Vec<ToolCall> =
        (0..300).map(|i| ToolCall::new("echo", json!({"message": i.to_string()}))).collect();
    let results = store.batch_call(&calls, &BatchOptions { max_workers: Some(16), ..Default::default() });
    assert!(results.iter().all(|r| r.is_ok()));
    std::thread::scope(|s| {
        for t in 0..8 {
            let store = &store;
            s.spawn(move || {
                for i in 0..50 {
                    store.call_tool("echo", json!({"message": format!("{t}-{i}")})).unwrap();
                }
            });
        }
    });
    let all_back =
        eventually(Duration::from_secs(5), || store.stats().objects.values().all(|s| s.active_objects == 0));
    let stats = store.stats().objects;
    assert!(all_back, "objects still out: {stats:?}");
    for (name, s) in &stats {
        assert!(s.pool_size <= s.max_size, "{name}: {s:?}");
    }
    let channels = stats["reply_channels"];
    assert!(channels.reused > channels.created, "reply channels are reused: {channels:?}");
}
