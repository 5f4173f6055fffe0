//! Getting a credential, under the flow lock: renewing the one refused,
//! adopting a stored one, or authorizing afresh (authorization code through
//! the authorizer, or client credentials), and stepping up to more scopes.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::authorizer::Authorizer;
use super::challenge::Challenge;
use super::client_credentials;
use super::credential::{Current, FlowState, ServiceAuth};
use super::discovery::{Discovery, discover};
use super::flow::CodeFlow;
use super::refresh::refresh;
use super::registration::{AuthMethod, Client, ClientKind, register};
use super::store::{CredentialKey, StoredCredential};
use super::token::{TokenEndpoint, TokenSet};
use crate::config::AuthMode;
use crate::error::{AuthStep, Error, Result};

/// A stored token is used only if it stays valid at least this long.
const STORED_MARGIN: Duration = Duration::from_secs(5);

/// Whether an authorization may reuse what is stored (a login may not: it
/// is asked for to authorize anew).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reuse {
    /// Stored tokens and their refresh tokens may be used.
    Stored,
    /// A stored access token may be used, not its refresh token (it was just tried).
    StoredAccessOnly,
    /// Authorize anew (login, step-up).
    Nothing,
}

impl ServiceAuth {
    /// After a 401: renew the refused credential if it can be, else get another.
    pub(super) fn recover(
        &self,
        flow: &mut FlowState,
        refused: Option<Arc<Current>>,
        challenge: &Challenge,
        deadline: Instant,
    ) -> Result<()> {
        let mut reuse = Reuse::Stored;
        if let Some(current) = &refused {
            if self.renewable(&current.token) {
                match self.renew(flow, current, deadline) {
                    Ok(()) => return Ok(()),
                    Err(e) if Instant::now() >= deadline => return Err(e),
                    Err(e) => {
                        log::info!(target: "mcpstore::auth", "[{}] {e}; authorizing again", self.service);
                        reuse = Reuse::StoredAccessOnly;
                    }
                }
            }
            self.forget(current);
        }
        let refused_token = refused.as_ref().map(|c| c.token.access_token.as_str());
        self.obtain(flow, challenge, refused_token, reuse, None, deadline)
    }

    /// Renews `current` without a user: its refresh token, or a new client credentials grant.
    pub(super) fn renew(&self, flow: &mut FlowState, current: &Current, deadline: Instant) -> Result<()> {
        let (Some(discovery), Some((_, client))) = (&flow.discovery, &flow.client) else {
            return Err(Error::auth(AuthStep::Refresh, "the authorization server is not known yet"));
        };
        let endpoint = self.token_endpoint(discovery, client);
        let token = if self.mode == AuthMode::ClientCredentials {
            client_credentials::request(
                &endpoint,
                current.token.scope.as_deref(),
                &discovery.resource,
                deadline,
            )?
        } else {
            refresh(&endpoint, &current.token, &discovery.resource, deadline)?
        };
        let client = client.clone();
        self.install(token, current.key.clone(), &client)
    }

    /// After a 403 `insufficient_scope`: authorize again for every scope asked
    /// so far and those the server names now (SEP-2350), unless the token
    /// already has them (then authorizing again cannot help).
    pub(super) fn step_up(
        &self,
        flow: &mut FlowState,
        refused: Option<Arc<Current>>,
        challenge: &Challenge,
        deadline: Instant,
    ) -> Result<()> {
        let wanted = challenge.scopes();
        if wanted.is_empty() {
            return Err(Error::auth(
                AuthStep::Scope,
                "the server refused for insufficient scope without naming a scope",
            ));
        }
        if let Some(current) = &refused {
            let held = current.token.scopes();
            if wanted.iter().all(|s| held.contains(s)) {
                return Err(Error::auth(
                    AuthStep::Scope,
                    format!(
                        "the server requires scope '{}', which the access token already has; authorizing again cannot help",
                        wanted.join(" ")
                    ),
                ));
            }
        }
        self.obtain(flow, challenge, None, Reuse::Nothing, None, deadline)
    }

