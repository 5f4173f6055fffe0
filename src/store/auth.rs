//! OAuth at the store level: the builder's hooks (authorizer, token store)
//! and the user's operations on a service (login, logout, status).

use std::sync::Arc;
use std::time::Duration;

use super::{Store, StoreBuilder};
use crate::auth::{
    AuthContext, AuthStatus, Authorizer, FileTokenStore, LoopbackAuthorizer, MemoryTokenStore, ServiceAuth,
    TokenStore,
};
use crate::config::{CredentialsConfig, PoolConfig, ServiceConfig, TransportConfig};
use crate::error::Result;

/// How long [`Store::auth_login`] waits for the user.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

/// The builder's OAuth hooks (none set: no authorizer, the default file store).
#[derive(Clone, Default)]
pub(super) struct AuthHooks {
    authorizer: Option<Arc<dyn Authorizer>>,
    tokens: Option<Arc<dyn TokenStore>>,
}

impl std::fmt::Debug for AuthHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthHooks")
            .field("authorizer", &self.authorizer.is_some())
            .field("token_store", &self.tokens.is_some())
            .finish()
    }
}

impl AuthHooks {
    /// What the store's services get.
    pub(super) fn context(self, client_name: &str) -> AuthContext {
        AuthContext {
            authorizer: self.authorizer,
            tokens: self.tokens.unwrap_or_else(crate::auth::default_token_store),
            client_name: client_name.to_owned(),
        }
    }
}

impl StoreBuilder {
    /// Takes users through OAuth authorizations when a call needs one (for
    /// example a [`LoopbackAuthorizer`] or a [`HeadlessAuthorizer`](crate::HeadlessAuthorizer)).
    /// Without one, a service that needs a user fails with
    /// [`Error::Auth`](crate::Error::Auth) until [`Store::auth_login`] was called;
    /// refreshing and client credentials need none.
    pub fn authorizer(mut self, authorizer: Arc<dyn Authorizer>) -> Self {
        self.auth.authorizer = Some(authorizer);
        self
    }

    /// Where OAuth credentials are kept; by default a
    /// [`FileTokenStore`](crate::FileTokenStore) in the user's configuration directory.
    pub fn token_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.auth.tokens = Some(store);
        self
    }

    /// Keeps OAuth credentials where `credentials` says (an `mcp.json` file's
    /// `"credentials"`); `None` leaves the token store as it is.
    pub fn credentials(self, credentials: Option<&CredentialsConfig>) -> Self {
        match credentials {
            None => self,
            Some(CredentialsConfig::Memory) => self.token_store(Arc::new(MemoryTokenStore::new())),
            Some(CredentialsConfig::File(path)) => self.token_store(Arc::new(FileTokenStore::new(path))),
        }
    }
}

impl Store {
    /// The OAuth credential of a new service (HTTP services only).
    pub(super) fn auth_for(
        &self,
        name: &str,
        config: &ServiceConfig,
        pool: &PoolConfig,
    ) -> Result<Option<Arc<ServiceAuth>>> {
        match &config.transport {
            TransportConfig::Http(http) => ServiceAuth::for_service(name, http, pool, &self.inner.auth),
            _ => Ok(None),
        }
    }

    /// Authorizes `service` anew, interactively: through the store's
    /// authorizer, else a [`LoopbackAuthorizer`] (prints the URL, opens the
    /// browser, waits for the redirect on 127.0.0.1), waiting up to
    /// [`LOGIN_TIMEOUT`]. For client credentials it gets a token. Returns the
    /// new status; a service without OAuth is a config error naming `auth`.
    pub fn auth_login(&self, service: &str) -> Result<AuthStatus> {
        self.auth_login_with(service, None, LOGIN_TIMEOUT)
    }

    /// Like [`Store::auth_login`], with this `authorizer` (else the store's,
    /// else a loopback one) and waiting up to `timeout`.
    pub fn auth_login_with(
        &self,
        service: &str,
        authorizer: Option<Arc<dyn Authorizer>>,
        timeout: Duration,
    ) -> Result<AuthStatus> {
        let s = self.inner.service(service)?;
        let Some(auth) = s.auth() else {
            return Err(crate::error::Error::config(
                Some(service),
                Some("auth"),
                "this service does not use OAuth (a stdio service, \"type\": \"none\", or a static Authorization header)",
            ));
        };
        let authorizer = authorizer
            .or_else(|| self.inner.auth.authorizer.clone())
            .unwrap_or_else(|| Arc::new(LoopbackAuthorizer::new()));
        let deadline = crate::util::deadline_after(timeout);
        let status = auth.login(authorizer.as_ref(), deadline)?;
        // A service that failed for want of a login connects now (and loads its tools),
        // so the next call finds it serving.
        s.pool().retry_now();
        if !s.tools_loaded()
            && let Err(e) = s.pool().acquire_until(Some(deadline))
        {
            log::warn!(target: "mcpstore::auth", "[{service}] logged in, but connecting failed: {e}");
        }
        Ok(status)
    }

    /// Forgets `service`'s OAuth credential, in memory and in the token store;
    /// its sessions authorize again when the server next refuses them.
    pub fn auth_logout(&self, service: &str) -> Result<()> {
        match self.inner.service(service)?.auth() {
            Some(auth) => auth.logout(),
            None => Ok(()),
        }
    }

    /// `service`'s authorization now (no secrets; no network).
    pub fn auth_status(&self, service: &str) -> Result<AuthStatus> {
        Ok(match self.inner.service(service)?.auth() {
            Some(auth) => auth.status(),
            None => AuthStatus::none(service),
        })
    }
}
