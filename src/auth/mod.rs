//! OAuth 2.1 authorization of HTTP services, as the MCP specification
//! (2025-11-25, `basic/authorization`) describes it for clients.
//!
//! On a 401 the transport hands the refusal to the service's [`ServiceAuth`]
//! (through the transport's `AuthHook`), which discovers the authorization
//! server (`discovery`, `metadata`), identifies the client (`registration`),
//! gets a token (`flow` with `pkce`, or `client_credentials` with `jwt`), and
//! keeps it fresh (`refresh`) and stored (`store`, `file_store`); the request
//! is then sent again. Step-up on a 403 `insufficient_scope`, single-flight
//! renewal and the three-authorizations limit live in `credential` and `obtain`.
//!
//! - `challenge`: the `WWW-Authenticate` header;
//! - `url`: well-known locations and resource matching, strings kept verbatim;
//! - `http`: the requests of the steps, bounded and mapped to [`Error::Auth`](crate::Error::Auth);
//! - `authorizer`, `loopback`: where the user agent comes from;
//! - `status`: login, logout, status.

mod authorizer;
mod challenge;
mod client_credentials;
mod credential;
mod discovery;
mod file_store;
mod flow;
mod http;
mod jwt;
mod loopback;
mod metadata;
mod obtain;
mod pkce;
mod refresh;
mod registration;
mod status;
mod store;
mod token;
mod url;

pub use authorizer::{AuthorizationRequest, Authorizer, HeadlessAuthorizer};
pub(crate) use credential::{AuthContext, ServiceAuth};
pub use file_store::FileTokenStore;
pub use loopback::LoopbackAuthorizer;
pub use status::AuthStatus;
pub use store::{CredentialKey, MemoryTokenStore, StoredCredential, TokenStore};

/// The parsers of what servers send, for the fuzz targets (`src/fuzzing.rs`).
#[cfg(feature = "fuzzing")]
pub(crate) mod fuzz_access {
    pub(crate) use super::challenge::Challenge;
    pub(crate) use super::metadata::{ProtectedResource, ServerMetadata};
    pub(crate) use super::token::parse_token_response;
    pub(crate) use super::url::{
        is_secure_endpoint, origin, protected_resource_candidates, resource_matches,
        server_metadata_candidates, with_query,
    };
}

/// The store's default token store: the credentials file in the user's
/// configuration directory, else (no home directory) memory.
pub(crate) fn default_token_store() -> std::sync::Arc<dyn TokenStore> {
    match FileTokenStore::default_path() {
        Some(path) => std::sync::Arc::new(FileTokenStore::new(path)),
        None => {
            log::warn!(target: "mcpstore::auth", "no configuration directory: OAuth credentials are kept in memory only");
            std::sync::Arc::new(MemoryTokenStore::new())
        }
    }
}
