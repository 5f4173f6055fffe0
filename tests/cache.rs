//! The result cache seen through a store: opt-in only (a cache key or a
//! service policy; `readOnlyHint` alone never caches), the master switch,
//! hits with their age, TTL, LRU, the byte bound, canonical keys, tool
//! errors, invalidation, many threads on one key, and `bypass_cache` on
//! every call path (single calls, batches, background calls).

mod support;

use std::sync::Arc;
use std::time::Duration;

use mcpstore::{
    BatchOptions, CacheConfig, CachePolicy, CallOptions, PerformanceConfig, ServiceConfig, Store, ToolCall,
};
use serde_json::json;
use support::*;

fn cached(capacity: usize, ttl: Duration) -> PerformanceConfig {
    PerformanceConfig {
        cache: CacheConfig { enabled: true, capacity, ttl, ..Default::default() },
        ..config()
    }
}

/// A store with the stdio demo server whose cache policy names `tools`.
fn policy_store(config: PerformanceConfig, tools: &[(&str, Duration)], args: &[&str]) -> Store {
    let store = Store::builder().performance(config).build().expect("store");
    let service = ServiceConfig {
        cache: CachePolicy { tools: tools.iter().map(|(t, ttl)| ((*t).to_owned(), *ttl)).collect() },
        ..ServiceConfig::stdio(demo_bin(), args.iter().copied())
    };
    store.add_service("demo", service).expect("add");
    wait_ready(&store);
    store
}

const MINUTE: Duration = Duration::from_secs(60);

/// How many calls the demo server has served (excluding `stats`).
fn served(store: &Store) -> u64 {
    server_stats(store, "stats")["calls"].as_u64().unwrap()
}

