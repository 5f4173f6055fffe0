//! The load of the chaos run and its ledger: every call gets a unique
//! message, and its outcome, time and deadline are written down once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mcpstore::{BatchOptions, CallOptions, Error, Store, ToolCall, ToolOutput};
use parking_lot::Mutex;
use serde_json::json;

use crate::fleet::SERVICES;
use crate::rng::Rng;

/// A single call's own limit.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(3);
/// A batch's overall limit.
pub const BATCH_TIMEOUT: Duration = Duration::from_secs(4);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Single,
    Batch,
    Background,
    Callback,
}

/// One call, as it was made and as it returned.
pub struct Entry {
    pub message: String,
    pub service: usize,
    /// The caller said it may run twice (`retry_non_idempotent`).
    pub repeat_ok: bool,
    pub kind: Kind,
    /// The result's text, or the error.
    pub outcome: Result<String, String>,
    pub elapsed: Duration,
    pub limit: Duration,
    /// Background calls with a callback: how often it ran (must be 1).
    pub callbacks: Option<Arc<AtomicU32>>,
}

/// What the workers share.
pub struct Load {
    pub seed: u64,
    pub total: u64,
    issued: AtomicU64,
    pub ledger: Mutex<Vec<Entry>>,
}

fn text(result: mcpstore::Result<ToolOutput>) -> Result<String, String> {
    match result {
        Ok(out) if out.result().is_error => Err(format!("tool error: {}", out.result().text())),
        Ok(out) => Ok(out.result().text()),
        Err(e) => Err(describe(&e)),
    }
}

/// The error's kind and message (the kind is what the summary counts).
fn describe(e: &Error) -> String {
    let kind = format!("{e:?}");
    let kind = kind.split([' ', '{', '(']).next().unwrap_or("?").to_owned();
    format!("{kind}: {e}")
}

struct Call {
    message: String,
    service: usize,
    repeat_ok: bool,
}

impl Call {
    fn tool(&self) -> String {
        format!("{}.echo", SERVICES[self.service])
    }

    fn options(&self, timeout: Option<Duration>) -> CallOptions {
        CallOptions { timeout, retry_non_idempotent: self.repeat_ok, ..CallOptions::default() }
    }

    fn tool_call(&self, timeout: Option<Duration>) -> ToolCall {
        ToolCall {
            options: self.options(timeout),
            ..ToolCall::new(self.tool(), json!({"message": self.message}))
        }
    }

    fn entry(self, kind: Kind, outcome: Result<String, String>, elapsed: Duration, limit: Duration) -> Entry {
        Entry {
            message: self.message,
            service: self.service,
            repeat_ok: self.repeat_ok,
            kind,
            outcome,
            elapsed,
            limit,
            callbacks: None,
        }
    }
}

impl Load {
    pub fn new(seed: u64, total: u64) -> Load {
        Load { seed, total, issued: AtomicU64::new(0), ledger: Mutex::new(Vec::new()) }
    }

    /// Claims up to `n` calls of the budget; None when it is spent.
    fn claim(&self, n: u64) -> Option<u64> {
        let first = self.issued.fetch_add(n, Ordering::SeqCst);
        (first < self.total).then(|| n.min(self.total - first))
    }

    pub fn issued(&self) -> u64 {
        self.issued.load(Ordering::SeqCst).min(self.total)
    }

    /// One worker thread's loop, until the budget is spent.
    pub fn work(&self, store: &Store, worker: u64) {
        let mut rng = Rng::fork(self.seed, worker + 1);
        let mut seq = 0u64;
        let mut next_call = |rng: &mut Rng| {
            seq += 1;
            Call {
                message: format!("m{:x}-{worker}-{seq}", self.seed & 0xffff_ffff),
                service: rng.below(SERVICES.len() as u64) as usize,
                // A fifth of the calls are declared safe to repeat.
                repeat_ok: rng.chance(20),
            }
        };
        loop {
            let roll = rng.below(100);
            if roll < 55 {
                let Some(_) = self.claim(1) else { return };
                let call = next_call(&mut rng);
                let started = Instant::now();
                let r = store.call_tool_with(
                    &call.tool(),
                    json!({"message": call.message}),
                    &call.options(Some(CALL_TIMEOUT)),
                );
                let entry = call.entry(Kind::Single, text(r), started.elapsed(), CALL_TIMEOUT);
                self.ledger.lock().push(entry);
            } else if roll < 75 {
                let Some(n) = self.claim(rng.range(2, 8)) else { return };
                let calls: Vec<Call> = (0..n).map(|_| next_call(&mut rng)).collect();
                // No per-call timeout: stdio calls go down the pipe together.
                let tool_calls: Vec<ToolCall> = calls.iter().map(|c| c.tool_call(None)).collect();
                let options = BatchOptions { timeout: Some(BATCH_TIMEOUT), ..BatchOptions::default() };
                let started = Instant::now();
                let results = store.batch_call(&tool_calls, &options);
                let elapsed = started.elapsed();
                assert_eq!(results.len(), calls.len(), "a batch must answer every call once");
                let mut ledger = self.ledger.lock();
                for (call, r) in calls.into_iter().zip(results) {
                    ledger.push(call.entry(Kind::Batch, text(r), elapsed, BATCH_TIMEOUT));
                }
            } else {
                let Some(_) = self.claim(1) else { return };
                let call = next_call(&mut rng);
                let with_callback = rng.chance(50);
                let started = Instant::now();
                let runs = Arc::new(AtomicU32::new(0));
                let submitted = if with_callback {
                    let counter = runs.clone();
                    store.submit_with_callback(call.tool_call(Some(CALL_TIMEOUT)), move |_| {
                        counter.fetch_add(1, Ordering::SeqCst);
                    })
                } else {
                    store.submit(call.tool_call(Some(CALL_TIMEOUT)))
                };
                // A call that was never submitted has no callback to run.
                let (outcome, callbacks) = match submitted {
                    Ok(handle) => (text(handle.wait()), with_callback.then_some(runs)),
                    Err(e) => (Err(describe(&e)), None),
                };
                let kind = if with_callback { Kind::Callback } else { Kind::Background };
                let mut entry = call.entry(kind, outcome, started.elapsed(), CALL_TIMEOUT);
                entry.callbacks = callbacks;
                self.ledger.lock().push(entry);
            }
        }
    }
}
