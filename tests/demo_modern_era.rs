//! The demo server in the stateless era (2026-07-28) through a `Store` with
//! `protocol: auto`, over stdio and Streamable HTTP: the era found, tools,
//! the tools that ask the client (answered by the store's handlers through
//! multi round-trip results), resources, prompts, a list change delivered on
//! `subscriptions/listen`, and the same server pinned to 2025-11-25.

mod common;

use std::time::Duration;

use common::core::DEMO_TOOLS;
use common::{HANDSHAKE_ERA, STATELESS_ERA, TempDir, demo_http, demo_stdio, pinned};
use mcpstore::{
    CreateMessageResult, ElicitRequest, ElicitResult, Event, HandlerError, RequestContext, Root,
    ServiceConfig, Store,
};
use serde_json::{Map, Value, json};

const WAIT: Duration = Duration::from_secs(20);

fn model(
    _: &RequestContext,
    request: mcpstore::CreateMessageRequest,
) -> Result<CreateMessageResult, HandlerError> {
    let question = request.messages.last().and_then(|m| m.content.get("text")).and_then(Value::as_str);
    Ok(CreateMessageResult::text("test-model", format!("answer to {}", question.unwrap_or(""))))
}

fn user(_: &RequestContext, request: ElicitRequest) -> Result<ElicitResult, HandlerError> {
    match request {
        ElicitRequest::Form { .. } => {
            let mut content = Map::new();
            content.insert("name".into(), json!("Ada"));
            content.insert("age".into(), json!(36));
            Ok(ElicitResult::accept(content))
        }
        _ => Ok(ElicitResult::decline()),
    }
}

/// A store with handlers for every input the demo asks for, and `config` as `demo`.
fn store(config: ServiceConfig, root: &TempDir) -> (Store, crossbeam_channel::Receiver<Event>) {
    // One session: each stdio session is a process of its own, with its own lists.
    let pool = mcpstore::PoolConfig { min_connections: 1, max_connections: 1, ..common::test_pool() };
    let store = Store::builder()
        .pool(pool)
        .sampling_handler(model)
        .elicitation_handler(user)
        .roots(vec![Root::directory(root.path())])
        .build()
        .expect("store");
    let (tx, rx) = crossbeam_channel::unbounded();
    store.on_event(move |e| {
        let _ = tx.send(e.clone());
    });
    store.add_service("demo", config).expect("add the demo");
    let failed = store.wait_ready(WAIT);
    assert!(failed.is_empty(), "the demo did not start: {failed:?}");
    (store, rx)
}

fn era(store: &Store) -> String {
    store.list_services()[0].protocol_version.clone().unwrap_or_default()
}

fn text(store: &Store, tool: &str, args: Value) -> String {
    let r = store.call_tool(tool, args.clone()).unwrap_or_else(|e| panic!("{tool} {args}: {e}"));
    assert!(!r.is_error, "{tool} {args}: {}", r.to_json());
    r.text()
}

fn wait_for(events: &crossbeam_channel::Receiver<Event>, what: &str, wanted: impl Fn(&Event) -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        match events.recv_deadline(deadline) {
            Ok(e) if wanted(&e) => return,
            Ok(_) => {}
            Err(_) => panic!("no {what} within {WAIT:?}"),
        }
    }
}

