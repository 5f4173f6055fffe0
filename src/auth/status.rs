//! What the user asks of a service's authorization: log in, log out, status.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::authorizer::Authorizer;
use super::challenge::Challenge;
use super::credential::ServiceAuth;
use super::obtain::Reuse;
use crate::config::AuthMode;
use crate::error::{AuthStep, Error, Result};

/// A service's authorization as it is now. It holds no token and no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthStatus {
    /// The service.
    pub service: String,
    /// `"oauth"`, `"client_credentials"`, or `"none"` (no OAuth: a stdio
    /// service, `"type": "none"`, or a static `Authorization` header).
    pub mode: &'static str,
    /// Whether a valid access token is held (in memory or in the token store).
    pub authorized: bool,
    /// The authorization server's issuer, once known.
    pub issuer: Option<String>,
    /// The protected resource the token is for.
    pub resource: Option<String>,
    /// The client id used (public information).
    pub client_id: Option<String>,
    /// The token's scopes.
    pub scopes: Vec<String>,
    /// When the access token expires, in seconds since the Unix epoch.
    pub expires_at: Option<u64>,
    /// Whether it can be renewed without a user (a refresh token, or client credentials).
    pub renewable: bool,
}

impl AuthStatus {
    /// The status of a service without OAuth.
    pub(crate) fn none(service: &str) -> AuthStatus {
        AuthStatus {
            service: service.to_owned(),
            mode: "none",
            authorized: false,
            issuer: None,
            resource: None,
            client_id: None,
            scopes: Vec::new(),
            expires_at: None,
            renewable: false,
        }
    }

    /// The status as JSON (for the C ABI and the CLI).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl ServiceAuth {
    /// The status, from memory or else from the token store (no network).
    pub(crate) fn status(&self) -> AuthStatus {
        let mut status = AuthStatus::none(&self.service);
        status.mode = match self.mode {
            AuthMode::ClientCredentials => "client_credentials",
            _ => "oauth",
        };
        if let Some(c) = self.current.read().clone() {
            status.authorized = !c.token.expired(Duration::ZERO);
            status.issuer = Some(c.key.issuer.clone());
            status.resource = Some(c.key.resource.clone());
            status.client_id = Some(c.client_id.clone());
            status.scopes = c.token.scopes();
            status.expires_at = c.token.expires_at.map(unix);
            status.renewable = self.renewable(&c.token);
            return status;
        }
        let label = self.settings.label();
        let stored = match self.tokens.list() {
            Ok(all) => all.into_iter().filter(|(k, c)| c.server_url == self.server_url && k.client == label),
            Err(e) => {
                log::warn!(target: "mcpstore::auth", "[{}] {e}", self.service);
                return status;
            }
        };
        let now = unix(SystemTime::now());
        if let Some((key, c)) = stored.max_by_key(|(_, c)| c.expires_at.unwrap_or(u64::MAX)) {
            status.authorized = c.access_token.is_some() && c.expires_at.is_none_or(|t| t > now);
            status.issuer = Some(key.issuer);
            status.resource = Some(key.resource);
            status.client_id = Some(c.client_id).filter(|s| !s.is_empty());
            status.scopes = c.scope.as_deref().map(super::challenge::split_scopes).unwrap_or_default();
            status.expires_at = c.expires_at;
            status.renewable = self.mode == AuthMode::ClientCredentials || c.refresh_token.is_some();
        }
        status
    }

    /// Authorizes anew through `authorizer` (a user login; client
    /// credentials need none), by `deadline`, whatever is stored.
    ///
    /// An authorization that completes while the login waits for the flow
    /// lock (one a call or the pool's warm-up started, through the store's
    /// authorizer) is the login's result: the user is not asked twice in a
    /// row. A login meant to switch accounts is asked for when none is under way.
    pub(crate) fn login(&self, authorizer: &dyn Authorizer, deadline: Instant) -> Result<AuthStatus> {
        let before = self.authorized_anew.load(Ordering::Acquire);
        let mut flow = self.flow.try_lock_until(deadline).ok_or_else(|| {
            Error::auth(
                AuthStep::Authorization,
                "timed out waiting for another authorization of this service",
            )
        })?;
        if self.authorized_anew.load(Ordering::Acquire) != before && self.current.read().is_some() {
            drop(flow);
            return Ok(self.status());
        }
        // The server's own challenge says where its metadata is and which scopes it wants.
        let challenge = match &flow.last_challenge {
            Some(c) => c.clone(),
            None => match self.http.probe(&self.server_url, deadline) {
                Ok(header) => Challenge::parse(header.as_deref().filter(|h| !h.is_empty())),
                Err(e) => {
                    log::debug!(target: "mcpstore::auth", "[{}] probing for a challenge: {e}", self.service);
                    Challenge::default()
                }
            },
        };
        self.obtain(&mut flow, &challenge, None, Reuse::Nothing, Some(authorizer), deadline)?;
        drop(flow);
        Ok(self.status())
    }

    /// Forgets the credential, in memory and in the token store (every
    /// record of this server and client). The next refusal authorizes anew.
    pub(crate) fn logout(&self) -> Result<()> {
        *self.current.write() = None;
        if let Some(mut flow) = self.flow.try_lock_for(Duration::from_secs(5)) {
            flow.scopes.clear();
            flow.client = None;
        }
        let label = self.settings.label();
        for (key, c) in self.tokens.list()? {
            if c.server_url == self.server_url && key.client == label {
                self.tokens.remove(&key)?;
            }
        }
        Ok(())
    }
}
