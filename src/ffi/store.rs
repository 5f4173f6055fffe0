//! `mcps_store`: creating and freeing a store, services, synchronous calls, statistics.

use std::ffi::c_char;

use serde_json::Value;

use super::error::{Failure, mcps_error};
use super::panic::{
    FfiResult, arguments_arg, boundary, handle_arg, json_arg, opt_str_arg, out_arg, str_arg, string_out,
    write_out,
};
use super::result::{mcps_result, new_result};
use crate::error::ErrorCode;
use crate::exec::{BatchOptions, ToolCall, result_to_json};
use crate::servers::ServiceConfig;
use crate::store::Store;

/// A store: many MCP services, their pooled sessions, one tool namespace.
///
/// Created by `mcps_store_new` or `mcps_store_new_from_file`, freed by
/// `mcps_store_free`. Thread-safe: any number of threads may use one store
/// at once (everything but `mcps_store_free`).
pub struct mcps_store {
    pub(crate) store: Store,
}

/// Borrows the store behind a handle.
///
/// # Safety
/// `s` is NULL or a live store.
pub(super) unsafe fn store_arg<'a>(s: *const mcps_store) -> FfiResult<&'a Store> {
    // SAFETY: forwarded from this function's contract.
    unsafe { handle_arg(s, "store") }.map(|s| &s.store)
}

/// The store's statistics as one JSON object: `pool` (per service), `cache`,
/// `executor`, `objects` (object pools), `memory` and per-tool `tools` metrics.
pub(crate) fn stats_json(store: &Store) -> String {
    store.stats().to_json().to_string()
}

/// Creates a store from the text of an `mcp.json` file:
/// `{"mcpServers": {NAME: {"command", "args", "env", "cwd"} | {"url", "headers"}}, "performance": {...}}`;
/// `MCPSTORE_*` environment variables override its `performance` settings.
/// `config_json == NULL` gives a store with the default settings and no service.
///
/// Services connect in the background; calls that need one wait until it is ready.
/// On success writes a new store to `*out`, which the caller frees with `mcps_store_free`.
/// Threads: any.
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string; `out` points to writable
/// memory; `err` is NULL or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_new(
    config_json: *const c_char,
    out: *mut *mut mcps_store,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        out_arg(out, "out")?;
        // SAFETY: `config_json` is NULL or NUL-terminated (contract).
        let store = match unsafe { opt_str_arg(config_json, "config_json") }? {
            Some(text) => Store::from_json(text)?,
            None => Store::builder().with_env().build()?,
        };
        // SAFETY: `out` was checked to be non-NULL and is writable (contract).
        unsafe { write_out(out, Box::into_raw(Box::new(mcps_store { store }))) };
        Ok(())
    })
}

/// Creates a store from an `mcp.json` file (same format as `mcps_store_new`).
///
/// On success writes a new store to `*out`, which the caller frees with `mcps_store_free`.
/// Threads: any.
///
/// # Safety
/// `path` is a NUL-terminated string (NULL is refused); `out` points to
/// writable memory; `err` is NULL or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_new_from_file(
    path: *const c_char,
    out: *mut *mut mcps_store,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        out_arg(out, "out")?;
        // SAFETY: `path` is NULL or NUL-terminated (contract).
        let path = unsafe { str_arg(path, "path") }?;
        let store = Store::from_file(path)?;
        // SAFETY: `out` was checked to be non-NULL and is writable (contract).
        unsafe { write_out(out, Box::into_raw(Box::new(mcps_store { store }))) };
        Ok(())
    })
}

/// Frees a store: closes every session, ends its child processes and threads.
/// `mcps_store_free(NULL)` does nothing.
///
/// Background calls still pending complete with `MCPS_ERR_CLOSED` (or
/// `MCPS_ERR_CANCELLED`): their callbacks still run, on a library worker
/// thread, possibly after this function returned, so their `userdata` must
/// stay valid until then; their `mcps_call` handles and completion queues
/// stay valid until freed. Blocks until the sessions are closed.
///
/// Ownership: takes `store`. Threads: any, but no other thread may use the
/// store during or after this call.
///
/// # Safety
/// `store` is NULL or a live store that no other thread uses any more.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_free(store: *mut mcps_store) {
    super::panic::guard((), || {
        if !store.is_null() {
            // SAFETY: by contract `store` came from `Box::into_raw` in this library and is freed once.
            drop(unsafe { Box::from_raw(store) });
        }
    });
}

