//! The stdio transport: a child process speaking newline-delimited JSON.
//!
//! Writes are serialized by a mutex and bounded by a deadline (the pipe is
//! non-blocking and polled). One reader thread parses stdout and routes every
//! message to the [`Inbound`], unless a batch lane leads the reads (then the
//! lane routes on its own thread); one thread drains stderr into the `log` facade
//! so the server can never block on a full pipe. The write side (and how it
//! keeps `SIGPIPE` away from the host) is in `stdio_pipe`, the read side in
//! `stdio_read`.

use std::io::{self, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use parking_lot::Mutex;

use super::stdio_pipe::Pipe;
pub(crate) use super::stdio_pipe::trim_line;
use super::stdio_read::{ReadHere, ReadSide};
use super::{Inbound, Outcome, OutgoingRequest, Transport, read_line_limited};
use crate::config::{InheritEnv, StdioConfig};
use crate::error::{Error, Result};

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
    /// Set once the reader thread runs.
    read: std::sync::OnceLock<Arc<ReadSide>>,
    child: Mutex<Option<Child>>,
    threads: Mutex<Vec<Worker>>,
}

/// A thread of the transport and the means to wait for it with a deadline.
struct Worker {
    handle: JoinHandle<()>,
    /// Disconnected once the thread has finished (its sender is dropped on exit).
    done: Receiver<()>,
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
        let pipe = match Pipe::new(service, stdin) {
            Ok(pipe) => pipe,
            Err(e) => {
                kill_group(&mut child);
                return Err(Error::unsent(format!("pipe setup failed: {e}")));
            }
        };

        let transport = StdioTransport {
            pipe: Arc::new(pipe),
            child: Mutex::new(Some(child)),
            threads: Mutex::new(Vec::new()),
            read: std::sync::OnceLock::new(),
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
        let read = ReadSide::new(stdout, max_message_bytes, inbound, self.pipe.clone())
            .map(Arc::new)
            .map_err(|e| Error::unsent(format!("pipe setup failed: {e}")))?;
        let reader = read.clone();
        let out_thread = spawn_worker(format!("mcps-out-{service}"), move || reader.run())?;
        self.threads.lock().push(out_thread);
        let _ = self.read.set(read);
        Ok(())
    }

    /// Writes to the server; a thread that leads the reads routes replies
    /// while the write waits (the server may wait for its stdout to be read).
    fn write(&self, bytes: &[u8], timeout: Duration) -> Result<()> {
        match self.read.get().filter(|r| r.led_here()) {
            Some(reads) => reads.write_leading(bytes, timeout),
            None => self.pipe.write_all(bytes, timeout, None),
        }
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

impl Transport for StdioTransport {
    fn kind(&self) -> &'static str {
        "stdio"
    }

    fn send_request(&self, request: &OutgoingRequest<'_>) -> Result<Option<Outcome>> {
        self.write(request.body, request.write_timeout)?;
        Ok(None)
    }

    fn send_pipelined(&self, requests: &[OutgoingRequest<'_>]) -> Result<()> {
        let timeout = requests.iter().map(|r| r.write_timeout).max().unwrap_or_default();
        // One buffer, one write: the server is woken once for all of them.
        let mut joined = Vec::with_capacity(requests.iter().map(|r| r.body.len()).sum());
        requests.iter().for_each(|r| joined.extend_from_slice(r.body));
        self.write(&joined, timeout)
    }

    fn routes_responses(&self) -> bool {
        true
    }

    fn send_message(&self, body: &[u8], timeout: Duration) -> Result<()> {
        self.write(body, timeout)
    }

    fn is_open(&self) -> bool {
        self.pipe.open.load(Ordering::Acquire)
    }

    fn lead_reads(&self) -> bool {
        self.read.get().is_some_and(|r| r.lead())
    }

    fn read_here(&self, until: Instant, ready: &dyn Fn() -> bool) -> ReadHere {
        self.read.get().map_or(ReadHere::Ended, |r| r.read_here(until, ready))
    }

    fn release_reads(&self) {
        if let Some(r) = self.read.get() {
            r.release();
        }
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
                pipe.record_stderr(text);
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
}
