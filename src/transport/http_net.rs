//! The network under the HTTP agent, with no system call that a request does
//! not need: a resolver that never starts a thread on the call path and TCP
//! sockets whose options are set once per connection, not once per read.
//!
//! ureq's own resolver starts a thread for every request to bound the lookup
//! by the request's timeout (also for `127.0.0.1`, also when a kept-alive
//! connection is reused), and its TCP transport sets `SO_RCVTIMEO` /
//! `SO_SNDTIMEO` whenever the remaining time differs from the last one (so on
//! every request) and switches the socket to non-blocking and back to probe a
//! pooled connection (twice per request).
//!
//! * [`CachingResolver`]: an IP literal needs no lookup; a name is looked up
//!   once per agent and kept for [`NAME_TTL`]; after that, and after a failed
//!   lookup, a background thread looks it up again while calls go on with
//!   what is known (the old addresses, or the failure).
//! * [`SocketConnector`] / [`SocketTransport`]: `TCP_NODELAY` once at connect;
//!   a socket timeout that may be shorter than the time left (a wait that
//!   ends early goes on with the rest), so consecutive requests keep it; a
//!   wait much shorter than the socket's timeout is a `poll` instead of
//!   changing it; writes use `MSG_NOSIGNAL`; the pool's liveness probe is one
//!   `MSG_PEEK | MSG_DONTWAIT` receive.
//! * [`QuickAck`]: while a thread reads an event stream past what has
//!   arrived, each wait first acknowledges what was received (`TCP_QUICKACK`).
//!   A server with Nagle's algorithm on holds its next small write (the rest
//!   of the stream, often just the end of its chunked body) until the client
//!   acknowledges the last one, and a delayed acknowledgement takes up to
//!   40 ms: per call, for a client that reads each reply to its end to reuse
//!   the connection.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use ureq::http::Uri;
use ureq::http::uri::Scheme;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, ShutdownHandle, Transport,
};

thread_local! {
    /// While set, this thread's waits for input acknowledge at once (see [`QuickAck`]).
    static QUICK_ACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Reads on the current thread's sockets acknowledge received data at once
/// (`TCP_QUICKACK` before each wait) until dropped. Costs one `setsockopt`
/// per wait, so it covers only reads that wait for a server's next write.
pub(crate) struct QuickAck;

impl QuickAck {
    /// Starts acknowledging at once.
    pub(crate) fn enter() -> QuickAck {
        QUICK_ACK.with(|q| q.set(true));
        QuickAck
    }
}

impl Drop for QuickAck {
    fn drop(&mut self) {
        QUICK_ACK.with(|q| q.set(false));
    }
}

/// How long a looked-up name is used before it is looked up again (in the background).
pub(crate) const NAME_TTL: Duration = Duration::from_secs(60);
/// How soon a failed lookup is tried again (in the background).
const RETRY_FAILED: Duration = Duration::from_secs(1);

/// One looked-up name.
struct Entry {
    /// The addresses, or `None` after a failed lookup (no addresses known).
    addrs: Option<Vec<SocketAddr>>,
    /// When the entry is due for a new lookup.
    refresh_at: Instant,
    /// A background lookup runs.
    refreshing: Arc<AtomicBool>,
}

/// Resolves without a thread on the call path once a name is known (see the module doc).
#[derive(Default)]
pub(crate) struct CachingResolver {
    names: Arc<Mutex<HashMap<String, Entry>>>,
}

impl std::fmt::Debug for CachingResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachingResolver").field("names", &self.names.lock().len()).finish()
    }
}

/// The port of `uri` (its own, else its scheme's).
fn port_of(uri: &Uri) -> Option<u16> {
    let scheme = uri.scheme()?;
    uri.port_u16().or(if *scheme == Scheme::HTTP {
        Some(80)
    } else if *scheme == Scheme::HTTPS {
        Some(443)
    } else {
        None
    })
}

/// The addresses of `addrs` that `config` wants, as ureq hands them to connectors.
fn wanted(
    resolver: &dyn Resolver,
    config: &ureq::config::Config,
    addrs: impl Iterator<Item = SocketAddr>,
) -> Result<ResolvedSocketAddrs, ureq::Error> {
    let mut out = resolver.empty();
    for addr in config.ip_family().keep_wanted(addrs).take(16) {
        out.push(addr);
    }
    if out.is_empty() { Err(ureq::Error::HostNotFound) } else { Ok(out) }
}

