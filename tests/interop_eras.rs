//! Interop in both protocol eras with servers on the official SDKs that
//! speak both (rmcp 3.11 and the TypeScript SDK v2, over stdio and
//! Streamable HTTP), and with `server-everything`, which speaks 2025-11-25
//! only: `protocol: auto` finds 2026-07-28 where it is offered and falls back
//! to `initialize` where it is not; a pinned version is spoken or refused.
//! The same calls, resources, prompts and completions in each era; over
//! 2026-07-28 also a multi-round-trip tool answered by the store's handler
//! and the `Mcp-*` routing headers. Plus a stdio server that exits on the
//! `server/discover` probe, which is still reached through `initialize`.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{ReadyOn, ServerProcess, TempDir, dep, path_str};
use mcpstore::{
    BatchOptions, CompletionRef, ElicitRequest, ElicitResult, ProtocolChoice, RequestContext, ServiceConfig,
    Store, ToolCall,
};
use serde_json::{Map, Value, json};

const MODERN: &str = "2026-07-28";
const HANDSHAKE: &str = "2025-11-25";

/// A dual-era server of the interop suite.
#[derive(Clone, Copy)]
enum Sdk {
    Rmcp,
    TsV2,
}

impl Sdk {
    fn program_and_args(self, transport_args: &[&str]) -> (PathBuf, Vec<String>) {
        let mut args: Vec<String> = transport_args.iter().map(|a| a.to_string()).collect();
        match self {
            Sdk::Rmcp => (dep("MCPSTORE_RMCP_SERVER", "rmcp-target/release/rmcp-interop-server"), args),
            Sdk::TsV2 => {
                args.insert(0, path_str(&dep("MCPSTORE_TS_V2_SERVER", "npm-ts-v2/ts_v2_server.mjs")));
                (common::node(), args)
            }
        }
    }

    fn stdio(self) -> ServiceConfig {
        let (program, args) = self.program_and_args(&["--stdio"]);
        ServiceConfig::stdio(path_str(&program), args)
    }

    /// The server over Streamable HTTP, on a port it picks.
    fn http(self) -> ServerProcess {
        let (program, args) = self.program_and_args(&["--http", "0"]);
        ServerProcess::start("interop server", &program, &args, &[], ReadyOn::Stdout, |line| {
            line.strip_prefix("READY ").map(|u| u.trim().to_owned())
        })
    }
}

fn pinned(mut config: ServiceConfig, version: Option<&str>) -> ServiceConfig {
    config.protocol = version.map_or(ProtocolChoice::Auto, |v| ProtocolChoice::Version(v.to_owned()));
    config
}

/// A store whose elicitation handler says yes to every boolean of the form.
fn store_for(config: ServiceConfig) -> Store {
    let elicitation = |_: &RequestContext, r: ElicitRequest| match r {
        ElicitRequest::Form { requested_schema, .. } => {
            let fields = requested_schema["properties"].as_object().cloned().unwrap_or_default();
            let content =
                fields.into_iter().filter(|(_, f)| f["type"] == "boolean").map(|(k, _)| (k, json!(true)));
            Ok(ElicitResult::accept(content.collect()))
        }
        ElicitRequest::Url { .. } => Ok(ElicitResult::decline()),
    };
    let store = Store::builder().pool(common::test_pool()).elicitation_handler(elicitation).build().unwrap();
    store.add_service("s", config).unwrap();
    let not_ready = store.wait_ready(Duration::from_secs(60));
    assert!(not_ready.is_empty(), "{:?}", store.list_services());
    store
}

fn era_of(store: &Store) -> String {
    store.list_services()[0].protocol_version.clone().unwrap_or_default()
}

