//! The memory monitor's relief, call metrics after a known workload, and the
//! Prometheus text format.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mcpstore::{CallOptions, Error, MemoryConfig, PerformanceConfig, PoolConfig, ToolCall};
use serde_json::json;
use support::*;

fn quiet_monitor() -> PerformanceConfig {
    PerformanceConfig { memory: MemoryConfig { monitoring_enabled: false, ..Default::default() }, ..config() }
}

#[test]
fn a_tiny_threshold_trips_relief() {
    let cfg = PerformanceConfig {
        pool: PoolConfig {
            min_connections: 1,
            max_connections: 3,
            max_in_flight_per_connection: 1,
            ..test_pool()
        },
        ..quiet_monitor()
    };
    let store = stdio_store(cfg, &[]);
    // Three sessions at once (one call in flight each), then idle; and a full cache.
    let handles: Vec<_> =
        (0..3).map(|_| store.submit(ToolCall::new("sleep", json!({"ms": 300}))).unwrap()).collect();
    assert!(eventually(Duration::from_secs(5), || store.pool_stats()["demo"].open == 3));
    for h in handles {
        h.wait().unwrap();
    }
    for a in 0..10 {
        store.call_tool_with("add", json!({"a": a, "b": 0}), &keyed(&format!("add-{}-{}", a, 0))).unwrap();
    }
    let trips = Arc::new(AtomicUsize::new(0));
    let t = trips.clone();
    let monitor = store.memory_monitor();
    monitor.on_pressure(move |sample| {
        assert!(sample.rss_mb > 0.0);
        t.fetch_add(1, Ordering::SeqCst);
    });
    monitor.set_threshold_mb(0.001);
    monitor.start(Duration::from_millis(20));
    assert!(eventually(Duration::from_secs(5), || trips.load(Ordering::SeqCst) >= 1), "callback never ran");
    monitor.stop();
    let s = store.memory_summary();
    assert!(s.actions.trips >= 1 && s.actions.cache_halved >= 1 && s.actions.pools_trimmed >= 1, "{s:?}");
    assert!(s.actions.sessions_closed >= 2, "idle sessions above the minimum closed: {s:?}");
    assert!(store.cache_stats().entries <= 5, "the LRU half was dropped: {:?}", store.cache_stats());
    assert!(eventually(Duration::from_secs(5), || store.pool_stats()["demo"].open == 1));
    assert!(s.current_rss_mb > 1.0 && s.max_rss_mb >= s.avg_rss_mb);
    assert!(s.live.open_sessions >= 1);
}

#[test]
fn a_huge_threshold_does_nothing_and_stop_stops_sampling() {
    let store = stdio_store(quiet_monitor(), &[]);
    for a in 0..4 {
        store.call_tool_with("add", json!({"a": a, "b": 0}), &keyed(&format!("add-{}-{}", a, 0))).unwrap();
    }
    let monitor = store.memory_monitor();
    monitor.set_threshold_mb(1e9);
    monitor.start(Duration::from_millis(10));
    assert!(eventually(Duration::from_secs(5), || store.memory_summary().samples >= 3));
    monitor.stop();
    let s = store.memory_summary();
    assert_eq!(s.actions.trips, 0);
    assert_eq!(store.cache_stats().entries, 4);
    std::thread::sleep(Duration::from_millis(100));
    let later = store.memory_summary().samples;
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(store.memory_summary().samples, later, "no samples after stop()");
}

#[test]
fn counts_are_exact_after_a_known_workload() {
    let cfg = PerformanceConfig {
        pool: PoolConfig { min_connections: 1, max_connections: 1, ..test_pool() },
        ..quiet_monitor()
    };
    // The server exits on its 4th call; `add` is idempotent, so that call is retried once.
    let store = stdio_store(cfg, &["--crash-after", "3"]);
    for i in 0..2 {
        store.call_tool("demo.echo", json!({"message": i.to_string()})).unwrap();
    }
    store.call_tool("demo.fail", json!({})).unwrap(); // a tool error (isError)
    store.call_tool_with("demo.add", json!({"a": 1, "b": 1}), &keyed(&format!("add-{}-{}", 1, 1))).unwrap(); // 4th call: crash, retry
    store.call_tool_with("demo.add", json!({"a": 1, "b": 1}), &keyed(&format!("add-{}-{}", 1, 1))).unwrap(); // cache hit
    store.call_tool_with("demo.add", json!({"a": 1, "b": 1}), &keyed(&format!("add-{}-{}", 1, 1))).unwrap(); // cache hit
    let timeout = CallOptions { timeout: Some(Duration::from_millis(100)), ..Default::default() };
    let r = store.call_tool_with("demo.sleep", json!({"ms": 2000}), &timeout);
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");

    let stats = store.stats();
    let tool = |name: &str| stats.tools.iter().find(|t| t.tool == name).unwrap().clone();
    let echo = tool("echo");
    assert_eq!((echo.calls, echo.tool_errors, echo.retries, echo.cache_hits), (2, 0, 0, 0));
    assert!(echo.bytes_out > 0 && echo.bytes_in > 0);
    let fail = tool("fail");
    assert_eq!((fail.calls, fail.tool_errors), (1, 1));
    let add = tool("add");
    assert_eq!((add.calls, add.retries, add.cache_hits), (1, 1, 2));
    let sleep = tool("sleep");
    assert_eq!((sleep.calls, sleep.timeouts), (1, 1));
    assert_eq!(sleep.errors.get("timeout"), Some(&1));
    assert_eq!(stats.pool["demo"].retries, 1);
    assert!(stats.pool["demo"].created >= 2, "the crashed process was replaced");
}

#[test]
fn prometheus_text_parses_line_by_line() {
    let store = stdio_store(quiet_monitor(), &[]);
    store.call_tool("echo", json!({"message": "x"})).unwrap();
    let text = store.stats().to_prometheus();
    let mut typed = std::collections::HashSet::new();
    let mut samples = 0;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            assert!(rest.split_once(' ').is_some(), "HELP needs a name and text: {line}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(matches!(kind, "counter" | "gauge" | "summary" | "histogram"), "{line}");
            assert!(typed.insert(name.to_owned()), "TYPE twice for {name}");
        } else {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad sample line: {line}"));
            value.parse::<f64>().unwrap_or_else(|_| panic!("bad value in {line}"));
            let name = series.split('{').next().unwrap();
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "bad name {name}");
            let family = name.trim_end_matches("_sum").trim_end_matches("_count");
            assert!(typed.contains(name) || typed.contains(family), "sample before its TYPE: {line}");
            if let Some(labels) = series.strip_prefix(name)
                && !labels.is_empty()
            {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
            }
            samples += 1;
        }
    }
    assert!(samples > 10);
    assert!(text.contains("mcpstore_calls_total{service=\"demo\",tool=\"echo\"} 1"), "{text}");
    let json = store.stats().to_json();
    assert_eq!(json["tools"].as_array().unwrap().iter().find(|t| t["tool"] == "echo").unwrap()["calls"], 1);
    assert!(store.stats().to_table().contains("demo.echo"));
}
