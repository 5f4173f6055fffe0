//! OAuth from C, the exported functions: setting the store's authorizer (a
//! C callback or the built-in headless one), answering an authorization,
//! logging a service in and out, and its authorization status. The slot
//! authorizer they fill lives in `auth.rs`.

use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

use super::args::{opt_str_arg, out_arg, str_arg, write_out};
use super::auth::{AuthCall, AuthorizerTarget, headless_call, mcps_authorization, mcps_authorizer_callback};
use super::boundary::{FfiResult, boundary, guard};
use super::error::{Failure, mcps_error};
use super::store::{mcps_store, store_arg};
use super::strings::to_owned_c_string;
use crate::auth::{Authorizer, HeadlessAuthorizer, LoopbackAuthorizer};
use crate::error::ErrorCode;
use crate::store::LOGIN_TIMEOUT;

/// Sets the store's authorizer: the function that takes a user agent
/// through an OAuth authorization (URL in, redirect URL out) when a service
/// with OAuth (an `mcpServers` entry with `"url"`, its `"auth"` entry
/// optional: the README's "Authorization (OAuth 2.1)") needs one: at `mcps_store_auth_login`, or when a call is refused and no
/// stored token or refresh serves. NULL `cb` removes it; then calls that need
/// a user fail with `MCPS_ERR_AUTH` (log in first), and
/// `mcps_store_auth_login` uses the built-in loopback authorizer.
///
/// The callback runs as `cb(userdata, service, url, redirect_uri,
/// timeout_ms, authorization)` on the thread that needs the authorization:
/// the one calling `mcps_store_auth_login` or a synchronous call, a library
/// worker for background calls and batches, or the store's maintenance thread
/// while it connects a service. Invocations run one at a time per store, at
/// most one per service. The user agent goes to `url` (lent for the call, like
/// `service` and `redirect_uri`, the configured `auth.redirect_uri`, by
/// default `http://127.0.0.1:0/callback`); the callback answers with the full
/// URL the authorization server redirected to (`redirect_uri` with `code`
/// and `state`) by `mcps_authorization_redirect`, or fails it, now or later
/// from any thread, within `timeout_ms`; the library then checks the
/// redirect (`state`, issuer) and gets the token. The waiting thread is
/// blocked meanwhile; an answer after `timeout_ms` is refused (the login or
/// call fails with `MCPS_ERR_AUTH`), and a callback that waits for the user
/// should return at once and answer from elsewhere (a running callback holds
/// up the store's other authorizations). The callback must not call
/// `mcps_store_auth_login` or tools of OAuth services of the same store (it
/// would wait for itself).
///
/// Replacing or removing the authorizer returns only after a running
/// invocation of the previous one has returned (an answer it still owes may
/// come later), so the caller may free the previous `userdata` then; called
/// from inside the callback it returns at once. `mcps_store_free` also waits
/// for a running callback. `userdata` must stay valid until the authorizer
/// is replaced or removed, or the store is freed. Threads: any.
///
/// # Safety
/// `s` is a live store; `cb`, if not NULL, is safe to call from any thread
/// with `userdata`; `err` is NULL or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_set_authorizer(
    s: *const mcps_store,
    cb: mcps_authorizer_callback,
    userdata: *mut c_void,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        // SAFETY: `s` is NULL or a live store (contract).
        let s = unsafe { super::args::handle_arg(s, "store") }?;
        let callback = cb.map(|cb| {
            let target = AuthorizerTarget { cb, userdata };
            Arc::new(move |call: &AuthCall| target.call(call)) as _
        });
        s.authorizer.set(callback);
        Ok(())
    })
}

/// Makes the built-in headless authorizer the store's (replacing a C
/// authorizer as `mcps_store_set_authorizer` does): it GETs the
/// authorization URL without following redirects and answers with the
/// `Location` it gets. For authorization servers that redirect without
/// asking the user (consent given beforehand, test servers); one that shows
/// a login page gives `MCPS_ERR_AUTH`. Threads: any.
///
/// # Safety
/// `s` is a live store; `err` is NULL or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_use_headless_authorizer(
    s: *const mcps_store,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        // SAFETY: `s` is NULL or a live store (contract).
        let s = unsafe { super::args::handle_arg(s, "store") }?;
        let headless = HeadlessAuthorizer::new();
        s.authorizer.set(Some(Arc::new(move |call: &AuthCall| headless_call(&headless, call))));
        Ok(())
    })
}

/// Takes the authorization back from C.
///
/// # Safety
/// `a` is NULL or a live authorization, not used after this.
unsafe fn take(a: *mut mcps_authorization) -> FfiResult<Box<mcps_authorization>> {
    if a.is_null() {
        return Err(Failure::invalid("authorization is NULL"));
    }
    // SAFETY: a live authorization was entered by `live::into_raw`; anything else is refused unread.
    unsafe { super::live::take(a) }
        .ok_or_else(|| Failure::invalid("authorization is not a live authorization (given back already?)"))
}

