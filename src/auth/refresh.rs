//! Refreshing access tokens (RFC 6749 §6): when one is about to expire, and
//! when the server refuses one. The caller makes sure only one refresh of a
//! service runs at a time (single flight).

use std::time::{Duration, Instant, SystemTime};

use super::token::{TokenEndpoint, TokenSet};
use crate::error::{AuthStep, Result};

/// The longest a token is renewed ahead of its expiry.
const MAX_MARGIN: Duration = Duration::from_secs(60);
/// The shortest (a token living a few seconds is still renewed in time).
const MIN_MARGIN: Duration = Duration::from_secs(2);

/// When `token` should be renewed: a tenth of its lifetime before it expires,
/// between 2 s and 60 s ahead; `None` when it does not expire.
pub(crate) fn renew_at(token: &TokenSet) -> Option<SystemTime> {
    let expires = token.expires_at?;
    let lifetime = expires.duration_since(token.obtained_at).unwrap_or_default();
    let margin = (lifetime / 10).clamp(MIN_MARGIN, MAX_MARGIN).min(lifetime);
    Some(expires - margin)
}

/// Exchanges `old`'s refresh token for a new access token for `resource`.
/// A response without a new refresh token keeps the old one (RFC 6749 §6),
/// one without a scope keeps the old scope.
pub(crate) fn refresh(
    endpoint: &TokenEndpoint<'_>,
    old: &TokenSet,
    resource: &str,
    deadline: Instant,
) -> Result<TokenSet> {
    let Some(refresh_token) = old.refresh_token.as_deref() else {
        return Err(crate::error::Error::auth(AuthStep::Refresh, "there is no refresh token"));
    };
    let grant = [("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("resource", resource)];
    let mut token = endpoint.request(&grant, old.scope.as_deref(), AuthStep::Refresh, deadline)?;
    if token.refresh_token.is_none() {
        token.refresh_token = old.refresh_token.clone();
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(lifetime: Option<u64>) -> TokenSet {
        let now = SystemTime::now();
        TokenSet {
            access_token: "a".into(),
            refresh_token: None,
            expires_at: lifetime.map(|s| now + Duration::from_secs(s)),
            obtained_at: now,
            scope: None,
        }
    }

    #[test]
    fn renewal_margins() {
        let t = token(Some(3600));
        assert_eq!(t.expires_at.unwrap().duration_since(renew_at(&t).unwrap()).unwrap(), MAX_MARGIN);
        let t = token(Some(100));
        assert_eq!(
            t.expires_at.unwrap().duration_since(renew_at(&t).unwrap()).unwrap(),
            Duration::from_secs(10)
        );
        let t = token(Some(5));
        assert_eq!(t.expires_at.unwrap().duration_since(renew_at(&t).unwrap()).unwrap(), MIN_MARGIN);
        let t = token(Some(1));
        assert_eq!(renew_at(&t), Some(t.obtained_at));
        assert_eq!(renew_at(&token(None)), None);
    }
}
