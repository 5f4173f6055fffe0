//! The write side of a stdio server: its stdin, non-blocking and written
//! within a deadline, and the tail of its stderr for error messages.
//!
//! Writing to a server that has exited fails with `EPIPE` and, on most
//! platforms, raises `SIGPIPE` — which kills a host process that never chose to
//! ignore it (a C or Go program using the library). Every write therefore
//! runs with `SIGPIPE` blocked on the writing thread, and a `SIGPIPE` raised by
//! that write is consumed before the mask is restored (module `sigpipe`); the
//! process-wide signal disposition is never touched. Where `SIGPIPE` is
//! already ignored when the server is started (every Rust program, most
//! servers), no signal can be raised and the writes skip the mask (three
//! system calls per write); a host that sets it back to its default action
//! later must do so before it starts its stdio services.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::process::ChildStdin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};

use crate::error::{Error, Result, TimeoutPhase};

/// How many stderr lines are kept to explain a failure.
const STDERR_TAIL_LINES: usize = 20;
/// How often a writer that leads the reads routes while another writer holds stdin.
const ROUTE_EVERY: Duration = Duration::from_micros(200);

/// Why a writer stopped waiting for the stdin mutex.
enum GaveUp {
    Deadline,
    /// The stream ended while the writer routed.
    Ended,
}

/// What a writer does while its write waits (for the stdin mutex, or for
/// room in a full pipe) when it leads the reads: it routes what the server
/// writes meanwhile, since a server blocked on a full stdout reads no more of
/// its input and nobody else reads while a caller leads.
pub(super) trait ReadsMeanwhile {
    /// Routes what the server's stdout holds now, without waiting; whether
    /// the stream ended (it is told once the write is over).
    fn route_now(&self) -> bool;
    /// Waits up to `wait` for `stdin` to take bytes, routing meanwhile.
    fn wait_writable(&self, stdin: RawFd, wait: Duration) -> io::Result<()>;
}

/// The write side of the process, shared with the reader thread (which
/// answers server requests such as `ping`).
pub(super) struct Pipe {
    pub(super) service: String,
    pub(super) stdin: Mutex<Option<ChildStdin>>,
    pub(super) open: AtomicBool,
    stderr_tail: Mutex<VecDeque<String>>,
    /// Whether writes must block `SIGPIPE` (it was not ignored at spawn).
    guard_sigpipe: bool,
}

impl Pipe {
    /// The write side of `stdin`, made non-blocking (and, where the platform
    /// allows, unable to raise `SIGPIPE`).
    pub(super) fn new(service: &str, stdin: ChildStdin) -> io::Result<Pipe> {
        let fd = stdin.as_raw_fd();
        set_nonblocking(fd, true)?;
        sigpipe::prepare(fd)?;
        Ok(Pipe {
            service: service.to_owned(),
            stdin: Mutex::new(Some(stdin)),
            open: AtomicBool::new(true),
            stderr_tail: Mutex::new(VecDeque::new()),
            guard_sigpipe: !sigpipe::ignored(),
        })
    }

