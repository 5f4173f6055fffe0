//! Helpers shared by the executor, cache, monitor and metrics tests: a store
//! around the demo server (a real child process or a real socket).
#![allow(dead_code)]

#[path = "../common/isolated.rs"]
pub mod isolated;

use std::time::{Duration, Instant};

use mcpstore::{PerformanceConfig, PoolConfig, ServiceConfig, Store};
use mcpstore_demo_server::{DemoOptions, HttpServerHandle, spawn_http};
use serde_json::{Value, json};

/// What a clock bound may add to the limit it checks: a timeout that fires
/// must return within its limit plus this, even on a loaded 2-core machine.
/// Bounds are kept only where the bound is the behaviour (a timeout, a
/// bounded shutdown); everything else asserts the state or order promised.
pub const LOAD_MARGIN: Duration = Duration::from_millis(1500);

/// A binary of the workspace (`mcpstore-demo-server`, `mcpstore`), built
/// beside this test by `cargo test` at the workspace root.
pub fn workspace_bin(name: &str) -> String {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join(name);
    assert!(
        bin.exists(),
        "{name} is not built at {}: run `cargo test` at the workspace root (or `cargo build --workspace`)",
        bin.display()
    );
    bin.to_string_lossy().into_owned()
}

/// The demo server binary.
pub fn demo_bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| workspace_bin("mcpstore-demo-server"))
}

/// The `mcpstore` CLI binary.
pub fn cli_bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| workspace_bin("mcpstore"))
}

/// A pool config with small numbers and short timeouts for tests.
pub fn test_pool() -> PoolConfig {
    PoolConfig {
        min_connections: 1,
        max_connections: 4,
        connection_timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(10),
        retry_delay: Duration::from_millis(20),
        ..Default::default()
    }
}

/// A store with one stdio demo service named `demo`, ready to call.
pub fn stdio_store(config: PerformanceConfig, demo_args: &[&str]) -> Store {
    let store = Store::builder().performance(config).build().expect("store");
    store.add_service("demo", ServiceConfig::stdio(demo_bin(), demo_args.iter().copied())).expect("add");
    wait_ready(&store);
    store
}

/// A store with one HTTP demo service named `web` served in-process on 127.0.0.1.
pub fn http_store(config: PerformanceConfig, opts: DemoOptions) -> (Store, HttpServerHandle) {
    let server = spawn_http(opts, "127.0.0.1:0").expect("demo http server");
    let store = Store::builder().performance(config).build().expect("store");
    store.add_service("web", ServiceConfig::http(server.url())).expect("add");
    wait_ready(&store);
    (store, server)
}

/// Options that cache the call's result under `key` (the cache is opt-in).
pub fn keyed(key: &str) -> mcpstore::CallOptions {
    mcpstore::CallOptions { cache_key: Some(key.to_owned()), ..Default::default() }
}

/// Default settings with the test pool.
pub fn config() -> PerformanceConfig {
    PerformanceConfig { pool: test_pool(), ..PerformanceConfig::new() }
}

/// Fails the test unless every service is serving within 20 s.
pub fn wait_ready(store: &Store) {
    let not_ready = store.wait_ready(Duration::from_secs(20));
    assert!(not_ready.is_empty(), "services not ready: {not_ready:?}");
}

/// The demo server's own counters (`stats` tool) as JSON.
pub fn server_stats(store: &Store, tool: &str) -> Value {
    let r = store.call_tool(tool, json!({})).expect("stats call");
    r.structured_content.clone().unwrap_or_else(|| serde_json::from_str(&r.text()).expect("stats json"))
}

/// Polls `cond` every 10 ms until it holds or `limit` passes; returns whether it held.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Threads of this process right now.
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0)
}
