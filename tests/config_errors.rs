//! Configuration: malformed `mcpServers` entries name their service and field,
//! files load, the documented example parses; tool name resolution across
//! services (`service.tool`, `service_tool`, unique bare names, ambiguity,
//! unknown names with suggestions).

mod common;

use std::time::Duration;

use common::{TempDir, demo_bin, demo_stdio, eventually, test_pool};
use mcpstore::{
    BatchConfig, CacheConfig, CachePolicy, Error, HttpConfig, InheritEnv, MemoryConfig, PerformanceConfig,
    PoolConfig, ServersFile, ServiceConfig, StdioConfig, Store,
};
use serde_json::{Value, json};

/// The error of parsing `text` as an `mcp.json` (without the environment,
/// which `Store::from_json` would also apply).
fn config_error(text: &str) -> Error {
    match ServersFile::parse(text) {
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
                "pool.min_connections",
            ),
            (json!({"command": "x", "env": {"A=B": "x"}}), "env.A=B"),
            (json!({"command": "x", "inheritEnv": ["OK", ""]}), "inheritEnv[1]"),
            (json!({"url": "http:///mcp"}), "url"),
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
        // Store::from_json reports the same errors.
        let e = Store::from_json(r#"{"mcpServers": {"svc": {"command": 3}}}"#).unwrap_err();
        assert!(matches!(&e, Error::Config { field: Some(f), .. } if f == "command"), "{e:?}");
    });
}