    /// Writes `bytes` within `timeout`. `reads` is the read side when the
    /// writer leads the reads: it routes while the write waits.
    pub(super) fn write_all(
        &self,
        bytes: &[u8],
        timeout: Duration,
        reads: Option<&dyn ReadsMeanwhile>,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut guard = self.lock_stdin(deadline, reads).map_err(|gave_up| match gave_up {
            GaveUp::Deadline => Error::Timeout { phase: TimeoutPhase::Write, after: timeout, detail: None },
            GaveUp::Ended => {
                Error::Closed { message: self.exit_message("the server's output ended"), may_have_run: false }
            }
        })?;
        let Some(stdin) = guard.as_mut() else {
            return Err(Error::Closed {
                message: format!("server '{}' is closed", self.service),
                may_have_run: false,
            });
        };
        if !self.open.load(Ordering::Acquire) {
            return Err(Error::Closed {
                message: self.exit_message("server process has exited"),
                may_have_run: false,
            });
        }
        // Held over the write: a write to a server that has exited must fail
        // with EPIPE, never kill the host process with SIGPIPE.
        let sigpipe = self.guard_sigpipe.then(sigpipe::Guard::new);
        // `may_have_run`: part of the bytes went out before the failure.
        let Err((err, may_have_run)) = write_with_deadline(stdin, bytes, deadline, reads) else {
            return Ok(());
        };
        if err.raw_os_error() == Some(libc::EPIPE)
            && let Some(guard) = &sigpipe
        {
            guard.consume();
        }
        if may_have_run {
            // Half a message is in the pipe: the stream cannot be trusted any more.
            self.open.store(false, Ordering::Release);
            *guard = None;
        }
        Err(match err.kind() {
            // Part of the requests may be in the server's hands: say so, so that
            // only retry-safe calls are sent again (the stream is closed anyway).
            io::ErrorKind::TimedOut if may_have_run => Error::Closed {
                message: format!("writing to the server timed out after {} ms", timeout.as_millis()),
                may_have_run: true,
            },
            io::ErrorKind::TimedOut => {
                Error::Timeout { phase: TimeoutPhase::Write, after: timeout, detail: None }
            }
            io::ErrorKind::BrokenPipe => {
                Error::Closed { message: self.exit_message("server closed its input"), may_have_run }
            }
            _ => Error::Transport {
                message: format!("write to server failed: {err}"),
                status: None,
                retry_after: None,
                may_have_run,
            },
        })
    }

    /// Takes the stdin mutex before `deadline`, routing meanwhile when
    /// `reads` is given (until the stream ends).
    fn lock_stdin(
        &self,
        deadline: Instant,
        reads: Option<&dyn ReadsMeanwhile>,
    ) -> std::result::Result<MutexGuard<'_, Option<ChildStdin>>, GaveUp> {
        let Some(reads) = reads else { return self.stdin.try_lock_until(deadline).ok_or(GaveUp::Deadline) };
        loop {
            let now = Instant::now();
            if let Some(guard) =
                self.stdin.try_lock_for(ROUTE_EVERY.min(deadline.saturating_duration_since(now)))
            {
                return Ok(guard);
            }
            if Instant::now() >= deadline {
                return Err(GaveUp::Deadline);
            }
            if reads.route_now() {
                return Err(GaveUp::Ended);
            }
        }
    }

    /// The message for a server that is gone, with the last lines of its stderr.
    pub(super) fn exit_message(&self, what: &str) -> String {
        with_stderr_tail(what, &self.stderr_tail)
    }

    /// Keeps `line` of the server's stderr for later error messages.
    pub(super) fn record_stderr(&self, line: String) {
        let mut tail = self.stderr_tail.lock();
        if tail.len() == STDERR_TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }
}

fn with_stderr_tail(what: &str, tail: &Mutex<VecDeque<String>>) -> String {
    let tail = tail.lock();
    if tail.is_empty() {
        what.to_owned()
    } else {
        let last: Vec<&str> = tail.iter().rev().take(3).rev().map(String::as_str).collect();
        format!("{what}; its last stderr lines: {}", last.join(" | "))
    }
}

/// A line without its surrounding whitespace and line ending.
pub(crate) fn trim_line(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\n' | b'\r' | b' ' | b'\t') {
        end -= 1;
    }
    let mut start = 0;
    while start < end && matches!(line[start], b' ' | b'\t') {
        start += 1;
    }
    &line[start..end]
}

