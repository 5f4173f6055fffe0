//! How a session's requests look on the wire, per protocol era.
//!
//! A handshake-era session (2025-11-25 and before) sends params as they are,
//! with `_meta.progressToken` when a call asked for progress. A modern
//! session (2026-07-28) sends `_meta` with the protocol version, the client's
//! capabilities and info, and the log level on every request. The `_meta`
//! fields of a modern session are encoded once; a request splices them (and
//! a multi round-trip retry's `inputResponses` and `requestState`) into its
//! params without parsing them again.

use serde_json::{Value, json};

use crate::protocol::LogLevel;
use crate::protocol::modern::{TASKS_EXTENSION, meta};

/// The wire of one session (replaced whole when the era, version or log level changes).
#[derive(Debug, Clone)]
pub(crate) struct Wire {
    /// The stateless era: per-request `_meta`, no `initialize`.
    pub(crate) modern: bool,
    /// The protocol version in use.
    pub(crate) version: String,
    /// The `_meta` fields every modern request carries (JSON object members, no braces).
    common_meta: String,
    capabilities: Value,
    client: Value,
    log_level: Option<LogLevel>,
}

impl Wire {
    /// The wire before the era is known: params as they are.
    pub(crate) fn legacy(version: &str) -> Wire {
        Wire {
            modern: false,
            version: version.to_owned(),
            common_meta: String::new(),
            capabilities: Value::Null,
            client: Value::Null,
            log_level: None,
        }
    }

    /// A modern wire for `version`, declaring `capabilities` (those of the
    /// handlers, plus the tasks extension) and the client's name and version.
    pub(crate) fn modern(
        version: &str,
        capabilities: &Value,
        client_name: &str,
        log_level: Option<LogLevel>,
    ) -> Wire {
        let mut capabilities = capabilities.clone();
        if let Value::Object(caps) = &mut capabilities {
            // 2026-07-28 roots have no listChanged: the server asks each time it needs them.
            if caps.contains_key("roots") {
                caps.insert("roots".into(), json!({}));
            }
            caps.insert("extensions".into(), json!({ TASKS_EXTENSION: {} }));
        }
        let client = json!({"name": client_name, "version": env!("CARGO_PKG_VERSION")});
        let mut wire = Wire {
            modern: true,
            version: version.to_owned(),
            common_meta: String::new(),
            capabilities,
            client,
            log_level,
        };
        wire.encode_meta();
        wire
    }

    /// The same wire with another log level (modern: it travels with every request).
    pub(crate) fn with_log_level(&self, level: Option<LogLevel>) -> Wire {
        let mut wire = self.clone();
        wire.log_level = level;
        if wire.modern {
            wire.encode_meta();
        }
        wire
    }

    /// The same modern wire at another version (after `-32022`).
    pub(crate) fn with_version(&self, version: &str) -> Wire {
        let mut wire = self.clone();
        wire.version = version.to_owned();
        if wire.modern {
            wire.encode_meta();
        }
        wire
    }

    fn encode_meta(&mut self) {
        let mut fields = serde_json::Map::new();
        fields.insert(meta::PROTOCOL_VERSION.into(), Value::String(self.version.clone()));
        fields.insert(meta::CLIENT_CAPABILITIES.into(), self.capabilities.clone());
        fields.insert(meta::CLIENT_INFO.into(), self.client.clone());
        if let Some(level) = self.log_level {
            fields.insert(meta::LOG_LEVEL.into(), Value::String(level.as_str().into()));
        }
        let object = Value::Object(fields).to_string();
        self.common_meta = object[1..object.len() - 1].to_owned();
    }

