//! The store's event stream against the demo server: service state changes,
//! a tool list change (announced after the index holds the new tool), log
//! messages with their level, progress of a call that asked for it; the
//! callback runs on the dispatch thread, never a reader, and can be replaced.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::demo_stdio;
use mcpstore::{CallOptions, Event, EventQueue, LogLevel, ServiceState, Store};
use parking_lot::Mutex;
use serde_json::json;

fn next(queue: &EventQueue, what: &str, matches: impl Fn(&Event) -> bool) -> Event {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match queue.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
            Ok(e) if matches(&e) => return e,
            Ok(_) => {}
            Err(e) => panic!("no {what}: {e}"),
        }
    }
}

#[test]
fn events_reach_the_callback_and_the_queues() {
    common::bounded(Duration::from_secs(60), || {
        let store = Store::builder().pool(common::test_pool()).build().unwrap();
        let seen: Arc<Mutex<Vec<(String, Event)>>> = Arc::default();
        let sink = seen.clone();
        store.on_event(move |e| {
            let thread = std::thread::current().name().unwrap_or("").to_owned();
            sink.lock().push((thread, e.clone()));
        });
        let queue = store.event_queue();
        store.add_service("demo", demo_stdio(&[])).unwrap();
        let state = next(&queue, "service state", |e| matches!(e, Event::ServiceState { .. }));
        assert!(
            matches!(&state, Event::ServiceState { service, state: ServiceState::Healthy | ServiceState::Warming | ServiceState::Degraded, .. } if service == "demo"),
            "{state:?}"
        );
        assert_eq!(state.to_json()["type"], "service_state");

        // A new tool: the event comes once the index resolves it.
        store.call_tool("demo.add_tool", json!({"name": "fresh"})).unwrap();
        next(&queue, "tools_list_changed", |e| matches!(e, Event::ToolsListChanged { .. }));
        assert!(store.resolve_tool("demo.fresh").is_ok(), "the index holds the new tool");

        // Log messages, filtered by the level set.
        store.set_log_level(Some("demo"), LogLevel::Warning).unwrap();
        store.call_tool("demo.log", json!({"level": "info", "message": "too quiet"})).unwrap();
        store.call_tool("demo.log", json!({"level": "error", "message": "loud enough"})).unwrap();
        let log = next(&queue, "log", |e| matches!(e, Event::Log { .. }));
        match &log {
            Event::Log { service, level, logger, data } => {
                assert_eq!(
                    (service.as_str(), *level, logger.as_deref()),
                    ("demo", LogLevel::Error, Some("demo"))
                );
                assert_eq!(data, "loud enough", "the info message was filtered by the server");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(log.to_json()["level"], "error");

        // Progress of a call that asked for it.
        let options = CallOptions { progress: Some(Arc::new(|_| {})), ..Default::default() };
        store.call_tool_with("demo.sleep", json!({"ms": 50}), &options).unwrap();
        next(&queue, "progress", |e| matches!(e, Event::Progress { .. }));

        // The callback saw the same events, on the dispatch thread.
        common::eventually(Duration::from_secs(10), "the callback to catch up", || {
            seen.lock().iter().any(|(_, e)| matches!(e, Event::Progress { .. }))
        });
        let seen = seen.lock();
        assert!(
            seen.iter().all(|(thread, _)| thread == "mcps-dispatch"),
            "{:?}",
            seen.iter().map(|s| &s.0).collect::<Vec<_>>()
        );
        assert!(seen.iter().any(|(_, e)| matches!(e, Event::ToolsListChanged { .. })));
        assert!(seen.iter().any(|(_, e)| matches!(e, Event::Log { .. })));
        assert_eq!(queue.dropped(), 0);
        assert_eq!(store.stats().events_dropped, 0);
    });
}

#[test]
fn a_cleared_callback_gets_nothing_more_and_queues_end_with_the_store() {
    common::bounded(Duration::from_secs(60), || {
        let store = Store::builder().pool(common::test_pool()).build().unwrap();
        store.add_service("demo", demo_stdio(&[])).unwrap();
        assert!(store.wait_ready(Duration::from_secs(20)).is_empty());
        let count = Arc::new(Mutex::new(0));
        let c = count.clone();
        store.on_event(move |_| *c.lock() += 1);
        store.clear_event_callback();
        let queue = store.event_queue();
        store.call_tool("demo.add_tool", json!({"name": "another"})).unwrap();
        next(&queue, "tools_list_changed", |e| matches!(e, Event::ToolsListChanged { .. }));
        assert_eq!(*count.lock(), 0, "the cleared callback ran");
        drop(store);
        // What was queued before the store closed is still delivered; then the queue says closed.
        let end = loop {
            match queue.recv_timeout(Duration::from_secs(5)) {
                Ok(_) => continue,
                Err(e) => break e,
            }
        };
        assert!(matches!(end, mcpstore::Error::Closed { .. }), "{end:?}");
    });
}
