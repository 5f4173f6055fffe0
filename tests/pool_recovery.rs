//! Pool recovery and upkeep (issue 3): a service that is down at start becomes
//! `unreachable`, then `healthy` once its server appears, with no call from the
//! user; idle sessions are reaped to the minimum and the minimum is kept warm
//! (dead sessions replaced); every store starts its maintenance.

mod common;
#[path = "common/reserved_port.rs"]
mod reserved_port;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{bounded, demo_http_on, demo_stdio, eventually, marked_children, test_pool, unique, with_env};
use mcpstore::{PoolConfig, ServiceConfig, ServiceState, Store};
use reserved_port::ReservedPort;
use serde_json::json;

fn state(store: &Store) -> ServiceState {
    store.list_services()[0].state
}

#[test]
fn down_at_start_then_unreachable_then_healthy_without_calls() {
    bounded(Duration::from_secs(120), || {
        // The port is held (bound, not listening: connections are refused)
        // until the server is started on it. If another process takes it in
        // that moment the server cannot bind: start over on a new port.
        for attempt in 1..=3 {
            if down_then_up(ReservedPort::new()) {
                return;
            }
            eprintln!("attempt {attempt}: the port was taken before the server bound it; again");
        }
        panic!("the demo server could not bind its reserved port three times");
    });
}

/// The scenario on `reserved`; false when the server could not bind the port.
fn down_then_up(reserved: ReservedPort) -> bool {
    let url = format!("http://127.0.0.1:{}/mcp", reserved.port());
    let pool = PoolConfig {
        min_connections: 2,
        connection_timeout: Duration::from_secs(2),
        health_check_interval: Duration::from_millis(200),
        health_check_timeout: Duration::from_millis(500),
        ..test_pool()
    };
    let store = Store::builder().pool(pool).build().unwrap();
    store.add_service("late", ServiceConfig::http(url.clone())).unwrap();

    eventually(Duration::from_secs(15), "state unreachable", || state(&store) == ServiceState::Unreachable);
    let info = &store.list_services()[0];
    assert_eq!(info.sessions, 0);
    assert!(info.last_error.as_deref().unwrap_or("").contains("connect"), "{info:?}");
    let st = store.pool_stats()["late"].clone();
    assert!(st.failed >= 3 && st.created == 0, "{st:?}");

    // The server comes up on that port; the pool notices on its own.
    let port = reserved.release();
    let Ok(demo) = std::panic::catch_unwind(|| demo_http_on(port, &[])) else {
        return false;
    };
    assert_eq!(demo.url(), url);
    eventually(Duration::from_secs(20), "state healthy", || state(&store) == ServiceState::Healthy);
    let info = &store.list_services()[0];
    assert_eq!(info.sessions, 2, "{info:?}");
    assert_eq!(info.tool_count, common::core::DEMO_TOOLS.len(), "{info:?}");
    assert_eq!(info.server_info.as_ref().map(|i| i.name.as_str()), Some("mcpstore-demo-server"));
    // Only now the first call.
    let r = store.call_tool("late.echo", json!({"message": "finally"})).unwrap();
    assert_eq!(r.text(), "finally");

    // The server goes away again: health checks notice, the sessions are
    // evicted and the service ends up unreachable again.
    drop(demo);
    eventually(Duration::from_secs(20), "state unreachable again", || {
        state(&store) == ServiceState::Unreachable
    });
    let st = store.pool_stats()["late"].clone();
    assert!(st.health_checks_failed >= 1 && st.evicted >= 2, "{st:?}");
    assert_eq!(store.list_services()[0].sessions, 0);
    true
}

