//! How an HTTP service is authorized: OAuth 2.1 as the MCP specification
//! describes it (authorization code with PKCE, or client credentials), as
//! plain data. The `auth` layer does the work; this is only what it needs to
//! know, read from `mcp.json` or built in code.

use std::path::PathBuf;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// How a service's requests are authorized when the server asks (HTTP 401).
///
/// The default needs no configuration: on a 401 the client discovers the
/// authorization server, registers itself (a Client ID Metadata Document when
/// [`AuthConfig::client_metadata_url`] is set and the server supports it,
/// else Dynamic Client Registration) and gets a token through the store's
/// [`Authorizer`](crate::Authorizer). In `mcp.json`, inside an `mcpServers` entry:
///
/// ```json
/// "auth": {"type": "oauth", "client_id": "my-app", "client_secret_env": "MY_APP_SECRET",
///          "scopes": ["files:read"], "redirect_uri": "http://127.0.0.1:0/callback",
///          "client_metadata_url": "https://app.example.com/client.json"}
/// "auth": {"type": "client_credentials", "client_id": "svc", "private_key_file": "/etc/svc/key.pem",
///          "signing_alg": "ES256"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct AuthConfig {
    /// Which grant to use (`"type"` in `mcp.json`).
    pub mode: AuthMode,
    /// A client registered with the authorization server beforehand; `None`
    /// registers one (metadata document or dynamic registration).
    pub client_id: Option<String>,
    /// The secret of the pre-registered client (`client_secret_env` in `mcp.json`).
    pub client_secret: Option<SecretSource>,
    /// Scopes to ask for when the server's challenge names none (before the
    /// server's `scopes_supported`).
    pub scopes: Vec<String>,
    /// Where the authorization server sends the user back; by default
    /// `http://127.0.0.1:0/callback` (port 0: a free port chosen per login by the
    /// loopback authorizer).
    pub redirect_uri: Option<String>,
    /// An HTTPS URL serving this client's metadata document (used as the
    /// `client_id` when the authorization server supports such documents).
    pub client_metadata_url: Option<String>,
    /// The `client_name` sent when registering dynamically (default `mcpstore`).
    pub client_name: Option<String>,
    /// A PEM private key (PKCS#8; RSA also PKCS#1) for `private_key_jwt`
    /// client authentication (`private_key_file` or `private_key_env` in `mcp.json`).
    pub private_key: Option<SecretSource>,
    /// The JWT signing algorithm for `private_key_jwt`: `ES256` (default) or `RS256`.
    pub signing_alg: Option<String>,
}

/// The grant an [`AuthConfig`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Authorization code with PKCE: a user consents in a browser (`"oauth"`).
    #[default]
    AuthorizationCode,
    /// Machine to machine: the client's own credentials (`"client_credentials"`).
    ClientCredentials,
    /// Never authorize: a 401 is an error (`"none"`).
    Disabled,
}

/// Where a secret comes from. Its value is never printed: `Debug` and
/// serialization show only where it comes from.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretSource {
    /// The value of an environment variable, read when the service is added.
    Env(String),
    /// The contents of a file, read when the service is added.
    File(PathBuf),
    /// A value given in code.
    Value(String),
}

impl SecretSource {
    /// Reads the secret; the error says what is missing (never the value).
    pub fn resolve(&self) -> std::result::Result<String, String> {
        match self {
            SecretSource::Env(name) => match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(v),
                Ok(_) => Err(format!("environment variable {name} is empty")),
                Err(_) => Err(format!("environment variable {name} is not set")),
            },
            SecretSource::File(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {}", path.display(), e.kind())),
            SecretSource::Value(v) => Ok(v.clone()),
        }
    }
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Env(name) => f.debug_tuple("Env").field(name).finish(),
            SecretSource::File(path) => f.debug_tuple("File").field(path).finish(),
            SecretSource::Value(_) => f.write_str("Value(<redacted>)"),
        }
    }
}

impl Serialize for SecretSource {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            SecretSource::Env(name) => s.serialize_str(&format!("env:{name}")),
            SecretSource::File(path) => s.serialize_str(&format!("file:{}", path.display())),
            SecretSource::Value(_) => s.serialize_str("<redacted>"),
        }
    }
}

/// The redirect URI used when none is configured.
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1:0/callback";

impl AuthConfig {
    /// Whether this is the default (nothing configured).
    pub fn is_default(&self) -> bool {
        *self == AuthConfig::default()
    }

