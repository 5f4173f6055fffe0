//! A user callback that can be replaced while it may be running.
//!
//! An invocation holds `running` for its whole duration, so [`CallbackSlot::set`]
//! can wait for it after swapping the callback: once `set` returns, the
//! previous callback is not running and will not run again, and a C caller
//! may free the old userdata. The thread that runs an invocation is
//! recorded, so that `set` called from inside the callback does not wait for
//! itself (the new callback applies from the next invocation).

use std::sync::Arc;

use parking_lot::Mutex;

/// A shared callback taking `&A`.
pub(crate) type SharedCallback<A> = Arc<dyn Fn(&A) + Send + Sync>;

/// A replaceable callback taking `&A`.
pub(crate) struct CallbackSlot<A: ?Sized> {
    current: Mutex<Option<SharedCallback<A>>>,
    running: Mutex<()>,
    runner: Mutex<Option<std::thread::ThreadId>>,
}

impl<A: ?Sized> Default for CallbackSlot<A> {
    fn default() -> Self {
        CallbackSlot { current: Mutex::new(None), running: Mutex::new(()), runner: Mutex::new(None) }
    }
}

impl<A: ?Sized> CallbackSlot<A> {
    /// Replaces (or with `None` removes) the callback; returns once a running
    /// invocation of the previous one has returned, unless called from it.
    pub(crate) fn set(&self, callback: Option<SharedCallback<A>>) {
        let previous = std::mem::replace(&mut *self.current.lock(), callback);
        let from_inside = *self.runner.lock() == Some(std::thread::current().id());
        if !from_inside {
            drop(self.running.lock()); // waits for an invocation that started before the swap
        }
        drop(previous); // not running any more (or still held by the invocation calling us)
    }

    /// Whether a callback is set.
    pub(crate) fn is_set(&self) -> bool {
        self.current.lock().is_some()
    }

    /// Runs the callback, if any, with `arg`; a panic in it is caught (and logged).
    pub(crate) fn invoke(&self, arg: &A) {
        let _running = self.running.lock();
        let Some(callback) = self.current.lock().clone() else {
            return;
        };
        *self.runner.lock() = Some(std::thread::current().id());
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(arg))).is_err() {
            log::error!(target: "mcpstore::callback", "a callback panicked; the library goes on");
        }
        *self.runner.lock() = None;
    }
}
