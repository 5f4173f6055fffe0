//! The `WWW-Authenticate` header of a refusal (RFC 9110 §11.6.1, RFC 6750
//! §3): the Bearer challenge's `error`, `scope` and `resource_metadata`.

/// What a Bearer challenge says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// Whether the header had a Bearer challenge at all.
    pub(crate) bearer: bool,
    /// `error`, for example `invalid_token` or `insufficient_scope`.
    pub(crate) error: Option<String>,
    /// `error_description`.
    pub(crate) error_description: Option<String>,
    /// `scope`: the space-separated scopes the server wants.
    pub(crate) scope: Option<String>,
    /// `resource_metadata`: where the Protected Resource Metadata is (RFC 9728 §5.1).
    pub(crate) resource_metadata: Option<String>,
}

impl Challenge {
    /// Parses a `WWW-Authenticate` value; a header without a Bearer challenge
    /// gives `bearer: false` and nothing else.
    pub(crate) fn parse(header: Option<&str>) -> Challenge {
        let mut challenge = Challenge::default();
        let Some(header) = header else { return challenge };
        let mut in_bearer = false;
        let mut rest = header;
        loop {
            rest = rest.trim_start_matches([' ', '\t', ',']);
            if rest.is_empty() {
                break;
            }
            let token_end = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
            let (token, after) = rest.split_at(token_end);
            if token.is_empty() {
                rest = &rest[rest.chars().next().map_or(1, char::len_utf8)..]; // skip a stray character
                continue;
            }
            let after_ws = after.trim_start_matches([' ', '\t']);
            if let Some(value_part) = after_ws.strip_prefix('=') {
                // `key=value` or `key="quoted value"`: a parameter of the current scheme.
                let (value, remaining) = read_value(value_part.trim_start_matches([' ', '\t']));
                if in_bearer {
                    challenge.set(token, value);
                }
                rest = remaining;
            } else {
                // A new scheme (or a token68 after one, which Bearer does not use).
                in_bearer = token.eq_ignore_ascii_case("bearer");
                challenge.bearer |= in_bearer;
                rest = after;
            }
        }
        challenge
    }

    fn set(&mut self, key: &str, value: String) {
        let slot = match key.to_ascii_lowercase().as_str() {
            "error" => &mut self.error,
            "error_description" => &mut self.error_description,
            "scope" => &mut self.scope,
            "resource_metadata" => &mut self.resource_metadata,
            _ => return,
        };
        if slot.is_none() {
            *slot = Some(value);
        }
    }

    /// Whether the server says the token lacks scopes (a step-up is wanted).
    pub(crate) fn insufficient_scope(&self) -> bool {
        self.error.as_deref() == Some("insufficient_scope")
    }

    /// The challenged scopes, split.
    pub(crate) fn scopes(&self) -> Vec<String> {
        self.scope.as_deref().map(split_scopes).unwrap_or_default()
    }
}

/// Splits a space-separated scope string.
pub(crate) fn split_scopes(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Reads a parameter value (quoted string or token); returns it and what follows.
fn read_value(s: &str) -> (String, &str) {
    if let Some(quoted) = s.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                '"' => return (value, &quoted[i + 1..]),
                c => value.push(c),
            }
        }
        (value, "") // an unterminated string runs to the end
    } else {
        let end = s.find([',', ' ', '\t']).unwrap_or(s.len());
        (s[..end].to_owned(), &s[end..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_challenges() {
        let c = Challenge::parse(Some(
            r#"Bearer error="invalid_token", error_description="Missing Authorization header", scope="mcp:basic", resource_metadata="http://localhost:3000/.well-known/oauth-protected-resource/mcp""#,
        ));
        assert!(c.bearer);
        assert_eq!(c.error.as_deref(), Some("invalid_token"));
        assert_eq!(c.error_description.as_deref(), Some("Missing Authorization header"));
        assert_eq!(c.scopes(), ["mcp:basic"]);
        assert_eq!(
            c.resource_metadata.as_deref(),
            Some("http://localhost:3000/.well-known/oauth-protected-resource/mcp")
        );
        // The step-up middleware puts `error` last.
        let c = Challenge::parse(Some(
            r#"Bearer scope="mcp:basic mcp:write", resource_metadata="http://x/prm", error="insufficient_scope""#,
        ));
        assert!(c.insufficient_scope());
        assert_eq!(c.scopes(), ["mcp:basic", "mcp:write"]);
    }

    #[test]
    fn other_schemes_tokens_and_escapes() {
        let c = Challenge::parse(Some(
            r#"Basic realm="x", Bearer realm=api, scope="a \"b\"", error=invalid_token"#,
        ));
        assert!(c.bearer);
        assert_eq!(c.scope.as_deref(), Some(r#"a "b""#));
        assert_eq!(c.error.as_deref(), Some("invalid_token"));
        let c = Challenge::parse(Some(r#"Basic realm="x", error="not-bearer""#));
        assert!(!c.bearer);
        assert_eq!(c.error, None);
        let c = Challenge::parse(Some("Bearer"));
        assert!(c.bearer && c.error.is_none());
        assert_eq!(Challenge::parse(None), Challenge::default());
        let c = Challenge::parse(Some(r#"bearer scope="unterminated"#));
        assert_eq!(c.scope.as_deref(), Some("unterminated"));
        assert!(!Challenge::parse(Some("Negotiate abc==, é")).bearer);
    }
}
