//! The stdio transport: a child process speaking newline-delimited JSON.
//!
//! Writes are serialized by a mutex and bounded by a deadline (the pipe is
//! non-blocking and polled). One reader thread parses stdout and routes every
//! message to the [`Inbound`]; one thread drains stderr into the `log` facade
//! so the server can never block on a full pipe.
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
use std::io::{self, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use parking_lot::Mutex;

use super::{Inbound, Outcome, OutgoingRequest, Transport, read_line_limited};
use crate::config::{InheritEnv, StdioConfig};
use crate::error::{Error, Result, TimeoutPhase};
use crate::protocol::jsonrpc::{parse_messages, snippet};

/// How many stderr lines are kept to explain a failure.
const STDERR_TAIL_LINES: usize = 20;

/// Grace periods of the shutdown sequence: after closing stdin, after SIGTERM.
const EXIT_GRACE: Duration = Duration::from_millis(1000);
const TERM_GRACE: Duration = Duration::from_millis(1000);
/// How long shutdown waits for the reader and stderr threads once the process
/// group is gone. A process outside the group (a daemon started with `setsid`)
/// may keep the pipes open: then the threads are left to end on their own.
const THREAD_GRACE: Duration = Duration::from_millis(2000);
/// Lines of stderr longer than this are logged in pieces.
const MAX_STDERR_LINE: usize = 64 * 1024;

/// A running server process.
pub struct StdioTransport {
    pipe: Arc<Pipe>,
    child: Mutex<Option<Child>>,
    threads: Mutex<Vec<Worker>>,
}

/// A thread of the transport and the means to wait for it with a deadline.
struct Worker {
    handle: JoinHandle<()>,
    /// Disconnected once the thread has finished (its sender is dropped on exit).
    done: Receiver<()>,
}

/// The write side of the process, shared with the reader thread (which
/// answers server requests such as `ping`).
struct Pipe {
    service: String,
    stdin: Mutex<Option<ChildStdin>>,
    open: AtomicBool,
    stderr_tail: Mutex<VecDeque<String>>,
    /// Whether writes must block `SIGPIPE` (it was not ignored at spawn).
    guard_sigpipe: bool,
}

impl StdioTransport {
    /// Spawns the server described by `config`.
    pub fn spawn(
        service: &str,
        config: &StdioConfig,
        inbound: Arc<dyn Inbound>,
        max_message_bytes: usize,
    ) -> Result<Self> {
        let StdioConfig { command, args, env, cwd, inherit_env } = config;
        let mut cmd = Command::new(command);
        // Least privilege, as the official SDKs do: the server sees only a
        // minimal set of this process's variables (plus the names it may
        // inherit), then its own `env` on top.
        if *inherit_env != InheritEnv::All {
            cmd.env_clear();
            let extra = match inherit_env {
                InheritEnv::Names(names) => names.as_slice(),
                _ => &[],
            };
            for name in InheritEnv::MINIMAL.iter().copied().chain(extra.iter().map(String::as_str)) {
                if let Some(value) = std::env::var_os(name) {
                    cmd.env(name, value);
                }
            }
        }
        cmd.args(args)
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Own process group, so shutdown reaches grandchildren (npx -> node).
            .process_group(0);
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        let mut child = cmd.spawn().map_err(|e| Error::unsent(format!("cannot start '{command}': {e}")))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            kill_group(&mut child);
            return Err(Error::unsent("child process has no pipes"));
        };
        let fd = stdin.as_raw_fd();
        if let Err(e) = set_nonblocking(fd).and_then(|()| sigpipe::prepare(fd)) {
            drop(stdin);
            kill_group(&mut child);
            return Err(Error::unsent(format!("pipe setup failed: {e}")));
        }

        let transport = StdioTransport {
            pipe: Arc::new(Pipe {
                service: service.to_owned(),
                stdin: Mutex::new(Some(stdin)),
                open: AtomicBool::new(true),
                stderr_tail: Mutex::new(VecDeque::new()),
                guard_sigpipe: !sigpipe::ignored(),
            }),
            child: Mutex::new(Some(child)),
            threads: Mutex::new(Vec::new()),
        };
        if let Err(e) = transport.start_threads(stdout, stderr, inbound, max_message_bytes) {
            transport.abort();
            return Err(e);
        }
        Ok(transport)
    }

    fn start_threads(
        &self,
        stdout: ChildStdout,
        stderr: ChildStderr,
        inbound: Arc<dyn Inbound>,
        max_message_bytes: usize,
    ) -> Result<()> {
        let service = &self.pipe.service;
        let err_pipe = self.pipe.clone();
        let err_thread =
            spawn_worker(format!("mcps-err-{service}"), move || drain_stderr(&err_pipe, stderr))?;
        self.threads.lock().push(err_thread);
        let reader = Reader { inbound, pipe: self.pipe.clone() };
        let out_thread =
            spawn_worker(format!("mcps-out-{service}"), move || reader.run(stdout, max_message_bytes))?;
        self.threads.lock().push(out_thread);
        Ok(())
    }

    /// Ends a transport that failed to start: no polite exit, the group is killed at once.
    fn abort(&self) {
        self.pipe.open.store(false, Ordering::Release);
        drop(self.pipe.stdin.lock().take());
        if let Some(mut child) = self.child.lock().take() {
            kill_group(&mut child);
        }
        self.join_threads();
    }

    fn shutdown(&self) {
        self.pipe.open.store(false, Ordering::Release);
        // Closing stdin is the polite way to ask an MCP server to exit.
        drop(self.pipe.stdin.lock().take());
        if let Some(mut child) = self.child.lock().take() {
            if !wait_exit(&mut child, EXIT_GRACE) {
                signal_group(&child, libc::SIGTERM);
                if !wait_exit(&mut child, TERM_GRACE) {
                    kill_group(&mut child);
                }
            }
            // The group may hold grandchildren that ignored the pipe closing.
            signal_group(&child, libc::SIGKILL);
        }
        self.join_threads();
    }

    /// Joins the reader and stderr threads, waiting at most [`THREAD_GRACE`]
    /// in all; a thread still blocked then is detached with a warning.
    fn join_threads(&self) {
        let workers = std::mem::take(&mut *self.threads.lock());
        let deadline = Instant::now() + THREAD_GRACE;
        let me = std::thread::current().id();
        for w in workers {
            if w.handle.thread().id() == me {
                continue; // shutdown from the reader itself (on_closed): it is ending anyway
            }
            match w.done.recv_deadline(deadline) {
                Err(RecvTimeoutError::Timeout) => {
                    log::warn!(
                        target: "mcpstore::stdio",
                        "[{}] thread '{}' still blocked after shutdown: a process outside the server's \
                         process group (for example one started with setsid) keeps its stdout/stderr open; \
                         leaving the thread to end when that process closes them",
                        self.pipe.service,
                        w.handle.thread().name().unwrap_or("?")
                    );
                }
                Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                    let _ = w.handle.join();
                }
            }
        }
    }
}

