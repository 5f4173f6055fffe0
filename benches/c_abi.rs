//! What the C ABI costs on top of the Rust API, measured on the same store:
//!
//! * `echo_stdio`: one `echo` round trip to the demo server over stdio,
//!   `Store::call_tool` against `mcps_store_call_tool` + `mcps_result_json` +
//!   `mcps_result_free`;
//! * `cache_hit`: the read-only `add` tool answered from the result cache (no
//!   I/O), which isolates the ABI's own cost (argument parsing, the panic
//!   boundary, the result object, the JSON rendering);
//! * `result_object`: the same cache hit with `mcps_result` objects from the
//!   object pool against fresh allocations.
//!
//! Run with `cargo bench --bench c_abi`.

use std::ffi::{CStr, c_char};
use std::hint::black_box;
use std::ptr;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mcpstore::ffi::{
    mcps_error, mcps_result, mcps_result_free, mcps_result_json, mcps_store, mcps_store_call_tool,
    mcps_store_free, mcps_store_new, set_result_pooling,
};
use mcpstore::{ErrorCode, ServiceConfig, Store};
use serde_json::json;

const DEMO: &str = env!("CARGO_BIN_EXE_mcpstore-demo-server");

/// A C store with the demo server over stdio (one session).
fn c_store() -> *mut mcps_store {
    let config = format!(
        r#"{{"mcpServers": {{"demo": {{"command": "{DEMO}"}}}}, "performance": {{"min_connections": 1, "max_connections": 1}}}}"#
    );
    let config = std::ffi::CString::new(config).unwrap_or_default();
    let mut store = ptr::null_mut();
    let mut err: *mut mcps_error = ptr::null_mut();
    // SAFETY: valid NUL-terminated config and out-pointers.
    let status = unsafe { mcps_store_new(config.as_ptr(), &mut store, &mut err) };
    assert_eq!(status, ErrorCode::Ok, "mcps_store_new failed");
    store
}

/// A Rust store with the demo server over stdio (one session).
fn rust_store() -> Store {
    let pool = mcpstore::PoolConfig { min_connections: 1, max_connections: 1, ..Default::default() };
    let store = Store::builder().pool(pool).build().unwrap_or_else(|e| panic!("{e}"));
    store
        .add_service("demo", ServiceConfig::stdio(DEMO, Vec::<String>::new()))
        .unwrap_or_else(|e| panic!("{e}"));
    store
}

/// One call through the C ABI: call, render the JSON, free the result.
fn c_call(store: *const mcps_store, tool: &CStr, args: &CStr, render: bool) -> usize {
    let mut result: *mut mcps_result = ptr::null_mut();
    // SAFETY: live store, NUL-terminated strings, valid out-pointer; no error object asked for.
    let status =
        unsafe { mcps_store_call_tool(store, tool.as_ptr(), args.as_ptr(), &mut result, ptr::null_mut()) };
    assert_eq!(status, ErrorCode::Ok);
    let mut len = 0;
    if render {
        // SAFETY: `result` is a live result; its JSON lives as long as it.
        let json: *const c_char = unsafe { mcps_result_json(result) };
        // SAFETY: `json` is NUL-terminated and alive until the free below.
        len = unsafe { CStr::from_ptr(json) }.to_bytes().len();
    }
    // SAFETY: owned result, freed once.
    unsafe { mcps_result_free(result) };
    len
}

fn echo_stdio(c: &mut Criterion) {
    let rust = rust_store();
    let cs = c_store();
    let mut group = c.benchmark_group("echo_stdio");
    group.bench_function("rust_call_tool", |b| {
        b.iter(|| {
            let r = rust.call_tool("echo", json!({"message": "hello"}));
            black_box(r.map(|r| r.content.len()).unwrap_or_default())
        })
    });
    group.bench_function("c_abi_call_json_free", |b| {
        b.iter(|| black_box(c_call(cs, c"echo", c"{\"message\": \"hello\"}", true)))
    });
    group.finish();
    drop(rust);
    // SAFETY: the store is not used any more.
    unsafe { mcps_store_free(cs) };
}

fn cache_hit(c: &mut Criterion) {
    let rust = rust_store();
    let cs = c_store();
    let mut group = c.benchmark_group("cache_hit");
    group.bench_function("rust_call_tool", |b| {
        b.iter(|| {
            let r = rust.call_tool("add", json!({"a": 1, "b": 2}));
            black_box(r.map(|r| r.content.len()).unwrap_or_default())
        })
    });
    group.bench_function("c_abi_call_free", |b| {
        b.iter(|| black_box(c_call(cs, c"add", c"{\"a\": 1, \"b\": 2}", false)))
    });
    group.bench_function("c_abi_call_json_free", |b| {
        b.iter(|| black_box(c_call(cs, c"add", c"{\"a\": 1, \"b\": 2}", true)))
    });
    group.finish();

    let mut group = c.benchmark_group("result_object");
    for (name, pooled) in [("pooled", true), ("fresh_alloc", false)] {
        set_result_pooling(pooled);
        group.bench_function(format!("{name}_call_json_free"), |b| {
            b.iter(|| black_box(c_call(cs, c"add", c"{\"a\": 1, \"b\": 2}", true)))
        });
    }
    set_result_pooling(true);
    group.finish();
    drop(rust);
    // SAFETY: the store is not used any more.
    unsafe { mcps_store_free(cs) };
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = echo_stdio, cache_hit
}
criterion_main!(benches);
