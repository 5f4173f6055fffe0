//! Controls for chaos tests: an execution record (`--record FILE`) and
//! faults armed by signals at moments the test picks (`--chaos`).
//!
//! `--record FILE` appends `TOOL<TAB>MESSAGE<LF>` to FILE each time a
//! `tools/call` whose arguments hold a string `message` starts running: one
//! line per execution, so a test can tell how often each of its calls ran.
//! Lines are written whole with one `write` on an `O_APPEND` file, so they
//! survive `SIGKILL` and several processes may share the file.
//!
//! `--chaos` arms one-shot faults. A signal arms its fault for the next
//! request it applies to; signals before that request do not stack, so a
//! burst of signals while nothing arrives leaves one fault, not a backlog
//! that outlives the burst:
//!
//! | signal | fault |
//! |---|---|
//! | `SIGUSR1` | the next `tools/call` reply is garbage (as `--garbage-after`) |
//! | `SIGUSR2` | HTTP: the session of the next POST expires (404 from now on) |
//! | `SIGRTMIN+1` | HTTP: the next POST is answered 503 (before it runs) |
//! | `SIGRTMIN+2` | HTTP: the next POST is answered 429 (before it runs) |
//! | `SIGRTMIN+3` | HTTP: the next SSE answer is cut in the middle of an event and its connection dropped (after it ran) |
//!
//! The state is process-wide, as signals are.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use serde_json::Value;
use touche::{Body, HttpBody, Response};

use super::http_reply::{self, Reply};

/// A fault a signal arms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The next `tools/call` reply is garbage.
    Garbage = 0,
    /// The next POST's session expires.
    Expire = 1,
    /// The next POST gets 503.
    Unavailable = 2,
    /// The next POST gets 429.
    TooMany = 3,
    /// The next SSE answer is cut mid-event.
    Cut = 4,
}

static ARMED: [AtomicBool; 5] = [const { AtomicBool::new(false) }; 5];
static RECORD: OnceLock<Mutex<File>> = OnceLock::new();

/// Applies `--record` and `--chaos` (the foreground [`run`](crate::run) calls it).
pub fn setup(opts: &crate::DemoOptions) -> std::io::Result<()> {
    if let Some(path) = &opts.record {
        open_record(path)?;
    }
    if opts.chaos {
        install_signals()?;
    }
    Ok(())
}

/// Opens the record file (`--record`), appending.
pub fn open_record(path: &Path) -> std::io::Result<()> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let _ = RECORD.set(Mutex::new(file));
    Ok(())
}

/// Records one execution of a `tools/call` (`params` of the request).
pub fn record(params: &Value) {
    let Some(file) = RECORD.get() else { return };
    let name = params.get("name").and_then(Value::as_str).unwrap_or("");
    let Some(message) = params.get("arguments").and_then(|a| a.get("message")).and_then(Value::as_str) else {
        return;
    };
    let line = format!("{name}\t{}\n", message.replace(['\n', '\t'], " "));
    if file.lock().write_all(line.as_bytes()).is_err() {
        log::warn!("demo server: cannot write the record");
    }
}

/// Arms `fault` for the next request it applies to (what the signal handler does).
pub fn arm(fault: Fault) {
    ARMED[fault as usize].store(true, Ordering::SeqCst);
}

/// Takes the armed `fault`, if it is armed.
pub fn take(fault: Fault) -> bool {
    ARMED[fault as usize].swap(false, Ordering::SeqCst)
}

extern "C" fn on_signal(sig: libc::c_int) {
    // Only atomics here: async-signal-safe.
    let rt = libc::SIGRTMIN();
    let fault = match sig {
        libc::SIGUSR1 => Fault::Garbage,
        libc::SIGUSR2 => Fault::Expire,
        s if s == rt + 1 => Fault::Unavailable,
        s if s == rt + 2 => Fault::TooMany,
        s if s == rt + 3 => Fault::Cut,
        _ => return,
    };
    arm(fault);
}

/// Installs the signal handlers of `--chaos`.
pub fn install_signals() -> std::io::Result<()> {
    let rt = libc::SIGRTMIN();
    for sig in [libc::SIGUSR1, libc::SIGUSR2, rt + 1, rt + 2, rt + 3] {
        // SAFETY: `action` is fully initialized (zeroed, then the handler and
        // flags set) before sigaction reads it; the handler only touches
        // atomics, which is async-signal-safe.
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A 503 or 429 answer to this POST, when one is armed.
pub fn refusal() -> Option<Reply> {
    if take(Fault::Unavailable) {
        return Some(http_reply::text(503, &[], "chaos: service unavailable\n"));
    }
    if take(Fault::TooMany) {
        return Some(http_reply::text(429, &[("Retry-After", "0")], "chaos: too many requests\n"));
    }
    None
}

/// Cuts an SSE answer mid-event when a cut is armed: the request has run;
/// the client gets the headers and the first half of the body, then the
/// connection `conn` is shut down.
pub fn maybe_cut(reply: Reply, conn: Option<TcpStream>) -> Reply {
    let sse = reply.status() == 200
        && reply
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
    let Some(conn) = conn.filter(|_| sse && take(Fault::Cut)) else {
        return reply;
    };
    let (mut parts, body) = reply.into_parts();
    let mut bytes = Vec::new();
    let _ = body.into_reader().read_to_end(&mut bytes);
    bytes.truncate(bytes.len() / 2);
    parts.headers.remove("content-length");
    let mut sent = false;
    let chunks = std::iter::from_fn(move || {
        if !sent {
            sent = true;
            return Some(std::mem::take(&mut bytes));
        }
        // touche has written the half event: drop the connection under it.
        let _ = conn.shutdown(Shutdown::Both);
        None
    });
    Response::from_parts(parts, Body::from_iter(chunks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_one_shot_and_do_not_stack() {
        assert!(!take(Fault::Expire));
        arm(Fault::Expire);
        arm(Fault::Expire);
        assert!(take(Fault::Expire));
        assert!(!take(Fault::Expire));
    }

    #[test]
    fn signals_arm_faults() {
        install_signals().unwrap();
        // SAFETY: raising a signal whose handler was just installed.
        unsafe { libc::raise(libc::SIGRTMIN() + 1) };
        assert!(refusal().is_some_and(|r| r.status() == 503));
        assert!(refusal().is_none());
    }
}
