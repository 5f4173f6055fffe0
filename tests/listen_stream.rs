//! The Streamable HTTP listening stream (GET) against the demo server
//! process: a `list_changed` the server sends on it while no call is running
//! refreshes the store's index (tools, prompts, resources) before the event
//! arrives; a stream the server kills is opened again (with what was sent
//! meanwhile delivered); a server without one (`--no-listen-stream`, 405)
//! shows `NotOffered` and is not asked again.

mod common;

use std::time::{Duration, Instant};

use common::{DemoHttp, demo_http};
use mcpstore::{Event, EventQueue, ListenState, ListenStatus, PoolConfig, Store};
use serde_json::{Value, json};

/// How long a test waits for something the server sends on its own.
const WAIT: Duration = Duration::from_secs(15);

/// A store with one session to `server` ("web"), ready.
fn store_for(server: &DemoHttp) -> Store {
    let pool = PoolConfig { min_connections: 1, max_connections: 1, ..common::test_pool() };
    let store = Store::builder().pool(pool).build().unwrap();
    // The GET listening stream is the handshake era's (2026-07-28 has
    // subscriptions/listen, without queueing or resumption: tests/demo_modern_era.rs).
    store.add_service("web", common::pinned(server.config(), common::HANDSHAKE_ERA)).unwrap();
    assert!(store.wait_ready(Duration::from_secs(30)).is_empty());
    store
}

/// The listening stream of web's one session.
fn listen_status(store: &Store) -> Option<ListenStatus> {
    store.list_services().into_iter().find(|s| s.name == "web").and_then(|s| s.listening.into_iter().next())
}

/// Waits until the stream's status satisfies `ok`; the status then.
fn wait_listen(store: &Store, ok: impl Fn(&ListenStatus) -> bool) -> ListenStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        let status = listen_status(store);
        if let Some(s) = status.as_ref().filter(|s| ok(s)) {
            return s.clone();
        }
        assert!(Instant::now() < deadline, "the listening stream never got there: {status:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The first event `wanted` picks (others are skipped).
fn wait_event(queue: &EventQueue, wanted: impl Fn(&Event) -> bool) -> Event {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match queue.recv_timeout(left) {
            Ok(e) if wanted(&e) => return e,
            Ok(_) => {}
            Err(e) => panic!("the event never came: {e}"),
        }
    }
}

fn text(store: &Store, tool: &str, args: Value) -> String {
    let r = store.call_tool(tool, args).unwrap();
    assert!(!r.is_error, "{tool}: {}", r.text());
    r.text()
}

fn server_stats(store: &Store) -> Value {
    store.call_tool("web.stats", json!({})).unwrap().structured_content.clone().unwrap_or(Value::Null)
}

/// Asks the server to add `name` of `kind` after `delay_ms` and then send
/// `notifications/<kind>/list_changed` on the listening stream; returns at once.
fn notify_later(store: &Store, kind: &str, name: &str, delay_ms: u64) {
    let said = text(store, "web.notify_later", json!({"kind": kind, "delay_ms": delay_ms, "name": name}));
    assert!(said.starts_with("will send"), "{said}");
}

