//! Shared server state: cancellation tokens and statistics.

use std::collections::VecDeque;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use parking_lot::Mutex;
use serde_json::{Value, json};

/// How many cancelled request ids `stats` remembers.
const MAX_CANCELLED_IDS: usize = 100;

/// A one-shot cancellation signal that blocking waits can select on.
///
/// Cancelling drops the (never used) sender, so every receive on
/// [`CancelToken::receiver`] fails at once with "disconnected".
pub struct CancelToken {
    tx: Mutex<Option<Sender<()>>>,
    rx: Receiver<()>,
}

impl CancelToken {
    /// A fresh, not cancelled token.
    pub fn new() -> Self {
        let (tx, rx) = crossbeam_channel::bounded(1);
        CancelToken { tx: Mutex::new(Some(tx)), rx }
    }

    /// Cancels; idempotent.
    pub fn cancel(&self) {
        self.tx.lock().take();
    }

    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.rx.try_recv(), Err(TryRecvError::Disconnected))
    }

    /// Sleeps for `d`; returns false (early) if cancelled.
    pub fn sleep(&self, d: Duration) -> bool {
        if d.is_zero() {
            return !self.is_cancelled();
        }
        matches!(self.rx.recv_timeout(d), Err(RecvTimeoutError::Timeout))
    }

    /// A receiver that becomes disconnected when cancelled (for `select!`).
    pub fn receiver(&self) -> &Receiver<()> {
        &self.rx
    }
}

impl Default for CancelToken {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Default)]
struct StatsInner {
    calls: u64,
    in_flight: u64,
    peak_in_flight: u64,
    cancelled: u64,
    cancelled_ids: VecDeque<Value>,
    sessions: u64,
    deleted_sessions: u64,
    pings: u64,
    discovers: u64,
    listen_streams_opened: u64,
}

/// Counters reported by the `stats` tool.
#[derive(Default)]
pub struct Stats {
    inner: Mutex<StatsInner>,
}

impl Stats {
    /// A `tools/call` started (counts towards calls and in-flight).
    pub fn call_started(&self) {
        let mut s = self.inner.lock();
        s.calls += 1;
        s.in_flight += 1;
        s.peak_in_flight = s.peak_in_flight.max(s.in_flight);
    }

    /// A `tools/call` started by [`Stats::call_started`] finished.
    pub fn call_finished(&self) {
        let mut s = self.inner.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
    }

    /// A `notifications/cancelled` arrived for `id`.
    pub fn cancelled(&self, id: Value) {
        let mut s = self.inner.lock();
        s.cancelled += 1;
        if s.cancelled_ids.len() == MAX_CANCELLED_IDS {
            s.cancelled_ids.pop_front();
        }
        s.cancelled_ids.push_back(id);
    }

    /// An HTTP session was created.
    pub fn session_created(&self) {
        self.inner.lock().sessions += 1;
    }

    /// An HTTP session was deleted by the client.
    pub fn session_deleted(&self) {
        self.inner.lock().deleted_sessions += 1;
    }

    /// A `ping` request arrived from the client.
    pub fn ping(&self) {
        self.inner.lock().pings += 1;
    }

    /// A `server/discover` request arrived (the stateless era's health check).
    pub fn discover(&self) {
        self.inner.lock().discovers += 1;
    }

    /// A listening stream (HTTP GET, or a `subscriptions/listen`) was opened.
    pub fn listen_stream_opened(&self) {
        self.inner.lock().listen_streams_opened += 1;
    }

    /// Resets calls, peak_in_flight (to the current in-flight count),
    /// cancelled, cancelled_ids, pings and discovers.
    pub fn reset(&self) {
        let mut s = self.inner.lock();
        s.calls = 0;
        s.peak_in_flight = s.in_flight;
        s.cancelled = 0;
        s.cancelled_ids.clear();
        s.pings = 0;
        s.discovers = 0;
    }

    /// The statistics as a JSON object.
    pub fn snapshot(&self) -> Value {
        let s = self.inner.lock();
        json!({
            "calls": s.calls,
            "in_flight": s.in_flight,
            "peak_in_flight": s.peak_in_flight,
            "cancelled": s.cancelled,
            "cancelled_ids": s.cancelled_ids.iter().cloned().collect::<Vec<_>>(),
            "sessions": s.sessions,
            "deleted_sessions": s.deleted_sessions,
            "pings": s.pings,
            "discovers": s.discovers,
            "listen_streams_opened": s.listen_streams_opened,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn cancel_interrupts_sleep() {
        let t = std::sync::Arc::new(CancelToken::new());
        assert!(t.sleep(Duration::from_millis(1)));
        let t2 = t.clone();
        let start = Instant::now();
        let h = std::thread::spawn(move || t2.sleep(Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(20));
        t.cancel();
        assert!(!h.join().unwrap());
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(t.is_cancelled());
    }

    #[test]
    fn stats_track_peak_and_reset() {
        let s = Stats::default();
        s.call_started();
        s.call_started();
        s.call_finished();
        for i in 0..150 {
            s.cancelled(json!(i));
        }
        let v = s.snapshot();
        assert_eq!(v["calls"], 2);
        assert_eq!(v["in_flight"], 1);
        assert_eq!(v["peak_in_flight"], 2);
        assert_eq!(v["cancelled"], 150);
        assert_eq!(v["cancelled_ids"].as_array().map(Vec::len), Some(100));
        assert_eq!(v["cancelled_ids"][0], 50);
        s.reset();
        let v = s.snapshot();
        assert_eq!(v["calls"], 0);
        assert_eq!(v["peak_in_flight"], 1);
        assert_eq!(v["cancelled"], 0);
    }
}
