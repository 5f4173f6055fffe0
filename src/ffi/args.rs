//! Turning C arguments into Rust values, and Rust values into out-parameters.

use std::ffi::{CStr, c_char};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::boundary::{FfiResult, boundary};
use super::error::{Failure, mcps_error};
use super::strings::to_owned_c_string;
use crate::error::ErrorCode;

/// Borrows a required NUL-terminated UTF-8 argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> FfiResult<&'a str> {
    // SAFETY: forwarded from this function's contract.
    match unsafe { opt_str_arg(p, what) }? {
        Some(s) => Ok(s),
        None => Err(Failure::invalid(format!("{what} is NULL"))),
    }
}

/// Borrows an optional (NULL allowed) NUL-terminated UTF-8 argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn opt_str_arg<'a>(p: *const c_char, what: &str) -> FfiResult<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: `p` is not NULL and, by contract, NUL-terminated and alive for 'a.
    let bytes = unsafe { CStr::from_ptr(p) };
    bytes.to_str().map(Some).map_err(|e| Failure::invalid(format!("{what} is not valid UTF-8: {e}")))
}

/// Parses an optional JSON argument; NULL gives `Value::Null`.
///
/// # Safety
/// As for [`opt_str_arg`].
pub(crate) unsafe fn json_arg(p: *const c_char, what: &str) -> FfiResult<Value> {
    // SAFETY: forwarded from this function's contract.
    match unsafe { opt_str_arg(p, what) }? {
        None => Ok(Value::Null),
        Some(text) => {
            serde_json::from_str(text).map_err(|e| Failure::invalid(format!("{what} is not valid JSON: {e}")))
        }
    }
}

/// Parses optional tool arguments: NULL or `null` mean `{}`; anything but an object is refused.
///
/// # Safety
/// As for [`opt_str_arg`].
pub(crate) unsafe fn arguments_arg(p: *const c_char) -> FfiResult<Value> {
    // SAFETY: forwarded from this function's contract.
    match unsafe { json_arg(p, "args_json") }? {
        Value::Null => Ok(Value::Object(Default::default())),
        v @ Value::Object(_) => Ok(v),
        _ => Err(Failure::invalid("args_json must be a JSON object")),
    }
}

/// Borrows a required handle.
///
/// # Safety
/// `p` is NULL or points to a live `T` that outlives `'a`.
pub(crate) unsafe fn handle_arg<'a, T>(p: *const T, what: &str) -> FfiResult<&'a T> {
    // SAFETY: by contract a non-NULL `p` points to a live T.
    unsafe { p.as_ref() }.ok_or_else(|| Failure::invalid(format!("{what} is NULL")))
}

/// Fails unless a required out-parameter is present (checked before any work,
/// so that outputs are only ever written on success).
pub(crate) fn out_arg<T>(p: *mut T, what: &str) -> FfiResult {
    if p.is_null() { Err(Failure::invalid(format!("{what} is NULL"))) } else { Ok(()) }
}

/// Writes an out-parameter checked with [`out_arg`].
///
/// # Safety
/// `p` is not NULL and points to writable memory for a `T`.
pub(crate) unsafe fn write_out<T>(p: *mut T, value: T) {
    // SAFETY: forwarded from this function's contract.
    unsafe { p.write(value) };
}

/// Runs `body` inside the boundary and hands its string to C through `out`
/// (checked for NULL first; written only on success, freed with `mcps_string_free`).
pub(crate) fn string_out(
    err_out: *mut *mut mcps_error,
    out: *mut *mut c_char,
    what: &str,
    body: impl FnOnce() -> FfiResult<String>,
) -> ErrorCode {
    boundary(err_out, || {
        out_arg(out, what)?;
        let text = body()?;
        // SAFETY: `out` was checked to be non-NULL; the caller's contract makes it writable.
        unsafe { write_out(out, to_owned_c_string(text)) };
        Ok(())
    })
}

/// Waits in slices until `done` says so or `timeout_ms` has passed;
/// `u64::MAX` waits without a limit. `wait` blocks for at most its argument.
pub(crate) fn wait_ms(timeout_ms: u64, mut wait: impl FnMut(Duration) -> bool) -> bool {
    const SLICE: Duration = Duration::from_secs(3600);
    let start = Instant::now();
    let total = Duration::from_millis(timeout_ms);
    loop {
        let left =
            if timeout_ms == u64::MAX { SLICE } else { total.saturating_sub(start.elapsed()).min(SLICE) };
        if wait(left) {
            return true;
        }
        if timeout_ms != u64::MAX && start.elapsed() >= total {
            return false;
        }
    }
}