    /// Discovers, then adopts a stored credential or authorizes afresh.
    /// `refused` is a token the server just refused (never adopted again);
    /// `authorizer` overrides the service's (a login).
    pub(super) fn obtain(
        &self,
        flow: &mut FlowState,
        challenge: &Challenge,
        refused: Option<&str>,
        reuse: Reuse,
        authorizer: Option<&dyn Authorizer>,
        deadline: Instant,
    ) -> Result<()> {
        let discovery = discover(&self.http, &self.server_url, challenge, deadline)?;
        let issuer = discovery.server.issuer.clone();
        if flow.client.as_ref().is_some_and(|(i, _)| *i != issuer) {
            flow.client = None; // another authorization server: never reuse a client across servers
        }
        flow.discovery = Some(discovery.clone());
        let key =
            CredentialKey { issuer, resource: discovery.resource.clone(), client: self.settings.label() };
        let stored = self.tokens.load(&key).unwrap_or_else(|e| {
            log::warn!(target: "mcpstore::auth", "[{}] {e}", self.service);
            None
        });
        if let Some(stored) = &stored {
            self.adopt_registration(flow, stored, &key.issuer);
        }
        if reuse != Reuse::Nothing
            && let Some(stored) = &stored
            && let Some(done) = self.adopt_stored(flow, &discovery, &key, stored, refused, reuse, deadline)
        {
            return done;
        }
        let scope = self.select_scopes(flow, challenge, &discovery);
        if self.mode == AuthMode::ClientCredentials {
            let client = self.client_for(flow, &discovery, None, deadline)?;
            let endpoint = self.token_endpoint(&discovery, &client);
            let token =
                client_credentials::request(&endpoint, scope.as_deref(), &discovery.resource, deadline)?;
            return self.install_fresh(token, key, &client);
        }
        let authorizer = authorizer.or(self.authorizer.as_deref()).filter(|a| a.is_available()).ok_or_else(|| {
            // Say what the server answered: a 401 from a server that wants a
            // static key (a forgotten header) reads differently from a login.
            let refusal = match challenge.error.as_deref() {
                Some("insufficient_scope") => "HTTP 403, insufficient scope",
                _ => "HTTP 401 Unauthorized",
            };
            Error::auth(
                AuthStep::Authorization,
                format!(
                    "service '{0}' refused the request ({refusal}) and needs a user to authorize it: log in \
                     first (`mcpstore auth login {0}`, Store::auth_login, mcps_store_auth_login), give the \
                     store an authorizer, or configure the header the server expects",
                    self.service
                ),
            )
        })?;
        let redirect_uri = authorizer.redirect_uri(&self.settings.redirect_uri)?;
        let client = self.client_for(flow, &discovery, Some(&redirect_uri), deadline)?;
        let code_flow = CodeFlow {
            service: &self.service,
            discovery: &discovery,
            tokens: self.token_endpoint(&discovery, &client),
            authorizer,
            redirect_uri: &redirect_uri,
        };
        let token = code_flow.run(scope.as_deref(), deadline)?;
        self.install_fresh(token, key, &client)
    }