/// The failure of an answer that came too late.
fn answered_late() -> Failure {
    Failure::new(
        ErrorCode::Timeout,
        "nobody waits for this authorization any more: its deadline passed (the login or call failed)",
    )
}

/// Answers the authorization with the URL the authorization server
/// redirected the user agent to (`redirect_uri?code=...&state=...`, or with
/// `error=...`), and frees `authorization` (whatever the status, except for
/// `authorization == NULL`). The library checks it (endpoint, `state`,
/// issuer) and exchanges the code; a bad redirect fails the login or call
/// with `MCPS_ERR_AUTH`, not this function.
///
/// Returns `MCPS_OK` when the answer was delivered; `MCPS_ERR_INVALID_ARGUMENT`
/// when `redirect_url` is NULL or not UTF-8 (the authorization fails);
/// `MCPS_ERR_TIMEOUT` when nobody waits any more (its `timeout_ms` passed).
/// Threads: any.
///
/// # Safety
/// `authorization` is NULL or a live authorization that is not used after
/// this call; `redirect_url` is NULL or a NUL-terminated string; `err` is
/// NULL or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_authorization_redirect(
    authorization: *mut mcps_authorization,
    redirect_url: *const c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        // SAFETY: forwarded from this function's contract.
        let a = unsafe { take(authorization) }?;
        // SAFETY: `redirect_url` is NULL or NUL-terminated (contract).
        match unsafe { str_arg(redirect_url, "redirect_url") } {
            Ok(url) => a.answer.send(Ok(url.to_owned())).then_some(()).ok_or_else(answered_late),
            Err(failure) => {
                match a.answer.send(Err("the authorizer's redirect URL is NULL or not UTF-8".into())) {
                    true => Err(failure),
                    false => Err(answered_late()),
                }
            }
        }
    })
}

/// Fails the authorization (the user refused, the browser could not be
/// opened, ...): the login or call that waits for it fails with
/// `MCPS_ERR_AUTH` and `message` (NULL: a generic one). Frees
/// `authorization` (whatever the status, except for `authorization == NULL`).
///
/// Returns `MCPS_OK` when the failure was delivered;
/// `MCPS_ERR_INVALID_ARGUMENT` when `message` is not UTF-8 (a generic
/// message was delivered); `MCPS_ERR_TIMEOUT` when nobody waits any more.
/// Threads: any.
///
/// # Safety
/// `authorization` is NULL or a live authorization that is not used after
/// this call; `message` is NULL or a NUL-terminated string; `err` is NULL or
/// points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_authorization_fail(
    authorization: *mut mcps_authorization,
    message: *const c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        const GENERIC: &str = "the authorizer failed the authorization";
        // SAFETY: forwarded from this function's contract.
        let a = unsafe { take(authorization) }?;
        // SAFETY: `message` is NULL or NUL-terminated (contract).
        let (text, failure) = match unsafe { opt_str_arg(message, "message") } {
            Ok(text) => (text.unwrap_or(GENERIC), None),
            Err(f) => (GENERIC, Some(f)),
        };
        if !a.answer.send(Err(format!("the authorizer failed: {text}"))) {
            return Err(answered_late());
        }
        failure.map_or(Ok(()), Err)
    })
}

/// Whether the library still waits for this authorization's answer: false
/// once its `timeout_ms` passed (answering now gives `MCPS_ERR_TIMEOUT`).
/// False for NULL. Ownership: borrows `authorization`. Threads: any.
///
/// # Safety
/// `authorization` is NULL or a live authorization.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_authorization_is_pending(authorization: *const mcps_authorization) -> bool {
    guard(false, || {
        // SAFETY: `authorization` is NULL or a live authorization (contract).
        unsafe { authorization.as_ref() }.is_some_and(|a| a.answer.is_pending())
    })
}

/// Frees an authorization without answering: one still waited for fails
/// (`MCPS_ERR_AUTH`) at once. `mcps_authorization_free(NULL)` does nothing.
///
/// A second free of the same handle (or a pointer that is no live authorization)
/// is detected and does nothing (docs/c-api.md, "Freeing twice").
/// Ownership: takes `authorization`. Threads: any, but only once per authorization.
///
/// # Safety
/// `authorization` is NULL or a live authorization that is not used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_authorization_free(authorization: *mut mcps_authorization) {
    guard((), || {
        // SAFETY: forwarded from this function's contract.
        drop(unsafe { take(authorization) });
    });
}

