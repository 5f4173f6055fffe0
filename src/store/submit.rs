//! Background calls: `submit` runs a call on the store's executor and
//! resolves its handle exactly once; a user's completion callback runs on the
//! store's dispatch thread (never a reader, in order), and waiters see the
//! outcome only after it returned.

use std::sync::Arc;
use std::time::Duration;

use super::StoreInner;
use crate::call_options::CallOptions;
use crate::cancel::CancelGuard;
use crate::error::{Error, Result};
use crate::exec::{CallHandle, CallResult, HandleState, ToolCall};

/// What runs when a background call finishes.
pub(crate) enum OnDone {
    /// User code: runs on the dispatch thread.
    User(Box<dyn FnOnce(CallResult) + Send>),
    /// Library code that only hands the outcome on (a completion queue): runs on the worker.
    Library(Box<dyn FnOnce(CallResult) + Send>),
}

/// How long a worker waits for room in a full dispatch queue before running a
/// completion callback itself (it must run exactly once).
const DISPATCH_WAIT: Duration = Duration::from_secs(10);

impl StoreInner {
    /// Starts a call on the executor; `on_done` runs once with the outcome.
    pub(crate) fn submit_call(&self, call: ToolCall, on_done: Option<OnDone>) -> Result<CallHandle> {
        let closed = || Error::Closed { message: "store is closed".into(), may_have_run: false };
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(closed());
        }
        let store = self.me.upgrade().ok_or_else(closed)?;
        let cfg = self.config();
        if !self.limiter.acquire(cfg.batch.submit_timeout) {
            return Err(Error::Busy { waited: cfg.batch.submit_timeout });
        }
        let executor = match self.executor() {
            Ok(e) => e,
            Err(e) => {
                self.limiter.release();
                return Err(e);
            }
        };
        let wait = crate::exec::default_wait(self.call_timeout(&call.options));
        let user_callback = matches!(on_done, Some(OnDone::User(_)));
        let state = HandleState::new(wait, user_callback);
        let handle = CallHandle { state: state.clone() };
        let id = self.in_flight.start(&state);
        let finisher = Finisher { store: store.clone(), state: state.clone(), id, on_done };
        let (call, finisher) = match self.start_direct(call, finisher) {
            Ok(()) => return Ok(handle),
            Err(back) => *back,
        };
        executor.spawn(move || {
            let _forward = forward_cancel(&call, &state);
            let options = CallOptions { cancel: Some(state.cancel.clone()), ..call.options.clone() };
            let outcome = if state.cancel.is_cancelled() {
                Err(Error::Cancelled)
            } else if store.closed.load(std::sync::atomic::Ordering::Acquire) {
                Err(Error::Closed { message: "store is closed".into(), may_have_run: false })
            } else {
                // A bug must not take the worker down or leave the handle unresolved.
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    store.call(&call.tool, &call.arguments, &options)
                }))
                .unwrap_or_else(|_| Err(Error::Internal("a background call panicked".into())))
            };
            finisher.finish(outcome);
        });
        Ok(handle)
    }
}

/// The handle's token cancels the call; a token of the caller cancels the handle's.
pub(super) fn forward_cancel(call: &ToolCall, state: &Arc<HandleState>) -> Option<CancelGuard> {
    call.options.cancel.as_ref().and_then(|caller| {
        let handle_token = state.cancel.clone();
        let guard = caller.on_cancel(move || handle_token.cancel());
        if guard.is_none() {
            state.cancel.cancel(); // the caller's token was cancelled already
        }
        guard
    })
}

/// Resolves a background call's handle exactly once and hands the outcome on.
pub(super) struct Finisher {
    pub(super) store: Arc<StoreInner>,
    pub(super) state: Arc<HandleState>,
    pub(super) id: u64,
    pub(super) on_done: Option<OnDone>,
}

impl Finisher {
    /// Whether the completion is library code that may run on a reader thread.
    pub(super) fn runs_anywhere(&self) -> bool {
        !matches!(self.on_done, Some(OnDone::User(_)))
    }

    /// Resolves the handle, frees the slot, and runs the completion.
    pub(super) fn finish(self, outcome: CallResult) {
        let Finisher { store, state, id, on_done } = self;
        let final_result = state.resolve(outcome);
        store.in_flight.finish(id);
        store.limiter.release();
        match on_done {
            Some(OnDone::User(callback)) => {
                let published = state.clone();
                store.callbacks.post_or_run(
                    move || {
                        // A panicking callback must not keep waiters from the outcome.
                        let _ =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(final_result)));
                        published.publish(); // waiters see the outcome only now
                    },
                    DISPATCH_WAIT,
                );
            }
            Some(OnDone::Library(hand_on)) => hand_on(final_result),
            None => {}
        }
    }
}

impl crate::exec::Submit for StoreInner {
    fn submit(&self, call: ToolCall, on_done: Box<dyn FnOnce(CallResult) + Send>) -> Result<()> {
        self.submit_call(call, Some(OnDone::Library(on_done))).map(|_| ())
    }

    fn default_wait(&self) -> Duration {
        crate::exec::default_wait(self.config().batch.call_timeout)
    }
}
