//! Background calls: `mcps_store_submit` with handles and callbacks, and completion queues.

use std::ffi::{c_char, c_void};

use super::args::{arguments_arg, handle_arg, out_arg, str_arg, wait_ms, write_out};
use super::boundary::{FfiResult, boundary, guard};
use super::error::{Failure, mcps_error};
use super::result::{mcps_result, new_result, release_result};
use super::store::mcps_store;
use crate::error::ErrorCode;
use crate::exec::{CallHandle, CallResult, CompletionQueue, ToolCall};

/// A callback run once when a background call finishes.
///
/// `userdata` is the pointer given to `mcps_store_submit`. On success `status`
/// is `MCPS_OK`, `result` is the result and `error` is NULL; on failure
/// `result` is NULL and `error` describes the failure. Both are lent for
/// the duration of the callback only: never free them, copy what you need.
///
/// Runs on the store's dispatch thread (never the thread that submitted, never
/// a thread that reads from a server): callbacks run one at a time, in the
/// order their calls finished, so one that blocks delays the others (but
/// never a server's replies); it may call the library, the same service
/// included. It must not unwind (throw, longjmp) into the library.
pub type mcps_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        status: ErrorCode,
        result: *const mcps_result,
        error: *const mcps_error,
    ),
>;

/// A background call's handle, from `mcps_store_submit`; freed with
/// `mcps_call_free`. It stays valid after the store is freed (the call then
/// completes with `MCPS_ERR_CLOSED`). Any thread may wait on or cancel it,
/// also several at once.
pub struct mcps_call {
    handle: CallHandle,
}

/// A completion queue: many submissions tagged with a `uint64_t`, their
/// completions handed out in the order they finish. Created by
/// `mcps_queue_new`, freed by `mcps_queue_free`. Thread-safe; it stays
/// valid after its store is freed (submissions then fail with `MCPS_ERR_CLOSED`).
pub struct mcps_queue {
    pub(super) queue: CompletionQueue,
}

/// A raw pointer that may cross to the worker thread that runs the callback.
struct UserData(*mut c_void);

// SAFETY: the pointer is only handed back to the caller's callback, whose
// documented contract is that it may run on a library thread.
unsafe impl Send for UserData {}

/// Starts `call` in the background with an optional C callback, and writes
/// its handle to `*out` when `out` is not NULL.
///
/// # Safety
/// `cb`, if not NULL, is safe to call from a library thread with `userdata`,
/// which stays valid until the callback has run; `out` is NULL or writable.
pub(super) unsafe fn start_call(
    store: &crate::store::Store,
    call: ToolCall,
    cb: mcps_callback,
    userdata: *mut c_void,
    out: *mut *mut mcps_call,
) -> FfiResult {
    let handle = match cb {
        Some(cb) => {
            let userdata = UserData(userdata);
            store.submit_with_callback(call, move |outcome| run_callback(cb, &userdata, outcome))?
        }
        None => store.submit(call)?,
    };
    if !out.is_null() {
        let call = super::live::into_raw(Box::new(mcps_call { handle }));
        // SAFETY: `out` is not NULL and writable (contract).
        unsafe { write_out(out, call) };
    }
    Ok(())
}

/// Lends the outcome to a C callback.
fn run_callback(
    cb: unsafe extern "C" fn(*mut c_void, ErrorCode, *const mcps_result, *const mcps_error),
    userdata: &UserData,
    outcome: CallResult,
) {
    match outcome {
        Ok(result) => {
            let r = new_result(result);
            // SAFETY: the caller's callback with its own userdata; `r` lives
            // until after the callback returns.
            unsafe { cb(userdata.0, ErrorCode::Ok, &*r, std::ptr::null()) };
            release_result(r);
        }
        Err(e) => {
            let error = mcps_error::from(&e);
            // SAFETY: as above; `error` lives until after the callback returns.
            unsafe { cb(userdata.0, e.code(), std::ptr::null(), &error) };
        }
    }
}

/// Writes a call's outcome: the result to `*out` on success, else the failure.
///
/// # Safety
/// `out` is not NULL and points to writable memory.
unsafe fn deliver(outcome: CallResult, out: *mut *mut mcps_result) -> FfiResult {
    let result = outcome?;
    // SAFETY: forwarded from this function's contract.
    unsafe { write_out(out, Box::into_raw(new_result(result))) };
    Ok(())
}