    /// Encodes one request, ending with a newline: `params` (a JSON object,
    /// or none), then `extra` members (a retry's inputs), then `_meta` with
    /// the wire's fields and `progress` as `progressToken`.
    pub(crate) fn encode(
        &self,
        buf: &mut Vec<u8>,
        id: i64,
        method: &str,
        params: Option<&[u8]>,
        extra: &str,
        progress: Option<&str>,
    ) {
        use std::io::Write as _;
        buf.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
        let _ = write!(buf, "{id}"); // into a Vec: cannot fail
        buf.extend_from_slice(b",\"method\":");
        serde_json::to_writer(&mut *buf, method).unwrap_or_default();
        let inner = params.and_then(object_members);
        let has_meta = self.modern || progress.is_some();
        if params.is_some() && inner.is_none() {
            // Not an object (never sent by this library): as it is, without `_meta`.
            buf.extend_from_slice(b",\"params\":");
            buf.extend_from_slice(params.unwrap_or(b"null"));
        } else if params.is_some() || !extra.is_empty() || has_meta {
            buf.extend_from_slice(b",\"params\":{");
            // Written in place, a comma before every member but the first.
            let mut first = true;
            let mut next_member = |buf: &mut Vec<u8>| {
                if !std::mem::take(&mut first) {
                    buf.push(b',');
                }
            };
            if let Some(inner) = inner.filter(|i| !i.is_empty()) {
                next_member(buf);
                buf.extend_from_slice(inner);
            }
            if !extra.is_empty() {
                next_member(buf);
                buf.extend_from_slice(extra.as_bytes());
            }
            if has_meta {
                next_member(buf);
                buf.extend_from_slice(b"\"_meta\":{");
                buf.extend_from_slice(self.common_meta.as_bytes());
                if let Some(token) = progress {
                    if !self.common_meta.is_empty() {
                        buf.push(b',');
                    }
                    buf.extend_from_slice(b"\"progressToken\":");
                    serde_json::to_writer(&mut *buf, token).unwrap_or_default();
                }
                buf.push(b'}');
            }
            buf.push(b'}');
        }
        buf.extend_from_slice(b"}\n");
    }
}

/// The members of a JSON object's text (between its braces), trimmed; `None`
/// when the text is not an object.
fn object_members(json: &[u8]) -> Option<&[u8]> {
    let json = json.trim_ascii();
    let inner = json.strip_prefix(b"{")?.strip_suffix(b"}")?;
    Some(inner.trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(wire: &Wire, params: Option<&str>, extra: &str, progress: Option<&str>) -> Value {
        let mut buf = Vec::new();
        wire.encode(&mut buf, 7, "tools/call", params.map(str::as_bytes), extra, progress);
        assert!(buf.ends_with(b"}\n"));
        serde_json::from_slice(&buf).unwrap()
    }

    #[test]
    fn legacy_requests_are_sent_as_they_are() {
        let wire = Wire::legacy("2025-11-25");
        assert_eq!(
            encoded(&wire, None, "", None),
            json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call"})
        );
        let v = encoded(&wire, Some(r#"{"name":"echo","arguments":{}}"#), "", Some("p-1"));
        assert_eq!(v["params"], json!({"name": "echo", "arguments": {}, "_meta": {"progressToken": "p-1"}}));
        assert_eq!(encoded(&wire, Some("{}"), "", None)["params"], json!({}));
    }

    #[test]
    fn modern_requests_carry_meta_and_retry_fields() {
        let caps = json!({"roots": {"listChanged": true}, "sampling": {}});
        let wire = Wire::modern("2026-07-28", &caps, "me", Some(LogLevel::Info));
        let v = encoded(&wire, None, "", None);
        let m = &v["params"]["_meta"];
        assert_eq!(m[meta::PROTOCOL_VERSION], "2026-07-28");
        assert_eq!(m[meta::CLIENT_CAPABILITIES]["roots"], json!({}));
        assert_eq!(m[meta::CLIENT_CAPABILITIES]["extensions"][TASKS_EXTENSION], json!({}));
        assert_eq!(m[meta::CLIENT_INFO]["name"], "me");
        assert_eq!(m[meta::LOG_LEVEL], "info");
        let retry = r#""inputResponses":{"k":{"action":"accept"}},"requestState":"s""#;
        let v = encoded(&wire, Some(r#"{"name":"t","arguments":{"a":1}}"#), retry, Some("p"));
        assert_eq!(v["params"]["name"], "t");
        assert_eq!(v["params"]["inputResponses"]["k"]["action"], "accept");
        assert_eq!(v["params"]["requestState"], "s");
        assert_eq!(v["params"]["_meta"]["progressToken"], "p");
        let quiet = wire.with_log_level(None).with_version("2026-07-28");
        assert!(encoded(&quiet, None, "", None)["params"]["_meta"].get(meta::LOG_LEVEL).is_none());
    }
}
