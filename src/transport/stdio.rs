//! The stdio transport: a child process speaking newline-delimited JSON.
//!
//! Writes are serialized by a mutex and bounded by a deadline (the pipe is
//! non-blocking and polled). One reader thread parses stdout and routes every
//! message to the [`Inbound`]; one thread drains stderr into the `log` facade
//! so the server can never block on a full pipe.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::{Inbound, Outcome, OutgoingRequest, Transport};
use crate::error::{Error, Result, TimeoutPhase};
use crate::protocol::jsonrpc::{parse_message, snippet};
use crate::servers::TransportConfig;

/// How many stderr lines are kept to explain a failure.
const STDERR_TAIL_LINES: usize = 20;

/// Grace periods of the shutdown sequence: after closing stdin, after SIGTERM.
const EXIT_GRACE: Duration = Duration::from_millis(1000);
const TERM_GRACE: Duration = Duration::from_millis(1000);

/// A running server process.
pub struct StdioTransport {
    pipe: Arc<Pipe>,
    child: Mutex<Option<Child>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// The write side of the process, shared with the reader thread (which
/// answers server requests such as `ping`).
struct Pipe {
    service: String,
    stdin: Mutex<Option<ChildStdin>>,
    open: AtomicBool,
    stderr_tail: Mutex<VecDeque<String>>,
}

impl StdioTransport {
    /// Spawns the server described by `config` (which must be `Stdio`).
    pub fn spawn(
        service: &str,
        config: &TransportConfig,
        inbound: Arc<dyn Inbound>,
        max_message_bytes: usize,
    ) -> Result<Self> {
        let TransportConfig::Stdio {
            command,
            args,
            env,
            cwd,
        } = config
        else {
            return Err(Error::Internal("stdio transport needs a stdio config".into()));
        };
        let mut cmd = Command::new(command);
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
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::unsent(format!("cannot start '{command}': {e}")))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            kill_group(&mut child);
            return Err(Error::unsent("child process has no pipes"));
        };
        set_nonblocking(stdin.as_raw_fd()).map_err(|e| Error::unsent(format!("pipe setup failed: {e}")))?;

