//! `mcps_reply`: the one answer a C handler owes a server's request
//! (sampling, elicitation, roots), given now or later, from any thread.

use std::ffi::c_char;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::Sender;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::args::{opt_str_arg, str_arg};
use super::boundary::{FfiResult, boundary, guard};
use super::error::{Failure, mcps_error};
use crate::error::ErrorCode;
use crate::protocol::jsonrpc::codes;
use crate::protocol::{CreateMessageResult, ElicitResult, Root};
use crate::store::{HandlerError, Reply};

/// The answer to a roots request: the dispatch thread waits for it.
pub(super) struct RootsReply {
    pub(super) tx: Sender<Result<Vec<Root>, HandlerError>>,
    /// Cleared when the waiter stopped waiting (its deadline passed).
    pub(super) waiting: Arc<AtomicBool>,
}

/// What a reply answers.
pub(super) enum Pending {
    Sampling(Reply<CreateMessageResult>),
    Elicitation(Reply<ElicitResult>),
    Roots(RootsReply),
}

impl Pending {
    /// Whether the request still waits for this answer.
    fn is_pending(&self) -> bool {
        match self {
            Pending::Sampling(r) => r.is_pending(),
            Pending::Elicitation(r) => r.is_pending(),
            Pending::Roots(r) => r.waiting.load(Ordering::Acquire),
        }
    }

    /// Answers with an error; `false` when the request was answered already.
    pub(super) fn fail(self, code: i64, message: impl Into<String>) -> bool {
        let error = HandlerError::new(code, message);
        match self {
            Pending::Sampling(r) => r.send(Err(error)),
            Pending::Elicitation(r) => r.send(Err(error)),
            Pending::Roots(r) => r.waiting.load(Ordering::Acquire) && r.tx.try_send(Err(error)).is_ok(),
        }
    }

    /// Answers with `json`; a JSON text that is not a valid answer becomes an
    /// error for the server (and a failure here).
    fn answer(self, json: &str) -> FfiResult {
        match self {
            Pending::Sampling(r) => answer_json(r, json, "CreateMessageResult"),
            Pending::Elicitation(r) => answer_json(r, json, "ElicitResult"),
            Pending::Roots(r) => answer_roots(r, json),
        }
    }
}

/// The failure of an answer that came too late.
fn answered_already() -> Failure {
    Failure::new(
        ErrorCode::Timeout,
        "the request was answered already: its handler_timeout passed (or the store was freed)",
    )
}

/// The message the server gets for an answer that is not valid.
const INVALID_ANSWER: &str = "the client's handler gave an invalid answer";

fn answer_json<T: Serialize + DeserializeOwned>(reply: Reply<T>, json: &str, what: &str) -> FfiResult {
    if !reply.is_pending() {
        return Err(answered_already());
    }
    let shape = serde_json::from_str::<T>(json).err();
    if !reply.send_json(json) {
        return Err(answered_already());
    }
    match shape {
        None => Ok(()),
        Some(e) => Err(Failure::invalid(format!(
            "result_json is not a valid {what}: {e} (the server was sent an error)"
        ))),
    }
}

fn answer_roots(reply: RootsReply, json: &str) -> FfiResult {
    #[derive(serde::Deserialize)]
    struct ListRootsResult {
        roots: Vec<Root>,
    }
    let parsed = serde_json::from_str::<ListRootsResult>(json).map_err(|e| e.to_string()).and_then(|r| {
        for (i, root) in r.roots.iter().enumerate() {
            root.validate().map_err(|m| format!("roots[{i}]: {m}"))?;
        }
        Ok(r.roots)
    });
    let (outcome, failure) = match parsed {
        Ok(roots) => (Ok(roots), None),
        Err(e) => (
            Err(HandlerError::internal(INVALID_ANSWER)),
            Some(Failure::invalid(format!(
                "result_json is not a valid {{\"roots\": [...]}}: {e} (the server was sent an error)"
            ))),
        ),
    };
    if !reply.waiting.load(Ordering::Acquire) || reply.tx.try_send(outcome).is_err() {
        return Err(answered_already());
    }
    failure.map_or(Ok(()), Err)
}

/// A server's request waiting for its answer, handed to a handler
/// (`mcps_handler_callback`). Owned by the handler from the moment it is
/// called: it must be given back exactly once, by `mcps_reply_result`,
/// `mcps_reply_error` or `mcps_reply_free`, from any thread, during the
/// callback or later. Not thread-safe: one thread at a time.
pub struct mcps_reply {
    pub(super) pending: Pending,
}

/// Takes the reply back from C.
///
/// # Safety
/// `reply` is NULL or a live reply, not used after this.
unsafe fn take(reply: *mut mcps_reply) -> FfiResult<Box<mcps_reply>> {
    if reply.is_null() {
        return Err(Failure::invalid("reply is NULL"));
    }
    // SAFETY: a live reply was entered by `live::into_raw`; anything else is refused unread.
    unsafe { super::live::take(reply) }
        .ok_or_else(|| Failure::invalid("reply is not a live reply (given back already?)"))
}

