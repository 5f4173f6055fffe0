//! Session-level checks that need the crate's internals: events reach the
//! pool's handler (the store turns them into index refreshes and user events).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{EventHandler, Session, SessionContext, SessionEvent, SessionOptions};
use crate::call_options::CallOptions;
use crate::config::{HttpConfig, StdioConfig, TransportConfig};

/// The demo server binary, built beside the test binary by `cargo test` at the workspace root.
fn demo_bin() -> String {
    let exe = std::env::current_exe().expect("test binary path");
    let bin = exe.parent().and_then(|d| d.parent()).expect("target dir").join("mcpstore-demo-server");
    assert!(
        bin.exists(),
        "the demo server is not built at {}: run `cargo test` at the workspace root",
        bin.display()
    );
    bin.to_string_lossy().into_owned()
}

fn list_changed_reaches_the_handler(transport: &TransportConfig) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let handler: EventHandler = Arc::new(move |e: &SessionEvent| {
        if matches!(e, SessionEvent::ToolsListChanged) {
            let _ = tx.send(());
        }
    });
    let context = SessionContext { events: Some(handler), ..Default::default() };
    let s = Session::open("test", transport, SessionOptions::default(), context).expect("connect");
    // In the stateless era (what `auto` finds on the demo) the change goes to
    // subscriptions/listen: let the server see the subscription first.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while s.is_modern() && std::time::Instant::now() < deadline {
        let stats = s.call_tool("stats", json!({}), &CallOptions::default()).expect("stats");
        if stats.structured_content.as_ref().is_some_and(|st| st["listen_streams_opened"] != 0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = s.call_tool("notify_list_changed", json!({}), &CallOptions::default()).expect("call");
    assert!(!r.is_error);
    rx.recv_timeout(Duration::from_secs(5)).expect("ToolsListChanged event within 5 s");
    s.close();
}

#[test]
fn list_changed_reaches_the_event_handler_over_stdio() {
    list_changed_reaches_the_handler(&TransportConfig::Stdio(StdioConfig::new(
        demo_bin(),
        Vec::<String>::new(),
    )));
}

#[test]
fn list_changed_reaches_the_event_handler_over_http_sse() {
    let server = mcpstore_demo_server::spawn_http(Default::default(), "127.0.0.1:0").expect("demo http");
    list_changed_reaches_the_handler(&TransportConfig::Http(HttpConfig::new(server.url())));
}
