//! The memory monitor relieves only what the library holds: a host that uses
//! 600 MB of its own with an idle store gets no relief and one warning when
//! memory crosses the threshold (another only after it went back under and
//! crossed again); with cache entries held, relief drops them.
//!
//! The store here talks HTTP to an in-process demo server: stdio sessions
//! keep pooled reply channels idle between calls, which the library does hold
//! (and relief would trim once), so an HTTP store is the one that holds nothing.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::eventually;
use mcpstore::{CallOptions, MemoryConfig, PoolConfig, ServiceConfig, Store};
use mcpstore_demo_server::{DemoOptions, spawn_http};
use parking_lot::Mutex;
use serde_json::json;

/// Keeps the monitor's log records (target `mcpstore::monitor`).
struct Capture;

static RECORDS: Mutex<Vec<(log::Level, String)>> = Mutex::new(Vec::new());

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.target() == "mcpstore::monitor"
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            RECORDS.lock().push((record.level(), record.args().to_string()));
        }
    }

    fn flush(&self) {}
}

static CAPTURE: Capture = Capture;

fn warnings() -> Vec<String> {
    RECORDS.lock().iter().filter(|(l, _)| *l == log::Level::Warn).map(|(_, m)| m.clone()).collect()
}

/// `n` MiB allocated and every page touched, so that they count in RSS.
fn resident_mib(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n << 20];
    for i in (0..v.len()).step_by(4096) {
        v[i] = 1;
    }
    std::hint::black_box(&mut v);
    v
}

/// Waits until the monitor has taken `more` samples beyond the current count.
fn wait_samples(store: &Store, more: u64) {
    let target = store.memory_summary().samples + more;
    eventually(Duration::from_secs(20), "monitor samples", || store.memory_summary().samples >= target);
}

#[test]
fn only_what_the_library_holds_is_relieved() {
    log::set_logger(&CAPTURE).expect("the only logger of this test binary");
    log::set_max_level(log::LevelFilter::Debug);
    common::bounded(Duration::from_secs(120), || {
        let server = spawn_http(DemoOptions::default(), "127.0.0.1:0").expect("demo server");
        let store = Store::builder()
            .pool(PoolConfig { min_connections: 1, max_connections: 2, ..common::test_pool() })
            .memory(MemoryConfig { monitoring_enabled: false, ..Default::default() })
            .build()
            .unwrap();
        store.add_service("web", ServiceConfig::http(server.url())).unwrap();
        assert!(store.wait_ready(Duration::from_secs(20)).is_empty());
        assert_eq!(store.call_tool("echo", json!({"message": "not cached"})).unwrap().text(), "not cached");
        eventually(Duration::from_secs(10), "the pool at its minimum", || {
            let p = &store.pool_stats()["web"];
            p.open == 1 && p.in_flight == 0
        });
        assert_eq!(store.cache_stats().entries, 0);

        let callbacks = Arc::new(AtomicUsize::new(0));
        let c = callbacks.clone();
        let monitor = store.memory_monitor();
        monitor.on_pressure(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        });
        let baseline = monitor.take_sample(Default::default()).rss_mb;
        let threshold = baseline + 300.0;
        monitor.set_threshold_mb(threshold);
        monitor.start(Duration::from_millis(10));
        wait_samples(&store, 3);
        assert_eq!(
            store.memory_summary().actions.trips,
            0,
            "below the threshold: {:?}",
            store.memory_summary()
        );

        // The host takes 600 MB of its own; the idle store holds nothing to release.
        let host = resident_mib(600);
        eventually(Duration::from_secs(20), "RSS above the threshold", || {
            store.memory_summary().current_rss_mb > threshold
        });
        wait_samples(&store, 20);
        let s = store.memory_summary();
        assert!(!s.live.releasable(), "the idle store holds nothing: {:?}", s.live);
        assert_eq!(s.actions.trips, 1, "one crossing: {s:?}");
        assert_eq!(s.actions.reliefs, 0, "nothing to relieve: {s:?}");
        let a = s.actions;
        assert_eq!(
            (a.expired_cleared, a.cache_halved, a.pools_trimmed, a.sessions_closed),
            (0, 0, 0, 0),
            "{s:?}"
        );
        let warned = warnings();
        assert_eq!(warned.len(), 1, "one warning per crossing: {warned:?}");
        assert!(warned[0].contains("above the threshold"), "{warned:?}");
        assert_eq!(callbacks.load(Ordering::SeqCst), 1, "one callback per crossing");
        assert_eq!(store.pool_stats()["web"].open, 1, "sessions at the minimum stay");

        // Back under: no warning; crossing again warns again.
        drop(host);
        eventually(Duration::from_secs(20), "RSS back under the threshold", || {
            store.memory_summary().current_rss_mb <= threshold
        });
        wait_samples(&store, 3);
        assert_eq!(warnings().len(), 1);
        let host = resident_mib(600);
        eventually(Duration::from_secs(20), "a second crossing", || {
            store.memory_summary().actions.trips == 2
        });
        wait_samples(&store, 10);
        assert_eq!(warnings().len(), 2, "{:?}", warnings());
        assert_eq!(store.memory_summary().actions.reliefs, 0);

        // The library now holds cache entries: relief drops them, without new warnings.
        for i in 0..10 {
            let keyed = CallOptions { cache_key: Some(format!("k{i}")), ..Default::default() };
            store.call_tool_with("echo", json!({"message": format!("m{i}")}), &keyed).unwrap();
        }
        eventually(Duration::from_secs(20), "relief of the cache", || {
            let s = store.memory_summary();
            s.actions.reliefs >= 1 && s.actions.cache_halved >= 1
        });
        eventually(Duration::from_secs(20), "the cache emptied by relief", || {
            store.cache_stats().entries == 0
        });
        wait_samples(&store, 10);
        let s = store.memory_summary();
        assert_eq!(s.actions.trips, 2, "{s:?}");
        assert_eq!(warnings().len(), 2, "relief does not warn again: {:?}", warnings());
        let reliefs = s.actions.reliefs;
        wait_samples(&store, 10);
        assert_eq!(store.memory_summary().actions.reliefs, reliefs, "nothing left: no more relief");
        assert!(
            RECORDS.lock().iter().any(|(l, m)| *l == log::Level::Debug && m.contains("relief dropped")),
            "relief says what it freed"
        );
        monitor.stop();
        drop(host);
        drop(store);
        server.shutdown();
    });
}
