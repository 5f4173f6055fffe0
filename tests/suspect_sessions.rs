//! A session on which a call timed out is suspect (issue 9, point 3): it
//! takes no new calls until a health check clears it, and the calls already
//! queued on it are not cut short. Against the demo server in `--serial` mode
//! over stdio, which answers one request at a time, so a second call on the
//! same session waits behind the first.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{LOAD_MARGIN, bounded, demo_stdio, eventually, store_with_pool, test_pool};
use mcpstore::{CallOptions, Error, PoolConfig, Store, TimeoutPhase};
use serde_json::json;

fn within(limit: Duration) -> CallOptions {
    CallOptions { timeout: Some(limit), ..Default::default() }
}

fn pool_stats(store: &Store) -> mcpstore::PoolStats {
    store.pool_stats()["demo"].clone()
}

#[test]
fn a_timed_out_call_leaves_its_session_to_the_call_queued_behind_it() {
    bounded(Duration::from_secs(120), || {
        let pool = PoolConfig {
            min_connections: 1,
            max_connections: 2,
            max_in_flight_per_connection: 2,
            // The check of the suspect session queues behind the second call
            // on the serial server: give it time to be answered.
            health_check_timeout: Duration::from_secs(30),
            health_check_interval: Duration::from_secs(600),
            ..test_pool()
        };
        let store = Arc::new(store_with_pool("demo", demo_stdio(&["--serial"]), pool));
        assert_eq!(pool_stats(&store).created, 1);

        // A: three seconds of work, one second allowed.
        let s = store.clone();
        let a = std::thread::spawn(move || {
            let started = Instant::now();
            let r = s.call_tool_with("sleep", json!({"ms": 3000}), &within(Duration::from_secs(1)));
            (r, started.elapsed())
        });
        eventually(Duration::from_secs(10), "A in flight", || pool_stats(&store).in_flight == 1);

        // B: queued behind A on the same session (the only one, and it carries two).
        let s = store.clone();
        let b = std::thread::spawn(move || {
            s.call_tool_with("sleep", json!({"ms": 3000}), &within(Duration::from_secs(10)))
        });
        eventually(Duration::from_secs(10), "B in flight", || pool_stats(&store).in_flight == 2);

        let (a_result, a_took) = a.join().unwrap();
        match &a_result {
            Err(e @ Error::Timeout { phase: TimeoutPhase::Response, after, .. }) => {
                // What was left of the call's one second when the request was sent.
                assert!(*after <= Duration::from_secs(1), "{e}");
                assert!(e.may_have_run(), "{e:?}");
            }
            other => panic!("A: expected a response timeout, got {other:?}"),
        }
        assert!(a_took < Duration::from_secs(1) + LOAD_MARGIN, "A returned after {a_took:?}");
        // Still one session: B is on A's session.
        let st = pool_stats(&store);
        assert_eq!(st.created, 1, "{st:?}");
        assert!(!b.is_finished(), "B waits behind A on the serial server");

        // C, a new call meanwhile, goes to another session: a fresh server
        // process that has served no call and cancelled nothing (A's process
        // has served A and would only answer after B).
        let c = store.call_tool("stats", json!({})).expect("C");
        let c = c.structured_content.clone().expect("stats has structuredContent");
        assert_eq!(c["calls"], 0, "C ran in A's process: {c}");
        assert_eq!(c["cancelled"], 0, "C ran in A's process: {c}");
        assert!(!b.is_finished(), "C was answered while B still ran on the suspect session");
        assert_eq!(pool_stats(&store).created, 2);

        // B is not cut short: it succeeds on the suspect session.
        let b_result = b.join().unwrap().expect("B succeeds behind the timed-out call");
        assert_eq!(b_result.text(), "slept 3000 ms");

        // The suspect session kept answering: its health check passes and it stays.
        eventually(Duration::from_secs(30), "the health check of the suspect session", || {
            pool_stats(&store).health_checks_passed >= 1
        });
        let st = pool_stats(&store);
        assert_eq!((st.evicted, st.failed, st.health_checks_failed, st.open), (0, 0, 0, 2), "{st:?}");
    });
}
