//! The listening stream (GET) over real sockets: messages that belong to no
//! request, one stream per session, resuming after an event id, dropping
//! streams, and `--no-listen-stream`.

use std::io::{ErrorKind, Read};

use super::*;

/// Opens the session's listening stream on a connection of its own; the
/// response head (and, on 200, the priming event) is read.
fn open_listen(addr: SocketAddr, sid: &str, last: Option<&str>) -> (Client, Resp) {
    let mut c = Client::new(addr);
    let mut headers = vec![("Mcp-Session-Id", sid)];
    if let Some(id) = last {
        headers.push(("Last-Event-ID", id));
    }
    c.write("GET", &headers, "");
    let head = c.read_head();
    if head.status == 200 {
        let priming = c.chunk().expect("a priming event");
        assert!(priming.starts_with("id: 0_"), "{priming:?}");
    }
    (c, head)
}

/// Reads chunks until one holds `needle` (keep-alive comments are skipped).
fn wait_for(c: &mut Client, needle: &str) -> String {
    let deadline = Instant::now() + READ_LIMIT;
    while Instant::now() < deadline {
        let chunk = c.chunk().expect("the stream ended");
        if chunk.contains(needle) {
            return chunk;
        }
    }
    panic!("{needle:?} never came");
}

/// Whether the server closed the connection (EOF or reset) within the limit.
fn was_closed(c: &mut Client) -> bool {
    let mut rest = Vec::new();
    match c.r.read_to_end(&mut rest) {
        Ok(_) => true,
        Err(e) => matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe),
    }
}

fn stats(c: &mut Client, sid: &str) -> Value {
    call(c, sid, 90, "stats", json!({})).messages()[0]["result"]["structuredContent"].clone()
}

#[test]
fn background_messages_reach_the_listening_stream() {
    let h = spawn_http(DemoOptions::default(), "127.0.0.1:0").unwrap();
    let mut c = Client::new(h.addr());
    let sid = init(&mut c);
    let (mut listen, head) = open_listen(h.addr(), &sid, None);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("text/event-stream"));
    let (_, second) = open_listen(h.addr(), &sid, None);
    assert_eq!(second.status, 409, "one listening stream per session");
    let r = call(&mut c, &sid, 2, "notify_later", json!({"kind": "tools", "delay_ms": 20, "name": "late"}));
    assert_eq!(r.messages().len(), 1, "the call's own stream has only its result");
    let event = wait_for(&mut listen, "notifications/tools/list_changed");
    assert!(event.contains("id: 0_1"), "{event:?}");
    let r = call(&mut c, &sid, 3, "write_note", json!({"name": "n", "text": "t"}));
    assert_eq!(r.messages()[0]["result"]["structuredContent"]["created"], true);
    wait_for(&mut listen, "notifications/resources/list_changed");
    // Dropped: the stream's connection closes, and the next GET opens one again.
    let r = call(&mut c, &sid, 4, "drop_listen_streams", json!({}));
    assert_eq!(r.messages()[0]["result"]["content"][0]["text"], "closed 1 listening stream");
    assert!(was_closed(&mut listen));
    // Resuming after the first event replays the second.
    let (mut again, head) = open_listen(h.addr(), &sid, Some("0_1"));
    assert_eq!(head.status, 200);
    wait_for(&mut again, "notifications/resources/list_changed");
    assert_eq!(stats(&mut c, &sid)["listen_streams_opened"], 2);
    // Deleting the session ends its stream (the last chunk; the connection may stay).
    assert_eq!(c.send("DELETE", &[("Mcp-Session-Id", &sid)], "").status, 200);
    let deadline = Instant::now() + READ_LIMIT;
    while again.chunk().is_some() {
        assert!(Instant::now() < deadline, "the stream did not end");
    }
    h.shutdown();
}

#[test]
fn no_listen_stream_answers_405_and_needs_a_session() {
    let h = spawn_http(DemoOptions { no_listen_stream: true, ..Default::default() }, "127.0.0.1:0").unwrap();
    let mut c = Client::new(h.addr());
    let sid = init(&mut c);
    let (_, head) = open_listen(h.addr(), &sid, None);
    assert_eq!(head.status, 405);
    assert_eq!(stats(&mut c, &sid)["listen_streams_opened"], 0);
    h.shutdown();
    let h = spawn_http(DemoOptions::default(), "127.0.0.1:0").unwrap();
    let (_, head) = open_listen(h.addr(), "nope", None);
    assert_eq!(head.status, 404);
    h.shutdown();
}
