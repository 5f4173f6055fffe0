//! Against real third-party MCP servers (installed by scripts/install-test-deps.sh):
//! server-everything over stdio and Streamable HTTP, server-filesystem over
//! stdio, and a Python FastMCP server over Streamable HTTP.

mod common;

use std::time::Duration;

use common::{
    TempDir, connect, eventually, everything_http, everything_js, fastmcp_http, filesystem_js, node,
    path_str, store_with,
};
use mcpstore::{Error, ServiceConfig, Store};
use serde_json::json;

fn everything_stdio() -> ServiceConfig {
    ServiceConfig::stdio(path_str(&node()), [path_str(&everything_js()), "stdio".to_owned()])
}

fn check_everything(store: &Store) {
    let tools = store.list_tools(Some("everything")).expect("tools");
    let names: Vec<&str> = tools.iter().map(|(_, t)| t.name.as_str()).collect();
    assert!(names.contains(&"echo") && names.contains(&"get-sum"), "{names:?}");
    let r = store.call_tool("everything.echo", json!({"message": "hello everything"})).expect("echo");
    assert!(!r.is_error);
    assert_eq!(r.text(), "Echo: hello everything");
    let r = store.call_tool("everything.get-sum", json!({"a": 2, "b": 3})).expect("get-sum");
    assert_eq!(r.text(), "The sum of 2 and 3 is 5.");
    // `service_tool` names resolve too.
    let r = store.call_tool("everything_get-sum", json!({"a": 40, "b": 2})).unwrap();
    assert!(r.text().contains("42"), "{}", r.text());
    // Several threads through the pool.
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                for i in 0..20 {
                    let m = format!("{t}/{i}");
                    let r = store.call_tool("everything.echo", json!({ "message": m })).unwrap();
                    assert_eq!(r.text(), format!("Echo: {m}"));
                }
            });
        }
    });
    let info = &store.list_services()[0];
    assert!(info.server_info.is_some(), "{info:?}");
    assert!(info.protocol_version.is_some());
}

#[test]
fn everything_over_stdio() {
    common::bounded(Duration::from_secs(90), move || {
        let store = store_with("everything", everything_stdio());
        check_everything(&store);
    });
}

#[test]
fn everything_over_streamable_http() {
    common::bounded(Duration::from_secs(90), move || {
        let server = everything_http();
        let store = store_with("everything", ServiceConfig::http(server.ready.clone()));
        check_everything(&store);
        // The direct session sees the server's handshake.
        let s = connect(&ServiceConfig::http(server.ready.clone()).transport);
        let info = s.server_info().unwrap();
        assert!(!info.server_info.name.is_empty());
        s.close();
    });
}

#[test]
fn filesystem_over_stdio() {
    common::bounded(Duration::from_secs(90), move || {
        let dir = TempDir::new("mcps-fs");
        // The server resolves symlinks in its allowed directory; use the canonical path.
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::write(root.join("a.txt"), "alpha\nbeta\n").unwrap();
        std::fs::write(root.join("z.md"), "# zed").unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        let config = ServiceConfig::stdio(path_str(&node()), [path_str(&filesystem_js()), path_str(&root)]);
        let store = store_with("fs", config);
        let a = path_str(&root.join("a.txt"));
        let r = store.call_tool("fs.read_text_file", json!({ "path": a })).unwrap();
        assert!(!r.is_error, "{}", r.to_json());
        assert_eq!(r.text(), "alpha\nbeta\n");
        let r = store.call_tool("fs.read_file", json!({ "path": a })).unwrap();
        assert!(!r.is_error, "{}", r.to_json());
        assert_eq!(r.text(), "alpha\nbeta\n");
        let r = store.call_tool("fs.list_directory", json!({ "path": path_str(&root) })).unwrap();
        let text = r.text();
        let mut lines: Vec<&str> = text.split('\n').collect();
        lines.sort_unstable();
        assert_eq!(lines, ["[DIR] sub", "[FILE] a.txt", "[FILE] z.md"]);
        let r = store.call_tool("fs.read_text_file", json!({"path": "/etc/hostname"})).unwrap();
        assert!(r.is_error, "outside the allowed directory: {}", r.to_json());
        // Bare names resolve when unique.
        let r = store.call_tool("list_directory", json!({ "path": path_str(&root.join("sub")) })).unwrap();
        assert!(!r.is_error);
    });
}

#[test]
fn fastmcp_over_streamable_http() {
    common::bounded(Duration::from_secs(90), move || {
        let server = fastmcp_http();
        let store = store_with("py", ServiceConfig::http(server.ready.clone()));
        let r = store.call_tool("py.echo", json!({"message": "from rust"})).unwrap();
        assert!(!r.is_error, "{}", r.to_json());
        assert_eq!(r.text(), "from rust");
        let r = store.call_tool("py.add", json!({"a": 2, "b": 3})).unwrap();
        assert_eq!(r.text(), "5");
        let r = store.call_tool("py.slow", json!({"ms": 20})).unwrap();
        assert_eq!(r.text(), "slept 20ms");
        // A missing argument is reported by the server (as a tool error or an RPC error).
        match store.call_tool("py.add", json!({"a": 2})) {
            Ok(r) => assert!(r.is_error, "{}", r.to_json()),
            Err(Error::Rpc { .. }) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
        std::thread::scope(|s| {
            for t in 0..4 {
                let store = &store;
                s.spawn(move || {
                    for i in 0..10 {
                        let r = store.call_tool("py.add", json!({"a": t, "b": i})).unwrap();
                        assert_eq!(r.text(), (t + i).to_string());
                    }
                });
            }
        });
        eventually(Duration::from_secs(5), "a healthy service", || {
            store.list_services()[0].state == mcpstore::ServiceState::Healthy
        });
    });
}
