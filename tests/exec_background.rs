//! Background calls: handles, timeouts, cancellation, callbacks, completion queues, Busy.

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcpstore::{BatchConfig, Error, PerformanceConfig, TimeoutPhase, ToolCall};
use serde_json::json;
use support::*;

#[test]
fn wait_and_wait_timeout() {
    let store = stdio_store(config(), &[]);
    let h = store.submit(ToolCall::new("echo", json!({"message": "bg"}))).unwrap();
    assert_eq!(h.wait().unwrap().text(), "bg");
    assert!(h.is_finished());
    assert_eq!(h.try_result().unwrap().unwrap().text(), "bg");

    let slow = store.submit(ToolCall::new("sleep", json!({"ms": 3000}))).unwrap();
    let limit = Duration::from_millis(50);
    let started = Instant::now();
    match slow.wait_timeout(limit) {
        Err(Error::Timeout { phase: TimeoutPhase::Wait, after, .. }) => assert_eq!(after, limit),
        other => panic!("expected a wait timeout, got {other:?}"),
    }
    // The wait gave up at its own limit, not when the call ended.
    assert!(started.elapsed() < limit + LOAD_MARGIN, "{:?}", started.elapsed());
    assert!(slow.try_result().is_none() && !slow.is_finished());
    // The call itself goes on and completes.
    assert_eq!(slow.wait_timeout(Duration::from_secs(20)).unwrap().text(), "slept 3000 ms");
}

#[test]
fn cancel_resolves_the_handle_and_tells_the_server() {
    let store = stdio_store(config(), &[]);
    store.call_tool("reset_stats", json!({})).unwrap();
    let h = store.submit(ToolCall::new("sleep", json!({"ms": 10_000}))).unwrap();
    // Let the request reach the server before cancelling it.
    assert!(eventually(Duration::from_secs(5), || server_stats(&store, "stats")["in_flight"] == 1));
    h.cancel();
    // Resolved by cancel() itself, before the server (sleeping 10 s) answers.
    assert!(h.is_finished(), "cancel resolves the handle at once");
    assert!(matches!(h.try_result(), Some(Err(Error::Cancelled))), "{:?}", h.try_result());
    assert!(matches!(h.wait_timeout(Duration::ZERO), Err(Error::Cancelled)));
    assert!(
        eventually(Duration::from_secs(5), || server_stats(&store, "stats")["cancelled"].as_u64() >= Some(1)),
        "server never saw notifications/cancelled"
    );
}

