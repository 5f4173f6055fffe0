//! A stdio batch is pipelined down one pipe: far fewer threads than calls.
//! (Its own test binary, so no other test adds threads while it counts.)

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use mcpstore::{BatchOptions, ToolCall};
use serde_json::json;
use support::*;

#[test]
fn stdio_batches_are_pipelined_without_a_thread_per_call() {
    let store = stdio_store(config(), &[]);
    let before = thread_count();
    let peak = Arc::new(AtomicUsize::new(before));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(thread_count(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let calls: Vec<ToolCall> =
        (0..1000).map(|i| ToolCall::new("echo", json!({"message": format!("p{i}")}))).collect();
    let results = store.batch_call(&calls, &BatchOptions { max_workers: Some(64), ..Default::default() });
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.as_ref().unwrap().text(), format!("p{i}"));
    }
    // Lanes run on the store's fixed worker pool (started once), never a thread per call.
    let extra = peak.load(Ordering::Relaxed).saturating_sub(before);
    let workers = store.config().batch.workers();
    assert!(extra <= workers + 4, "a 1000-call batch used {extra} extra threads ({workers} workers)");
}
