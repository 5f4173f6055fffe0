//! End-to-end `echo` calls against the demo server: stdio and Streamable HTTP,
//! sequential and 16 threads (the core issue's baseline), then pool sizes
//! 1, 2 and 4 at 1, 16 and 64 calls in flight (the pool issue's table).
//!
//! Run: `cargo build --release --bin mcpstore-demo-server && cargo bench --bench end_to_end`

mod support;

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use support::*;

fn echo(store: &mcpstore::Store, i: u64) {
    let r = store.call_tool("echo", json!({ "message": i.to_string() })).expect("echo");
    assert!(!r.is_error);
}

fn bench_transport(c: &mut Criterion, name: &str, make: &dyn Fn(usize) -> mcpstore::Store) {
    let mut g = c.benchmark_group(format!("{name}_echo"));
    g.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_millis(500)).sample_size(20);
    for sessions in [1usize, 2, 4] {
        let store = make(sessions);
        for in_flight in [1usize, 16, 64] {
            if sessions > 1 && in_flight == 1 {
                continue; // one call at a time uses one session whatever the pool size
            }
            let calls = 64 * in_flight as u64;
            g.throughput(Throughput::Elements(calls));
            g.bench_function(format!("pool{sessions}/inflight{in_flight}"), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += run_threads(in_flight, calls, |i| echo(&store, i));
                    }
                    total
                })
            });
        }
    }
    g.finish();
}

fn stdio(c: &mut Criterion) {
    bench_transport(c, "stdio", &stdio_store);
}

fn http(c: &mut Criterion) {
    let server = DemoHttp::start(false);
    bench_transport(c, "http_sse", &|n| http_store(n, &server));
    let json_server = DemoHttp::start(true);
    bench_transport(c, "http_json", &|n| http_store(n, &json_server));
}

criterion_group!(benches, stdio, http);
criterion_main!(benches);
