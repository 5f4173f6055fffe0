//! Cancelling a call in flight from another thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use super::{Session, SessionInner};
use crate::error::Error;

/// A token that cancels a call in flight from another thread.
#[derive(Clone, Default)]
pub struct CancelToken(Arc<CancelState>);

#[derive(Default)]
struct CancelState {
    cancelled: AtomicBool,
    target: Mutex<Option<(Weak<SessionInner>, i64)>>,
}

impl CancelToken {
    /// A fresh token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::Acquire)
    }

    /// Cancels the call: its waiter gets [`Error::Cancelled`] and the server
    /// gets `notifications/cancelled`.
    ///
    /// Over stdio the waiting thread returns at once. Over HTTP the waiting
    /// thread is blocked in its POST: it returns when the server ends the
    /// stream (a server honouring the cancellation does so at once) or at the
    /// call's timeout; a background call's handle resolves at once either way.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::Release);
        let target = self.0.target.lock().take();
        if let Some((session, id)) = target
            && let Some(inner) = session.upgrade()
        {
            let session = Session { inner };
            session.inner.router.complete(id, Err(Error::Cancelled));
            session.send_cancel_in_background(id, "cancelled by the client");
        }
    }

    pub(super) fn attach(&self, session: &Arc<SessionInner>, id: i64) -> bool {
        let mut target = self.0.target.lock();
        if self.is_cancelled() {
            return false;
        }
        *target = Some((Arc::downgrade(session), id));
        true
    }

    pub(super) fn detach(&self) {
        self.0.target.lock().take();
    }
}