/// Makes reads and writes of `fd` return `WouldBlock` instead of blocking
/// (`on`), or block again.
pub(super) fn set_nonblocking(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: fcntl on a file descriptor we own; no memory is passed.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        let wanted = if on { flags | libc::O_NONBLOCK } else { flags & !libc::O_NONBLOCK };
        if flags < 0 || (wanted != flags && libc::fcntl(fd, libc::F_SETFL, wanted) < 0) {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Writes all of `buf` before `deadline`; on error also says whether part of it was written.
fn write_with_deadline(
    stdin: &mut ChildStdin,
    buf: &[u8],
    deadline: Instant,
    reads: Option<&dyn ReadsMeanwhile>,
) -> std::result::Result<(), (io::Error, bool)> {
    let mut off = 0;
    while off < buf.len() {
        match stdin.write(&buf[off..]) {
            Ok(0) => return Err((io::Error::from(io::ErrorKind::WriteZero), off > 0)),
            Ok(n) => off += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let now = Instant::now();
                if now >= deadline {
                    return Err((io::Error::from(io::ErrorKind::TimedOut), off > 0));
                }
                let waited = match reads {
                    Some(reads) => reads.wait_writable(stdin.as_raw_fd(), deadline - now),
                    None => poll_fds(&mut [pollfd(stdin.as_raw_fd(), libc::POLLOUT)], Some(deadline - now)),
                };
                waited.map_err(|e| (e, off > 0))?;
            }
            Err(e) => return Err((e, off > 0)),
        }
    }
    Ok(())
}

/// Waits up to `wait` (`None`: no limit) until one of `fds` is ready (or
/// hung up); their `revents` tell which. An interrupted wait returns early.
pub(super) fn poll_fds(fds: &mut [libc::pollfd], wait: Option<Duration>) -> io::Result<()> {
    let ms = wait.map_or(-1, |w| w.as_millis().clamp(1, i32::MAX as u128) as i32);
    // SAFETY: a valid slice of pollfds and its length.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted { Ok(()) } else { Err(e) }
    } else {
        Ok(()) // ready, hung up or timed out: the next read or write tells which
    }
}

/// A `pollfd` waiting for `events` on `fd`.
pub(super) fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd { fd, events, revents: 0 }
}

/// Keeping `SIGPIPE` away from the host process when a server stops reading.
///
/// Rust programs ignore `SIGPIPE`, but a C, C++ or Go program calling the
/// library usually keeps the default action, which terminates the process.
/// Changing the process-wide disposition is not a library's business, so:
///
/// * Linux and other Unix systems block `SIGPIPE` on the writing thread around
///   the write; a write failing with `EPIPE` raises a thread-directed `SIGPIPE`,
///   which is then taken with a zero-timeout `sigtimedwait` before the mask is
///   restored (the technique of libcurl and OpenSSL). A `SIGPIPE` that was
///   already pending before the write is not ours and is left alone.
/// * Apple systems mark the pipe with `F_SETNOSIGPIPE` instead.
#[cfg(not(target_vendor = "apple"))]
mod sigpipe {
    use std::io;
    use std::mem::MaybeUninit;

    /// Blocks `SIGPIPE` on the current thread while it lives.
    pub(super) struct Guard {
        /// Whether `SIGPIPE` was unblocked before (so the drop unblocks it again).
        unblock: bool,
        /// Whether a `SIGPIPE` was pending before: then one raised by our write
        /// cannot be told apart from it and neither is taken.
        was_pending: bool,
    }

    fn sigpipe_set() -> libc::sigset_t {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initializes the set; sigaddset adds a valid signal.
        unsafe {
            libc::sigemptyset(set.as_mut_ptr());
            libc::sigaddset(set.as_mut_ptr(), libc::SIGPIPE);
            set.assume_init()
        }
    }

    fn contains_sigpipe(set: &MaybeUninit<libc::sigset_t>) -> bool {
        // SAFETY: `set` was initialized by sigemptyset before being filled.
        unsafe { libc::sigismember(set.as_ptr(), libc::SIGPIPE) == 1 }
    }

    impl Guard {
        pub(super) fn new() -> Guard {
            let block = sigpipe_set();
            let mut pending = MaybeUninit::<libc::sigset_t>::uninit();
            let mut old = MaybeUninit::<libc::sigset_t>::uninit();
            // SAFETY: the sets are initialized before the calls that fill them;
            // pthread_sigmask only changes this thread's mask.
            unsafe {
                libc::sigemptyset(pending.as_mut_ptr());
                libc::sigemptyset(old.as_mut_ptr());
                let was_pending = libc::sigpending(pending.as_mut_ptr()) == 0 && contains_sigpipe(&pending);
                let blocked = libc::pthread_sigmask(libc::SIG_BLOCK, &block, old.as_mut_ptr()) == 0;
                Guard { unblock: blocked && !contains_sigpipe(&old), was_pending }
            }
        }

