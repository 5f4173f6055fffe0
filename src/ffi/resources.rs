//! Resources from C: lists of resources and templates across services,
//! resolving and reading a URI, and subscriptions to updates.
//!
//! Lists are JSON arrays of the MCP objects, each with an added `"service"`
//! field (as `mcps_store_list_tools` gives tools); a read is the MCP
//! `ReadResourceResult`.

use std::ffi::c_char;

use serde::Serialize;

use super::args::{opt_str_arg, str_arg, string_out, write_out};
use super::boundary::{FfiResult, boundary};
use super::error::{Failure, mcps_error};
use super::options::{mcps_cancel, options_arg};
use super::store::{list_out, mcps_store, store_arg};
use super::strings::to_owned_c_string;
use crate::error::ErrorCode;

/// A value as JSON text (an internal error if it cannot be encoded, which the library's types never do).
pub(super) fn to_json<T: Serialize>(value: &T) -> FfiResult<String> {
    serde_json::to_string(value).map_err(|e| Failure::new(ErrorCode::Internal, e.to_string()))
}

/// The resources of one service (`service`), or of every service (`service
/// == NULL`), as a JSON array of MCP `Resource` objects (`uri`, `name`,
/// `title`, `description`, `mimeType`, `size`, ...), each with an added
/// `"service"` field. Waits for services that are still connecting.
///
/// On success writes a new string to `*out_json`; the caller frees it with
/// `mcps_string_free`. Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is a live store; `service` is NULL or a NUL-terminated string;
/// `out_json` points to writable memory; `err` is NULL or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_list_resources(
    s: *const mcps_store,
    service: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    // SAFETY: forwarded from this function's contract.
    unsafe { list_out(s, service, out_json, err, |store, service| store.list_resources(service)) }
}

/// The resource templates of one service (`service`), or of every service
/// (`service == NULL`), as a JSON array of MCP `ResourceTemplate` objects
/// (`uriTemplate`, `name`, `title`, `description`, `mimeType`, ...), each
/// with an added `"service"` field. Waits for services that are still connecting.
///
/// On success writes a new string to `*out_json`; the caller frees it with
/// `mcps_string_free`. Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is a live store; `service` is NULL or a NUL-terminated string;
/// `out_json` points to writable memory; `err` is NULL or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_list_resource_templates(
    s: *const mcps_store,
    service: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    // SAFETY: forwarded from this function's contract.
    unsafe { list_out(s, service, out_json, err, |store, service| store.list_resource_templates(service)) }
}

/// The name of the service that serves `uri`: the one that lists it, else
/// the one whose resource template matches it. `MCPS_ERR_RESOURCE_NOT_FOUND`
/// when none does, `MCPS_ERR_AMBIGUOUS_RESOURCE` (naming the candidates)
/// when several do.
///
/// On success writes a new string to `*out_service`; the caller frees it
/// with `mcps_string_free`. Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is a live store; `uri` is a NUL-terminated string (NULL is refused);
/// `out_service` points to writable memory; `err` is NULL or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_resolve_resource(
    s: *const mcps_store,
    uri: *const c_char,
    out_service: *mut *mut c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    string_out(err, out_service, "out_service", || {
        // SAFETY: pointers are NULL or valid (contract); NULL is refused.
        let (store, uri) = unsafe { (store_arg(s)?, str_arg(uri, "uri")?) };
        Ok(store.resolve_resource(uri)?)
    })
}

/// Reads a resource from the service that serves it (see
/// `mcps_store_resolve_resource`) and writes the MCP `ReadResourceResult` as
/// JSON: `{"contents": [{"uri", "mimeType"?, "text"} | {"uri", "mimeType"?, "blob"}]}`,
/// text and base64 `blob` contents kept whole. Never cached. Blocks the
/// calling thread (up to the store's `call_timeout`).
///
/// On success writes a new string to `*out_json`; the caller frees it with
/// `mcps_string_free`. Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is a live store; `uri` is a NUL-terminated string (NULL is refused);
/// `out_json` points to writable memory; `err` is NULL or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_read_resource(
    s: *const mcps_store,
    uri: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    string_out(err, out_json, "out_json", || {
        // SAFETY: pointers are NULL or valid (contract); NULL is refused.
        let (store, uri) = unsafe { (store_arg(s)?, str_arg(uri, "uri")?) };
        to_json(&store.read_resource(uri)?)
    })
}

