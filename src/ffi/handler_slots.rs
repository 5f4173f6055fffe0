//! The C handlers in force: each is a [`CallbackSlot`] that the requests
//! for it go through, recorded by kind and service so that replacing one
//! retires the previous one (emptying its slot waits for a running
//! invocation; a request that reaches an emptied slot is answered with an error).

use std::collections::HashMap;
use std::ffi::CString;
use std::sync::Arc;

use parking_lot::Mutex;

use super::boundary::FfiResult;
use super::reply::Pending;
use super::strings::to_cstring;
use crate::callback_slot::CallbackSlot;
use crate::protocol::jsonrpc::codes;

/// One request handed to a C handler.
pub(super) struct HandlerCall {
    pub(super) service: CString,
    pub(super) request: CString,
    /// Taken by the handler; left when the slot was emptied.
    pub(super) reply: Mutex<Option<Pending>>,
}

impl HandlerCall {
    pub(super) fn new(service: &str, request: String, pending: Pending) -> Self {
        HandlerCall {
            service: to_cstring(service.to_owned()),
            request: to_cstring(request),
            reply: Mutex::new(Some(pending)),
        }
    }
}

impl Drop for HandlerCall {
    fn drop(&mut self) {
        if let Some(pending) = self.reply.get_mut().take() {
            // The handler was replaced while this request was on its way.
            pending.fail(codes::INTERNAL_ERROR, "the client's handler was removed");
        }
    }
}

/// The slot of one C handler.
pub(super) type Slot = CallbackSlot<HandlerCall>;

/// The kinds of request a handler answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Kind {
    Sampling,
    Elicitation,
    Roots,
}

/// A kind of handler and its service (`None`: the store's).
type Key = (Kind, Option<String>);

/// The C handlers in force, by kind and service (`None`: the store's), so
/// that replacing one can retire the previous one.
#[derive(Default)]
pub(crate) struct HandlerRegistry {
    slots: Mutex<HashMap<Key, Arc<Slot>>>,
}

impl HandlerRegistry {
    /// Installs a handler in the store (`install`) and records its C slot
    /// (`None`: no C handler any more), then retires the previous C handler
    /// of that kind and service: returns once a running invocation of it has
    /// returned (unless called from inside it).
    pub(super) fn replace(
        &self,
        kind: Kind,
        service: Option<&str>,
        slot: Option<Arc<Slot>>,
        install: impl FnOnce() -> crate::Result<()>,
    ) -> FfiResult {
        let previous = {
            let mut slots = self.slots.lock();
            install()?;
            let key = (kind, service.map(str::to_owned));
            match slot {
                Some(slot) => slots.insert(key, slot),
                None => slots.remove(&key),
            }
        };
        if let Some(previous) = previous {
            previous.set(None);
        }
        Ok(())
    }
}

impl Drop for HandlerRegistry {
    /// The store is freed: no C handler runs any more once this returns.
    fn drop(&mut self) {
        for slot in self.slots.get_mut().values() {
            slot.set(None);
        }
    }
}