        let pipe = Arc::new(Pipe {
            service: service.to_owned(),
            stdin: Mutex::new(Some(stdin)),
            open: AtomicBool::new(true),
            stderr_tail: Mutex::new(VecDeque::new()),
        });
        let transport = StdioTransport {
            pipe: pipe.clone(),
            child: Mutex::new(Some(child)),
            threads: Mutex::new(Vec::new()),
        };
        let err_pipe = pipe.clone();
        let err_thread = spawn_thread(format!("mcps-err-{service}"), move || {
            drain_stderr(&err_pipe, stderr)
        })?;
        transport.threads.lock().push(err_thread);
        let reader = Reader { inbound, pipe };
        let out_thread = spawn_thread(format!("mcps-out-{service}"), move || {
            reader.run(stdout, max_message_bytes)
        })?;
        transport.threads.lock().push(out_thread);
        Ok(transport)
    }

    /// The operating system's process id of the server, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.lock().as_ref().map(Child::id)
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
        let threads = std::mem::take(&mut *self.threads.lock());
        for t in threads {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

impl Pipe {
    fn write_all(&self, chunks: &[&[u8]], timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut guard = self.stdin.try_lock_until(deadline).ok_or(Error::Timeout {
            phase: TimeoutPhase::Write,
            after: timeout,
        })?;
        let Some(stdin) = guard.as_mut() else {
            return Err(Error::Closed {
                message: format!("server '{}' is closed", self.service),
                sent: false,
            });
        };
        if !self.open.load(Ordering::Acquire) {
            return Err(Error::Closed {
                message: self.exit_message("server process has exited"),
                sent: false,
            });
        }
        let mut written_any = false;
        for chunk in chunks {
            match write_with_deadline(stdin, chunk, deadline) {
                Ok(()) => written_any = true,
                Err((err, partial)) => {
                    let sent = written_any || partial;
                    if sent {
                        // Half a message is in the pipe: the stream cannot be trusted any more.
                        self.open.store(false, Ordering::Release);
                        *guard = None;
                    }
                    return Err(match err.kind() {
                        io::ErrorKind::TimedOut => Error::Timeout {
                            phase: TimeoutPhase::Write,
                            after: timeout,
                        },
                        io::ErrorKind::BrokenPipe => Error::Closed {
                            message: self.exit_message("server closed its input"),
                            sent,
                        },
                        _ => Error::Transport {
                            message: format!("write to server failed: {err}"),
                            status: None,
                            retry_after: None,
                            sent,
                        },
                    });
                }
            }
        }
        Ok(())
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
        self.pipe.write_all(&[request.body], request.write_timeout)?;
        Ok(None)
    }

    fn send_pipelined(&self, requests: &[OutgoingRequest<'_>]) -> Result<()> {
        let timeout = requests.iter().map(|r| r.write_timeout).max().unwrap_or_default();
        let chunks: Vec<&[u8]> = requests.iter().map(|r| r.body).collect();
        self.pipe.write_all(&chunks, timeout)
    }

    fn routes_responses(&self) -> bool {
        true
    }

    fn send_message(&self, body: &[u8], timeout: Duration) -> Result<()> {
        self.pipe.write_all(&[body], timeout)
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

/// How long the reader may spend answering a server request.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

struct Reader {
    inbound: Arc<dyn Inbound>,
    pipe: Arc<Pipe>,
}

impl Reader {
    fn run(self, stdout: impl Read, max_message_bytes: usize) {
        let mut reader = BufReader::with_capacity(64 * 1024, stdout);
        let mut line = Vec::with_capacity(4096);
        let error = loop {
            line.clear();
            match read_line_limited(&mut reader, &mut line, max_message_bytes) {
                Ok(0) => {
                    break Error::Closed {
                        message: self.pipe.exit_message("server process exited"),
                        sent: true,
                    };
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    break Error::ResponseTooLarge {
                        limit: max_message_bytes,
                    };
                }
                Err(e) => break Error::io_sent(format!("reading from server failed: {e}")),
            }
            let text = trim_line(&line);
            if text.is_empty() {
                continue;
            }
            match parse_message(text) {
                Ok(message) => self.deliver(message),
                Err(_) => {
                    break Error::Protocol(format!(
                        "server '{}' wrote a line that is not JSON-RPC: {}",
                        self.pipe.service,
                        snippet(text)
                    ));
                }
            }
        };
        self.pipe.open.store(false, Ordering::Release);
        log::debug!(target: "mcpstore::stdio", "[{}] connection ended: {error}", self.pipe.service);
        self.inbound.on_closed(error);
    }

    fn deliver(&self, message: crate::protocol::Incoming) {
        if let Some(reply) = self.inbound.on_message(message)
            && let Err(e) = self.pipe.write_all(&[&reply], REPLY_TIMEOUT)
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

fn trim_line(line: &[u8]) -> &[u8] {
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

/// Reads one line; more than `limit` bytes is an `InvalidData` error.
fn read_line_limited(reader: &mut impl BufRead, line: &mut Vec<u8>, limit: usize) -> io::Result<usize> {
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(line.len());
        }
        let (used, done) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        line.extend_from_slice(&available[..used]);
        reader.consume(used);
        if line.len() > limit {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "message too large"));
        }
        if done {
            return Ok(line.len());
        }
    }
}

fn drain_stderr(pipe: &Pipe, stderr: impl Read) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
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

fn spawn_thread(name: String, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name)
        .stack_size(256 * 1024)
        .spawn(f)
        .map_err(|e| Error::unsent(format!("cannot start a thread: {e}")))
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
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    let ms = wait.as_millis().clamp(1, i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd, count 1.
    let r = unsafe { libc::poll(&mut pfd, 1, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            Ok(())
        } else {
            Err(e)
        }
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

    #[test]
    fn trims_whitespace() {
        assert_eq!(trim_line(b"  {}\r\n"), b"{}");
    }
}
