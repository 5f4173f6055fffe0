//! One background call's handle, and one completion queue, waited on from
//! several threads at once: every waiter of a handle gets the one result
//! (after its callback returned), and a queue hands each completion to
//! exactly one of its waiting threads.

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use mcpstore::ToolCall;
use serde_json::json;
use support::*;

const WAITERS: usize = 8;

#[test]
fn a_handle_waited_on_from_many_threads() {
    let store = stdio_store(config(), &[]);
    let called = Arc::new(AtomicBool::new(false));
    let c = called.clone();
    let handle = store
        .submit_with_callback(ToolCall::new("sleep", json!({"ms": 500})), move |r| {
            assert!(r.is_ok());
            std::thread::sleep(Duration::from_millis(20));
            c.store(true, Ordering::SeqCst);
        })
        .unwrap();
    let start = Barrier::new(WAITERS);
    std::thread::scope(|s| {
        let waiters: Vec<_> = (0..WAITERS)
            .map(|i| {
                let (handle, start, called) = (handle.clone(), &start, &called);
                s.spawn(move || {
                    start.wait();
                    let r =
                        if i % 2 == 0 { handle.wait() } else { handle.wait_timeout(Duration::from_secs(20)) };
                    assert!(
                        called.load(Ordering::SeqCst),
                        "waiter {i} saw the result before the callback ended"
                    );
                    r.unwrap().text()
                })
            })
            .collect();
        for w in waiters {
            assert_eq!(w.join().unwrap(), "slept 500 ms");
        }
    });
    assert!(handle.is_finished());
}

#[test]
fn a_completion_queue_drained_from_many_threads() {
    let store = stdio_store(config(), &[]);
    let queue = store.completion_queue();
    const CALLS: u64 = 400;
    for tag in 0..CALLS {
        queue.submit(ToolCall::new("echo", json!({"message": tag.to_string()})), tag).unwrap();
    }
    let taken = AtomicU64::new(0);
    let deadline = Instant::now() + Duration::from_secs(60);
    let seen: Vec<Vec<u64>> = std::thread::scope(|s| {
        let takers: Vec<_> = (0..WAITERS)
            .map(|_| {
                let (queue, taken) = (&queue, &taken);
                s.spawn(move || {
                    let mut mine = Vec::new();
                    // Every thread waits until all completions are out (bounded).
                    while taken.load(Ordering::SeqCst) < CALLS && Instant::now() < deadline {
                        if let Ok(c) = queue.recv_timeout(Duration::from_millis(50)) {
                            assert_eq!(
                                c.result.unwrap().text(),
                                c.tag.to_string(),
                                "a completion kept its tag"
                            );
                            mine.push(c.tag);
                            taken.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    mine
                })
            })
            .collect();
        takers.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let mut all = HashSet::new();
    for tag in seen.iter().flatten() {
        assert!(all.insert(*tag), "tag {tag} handed out twice");
    }
    assert_eq!(all.len() as u64, CALLS, "every completion handed out once");
    assert_eq!(queue.pending(), 0);
}
