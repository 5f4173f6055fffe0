//! Cancelling calls in flight from another thread.
//!
//! A [`CancelToken`] knows nothing about sessions: whoever runs a call
//! registers what cancelling it means (wake the waiter, tell the server) and
//! deregisters when the call ends. One token may be shared by many calls;
//! `cancel()` stops every call that holds it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;

type Action = Box<dyn FnOnce() + Send>;

/// A token that cancels calls in flight from another thread.
///
/// Cheap to clone; clones share the state. Pass it in
/// [`CallOptions::cancel`](crate::CallOptions::cancel) of one or many calls.
#[derive(Clone, Default)]
pub struct CancelToken(Arc<CancelState>);

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken").field("cancelled", &self.is_cancelled()).finish()
    }
}

#[derive(Default)]
struct CancelState {
    cancelled: AtomicBool,
    next_id: AtomicU64,
    actions: Mutex<Vec<(u64, Action)>>,
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

    /// Cancels every call holding this token: each waiter returns
    /// [`Error::Cancelled`](crate::Error::Cancelled) at once and each server is
    /// told (`notifications/cancelled`, or by closing an HTTP stream). Calls
    /// started with the token afterwards fail with `Cancelled` before they are sent.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::Release);
        let actions = std::mem::take(&mut *self.0.actions.lock());
        for (_, action) in actions {
            action();
        }
    }

    /// Registers what cancelling a call means, until the returned guard is
    /// dropped. `None` (and `action` is not kept) when the token is already
    /// cancelled: then the call must not start.
    pub(crate) fn on_cancel(&self, action: impl FnOnce() + Send + 'static) -> Option<CancelGuard> {
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        let mut actions = self.0.actions.lock();
        // Checked under the lock: a concurrent `cancel` either sees the action or we see its flag.
        if self.is_cancelled() {
            return None;
        }
        actions.push((id, Box::new(action)));
        Some(CancelGuard { state: self.0.clone(), id })
    }
}

/// Keeps a cancel action registered; dropping it forgets the action.
pub(crate) struct CancelGuard {
    state: Arc<CancelState>,
    id: u64,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        self.state.actions.lock().retain(|(id, _)| *id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn cancel_runs_every_registered_action_once() {
        let token = CancelToken::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let guards: Vec<_> = (0..3)
            .map(|_| {
                let r = runs.clone();
                token.on_cancel(move || {
                    r.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        let dropped = token.on_cancel({
            let r = runs.clone();
            move || {
                r.fetch_add(100, Ordering::SeqCst);
            }
        });
        drop(dropped); // that call ended before the cancel
        token.clone().cancel();
        token.cancel();
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert!(token.is_cancelled());
        assert!(token.on_cancel(|| {}).is_none(), "a cancelled token refuses new calls");
        drop(guards);
    }
}
