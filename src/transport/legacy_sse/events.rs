//! What the reader of a legacy SSE stream does with each event: `message`
//! events carry JSON-RPC messages for the [`Inbound`]; anything malformed is
//! skipped and reported as stray (as stdio does with lines that are not
//! JSON-RPC), and the stream ends only on EOF, a read error or a flood of
//! garbage.

use std::io;

use crate::error::Error;
use crate::protocol::jsonrpc::{parse_messages, snippet};
use crate::transport::Inbound;
use crate::transport::sse::SseEvent;

/// Stray events in a row after which the stream is considered broken: a
/// server that sends nothing but garbage is not an MCP server.
const MAX_STRAY_IN_A_ROW: usize = 100;
/// Stray events logged as warnings; later ones are logged at debug level.
const LOUD_STRAY_EVENTS: usize = 10;

/// Handles the events of one stream, counting strays.
pub(crate) struct EventHandler<'a> {
    service: &'a str,
    inbound: &'a dyn Inbound,
    stray_in_a_row: usize,
    stray_total: usize,
}

impl<'a> EventHandler<'a> {
    /// A handler delivering to `inbound`; `service` labels the logs.
    pub(crate) fn new(service: &'a str, inbound: &'a dyn Inbound) -> Self {
        EventHandler { service, inbound, stray_in_a_row: 0, stray_total: 0 }
    }

    /// Handles one event: every JSON-RPC message it carries goes to the
    /// inbound side, and `reply` sends the answers to server requests. `Err`
    /// ends the stream (only after [`MAX_STRAY_IN_A_ROW`] strays).
    pub(super) fn handle(&mut self, event: &SseEvent, reply: &mut dyn FnMut(&[u8])) -> Result<(), Error> {
        match event.event.as_str() {
            "message" | "" => {}
            "endpoint" => {
                log::debug!(target: "mcpstore::sse", "[{}] ignoring a later endpoint event", self.service);
                return Ok(());
            }
            other => {
                // Another kind of event is no message for us, but not garbage either.
                log::debug!(target: "mcpstore::sse", "[{}] ignoring an event of type '{other}'", self.service);
                return Ok(());
            }
        }
        let data = event.data.trim();
        if data.is_empty() {
            return self.stray("(a message event without data)");
        }
        match parse_messages(data.as_bytes()) {
            Ok(messages) => {
                self.stray_in_a_row = 0;
                for message in messages {
                    if let Some(answer) = self.inbound.on_message(message) {
                        reply(&answer);
                    }
                }
                Ok(())
            }
            Err(_) => self.stray(&snippet(data.as_bytes())),
        }
    }

    fn stray(&mut self, start: &str) -> Result<(), Error> {
        self.stray_in_a_row += 1;
        self.stray_total += 1;
        if self.stray_total <= LOUD_STRAY_EVENTS {
            log::warn!(target: "mcpstore::sse", "[{}] skipped an event that is not JSON-RPC: {start}", self.service);
        } else {
            log::debug!(target: "mcpstore::sse", "[{}] skipped an event that is not JSON-RPC: {start}", self.service);
        }
        self.inbound.on_stray(start);
        if self.stray_in_a_row >= MAX_STRAY_IN_A_ROW {
            return Err(Error::Protocol(format!(
                "server '{}' sent {} events in a row that are not JSON-RPC; the last: {start}",
                self.service, self.stray_in_a_row
            )));
        }
        Ok(())
    }
}

/// Reads events with `next` and handles them until the stream ends; returns
/// why it ended, for [`Inbound::on_closed`].
pub(crate) fn pump(
    handler: &mut EventHandler<'_>,
    mut next: impl FnMut() -> io::Result<Option<SseEvent>>,
    reply: &mut dyn FnMut(&[u8]),
    max_message_bytes: usize,
) -> Error {
    loop {
        match next() {
            Ok(Some(event)) => {
                if let Err(e) = handler.handle(&event, reply) {
                    return e;
                }
            }
            Ok(None) => {
                return Error::Closed {
                    message: format!("the SSE stream of server '{}' ended", handler.service),
                    may_have_run: true,
                };
            }
            Err(e) => return read_error(e, handler.service, max_message_bytes),
        }
    }
}

