//! Where credentials are kept between calls and runs: the [`TokenStore`]
//! trait, its key and record, and the in-memory store. The default store is a
//! file ([`FileTokenStore`](super::FileTokenStore)).
//!
//! Credentials are keyed by authorization server issuer, resource and client,
//! so a token or a registration is never used with another authorization
//! server than the one that issued it.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// What stored credentials belong to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CredentialKey {
    /// The authorization server's issuer.
    pub issuer: String,
    /// The protected resource (the `resource` the tokens were requested for).
    pub resource: String,
    /// The client: its configured `client_id`, its metadata document URL, or
    /// `dynamic` for a client this library registered.
    pub client: String,
}

/// What is kept for one [`CredentialKey`]: the client registration and the tokens.
///
/// `Debug` shows no token or secret.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoredCredential {
    /// The MCP server URL the credential was obtained for (so status and
    /// logout find it without discovery).
    pub server_url: String,
    /// The `client_id` used.
    pub client_id: String,
    /// The secret a dynamic registration issued (a configured secret is never stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// The token endpoint authentication method of a dynamically registered client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_method: Option<String>,
    /// The access token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// The refresh token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// When the access token expires, in seconds since the Unix epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// The access token's scopes, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl std::fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("StoredCredential")
            .field("server_url", &self.server_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &hidden(&self.client_secret))
            .field("auth_method", &self.auth_method)
            .field("access_token", &hidden(&self.access_token))
            .field("refresh_token", &hidden(&self.refresh_token))
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .finish()
    }
}

/// Keeps OAuth credentials. Implementations must be safe to call from many
/// threads; a failure is an [`Error::Auth`](crate::Error::Auth) with
/// [`AuthStep::TokenStore`](crate::AuthStep::TokenStore) (a failed save is
/// logged, the credential stays in memory).
pub trait TokenStore: Send + Sync {
    /// The credential stored under `key`, if any.
    fn load(&self, key: &CredentialKey) -> Result<Option<StoredCredential>>;
    /// Stores `credential` under `key`, replacing what was there.
    fn save(&self, key: &CredentialKey, credential: &StoredCredential) -> Result<()>;
    /// Forgets what is stored under `key` (nothing stored is not an error).
    fn remove(&self, key: &CredentialKey) -> Result<()>;
    /// Everything stored (for status and logout, which know only the server URL).
    fn list(&self) -> Result<Vec<(CredentialKey, StoredCredential)>>;
}

/// A token store in memory: credentials last as long as the store.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    entries: Mutex<BTreeMap<CredentialKey, StoredCredential>>,
}

impl MemoryTokenStore {
    /// An empty store.
    pub fn new() -> MemoryTokenStore {
        MemoryTokenStore::default()
    }
}

impl TokenStore for MemoryTokenStore {
    fn load(&self, key: &CredentialKey) -> Result<Option<StoredCredential>> {
        Ok(self.entries.lock().get(key).cloned())
    }

    fn save(&self, key: &CredentialKey, credential: &StoredCredential) -> Result<()> {
        self.entries.lock().insert(key.clone(), credential.clone());
        Ok(())
    }

    fn remove(&self, key: &CredentialKey) -> Result<()> {
        self.entries.lock().remove(key);
        Ok(())
    }

    fn list(&self) -> Result<Vec<(CredentialKey, StoredCredential)>> {
        Ok(self.entries.lock().iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_and_redacted_debug() {
        let store = MemoryTokenStore::new();
        let key = CredentialKey {
            issuer: "https://as".into(),
            resource: "https://rs/mcp".into(),
            client: "dynamic".into(),
        };
        let cred = StoredCredential {
            server_url: "https://rs/mcp".into(),
            client_id: "c".into(),
            client_secret: Some("cs-secret".into()),
            access_token: Some("at-secret".into()),
            refresh_token: Some("rt-secret".into()),
            ..Default::default()
        };
        store.save(&key, &cred).unwrap();
        assert_eq!(store.load(&key).unwrap(), Some(cred.clone()));
        assert_eq!(store.list().unwrap().len(), 1);
        let debug = format!("{cred:?} {store:?}");
        for secret in ["cs-secret", "at-secret", "rt-secret"] {
            assert!(!debug.contains(secret), "{debug}");
        }
        store.remove(&key).unwrap();
        assert_eq!(store.load(&key).unwrap(), None);
    }
}