#[test]
fn warm_up_idle_reaping_and_health_checks() {
    bounded(Duration::from_secs(60), || {
        let pool = PoolConfig {
            min_connections: 1,
            max_connections: 4,
            max_in_flight_per_connection: 1,
            max_idle_time: Duration::from_millis(300),
            health_check_interval: Duration::from_millis(150),
            health_check_timeout: Duration::from_secs(2),
            ..test_pool()
        };
        let store = Store::builder().pool(pool).build().unwrap();
        store.add_service("demo", demo_stdio(&[])).unwrap();

        // Warm-up: the minimum is opened without any call.
        eventually(Duration::from_secs(10), "one warm session", || store.pool_stats()["demo"].open == 1);
        let st = store.pool_stats()["demo"].clone();
        assert_eq!((st.created, st.reused), (1, 0), "{st:?}");

        // A burst grows the pool up to its maximum...
        let peak = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(store.pool_stats()["demo"].open, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(2));
                }
            });
            let workers: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        for _ in 0..3 {
                            store.call_tool("demo.sleep", json!({"ms": 100})).unwrap();
                        }
                    })
                })
                .collect();
            for w in workers {
                w.join().unwrap();
            }
            stop.store(true, Ordering::Relaxed);
        });
        let peak = peak.into_inner();
        assert!((2..=4).contains(&peak), "peak open {peak}");
        let created = store.pool_stats()["demo"].created;
        assert!(created >= 2, "{created}");

        // ... and idle sessions above the minimum are reaped.
        eventually(Duration::from_secs(10), "idle sessions reaped", || {
            let st = store.pool_stats()["demo"].clone();
            st.open == 1 && st.closed_idle >= created - 1
        });
        // Idle sessions are health-checked; the minimum stays open.
        eventually(Duration::from_secs(10), "health checks", || {
            store.pool_stats()["demo"].health_checks_passed >= 2
        });
        std::thread::sleep(Duration::from_millis(500));
        let st = store.pool_stats()["demo"].clone();
        assert_eq!(st.open, 1, "never below the minimum: {st:?}");
        assert_eq!(st.health_checks_failed, 0, "{st:?}");
        assert_eq!(st.evicted, 0, "{st:?}");
        assert_eq!(state(&store), ServiceState::Healthy);
    });
}

#[test]
fn dead_sessions_are_replaced_by_warm_up() {
    bounded(Duration::from_secs(60), || {
        let marker = unique("warm");
        let pool = PoolConfig {
            min_connections: 2,
            health_check_interval: Duration::from_millis(200),
            ..test_pool()
        };
        let store = Store::builder().pool(pool).build().unwrap();
        let config = with_env(demo_stdio(&[]), "MCPSTORE_TEST_MARKER", marker.clone());
        store.add_service("demo", config).unwrap();
        eventually(Duration::from_secs(10), "two warm sessions", || {
            store.pool_stats()["demo"].open == 2 && marked_children(&marker).len() == 2
        });
        let victim = marked_children(&marker)[0];
        // SAFETY: killing our own child process.
        unsafe {
            libc::kill(victim as i32, libc::SIGKILL);
        }
        eventually(Duration::from_secs(10), "the dead session replaced", || {
            let st = store.pool_stats()["demo"].clone();
            st.open == 2 && st.created == 3 && st.evicted >= 1
        });
        eventually(Duration::from_secs(10), "the killed process reaped", || {
            let children = marked_children(&marker);
            !children.contains(&victim) && children.len() == 2
        });
        let r = store.call_tool("demo.echo", json!({"message": "still"})).unwrap();
        assert_eq!(r.text(), "still");
        eventually(Duration::from_secs(5), "healthy again", || state(&store) == ServiceState::Healthy);
    });
}

/// Every store's maintenance thread runs. (It once could exit at once when it
/// started before the store's `Arc` was complete, leaving services
/// unconnected; many stores built on busy threads make that race likely.)
#[test]
fn every_new_store_connects_its_services() {
    bounded(Duration::from_secs(90), || {
        let server =
            mcpstore_demo_server::spawn_http(mcpstore_demo_server::DemoOptions::default(), "127.0.0.1:0")
                .unwrap();
        let url = server.url();
        std::thread::scope(|s| {
            for _ in 0..6 {
                s.spawn(|| {
                    for _ in 0..25 {
                        let store = Store::builder()
                            .pool(PoolConfig { min_connections: 1, ..test_pool() })
                            .build()
                            .unwrap();
                        store.add_service("demo", ServiceConfig::http(url.clone())).unwrap();
                        // A store whose maintenance never ran never connects: no clock bound needed.
                        let failed = store.wait_ready(Duration::from_secs(30));
                        assert!(failed.is_empty(), "not connected: {failed:?}");
                        let info = &store.list_services()[0];
                        assert_eq!(info.tool_count, common::core::DEMO_TOOLS.len());
                        assert_ne!(info.state, ServiceState::Initializing);
                    }
                });
            }
        });
        server.shutdown();
    });
}
