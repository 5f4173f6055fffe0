//! A 1,000-call batch against the demo server over stdio and HTTP, versus a
//! sequential loop and versus one thread per call.
//!
//! Run: `cargo build --release --bin mcpstore-demo-server && cargo bench --bench batch`

mod support;

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mcpstore::{BatchOptions, Store, ToolCall};
use serde_json::json;
use support::*;

const CALLS: usize = 1000;

fn calls() -> Vec<ToolCall> {
    (0..CALLS).map(|i| ToolCall::new("echo", json!({"message": i.to_string()}))).collect()
}

fn compare(c: &mut Criterion, name: &str, store: &Store) {
    let calls = calls();
    let mut g = c.benchmark_group(format!("batch_{name}"));
    g.throughput(Throughput::Elements(CALLS as u64)).sample_size(10).measurement_time(Duration::from_secs(4));
    g.bench_function("batch_call_1000", |b| {
        let options = BatchOptions { max_workers: Some(16), ..Default::default() };
        b.iter(|| {
            let results = store.batch_call(&calls, &options);
            assert!(results.iter().all(|r| r.is_ok()));
        })
    });
    g.bench_function("sequential_loop_1000", |b| {
        b.iter(|| {
            for call in &calls {
                store.call_tool(&call.tool, call.arguments.clone()).expect("call");
            }
        })
    });
    g.bench_function("thread_per_call_1000", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                for call in &calls {
                    s.spawn(move || store.call_tool(&call.tool, call.arguments.clone()).expect("call"));
                }
            })
        })
    });
    g.finish();
}

fn batches(c: &mut Criterion) {
    let stdio = stdio_store(4);
    compare(c, "stdio", &stdio);
    let server = DemoHttp::start(false);
    let http = http_store(4, &server);
    compare(c, "http", &http);
}

criterion_group!(benches, batches);
criterion_main!(benches);
