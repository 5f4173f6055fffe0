//! Configuration: malformed `mcpServers` entries name their service and field,
//! files load, the documented example parses; tool name resolution across
//! services (`service.tool`, `service_tool`, unique bare names, ambiguity,
//! unknown names with suggestions).

mod common;

use std::time::Duration;

use common::{TempDir, demo_bin, demo_stdio, eventually, test_pool};
use mcpstore::servers::{self, TransportConfig};
use mcpstore::{Error, PerformanceConfig, Store};
use serde_json::{Value, json};

fn config_error(text: &str) -> Error {
    match Store::from_json(text) {
        Ok(_) => panic!("expected a config error for {text}"),
        Err(e) => e,
    }
}

#[test]
fn malformed_entries_name_service_and_field() {
    common::bounded(Duration::from_secs(60), move || {
        let cases: Vec<(Value, &str)> = vec![
            (json!({"command": 3}), "command"),
            (json!({"command": ""}), "command"),
            (json!({}), "command"),
            (json!({"command": "x", "args": "a b"}), "args"),
            (json!({"command": "x", "args": ["a", 1]}), "args[1]"),
            (json!({"command": "x", "env": {"A": []}}), "env.A"),
            (json!({"command": "x", "env": 5}), "env"),
            (json!({"command": "x", "cwd": 1}), "cwd"),
            (json!({"url": 7}), "url"),
            (json!({"url": "ftp://x"}), "url"),
            (json!({"type": "http"}), "url"),
            (json!({"url": "http://x", "transport": "carrier-pigeon"}), "transport"),
            (json!({"url": "http://x", "type": "websocket"}), "type"),
            (json!({"url": "http://x", "transport": 1}), "transport"),
            (json!({"url": "http://x", "headers": {"A": {}}}), "headers.A"),
            (json!({"url": "http://x", "headers": {"Bad Name": "v"}}), "headers.Bad Name"),
            (json!({"command": "x", "pool": {"max_conections": 3}}), "pool.max_conections"),
            (json!({"command": "x", "pool": {"max_connections": 0}}), "pool.max_connections"),
            (json!({"command": "x", "pool": 3}), "pool"),
            (
                json!({"command": "x", "pool": {"min_connections": 5, "max_connections": 2}}),
                "min_connections",
            ),
            (json!({"command": "x", "timeout": "soon"}), "timeout"),
            (json!({"command": "x", "retry_non_idempotent": "yes"}), "retry_non_idempotent"),
        ];
        for (entry, field) in cases {
            let text = json!({"mcpServers": {"svc": entry}}).to_string();
            match config_error(&text) {
                Error::Config { service, field: f, message } => {
                    assert_eq!(service.as_deref(), Some("svc"), "{text}: {message}");
                    assert_eq!(f.as_deref(), Some(field), "{text}: {message}");
                    assert!(!message.is_empty());
                }
                other => panic!("{text}: expected a config error, got {other:?}"),
            }
            let shown = config_error(&text).to_string();
            assert!(shown.contains("'svc'") && shown.contains(field), "{shown}");
        }
        // Entry that is not an object; bad service names; bad top level.
        let e = config_error(r#"{"mcpServers": {"svc": 3}}"#);
        assert!(matches!(&e, Error::Config { service: Some(s), .. } if s == "svc"), "{e:?}");
        for name in ["a b", "a.b", ""] {
            let text = json!({"mcpServers": {name: {"command": "x"}}}).to_string();
            assert!(matches!(config_error(&text), Error::Config { .. }), "{name:?}");
        }
        assert!(matches!(config_error("{not json"), Error::Config { .. }));
        assert!(matches!(config_error("[1]"), Error::Config { .. }));
        let e = config_error(r#"{"mcpServer": {}}"#);
        assert!(matches!(&e, Error::Config { field: Some(f), .. } if f == "mcpServer"), "{e:?}");
        let e = config_error(r#"{"mcpServers": []}"#);
        assert!(matches!(&e, Error::Config { field: Some(f), .. } if f == "mcpServers"), "{e:?}");
        let e = config_error(r#"{"mcpServers": {}, "performance": {"cache_sise": 1}}"#);
        assert!(e.to_string().contains("performance.cache_sise"), "{e}");
    });
}

#[test]
fn store_level_errors() {
    common::bounded(Duration::from_secs(60), move || {
        let store = Store::builder().pool(test_pool()).build().unwrap();
        let e = store
            .add_service(
                "web",
                mcpstore::ServiceConfig::http("http://127.0.0.1:1/mcp").header("Bad Name", "x"),
            )
            .unwrap_err();
        assert!(
            matches!(&e, Error::Config { service: Some(s), field: Some(f), .. } if s == "web" && f == "headers.Bad Name"),
            "{e:?}"
        );
        store.add_service("one", demo_stdio(&[])).unwrap();
        let e = store.add_service("one", demo_stdio(&[])).unwrap_err();
        assert!(matches!(&e, Error::Config { service: Some(s), .. } if s == "one"), "{e:?}");
        let e = store.add_service("has space", demo_stdio(&[])).unwrap_err();
        assert!(matches!(e, Error::Config { .. }));
        let e = store.remove_service("onee").unwrap_err();
        match e {
            Error::ServiceNotFound { name, suggestions } => {
                assert_eq!(name, "onee");
                assert_eq!(suggestions, ["one"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(store.load_config("/nonexistent/mcp.json").is_err());
    });
}

/// The `mcpServers` example of the documentation (Claude Desktop / Cursor style).
const DOCUMENTED_EXAMPLE: &str = r#"{
  "mcpServers": {
    "filesystem": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
      "env": {"NODE_ENV": "production"}
    },
    "web": {
      "url": "http://127.0.0.1:8000/mcp",
      "transport": "streamable-http",
      "headers": {"Authorization": "Bearer token"}
    },
    "old": {"command": "legacy-server", "disabled": true}
  },
  "performance": {
    "pool": {"min_connections": 2, "max_connections": 10, "connection_timeout": 30, "read_timeout": 60},
    "cache": {"enabled": true, "capacity": 1000, "ttl": 300}
  }
}"#;

#[test]
fn documented_example_parses() {
    common::bounded(Duration::from_secs(60), move || {
        let file = servers::parse_str(DOCUMENTED_EXAMPLE, &PerformanceConfig::new()).expect("parses");
        let names: Vec<&str> = file.services.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["filesystem", "web"], "disabled entries are skipped");
        match &file.services[0].1.transport {
            TransportConfig::Stdio { command, args, env, .. } => {
                assert_eq!(command, "npx");
                assert_eq!(args[2], "/tmp");
                assert_eq!(env["NODE_ENV"], "production");
            }
            other => panic!("{other:?}"),
        }
        match &file.services[1].1.transport {
            TransportConfig::Http { url, headers } => {
                assert_eq!(url, "http://127.0.0.1:8000/mcp");
                assert_eq!(headers["Authorization"], "Bearer token");
            }
            other => panic!("{other:?}"),
        }
        assert!(file.has_performance);
        assert_eq!(file.performance.pool.min_connections, 2);
        assert_eq!(file.performance.pool.read_timeout, Duration::from_secs(60));
        assert_eq!(file.performance.cache.capacity, 1000);
    });
}

#[test]
fn load_config_from_a_file() {
    common::bounded(Duration::from_secs(60), move || {
        let dir = TempDir::new("mcps-cfg");
        let path = dir.path().join("mcp.json");
        let text = json!({
            "mcpServers": {
                "demo": {"command": demo_bin(), "args": ["--page-size", "4"], "timeout": 20},
                "off": {"command": "does-not-exist", "disabled": true}
            },
            "performance": {"pool": {"min_connections": 1, "max_connections": 3}}
        });
        std::fs::write(&path, text.to_string()).unwrap();

        let store = Store::builder().pool(test_pool()).build().unwrap();
        let names = store.load_config(&path).expect("load_config");
        assert_eq!(names, ["demo"]);
        assert!(store.wait_ready(Duration::from_secs(30)).is_empty());
        let r = store.call_tool("demo.echo", json!({"message": "from file"})).unwrap();
        assert_eq!(r.text(), "from file");
        assert_eq!(store.list_tools(Some("demo")).unwrap().len(), 15);
        drop(store);

        let store = Store::from_file(&path).expect("from_file");
        assert_eq!(store.config().pool.max_connections, 3);
        let r = store.call_tool("echo", json!({"message": "from_file"})).unwrap();
        assert_eq!(r.text(), "from_file");
        drop(store);

        std::fs::write(&path, r#"{"mcpServers": {"bad": {"command": 1}}}"#).unwrap();
        let e = Store::from_file(&path).unwrap_err();
        assert!(
            matches!(&e, Error::Config { service: Some(s), field: Some(f), .. } if s == "bad" && f == "command"),
            "{e:?}"
        );
        let store = Store::builder().build().unwrap();
        assert!(matches!(store.load_config(&path), Err(Error::Config { .. })));
        assert!(matches!(store.load_config(dir.path().join("missing.json")), Err(Error::Config { .. })));
    });
}

#[test]
fn tool_name_resolution() {
    common::bounded(Duration::from_secs(60), move || {
        let store = Store::builder().pool(test_pool()).build().unwrap();
        store.add_service("alpha", demo_stdio(&[])).unwrap();
        store.add_service("beta", demo_stdio(&[])).unwrap();
        assert!(store.wait_ready(Duration::from_secs(30)).is_empty());

        // Qualified names.
        for name in ["alpha.echo", "alpha_echo", "beta.echo", "beta_echo"] {
            let r = store.call_tool(name, json!({"message": name})).unwrap();
            assert_eq!(r.text(), name);
        }
        // Each qualified name reaches its own server (counters are per process).
        assert_eq!(store.call_tool("alpha.counter", json!({})).unwrap().text(), "1");
        assert_eq!(store.call_tool("alpha.counter", json!({})).unwrap().text(), "2");
        assert_eq!(store.call_tool("beta_counter", json!({})).unwrap().text(), "1");

        // A bare name two services offer is ambiguous.
        match store.call_tool("echo", json!({"message": "x"})) {
            Err(Error::AmbiguousTool { name, candidates }) => {
                assert_eq!(name, "echo");
                assert_eq!(candidates, ["alpha.echo", "beta.echo"]);
            }
            other => panic!("expected AmbiguousTool, got {other:?}"),
        }
        let shown = store.resolve_tool("echo").err().unwrap().to_string();
        assert!(shown.contains("alpha.echo") && shown.contains("beta.echo"), "{shown}");

        // A bare name only one service offers is unique.
        store.call_tool("alpha.add_tool", json!({"name": "solo"})).unwrap();
        eventually(Duration::from_secs(10), "solo in the index", || store.resolve_tool("solo").is_ok());
        assert_eq!(store.call_tool("solo", json!({"message": "unique"})).unwrap().text(), "unique");

        // Unknown names, with suggestions.
        match store.call_tool("ecoh", json!({})) {
            Err(Error::ToolNotFound { name, suggestions }) => {
                assert_eq!(name, "ecoh");
                assert!(suggestions.iter().any(|s| s == "echo"), "{suggestions:?}");
                assert!(suggestions.len() <= 5);
            }
            other => panic!("expected ToolNotFound, got {other:?}"),
        }
        match store.call_tool("alpha.ecoh", json!({})) {
            Err(Error::ToolNotFound { suggestions, .. }) => {
                assert!(suggestions.iter().any(|s| s == "alpha.echo"), "{suggestions:?}");
            }
            other => panic!("expected ToolNotFound, got {other:?}"),
        }
        match store.call_tool("zzzzzzzzzzzz", json!({})) {
            Err(Error::ToolNotFound { suggestions, .. }) => {
                assert!(suggestions.is_empty(), "{suggestions:?}")
            }
            other => panic!("expected ToolNotFound, got {other:?}"),
        }
        let e = store.call_tool("alpha.echo", json!([1, 2])).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    });
}

/// Services that load their tools at the same moment all end up in the index
/// (the index was once rebuilt from a stale snapshot, losing a service's tools).
#[test]
fn concurrently_loaded_services_are_all_indexed() {
    common::bounded(Duration::from_secs(90), || {
        let server =
            mcpstore::demo::spawn_http(mcpstore::demo::DemoOptions::default(), "127.0.0.1:0").unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10 {
                        let store = Store::builder().pool(test_pool()).build().unwrap();
                        for i in 0..6 {
                            let config = mcpstore::ServiceConfig::http(server.url());
                            store.add_service(&format!("s{i}"), config).unwrap();
                        }
                        assert!(store.wait_ready(Duration::from_secs(20)).is_empty());
                        for i in 0..6 {
                            let name = format!("s{i}.echo");
                            assert!(
                                store.resolve_tool(&name).is_ok(),
                                "{name} missing from the index: {:?}",
                                store.resolve_tool(&name).err()
                            );
                        }
                    }
                });
            }
        });
        server.shutdown();
    });
}
