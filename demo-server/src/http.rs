//! The Streamable HTTP transport: connections accepted here, HTTP/1.1
//! (request parsing, chunked bodies, keep-alive) by touche, the endpoint in
//! [`http_mcp`](super::http_mcp).
//!
//! Each connection has a thread, as with any blocking server. The server
//! accepts the connections itself rather than letting the HTTP crate do
//! it: so it can set TCP_NODELAY on them and close them all at shutdown
//! (kept-alive connections would otherwise outlive the server).

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

use super::DemoOptions;
use super::dispatch::{Peer, Server, Transport};
use super::http_mcp;
use super::http_session::Sessions;
use super::peers::Nowhere;

/// A running in-process HTTP demo server. Dropping it (or calling
/// [`HttpServerHandle::shutdown`]) stops it: the accept loop exits,
/// connections are closed, running requests are cancelled and the
/// connection threads end.
pub struct HttpServerHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl HttpServerHandle {
    /// The bound address (the real port when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The MCP endpoint URL, `http://ADDR/mcp`.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    /// Stops the server and waits for its threads.
    pub fn shutdown(mut self) {
        self.stop();
    }

    /// Blocks until the server stops (that is, forever unless another
    /// thread could stop it; used by the foreground `run`).
    pub fn wait(mut self) {
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }

    /// The state the threads share (tests look at it after shutdown).
    #[cfg(test)]
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    fn stop(&mut self) {
        let Some(accept) = self.accept.take() else {
            return;
        };
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.server.shutdown();
        // Wake the blocking accept().
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => [127, 0, 0, 1].into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        let _ = accept.join();
    }
}

impl Drop for HttpServerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the connection threads share.
pub struct Shared {
    /// The MCP logic.
    pub server: Arc<Server>,
    /// Live sessions.
    pub sessions: Sessions,
    /// SSE or JSON replies.
    pub transport: Transport,
    stop: AtomicBool,
    /// Open connections (a clone of each, to close them at shutdown).
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
    /// Numbers SSE streams (event ids).
    pub next_stream: AtomicU64,
    /// Counts single `tools/call` POSTs for `--sse-disconnect-every`.
    pub sse_calls: AtomicU64,
    /// What stateless (2026-07-28) requests share: no session, no state of
    /// their own (each gets its own key for cancellation, see [`Shared::stateless_peer`]).
    stateless: Peer,
    next_stateless: AtomicU64,
}

impl Shared {
    /// The options the server runs with.
    pub fn opts(&self) -> &DemoOptions {
        self.server.options()
    }

    /// Whether the server is stopping.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Another handle on connection `id` (to close it abruptly).
    pub fn connection(&self, id: u64) -> Option<TcpStream> {
        self.conns.lock().get(&id).and_then(|c| c.try_clone().ok())
    }

    /// The peer of one stateless request.
    pub fn stateless_peer(&self) -> Peer {
        let n = self.next_stateless.fetch_add(1, Ordering::Relaxed);
        Peer { key: Arc::from(format!("stateless-{n}")), ..self.stateless.clone() }
    }

    /// How many connections are open now.
    #[cfg(test)]
    pub fn open_connections(&self) -> usize {
        self.conns.lock().len()
    }
}

/// Starts the HTTP server on `addr` (e.g. `127.0.0.1:0`) on background
/// threads and returns at once.
///
/// `--crash-after` and `--exit-on` still exit the whole process in this mode.
pub fn spawn_http(opts: DemoOptions, addr: &str) -> io::Result<HttpServerHandle> {
    let transport = if opts.json_response { Transport::HttpJson } else { Transport::HttpSse };
    let server = Arc::new(Server::new(opts)?);
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    server.start_background();
    let shared = Arc::new(Shared {
        server,
        sessions: Sessions::default(),
        transport,
        stop: AtomicBool::new(false),
        conns: Mutex::new(HashMap::new()),
        next_conn: AtomicU64::new(0),
        next_stream: AtomicU64::new(0),
        sse_calls: AtomicU64::new(0),
        stateless: Peer::with_background("stateless", transport, Arc::new(Nowhere)),
        next_stateless: AtomicU64::new(0),
    });
    let s = shared.clone();
    let accept = std::thread::Builder::new()
        .name("demo-http-accept".into())
        .spawn(move || accept_loop(s, listener))?;
    Ok(HttpServerHandle { addr: local, shared, accept: Some(accept) })
}

fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    for conn in listener.incoming() {
        if shared.stopping() {
            break;
        }
        let stream = match conn {
            Ok(s) => s,
            Err(e) => {
                // E.g. out of file descriptors: back off a little.
                log::warn!("demo server: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        match stream.try_clone() {
            Ok(c) => shared.conns.lock().insert(id, c),
            Err(e) => {
                log::warn!("demo server: cannot keep a handle on a connection: {e}");
                continue;
            }
        };
        let s = shared.clone();
        match std::thread::Builder::new()
            .name("demo-http-conn".into())
            .spawn(move || serve_connection(&s, stream, id))
        {
            Ok(t) => threads.push(t),
            Err(e) => {
                log::warn!("demo server: cannot spawn a connection thread: {e}");
                if let Some(c) = shared.conns.lock().remove(&id) {
                    let _ = c.shutdown(Shutdown::Both);
                }
            }
        }
        threads.retain(|t| !t.is_finished());
    }
    for c in shared.conns.lock().values() {
        let _ = c.shutdown(Shutdown::Both);
    }
    for t in threads {
        let _ = t.join();
    }
}

/// Serves the requests of one connection until it closes.
fn serve_connection(shared: &Shared, stream: TcpStream, id: u64) {
    // Nagle would add ~40 ms stalls to small request/response pairs.
    let served = touche::Server::builder()
        .nodelay(true)
        .from_connections(std::iter::once(stream))
        .serve_single_thread(|rq| http_mcp::handle(shared, id, rq));
    if let Err(e) = served {
        log::debug!("demo server: connection ended: {e}");
    }
    shared.conns.lock().remove(&id);
}