/// Tools, resources (text, blob, template), prompts and completions.
fn check_features(store: &Store) {
    let tools: Vec<String> =
        store.list_tools(Some("s")).unwrap().into_iter().map(|(_, t)| t.name.clone()).collect();
    for name in ["echo", "add", "confirm_action", "region_headers"] {
        assert!(tools.iter().any(|t| t == name), "{name} missing from {tools:?}");
    }
    assert_eq!(store.call_tool("s.echo", json!({"message": "both eras"})).unwrap().text(), "both eras");
    assert_eq!(store.call_tool("s.add", json!({"a": 2, "b": 40})).unwrap().text(), "42");

    let uris: Vec<String> =
        store.list_resources(Some("s")).unwrap().into_iter().map(|(_, r)| r.uri.clone()).collect();
    assert!(uris.iter().any(|u| u == "test://static/text") && uris.iter().any(|u| u == "test://static/blob"));
    assert!(store.read_resource("test://static/text").unwrap().text().starts_with("hello from"));
    let blob = store.read_resource("test://static/blob").unwrap();
    assert!(!blob.contents[0].bytes().expect("a blob").is_empty(), "{blob:?}");
    let templates = store.list_resource_templates(Some("s")).unwrap();
    assert!(templates.iter().any(|(_, t)| t.uri_template == "test://items/{id}"), "{templates:?}");
    assert_eq!(store.read_resource("test://items/42").unwrap().text(), "item 42");

    let prompts = store.list_prompts(Some("s")).unwrap();
    assert!(prompts.iter().any(|(_, p)| p.name == "greet"), "{prompts:?}");
    let greeting = store.get_prompt("s.greet", Map::from_iter([("name".into(), json!("Ada"))])).unwrap();
    assert!(greeting.text().contains("Ada"), "{greeting:?}");
    let styles =
        store.complete(None, &CompletionRef::Prompt("greet".into()), "style", "f", &Map::new()).unwrap();
    assert!(styles.values.iter().any(|v| v == "formal"), "{styles:?}");
}

/// A tool that asks for confirmation: MRTR in 2026-07-28, answered by the handler.
fn check_confirmation(store: &Store) {
    let r = store.call_tool("s.confirm_action", json!({"action": "deploy"})).unwrap();
    assert!(r.text().contains("confirmed") && !r.text().contains("not confirmed"), "{:?}", r.result());
}

/// The routing headers of a 2026-07-28 call, as the server received them.
fn check_headers(store: &Store) {
    let r = store.call_tool("s.region_headers", json!({"region": "eu-west"})).unwrap();
    let report: Value = serde_json::from_str(&r.text()).unwrap();
    let headers = &report["headers"];
    assert_eq!(headers["mcp-method"], "tools/call", "{report}");
    assert_eq!(headers["mcp-name"], "region_headers", "{report}");
    assert_eq!(headers["mcp-param-region"], "eu-west", "{report}");
    assert_eq!(headers["mcp-protocol-version"], MODERN, "{report}");
}

fn both_eras_over_stdio(sdk: Sdk) {
    common::bounded(Duration::from_secs(120), move || {
        let store = store_for(pinned(sdk.stdio(), None));
        assert_eq!(era_of(&store), MODERN, "auto finds the newest era");
        check_features(&store);
        check_confirmation(&store);

        let store = store_for(pinned(sdk.stdio(), Some(HANDSHAKE)));
        assert_eq!(era_of(&store), HANDSHAKE);
        check_features(&store);
    });
}

fn both_eras_over_http(sdk: Sdk) {
    common::bounded(Duration::from_secs(120), move || {
        let server = sdk.http();
        let store = store_for(pinned(ServiceConfig::http(server.ready.clone()), None));
        assert_eq!(era_of(&store), MODERN, "auto finds the newest era");
        check_features(&store);
        check_confirmation(&store);
        check_headers(&store);

        let store = store_for(pinned(ServiceConfig::http(server.ready.clone()), Some(HANDSHAKE)));
        assert_eq!(era_of(&store), HANDSHAKE);
        check_features(&store);
    });
}

#[test]
fn rmcp_over_stdio_in_both_eras() {
    both_eras_over_stdio(Sdk::Rmcp);
}

#[test]
fn rmcp_over_streamable_http_in_both_eras() {
    both_eras_over_http(Sdk::Rmcp);
}

#[test]
fn typescript_sdk_v2_over_stdio_in_both_eras() {
    both_eras_over_stdio(Sdk::TsV2);
}

#[test]
fn typescript_sdk_v2_over_streamable_http_in_both_eras() {
    both_eras_over_http(Sdk::TsV2);
}

