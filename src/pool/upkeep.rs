//! One round of upkeep per pool (called by the store's maintenance thread):
//! evict the dead, reap the idle above the minimum, check the idle and the
//! suspect, warm up to the minimum; and closing.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::ConnectionPool;
use super::checkout::live_count;
use super::slot::Slot;
use super::stats::bump;

impl ConnectionPool {
    /// Closes the draining sessions whose calls have all ended or passed their deadlines.
    pub(super) fn close_drained(&self, now: Instant) {
        let mut st = self.state.lock();
        let (done, keep): (Vec<_>, Vec<_>) =
            st.slots.drain(..).partition(|s| s.draining.load(Ordering::Acquire) && s.drained(now));
        st.slots = keep;
        drop(st);
        self.close_in_background(done);
    }

    /// One round of upkeep: evict dead sessions, reap idle ones above the
    /// minimum, ping idle ones, and open sessions up to the minimum (in the
    /// background, with back-off after failures). Returns when it wants to run next.
    ///
    /// `floor` raises the minimum for this round (1 while the service's tools
    /// are not loaded yet, so a pool with `min_connections = 0` still connects once).
    pub fn maintain(self: &Arc<Self>, now: Instant, floor: usize) -> Instant {
        if self.closed.load(Ordering::Acquire) {
            return now + Duration::from_secs(3600);
        }
        let cfg = self.config.read().clone();
        self.close_drained(now);
        let mut st = self.state.lock();
        let dead = self.prune_dead(&mut st);
        let mut next = now + cfg.health_check_interval.min(cfg.max_idle_time.max(Duration::from_millis(10)));
        if st.slots.iter().any(|s| s.draining.load(Ordering::Acquire)) {
            next = next.min(now + Duration::from_millis(100)); // close drained sessions soon
        }

        // Idle reaping above the minimum, oldest first.
        let mut reaped = Vec::new();
        let mut live = live_count(&st);
        let mut i = 0;
        while i < st.slots.len() {
            let slot = &st.slots[i];
            let idle_since = slot.last_used.get();
            if slot.live() && live > cfg.min_connections && slot.in_flight.load(Ordering::SeqCst) == 0 {
                let idle_for = now.saturating_duration_since(idle_since);
                if idle_for >= cfg.max_idle_time {
                    reaped.push(st.slots.remove(i));
                    live -= 1;
                    bump(&self.counters.closed_idle);
                    continue;
                }
                next = next.min(idle_since + cfg.max_idle_time);
            }
            i += 1;
        }

        // Health checks of idle or suspect sessions.
        let mut to_check = Vec::new();
        for slot in st.slots.iter().filter(|s| s.live()) {
            let suspect = slot.suspect.load(Ordering::Acquire);
            let due = *slot.last_checked.lock() + cfg.health_check_interval;
            let idle = slot.in_flight.load(Ordering::SeqCst) == 0;
            if (suspect || (idle && due <= now)) && !slot.checking.swap(true, Ordering::AcqRel) {
                to_check.push(slot.clone());
            } else if idle {
                next = next.min(due);
            }
        }

        // Warm-up to the minimum.
        let missing = cfg.min_connections.max(floor).saturating_sub(live_count(&st) + st.opening);
        let may_attempt = {
            let h = self.health.lock();
            match h.next_attempt {
                Some(at) if at > now => {
                    next = next.min(at);
                    false
                }
                _ => true,
            }
        };
        let warm = missing > 0 && may_attempt && !self.warming.swap(true, Ordering::AcqRel);
        if warm {
            st.opening += missing;
        }
        let live_now = live_count(&st);
        drop(st);
        self.refresh_state(live_now, None);

        let mut closing = dead;
        closing.extend(reaped);
        if !closing.is_empty() {
            self.wake_all(); // waiters may now open replacements
        }
        self.close_in_background(closing);
        for slot in to_check {
            self.check_in_background(slot, cfg.health_check_timeout);
        }
        if warm {
            self.warm_in_background(missing);
            next = next.min(now + Duration::from_millis(50));
        }
        next
    }

    pub(super) fn warm_in_background(self: &Arc<Self>, count: usize) {
        let pool = self.clone();
        let spawned = crate::util::spawn_thread(format!("mcps-warm-{}", self.service), move || {
            let cfg = pool.config.read().clone();
            let mut remaining = count;
            while remaining > 0 {
                remaining -= 1;
                let opened = pool.open_session(&cfg, None);
                let mut st = pool.state.lock();
                st.opening -= 1;
                match opened {
                    Ok(slot) if !pool.closed.load(Ordering::Acquire) => st.slots.push(slot),
                    Ok(slot) => {
                        // The pool closed meanwhile: open nothing more.
                        st.opening -= remaining;
                        remaining = 0;
                        drop(st);
                        slot.session.close();
                        continue;
                    }
                    Err(_) => {
                        st.opening -= remaining;
                        remaining = 0;
                    }
                }
                drop(st);
                pool.wake_all();
            }
            pool.warming.store(false, Ordering::Release);
        });
        if spawned.is_err() {
            let mut st = self.state.lock();
            st.opening -= count;
            self.warming.store(false, Ordering::Release);
        }
    }

    pub(super) fn close_in_background(&self, slots: Vec<Arc<Slot>>) {
        if slots.is_empty() {
            return;
        }
        let spawned = crate::util::spawn_thread("mcps-close", move || {
            for slot in &slots {
                slot.session.close();
            }
        });
        if let Err(e) = spawned {
            // The sessions still close: dropping the last reference ends each transport.
            log::warn!(target: "mcpstore::pool", "[{}] closing sessions as they are dropped: {e}", self.service);
        }
    }

    /// Closes every session and refuses new calls. Blocks until the sessions are closed.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let slots = std::mem::take(&mut self.state.lock().slots);
        self.refresh_state(0, None);
        std::thread::scope(|s| {
            for slot in &slots {
                s.spawn(|| slot.session.close());
            }
        });
        self.wake_all();
    }

    /// Closes idle sessions above `min_connections` now (memory relief); returns how many.
    pub fn close_idle_above_min(&self) -> usize {
        let min = self.config.read().min_connections;
        let mut st = self.state.lock();
        let mut closing = Vec::new();
        let mut i = 0;
        while i < st.slots.len() && st.slots.len() > min {
            if st.slots[i].in_flight.load(Ordering::SeqCst) == 0 {
                closing.push(st.slots.remove(i));
                bump(&self.counters.closed_idle);
            } else {
                i += 1;
            }
        }
        drop(st);
        let n = closing.len();
        self.close_in_background(closing);
        n
    }
}
