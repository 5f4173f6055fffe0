//! C handlers for what servers ask of the client (sampling, elicitation,
//! roots), for the store or one service, and the roots themselves.
//!
//! A C handler is a callback slot (`handler_slots.rs`) behind a Rust handler. Replacing or
//! removing it empties its slot, which waits for a running invocation: once
//! the setter returns, the old handler is not running and never runs again,
//! so its userdata may be freed. A request that reaches an emptied slot (it
//! was on its way during the swap) is answered with an error.

use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::RecvTimeoutError;
use serde_json::{Map, Value, json};

use super::args::{handle_arg, json_arg, opt_str_arg};
use super::boundary::{FfiResult, boundary};
use super::error::{Failure, mcps_error};
use super::handler_slots::{HandlerCall, Kind, Slot};
use super::reply::{Pending, RootsReply, mcps_reply};
use super::store::{mcps_store, store_arg};
use crate::error::ErrorCode;
use crate::protocol::{CreateMessageRequest, CreateMessageResult, ElicitRequest, ElicitResult, Root};
use crate::store::{
    AcceptDefaults, ElicitationHandler, HandlerError, Reply, RequestContext, RootsHandler, SamplingHandler,
};

/// A handler for a server's request: `service` (the service whose server
/// asks) and `request_json` (the request's params) are lent for the call;
/// `reply` is the handler's to answer exactly once (see `mcps_reply`).
pub type mcps_handler_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        service: *const c_char,
        request_json: *const c_char,
        reply: *mut mcps_reply,
    ),
>;

struct HandlerTarget {
    cb: HandlerFn,
    userdata: *mut c_void,
}

// SAFETY: the documented contract of the handler setters is that the handler
// and its userdata may be used from the store's dispatch thread.
unsafe impl Send for HandlerTarget {}
// SAFETY: as above; the target is only read.
unsafe impl Sync for HandlerTarget {}

type HandlerFn = unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char, *mut mcps_reply);

impl HandlerTarget {
    /// Hands the call's reply to the C handler (unless it was taken already).
    fn call(&self, call: &HandlerCall) {
        let Some(pending) = call.reply.lock().take() else { return };
        let reply = super::live::into_raw(Box::new(mcps_reply { pending }));
        // SAFETY: the caller's contract: `cb` may run on this thread with `userdata`;
        // the strings live until after it returns; `reply` is the handler's.
        unsafe { (self.cb)(self.userdata, call.service.as_ptr(), call.request.as_ptr(), reply) };
    }
}

/// A slot holding the C handler `cb` with `userdata`.
fn slot_for(cb: HandlerFn, userdata: *mut c_void) -> Arc<Slot> {
    let target = HandlerTarget { cb, userdata };
    let slot = Arc::new(Slot::default());
    slot.set(Some(Arc::new(move |call: &HandlerCall| target.call(call))));
    slot
}

struct CSampling {
    slot: Arc<Slot>,
    tools: bool,
}

impl SamplingHandler for CSampling {
    fn create_message(
        &self,
        context: &RequestContext,
        request: CreateMessageRequest,
        reply: Reply<CreateMessageResult>,
    ) {
        let json = serde_json::to_string(&request).unwrap_or_else(|_| "{}".to_owned());
        self.slot.invoke(&HandlerCall::new(&context.service, json, Pending::Sampling(reply)));
    }

    fn supports_tools(&self) -> bool {
        self.tools
    }
}

struct CElicitation {
    slot: Arc<Slot>,
    url: bool,
}

/// The request's params as the server sent them (`mode` always present).
fn elicit_json(request: &ElicitRequest) -> String {
    let mut obj: Map<String, Value>;
    match request {
        ElicitRequest::Form { message, requested_schema, extra } => {
            obj = extra.clone();
            obj.insert("mode".into(), json!("form"));
            obj.insert("message".into(), json!(message));
            obj.insert("requestedSchema".into(), requested_schema.clone());
        }
        ElicitRequest::Url { message, elicitation_id, url, extra } => {
            obj = extra.clone();
            obj.insert("mode".into(), json!("url"));
            obj.insert("message".into(), json!(message));
            if let Some(id) = elicitation_id {
                obj.insert("elicitationId".into(), json!(id));
            }
            obj.insert("url".into(), json!(url));
        }
    }
    Value::Object(obj).to_string()
}

impl ElicitationHandler for CElicitation {
    fn elicit(&self, context: &RequestContext, request: ElicitRequest, reply: Reply<ElicitResult>) {
        let json = elicit_json(&request);
        self.slot.invoke(&HandlerCall::new(&context.service, json, Pending::Elicitation(reply)));
    }

    fn supports_url(&self) -> bool {
        self.url
    }
}

