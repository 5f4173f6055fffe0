//! Where the user agent comes from: the [`Authorizer`] hook takes the user
//! through the authorization URL and hands back the redirect. Two are built
//! in: [`LoopbackAuthorizer`](super::LoopbackAuthorizer) (a browser and a
//! listener on 127.0.0.1) and [`HeadlessAuthorizer`] (no user: GET the URL,
//! read the redirect), for tests, conformance runs and pre-consented flows.

use std::time::Instant;

use super::http::{AuthHttp, endpoint};
use crate::config::PoolConfig;
use crate::error::{AuthStep, Error, Result};

/// One authorization for the user agent to complete.
#[derive(Debug, Clone, Copy)]
pub struct AuthorizationRequest<'a> {
    /// The service being authorized.
    pub service: &'a str,
    /// The URL to open (the authorization endpoint with the request's parameters).
    pub url: &'a str,
    /// Where the authorization server will send the user agent back (what
    /// [`Authorizer::redirect_uri`] returned).
    pub redirect_uri: &'a str,
    /// When the caller stops waiting; an authorizer should give up by then.
    pub deadline: Instant,
}

/// Takes a user agent through an OAuth authorization (URL in, redirect URL out).
///
/// Called on the thread of the call that needs the authorization (or of
/// [`Store::auth_login`](crate::Store::auth_login)), at most once at a time
/// per service.
pub trait Authorizer: Send + Sync {
    /// The redirect URI for the next authorization, given the configured one
    /// (by default [`DEFAULT_REDIRECT_URI`](crate::DEFAULT_REDIRECT_URI)).
    /// The default keeps it; an authorizer that listens on a port of its
    /// choosing puts the port in here.
    fn redirect_uri(&self, configured: &str) -> Result<String> {
        Ok(configured.to_owned())
    }

    /// Whether it can take a user through an authorization now (by default
    /// yes). One that cannot counts as no authorizer: the call fails at
    /// once, before any registration, with the error that asks for a login.
    fn is_available(&self) -> bool {
        true
    }

    /// Completes the authorization at `request.url` and returns the full URL
    /// the authorization server redirected to (it carries `code` and
    /// `state`, or `error`), by `request.deadline`. An [`Error::Auth`] with
    /// [`AuthStep::Authorization`] explains a failure.
    fn authorize(&self, request: &AuthorizationRequest<'_>) -> Result<String>;
}

/// An authorizer without a user: GETs the authorization URL without
/// following redirects and returns the `Location` it answers with.
///
/// It works with authorization servers that redirect at once (consent given
/// beforehand, test servers, the conformance suite); one that shows a login
/// page gives an error saying so.
#[derive(Debug, Clone)]
pub struct HeadlessAuthorizer {
    http: AuthHttp,
}

impl Default for HeadlessAuthorizer {
    fn default() -> Self {
        HeadlessAuthorizer::new()
    }
}

impl HeadlessAuthorizer {
    /// A headless authorizer.
    pub fn new() -> HeadlessAuthorizer {
        HeadlessAuthorizer { http: AuthHttp::new(&PoolConfig::default()) }
    }
}

impl Authorizer for HeadlessAuthorizer {
    fn authorize(&self, request: &AuthorizationRequest<'_>) -> Result<String> {
        let reply = self.http.get(request.url, false, AuthStep::Authorization, request.deadline)?;
        match (reply.status, reply.location) {
            (301 | 302 | 303 | 307 | 308, Some(location)) => Ok(super::url::resolve(request.url, &location)),
            (status, _) => Err(Error::auth(
                AuthStep::Authorization,
                format!(
                    "{} answered HTTP {status} instead of redirecting; a headless authorization needs a \
                     server that redirects without asking the user",
                    endpoint(request.url)
                ),
            )),
        }
    }
}
