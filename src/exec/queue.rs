//! Completion queues: many tagged submissions, completions handed out as they finish.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::{CallResult, ToolCall};
use crate::error::{Error, Result, TimeoutPhase};

/// What starts the calls of a queue (the store); the queue holds it weakly,
/// so a queue outliving its store fails its submissions with `Closed`.
pub(crate) trait Submit: Send + Sync {
    /// Starts `call` in the background; `on_done` runs once with its outcome.
    fn submit(&self, call: ToolCall, on_done: Box<dyn FnOnce(CallResult) + Send>) -> Result<()>;
    /// How long `recv` without a limit waits.
    fn default_wait(&self) -> Duration;
}

/// One finished call of a [`CompletionQueue`].
#[derive(Debug, Clone)]
pub struct Completion {
    /// The tag given at submission.
    pub tag: u64,
    /// The call's outcome.
    pub result: CallResult,
}

/// Takes many submissions with user tags and hands out completions as they
/// finish — for event loops in C and Go.
pub struct CompletionQueue {
    store: std::sync::Weak<dyn Submit>,
    tx: Sender<Completion>,
    rx: Receiver<Completion>,
    pending: Arc<AtomicUsize>,
}

impl CompletionQueue {
    pub(crate) fn new(store: std::sync::Weak<dyn Submit>) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        CompletionQueue { store, tx, rx, pending: Arc::new(AtomicUsize::new(0)) }
    }

    /// Submits a call; its completion will carry `tag`. Waits for a free slot
    /// like [`crate::Store::submit`] and fails with `Busy` when none frees in time.
    pub fn submit(&self, call: ToolCall, tag: u64) -> Result<()> {
        let store = self
            .store
            .upgrade()
            .ok_or_else(|| Error::Closed { message: "store is closed".into(), may_have_run: false })?;
        let tx = self.tx.clone();
        // Counted until `recv` hands the completion out (exact at any time).
        self.pending.fetch_add(1, Ordering::AcqRel);
        let submitted = store.submit(
            call,
            Box::new(move |result: CallResult| {
                let _ = tx.send(Completion { tag, result });
            }),
        );
        if submitted.is_err() {
            self.pending.fetch_sub(1, Ordering::AcqRel);
        }
        submitted
    }

    /// Submissions not yet handed out by `recv`.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// Counts a completion handed out.
    fn taken(&self, c: Completion) -> Completion {
        self.pending.fetch_sub(1, Ordering::AcqRel);
        c
    }

    /// The next completion, waiting up to `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Completion> {
        self.rx.recv_timeout(timeout).map(|c| self.taken(c)).map_err(|e| match e {
            RecvTimeoutError::Timeout => {
                Error::Timeout { phase: TimeoutPhase::Wait, after: timeout, detail: None }
            }
            RecvTimeoutError::Disconnected => {
                Error::Closed { message: "queue closed".into(), may_have_run: false }
            }
        })
    }

    /// The next completion, waiting at most the store's call timeout plus a margin.
    pub fn recv(&self) -> Result<Completion> {
        let wait = self.store.upgrade().map(|s| s.default_wait()).unwrap_or(Duration::from_secs(1));
        self.recv_timeout(wait)
    }

    /// A completion if one is ready.
    pub fn try_recv(&self) -> Option<Completion> {
        self.rx.try_recv().ok().map(|c| self.taken(c))
    }
}
