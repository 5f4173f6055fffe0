//! Streamable HTTP in the stateless era (2026-07-28) over real sockets: no
//! session, the standard headers checked against the body, error statuses,
//! a `subscriptions/listen` stream, `--era 2026-07-28`.

use super::*;
use crate::modern::Eras;

const META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#;

fn modern(id: u64, method: &str, params: &str) -> String {
    let sep = if params.is_empty() { "" } else { "," };
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{{{params}{sep}{META}}}}}"#)
}

fn send(c: &mut Client, method: &str, name: Option<&str>, body: &str) -> Resp {
    let mut headers = vec![("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Method", method)];
    if let Some(n) = name {
        headers.push(("Mcp-Name", n));
    }
    c.send("POST", &headers, body)
}

#[test]
fn stateless_requests_need_no_session() {
    let h = spawn_http(DemoOptions::default(), "127.0.0.1:0").unwrap();
    let mut c = Client::new(h.addr());
    let r = send(&mut c, "server/discover", None, &modern(1, "server/discover", ""));
    assert_eq!(r.status, 200);
    assert!(r.header("mcp-session-id").is_none(), "no session in 2026-07-28");
    assert_eq!(r.messages()[0]["result"]["supportedVersions"], json!(["2026-07-28"]));
    let echo = modern(2, "tools/call", r#""name":"echo","arguments":{"message":"hi"}"#);
    let r = send(&mut c, "tools/call", Some("echo"), &echo);
    assert_eq!(r.messages()[0]["result"]["content"][0]["text"], "hi");
    assert_eq!(r.messages()[0]["result"]["resultType"], "complete");
    // The Base64 form of Mcp-Name.
    let r = send(&mut c, "tools/call", Some("=?base64?ZWNobw==?="), &echo);
    assert_eq!(r.status, 200);
    assert_eq!(r.messages()[0]["result"]["content"][0]["text"], "hi");
    // Headers that do not say what the body says.
    for (method, name) in [("tools/list", Some("echo")), ("tools/call", Some("add")), ("tools/call", None)] {
        let r = send(&mut c, method, name, &echo);
        assert_eq!(r.status, 400, "{method} {name:?}");
        assert_eq!(r.messages()[0]["error"]["code"], -32020, "{}", r.body);
    }
    let r = c.send("POST", &[("MCP-Protocol-Version", "2026-07-28")], &echo);
    assert_eq!((r.status, r.messages()[0]["error"]["code"].clone()), (400, json!(-32020)), "no Mcp-Method");
    // An unknown version, missing _meta, an unknown method.
    let future = echo.replace("\"2026-07-28\"", "\"2030-01-01\"");
    let r = c.send(
        "POST",
        &[("MCP-Protocol-Version", "2030-01-01"), ("Mcp-Method", "tools/call"), ("Mcp-Name", "echo")],
        &future,
    );
    assert_eq!((r.status, r.messages()[0]["error"]["code"].clone()), (400, json!(-32022)), "{}", r.body);
    let bare = r#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{}}"#;
    let r = send(&mut c, "tools/list", None, bare);
    assert_eq!((r.status, r.messages()[0]["error"]["code"].clone()), (400, json!(-32602)), "{}", r.body);
    let r = send(&mut c, "ping", None, &modern(4, "ping", ""));
    assert_eq!((r.status, r.messages()[0]["error"]["code"].clone()), (404, json!(-32601)), "{}", r.body);
    let batch = format!("[{echo}]");
    assert_eq!(send(&mut c, "tools/call", Some("echo"), &batch).status, 400, "no batches");
    // The same server still speaks 2025-11-25.
    init(&mut c);
}

#[test]
fn listen_streams_carry_what_they_asked_for() {
    let h = spawn_http(DemoOptions::default(), "127.0.0.1:0").unwrap();
    let mut listener = Client::new(h.addr());
    let listen = modern(7, "subscriptions/listen", r#""notifications":{"toolsListChanged":true}"#);
    listener.write(
        "POST",
        &[("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Method", "subscriptions/listen")],
        &listen,
    );
    let head = listener.read_head();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("text/event-stream"));
    let ack = listener.chunk().expect("the acknowledgement");
    assert!(
        ack.contains("notifications/subscriptions/acknowledged") && ack.contains("subscriptionId\":7"),
        "{ack}"
    );
    let mut c = Client::new(h.addr());
    let add = modern(8, "tools/call", r#""name":"add_tool","arguments":{"name":"fresh"}"#);
    let r = send(&mut c, "tools/call", Some("add_tool"), &add);
    assert_eq!(r.messages().len(), 1, "the change is not on the call's own stream: {}", r.body);
    let deadline = Instant::now() + READ_LIMIT;
    loop {
        let chunk = listener.chunk().expect("the stream ended");
        if chunk.contains("notifications/tools/list_changed") {
            assert!(chunk.contains("subscriptionId\":7"), "{chunk}");
            break;
        }
        assert!(Instant::now() < deadline, "no list change");
    }
    let drop = modern(9, "tools/call", r#""name":"drop_listen_streams""#);
    let r = send(&mut c, "tools/call", Some("drop_listen_streams"), &drop);
    assert_eq!(r.messages()[0]["result"]["content"][0]["text"], "closed 1 listening stream");
    assert!(listener.closed(), "the server closed the stream");
}

#[test]
fn a_stateless_only_server() {
    let opts = DemoOptions { era: Eras::Stateless, ..Default::default() };
    let h = spawn_http(opts, "127.0.0.1:0").unwrap();
    let mut c = Client::new(h.addr());
    let r = c.send("POST", &[], INIT);
    assert_eq!((r.status, r.messages()[0]["error"]["code"].clone()), (400, json!(-32022)), "{}", r.body);
    let r = c.send("GET", &[], "");
    assert_eq!(r.status, 405);
    let r = send(&mut c, "server/discover", None, &modern(1, "server/discover", ""));
    assert_eq!(r.status, 200);
}
