//! The HTTP agent's connections: every one can be interrupted by the call
//! that uses it, and its reads can be capped by the calling thread.
//!
//! A cancelled call must not wait for its POST to end: the waiting side
//! shuts its socket down, so the blocked read fails at once, the thread and
//! the pool slot are free again and the connection is dropped (never
//! returned to the keep-alive pool). The call that owns a connection is
//! known by the thread it runs on: the transport installs an [`Interrupt`]
//! for the duration of the request ([`CallScope`]), and the connection binds
//! to it on its first read or write.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use parking_lot::Mutex;
use ureq::unversioned::transport::{
    Buffers, ChainedConnector, ConnectProxyConnector, ConnectionDetails, Connector, NextTimeout,
    RustlsConnector, ShutdownHandle, Transport,
};

use super::http_net::SocketConnector;

/// Lets another thread stop the HTTP request of one call.
#[derive(Default)]
pub(crate) struct Interrupt {
    fired: AtomicBool,
    /// The socket of the connection the call is using, once it has one.
    socket: Mutex<Option<Weak<dyn ShutdownHandle>>>,
}

impl std::fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interrupt").field("fired", &self.fired()).finish()
    }
}

impl Interrupt {
    /// A fresh interrupt, not fired.
    pub(crate) fn new() -> Arc<Interrupt> {
        Arc::new(Interrupt::default())
    }

    /// Stops the request: its socket is shut down, so a blocked read or write
    /// returns at once; a request that has no connection yet fails on its first I/O.
    pub(crate) fn fire(&self) {
        self.fired.store(true, Ordering::Release);
        if let Some(socket) = self.socket.lock().as_ref().and_then(Weak::upgrade) {
            socket.shutdown();
        }
    }

    /// Whether [`Interrupt::fire`] was called.
    pub(crate) fn fired(&self) -> bool {
        self.fired.load(Ordering::Acquire)
    }

    /// Binds the interrupt to a connection's socket; `false` when it already fired.
    fn bind(&self, socket: &Weak<dyn ShutdownHandle>) -> bool {
        let mut slot = self.socket.lock();
        if self.fired() {
            return false;
        }
        *slot = Some(socket.clone());
        true
    }
}

thread_local! {
    /// While set, reads on this thread's HTTP connections wait no later than this.
    static READ_CAP: Cell<Option<Instant>> = const { Cell::new(None) };
    /// The interrupt of the request running on this thread, if it has one.
    static CALL: RefCell<Option<Arc<Interrupt>>> = const { RefCell::new(None) };
    /// Whether this thread's request is opening a connection not established
    /// yet: a timeout then is a connect timeout, even when ureq reports its
    /// overall (`Global`) limit, which ties with the connect limit in the handshake.
    static CONNECTING: Cell<bool> = const { Cell::new(false) };
}

/// Whether the failed request of this thread was still opening its connection
/// (nothing was sent); clears the mark.
pub(crate) fn take_connecting() -> bool {
    CONNECTING.with(|c| c.replace(false))
}

/// Caps the waits of reads on the current thread until dropped.
pub(crate) struct ReadCap;

impl ReadCap {
    /// Reads wait no later than `deadline` while the cap lives.
    pub(crate) fn until(deadline: Instant) -> ReadCap {
        READ_CAP.with(|c| c.set(Some(deadline)));
        ReadCap
    }
}

impl Drop for ReadCap {
    fn drop(&mut self) {
        READ_CAP.with(|c| c.set(None));
    }
}

/// The request running on this thread can be interrupted until this is dropped.
pub(crate) struct CallScope;

impl CallScope {
    /// Installs `interrupt` (if any) for the request about to run on this thread.
    pub(crate) fn enter(interrupt: Option<&Arc<Interrupt>>) -> CallScope {
        CALL.with(|c| *c.borrow_mut() = interrupt.cloned());
        CallScope
    }
}

impl Drop for CallScope {
    fn drop(&mut self) {
        CALL.with(|c| *c.borrow_mut() = None);
    }
}

