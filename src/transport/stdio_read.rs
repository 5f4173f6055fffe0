//! The read side of a stdio server: its stdout, parsed line by line and
//! routed to the [`Inbound`], by the session's reader thread or by a caller
//! that leads the reads while it waits for a window of replies (a batch
//! lane). A leading caller reads the pipe on its own thread, so its replies
//! need no hand-off between threads; meanwhile the reader thread stands by.
//! Whoever reads routes every message the same way: replies to their
//! waiters, server requests and notifications to the session (never user code).
//!
//! The pipe is blocking while the reader thread reads (one system call per
//! read, as fast as a lone reader can be) and non-blocking while a caller
//! leads (it waits with its own deadline, by `poll`). A read the reader thread
//! began before a caller took the lead ends when bytes come; it routes them,
//! and stands by from then on.

use std::io::{self, BufReader};
use std::os::fd::{AsRawFd, RawFd};
use std::process::ChildStdout;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::stdio_answers::Answers;
use super::stdio_pipe::{Pipe, ReadsMeanwhile, poll_fds, pollfd, set_nonblocking, trim_line};
use super::{Inbound, read_line_limited};
use crate::error::Error;
use crate::protocol::jsonrpc::{parse_messages, snippet};

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
/// Lines routed in one turn at most, so that a server that never stops
/// writing cannot keep a leading caller from its deadlines.
const MAX_LINES_PER_TURN: usize = 256;
/// How long the reader waits on a pipe that says it is empty while nobody
/// leads, before it looks again (a rare race, or a pipe left non-blocking).
const RECHECK_EVERY: Duration = Duration::from_millis(50);
/// Writes to a pipe up to this size go out whole or not at all (POSIX `PIPE_BUF`).
const ATOMIC_PIPE_WRITE: usize = 512;

/// What one turn of reading on the caller's thread did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadHere {
    /// Messages were read and routed.
    Read,
    /// Nothing came before the limit.
    Idle,
    /// The stream ended (every waiter was told).
    Ended,
}

/// The stdout of one server and who reads it.
pub(super) struct ReadSide {
    fd: RawFd,
    state: Mutex<ReadState>,
    /// The caller that leads the reads, if one does (the reader thread stands by).
    led: Mutex<Option<ThreadId>>,
    /// Whether a caller leads, read without the lock on every write and
    /// every wake-up of the reader (set and cleared under `led`).
    leading: AtomicBool,
    /// Answers to server requests, written by whoever routed them once it
    /// holds no read state.
    answers: Answers,
    /// The end of the stream seen while a write was routing: told once the
    /// write is over (it holds stdin, which the end's clean-up takes).
    end_in_write: Mutex<Option<Error>>,
    handed_back: Condvar,
    ended: AtomicBool,
    inbound: Arc<dyn Inbound>,
    pipe: Arc<Pipe>,
}

struct ReadState {
    reader: BufReader<ChildStdout>,
    /// The line being read (a part may wait for more bytes).
    line: Vec<u8>,
    max_message_bytes: usize,
    stray_in_a_row: usize,
    stray_total: usize,
}

/// What reading what the pipe holds now came to.
enum Step {
    /// At least one line was routed, and all that was read (the pipe may
    /// hold more).
    Routed,
    /// A turn's worth of lines was routed; more may be buffered or in the pipe.
    More,
    /// The pipe holds nothing now.
    Empty,
    /// The stream ended, with this error for every waiter.
    End(Error),
}

impl ReadSide {
    pub(super) fn new(
        stdout: ChildStdout,
        max_message_bytes: usize,
        inbound: Arc<dyn Inbound>,
        pipe: Arc<Pipe>,
    ) -> io::Result<ReadSide> {
        let fd = stdout.as_raw_fd();
        set_nonblocking(fd, false)?; // the reader thread's reads block
        Ok(ReadSide {
            fd,
            state: Mutex::new(ReadState {
                reader: BufReader::with_capacity(64 * 1024, stdout),
                line: Vec::with_capacity(4096),
                max_message_bytes,
                stray_in_a_row: 0,
                stray_total: 0,
            }),
            led: Mutex::new(None),
            leading: AtomicBool::new(false),
            answers: Answers::default(),
            end_in_write: Mutex::new(None),
            handed_back: Condvar::new(),
            ended: AtomicBool::new(false),
            inbound,
            pipe,
        })
    }

