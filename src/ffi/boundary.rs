//! The panic boundary every exported function runs in: no panic unwinds into C.

use std::panic::{AssertUnwindSafe, catch_unwind};

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
            let error = super::live::into_raw(Box::new(mcps_error::from(failure)));
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