/// The connections under the agent: an HTTP CONNECT proxy's tunnel, else a
/// TCP socket of ours ([`SocketConnector`]), then TLS for `https`. ureq's
/// default chain less its own TCP transport (SOCKS proxies need a ureq
/// feature this crate does not enable, as before).
type Chain =
    ChainedConnector<(), ChainedConnector<(), ConnectProxyConnector, SocketConnector>, RustlsConnector>;

/// The first link of the agent's connector chain: runs [`Chain`] and keeps
/// the socket's shutdown handle with the connection.
#[derive(Debug)]
pub(crate) struct InterruptibleConnector {
    inner: Chain,
}

impl InterruptibleConnector {
    /// Proxy tunnels, our TCP sockets, TLS.
    pub(crate) fn new() -> Self {
        let inner = ConnectProxyConnector::default().chain(SocketConnector).chain(RustlsConnector::default());
        InterruptibleConnector { inner }
    }
}

impl Connector<()> for InterruptibleConnector {
    type Out = CallTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> Result<Option<CallTransport>, ureq::Error> {
        // The TCP connector registers its socket with the agent; keep a copy of that handle.
        let captured: Arc<Mutex<Option<Weak<dyn ShutdownHandle>>>> = Arc::default();
        let register = details.register_shutdown.clone();
        let keep = captured.clone();
        let details = ConnectionDetails {
            uri: details.uri,
            addrs: details.addrs.clone(),
            config: details.config,
            request_level: details.request_level,
            resolver: details.resolver,
            now: details.now,
            timeout: details.timeout,
            current_time: details.current_time.clone(),
            run_connector: details.run_connector.clone(),
            register_shutdown: Arc::new(move |handle: Weak<dyn ShutdownHandle>| {
                *keep.lock() = Some(handle.clone());
                register(handle)
            }),
        };
        CONNECTING.with(|c| c.set(true)); // a reused keep-alive connection skips the chain
        let transport = self.inner.connect(&details, chained)?;
        if transport.is_some() {
            CONNECTING.with(|c| c.set(false)); // established
        }
        let socket = captured.lock().take();
        Ok(transport.map(|inner| CallTransport {
            inner: Box::new(inner) as Box<dyn Transport>,
            socket,
            bound_to: None,
        }))
    }
}

/// A connection whose waits honour the calling thread's [`ReadCap`] and that
/// the calling thread's [`Interrupt`] can shut down.
pub(crate) struct CallTransport {
    inner: Box<dyn Transport>,
    socket: Option<Weak<dyn ShutdownHandle>>,
    /// The interrupt this connection is bound to (compared by address).
    bound_to: Option<usize>,
}

impl std::fmt::Debug for CallTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallTransport").field("inner", &self.inner).finish()
    }
}

impl CallTransport {
    /// Binds the connection to the current call's interrupt (once per call);
    /// fails when that call was already cancelled.
    fn check_interrupt(&mut self) -> Result<(), ureq::Error> {
        CALL.with(|c| {
            let call = c.borrow();
            let Some(interrupt) = call.as_ref() else {
                self.bound_to = None;
                return Ok(());
            };
            let id = Arc::as_ptr(interrupt) as usize;
            if self.bound_to != Some(id) {
                self.bound_to = Some(id);
                if let Some(socket) = &self.socket
                    && !interrupt.bind(socket)
                {
                    return Err(cancelled());
                }
            }
            if interrupt.fired() { Err(cancelled()) } else { Ok(()) }
        })
    }
}

/// The error of I/O on a cancelled call's connection. Not `Interrupted`:
/// read loops retry that kind, so every later read would fail the same way
/// at once, and a reader would spin instead of ending.
fn cancelled() -> ureq::Error {
    ureq::Error::Io(std::io::Error::other("the call was cancelled"))
}

impl Transport for CallTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.check_interrupt()?;
        self.inner.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, mut timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.check_interrupt()?;
        if let Some(cap) = READ_CAP.with(Cell::get) {
            let left = cap.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ureq::Error::Timeout(timeout.reason));
            }
            let left = left.into();
            if left < timeout.after {
                timeout.after = left;
            }
        }
        let result = self.inner.await_input(timeout);
        // A read that failed because the socket was shut down is the cancellation.
        if result.is_err() && CALL.with(|c| c.borrow().as_ref().is_some_and(|i| i.fired())) {
            return Err(cancelled());
        }
        result
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}
