//! The stateless protocol era (2026-07-28 and later): the per-request
//! `_meta` keys, `server/discover`, `resultType` and the multi round-trip
//! results (SEP-2322) that replace server-to-client requests.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::InitializeResult;
use super::messages::Implementation;

/// The newest protocol version this client speaks (the stateless era).
pub const MODERN_PROTOCOL_VERSION: &str = "2026-07-28";

/// Modern versions this client speaks, newest first.
pub const MODERN_VERSIONS: &[&str] = &[MODERN_PROTOCOL_VERSION];

/// Whether `version` belongs to the stateless era (no `initialize`).
pub fn is_modern(version: &str) -> bool {
    version >= MODERN_PROTOCOL_VERSION
}

/// The `_meta` keys every modern request carries.
pub(crate) mod meta {
    /// The request's protocol version.
    pub const PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
    /// The client's capabilities, per request.
    pub const CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
    /// The client's name and version.
    pub const CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
    /// The least severe log level the request wants messages for.
    pub const LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
    /// The server's name and version, on results.
    pub const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
    /// The subscription a notification belongs to (`subscriptions/listen`).
    pub const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";
}

/// JSON-RPC error codes of the modern era; any of them proves a modern server.
pub(crate) mod codes {
    /// A header does not match the body, or is missing.
    pub const HEADER_MISMATCH: i64 = -32020;
    /// The request needs a client capability that was not declared.
    pub const MISSING_CLIENT_CAPABILITY: i64 = -32021;
    /// The server does not speak the request's protocol version (`data.supported`).
    pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

    /// Whether `code` is one only a modern server sends.
    pub fn is_modern(code: i64) -> bool {
        matches!(code, HEADER_MISMATCH | MISSING_CLIENT_CAPABILITY | UNSUPPORTED_PROTOCOL_VERSION)
    }
}

/// The extension id of tasks (`io.modelcontextprotocol/tasks`).
pub(crate) const TASKS_EXTENSION: &str = "io.modelcontextprotocol/tasks";

/// A task of the tasks extension, as its server last described it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskInfo {
    /// The task's id.
    pub task_id: String,
    /// `working`, `input_required`, `completed`, `failed` or `cancelled`.
    pub status: String,
    /// What the server says about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// When it was created (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When it last changed (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated_at: Option<String>,
}

/// The answer to `server/discover`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DiscoverResult {
    #[serde(default)]
    pub supported_versions: Vec<String>,
    #[serde(default)]
    pub capabilities: Value,
    #[serde(default)]
    pub instructions: Option<String>,
    /// Some servers put it here instead of `_meta`.
    #[serde(default)]
    pub server_info: Option<Implementation>,
    #[serde(default, rename = "_meta")]
    pub meta: Option<Map<String, Value>>,
}

impl DiscoverResult {
    /// The version to speak: the newest one both sides support.
    pub(crate) fn choose_version(&self) -> Option<&'static str> {
        choose(&self.supported_versions)
    }

    /// The discovery as the session keeps a server's description (as `initialize` gives it).
    pub(crate) fn into_server_description(self, version: &str) -> InitializeResult {
        let server_info = self
            .meta
            .as_ref()
            .and_then(|m| m.get(meta::SERVER_INFO))
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .or(self.server_info)
            .unwrap_or_default();
        InitializeResult {
            protocol_version: version.to_owned(),
            capabilities: self.capabilities,
            server_info,
            instructions: self.instructions,
            extra: Map::new(),
        }
    }
}

/// The newest modern version this client and the list both have.
pub(crate) fn choose(supported: &[String]) -> Option<&'static str> {
    MODERN_VERSIONS.iter().find(|v| supported.iter().any(|s| s == *v)).copied()
}

/// The versions a `-32022` error names (`data.supported`).
pub(crate) fn supported_in(data: Option<&Value>) -> Vec<String> {
    data.and_then(|d| d.get("supported"))
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// What kind of result a modern server sent.
#[derive(Debug)]
pub(crate) enum ResultKind {
    /// The final result (also when `resultType` is absent: an older server).
    Complete,
    /// The server needs input first (MRTR).
    InputRequired(InputRequired),
    /// The call became a task (the tasks extension).
    Task,
    /// A kind this client does not know: an error.
    Unknown(String),
}

/// `resultType: "input_required"`: what the server asks before it can answer.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InputRequired {
    /// Key → `{method, params}`, answered under the same key.
    #[serde(default)]
    pub input_requests: Map<String, Value>,
    /// Opaque state to send back exactly as received.
    #[serde(default)]
    pub request_state: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
struct Kind<'a> {
    #[serde(borrow, default, rename = "resultType")]
    result_type: Option<std::borrow::Cow<'a, str>>,
}