impl CachingResolver {
    /// Looks `name` up again on a background thread unless one already does.
    fn refresh_in_background(&self, name: &str, refreshing: &Arc<AtomicBool>) {
        if refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let names = Arc::downgrade(&self.names);
        let key = name.to_owned();
        let flag = refreshing.clone();
        let started = crate::util::spawn_thread("mcps-resolve", move || {
            let found: Option<Vec<SocketAddr>> =
                key.to_socket_addrs().ok().map(Iterator::collect).filter(|a: &Vec<_>| !a.is_empty());
            flag.store(false, Ordering::Release);
            let Some(names) = names.upgrade() else { return };
            let mut names = names.lock();
            let Some(entry) = names.get_mut(&key) else { return };
            match found {
                Some(addrs) => {
                    entry.addrs = Some(addrs);
                    entry.refresh_at = Instant::now() + NAME_TTL;
                }
                // The old addresses (if any) stay in use; try again a little later.
                None => entry.refresh_at = Instant::now() + RETRY_FAILED,
            }
        });
        if started.is_err() {
            refreshing.store(false, Ordering::Release);
        }
    }
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let (Some(host), Some(port)) = (uri.host(), port_of(uri)) else {
            // Not an http(s) URL: ureq's resolver says what is wrong with it.
            return DefaultResolver::default().resolve(uri, config, timeout);
        };
        // An IP literal (`[::1]` in a URL) needs no lookup.
        let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        if let Ok(ip) = literal.parse::<IpAddr>() {
            return wanted(self, config, std::iter::once(SocketAddr::new(ip, port)));
        }
        let key = format!("{host}:{port}");
        let now = Instant::now();
        {
            let names = self.names.lock();
            if let Some(entry) = names.get(&key) {
                let due = now >= entry.refresh_at;
                let addrs = entry.addrs.clone();
                let refreshing = entry.refreshing.clone();
                drop(names);
                if due {
                    self.refresh_in_background(&key, &refreshing);
                }
                return match addrs {
                    Some(addrs) => wanted(self, config, addrs.into_iter()),
                    None => Err(ureq::Error::HostNotFound),
                };
            }
        }
        // The first lookup of this name: on the call path, bounded by its timeout.
        let result = DefaultResolver::default().resolve(uri, config, timeout);
        let addrs = match &result {
            Ok(addrs) => Some(addrs.iter().copied().collect()),
            // A timeout is not an answer: the next call looks the name up again.
            Err(ureq::Error::Timeout(_)) => return result,
            Err(_) => None,
        };
        let refresh_at = Instant::now() + if addrs.is_some() { NAME_TTL } else { RETRY_FAILED };
        self.names
            .lock()
            .insert(key, Entry { addrs, refresh_at, refreshing: Arc::new(AtomicBool::new(false)) });
        result
    }
}

/// Opens plain TCP connections as [`SocketTransport`]s (a previous link's
/// transport, a proxy tunnel, passes through).
#[derive(Debug, Default)]
pub(crate) struct SocketConnector;

impl<In: Transport> Connector<In> for SocketConnector {
    type Out = Either<In, SocketTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        if let Some(transport) = chained {
            return Ok(Some(Either::A(transport)));
        }
        let stream = connect_any(details)?;
        if details.config.no_delay() {
            stream.set_nodelay(true)?;
        }
        let config = details.config;
        let transport = SocketTransport {
            stream: Arc::new(stream),
            buffers: LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size()),
            read_timeout: None,
            write_timeout: None,
            used: true,
        };
        (details.register_shutdown)(Arc::downgrade(&transport.stream) as Weak<dyn ShutdownHandle>)?;
        Ok(Some(Either::B(transport)))
    }
}