#[test]
fn callbacks_run_exactly_once() {
    let store = stdio_store(config(), &[]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for i in 0..100 {
        let seen = seen.clone();
        let call = ToolCall::new("echo", json!({"message": i.to_string()}));
        handles.push(
            store.submit_with_callback(call, move |r| seen.lock().unwrap().push(r.unwrap().text())).unwrap(),
        );
    }
    for h in &handles {
        h.wait_timeout(Duration::from_secs(20)).unwrap();
    }
    assert!(eventually(Duration::from_secs(5), || seen.lock().unwrap().len() == 100));
    std::thread::sleep(Duration::from_millis(50));
    let mut got = seen.lock().unwrap().clone();
    got.sort_by_key(|s| s.parse::<u32>().unwrap());
    assert_eq!(got, (0..100).map(|i| i.to_string()).collect::<Vec<_>>());
}

#[test]
fn a_callback_also_runs_once_for_a_cancelled_call() {
    let store = stdio_store(config(), &[]);
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let h = store
        .submit_with_callback(ToolCall::new("sleep", json!({"ms": 5000})), move |res| {
            assert!(matches!(res, Err(Error::Cancelled)));
            r.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    h.cancel();
    assert!(eventually(Duration::from_secs(5), || runs.load(Ordering::SeqCst) == 1));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[test]
fn completion_queue_returns_every_tag_once() {
    let store = stdio_store(config(), &[]);
    let queue = store.completion_queue();
    for tag in 0..1000u64 {
        queue.submit(ToolCall::new("echo", json!({"message": tag.to_string()})), tag).unwrap();
    }
    let mut tags = HashSet::new();
    while tags.len() < 1000 {
        let c = queue.recv_timeout(Duration::from_secs(30)).expect("completion");
        assert_eq!(c.result.unwrap().text(), c.tag.to_string());
        assert!(tags.insert(c.tag), "tag {} twice", c.tag);
    }
    assert!(queue.try_recv().is_none());
    assert_eq!(queue.pending(), 0);
}

#[test]
fn submit_beyond_the_limit_is_busy_after_the_timeout() {
    let cfg = PerformanceConfig {
        batch: BatchConfig {
            max_concurrent_calls: 2,
            submit_timeout: Duration::from_millis(150),
            ..Default::default()
        },
        ..config()
    };
    let store = stdio_store(cfg, &[]);
    let a = store.submit(ToolCall::new("sleep", json!({"ms": 1500}))).unwrap();
    let b = store.submit(ToolCall::new("sleep", json!({"ms": 1500}))).unwrap();
    let started = Instant::now();
    match store.submit(ToolCall::new("echo", json!({"message": "x"}))) {
        Err(Error::Busy { .. }) => {}
        other => panic!("expected Busy, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(140), "Busy came early: {:?}", started.elapsed());
    assert!(
        a.wait_timeout(Duration::from_secs(10)).is_ok() && b.wait_timeout(Duration::from_secs(10)).is_ok()
    );
    assert!(store.submit(ToolCall::new("echo", json!({"message": "x"}))).unwrap().wait().is_ok());
    assert_eq!(store.executor_stats().rejected, 1);
}

#[test]
fn dropping_the_store_resolves_pending_calls() {
    let store = stdio_store(config(), &[]);
    let h = store.submit(ToolCall::new("sleep", json!({"ms": 10_000}))).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    drop(store);
    match h.wait_timeout(Duration::from_secs(10)) {
        Err(Error::Closed { .. }) => {}
        other => panic!("expected Closed, got {other:?}"),
    }
}

#[test]
fn wait_returns_only_after_the_callback_returned() {
    let store = stdio_store(config(), &[]);
    for _ in 0..20 {
        let flag = Arc::new(AtomicUsize::new(0));
        let f = flag.clone();
        let h = store
            .submit_with_callback(ToolCall::new("echo", json!({"message": "cb"})), move |_| {
                std::thread::sleep(Duration::from_millis(5));
                f.store(1, Ordering::SeqCst);
            })
            .unwrap();
        assert_eq!(h.wait().unwrap().text(), "cb");
        assert_eq!(flag.load(Ordering::SeqCst), 1, "the callback had finished");
    }
}

#[test]
fn a_background_call_past_its_deadline_ends_with_a_timeout() {
    // Over stdio no thread waits for a background call: the store's deadline thread ends it.
    let store = stdio_store(config(), &[]);
    let mut call = ToolCall::new("sleep", json!({"ms": 10_000}));
    call.options.timeout = Some(Duration::from_millis(300));
    let started = Instant::now();
    let h = store.submit(call).unwrap();
    match h.wait_timeout(Duration::from_secs(10)) {
        Err(Error::Timeout { .. }) => {}
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5), "the deadline did not hold: {:?}", started.elapsed());
    let queue = store.completion_queue();
    for tag in 0..64 {
        queue.submit(ToolCall::new("echo", json!({"message": format!("m{tag}")})), tag).unwrap();
    }
    let mut seen: Vec<u64> = (0..64)
        .map(|_| queue.recv().unwrap())
        .map(|c| {
            assert!(c.result.is_ok(), "{:?}", c.result);
            c.tag
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..64).collect::<Vec<_>>());
    assert_eq!(queue.pending(), 0);
}

#[test]
fn a_server_crash_ends_every_queued_background_call_once() {
    // Eight sleeping calls in flight; the ninth tools/call makes the server exit.
    // Their deadlines (4 s) pass after the crash: a second ending would show then.
    let mut cfg = config();
    cfg.pool.read_timeout = Duration::from_secs(4);
    let store = stdio_store(cfg, &["--crash-after", "8"]);
    wait_ready(&store);
    let queue = store.completion_queue();
    for tag in 0..8 {
        queue.submit(ToolCall::new("sleep", json!({"ms": 20_000})), tag).unwrap();
    }
    let started = Instant::now();
    queue.submit(ToolCall::new("echo", json!({"message": "the last straw"})), 8).unwrap();
    let mut seen = HashSet::new();
    for _ in 0..9 {
        let c = queue.recv_timeout(Duration::from_secs(15)).expect("every call comes back");
        match &c.result {
            Err(Error::Timeout { .. }) => panic!("call {} ended by its deadline, not the crash", c.tag),
            Err(_) => {}
            Ok(r) => panic!("call {} ran on a server that exited: {r:?}", c.tag),
        }
        assert!(seen.insert(c.tag), "call {} came back twice", c.tag);
    }
    assert_eq!(queue.pending(), 0);
    // Past every deadline the calls had: nothing more comes back.
    std::thread::sleep(Duration::from_secs(5).saturating_sub(started.elapsed()));
    assert!(queue.try_recv().is_none(), "a call came back twice");
    assert_eq!(queue.pending(), 0);
}