/// Adds a service named `name` from its `mcp.json` entry (`service_json`,
/// e.g. `{"command": "server", "args": []}` or `{"url": "http://host/mcp"}`)
/// and starts connecting to it in the background.
///
/// Fails with `MCPS_ERR_CONFIG` for a bad entry, a bad name or a name in use.
/// Ownership: borrows every argument. Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is a live store; `name` and `service_json` are NUL-terminated
/// strings (NULL is refused); `err` is NULL or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_add_service(
    s: *const mcps_store,
    name: *const c_char,
    service_json: *const c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        // SAFETY: pointers are NULL or valid (contract); NULL is refused.
        let (store, name) = unsafe { (store_arg(s)?, str_arg(name, "name")?) };
        // SAFETY: as above.
        let entry = match unsafe { json_arg(service_json, "service_json") }? {
            Value::Null => return Err(Failure::invalid("service_json is NULL")),
            v => v,
        };
        let config = ServiceConfig::from_json(name, &entry, &store.config().pool)?;
        store.add_service(name, config)?;
        Ok(())
    })
}

/// Adds every service of an `mcp.json` text (`{"mcpServers": {...}}`); its
/// `performance.pool` settings, if any, apply to those services.
///
/// Ownership: borrows every argument. Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is a live store; `config_json` is a NUL-terminated string (NULL is
/// refused); `err` is NULL or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_load_json(
    s: *const mcps_store,
    config_json: *const c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        // SAFETY: pointers are NULL or valid (contract); NULL is refused.
        let (store, text) = unsafe { (store_arg(s)?, str_arg(config_json, "config_json")?) };
        store.load_json(text)?;
        Ok(())
    })
}

/// Removes a service and closes its sessions (`MCPS_ERR_SERVICE_NOT_FOUND` if there is none).
///
/// Ownership: borrows every argument. Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is a live store; `name` is a NUL-terminated string (NULL is refused);
/// `err` is NULL or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_remove_service(
    s: *const mcps_store,
    name: *const c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        // SAFETY: pointers are NULL or valid (contract); NULL is refused.
        let (store, name) = unsafe { (store_arg(s)?, str_arg(name, "name")?) };
        store.remove_service(name)?;
        Ok(())
    })
}

/// The services as a JSON array of `{"name", "transport", "state",
/// "last_error", "server_info", "protocol_version", "tool_count", "sessions"}`.
///
/// On success writes a new string to `*out_json`; the caller frees it with
/// `mcps_string_free`. Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is a live store; `out_json` points to writable memory; `err` is NULL
/// or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_list_services(
    s: *const mcps_store,
    out_json: *mut *mut c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    string_out(err, out_json, "out_json", || {
        // SAFETY: `s` is NULL or a live store (contract).
        let store = unsafe { store_arg(s) }?;
        serde_json::to_string(&store.list_services())
            .map_err(|e| Failure::new(ErrorCode::Internal, e.to_string()))
    })
}

/// The tools of one service (`service`), or of every service (`service ==
/// NULL`), as a JSON array of tool objects (`name`, `description`,
/// `inputSchema`, `annotations`, ...) each with an added `"service"` field.
/// Waits for services that are still connecting.
///
/// On success writes a new string to `*out_json`; the caller frees it with
/// `mcps_string_free`. Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is a live store; `service` is NULL or a NUL-terminated string;
/// `out_json` points to writable memory; `err` is NULL or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_list_tools(
    s: *const mcps_store,
    service: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    string_out(err, out_json, "out_json", || {
        // SAFETY: pointers are NULL or valid (contract).
        let (store, service) = unsafe { (store_arg(s)?, opt_str_arg(service, "service")?) };
        let tools: Vec<Value> = store
            .list_tools(service)?
            .into_iter()
            .map(|(service, tool)| {
                let mut v = serde_json::to_value(&*tool).unwrap_or_else(|_| serde_json::json!({}));
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("service".to_owned(), Value::String(service));
                }
                v
            })
            .collect();
        Ok(Value::Array(tools).to_string())
    })
}