/// Connects to the first of `details.addrs` that answers, sharing the connect
/// budget between them as ureq does (halving it from one address to the next).
fn connect_any(details: &ConnectionDetails) -> Result<TcpStream, ureq::Error> {
    let budget = details.timeout.not_zero().map(|d| *d);
    let started = Instant::now();
    let n = details.addrs.len();
    let total_weight = 2.0 * (1.0 - 0.5_f64.powi(n as i32));
    let mut weight = 1.0_f64;
    let mut last: Option<ureq::Error> = None;
    for addr in details.addrs.iter() {
        let per_addr = budget.map(|b| b.mul_f64(weight / total_weight).max(Duration::from_millis(10)));
        weight /= 2.0;
        let attempt = match per_addr {
            Some(t) => TcpStream::connect_timeout(addr, t),
            None => TcpStream::connect(addr),
        };
        match attempt {
            Ok(stream) => return Ok(stream),
            Err(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => {
                if budget.is_some_and(|b| started.elapsed() > b) {
                    return Err(ureq::Error::Timeout(details.timeout.reason));
                }
                last = Some(ureq::Error::Timeout(ureq::Timeout::Connect));
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused
                        | io::ErrorKind::HostUnreachable
                        | io::ErrorKind::NetworkUnreachable
                        | io::ErrorKind::NetworkDown
                        | io::ErrorKind::AddrNotAvailable
                ) =>
            {
                last = Some(ureq::Error::Io(e));
            }
            Err(e) => return Err(ureq::Error::Io(e)),
        }
    }
    Err(last.unwrap_or_else(|| ureq::Error::Io(io::ErrorKind::ConnectionRefused.into())))
}

/// One TCP connection (see the module doc for what it saves).
pub(crate) struct SocketTransport {
    /// Shared with the agent's shutdown handle (weakly), which shuts the socket down.
    stream: Arc<TcpStream>,
    buffers: LazyBuffers,
    /// The `SO_RCVTIMEO` set on the socket (`None`: none, a read waits for ever).
    read_timeout: Option<Duration>,
    /// The `SO_SNDTIMEO` set on the socket.
    write_timeout: Option<Duration>,
    /// I/O happened since the last liveness probe.
    used: bool,
}

impl std::fmt::Debug for SocketTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketTransport").field("peer", &self.stream.peer_addr().ok()).finish()
    }
}

/// Which way a wait goes.
#[derive(Clone, Copy)]
enum Way {
    Read,
    Write,
}

/// The socket timeout to set for a wait of up to `left`: a quarter less, so
/// the next request (which has a little more or less time) keeps it.
fn socket_timeout_for(left: Duration) -> Duration {
    (left - left / 4).max(Duration::from_millis(1))
}

/// Whether a socket timeout of `set` serves a wait of up to `left`: never
/// longer, and not so much shorter that the wait wakes up often for nothing.
fn keeps(set: Option<Duration>, left: Option<Duration>) -> bool {
    match (set, left) {
        (None, None) => true,
        (Some(set), Some(left)) => set <= left && set >= left / 4,
        _ => false,
    }
}

impl SocketTransport {
    fn fd(&self) -> i32 {
        self.stream.as_raw_fd()
    }
}

/// Runs the socket operation `op` on `stream` (a `recv` or `send` given the
/// descriptor and extra flags, returning the byte count or -1 with `errno`),
/// waiting no longer than `timeout`; `slot` is the socket's timeout for `way`.
fn wait_and(
    stream: &TcpStream,
    slot: &mut Option<Duration>,
    way: Way,
    timeout: NextTimeout,
    mut op: impl FnMut(i32, i32) -> isize,
) -> Result<usize, ureq::Error> {
    let budget = timeout.not_zero().map(|d| *d);
    let started = Instant::now();
    let fd = stream.as_raw_fd();
    loop {
        let left = match budget {
            Some(b) => {
                let left = b.saturating_sub(started.elapsed());
                if left.is_zero() {
                    return Err(ureq::Error::Timeout(timeout.reason));
                }
                Some(left)
            }
            None => None,
        };
        let r = match (*slot, left) {
            // The socket's own timeout bounds the wait (it may end early: then go on).
            _ if keeps(*slot, left) => op(fd, 0),
            // A wait much shorter than the socket's timeout (a capped read, the end
            // of a request's time): poll, and leave the socket's timeout for the
            // next request. (One a little shorter sets a new timeout below.)
            (Some(set), Some(left)) if left * 2 < set => {
                if !poll(fd, way, left)? {
                    continue; // time is up (checked above) or a spurious wake-up
                }
                op(fd, libc::MSG_DONTWAIT)
            }
            _ => {
                let new = left.map(socket_timeout_for);
                match way {
                    Way::Read => stream.set_read_timeout(new)?,
                    Way::Write => stream.set_write_timeout(new)?,
                }
                *slot = new;
                op(fd, 0)
            }
        };
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {}
            _ => return Err(ureq::Error::Io(e)),
        }
    }
}

