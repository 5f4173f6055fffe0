//! Server-Sent Events: event framing and the SSE answers of the endpoint.
//!
//! A quick request (see [`Server::is_quick`]) runs on the connection's
//! thread and its answer goes out complete, with a Content-Length, events
//! and result together. A slow one (`sleep`, `ping_client`, `--delay-ms`,
//! `--serial`) runs on a thread of its own: if it finishes before sending
//! anything, the answer is still one complete body; once it sends a
//! message (progress, a ping to the client) the answer becomes a chunked
//! stream that delivers each event as it happens.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use serde_json::Value;

use super::dispatch::{Outbound, Server};
use super::http_reply::{self, Reply};
use super::http_session::StreamLog;

/// The garbage payload of `--garbage-after`.
pub const GARBAGE: &[u8] = b"this is not json <<garbage>>";
/// Content type of SSE responses.
pub const EVENT_STREAM: &str = "text/event-stream";
/// How often a waiting stream looks at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// One `message` event carrying `data` (a JSON text without newlines).
pub fn event(id: Option<&str>, data: &[u8]) -> Vec<u8> {
    let mut e = Vec::with_capacity(data.len() + 48);
    e.extend_from_slice(b"event: message\n");
    if let Some(id) = id {
        e.extend_from_slice(b"id: ");
        e.extend_from_slice(id.as_bytes());
        e.push(b'\n');
    }
    e.extend_from_slice(b"data: ");
    e.extend_from_slice(data);
    e.extend_from_slice(b"\n\n");
    e
}

/// A priming event: an id, optionally a `retry`, and empty data.
pub fn priming(id: &str, retry_ms: Option<u64>) -> Vec<u8> {
    let mut e = format!("id: {id}\n");
    if let Some(ms) = retry_ms {
        e.push_str(&format!("retry: {ms}\n"));
    }
    e.push_str("data: \n\n");
    e.into_bytes()
}

/// Event id `STREAM_SEQ` (see [`parse_event_id`]).
pub fn event_id(stream: u64, seq: u64) -> String {
    format!("{stream}_{seq}")
}

/// Parses an event id made by [`event_id`].
pub fn parse_event_id(id: &str) -> Option<(u64, u64)> {
    let (s, q) = id.trim().split_once('_')?;
    Some((s.parse().ok()?, q.parse().ok()?))
}

/// The headers of an SSE response plus `extra`.
pub fn stream_headers(extra: &[(String, String)]) -> Vec<(&str, &str)> {
    let mut hs: Vec<(&str, &str)> = vec![("Content-Type", EVENT_STREAM), ("Cache-Control", "no-cache")];
    hs.extend(http_reply::pairs(extra));
    hs
}

/// How the requests of an SSE answer ended.
pub enum Ending {
    /// This final message (the response of a single request).
    Reply(Value),
    /// `--garbage-after` fired: end with the garbage payload.
    Garbage,
    /// Nothing more (a cancelled request, or a batch whose replies were sent).
    Silent,
}

/// Frames the events of one answer; with a stream number every event gets
/// an id `STREAM_SEQ` and a priming event comes first.
struct Framer {
    stream: Option<u64>,
    seq: u64,
}

impl Framer {
    fn opening(&self) -> Vec<u8> {
        self.stream.map(|s| priming(&event_id(s, 0), None)).unwrap_or_default()
    }

    fn frame(&mut self, data: &[u8]) -> Vec<u8> {
        let id = self.stream.map(|s| {
            self.seq += 1;
            event_id(s, self.seq)
        });
        event(id.as_deref(), data)
    }

    /// The last event for `ending`, if any.
    fn closing(&mut self, ending: Ending) -> Option<Vec<u8>> {
        match ending {
            Ending::Reply(v) => serde_json::to_vec(&v).ok().map(|d| self.frame(&d)),
            Ending::Garbage => Some(self.frame(GARBAGE)),
            Ending::Silent => None,
        }
    }

    /// A complete answer: `events` (already framed) then `ending`.
    fn complete(mut self, events: Vec<u8>, ending: Ending, headers: &[(String, String)]) -> Reply {
        if events.is_empty() {
            match ending {
                Ending::Silent => return http_reply::respond(204, &http_reply::pairs(headers), Vec::new()),
                Ending::Garbage => {
                    return http_reply::json(200, &http_reply::pairs(headers), GARBAGE.to_vec());
                }
                Ending::Reply(_) => {}
            }
        }
        let mut body = self.opening();
        body.extend_from_slice(&events);
        if let Some(last) = self.closing(ending) {
            body.extend_from_slice(&last);
        }
        http_reply::respond(200, &stream_headers(headers), body)
    }
}

/// Collects the messages of requests run on the connection's thread.
pub struct Collected {
    framer: RefCell<Framer>,
    events: RefCell<Vec<u8>>,
}

impl Collected {
    /// An empty answer; `stream` numbers its events (see [`Framer`]).
    pub fn new(stream: Option<u64>) -> Self {
        Collected { framer: RefCell::new(Framer { stream, seq: 0 }), events: RefCell::new(Vec::new()) }
    }