/// Reads a result's `resultType` (one pass over the raw result; the body is parsed later).
pub(crate) fn result_kind(raw: &RawValue) -> Result<ResultKind, String> {
    if plainly_complete(raw.get()) {
        return Ok(ResultKind::Complete);
    }
    let kind: Kind<'_> = serde_json::from_str(raw.get()).map_err(|e| format!("invalid result: {e}"))?;
    Ok(match kind.result_type.as_deref() {
        None | Some("complete") => ResultKind::Complete,
        Some("input_required") => ResultKind::InputRequired(
            serde_json::from_str(raw.get()).map_err(|e| format!("invalid input_required result: {e}"))?,
        ),
        Some("task") => ResultKind::Task,
        Some(other) => ResultKind::Unknown(other.to_owned()),
    })
}

/// Whether a result (valid JSON) is an object that cannot name a `resultType`:
/// the key appears nowhere in its text, not even spelled with `\u` escapes.
/// Most results are; they are spared a pass of the parser over the whole body.
fn plainly_complete(text: &str) -> bool {
    text.trim_start().starts_with('{') && !text.contains("resultType") && !text.contains("\\u")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_shortcut_never_hides_a_result_type() {
        assert!(plainly_complete(r#"{"content":[{"type":"text","text":"hi"}]}"#));
        assert!(!plainly_complete(r#"{"resultType":"task","taskId":"t"}"#));
        assert!(!plainly_complete(r#"{"content":[],"result\u0054ype":"task"}"#), "an escaped key");
        assert!(!plainly_complete("[1]"), "not an object: the parser says why");
        let escaped = RawValue::from_string(r#"{"result\u0054ype":"task","taskId":"t"}"#.to_owned()).unwrap();
        assert!(matches!(result_kind(&escaped).unwrap(), ResultKind::Task));
        let mentioned = raw(json!({"content": [{"type": "text", "text": "no resultType here"}]}));
        assert!(matches!(result_kind(&mentioned).unwrap(), ResultKind::Complete));
        assert!(result_kind(&RawValue::from_string("[1]".to_owned()).unwrap()).is_err());
    }

    fn raw(v: Value) -> Box<RawValue> {
        RawValue::from_string(v.to_string()).unwrap()
    }

    #[test]
    fn result_kinds() {
        assert!(matches!(result_kind(&raw(json!({"content": []}))).unwrap(), ResultKind::Complete));
        assert!(matches!(
            result_kind(&raw(json!({"resultType": "complete"}))).unwrap(),
            ResultKind::Complete
        ));
        assert!(matches!(
            result_kind(&raw(json!({"resultType": "task", "taskId": "t"}))).unwrap(),
            ResultKind::Task
        ));
        assert!(
            matches!(result_kind(&raw(json!({"resultType": "later"}))).unwrap(), ResultKind::Unknown(k) if k == "later")
        );
        let state = r#"{"nonce":"n","originalId":1}"#;
        let r = raw(json!({"resultType": "input_required", "requestState": state,
            "inputRequests": {"confirm": {"method": "elicitation/create", "params": {}}}}));
        let ResultKind::InputRequired(input) = result_kind(&r).unwrap() else { panic!() };
        assert!(input.input_requests.contains_key("confirm"));
        assert_eq!(
            input.request_state.unwrap().get(),
            serde_json::to_string(state).unwrap(),
            "kept byte for byte"
        );
    }

    #[test]
    fn versions() {
        assert!(is_modern("2026-07-28") && !is_modern("2025-11-25"));
        assert_eq!(choose(&["2025-11-25".into(), "2026-07-28".into()]), Some("2026-07-28"));
        assert_eq!(choose(&["2025-11-25".into()]), None);
        assert_eq!(supported_in(Some(&json!({"supported": ["2026-07-28"]}))), vec!["2026-07-28".to_owned()]);
        let d: DiscoverResult = serde_json::from_value(json!({"supportedVersions": ["2026-07-28"],
            "capabilities": {"tools": {}}, "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "s", "version": "1"}}}))
        .unwrap();
        let info = d.into_server_description("2026-07-28");
        assert_eq!(info.server_info.name, "s");
    }
}
