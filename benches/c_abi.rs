//! What the C ABI costs on top of the Rust API, measured on the same store:
//!
//! * `echo_stdio`: one `echo` round trip to the demo server over stdio,
//!   `Store::call_tool` against `mcps_store_call_tool` + `mcps_result_json` +
//!   `mcps_result_free`;
//! * `cache_hit`: the read-only `add` tool answered from the result cache (no
//!   I/O), which isolates the ABI's own cost (argument parsing, the panic
//!   boundary, the result object, the JSON rendering);
//!
//! The C functions are declared here as a C program declares them (from the
//! linked library), not through Rust paths: the bench pays what C pays.
//!
//! Run with `cargo bench --bench c_abi`.

use std::ffi::{CStr, c_char};
use std::hint::black_box;
use std::ptr;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mcpstore::{CachePolicy, ErrorCode, ServiceConfig, Store};
use serde_json::json;

mod support;

/// Opaque C handles, as `mcpstore.h` declares them.
#[repr(C)]
struct mcps_store {
    _private: [u8; 0],
}
#[repr(C)]
struct mcps_result {
    _private: [u8; 0],
}
#[repr(C)]
struct mcps_error {
    _private: [u8; 0],
}

unsafe extern "C" {
    fn mcps_store_new(
        config: *const c_char,
        out: *mut *mut mcps_store,
        err: *mut *mut mcps_error,
    ) -> ErrorCode;
    fn mcps_store_free(store: *mut mcps_store);
    fn mcps_store_call_tool(
        store: *const mcps_store,
        tool: *const c_char,
        args: *const c_char,
        out: *mut *mut mcps_result,
        err: *mut *mut mcps_error,
    ) -> ErrorCode;
    fn mcps_result_json(result: *const mcps_result) -> *const c_char;
    fn mcps_result_free(result: *mut mcps_result);
}

/// A C store with the demo server over stdio (one session); `add` is cached by policy.
fn c_store() -> *mut mcps_store {
    let demo = support::demo_bin();
    let config = format!(
        r#"{{"mcpServers": {{"demo": {{"command": "{demo}", "cache": {{"tools": {{"add": {{"ttl": 300}}}}}}}}}},
            "performance": {{"min_connections": 1, "max_connections": 1}}}}"#
    );
    let config = std::ffi::CString::new(config).unwrap_or_default();
    let mut store = ptr::null_mut();
    let mut err: *mut mcps_error = ptr::null_mut();
    // SAFETY: valid NUL-terminated config and out-pointers.
    let status = unsafe { mcps_store_new(config.as_ptr(), &mut store, &mut err) };
    assert_eq!(status, ErrorCode::Ok, "mcps_store_new failed");
    store
}

/// A Rust store with the demo server over stdio (one session); `add` is cached by policy.
fn rust_store() -> Store {
    let pool = mcpstore::PoolConfig { min_connections: 1, max_connections: 1, ..Default::default() };
    let store = Store::builder().pool(pool).build().unwrap_or_else(|e| panic!("{e}"));
    let config = ServiceConfig {
        cache: CachePolicy { tools: [("add".to_owned(), Duration::from_secs(300))].into() },
        ..ServiceConfig::stdio(support::demo_bin(), Vec::<String>::new())
    };
    store.add_service("demo", config).unwrap_or_else(|e| panic!("{e}"));
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