/// Writes the status JSON to an optional `out_json`.
///
/// # Safety
/// `out_json` is NULL or points to writable memory.
unsafe fn status_out(out_json: *mut *mut c_char, status: &crate::AuthStatus) {
    if !out_json.is_null() {
        // SAFETY: not NULL, and writable by the caller's contract.
        unsafe { write_out(out_json, to_owned_c_string(status.to_json().to_string())) };
    }
}

/// Authorizes `service` anew (an HTTP service with OAuth: an `mcpServers`
/// entry with `"url"` and no static `Authorization` header, its `"auth"`
/// entry optional) through the store's authorizer (`mcps_store_set_authorizer`,
/// `mcps_store_use_headless_authorizer`), else the built-in loopback one (it
/// prints the authorization URL on stderr, opens a browser where it can and
/// waits for the redirect on 127.0.0.1), whatever token is stored. For
/// `"type": "client_credentials"` it gets a token without a user. Then the
/// service connects, if it had failed for want of a login.
///
/// Waits up to `timeout_ms` (0: 5 minutes) for the whole login. On success
/// writes the new status (as `mcps_store_auth_status` describes it) to
/// `*out_json` unless `out_json` is NULL; the caller frees it with
/// `mcps_string_free`. Fails with `MCPS_ERR_SERVICE_NOT_FOUND` for an unknown
/// service, `MCPS_ERR_CONFIG` for a service without OAuth (stdio, `"type":
/// "none"`, a static `Authorization` header), `MCPS_ERR_AUTH` when a step of
/// the authorization fails (the message names it). Blocks the calling
/// thread. Threads: any; not from inside the authorizer callback.
///
/// # Safety
/// `s` is a live store; `service` is a NUL-terminated string (NULL is
/// refused); `out_json` is NULL or points to writable memory; `err` is NULL
/// or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_auth_login(
    s: *const mcps_store,
    service: *const c_char,
    timeout_ms: u64,
    out_json: *mut *mut c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        // SAFETY: `s` is NULL or a live store (contract).
        let handle = unsafe { super::args::handle_arg(s, "store") }?;
        // SAFETY: `service` is NULL or NUL-terminated (contract).
        let service = unsafe { str_arg(service, "service") }?;
        let timeout = if timeout_ms == 0 { LOGIN_TIMEOUT } else { Duration::from_millis(timeout_ms) };
        let authorizer: Arc<dyn Authorizer> = if handle.authorizer.is_set() {
            handle.authorizer.clone()
        } else {
            Arc::new(LoopbackAuthorizer::new())
        };
        let status = handle.store.auth_login_with(service, Some(authorizer), timeout)?;
        // SAFETY: `out_json` is NULL or writable (contract).
        unsafe { status_out(out_json, &status) };
        Ok(())
    })
}

/// Forgets `service`'s OAuth credential, in memory and in the token store
/// (the credentials file, `mcpstore/credentials.json` in the user's
/// configuration directory); its sessions authorize again when the server
/// next refuses them. A service without OAuth has nothing to forget
/// (`MCPS_OK`); an unknown one gives `MCPS_ERR_SERVICE_NOT_FOUND`. Threads: any.
///
/// # Safety
/// `s` is a live store; `service` is a NUL-terminated string (NULL is
/// refused); `err` is NULL or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_auth_logout(
    s: *const mcps_store,
    service: *const c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        // SAFETY: pointers are NULL or valid (contract); NULL is refused.
        let (store, service) = unsafe { (store_arg(s)?, str_arg(service, "service")?) };
        store.auth_logout(service)?;
        Ok(())
    })
}

/// `service`'s authorization now, without network and without secrets, as
/// a JSON object: `{"service", "mode": "oauth" | "client_credentials" |
/// "none", "authorized": bool, "issuer": string | null, "resource": string |
/// null, "client_id": string | null, "scopes": [string], "expires_at": unix
/// seconds | null, "renewable": bool}` (`mode` `"none"` for a service without
/// OAuth; `renewable`: a refresh token or client credentials renew it without
/// a user). No token or secret is ever part of it.
///
/// On success writes a new string to `*out_json`; the caller frees it with
/// `mcps_string_free`. An unknown service gives `MCPS_ERR_SERVICE_NOT_FOUND`.
/// Threads: any.
///
/// # Safety
/// `s` is a live store; `service` is a NUL-terminated string (NULL is
/// refused); `out_json` points to writable memory; `err` is NULL or points
/// to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_auth_status(
    s: *const mcps_store,
    service: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || {
        out_arg(out_json, "out_json")?;
        // SAFETY: pointers are NULL or valid (contract); NULL is refused.
        let (store, service) = unsafe { (store_arg(s)?, str_arg(service, "service")?) };
        let status = store.auth_status(service)?;
        // SAFETY: `out_json` was checked to be non-NULL and is writable (contract).
        unsafe { status_out(out_json, &status) };
        Ok(())
    })
}
