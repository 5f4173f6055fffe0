//! A stdio server gets a minimal environment: only `HOME`, `LOGNAME`, `PATH`,
//! `SHELL`, `TERM`, `USER` of this process (those that are set) plus its
//! entry's `env`; `"inheritEnv": [names]` adds names, `"inheritEnv": true`
//! passes everything.
//!
//! Setting a variable in this (multi-threaded) test process is unsound, so the
//! test re-runs this binary as a child process with a secret in its
//! environment; there each server is `sh -c 'env > FILE; exec <demo server>'`,
//! which records exactly the environment the server process got.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{TempDir, demo_bin, isolated};
use mcpstore::{InheritEnv, ServersFile, Session, TransportConfig};
use serde_json::json;

/// Set in the child process: the directory to write the servers' environments to.
const CHILD_DIR: &str = "MCPSTORE_TEST_ENV_CHILD_DIR";
const SECRET: (&str, &str) = ("MCPS_TEST_SECRET_TOKEN", "hunter2");
const LISTED: (&str, &str) = ("MCPS_TEST_LISTED", "listed-value");

/// Variables `sh` sets by itself.
const SHELL_OWN: [&str; 4] = ["PWD", "OLDPWD", "SHLVL", "_"];

/// The `mcpServers` entry of a server that records its environment in `file`.
fn recording_entry(file: &Path, inherit: serde_json::Value) -> serde_json::Value {
    let mut entry = json!({
        "command": "sh",
        "args": ["-c", r#"env > "$0"; exec "$1""#, file.to_string_lossy(), demo_bin()],
        "env": {"FROM_ENTRY": "entry-value"},
    });
    if !inherit.is_null() {
        entry["inheritEnv"] = inherit;
    }
    entry
}

/// Runs only inside the child process the test below starts: connects to one
/// recording server per `inheritEnv` mode and makes a call on each.
#[test]
fn env_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let text = json!({"mcpServers": {
        "minimal": recording_entry(&dir.join("minimal"), serde_json::Value::Null),
        "listed": recording_entry(&dir.join("listed"), json!([LISTED.0])),
        "all": recording_entry(&dir.join("all"), json!(true)),
    }})
    .to_string();
    let file = ServersFile::parse(&text).expect("parse");
    let modes: Vec<_> = file
        .services
        .iter()
        .map(|(name, c)| match &c.transport {
            TransportConfig::Stdio(s) => (name.as_str(), s.inherit_env.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(modes.contains(&("minimal", InheritEnv::Minimal)), "{modes:?}");
    assert!(modes.contains(&("listed", InheritEnv::Names(vec![LISTED.0.into()]))), "{modes:?}");
    assert!(modes.contains(&("all", InheritEnv::All)), "{modes:?}");
    for (name, config) in &file.services {
        let session = Session::connect(name, &config.transport, common::session_options()).expect("connect");
        let r = session
            .call_tool(
                "echo",
                json!({"message": name}),
                &mcpstore::CallOptions { timeout: Some(Duration::from_secs(20)), ..Default::default() },
            )
            .expect("echo");
        assert_eq!(r.text(), *name);
        session.close();
    }
    println!("ENV CHILD DONE");
}

/// The environment a recording server wrote, as name → value.
fn recorded(dir: &Path, name: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

#[test]
fn stdio_servers_get_a_minimal_environment() {
    let dir = TempDir::new("mcps-env");
    let out = isolated::command(std::env::current_exe().unwrap())
        .args(["--exact", "env_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir.path())
        .env(SECRET.0, SECRET.1)
        .env(LISTED.0, LISTED.1)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ENV CHILD DONE"),
        "child failed ({:?}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    // Minimal: the minimal set that this process has, the entry's env, nothing else.
    let minimal = recorded(dir.path(), "minimal");
    for (name, value) in &minimal {
        let allowed = InheritEnv::MINIMAL.contains(&name.as_str())
            || SHELL_OWN.contains(&name.as_str())
            || name == "FROM_ENTRY";
        assert!(allowed, "the server got {name}={value}; it may only get the minimal set: {minimal:?}");
    }
    for name in InheritEnv::MINIMAL {
        if let Ok(value) = std::env::var(name) {
            assert_eq!(minimal.get(*name), Some(&value), "{name} is passed on");
        }
    }
    assert_eq!(minimal.get("FROM_ENTRY").map(String::as_str), Some("entry-value"));
    assert!(!minimal.contains_key(SECRET.0), "the secret reached the server: {minimal:?}");
    assert!(!minimal.contains_key(CHILD_DIR), "{minimal:?}");

    // Listed names are added; the secret still stays home.
    let listed = recorded(dir.path(), "listed");
    assert_eq!(listed.get(LISTED.0).map(String::as_str), Some(LISTED.1), "{listed:?}");
    assert!(!listed.contains_key(SECRET.0), "the secret reached the server: {listed:?}");
    assert_eq!(listed.get("FROM_ENTRY").map(String::as_str), Some("entry-value"));

    // All passes everything.
    let all = recorded(dir.path(), "all");
    assert_eq!(all.get(SECRET.0).map(String::as_str), Some(SECRET.1), "{all:?}");
    assert_eq!(all.get(LISTED.0).map(String::as_str), Some(LISTED.1));
    assert!(all.contains_key(CHILD_DIR));
    assert_eq!(all.get("FROM_ENTRY").map(String::as_str), Some("entry-value"));
}