    /// Checks what cannot work; `Err((field, message))` names the field
    /// inside `auth` (the caller adds the service).
    pub(crate) fn check(&self) -> std::result::Result<(), (String, String)> {
        let bad = |field: &str, m: &str| Err((format!("auth.{field}"), m.to_owned()));
        if let Some(uri) = &self.redirect_uri {
            match url_host(uri) {
                Some((scheme, host)) if scheme == "https" || is_loopback(host) => {}
                Some(_) => return bad("redirect_uri", "must be https:// or http:// on a loopback address"),
                None => return bad("redirect_uri", "must be an absolute http(s) URL"),
            }
        }
        if let Some(url) = &self.client_metadata_url {
            match url_host(url) {
                Some(("https", _)) if url_path(url).is_some_and(|p| p.len() > 1) => {}
                _ => return bad("client_metadata_url", "must be an https:// URL with a path"),
            }
        }
        for (i, scope) in self.scopes.iter().enumerate() {
            if scope.is_empty() || scope.chars().any(|c| c.is_whitespace() || c == '"' || c == '\\') {
                return bad(&format!("scopes[{i}]"), "a scope must be non-empty, without spaces or quotes");
            }
        }
        for (field, source) in
            [("client_secret_env", &self.client_secret), ("private_key_env", &self.private_key)]
        {
            if let Some(SecretSource::Env(name)) = source
                && (name.is_empty() || name.contains(['=', '\0']))
            {
                return bad(field, "an environment variable name must be non-empty, without '=' or NUL");
            }
        }
        if let Some(alg) = &self.signing_alg {
            if !matches!(alg.as_str(), "ES256" | "RS256") {
                return bad("signing_alg", "must be ES256 or RS256");
            }
            if self.private_key.is_none() {
                return bad("signing_alg", "needs a private key (private_key_file or private_key_env)");
            }
        }
        if self.mode == AuthMode::ClientCredentials {
            if self.client_id.as_deref().is_none_or(str::is_empty) {
                return bad("client_id", "is required for client_credentials");
            }
            if self.client_secret.is_none() && self.private_key.is_none() {
                return bad(
                    "client_secret_env",
                    "client_credentials needs a secret (client_secret_env) or a private key (private_key_file)",
                );
            }
        }
        if self.client_id.as_deref() == Some("") {
            return bad("client_id", "must not be empty");
        }
        Ok(())
    }
}

/// The keys an `auth` entry may have.
const AUTH_KEYS: &[&str] = &[
    "type",
    "client_id",
    "client_secret_env",
    "scopes",
    "redirect_uri",
    "client_metadata_url",
    "client_name",
    "private_key_file",
    "private_key_env",
    "signing_alg",
];

/// Parses the `auth` object of an `mcpServers` entry; errors name the
/// service and the field (`auth.<key>`).
pub(crate) fn parse_auth(service: &str, v: &Value) -> Result<AuthConfig> {
    let err = |field: &str, m: &str| Error::config(Some(service), Some(&format!("auth.{field}")), m);
    let obj =
        v.as_object().ok_or_else(|| Error::config(Some(service), Some("auth"), "must be a JSON object"))?;
    if let Some(key) = obj.keys().find(|k| !AUTH_KEYS.contains(&k.as_str())) {
        let hint = if key == "client_secret" || key == "private_key" {
            "secrets are not written in the file: name an environment variable (client_secret_env, private_key_env) or a key file"
        } else {
            "unknown auth setting"
        };
        return Err(err(key, hint));
    }
    let mut config = AuthConfig {
        mode: match obj.get("type") {
            Some(Value::String(t)) => match t.as_str() {
                "oauth" | "oauth2" | "authorization_code" => AuthMode::AuthorizationCode,
                "client_credentials" => AuthMode::ClientCredentials,
                "none" => AuthMode::Disabled,
                _ => return Err(err("type", "must be \"oauth\", \"client_credentials\" or \"none\"")),
            },
            Some(_) => return Err(err("type", "must be a string")),
            None => return Err(err("type", "is required (\"oauth\", \"client_credentials\" or \"none\")")),
        },
        ..AuthConfig::default()
    };
    config.client_id = string(obj, "client_id", service)?;
    config.client_secret = string(obj, "client_secret_env", service)?.map(SecretSource::Env);
    config.redirect_uri = string(obj, "redirect_uri", service)?;
    config.client_metadata_url = string(obj, "client_metadata_url", service)?;
    config.client_name = string(obj, "client_name", service)?;
    config.signing_alg = string(obj, "signing_alg", service)?;
    let file = string(obj, "private_key_file", service)?;
    let env = string(obj, "private_key_env", service)?;
    config.private_key = match (file, env) {
        (Some(_), Some(_)) => {
            return Err(err("private_key_file", "give private_key_file or private_key_env, not both"));
        }
        (Some(f), None) => Some(SecretSource::File(f.into())),
        (None, Some(e)) => Some(SecretSource::Env(e)),
        (None, None) => None,
    };
    config.scopes = match obj.get("scopes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| err(&format!("scopes[{i}]"), "must be a string"))
            })
            .collect::<Result<_>>()?,
        Some(_) => return Err(err("scopes", "must be an array of strings")),
    };
    config.check().map_err(|(field, m)| Error::config(Some(service), Some(&field), m))?;
    Ok(config)
}

