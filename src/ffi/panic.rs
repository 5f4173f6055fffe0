//! The panic boundary every exported function runs in, and the helpers that
//! turn C arguments into Rust values and Rust values into out-parameters.

use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::error::{Failure, mcps_error};
use crate::error::ErrorCode;

/// The outcome of an exported function's body.
pub(crate) type FfiResult<T = ()> = Result<T, Failure>;

/// Runs `body` so that no panic unwinds into C.
///
/// Success is `Ok`; a failure (or a caught panic, as `Panic`) returns its
/// status and, when `err_out` is not NULL, stores a new error object there.
pub(crate) fn boundary(err_out: *mut *mut mcps_error, body: impl FnOnce() -> FfiResult) -> ErrorCode {
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return ErrorCode::Ok,
        Ok(Err(failure)) => failure,
        Err(payload) => Failure::from_panic(payload.as_ref()),
    };
    let code = failure.code;
    if !err_out.is_null() {
        // Building the error object allocates; keep even that inside the boundary.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let error = Box::into_raw(Box::new(mcps_error::from(failure)));
            // SAFETY: the caller passed a non-NULL `err_out` pointing to a writable
            // `mcps_error *` (the documented contract of every fallible function).
            unsafe { err_out.write(error) };
        }));
    }
    code
}

/// Runs `body` for a function without a status; a panic gives `fallback`.
pub(crate) fn guard<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

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

/// A Rust string as a C string; an interior NUL (never produced by JSON
/// encoding) truncates it there.
pub(crate) fn to_cstring(s: String) -> CString {
    CString::new(s).unwrap_or_else(|e| {
        let end = e.nul_position();
        let mut bytes = e.into_vec();
        bytes.truncate(end);
        // No NUL is left before `end`.
        CString::new(bytes).unwrap_or_default()
    })
}

/// A Rust string as a C string owned by the caller (freed with `mcps_string_free`).
pub(crate) fn to_owned_c_string(s: String) -> *mut c_char {
    to_cstring(s).into_raw()
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
