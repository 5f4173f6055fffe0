//! Handlers that fail: one that panics, one that hangs past `handler_timeout`,
//! one that answers what the request did not ask for. Each time the server
//! gets a JSON-RPC error for its request, and the session lives on (the next
//! call is served by the same server process).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{everything_js, node, path_str};
use mcpstore::{
    BatchConfig, CreateMessageRequest, CreateMessageResult, ElicitRequest, ElicitResult, PerformanceConfig,
    PoolConfig, RequestContext, ServiceConfig, Store,
};
use serde_json::{Map, json};

fn everything() -> ServiceConfig {
    ServiceConfig::stdio(path_str(&node()), [path_str(&everything_js()), "stdio".to_owned()])
}

/// A store with one session to server-everything, whose handlers are `builder`'s.
fn store(builder: mcpstore::StoreBuilder) -> Store {
    let mut perf = PerformanceConfig::new();
    perf.pool = PoolConfig { min_connections: 1, max_connections: 1, ..common::test_pool() };
    perf.batch = BatchConfig { handler_timeout: Duration::from_secs(1), ..Default::default() };
    let store = builder.performance(perf).build().expect("store");
    store.add_service("everything", everything()).expect("add");
    assert!(store.wait_ready(Duration::from_secs(30)).is_empty(), "{:?}", store.list_services());
    store
}

/// The session is the same one, and answers.
fn assert_session_lives(store: &Store, opened_before: u64) {
    let r =
        store.call_tool("everything.echo", json!({"message": "still alive"})).expect("echo after the fault");
    assert_eq!(r.text(), "Echo: still alive");
    let stats = &store.pool_stats()["everything"];
    assert_eq!(stats.created, opened_before, "no new session was needed: {stats:?}");
}

/// What the server made of the handler's failure: the tool's error result or the call's error.
fn outcome_text(outcome: mcpstore::Result<mcpstore::ToolOutput>) -> String {
    match outcome {
        Ok(r) => {
            assert!(r.is_error, "the server must not have received an answer: {}", r.text());
            r.text()
        }
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_panicking_sampling_handler_gives_the_server_an_error() {
    common::bounded(Duration::from_secs(60), || {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let handler = move |_: &RequestContext, _: CreateMessageRequest| -> Result<CreateMessageResult, _> {
            seen.fetch_add(1, Ordering::SeqCst);
            panic!("a bug in the host's sampling handler");
        };
        let store = store(Store::builder().sampling_handler(handler));
        let created = store.pool_stats()["everything"].created;
        let text =
            outcome_text(store.call_tool("everything.trigger-sampling-request", json!({"prompt": "hi"})));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(text.contains("-32603") || text.contains("handler failed"), "{text}");
        assert_session_lives(&store, created);
    });
}

#[test]
fn a_hanging_handler_is_answered_with_a_timeout_and_its_late_answer_dropped() {
    common::bounded(Duration::from_secs(60), || {
        let (late_tx, late_rx) = crossbeam_channel::bounded::<bool>(1);
        // The handler keeps its reply and answers after the timeout, from its own thread.
        struct Slow(crossbeam_channel::Sender<bool>);
        impl mcpstore::SamplingHandler for Slow {
            fn create_message(
                &self,
                _: &RequestContext,
                _: CreateMessageRequest,
                reply: mcpstore::Reply<CreateMessageResult>,
            ) {
                let tx = self.0.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_secs(3));
                    let _ = tx.send(reply.send(Ok(CreateMessageResult::text("m", "too late"))));
                });
            }
        }
        let store = store(Store::builder().sampling_handler(Slow(late_tx)));
        let created = store.pool_stats()["everything"].created;
        let started = Instant::now();
        let text =
            outcome_text(store.call_tool("everything.trigger-sampling-request", json!({"prompt": "hi"})));
        let waited = started.elapsed();
        assert!(text.contains("did not answer within 1000 ms") || text.contains("-32001"), "{text}");
        // The bound is the behaviour: handler_timeout (1 s) plus a margin for a loaded machine.
        assert!(waited < Duration::from_secs(3), "the server waited {waited:?}");
        assert!(!late_rx.recv_timeout(Duration::from_secs(10)).unwrap(), "a late answer is not sent");
        assert_session_lives(&store, created);
    });
}

#[test]
fn an_answer_that_does_not_fit_the_request_is_refused() {
    common::bounded(Duration::from_secs(60), || {
        // `integer` must be within 1..=100 and `name` is required: this answer fits neither.
        let handler = |_: &RequestContext, _: ElicitRequest| {
            Ok(ElicitResult::accept(Map::from_iter([("integer".to_owned(), json!(500))])))
        };
        let store = store(Store::builder().elicitation_handler(handler));
        let created = store.pool_stats()["everything"].created;
        let text = outcome_text(store.call_tool("everything.trigger-elicitation-request", json!({})));
        assert!(text.contains("invalid"), "{text}");
        assert_session_lives(&store, created);
    });
}

#[test]
fn a_handler_error_reaches_the_server_as_that_error() {
    common::bounded(Duration::from_secs(60), || {
        let handler = |_: &RequestContext, _: CreateMessageRequest| -> Result<CreateMessageResult, _> {
            Err(mcpstore::HandlerError::rejected("the user said no"))
        };
        let store = store(Store::builder().sampling_handler(handler));
        let created = store.pool_stats()["everything"].created;
        let text =
            outcome_text(store.call_tool("everything.trigger-sampling-request", json!({"prompt": "hi"})));
        assert!(text.contains("the user said no"), "{text}");
        assert_session_lives(&store, created);
    });
}
