//! Resources: what a server lists (`resources/list`, `resources/templates/list`)
//! and what `resources/read` returns. Every type keeps the fields it does not
//! know in `extra`, so nothing a server sends is lost.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A resource a server lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// Its URI (what `read_resource` takes).
    pub uri: String,
    /// A short name.
    #[serde(default)]
    pub name: String,
    /// A human-readable title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its MIME type, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Its size in bytes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Fields this client does not interpret (annotations, icons, `_meta`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A family of resources described by an RFC 6570 URI template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceTemplate {
    /// The URI template, for example `file:///{path}`.
    pub uri_template: String,
    /// A short name.
    #[serde(default)]
    pub name: String,
    /// A human-readable title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What its resources hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The MIME type of its resources, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Fields this client does not interpret.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One item of `resources/read`: text, or binary data kept as the server's base64.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceContents {
    /// The URI of this item (a resource may return several).
    pub uri: String,
    /// Its MIME type, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// The text, for a text resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The data in base64, for a binary resource (kept whole, as sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
    /// Fields this client does not interpret (`_meta`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ResourceContents {
    /// The bytes of a binary item (decoded from base64), or of a text item.
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        use base64::Engine as _;
        match (&self.blob, &self.text) {
            (Some(b), _) => base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .map_err(|e| format!("the blob of {} is not valid base64: {e}", self.uri)),
            (None, Some(t)) => Ok(t.as_bytes().to_vec()),
            (None, None) => Ok(Vec::new()),
        }
    }
}

/// The result of `resources/read`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ReadResourceResult {
    /// The items (usually one).
    #[serde(default)]
    pub contents: Vec<ResourceContents>,
    /// Fields this client does not interpret.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ReadResourceResult {
    /// The text of every text item, joined with newlines.
    pub fn text(&self) -> String {
        self.contents.iter().filter_map(|c| c.text.as_deref()).collect::<Vec<_>>().join("\n")
    }
}

/// Whether `uri` is one of the URIs `template` (RFC 6570, levels 1–3) describes.
pub(crate) fn template_matches(template: &str, uri: &str) -> bool {
    let parts = split_template(template);
    match_parts(&parts, uri)
}

/// A template as literal text and expressions (`{name}`, `{+path}`, `{/seg*}`, ...).
#[derive(Debug, PartialEq)]
enum Part<'a> {
    Literal(&'a str),
    /// An expression; `true` when it may span `/` (reserved, path and fragment expansions).
    Expression(bool),
}

fn split_template(template: &str) -> Vec<Part<'_>> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(Part::Literal(&rest[..open]));
        }
        let Some(close) = rest[open..].find('}') else {
            parts.push(Part::Literal(&rest[open..]));
            return parts;
        };
        let expr = &rest[open + 1..open + close];
        let spans_slashes = expr.starts_with(['+', '#', '/']) || expr.ends_with('*');
        parts.push(Part::Expression(spans_slashes));
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Literal(rest));
    }
    parts
}

/// Matches position by position (the offsets each part can end at), so a
/// template with many expressions costs `parts × len²` at worst, never an
/// exponential search a hostile template could trigger.
fn match_parts(parts: &[Part<'_>], uri: &str) -> bool {
    let len = uri.len();
    let mut reachable = vec![false; len + 1];
    reachable[0] = true;
    for part in parts {
        let mut next = vec![false; len + 1];
        for start in (0..=len).filter(|&i| reachable[i]) {
            let rest = &uri[start..];
            match part {
                Part::Literal(lit) => {
                    if rest.starts_with(lit) {
                        next[start + lit.len()] = true;
                    }
                }
                Part::Expression(spans_slashes) => {
                    // An expression takes at least one character, and no '/' unless it may.
                    let limit =
                        if *spans_slashes { rest.len() } else { rest.find('/').unwrap_or(rest.len()) };
                    for n in (1..=limit).filter(|&n| rest.is_char_boundary(n)) {
                        next[start + n] = true;
                    }
                }
            }
        }
        reachable = next;
        if !reachable.contains(&true) {
            return false;
        }
    }
    reachable[len]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_match_the_uris_they_describe() {
        assert!(template_matches("file:///{path}", "file:///a.txt"));
        assert!(!template_matches("file:///{path}", "file:///dir/a.txt"), "a simple expression stops at '/'");
        assert!(template_matches("file:///{+path}", "file:///dir/a.txt"));
        assert!(template_matches("test://static/resource/{id}", "test://static/resource/42"));
        assert!(!template_matches("test://static/resource/{id}", "test://static/resource/"));
        assert!(template_matches("db://{table}/{id}.json", "db://users/7.json"));
        assert!(!template_matches("db://{table}/{id}.json", "db://users/7.xml"));
        assert!(
            template_matches("exact://uri", "exact://uri")
                && !template_matches("exact://uri", "exact://urix")
        );
        // Many expressions against a long URI that does not match: answered at once.
        let hostile = "x://{+a}{+b}{+c}{+d}{+e}{+f}{+g}{+h}{+i}{+j}!";
        assert!(!template_matches(hostile, &format!("x://{}", "y".repeat(2000))));
    }

    #[test]
    fn contents_keep_text_and_blob_whole() {
        let r: ReadResourceResult = serde_json::from_value(json!({"contents": [
            {"uri": "a", "mimeType": "text/plain", "text": "hello"},
            {"uri": "b", "blob": "AAEC", "_meta": {"k": 1}}
        ]}))
        .unwrap();
        assert_eq!(r.text(), "hello");
        assert_eq!(r.contents[1].bytes().unwrap(), vec![0, 1, 2]);
        assert_eq!(r.contents[1].extra["_meta"], json!({"k": 1}));
        assert!(ResourceContents { blob: Some("!!".into()), ..r.contents[1].clone() }.bytes().is_err());
    }
}
