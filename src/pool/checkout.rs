//! Taking a session for a call: the least-loaded usable one, a new one when
//! all are at their in-flight limit (up to `max_connections`), else a wait
//! bounded by the acquire timeout and the caller's own deadline.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::ConnectionPool;
use super::slot::{PoolState, Slot};
use super::stats::bump;
use crate::config::PoolConfig;
use crate::error::{Error, Result, TimeoutPhase};
use crate::session::{Session, SessionOptions};

/// A session on loan to one call; returned to the pool when dropped.
pub struct Lease {
    pool: Arc<ConnectionPool>,
    slot: Arc<Slot>,
    extra: usize,
}

impl Lease {
    /// The session.
    pub fn session(&self) -> &Session {
        &self.slot.session
    }

    /// Marks the session as possibly hung (a call on it timed out): it gets no
    /// new calls until a health check, started now, clears it. If the check
    /// fails, the session drains: it is closed once its calls have ended or
    /// passed their own deadlines, never by cutting them short.
    pub fn mark_suspect(&self) {
        if !self.slot.suspect.swap(true, Ordering::AcqRel) && !self.slot.checking.swap(true, Ordering::AcqRel)
        {
            let timeout = self.pool.config.read().health_check_timeout;
            self.pool.check_in_background(self.slot.clone(), timeout);
        }
    }

    /// Counts `n` more requests in flight on this session (pipelining), until the lease ends.
    pub(crate) fn reserve_extra(&mut self, n: usize) {
        self.slot.in_flight.fetch_add(n, Ordering::SeqCst);
        self.extra += n;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.slot.last_used.set_now();
        self.slot.in_flight.fetch_sub(1 + self.extra, Ordering::SeqCst);
        if self.extra > 0 {
            self.pool.wake_all(); // a pipelined lease frees many slots at once
        } else {
            self.pool.wake_one();
        }
    }
}

impl ConnectionPool {
    /// Takes the least-loaded healthy session, opens a new one when all are
    /// at their in-flight limit, or waits until `acquire_timeout`.
    pub fn acquire(self: &Arc<Self>) -> Result<Lease> {
        self.acquire_until(None)
    }

