//! The authorization code grant with PKCE (OAuth 2.1 §4.1, RFC 7636): the
//! authorization request through the [`Authorizer`], the checks on its
//! redirect (endpoint, RFC 9207 `iss`, `state`, `error`), and the code
//! exchanged for tokens. `resource` (RFC 8707) goes in both requests.

use std::time::Instant;

use super::authorizer::{AuthorizationRequest, Authorizer};
use super::discovery::{Discovery, Source};
use super::http::endpoint;
use super::pkce::{Pkce, random_token};
use super::token::{TokenEndpoint, TokenSet};
use super::url::{query_params, same_endpoint, with_query};
use crate::error::{AuthStep, Error, Result};

/// One authorization code flow for one service.
pub(crate) struct CodeFlow<'a> {
    /// The service, for the authorizer.
    pub(crate) service: &'a str,
    /// What discovery found.
    pub(crate) discovery: &'a Discovery,
    /// The token endpoint, with the client.
    pub(crate) tokens: TokenEndpoint<'a>,
    /// Takes the user agent through the authorization.
    pub(crate) authorizer: &'a dyn Authorizer,
    /// The redirect URI (the authorizer's).
    pub(crate) redirect_uri: &'a str,
}

impl CodeFlow<'_> {
    /// Runs the flow for `scope` (none: the server's default) by `deadline`.
    pub(crate) fn run(&self, scope: Option<&str>, deadline: Instant) -> Result<TokenSet> {
        let server = &self.discovery.server;
        let authorization_endpoint = server.authorization_endpoint.as_deref().ok_or_else(|| {
            Error::auth(
                AuthStep::ServerMetadata,
                format!("authorization server {} has no authorization_endpoint", server.issuer),
            )
        })?;
        // Without metadata (a 2025-03-26 server) PKCE support cannot be read: it was mandatory then.
        if self.discovery.source != Source::LegacyDefaults && !server.supports_s256() {
            return Err(Error::auth(
                AuthStep::ServerMetadata,
                format!(
                    "authorization server {} does not support PKCE with S256 (code_challenge_methods_supported: {}); refusing to authorize without it",
                    server.issuer,
                    server
                        .code_challenge_methods
                        .as_ref()
                        .map_or_else(|| "absent".to_owned(), |m| format!("{m:?}"))
                ),
            ));
        }
        let pkce = Pkce::new()?;
        let state = random_token(24)?;
        let resource = self.discovery.resource.as_str();
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", self.tokens.client.id.as_str()),
            ("redirect_uri", self.redirect_uri),
            ("code_challenge", pkce.challenge()),
            ("code_challenge_method", "S256"),
            ("state", state.as_str()),
        ];
        if let Some(scope) = scope {
            params.push(("scope", scope));
        }
        params.push(("resource", resource));
        let url = with_query(authorization_endpoint, &params);
        let request = AuthorizationRequest {
            service: self.service,
            url: &url,
            redirect_uri: self.redirect_uri,
            deadline,
        };
        let redirect = self.authorizer.authorize(&request)?;
        let code = self.code_from(&redirect, &state)?;
        let grant = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", self.redirect_uri),
            ("code_verifier", pkce.verifier()),
            ("resource", resource),
        ];
        self.tokens.request(&grant, scope, AuthStep::Token, deadline)
    }

    /// The code of an authorization response, once it is known to answer this request.
    fn code_from(&self, redirect: &str, state: &str) -> Result<String> {
        let fail = |m: String| Error::auth(AuthStep::Authorization, m);
        if !same_endpoint(redirect, self.redirect_uri) {
            return Err(fail(format!(
                "the authorization came back to {}, not to the redirect URI {}",
                endpoint(redirect),
                self.redirect_uri
            )));
        }
        let params = query_params(redirect);
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        // RFC 9207: before anything else in the response is believed.
        let issuer = &self.discovery.server.issuer;
        match get("iss") {
            Some(iss) if iss != issuer => {
                return Err(fail(format!(
                    "the authorization response comes from issuer {iss}, not {issuer} (mix-up); refusing it"
                )));
            }
            None if self.discovery.server.iss_parameter => {
                return Err(fail(format!(
                    "the authorization response has no iss, which {issuer} promises (RFC 9207); refusing it"
                )));
            }
            _ => {}
        }
        if get("state") != Some(state) {
            return Err(fail(
                "the authorization response's state does not match the request (a forged or stale redirect); refusing its code"
                    .into(),
            ));
        }
        if let Some(error) = get("error") {
            return Err(match get("error_description") {
                Some(d) => fail(format!("the authorization server refused: {error}: {d}")),
                None => fail(format!("the authorization server refused: {error}")),
            });
        }
        match get("code") {
            Some(code) if !code.is_empty() => Ok(code.to_owned()),
            _ => Err(fail("the authorization response has no code".into())),
        }
    }
}