/// Waits up to `left` for `fd` to be readable (writable); whether it is.
fn poll(fd: i32, way: Way, left: Duration) -> Result<bool, ureq::Error> {
    let events = match way {
        Way::Read => libc::POLLIN,
        Way::Write => libc::POLLOUT,
    };
    let mut fds = libc::pollfd { fd, events, revents: 0 };
    // Rounded up, so a wait never ends before its time.
    let ms = left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd for the duration of the call.
    let r = unsafe { libc::poll(&mut fds, 1, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted { Ok(false) } else { Err(ureq::Error::Io(e)) };
    }
    Ok(r > 0)
}

impl Transport for SocketTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.used = true;
        let timeout = timeout.for_write();
        if timeout.after.is_zero() {
            return Err(ureq::Error::Timeout(timeout.reason));
        }
        let output = &self.buffers.output()[..amount];
        let mut sent = 0;
        while sent < amount {
            let chunk = &output[sent..];
            let n = wait_and(&self.stream, &mut self.write_timeout, Way::Write, timeout, |fd, flags| {
                // SAFETY: `chunk` is a live slice of the output buffer.
                unsafe { libc::send(fd, chunk.as_ptr().cast(), chunk.len(), flags | libc::MSG_NOSIGNAL) }
            })?;
            if n == 0 {
                return Err(ureq::Error::Io(io::ErrorKind::WriteZero.into()));
            }
            sent += n;
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.used = true;
        let timeout = timeout.for_read();
        if timeout.after.is_zero() {
            return Err(ureq::Error::Timeout(timeout.reason));
        }
        if QUICK_ACK.with(std::cell::Cell::get) {
            let on: libc::c_int = 1;
            // SAFETY: a valid socket and a live c_int of the size given; a failure only
            // leaves the acknowledgement delayed, so its result is not needed.
            unsafe {
                libc::setsockopt(
                    self.fd(),
                    libc::IPPROTO_TCP,
                    libc::TCP_QUICKACK,
                    (&raw const on).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
        let input = self.buffers.input_append_buf();
        let n = wait_and(&self.stream, &mut self.read_timeout, Way::Read, timeout, |fd, flags| {
            // SAFETY: `input` is the free part of the input buffer, ours until the receive returns.
            unsafe { libc::recv(fd, input.as_mut_ptr().cast(), input.len(), flags) }
        })?;
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    /// The pool asks when it takes a connection back (right after the
    /// request's I/O: nothing to probe, the unread input was checked) and
    /// when it hands one out (probed: one receive that neither waits nor consumes).
    fn is_open(&mut self) -> bool {
        if std::mem::replace(&mut self.used, false) {
            return true;
        }
        let mut byte = 0u8;
        // SAFETY: a one-byte buffer on the stack.
        let r =
            unsafe { libc::recv(self.fd(), (&raw mut byte).cast(), 1, libc::MSG_PEEK | libc::MSG_DONTWAIT) };
        // Bytes nobody asked for, the end of the stream or an error: not reusable.
        r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_timeouts_are_kept_across_similar_waits() {
        let t = socket_timeout_for(Duration::from_secs(30));
        assert!(keeps(Some(t), Some(Duration::from_secs(30))));
        assert!(keeps(Some(t), Some(Duration::from_millis(29_990))));
        assert!(!keeps(Some(t), Some(Duration::from_millis(50))), "never longer than the wait");
        assert!(!keeps(Some(Duration::from_millis(40)), Some(Duration::from_secs(30))), "too short");
        assert!(!keeps(None, Some(Duration::from_secs(1))));
    }

    #[test]
    fn ip_literals_need_no_lookup_and_names_are_cached() {
        let resolver = CachingResolver::default();
        let config = ureq::config::Config::default();
        let t = NextTimeout { after: Duration::from_secs(5).into(), ..NextTimeout::default() };
        let uri: Uri = "http://127.0.0.1:8080/mcp".parse().unwrap_or_else(|e| panic!("{e}"));
        let addrs = resolver.resolve(&uri, &config, t).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            addrs.as_ref(),
            &["127.0.0.1:8080".parse::<SocketAddr>().unwrap_or_else(|e| panic!("{e}"))]
        );
        let uri: Uri = "http://[::1]/mcp".parse().unwrap_or_else(|e| panic!("{e}"));
        let addrs = resolver.resolve(&uri, &config, t).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(addrs.as_ref(), &["[::1]:80".parse::<SocketAddr>().unwrap_or_else(|e| panic!("{e}"))]);
        assert!(resolver.names.lock().is_empty());
        let uri: Uri = "http://localhost:9/".parse().unwrap_or_else(|e| panic!("{e}"));
        if let Ok(first) = resolver.resolve(&uri, &config, t) {
            assert_eq!(resolver.names.lock().len(), 1);
            let again = resolver.resolve(&uri, &config, t).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(first.as_ref(), again.as_ref());
        }
    }
}
