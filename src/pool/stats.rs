//! Counters of a connection pool.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

/// Live counters, updated without locks.
#[derive(Default, Debug)]
pub(crate) struct PoolCounters {
    pub created: AtomicU64,
    pub reused: AtomicU64,
    pub failed: AtomicU64,
    pub evicted: AtomicU64,
    pub closed_idle: AtomicU64,
    pub health_passed: AtomicU64,
    pub health_failed: AtomicU64,
    pub retries: AtomicU64,
    pub retry_connect: AtomicU64,
    pub retry_closed: AtomicU64,
    pub retry_expired: AtomicU64,
    pub retry_throttled: AtomicU64,
    pub retry_other: AtomicU64,
    pub waits: AtomicU64,
    pub wait_nanos: AtomicU64,
    pub exhausted: AtomicU64,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A snapshot of one service's pool statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct PoolStats {
    /// Sessions opened.
    pub created: u64,
    /// Calls served by a session that had served a call before.
    pub reused: u64,
    /// Session opens that failed, and sessions that died.
    pub failed: u64,
    /// Sessions removed because they died, failed a health check or hung.
    pub evicted: u64,
    /// Sessions closed after idling above the minimum.
    pub closed_idle: u64,
    /// Health checks passed.
    pub health_checks_passed: u64,
    /// Health checks failed.
    pub health_checks_failed: u64,
    /// Calls retried (all causes).
    pub retries: u64,
    /// Retries by cause: connect failure, session closed before sending,
    /// HTTP session expired, HTTP 429/503, other.
    pub retries_by_cause: RetryCauses,
    /// Calls that had to wait for a free session.
    pub waits: u64,
    /// Total time spent waiting for a free session, in milliseconds.
    pub wait_ms: f64,
    /// Calls that gave up with `PoolExhausted`.
    pub exhausted: u64,
    /// Sessions open now.
    pub open: usize,
    /// Open sessions with no call in flight.
    pub idle: usize,
    /// Calls in flight now.
    pub in_flight: usize,
    /// Lines the server wrote on stdout that were not JSON-RPC (skipped, not fatal).
    pub stray_lines: u64,
}

/// Retries counted by cause.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct RetryCauses {
    /// The session could not be opened.
    pub connect: u64,
    /// The session closed before the request was written (or a retry-safe call died).
    pub closed: u64,
    /// The HTTP session expired (404).
    pub expired: u64,
    /// The server asked to slow down (HTTP 429/503).
    pub throttled: u64,
    /// Any other retryable failure.
    pub other: u64,
}

impl PoolCounters {
    pub(crate) fn snapshot(&self, open: usize, idle: usize, in_flight: usize) -> PoolStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        PoolStats {
            created: g(&self.created),
            reused: g(&self.reused),
            failed: g(&self.failed),
            evicted: g(&self.evicted),
            closed_idle: g(&self.closed_idle),
            health_checks_passed: g(&self.health_passed),
            health_checks_failed: g(&self.health_failed),
            retries: g(&self.retries),
            retries_by_cause: RetryCauses {
                connect: g(&self.retry_connect),
                closed: g(&self.retry_closed),
                expired: g(&self.retry_expired),
                throttled: g(&self.retry_throttled),
                other: g(&self.retry_other),
            },
            waits: g(&self.waits),
            wait_ms: Duration::from_nanos(g(&self.wait_nanos)).as_secs_f64() * 1000.0,
            exhausted: g(&self.exhausted),
            open,
            idle,
            in_flight,
            stray_lines: 0,
        }
    }
}
