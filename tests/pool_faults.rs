//! The pool under server faults (issue 3), with the demo server's fault
//! switches over real processes and sockets: crashes, hangs, expiring HTTP
//! sessions, garbage output.

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{bounded, demo_http, demo_stdio, eventually, marked_children, test_pool, unique, with_env};
use mcpstore::{Error, PoolConfig, RetryPolicy, ServiceConfig, Store, TimeoutPhase};
use serde_json::{Value, json};

fn store(config: ServiceConfig, pool: PoolConfig) -> Store {
    common::store_with_pool("demo", config, pool)
}

fn crash_pool() -> PoolConfig {
    PoolConfig {
        min_connections: 1,
        max_connections: 4,
        max_retries: 5,
        retry_delay: Duration::from_millis(10),
        ..test_pool()
    }
}

/// 1,000 calls from 8 threads on servers that crash at their 101st call.
/// Returns the errors seen.
fn crash_run(store: &'static Store, tool: &'static str, args: fn(usize, usize) -> Value) -> Vec<Error> {
    let errors = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..8 {
            let errors = &errors;
            s.spawn(move || {
                for i in 0..125 {
                    match store.call_tool(tool, args(t, i)) {
                        Ok(r) => assert!(!r.is_error, "thread {t} call {i}: {}", r.to_json()),
                        Err(e) => errors.lock().unwrap().push(e),
                    }
                }
            });
        }
    });
    errors.into_inner().unwrap()
}

#[test]
fn crashing_servers_are_replaced_and_only_in_flight_calls_fail() {
    bounded(Duration::from_secs(120), || {
        let marker = unique("crash");
        let config = with_env(demo_stdio(&["--crash-after", "100"]), "MCPSTORE_TEST_MARKER", marker.clone());
        let store: &'static Store = Box::leak(Box::new(store(config, crash_pool())));

        // echo is neither read-only nor idempotent: calls in flight at a crash fail.
        let errors = crash_run(store, "demo.echo", |t, i| json!({"message": format!("{t}/{i}")}));
        let st = store.pool_stats()["demo"].clone();
        let crashes = st.failed;
        assert!(st.created >= 10, "1,000 calls need >= 10 servers of 100 calls: {st:?}");
        assert!(crashes >= 9, "crashed sessions are counted as failed: {st:?}");
        assert!(st.evicted >= crashes.min(st.created) - 1, "{st:?}");
        assert!(!errors.is_empty(), "the call that crashed a server fails");
        assert!(
            errors.len() as u64 <= 8 * crashes,
            "only calls in flight at a crash fail: {} errors, {crashes} crashes",
            errors.len()
        );
        for e in &errors {
            assert!(matches!(e, Error::Closed { .. } | Error::Transport { .. }), "unexpected error {e:?}");
            assert!(e.may_have_run(), "only sent calls fail: {e:?}");
        }
        // Crashed processes were reaped and replaced: at most max_connections remain.
        eventually(Duration::from_secs(10), "crashed processes reaped", || {
            marked_children(&marker).len() <= 4
        });
        let created_before = st.created;

        // add is read-only and idempotent: it is retried and every call succeeds.
        // (Distinct arguments: results of read-only tools are cached.)
        let errors = crash_run(store, "demo.add", |t, i| json!({"a": t, "b": i}));
        assert!(errors.is_empty(), "add is retried: {errors:?}");
        let st = store.pool_stats()["demo"].clone();
        assert!(st.created >= created_before + 9, "{st:?}");
        assert!(st.retries > 0, "{st:?}");
        assert!(st.failed > crashes, "{st:?}");
        // Still serving.
        assert_eq!(store.call_tool("demo.echo", json!({"message": "alive"})).unwrap().text(), "alive");
    });
}

#[test]
fn caller_opt_in_retries_non_idempotent_calls() {
    bounded(Duration::from_secs(60), || {
        let config = ServiceConfig {
            retry: RetryPolicy { retry_all: true, ..Default::default() },
            ..demo_stdio(&["--crash-after", "20"])
        };
        let store: &'static Store = Box::leak(Box::new(store(config, crash_pool())));
        let errors = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        (0..50)
                            .filter(|_| store.call_tool("demo.echo", json!({"message": "m"})).is_err())
                            .count()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
        });
        assert_eq!(errors, 0);
        assert!(store.pool_stats()["demo"].retries > 0);
    });
}

fn hang_pool() -> PoolConfig {
    PoolConfig {
        min_connections: 1,
        max_connections: 2,
        read_timeout: Duration::from_millis(500),
        health_check_interval: Duration::from_millis(200),
        health_check_timeout: Duration::from_millis(300),
        max_retries: 2,
        ..test_pool()
    }
}