#[test]
fn a_list_changed_with_no_call_running_refreshes_each_index() {
    common::bounded(Duration::from_secs(120), || {
        let server = demo_http(&[]);
        let store = store_for(&server);
        wait_listen(&store, |s| s.state == ListenState::Open);
        let queue = store.event_queue();
        let names = |store: &Store| -> Vec<String> {
            store.list_tools(Some("web")).unwrap().into_iter().map(|(_, t)| t.name.clone()).collect()
        };
        assert!(!names(&store).contains(&"late_tool".to_owned()));

        // The call has returned when the server sends: only the listening stream carries it.
        notify_later(&store, "tools", "late_tool", 300);
        let e = wait_event(&queue, |e| matches!(e, Event::ToolsListChanged { .. }));
        assert_eq!(e.service(), "web");
        assert!(names(&store).contains(&"late_tool".to_owned()), "the index was refreshed before the event");
        assert_eq!(text(&store, "late_tool", json!({"message": "found"})), "found");

        notify_later(&store, "prompts", "late_prompt", 100);
        wait_event(&queue, |e| matches!(e, Event::PromptsListChanged { service } if service == "web"));
        let prompts = store.list_prompts(Some("web")).unwrap();
        assert!(prompts.iter().any(|(_, p)| p.name == "late_prompt"), "{prompts:?}");

        notify_later(&store, "resources", "late_note", 100);
        wait_event(&queue, |e| matches!(e, Event::ResourcesListChanged { service } if service == "web"));
        let resources = store.list_resources(Some("web")).unwrap();
        assert!(resources.iter().any(|(_, r)| r.uri == "demo://notes/late_note"), "{resources:?}");
        assert_eq!(store.resolve_resource("demo://notes/late_note").unwrap(), "web");

        let stats = server_stats(&store);
        assert_eq!(stats["listen_streams_opened"], 1, "one session, one stream: {stats}");
        assert_eq!(listen_status(&store).unwrap().reconnects, 0);
    });
}

#[test]
fn a_killed_listening_stream_reconnects_and_gets_what_was_sent_meanwhile() {
    common::bounded(Duration::from_secs(120), || {
        let server = demo_http(&[]);
        let store = store_for(&server);
        wait_listen(&store, |s| s.state == ListenState::Open);
        let queue = store.event_queue();

        // The server closes the stream abruptly, then (the client not yet back)
        // a list change happens: the server keeps it for the next stream.
        assert_eq!(text(&store, "web.drop_listen_streams", json!({})), "closed 1 listening stream");
        notify_later(&store, "tools", "while_away", 0);
        let e = wait_event(&queue, |e| matches!(e, Event::ToolsListChanged { .. }));
        assert_eq!(e.service(), "web");
        let status = wait_listen(&store, |s| s.state == ListenState::Open && s.reconnects >= 1);
        assert_eq!(status.reconnects, 1, "one reconnect, not a loop: {status:?}");
        assert!(store.list_tools(Some("web")).unwrap().iter().any(|(_, t)| t.name == "while_away"));

        // The new stream carries what comes next.
        notify_later(&store, "prompts", "after_reconnect", 50);
        wait_event(&queue, |e| matches!(e, Event::PromptsListChanged { .. }));
        assert_eq!(server_stats(&store)["listen_streams_opened"], 2);

        // Killed again: reconnects again (with back-off, but it does come back).
        assert_eq!(text(&store, "web.drop_listen_streams", json!({})), "closed 1 listening stream");
        let status = wait_listen(&store, |s| s.state == ListenState::Open && s.reconnects >= 2);
        assert!(status.last_error.is_some(), "the state says why it ended: {status:?}");
        notify_later(&store, "resources", "third_stream", 50);
        wait_event(&queue, |e| matches!(e, Event::ResourcesListChanged { .. }));
        assert_eq!(server_stats(&store)["listen_streams_opened"], 3);
    });
}

#[test]
fn a_server_without_a_listening_stream_is_not_asked_again() {
    common::bounded(Duration::from_secs(60), || {
        let server = demo_http(&["--no-listen-stream"]);
        let store = store_for(&server);
        let status = wait_listen(&store, |s| s.state != ListenState::Connecting);
        assert_eq!(status.state, ListenState::NotOffered, "{status:?}");
        assert_eq!(text(&store, "web.echo", json!({"message": "still fine"})), "still fine");
        std::thread::sleep(Duration::from_millis(1500));
        let status = listen_status(&store).unwrap();
        assert_eq!((status.state, status.reconnects), (ListenState::NotOffered, 0), "{status:?}");
        assert_eq!(server_stats(&store)["listen_streams_opened"], 0);
    });
}
