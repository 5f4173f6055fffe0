//! The connection pool of each service: live initialized sessions, reused by
//! every call, opened on demand up to a maximum, kept warm, health-checked and
//! replaced when they fail.
//!
//! Opening a session happens outside every lock, so a slow or dead server never
//! stalls calls to other sessions or other services.
//!
//! - `checkout`: taking a session for a call (least loaded, opened on demand, waited for);
//! - `health`: the service state, failures and back-off, and health checks;
//! - `upkeep`: warm-up, idle reaping, closing;
//! - `slot`: one pooled session and its counters.

mod checkout;
mod health;
mod slot;
mod stats;
mod upkeep;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use parking_lot::{Condvar, Mutex, RwLock};

use crate::config::{PoolConfig, TransportConfig};
use crate::error::{Error, TimeoutPhase};
use crate::session::{Session, SessionContext, SessionOptions};

pub(crate) use checkout::Lease;
use health::Health;
pub use health::ServiceState;
use slot::PoolState;
pub use stats::PoolStats;
use stats::{PoolCounters, bump};

/// Something that wants to know when a session opens (the store loads tools then).
pub trait PoolListener: Send + Sync {
    /// A new session is ready; called on the thread that opened it, which
    /// must be done by `deadline` (the deadline of the call that opened it).
    fn session_opened(&self, session: &Session, deadline: Option<std::time::Instant>);

    /// The service's state changed (called on whichever thread changed it,
    /// with no pool lock held; must not block).
    fn state_changed(&self, _state: ServiceState, _error: Option<String>) {}
}

/// The sessions of one service.
pub struct ConnectionPool {
    service: String,
    transport: TransportConfig,
    config: RwLock<PoolConfig>,
    session_options: SessionOptions,
    /// The HTTP agent, event handler and dispatch threads every session gets.
    context: SessionContext,
    listener: RwLock<Option<Arc<dyn PoolListener>>>,
    state: Mutex<PoolState>,
    freed: Condvar,
    waiting: AtomicUsize,
    counters: PoolCounters,
    health: Mutex<Health>,
    closed: AtomicBool,
    warming: AtomicBool,
}

impl ConnectionPool {
    /// A pool for `service`; opens nothing until asked. `context` carries the
    /// event handler and dispatch threads (an HTTP agent is made here).
    pub fn new(
        service: &str,
        transport: TransportConfig,
        config: PoolConfig,
        session_options: SessionOptions,
        mut context: SessionContext,
    ) -> Arc<Self> {
        if matches!(transport, TransportConfig::Http(_)) {
            context.agent = Some(crate::transport::http::agent_for(&config));
        }
        Arc::new(ConnectionPool {
            service: service.to_owned(),
            transport,
            config: RwLock::new(config),
            session_options,
            context,
            listener: RwLock::new(None),
            state: Mutex::new(PoolState::default()),
            freed: Condvar::new(),
            waiting: AtomicUsize::new(0),
            counters: PoolCounters::default(),
            health: Mutex::new(Health::new()),
            closed: AtomicBool::new(false),
            warming: AtomicBool::new(false),
        })
    }

    /// Sets who hears about new sessions.
    pub fn set_listener(&self, listener: Arc<dyn PoolListener>) {
        *self.listener.write() = Some(listener);
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

    /// Counts a retry of a call and its cause.
    pub(crate) fn count_retry(&self, cause: &Error) {
        bump(&self.counters.retries);
        let c = &self.counters;
        let counter = match cause {
            Error::Transport { status: Some(404), .. } => &c.retry_expired,
            Error::Transport { status: Some(429 | 503), .. } => &c.retry_throttled,
            Error::Transport { may_have_run: false, .. }
            | Error::Timeout { phase: TimeoutPhase::Connect, .. } => &c.retry_connect,
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
        let mut stats = self.counters.snapshot(open, idle, in_flight);
        stats.stray_lines = self.context.stray_lines.load(Ordering::Relaxed);
        stats
    }

    /// Sessions open now.
    pub fn open_sessions(&self) -> usize {
        self.state.lock().slots.len()
    }

    /// The live sessions (not draining), for what goes to every session
    /// (log level, roots changes) and their listening streams.
    pub(crate) fn live_sessions(&self) -> Vec<Session> {
        self.state.lock().slots.iter().filter(|s| s.live()).map(|s| s.session.clone()).collect()
    }
}
