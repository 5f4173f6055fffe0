//! The functions that read and free an `mcps_error`.

use std::ffi::c_char;

use super::boundary::guard;
use super::error::mcps_error;
use crate::error::ErrorCode;

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
/// A second free of the same handle (or a pointer that is no live error object)
/// is detected and does nothing (docs/c-api.md, "Freeing twice").
/// Ownership: takes `e`; do not use it afterwards. Never free an error that
/// was only lent to a callback. Threads: any, but only once per error.
///
/// # Safety
/// `e` is NULL or an owned error object that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_error_free(e: *mut mcps_error) {
    guard((), || {
        if !e.is_null() {
            // SAFETY: a live handle was entered by `live::into_raw`; a pointer freed
            // already (or never handed out) is not entered and is left alone, unread.
            drop(unsafe { super::live::take(e) });
        }
    });
}
