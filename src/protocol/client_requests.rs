//! What a server asks of its client: sampling (`sampling/createMessage`),
//! elicitation (`elicitation/create`, form and URL mode) and roots
//! (`roots/list`); and the log levels of `logging/setLevel`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One message of a sampling request: a role and its content (one block or
/// an array of blocks: text, image, audio, `tool_use`, `tool_result`), kept as sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingMessage {
    /// `user` or `assistant`.
    pub role: String,
    /// A content block or an array of them.
    pub content: Value,
    /// Fields this client does not interpret.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `sampling/createMessage`: the server asks for a completion by a language model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateMessageRequest {
    /// The conversation so far.
    pub messages: Vec<SamplingMessage>,
    /// The most tokens to generate.
    #[serde(default)]
    pub max_tokens: u64,
    /// A system prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    /// The sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Sequences that end generation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop_sequences: Vec<String>,
    /// Hints and priorities for choosing a model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_preferences: Option<Value>,
    /// `none`, `thisServer` or `allServers` (soft-deprecated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_context: Option<String>,
    /// Tools the model may use (2025-11-25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    /// How the model must use them (`{"mode": "auto" | "required" | "none"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// Fields this client does not interpret (`metadata`, `_meta`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The answer to `sampling/createMessage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateMessageResult {
    /// Normally `assistant`.
    pub role: String,
    /// A content block or an array of them (`tool_use` blocks to call tools).
    pub content: Value,
    /// The model that answered.
    pub model: String,
    /// Why generation stopped (`endTurn`, `stopSequence`, `maxTokens`, `toolUse`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// Fields this client does not interpret.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CreateMessageResult {
    /// An assistant's text answer from `model`.
    pub fn text(model: impl Into<String>, text: impl Into<String>) -> Self {
        CreateMessageResult {
            role: "assistant".into(),
            content: serde_json::json!({"type": "text", "text": text.into()}),
            model: model.into(),
            stop_reason: Some("endTurn".into()),
            extra: Map::new(),
        }
    }
}

/// `elicitation/create`: the server asks the user for information.
#[derive(Debug, Clone, PartialEq)]
pub enum ElicitRequest {
    /// Form mode: answer with content matching `requested_schema`.
    Form {
        /// What to show the user.
        message: String,
        /// A flat object schema of primitive properties.
        requested_schema: Value,
        /// Fields this client does not interpret.
        extra: Map<String, Value>,
    },
    /// URL mode: the user is to open `url` (after consenting); the answer carries no content.
    Url {
        /// What to show the user.
        message: String,
        /// The elicitation's id (`notifications/elicitation/complete` names
        /// it; the stateless era has none: the client retries the request).
        elicitation_id: Option<String>,
        /// The URL to open.
        url: String,
        /// Fields this client does not interpret.
        extra: Map<String, Value>,
    },
}

impl ElicitRequest {
    /// Reads the request's params; `mode` absent means form.
    pub fn from_params(params: &Value) -> Result<ElicitRequest, String> {
        let obj = params.as_object().ok_or("elicitation params must be an object")?;
        let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
        let message = text("message").ok_or("elicitation needs a string 'message'")?;
        let mut extra = obj.clone();
        for k in ["mode", "message", "requestedSchema", "elicitationId", "url"] {
            extra.remove(k);
        }
        match obj.get("mode").and_then(Value::as_str).unwrap_or("form") {
            "form" => {
                let requested_schema = obj
                    .get("requestedSchema")
                    .cloned()
                    .ok_or("a form elicitation needs 'requestedSchema'")?;
                Ok(ElicitRequest::Form { message, requested_schema, extra })
            }
            "url" => Ok(ElicitRequest::Url {
                message,
                elicitation_id: text("elicitationId"),
                url: text("url").ok_or("a URL elicitation needs 'url'")?,
                extra,
            }),
            other => Err(format!("unknown elicitation mode '{other}'")),
        }
    }

    /// The mode's name: `form` or `url`.
    pub fn mode(&self) -> &'static str {
        match self {
            ElicitRequest::Form { .. } => "form",
            ElicitRequest::Url { .. } => "url",
        }
    }
}

/// What the user did with an elicitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ElicitAction {
    /// Gave the information (form) or consented to open the URL.
    Accept,
    /// Said no.
    Decline,
    /// Dismissed it without a choice.
    Cancel,
}