struct CRoots {
    slot: Arc<Slot>,
}

impl RootsHandler for CRoots {
    /// Hands the request to the C handler and waits (on the dispatch thread)
    /// for its answer, until the request's deadline.
    fn roots(&self, context: &RequestContext) -> Result<Vec<Root>, HandlerError> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let waiting = Arc::new(AtomicBool::new(true));
        let pending = Pending::Roots(RootsReply { tx, waiting: waiting.clone() });
        // Dropped before the wait: an unanswered request ends the wait at once.
        self.slot.invoke(&HandlerCall::new(&context.service, "{}".to_owned(), pending));
        let outcome = rx.recv_deadline(context.deadline);
        waiting.store(false, Ordering::Release);
        match outcome {
            Ok(answer) => answer,
            Err(RecvTimeoutError::Timeout) => {
                Err(HandlerError::internal("the client's roots handler did not answer in time"))
            }
            Err(RecvTimeoutError::Disconnected) => {
                Err(HandlerError::internal("the client's handler returned without answering"))
            }
        }
    }
}

/// Borrows the store handle and the optional service name.
///
/// # Safety
/// `s` is NULL or a live store; `service` is NULL or NUL-terminated.
unsafe fn scope<'a>(
    s: *const mcps_store,
    service: *const c_char,
) -> FfiResult<(&'a mcps_store, Option<&'a str>)> {
    // SAFETY: forwarded from this function's contract.
    let store = unsafe { handle_arg(s, "store") }?;
    // SAFETY: as above.
    let service = unsafe { opt_str_arg(service, "service") }?;
    Ok((store, service))
}

/// Sets the handler that answers `sampling/createMessage` for `service`, or
/// for every service without one of its own (`service == NULL`); NULL `cb`
/// removes it. `supports_tools` declares `sampling.tools` (requests may
/// carry `tools` and `toolChoice`; without it such requests are refused
/// before they reach the handler).
///
/// The handler runs on the store's dispatch thread as
/// `cb(userdata, service, request_json, reply)`: `request_json` is the
/// request's params (`{"messages": [{"role", "content"}], "maxTokens",
/// "systemPrompt"?, "temperature"?, ...}`), lent for the call like
/// `service`; `reply` is the handler's, to answer exactly once with
/// `mcps_reply_result` (a `CreateMessageResult`) or `mcps_reply_error`, now
/// or later from any thread (or to free with `mcps_reply_free`). A reply
/// not answered within the store's `handler_timeout` is answered with an
/// error (-32001) for it; the reply object must still be given back.
/// Handlers run one at a time with the other callbacks of the store: one
/// that needs long should answer from a thread of its own.
///
/// Servers learn of the capability at `initialize`: register a store's
/// handler before adding services (create the store with a config without
/// `mcpServers`, then `mcps_store_add_service`); a service's own handler
/// (the service must exist) applies to sessions opened from then on.
///
/// Replacing or removing a handler returns only after a running invocation
/// of the previous one has returned (answers it still owes may come later),
/// so the caller may free the previous `userdata` then; called from inside
/// the handler it returns at once. `mcps_store_free` also waits for a
/// running handler. `userdata` must stay valid until the handler is
/// replaced or removed, or the store is freed. Threads: any.
///
/// # Safety
/// `s` is a live store; `service` is NULL or a NUL-terminated string; `cb`,
/// if not NULL, is safe to call from another thread with `userdata`; `err`
/// is NULL or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_set_sampling_handler(
    s: *const mcps_store,
    service: *const c_char,
    cb: mcps_handler_callback,
    userdata: *mut c_void,
    supports_tools: bool,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        // SAFETY: pointers are NULL or valid (contract).
        let (s, service) = unsafe { scope(s, service) }?;
        let slot = cb.map(|cb| slot_for(cb, userdata));
        let handler = slot.clone().map(|slot| Arc::new(CSampling { slot, tools: supports_tools }) as _);
        s.handlers.replace(Kind::Sampling, service, slot, || s.store.set_sampling_handler(service, handler))
    })
}

