//! Server-Sent Events: event framing and the SSE response of a POST.
//!
//! A POST answered with SSE is buffered until the first message that must
//! go out before the response (a notification or a server request); then it
//! switches to chunked streaming. A plain request/response thus costs one
//! write with a Content-Length.

use std::cell::RefCell;
use std::io::{self, Write};

use serde_json::Value;

use super::dispatch::Outbound;
use super::http_wire::{LAST_CHUNK, chunk, head};

/// The garbage payload of `--garbage-after`.
pub const GARBAGE: &[u8] = b"this is not json <<garbage>>";
/// Content type of SSE responses.
pub const EVENT_STREAM: &str = "text/event-stream";

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

struct State<'a, W: Write> {
    w: &'a mut W,
    headers: Vec<(String, String)>,
    keep_alive: bool,
    streaming: bool,
    pending: Vec<u8>,
    stream: Option<u64>,
    next_seq: u64,
    failed: bool,
}

impl<W: Write> State<'_, W> {
    fn next_id(&mut self) -> Option<String> {
        let stream = self.stream?;
        self.next_seq += 1;
        Some(event_id(stream, self.next_seq))
    }

    fn head(&self, content_type: &str, body_len: Option<usize>) -> Vec<u8> {
        let mut hs: Vec<(&str, &str)> = vec![("Content-Type", content_type), ("Cache-Control", "no-cache")];
        hs.extend(self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        head(200, &hs, body_len, self.keep_alive)
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.failed {
            return;
        }
        if self.w.write_all(bytes).and_then(|()| self.w.flush()).is_err() {
            // The client went away; disconnection is not cancellation, so
            // the request still runs to completion.
            self.failed = true;
        }
    }

    fn start_streaming(&mut self) {
        if self.streaming {
            return;
        }
        self.streaming = true;
        let mut buf = self.head(EVENT_STREAM, None);
        let pending = std::mem::take(&mut self.pending);
        chunk(&mut buf, &pending);
        self.write(&buf);
    }

    fn result(&self) -> io::Result<bool> {
        if self.failed { Err(io::ErrorKind::BrokenPipe.into()) } else { Ok(self.keep_alive) }
    }
}

/// The SSE response of one POST; also the [`Outbound`] of its requests.
pub struct SseResponse<'a, W: Write> {
    state: RefCell<State<'a, W>>,
}

impl<'a, W: Write> SseResponse<'a, W> {
    /// A response on `w` with extra `headers`. With `stream` Some, every
    /// event carries an id `STREAM_SEQ` and a priming event comes first.
    pub fn new(w: &'a mut W, headers: Vec<(String, String)>, keep_alive: bool, stream: Option<u64>) -> Self {
        let pending = stream.map(|s| priming(&event_id(s, 0), None)).unwrap_or_default();
        SseResponse {
            state: RefCell::new(State {
                w,
                headers,
                keep_alive,
                streaming: false,
                pending,
                stream,
                next_seq: 0,
                failed: false,
            }),
        }
    }

    /// Ends the stream with `last` as the final event; returns whether the
    /// connection can be kept alive.
    pub fn finish(self, last: &Value) -> io::Result<bool> {
        let data = serde_json::to_vec(last).map_err(io::Error::other)?;
        self.finish_with(Some(&data))
    }

    /// Ends the stream without a further event (a cancelled request). If
    /// nothing was sent yet, answers `204 No Content` instead.
    pub fn finish_silent(self) -> io::Result<bool> {
        let mut st = self.state.into_inner();
        if st.streaming {
            st.write(LAST_CHUNK);
        } else {
            let mut hs: Vec<(&str, &str)> = Vec::new();
            hs.extend(st.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            let buf = head(204, &hs, Some(0), st.keep_alive);
            st.write(&buf);
        }
        st.result()
    }

    /// Ends with the garbage payload: a non-JSON `application/json` body if
    /// nothing was streamed yet, else a non-JSON event.
    pub fn finish_garbage(self) -> io::Result<bool> {
        let streaming = self.state.borrow().streaming;
        if streaming {
            return self.finish_with(Some(GARBAGE));
        }
        let mut st = self.state.into_inner();
        let mut buf = st.head("application/json", Some(GARBAGE.len()));
        buf.extend_from_slice(GARBAGE);
        st.write(&buf);
        st.result()
    }

    fn finish_with(self, data: Option<&[u8]>) -> io::Result<bool> {
        let mut st = self.state.into_inner();
        let ev = data.map(|d| {
            let id = st.next_id();
            event(id.as_deref(), d)
        });
        if st.streaming {
            let mut buf = Vec::new();
            if let Some(ev) = &ev {
                chunk(&mut buf, ev);
            }
            buf.extend_from_slice(LAST_CHUNK);
            st.write(&buf);
        } else {
            let mut body = std::mem::take(&mut st.pending);
            if let Some(ev) = &ev {
                body.extend_from_slice(ev);
            }
            let mut buf = st.head(EVENT_STREAM, Some(body.len()));
            buf.extend_from_slice(&body);
            st.write(&buf);
        }
        st.result()
    }
}

impl<W: Write> Outbound for SseResponse<'_, W> {
    fn send(&self, msg: &Value) {
        let Ok(data) = serde_json::to_vec(msg) else {
            return;
        };
        let mut st = self.state.borrow_mut();
        st.start_streaming();
        let id = st.next_id();
        let mut buf = Vec::new();
        chunk(&mut buf, &event(id.as_deref(), &data));
        st.write(&buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn single_write_without_notifications() {
        let mut out = Vec::new();
        let sse = SseResponse::new(&mut out, vec![("Mcp-Session-Id".into(), "s1".into())], true, None);
        assert!(sse.finish(&json!({"id": 1})).unwrap());
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"));
        assert!(text.contains("Mcp-Session-Id: s1\r\n"));
        assert!(text.contains("Content-Length: 31\r\n"));
        assert!(text.ends_with("\r\n\r\nevent: message\ndata: {\"id\":1}\n\n"));
    }

    #[test]
    fn streams_after_a_notification_with_ids() {
        let mut out = Vec::new();
        let sse = SseResponse::new(&mut out, vec![], true, Some(7));
        sse.send(&json!({"method": "n"}));
        sse.finish(&json!({"id": 1})).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Transfer-Encoding: chunked"));
        assert!(text.contains("id: 7_0\ndata: \n\n"));
        assert!(text.contains("id: 7_1\ndata: {\"method\":\"n\"}"));
        assert!(text.contains("id: 7_2\ndata: {\"id\":1}"));
        assert!(text.ends_with("\r\n0\r\n\r\n"));
    }

    #[test]
    fn silent_and_garbage() {
        let mut out = Vec::new();
        SseResponse::new(&mut out, vec![], false, None).finish_silent().unwrap();
        assert!(String::from_utf8(out).unwrap().starts_with("HTTP/1.1 204 No Content\r\n"));
        let mut out = Vec::new();
        SseResponse::new(&mut out, vec![], true, None).finish_garbage().unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Content-Type: application/json"));
        assert!(text.ends_with("this is not json <<garbage>>"));
    }

    #[test]
    fn event_ids_round_trip() {
        assert_eq!(parse_event_id(&event_id(3, 9)), Some((3, 9)));
        assert_eq!(parse_event_id("x"), None);
        assert_eq!(priming("1_0", Some(100)), b"id: 1_0\nretry: 100\ndata: \n\n");
    }
}
