//! One service's credential: the bearer token every request of every session
//! of the service carries, and what happens when the server refuses one.
//!
//! Reading the header is a read lock and a clone. Everything that changes the
//! credential (authorizing, refreshing, stepping up) runs under one lock per
//! service, the flow lock: concurrent refusals wait for the first one to act
//! and then retry with its result, so many 401s at once cause one refresh
//! (single flight). Every wait is bounded by the caller's deadline.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};
use ureq::http::HeaderValue;

use super::authorizer::Authorizer;
use super::challenge::Challenge;
use super::discovery::Discovery;
use super::http::AuthHttp;
use super::jwt::ClientAssertion;
use super::refresh::renew_at;
use super::registration::{Client, ClientKind, ClientSettings};
use super::store::{CredentialKey, StoredCredential, TokenStore};
use super::token::TokenSet;
use crate::config::{AuthMode, DEFAULT_REDIRECT_URI, HttpConfig, PoolConfig, SecretSource};
use crate::error::{AuthStep, Error, Result};
use crate::transport::{AuthHook, Refusal};

/// Authorizations (or refreshes) one request may cause before it fails.
pub(super) const MAX_AUTHORIZATIONS: u32 = 3;
/// After a failed renewal ahead of expiry, the next try waits this long.
const RENEW_RETRY: Duration = Duration::from_secs(10);

/// What a store gives the authorization of its services.
#[derive(Clone)]
pub(crate) struct AuthContext {
    /// Takes users through authorizations (none: a login is needed first).
    pub(crate) authorizer: Option<Arc<dyn Authorizer>>,
    /// Keeps credentials.
    pub(crate) tokens: Arc<dyn TokenStore>,
    /// The default `client_name` for dynamic registration.
    pub(crate) client_name: String,
}

/// The credential requests carry now.
pub(super) struct Current {
    /// `Bearer <token>`, marked sensitive.
    pub(super) header: HeaderValue,
    /// The token and what came with it.
    pub(super) token: TokenSet,
    /// When to renew it ahead of expiry.
    pub(super) renew_at: Option<SystemTime>,
    /// Where it is stored.
    pub(super) key: CredentialKey,
    /// The client it was issued to.
    pub(super) client_id: String,
}

/// What the flows learned, kept under the flow lock.
#[derive(Default)]
pub(super) struct FlowState {
    /// The last discovery.
    pub(super) discovery: Option<Discovery>,
    /// The client, with the issuer it belongs to (never used with another).
    pub(super) client: Option<(String, Client)>,
    /// Every scope requested so far (step-up asks for their union).
    pub(super) scopes: Vec<String>,
    /// The last challenge (a login without a refusal starts from it).
    pub(super) last_challenge: Option<Challenge>,
}

/// The authorization of one HTTP service, shared by its sessions.
pub(crate) struct ServiceAuth {
    pub(super) service: String,
    pub(super) server_url: String,
    pub(super) mode: AuthMode,
    pub(super) settings: ClientSettings,
    pub(super) http: AuthHttp,
    pub(super) authorizer: Option<Arc<dyn Authorizer>>,
    pub(super) tokens: Arc<dyn TokenStore>,
    pub(super) current: RwLock<Option<Arc<Current>>>,
    pub(super) flow: Mutex<FlowState>,
    /// How many fresh authorizations (not refreshes) have completed: a login
    /// that waited for the flow lock while one completed takes its result.
    pub(super) authorized_anew: AtomicU64,
}

impl std::fmt::Debug for ServiceAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAuth")
            .field("service", &self.service)
            .field("mode", &self.mode)
            .field("settings", &self.settings)
            .field("authorized", &self.current.read().is_some())
            .finish()
    }
}

impl ServiceAuth {
    /// The authorization of `service` at `http.url`; `None` when it has none
    /// (`"type": "none"`, or a static `Authorization` header). Reads the
    /// configured secrets now: a missing one is a config error naming its field.
    pub(crate) fn for_service(
        service: &str,
        http: &HttpConfig,
        pool: &PoolConfig,
        context: &AuthContext,
    ) -> Result<Option<Arc<ServiceAuth>>> {
        let config = &http.auth;
        let static_header = http.headers.keys().any(|k| k.eq_ignore_ascii_case("authorization"));
        if config.mode == AuthMode::Disabled || static_header {
            return Ok(None);
        }
        let resolve = |source: &Option<SecretSource>, env_field: &str, file_field: &str, field: &str| {
            let Some(source) = source else { return Ok(None) };
            let field = match source {
                SecretSource::Env(_) => env_field,
                SecretSource::File(_) => file_field,
                _ => field,
            };
            source.resolve().map(Some).map_err(|m| Error::config(Some(service), Some(field), m))
        };
        let client_secret = resolve(
            &config.client_secret,
            "auth.client_secret_env",
            "auth.client_secret",
            "auth.client_secret",
        )?;
        let key_field = match &config.private_key {
            Some(SecretSource::Env(_)) => "auth.private_key_env",
            _ => "auth.private_key_file",
        };
        let assertion = match resolve(&config.private_key, key_field, key_field, "auth.private_key")? {
            Some(pem) => Some(
                ClientAssertion::from_pem(
                    &pem,
                    config.signing_alg.as_deref(),
                    config.client_id.as_deref().unwrap_or(""),
                )
                .map_err(|m| Error::config(Some(service), Some(key_field), m))?,
            ),
            None => None,
        };
        let settings = ClientSettings {
            client_id: config.client_id.clone(),
            client_secret,
            metadata_url: config.client_metadata_url.clone(),
            client_name: config.client_name.clone().unwrap_or_else(|| context.client_name.clone()),
            redirect_uri: config.redirect_uri.clone().unwrap_or_else(|| DEFAULT_REDIRECT_URI.to_owned()),
            scopes: config.scopes.clone(),
            assertion,
        };
        Ok(Some(Arc::new(ServiceAuth {
            service: service.to_owned(),
            server_url: http.url.clone(),
            mode: config.mode,
            settings,
            http: AuthHttp::new(pool),
            authorizer: context.authorizer.clone(),
            tokens: context.tokens.clone(),
            current: RwLock::new(None),
            flow: Mutex::new(FlowState::default()),
            authorized_anew: AtomicU64::new(0),
        })))
    }

