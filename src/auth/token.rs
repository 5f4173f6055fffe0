//! The token endpoint: a form POST with the client's authentication
//! (`none`, `client_secret_basic`, `client_secret_post`, `private_key_jwt`)
//! and the token response (RFC 6749 §5). Used by every grant.

use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::http::AuthHttp;
use super::jwt::{ASSERTION_TYPE, ClientAssertion};
use super::registration::{AuthMethod, Client};
use crate::error::{AuthStep, Error, Result};

/// An access token and what came with it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct TokenSet {
    /// The bearer token.
    pub(crate) access_token: String,
    /// The refresh token, if one was issued.
    pub(crate) refresh_token: Option<String>,
    /// When the access token expires, if the server said.
    pub(crate) expires_at: Option<SystemTime>,
    /// When it was obtained.
    pub(crate) obtained_at: SystemTime,
    /// The scopes it carries: those granted, else those requested.
    pub(crate) scope: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "<redacted>"))
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .finish()
    }
}

impl TokenSet {
    /// Whether the access token has expired (or will within `margin`).
    pub(crate) fn expired(&self, margin: Duration) -> bool {
        self.expires_at.is_some_and(|at| SystemTime::now() + margin >= at)
    }

    /// The scopes, split.
    pub(crate) fn scopes(&self) -> Vec<String> {
        self.scope.as_deref().map(super::challenge::split_scopes).unwrap_or_default()
    }
}

/// One authorization server's token endpoint, for one client.
pub(crate) struct TokenEndpoint<'a> {
    /// Makes the request.
    pub(crate) http: &'a AuthHttp,
    /// The endpoint URL.
    pub(crate) url: &'a str,
    /// The server's issuer (the audience of a JWT assertion).
    pub(crate) issuer: &'a str,
    /// The client.
    pub(crate) client: &'a Client,
    /// The signer, for `private_key_jwt`.
    pub(crate) assertion: Option<&'a ClientAssertion>,
}

impl TokenEndpoint<'_> {
    /// POSTs `grant` (the grant's own parameters) with the client's
    /// authentication; `requested` is the scope asked for, kept when the
    /// server does not say what it granted.
    pub(crate) fn request(
        &self,
        grant: &[(&str, &str)],
        requested: Option<&str>,
        step: AuthStep,
        deadline: Instant,
    ) -> Result<TokenSet> {
        let mut form: Vec<(&str, &str)> = grant.to_vec();
        let client = self.client;
        let mut basic = None;
        let assertion;
        match client.method {
            AuthMethod::None => form.push(("client_id", &client.id)),
            AuthMethod::SecretPost => {
                form.push(("client_id", &client.id));
                form.push(("client_secret", client.secret.as_deref().unwrap_or("")));
            }
            AuthMethod::SecretBasic => {
                // RFC 6749 §2.3.1: both parts form-encoded before base64.
                let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                let pair = format!("{}:{}", enc(&client.id), enc(client.secret.as_deref().unwrap_or("")));
                basic = Some(format!("Basic {}", STANDARD.encode(pair)));
            }
            AuthMethod::PrivateKeyJwt => {
                let signer = self.assertion.ok_or_else(|| {
                    Error::auth(
                        step,
                        "private_key_jwt needs a private key (auth.private_key_file or auth.private_key_env)",
                    )
                })?;
                assertion = signer.sign(self.issuer)?;
                form.push(("client_id", &client.id));
                form.push(("client_assertion_type", ASSERTION_TYPE));
                form.push(("client_assertion", &assertion));
            }
        }
        let reply = self.http.post_form(self.url, &form, basic.as_deref(), step, deadline)?;
        if !reply.ok() {
            return Err(Error::auth(
                step,
                format!("{} refused the request: {}", self.url, reply.describe_error()),
            ));
        }
        let bad = |why: String| Error::auth(step, format!("invalid token response from {}: {why}", self.url));
        let doc = reply.json_object().map_err(bad)?;
        parse_token_response(&doc, requested).map_err(bad)
    }
}

/// Reads a successful token response (RFC 6749 §5.1).
pub(crate) fn parse_token_response(
    doc: &serde_json::Map<String, Value>,
    requested: Option<&str>,
) -> std::result::Result<TokenSet, String> {
    let access_token = match doc.get("access_token") {
        Some(Value::String(t)) if !t.is_empty() => t.clone(),
        _ => return Err("it has no access_token".into()),
    };
    match doc.get("token_type").and_then(Value::as_str) {
        Some(t) if t.eq_ignore_ascii_case("bearer") => {}
        None => {} // lenient: some servers omit it for bearer tokens
        Some(other) => return Err(format!("token type {other} is not supported (only Bearer)")),
    }
    let expires_in = match doc.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    let obtained_at = SystemTime::now();
    let expires_at = expires_in
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| obtained_at + Duration::from_secs_f64(s.min(10.0 * 365.0 * 86_400.0)));
    let text = |key: &str| doc.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    Ok(TokenSet {
        access_token,
        refresh_token: text("refresh_token"),
        expires_at,
        obtained_at,
        scope: text("scope").or_else(|| requested.map(str::to_owned)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> std::result::Result<TokenSet, String> {
        parse_token_response(v.as_object().unwrap(), Some("a b"))
    }

    #[test]
    fn token_responses() {
        let t = parse(
            json!({"access_token": "tok", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "r"}),
        )
        .unwrap();
        assert_eq!(t.scope.as_deref(), Some("a b"));
        assert!(!t.expired(Duration::from_secs(60)));
        assert!(t.expired(Duration::from_secs(4000)));
        assert_eq!(t.refresh_token.as_deref(), Some("r"));
        let t =
            parse(json!({"access_token": "tok", "token_type": "bearer", "expires_in": "60", "scope": "x"}))
                .unwrap();
        assert_eq!(t.scopes(), ["x"]);
        assert!(t.expires_at.is_some());
        assert!(parse(json!({"token_type": "Bearer"})).is_err());
        assert!(parse(json!({"access_token": "t", "token_type": "DPoP"})).is_err());
        let debug =
            format!("{:?}", parse(json!({"access_token": "s3cr3t", "refresh_token": "r3fr3sh"})).unwrap());
        assert!(!debug.contains("s3cr3t") && !debug.contains("r3fr3sh"), "{debug}");
    }
}
