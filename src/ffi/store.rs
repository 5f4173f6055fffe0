//! `mcps_store`: creating and freeing a store, services, synchronous calls, statistics.

use std::ffi::c_char;
use std::sync::Arc;

use serde_json::Value;

use super::args::{
    arguments_arg, handle_arg, json_arg, opt_str_arg, out_arg, str_arg, string_out, write_out,
};
use super::auth::SlotAuthorizer;
use super::boundary::{FfiResult, boundary};
use super::error::{Failure, mcps_error};
use super::handler_slots::HandlerRegistry;
use super::result::{mcps_result, new_result};
use crate::config::{PerformanceConfig, ServersFile, ServiceConfig};
use crate::error::ErrorCode;
use crate::exec::{ToolCall, write_result_json};
use crate::store::BatchOptions;
use crate::store::Store;

/// A store: many MCP services, their pooled sessions, one tool namespace.
///
/// Created by `mcps_store_new` or `mcps_store_new_from_file`, freed by
/// `mcps_store_free`. Thread-safe: any number of threads may use one store
/// at once (everything but `mcps_store_free`).
pub struct mcps_store {
    pub(crate) store: Store,
    /// The C handlers in force (dropped after `store`: a running one is waited for).
    pub(crate) handlers: HandlerRegistry,
    /// The store's authorizer (emptied after `store` is dropped: a running callback is waited for).
    pub(crate) authorizer: AuthorizerHolder,
}

/// The authorizer a C store was built with; emptied when the store is freed.
pub(crate) struct AuthorizerHolder(Arc<SlotAuthorizer>);

impl std::ops::Deref for AuthorizerHolder {
    type Target = Arc<SlotAuthorizer>;
    fn deref(&self) -> &Arc<SlotAuthorizer> {
        &self.0
    }
}

impl Drop for AuthorizerHolder {
    fn drop(&mut self) {
        self.0.clear();
    }
}

impl mcps_store {
    fn new(store: Store, authorizer: Arc<SlotAuthorizer>) -> Box<mcps_store> {
        Box::new(mcps_store {
            store,
            handlers: HandlerRegistry::default(),
            authorizer: AuthorizerHolder(authorizer),
        })
    }
}

/// A store from a parsed `mcp.json` (as `Store::from_json` builds one: its
/// `performance` section, then the environment, then its services), or with
/// the default settings and the environment (`None`), with `authorizer` as
/// the store's OAuth authorizer.
fn build_store(file: Option<ServersFile>, authorizer: &Arc<SlotAuthorizer>) -> crate::Result<Store> {
    let builder = Store::builder().authorizer(authorizer.clone());
    let Some(file) = file else { return builder.with_env().build() };
    let mut perf = file.performance;
    perf.apply_env()?;
    let store = builder.performance(perf).credentials(file.credentials.as_ref()).build()?;
    for (name, config) in file.services {
        store.add_service(&name, config)?;
    }
    Ok(store)
}

/// A new C store handle from a parsed `mcp.json` (or none), written to `out`.
///
/// # Safety
/// `out` is not NULL and points to writable memory.
unsafe fn new_store_out(out: *mut *mut mcps_store, file: Option<ServersFile>) -> FfiResult {
    let authorizer = SlotAuthorizer::new();
    let store = build_store(file, &authorizer)?;
    // SAFETY: forwarded from this function's contract.
    unsafe { write_out(out, super::live::into_raw(mcps_store::new(store, authorizer))) };
    Ok(())
}

/// Borrows the store behind a handle.
///
/// # Safety
/// `s` is NULL or a live store.
pub(super) unsafe fn store_arg<'a>(s: *const mcps_store) -> FfiResult<&'a Store> {
    // SAFETY: forwarded from this function's contract.
    unsafe { handle_arg(s, "store") }.map(|s| &s.store)
}

/// The body of every `mcps_store_list_*` function: the store and the
/// optional service name from C, the list `list` gives as JSON in `*out_json`.
///
/// # Safety
/// `s` is NULL or a live store; `service` is NULL or a NUL-terminated string;
/// `out_json` is NULL or points to writable memory; `err` is NULL or points to writable memory.
pub(super) unsafe fn list_out<T: serde::Serialize>(
    s: *const mcps_store,
    service: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut mcps_error,
    list: impl FnOnce(&Store, Option<&str>) -> crate::Result<crate::store::Listed<T>>,
) -> ErrorCode {
    string_out(err, out_json, "out_json", || {
        // SAFETY: forwarded from this function's contract.
        let (store, service) = unsafe { (store_arg(s)?, opt_str_arg(service, "service")?) };
        Ok(listed_json(list(store, service)?))
    })
}