#[test]
fn hung_server_times_out_is_evicted_and_replaced() {
    bounded(Duration::from_secs(60), || {
        let marker = unique("hang");
        let config = with_env(demo_stdio(&["--hang-after", "3"]), "MCPSTORE_TEST_MARKER", marker.clone());
        let pool = hang_pool();
        let read_timeout = pool.read_timeout;
        let store: &'static Store = Box::leak(Box::new(store(config, pool)));
        for i in 0..3 {
            store.call_tool("demo.echo", json!({"message": i.to_string()})).unwrap();
        }
        let hung_pid = marked_children(&marker);
        assert_eq!(hung_pid.len(), 1, "one server process");

        // Several threads run into the hung server at once: each call returns
        // with a response timeout within its bound; none stays blocked.
        let results: Vec<(Result<_, Error>, Duration)> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|i| {
                    s.spawn(move || {
                        let started = Instant::now();
                        let r = store.call_tool("demo.echo", json!({"message": format!("h{i}")}));
                        (r.map(|r| r.text()), started.elapsed())
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut timeouts = 0;
        for (r, took) in &results {
            match r {
                Err(Error::Timeout { phase: TimeoutPhase::Response, after, .. }) => {
                    timeouts += 1;
                    assert!(*took >= read_timeout, "early: {took:?}");
                    assert!(*took < read_timeout + common::LOAD_MARGIN, "late: {took:?}");
                    assert!(*after <= read_timeout);
                }
                // A call that reached a fresh session after the first was marked suspect.
                Ok(text) => assert!(text.starts_with('h')),
                Err(e) => panic!("unexpected error {e:?}"),
            }
        }
        assert!(timeouts >= 1, "{results:?}");

        // The hung session fails its health check and is evicted; its process ends.
        eventually(Duration::from_secs(10), "the hung session evicted", || {
            let st = store.pool_stats()["demo"].clone();
            st.evicted >= 1 && st.health_checks_failed >= 1
        });
        eventually(Duration::from_secs(10), "the hung process gone", || {
            !marked_children(&marker).contains(&hung_pid[0])
        });
        // Later calls work on a new session.
        let r = store.call_tool("demo.echo", json!({"message": "fresh"})).unwrap();
        assert_eq!(r.text(), "fresh");
        assert!(store.pool_stats()["demo"].created >= 2);
    });
}

#[test]
fn idempotent_call_on_a_hung_server_is_retried_elsewhere() {
    bounded(Duration::from_secs(60), || {
        let store: &'static Store =
            Box::leak(Box::new(store(demo_stdio(&["--hang-after", "1"]), hang_pool())));
        store.call_tool("demo.add", json!({"a": 0, "b": 0})).unwrap();
        // The second call hangs, times out, and is retried on a new session.
        let r = store
            .call_tool_with(
                "demo.add",
                json!({"a": 2, "b": 3}),
                &mcpstore::CallOptions { bypass_cache: true, ..Default::default() },
            )
            .unwrap();
        assert_eq!(r.text(), "5");
        let st = store.pool_stats()["demo"].clone();
        assert!(st.retries >= 1 && st.created >= 2, "{st:?}");
    });
}

#[test]
fn hung_http_server_times_out() {
    bounded(Duration::from_secs(60), || {
        let demo = demo_http(&["--hang-after", "2"]);
        let pool = hang_pool();
        let read_timeout = pool.read_timeout;
        let store = store(demo.config(), pool);
        store.call_tool("demo.echo", json!({"message": "1"})).unwrap();
        store.call_tool("demo.echo", json!({"message": "2"})).unwrap();
        let started = Instant::now();
        let err = store.call_tool("demo.echo", json!({"message": "3"})).unwrap_err();
        let took = started.elapsed();
        assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
        assert!(took >= read_timeout && took < read_timeout + common::LOAD_MARGIN, "{took:?}");
        // The whole server hangs: health checks fail and the session is evicted.
        eventually(Duration::from_secs(10), "the hung session evicted", || {
            let st = store.pool_stats()["demo"].clone();
            st.evicted >= 1 && st.health_checks_failed >= 1
        });
    });
}

#[test]
fn expiring_http_sessions_keep_calls_succeeding() {
    bounded(Duration::from_secs(60), || {
        for extra in [&[][..], &["--json"][..]] {
            // Each server session answers 20 POSTs; 4 threads make 200 calls.
            let mut args = vec!["--expire-sessions-after", "20"];
            args.extend_from_slice(extra);
            let demo = demo_http(&args);
            let pool = PoolConfig { max_retries: 5, ..test_pool() };
            // Sessions are the handshake era's: the stateless era has none to expire.
            let config = common::pinned(demo.config(), common::HANDSHAKE_ERA);
            let store: &'static Store = Box::leak(Box::new(store(config, pool)));
            std::thread::scope(|s| {
                for t in 0..4 {
                    s.spawn(move || {
                        for i in 0..50 {
                            let m = format!("{t}-{i}");
                            let r = store
                                .call_tool("demo.echo", json!({ "message": m }))
                                .unwrap_or_else(|e| panic!("call {m}: {e}"));
                            assert_eq!(r.text(), m);
                        }
                    });
                }
            });
            let stats = common::demo_stats(store, "demo.stats");
            assert!(stats["sessions"].as_u64().unwrap() >= 200 / 20, "sessions were re-initialized: {stats}");
        }
    });
}

#[test]
fn a_garbage_line_is_skipped_and_the_session_lives_on() {
    bounded(Duration::from_secs(60), || {
        let pool = PoolConfig { min_connections: 1, max_connections: 1, ..test_pool() };
        let store = store(demo_stdio(&["--garbage-after", "2"]), pool);
        store.call_tool("demo.echo", json!({"message": "1"})).unwrap();
        store.call_tool("demo.echo", json!({"message": "2"})).unwrap();
        // The garbage replaced the reply: the call times out and says what came instead.
        let quick = mcpstore::CallOptions { timeout: Some(Duration::from_secs(1)), ..Default::default() };
        match store.call_tool_with("demo.echo", json!({"message": "3"}), &quick) {
            Err(Error::Timeout { detail: Some(d), .. }) => assert!(d.contains("<<garbage>>"), "{d}"),
            other => panic!("expected a timeout naming the garbage, got {other:?}"),
        }
        // The same session goes on serving.
        let r = store.call_tool("demo.echo", json!({"message": "4"})).unwrap();
        assert_eq!(r.text(), "4");
        let st = store.pool_stats()["demo"].clone();
        assert_eq!((st.created, st.failed, st.stray_lines), (1, 0, 1), "{st:?}");
    });
}