/// The error that ends a stream whose read failed.
fn read_error(e: io::Error, service: &str, max_message_bytes: usize) -> Error {
    if e.kind() == io::ErrorKind::InvalidData && e.to_string().contains("too large") {
        return Error::ResponseTooLarge { limit: max_message_bytes }; // the SSE reader's limit
    }
    // ureq hands its errors out wrapped in io::Error; unwrap them to tell them apart.
    match ureq::Error::from(e) {
        ureq::Error::BodyExceedsLimit(_) => Error::ResponseTooLarge { limit: max_message_bytes },
        other => Error::Closed {
            message: format!("the SSE stream of server '{service}' failed: {other}"),
            may_have_run: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::io::BufReader;

    use parking_lot::Mutex;

    use super::*;
    use crate::protocol::Incoming;
    use crate::transport::sse::SseReader;

    /// Records what the reader hands over; answers server requests with `{"ok":1}`.
    #[derive(Default)]
    struct Recorder {
        messages: Mutex<Vec<String>>,
        strays: Mutex<Vec<String>>,
    }

    impl Inbound for Recorder {
        fn on_message(&self, message: Incoming) -> Option<Vec<u8>> {
            let (text, answer) = match message {
                Incoming::Response { id, .. } => (format!("response {id}"), None),
                Incoming::Request { id, method, .. } => {
                    (format!("request {id} {method}"), Some(b"{\"ok\":1}".to_vec()))
                }
                Incoming::Notification { method, .. } => (format!("notification {method}"), None),
                Incoming::UnattributedError(e) => (format!("error {}", e.code), None),
            };
            self.messages.lock().push(text);
            answer
        }

        fn on_closed(&self, _error: Error) {}

        fn on_stray(&self, line: &str) {
            self.strays.lock().push(line.to_owned());
        }
    }

    /// Runs `stream` through the reader; returns what ended it and the replies sent.
    fn run(stream: &str, recorder: &Recorder, limit: usize) -> (Error, Vec<String>) {
        let mut reader = SseReader::new(BufReader::new(stream.as_bytes()), limit);
        let mut handler = EventHandler::new("t", recorder);
        let mut replies = Vec::new();
        let end = pump(
            &mut handler,
            || reader.next_event(),
            &mut |r: &[u8]| replies.push(String::from_utf8_lossy(r).into_owned()),
            limit,
        );
        (end, replies)
    }

    #[test]
    fn messages_reach_the_inbound_and_requests_are_answered() {
        let stream = "event: endpoint\ndata: /m?s=1\n\n\
            : keep-alive\n\n\
            event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n\
            data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}\n\n\
            event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"method\":\"ping\"}\n\n\
            event: message\ndata: [{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}},\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}]\n\n";
        let recorder = Recorder::default();
        let (end, replies) = run(stream, &recorder, 1 << 20);
        assert_eq!(
            *recorder.messages.lock(),
            [
                "response 1",
                "notification notifications/tools/list_changed",
                "request \"s1\" ping",
                "response 2",
                "response 3"
            ]
        );
        assert_eq!(replies, ["{\"ok\":1}"]);
        assert!(recorder.strays.lock().is_empty());
        assert!(matches!(end, Error::Closed { may_have_run: true, .. }), "{end}");
        assert!(end.to_string().contains("SSE stream of server 't' ended"), "{end}");
    }

    #[test]
    fn malformed_events_are_skipped_as_strays() {
        let stream = "event: message\ndata: not json\n\n\
            event: message\ndata:\n\n\
            event: message\ndata: {\"jsonrpc\":\"2.0\"}\n\n\
            event: custom\ndata: whatever\n\n\
            event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}\n\n";
        let recorder = Recorder::default();
        let (end, _) = run(stream, &recorder, 1 << 20);
        assert_eq!(*recorder.messages.lock(), ["response 7"], "the stream goes on after strays");
        let strays = recorder.strays.lock();
        assert_eq!(strays.len(), 3, "{strays:?}");
        assert!(strays[0].contains("not json"), "{strays:?}");
        assert!(matches!(end, Error::Closed { .. }), "{end}");
    }

    #[test]
    fn a_flood_of_garbage_ends_the_stream() {
        let stream = "data: garbage\n\n".repeat(MAX_STRAY_IN_A_ROW + 5);
        let recorder = Recorder::default();
        let (end, _) = run(&stream, &recorder, 1 << 20);
        assert!(matches!(end, Error::Protocol(_)), "{end}");
        assert_eq!(recorder.strays.lock().len(), MAX_STRAY_IN_A_ROW);
    }

    #[test]
    fn an_oversized_message_ends_the_stream_with_the_limit() {
        let stream = format!("event: message\ndata: {{\"x\":\"{}\"}}\n\n", "y".repeat(200));
        let recorder = Recorder::default();
        let (end, _) = run(&stream, &recorder, 100);
        assert!(matches!(end, Error::ResponseTooLarge { limit: 100 }), "{end}");
    }
}
