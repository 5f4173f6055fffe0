//! URL handling for discovery: origins, well-known locations, the RFC 8707
//! comparison of a resource with the server URL, queries.
//!
//! URLs are kept as the strings the servers published: a parser that
//! normalizes (`http://host:1` becoming `http://host:1/`) would change the
//! `resource` sent to the authorization server, which must be the one the
//! Protected Resource Metadata names, byte for byte. So this module splits
//! strings and compares parts; it never rebuilds a URL it was given.

use crate::config::is_loopback;

/// The parts of an absolute `http(s)` URL, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parts<'a> {
    /// `http` or `https` (as written).
    pub(crate) scheme: &'a str,
    /// `host[:port]` without user information.
    pub(crate) authority: &'a str,
    /// The host (IPv6 without brackets).
    pub(crate) host: &'a str,
    /// The port, if written.
    pub(crate) port: Option<&'a str>,
    /// The path, possibly empty.
    pub(crate) path: &'a str,
    /// The query without `?`.
    pub(crate) query: Option<&'a str>,
    /// The fragment without `#`.
    pub(crate) fragment: Option<&'a str>,
}

/// Splits an absolute `http://` or `https://` URL.
pub(crate) fn parse(url: &str) -> Option<Parts<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let (rest, fragment) = match rest.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (rest, None),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() || port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    Some(Parts { scheme, authority, host, port, path, query, fragment })
}

impl Parts<'_> {
    /// `scheme://authority`.
    pub(crate) fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }

    /// The port, with the scheme's default when none is written.
    fn effective_port(&self) -> &str {
        match self.port {
            Some(p) => p,
            None if self.scheme.eq_ignore_ascii_case("https") => "443",
            None => "80",
        }
    }

    /// Whether both name the same origin (scheme and host compared without
    /// case, default ports filled in).
    pub(crate) fn same_origin(&self, other: &Parts<'_>) -> bool {
        self.scheme.eq_ignore_ascii_case(other.scheme)
            && self.host.eq_ignore_ascii_case(other.host)
            && self.effective_port().trim_start_matches('0') == other.effective_port().trim_start_matches('0')
    }
}

/// The origin (`scheme://authority`) of a URL.
pub(crate) fn origin(url: &str) -> Option<String> {
    parse(url).map(|p| p.origin())
}

/// Where the Protected Resource Metadata of `server_url` may be, in order
/// (RFC 9728 §3.1): under the well-known prefix with the server's path, then
/// at the root.
pub(crate) fn protected_resource_candidates(server_url: &str) -> Vec<String> {
    let Some(p) = parse(server_url) else { return Vec::new() };
    let origin = p.origin();
    let path = p.path.trim_end_matches('/');
    let mut out = Vec::with_capacity(2);
    if !path.is_empty() {
        out.push(format!("{origin}/.well-known/oauth-protected-resource{path}"));
    }
    out.push(format!("{origin}/.well-known/oauth-protected-resource"));
    out
}

/// Where an issuer's metadata may be, in the MCP specification's order:
/// RFC 8414 path-aware, then OpenID Connect Discovery (path inserted, then appended).
pub(crate) fn server_metadata_candidates(issuer: &str) -> Vec<String> {
    let Some(p) = parse(issuer) else { return Vec::new() };
    let origin = p.origin();
    let path = p.path.trim_end_matches('/');
    if path.is_empty() {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server"),
            format!("{origin}/.well-known/openid-configuration"),
        ]
    } else {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
            format!("{origin}/.well-known/openid-configuration{path}"),
            format!("{origin}{path}/.well-known/openid-configuration"),
        ]
    }
}

/// Whether `resource` identifies the server at `server_url` (RFC 8707 §2,
/// RFC 9728 §3.3): the same origin, no fragment, and a path that is the
/// server's path or a parent of it (compared by segments, one trailing slash
/// ignored). A resource with a query must equal the server URL.
pub(crate) fn resource_matches(resource: &str, server_url: &str) -> bool {
    let (Some(r), Some(s)) = (parse(resource), parse(server_url)) else { return false };
    if r.fragment.is_some() || !r.same_origin(&s) {
        return false;
    }
    if r.query.is_some() {
        return r.query == s.query && r.path.trim_end_matches('/') == s.path.trim_end_matches('/');
    }
    let segments = |path: &str| -> Vec<String> {
        path.trim_end_matches('/').split('/').filter(|x| !x.is_empty()).map(str::to_owned).collect()
    };
    let (rs, ss) = (segments(r.path), segments(s.path));
    rs.len() <= ss.len() && rs.iter().zip(&ss).all(|(a, b)| a == b)
}

/// Whether an authorization server endpoint may be used: HTTPS, or plain
/// HTTP on a loopback address (local development and tests).
pub(crate) fn is_secure_endpoint(url: &str) -> bool {
    match parse(url) {
        Some(p) if p.scheme.eq_ignore_ascii_case("https") => true,
        Some(p) => is_loopback(p.host),
        None => false,
    }
}