        /// A write failed with `EPIPE`: takes the `SIGPIPE` it raised.
        pub(super) fn consume(&self) {
            if self.was_pending {
                return;
            }
            let set = sigpipe_set();
            let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            loop {
                // SAFETY: a valid set, no siginfo wanted, a valid zero timeout.
                let r = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) };
                if r >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                    return;
                }
            }
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            if self.unblock {
                let set = sigpipe_set();
                // SAFETY: unblocks SIGPIPE on this thread only, as it was before.
                unsafe {
                    libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
                }
            }
        }
    }

    /// Nothing to do per pipe here.
    pub(super) fn prepare(_fd: i32) -> io::Result<()> {
        Ok(())
    }

    /// Whether `SIGPIPE` is ignored process-wide now (then a failed write
    /// raises no signal: Linux discards an ignored signal that is not blocked).
    pub(super) fn ignored() -> bool {
        let mut old = MaybeUninit::<libc::sigaction>::zeroed();
        // SAFETY: queries the disposition only (no new action); `old` is writable.
        unsafe {
            libc::sigaction(libc::SIGPIPE, std::ptr::null(), old.as_mut_ptr()) == 0
                && old.assume_init().sa_sigaction == libc::SIG_IGN
        }
    }
}

#[cfg(target_vendor = "apple")]
mod sigpipe {
    use std::io;

    /// Nothing to block: the pipe itself never raises `SIGPIPE` (see [`prepare`]).
    pub(super) struct Guard;

    impl Guard {
        pub(super) fn new() -> Guard {
            Guard
        }

        pub(super) fn consume(&self) {}
    }

    /// The pipe never raises `SIGPIPE`: nothing to guard.
    pub(super) fn ignored() -> bool {
        true
    }

    /// Makes writes to `fd` fail with `EPIPE` instead of raising `SIGPIPE`.
    pub(super) fn prepare(fd: i32) -> io::Result<()> {
        // SAFETY: fcntl on a file descriptor we own; no memory is passed.
        if unsafe { libc::fcntl(fd, libc::F_SETNOSIGPIPE, 1) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only meaningful where the technique is the signal mask (not Apple).
    #[cfg(not(target_vendor = "apple"))]
    #[test]
    fn sigpipe_of_a_failed_write_is_consumed_and_the_mask_restored() {
        fn sigpipe_in(set: &libc::sigset_t) -> bool {
            // SAFETY: a set filled by the calls below.
            unsafe { libc::sigismember(set, libc::SIGPIPE) == 1 }
        }
        fn mask() -> libc::sigset_t {
            // SAFETY: queries this thread's mask into an initialized set.
            unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut set);
                set
            }
        }
        fn pending() -> libc::sigset_t {
            // SAFETY: fills an initialized set.
            unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigpending(&mut set);
                set
            }
        }
        assert!(!sigpipe_in(&mask()));
        let mut fds = [0; 2];
        // SAFETY: a fresh pipe whose read end is closed at once.
        unsafe {
            assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
            libc::close(fds[0]);
        }
        {
            let guard = sigpipe::Guard::new();
            assert!(sigpipe_in(&mask()));
            // SAFETY: writes one byte from a valid buffer to our pipe.
            let r = unsafe { libc::write(fds[1], b"x".as_ptr().cast(), 1) };
            assert_eq!(r, -1);
            assert_eq!(io::Error::last_os_error().raw_os_error(), Some(libc::EPIPE));
            // Blocked, the signal stays pending (even while ignored, on Linux) ...
            #[cfg(target_os = "linux")]
            assert!(sigpipe_in(&pending()));
            guard.consume();
            // ... until consumed.
            assert!(!sigpipe_in(&pending()));
        }
        assert!(!sigpipe_in(&mask()));
        // SAFETY: closes the write end we opened.
        unsafe {
            libc::close(fds[1]);
        }
    }

    #[test]
    fn trims_whitespace() {
        assert_eq!(trim_line(b"  {}\r\n"), b"{}");
    }
}
