//! A dispatch thread: runs jobs one at a time, in the order they were posted,
//! off the threads that must never run them (transport readers, HTTP callers).
//!
//! A store has one for user code (progress and completion callbacks, events,
//! handlers) and one for cancellation notices. The thread starts with the
//! first job, so a store that never uses one costs nothing. The queue is
//! bounded: [`Dispatcher::post`] drops a job when it is full (and counts it),
//! for things that may be lost, such as progress; [`Dispatcher::post_or_run`]
//! waits for room and runs the job itself when none frees in time, for things
//! that must happen exactly once, such as a completion callback.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, SendTimeoutError, Sender};
use parking_lot::Mutex;

type Job = Box<dyn FnOnce() + Send>;

/// How many jobs wait at most.
const QUEUE: usize = 4096;

thread_local! {
    /// Set on a dispatch thread (so that stopping from inside a job does not wait for itself).
    static ON_DISPATCH_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// One dispatch thread and its bounded queue.
pub(crate) struct Dispatcher {
    name: &'static str,
    tx: Mutex<Option<Sender<Job>>>,
    rx: Receiver<Job>,
    thread: OnceLock<Option<Mutex<Option<JoinHandle<()>>>>>,
    dropped: AtomicU64,
}

impl Dispatcher {
    /// A dispatcher whose thread (named `name`) starts with the first job.
    pub(crate) fn new(name: &'static str) -> Dispatcher {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE);
        Dispatcher { name, tx: Mutex::new(Some(tx)), rx, thread: OnceLock::new(), dropped: AtomicU64::new(0) }
    }

    /// The sender, with the thread started; `None` when stopped or the thread cannot start.
    fn sender(&self) -> Option<Sender<Job>> {
        let tx = self.tx.lock().clone()?;
        let started = self.thread.get_or_init(|| {
            let rx = self.rx.clone();
            crate::util::spawn_thread(self.name, move || run(rx))
                .inspect_err(|e| log::error!(target: "mcpstore::dispatch", "{e}"))
                .ok()
                .map(|h| Mutex::new(Some(h)))
        });
        started.as_ref().map(|_| tx)
    }

    /// Queues `job`; drops it (and counts the drop) when the queue is full, the
    /// dispatcher is stopped or its thread cannot start. Returns whether it was queued.
    pub(crate) fn post(&self, job: impl FnOnce() + Send + 'static) -> bool {
        let queued = self.sender().is_some_and(|tx| tx.try_send(Box::new(job)).is_ok());
        if !queued {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        queued
    }

    /// Queues `job`, waiting up to `wait` for room; when there is none (or no
    /// dispatch thread), runs it on the calling thread instead. The job runs
    /// exactly once either way. Never call this from a transport's reader.
    pub(crate) fn post_or_run(&self, job: impl FnOnce() + Send + 'static, wait: Duration) {
        let job: Job = Box::new(job);
        let Some(tx) = self.sender() else {
            return run_guarded(job);
        };
        if let Err(SendTimeoutError::Timeout(job) | SendTimeoutError::Disconnected(job)) =
            tx.send_timeout(job, wait)
        {
            log::warn!(target: "mcpstore::dispatch", "the {} queue is full; running a job on the calling thread", self.name);
            run_guarded(job);
        }
    }

    /// Jobs dropped because the queue was full (or the dispatcher stopped).
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits up to `limit` for the jobs queued now to run.
    pub(crate) fn drain(&self, limit: Duration) {
        if self.thread.get().is_none_or(Option::is_none) || Self::on_dispatch_thread() {
            return;
        }
        let (tx, rx) = crossbeam_channel::bounded::<()>(1);
        let marker = move || {
            let _ = tx.send(());
        };
        if let Some(sender) = self.sender()
            && sender.send_timeout(Box::new(marker), limit).is_ok()
        {
            let _ = rx.recv_deadline(Instant::now() + limit);
        }
    }

    /// Stops taking jobs, lets the queued ones run (up to `limit`) and ends the
    /// thread; a job that is still running after that (a callback that hangs)
    /// keeps its thread until it returns.
    pub(crate) fn stop(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        self.drain(limit);
        drop(self.tx.lock().take());
        let Some(Some(handle)) = self.thread.get() else { return };
        let Some(handle) = handle.lock().take() else { return };
        if Self::on_dispatch_thread() {
            return; // stopped from one of its own jobs: it ends once that job returns
        }
        while !handle.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        if handle.is_finished() {
            let _ = handle.join();
        }
    }

    /// Whether the calling thread is a dispatch thread.
    pub(crate) fn on_dispatch_thread() -> bool {
        ON_DISPATCH_THREAD.with(std::cell::Cell::get)
    }
}

fn run(rx: Receiver<Job>) {
    ON_DISPATCH_THREAD.with(|f| f.set(true));
    while let Ok(job) = rx.recv() {
        run_guarded(job);
    }
}

/// Runs a job; a panic in user code must not end the dispatch thread.
fn run_guarded(job: Job) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
        log::error!(target: "mcpstore::dispatch", "a callback panicked; it was stopped and the library goes on");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn jobs_run_in_order_on_one_thread_and_stop_waits_for_them() {
        let d = Dispatcher::new("mcps-test-dispatch");
        let seen = Arc::new(Mutex::new(Vec::new()));
        for i in 0..100 {
            let seen = seen.clone();
            assert!(d.post(move || {
                seen.lock().push((i, std::thread::current().name().map(str::to_owned)));
            }));
        }
        d.post(|| panic!("a user callback that panics"));
        let after = seen.clone();
        d.post_or_run(move || after.lock().push((100, None)), Duration::from_secs(1));
        d.stop(Duration::from_secs(10));
        let seen = seen.lock();
        assert_eq!(seen.len(), 101);
        assert!(seen.iter().enumerate().all(|(i, (n, _))| *n == i), "in order");
        assert!(seen[..100].iter().all(|(_, t)| t.as_deref() == Some("mcps-test-dispatch")));
        assert!(!d.post(|| {}), "a stopped dispatcher takes nothing");
        assert_eq!(d.dropped(), 1);
    }
}
