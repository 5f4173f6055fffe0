//! Where a legacy SSE server wants messages POSTed: the URI of its `endpoint`
//! event, resolved against the URL of the event stream (RFC 3986, section
//! 5.2) and kept on the stream's origin.
//!
//! The origin check matters: every POST carries the service's configured
//! headers (often `Authorization`), so a server must not be able to send them
//! to another host by naming it in its `endpoint` event.

/// A URL split into the parts resolution needs (the fragment is dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parts<'a> {
    scheme: &'a str,
    authority: &'a str,
    path: &'a str,
    query: Option<&'a str>,
}

impl<'a> Parts<'a> {
    /// Splits an absolute `http(s)://` URL; `None` for anything else.
    fn of(url: &'a str) -> Option<Parts<'a>> {
        let url = url.split('#').next().unwrap_or(url);
        let (scheme, rest) = url.split_once("://")?;
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return None;
        }
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, rest) = rest.split_at(end);
        if authority.is_empty() {
            return None;
        }
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        Some(Parts { scheme, authority, path, query })
    }

    /// The scheme and host:port in lower case, with the scheme's default port
    /// made explicit, so `http://H` and `http://h:80` compare equal.
    fn origin(&self) -> String {
        let scheme = self.scheme.to_ascii_lowercase();
        let authority = self.authority.rsplit('@').next().unwrap_or(self.authority).to_ascii_lowercase();
        let has_port = authority.rsplit_once(':').is_some_and(|(_, port)| !port.contains(']'));
        let default_port = if scheme == "https" { 443 } else { 80 };
        if has_port {
            format!("{scheme}://{authority}")
        } else {
            format!("{scheme}://{authority}:{default_port}")
        }
    }

    fn join(&self, path: &str, query: Option<&str>) -> String {
        let path = if path.is_empty() { "/" } else { path };
        match query {
            Some(q) => format!("{}://{}{path}?{q}", self.scheme, self.authority),
            None => format!("{}://{}{path}", self.scheme, self.authority),
        }
    }
}

/// Resolves `reference`, the data of an `endpoint` event, against `base`, the
/// URL of the event stream. The reference may be absolute (`http://h/m`),
/// network-path (`//h/m`), absolute-path (`/messages/?session_id=1`), query
/// only (`?session_id=1`) or relative (`messages`, `../m`). The result must
/// have the stream's origin. The error says why a reference cannot be used.
pub(crate) fn resolve_endpoint(base: &str, reference: &str) -> Result<String, String> {
    let base = Parts::of(base).ok_or_else(|| format!("the stream URL '{base}' is not an http(s) URL"))?;
    let reference = reference.trim();
    if reference.is_empty() {
        return Err("the endpoint event is empty".into());
    }
    if reference.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the endpoint contains spaces or control characters".into());
    }
    let reference = reference.split('#').next().unwrap_or(reference);
    let resolved = if let Some(rest) = reference.strip_prefix("//") {
        format!("{}://{rest}", base.scheme)
    } else if has_scheme(reference) {
        reference.to_owned()
    } else {
        let (path, query) = match reference.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (reference, None),
        };
        if path.is_empty() {
            base.join(base.path, query) // `?query`: same path, new query
        } else if path.starts_with('/') {
            base.join(&remove_dot_segments(path), query)
        } else {
            // Relative: replaces the last segment of the stream's path.
            let dir = base.path.rfind('/').map_or("/", |i| &base.path[..=i]);
            let dir = if dir.is_empty() { "/" } else { dir };
            base.join(&remove_dot_segments(&format!("{dir}{path}")), query)
        }
    };
    let parts =
        Parts::of(&resolved).ok_or_else(|| format!("the endpoint '{resolved}' is not an http(s) URL"))?;
    if parts.origin() != base.origin() {
        return Err(format!(
            "the endpoint '{resolved}' is on another origin than the stream ({}); refusing to send messages there",
            base.origin()
        ));
    }
    Ok(resolved)
}

/// Whether `reference` starts with a URI scheme (`name:` before any `/`, `?`).
fn has_scheme(reference: &str) -> bool {
    let Some(colon) = reference.find(':') else { return false };
    let scheme = &reference[..colon];
    scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Removes `.` and `..` segments from an absolute path (RFC 3986, 5.2.4).
fn remove_dot_segments(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    let mut out: Vec<&str> = Vec::with_capacity(segments.len());
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." | ".." => {
                if *segment == ".." {
                    out.pop();
                }
                if i == last {
                    out.push(""); // `/a/..` is the directory `/`, with its slash
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://127.0.0.1:8000/mcp/sse";

    #[test]
    fn resolves_every_kind_of_reference() {
        let cases = [
            ("/messages/?session_id=ab12", "http://127.0.0.1:8000/messages/?session_id=ab12"),
            ("messages?session_id=1", "http://127.0.0.1:8000/mcp/messages?session_id=1"),
            ("../messages", "http://127.0.0.1:8000/messages"),
            ("./a/./b/../c", "http://127.0.0.1:8000/mcp/a/c"),
            ("?session_id=1", "http://127.0.0.1:8000/mcp/sse?session_id=1"),
            ("http://127.0.0.1:8000/m?x=1", "http://127.0.0.1:8000/m?x=1"),
            ("//127.0.0.1:8000/m", "http://127.0.0.1:8000/m"),
            ("  /m#fragment \r\n", "http://127.0.0.1:8000/m"),
            ("/../../m", "http://127.0.0.1:8000/m"),
            ("/a/..", "http://127.0.0.1:8000/"),
        ];
        for (reference, expected) in cases {
            assert_eq!(resolve_endpoint(BASE, reference).as_deref(), Ok(expected), "{reference}");
        }
    }

    #[test]
    fn bases_without_a_path_and_default_ports() {
        assert_eq!(resolve_endpoint("http://h", "m").as_deref(), Ok("http://h/m"));
        assert_eq!(resolve_endpoint("http://h?x=1", "?y=2").as_deref(), Ok("http://h/?y=2"));
        assert_eq!(resolve_endpoint("http://H/sse", "HTTP://h:80/m").as_deref(), Ok("HTTP://h:80/m"));
        assert_eq!(resolve_endpoint("https://h/sse", "https://h:443/m").as_deref(), Ok("https://h:443/m"));
        assert_eq!(resolve_endpoint("http://[::1]:9/sse", "/m").as_deref(), Ok("http://[::1]:9/m"));
    }

    #[test]
    fn refuses_other_origins_and_bad_references() {
        for reference in [
            "http://evil.example/m",
            "https://127.0.0.1:8000/m", // another scheme is another origin
            "http://127.0.0.1:8001/m",
            "//evil.example/m",
            "javascript:alert(1)",
            "",
            "   ",
            "/m with space",
            "/m\u{7}",
        ] {
            assert!(resolve_endpoint(BASE, reference).is_err(), "{reference:?} must be refused");
        }
        let e = resolve_endpoint(BASE, "http://evil.example/m").unwrap_err();
        assert!(e.contains("another origin"), "{e}");
        assert!(resolve_endpoint("ftp://h/sse", "/m").is_err());
    }

    #[test]
    fn dot_segments() {
        assert_eq!(remove_dot_segments("/a/b/../c"), "/a/c");
        assert_eq!(remove_dot_segments("/a/b/"), "/a/b/");
        assert_eq!(remove_dot_segments("/a/b/."), "/a/b/");
        assert_eq!(remove_dot_segments("/"), "/");
        assert_eq!(remove_dot_segments("/.."), "/");
    }
}