    /// Installs the token of a fresh authorization and counts it.
    fn install_fresh(&self, token: TokenSet, key: CredentialKey, client: &Client) -> Result<()> {
        self.install(token, key, client)?;
        self.authorized_anew.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Uses a stored credential: its access token while valid, else its
    /// refresh token. `None` when it cannot serve.
    #[allow(clippy::too_many_arguments)] // the flow's state, passed through
    fn adopt_stored(
        &self,
        flow: &mut FlowState,
        discovery: &Discovery,
        key: &CredentialKey,
        stored: &StoredCredential,
        refused: Option<&str>,
        reuse: Reuse,
        deadline: Instant,
    ) -> Option<Result<()>> {
        let client = match &flow.client {
            Some((_, c)) => c.clone(),
            None => self.settings.known_client(&discovery.server)?,
        };
        let token = TokenSet {
            access_token: stored.access_token.clone().unwrap_or_default(),
            refresh_token: stored.refresh_token.clone(),
            expires_at: stored.expires_at.map(|s| UNIX_EPOCH + Duration::from_secs(s)),
            obtained_at: SystemTime::now(),
            scope: stored.scope.clone(),
        };
        let fresh_enough = !token.access_token.is_empty() && !token.expired(STORED_MARGIN);
        flow.client = Some((key.issuer.clone(), client.clone()));
        if fresh_enough && refused != Some(token.access_token.as_str()) {
            return Some(self.install(token, key.clone(), &client));
        }
        if reuse == Reuse::Stored && token.refresh_token.is_some() && self.mode != AuthMode::ClientCredentials
        {
            match refresh(&self.token_endpoint(discovery, &client), &token, &discovery.resource, deadline) {
                Ok(renewed) => return Some(self.install(renewed, key.clone(), &client)),
                Err(e) if Instant::now() >= deadline => return Some(Err(e)),
                Err(e) => {
                    log::info!(target: "mcpstore::auth", "[{}] stored refresh token: {e}", self.service)
                }
            }
        }
        None
    }

    /// Takes the dynamic registration of a stored credential (this client's, at `issuer`).
    fn adopt_registration(&self, flow: &mut FlowState, stored: &StoredCredential, issuer: &str) {
        if flow.client.is_some() || self.settings.label() != "dynamic" || stored.client_id.is_empty() {
            return;
        }
        let method =
            stored.auth_method.as_deref().and_then(AuthMethod::from_name).unwrap_or(AuthMethod::None);
        let client = Client {
            id: stored.client_id.clone(),
            secret: stored.client_secret.clone(),
            method,
            kind: ClientKind::Registered,
        };
        flow.client = Some((issuer.to_owned(), client));
    }

    /// The client at the discovered server: the one known already, the
    /// configured one, a metadata document, else a new registration.
    fn client_for(
        &self,
        flow: &mut FlowState,
        discovery: &Discovery,
        redirect_uri: Option<&str>,
        deadline: Instant,
    ) -> Result<Client> {
        if let Some((_, client)) = &flow.client {
            return Ok(client.clone());
        }
        let client = match (self.settings.known_client(&discovery.server), redirect_uri) {
            (Some(client), _) => client,
            (None, Some(redirect_uri)) => {
                register(&self.http, &discovery.server, &self.settings, redirect_uri, deadline)?
            }
            (None, None) => {
                return Err(Error::auth(
                    AuthStep::Registration,
                    "client_credentials needs a configured client_id",
                ));
            }
        };
        flow.client = Some((discovery.server.issuer.clone(), client.clone()));
        Ok(client)
    }

    /// The scopes to ask for: the challenge's, else the configured ones, else
    /// the resource's `scopes_supported`, with those asked before; plus
    /// `offline_access` when the authorization server lists it (for a refresh token).
    fn select_scopes(
        &self,
        flow: &mut FlowState,
        challenge: &Challenge,
        discovery: &Discovery,
    ) -> Option<String> {
        let challenged = challenge.scopes();
        let base = if !challenged.is_empty() {
            challenged
        } else if !self.settings.scopes.is_empty() {
            self.settings.scopes.clone()
        } else {
            discovery.protected.as_ref().map(|p| p.scopes_supported.clone()).unwrap_or_default()
        };
        let mut scopes = flow.scopes.clone();
        for s in base {
            if !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        let offline = "offline_access".to_owned();
        if self.mode == AuthMode::AuthorizationCode
            && !scopes.is_empty()
            && !scopes.contains(&offline)
            && discovery.server.scopes_supported.contains(&offline)
        {
            scopes.push(offline);
        }
        flow.scopes = scopes.clone();
        (!scopes.is_empty()).then(|| scopes.join(" "))
    }

    /// The discovered token endpoint, for `client`.
    pub(super) fn token_endpoint<'a>(
        &'a self,
        discovery: &'a Discovery,
        client: &'a Client,
    ) -> TokenEndpoint<'a> {
        TokenEndpoint {
            http: &self.http,
            url: &discovery.server.token_endpoint,
            issuer: &discovery.server.issuer,
            client,
            assertion: self.settings.assertion.as_ref(),
        }
    }
}