    /// Whether `token` can be renewed without a user (a refresh token, or client credentials).
    pub(super) fn renewable(&self, token: &TokenSet) -> bool {
        self.mode == AuthMode::ClientCredentials || token.refresh_token.is_some()
    }

    /// Whether `c` is still the credential in use.
    pub(super) fn is_current(&self, c: &Arc<Current>) -> bool {
        self.current.read().as_ref().is_some_and(|x| Arc::ptr_eq(x, c))
    }

    /// Makes `token` the credential of every request and stores it.
    pub(super) fn install(&self, token: TokenSet, key: CredentialKey, client: &Client) -> Result<()> {
        let mut header = HeaderValue::from_str(&format!("Bearer {}", token.access_token)).map_err(|_| {
            Error::auth(AuthStep::Token, "the access token has characters a header cannot carry")
        })?;
        header.set_sensitive(true);
        let registered = client.kind == ClientKind::Registered;
        let stored = StoredCredential {
            server_url: self.server_url.clone(),
            client_id: client.id.clone(),
            client_secret: if registered { client.secret.clone() } else { None },
            auth_method: registered.then(|| client.method.name().to_owned()),
            access_token: Some(token.access_token.clone()),
            refresh_token: token.refresh_token.clone(),
            expires_at: token.expires_at.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs()),
            scope: token.scope.clone(),
        };
        if let Err(e) = self.tokens.save(&key, &stored) {
            log::warn!(target: "mcpstore::auth", "[{}] could not store the credential: {e}", self.service);
        }
        log::info!(target: "mcpstore::auth", "[{}] authorized by {} (scope: {})", self.service, key.issuer, token.scope.as_deref().unwrap_or("-"));
        let current =
            Current { header, renew_at: renew_at(&token), token, key, client_id: client.id.clone() };
        *self.current.write() = Some(Arc::new(current));
        Ok(())
    }

    /// Stops using `c` (it was refused and cannot be renewed).
    pub(super) fn forget(&self, c: &Arc<Current>) {
        let mut current = self.current.write();
        if current.as_ref().is_some_and(|x| Arc::ptr_eq(x, c)) {
            *current = None;
        }
    }

    /// After a failed renewal ahead of expiry: keep the token, try again a little later.
    fn postpone_renewal(&self, c: &Arc<Current>) {
        let mut current = self.current.write();
        if current.as_ref().is_some_and(|x| Arc::ptr_eq(x, c)) {
            let later = Current {
                header: c.header.clone(),
                token: c.token.clone(),
                renew_at: Some(SystemTime::now() + RENEW_RETRY),
                key: c.key.clone(),
                client_id: c.client_id.clone(),
            };
            *current = Some(Arc::new(later));
        }
    }
}

impl AuthHook for ServiceAuth {
    fn header(&self, deadline: Instant) -> Option<HeaderValue> {
        let current = self.current.read().clone()?;
        let due = current.renew_at.is_some_and(|at| SystemTime::now() >= at);
        if due && self.renewable(&current.token) {
            // Whoever holds the flow lock is renewing already: use the token meanwhile.
            if let Some(mut flow) = self.flow.try_lock()
                && self.is_current(&current)
                && let Err(e) = self.renew(&mut flow, &current, deadline)
            {
                log::warn!(target: "mcpstore::auth", "[{}] renewing the access token failed: {e}", self.service);
                self.postpone_renewal(&current);
            }
            return self.current.read().as_ref().map(|c| c.header.clone());
        }
        Some(current.header.clone())
    }

    fn claims(&self, status: u16, challenge: Option<&str>) -> bool {
        let parsed = Challenge::parse(challenge);
        match status {
            401 => challenge.is_none() || parsed.bearer,
            403 => parsed.bearer && parsed.insufficient_scope(),
            _ => false,
        }
    }

    fn refused(&self, refusal: &Refusal<'_>, deadline: Instant) -> Result<bool> {
        let challenge = Challenge::parse(refusal.challenge);
        let step = if refusal.status == 403 { AuthStep::Scope } else { AuthStep::Authorization };
        if refusal.attempt > MAX_AUTHORIZATIONS {
            let why = challenge
                .error_description
                .as_deref()
                .or(challenge.error.as_deref())
                .unwrap_or("no reason given");
            return Err(Error::auth(
                step,
                format!(
                    "{} still refuses the request (HTTP {}: {why}) after {MAX_AUTHORIZATIONS} authorizations",
                    self.server_url, refusal.status
                ),
            ));
        }
        let mut flow = self.flow.try_lock_until(deadline).ok_or_else(|| {
            Error::auth(step, "timed out waiting for another authorization of this service to finish")
        })?;
        let refused = self.current.read().clone();
        if refused.as_ref().map(|c| &c.header) != refusal.sent {
            return Ok(true); // another request renewed the credential meanwhile: use it
        }
        flow.last_challenge = Some(challenge.clone());
        if refusal.status == 403 {
            self.step_up(&mut flow, refused, &challenge, deadline)?;
        } else {
            self.recover(&mut flow, refused, &challenge, deadline)?;
        }
        Ok(true)
    }
}
