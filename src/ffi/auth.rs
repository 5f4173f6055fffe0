//! OAuth from C, the store's side: the authorizer every C store holds and
//! the authorization a C callback answers (the exported functions are in
//! `auth_api.rs`).
//!
//! Every C store is built with one [`SlotAuthorizer`]: the store's OAuth
//! services ask it when a user must authorize, and it hands the authorization
//! to whatever is in its callback slot (nothing, a C callback, or the headless
//! authorizer). Replacing the callback empties the slot, which waits for a
//! running invocation, as for the handlers (`handlers.rs`).

use std::ffi::{CString, c_char, c_void};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crossbeam_channel::{RecvTimeoutError, Sender};
use parking_lot::Mutex;

use super::strings::to_cstring;
use crate::auth::{AuthorizationRequest, Authorizer, HeadlessAuthorizer};
use crate::callback_slot::CallbackSlot;
use crate::error::{AuthStep, Error};

/// The store's authorizer, a C function: `service`, `url` (the authorization
/// URL to take the user agent to) and `redirect_uri` (where the
/// authorization server sends it back) are lent for the call; `timeout_ms`
/// is the time left until the library stops waiting; `authorization` is the
/// callback's, to answer exactly once (see `mcps_authorization_redirect`).
pub type mcps_authorizer_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        service: *const c_char,
        url: *const c_char,
        redirect_uri: *const c_char,
        timeout_ms: u64,
        authorization: *mut mcps_authorization,
    ),
>;

pub(super) type AuthorizerFn = unsafe extern "C" fn(
    *mut c_void,
    *const c_char,
    *const c_char,
    *const c_char,
    u64,
    *mut mcps_authorization,
);

/// Where the answer to one authorization goes: the thread that needs it waits.
pub(super) struct Answer {
    tx: Sender<Result<String, String>>,
    /// Cleared when the waiter stopped waiting.
    waiting: Arc<AtomicBool>,
    /// After it nobody waits (even while a callback that blocks has not returned yet).
    deadline: Instant,
}

impl Answer {
    pub(super) fn is_pending(&self) -> bool {
        self.waiting.load(Ordering::Acquire) && Instant::now() < self.deadline
    }

    /// Sends the outcome; `false` when nobody waits for it any more.
    pub(super) fn send(self, outcome: Result<String, String>) -> bool {
        self.is_pending() && self.tx.try_send(outcome).is_ok()
    }
}

/// One authorization handed to the callback in the slot.
pub(super) struct AuthCall {
    service: CString,
    url: CString,
    redirect_uri: CString,
    deadline: Instant,
    /// Taken by the callback; left when the slot was empty.
    answer: Mutex<Option<Answer>>,
}

/// The slot of the store's authorizer.
pub(super) type Slot = CallbackSlot<AuthCall>;

/// The authorizer every C store is built with: it asks the callback in its slot.
pub(crate) struct SlotAuthorizer {
    slot: Slot,
}

impl SlotAuthorizer {
    pub(crate) fn new() -> Arc<SlotAuthorizer> {
        Arc::new(SlotAuthorizer { slot: Slot::default() })
    }

    /// Replaces the callback; returns once a running invocation of the
    /// previous one returned (unless called from inside it).
    pub(super) fn set(&self, callback: Option<crate::callback_slot::SharedCallback<AuthCall>>) {
        self.slot.set(callback);
    }

    /// Whether a callback (C or built-in) is set.
    pub(super) fn is_set(&self) -> bool {
        self.slot.is_set()
    }

    /// The store is freed: no callback runs any more once this returns.
    pub(crate) fn clear(&self) {
        self.slot.set(None);
    }
}

/// The error of an authorization nobody can do.
pub(super) fn no_authorizer() -> Error {
    Error::auth(
        AuthStep::Authorization,
        "the service refused the request and needs a user to authorize it: log in first \
         (mcps_store_auth_login) or give the store an authorizer (mcps_store_set_authorizer)",
    )
}

impl Authorizer for SlotAuthorizer {
    /// Asked before anything is done: with an empty slot the call fails at
    /// once with the library's error that asks for a login.
    fn is_available(&self) -> bool {
        self.is_set()
    }

    fn authorize(&self, request: &AuthorizationRequest<'_>) -> crate::Result<String> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let waiting = Arc::new(AtomicBool::new(true));
        let call = AuthCall {
            service: to_cstring(request.service.to_owned()),
            url: to_cstring(request.url.to_owned()),
            redirect_uri: to_cstring(request.redirect_uri.to_owned()),
            deadline: request.deadline,
            answer: Mutex::new(Some(Answer { tx, waiting: waiting.clone(), deadline: request.deadline })),
        };
        self.slot.invoke(&call);
        let unclaimed = call.answer.lock().is_some();
        drop(call); // an answer nobody took ends the wait at once
        if unclaimed {
            return Err(no_authorizer());
        }
        let outcome = rx.recv_deadline(request.deadline);
        waiting.store(false, Ordering::Release);
        let fail = |m: String| Error::auth(AuthStep::Authorization, m);
        match outcome {
            Ok(Ok(redirect)) => Ok(redirect),
            Ok(Err(message)) => Err(fail(message)),
            Err(RecvTimeoutError::Timeout) => {
                Err(fail("the authorizer gave no redirect before the deadline".to_owned()))
            }
            Err(RecvTimeoutError::Disconnected) => {
                Err(fail("the authorizer released the authorization without answering".to_owned()))
            }
        }
    }
}

