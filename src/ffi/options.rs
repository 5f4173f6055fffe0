//! Per-call options from C: an options JSON object and a cancel token, the
//! same options as Rust's `CallOptions`, for single calls, background calls
//! and completion queues.
//!
//! `options_json` is NULL or an object with any of `timeout_ms` (the call's
//! overall limit), `cache_key` (serve from and store in the cache under this
//! key), `bypass_cache` (neither read nor write the cache) and
//! `retry_non_idempotent` (retry even when the call may have run).

use std::ffi::{c_char, c_void};

use serde_json::Value;

use super::args::{arguments_arg, handle_arg, json_arg, out_arg, str_arg, write_out};
use super::boundary::{FfiResult, boundary, guard};
use super::call::{mcps_call, mcps_callback, mcps_queue, start_call};
use super::error::{Failure, mcps_error};
use super::result::{mcps_result, new_result};
use super::store::{mcps_store, store_arg};
use crate::call_options::CallOptions;
use crate::cancel::CancelToken;
use crate::error::ErrorCode;
use crate::exec::ToolCall;

/// A cancel token: cancelling it stops every call that was given it (the
/// waiting thread returns `MCPS_ERR_CANCELLED` at once and the server is
/// told). Made by `mcps_cancel_new`, freed by `mcps_cancel_free`; calls keep
/// what they need, so it may be freed while they run. Thread-safe.
pub struct mcps_cancel {
    token: CancelToken,
}

/// Makes a cancel token and writes it to `*out`; the caller frees it with
/// `mcps_cancel_free`. Threads: any.
///
/// # Safety
/// `out` points to writable memory; `err` is NULL or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_cancel_new(out: *mut *mut mcps_cancel, err: *mut *mut mcps_error) -> ErrorCode {
    boundary(err, || {
        out_arg(out, "out")?;
        let token = super::live::into_raw(Box::new(mcps_cancel { token: CancelToken::new() }));
        // SAFETY: `out` was checked to be non-NULL and is writable (contract).
        unsafe { write_out(out, token) };
        Ok(())
    })
}

/// Cancels every call holding `t`, and every later call given it. Returns
/// `MCPS_OK`, or `MCPS_ERR_INVALID_ARGUMENT` for NULL. Threads: any.
///
/// # Safety
/// `t` is NULL or a live token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_cancel_cancel(t: *const mcps_cancel) -> ErrorCode {
    boundary(std::ptr::null_mut(), || {
        // SAFETY: `t` is NULL or a live token (contract).
        unsafe { handle_arg(t, "token") }?.token.cancel();
        Ok(())
    })
}

/// Whether `t` was cancelled (false for NULL). Threads: any.
///
/// # Safety
/// `t` is NULL or a live token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_cancel_is_cancelled(t: *const mcps_cancel) -> bool {
    guard(false, || {
        // SAFETY: `t` is NULL or a live token (contract).
        unsafe { t.as_ref() }.is_some_and(|t| t.token.is_cancelled())
    })
}

/// Frees a token (calls that hold it are not cancelled). `mcps_cancel_free(NULL)` does nothing.
///
/// A second free of the same handle (or a pointer that is no live token)
/// is detected and does nothing (docs/c-api.md, "Freeing twice").
/// Ownership: takes `t`. Threads: any, but only once per token.
///
/// # Safety
/// `t` is NULL or a live token, not used by another thread during or after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_cancel_free(t: *mut mcps_cancel) {
    guard((), || {
        if !t.is_null() {
            // SAFETY: a live handle was entered by `live::into_raw`; a pointer freed
            // already (or never handed out) is not entered and is left alone, unread.
            drop(unsafe { super::live::take(t) });
        }
    });
}

