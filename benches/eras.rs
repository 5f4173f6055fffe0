//! `echo` against the demo server in each protocol era, in one run:
//! 2025-11-25 (`initialize`, a session) and 2026-07-28 (stateless, `_meta`
//! on every request), over stdio and Streamable HTTP (SSE replies),
//! sequential and 16 threads, one session each.
//!
//! Run: `cargo build --release --bin mcpstore-demo-server && cargo bench --bench eras`

mod support;

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mcpstore::{ProtocolChoice, ServiceConfig, Store};
use serde_json::json;
use support::*;

const ERAS: [&str; 2] = ["2025-11-25", "2026-07-28"];

fn echo(store: &Store, i: u64) {
    let r = store.call_tool("echo", json!({ "message": i.to_string() })).expect("echo");
    assert!(!r.is_error);
}

/// A store with `config` pinned to `era`, one warm session.
fn store_in(mut config: ServiceConfig, era: &str) -> Store {
    config.protocol = ProtocolChoice::Version(era.to_owned());
    let store = Store::builder().performance(support::config(1)).build().expect("store");
    store.add_service("demo", config).expect("add");
    assert!(store.wait_ready(Duration::from_secs(30)).is_empty(), "the demo did not start in {era}");
    let info = &store.list_services()[0];
    assert_eq!(info.protocol_version.as_deref(), Some(era));
    echo(&store, 0);
    store
}

fn bench_eras(c: &mut Criterion, name: &str, config: &dyn Fn() -> ServiceConfig) {
    let mut g = c.benchmark_group(format!("{name}_eras_echo"));
    g.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_millis(500)).sample_size(20);
    for era in ERAS {
        let store = store_in(config(), era);
        for threads in [1usize, 16] {
            let calls = 64 * threads as u64;
            g.throughput(Throughput::Elements(calls));
            g.bench_function(format!("{era}/threads{threads}"), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += run_threads(threads, calls, |i| echo(&store, i));
                    }
                    total
                })
            });
        }
    }
    g.finish();
}

fn eras(c: &mut Criterion) {
    bench_eras(c, "stdio", &|| ServiceConfig::stdio(demo_bin(), Vec::<String>::new()));
    let server = DemoHttp::start(false);
    bench_eras(c, "http_sse", &|| ServiceConfig::http(server.url.clone()));
}

criterion_group!(benches, eras);
criterion_main!(benches);
