//! A stdio batch lane reads its own replies (no hand-off per reply): what
//! that must not break. One session carries everything here, so the lane
//! leads the reads of the session every other caller uses too.

mod support;

use std::time::{Duration, Instant};

use mcpstore::{BatchOptions, PerformanceConfig, PoolConfig, ProtocolChoice, ServiceConfig, Store, ToolCall};
use serde_json::json;
use support::*;

/// One session, a window of 64, writes that give up after 5 s.
fn one_session() -> PerformanceConfig {
    let mut config = config();
    config.pool = PoolConfig {
        min_connections: 1,
        max_connections: 1,
        max_in_flight_per_connection: 64,
        write_timeout: Duration::from_secs(5),
        ..test_pool()
    };
    config
}

fn store_speaking(version: &str) -> Store {
    let store = Store::builder().performance(one_session()).build().expect("store");
    let mut demo = ServiceConfig::stdio(demo_bin(), Vec::<String>::new());
    demo.protocol = ProtocolChoice::Version(version.into());
    store.add_service("demo", demo).expect("add");
    wait_ready(&store);
    store
}

fn options() -> BatchOptions {
    BatchOptions { max_workers: Some(64), ..Default::default() }
}

#[test]
fn big_requests_and_replies_both_ways_at_once() {
    // 64 requests of 32 KiB in flight, each answered with as much: the server
    // blocks on its full stdout while the lane still writes, so the lane must
    // read while its write waits (else both wait until the write times out).
    let store = store_speaking("2025-11-25");
    let big = |i: usize| format!("{i:05}{}", "x".repeat(32 * 1024));
    let calls: Vec<ToolCall> = (0..256).map(|i| ToolCall::new("echo", json!({"message": big(i)}))).collect();
    let started = Instant::now();
    let results = store.batch_call(&calls, &options());
    for (i, r) in results.iter().enumerate() {
        let text = r.as_ref().unwrap_or_else(|e| panic!("call {i}: {e}")).text();
        assert_eq!(text, big(i), "call {i}");
    }
    assert!(started.elapsed() < Duration::from_secs(5), "stalled: {:?}", started.elapsed());
}

#[test]
fn big_writes_of_other_callers_never_stall_the_leading_lane() {
    // Two lanes (one leads, the other writes as a plain caller) and single
    // callers, all with 32 KiB requests and replies: while another writer
    // holds stdin, blocked by a server that waits on its full stdout, the
    // leader must route instead of waiting for stdin in silence.
    let store = store_speaking("2025-11-25");
    let big = |tag: &str, i: usize| format!("{tag}{i:05}{}", "y".repeat(32 * 1024));
    let lane_options = BatchOptions { max_workers: Some(16), ..Default::default() };
    std::thread::scope(|s| {
        let mut threads = Vec::new();
        for lane in ["a", "b"] {
            let (store, lane_options) = (&store, &lane_options);
            threads.push(s.spawn(move || {
                let calls: Vec<ToolCall> =
                    (0..96).map(|i| ToolCall::new("echo", json!({"message": big(lane, i)}))).collect();
                for (i, r) in store.batch_call(&calls, lane_options).iter().enumerate() {
                    let text = r.as_ref().unwrap_or_else(|e| panic!("lane {lane}, call {i}: {e}")).text();
                    assert_eq!(text, big(lane, i), "lane {lane}, call {i}");
                }
            }));
        }
        for single in ["s", "t"] {
            let store = &store;
            threads.push(s.spawn(move || {
                for i in 0..24 {
                    let r = store.call_tool("echo", json!({"message": big(single, i)}));
                    let text = r.unwrap_or_else(|e| panic!("single {single}{i}: {e}")).text();
                    assert_eq!(text, big(single, i));
                }
            }));
        }
        for t in threads {
            t.join().unwrap();
        }
    });
    assert_eq!(store.pool_stats()["demo"].created, 1, "one session carried it all");
}

#[test]
fn other_callers_and_server_requests_are_served_while_a_lane_leads() {
    let store = store_speaking("2025-11-25");
    // Server requests during the lane's calls (each ping waits for the client's answer),
    // and single calls from other threads on the same session meanwhile.
    let calls: Vec<ToolCall> = (0..600)
        .map(|i| match i % 50 {
            0 => ToolCall::new("ping_client", json!({})),
            _ => ToolCall::new("echo", json!({"message": format!("b{i}")})),
        })
        .collect();
    std::thread::scope(|s| {
        let singles: Vec<_> = (0..4)
            .map(|t| {
                let store = &store;
                s.spawn(move || {
                    for k in 0..100 {
                        let message = format!("s{t}-{k}");
                        let r = store.call_tool("echo", json!({"message": message})).expect("single call");
                        assert_eq!(r.text(), message);
                    }
                })
            })
            .collect();
        let results = store.batch_call(&calls, &options());
        for (i, r) in results.iter().enumerate() {
            let r = r.as_ref().unwrap_or_else(|e| panic!("call {i}: {e}"));
            assert!(!r.tool_error(), "call {i}: {}", r.text());
            if i % 50 != 0 {
                assert_eq!(r.text(), format!("b{i}"));
            }
        }
        for t in singles {
            t.join().unwrap();
        }
    });
    assert_eq!(store.pool_stats()["demo"].created, 1, "one session carried it all");
}

#[test]
fn a_server_that_exits_during_a_lane_fails_its_calls_at_once() {
    let store = Store::builder().performance(one_session()).build().expect("store");
    store.add_service("demo", ServiceConfig::stdio(demo_bin(), ["--crash-after", "40"])).expect("add");
    wait_ready(&store);
    let calls: Vec<ToolCall> =
        (0..200).map(|i| ToolCall::new("echo", json!({"message": format!("c{i}")}))).collect();
    let started = Instant::now();
    let results = store.batch_call(&calls, &options());
    // Echo is not known safe to repeat: calls past the crash fail, none hangs.
    assert!(results.iter().any(|r| r.is_err()), "the crash failed no call");
    for (i, r) in results.iter().enumerate() {
        if let Ok(r) = r {
            assert_eq!(r.text(), format!("c{i}"));
        }
    }
    assert!(started.elapsed() < Duration::from_secs(5), "stalled: {:?}", started.elapsed());
    // The store goes on with a new session.
    assert!(eventually(Duration::from_secs(10), || store
        .call_tool("echo", json!({"message": "after"}))
        .is_ok()));
}
