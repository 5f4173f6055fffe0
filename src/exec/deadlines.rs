//! A store's deadlines (background calls that no thread waits for, server
//! requests whose handler may not answer): one thread per store, started
//! with the first entry, asleep until the earliest deadline, runs each
//! expired entry's action once. An entry is removed when what it guards
//! completes first, so only what is in flight is kept.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

/// What runs when a deadline passes.
type Expire = Box<dyn FnOnce() + Send>;

/// Identifies an armed deadline, to disarm it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct DeadlineKey(Instant, u64);

#[derive(Default)]
struct State {
    armed: BTreeMap<DeadlineKey, Expire>,
    next: u64,
    started: bool,
    stopped: bool,
}

/// A store's deadline thread and its entries.
#[derive(Default)]
pub(crate) struct Deadlines {
    shared: Arc<(Mutex<State>, Condvar)>,
}

impl Deadlines {
    /// Runs `expire` at `deadline` unless disarmed first; `None` once stopped
    /// (or when the thread cannot start, which is logged). `expire` must not block:
    /// every other deadline waits for it.
    pub(crate) fn arm(&self, deadline: Instant, expire: Expire) -> Option<DeadlineKey> {
        let (lock, wake) = &*self.shared;
        let mut state = lock.lock();
        if state.stopped {
            return None;
        }
        state.next += 1;
        let key = DeadlineKey(deadline, state.next);
        let earliest = state.armed.first_key_value().is_none_or(|(k, _)| key < *k);
        state.armed.insert(key, expire);
        if !state.started {
            let shared = self.shared.clone();
            let spawned = std::thread::Builder::new()
                .name("mcps-deadlines".into())
                .stack_size(256 * 1024)
                .spawn(move || run(&shared));
            if let Err(e) = spawned {
                log::warn!(target: "mcpstore::exec", "cannot start the deadline thread: {e}");
                state.armed.remove(&key);
                return None;
            }
            state.started = true;
        } else if earliest {
            wake.notify_one();
        }
        Some(key)
    }

    /// Forgets an entry whose call completed; whether it was still armed.
    pub(crate) fn disarm(&self, key: DeadlineKey) -> bool {
        self.shared.0.lock().armed.remove(&key).is_some()
    }

    /// Ends the thread; entries still armed run now (their calls fail at once).
    pub(crate) fn stop(&self) {
        let (lock, wake) = &*self.shared;
        let armed = {
            let mut state = lock.lock();
            state.stopped = true;
            std::mem::take(&mut state.armed)
        };
        wake.notify_one();
        for (_, expire) in armed {
            expire();
        }
    }
}

fn run(shared: &(Mutex<State>, Condvar)) {
    let (lock, wake) = shared;
    let mut state = lock.lock();
    loop {
        if state.stopped {
            return;
        }
        let now = Instant::now();
        match state.armed.first_key_value().map(|(k, _)| *k) {
            Some(key) if key.0 <= now => {
                let expire = state.armed.remove(&key);
                drop(state);
                if let Some(expire) = expire {
                    // An action is library code; a bug in it must not stop the other deadlines.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(expire));
                }
                state = lock.lock();
            }
            Some(key) => {
                let _ = wake.wait_until(&mut state, key.0);
            }
            None => wake.wait(&mut state),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn runs_expired_entries_in_order_and_never_disarmed_ones() {
        let d = Deadlines::default();
        let order = Arc::new(Mutex::new(Vec::new()));
        let now = Instant::now();
        for (i, ms) in [(1, 60u64), (2, 20), (3, 40)] {
            let o = order.clone();
            d.arm(now + Duration::from_millis(ms), Box::new(move || o.lock().push(i))).unwrap();
        }
        let o = order.clone();
        let gone = d.arm(now + Duration::from_millis(30), Box::new(move || o.lock().push(9))).unwrap();
        assert!(d.disarm(gone));
        let until = Instant::now() + Duration::from_secs(10);
        while order.lock().len() < 3 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(*order.lock(), vec![2, 3, 1]);
        assert!(!d.disarm(gone));
    }

    #[test]
    fn stop_runs_what_is_left_and_refuses_new_entries() {
        let d = Deadlines::default();
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        d.arm(
            Instant::now() + Duration::from_secs(3600),
            Box::new(move || {
                r.fetch_add(1, Ordering::SeqCst);
            }),
        )
        .unwrap();
        d.stop();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert!(d.arm(Instant::now(), Box::new(|| {})).is_none());
    }
}
