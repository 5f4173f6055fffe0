//! `mcps_error`: the error object every fallible function may hand out.

use std::any::Any;
use std::ffi::{CString, c_char};

use super::panic::{guard, to_cstring};
use crate::error::{Error, ErrorCode};

/// An error: its status, a message for people, and the server's JSON-RPC
/// error code when the server answered with one.
///
/// Made by the library (through `err` out-parameters, queue completions and
/// callbacks) and never by the caller; freed with `mcps_error_free` when
/// it was handed out as owned. Immutable: any thread may read it.
pub struct mcps_error {
    code: ErrorCode,
    message: CString,
    rpc_code: i64,
}

/// A failure inside the C ABI, before it becomes an [`mcps_error`].
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) code: ErrorCode,
    message: String,
    rpc_code: i64,
}

impl Failure {
    /// A failure with an explicit status (for statuses no [`Error`] has).
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Failure { code, message: message.into(), rpc_code: 0 }
    }

    /// A bad argument (NULL, not UTF-8, malformed JSON).
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidArgument(message.into()).into()
    }

    /// A panic caught at the boundary.
    pub(crate) fn from_panic(payload: &(dyn Any + Send)) -> Self {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        Failure::new(ErrorCode::Panic, format!("panic in mcpstore: {what}"))
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure { code: e.code(), message: e.to_string(), rpc_code: e.rpc_code().unwrap_or(0) }
    }
}

impl From<Failure> for mcps_error {
    fn from(f: Failure) -> Self {
        mcps_error { code: f.code, message: to_cstring(f.message), rpc_code: f.rpc_code }
    }
}

impl From<&Error> for mcps_error {
    fn from(e: &Error) -> Self {
        Failure::from(e.clone()).into()
    }
}

/// The status of an error (never `MCPS_OK`).
///
/// Ownership: borrows `e`. Threads: any. `e == NULL` gives `MCPS_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `e` is NULL or an error object that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_error_code(e: *const mcps_error) -> ErrorCode {
    guard(ErrorCode::Panic, || {
        // SAFETY: by contract `e` is NULL or a live error object.
        match unsafe { e.as_ref() } {
            Some(e) => e.code,
            None => ErrorCode::InvalidArgument,
        }
    })
}

/// The error's message (UTF-8, for people, not for parsing).
///
/// Ownership: the string belongs to `e` and lives as long as `e`; do not free it.
/// Threads: any. `e == NULL` gives an empty string, never NULL.
///
/// # Safety
/// `e` is NULL or an error object that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_error_message(e: *const mcps_error) -> *const c_char {
    guard(c"".as_ptr(), || {
        // SAFETY: by contract `e` is NULL or a live error object.
        match unsafe { e.as_ref() } {
            Some(e) => e.message.as_ptr(),
            None => c"".as_ptr(),
        }
    })
}

/// The JSON-RPC error code the server answered with (status `MCPS_ERR_RPC`), else 0.
///
/// Ownership: borrows `e`. Threads: any. `e == NULL` gives 0.
///
/// # Safety
/// `e` is NULL or an error object that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_error_rpc_code(e: *const mcps_error) -> i64 {
    guard(0, || {
        // SAFETY: by contract `e` is NULL or a live error object.
        unsafe { e.as_ref() }.map_or(0, |e| e.rpc_code)
    })
}

/// Frees an error object handed out by the library. `mcps_error_free(NULL)` does nothing.
///
/// Ownership: takes `e`; do not use it afterwards. Never free an error that
/// was only lent to a callback. Threads: any, but only once per error.
///
/// # Safety
/// `e` is NULL or an owned error object that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_error_free(e: *mut mcps_error) {
    guard((), || {
        if !e.is_null() {
            // SAFETY: by contract `e` came from `Box::into_raw` in this library and is freed once.
            drop(unsafe { Box::from_raw(e) });
        }
    });
}
