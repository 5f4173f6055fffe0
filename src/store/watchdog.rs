//! Answers server requests whose handler did not answer in time: one thread
//! per store (started with the first request), asleep until the earliest
//! deadline. A handler that hangs costs the server a timeout error, never a
//! request left without an answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::session::Responder;

/// The JSON-RPC code of an answer given up on (the SDKs' request timeout).
pub(crate) const HANDLER_TIMEOUT_CODE: i64 = -32001;

struct Armed {
    deadline: Instant,
    after: Duration,
    responder: Responder,
}

#[derive(Default)]
struct State {
    armed: Vec<Armed>,
    stopped: bool,
    started: bool,
}

/// The store's handler watchdog.
#[derive(Default)]
pub(crate) struct Watchdog {
    shared: Arc<(Mutex<State>, Condvar)>,
}

impl Watchdog {
    /// Answers `responder` with a timeout error at `now + after` unless it was answered by then.
    pub(crate) fn arm(&self, responder: Responder, after: Duration) {
        let (lock, wake) = &*self.shared;
        let mut state = lock.lock();
        if state.stopped {
            return;
        }
        state.armed.retain(|a| !a.responder.answered());
        state.armed.push(Armed { deadline: crate::util::deadline_after(after), after, responder });
        if !state.started {
            let shared = self.shared.clone();
            match crate::util::spawn_thread("mcps-watchdog", move || run(&shared)) {
                Ok(_) => state.started = true,
                Err(e) => {
                    log::warn!(target: "mcpstore::handlers", "{e}; handler timeouts wait for the next request")
                }
            }
        }
        wake.notify_one();
    }

    /// Ends the thread; requests still armed are answered at once.
    pub(crate) fn stop(&self) {
        let (lock, wake) = &*self.shared;
        let armed = {
            let mut state = lock.lock();
            state.stopped = true;
            std::mem::take(&mut state.armed)
        };
        wake.notify_all();
        for a in armed {
            a.responder.error(HANDLER_TIMEOUT_CODE, "the client is closing");
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
        let (due, waiting): (Vec<Armed>, Vec<Armed>) =
            std::mem::take(&mut state.armed).into_iter().partition(|a| a.deadline <= now);
        state.armed = waiting.into_iter().filter(|a| !a.responder.answered()).collect();
        let next = state.armed.iter().map(|a| a.deadline).min();
        if !due.is_empty() {
            drop(state);
            for a in due {
                let message =
                    format!("the client's handler did not answer within {} ms", a.after.as_millis());
                if a.responder.error(HANDLER_TIMEOUT_CODE, &message) {
                    log::warn!(target: "mcpstore::handlers", "[{}] {message}", a.responder.service());
                }
            }
            state = lock.lock();
            continue;
        }
        match next {
            Some(deadline) => {
                let _ = wake.wait_until(&mut state, deadline);
            }
            None => wake.wait(&mut state),
        }
    }
}