#[test]
fn store_level_errors() {
    common::bounded(Duration::from_secs(60), move || {
        let store = Store::builder().pool(test_pool()).build().unwrap();
        let e = store
            .add_service(
                "web",
                mcpstore::ServiceConfig::new(mcpstore::HttpConfig {
                    headers: [("Bad Name".to_owned(), "x".to_owned())].into(),
                    ..mcpstore::HttpConfig::new("http://127.0.0.1:1/mcp")
                }),
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

/// `Err(Config)` naming `service` and `field`, else a panic saying what came instead.
fn assert_config_error<T: std::fmt::Debug>(
    got: mcpstore::Result<T>,
    service: Option<&str>,
    field: &str,
    case: &str,
) {
    match got {
        Err(Error::Config { service: s, field: f, message }) => {
            assert_eq!(s.as_deref(), service, "{case}: {message}");
            assert_eq!(f.as_deref(), Some(field), "{case}: {message}");
            assert!(!message.is_empty(), "{case}");
        }
        other => panic!("{case}: expected a config error naming {field}, got {other:?}"),
    }
}

/// Performance settings that cannot work, each as code would build it.
fn bad_performance_configs() -> Vec<(&'static str, PerformanceConfig, &'static str)> {
    let base = PerformanceConfig::new;
    let pool = |p: PoolConfig| PerformanceConfig { pool: p, ..base() };
    let batch = |b: BatchConfig| PerformanceConfig { batch: b, ..base() };
    vec![
        (
            "zero in-flight limit per session",
            pool(PoolConfig { max_in_flight_per_connection: 0, ..Default::default() }),
            "max_in_flight_per_connection",
        ),
        (
            "zero background call limit",
            batch(BatchConfig { max_concurrent_calls: 0, ..Default::default() }),
            "max_concurrent_calls",
        ),
        (
            "zero health check interval (would spin)",
            pool(PoolConfig { health_check_interval: Duration::ZERO, ..Default::default() }),
            "health_check_interval",
        ),
        (
            "zero health check timeout",
            pool(PoolConfig { health_check_timeout: Duration::ZERO, ..Default::default() }),
            "health_check_timeout",
        ),
        (
            "zero monitoring interval while monitoring (would spin)",
            PerformanceConfig {
                memory: MemoryConfig {
                    monitoring_enabled: true,
                    monitoring_interval: Duration::ZERO,
                    ..Default::default()
                },
                ..base()
            },
            "monitoring_interval",
        ),
        (
            "zero max_connections",
            pool(PoolConfig { min_connections: 0, max_connections: 0, ..Default::default() }),
            "max_connections",
        ),
        (
            "min above max",
            pool(PoolConfig { min_connections: 5, max_connections: 2, ..Default::default() }),
            "min_connections",
        ),
        (
            "zero call timeout",
            batch(BatchConfig { call_timeout: Duration::ZERO, ..Default::default() }),
            "call_timeout",
        ),
        (
            "zero connection timeout",
            pool(PoolConfig { connection_timeout: Duration::ZERO, ..Default::default() }),
            "connection_timeout",
        ),
        (
            "zero read timeout",
            pool(PoolConfig { read_timeout: Duration::ZERO, ..Default::default() }),
            "read_timeout",
        ),
        (
            "zero write timeout",
            pool(PoolConfig { write_timeout: Duration::ZERO, ..Default::default() }),
            "write_timeout",
        ),
        (
            "zero batch size",
            batch(BatchConfig { default_batch_size: 0, ..Default::default() }),
            "default_batch_size",
        ),
        (
            "zero cache ttl while caching",
            PerformanceConfig { cache: CacheConfig { ttl: Duration::ZERO, ..Default::default() }, ..base() },
            "cache_ttl",
        ),
        (
            "negative memory threshold",
            PerformanceConfig { memory: MemoryConfig { threshold_mb: -1.0, ..Default::default() }, ..base() },
            "memory_threshold_mb",
        ),
        (
            "NaN memory threshold",
            PerformanceConfig {
                memory: MemoryConfig { threshold_mb: f64::NAN, ..Default::default() },
                ..base()
            },
            "memory_threshold_mb",
        ),
        ("zero response limit", PerformanceConfig { max_response_bytes: 0, ..base() }, "max_response_bytes"),
    ]
}

/// `StoreBuilder::build` and `Store::apply_performance_config` check settings
/// built in code as `mcp.json` checks them: the error names the field.
#[test]
fn code_built_performance_configs_are_checked() {
    common::bounded(Duration::from_secs(60), || {
        let live = Store::builder().build().expect("a store with the defaults");
        for (case, config, field) in bad_performance_configs() {
            assert_config_error(Store::builder().performance(config.clone()).build(), None, field, case);
            assert_config_error(live.apply_performance_config(config), None, field, case);
        }
        assert_eq!(live.config(), PerformanceConfig::new(), "refused settings change nothing");
        // The same settings through the builder's section setters.
        let zero_in_flight = PoolConfig { max_in_flight_per_connection: 0, ..Default::default() };
        let spin = MemoryConfig { monitoring_interval: Duration::ZERO, ..Default::default() };
        assert_config_error(
            Store::builder().pool(zero_in_flight).build(),
            None,
            "max_in_flight_per_connection",
            "pool()",
        );
        assert_config_error(
            Store::builder().memory(spin.clone()).build(),
            None,
            "monitoring_interval",
            "memory()",
        );
        // A zero interval is fine while monitoring is off: nothing samples.
        let off = MemoryConfig { monitoring_enabled: false, ..spin };
        assert!(Store::builder().memory(off).build().is_ok());
    });
}

/// Service settings that cannot work, each as code would build it.
fn bad_service_configs() -> Vec<(&'static str, ServiceConfig, &'static str)> {
    let http_with = |name: &str, value: &str| {
        ServiceConfig::new(HttpConfig {
            headers: [(name.to_owned(), value.to_owned())].into(),
            ..HttpConfig::new("http://127.0.0.1:1/mcp")
        })
    };
    let stdio = |f: &dyn Fn(&mut StdioConfig)| {
        let mut c = StdioConfig::new(demo_bin(), Vec::<String>::new());
        f(&mut c);
        ServiceConfig::new(c)
    };
    let with_pool = |p: PoolConfig| ServiceConfig { pool: Some(p), ..demo_stdio(&[]) };
    let with_auth = |auth: mcpstore::AuthConfig| {
        ServiceConfig::new(HttpConfig { auth, ..HttpConfig::new("http://127.0.0.1:1/mcp") })
    };
    vec![
        (
            "a redirect URI over plain HTTP off loopback",
            with_auth(mcpstore::AuthConfig {
                redirect_uri: Some("http://example.com/callback".into()),
                ..Default::default()
            }),
            "auth.redirect_uri",
        ),
        (
            "client credentials without a client id",
            with_auth(mcpstore::AuthConfig {
                mode: mcpstore::AuthMode::ClientCredentials,
                ..Default::default()
            }),
            "auth.client_id",
        ),
        ("empty command", ServiceConfig::stdio("", Vec::<String>::new()), "command"),
        ("blank command", ServiceConfig::stdio("  ", Vec::<String>::new()), "command"),
        ("NUL in an argument", stdio(&|c| c.args = vec!["ok".into(), "a\0b".into()]), "args[1]"),
        ("'=' in an env name", stdio(&|c| _ = c.env.insert("A=B".into(), "x".into())), "env.A=B"),
        ("empty env name", stdio(&|c| _ = c.env.insert(String::new(), "x".into())), "env."),
        (
            "empty inherited name",
            stdio(&|c| c.inherit_env = InheritEnv::Names(vec!["LANG".into(), String::new()])),
            "inheritEnv[1]",
        ),
        ("ftp URL", ServiceConfig::http("ftp://127.0.0.1/mcp"), "url"),
        ("URL without scheme", ServiceConfig::http("127.0.0.1:8000/mcp"), "url"),
        ("URL without host", ServiceConfig::http("http:///mcp"), "url"),
        ("URL with a space", ServiceConfig::http("http://127.0.0.1:1/m cp"), "url"),
        ("bad header name", http_with("Bad Name", "x"), "headers.Bad Name"),
        ("empty header name", http_with("", "x"), "headers."),
        ("header value with CRLF", http_with("X-Key", "a\r\nInjected: yes"), "headers.X-Key"),
        ("header value with non-ASCII", http_with("X-Key", "caf\u{e9}"), "headers.X-Key"),
        (
            "zero in-flight limit in the service's pool",
            with_pool(PoolConfig { max_in_flight_per_connection: 0, ..Default::default() }),
            "pool.max_in_flight_per_connection",
        ),
        (
            "zero max_connections in the service's pool",
            with_pool(PoolConfig { min_connections: 0, max_connections: 0, ..Default::default() }),
            "pool.max_connections",
        ),
        (
            "min above max in the service's pool",
            with_pool(PoolConfig { min_connections: 3, max_connections: 1, ..Default::default() }),
            "pool.min_connections",
        ),
        (
            "zero health check interval in the service's pool",
            with_pool(PoolConfig { health_check_interval: Duration::ZERO, ..Default::default() }),
            "pool.health_check_interval",
        ),
        (
            "zero cache ttl for a tool",
            ServiceConfig {
                cache: CachePolicy { tools: [("echo".to_owned(), Duration::ZERO)].into() },
                ..demo_stdio(&[])
            },
            "cache.tools.echo.ttl",
        ),
    ]
}

/// `Store::add_service` checks a service built in code as `mcp.json` checks
/// it: the error names the service and the field, and nothing is added.
#[test]
fn code_built_service_configs_are_checked() {
    common::bounded(Duration::from_secs(60), || {
        let store = Store::builder().pool(test_pool()).build().unwrap();
        for (case, config, field) in bad_service_configs() {
            assert_config_error(config.validate("svc"), Some("svc"), field, case);
            assert_config_error(store.add_service("svc", config), Some("svc"), field, case);
            assert!(store.service_names().is_empty(), "{case}: nothing is added");
        }
        let shown = store.add_service("svc", ServiceConfig::http("ftp://x")).unwrap_err().to_string();
        assert!(shown.contains("'svc'") && shown.contains("url"), "{shown}");
        // A secret is read when the service is added: a missing one names its field.
        let unset = mcpstore::AuthConfig {
            client_id: Some("app".into()),
            client_secret: Some(mcpstore::SecretSource::Env("MCPS_TEST_UNSET_SECRET".into())),
            ..Default::default()
        };
        let config =
            ServiceConfig::new(HttpConfig { auth: unset, ..HttpConfig::new("http://127.0.0.1:1/mcp") });
        assert_config_error(
            store.add_service("svc", config),
            Some("svc"),
            "auth.client_secret_env",
            "unset secret",
        );
    });
}

#[test]
fn load_config_from_a_file() {
    common::isolated::assert_no_settings_in_env(); // Store::from_file applies the environment
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
        assert_eq!(store.list_tools(Some("demo")).unwrap().len(), common::core::DEMO_TOOLS.len());
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
            mcpstore_demo_server::spawn_http(mcpstore_demo_server::DemoOptions::default(), "127.0.0.1:0")
                .unwrap();
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
