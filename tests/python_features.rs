//! Against servers built on the official Python SDK (`mcp`, MCPServer), over
//! stdio, Streamable HTTP and the legacy HTTP+SSE transport: resources (text, blob, a template), a prompt
//! with arguments and its completion, a tool that samples and a tool that
//! elicits, answered by the store's handlers.

mod common;

use std::time::Duration;

use common::{fastmcp_http, fastmcp_script, path_str, python};
use mcpstore::{
    CompletionRef, CreateMessageRequest, CreateMessageResult, ElicitRequest, ElicitResult, RequestContext,
    ServiceConfig, Store,
};
use serde_json::{Map, Value, json};

fn python_stdio() -> ServiceConfig {
    ServiceConfig::stdio(path_str(&python()), [path_str(&fastmcp_script()), "--stdio".to_owned()])
}

/// A store with handlers: the model answers in capitals, the user gives a name and keeps the default age.
pub fn store_for(config: ServiceConfig) -> Store {
    let sampling = |_: &RequestContext, r: CreateMessageRequest| {
        let asked =
            r.messages[0].content.get("text").and_then(Value::as_str).unwrap_or_default().to_uppercase();
        Ok(CreateMessageResult::text("test-model", asked))
    };
    let elicitation = |_: &RequestContext, r: ElicitRequest| match r {
        ElicitRequest::Form { .. } => {
            Ok(ElicitResult::accept(Map::from_iter([("name".into(), json!("Grace"))])))
        }
        ElicitRequest::Url { .. } => Ok(ElicitResult::decline()),
    };
    let store = Store::builder()
        .pool(common::test_pool())
        .sampling_handler(sampling)
        .elicitation_handler(elicitation)
        .build()
        .unwrap();
    store.add_service("py", config).unwrap();
    assert!(store.wait_ready(Duration::from_secs(30)).is_empty(), "{:?}", store.list_services());
    store
}

pub fn check_python_features(store: &Store) {
    let resources = store.list_resources(Some("py")).unwrap();
    let uris: Vec<&str> = resources.iter().map(|(_, r)| r.uri.as_str()).collect();
    assert!(uris.contains(&"text://greeting") && uris.contains(&"blob://pixel"), "{uris:?}");
    assert_eq!(store.read_resource("text://greeting").unwrap().text(), "hello from python");
    let pixel = store.read_resource("blob://pixel").unwrap();
    assert_eq!(&pixel.contents[0].bytes().unwrap()[..4], b"\x89PNG", "{pixel:?}");
    let templates = store.list_resource_templates(Some("py")).unwrap();
    assert_eq!(templates[0].1.uri_template, "items://{item_id}");
    assert_eq!(store.read_resource("items://42").unwrap().text(), "item 42");

    let prompts = store.list_prompts(Some("py")).unwrap();
    let greet = &prompts.iter().find(|(_, p)| p.name == "greet").expect("greet prompt").1;
    assert!(greet.arguments.iter().any(|a| a.name == "name" && a.required));
    let got = store
        .get_prompt(
            "py.greet",
            Map::from_iter([("name".into(), json!("Ada")), ("style".into(), json!("formal"))]),
        )
        .unwrap();
    assert_eq!(got.text(), "Write a formal greeting for Ada.");
    let styles =
        store.complete(None, &CompletionRef::Prompt("greet".into()), "style", "p", &Map::new()).unwrap();
    assert_eq!(styles.values, vec!["plain".to_owned(), "pirate".to_owned()]);

    let sampled = store.call_tool("py.ask_model", json!({"question": "are you there?"})).unwrap();
    assert_eq!(sampled.text(), "ARE YOU THERE?", "{:?}", sampled.result());
    let elicited = store.call_tool("py.ask_user", json!({"question": "who are you?"})).unwrap();
    assert_eq!(elicited.text(), "accept name=Grace age=30", "the default age was filled in");
}

#[test]
fn python_sdk_server_over_stdio() {
    common::bounded(Duration::from_secs(90), || check_python_features(&store_for(python_stdio())));
}

#[test]
fn python_sdk_server_over_legacy_sse() {
    common::bounded(Duration::from_secs(90), || {
        let server = common::python_sse_on(0);
        let store = store_for(ServiceConfig::http(server.ready.clone()));
        assert_eq!(store.list_services()[0].transport, "streamable-http", "configured as auto");
        check_python_features(&store);
        let config = mcpstore::ServersFile::parse(&format!(
            r#"{{"mcpServers": {{"py": {{"url": "{}", "transport": "sse"}}}}}}"#,
            server.ready
        ))
        .unwrap();
        check_python_features(&store_for(config.services[0].1.clone()));
    });
}

#[test]
fn python_sdk_server_over_streamable_http() {
    common::bounded(Duration::from_secs(90), || {
        let server = fastmcp_http();
        check_python_features(&store_for(ServiceConfig::http(server.ready.clone())));
    });
}

/// A `list_changed` the server sends while no call runs (over HTTP it can
/// only come on the listening stream) refreshes the tool index before the
/// event says so.
fn check_list_changed_without_a_call(store: &Store) {
    let queue = store.event_queue();
    let r = store.call_tool("py.add_tool_later", json!({"name": "late_tool", "delay_ms": 300})).unwrap();
    assert_eq!(r.text(), "scheduled");
    assert!(store.resolve_tool("py.late_tool").is_err(), "not there yet");
    loop {
        match queue.recv_timeout(Duration::from_secs(20)) {
            Ok(mcpstore::Event::ToolsListChanged { service }) => {
                assert_eq!(service, "py");
                break;
            }
            Ok(_) => {}
            Err(e) => panic!("no tools_list_changed event: {e}"),
        }
    }
    let (service, tool) = store.resolve_tool("late_tool").expect("the index holds the new tool");
    assert_eq!((service.as_str(), tool.name.as_str()), ("py", "late_tool"));
    assert_eq!(store.call_tool("py.late_tool", json!({})).unwrap().text(), "late_tool here");
}

/// The Python SDK speaks 2026-07-28 and gives its lists `ttlMs: 0` (SEP-2549):
/// a name the index misses makes the store list that service's tools again,
/// so a tool added with no notification is found by its first call.
#[test]
fn an_expired_tool_list_is_listed_again_for_an_unknown_name() {
    common::bounded(Duration::from_secs(60), || {
        let store = store_for(python_stdio());
        let info = &store.list_services()[0];
        assert_eq!(info.protocol_version.as_deref(), Some("2026-07-28"), "{info:?}");
        assert_eq!(
            store.call_tool("py.add_tool_silently", json!({"name": "quiet_tool"})).unwrap().text(),
            "added"
        );
        assert_eq!(store.call_tool("py.quiet_tool", json!({})).unwrap().text(), "quiet_tool here");
        let unknown = store.call_tool("py.never_added", json!({})).unwrap_err();
        assert!(matches!(unknown, mcpstore::Error::ToolNotFound { .. }), "{unknown:?}");
    });
}

#[test]
fn list_changed_outside_a_call_refreshes_the_index_over_stdio() {
    common::bounded(Duration::from_secs(60), || {
        check_list_changed_without_a_call(&store_for(python_stdio()))
    });
}

#[test]
fn list_changed_on_the_listening_stream_refreshes_the_index() {
    common::bounded(Duration::from_secs(60), || {
        let server = fastmcp_http();
        let store = store_for(ServiceConfig::http(server.ready.clone()));
        check_list_changed_without_a_call(&store);
        let info = &store.list_services()[0];
        assert!(info.listening.iter().all(|l| l.state == mcpstore::ListenState::Open), "{info:?}");
    });
}