fn stateless_era(config: ServiceConfig, over_http: bool) {
    let root = TempDir::new("modern-roots");
    let (store, events) = store(config, &root);
    assert_eq!(era(&store), STATELESS_ERA, "protocol auto finds the stateless era");

    let tools: Vec<String> =
        store.list_tools(Some("demo")).unwrap().into_iter().map(|(_, t)| t.name.clone()).collect();
    assert_eq!(tools, DEMO_TOOLS, "the same tools in both eras");
    assert_eq!(text(&store, "echo", json!({"message": "stateless"})), "stateless");
    assert_eq!(text(&store, "add", json!({"a": 2, "b": 40})), "42");

    // The tools that ask the client: input_required, answered by the handlers, retried.
    assert_eq!(text(&store, "ask_model", json!({"question": "why?"})), "answer to why?");
    assert_eq!(
        text(&store, "ask_user", json!({"question": "who?"})),
        "accept name=Ada age=36 subscribe=false"
    );
    assert_eq!(text(&store, "list_roots", json!({})), Root::directory(root.path()).uri);
    let ping = store.call_tool("ping_client", json!({})).unwrap();
    assert!(ping.is_error, "no server requests in 2026-07-28: {}", ping.to_json());

    let readme = store.read_resource("demo://docs/readme").expect("resources/read");
    assert!(readme.text().starts_with("# mcpstore demo server"), "{}", readme.text());
    let greeting =
        store.get_prompt("greet", serde_json::from_value(json!({"name": "Ada"})).unwrap()).unwrap();
    assert!(greeting.text().contains("Hello, Ada!"), "{}", greeting.text());
    let prompts: Vec<String> =
        store.list_prompts(Some("demo")).unwrap().into_iter().map(|(_, p)| p.name.clone()).collect();
    assert_eq!(prompts, ["summarize", "greet"]);

    // A change announced while no request runs reaches the store on subscriptions/listen.
    let late = format!("late_{}", std::process::id());
    while events.try_recv().is_ok() {} // what the first listings announced
    let r =
        store.call_tool("notify_later", json!({"kind": "prompts", "delay_ms": 100, "name": late})).unwrap();
    assert!(!r.is_error, "{}", r.to_json());
    wait_for(
        &events,
        "prompts list change",
        |e| matches!(e, Event::PromptsListChanged { service } if service == "demo"),
    );
    common::eventually(WAIT, "the new prompt in the index", || {
        store.list_prompts(Some("demo")).unwrap().iter().any(|(_, p)| p.name == late)
    });

    let stats = store.call_tool("stats", json!({})).unwrap().structured_content.clone().expect("stats");
    assert_eq!(stats["sessions"], 0, "no sessions in the stateless era: {stats}");
    assert!(stats["listen_streams_opened"].as_u64().unwrap() >= 1, "{stats}");
    if over_http {
        let headers = store.call_tool("headers", json!({})).unwrap().structured_content.clone().unwrap();
        let h = &headers["headers"];
        assert_eq!(h["mcp-protocol-version"], STATELESS_ERA, "{h}");
        assert_eq!(h["mcp-method"], "tools/call", "{h}");
        assert_eq!(h["mcp-name"], "headers", "{h}");
        assert!(h.get("mcp-session-id").is_none(), "{h}");
    }
}

fn pinned_handshake_era(config: ServiceConfig) {
    let root = TempDir::new("legacy-roots");
    let (store, _) = store(pinned(config, HANDSHAKE_ERA), &root);
    assert_eq!(era(&store), HANDSHAKE_ERA);
    assert_eq!(text(&store, "echo", json!({"message": "initialize"})), "initialize");
    assert_eq!(text(&store, "ask_model", json!({"question": "how?"})), "answer to how?");
    assert_eq!(text(&store, "ping_client", json!({})), "pong");
    let readme = store.read_resource("demo://docs/readme").expect("resources/read");
    assert!(readme.text().starts_with("# mcpstore demo server"));
}

#[test]
fn stdio_in_the_stateless_era() {
    common::bounded(Duration::from_secs(90), || stateless_era(demo_stdio(&[]), false));
}

#[test]
fn streamable_http_in_the_stateless_era() {
    common::bounded(Duration::from_secs(90), || {
        let server = demo_http(&[]);
        stateless_era(server.config(), true);
    });
}

#[test]
fn streamable_http_json_replies_in_the_stateless_era() {
    common::bounded(Duration::from_secs(90), || {
        let server = demo_http(&["--json"]);
        stateless_era(server.config(), true);
    });
}

#[test]
fn stdio_pinned_to_2025_11_25() {
    common::bounded(Duration::from_secs(60), || pinned_handshake_era(demo_stdio(&[])));
}

#[test]
fn streamable_http_pinned_to_2025_11_25() {
    common::bounded(Duration::from_secs(60), || {
        let server = demo_http(&[]);
        pinned_handshake_era(server.config());
    });
}

/// `--era 2025-11-25`: auto falls back to `initialize`; `--era 2026-07-28`:
/// a pinned 2025-11-25 service cannot start, auto speaks 2026-07-28.
#[test]
fn one_era_servers() {
    common::bounded(Duration::from_secs(90), || {
        let root = TempDir::new("one-era");
        let (old, _) = store(demo_stdio(&["--era", "2025-11-25"]), &root);
        assert_eq!(era(&old), HANDSHAKE_ERA);
        let server = demo_http(&["--era", "2026-07-28"]);
        let (new, _) = store(server.config(), &root);
        assert_eq!(era(&new), STATELESS_ERA);
        assert_eq!(text(&new, "echo", json!({"message": "only"})), "only");
        let refused = Store::builder().build().unwrap();
        refused.add_service("demo", pinned(server.config(), HANDSHAKE_ERA)).unwrap();
        let failed = refused.wait_ready(Duration::from_secs(10));
        assert_eq!(failed.len(), 1, "a 2026-07-28 server refuses initialize");
    });
}