/// `(service, item)` pairs as a JSON array of the items, each with an added `"service"`.
fn listed_json<T: serde::Serialize>(items: crate::store::Listed<T>) -> String {
    let items: Vec<serde_json::Value> = items
        .into_iter()
        .map(|(service, item)| {
            let mut v = serde_json::to_value(&*item).unwrap_or_else(|_| serde_json::json!({}));
            if let Some(obj) = v.as_object_mut() {
                obj.insert("service".to_owned(), serde_json::Value::String(service));
            }
            v
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}

/// The store's statistics as one JSON object: `pool` (per service), `cache`,
/// `executor`, `objects` (object pools), `memory` and per-tool `tools` metrics.
pub(crate) fn stats_json(store: &Store) -> String {
    store.stats().to_json().to_string()
}

/// Creates a store from the text of an `mcp.json` file:
/// `{"mcpServers": {NAME: {"command", "args", "env", "cwd", "inheritEnv"} | {"url", "headers", "auth"}}, "performance": {...}}`;
/// `MCPSTORE_*` environment variables override its `performance` settings.
/// An HTTP service without a static `Authorization` header uses OAuth when
/// its server asks for it; `"auth"` configures it (`{"type": "oauth" |
/// "client_credentials" | "none", "client_id", "client_secret_env",
/// "scopes", "redirect_uri", ...}`, see `mcps_store_auth_login`), and the
/// credentials are kept in `mcpstore/credentials.json` in the user's
/// configuration directory (`$XDG_CONFIG_HOME` or `~/.config` on Linux).
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
        let file = match unsafe { opt_str_arg(config_json, "config_json") }? {
            Some(text) => Some(crate::config::parse_str(text, &PerformanceConfig::new())?),
            None => None,
        };
        // SAFETY: `out` was checked to be non-NULL and is writable (contract).
        unsafe { new_store_out(out, file) }
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
        let file = crate::config::load_file(std::path::Path::new(path), &PerformanceConfig::new())?;
        // SAFETY: `out` was checked to be non-NULL and is writable (contract).
        unsafe { new_store_out(out, Some(file)) }
    })
}

/// Frees a store: closes every session, ends its child processes and threads.
/// `mcps_store_free(NULL)` does nothing.
///
/// Background calls still pending complete with `MCPS_ERR_CLOSED` and their
/// servers are sent a cancellation: their callbacks still run, on a library
/// worker thread, possibly after this function returned, so their `userdata`
/// must stay valid until then; their `mcps_call` handles and completion
/// queues stay valid until freed. Blocks until the sessions are closed (and
/// a running memory-pressure callback, event callback or handler returned).
///
/// A second free of the same handle (or a pointer that is no live store)
/// is detected and does nothing (docs/c-api.md, "Freeing twice").
/// Ownership: takes `store`. Threads: any, but no other thread may use the
/// store during or after this call.
///
/// # Safety
/// `store` is NULL or a live store that no other thread uses any more.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_free(store: *mut mcps_store) {
    super::boundary::guard((), || {
        if !store.is_null() {
            // SAFETY: a live handle was entered by `live::into_raw`; a pointer freed
            // already (or never handed out) is not entered and is left alone, unread.
            drop(unsafe { super::live::take(store) });
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
/// "last_error", "server_info", "protocol_version", "tool_count",
/// "resource_count", "template_count", "prompt_count", "sessions",
/// "listening"}` (`listening`: the state of each HTTP session's listening
/// stream, `[{"state", "reconnects", "last_error"}]`; empty for stdio).
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
    // SAFETY: forwarded from this function's contract.
    unsafe { list_out(s, service, out_json, err, |store, service| store.list_tools(service)) }
}

/// Calls a tool and waits for its result.
///
/// `tool` is `service.tool`, `service_tool` or a bare name unique across
/// services; `args_json` is a JSON object (NULL means `{}`). The result cache
/// answers only calls that asked for it (a cache key, see
/// `mcps_store_call_tool_with`, or the service's `cache` policy in the config).
/// A tool that reports an error is a success (`MCPS_OK`) with
/// `mcps_result_is_error` true.
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
/// Bytes: each result is the server's own bytes of its `result` member, as
/// received (as `mcps_result_json` gives them), not parsed or re-serialised;
/// a result from the cache, or one that does not fit the tool's
/// `outputSchema`, has `"_mcpstore": {"cache": {"hit": true, "age_ms": N}}`
/// and/or `"schema_mismatch": "..."` added as its last member (were the
/// server's result to carry an `_mcpstore` member itself, that item is
/// re-serialised with the library's one in its place). Items are separated
/// by `,` with no other whitespace.
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
        let mut out = Vec::with_capacity(2 + results.len() * 128);
        out.push(b'[');
        for (i, result) in results.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_result_json(result, &mut out);
        }
        out.push(b']');
        // Every part is UTF-8 JSON (the server's bytes were checked when parsed).
        String::from_utf8(out).map_err(|_| Failure::new(ErrorCode::Internal, "batch result is not UTF-8"))
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
