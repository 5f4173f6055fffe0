//! The store's events from C: a callback (run on the dispatch thread) and
//! event queues for event loops; and the log level that decides which log
//! messages servers send as events.
//!
//! An event is a JSON object `{"type": ..., "service": ..., ...}`: see
//! `docs/c-api.md` for every type.

use std::ffi::{c_char, c_void};

use super::args::{handle_arg, opt_str_arg, out_arg, str_arg, wait_ms, write_out};
use super::boundary::{boundary, guard};
use super::error::{Failure, mcps_error};
use super::store::{mcps_store, store_arg};
use super::strings::{to_cstring, to_owned_c_string};
use crate::error::{Error, ErrorCode};
use crate::store::{Event, EventQueue};

/// Called with each event (JSON, borrowed for the call); see `mcps_store_on_event`.
pub type mcps_event_callback = Option<unsafe extern "C" fn(userdata: *mut c_void, event_json: *const c_char)>;

/// A queue of the store's events: every event from its creation on, in
/// order, until it is freed. Bounded (4096 events): when it is full, new
/// events are dropped and counted (`mcps_event_queue_dropped`). Made by
/// `mcps_store_event_queue_new`, freed by `mcps_event_queue_free`.
/// Thread-safe; it stays valid after its store is freed (then, once
/// drained, `mcps_event_queue_next` gives `MCPS_ERR_CLOSED`).
pub struct mcps_event_queue {
    queue: EventQueue,
}

struct EventTarget {
    cb: unsafe extern "C" fn(*mut c_void, *const c_char),
    userdata: *mut c_void,
}

// SAFETY: the documented contract of `mcps_store_on_event` is that the
// callback and its userdata may be used from the store's dispatch thread.
unsafe impl Send for EventTarget {}
// SAFETY: as above; the target is only read.
unsafe impl Sync for EventTarget {}

impl EventTarget {
    fn call(&self, event: &Event) {
        let json = to_cstring(event.to_json().to_string());
        // SAFETY: the caller's contract: `cb` may run on this thread with `userdata`.
        unsafe { (self.cb)(self.userdata, json.as_ptr()) };
    }
}

/// Sets the function called with every event of the store, on the store's
/// dispatch thread, one at a time and in order. The event (JSON, lent for
/// the call: copy what you keep) is `{"type": ..., "service": ..., ...}`
/// with the types `tools_list_changed`, `resources_list_changed`,
/// `prompts_list_changed`, `resource_updated` (`uri`), `log` (`level`,
/// `logger`, `data`), `progress` (`progress`), `elicitation_complete`
/// (`elicitationId`) and `service_state` (`state`, `error`). NULL removes
/// the callback. `userdata` is passed back as is.
///
/// When the callback falls far behind, events are dropped (and counted in
/// the statistics). Replacing or removing a callback returns only after a
/// running invocation of the previous one has returned, so the caller may
/// free the previous `userdata` as soon as this function returns. Called
/// from inside the callback itself it returns at once (waiting would
/// deadlock); the new callback applies from the next event. `mcps_store_free`
/// also waits for a running callback. The callback may call the library but
/// must not wait for a thread that is replacing it or freeing the store.
/// `userdata` must stay valid until the callback is replaced or removed, or
/// the store is freed. Threads: any.
///
/// # Safety
/// `s` is a live store; `cb`, if not NULL, is safe to call from another
/// thread with `userdata`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_on_event(
    s: *const mcps_store,
    cb: mcps_event_callback,
    userdata: *mut c_void,
) -> ErrorCode {
    boundary(std::ptr::null_mut(), || {
        // SAFETY: `s` is NULL or a live store (contract).
        let store = unsafe { store_arg(s) }?;
        match cb {
            None => store.clear_event_callback(),
            Some(cb) => {
                let target = EventTarget { cb, userdata };
                store.on_event(move |event| target.call(event));
            }
        }
        Ok(())
    })
}

