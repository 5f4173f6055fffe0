//! The stateless era (2026-07-28) through the dispatcher: `_meta` checks,
//! `server/discover`, methods the era does not have, multi round-trip
//! tools, per-request log levels, `subscriptions/listen` over stdout, `--era`.

use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Value, json};

use super::tests::{Collect, call, reply, server};
use super::{Peer, Transport};
use crate::DemoOptions;
use crate::modern::{Eras, keys};
use crate::peers::Background;

fn meta(caps: Value, level: Option<&str>) -> Value {
    let mut m = json!({keys::PROTOCOL_VERSION: "2026-07-28", keys::CLIENT_CAPABILITIES: caps});
    if let Some(l) = level {
        m[keys::LOG_LEVEL] = json!(l);
    }
    m
}

fn with_meta(mut params: Value, caps: Value) -> Value {
    params["_meta"] = meta(caps, None);
    params
}

fn tool(name: &str, args: Value) -> Value {
    with_meta(
        json!({"name": name, "arguments": args}),
        json!({"sampling": {}, "elicitation": {}, "roots": {}}),
    )
}

#[test]
fn discover_and_the_methods_of_the_era() {
    let s = server(DemoOptions::default());
    let p = Peer::new("t", Transport::Stdio);
    let out = Collect::default();
    let r = reply(call(&s, &p, 1, "server/discover", with_meta(json!({}), json!({})), &out));
    let d = &r["result"];
    assert_eq!(d["supportedVersions"], json!(["2026-07-28"]));
    assert_eq!(d["resultType"], "complete");
    assert_eq!(d["capabilities"]["tools"]["listChanged"], true);
    assert_eq!(d["_meta"][keys::SERVER_INFO]["name"], "mcpstore-demo-server");
    assert!(d["ttlMs"].is_u64() && d["cacheScope"] == "public");
    assert!(d.get("protocolVersion").is_none() && d.get("serverInfo").is_none());
    for method in ["initialize", "ping", "logging/setLevel", "resources/subscribe"] {
        let r = reply(call(&s, &p, 2, method, with_meta(json!({}), json!({})), &out));
        assert_eq!(r["error"]["code"], -32601, "{method}: {r}");
    }
    let r = reply(call(
        &s,
        &p,
        3,
        "resources/read",
        with_meta(json!({"uri": "demo://notes/zz"}), json!({})),
        &out,
    ));
    assert_eq!(r["error"]["code"], -32602, "no -32002 in 2026-07-28");
    let r = reply(call(&s, &p, 4, "tools/list", with_meta(json!({}), json!({})), &out));
    assert_eq!(r["result"]["resultType"], "complete");
    // Bad _meta is refused on arrival.
    let bad = json!({"_meta": {keys::PROTOCOL_VERSION: "2026-07-28"}});
    assert_eq!(reply(call(&s, &p, 5, "tools/list", bad, &out))["error"]["code"], -32602);
    let future = json!({"_meta": {keys::PROTOCOL_VERSION: "2030-01-01", keys::CLIENT_CAPABILITIES: {}}});
    let r = reply(call(&s, &p, 6, "tools/list", future, &out));
    assert_eq!(r["error"]["code"], -32022);
    assert_eq!(r["error"]["data"]["supported"], json!(["2026-07-28"]));
    // Without _meta, the same server is a 2025-11-25 one.
    let r = reply(call(&s, &p, 7, "server/discover", json!({}), &out));
    assert_eq!(r["error"]["code"], -32601);
    assert_eq!(reply(call(&s, &p, 8, "ping", Value::Null, &out))["result"], json!({}));
    assert_eq!(s.stats.snapshot()["discovers"], 1);
}

#[test]
fn tools_ask_through_input_required_results() {
    let s = server(DemoOptions::default());
    let p = Peer::new("t", Transport::Stdio);
    let out = Collect::default();
    let ask = tool("ask_user", json!({"question": "who?"}));
    let r = reply(call(&s, &p, 1, "tools/call", ask.clone(), &out));
    let asking = &r["result"];
    assert_eq!(asking["resultType"], "input_required", "{r}");
    assert_eq!(asking["inputRequests"]["user_answer"]["method"], "elicitation/create");
    assert_eq!(asking["inputRequests"]["user_answer"]["params"]["message"], "who?");
    let state = asking["requestState"].as_str().unwrap().to_owned();
    assert!(out.0.borrow().is_empty(), "no request is sent to the client");
    let mut retry = ask.clone();
    retry["inputResponses"] = json!({"user_answer": {"action": "accept", "content": {"name": "Ada"}}});
    retry["requestState"] = json!(state);
    let r = reply(call(&s, &p, 2, "tools/call", retry.clone(), &out));
    assert_eq!(r["result"]["content"][0]["text"], "accept name=Ada age=30 subscribe=false");
    assert_eq!(r["result"]["resultType"], "complete");
    retry["requestState"] = json!("forged");
    assert_eq!(reply(call(&s, &p, 3, "tools/call", retry, &out))["error"]["code"], -32602);
    // Another call's state does not fit.
    let mut other = tool("ask_user", json!({"question": "what?"}));
    other["inputResponses"] = json!({"user_answer": {"action": "decline"}});
    other["requestState"] = json!(state);
    assert_eq!(reply(call(&s, &p, 4, "tools/call", other, &out))["error"]["code"], -32602);

    let r = reply(call(&s, &p, 5, "tools/call", tool("list_roots", json!({})), &out));
    assert_eq!(r["result"]["inputRequests"]["client_roots"]["method"], "roots/list");
    let mut retry = tool("list_roots", json!({}));
    retry["inputResponses"] =
        json!({"client_roots": {"roots": [{"uri": "file:///a"}, {"uri": "file:///b"}]}});
    retry["requestState"] = r["result"]["requestState"].clone();
    let r = reply(call(&s, &p, 6, "tools/call", retry, &out));
    assert_eq!(r["result"]["content"][0]["text"], "file:///a\nfile:///b");

    let no_caps = with_meta(json!({"name": "ask_model", "arguments": {"question": "q"}}), json!({}));
    let r = reply(call(&s, &p, 7, "tools/call", no_caps, &out));
    assert_eq!(r["result"]["isError"], true, "no sampling capability: {r}");
    let r = reply(call(&s, &p, 8, "tools/call", tool("ping_client", json!({})), &out));
    assert_eq!(r["result"]["isError"], true, "no server requests in 2026-07-28");
}