    /// The complete answer.
    pub fn finish(self, ending: Ending, headers: &[(String, String)]) -> Reply {
        self.framer.into_inner().complete(self.events.into_inner(), ending, headers)
    }
}

impl Outbound for Collected {
    fn send(&self, msg: &Value) {
        if let Ok(data) = serde_json::to_vec(msg) {
            let framed = self.framer.borrow_mut().frame(&data);
            self.events.borrow_mut().extend_from_slice(&framed);
        }
    }
}

/// What the request thread hands the connection thread.
enum Piece {
    Message(Vec<u8>),
    End(Ending),
}

/// The request thread's [`Outbound`]: messages go to the connection thread.
struct Forward(Sender<Piece>);

impl Outbound for Forward {
    fn send(&self, msg: &Value) {
        if let Ok(data) = serde_json::to_vec(msg) {
            // The connection thread is gone when the client left; the
            // request still runs to its end (disconnecting is not cancelling).
            let _ = self.0.send(Piece::Message(data));
        }
    }
}

/// Runs `job` on a thread of its own and answers: complete if it ends
/// before sending anything, else as a chunked stream.
pub fn answer_from_thread(
    server: Arc<Server>,
    headers: Vec<(String, String)>,
    stream: Option<u64>,
    job: impl FnOnce(&dyn Outbound) -> Ending + Send + 'static,
) -> Reply {
    let (tx, rx) = crossbeam_channel::unbounded();
    let out = Forward(tx.clone());
    let spawned = std::thread::Builder::new().name("demo-http-call".into()).spawn(move || {
        let ending = job(&out);
        let _ = tx.send(Piece::End(ending));
    });
    if let Err(e) = spawned {
        log::warn!("demo server: cannot start a request thread: {e}");
        return http_reply::text(500, &[], "cannot start a request thread\n");
    }
    let mut framer = Framer { stream, seq: 0 };
    match rx.recv() {
        Ok(Piece::End(ending)) => framer.complete(Vec::new(), ending, &headers),
        Ok(Piece::Message(first)) => {
            let mut opening = framer.opening();
            opening.extend_from_slice(&framer.frame(&first));
            let rest = Live { rx, framer, server, done: false };
            http_reply::streamed(&stream_headers(&headers), std::iter::once(opening).chain(rest))
        }
        Err(_) => http_reply::text(500, &[], "the request thread ended without an answer\n"),
    }
}

/// The rest of a streamed answer, event by event as the request thread
/// sends them.
struct Live {
    rx: Receiver<Piece>,
    framer: Framer,
    server: Arc<Server>,
    done: bool,
}

impl Iterator for Live {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        while !self.done {
            match self.rx.recv_timeout(POLL) {
                Ok(Piece::Message(data)) => return Some(self.framer.frame(&data)),
                Ok(Piece::End(ending)) => {
                    self.done = true;
                    return self.framer.closing(ending);
                }
                Err(RecvTimeoutError::Timeout) if !self.server.is_stopping() => {}
                Err(_) => self.done = true,
            }
        }
        None
    }
}

/// Replays a stored stream (events after `after`) and follows it until it
/// completes: the body of a `GET` with `Last-Event-ID`.
pub struct Replay {
    log: Arc<StreamLog>,
    stream: u64,
    after: u64,
    server: Arc<Server>,
    done: bool,
}

impl Replay {
    /// Stream `stream` of `log`, from after event `after`.
    pub fn new(log: Arc<StreamLog>, stream: u64, after: u64, server: Arc<Server>) -> Self {
        Replay { log, stream, after, server, done: false }
    }
}

impl Iterator for Replay {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        while !self.done && !self.server.is_stopping() {
            let (events, done) = self.log.wait_after(self.after, POLL);
            self.done = done;
            if !events.is_empty() {
                let mut chunk = Vec::new();
                for (seq, data) in events {
                    chunk.extend_from_slice(&event(Some(&event_id(self.stream, seq)), &data));
                    self.after = seq;
                }
                return Some(chunk);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_round_trip() {
        assert_eq!(parse_event_id(&event_id(3, 9)), Some((3, 9)));
        assert_eq!(parse_event_id("x"), None);
        assert_eq!(priming("1_0", Some(100)), b"id: 1_0\nretry: 100\ndata: \n\n");
        assert_eq!(event(Some("1_2"), b"{}"), b"event: message\nid: 1_2\ndata: {}\n\n");
    }

    #[test]
    fn framer_numbers_events_after_the_priming_event() {
        let mut f = Framer { stream: Some(7), seq: 0 };
        assert_eq!(f.opening(), b"id: 7_0\ndata: \n\n");
        assert!(String::from_utf8(f.frame(b"{}")).unwrap().contains("id: 7_1\n"));
        let last = f.closing(Ending::Reply(serde_json::json!({"id": 1}))).unwrap();
        assert!(String::from_utf8(last).unwrap().contains("id: 7_2\ndata: {\"id\":1}"));
        assert!(f.closing(Ending::Silent).is_none());
        let mut plain = Framer { stream: None, seq: 0 };
        assert!(plain.opening().is_empty());
        assert_eq!(plain.frame(b"x"), b"event: message\ndata: x\n\n");
    }
}
