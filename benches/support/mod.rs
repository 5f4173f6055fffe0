//! Shared setup of the end-to-end benches: stores around the demo server.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use mcpstore::{CacheConfig, PerformanceConfig, PoolConfig, ServiceConfig, Store};
use mcpstore_demo_server::{DemoOptions, HttpServerHandle, spawn_http};

/// The release build of the demo server, built by `cargo bench` next to the bench binary.
pub fn demo_bin() -> String {
    let exe = std::env::current_exe().expect("bench path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("mcpstore-demo-server");
    assert!(bin.exists(), "build the demo server first: cargo build --release --bin mcpstore-demo-server");
    bin.to_string_lossy().into_owned()
}

/// Settings for benchmarks: a pool of `sessions`, many calls per session, no cache.
pub fn config(sessions: usize) -> PerformanceConfig {
    PerformanceConfig {
        pool: PoolConfig {
            min_connections: sessions,
            max_connections: sessions,
            max_in_flight_per_connection: 1024,
            ..Default::default()
        },
        cache: CacheConfig { enabled: false, ..Default::default() },
        ..PerformanceConfig::new()
    }
}

/// A store with the demo server over stdio as `demo`, its pool fully warm.
pub fn stdio_store(sessions: usize) -> Store {
    let store = Store::builder().performance(config(sessions)).build().expect("store");
    store.add_service("demo", ServiceConfig::stdio(demo_bin(), Vec::<String>::new())).expect("add");
    warm(&store, sessions);
    store
}

/// A store with the demo server over Streamable HTTP (a separate process) as `demo`.
pub fn http_store(sessions: usize, server: &DemoHttp) -> Store {
    let store = Store::builder().performance(config(sessions)).build().expect("store");
    store.add_service("demo", ServiceConfig::http(server.url.clone())).expect("add");
    warm(&store, sessions);
    store
}

fn warm(store: &Store, sessions: usize) {
    assert!(store.wait_ready(Duration::from_secs(30)).is_empty());
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.pool_stats()["demo"].open < sessions && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The demo HTTP server in its own process (so client and server do not share a scheduler view).
pub struct DemoHttp {
    child: std::process::Child,
    /// The MCP endpoint.
    pub url: String,
}

impl DemoHttp {
    /// Starts `mcpstore-demo-server --http 127.0.0.1:0 [--json]` and reads its address.
    pub fn start(json: bool) -> DemoHttp {
        use std::io::BufRead;
        let mut cmd = std::process::Command::new(demo_bin());
        cmd.args(["--http", "127.0.0.1:0"]).stderr(std::process::Stdio::piped());
        if json {
            cmd.arg("--json");
        }
        let mut child = cmd.spawn().expect("demo server");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = std::io::BufReader::new(stderr).lines();
        let url = loop {
            let line = lines.next().expect("demo server exited").expect("read");
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.trim().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        DemoHttp { child, url }
    }
}

impl Drop for DemoHttp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An in-process HTTP demo server (for quick setups).
pub fn in_process_http() -> HttpServerHandle {
    spawn_http(DemoOptions::default(), "127.0.0.1:0").expect("demo http")
}

/// Runs `calls` calls spread over `threads` threads; returns the elapsed time.
pub fn run_threads(threads: usize, calls: u64, f: impl Fn(u64) + Sync) -> Duration {
    let per = calls.div_ceil(threads as u64);
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads as u64 {
            let f = &f;
            s.spawn(move || {
                for i in 0..per {
                    f(t * per + i);
                }
            });
        }
    });
    start.elapsed()
}
