//! Rust strings as C strings.

use std::ffi::{CString, c_char};

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