    /// The reader thread: reads whenever no caller leads, until the stream ends.
    pub(super) fn run(&self) {
        loop {
            {
                let mut led = self.led.lock();
                while led.is_some() && !self.ended.load(Ordering::Acquire) {
                    self.handed_back.wait(&mut led);
                }
            }
            if self.ended.load(Ordering::Acquire) {
                return;
            }
            self.send_answers(None); // what a leader left, before the read blocks
            let mut state = self.state.lock();
            if self.ended.load(Ordering::Acquire) {
                return;
            }
            // Blocks until bytes come (buffered lines first); after the first
            // bytes, or once a caller leads, the pipe may say it has no more.
            let step = self.read_available(&mut state);
            drop(state);
            match step {
                Step::End(error) => {
                    self.end(error);
                    return;
                }
                // Only a non-blocking pipe says so: a caller leads (then the
                // reader stands by at the top), or led and gave back just now
                // (then lines it left are read at once), or the pipe could not
                // be made blocking again (then this waits a little instead of
                // spinning).
                Step::Empty if !self.leading.load(Ordering::Acquire) => {
                    if !self.state.lock().reader.buffer().is_empty() {
                        continue;
                    }
                    if let Err(e) = poll_fds(&mut [pollfd(self.fd, libc::POLLIN)], Some(RECHECK_EVERY)) {
                        self.end(Error::io_sent(format!("reading from server failed: {e}")));
                        return;
                    }
                }
                _ => self.send_answers(None),
            }
        }
    }

    /// Takes the lead of the reads for the calling thread; `false` when
    /// another caller leads or the stream ended.
    pub(super) fn lead(&self) -> bool {
        let mut led = self.led.lock();
        if led.is_some() || self.ended.load(Ordering::Acquire) {
            return false;
        }
        // The leader waits with its own deadline: its reads must not block.
        if let Err(e) = set_nonblocking(self.fd, true) {
            log::debug!(target: "mcpstore::stdio", "[{}] cannot lead the reads: {e}", self.pipe.service);
            return false;
        }
        *led = Some(std::thread::current().id());
        self.leading.store(true, Ordering::Release);
        true
    }

    /// Gives the reads back to the reader thread (when the calling thread leads them).
    pub(super) fn release(&self) {
        let mut led = self.led.lock();
        if *led == Some(std::thread::current().id()) {
            if let Err(e) = set_nonblocking(self.fd, false) {
                log::warn!(target: "mcpstore::stdio", "[{}] the reader polls from now on: {e}", self.pipe.service);
            }
            *led = None;
            self.leading.store(false, Ordering::Release);
            self.handed_back.notify_all();
        }
    }

    /// Whether the calling thread leads the reads.
    pub(super) fn led_here(&self) -> bool {
        self.leading.load(Ordering::Acquire) && *self.led.lock() == Some(std::thread::current().id())
    }

    /// Writes `bytes` for the leader, routing what the server writes while
    /// the write waits, then the answers routing produced.
    pub(super) fn write_leading(&self, bytes: &[u8], timeout: Duration) -> crate::error::Result<()> {
        let until = Instant::now() + timeout;
        let written = self.write_routing(bytes, timeout);
        self.send_answers(Some(until));
        written
    }

    /// Writes `bytes`, routing while the write waits; the end of the stream
    /// seen meanwhile is told once the write is over.
    fn write_routing(&self, bytes: &[u8], timeout: Duration) -> crate::error::Result<()> {
        let written = self.pipe.write_all(bytes, timeout, Some(self));
        if let Some(error) = self.end_in_write.lock().take() {
            self.end(error);
        }
        written
    }

