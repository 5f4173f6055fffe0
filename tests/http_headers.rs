//! Configured HTTP headers are sent with every request: the demo server run
//! with `--require-header "X-Key: secret"` answers 401 to any request without
//! that exact header, so a session that initializes and calls tools proves
//! the header went out each time.

mod common;

use std::time::Duration;

use common::{bounded, connect, demo_http, try_connect};
use mcpstore::{Error, HttpConfig, ServersFile, TransportConfig};
use serde_json::json;

fn with_headers(url: &str, headers: &[(&str, &str)]) -> TransportConfig {
    let headers = headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    TransportConfig::Http(HttpConfig { headers, ..HttpConfig::new(url) })
}

#[test]
fn configured_headers_are_sent_with_every_request() {
    bounded(Duration::from_secs(60), || {
        let demo = demo_http(&["--require-header", "X-Key: secret"]);
        let url = demo.url();

        // Without the header, or with another value: refused.
        for headers in [&[][..], &[("X-Key", "wrong")][..], &[("X-Other", "secret")][..]] {
            match try_connect(&with_headers(&url, headers)) {
                Err(Error::Transport { status: Some(401), .. }) => {}
                other => panic!("headers {headers:?}: expected HTTP 401, got {other:?}"),
            }
        }

        // Built in code: initialize, several calls and a ping all carry it.
        let s = connect(&with_headers(&url, &[("X-Key", "secret")]));
        for i in 0..5 {
            let r = common::core::call_ok(&s, "echo", json!({"message": format!("m{i}")}));
            assert_eq!(r.text(), format!("m{i}"));
        }
        s.ping(Duration::from_secs(10)).expect("ping with the header");
        s.close();

        // From mcp.json, through a store.
        let text = json!({"mcpServers": {"web": {"url": url, "headers": {"X-Key": "secret"}}}}).to_string();
        let file = ServersFile::parse(&text).unwrap();
        let (name, config) = file.services.into_iter().next().unwrap();
        let store = common::store_with(&name, config);
        assert_eq!(store.call_tool("web.echo", json!({"message": "via store"})).unwrap().text(), "via store");
        let stats = common::demo_stats(&store, "web.stats");
        assert!(stats["calls"].as_u64().unwrap() >= 6, "{stats}");
    });
}
