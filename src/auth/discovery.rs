//! Discovery: from a refusal to the authorization server's endpoints.
//!
//! The Protected Resource Metadata comes from the challenge's
//! `resource_metadata`, else the path-based well-known URL, else the root
//! (RFC 9728 §3.1); its `resource` must identify this server (RFC 8707).
//! The authorization server's metadata is looked up in the MCP
//! specification's order (RFC 8414 path-aware, then OpenID Connect) and its
//! `issuer` must be the one the resource named. A server without Protected
//! Resource Metadata is a 2025-03-26 server: its metadata is at its origin,
//! or, with none at all, its endpoints are `/authorize`, `/token` and
//! `/register` there.
//!
//! A document that is missing is skipped for the next candidate; one that is
//! there but wrong stops discovery with an error saying what is wrong.

use std::time::Instant;

use super::challenge::Challenge;
use super::http::AuthHttp;
use super::metadata::{ProtectedResource, ServerMetadata};
use super::url::{self, is_secure_endpoint, resource_matches};
use crate::error::{AuthStep, Error, Result};

/// How the authorization server was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// Through the server's Protected Resource Metadata (2025-06-18 and later).
    ProtectedResource,
    /// Metadata at the server's origin, without Protected Resource Metadata (2025-03-26).
    LegacyMetadata,
    /// No metadata at all: the default endpoints at the server's origin (2025-03-26).
    LegacyDefaults,
}

/// What discovery found for one server.
#[derive(Debug, Clone)]
pub(crate) struct Discovery {
    /// The `resource` to send in authorization and token requests, verbatim.
    pub(crate) resource: String,
    /// The server's Protected Resource Metadata, when it has one.
    pub(crate) protected: Option<ProtectedResource>,
    /// The authorization server.
    pub(crate) server: ServerMetadata,
    /// How it was found.
    pub(crate) source: Source,
}

/// Discovers the authorization server of `server_url` after `challenge`, by `deadline`.
pub(crate) fn discover(
    http: &AuthHttp,
    server_url: &str,
    challenge: &Challenge,
    deadline: Instant,
) -> Result<Discovery> {
    match protected_resource(http, server_url, challenge, deadline)? {
        Some(protected) => {
            if protected.authorization_servers.len() > 1 {
                log::debug!(target: "mcpstore::auth", "{} names {} authorization servers; using the first", protected.url, protected.authorization_servers.len());
            }
            let issuer = protected.authorization_servers[0].clone();
            let server = server_metadata(http, &issuer, deadline)?;
            Ok(Discovery {
                resource: protected.resource.clone(),
                protected: Some(protected),
                server,
                source: Source::ProtectedResource,
            })
        }
        None => legacy(http, server_url, deadline),
    }
}

/// The first Protected Resource Metadata document found, checked.
fn protected_resource(
    http: &AuthHttp,
    server_url: &str,
    challenge: &Challenge,
    deadline: Instant,
) -> Result<Option<ProtectedResource>> {
    let mut candidates: Vec<String> = challenge.resource_metadata.iter().cloned().collect();
    candidates.extend(url::protected_resource_candidates(server_url));
    for location in candidates {
        let reply = match http.get(&location, true, AuthStep::ProtectedResource, deadline) {
            Ok(r) => r,
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(e) => {
                log::debug!(target: "mcpstore::auth", "no protected resource metadata at {location}: {e}");
                continue;
            }
        };
        if !reply.ok() {
            log::debug!(target: "mcpstore::auth", "no protected resource metadata at {location} (HTTP {})", reply.status);
            continue;
        }
        let bad = |why: String| {
            Error::auth(
                AuthStep::ProtectedResource,
                format!("invalid protected resource metadata at {location}: {why}"),
            )
        };
        let protected =
            ProtectedResource::parse(&location, &reply.json_object().map_err(bad)?).map_err(bad)?;
        if !resource_matches(&protected.resource, server_url) {
            return Err(Error::auth(
                AuthStep::ProtectedResource,
                format!(
                    "the protected resource metadata at {location} is for resource {}, not for this server ({server_url}); refusing to authorize",
                    protected.resource
                ),
            ));
        }
        return Ok(Some(protected));
    }
    Ok(None)
}

/// The metadata of the authorization server `issuer`.
fn server_metadata(http: &AuthHttp, issuer: &str, deadline: Instant) -> Result<ServerMetadata> {
    if !is_secure_endpoint(issuer) {
        return Err(Error::auth(
            AuthStep::ServerMetadata,
            format!("authorization server {issuer} is neither https:// nor on a loopback address"),
        ));
    }
    let candidates = url::server_metadata_candidates(issuer);
    for location in &candidates {
        let Some(meta) = fetch_metadata(http, location, deadline)? else { continue };
        // RFC 8414 §3.3: the metadata must be the issuer's own (one trailing slash aside).
        if meta.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(Error::auth(
                AuthStep::ServerMetadata,
                format!("the metadata at {location} is for issuer {}, not {issuer}", meta.issuer),
            ));
        }
        return Ok(meta);
    }
    Err(Error::auth(
        AuthStep::ServerMetadata,
        format!("no metadata for authorization server {issuer} (tried {})", candidates.join(", ")),
    ))
}

/// A 2025-03-26 server: metadata at its origin, else its default endpoints.
fn legacy(http: &AuthHttp, server_url: &str, deadline: Instant) -> Result<Discovery> {
    let origin = url::origin(server_url).ok_or_else(|| {
        Error::auth(
            AuthStep::ProtectedResource,
            format!("cannot discover authorization for URL {server_url}"),
        )
    })?;
    // Without Protected Resource Metadata the resource is the server's own URL.
    let resource = server_url.split('#').next().unwrap_or(server_url).to_owned();
    for location in url::server_metadata_candidates(&origin) {
        if let Some(server) = fetch_metadata(http, &location, deadline)? {
            if server.issuer.trim_end_matches('/') != origin {
                // Lenient here: 2025-03-26 servers often name a sub-path issuer.
                log::debug!(target: "mcpstore::auth", "metadata at {location} names issuer {}", server.issuer);
            }
            return Ok(Discovery { resource, protected: None, server, source: Source::LegacyMetadata });
        }
    }
    if !is_secure_endpoint(&origin) {
        return Err(Error::auth(
            AuthStep::ServerMetadata,
            format!(
                "no authorization metadata for {server_url}, and {origin} is neither https:// nor on a loopback address"
            ),
        ));
    }
    log::debug!(target: "mcpstore::auth", "no authorization metadata for {server_url}; using the default endpoints at {origin}");
    Ok(Discovery {
        resource,
        protected: None,
        server: ServerMetadata::fallback(&origin),
        source: Source::LegacyDefaults,
    })
}

/// Reads one metadata document: `None` when it is not there, an error when it is wrong.
fn fetch_metadata(http: &AuthHttp, location: &str, deadline: Instant) -> Result<Option<ServerMetadata>> {
    let reply = match http.get(location, true, AuthStep::ServerMetadata, deadline) {
        Ok(r) => r,
        Err(e) if Instant::now() >= deadline => return Err(e),
        Err(e) => {
            log::debug!(target: "mcpstore::auth", "no authorization server metadata at {location}: {e}");
            return Ok(None);
        }
    };
    if !reply.ok() {
        return Ok(None);
    }
    let bad = |why: String| {
        Error::auth(
            AuthStep::ServerMetadata,
            format!("invalid authorization server metadata at {location}: {why}"),
        )
    };
    ServerMetadata::parse(&reply.json_object().map_err(bad)?).map(Some).map_err(bad)
}
