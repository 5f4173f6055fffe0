//! One performance configuration: files, the environment (which wins), and
//! runtime changes that alter behaviour.

mod support;

use std::time::Duration;

use mcpstore::{CacheConfig, PerformanceConfig};
use serde_json::json;
use support::*;

#[test]
fn loads_a_standalone_file_and_the_performance_section() {
    isolated::assert_no_settings_in_env(); // from_file applies the environment
    let dir = std::env::temp_dir().join(format!("mcps-perf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("perf.json");
    std::fs::write(
        &file,
        r#"{"cache_size": 7, "pool": {"max_connections": 3}, "memory": {"threshold_mb": 64}}"#,
    )
    .unwrap();
    let c = PerformanceConfig::from_file(&file).unwrap();
    assert_eq!((c.cache.capacity, c.pool.max_connections, c.memory.threshold_mb), (7, 3, 64.0));

    let mcp = dir.join("mcp.json");
    let text = json!({"mcpServers": {"demo": {"command": demo_bin()}}, "performance": {"cache_ttl": 9}});
    std::fs::write(&mcp, text.to_string()).unwrap();
    let store = mcpstore::Store::from_file(&mcp).unwrap();
    assert_eq!(store.config().cache.ttl, Duration::from_secs(9));
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"performance": {"cache_sise": 1}}"#).unwrap();
    let err = mcpstore::Store::from_file(&bad).unwrap_err();
    assert!(err.to_string().contains("cache_sise"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn environment_overrides_the_file() {
    let dir = std::env::temp_dir().join(format!("mcps-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mcp = dir.join("mcp.json");
    let text = json!({"mcpServers": {"demo": {"command": demo_bin()}}, "performance": {"cache_size": 5}});
    std::fs::write(&mcp, text.to_string()).unwrap();
    let out = isolated::command(cli_bin())
        .args([
            "--config",
            mcp.to_str().unwrap(),
            "bench",
            "echo",
            r#"{"message":"x"}"#,
            "--calls",
            "5",
            "--warmup",
            "0",
        ])
        .args(["--json", "--stats", "json"])
        .env("MCPSTORE_CACHE_SIZE", "42")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let stats: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(stats["cache"]["capacity"], 42, "{stats}");

    let bad = isolated::command(cli_bin())
        .args(["--config", mcp.to_str().unwrap(), "services"])
        .env("MCPSTORE_CACHE_TTL", "soon")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("MCPSTORE_CACHE_TTL"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn runtime_changes_alter_behaviour() {
    let store = stdio_store(config(), &[]);
    store.call_tool_with("add", json!({"a": 1, "b": 0}), &keyed(&format!("add-{}-{}", 1, 0))).unwrap();
    store.call_tool_with("add", json!({"a": 2, "b": 0}), &keyed(&format!("add-{}-{}", 2, 0))).unwrap();
    assert_eq!(store.cache_stats().entries, 2);

    let mut cfg = store.config();
    cfg.cache = CacheConfig { capacity: 1, ..cfg.cache };
    let report = store.apply_performance_config(cfg.clone()).unwrap();
    assert!(report.applied.contains(&"cache_size".to_owned()), "{report:?}");
    assert_eq!(store.cache_stats().entries, 1);

    cfg.cache.enabled = false;
    store.apply_performance_config(cfg.clone()).unwrap();
    let hits = store.cache_stats().hits;
    store.call_tool_with("add", json!({"a": 9, "b": 0}), &keyed(&format!("add-{}-{}", 9, 0))).unwrap();
    store.call_tool_with("add", json!({"a": 9, "b": 0}), &keyed(&format!("add-{}-{}", 9, 0))).unwrap();
    assert_eq!(store.cache_stats().hits, hits, "caching is off");

    cfg.max_response_bytes = 1024;
    let report = store.apply_performance_config(cfg.clone()).unwrap();
    assert_eq!(report.needs_restart, vec!["max_response_bytes".to_owned()]);

    cfg.pool.max_connections = 0;
    assert!(store.apply_performance_config(cfg).is_err(), "bad values are refused");
}
