//! A service's own `pool` and `timeout` (from `mcp.json`, loaded into a live
//! store) override the store's settings for that service only.

mod common;

use std::time::Duration;

use common::{bounded, demo_bin, eventually};
use mcpstore::{Error, PoolConfig, Store, TimeoutPhase};
use serde_json::json;

#[test]
fn per_service_pool_and_timeout_on_a_live_store() {
    bounded(Duration::from_secs(90), || {
        let store_pool = PoolConfig {
            min_connections: 1,
            max_connections: 4,
            read_timeout: Duration::from_secs(20),
            ..common::test_pool()
        };
        let store = Store::builder().pool(store_pool).build().unwrap();
        let text = json!({"mcpServers": {
            "wide": {"command": demo_bin(), "pool": {"min_connections": 3, "max_connections": 3}},
            "quick": {"command": demo_bin(), "timeout": 0.5},
            "plain": {"command": demo_bin()},
        }})
        .to_string();
        let added = store.load_json(&text).unwrap();
        assert_eq!(added.len(), 3);
        assert!(store.wait_ready(Duration::from_secs(30)).is_empty());

        // Pool: "wide" keeps its own minimum of 3 sessions warm, the others the store's 1.
        eventually(Duration::from_secs(20), "wide warmed up to 3", || store.pool_stats()["wide"].open == 3);
        for name in ["quick", "plain"] {
            eventually(Duration::from_secs(20), "one warm session", || store.pool_stats()[name].open == 1);
        }
        std::thread::sleep(Duration::from_millis(300)); // upkeep rounds run; nothing grows
        let stats = store.pool_stats();
        assert_eq!((stats["wide"].open, stats["wide"].created), (3, 3), "{:?}", stats["wide"]);
        assert_eq!((stats["plain"].open, stats["plain"].created), (1, 1), "{:?}", stats["plain"]);
        assert_eq!(store.service_config("wide").unwrap().pool.unwrap().max_connections, 3);

        // Timeout: "quick" waits 0.5 s for a response; "plain" the store's 20 s.
        match store.call_tool("quick.sleep", json!({"ms": 3000})) {
            Err(Error::Timeout { phase: TimeoutPhase::Response, after, .. }) => {
                assert_eq!(after, Duration::from_millis(500))
            }
            other => panic!("quick: expected a response timeout after 0.5 s, got {other:?}"),
        }
        let r = store.call_tool("plain.sleep", json!({"ms": 1500})).expect("plain waits longer");
        assert_eq!(r.text(), "slept 1500 ms");
        assert_eq!(
            store.service_config("quick").unwrap().pool.unwrap().read_timeout,
            Duration::from_millis(500)
        );
    });
}
