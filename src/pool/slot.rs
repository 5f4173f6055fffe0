//! One pooled session with its load, use and health-check marks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::session::Session;

pub(super) static NEXT_SLOT_ID: AtomicU64 = AtomicU64::new(1);

pub(super) struct Slot {
    pub(super) session: Session,
    pub(super) in_flight: AtomicUsize,
    pub(super) uses: AtomicU64,
    /// When the last call on it ended (see [`Stamp`]): read on every pick, so no lock.
    pub(super) last_used: Stamp,
    pub(super) last_checked: Mutex<Instant>,
    /// A call on it timed out: no new calls until a health check clears it.
    pub(super) suspect: AtomicBool,
    /// It failed its health check: no new calls, closed once its calls ended
    /// or passed their deadlines (never cut short by the library).
    pub(super) draining: AtomicBool,
    /// The latest deadline of the calls it carries (see [`Stamp`]).
    pub(super) deadline: Stamp,
    pub(super) checking: AtomicBool,
    pub(super) id: u64,
}

impl Slot {
    /// A fresh slot around a session that just opened.
    pub(super) fn new(session: Session) -> Slot {
        Slot {
            session,
            in_flight: AtomicUsize::new(0),
            uses: AtomicU64::new(0),
            last_used: Stamp::now(),
            last_checked: Mutex::new(Instant::now()),
            suspect: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            deadline: Stamp::now(),
            checking: AtomicBool::new(false),
            id: NEXT_SLOT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Whether it may take a new call.
    pub(super) fn usable(&self) -> bool {
        !self.suspect.load(Ordering::Acquire)
            && !self.draining.load(Ordering::Acquire)
            && self.session.is_alive()
    }

    /// Whether it counts as a live session of the service (a draining one does not).
    pub(super) fn live(&self) -> bool {
        !self.draining.load(Ordering::Acquire) && self.session.is_alive()
    }

    /// A call with this deadline runs on it.
    pub(super) fn note_deadline(&self, deadline: Instant) {
        self.deadline.raise_to(deadline);
    }

    /// Whether a draining slot may close now: no call left, or all past their deadlines.
    pub(super) fn drained(&self, now: Instant) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0 || now > self.deadline.get()
    }
}

#[derive(Default)]
pub(super) struct PoolState {
    pub(super) slots: Vec<Arc<Slot>>,
    pub(super) opening: usize,
}

/// An instant stored in an atomic (nanoseconds since a process-wide origin).
pub(super) struct Stamp(AtomicU64);

fn origin() -> Instant {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

impl Stamp {
    pub(super) fn now() -> Stamp {
        let s = Stamp(AtomicU64::new(0));
        s.set_now();
        s
    }

    pub(super) fn set_now(&self) {
        self.0.store(origin().elapsed().as_nanos() as u64, Ordering::Relaxed);
    }

    pub(super) fn get(&self) -> Instant {
        origin() + Duration::from_nanos(self.0.load(Ordering::Relaxed))
    }

    /// Moves the stamp to `at` if that is later.
    pub(super) fn raise_to(&self, at: Instant) {
        let nanos = at.saturating_duration_since(origin()).as_nanos().min(u64::MAX as u128) as u64;
        self.0.fetch_max(nanos, Ordering::Relaxed);
    }
}