/// `base` with `params` added to its query (form-encoded).
pub(crate) fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    let mut encoded = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        encoded.append_pair(k, v);
    }
    let encoded = encoded.finish();
    // A fragment has no place in an endpoint URL (RFC 6749 §3.1): dropped.
    let base = base.split('#').next().unwrap_or(base);
    let sep = if base.contains('?') { if base.ends_with(['?', '&']) { "" } else { "&" } } else { "?" };
    format!("{base}{sep}{encoded}")
}

/// The decoded query parameters of a URL.
pub(crate) fn query_params(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let query = query.split('#').next().unwrap_or("");
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

/// Whether `redirect` goes to the endpoint `expected` (same origin and path;
/// queries and fragments aside).
pub(crate) fn same_endpoint(redirect: &str, expected: &str) -> bool {
    match (parse(redirect), parse(expected)) {
        (Some(a), Some(b)) => {
            a.same_origin(&b) && a.path.trim_end_matches('/') == b.path.trim_end_matches('/')
        }
        _ => false,
    }
}

/// `location` made absolute against `base` (an absolute URL is kept as is).
pub(crate) fn resolve(base: &str, location: &str) -> String {
    if parse(location).is_some() {
        return location.to_owned();
    }
    let Some(p) = parse(base) else { return location.to_owned() };
    if location.starts_with('/') {
        format!("{}{location}", p.origin())
    } else {
        let dir = p.path.rsplit_once('/').map_or("", |(d, _)| d);
        format!("{}{dir}/{location}", p.origin())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        let p = parse("https://user@Example.com:8443/a/b?x=1#f").unwrap();
        assert_eq!((p.scheme, p.host, p.port, p.path), ("https", "Example.com", Some("8443"), "/a/b"));
        assert_eq!((p.query, p.fragment), (Some("x=1"), Some("f")));
        assert_eq!(p.origin(), "https://Example.com:8443");
        let p = parse("http://[::1]:9/mcp").unwrap();
        assert_eq!((p.host, p.port), ("::1", Some("9")));
        assert_eq!(parse("http://localhost:3000").unwrap().path, "");
        assert!(
            parse("ftp://x/").is_none() && parse("http://:80/").is_none() && parse("http://h:x/").is_none()
        );
    }

    #[test]
    fn well_known_locations() {
        assert_eq!(
            protected_resource_candidates("https://example.com/public/mcp"),
            [
                "https://example.com/.well-known/oauth-protected-resource/public/mcp",
                "https://example.com/.well-known/oauth-protected-resource"
            ]
        );
        assert_eq!(
            protected_resource_candidates("http://localhost:3/"),
            ["http://localhost:3/.well-known/oauth-protected-resource"]
        );
        assert_eq!(
            server_metadata_candidates("https://auth.example.com/tenant1/"),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/.well-known/openid-configuration/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            server_metadata_candidates("http://localhost:4"),
            [
                "http://localhost:4/.well-known/oauth-authorization-server",
                "http://localhost:4/.well-known/openid-configuration"
            ]
        );
    }

    #[test]
    fn resources_match_by_origin_and_path_prefix() {
        let server = "http://localhost:3000/mcp";
        for ok in [
            "http://localhost:3000/mcp",
            "http://localhost:3000",
            "http://LOCALHOST:3000/",
            "http://localhost:3000/mcp/",
        ] {
            assert!(resource_matches(ok, server), "{ok}");
        }
        for bad in [
            "https://evil.example.com/mcp",
            "https://localhost:3000/mcp",
            "http://localhost:3001/mcp",
            "http://localhost:3000/mcp2",
            "http://localhost:3000/mcp/sub",
            "http://localhost:3000/mcp#x",
            "not a url",
        ] {
            assert!(!resource_matches(bad, server), "{bad}");
        }
        assert!(resource_matches("https://a.example/", "https://a.example:443/x"));
    }

    #[test]
    fn endpoints_queries_and_redirects() {
        assert!(is_secure_endpoint("https://as.example/token"));
        assert!(is_secure_endpoint("http://127.0.0.1:9/token"));
        assert!(!is_secure_endpoint("http://as.example/token"));
        assert_eq!(
            with_query("https://a/authorize", &[("a", "x y"), ("b", "&")]),
            "https://a/authorize?a=x+y&b=%26"
        );
        assert_eq!(with_query("https://a/authorize?t=1", &[("a", "1")]), "https://a/authorize?t=1&a=1");
        let q = query_params("http://localhost:3000/callback?code=abc&state=s%20t#frag");
        assert_eq!(q, [("code".to_owned(), "abc".to_owned()), ("state".to_owned(), "s t".to_owned())]);
        assert!(same_endpoint("http://127.0.0.1:5/callback?code=1", "http://127.0.0.1:5/callback"));
        assert!(!same_endpoint("http://127.0.0.1:6/callback?code=1", "http://127.0.0.1:5/callback"));
        assert_eq!(resolve("http://a:1/x/y", "/cb?c=1"), "http://a:1/cb?c=1");
        assert_eq!(resolve("http://a:1/x/y", "cb"), "http://a:1/x/cb");
        assert_eq!(resolve("http://a:1/x/y", "https://b/cb"), "https://b/cb");
    }
}
