//! The stateless protocol era (2026-07-28): which requests belong to it,
//! their per-request `_meta` (protocol version, client capabilities, client
//! info, log level), its error codes and the fields its results carry
//! (`resultType`, `ttlMs` / `cacheScope`, `_meta` server info).
//!
//! The server is dual-era by default: a request whose `params._meta` names a
//! protocol version is served statelessly, without `initialize` or a session;
//! anything else gets the 2025-11-25 behaviour. `--era` restricts it to one.

use serde_json::{Map, Value, json};

use super::rpc;
use super::tools::LOG_LEVELS;

/// The modern version the server speaks.
pub const MODERN_VERSION: &str = "2026-07-28";

/// The `_meta` keys of the stateless era.
pub mod keys {
    /// The request's protocol version.
    pub const PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
    /// The client's capabilities (per request).
    pub const CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
    /// The least severe log level the request wants messages for.
    pub const LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
    /// The server's name and version, on results.
    pub const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
    /// The listen request a notification belongs to.
    pub const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";
}

/// A header does not match the body, or a required one is missing.
pub const HEADER_MISMATCH: i64 = -32020;
/// The server does not speak the request's version (`data.supported`).
pub const UNSUPPORTED_VERSION: i64 = -32022;

/// Which eras the server speaks (`--era`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Eras {
    /// Both: `initialize` and sessions, and stateless requests.
    #[default]
    Both,
    /// 2025-11-25 (and older) only: `server/discover` is an unknown method.
    Handshake,
    /// 2026-07-28 only: `initialize` is refused with `-32022`.
    Stateless,
}

impl Eras {
    /// Parses `--era`'s value.
    pub fn parse(text: &str) -> Result<Eras, String> {
        match text {
            "both" => Ok(Eras::Both),
            "2025-11-25" | "handshake" => Ok(Eras::Handshake),
            "2026-07-28" | "stateless" => Ok(Eras::Stateless),
            other => Err(format!("--era expects both, 2025-11-25 or 2026-07-28, got {other:?}")),
        }
    }

    /// Whether stateless requests are served.
    pub fn modern(self) -> bool {
        self != Eras::Handshake
    }

    /// Whether `initialize` is served.
    pub fn handshake(self) -> bool {
        self != Eras::Stateless
    }
}

/// What a stateless request says about its client, from its `_meta`.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestMeta {
    /// The protocol version it speaks.
    pub version: String,
    /// The capabilities it declares (an object).
    pub capabilities: Value,
    /// The least severe log level wanted (index into `LOG_LEVELS`); none: no log messages.
    pub log_level: Option<usize>,
}

impl RequestMeta {
    /// Whether the client declared `name` (`sampling`, `elicitation`, `roots`) as an object.
    pub fn has_capability(&self, name: &str) -> bool {
        self.capabilities.get(name).is_some_and(Value::is_object)
    }
}

/// The protocol version a request's `_meta` names, if any.
pub fn requested_version(params: &Value) -> Option<&Value> {
    params.get("_meta")?.get(keys::PROTOCOL_VERSION)
}

/// A JSON-RPC error response with `data`.
pub fn error_with(id: Value, code: i64, message: &str, data: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message, "data": data}})
}

/// `-32022` for `requested`, naming what the server supports.
pub fn unsupported_version(id: Value, requested: &str, supported: &[String]) -> Value {
    error_with(
        id,
        UNSUPPORTED_VERSION,
        "Unsupported protocol version",
        json!({"supported": supported, "requested": requested}),
    )
}

/// Reads and checks a stateless request's `_meta`; the error response when
/// it is malformed or names a version the server does not speak.
pub fn parse_meta(id: &Value, params: &Value, supported: &[String]) -> Result<RequestMeta, Value> {
    let invalid = |m: &str| rpc::error(id.clone(), rpc::INVALID_PARAMS, m);
    let meta =
        params.get("_meta").and_then(Value::as_object).ok_or_else(|| invalid("Missing params._meta"))?;
    let version = match meta.get(keys::PROTOCOL_VERSION) {
        Some(Value::String(v)) => v.clone(),
        _ => return Err(invalid(&format!("_meta[{:?}] must be a string", keys::PROTOCOL_VERSION))),
    };
    if !supported.contains(&version) {
        return Err(unsupported_version(id.clone(), &version, supported));
    }
    let capabilities = match meta.get(keys::CLIENT_CAPABILITIES) {
        Some(c @ Value::Object(_)) => c.clone(),
        _ => return Err(invalid(&format!("Missing _meta[{:?}] (an object)", keys::CLIENT_CAPABILITIES))),
    };
    let log_level = match meta.get(keys::LOG_LEVEL) {
        None | Some(Value::Null) => None,
        Some(level) => Some(
            level
                .as_str()
                .and_then(|l| LOG_LEVELS.iter().position(|x| *x == l))
                .ok_or_else(|| invalid(&format!("Invalid log level: {level}")))?,
        ),
    };
    Ok(RequestMeta { version, capabilities, log_level })
}

/// The server's name and version.
pub fn server_info() -> Value {
    json!({"name": "mcpstore-demo-server", "version": env!("CARGO_PKG_VERSION")})
}

/// How long list and discover results stay fresh (SEP-2549). The lists
/// change at run time, but every change is announced to subscriptions.
pub const LIST_TTL_MS: u64 = 10_000;

