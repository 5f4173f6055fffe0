//! Machine to machine: the `client_credentials` grant (RFC 6749 §4.4), with
//! the client authenticated by its secret (`client_secret_basic` /
//! `client_secret_post`) or a signed JWT (`private_key_jwt`, RFC 7523).
//! There is no user and no refresh token: an expired token is replaced by a new grant.

use std::time::Instant;

use super::token::{TokenEndpoint, TokenSet};
use crate::error::{AuthStep, Result};

/// Asks for a token for `resource` with `scope` (none: the server's default).
pub(crate) fn request(
    endpoint: &TokenEndpoint<'_>,
    scope: Option<&str>,
    resource: &str,
    deadline: Instant,
) -> Result<TokenSet> {
    let mut grant = vec![("grant_type", "client_credentials"), ("resource", resource)];
    if let Some(scope) = scope {
        grant.push(("scope", scope));
    }
    endpoint.request(&grant, scope, AuthStep::Token, deadline)
}
