//! A reader of `text/event-stream` bodies (Server-Sent Events).

use std::io::{self, BufRead};

use super::read_line_limited;

/// Room for a field name and the line ending on top of the data a line may carry.
const LINE_OVERHEAD: usize = 64;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SseEvent {
    /// The `event:` field; empty means `message`.
    pub event: String,
    /// The `data:` lines joined with newlines.
    pub data: String,
    /// The `id:` field of this event, if it had one.
    pub id: Option<String>,
}

/// Reads events from a buffered byte stream, tracking `id:` and `retry:`.
pub struct SseReader<R> {
    reader: R,
    line: Vec<u8>,
    /// The last event id seen (sent back as `Last-Event-ID` to resume).
    pub last_event_id: Option<String>,
    /// The reconnection delay the server asked for, in milliseconds.
    pub retry_ms: Option<u64>,
    max_event_bytes: usize,
}

impl<R: BufRead> SseReader<R> {
    /// Wraps a reader; an event (or any line) larger than `max_event_bytes` is an error.
    pub fn new(reader: R, max_event_bytes: usize) -> Self {
        SseReader {
            reader,
            line: Vec::with_capacity(256),
            last_event_id: None,
            retry_ms: None,
            max_event_bytes,
        }
    }

    /// The next event with data, or `None` at the end of the stream.
    pub fn next_event(&mut self) -> io::Result<Option<SseEvent>> {
        let mut event = SseEvent::default();
        let mut has_data = false;
        loop {
            self.line.clear();
            // Every line is bounded (comments too): a server streaming without
            // newlines must not grow this buffer without limit.
            let limit = self.max_event_bytes.saturating_add(LINE_OVERHEAD);
            let n = read_line_limited(&mut self.reader, &mut self.line, limit)?;
            if n == 0 {
                // A final event without its blank line is dropped, as the spec says.
                return Ok(None);
            }
            let mut line: &[u8] = &self.line;
            if line.ends_with(b"\n") {
                line = &line[..line.len() - 1];
            }
            if line.ends_with(b"\r") {
                line = &line[..line.len() - 1];
            }
            if line.is_empty() {
                if has_data {
                    return Ok(Some(event));
                }
                event = SseEvent::default();
                continue;
            }
            if line[0] == b':' {
                continue; // comment / keep-alive
            }
            let (field, value) = match line.iter().position(|b| *b == b':') {
                Some(i) => {
                    let v = &line[i + 1..];
                    (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
                }
                None => (line, &b""[..]),
            };
            let value = String::from_utf8_lossy(value);
            match field {
                b"data" => {
                    if has_data {
                        event.data.push('\n');
                    }
                    event.data.push_str(&value);
                    has_data = true;
                    if event.data.len() > self.max_event_bytes {
                        return Err(io::Error::new(io::ErrorKind::InvalidData, "event too large"));
                    }
                }
                b"event" => event.event = value.into_owned(),
                b"id" if !value.contains('\0') => {
                    event.id = Some(value.to_string());
                    self.last_event_id = Some(value.into_owned());
                }
                b"retry" => {
                    if let Ok(ms) = value.trim().parse::<u64>() {
                        self.retry_ms = Some(ms);
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn parses_events_ids_retry_and_comments() {
        let text = ": hello\r\nid: 1\r\nretry: 250\r\ndata:\r\n\r\nevent: message\ndata: {\"a\":\ndata: 1}\nid: 2\n\ndata: tail-without-blank";
        let mut r = SseReader::new(text.as_bytes(), 1 << 20);
        let e = r.next_event().unwrap().unwrap();
        assert_eq!(e.data, "");
        assert_eq!(e.id.as_deref(), Some("1"));
        assert_eq!(r.retry_ms, Some(250));
        let e = r.next_event().unwrap().unwrap();
        assert_eq!(e.data, "{\"a\":\n1}");
        assert_eq!(e.event, "message");
        assert_eq!(r.last_event_id.as_deref(), Some("2"));
        assert!(r.next_event().unwrap().is_none());
    }

    #[test]
    fn oversized_event_is_an_error() {
        let text = format!("data: {}\n\n", "x".repeat(100));
        let mut r = SseReader::new(text.as_bytes(), 10);
        assert!(r.next_event().is_err());
    }

    /// A stream without newlines fails once a line passes the limit instead of
    /// buffering it all (before the fix the whole stream was buffered, then ignored).
    #[test]
    fn endless_lines_are_bounded() {
        const STREAM: u64 = 64 << 20;
        for prefix in [&b"data: "[..], b": ", b"", b"event: "] {
            let endless =
                io::BufReader::new(io::Cursor::new(prefix.to_vec()).chain(io::repeat(b'x').take(STREAM)));
            let mut r = SseReader::new(endless, 1024);
            let err = r.next_event().unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
            assert!(r.line.capacity() < 1 << 20, "buffered {} bytes", r.line.capacity());
        }
    }

    #[test]
    fn lines_up_to_the_limit_pass() {
        let text = format!(": {}\nid: 7\ndata: {}\n\n", "c".repeat(1000), "d".repeat(1024));
        let mut r = SseReader::new(text.as_bytes(), 1024);
        let e = r.next_event().unwrap().unwrap();
        assert_eq!(e.data.len(), 1024);
        assert_eq!(e.id.as_deref(), Some("7"));
    }
}
