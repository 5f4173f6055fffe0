//! Handles of background calls.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::CallResult;
use crate::cancel::CancelToken;
use crate::error::{Error, TimeoutPhase};

/// The shared state of one background call: its outcome is decided exactly
/// once, and becomes visible to waiters only after the call's callback (if
/// any) has returned — so a C program may free the callback's userdata as
/// soon as a wait returns.
pub(crate) struct HandleState {
    slot: Mutex<Slot>,
    done: Condvar,
    pub(crate) cancel: CancelToken,
    default_wait: Duration,
    has_callback: bool,
}

#[derive(Default)]
struct Slot {
    result: Option<CallResult>,
    visible: bool,
}

impl HandleState {
    pub(crate) fn new(default_wait: Duration, has_callback: bool) -> Arc<Self> {
        Arc::new(HandleState {
            slot: Mutex::new(Slot::default()),
            done: Condvar::new(),
            cancel: CancelToken::new(),
            default_wait,
            has_callback,
        })
    }

    /// Decides the outcome unless it is decided already; returns the decided one.
    /// Without a callback it is visible at once; with one, only after [`Self::publish`].
    pub(crate) fn resolve(&self, result: CallResult) -> CallResult {
        let mut slot = self.slot.lock();
        if slot.result.is_none() {
            slot.result = Some(result);
            if !self.has_callback {
                slot.visible = true;
                self.done.notify_all();
            }
        }
        slot.result.clone().unwrap_or(Err(Error::Internal("handle lost its result".into())))
    }

    /// Makes the decided outcome visible to waiters (after the callback ran).
    pub(crate) fn publish(&self) {
        let mut slot = self.slot.lock();
        slot.visible = true;
        self.done.notify_all();
    }

    fn visible_result(&self) -> Option<CallResult> {
        let slot = self.slot.lock();
        if slot.visible { slot.result.clone() } else { None }
    }

    fn wait_until(&self, deadline: Instant, limit: Duration) -> CallResult {
        let mut slot = self.slot.lock();
        while !slot.visible {
            if self.done.wait_until(&mut slot, deadline).timed_out() && !slot.visible {
                return Err(Error::Timeout { phase: TimeoutPhase::Wait, after: limit, detail: None });
            }
        }
        slot.result.clone().unwrap_or(Err(Error::Internal("handle lost its result".into())))
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
        self.state.wait_until(crate::util::deadline_after(timeout), timeout)
    }

    /// The result if the call has finished.
    pub fn try_result(&self) -> Option<CallResult> {
        self.state.visible_result()
    }

    /// Whether the call has finished.
    pub fn is_finished(&self) -> bool {
        self.state.visible_result().is_some()
    }

    /// Cancels the call: the server gets `notifications/cancelled` and the
    /// handle resolves as [`Error::Cancelled`] (unless it had already finished).
    /// With a callback, waiters see the outcome once the callback has run
    /// (with `Cancelled`), which happens as soon as the worker leaves the call.
    pub fn cancel(&self) {
        self.state.cancel.cancel();
        let _ = self.state.resolve(Err(Error::Cancelled));
    }
}
