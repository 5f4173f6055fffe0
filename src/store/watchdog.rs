//! Answers server requests whose handler did not answer in time, on the
//! store's deadline thread. A handler that hangs costs the server a timeout
//! error, never a request left without an answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::exec::{DeadlineKey, Deadlines};
use crate::session::Responder;

/// The JSON-RPC code of an answer given up on (the SDKs' request timeout).
pub(crate) const HANDLER_TIMEOUT_CODE: i64 = -32001;

/// Answers `responder` with a timeout error `after` from now unless it was
/// answered by then. `None` when no deadline could be armed (the store is
/// closing, or the deadline thread could not start): then the handler's own
/// answer is all the server gets.
pub(crate) fn guard(deadlines: &Deadlines, responder: &Responder, after: Duration) -> Option<DeadlineKey> {
    let deadline = crate::util::deadline_after(after);
    let responder = responder.clone();
    deadlines.arm(
        deadline,
        Box::new(move || {
            // Before its deadline an entry runs only because the store is closing.
            if Instant::now() < deadline {
                responder.error(HANDLER_TIMEOUT_CODE, "the client is closing");
                return;
            }
            if responder.answered() {
                return;
            }
            // Sending may wait for a server that does not read its input: never
            // on the deadline thread, which every other deadline depends on. A
            // handler that hangs is rare: a short-lived thread per timeout.
            let answer = Arc::new(Mutex::new(Some(responder)));
            let on_thread = answer.clone();
            let spawned = crate::util::spawn_thread("mcps-handler-timeout", move || {
                answer_timeout(on_thread.lock().take(), after);
            });
            if spawned.is_err() {
                answer_timeout(answer.lock().take(), after);
            }
        }),
    )
}

/// Tells the server its request timed out, unless it was answered meanwhile.
fn answer_timeout(responder: Option<Responder>, after: Duration) {
    let Some(responder) = responder else { return };
    let message = format!("the client's handler did not answer within {} ms", after.as_millis());
    if responder.error(HANDLER_TIMEOUT_CODE, &message) {
        log::warn!(target: "mcpstore::handlers", "[{}] {message}", responder.service());
    }
}
