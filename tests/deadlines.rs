//! The caller's deadline holds end to end: waiting for a service that is
//! still starting, spawning and initializing a session, and acquiring one all
//! stop at the call's deadline. A crash-looping server is not respawned by
//! every call: while its back-off runs, calls fail fast with its last error.

mod common;

use std::time::{Duration, Instant};

use common::TempDir;
use mcpstore::{CallOptions, Error, PoolConfig, ServiceConfig, Store, TimeoutPhase};
use serde_json::json;

fn within(timeout: Duration) -> CallOptions {
    CallOptions { timeout: Some(timeout), ..Default::default() }
}

/// A stdio "server" that reads its input and never answers anything.
fn mute_server() -> ServiceConfig {
    ServiceConfig::stdio("sh", ["-c", "while read -r line; do :; done"])
}

#[test]
fn a_server_that_never_answers_initialize_times_out_at_the_call_deadline() {
    common::bounded(Duration::from_secs(60), || {
        // The pool's own limits are long: only the call's 2 s may end the wait.
        let pool = PoolConfig {
            connection_timeout: Duration::from_secs(30),
            acquire_timeout: Duration::from_secs(30),
            ..common::test_pool()
        };
        let store = Store::builder().pool(pool).build().unwrap();
        store.add_service("mute", mute_server()).unwrap();
        let started = Instant::now();
        let r = store.call_tool_with("mute.anything", json!({}), &within(Duration::from_secs(2)));
        let took = started.elapsed();
        assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
        assert!(took < Duration::from_millis(2500), "the 2 s deadline held: {took:?}");
        assert!(
            took >= Duration::from_millis(1900),
            "it waited for the service as long as it could: {took:?}"
        );
    });
}

#[test]
fn opening_a_session_for_a_call_stops_at_its_deadline() {
    common::bounded(Duration::from_secs(60), || {
        // One session that answers, then one that never does: the call that must open it waits no longer than it may.
        let dir = TempDir::new("mcps-deadline");
        let flag = dir.path().join("first");
        let script = format!(
            "if [ -e '{flag}' ]; then while read -r line; do :; done; else touch '{flag}'; exec '{demo}'; fi",
            flag = flag.display(),
            demo = common::demo_bin()
        );
        let pool = PoolConfig {
            min_connections: 1,
            max_connections: 2,
            max_in_flight_per_connection: 1,
            connection_timeout: Duration::from_secs(30),
            ..common::test_pool()
        };
        let store = Store::builder().pool(pool).build().unwrap();
        store.add_service("demo", ServiceConfig::stdio("sh", ["-c", &script])).unwrap();
        assert!(store.wait_ready(Duration::from_secs(20)).is_empty());
        // Keep the first session busy, so the next call must open the second.
        let busy = store.submit(mcpstore::ToolCall::new("demo.sleep", json!({"ms": 5000}))).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        let r = store.call_tool_with("demo.echo", json!({"message": "x"}), &within(Duration::from_secs(2)));
        let took = started.elapsed();
        match r {
            Err(Error::Timeout { phase, .. }) => {
                assert!(
                    matches!(
                        phase,
                        TimeoutPhase::Initialize
                            | TimeoutPhase::Connect
                            | TimeoutPhase::Acquire
                            | TimeoutPhase::Response
                    ),
                    "{phase:?}"
                )
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert!(took < Duration::from_millis(2500), "{took:?}");
        busy.cancel();
    });
}

#[test]
fn a_crash_looping_server_is_not_respawned_by_every_call() {
    common::bounded(Duration::from_secs(60), || {
        let dir = TempDir::new("mcps-crashloop");
        let log = dir.path().join("spawns");
        let script = format!("echo spawn >> '{}'; exit 1", log.display());
        let pool =
            PoolConfig { min_connections: 1, max_connections: 1, max_retries: 3, ..common::test_pool() };
        let store = Store::builder().pool(pool).build().unwrap();
        store.add_service("crashy", ServiceConfig::stdio("sh", ["-c", &script])).unwrap();
        // Let its first attempts fail and its back-off begin.
        common::eventually(Duration::from_secs(10), "the first failed attempts", || {
            std::fs::read_to_string(&log).map(|t| t.lines().count() >= 2).unwrap_or(false)
        });
        let before = std::fs::read_to_string(&log).unwrap().lines().count();
        let started = Instant::now();
        let mut fast = 0;
        for _ in 0..50 {
            let t = Instant::now();
            let r = store.call_tool_with("crashy.echo", json!({}), &within(Duration::from_secs(5)));
            assert!(r.is_err());
            if t.elapsed() < Duration::from_millis(500) {
                fast += 1;
            }
        }
        let spawned = std::fs::read_to_string(&log).unwrap().lines().count() - before;
        assert!(fast >= 45, "calls failed fast during the back-off: {fast} of 50");
        // The back-off doubles from 250 ms: a few attempts in this time, never one per call.
        let secs = started.elapsed().as_secs_f64();
        assert!(spawned <= 4 + secs as usize, "{spawned} spawns for 50 calls in {secs:.1} s");
        let e = store.call_tool("crashy.echo", json!({})).unwrap_err();
        assert!(
            e.to_string().contains("back-off")
                || e.to_string().contains("unreachable")
                || e.to_string().contains("reconnecting"),
            "{e}"
        );
    });
}
