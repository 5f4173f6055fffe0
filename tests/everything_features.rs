//! The whole 2025-11-25 client against `@modelcontextprotocol/server-everything`
//! over stdio and Streamable HTTP: resources (text and blob) and templates,
//! a subscription and its updates, prompts with arguments, completions, log
//! levels and log messages, and the server's sampling, elicitation and roots
//! requests answered by handlers.

mod common;

use std::time::Duration;

use common::{everything_http, everything_js, node, path_str};
use mcpstore::{
    CompletionRef, CreateMessageResult, ElicitRequest, ElicitResult, Event, EventQueue, LogLevel, PoolConfig,
    RequestContext, Root, ServiceConfig, Store,
};
use serde_json::{Map, Value, json};

const MODEL_ANSWER: &str = "an answer from the test's model";

fn everything_stdio() -> ServiceConfig {
    ServiceConfig::stdio(path_str(&node()), [path_str(&everything_js()), "stdio".to_owned()])
}

/// A store whose handlers answer sampling, elicitation and roots the way a test can check.
fn store_for(config: ServiceConfig) -> Store {
    let sampling = |_: &RequestContext, request: mcpstore::CreateMessageRequest| {
        let asked = request
            .messages
            .first()
            .and_then(|m| m.content.get("text"))
            .and_then(Value::as_str)
            .unwrap_or("");
        Ok(CreateMessageResult::text("test-model", format!("{MODEL_ANSWER} to: {asked}")))
    };
    let elicitation = |_: &RequestContext, request: ElicitRequest| {
        assert!(matches!(request, ElicitRequest::Form { .. }), "{request:?}");
        // Only the required field: the schema's defaults fill in the rest.
        Ok(ElicitResult::accept(Map::from_iter([("name".to_owned(), json!("Ada Lovelace"))])))
    };
    let store = Store::builder()
        .pool(PoolConfig { min_connections: 1, max_connections: 2, ..common::test_pool() })
        .sampling_handler(sampling)
        .elicitation_handler(elicitation)
        .roots(vec![Root { uri: "file:///srv/project".into(), name: Some("project".into()) }])
        .build()
        .expect("store");
    store.add_service("everything", config).expect("add");
    assert!(store.wait_ready(Duration::from_secs(30)).is_empty(), "{:?}", store.list_services());
    store
}

/// The next event `matches` accepts, within `timeout`.
fn wait_for(queue: &EventQueue, timeout: Duration, what: &str, matches: impl Fn(&Event) -> bool) -> Event {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match queue.recv_timeout(left) {
            Ok(e) if matches(&e) => return e,
            Ok(_) => {}
            Err(e) => panic!("no {what} within {timeout:?}: {e}"),
        }
    }
}

fn check_resources(store: &Store) {
    let resources = store.list_resources(Some("everything")).expect("resources");
    assert!(!resources.is_empty(), "server-everything lists resources");
    assert!(resources.iter().all(|(s, _)| s == "everything"));
    let templates = store.list_resource_templates(None).expect("templates");
    let uris: Vec<&str> = templates.iter().map(|(_, t)| t.uri_template.as_str()).collect();
    assert!(uris.iter().any(|u| u.contains("dynamic/text")), "{uris:?}");
    assert!(uris.iter().any(|u| u.contains("dynamic/blob")), "{uris:?}");

    // A listed resource resolves to its service and reads whole.
    let (_, listed) = &resources[0];
    assert_eq!(store.resolve_resource(&listed.uri).unwrap(), "everything");
    let read = store.read_resource(&listed.uri).expect("read listed");
    assert!(!read.contents.is_empty());

    // Template URIs resolve through the template: text and blob.
    let text = store.read_resource("demo://resource/dynamic/text/7").expect("read text");
    assert!(text.contents[0].text.as_deref().is_some_and(|t| !t.is_empty()), "{text:?}");
    let blob = store.read_resource("demo://resource/dynamic/blob/7").expect("read blob");
    let bytes = blob.contents[0].bytes().expect("base64");
    assert!(blob.contents[0].blob.is_some() && !bytes.is_empty(), "{blob:?}");

    // An unknown URI is an error with what is known, not a guess.
    match store.read_resource("nothing://here") {
        Err(mcpstore::Error::ResourceNotFound { uri, .. }) => assert_eq!(uri, "nothing://here"),
        other => panic!("expected ResourceNotFound, got {other:?}"),
    }
}

fn check_subscription(store: &Store) {
    let queue = store.event_queue();
    let uri = "demo://resource/dynamic/text/1";
    assert_eq!(store.subscribe_resource(None, uri).expect("subscribe"), "everything");
    assert_eq!(store.subscriptions("everything").unwrap(), vec![uri.to_owned()]);
    let toggled = store.call_tool("everything.toggle-subscriber-updates", json!({})).expect("toggle updates");
    assert!(!toggled.is_error, "{}", toggled.text());
    let event = wait_for(&queue, Duration::from_secs(30), "resource update", |e| {
        matches!(e, Event::ResourceUpdated { .. })
    });
    assert_eq!(event, Event::ResourceUpdated { service: "everything".into(), uri: uri.into() });
    store.unsubscribe_resource(None, uri).expect("unsubscribe");
    assert!(store.subscriptions("everything").unwrap().is_empty());
    let _ = store.call_tool("everything.toggle-subscriber-updates", json!({}));
}

