//! Micro-benchmarks of the hot path's parts: protocol encode/decode of a
//! `tools/call`, the result cache (hit and miss), the object pool against a
//! fresh allocation, and pool checkout under contention.
//!
//! Run: `cargo build --release --bin mcpstore-demo-server && cargo bench --bench micro --features bench-internals`

mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mcpstore::internals::{Incoming, ResultCache, encode_request, parse_message};
use mcpstore::{ObjectPool, ToolResult};
use serde_json::json;

fn protocol(c: &mut Criterion) {
    let params = json!({"name": "echo", "arguments": {"message": "hello world"}});
    let mut buf = Vec::with_capacity(256);
    for (era, modern) in [("2025-11-25", false), ("2026-07-28", true)] {
        c.bench_function(&format!("protocol/encode_tools_call/{era}"), |b| {
            b.iter(|| {
                buf.clear();
                let encoded = serde_json::to_vec(black_box(&params)).expect("encode");
                encode_request(&mut buf, black_box(42), "tools/call", &encoded, modern);
                black_box(buf.len())
            })
        });
    }
    let reply = br#"{"jsonrpc":"2.0","id":42,"result":{"content":[{"type":"text","text":"hello world"}]}}"#;
    c.bench_function("protocol/decode_tools_call_result", |b| {
        b.iter(|| {
            let msg = parse_message(black_box(reply)).expect("parse");
            let Incoming::Response { outcome: Ok(raw), .. } = msg else { panic!() };
            let r: ToolResult = serde_json::from_str(raw.get()).expect("result");
            black_box(r)
        })
    });
}

fn cache(c: &mut Criterion) {
    let cache = ResultCache::new(1000, 64 << 20);
    let result =
        Arc::new(ToolResult { content: vec![json!({"type": "text", "text": "5"})], ..Default::default() });
    let args = json!({"a": 2, "b": 3});
    let key = ResultCache::key_for("demo", "add", &args);
    cache.insert(key.clone(), "demo", "add", result, 64, Duration::from_secs(300));
    c.bench_function("cache/hit_prepared_key", |b| b.iter(|| black_box(cache.get(black_box(&key)))));
    c.bench_function("cache/hit_with_key_building", |b| {
        b.iter(|| black_box(cache.get(&ResultCache::key_for("demo", "add", black_box(&args)))))
    });
    let missing = ResultCache::key_for("demo", "add", &json!({"a": 9, "b": 9}));
    c.bench_function("cache/miss", |b| b.iter(|| black_box(cache.get(black_box(&missing)))));
}

fn object_pool(c: &mut Criterion) {
    let pool = ObjectPool::new(64, || Vec::<u8>::with_capacity(512), Vec::clear);
    c.bench_function("objects/pooled_buffer", |b| {
        b.iter(|| {
            let mut buf = pool.get();
            buf.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\"}");
            black_box(buf.len())
        })
    });
    c.bench_function("objects/fresh_buffer", |b| {
        b.iter(|| {
            let mut buf = Vec::<u8>::with_capacity(512);
            buf.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\"}");
            black_box(buf.len())
        })
    });
}

fn reply_channels(c: &mut Criterion) {
    type Pair = (crossbeam_channel::Sender<u64>, crossbeam_channel::Receiver<u64>);
    let pool: ObjectPool<Pair> = ObjectPool::new(64, || crossbeam_channel::bounded(1), |_| {});
    c.bench_function("objects/pooled_reply_channel", |b| {
        b.iter(|| {
            let pair = pool.get();
            let tx = pair.0.clone();
            tx.send(black_box(7)).expect("send");
            drop(tx);
            black_box(pair.1.recv().expect("recv"))
        })
    });
    c.bench_function("objects/fresh_reply_channel", |b| {
        b.iter(|| {
            let (tx, rx) = crossbeam_channel::bounded::<u64>(1);
            tx.send(black_box(7)).expect("send");
            drop(tx);
            black_box(rx.recv().expect("recv"))
        })
    });
}

fn checkout(c: &mut Criterion) {
    let store = support::stdio_store(2);
    let mut g = c.benchmark_group("pool_checkout");
    g.measurement_time(Duration::from_secs(2));
    g.bench_function("uncontended", |b| {
        b.iter(|| mcpstore::internals::checkout(black_box(&store), "demo").expect("lease"))
    });
    g.bench_function("8_threads_contended_per_checkout", |b| {
        b.iter_custom(|iters| {
            let elapsed = support::run_threads(8, iters * 8, |_| {
                mcpstore::internals::checkout(&store, "demo").expect("lease")
            });
            elapsed / 8
        })
    });
    g.finish();
}

criterion_group!(benches, protocol, cache, object_pool, reply_channels, checkout);
criterion_main!(benches);
