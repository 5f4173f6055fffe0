//! The two metadata documents of discovery, parsed and checked: Protected
//! Resource Metadata (RFC 9728) and authorization server metadata (RFC 8414,
//! OpenID Connect Discovery).

use serde_json::{Map, Value};

use super::url::is_secure_endpoint;

/// What a protected resource (the MCP server) says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProtectedResource {
    /// Where the document was read.
    pub(crate) url: String,
    /// The resource identifier, verbatim (sent as `resource`).
    pub(crate) resource: String,
    /// The authorization servers' issuers, in the document's order.
    pub(crate) authorization_servers: Vec<String>,
    /// `scopes_supported`.
    pub(crate) scopes_supported: Vec<String>,
}

impl ProtectedResource {
    /// Parses the document read at `url`; the error says what is wrong.
    pub(crate) fn parse(url: &str, doc: &Map<String, Value>) -> Result<ProtectedResource, String> {
        let resource = match doc.get("resource") {
            Some(Value::String(r)) if !r.is_empty() => r.clone(),
            _ => return Err("it has no \"resource\"".into()),
        };
        let authorization_servers = strings(doc, "authorization_servers")?;
        if authorization_servers.is_empty() {
            return Err("it names no \"authorization_servers\"".into());
        }
        Ok(ProtectedResource {
            url: url.to_owned(),
            resource,
            authorization_servers,
            scopes_supported: strings(doc, "scopes_supported")?,
        })
    }
}

/// What an authorization server says about itself (the fields this client uses).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ServerMetadata {
    /// `issuer`.
    pub(crate) issuer: String,
    /// `authorization_endpoint` (absent for a server that only issues client credentials).
    pub(crate) authorization_endpoint: Option<String>,
    /// `token_endpoint`.
    pub(crate) token_endpoint: String,
    /// `registration_endpoint` (Dynamic Client Registration).
    pub(crate) registration_endpoint: Option<String>,
    /// `scopes_supported`.
    pub(crate) scopes_supported: Vec<String>,
    /// `code_challenge_methods_supported` (`None`: the server published none).
    pub(crate) code_challenge_methods: Option<Vec<String>>,
    /// `token_endpoint_auth_methods_supported` (`None`: the RFC 8414 default, `client_secret_basic`).
    pub(crate) token_auth_methods: Option<Vec<String>>,
    /// `token_endpoint_auth_signing_alg_values_supported`.
    pub(crate) signing_algs: Vec<String>,
    /// `client_id_metadata_document_supported`.
    pub(crate) client_metadata_documents: bool,
    /// `authorization_response_iss_parameter_supported` (RFC 9207).
    pub(crate) iss_parameter: bool,
}

