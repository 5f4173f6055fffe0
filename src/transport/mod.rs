//! Transports: how JSON-RPC messages reach a server and come back.
//!
//! A [`Transport`] moves encoded messages; the session layer above it owns ids,
//! waiting and timeouts. Messages the server sends on its own (responses
//! routed by id, notifications, server requests) are handed to an [`Inbound`].

use std::io::{self, BufRead};
use std::time::Duration;

use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::protocol::{Incoming, RpcError};

mod auth_hook;
pub mod http;
mod http_conn;
mod http_listen;
mod http_net;
mod http_transport;
pub mod legacy_sse;
pub mod sse;
pub mod stdio;
mod stdio_answers;
mod stdio_pipe;
mod stdio_read;

pub(crate) use auth_hook::{AuthHook, Refusal};
pub(crate) use http_conn::Interrupt;
pub(crate) use http_listen::ListenRequest;
pub use http_listen::{ListenState, ListenStatus};
pub use http_transport::HttpTransport;
pub use stdio_read::ReadHere;

#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod lead_tests;

/// The outcome of one request: the raw `result`, or the server's JSON-RPC error.
pub type Outcome = std::result::Result<Box<RawValue>, RpcError>;

/// One encoded request on its way out.
#[derive(Debug, Clone, Copy)]
pub struct OutgoingRequest<'a> {
    /// The JSON-RPC id.
    pub id: i64,
    /// The method (transports treat `initialize` specially).
    pub method: &'a str,
    /// The whole encoded message, ending with a newline.
    pub body: &'a [u8],
    /// How long writing may take.
    pub write_timeout: Duration,
    /// How long waiting for the response may take (inline transports).
    pub read_timeout: Duration,
    /// Stops the request from another thread (inline transports; a routed
    /// transport's waiter is woken by the session instead).
    pub interrupt: Option<&'a std::sync::Arc<Interrupt>>,
    /// What the request names (a tool, prompt or resource), for `Mcp-Name`.
    pub name: Option<&'a str>,
    /// `Mcp-Param-*` headers (stateless-era HTTP).
    pub headers: &'a [(String, String)],
}

/// Receives what a server sends outside of an inline response.
pub trait Inbound: Send + Sync {
    /// Handles one message; returns the encoded reply for a server request.
    fn on_message(&self, message: Incoming) -> Option<Vec<u8>>;
    /// The connection ended; every waiting request fails with `error`.
    fn on_closed(&self, error: Error);
    /// The server wrote something that is not a JSON-RPC message for us (a
    /// banner, a debug print); it was skipped. `line` is its start.
    fn on_stray(&self, line: &str);
}

/// A way to exchange JSON-RPC messages with one server session.
pub trait Transport: Send + Sync {
    /// `"stdio"`, `"streamable-http"` or `"sse"` (legacy HTTP+SSE).
    fn kind(&self) -> &'static str;

    /// Sends a request. Returns `Some(outcome)` when the response was read
    /// inline (Streamable HTTP), `None` when it will reach the [`Inbound`]
    /// (stdio, legacy SSE).
    fn send_request(&self, request: &OutgoingRequest<'_>) -> Result<Option<Outcome>>;

    /// Sends several requests back to back (pipelining); their responses
    /// reach the [`Inbound`]. Transports without pipelining send one by one.
    fn send_pipelined(&self, requests: &[OutgoingRequest<'_>]) -> Result<()> {
        for r in requests {
            if let Some(outcome) = self.send_request(r)? {
                let _ = outcome; // inline transports should not be pipelined
                return Err(Error::Internal("transport does not support pipelining".into()));
            }
        }
        Ok(())
    }

    /// Whether responses arrive through the [`Inbound`] (so many requests can share one stream).
    fn routes_responses(&self) -> bool;

    /// Sends a notification or a response to a server request.
    fn send_message(&self, body: &[u8], timeout: Duration) -> Result<()>;

    /// Sends `notifications/initialized`, the end of the handshake; from then
    /// on the new session is used by every request (HTTP keeps a re-initialized
    /// session to the handshake until this was sent).
    fn finish_handshake(&self, initialized: &[u8], timeout: Duration) -> Result<()> {
        self.send_message(initialized, timeout)
    }

    /// Called before `initialize` (again): forget any server session state.
    fn begin_session(&self) {}

    /// Called once the protocol version is agreed.
    fn set_protocol_version(&self, _version: &str) {}

    /// Called after every completed handshake: opens the listening stream
    /// (Streamable HTTP), waiting up to `wait` for the server to answer it.
    fn start_listening(&self, _wait: Duration) {}

    /// Starts (again, with a new request) or stops (`None`) the stateless
    /// era's `subscriptions/listen` stream; transports whose responses reach
    /// the [`Inbound`] let the session run it as a request instead.
    fn subscribe(&self, _request: Option<ListenRequest>, _wait: Duration) {}

    /// The listening stream's state, for transports that have one.
    fn listen_status(&self) -> Option<ListenStatus> {
        None
    }

    /// Whether the transport can still carry messages.
    fn is_open(&self) -> bool;

    /// Takes the lead of the reads for the calling thread (stdio): until
    /// [`Transport::release_reads`], the caller reads and routes every message
    /// with [`Transport::read_here`] and the reader thread stands by. `false`
    /// when the transport cannot, or another caller leads.
    fn lead_reads(&self) -> bool {
        false
    }

    /// Reads and routes messages on the calling thread, which leads the reads,
    /// until some were routed, `ready` says what the caller waits for is
    /// there, or `until` passes.
    fn read_here(&self, _until: std::time::Instant, _ready: &dyn Fn() -> bool) -> ReadHere {
        ReadHere::Ended
    }

    /// Gives the reads back (after [`Transport::lead_reads`]).
    fn release_reads(&self) {}

    /// Closes the transport and releases its resources (process, HTTP session).
    fn close(&self);
}

/// Reads one line (up to and including `\n`) into `line`, appending; returns
/// its length, 0 at the end of the stream. A line longer than `limit` bytes is
/// an `InvalidData` error, so a peer that never sends a newline cannot make
/// the buffer grow without bound.
pub(crate) fn read_line_limited(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    limit: usize,
) -> io::Result<usize> {
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