/// Completes a stateless result: `resultType` (unless the result has one),
/// and for `method`s whose results are cacheable `ttlMs` / `cacheScope`
/// plus the server info in `_meta` (discover and lists only: a tool's,
/// prompt's or resource's `_meta` is its own).
pub fn decorate(method: &str, result: &mut Value) {
    let Value::Object(m) = result else { return };
    if !m.contains_key("resultType") {
        m.insert("resultType".into(), json!("complete"));
    }
    if m.get("resultType").and_then(Value::as_str) != Some("complete") {
        return; // input_required results are never cacheable
    }
    let (ttl, listing) = match method {
        "server/discover" | "tools/list" | "prompts/list" | "resources/list" | "resources/templates/list" => {
            (LIST_TTL_MS, true)
        }
        // Notes change at any time; subscribers hear of it.
        "resources/read" => (0, false),
        _ => return,
    };
    m.insert("ttlMs".into(), json!(ttl));
    m.insert("cacheScope".into(), json!("public"));
    if listing {
        let meta = m.entry("_meta").or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(meta) = meta {
            meta.insert(keys::SERVER_INFO.into(), server_info());
        }
    }
}

/// Whether `method` exists in the stateless era (the others, such as
/// `initialize`, `ping`, `logging/setLevel` and `resources/subscribe`, do not).
pub fn has_method(method: &str) -> bool {
    matches!(
        method,
        "server/discover"
            | "subscriptions/listen"
            | "tools/list"
            | "tools/call"
            | "resources/list"
            | "resources/templates/list"
            | "resources/read"
            | "prompts/list"
            | "prompts/get"
            | "completion/complete"
    )
}

/// Standard Base64 decoding (the `=?base64?...?=` form of HTTP header values).
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value(*c)? << (18 - 6 * i);
        }
        let got = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&got[..chunk.len() - 1]);
    }
    Some(out)
}

/// A header value as sent: plain, or the Base64 sentinel form decoded.
pub fn header_value(raw: &str) -> Option<String> {
    match raw.strip_prefix("=?base64?").and_then(|r| r.strip_suffix("?=")) {
        Some(encoded) => String::from_utf8(base64_decode(encoded)?).ok(),
        None => Some(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::base64;

    fn meta(extra: Value) -> Value {
        let mut m = json!({
            keys::PROTOCOL_VERSION: MODERN_VERSION,
            keys::CLIENT_CAPABILITIES: {"sampling": {}},
            "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
        });
        if let (Value::Object(m), Value::Object(e)) = (&mut m, extra) {
            m.extend(e);
        }
        json!({"_meta": m})
    }

    #[test]
    fn meta_is_read_and_checked() {
        let supported = vec![MODERN_VERSION.to_owned()];
        let id = json!(1);
        let m = parse_meta(&id, &meta(json!({})), &supported).unwrap();
        assert_eq!(m.version, MODERN_VERSION);
        assert!(m.has_capability("sampling") && !m.has_capability("roots"));
        assert_eq!(m.log_level, None);
        let m = parse_meta(&id, &meta(json!({keys::LOG_LEVEL: "warning"})), &supported).unwrap();
        assert_eq!(m.log_level, Some(3));
        let e = parse_meta(&id, &meta(json!({keys::LOG_LEVEL: "loud"})), &supported).unwrap_err();
        assert_eq!(e["error"]["code"], -32602);
        let e =
            parse_meta(&id, &meta(json!({keys::PROTOCOL_VERSION: "2099-01-01"})), &supported).unwrap_err();
        assert_eq!(e["error"]["code"], UNSUPPORTED_VERSION);
        assert_eq!(e["error"]["data"], json!({"supported": [MODERN_VERSION], "requested": "2099-01-01"}));
        let e = parse_meta(&id, &meta(json!({keys::CLIENT_CAPABILITIES: null})), &supported).unwrap_err();
        assert_eq!(e["error"]["code"], -32602);
        assert_eq!(parse_meta(&id, &json!({}), &supported).unwrap_err()["error"]["code"], -32602);
    }

    #[test]
    fn results_are_decorated() {
        let mut r = json!({"tools": []});
        decorate("tools/list", &mut r);
        assert_eq!(r["resultType"], "complete");
        assert_eq!(r["ttlMs"], LIST_TTL_MS);
        assert_eq!(r["cacheScope"], "public");
        assert_eq!(r["_meta"][keys::SERVER_INFO]["name"], "mcpstore-demo-server");
        let mut call = json!({"content": [], "_meta": {"demo": true}});
        decorate("tools/call", &mut call);
        assert_eq!(call, json!({"content": [], "_meta": {"demo": true}, "resultType": "complete"}));
        let mut asking = json!({"resultType": "input_required", "requestState": "s"});
        decorate("tools/call", &mut asking);
        assert_eq!(asking, json!({"resultType": "input_required", "requestState": "s"}));
        let mut read = json!({"contents": []});
        decorate("resources/read", &mut read);
        assert_eq!(read["ttlMs"], 0);
        assert!(read.get("_meta").is_none());
    }

    #[test]
    fn header_values_decode() {
        for s in ["", "f", "fo", "foo", "Hello, 世界", "=?base64?literal?="] {
            assert_eq!(base64_decode(&base64(s.as_bytes())).unwrap(), s.as_bytes(), "{s}");
        }
        assert_eq!(header_value("=?base64?SGVsbG8sIOS4lueVjA==?=").as_deref(), Some("Hello, 世界"));
        assert_eq!(header_value("plain").as_deref(), Some("plain"));
        assert_eq!(header_value("=?base64?***?="), None);
        assert_eq!(Eras::parse("2026-07-28"), Ok(Eras::Stateless));
        assert!(Eras::parse("x").is_err());
    }
}
