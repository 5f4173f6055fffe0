//! Handles of background calls.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::CallResult;
use crate::error::{Error, TimeoutPhase};
use crate::session::CancelToken;

/// The shared state of one background call; resolved exactly once.
pub(crate) struct HandleState {
    result: Mutex<Option<CallResult>>,
    done: Condvar,
    pub(crate) cancel: CancelToken,
    default_wait: Duration,
}

impl HandleState {
    pub(crate) fn new(default_wait: Duration) -> Arc<Self> {
        Arc::new(HandleState {
            result: Mutex::new(None),
            done: Condvar::new(),
            cancel: CancelToken::new(),
            default_wait,
        })
    }

    /// Sets the result unless one is already set; returns the final result.
    pub(crate) fn resolve(&self, result: CallResult) -> CallResult {
        let mut slot = self.result.lock();
        if slot.is_none() {
            *slot = Some(result);
            self.done.notify_all();
        }
        slot.clone().unwrap_or(Err(Error::Internal("handle lost its result".into())))
    }

    fn wait_until(&self, deadline: Instant, limit: Duration) -> CallResult {
        let mut slot = self.result.lock();
        while slot.is_none() {
            if self.done.wait_until(&mut slot, deadline).timed_out() && slot.is_none() {
                return Err(Error::Timeout { phase: TimeoutPhase::Wait, after: limit });
            }
        }
        slot.clone().unwrap_or(Err(Error::Internal("handle lost its result".into())))
    }
}

/// A call running in the background.
///
/// Dropping the handle does not cancel the call; use [`CallHandle::cancel`].
#[derive(Clone)]
pub struct CallHandle {
    pub(crate) state: Arc<HandleState>,
}

impl std::fmt::Debug for CallHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallHandle").field("finished", &self.is_finished()).finish()
    }
}

impl CallHandle {
    /// Waits for the result, up to the call's own timeout plus a margin.
    pub fn wait(&self) -> CallResult {
        self.wait_timeout(self.state.default_wait)
    }

    /// Waits up to `timeout`; on expiry returns a `Timeout` error and the
    /// call goes on (wait again later).
    pub fn wait_timeout(&self, timeout: Duration) -> CallResult {
        self.state.wait_until(crate::session::deadline_after(timeout), timeout)
    }

    /// The result if the call has finished.
    pub fn try_result(&self) -> Option<CallResult> {
        self.state.result.lock().clone()
    }

    /// Whether the call has finished.
    pub fn is_finished(&self) -> bool {
        self.state.result.lock().is_some()
    }

    /// Cancels the call: the server gets `notifications/cancelled` and the
    /// handle resolves as [`Error::Cancelled`] (unless it had already finished).
    pub fn cancel(&self) {
        self.state.cancel.cancel();
        let _ = self.state.resolve(Err(Error::Cancelled));
    }
}
