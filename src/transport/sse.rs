//! A reader of `text/event-stream` bodies (Server-Sent Events).

use std::io::{self, BufRead};

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
    /// Wraps a reader; an event larger than `max_event_bytes` is an error.
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
            let n = self.reader.read_until(b'\n', &mut self.line)?;
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
}