fn string(obj: &Map<String, Value>, key: &str, service: &str) -> Result<Option<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::config(Some(service), Some(&format!("auth.{key}")), "must be a string")),
    }
}

/// The scheme and host of an absolute http(s) URL.
fn url_host(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => host.split(':').next()?,
    };
    (!host.is_empty()).then_some((scheme, host))
}

fn url_path(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let start = rest.find('/')?;
    Some(rest[start..].split(['?', '#']).next().unwrap_or(""))
}

/// Whether `host` is a loopback address or `localhost`.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(v: Value) -> String {
        match parse_auth("s", &v).unwrap_err() {
            Error::Config { service, field, .. } => {
                assert_eq!(service.as_deref(), Some("s"));
                field.unwrap_or_default()
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_both_kinds() {
        let a = parse_auth(
            "s",
            &json!({"type": "oauth", "client_id": "app", "client_secret_env": "APP_SECRET",
                    "scopes": ["a", "b"], "redirect_uri": "http://127.0.0.1:0/callback",
                    "client_metadata_url": "https://app.example.com/client.json"}),
        )
        .unwrap();
        assert_eq!(a.mode, AuthMode::AuthorizationCode);
        assert_eq!(a.client_secret, Some(SecretSource::Env("APP_SECRET".into())));
        assert_eq!(a.scopes, ["a", "b"]);
        let c = parse_auth(
            "s",
            &json!({"type": "client_credentials", "client_id": "svc", "private_key_file": "/k.pem", "signing_alg": "RS256"}),
        )
        .unwrap();
        assert_eq!(c.mode, AuthMode::ClientCredentials);
        assert_eq!(c.private_key, Some(SecretSource::File("/k.pem".into())));
        assert_eq!(parse_auth("s", &json!({"type": "oauth", "scopes": "x y"})).unwrap().scopes, ["x", "y"]);
    }

    #[test]
    fn malformed_entries_name_the_field() {
        assert_eq!(field_of(json!({})), "auth.type");
        assert_eq!(field_of(json!({"type": "saml"})), "auth.type");
        assert_eq!(field_of(json!({"type": "oauth", "client_secret": "x"})), "auth.client_secret");
        assert_eq!(field_of(json!({"type": "oauth", "scopes": [1]})), "auth.scopes[0]");
        assert_eq!(field_of(json!({"type": "oauth", "scopes": ["a b"]})), "auth.scopes[0]");
        assert_eq!(
            field_of(json!({"type": "oauth", "redirect_uri": "http://example.com/cb"})),
            "auth.redirect_uri"
        );
        assert_eq!(
            field_of(json!({"type": "oauth", "client_metadata_url": "http://x/c.json"})),
            "auth.client_metadata_url"
        );
        assert_eq!(field_of(json!({"type": "oauth", "client_id": 5})), "auth.client_id");
        assert_eq!(field_of(json!({"type": "client_credentials"})), "auth.client_id");
        assert_eq!(
            field_of(json!({"type": "client_credentials", "client_id": "c"})),
            "auth.client_secret_env"
        );
        assert_eq!(
            field_of(
                json!({"type": "client_credentials", "client_id": "c", "private_key_env": "K", "signing_alg": "HS256"})
            ),
            "auth.signing_alg"
        );
        assert_eq!(field_of(json!({"type": "oauth", "colour": "blue"})), "auth.colour");
        assert!(
            matches!(parse_auth("s", &json!("oauth")), Err(Error::Config { field: Some(f), .. }) if f == "auth")
        );
    }

    #[test]
    fn secrets_are_never_shown() {
        let s = SecretSource::Value("hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!serde_json::to_string(&s).unwrap().contains("hunter2"));
        let config = AuthConfig { client_secret: Some(s), ..Default::default() };
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn loopback_hosts() {
        for h in ["localhost", "127.0.0.1", "127.1.2.3", "[::1]", "::1"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["example.com", "10.0.0.1", "localhost.example.com"] {
            assert!(!is_loopback(h), "{h}");
        }
    }
}