    /// Like [`ConnectionPool::acquire`], waiting no later than `limit` either
    /// (the caller's own deadline: then the error is a `Timeout` in the acquire
    /// phase; `acquire_timeout` running out is `PoolExhausted`). Opening a
    /// session stops at `limit` too. While the service is in back-off after
    /// failed attempts and has no session, fails at once with its last error.
    pub fn acquire_until(self: &Arc<Self>, limit: Option<Instant>) -> Result<Lease> {
        let cfg = self.config.read().clone();
        let started = Instant::now();
        let exhausted_at = crate::util::deadline_after(cfg.acquire_timeout);
        let deadline = limit.map_or(exhausted_at, |l| l.min(exhausted_at));
        let call_deadline = limit.unwrap_or_else(|| crate::util::deadline_after(cfg.read_timeout));
        let mut waited = false;
        let mut st = self.state.lock();
        loop {
            if self.closed.load(Ordering::Acquire) {
                return Err(Error::Closed {
                    message: format!("service '{}' is closed", self.service),
                    may_have_run: false,
                });
            }
            let dead = self.prune_dead(&mut st);
            if let Some(slot) = pick(&st.slots, cfg.max_in_flight_per_connection) {
                slot.in_flight.fetch_add(1, Ordering::SeqCst);
                slot.note_deadline(call_deadline);
                drop(st);
                self.close_in_background(dead);
                self.note_wait(waited, started);
                return Ok(self.lease(slot));
            }
            if st.opening == 0
                && !st.slots.iter().any(|s| s.live())
                && let Some(error) = self.backoff_error()
            {
                // Respawning a crash-looping server for every call would only make it worse.
                drop(st);
                self.close_in_background(dead);
                return Err(error);
            }
            let total = st.slots.len() + st.opening;
            let waiting = self.waiting.load(Ordering::SeqCst);
            let want_more = st.opening == 0 || waiting >= st.opening * cfg.max_in_flight_per_connection;
            if total < cfg.max_connections && want_more {
                st.opening += 1;
                drop(st);
                self.close_in_background(dead);
                let opened = self.open_session(&cfg, limit);
                let mut st2 = self.state.lock();
                st2.opening -= 1;
                if let Ok(slot) = &opened
                    && self.closed.load(Ordering::Acquire)
                {
                    drop(st2);
                    slot.session.close(); // the pool closed while this session opened
                    return Err(Error::Closed {
                        message: format!("service '{}' is closed", self.service),
                        may_have_run: false,
                    });
                }
                let result = opened.inspect(|slot| {
                    slot.in_flight.fetch_add(1, Ordering::SeqCst);
                    slot.uses.fetch_add(1, Ordering::Relaxed);
                    slot.note_deadline(call_deadline);
                    st2.slots.push(slot.clone());
                });
                drop(st2);
                self.wake_all();
                self.note_wait(waited, started);
                return result.map(|slot| Lease { pool: self.clone(), slot, extra: 0 });
            }
            self.close_in_background(dead);
            let now = Instant::now();
            if now >= deadline {
                self.note_wait(waited, started);
                if deadline < exhausted_at {
                    return Err(Error::timeout(TimeoutPhase::Acquire, now - started));
                }
                bump(&self.counters.exhausted);
                return Err(Error::PoolExhausted { service: self.service.clone(), waited: now - started });
            }
            waited = true;
            self.waiting.fetch_add(1, Ordering::SeqCst);
            // Re-check once after announcing we wait, so a release in between is not missed.
            if pick(&st.slots, cfg.max_in_flight_per_connection).is_none() {
                let _ = self.freed.wait_until(&mut st, deadline);
            }
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// A lease on a live session with room for one more request, if one is
    /// free now: never opens a session and never waits (background calls
    /// that no thread waits for start only this way).
    pub(crate) fn try_acquire(self: &Arc<Self>, call_deadline: Instant) -> Option<Lease> {
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        let cfg = self.config.read();
        let limit = cfg.max_in_flight_per_connection;
        drop(cfg);
        let st = self.state.lock();
        let slot = pick(&st.slots, limit).filter(|s| s.session.is_alive())?;
        slot.in_flight.fetch_add(1, Ordering::SeqCst);
        slot.note_deadline(call_deadline);
        drop(st);
        Some(self.lease(slot))
    }

    fn lease(self: &Arc<Self>, slot: Arc<Slot>) -> Lease {
        if slot.uses.fetch_add(1, Ordering::Relaxed) > 0 {
            bump(&self.counters.reused);
        }
        Lease { pool: self.clone(), slot, extra: 0 }
    }

    fn note_wait(&self, waited: bool, started: Instant) {
        if waited {
            bump(&self.counters.waits);
            self.counters.wait_nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }
    }

    /// Removes dead or evicted sessions; returns them for closing outside the lock.
    pub(super) fn prune_dead(&self, st: &mut PoolState) -> Vec<Arc<Slot>> {
        if st.slots.iter().all(|s| s.session.is_alive()) {
            return Vec::new();
        }
        let (alive, dead): (Vec<_>, Vec<_>) = st.slots.drain(..).partition(|s| s.session.is_alive());
        st.slots = alive;
        for slot in &dead {
            log::info!(target: "mcpstore::pool", "[{}] session {} died; evicting it", self.service, slot.id);
            bump(&self.counters.failed);
            bump(&self.counters.evicted);
        }
        if !dead.is_empty() {
            self.refresh_state(live_count(st), None);
        }
        dead
    }

    /// Opens a session; spawning, connecting and the handshake stop at `limit`
    /// (a call's deadline) when it comes before the connection timeout.
    pub(super) fn open_session(&self, cfg: &PoolConfig, limit: Option<Instant>) -> Result<Arc<Slot>> {
        let budget = limit.map_or(cfg.connection_timeout, |l| {
            cfg.connection_timeout.min(l.saturating_duration_since(Instant::now()))
        });
        if budget.is_zero() {
            return Err(Error::timeout(TimeoutPhase::Connect, cfg.connection_timeout.min(budget)));
        }
        let options = SessionOptions {
            connection_timeout: budget,
            read_timeout: cfg.read_timeout,
            write_timeout: cfg.write_timeout,
            ..self.session_options.clone()
        };
        let result = Session::open(&self.service, &self.transport, options, self.context.clone());
        match result {
            Ok(session) => {
                bump(&self.counters.created);
                let listener = self.listener.read().clone();
                if let Some(l) = listener {
                    l.session_opened(&session, limit);
                }
                let slot = Arc::new(Slot::new(session));
                self.record_success();
                Ok(slot)
            }
            Err(e) => {
                bump(&self.counters.failed);
                self.record_failure(&e);
                Err(e)
            }
        }
    }
}

/// The least-loaded usable session below the in-flight limit; ties go to the
/// one used least recently, so warm sessions share the load. The caller
/// claims it (increments `in_flight`) under the pool lock.
fn pick(slots: &[Arc<Slot>], max_in_flight: usize) -> Option<Arc<Slot>> {
    let mut best: Option<(&Arc<Slot>, usize, Instant)> = None;
    for slot in slots {
        let n = slot.in_flight.load(Ordering::SeqCst);
        if n >= max_in_flight || !slot.usable() {
            continue;
        }
        let used = slot.last_used.get();
        let better = match best {
            None => true,
            Some((_, bn, bu)) => n < bn || (n == bn && used < bu),
        };
        if better {
            best = Some((slot, n, used));
        }
    }
    best.map(|(slot, _, _)| slot.clone())
}

/// Sessions that count as live (not draining).
pub(super) fn live_count(st: &PoolState) -> usize {
    st.slots.iter().filter(|s| s.live()).count()
}