impl ServerMetadata {
    /// Parses a metadata document; the error says what is wrong.
    pub(crate) fn parse(doc: &Map<String, Value>) -> Result<ServerMetadata, String> {
        let text = |key: &str| -> Result<Option<String>, String> {
            match doc.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
                Some(_) => Err(format!("\"{key}\" is not a URL string")),
            }
        };
        let issuer = text("issuer")?.ok_or("it has no \"issuer\"")?;
        let token_endpoint = text("token_endpoint")?.ok_or("it has no \"token_endpoint\"")?;
        let meta = ServerMetadata {
            issuer,
            authorization_endpoint: text("authorization_endpoint")?,
            token_endpoint,
            registration_endpoint: text("registration_endpoint")?,
            scopes_supported: strings(doc, "scopes_supported")?,
            code_challenge_methods: optional_strings(doc, "code_challenge_methods_supported")?,
            token_auth_methods: optional_strings(doc, "token_endpoint_auth_methods_supported")?,
            signing_algs: strings(doc, "token_endpoint_auth_signing_alg_values_supported")?,
            client_metadata_documents: flag(doc, "client_id_metadata_document_supported"),
            iss_parameter: flag(doc, "authorization_response_iss_parameter_supported"),
        };
        meta.check_endpoints()?;
        Ok(meta)
    }

    /// The endpoints of a server with no metadata at all (2025-03-26
    /// servers): `/authorize`, `/token` and `/register` at `base`.
    pub(crate) fn fallback(base: &str) -> ServerMetadata {
        ServerMetadata {
            issuer: base.to_owned(),
            authorization_endpoint: Some(format!("{base}/authorize")),
            token_endpoint: format!("{base}/token"),
            registration_endpoint: Some(format!("{base}/register")),
            // The 2025-03-26 specification required PKCE of every client and server.
            code_challenge_methods: Some(vec!["S256".into()]),
            ..ServerMetadata::default()
        }
    }

    /// Every endpoint must be HTTPS (plain HTTP only on loopback addresses).
    fn check_endpoints(&self) -> Result<(), String> {
        let endpoints = [
            Some(&self.token_endpoint),
            self.authorization_endpoint.as_ref(),
            self.registration_endpoint.as_ref(),
        ];
        for url in endpoints.into_iter().flatten() {
            if !is_secure_endpoint(url) {
                return Err(format!("endpoint {url} is neither https:// nor on a loopback address"));
            }
        }
        Ok(())
    }

    /// Whether the server takes PKCE with S256.
    pub(crate) fn supports_s256(&self) -> bool {
        self.code_challenge_methods.as_ref().is_some_and(|m| m.iter().any(|x| x == "S256"))
    }

    /// Whether the token endpoint takes client authentication `method`.
    pub(crate) fn takes_auth_method(&self, method: &str) -> bool {
        match &self.token_auth_methods {
            Some(methods) => methods.iter().any(|m| m == method),
            None => method == "client_secret_basic", // RFC 8414 §2 default
        }
    }
}

fn strings(doc: &Map<String, Value>, key: &str) -> Result<Vec<String>, String> {
    optional_strings(doc, key).map(Option::unwrap_or_default)
}

fn optional_strings(doc: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, String> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| format!("\"{key}\" holds a non-string")))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(format!("\"{key}\" is not an array")),
    }
}

fn flag(doc: &Map<String, Value>, key: &str) -> bool {
    doc.get(key).and_then(Value::as_bool).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn protected_resource_documents() {
        let p = ProtectedResource::parse(
            "u",
            &obj(json!({"resource": "http://localhost:1", "authorization_servers": ["http://localhost:2"], "scopes_supported": ["a"]})),
        )
        .unwrap();
        assert_eq!(p.resource, "http://localhost:1");
        assert_eq!(p.scopes_supported, ["a"]);
        for bad in [
            json!({"authorization_servers": ["x"]}),
            json!({"resource": "r"}),
            json!({"resource": "r", "authorization_servers": []}),
            json!({"resource": "r", "authorization_servers": "x"}),
            json!({"resource": "r", "authorization_servers": [1]}),
        ] {
            assert!(ProtectedResource::parse("u", &obj(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_metadata_documents() {
        let m = ServerMetadata::parse(&obj(json!({
            "issuer": "http://localhost:2", "authorization_endpoint": "http://localhost:2/authorize",
            "token_endpoint": "http://localhost:2/token", "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"], "client_id_metadata_document_supported": true
        })))
        .unwrap();
        assert!(m.supports_s256() && m.client_metadata_documents);
        assert!(m.takes_auth_method("none") && !m.takes_auth_method("client_secret_basic"));
        let plain =
            ServerMetadata::parse(&obj(json!({"issuer": "https://a", "token_endpoint": "https://a/t"})))
                .unwrap();
        assert!(!plain.supports_s256());
        assert!(plain.takes_auth_method("client_secret_basic"));
        for bad in [
            json!({"token_endpoint": "https://a/t"}),
            json!({"issuer": "https://a"}),
            json!({"issuer": "https://a", "token_endpoint": "http://a.example/t"}),
            json!({"issuer": "https://a", "token_endpoint": 5}),
            json!({"issuer": "https://a", "token_endpoint": "https://a/t", "scopes_supported": "a b"}),
        ] {
            assert!(ServerMetadata::parse(&obj(bad.clone())).is_err(), "{bad}");
        }
    }
}
