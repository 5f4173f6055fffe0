//! The listening stream of an HTTP session (Streamable HTTP 2025-11-25): a
//! `GET /mcp` that stays open so the server can send what belongs to no
//! request — list changes, resource updates, log messages of background work.
//!
//! Each session has a [`ListenHub`], the session's background channel.
//! Messages sent while no stream is open are **queued** (the last
//! [`MAX_KEPT`] are kept; older ones are dropped) and delivered when the
//! next stream opens. One stream at a time: a second GET while one is open
//! gets 409. Events carry ids `0_<n>` (stream number 0 is the listening
//! stream's; request streams start at 1), so a client that reconnects with
//! `Last-Event-ID: 0_<n>` gets every kept message after `n` again. With
//! `--no-listen-stream` there is no stream (GET: 405) and messages are
//! dropped. An open stream sends an SSE comment every [`KEEPALIVE`] while
//! idle, which also lets the server notice a client that went away.

use std::collections::VecDeque;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use serde_json::Value;

use super::dispatch::Server;
use super::peers::Background;
use super::sse;

/// The stream number of listening-stream event ids.
pub const LISTEN_STREAM: u64 = 0;
/// How many messages a session keeps for its listening stream.
pub const MAX_KEPT: usize = 100;
/// How long an open stream stays silent before it sends a comment.
pub const KEEPALIVE: Duration = Duration::from_secs(1);
/// How often a waiting stream looks at the stop flag.
const POLL: Duration = Duration::from_millis(100);

struct Open {
    id: u64,
    /// The connection carrying the stream, to close it abruptly.
    conn: Option<TcpStream>,
}

#[derive(Default)]
struct HubState {
    /// Sequence number of the next message (from 1).
    next_seq: u64,
    /// The last messages, oldest first: (sequence number, JSON text).
    kept: VecDeque<(u64, Vec<u8>)>,
    /// The last sequence number handed to a stream.
    delivered: u64,
    open: Option<Open>,
    next_stream: u64,
    /// The session ended: no stream opens any more, the open one ends.
    closed: bool,
}

/// Why a listening stream could not open.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenError {
    /// One is open already (409).
    AlreadyOpen,
    /// The session ended (404).
    Closed,
}

/// A session's listening stream and the messages waiting for it.
pub struct ListenHub {
    enabled: bool,
    state: Mutex<HubState>,
    changed: Condvar,
}

impl ListenHub {
    /// A hub; a disabled one (`--no-listen-stream`) drops every message.
    pub fn new(enabled: bool) -> Self {
        ListenHub {
            enabled,
            state: Mutex::new(HubState { next_seq: 1, ..Default::default() }),
            changed: Condvar::new(),
        }
    }

    /// Opens the stream: it delivers the messages after `after` (a
    /// reconnecting client's `Last-Event-ID`), else those not delivered yet.
    pub fn open(
        self: &Arc<Self>,
        after: Option<u64>,
        conn: Option<TcpStream>,
        server: Arc<Server>,
    ) -> Result<ListenBody, OpenError> {
        let mut st = self.state.lock();
        if st.closed {
            return Err(OpenError::Closed);
        }
        if st.open.is_some() {
            return Err(OpenError::AlreadyOpen);
        }
        st.next_stream += 1;
        let id = st.next_stream;
        st.open = Some(Open { id, conn });
        let cursor = after.unwrap_or(st.delivered);
        let priming = sse::priming(&sse::event_id(LISTEN_STREAM, cursor), None);
        Ok(ListenBody { hub: self.clone(), id, cursor, priming: Some(priming), server })
    }

    /// Ends the session's stream for good (the session was deleted or expired).
    pub fn close(&self) {
        let mut st = self.state.lock();
        st.closed = true;
        st.open = None;
        self.changed.notify_all();
    }
}

impl Background for ListenHub {
    fn send(&self, msg: &Value) {
        if !self.enabled {
            return;
        }
        let Ok(data) = serde_json::to_vec(msg) else { return };
        let mut st = self.state.lock();
        let seq = st.next_seq;
        st.next_seq += 1;
        st.kept.push_back((seq, data));
        while st.kept.len() > MAX_KEPT {
            st.kept.pop_front();
        }
        self.changed.notify_all();
    }

    fn drop_streams(&self) -> usize {
        let mut st = self.state.lock();
        let Some(open) = st.open.take() else { return 0 };
        if let Some(conn) = open.conn {
            let _ = conn.shutdown(Shutdown::Both);
        }
        self.changed.notify_all();
        1
    }
}

