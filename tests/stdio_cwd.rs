//! A stdio service's `cwd` takes effect: the demo server's file tools resolve
//! relative paths against its `--root`, which defaults to its working
//! directory, so a file found by a relative path proves where it runs.

mod common;

use std::time::Duration;

use common::{TempDir, bounded, demo_bin};
use mcpstore::{ServersFile, ServiceConfig, StdioConfig};
use serde_json::json;

#[test]
fn the_server_runs_in_its_cwd() {
    bounded(Duration::from_secs(60), || {
        let dir = TempDir::new("mcps-cwd");
        std::fs::write(dir.path().join("marker.txt"), "found by a relative path").unwrap();
        assert!(
            !std::path::Path::new("marker.txt").exists(),
            "the test's own directory must not hold the file"
        );

        // Built in code.
        let config = ServiceConfig::new(StdioConfig {
            cwd: Some(dir.path().to_owned()),
            ..StdioConfig::new(demo_bin(), Vec::<String>::new())
        });
        let store = common::store_with("here", config);
        let r = store.call_tool("here.read_file", json!({"path": "marker.txt"})).unwrap();
        assert!(!r.is_error, "{}", r.to_json());
        assert_eq!(r.text(), "found by a relative path");
        let listing = store.call_tool("here.list_directory", json!({"path": "."})).unwrap().text();
        assert_eq!(listing.trim(), "[FILE] marker.txt");

        // From mcp.json, with the `workingDir` alias too; without a cwd the
        // server runs in this process's directory, where the file is not.
        let text = json!({"mcpServers": {
            "cwd": {"command": demo_bin(), "cwd": dir.str()},
            "alias": {"command": demo_bin(), "workingDir": dir.str()},
            "none": {"command": demo_bin()},
        }})
        .to_string();
        let store = mcpstore::Store::builder().pool(common::test_pool()).build().unwrap();
        for (name, config) in ServersFile::parse(&text).unwrap().services {
            store.add_service(&name, config).unwrap();
        }
        assert!(store.wait_ready(Duration::from_secs(30)).is_empty());
        for name in ["cwd", "alias"] {
            let r = store.call_tool(&format!("{name}.read_file"), json!({"path": "marker.txt"})).unwrap();
            assert_eq!(r.text(), "found by a relative path", "{name}");
        }
        let r = store.call_tool("none.read_file", json!({"path": "marker.txt"})).unwrap();
        assert!(r.is_error, "without a cwd the file is not there: {}", r.to_json());
    });
}
