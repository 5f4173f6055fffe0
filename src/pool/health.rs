//! The service's health: its state, its last error, failures in a row and the
//! back-off before the next attempt; and the health checks of idle or suspect sessions.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::ConnectionPool;
use super::checkout::live_count;
use super::slot::Slot;
use super::stats::bump;
use crate::error::Error;

/// Consecutive failures after which a service counts as unreachable.
const UNREACHABLE_AFTER: u32 = 3;
/// The longest pause between reconnection attempts.
const MAX_RECONNECT_BACKOFF: Duration = Duration::from_secs(30);
/// The first pause between reconnection attempts.
const FIRST_RECONNECT_BACKOFF: Duration = Duration::from_millis(250);

/// The health of a service, as MCPStore names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
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
    /// Serving, while more sessions open to reach `min_connections` (no failure).
    Warming,
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
            ServiceState::Warming => "warming",
            ServiceState::Disconnected => "disconnected",
        }
    }
}

/// What the pool knows of the service's health.
pub(super) struct Health {
    pub(super) state: ServiceState,
    pub(super) last_error: Option<String>,
    pub(super) consecutive_failures: u32,
    pub(super) next_attempt: Option<Instant>,
    pub(super) ever_connected: bool,
    /// The last failure when it was an authorization failure: calls in
    /// back-off get it as it is (its code says a login is needed).
    pub(super) auth_failure: Option<Error>,
}

impl Health {
    /// A service that has not connected yet.
    pub(super) fn new() -> Health {
        Health {
            state: ServiceState::Initializing,
            last_error: None,
            consecutive_failures: 0,
            next_attempt: None,
            ever_connected: false,
            auth_failure: None,
        }
    }
}

impl ConnectionPool {
    pub(super) fn record_success(&self) {
        let mut h = self.health.lock();
        h.consecutive_failures = 0;
        h.next_attempt = None;
        h.ever_connected = true;
        drop(h);
        let open = self.state.try_lock().map(|s| live_count(&s) + 1);
        self.refresh_state(open.unwrap_or(1), None);
    }

    /// While the service is in back-off after failed attempts: the error a
    /// call gets at once, saying when the next attempt is due.
    pub(super) fn backoff_error(&self) -> Option<Error> {
        let h = self.health.lock();
        let next = h.next_attempt?;
        let wait = next.saturating_duration_since(Instant::now());
        if wait.is_zero() || h.consecutive_failures == 0 {
            return None;
        }
        if let Some(Error::Auth { step, message }) = &h.auth_failure {
            return Some(Error::Auth { step: *step, message: message.clone() });
        }
        Some(Error::Closed {
            message: format!(
                "service '{}' failed {} time(s) in a row and is in back-off for {} ms more: {}",
                self.service,
                h.consecutive_failures,
                wait.as_millis(),
                h.last_error.as_deref().unwrap_or("unknown error")
            ),
            may_have_run: false,
        })
    }

    /// Whether the service is in back-off (calls should not retry now).
    pub(crate) fn in_backoff(&self) -> bool {
        self.backoff_error().is_some()
    }

    /// The last failure to open a session, when it was an authorization
    /// failure (and no session opened since): what a call should report.
    pub(crate) fn auth_failure(&self) -> Option<Error> {
        let h = self.health.lock();
        if h.consecutive_failures == 0 {
            return None;
        }
        h.auth_failure.clone()
    }

    /// Ends the back-off: the next call tries at once (the user just logged in).
    pub(crate) fn retry_now(&self) {
        self.health.lock().next_attempt = None;
    }

    pub(super) fn record_failure(&self, e: &Error) {
        let mut h = self.health.lock();
        h.consecutive_failures += 1;
        h.last_error = Some(e.to_string());
        h.auth_failure = matches!(e, Error::Auth { .. }).then(|| e.clone());
        let exp = h.consecutive_failures.saturating_sub(1).min(16);
        let backoff = match e {
            // The server said when to come back (429, 503 with `Retry-After`): then, not
            // after the doubling back-off of failures it did not explain.
            Error::Transport { retry_after: Some(after), .. } => {
                (*after).clamp(FIRST_RECONNECT_BACKOFF, MAX_RECONNECT_BACKOFF)
            }
            _ => FIRST_RECONNECT_BACKOFF.saturating_mul(1 << exp).min(MAX_RECONNECT_BACKOFF),
        };
        h.next_attempt = Some(Instant::now() + backoff);
        log::warn!(target: "mcpstore::pool", "[{}] cannot open a session ({} in a row): {e}", self.service, h.consecutive_failures);
        drop(h);
        let open = self.state.try_lock().map(|s| live_count(&s));
        self.refresh_state(open.unwrap_or(0), None);
    }

    /// Recomputes the service state from the live session count; the
    /// listener hears of a change (after the lock is released).
    pub(super) fn refresh_state(&self, live: usize, error: Option<String>) {
        let min = self.config.read().min_connections;
        let mut h = self.health.lock();
        if let Some(e) = error {
            h.last_error = Some(e);
        }
        let before = h.state;
        h.state = if self.closed.load(Ordering::Acquire) {
            ServiceState::Disconnected
        } else if live == 0 {
            if h.consecutive_failures >= UNREACHABLE_AFTER {
                ServiceState::Unreachable
            } else if !h.ever_connected && h.consecutive_failures == 0 {
                ServiceState::Initializing
            } else {
                ServiceState::Reconnecting
            }
        } else if live < min && h.consecutive_failures == 0 && self.warming.load(Ordering::Acquire) {
            ServiceState::Warming
        } else if live < min || h.consecutive_failures > 0 {
            ServiceState::Degraded
        } else {
            ServiceState::Healthy
        };
        let (state, last_error) = (h.state, h.last_error.clone());
        drop(h);
        if state != before {
            let listener = self.listener.read().clone();
            if let Some(l) = listener {
                l.state_changed(state, last_error);
            }
        }
    }

    /// The service state and its last error.
    pub fn state(&self) -> (ServiceState, Option<String>) {
        let h = self.health.lock();
        (h.state, h.last_error.clone())
    }

    pub(super) fn check_in_background(self: &Arc<Self>, slot: Arc<Slot>, timeout: Duration) {
        let pool = self.clone();
        let checked = slot.clone();
        let spawned = crate::util::spawn_thread(format!("mcps-health-{}", self.service), move || {
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
                    // Its calls in flight keep their chance: it drains, and closes once they end.
                    let was_draining = slot.draining.swap(true, Ordering::AcqRel);
                    if !was_draining {
                        bump(&pool.counters.evicted);
                        log::warn!(target: "mcpstore::pool", "[{}] health check failed: {e}; session {} takes no new calls and closes once its calls end", pool.service, slot.id);
                    }
                    let live = live_count(&pool.state.lock());
                    pool.refresh_state(live, Some(format!("health check failed: {e}")));
                    pool.close_drained(Instant::now());
                    pool.wake_all();
                }
            }
            slot.checking.store(false, Ordering::Release);
        });
        if let Err(e) = spawned {
            // Checked again on a later round; the flag must not stay set.
            log::warn!(target: "mcpstore::pool", "[{}] health check postponed: {e}", self.service);
            checked.checking.store(false, Ordering::Release);
        }
    }
}