/// `server-everything` speaks 2025-11-25 only: auto falls back to it over
/// stdio and HTTP; pinning 2026-07-28 is refused with a clear error.
#[test]
fn server_everything_is_reached_in_its_one_era() {
    common::bounded(Duration::from_secs(120), || {
        let stdio = ServiceConfig::stdio(path_str(&common::node()), [path_str(&common::everything_js())]);
        let server = common::everything_http();
        for config in [stdio.clone(), ServiceConfig::http(server.ready.clone())] {
            let store = store_for(pinned(config, None));
            assert_eq!(era_of(&store), HANDSHAKE);
            let r = store.call_tool("s.echo", json!({"message": "still here"})).unwrap();
            assert!(r.text().contains("still here"), "{:?}", r.result());
            assert!(!store.list_resources(Some("s")).unwrap().is_empty());
            assert!(!store.list_prompts(Some("s")).unwrap().is_empty());
        }
        let store = Store::builder().pool(common::test_pool()).build().unwrap();
        store.add_service("s", pinned(stdio, Some(MODERN))).unwrap();
        let not_ready = store.wait_ready(Duration::from_secs(30));
        let error = not_ready[0].last_error.clone().unwrap_or_default();
        assert!(error.contains(MODERN), "the refusal names the version: {error}");
    });
}

/// A stdio server that exits when its first message is `server/discover`
/// (the first process only; the next one is the demo server): the store
/// starts it again and initializes.
#[test]
fn a_server_that_exits_on_the_probe_is_initialized() {
    common::bounded(Duration::from_secs(60), || {
        let dir = TempDir::new("probe-exit");
        let seen = dir.path().join("first-message");
        let script = format!(
            "if [ -e '{seen}' ]; then exec '{demo}'; fi; read -r line; printf '%s' \"$line\" > '{seen}'; exit 3",
            seen = seen.display(),
            demo = common::demo_bin(),
        );
        let store = store_for(ServiceConfig::stdio("sh", ["-c", &script]));
        let first = std::fs::read_to_string(&seen).expect("the first process read a message");
        assert!(first.contains("server/discover"), "the probe came first: {first}");
        assert_eq!(era_of(&store), HANDSHAKE);
        assert_eq!(store.call_tool("s.echo", json!({"message": "hi"})).unwrap().text(), "hi");
    });
}

/// A multi-round-trip tool in a batch (with plain calls beside it) and in
/// background calls, each answered by the handler; its result is never
/// served from the cache, even under a cache key that does serve a plain call.
#[test]
fn multi_round_trips_in_batches_and_background_calls_are_never_cached() {
    common::bounded(Duration::from_secs(120), || {
        let store = store_for(Sdk::Rmcp.stdio());
        assert_eq!(era_of(&store), MODERN);
        let mut calls: Vec<ToolCall> =
            (0..6).map(|i| ToolCall::new("s.confirm_action", json!({"action": format!("a{i}")}))).collect();
        calls.push(ToolCall::new("s.echo", json!({"message": "beside"})));
        let results = store.batch_call(&calls, &BatchOptions::default());
        for (i, r) in results.iter().take(6).enumerate() {
            let text = r.as_ref().unwrap_or_else(|e| panic!("call {i}: {e}")).text();
            assert_eq!(text, format!("confirmed: a{i}"));
        }
        assert_eq!(results[6].as_ref().unwrap().text(), "beside");

        let handles: Vec<_> = (0..3)
            .map(|i| {
                store.submit(ToolCall::new("s.confirm_action", json!({"action": format!("b{i}")}))).unwrap()
            })
            .collect();
        for (i, h) in handles.iter().enumerate() {
            assert_eq!(h.wait().unwrap().text(), format!("confirmed: b{i}"));
        }

        let keyed = |tool: &str, args: Value| {
            let mut call = ToolCall::new(tool, args);
            call.options.cache_key = Some(format!("key-{tool}"));
            call
        };
        for _ in 0..2 {
            let r = store
                .batch_call(&[keyed("s.confirm_action", json!({"action": "c"}))], &BatchOptions::default());
            assert!(!r[0].as_ref().unwrap().from_cache(), "a result that took input rounds is never cached");
        }
        let plain = keyed("s.echo", json!({"message": "cached"}));
        store.batch_call(std::slice::from_ref(&plain), &BatchOptions::default());
        let again = store.batch_call(&[plain], &BatchOptions::default());
        assert!(again[0].as_ref().unwrap().from_cache(), "the cache does serve a plain call under its key");
    });
}
