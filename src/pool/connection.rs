//! The connection pool of one service: live initialized sessions, reused by
//! every call, opened on demand up to a maximum, kept warm, health-checked and
//! replaced when they fail.
//!
//! Opening a session happens outside every lock, so a slow or dead server never
//! stalls calls to other sessions or other services.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};
use serde::Serialize;

use super::stats::{PoolCounters, PoolStats, bump};
use crate::config::PoolConfig;
use crate::error::{Error, Result, TimeoutPhase};
use crate::servers::TransportConfig;
use crate::session::{EventHandler, Session, SessionOptions};

/// Consecutive failures after which a service counts as unreachable.
const UNREACHABLE_AFTER: u32 = 3;
/// The longest pause between reconnection attempts.
const MAX_RECONNECT_BACKOFF: Duration = Duration::from_secs(30);
/// The first pause between reconnection attempts.
const FIRST_RECONNECT_BACKOFF: Duration = Duration::from_millis(250);

/// The health of a service, as MCPStore names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    /// Opening its first session.
    Initializing,
    /// Enough live sessions, no recent failure.
    Healthy,
    /// Serving, but below its minimum or after recent failures.
    Degraded,
    /// No live session; trying again.
    Reconnecting,
    /// Several attempts in a row failed; still retried in the background.
    Unreachable,
    /// Removed or closed.
    Disconnected,
}

impl ServiceState {
    /// The state's lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Initializing => "initializing",
            ServiceState::Healthy => "healthy",
            ServiceState::Degraded => "degraded",
            ServiceState::Reconnecting => "reconnecting",
            ServiceState::Unreachable => "unreachable",
            ServiceState::Disconnected => "disconnected",
        }
    }
}

/// Something that wants to know when a session opens (the store loads tools then).
pub trait PoolListener: Send + Sync {
    /// A new session is ready; called on the thread that opened it.
    fn session_opened(&self, session: &Session);
}

static NEXT_SLOT_ID: AtomicU64 = AtomicU64::new(1);

struct Slot {
    session: Session,
    in_flight: AtomicUsize,
    uses: AtomicU64,
    /// When the last call on it ended (see [`Stamp`]): read on every pick, so no lock.
    last_used: Stamp,
    last_checked: Mutex<Instant>,
    suspect: AtomicBool,
    checking: AtomicBool,
    id: u64,
}

impl Slot {
    fn usable(&self) -> bool {
        !self.suspect.load(Ordering::Acquire) && self.session.is_alive()
    }
}

#[derive(Default)]
struct PoolState {
    slots: Vec<Arc<Slot>>,
    opening: usize,
}

struct Health {
    state: ServiceState,
    last_error: Option<String>,
    consecutive_failures: u32,
    next_attempt: Option<Instant>,
    ever_connected: bool,
}