/// Calls a tool and waits for its result.
///
/// `tool` is `service.tool`, `service_tool` or a bare name unique across
/// services; `args_json` is a JSON object (NULL means `{}`). Read-only tools
/// are answered from the result cache when they can be. A tool that reports
/// an error is a success (`MCPS_OK`) with `mcps_result_is_error` true.
///
/// On success writes a new result to `*out`; the caller frees it with
/// `mcps_result_free`. Blocks the calling thread (up to the store's
/// `call_timeout`). Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is a live store; `tool` is a NUL-terminated string (NULL is refused);
/// `args_json` is NULL or a NUL-terminated string; `out` points to writable
/// memory; `err` is NULL or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_call_tool(
    s: *const mcps_store,
    tool: *const c_char,
    args_json: *const c_char,
    out: *mut *mut mcps_result,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        out_arg(out, "out")?;
        // SAFETY: pointers are NULL or valid (contract); NULL is refused where required.
        let (store, tool, args) =
            unsafe { (store_arg(s)?, str_arg(tool, "tool")?, arguments_arg(args_json)?) };
        let result = store.call_tool(tool, args)?;
        // SAFETY: `out` was checked to be non-NULL and is writable (contract).
        unsafe { write_out(out, Box::into_raw(new_result(result))) };
        Ok(())
    })
}

/// Runs many calls with bounded parallelism and waits for all of them.
///
/// `calls_json` is a JSON array of `{"tool": NAME, "arguments": {...},
/// "cache_key": KEY?}`. The result, written to `*out_json`, is a JSON array
/// in input order whose items are either a `CallToolResult` or
/// `{"error": {"code": STATUS, "kind", "message", "rpc_code"?}}`; one call's
/// failure (a malformed item included) does not fail the batch.
///
/// The caller frees `*out_json` with `mcps_string_free`. Blocks the calling
/// thread. Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is a live store; `calls_json` is a NUL-terminated string (NULL is
/// refused); `out_json` points to writable memory; `err` is NULL or points
/// to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_batch_call(
    s: *const mcps_store,
    calls_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    string_out(err, out_json, "out_json", || {
        // SAFETY: pointers are NULL or valid (contract); NULL is refused.
        let (store, calls) = unsafe { (store_arg(s)?, json_arg(calls_json, "calls_json")?) };
        let Value::Array(items) = calls else {
            return Err(Failure::invalid("calls_json must be a JSON array"));
        };
        let calls = items.iter().map(ToolCall::from_json).collect();
        let results = store.batch_call_items(calls, &BatchOptions::default());
        Ok(Value::Array(results.iter().map(result_to_json).collect()).to_string())
    })
}

/// The store's statistics as a JSON object: `pool` (per service), `cache`,
/// `executor`, `objects` (object pools, `c_results` among them), `memory`
/// (the monitor's summary), `tools` (calls, errors by kind, retries, cache
/// hits, bytes and latency percentiles per tool) and `uptime_s`.
///
/// On success writes a new string to `*out_json`; the caller frees it with
/// `mcps_string_free`. Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is a live store; `out_json` points to writable memory; `err` is NULL
/// or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_stats(
    s: *const mcps_store,
    out_json: *mut *mut c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    string_out(err, out_json, "out_json", || {
        // SAFETY: `s` is NULL or a live store (contract).
        Ok(stats_json(unsafe { store_arg(s) }?))
    })
}

/// Empties the result cache. `s == NULL` gives `MCPS_ERR_INVALID_ARGUMENT`.
///
/// Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is NULL or a live store.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_clear_cache(s: *const mcps_store) -> ErrorCode {
    boundary(std::ptr::null_mut(), || {
        // SAFETY: `s` is NULL or a live store (contract).
        unsafe { store_arg(s) }?.clear_cache();
        Ok(())
    })
}