/// Starts a call in the background and returns at once.
///
/// `tool` and `args_json` are as for `mcps_store_call_tool`. When `cb` is
/// not NULL it runs exactly once with the outcome (with `userdata` as its
/// first argument), on a library worker thread, possibly concurrently with
/// other callbacks and possibly before this function returns. When this
/// function fails, the call did not start and `cb` never runs. Waits up to
/// the store's `submit_timeout` for a free slot when `max_concurrent_calls`
/// calls are in flight, then fails with `MCPS_ERR_BUSY`.
///
/// When `out` is not NULL, writes a new handle to `*out` on success, which
/// the caller frees with `mcps_call_free` (freeing it does not cancel the
/// call). Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is a live store; `tool` is a NUL-terminated string (NULL is refused);
/// `args_json` is NULL or a NUL-terminated string; `cb`, if not NULL, is a
/// function safe to call from any thread with `userdata`, which stays valid
/// until the callback has run; `out` and `err` are NULL or point to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_submit(
    s: *const mcps_store,
    tool: *const c_char,
    args_json: *const c_char,
    cb: mcps_callback,
    userdata: *mut c_void,
    out: *mut *mut mcps_call,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        // SAFETY: pointers are NULL or valid (contract); NULL is refused where required.
        let (store, tool, args) =
            unsafe { (handle_arg(s, "store")?, str_arg(tool, "tool")?, arguments_arg(args_json)?) };
        // SAFETY: forwarded from this function's contract.
        unsafe { start_call(&store.store, ToolCall::new(tool, args), cb, userdata, out) }
    })
}

/// Waits up to `timeout_ms` milliseconds (0: do not wait; `UINT64_MAX`: no
/// limit) for a background call to finish, also after its callback ran
/// (any number of times). A call with a callback counts as finished only once
/// its callback has returned, so `userdata` may be freed when this returns.
///
/// Finished: writes a new result to `*out` (the caller frees it with
/// `mcps_result_free`) and returns `MCPS_OK`, or returns the call's failure
/// (`MCPS_ERR_CLOSED` when its store was freed, `MCPS_ERR_CANCELLED` after
/// `mcps_call_cancel`, ...). Not finished in time: returns
/// `MCPS_ERR_NOT_READY` and the call goes on. Threads: any, also several at once.
///
/// # Safety
/// `call` is a live handle; `out` points to writable memory; `err` is NULL
/// or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_call_wait(
    call: *mut mcps_call,
    timeout_ms: u64,
    out: *mut *mut mcps_result,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        out_arg(out, "out")?;
        // SAFETY: `call` is NULL or a live handle (contract).
        let call = unsafe { handle_arg(call.cast_const(), "call") }?;
        wait_ms(timeout_ms, |slice| {
            let _ = call.handle.wait_timeout(slice);
            call.handle.is_finished()
        });
        let Some(outcome) = call.handle.try_result() else {
            return Err(Failure::new(
                ErrorCode::NotReady,
                format!("the call has not finished within {timeout_ms} ms"),
            ));
        };
        // SAFETY: `out` was checked to be non-NULL and is writable (contract).
        unsafe { deliver(outcome, out) }
    })
}

/// Cancels a background call: the server is told, and the call completes
/// with `MCPS_ERR_CANCELLED` (its callback, if any, runs with that status)
/// unless it had already finished. Returns `MCPS_OK`, or
/// `MCPS_ERR_INVALID_ARGUMENT` for NULL. Threads: any.
///
/// # Safety
/// `call` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_call_cancel(call: *mut mcps_call) -> ErrorCode {
    boundary(std::ptr::null_mut(), || {
        // SAFETY: `call` is NULL or a live handle (contract).
        unsafe { handle_arg(call.cast_const(), "call") }?.handle.cancel();
        Ok(())
    })
}

/// Frees a call handle; the call itself goes on (and its callback still
/// runs). `mcps_call_free(NULL)` does nothing.
///
/// A second free of the same handle (or a pointer that is no live call handle)
/// is detected and does nothing (docs/c-api.md, "Freeing twice").
/// Ownership: takes `call`. Threads: any, but no other thread may use the
/// handle during or after this call.
///
/// # Safety
/// `call` is NULL or a live handle that no other thread uses any more.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_call_free(call: *mut mcps_call) {
    guard((), || {
        if !call.is_null() {
            // SAFETY: a live handle was entered by `live::into_raw`; a pointer freed
            // already (or never handed out) is not entered and is left alone, unread.
            drop(unsafe { super::live::take(call) });
        }
    });
}

/// Creates a completion queue on a store.
///
/// On success writes a new queue to `*out`; the caller frees it with
/// `mcps_queue_free`. Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is a live store; `out` points to writable memory; `err` is NULL or
/// points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_queue_new(
    s: *const mcps_store,
    out: *mut *mut mcps_queue,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        out_arg(out, "out")?;
        // SAFETY: `s` is NULL or a live store (contract).
        let store = unsafe { handle_arg(s, "store") }?;
        let queue = Box::new(mcps_queue { queue: store.store.completion_queue() });
        // SAFETY: `out` was checked to be non-NULL and is writable (contract).
        unsafe { write_out(out, super::live::into_raw(queue)) };
        Ok(())
    })
}

