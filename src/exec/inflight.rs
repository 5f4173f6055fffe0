//! The background calls of a store that have not finished, so that closing
//! the store can end them at once (with `Closed`) instead of waiting for
//! their servers.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::HandleState;
use crate::error::Error;

/// Registry of unfinished background calls.
#[derive(Default)]
pub(crate) struct InFlight {
    next: AtomicU64,
    calls: Mutex<HashMap<u64, Arc<HandleState>>>,
}

impl InFlight {
    /// Records a call; returns the id to pass to [`InFlight::finish`].
    pub(crate) fn start(&self, state: &Arc<HandleState>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.calls.lock().insert(id, state.clone());
        id
    }

    /// Forgets a finished call.
    pub(crate) fn finish(&self, id: u64) {
        self.calls.lock().remove(&id);
    }

    /// Resolves every unfinished call as `Closed` and cancels it, so that
    /// its worker stops waiting for the server and runs its callback.
    pub(crate) fn close_all(&self) {
        let calls: Vec<_> = self.calls.lock().drain().map(|(_, s)| s).collect();
        for state in calls {
            let _ =
                state.resolve(Err(Error::Closed { message: "store is closed".into(), may_have_run: true }));
            // Told to the server too: an HTTP worker waits in its POST until the server ends the stream.
            state.cancel.cancel();
        }
    }
}
