//! Who this client is at an authorization server, in the MCP specification's
//! order: a client pre-registered in the configuration, a Client ID Metadata
//! Document (the `client_id` is an HTTPS URL) when the server supports them,
//! else Dynamic Client Registration (RFC 7591).

use std::time::Instant;

use serde_json::{Value, json};

use super::http::AuthHttp;
use super::jwt::ClientAssertion;
use super::metadata::ServerMetadata;
use crate::config::is_loopback;
use crate::error::{AuthStep, Error, Result};

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthMethod {
    /// A public client: `client_id` in the body, no secret.
    None,
    /// HTTP Basic with the id and secret.
    SecretBasic,
    /// `client_id` and `client_secret` in the body.
    SecretPost,
    /// A signed JWT assertion (RFC 7523).
    PrivateKeyJwt,
}

impl AuthMethod {
    /// The registered name (RFC 7591 §2).
    pub(crate) fn name(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::SecretBasic => "client_secret_basic",
            AuthMethod::SecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }

    /// The method a registered name stands for.
    pub(crate) fn from_name(name: &str) -> Option<AuthMethod> {
        [AuthMethod::None, AuthMethod::SecretBasic, AuthMethod::SecretPost, AuthMethod::PrivateKeyJwt]
            .into_iter()
            .find(|m| m.name() == name)
    }
}

/// How the client came to be known to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientKind {
    /// Pre-registered: the id (and secret) are in the configuration.
    Configured,
    /// The id is the URL of its metadata document.
    MetadataDocument,
    /// Registered dynamically by this library.
    Registered,
}

/// This client at one authorization server.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Client {
    /// `client_id`.
    pub(crate) id: String,
    /// The secret, for the `client_secret_*` methods.
    pub(crate) secret: Option<String>,
    /// How it authenticates at the token endpoint.
    pub(crate) method: AuthMethod,
    /// Where the identity came from.
    pub(crate) kind: ClientKind,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("method", &self.method)
            .field("kind", &self.kind)
            .finish()
    }
}

/// What the configuration says about the client (secrets resolved).
pub(crate) struct ClientSettings {
    /// A pre-registered client id.
    pub(crate) client_id: Option<String>,
    /// Its secret.
    pub(crate) client_secret: Option<String>,
    /// A Client ID Metadata Document URL.
    pub(crate) metadata_url: Option<String>,
    /// The name registered dynamically.
    pub(crate) client_name: String,
    /// The configured redirect URI.
    pub(crate) redirect_uri: String,
    /// Scopes to ask for when the challenge names none.
    pub(crate) scopes: Vec<String>,
    /// The signer for `private_key_jwt`.
    pub(crate) assertion: Option<ClientAssertion>,
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "<redacted>"))
            .field("metadata_url", &self.metadata_url)
            .field("assertion", &self.assertion)
            .finish_non_exhaustive()
    }
}

impl ClientSettings {
    /// The client part of a credential key: the configured id, the metadata
    /// document URL, or `dynamic`.
    pub(crate) fn label(&self) -> String {
        self.client_id.clone().or_else(|| self.metadata_url.clone()).unwrap_or_else(|| "dynamic".to_owned())
    }

    /// The pre-registered client or the metadata document client, when one
    /// applies at `server` (neither needs a request).
    pub(crate) fn known_client(&self, server: &ServerMetadata) -> Option<Client> {
        if let Some(id) = &self.client_id {
            return Some(Client {
                id: id.clone(),
                secret: self.client_secret.clone(),
                method: self.configured_method(server),
                kind: ClientKind::Configured,
            });
        }
        let url = self.metadata_url.as_ref().filter(|_| server.client_metadata_documents)?;
        Some(Client {
            id: url.clone(),
            secret: None,
            method: AuthMethod::None,
            kind: ClientKind::MetadataDocument,
        })
    }

    /// The token endpoint method of the pre-registered client.
    fn configured_method(&self, server: &ServerMetadata) -> AuthMethod {
        if self.assertion.is_some() {
            return AuthMethod::PrivateKeyJwt;
        }
        if self.client_secret.is_none() {
            return AuthMethod::None;
        }
        [AuthMethod::SecretBasic, AuthMethod::SecretPost, AuthMethod::None]
            .into_iter()
            .find(|m| server.takes_auth_method(m.name()))
            .unwrap_or(AuthMethod::SecretBasic)
    }
}