/// Starts a call in the background; its completion will carry `tag` and is
/// taken with `mcps_queue_next`. `tool` and `args_json` are as for
/// `mcps_store_call_tool`. Fails (and nothing will complete) with
/// `MCPS_ERR_CLOSED` when the store was freed, `MCPS_ERR_BUSY` when no slot
/// freed within `submit_timeout`. Threads: any, also several at once.
///
/// # Safety
/// `q` is a live queue; `tool` is a NUL-terminated string (NULL is refused);
/// `args_json` is NULL or a NUL-terminated string; `err` is NULL or points
/// to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_queue_submit(
    q: *const mcps_queue,
    tool: *const c_char,
    args_json: *const c_char,
    tag: u64,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        // SAFETY: pointers are NULL or valid (contract); NULL is refused where required.
        let (q, tool, args) =
            unsafe { (handle_arg(q, "queue")?, str_arg(tool, "tool")?, arguments_arg(args_json)?) };
        q.queue.submit(ToolCall::new(tool, args), tag)?;
        Ok(())
    })
}

/// Takes the next completion, waiting up to `timeout_ms` milliseconds (0:
/// do not wait; `UINT64_MAX`: no limit).
///
/// Returns `MCPS_OK` when a call completed: writes its tag to `*tag_out` and
/// its status to `*call_status_out`; on the call's success a new result to
/// `*result_out` (else NULL there), on its failure, when `call_error_out` is
/// not NULL, a new error object to `*call_error_out` (else NULL there). The
/// caller frees both. Returns `MCPS_ERR_NOT_READY` (writing nothing) when
/// no call completed in time. Threads: any, also several at once (each
/// completion goes to one of them).
///
/// # Safety
/// `q` is a live queue; `tag_out`, `call_status_out` and `result_out` point
/// to writable memory; `call_error_out` and `err` are NULL or point to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_queue_next(
    q: *const mcps_queue,
    timeout_ms: u64,
    tag_out: *mut u64,
    call_status_out: *mut ErrorCode,
    result_out: *mut *mut mcps_result,
    call_error_out: *mut *mut mcps_error,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        out_arg(tag_out, "tag_out")?;
        out_arg(call_status_out, "call_status_out")?;
        out_arg(result_out, "result_out")?;
        // SAFETY: `q` is NULL or a live queue (contract).
        let q = unsafe { handle_arg(q, "queue") }?;
        let mut got = None;
        wait_ms(timeout_ms, |slice| {
            got = q.queue.recv_timeout(slice).ok();
            got.is_some()
        });
        let Some(completion) = got else {
            return Err(Failure::new(
                ErrorCode::NotReady,
                format!("no call completed within {timeout_ms} ms"),
            ));
        };
        let (status, result, error) = match completion.result {
            Ok(r) => (ErrorCode::Ok, Box::into_raw(new_result(r)), std::ptr::null_mut()),
            Err(e) => {
                let error = if call_error_out.is_null() {
                    std::ptr::null_mut()
                } else {
                    super::live::into_raw(Box::new(mcps_error::from(&e)))
                };
                (e.code(), std::ptr::null_mut(), error)
            }
        };
        // SAFETY: every out-pointer written was checked to be non-NULL and is writable (contract).
        unsafe {
            write_out(tag_out, completion.tag);
            write_out(call_status_out, status);
            write_out(result_out, result);
            if !call_error_out.is_null() {
                write_out(call_error_out, error);
            }
        }
        Ok(())
    })
}

/// How many of the queue's submissions have not been taken by
/// `mcps_queue_next` yet (running or completed). `q == NULL` gives 0.
/// Threads: any.
///
/// # Safety
/// `q` is NULL or a live queue.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_queue_pending(q: *const mcps_queue) -> usize {
    guard(0, || {
        // SAFETY: `q` is NULL or a live queue (contract).
        unsafe { q.as_ref() }.map_or(0, |q| q.queue.pending())
    })
}

/// Frees a completion queue; completions not taken yet are dropped (their
/// calls go on). `mcps_queue_free(NULL)` does nothing.
///
/// A second free of the same handle (or a pointer that is no live queue)
/// is detected and does nothing (docs/c-api.md, "Freeing twice").
/// Ownership: takes `q`. Threads: any, but no other thread may use the
/// queue during or after this call.
///
/// # Safety
/// `q` is NULL or a live queue that no other thread uses any more.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_queue_free(q: *mut mcps_queue) {
    guard((), || {
        if !q.is_null() {
            // SAFETY: a live handle was entered by `live::into_raw`; a pointer freed
            // already (or never handed out) is not entered and is left alone, unread.
            drop(unsafe { super::live::take(q) });
        }
    });
}
