//! The store's one maintenance thread: health pings, idle reaping, warm-up
//! (and memory sampling). It sleeps until the next deadline and stops at once
//! when the store is dropped.

use std::sync::Weak;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;

use super::StoreInner;

/// The longest sleep between two rounds, so new services are seen soon.
const MAX_SLEEP: Duration = Duration::from_secs(1);

enum Signal {
    Wake,
}

/// Handle of the maintenance thread.
pub(crate) struct Maintenance {
    tx: Mutex<Option<Sender<Signal>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Maintenance {
    /// Starts the thread; it holds the store only weakly.
    pub(crate) fn start(store: Weak<StoreInner>) -> Maintenance {
        let (tx, rx) = crossbeam_channel::unbounded();
        let thread = crate::util::spawn_thread("mcps-maintenance", move || run(store, rx))
            .inspect_err(|e| log::error!(target: "mcpstore::store", "{e}; pools will not be kept warm"))
            .ok();
        Maintenance { tx: Mutex::new(Some(tx)), thread: Mutex::new(thread) }
    }

    /// Runs a round now (a service was added, a session looks hung, ...).
    pub(crate) fn wake(&self) {
        if let Some(tx) = self.tx.lock().as_ref() {
            let _ = tx.send(Signal::Wake);
        }
    }

    /// Stops the thread and waits for it.
    pub(crate) fn stop(&self) {
        drop(self.tx.lock().take());
        if let Some(t) = self.thread.lock().take()
            && t.thread().id() != std::thread::current().id()
        {
            let _ = t.join();
        }
    }
}

fn run(store: Weak<StoreInner>, rx: Receiver<Signal>) {
    // The thread starts while the store's `Arc` is still being built, when the
    // weak reference cannot be upgraded yet: wait for the first wake-up, sent
    // once the store exists (or for the store to go away).
    if rx.recv().is_err() {
        return;
    }
    loop {
        let next = match store.upgrade() {
            Some(inner) => round(&inner),
            // Not constructed yet (the thread starts inside `Arc::new_cyclic`) or
            // being dropped: look again soon; a dropped store disconnects `rx`.
            None => Instant::now() + Duration::from_millis(5),
        };
        let sleep = next.saturating_duration_since(Instant::now()).min(MAX_SLEEP);
        match rx.recv_timeout(sleep) {
            Ok(Signal::Wake) => {
                while rx.try_recv().is_ok() {} // coalesce bursts of wake-ups
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn round(store: &StoreInner) -> Instant {
    let now = Instant::now();
    let services: Vec<_> = store.services.read().values().cloned().collect();
    let mut next = now + MAX_SLEEP;
    for service in services {
        let floor = usize::from(!service.tools_loaded());
        next = next.min(service.pool().maintain(now, floor));
        let lists_missing = !service.tools_loaded() && service.pool().open_sessions() > 0;
        if lists_missing || service.subscriptions.need_renewal() {
            // Tools failed to load with the first session, or the session holding
            // the resource subscriptions closed: try again in the background.
            service.refresh_in_background();
        }
    }
    if let Some(due) = store.monitor_tick(now) {
        next = next.min(due);
    }
    next.max(now + Duration::from_millis(5))
}