impl Pipe {
    fn write_all(&self, bytes: &[u8], timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut guard = self.stdin.try_lock_until(deadline).ok_or(Error::Timeout {
            phase: TimeoutPhase::Write,
            after: timeout,
            detail: None,
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
        let Err((err, may_have_run)) = write_with_deadline(stdin, bytes, deadline) else { return Ok(()) };
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

    fn exit_message(&self, what: &str) -> String {
        with_stderr_tail(what, &self.stderr_tail)
    }
}

impl Transport for StdioTransport {
    fn kind(&self) -> &'static str {
        "stdio"
    }

    fn send_request(&self, request: &OutgoingRequest<'_>) -> Result<Option<Outcome>> {
        self.pipe.write_all(request.body, request.write_timeout)?;
        Ok(None)
    }

    fn send_pipelined(&self, requests: &[OutgoingRequest<'_>]) -> Result<()> {
        let timeout = requests.iter().map(|r| r.write_timeout).max().unwrap_or_default();
        // One buffer, one write: the server is woken once for all of them.
        let mut joined = Vec::with_capacity(requests.iter().map(|r| r.body.len()).sum());
        requests.iter().for_each(|r| joined.extend_from_slice(r.body));
        self.pipe.write_all(&joined, timeout)
    }

    fn routes_responses(&self) -> bool {
        true
    }

    fn send_message(&self, body: &[u8], timeout: Duration) -> Result<()> {
        self.pipe.write_all(body, timeout)
    }

    fn is_open(&self) -> bool {
        self.pipe.open.load(Ordering::Acquire)
    }

    fn close(&self) {
        self.shutdown();
    }
}

impl Drop for StdioTransport {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Lines that are not JSON-RPC in a row after which the session is ended: the
/// server is not speaking MCP on its stdout at all.
const MAX_STRAY_IN_A_ROW: usize = 100;
/// Skipped lines logged as warnings; later ones are logged at debug level.
const LOUD_STRAY_LINES: usize = 10;

/// How long the reader may spend answering a server request (such as `ping`).
/// Responses to other requests are not routed meanwhile, so this is short: a
/// server that does not read its stdin loses the reply instead of stalling
/// every call of the session.
const REPLY_TIMEOUT: Duration = Duration::from_secs(1);

struct Reader {
    inbound: Arc<dyn Inbound>,
    pipe: Arc<Pipe>,
}

impl Reader {
    fn run(self, stdout: impl Read, max_message_bytes: usize) {
        let mut reader = BufReader::with_capacity(64 * 1024, stdout);
        let mut line = Vec::with_capacity(4096);
        let mut stray_in_a_row = 0usize;
        let mut stray_total = 0usize;
        let error = loop {
            line.clear();
            match read_line_limited(&mut reader, &mut line, max_message_bytes) {
                Ok(0) => {
                    break Error::Closed {
                        message: self.pipe.exit_message("server process exited"),
                        may_have_run: true,
                    };
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    break Error::ResponseTooLarge { limit: max_message_bytes };
                }
                Err(e) => break Error::io_sent(format!("reading from server failed: {e}")),
            }
            let text = trim_line(&line);
            if text.is_empty() {
                continue;
            }
            match parse_messages(text) {
                Ok(messages) => {
                    stray_in_a_row = 0;
                    messages.into_iter().for_each(|m| self.deliver(m));
                }
                Err(_) => {
                    // A banner or a debug print is no reason to end the session.
                    stray_in_a_row += 1;
                    stray_total += 1;
                    let start = snippet(text);
                    if stray_total <= LOUD_STRAY_LINES {
                        log::warn!(target: "mcpstore::stdio", "[{}] skipped a line that is not JSON-RPC: {start}", self.pipe.service);
                    } else {
                        log::debug!(target: "mcpstore::stdio", "[{}] skipped a line that is not JSON-RPC: {start}", self.pipe.service);
                    }
                    self.inbound.on_stray(&start);
                    if stray_in_a_row >= MAX_STRAY_IN_A_ROW {
                        break Error::Protocol(format!(
                            "server '{}' wrote {stray_in_a_row} lines in a row that are not JSON-RPC; the last: {start}",
                            self.pipe.service
                        ));
                    }
                }
            }
        };
        self.pipe.open.store(false, Ordering::Release);
        log::debug!(target: "mcpstore::stdio", "[{}] connection ended: {error}", self.pipe.service);
        self.inbound.on_closed(error);
    }

    fn deliver(&self, message: crate::protocol::Incoming) {
        if let Some(reply) = self.inbound.on_message(message)
            && let Err(e) = self.pipe.write_all(&reply, REPLY_TIMEOUT)
        {
            log::warn!(target: "mcpstore::stdio", "[{}] could not answer a server request: {e}", self.pipe.service);
        }
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

fn drain_stderr(pipe: &Pipe, stderr: impl Read) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        match read_line_limited(&mut reader, &mut line, MAX_STDERR_LINE) {
            Ok(0) => return,
            // A longer line is logged in pieces: stderr must be drained, whatever comes.
            Err(e) if e.kind() != io::ErrorKind::InvalidData => return,
            Ok(_) | Err(_) => {
                let text = String::from_utf8_lossy(trim_line(&line)).into_owned();
                log::debug!(target: "mcpstore::server", "[{}] {text}", pipe.service);
                let mut t = pipe.stderr_tail.lock();
                if t.len() == STDERR_TAIL_LINES {
                    t.pop_front();
                }
                t.push_back(text);
            }
        }
    }
}

fn spawn_worker(name: String, f: impl FnOnce() + Send + 'static) -> Result<Worker> {
    let (done_tx, done) = crossbeam_channel::bounded::<()>(0);
    let handle = crate::util::spawn_thread(name, move || {
        let _done = done_tx; // dropped when the thread ends, even by a panic
        f()
    })
    .map_err(|e| Error::unsent(e.to_string()))?;
    Ok(Worker { handle, done })
}

fn set_nonblocking(fd: i32) -> io::Result<()> {
    // SAFETY: fcntl on a file descriptor we own; no memory is passed.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
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
                poll_writable(stdin.as_raw_fd(), deadline - now).map_err(|e| (e, off > 0))?;
            }
            Err(e) => return Err((e, off > 0)),
        }
    }
    Ok(())
}

fn poll_writable(fd: i32, wait: Duration) -> io::Result<()> {
    let mut pfd = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
    let ms = wait.as_millis().clamp(1, i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd, count 1.
    let r = unsafe { libc::poll(&mut pfd, 1, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted { Ok(()) } else { Err(e) }
    } else {
        Ok(()) // ready, hung up or timed out: the next write tells which
    }
}

fn wait_exit(child: &mut Child, grace: Duration) -> bool {
    let deadline = Instant::now() + grace;
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if Instant::now() >= deadline => return false,
            Ok(None) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
        }
    }
}

fn signal_group(child: &Child, signal: i32) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: sending a signal to our own child's process group.
        unsafe {
            libc::kill(-pid, signal);
        }
    }
}

fn kill_group(child: &mut Child) {
    signal_group(child, libc::SIGKILL);
    let _ = child.kill();
    let _ = child.wait();
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

    #[test]
    fn limited_line_reader() {
        let mut r = BufReader::new(&b"abc\ndefgh\n"[..]);
        let mut line = Vec::new();
        assert_eq!(read_line_limited(&mut r, &mut line, 10).unwrap(), 4);
        line.clear();
        assert!(read_line_limited(&mut r, &mut line, 3).is_err());
    }

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
