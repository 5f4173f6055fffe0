//! What the README shows holds for the current API: its `mcp.json` example
//! parses to what it describes, and its table of `performance` keys lists
//! every key with its real default. (Its Rust quickstart is compiled as a
//! doctest: `ReadmeDoctests` in src/lib.rs.)

use std::path::PathBuf;
use std::time::Duration;

use mcpstore::{FLAT_KEYS, HttpTransportKind, InheritEnv, PerformanceConfig, ServersFile, TransportConfig};
use serde_json::Value;

fn readme() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The one ```json block of the README.
fn readme_json_block() -> String {
    let text = readme();
    let blocks: Vec<&str> = text
        .split("```json\n")
        .skip(1)
        .map(|rest| rest.split("\n```").next().expect("a closed code block"))
        .collect();
    assert_eq!(blocks.len(), 1, "the README has one mcp.json example");
    blocks[0].to_owned()
}

/// The README's OAuth example (a ```jsonc block) parses to what it describes.
#[test]
fn the_readme_oauth_example_parses_as_described() {
    let text = readme();
    let block =
        text.split("```jsonc\n").nth(1).and_then(|b| b.split("\n```").next()).expect("the OAuth example");
    let file = ServersFile::parse(block).expect("the README's OAuth example parses");
    let auth = |name: &str| match &file.services.iter().find(|(n, _)| n == name).expect(name).1.transport {
        TransportConfig::Http(h) => h.auth.clone(),
        other => panic!("{other:?}"),
    };
    let notes = auth("notes");
    assert_eq!(notes.mode, mcpstore::AuthMode::AuthorizationCode);
    assert_eq!(notes.client_secret, Some(mcpstore::SecretSource::Env("NOTES_SECRET".into())));
    assert_eq!(notes.scopes, ["notes:read"]);
    let jobs = auth("jobs");
    assert_eq!(jobs.mode, mcpstore::AuthMode::ClientCredentials);
    assert_eq!(jobs.private_key, Some(mcpstore::SecretSource::File("/etc/worker/key.pem".into())));
    assert_eq!(jobs.signing_alg.as_deref(), Some("ES256"));
}

#[test]
fn the_readme_mcp_json_example_parses_as_described() {
    let file = ServersFile::parse(&readme_json_block()).expect("the README's mcp.json parses");
    let names: Vec<&str> = file.services.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["files", "web"]);

    let (_, files) = &file.services[0];
    match &files.transport {
        TransportConfig::Stdio(s) => {
            assert_eq!(s.command, "npx");
            assert_eq!(s.args, ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]);
            assert!(s.env.is_empty());
            assert_eq!(s.cwd.as_deref(), Some(std::path::Path::new("/tmp")));
            assert_eq!(s.inherit_env, InheritEnv::Minimal);
        }
        other => panic!("files: {other:?}"),
    }
    assert!(files.pool.is_none(), "files uses the store's pool");

    let (_, web) = &file.services[1];
    match &web.transport {
        TransportConfig::Http(h) => {
            assert_eq!(h.url, "http://127.0.0.1:8000/mcp");
            assert_eq!(h.headers["Authorization"], "Bearer x");
            assert_eq!(h.transport, HttpTransportKind::StreamableHttp);
        }
        other => panic!("web: {other:?}"),
    }
    let pool = web.pool.as_ref().expect("web has its own pool");
    assert_eq!(pool.max_connections, 4);
    assert_eq!(pool.min_connections, 2, "the rest from the performance section");

    assert!(file.has_performance);
    let p = &file.performance;
    assert_eq!((p.pool.min_connections, p.pool.max_connections), (2, 10));
    assert_eq!(p.pool.connection_timeout, Duration::from_secs(30));
    assert_eq!(p.pool.read_timeout, Duration::from_secs(60));
    assert_eq!(p.cache.capacity, 1000);
    assert_eq!(p.cache.ttl, Duration::from_secs(300));
}

/// A default as the README writes it, as JSON (`0 (= max_concurrent_calls)` is 0).
fn readme_value(text: &str) -> Value {
    let first = text.split_whitespace().next().expect("a default");
    serde_json::from_str(first).unwrap_or_else(|_| panic!("default {text:?} is not a number or boolean"))
}

#[test]
fn the_readme_key_table_lists_every_key_with_its_default() {
    let defaults = PerformanceConfig::new().to_flat_json();
    let text = readme();
    let mut listed = Vec::new();
    for row in text.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let (keys, values) = (cells[0], cells[1]);
        // `a` / `b` (`alias`): the aliases name the same setting as the key before them.
        let mut names = Vec::new();
        for part in keys.split(" / ") {
            let mut ticks = part.split('`').skip(1).step_by(2);
            let name = ticks.next().expect("a key in backticks");
            names.push(name);
            listed.push(name.to_owned());
            listed.extend(ticks.map(str::to_owned));
        }
        let values: Vec<&str> = values.split(" / ").collect();
        assert_eq!(names.len(), values.len(), "one default per key in: {row}");
        for (name, value) in names.iter().zip(values) {
            let actual = defaults.get(*name).unwrap_or_else(|| panic!("the README lists unknown key {name}"));
            let documented = readme_value(value);
            let same = match (actual.as_f64(), documented.as_f64()) {
                (Some(a), Some(d)) => a == d,
                _ => *actual == documented,
            };
            assert!(same, "{name}: the README says {documented}, the default is {actual}");
        }
    }
    for key in FLAT_KEYS {
        assert!(listed.iter().any(|l| l == key), "the README's key table does not list {key}");
    }
}