/// The answer to `elicitation/create`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElicitResult {
    /// What the user did.
    pub action: ElicitAction,
    /// The values, for an accepted form (checked against the requested schema before it is sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Map<String, Value>>,
}

impl ElicitResult {
    /// Accepted with these values.
    pub fn accept(content: Map<String, Value>) -> Self {
        ElicitResult { action: ElicitAction::Accept, content: Some(content) }
    }

    /// Declined.
    pub fn decline() -> Self {
        ElicitResult { action: ElicitAction::Decline, content: None }
    }
}

/// A root: a `file://` URI the server may work under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Root {
    /// The URI (`file://...`).
    pub uri: String,
    /// A name for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Root {
    /// A root for a directory path (made absolute when it can be).
    pub fn directory(path: impl AsRef<std::path::Path>) -> Root {
        let path = path.as_ref();
        let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let name = absolute.file_name().map(|n| n.to_string_lossy().into_owned());
        Root { uri: format!("file://{}", percent_encode_path(&absolute.to_string_lossy())), name }
    }

    /// Checks the root: a `file://` URI (as MCP 2025-11-25 requires) without control characters.
    pub fn validate(&self) -> Result<(), String> {
        if !self.uri.starts_with("file://") {
            return Err(format!("'{}' is not a file:// URI", self.uri));
        }
        if self.uri.chars().any(char::is_control) {
            return Err("the URI must not contain control characters".into());
        }
        Ok(())
    }
}

/// A path as a URI path: every byte but unreserved characters and `/` percent-encoded.
fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The log levels of MCP (RFC 5424), least severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Debugging detail.
    Debug,
    /// Information.
    Info,
    /// A normal but significant event.
    Notice,
    /// A warning.
    Warning,
    /// An error.
    Error,
    /// A critical condition.
    Critical,
    /// Action must be taken at once.
    Alert,
    /// The system is unusable.
    Emergency,
}

impl LogLevel {
    /// Every level, least severe first.
    pub const ALL: [LogLevel; 8] = [
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Notice,
        LogLevel::Warning,
        LogLevel::Error,
        LogLevel::Critical,
        LogLevel::Alert,
        LogLevel::Emergency,
    ];

    /// The level's name in the protocol.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
            LogLevel::Alert => "alert",
            LogLevel::Emergency => "emergency",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LogLevel::ALL
            .into_iter()
            .find(|l| l.as_str() == s.to_ascii_lowercase())
            .ok_or_else(|| format!("unknown log level '{s}' (expected debug, info, notice, warning, error, critical, alert or emergency)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn elicitation_modes() {
        let form =
            ElicitRequest::from_params(&json!({"message": "m", "requestedSchema": {"type": "object"}}))
                .unwrap();
        assert_eq!(form.mode(), "form");
        let url = ElicitRequest::from_params(
            &json!({"mode": "url", "message": "m", "elicitationId": "e1", "url": "https://x", "_meta": {}}),
        )
        .unwrap();
        assert!(
            matches!(&url, ElicitRequest::Url { elicitation_id, extra, .. } if elicitation_id.as_deref() == Some("e1") && extra.contains_key("_meta"))
        );
        assert!(ElicitRequest::from_params(&json!({"mode": "telepathy", "message": "m"})).is_err());
        assert!(
            ElicitRequest::from_params(&json!({"mode": "url", "message": "m"})).is_err(),
            "a URL is needed"
        );
        let accepted = serde_json::to_value(ElicitResult::accept(Map::new())).unwrap();
        assert_eq!(accepted, json!({"action": "accept", "content": {}}));
    }

    #[test]
    fn sampling_requests_keep_tool_fields() {
        let req: CreateMessageRequest = serde_json::from_value(json!({
            "messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}],
            "maxTokens": 100, "tools": [{"name": "t"}], "toolChoice": {"mode": "auto"}, "metadata": {"a": 1}
        }))
        .unwrap();
        assert_eq!(req.max_tokens, 100);
        assert_eq!(req.tools.as_ref().map(Vec::len), Some(1));
        assert_eq!(req.extra["metadata"], json!({"a": 1}));
        assert_eq!("Warning".parse::<LogLevel>().unwrap(), LogLevel::Warning);
        assert!("loud".parse::<LogLevel>().is_err());
        assert_eq!(Root::directory("/no such/dir").uri, "file:///no%20such/dir");
        assert!(Root::directory("/tmp").validate().is_ok());
        assert!(Root { uri: "https://x".into(), name: None }.validate().is_err());
    }
}
