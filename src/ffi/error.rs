//! `mcps_error`: the error object every fallible function may hand out.

use std::any::Any;
use std::ffi::CString;

use super::strings::to_cstring;
use crate::error::{Error, ErrorCode};

/// An error: its status, a message for people, and the server's JSON-RPC
/// error code when the server answered with one.
///
/// Made by the library (through `err` out-parameters, queue completions and
/// callbacks) and never by the caller; freed with `mcps_error_free` when
/// it was handed out as owned. Immutable: any thread may read it.
pub struct mcps_error {
    pub(crate) code: ErrorCode,
    pub(crate) message: CString,
    pub(crate) rpc_code: i64,
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
