//! The result cache seen through a store: hits, TTL, LRU, canonical keys,
//! tool errors, invalidation, and many threads on one key.

mod support;

use std::time::Duration;

use mcpstore::{CacheConfig, PerformanceConfig};
use serde_json::json;
use support::*;

fn cached(capacity: usize, ttl: Duration) -> PerformanceConfig {
    PerformanceConfig { cache: CacheConfig { enabled: true, capacity, ttl }, ..config() }
}

/// How many calls the demo server has served (excluding `stats`).
fn served(store: &mcpstore::Store) -> u64 {
    server_stats(store, "stats")["calls"].as_u64().unwrap()
}

#[test]
fn read_only_tools_hit_and_miss() {
    let store = stdio_store(cached(100, Duration::from_secs(60)), &[]);
    let a = store.call_tool("add", json!({"a": 2, "b": 3})).unwrap();
    let b = store.call_tool("add", json!({"a": 2, "b": 3})).unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b), "a hit hands out the shared result");
    store.call_tool("add", json!({"a": 2, "b": 4})).unwrap();
    let s = store.cache_stats();
    assert_eq!((s.hits, s.misses, s.inserts, s.entries), (1, 2, 2, 2));
    assert_eq!(served(&store), 2);
    // Tools without readOnlyHint are not cached by default.
    store.call_tool("echo", json!({"message": "x"})).unwrap();
    store.call_tool("echo", json!({"message": "x"})).unwrap();
    assert_eq!(served(&store), 4);
}

#[test]
fn canonical_keys_ignore_argument_order() {
    let store = stdio_store(cached(100, Duration::from_secs(60)), &[]);
    store.call_tool("add", json!({"a": 1, "b": 2})).unwrap();
    store.call_tool("add", json!({"b": 2, "a": 1})).unwrap();
    assert_eq!(store.cache_stats().hits, 1);
    assert_eq!(served(&store), 1);
}

#[test]
fn entries_expire_after_their_ttl() {
    let store = stdio_store(cached(100, Duration::from_millis(150)), &[]);
    store.call_tool("add", json!({"a": 1, "b": 1})).unwrap();
    store.call_tool("add", json!({"a": 1, "b": 1})).unwrap();
    std::thread::sleep(Duration::from_millis(250));
    store.call_tool("add", json!({"a": 1, "b": 1})).unwrap();
    let s = store.cache_stats();
    assert_eq!((s.hits, s.expirations), (1, 1));
    assert_eq!(served(&store), 2);
}

#[test]
fn least_recently_used_entries_are_evicted_at_capacity() {
    let store = stdio_store(cached(2, Duration::from_secs(60)), &[]);
    let add = |a: i32| store.call_tool("add", json!({"a": a, "b": 0})).unwrap();
    add(1);
    add(2);
    add(1); // 1 is now the most recent
    add(3); // evicts 2
    let before = served(&store);
    add(1);
    add(3);
    assert_eq!(served(&store), before, "1 and 3 are cached");
    add(2);
    assert_eq!(served(&store), before + 1, "2 was evicted");
    let s = store.cache_stats();
    assert!(s.evictions >= 1 && s.entries == 2, "{s:?}");
}

#[test]
fn explicit_keys_cache_any_tool_but_never_tool_errors() {
    let store = stdio_store(cached(100, Duration::from_secs(60)), &[]);
    let opts = mcpstore::CallOptions { cache_key: Some("counter-key".into()), ..Default::default() };
    let first = store.call_tool_with("counter", &json!({}), &opts).unwrap();
    let second = store.call_tool_with("counter", &json!({}), &opts).unwrap();
    assert_eq!(first.text(), second.text());
    let fail = mcpstore::CallOptions { cache_key: Some("fail-key".into()), ..Default::default() };
    assert!(store.call_tool_with("fail", &json!({"message": "no"}), &fail).unwrap().is_error);
    assert!(store.call_tool_with("fail", &json!({"message": "no"}), &fail).unwrap().is_error);
    assert_eq!(served(&store), 3, "one counter call and both failing calls reached the server");
}

#[test]
fn invalidated_on_list_changed_remove_and_restart() {
    let store = stdio_store(cached(100, Duration::from_secs(60)), &[]);
    store.call_tool("add", json!({"a": 1, "b": 1})).unwrap();
    assert_eq!(store.cache_stats().entries, 1);
    store.call_tool("add_tool", json!({"name": "extra"})).unwrap();
    assert!(
        eventually(Duration::from_secs(5), || store.cache_stats().entries == 0),
        "list_changed invalidates"
    );
    assert!(eventually(Duration::from_secs(5), || store
        .call_tool("extra", json!({"message": "hi"}))
        .is_ok()));

    store.call_tool("add", json!({"a": 1, "b": 1})).unwrap();
    assert_eq!(store.cache_stats().entries, 1);
    store.restart_service("demo").unwrap();
    assert_eq!(store.cache_stats().entries, 0, "restart invalidates");
    wait_ready(&store);
    store.call_tool("add", json!({"a": 1, "b": 1})).unwrap();
    store.remove_service("demo").unwrap();
    assert_eq!(store.cache_stats().entries, 0, "remove invalidates");
}

#[test]
fn clear_cache_empties_it() {
    let store = stdio_store(cached(100, Duration::from_secs(60)), &[]);
    for a in 0..5 {
        store.call_tool("add", json!({"a": a, "b": 0})).unwrap();
    }
    assert_eq!(store.clear_cache(), 5);
    assert_eq!(store.cache_stats().entries, 0);
}

#[test]
fn eight_threads_hammering_one_key() {
    let store = stdio_store(cached(100, Duration::from_secs(60)), &[]);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..200 {
                    assert_eq!(store.call_tool("add", json!({"a": 20, "b": 22})).unwrap().text(), "42");
                }
            });
        }
    });
    let c = store.cache_stats();
    assert_eq!(c.hits + c.misses, 1600);
    assert!(c.misses <= 8, "at most one miss per thread before the first insert: {c:?}");
    assert_eq!(c.entries, 1);
}