/// Registers a client dynamically (RFC 7591) for `redirect_uri`.
pub(crate) fn register(
    http: &AuthHttp,
    server: &ServerMetadata,
    settings: &ClientSettings,
    redirect_uri: &str,
    deadline: Instant,
) -> Result<Client> {
    let Some(endpoint) = &server.registration_endpoint else {
        return Err(Error::auth(
            AuthStep::Registration,
            format!(
                "authorization server {} offers no way to register this client: configure a pre-registered \
                 client (auth.client_id) or a client metadata document (auth.client_metadata_url)",
                server.issuer
            ),
        ));
    };
    // A public client is the norm for a native app; a secret only where the server wants one.
    let wanted = [AuthMethod::None, AuthMethod::SecretBasic, AuthMethod::SecretPost]
        .into_iter()
        .find(|m| server.token_auth_methods.as_ref().is_some_and(|list| list.iter().any(|x| x == m.name())));
    let native = super::url::parse(redirect_uri).is_some_and(|p| is_loopback(p.host));
    let mut body = json!({
        "client_name": settings.client_name,
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "application_type": if native { "native" } else { "web" },
    });
    if let Some(method) = wanted {
        body["token_endpoint_auth_method"] = method.name().into();
    }
    let reply = http.post_json(endpoint, &body, AuthStep::Registration, deadline)?;
    if !reply.ok() {
        return Err(Error::auth(
            AuthStep::Registration,
            format!("{endpoint} refused to register the client: {}", reply.describe_error()),
        ));
    }
    let doc = reply.json_object().map_err(|why| {
        Error::auth(AuthStep::Registration, format!("invalid registration response from {endpoint}: {why}"))
    })?;
    let id = match doc.get("client_id") {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        _ => return Err(Error::auth(AuthStep::Registration, format!("{endpoint} returned no client_id"))),
    };
    let secret =
        doc.get("client_secret").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    let method = doc
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
        .and_then(AuthMethod::from_name)
        .or(wanted)
        .unwrap_or(if secret.is_some() { AuthMethod::SecretBasic } else { AuthMethod::None });
    let method = match method {
        AuthMethod::SecretBasic | AuthMethod::SecretPost if secret.is_none() => AuthMethod::None,
        AuthMethod::PrivateKeyJwt => AuthMethod::None, // this registration sent no keys
        m => m,
    };
    Ok(Client { id, secret, method, kind: ClientKind::Registered })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_out_of_debug_and_methods_follow_the_server() {
        let settings = ClientSettings {
            client_id: Some("app".into()),
            client_secret: Some("cl1ent-s3cret".into()),
            metadata_url: None,
            client_name: "mcpstore".into(),
            redirect_uri: "http://127.0.0.1:0/callback".into(),
            scopes: Vec::new(),
            assertion: None,
        };
        let basic_only = ServerMetadata {
            token_auth_methods: Some(vec!["client_secret_post".into()]),
            ..Default::default()
        };
        let client = settings.known_client(&basic_only).unwrap();
        assert_eq!((client.method, client.kind), (AuthMethod::SecretPost, ClientKind::Configured));
        let default_methods = ServerMetadata::default();
        assert_eq!(settings.known_client(&default_methods).unwrap().method, AuthMethod::SecretBasic);
        let shown = format!("{settings:?} {client:?}");
        assert!(!shown.contains("cl1ent-s3cret"), "{shown}");
        assert_eq!(settings.label(), "app");
        let cimd = ClientSettings {
            client_id: None,
            client_secret: None,
            metadata_url: Some("https://a/c.json".into()),
            ..settings
        };
        assert!(cimd.known_client(&default_methods).is_none(), "a metadata document only where supported");
        let supports = ServerMetadata { client_metadata_documents: true, ..Default::default() };
        assert_eq!(cimd.known_client(&supports).unwrap().id, "https://a/c.json");
        assert_eq!(AuthMethod::from_name("private_key_jwt"), Some(AuthMethod::PrivateKeyJwt));
    }
}