/// Like `mcps_store_read_resource`, from `service` (NULL: the service that
/// serves `uri`), with per-call options (`options_json` as for
/// `mcps_store_call_tool_with`; only `timeout_ms` applies, NULL for the
/// defaults) and an optional cancel token (`cancel`, NULL for none).
///
/// On success writes a new string to `*out_json`; the caller frees it with
/// `mcps_string_free`. Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is a live store; `service` and `options_json` are NULL or
/// NUL-terminated strings; `uri` is a NUL-terminated string (NULL is
/// refused); `cancel` is NULL or a live token; `out_json` points to writable
/// memory; `err` is NULL or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_read_resource_with(
    s: *const mcps_store,
    service: *const c_char,
    uri: *const c_char,
    options_json: *const c_char,
    cancel: *const mcps_cancel,
    out_json: *mut *mut c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    string_out(err, out_json, "out_json", || {
        // SAFETY: pointers are NULL or valid (contract); NULL is refused where required.
        let (store, service, uri, options) = unsafe {
            (
                store_arg(s)?,
                opt_str_arg(service, "service")?,
                str_arg(uri, "uri")?,
                options_arg(options_json, cancel)?,
            )
        };
        to_json(&store.read_resource_with(service, uri, &options)?)
    })
}

/// Subscribes to updates of `uri` on `service` (NULL: the service that
/// serves it). Each update arrives as a `resource_updated` event (see
/// `mcps_store_on_event` and `mcps_store_event_queue_new`). The subscription
/// outlives the session it was made on: it moves to another when that one
/// closes.
///
/// On success, when `out_service` is not NULL, writes a new string with the
/// service's name, which the caller frees with `mcps_string_free`.
/// Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is a live store; `service` is NULL or a NUL-terminated string; `uri`
/// is a NUL-terminated string (NULL is refused); `out_service` and `err` are
/// NULL or point to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_subscribe_resource(
    s: *const mcps_store,
    service: *const c_char,
    uri: *const c_char,
    out_service: *mut *mut c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        // SAFETY: pointers are NULL or valid (contract); NULL is refused where required.
        let (store, service, uri) =
            unsafe { (store_arg(s)?, opt_str_arg(service, "service")?, str_arg(uri, "uri")?) };
        let name = store.subscribe_resource(service, uri)?;
        if !out_service.is_null() {
            // SAFETY: `out_service` is not NULL and writable (contract).
            unsafe { write_out(out_service, to_owned_c_string(name)) };
        }
        Ok(())
    })
}

/// Ends a subscription made with `mcps_store_subscribe_resource` on
/// `service` (NULL: the service that serves `uri`);
/// `MCPS_ERR_INVALID_ARGUMENT` when there is none. Threads: any.
///
/// # Safety
/// `s` is a live store; `service` is NULL or a NUL-terminated string; `uri`
/// is a NUL-terminated string (NULL is refused); `err` is NULL or points to
/// writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_unsubscribe_resource(
    s: *const mcps_store,
    service: *const c_char,
    uri: *const c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        // SAFETY: pointers are NULL or valid (contract); NULL is refused where required.
        let (store, service, uri) =
            unsafe { (store_arg(s)?, opt_str_arg(service, "service")?, str_arg(uri, "uri")?) };
        store.unsubscribe_resource(service, uri)?;
        Ok(())
    })
}

/// The URIs `service` is subscribed to, as a JSON array of strings.
///
/// On success writes a new string to `*out_json`; the caller frees it with
/// `mcps_string_free`. Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is a live store; `service` is a NUL-terminated string (NULL is
/// refused); `out_json` points to writable memory; `err` is NULL or points
/// to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_subscriptions(
    s: *const mcps_store,
    service: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    string_out(err, out_json, "out_json", || {
        // SAFETY: pointers are NULL or valid (contract); NULL is refused.
        let (store, service) = unsafe { (store_arg(s)?, str_arg(service, "service")?) };
        to_json(&store.subscriptions(service)?)
    })
}