/// Answers the request with its result and frees `reply` (whatever the
/// status, except for `reply == NULL`). `result_json` is the MCP result
/// object of the request: a `CreateMessageResult` for sampling
/// (`{"role": "assistant", "content": {"type": "text", "text": ...}, "model": ..., "stopReason"?}`),
/// an `ElicitResult` for elicitation (`{"action": "accept", "content": {...}}`,
/// or `"decline"` / `"cancel"` without content), `{"roots": [{"uri": "file://...", "name"?}]}`
/// for roots.
///
/// An accepted elicitation's content gets the requested schema's defaults
/// for what it lacks and is checked against the schema; content that does
/// not fit is sent to the server as an error instead (and logged as a
/// warning), and this function still returns `MCPS_OK`.
///
/// Returns `MCPS_OK` when the server was answered; `MCPS_ERR_INVALID_ARGUMENT`
/// when `reply` was given back already (detected, nothing happens), when `result_json` is NULL, not UTF-8, not JSON or not a result of the
/// request's kind (the server was sent an error instead); `MCPS_ERR_TIMEOUT`
/// when the request had been answered already (its `handler_timeout` passed,
/// or the store was freed). Threads: any.
///
/// # Safety
/// `reply` is NULL or a live reply that is not used after this call;
/// `result_json` is NULL or a NUL-terminated string; `err` is NULL or points
/// to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_reply_result(
    reply: *mut mcps_reply,
    result_json: *const c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        // SAFETY: forwarded from this function's contract.
        let reply = unsafe { take(reply) }?;
        // SAFETY: `result_json` is NULL or NUL-terminated (contract).
        match unsafe { str_arg(result_json, "result_json") } {
            Ok(json) => reply.pending.answer(json),
            Err(failure) => match reply.pending.fail(codes::INTERNAL_ERROR, INVALID_ANSWER) {
                true => Err(failure),
                false => Err(answered_already()),
            },
        }
    })
}

/// Answers the request with a JSON-RPC error (`code`, e.g. -1 for a user who
/// refused, -32603 for a failure; `message` for people, NULL for a generic
/// one) and frees `reply` (whatever the status, except for `reply == NULL`).
///
/// Returns `MCPS_OK` when the server was answered; `MCPS_ERR_INVALID_ARGUMENT`
/// when `message` is not UTF-8 (the server got `code` with a generic
/// message); `MCPS_ERR_TIMEOUT` when the request had been answered already.
/// Threads: any.
///
/// # Safety
/// `reply` is NULL or a live reply that is not used after this call;
/// `message` is NULL or a NUL-terminated string; `err` is NULL or points to
/// writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_reply_error(
    reply: *mut mcps_reply,
    code: i64,
    message: *const c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        const GENERIC: &str = "the client declined the request";
        // SAFETY: forwarded from this function's contract.
        let reply = unsafe { take(reply) }?;
        // SAFETY: `message` is NULL or NUL-terminated (contract).
        let (text, failure) = match unsafe { opt_str_arg(message, "message") } {
            Ok(text) => (text.unwrap_or(GENERIC), None),
            Err(f) => (GENERIC, Some(f)),
        };
        if !reply.pending.fail(code, text) {
            return Err(answered_already());
        }
        failure.map_or(Ok(()), Err)
    })
}

/// Whether the request still waits for this reply's answer: false once its
/// `handler_timeout` passed (the server got an error; answering now gives
/// `MCPS_ERR_TIMEOUT`) or the store was freed. False for NULL.
/// Ownership: borrows `reply`. Threads: any.
///
/// # Safety
/// `reply` is NULL or a live reply.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_reply_is_pending(reply: *const mcps_reply) -> bool {
    guard(false, || {
        // SAFETY: `reply` is NULL or a live reply (contract).
        unsafe { reply.as_ref() }.is_some_and(|r| r.pending.is_pending())
    })
}

/// Frees a reply without answering: a request still waiting is answered
/// with an internal error (-32603) at once. For a handler that decides not
/// to answer, and for a reply whose request timed out.
/// `mcps_reply_free(NULL)` does nothing.
///
/// A second free of the same handle (or a pointer that is no live reply)
/// is detected and does nothing (docs/c-api.md, "Freeing twice").
/// Ownership: takes `reply`. Threads: any, but only once per reply.
///
/// # Safety
/// `reply` is NULL or a live reply that is not used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_reply_free(reply: *mut mcps_reply) {
    guard((), || {
        // SAFETY: forwarded from this function's contract.
        if let Ok(reply) = unsafe { take(reply) } {
            reply
                .pending
                .fail(codes::INTERNAL_ERROR, "the client's handler released the request without answering");
        }
    });
}