fn check_prompts(store: &Store) {
    let prompts = store.list_prompts(None).expect("prompts");
    let names: Vec<&str> = prompts.iter().map(|(_, p)| p.name.as_str()).collect();
    assert!(names.contains(&"simple-prompt") && names.contains(&"args-prompt"), "{names:?}");
    let args = prompts.iter().find(|(_, p)| p.name == "args-prompt").unwrap();
    assert!(args.1.arguments.iter().any(|a| a.name == "city" && a.required), "{:?}", args.1);

    let got = store
        .get_prompt("args-prompt", Map::from_iter([("city".to_owned(), json!("Paris"))]))
        .expect("get args-prompt");
    assert!(got.text().contains("Paris"), "{got:?}");
    // Qualified names resolve like tool names.
    let simple = store.get_prompt("everything.simple-prompt", Map::new()).expect("simple");
    assert!(!simple.messages.is_empty());
    assert!(matches!(
        store.get_prompt("no-such-prompt", Map::new()),
        Err(mcpstore::Error::PromptNotFound { .. })
    ));

    let completion = store
        .complete(None, &CompletionRef::Prompt("completable-prompt".into()), "department", "", &Map::new())
        .expect("complete");
    assert!(!completion.values.is_empty(), "{completion:?}");
    let narrowed = store
        .complete(
            None,
            &CompletionRef::Prompt("completable-prompt".into()),
            "department",
            &completion.values[0][..1],
            &Map::new(),
        )
        .expect("complete with a prefix");
    assert!(narrowed.values.contains(&completion.values[0]), "{narrowed:?} vs {completion:?}");

    // A resource template's variable, on the one service that has the template.
    let template = CompletionRef::Resource("demo://resource/dynamic/text/{resourceId}".into());
    let ids = store.complete(None, &template, "resourceId", "12", &Map::new()).expect("complete a template");
    assert_eq!(ids.values, vec!["12".to_owned()]);
    let none = store.complete(None, &template, "resourceId", "twelve", &Map::new()).unwrap();
    assert!(none.values.is_empty(), "{none:?}");
}

fn check_logging(store: &Store) {
    let queue = store.event_queue();
    store.set_log_level(Some("everything"), LogLevel::Debug).expect("set level");
    let toggled = store.call_tool("everything.toggle-simulated-logging", json!({})).expect("toggle logging");
    assert!(!toggled.is_error, "{}", toggled.text());
    let event = wait_for(&queue, Duration::from_secs(30), "log message", |e| matches!(e, Event::Log { .. }));
    let Event::Log { service, data, .. } = &event else { unreachable!() };
    assert_eq!(service, "everything");
    assert!(!data.is_null(), "{event:?}");
    let _ = store.call_tool("everything.toggle-simulated-logging", json!({}));
}

fn check_client_requests(store: &Store) {
    let sampled = store
        .call_tool("everything.trigger-sampling-request", json!({"prompt": "what is 2+2?", "maxTokens": 20}))
        .expect("sampling tool");
    assert!(!sampled.is_error, "{}", sampled.text());
    assert!(
        sampled.text().contains(MODEL_ANSWER) && sampled.text().contains("what is 2+2?"),
        "{}",
        sampled.text()
    );

    let elicited =
        store.call_tool("everything.trigger-elicitation-request", json!({})).expect("elicitation tool");
    let text = elicited.text();
    assert!(!elicited.is_error, "{text}");
    assert!(text.contains("Ada Lovelace"), "the handler's answer reached the server: {text}");
    assert!(text.contains("It was a dark and stormy night."), "the schema's defaults were filled in: {text}");

    let roots = store.call_tool("everything.get-roots-list", json!({})).expect("roots tool");
    assert!(roots.text().contains("file:///srv/project"), "{}", roots.text());
}

fn check_all(store: &Store) {
    check_resources(store);
    check_prompts(store);
    check_client_requests(store);
    check_subscription(store);
    check_logging(store);
    let info = &store.list_services()[0];
    assert!(info.resource_count > 0 && info.template_count >= 2 && info.prompt_count >= 2, "{info:?}");
}

#[test]
fn everything_features_over_stdio() {
    common::bounded(Duration::from_secs(120), || {
        let store = store_for(everything_stdio());
        check_all(&store);
    });
}

#[test]
fn everything_features_over_streamable_http() {
    common::bounded(Duration::from_secs(120), || {
        let server = everything_http();
        let store = store_for(ServiceConfig::http(server.ready.clone()));
        check_all(&store);
        // Log messages and updates came on the listening stream: it is open.
        let info = &store.list_services()[0];
        assert!(info.listening.iter().any(|l| l.state == mcpstore::ListenState::Open), "{info:?}");
        drop(server);
    });
}

#[test]
fn without_handlers_no_capability_is_declared() {
    common::bounded(Duration::from_secs(60), || {
        let store = Store::builder().pool(common::test_pool()).build().unwrap();
        store.add_service("everything", everything_stdio()).unwrap();
        assert!(store.wait_ready(Duration::from_secs(30)).is_empty());
        // Without sampling capability the server does not even offer the tool.
        let names: Vec<String> =
            store.list_tools(Some("everything")).unwrap().iter().map(|(_, t)| t.name.clone()).collect();
        assert!(!names.iter().any(|n| n == "trigger-sampling-request"), "{names:?}");
        let r = store.call_tool("everything.echo", json!({"message": "still here"})).unwrap();
        assert_eq!(r.text(), "Echo: still here");
    });
}