/// Sets the handler that answers `elicitation/create` for `service`, or for
/// every service without one of its own (`service == NULL`); NULL `cb`
/// removes it. `supports_url` declares URL mode (without it, URL-mode
/// requests are refused before they reach the handler).
///
/// As for `mcps_store_set_sampling_handler`; `request_json` is
/// `{"mode": "form", "message", "requestedSchema": {...}}` or
/// `{"mode": "url", "message", "elicitationId", "url"}`, and the answer an
/// `ElicitResult`: `{"action": "accept", "content": {...}}` (the schema's
/// defaults fill in what the content lacks; it is checked against the
/// schema), `{"action": "decline"}` or `{"action": "cancel"}`. Threads: any.
///
/// # Safety
/// As for `mcps_store_set_sampling_handler`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_set_elicitation_handler(
    s: *const mcps_store,
    service: *const c_char,
    cb: mcps_handler_callback,
    userdata: *mut c_void,
    supports_url: bool,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        // SAFETY: pointers are NULL or valid (contract).
        let (s, service) = unsafe { scope(s, service) }?;
        let slot = cb.map(|cb| slot_for(cb, userdata));
        let handler = slot.clone().map(|slot| Arc::new(CElicitation { slot, url: supports_url }) as _);
        s.handlers
            .replace(Kind::Elicitation, service, slot, || s.store.set_elicitation_handler(service, handler))
    })
}

/// Answers every elicitation of `service`, or of every service without a
/// handler of its own (`service == NULL`), with the built-in handler: it
/// accepts each form with its schema's defaults (and declines a form whose
/// required properties have none, and URL mode). Replaces a C elicitation
/// handler as `mcps_store_set_elicitation_handler` does. Threads: any.
///
/// # Safety
/// `s` is a live store; `service` is NULL or a NUL-terminated string; `err`
/// is NULL or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_use_accept_defaults(
    s: *const mcps_store,
    service: *const c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        // SAFETY: pointers are NULL or valid (contract).
        let (s, service) = unsafe { scope(s, service) }?;
        s.handlers.replace(Kind::Elicitation, service, None, || {
            s.store.set_elicitation_handler(service, Some(Arc::new(AcceptDefaults)))
        })
    })
}

/// Sets the handler that answers `roots/list` for `service`, or for every
/// service without one of its own (`service == NULL`), and tells the
/// servers concerned that the roots changed; NULL `cb` removes it.
///
/// As for `mcps_store_set_sampling_handler`; `request_json` is `{}` and the
/// answer `{"roots": [{"uri": "file:///...", "name"?}]}` (`file://` URIs
/// only). The dispatch thread waits for the answer (up to
/// `handler_timeout`), so a roots handler should answer promptly. For a
/// fixed list, `mcps_store_set_roots` is simpler. Threads: any.
///
/// # Safety
/// As for `mcps_store_set_sampling_handler`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_set_roots_handler(
    s: *const mcps_store,
    service: *const c_char,
    cb: mcps_handler_callback,
    userdata: *mut c_void,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        // SAFETY: pointers are NULL or valid (contract).
        let (s, service) = unsafe { scope(s, service) }?;
        let slot = cb.map(|cb| slot_for(cb, userdata));
        let handler = slot.clone().map(|slot| Arc::new(CRoots { slot }) as _);
        s.handlers.replace(Kind::Roots, service, slot, || s.store.set_roots_handler(service, handler))
    })
}

/// Gives `service` (NULL: every service without roots of its own) these
/// roots, `roots_json` being a JSON array `[{"uri": "file:///...", "name"?}]`
/// (`file://` URIs only; `[]` for none), and tells the servers concerned that
/// the roots changed. Replaces a C roots handler as
/// `mcps_store_set_roots_handler` does. Threads: any.
///
/// # Safety
/// `s` is a live store; `service` is NULL or a NUL-terminated string;
/// `roots_json` is a NUL-terminated string (NULL is refused); `err` is NULL
/// or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_set_roots(
    s: *const mcps_store,
    service: *const c_char,
    roots_json: *const c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        // SAFETY: pointers are NULL or valid (contract).
        let (s, service) = unsafe { scope(s, service) }?;
        // SAFETY: as above.
        let roots = match unsafe { json_arg(roots_json, "roots_json") }? {
            Value::Null => return Err(Failure::invalid("roots_json is NULL")),
            v @ Value::Array(_) => serde_json::from_value::<Vec<Root>>(v)
                .map_err(|e| Failure::invalid(format!("roots_json: {e}")))?,
            _ => return Err(Failure::invalid("roots_json must be a JSON array")),
        };
        s.handlers.replace(Kind::Roots, service, None, || s.store.set_roots(service, roots))
    })
}

/// Tells the servers of `service` (NULL: every service using the store's
/// roots) that the roots changed, so that they ask again: for a roots
/// handler whose answer changed. Threads: any.
///
/// # Safety
/// `s` is a live store; `service` is NULL or a NUL-terminated string; `err`
/// is NULL or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_roots_changed(
    s: *const mcps_store,
    service: *const c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        // SAFETY: pointers are NULL or valid (contract).
        let (s, service) = unsafe { (store_arg(s)?, opt_str_arg(service, "service")?) };
        s.roots_changed(service)?;
        Ok(())
    })
}