/// The body of an open listening stream: a priming event, then each message
/// as it comes (comments while idle), until the stream is dropped or closed.
pub struct ListenBody {
    hub: Arc<ListenHub>,
    id: u64,
    cursor: u64,
    priming: Option<Vec<u8>>,
    server: Arc<Server>,
}

impl Iterator for ListenBody {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        if let Some(first) = self.priming.take() {
            return Some(first);
        }
        let idle_since = Instant::now();
        let mut st = self.hub.state.lock();
        loop {
            let mine = st.open.as_ref().is_some_and(|o| o.id == self.id);
            if !mine || st.closed || self.server.is_stopping() {
                return None;
            }
            let mut chunk = Vec::new();
            let after = self.cursor;
            for (seq, data) in st.kept.iter().filter(|(seq, _)| *seq > after) {
                chunk.extend_from_slice(&sse::event(Some(&sse::event_id(LISTEN_STREAM, *seq)), data));
                self.cursor = *seq;
            }
            if !chunk.is_empty() {
                st.delivered = st.delivered.max(self.cursor);
                return Some(chunk);
            }
            if idle_since.elapsed() >= KEEPALIVE {
                return Some(b": keep-alive\n\n".to_vec());
            }
            self.hub.changed.wait_for(&mut st, POLL);
        }
    }
}

impl Drop for ListenBody {
    fn drop(&mut self) {
        // The connection ended (or the body was never sent): another GET may open.
        let mut st = self.hub.state.lock();
        if st.open.as_ref().is_some_and(|o| o.id == self.id) {
            st.open = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DemoOptions;
    use serde_json::json;

    fn server() -> Arc<Server> {
        Arc::new(Server::new(DemoOptions::default()).unwrap())
    }

    fn text(chunk: Option<Vec<u8>>) -> String {
        String::from_utf8(chunk.expect("a chunk")).unwrap()
    }

    #[test]
    fn queued_messages_arrive_when_a_stream_opens_and_replay_after_an_id() {
        let hub = Arc::new(ListenHub::new(true));
        hub.send(&json!({"n": 1}));
        let mut body = hub.open(None, None, server()).unwrap();
        assert_eq!(text(body.next()), "id: 0_0\ndata: \n\n");
        assert_eq!(text(body.next()), "event: message\nid: 0_1\ndata: {\"n\":1}\n\n");
        assert_eq!(hub.open(None, None, server()).err(), Some(OpenError::AlreadyOpen));
        hub.send(&json!({"n": 2}));
        assert!(text(body.next()).contains("id: 0_2"));
        // Dropped: the body ends, and a new stream opens after what was delivered.
        assert_eq!(hub.drop_streams(), 1);
        assert_eq!(hub.drop_streams(), 0);
        assert!(body.next().is_none());
        drop(body);
        hub.send(&json!({"n": 3}));
        let mut fresh = hub.open(None, None, server()).unwrap();
        assert_eq!(text(fresh.next()), "id: 0_2\ndata: \n\n");
        assert!(text(fresh.next()).contains("id: 0_3"));
        drop(fresh);
        // A reconnect with Last-Event-ID 0_1 gets 2 and 3 again.
        let mut resumed = hub.open(Some(1), None, server()).unwrap();
        resumed.next();
        let again = text(resumed.next());
        assert!(again.contains("id: 0_2") && again.contains("id: 0_3"), "{again}");
        hub.close();
        assert!(resumed.next().is_none());
        assert_eq!(hub.open(None, None, server()).err(), Some(OpenError::Closed));
    }

    #[test]
    fn idle_streams_send_comments_and_old_messages_are_dropped() {
        let hub = Arc::new(ListenHub::new(true));
        for n in 0..(MAX_KEPT + 5) {
            hub.send(&json!({"n": n}));
        }
        let mut body = hub.open(None, None, server()).unwrap();
        body.next();
        let all = text(body.next());
        assert_eq!(all.matches("event: message").count(), MAX_KEPT);
        assert!(all.starts_with("event: message\nid: 0_6\n"), "the oldest five were dropped");
        assert_eq!(text(body.next()), ": keep-alive\n\n");
        let disabled = ListenHub::new(false);
        disabled.send(&json!({}));
        assert!(disabled.state.lock().kept.is_empty());
    }
}
