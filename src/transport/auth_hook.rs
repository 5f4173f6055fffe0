//! What the HTTP transports ask of the authorization layer above them.
//!
//! The transports know nothing of OAuth: they put the header [`AuthHook::header`]
//! gives on every request and, when the server refuses one with 401 or 403,
//! hand the refusal to [`AuthHook::refused`], which may authorize, refresh or
//! step up, and say to send the request again. A refused request never ran,
//! so sending it again is always safe. The `auth` module implements the hook;
//! the session layer passes it down as a value (DESIGN.md §2).

use std::time::Instant;

use ureq::http::{HeaderValue, Response};

use crate::error::Result;

/// A safety cap on how often one request is sent again after a refusal; the
/// hook's own limit (3 authorizations) ends the loop before it.
const MAX_ROUNDS: u32 = 6;

/// An authorization layer for one HTTP service, shared by all its sessions.
pub(crate) trait AuthHook: Send + Sync {
    /// The `Authorization` header value for a request about to be sent, if
    /// there is a credential (marked sensitive). May renew a credential about
    /// to expire first, within `deadline`.
    fn header(&self, deadline: Instant) -> Option<HeaderValue>;

    /// Whether a refusal with this status (401 or 403) and `WWW-Authenticate`
    /// challenge is for the authorization layer (a 403 for another reason is not).
    fn claims(&self, status: u16, challenge: Option<&str>) -> bool;

    /// The server refused a request in a way [`AuthHook::claims`]. Returns
    /// `Ok(true)` when a new credential is ready and the request should be
    /// sent again, `Ok(false)` to give the refusal to the caller as it is, an
    /// error when authorization failed. Acts within `deadline`.
    fn refused(&self, refusal: &Refusal<'_>, deadline: Instant) -> Result<bool>;
}

/// One refusal of one request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refusal<'a> {
    /// 401 or 403.
    pub(crate) status: u16,
    /// The `WWW-Authenticate` header, if the server sent one.
    pub(crate) challenge: Option<&'a str>,
    /// The `Authorization` header the refused request carried.
    pub(crate) sent: Option<&'a HeaderValue>,
    /// How many times this request was refused so far (1 for the first).
    pub(crate) attempt: u32,
}

/// Sends a request with the current credential (`send` builds and sends it
/// with the header given); on a 401 or 403 lets `auth` act and sends it
/// again, all within `deadline`. Returns the last response (the caller checks
/// its status as usual).
pub(crate) fn send_authorized(
    auth: Option<&dyn AuthHook>,
    deadline: Instant,
    mut send: impl FnMut(Option<&HeaderValue>) -> Result<Response<ureq::Body>>,
) -> Result<Response<ureq::Body>> {
    let Some(auth) = auth else { return send(None) };
    let mut attempt = 0;
    loop {
        let header = auth.header(deadline);
        let mut response = send(header.as_ref())?;
        let status = response.status().as_u16();
        if !matches!(status, 401 | 403) || attempt >= MAX_ROUNDS {
            return Ok(response);
        }
        let challenge =
            response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_owned);
        if !auth.claims(status, challenge.as_deref()) {
            return Ok(response);
        }
        attempt += 1;
        // Read the short refusal body first, so the connection goes back to
        // the pool before authorizing (which may take long) instead of going stale.
        let _ = std::io::copy(
            &mut std::io::Read::take(response.body_mut().as_reader(), 64 * 1024),
            &mut std::io::sink(),
        );
        let refusal = Refusal { status, challenge: challenge.as_deref(), sent: header.as_ref(), attempt };
        if !auth.refused(&refusal, deadline)? {
            return Ok(response);
        }
    }
}