#[test]
fn log_messages_follow_the_requests_level() {
    let s = server(DemoOptions::default());
    let p = Peer::new("t", Transport::Stdio);
    let log = |level: Option<&str>, at: &str| {
        let out = Collect::default();
        let mut params = json!({"name": "log", "arguments": {"level": at, "message": "m"}});
        params["_meta"] = meta(json!({}), level);
        reply(call(&s, &p, 1, "tools/call", params, &out));
        out.0.borrow().len()
    };
    assert_eq!(log(None, "emergency"), 0, "no logLevel: no messages");
    assert_eq!(log(Some("warning"), "info"), 0);
    assert_eq!(log(Some("warning"), "error"), 1);
}

#[derive(Default)]
struct Keep(Mutex<Vec<Value>>);
impl Background for Keep {
    fn send(&self, msg: &Value) {
        self.0.lock().push(msg.clone());
    }
}

#[test]
fn subscriptions_over_stdout() {
    let s = server(DemoOptions::default());
    let kept = Arc::new(Keep::default());
    let p = Peer::with_background("stdio", Transport::Stdio, kept.clone());
    let out = Collect::default();
    let listen = with_meta(
        json!({"notifications": {"toolsListChanged": true, "resourceSubscriptions": ["demo://notes/n"]}}),
        json!({}),
    );
    assert!(matches!(call(&s, &p, 9, "subscriptions/listen", listen, &out), Some(super::Outcome::Silent)));
    reply(call(&s, &p, 10, "tools/call", tool("add_tool", json!({"name": "fresh"})), &out));
    reply(call(&s, &p, 11, "tools/call", tool("write_note", json!({"name": "n", "text": "t"})), &out));
    assert!(out.0.borrow().is_empty(), "nothing on the requests' own streams");
    let methods: Vec<String> =
        kept.0.lock().iter().map(|m| m["method"].as_str().unwrap().to_owned()).collect();
    assert_eq!(
        methods,
        [
            "notifications/subscriptions/acknowledged",
            "notifications/tools/list_changed",
            "notifications/resources/updated"
        ],
        "resources/list_changed was not asked for"
    );
    assert!(kept.0.lock().iter().all(|m| m["params"]["_meta"][keys::SUBSCRIPTION_ID] == 9));
    assert_eq!(s.stats.snapshot()["listen_streams_opened"], 1);
    // The client ends it: no more notifications, and it is not a cancelled call.
    s.notification(&p, "notifications/cancelled", &json!({"requestId": 9}));
    reply(call(&s, &p, 12, "tools/call", tool("notify_list_changed", json!({})), &out));
    assert_eq!(kept.0.lock().len(), 3);
    assert_eq!(s.stats.snapshot()["cancelled"], 0);
    // The server ends one.
    let again = with_meta(json!({"notifications": {"promptsListChanged": true}}), json!({}));
    call(&s, &p, 13, "subscriptions/listen", again, &out);
    let r = reply(call(&s, &p, 14, "tools/call", tool("drop_listen_streams", json!({})), &out));
    assert_eq!(r["result"]["content"][0]["text"], "closed 1 listening stream");
    assert_eq!(kept.0.lock().last().unwrap()["params"]["requestId"], 13);
    let bad = with_meta(json!({}), json!({}));
    assert_eq!(reply(call(&s, &p, 15, "subscriptions/listen", bad, &out))["error"]["code"], -32602);
}

#[test]
fn one_era_servers() {
    let p = Peer::new("t", Transport::Stdio);
    let out = Collect::default();
    let old = server(DemoOptions { era: Eras::Handshake, ..Default::default() });
    let r = reply(call(&old, &p, 1, "server/discover", with_meta(json!({}), json!({})), &out));
    assert_eq!(r["error"]["code"], -32601, "a 2025-11-25 server does not know server/discover");
    let new = server(DemoOptions { era: Eras::Stateless, ..Default::default() });
    let r = reply(call(&new, &p, 2, "initialize", json!({"protocolVersion": "2025-11-25"}), &out));
    assert_eq!(r["error"]["code"], -32022);
    assert_eq!(r["error"]["data"], json!({"supported": ["2026-07-28"], "requested": "2025-11-25"}));
    assert_eq!(reply(call(&new, &p, 3, "tools/list", json!({}), &out))["error"]["code"], -32602);
    let forced = server(DemoOptions { protocol_version: Some("2024-11-05".into()), ..Default::default() });
    let r = reply(call(&forced, &p, 4, "server/discover", with_meta(json!({}), json!({})), &out));
    assert_eq!(r["error"]["code"], -32601, "--protocol-version 2024-11-05 is a handshake-only server");
}
