//! A counting limit on background calls in flight.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

/// Bounds how many background calls are in flight; `acquire` waits up to a timeout.
pub(crate) struct Limiter {
    in_flight: Mutex<usize>,
    freed: Condvar,
    limit: AtomicUsize,
    peak: AtomicUsize,
    pub(crate) submitted: AtomicU64,
    pub(crate) rejected: AtomicU64,
}

impl Limiter {
    pub(crate) fn new(limit: usize) -> Self {
        Limiter {
            in_flight: Mutex::new(0),
            freed: Condvar::new(),
            limit: AtomicUsize::new(limit.max(1)),
            peak: AtomicUsize::new(0),
            submitted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        }
    }

    /// Takes a slot, waiting up to `timeout`; `false` when none freed in time.
    pub(crate) fn acquire(&self, timeout: Duration) -> bool {
        let deadline = crate::util::deadline_after(timeout);
        let mut n = self.in_flight.lock();
        while *n >= self.limit.load(Ordering::Relaxed) {
            if self.freed.wait_until(&mut n, deadline).timed_out() && *n >= self.limit.load(Ordering::Relaxed)
            {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                return false;
            }
        }
        *n += 1;
        self.peak.fetch_max(*n, Ordering::Relaxed);
        self.submitted.fetch_add(1, Ordering::Relaxed);
        true
    }

    pub(crate) fn release(&self) {
        let mut n = self.in_flight.lock();
        *n = n.saturating_sub(1);
        drop(n);
        self.freed.notify_one();
    }

    pub(crate) fn set_limit(&self, limit: usize) {
        // Under the lock: a waiter between its check and its wait must not miss this wake-up.
        let _guard = self.in_flight.lock();
        self.limit.store(limit.max(1), Ordering::Relaxed);
        self.freed.notify_all();
    }

    pub(crate) fn in_flight(&self) -> usize {
        *self.in_flight.lock()
    }

    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }
}