/// Creates a queue of every event of the store from now on (see
/// `mcps_event_queue`); any number of queues may exist at once, each gets
/// every event.
///
/// On success writes a new queue to `*out`; the caller frees it with
/// `mcps_event_queue_free`. Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is a live store; `out` points to writable memory; `err` is NULL or
/// points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_event_queue_new(
    s: *const mcps_store,
    out: *mut *mut mcps_event_queue,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        out_arg(out, "out")?;
        // SAFETY: `s` is NULL or a live store (contract).
        let queue = Box::new(mcps_event_queue { queue: unsafe { store_arg(s) }?.event_queue() });
        // SAFETY: `out` was checked to be non-NULL and is writable (contract).
        unsafe { write_out(out, super::live::into_raw(queue)) };
        Ok(())
    })
}

/// Takes the next event, waiting up to `timeout_ms` milliseconds (0: do not
/// wait; `UINT64_MAX`: no limit).
///
/// Returns `MCPS_OK` and writes the event (JSON, as for
/// `mcps_store_on_event`) as a new string to `*out_json`, which the caller
/// frees with `mcps_string_free`; `MCPS_ERR_NOT_READY` (writing nothing)
/// when no event came in time; `MCPS_ERR_CLOSED` when the store was freed
/// and every event before that was taken. Threads: any, also several at
/// once (each event goes to one of them).
///
/// # Safety
/// `q` is a live queue; `out_json` points to writable memory; `err` is NULL
/// or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_event_queue_next(
    q: *const mcps_event_queue,
    timeout_ms: u64,
    out_json: *mut *mut c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        out_arg(out_json, "out_json")?;
        // SAFETY: `q` is NULL or a live queue (contract).
        let q = unsafe { handle_arg(q, "queue") }?;
        let mut got = None;
        wait_ms(timeout_ms, |slice| match q.queue.recv_timeout(slice) {
            Err(Error::Timeout { .. }) => false,
            other => {
                got = Some(other);
                true
            }
        });
        match got {
            Some(Ok(event)) => {
                // SAFETY: `out_json` was checked to be non-NULL and is writable (contract).
                unsafe { write_out(out_json, to_owned_c_string(event.to_json().to_string())) };
                Ok(())
            }
            Some(Err(e)) => Err(e.into()),
            None => Err(Failure::new(ErrorCode::NotReady, format!("no event came within {timeout_ms} ms"))),
        }
    })
}

/// How many events the queue dropped because it was full (0 for NULL).
/// Threads: any.
///
/// # Safety
/// `q` is NULL or a live queue.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_event_queue_dropped(q: *const mcps_event_queue) -> u64 {
    guard(0, || {
        // SAFETY: `q` is NULL or a live queue (contract).
        unsafe { q.as_ref() }.map_or(0, |q| q.queue.dropped())
    })
}

/// Frees an event queue; events not taken yet are dropped.
/// `mcps_event_queue_free(NULL)` does nothing.
///
/// A second free of the same handle (or a pointer that is no live event queue)
/// is detected and does nothing (docs/c-api.md, "Freeing twice").
/// Ownership: takes `q`. Threads: any, but no other thread may use the
/// queue during or after this call.
///
/// # Safety
/// `q` is NULL or a live queue that no other thread uses any more.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_event_queue_free(q: *mut mcps_event_queue) {
    guard((), || {
        if !q.is_null() {
            // SAFETY: a live handle was entered by `live::into_raw`; a pointer freed
            // already (or never handed out) is not entered and is left alone, unread.
            drop(unsafe { super::live::take(q) });
        }
    });
}

/// Sets the least severe level of the log messages the server of `service`
/// (NULL: every service whose server offers logging) sends: `level` is one
/// of `debug`, `info`, `notice`, `warning`, `error`, `critical`, `alert`,
/// `emergency` (`MCPS_ERR_INVALID_ARGUMENT` otherwise). The messages arrive
/// as `log` events. Applies to every open session and to those opened later.
/// Blocks the calling thread while the servers are told. Threads: any.
///
/// # Safety
/// `s` is a live store; `service` is NULL or a NUL-terminated string;
/// `level` is a NUL-terminated string (NULL is refused); `err` is NULL or
/// points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_set_log_level(
    s: *const mcps_store,
    service: *const c_char,
    level: *const c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        // SAFETY: pointers are NULL or valid (contract); NULL is refused where required.
        let (store, service, level) =
            unsafe { (store_arg(s)?, opt_str_arg(service, "service")?, str_arg(level, "level")?) };
        let level = level.parse().map_err(Failure::invalid)?;
        store.set_log_level(service, level)?;
        Ok(())
    })
}