/// One authorization waiting for its answer, handed to the store's
/// authorizer callback (`mcps_authorizer_callback`). Owned by the callback
/// from the moment it is called: it must be given back exactly once, by
/// `mcps_authorization_redirect`, `mcps_authorization_fail` or
/// `mcps_authorization_free`, from any thread, during the callback or later.
/// Not thread-safe: one thread at a time.
pub struct mcps_authorization {
    pub(super) answer: Answer,
}

pub(super) struct AuthorizerTarget {
    pub(super) cb: AuthorizerFn,
    pub(super) userdata: *mut c_void,
}

// SAFETY: the documented contract of `mcps_store_set_authorizer` is that the
// callback and its userdata may be used from any thread the library runs.
unsafe impl Send for AuthorizerTarget {}
// SAFETY: as above; the target is only read.
unsafe impl Sync for AuthorizerTarget {}

impl AuthorizerTarget {
    pub(super) fn call(&self, call: &AuthCall) {
        let Some(answer) = call.answer.lock().take() else { return };
        let left = call.deadline.saturating_duration_since(Instant::now());
        let timeout_ms = u64::try_from(left.as_millis()).unwrap_or(u64::MAX);
        let authorization = super::live::into_raw(Box::new(mcps_authorization { answer }));
        // SAFETY: the caller's contract: `cb` may run on this thread with `userdata`;
        // the strings live until after it returns; `authorization` is the callback's.
        unsafe {
            (self.cb)(
                self.userdata,
                call.service.as_ptr(),
                call.url.as_ptr(),
                call.redirect_uri.as_ptr(),
                timeout_ms,
                authorization,
            )
        };
    }
}

/// The built-in headless authorizer in the slot: answers at once with the redirect.
pub(super) fn headless_call(headless: &HeadlessAuthorizer, call: &AuthCall) {
    let Some(answer) = call.answer.lock().take() else { return };
    let outcome = match (call.service.to_str(), call.url.to_str(), call.redirect_uri.to_str()) {
        (Ok(service), Ok(url), Ok(redirect_uri)) => headless
            .authorize(&AuthorizationRequest { service, url, redirect_uri, deadline: call.deadline })
            .map_err(|e| match e {
                Error::Auth { message, .. } => message,
                other => other.to_string(),
            }),
        _ => Err("the authorization request is not valid UTF-8".to_owned()),
    };
    answer.send(outcome);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn request(deadline: Instant) -> AuthorizationRequest<'static> {
        AuthorizationRequest {
            service: "web",
            url: "http://127.0.0.1:1/authorize?state=s",
            redirect_uri: "http://127.0.0.1:0/callback",
            deadline,
        }
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    fn auth_message(e: Error) -> String {
        match e {
            Error::Auth { step: AuthStep::Authorization, message } => message,
            other => panic!("expected an authorization error, got {other:?}"),
        }
    }

    #[test]
    fn an_empty_slot_is_no_authorizer() {
        let a = SlotAuthorizer::new();
        assert!(!a.is_available());
        let e = a.authorize(&request(soon())).err().map(auth_message);
        assert!(e.is_some_and(|m| m.contains("mcps_store_auth_login")));
    }

    #[test]
    fn answers_arrive_once_and_not_after_the_deadline() {
        let a = SlotAuthorizer::new();
        let kept = Arc::new(Mutex::new(None::<Answer>));
        let k = kept.clone();
        a.set(Some(Arc::new(move |call: &AuthCall| {
            assert_eq!(call.service.to_str().ok(), Some("web"));
            *k.lock() = call.answer.lock().take();
        })));
        // Answered from another thread while the authorizer waits.
        let k = kept.clone();
        let answering = std::thread::spawn(move || {
            loop {
                if let Some(answer) = k.lock().take() {
                    assert!(answer.is_pending());
                    return answer.send(Ok("http://127.0.0.1:0/callback?code=c&state=s".into()));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        assert_eq!(
            a.authorize(&request(soon())).ok().as_deref(),
            Some("http://127.0.0.1:0/callback?code=c&state=s")
        );
        assert!(answering.join().unwrap_or(false));

        // Not answered: the deadline ends the wait; a late answer is refused.
        let started = Instant::now();
        let e = a.authorize(&request(Instant::now() + Duration::from_millis(100))).err().map(auth_message);
        assert!(e.is_some_and(|m| m.contains("deadline")));
        assert!(started.elapsed() < Duration::from_secs(5));
        let late = kept.lock().take();
        assert!(late.is_some_and(|answer| !answer.is_pending() && !answer.send(Ok("x".into()))));
    }

    #[test]
    fn a_dropped_answer_or_a_panic_fails_at_once() {
        let a = SlotAuthorizer::new();
        a.set(Some(Arc::new(|call: &AuthCall| {
            let _answer = call.answer.lock().take();
            panic!("in the callback");
        })));
        let started = Instant::now();
        let e = a.authorize(&request(soon())).err().map(auth_message);
        assert!(e.is_some_and(|m| m.contains("without answering")));
        assert!(started.elapsed() < Duration::from_secs(4));
        a.clear();
        assert!(!a.is_set());
    }
}