    /// Writes the answers to server requests routed so far, and those routed
    /// while they are written, each within [`REPLY_TIMEOUT`] (a server that
    /// does not read loses the answer, nothing else). A leader stops at its
    /// own deadline `until`: what is left goes out with its next read or write,
    /// or with the reader thread's once the lead is given back.
    fn send_answers(&self, until: Option<Instant>) {
        while let Some(answer) = self.answers.pop() {
            let left = until.map(|u| u.saturating_duration_since(Instant::now()));
            if left.is_some_and(|left| left.is_zero()) {
                self.answers.put_back(answer);
                return;
            }
            // A longer answer may go out in parts, and one cut short by the
            // leader's deadline would close the stream: it gets the full time.
            let timeout = match left {
                Some(left) if answer.len() <= ATOMIC_PIPE_WRITE => left.min(REPLY_TIMEOUT),
                _ => REPLY_TIMEOUT,
            };
            // The reader thread does not route while it answers: its reads
            // block, and it is the only reader then.
            let written = match until {
                Some(_) => self.write_routing(&answer, timeout),
                None => self.pipe.write_all(&answer, timeout, None),
            };
            match written {
                Ok(()) => {}
                // Not a byte went out, and only the leader's deadline ran out.
                Err(Error::Timeout { .. }) if timeout < REPLY_TIMEOUT => {
                    self.answers.put_back(answer);
                    return;
                }
                Err(e) => {
                    log::warn!(target: "mcpstore::stdio", "[{}] could not answer a server request: {e}", self.pipe.service);
                }
            }
        }
    }

    /// Reads and routes what comes until something was routed, `ready` says
    /// what the caller waits for is there, or `until` passes (the caller leads the reads).
    pub(super) fn read_here(&self, until: Instant, ready: &dyn Fn() -> bool) -> ReadHere {
        let Some(mut state) = self.state.try_lock_until(until) else { return ReadHere::Idle };
        loop {
            if self.ended.load(Ordering::Acquire) {
                return ReadHere::Ended;
            }
            // The reader thread may have routed it just before the lead was taken.
            if ready() {
                return ReadHere::Read;
            }
            match self.read_available(&mut state) {
                Step::Routed | Step::More => {
                    drop(state);
                    self.send_answers(Some(until));
                    return ReadHere::Read;
                }
                Step::End(error) => {
                    drop(state);
                    self.end(error);
                    return ReadHere::Ended;
                }
                Step::Empty => {}
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return ReadHere::Idle;
            }
            // An answer put back earlier: the server may wait for it before it writes again.
            if !self.answers.is_empty() {
                drop(state);
                self.send_answers(Some(until));
                let Some(again) = self.state.try_lock_until(until) else { return ReadHere::Idle };
                state = again;
                continue;
            }
            if let Err(e) = poll_fds(&mut [pollfd(self.fd, libc::POLLIN)], Some(left)) {
                drop(state);
                self.end(Error::io_sent(format!("reading from server failed: {e}")));
                return ReadHere::Ended;
            }
        }
    }