#[test]
fn read_only_tools_are_never_cached_unless_asked() {
    let dir = std::env::temp_dir().join(format!("mcps-cache-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.txt"), "old").unwrap();
    let root = dir.to_string_lossy().into_owned();
    // The defaults, as a new user has them: the cache switched on, no key, no policy.
    let store = stdio_store(PerformanceConfig::new(), &["--root", &root]);
    assert_eq!(store.call_tool("read_file", json!({"path": "a.txt"})).unwrap().text(), "old");
    std::fs::write(dir.join("a.txt"), "new").unwrap();
    let again = store.call_tool("read_file", json!({"path": "a.txt"})).unwrap();
    assert_eq!(again.text(), "new", "a read-only tool is not cached by default");
    assert!(!again.from_cache() && again.cache_age().is_none());
    assert_eq!(store.cache_stats().inserts, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_service_policy_caches_the_tools_it_names() {
    let store = policy_store(cached(100, MINUTE), &[("add", MINUTE)], &[]);
    let a = store.call_tool("add", json!({"a": 2, "b": 3})).unwrap();
    let b = store.call_tool("add", json!({"a": 2, "b": 3})).unwrap();
    assert!(!a.from_cache() && b.from_cache());
    assert!(b.cache_age().unwrap() < MINUTE);
    assert!(Arc::ptr_eq(a.result(), b.result()), "a hit hands out the shared result");
    assert_eq!(b.annotated_json()["_mcpstore"]["cache"]["hit"], true);
    store.call_tool("add", json!({"a": 2, "b": 4})).unwrap();
    let s = store.cache_stats();
    assert_eq!((s.hits, s.misses, s.inserts, s.entries), (1, 2, 2, 2));
    assert!(s.bytes > 0, "{s:?}");
    assert_eq!(served(&store), 2);
    // A tool the policy does not name is not cached.
    store.call_tool("echo", json!({"message": "x"})).unwrap();
    store.call_tool("echo", json!({"message": "x"})).unwrap();
    assert_eq!(served(&store), 4);
}

#[test]
fn the_policy_comes_from_mcp_json_too() {
    let text =
        json!({"mcpServers": {"demo": {"command": demo_bin(), "cache": {"tools": {"add": {"ttl": 60}}}}}});
    let store = Store::from_json(&text.to_string()).unwrap();
    wait_ready(&store);
    store.call_tool("add", json!({"a": 1, "b": 1})).unwrap();
    assert!(store.call_tool("add", json!({"a": 1, "b": 1})).unwrap().from_cache());
    assert!(!store.call_tool("echo", json!({"message": "m"})).unwrap().from_cache());
}

#[test]
fn the_master_switch_turns_keys_and_policies_off() {
    let off = PerformanceConfig { cache: CacheConfig { enabled: false, ..Default::default() }, ..config() };
    let store = policy_store(off, &[("add", MINUTE)], &[]);
    let key = CallOptions { cache_key: Some("k".into()), ..Default::default() };
    for _ in 0..2 {
        assert!(!store.call_tool("add", json!({"a": 1, "b": 1})).unwrap().from_cache());
        assert!(!store.call_tool_with("counter", json!({}), &key).unwrap().from_cache());
    }
    assert_eq!(served(&store), 4);
}

#[test]
fn canonical_keys_ignore_argument_order() {
    let store = policy_store(cached(100, MINUTE), &[("add", MINUTE)], &[]);
    store.call_tool("add", json!({"a": 1, "b": 2})).unwrap();
    store.call_tool("add", json!({"b": 2, "a": 1})).unwrap();
    assert_eq!(store.cache_stats().hits, 1);
    assert_eq!(served(&store), 1);
}

#[test]
fn entries_expire_after_their_policy_ttl() {
    let store = policy_store(cached(100, MINUTE), &[("add", Duration::from_millis(150))], &[]);
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
    let store = policy_store(cached(2, MINUTE), &[("add", MINUTE)], &[]);
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
fn the_cache_is_bounded_by_bytes() {
    let bounded = PerformanceConfig {
        cache: CacheConfig { max_bytes: 100_000, ..Default::default() },
        ..cached(1000, MINUTE)
    };
    let store = policy_store(bounded, &[("big", MINUTE)], &[]);
    // Larger than a tenth of the bound: never cached.
    store.call_tool("big", json!({"bytes": 20_000})).unwrap();
    assert!(!store.call_tool("big", json!({"bytes": 20_000})).unwrap().from_cache());
    assert_eq!(store.cache_stats().too_large, 2);
    for n in 0..40 {
        store.call_tool("big", json!({"bytes": 5_000 + n})).unwrap();
    }
    let s = store.cache_stats();
    assert!(s.bytes <= 100_000 && s.bytes > 50_000, "{s:?}");
    assert!(s.entries < 40 && s.evictions > 0, "{s:?}");
    assert!(store.call_tool("big", json!({"bytes": 5_039})).unwrap().from_cache(), "the newest stays");
}

#[test]
fn explicit_keys_cache_any_tool_but_never_tool_errors() {
    let store = stdio_store(cached(100, MINUTE), &[]);
    let opts = CallOptions { cache_key: Some("counter-key".into()), ..Default::default() };
    let first = store.call_tool_with("counter", json!({}), &opts).unwrap();
    let second = store.call_tool_with("counter", json!({}), &opts).unwrap();
    assert_eq!(first.text(), second.text());
    assert!(second.from_cache());
    let fail = CallOptions { cache_key: Some("fail-key".into()), ..Default::default() };
    assert!(store.call_tool_with("fail", json!({"message": "no"}), &fail).unwrap().is_error);
    assert!(store.call_tool_with("fail", json!({"message": "no"}), &fail).unwrap().is_error);
    assert_eq!(served(&store), 3, "one counter call and both failing calls reached the server");
}

#[test]
fn invalidation_by_key_tool_service_and_all() {
    let store = policy_store(cached(100, MINUTE), &[("add", MINUTE)], &[]);
    let key = CallOptions { cache_key: Some("the-counter".into()), ..Default::default() };
    store.call_tool_with("counter", json!({}), &key).unwrap();
    store.call_tool("add", json!({"a": 1, "b": 1})).unwrap();
    store.call_tool("add", json!({"a": 2, "b": 2})).unwrap();
    assert_eq!(store.cache_stats().entries, 3);
    assert!(store.invalidate_cache_key("the-counter"));
    assert!(!store.invalidate_cache_key("the-counter"));
    assert!(!store.call_tool_with("counter", json!({}), &key).unwrap().from_cache());
    assert_eq!(store.invalidate_cache_tool("demo.add").unwrap(), 2);
    assert!(!store.call_tool("add", json!({"a": 1, "b": 1})).unwrap().from_cache());
    assert_eq!(store.invalidate_cache_service("demo").unwrap(), 2, "add and the keyed counter");
    store.call_tool("add", json!({"a": 1, "b": 1})).unwrap();
    assert_eq!(store.clear_cache(), 1);
    assert!(store.invalidate_cache_service("nope").is_err());
    assert!(store.invalidate_cache_tool("nope").is_err());
    assert_eq!(store.cache_stats().bytes, 0);
}

#[test]
fn invalidated_on_list_changed_remove_and_restart() {
    let store = policy_store(cached(100, MINUTE), &[("add", MINUTE)], &[]);
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
fn eight_threads_hammering_one_key() {
    let store = policy_store(cached(100, MINUTE), &[("add", MINUTE)], &[]);
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

#[test]
fn bypass_cache_holds_for_single_calls_batches_and_background_calls() {
    let store = policy_store(cached(100, MINUTE), &[("add", MINUTE)], &[]);
    let args = json!({"a": 5, "b": 5});
    store.call_tool("add", args.clone()).unwrap();
    assert!(store.call_tool("add", args.clone()).unwrap().from_cache(), "the policy caches add");
    let bypass = CallOptions { bypass_cache: true, ..Default::default() };
    let bypassing = || ToolCall { options: bypass.clone(), ..ToolCall::new("add", args.clone()) };
    let (before, stats) = (served(&store), store.cache_stats());

    let single = store.call_tool_with("add", args.clone(), &bypass).unwrap();
    assert!(!single.from_cache());
    // A batch of identical bypassing calls: none served from the cache, none merged.
    let calls: Vec<ToolCall> = (0..4).map(|_| bypassing()).collect();
    for r in store.batch_call(&calls, &BatchOptions::default()) {
        let r = r.unwrap();
        assert!(!r.from_cache() && r.text() == "10", "{r:?}");
    }
    let handle = store.submit(bypassing()).unwrap();
    assert!(!handle.wait_timeout(Duration::from_secs(20)).unwrap().from_cache());

    assert_eq!(served(&store), before + 6, "every bypassing call reached the server");
    let after = store.cache_stats();
    assert_eq!((after.hits, after.misses, after.inserts), (stats.hits, stats.misses, stats.inserts));
    // The same batch without bypass_cache is served from the cache.
    let plain: Vec<ToolCall> = (0..4).map(|_| ToolCall::new("add", args.clone())).collect();
    for r in store.batch_call(&plain, &BatchOptions::default()) {
        assert!(r.unwrap().from_cache());
    }
    assert_eq!(served(&store), before + 6);
}