/// The sessions of one service.
pub struct ConnectionPool {
    service: String,
    transport: TransportConfig,
    config: RwLock<PoolConfig>,
    agent: Option<ureq::Agent>,
    session_options: SessionOptions,
    events: Option<EventHandler>,
    listener: RwLock<Option<Arc<dyn PoolListener>>>,
    state: Mutex<PoolState>,
    freed: Condvar,
    waiting: AtomicUsize,
    counters: PoolCounters,
    health: Mutex<Health>,
    closed: AtomicBool,
    warming: AtomicBool,
}

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

    /// Marks the session as possibly hung: it gets no new calls until a health
    /// check clears it, or it is evicted.
    pub fn mark_suspect(&self) {
        self.slot.suspect.store(true, Ordering::Release);
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
    /// A pool for `service`; opens nothing until asked.
    pub fn new(
        service: &str,
        transport: TransportConfig,
        config: PoolConfig,
        session_options: SessionOptions,
        events: Option<EventHandler>,
    ) -> Arc<Self> {
        let agent = matches!(transport, TransportConfig::Http { .. })
            .then(|| crate::transport::http::agent_for(&config));
        Arc::new(ConnectionPool {
            service: service.to_owned(),
            transport,
            config: RwLock::new(config),
            agent,
            session_options,
            events,
            listener: RwLock::new(None),
            state: Mutex::new(PoolState::default()),
            freed: Condvar::new(),
            waiting: AtomicUsize::new(0),
            counters: PoolCounters::default(),
            health: Mutex::new(Health {
                state: ServiceState::Initializing,
                last_error: None,
                consecutive_failures: 0,
                next_attempt: None,
                ever_connected: false,
            }),
            closed: AtomicBool::new(false),
            warming: AtomicBool::new(false),
        })
    }

    /// Sets who hears about new sessions.
    pub fn set_listener(&self, listener: Arc<dyn PoolListener>) {
        *self.listener.write() = Some(listener);
    }

    /// The service's name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The pool settings in force.
    pub fn config(&self) -> PoolConfig {
        self.config.read().clone()
    }

    /// Changes the pool settings; sessions already open stay open.
    pub fn set_config(&self, config: PoolConfig) {
        *self.config.write() = config;
        self.wake_all();
    }

    /// The transport settings.
    pub fn transport(&self) -> &TransportConfig {
        &self.transport
    }

    /// Takes the least-loaded healthy session, opens a new one when all are
    /// at their in-flight limit, or waits until `acquire_timeout`.
    pub fn acquire(self: &Arc<Self>) -> Result<Lease> {
        self.acquire_until(None)
    }

    /// Like [`ConnectionPool::acquire`], waiting no later than `limit` either
    /// (the caller's own deadline).
    pub fn acquire_until(self: &Arc<Self>, limit: Option<Instant>) -> Result<Lease> {
        let cfg = self.config.read().clone();
        let started = Instant::now();
        let mut deadline = crate::session::deadline_after(cfg.acquire_timeout);
        if let Some(limit) = limit {
            deadline = deadline.min(limit);
        }
        let mut waited = false;
        let mut st = self.state.lock();
        loop {
            if self.closed.load(Ordering::Acquire) {
                return Err(Error::Closed {
                    message: format!("service '{}' is closed", self.service),
                    sent: false,
                });
            }
            let dead = self.prune_dead(&mut st);
            if let Some(slot) = pick(&st.slots, cfg.max_in_flight_per_connection) {
                slot.in_flight.fetch_add(1, Ordering::SeqCst);
                drop(st);
                self.close_in_background(dead);
                self.note_wait(waited, started);
                return Ok(self.lease(slot));
            }
            let total = st.slots.len() + st.opening;
            let waiting = self.waiting.load(Ordering::SeqCst);
            let want_more = st.opening == 0 || waiting >= st.opening * cfg.max_in_flight_per_connection;
            if total < cfg.max_connections && want_more {
                st.opening += 1;
                drop(st);
                self.close_in_background(dead);
                let opened = self.open_session(&cfg);
                let mut st2 = self.state.lock();
                st2.opening -= 1;
                if let Ok(slot) = &opened
                    && self.closed.load(Ordering::Acquire)
                {
                    drop(st2);
                    slot.session.close(); // the pool closed while this session opened
                    return Err(Error::Closed {
                        message: format!("service '{}' is closed", self.service),
                        sent: false,
                    });
                }
                let result = opened.inspect(|slot| {
                    slot.in_flight.fetch_add(1, Ordering::SeqCst);
                    slot.uses.fetch_add(1, Ordering::Relaxed);
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
                bump(&self.counters.exhausted);
                self.note_wait(waited, started);
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

    fn wake_one(&self) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            let _guard = self.state.lock();
            self.freed.notify_one();
        }
    }

    fn wake_all(&self) {
        let _guard = self.state.lock();
        self.freed.notify_all();
    }

    /// Removes dead or evicted sessions; returns them for closing outside the lock.
    fn prune_dead(&self, st: &mut PoolState) -> Vec<Arc<Slot>> {
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
            self.refresh_state(st.slots.len(), None);
        }
        dead
    }

    fn open_session(&self, cfg: &PoolConfig) -> Result<Arc<Slot>> {
        let options = SessionOptions {
            connection_timeout: cfg.connection_timeout,
            read_timeout: cfg.read_timeout,
            write_timeout: cfg.write_timeout,
            ..self.session_options.clone()
        };
        let result = Session::connect(
            &self.service,
            &self.transport,
            self.agent.as_ref(),
            options,
            self.events.clone(),
        );
        match result {
            Ok(session) => {
                bump(&self.counters.created);
                let listener = self.listener.read().clone();
                if let Some(l) = listener {
                    l.session_opened(&session);
                }
                let now = Instant::now();
                let slot = Arc::new(Slot {
                    session,
                    in_flight: AtomicUsize::new(0),
                    uses: AtomicU64::new(0),
                    last_used: Stamp::now(),
                    last_checked: Mutex::new(now),
                    suspect: AtomicBool::new(false),
                    checking: AtomicBool::new(false),
                    id: NEXT_SLOT_ID.fetch_add(1, Ordering::Relaxed),
                });
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

    fn record_success(&self) {
        let mut h = self.health.lock();
        h.consecutive_failures = 0;
        h.next_attempt = None;
        h.ever_connected = true;
        drop(h);
        let open = self.state.try_lock().map(|s| s.slots.len() + 1);
        self.refresh_state(open.unwrap_or(1), None);
    }

    fn record_failure(&self, e: &Error) {
        let mut h = self.health.lock();
        h.consecutive_failures += 1;
        h.last_error = Some(e.to_string());
        let exp = h.consecutive_failures.saturating_sub(1).min(16);
        let backoff = FIRST_RECONNECT_BACKOFF.saturating_mul(1 << exp).min(MAX_RECONNECT_BACKOFF);
        h.next_attempt = Some(Instant::now() + backoff);
        log::warn!(target: "mcpstore::pool", "[{}] cannot open a session ({} in a row): {e}", self.service, h.consecutive_failures);
        drop(h);
        let open = self.state.try_lock().map(|s| s.slots.len());
        self.refresh_state(open.unwrap_or(0), None);
    }

    /// Recomputes the service state from the live session count.
    fn refresh_state(&self, live: usize, error: Option<String>) {
        let min = self.config.read().min_connections;
        let mut h = self.health.lock();
        if let Some(e) = error {
            h.last_error = Some(e);
        }
        if self.closed.load(Ordering::Acquire) {
            h.state = ServiceState::Disconnected;
            return;
        }
        h.state = if live == 0 {
            if h.consecutive_failures >= UNREACHABLE_AFTER {
                ServiceState::Unreachable
            } else if !h.ever_connected && h.consecutive_failures == 0 {
                ServiceState::Initializing
            } else {
                ServiceState::Reconnecting
            }
        } else if live < min || h.consecutive_failures > 0 {
            ServiceState::Degraded
        } else {
            ServiceState::Healthy
        };
    }

    /// The service state and its last error.
    pub fn state(&self) -> (ServiceState, Option<String>) {
        let h = self.health.lock();
        (h.state, h.last_error.clone())
    }

    /// Counts a retry of a call and its cause.
    pub(crate) fn count_retry(&self, cause: &Error) {
        bump(&self.counters.retries);
        let c = &self.counters;
        let counter = match cause {
            Error::Transport { status: Some(404), .. } => &c.retry_expired,
            Error::Transport { status: Some(429 | 503), .. } => &c.retry_throttled,
            Error::Transport { sent: false, .. } | Error::Timeout { phase: TimeoutPhase::Connect, .. } => {
                &c.retry_connect
            }
            Error::Closed { .. } => &c.retry_closed,
            _ => &c.retry_other,
        };
        bump(counter);
    }

    /// A snapshot of the counters and current occupancy.
    pub fn stats(&self) -> PoolStats {
        let st = self.state.lock();
        let open = st.slots.len();
        let mut idle = 0;
        let mut in_flight = 0;
        for s in &st.slots {
            let n = s.in_flight.load(Ordering::Relaxed);
            in_flight += n;
            if n == 0 {
                idle += 1;
            }
        }
        drop(st);
        self.counters.snapshot(open, idle, in_flight)
    }

    /// Sessions open now.
    pub fn open_sessions(&self) -> usize {
        self.state.lock().slots.len()
    }

    /// A live session for administrative requests (tools/list), opening one if needed.
    pub fn any_session(self: &Arc<Self>) -> Result<Lease> {
        self.acquire()
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
        let mut st = self.state.lock();
        let dead = self.prune_dead(&mut st);
        let mut next = now + cfg.health_check_interval.min(cfg.max_idle_time.max(Duration::from_millis(10)));

        // Idle reaping above the minimum, oldest first.
        let mut reaped = Vec::new();
        let mut live = st.slots.len();
        let mut i = 0;
        while i < st.slots.len() {
            let slot = &st.slots[i];
            let idle_since = slot.last_used.get();
            if live > cfg.min_connections && slot.in_flight.load(Ordering::SeqCst) == 0 {
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
        for slot in &st.slots {
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
        let missing = cfg.min_connections.max(floor).saturating_sub(st.slots.len() + st.opening);
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
        let live_now = st.slots.len();
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

    fn warm_in_background(self: &Arc<Self>, count: usize) {
        let pool = self.clone();
        let spawned =
            std::thread::Builder::new().name(format!("mcps-warm-{}", self.service)).spawn(move || {
                let cfg = pool.config.read().clone();
                let mut remaining = count;
                while remaining > 0 {
                    remaining -= 1;
                    let opened = pool.open_session(&cfg);
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

    fn check_in_background(self: &Arc<Self>, slot: Arc<Slot>, timeout: Duration) {
        let pool = self.clone();
        let _ = std::thread::Builder::new().name(format!("mcps-health-{}", self.service)).spawn(move || {
            let result = slot.session.ping(timeout);
            *slot.last_checked.lock() = Instant::now();
            match result {
                Ok(()) => {
                    bump(&pool.counters.health_passed);
                    if slot.suspect.swap(false, Ordering::AcqRel) {
                        pool.wake_all(); // callers may be waiting for this session
                    }
                }
                Err(e) => {
                    bump(&pool.counters.health_failed);
                    log::warn!(target: "mcpstore::pool", "[{}] health check failed: {e}; evicting session {}", pool.service, slot.id);
                    let mut st = pool.state.lock();
                    let before = st.slots.len();
                    st.slots.retain(|s| !Arc::ptr_eq(s, &slot));
                    let removed = before != st.slots.len();
                    let live = st.slots.len();
                    drop(st);
                    if removed {
                        bump(&pool.counters.evicted);
                        pool.refresh_state(live, Some(format!("health check failed: {e}")));
                    }
                    slot.session.close();
                    pool.wake_all();
                }
            }
            slot.checking.store(false, Ordering::Release);
        });
    }

    fn close_in_background(&self, slots: Vec<Arc<Slot>>) {
        if slots.is_empty() {
            return;
        }
        let _ = std::thread::Builder::new().name("mcps-close".into()).spawn(move || {
            for slot in slots {
                slot.session.close();
            }
        });
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

/// An instant stored in an atomic (nanoseconds since a process-wide origin).
struct Stamp(AtomicU64);

fn origin() -> Instant {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

impl Stamp {
    fn now() -> Stamp {
        let s = Stamp(AtomicU64::new(0));
        s.set_now();
        s
    }

    fn set_now(&self) {
        self.0.store(origin().elapsed().as_nanos() as u64, Ordering::Relaxed);
    }

    fn get(&self) -> Instant {
        origin() + Duration::from_nanos(self.0.load(Ordering::Relaxed))
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