    /// Routes the complete lines the pipe holds now (a turn's worth at most).
    fn read_available(&self, state: &mut ReadState) -> Step {
        let mut routed = 0;
        loop {
            if routed == MAX_LINES_PER_TURN {
                return Step::More;
            }
            let ReadState { reader, line, max_message_bytes, .. } = state;
            match read_line_limited(reader, line, *max_message_bytes) {
                Ok(0) => {
                    return Step::End(Error::Closed {
                        message: self.pipe.exit_message("server process exited"),
                        may_have_run: true,
                    });
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return if routed > 0 { Step::Routed } else { Step::Empty };
                }
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    return Step::End(Error::ResponseTooLarge { limit: *max_message_bytes });
                }
                Err(e) => return Step::End(Error::io_sent(format!("reading from server failed: {e}"))),
            }
            let line = std::mem::take(&mut state.line);
            let outcome = self.route_line(state, &line);
            state.line = line;
            state.line.clear();
            if let Some(error) = outcome {
                return Step::End(error);
            }
            routed += 1;
            // All that was read is routed: the pipe most likely holds nothing
            // more, and a read to find that out costs a system call.
            if state.reader.buffer().is_empty() {
                return Step::Routed;
            }
        }
    }

    /// Routes one line; the error that ends the stream, if it does.
    fn route_line(&self, state: &mut ReadState, line: &[u8]) -> Option<Error> {
        let text = trim_line(line);
        if text.is_empty() {
            return None;
        }
        match parse_messages(text) {
            Ok(messages) => {
                state.stray_in_a_row = 0;
                messages.into_iter().for_each(|m| self.deliver(m));
                None
            }
            Err(_) => {
                // A banner or a debug print is no reason to end the session.
                state.stray_in_a_row += 1;
                state.stray_total += 1;
                let start = snippet(text);
                let service = &self.pipe.service;
                if state.stray_total <= LOUD_STRAY_LINES {
                    log::warn!(target: "mcpstore::stdio", "[{service}] skipped a line that is not JSON-RPC: {start}");
                } else {
                    log::debug!(target: "mcpstore::stdio", "[{service}] skipped a line that is not JSON-RPC: {start}");
                }
                self.inbound.on_stray(&start);
                (state.stray_in_a_row >= MAX_STRAY_IN_A_ROW).then(|| {
                    Error::Protocol(format!(
                        "server '{service}' wrote {} lines in a row that are not JSON-RPC; the last: {start}",
                        state.stray_in_a_row
                    ))
                })
            }
        }
    }

    /// One turn of routing inside a write; whether the stream ended (told
    /// once the write is over, see [`ReadSide::write_routing`]).
    fn route_in_write(&self, mut state: MutexGuard<'_, ReadState>) -> bool {
        let Step::End(error) = self.read_available(&mut state) else { return false };
        *self.end_in_write.lock() = Some(error);
        true
    }

    fn deliver(&self, message: crate::protocol::Incoming) {
        if let Some(reply) = self.inbound.on_message(message)
            && !self.answers.push(reply)
        {
            log::warn!(
                target: "mcpstore::stdio",
                "[{}] dropped the answer to a server request: the server sends requests without reading the answers",
                self.pipe.service
            );
        }
    }

    /// The stream ended: once, whoever saw it first tells every waiter.
    fn end(&self, error: Error) {
        if self.ended.swap(true, Ordering::AcqRel) {
            return;
        }
        self.pipe.open.store(false, Ordering::Release);
        // The reader thread ends too: standing by, it is woken here; blocked
        // in a read, it ends when the pipe closes (at the latest at shutdown).
        drop(self.led.lock());
        self.handed_back.notify_all();
        log::debug!(target: "mcpstore::stdio", "[{}] connection ended: {error}", self.pipe.service);
        self.inbound.on_closed(error);
    }
}

impl ReadsMeanwhile for ReadSide {
    fn route_now(&self) -> bool {
        // Another thread may be reading: then it routes.
        self.state.try_lock().is_some_and(|state| self.route_in_write(state))
    }

    fn wait_writable(&self, stdin: RawFd, wait: Duration) -> io::Result<()> {
        let mut fds = [pollfd(stdin, libc::POLLOUT), pollfd(self.fd, libc::POLLIN)];
        poll_fds(&mut fds, Some(wait))?;
        if fds[1].revents == 0 {
            return Ok(());
        }
        // Another thread reading holds the state briefly; waiting for it beats spinning on poll.
        let Some(state) = self.state.try_lock_for(wait.min(Duration::from_millis(1))) else { return Ok(()) };
        if self.route_in_write(state) {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        Ok(())
    }
}