/// Reads `options_json` (NULL: defaults) and the optional token into call options.
///
/// # Safety
/// `options_json` is NULL or a NUL-terminated string; `cancel` is NULL or a live token.
pub(super) unsafe fn options_arg(
    options_json: *const c_char,
    cancel: *const mcps_cancel,
) -> FfiResult<CallOptions> {
    // SAFETY: forwarded from this function's contract.
    let mut options = match unsafe { json_arg(options_json, "options_json") }? {
        Value::Null => CallOptions::default(),
        Value::Object(map) => CallOptions::from_json_fields(&map)?,
        _ => return Err(Failure::invalid("options_json must be a JSON object")),
    };
    // SAFETY: `cancel` is NULL or a live token (contract).
    options.cancel = unsafe { cancel.as_ref() }.map(|t| t.token.clone());
    Ok(options)
}

/// Like `mcps_store_call_tool`, with per-call options (`options_json`, see
/// above; NULL for the defaults) and an optional cancel token (`cancel`,
/// NULL for none). The result says whether it came from the cache
/// (`mcps_result_from_cache`, `mcps_result_cache_age_ms`). Threads: any.
///
/// # Safety
/// As for `mcps_store_call_tool`; `options_json` is NULL or a NUL-terminated
/// string; `cancel` is NULL or a live token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_call_tool_with(
    s: *const mcps_store,
    tool: *const c_char,
    args_json: *const c_char,
    options_json: *const c_char,
    cancel: *const mcps_cancel,
    out: *mut *mut mcps_result,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        out_arg(out, "out")?;
        // SAFETY: pointers are NULL or valid (contract); NULL is refused where required.
        let (store, tool, args, options) = unsafe {
            (
                store_arg(s)?,
                str_arg(tool, "tool")?,
                arguments_arg(args_json)?,
                options_arg(options_json, cancel)?,
            )
        };
        let result = store.call_tool_with(tool, args, &options)?;
        // SAFETY: `out` was checked to be non-NULL and is writable (contract).
        unsafe { write_out(out, Box::into_raw(new_result(result))) };
        Ok(())
    })
}

/// Like `mcps_store_submit`, with per-call options and an optional cancel
/// token (a token cancels the call like `mcps_call_cancel`). Threads: any.
///
/// # Safety
/// As for `mcps_store_submit`; `options_json` is NULL or a NUL-terminated
/// string; `cancel` is NULL or a live token.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)] // the C signature: each argument is one plain value
pub unsafe extern "C" fn mcps_store_submit_with(
    s: *const mcps_store,
    tool: *const c_char,
    args_json: *const c_char,
    options_json: *const c_char,
    cancel: *const mcps_cancel,
    cb: mcps_callback,
    userdata: *mut c_void,
    out: *mut *mut mcps_call,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        // SAFETY: pointers are NULL or valid (contract); NULL is refused where required.
        let (store, tool, args, options) = unsafe {
            (
                store_arg(s)?,
                str_arg(tool, "tool")?,
                arguments_arg(args_json)?,
                options_arg(options_json, cancel)?,
            )
        };
        let call = ToolCall { options, ..ToolCall::new(tool, args) };
        // SAFETY: forwarded from this function's contract.
        unsafe { start_call(store, call, cb, userdata, out) }
    })
}

/// Like `mcps_queue_submit`, with per-call options and an optional cancel
/// token. Threads: any, also several at once.
///
/// # Safety
/// As for `mcps_queue_submit`; `options_json` is NULL or a NUL-terminated
/// string; `cancel` is NULL or a live token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_queue_submit_with(
    q: *const mcps_queue,
    tool: *const c_char,
    args_json: *const c_char,
    options_json: *const c_char,
    cancel: *const mcps_cancel,
    tag: u64,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        // SAFETY: pointers are NULL or valid (contract); NULL is refused where required.
        let (q, tool, args, options) = unsafe {
            (
                handle_arg(q, "queue")?,
                str_arg(tool, "tool")?,
                arguments_arg(args_json)?,
                options_arg(options_json, cancel)?,
            )
        };
        q.queue.submit(ToolCall { options, ..ToolCall::new(tool, args) }, tag)?;
        Ok(())
    })
}
