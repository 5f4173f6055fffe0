//! MCP message types used by the client: initialize, tools, results, notifications.
//!
//! Every type keeps the fields it does not know in `extra`, so that a value read
//! from a server and written back loses nothing.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Name and version of a client or server (`clientInfo` / `serverInfo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Implementation {
    /// The program's name.
    pub name: String,
    /// The program's version.
    #[serde(default)]
    pub version: String,
    /// Fields this client does not interpret (title, icons, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The parameters of the `initialize` request this client sends.
pub fn initialize_params(
    client_name: &str,
    client_version: &str,
    capabilities: Value,
    version: &str,
) -> Value {
    json!({
        "protocolVersion": version,
        "capabilities": capabilities,
        "clientInfo": {"name": client_name, "version": client_version},
    })
}

/// The server's answer to `initialize`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitializeResult {
    /// The protocol version the server chose.
    pub protocol_version: String,
    /// What the server can do (`tools`, `logging`, ...), kept as JSON.
    #[serde(default)]
    pub capabilities: Value,
    /// The server's name and version.
    #[serde(default)]
    pub server_info: Implementation,
    /// Optional instructions for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Fields this client does not interpret.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl InitializeResult {
    /// Whether the server announced `tools.listChanged`.
    pub fn tools_list_changed(&self) -> bool {
        self.capabilities.pointer("/tools/listChanged").and_then(Value::as_bool).unwrap_or(false)
    }
}

/// Hints a server gives about a tool's behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ToolAnnotations {
    /// A human-readable title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The tool does not modify its environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_hint: Option<bool>,
    /// The tool may perform destructive updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destructive_hint: Option<bool>,
    /// Calling the tool twice with the same arguments has no additional effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent_hint: Option<bool>,
    /// The tool interacts with an open world of external entities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_world_hint: Option<bool>,
    /// Fields this client does not interpret.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tool as listed by `tools/list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    /// The tool's name, unique within its server.
    pub name: String,
    /// A human-readable title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What the tool does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the arguments.
    #[serde(default)]
    pub input_schema: Value,
    /// JSON Schema of `structuredContent`, when the tool declares one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// Behaviour hints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<ToolAnnotations>,
    /// Icons for people (`src`, `mimeType`, `sizes`, `theme`), kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icons: Option<Vec<Value>>,
    /// Protocol-level metadata.
    #[serde(default, rename = "_meta", skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
    /// Fields this client does not interpret (execution, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Tool {
    /// Whether the server marked the tool read-only.
    pub fn is_read_only(&self) -> bool {
        self.annotations.as_ref().and_then(|a| a.read_only_hint).unwrap_or(false)
    }

    /// Whether repeating a call is safe: the tool is read-only or idempotent.
    pub fn is_retry_safe(&self) -> bool {
        self.is_read_only() || self.annotations.as_ref().and_then(|a| a.idempotent_hint).unwrap_or(false)
    }
}

/// The result of `tools/call` (a `CallToolResult`), kept whole.
///
/// `content` holds every item as the server sent it (text, image, audio,
/// resource links, embedded resources, and kinds added by later versions).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToolResult {
    /// The content items.
    pub content: Vec<Value>,
    /// The structured result, when the tool returns one.
    pub structured_content: Option<Value>,
    /// Whether the tool reported an error (this is data, not an [`crate::Error`]).
    pub is_error: bool,
    /// Protocol-level metadata (`_meta`).
    pub meta: Option<Value>,
    /// Fields this client does not interpret.
    pub extra: Map<String, Value>,
}

impl ToolResult {
    /// Builds a result from its JSON object form (`{"content": [...], ...}`).
    pub fn from_value(value: Value) -> Result<ToolResult, String> {
        let Value::Object(mut map) = value else {
            return Err("CallToolResult must be a JSON object".to_owned());
        };
        let (content, is_error) = (map.remove("content"), map.remove("isError"));
        let (structured, meta) = (map.remove("structuredContent"), map.remove("_meta"));
        ToolResult::from_members(content, is_error, structured, meta, map)
    }

    /// Builds a result from its members (the rules for `content` and `isError` in one place).
    fn from_members(
        content: Option<Value>,
        is_error: Option<Value>,
        structured_content: Option<Value>,
        meta: Option<Value>,
        extra: Map<String, Value>,
    ) -> Result<ToolResult, String> {
        let content = match content {
            Some(Value::Array(items)) => items,
            Some(Value::Null) | None => Vec::new(),
            Some(_) => return Err("CallToolResult.content must be an array".to_owned()),
        };
        let is_error = match is_error {
            Some(Value::Bool(b)) => b,
            Some(Value::Null) | None => false,
            Some(_) => return Err("CallToolResult.isError must be a boolean".to_owned()),
        };
        Ok(ToolResult { content, structured_content, is_error, meta, extra })
    }

    /// The JSON object form of the result, as the server sent it.
    pub fn to_value(&self) -> Value {
        Value::Object(self.to_map())
    }

    fn to_map(&self) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("content".to_owned(), Value::Array(self.content.clone()));
        if let Some(s) = &self.structured_content {
            map.insert("structuredContent".to_owned(), s.clone());
        }
        if self.is_error {
            map.insert("isError".to_owned(), Value::Bool(true));
        }
        if let Some(m) = &self.meta {
            map.insert("_meta".to_owned(), m.clone());
        }
        for (k, v) in &self.extra {
            map.insert(k.clone(), v.clone());
        }
        map
    }

    /// The result as compact JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// The text of every `text` content item, joined with newlines.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for item in &self.content {
            if item.get("type").and_then(Value::as_str) == Some("text")
                && let Some(t) = item.get("text").and_then(Value::as_str)
            {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(t);
            }
        }
        out
    }

    /// A rough size in bytes of the result's text and data (for metrics).
    pub fn approx_size(&self) -> usize {
        self.content
            .iter()
            .map(|c| {
                c.get("text").and_then(Value::as_str).map_or(0, str::len)
                    + c.get("data").and_then(Value::as_str).map_or(0, str::len)
                    + 16
            })
            .sum()
    }
}

impl Serialize for ToolResult {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let extra_len = self.extra.len();
        let mut m = serializer.serialize_map(Some(1 + extra_len + 3))?;
        m.serialize_entry("content", &self.content)?;
        if let Some(s) = &self.structured_content {
            m.serialize_entry("structuredContent", s)?;
        }
        if self.is_error {
            m.serialize_entry("isError", &true)?;
        }
        if let Some(meta) = &self.meta {
            m.serialize_entry("_meta", meta)?;
        }
        for (k, v) in &self.extra {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// Read member by member, with the rules of [`ToolResult::from_value`] (the
/// last of duplicate members wins), but without building the outer object first.
impl<'de> Deserialize<'de> for ToolResult {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ToolResultVisitor)
    }
}

struct ToolResultVisitor;

impl<'de> serde::de::Visitor<'de> for ToolResultVisitor {
    type Value = ToolResult;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallToolResult must be a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<ToolResult, A::Error> {
        use serde::de::Error as _;
        let (mut content, mut is_error, mut structured, mut meta) = (None, None, None, None);
        let mut extra = Map::new();
        while let Some(key) = map.next_key::<ResultKey>()? {
            match key {
                ResultKey::Content => content = Some(map.next_value::<Value>()?),
                ResultKey::IsError => is_error = Some(map.next_value::<Value>()?),
                ResultKey::Structured => structured = Some(map.next_value::<Value>()?),
                ResultKey::Meta => meta = Some(map.next_value::<Value>()?),
                ResultKey::Other(key) => {
                    extra.insert(key, map.next_value::<Value>()?);
                }
            }
        }
        ToolResult::from_members(content, is_error, structured, meta, extra).map_err(A::Error::custom)
    }
}

/// A member name of a `CallToolResult`: the known ones need no string.
enum ResultKey {
    Content,
    IsError,
    Structured,
    Meta,
    Other(String),
}

impl<'de> Deserialize<'de> for ResultKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl serde::de::Visitor<'_> for KeyVisitor {
            type Value = ResultKey;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<ResultKey, E> {
                Ok(match key {
                    "content" => ResultKey::Content,
                    "isError" => ResultKey::IsError,
                    "structuredContent" => ResultKey::Structured,
                    "_meta" => ResultKey::Meta,
                    other => ResultKey::Other(other.to_owned()),
                })
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The parameters of `notifications/progress`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// The token the request carried in `_meta.progressToken`.
    pub progress_token: Value,
    /// Progress so far.
    pub progress: f64,
    /// The total, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<f64>,
    /// A human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Method names used by the client.
pub mod methods {
    /// The handshake request.
    pub const INITIALIZE: &str = "initialize";
    /// What a stateless-era server speaks and offers (2026-07-28).
    pub const SERVER_DISCOVER: &str = "server/discover";
    /// The stream of a stateless-era server's notifications (2026-07-28).
    pub const SUBSCRIPTIONS_LISTEN: &str = "subscriptions/listen";
    /// The first message of a `subscriptions/listen` stream.
    pub const SUBSCRIPTIONS_ACKNOWLEDGED: &str = "notifications/subscriptions/acknowledged";
    /// A task's state (the tasks extension).
    pub const TASKS_GET: &str = "tasks/get";
    /// Answers a task's input requests (the tasks extension).
    pub const TASKS_UPDATE: &str = "tasks/update";
    /// Asks the server to stop a task (the tasks extension).
    pub const TASKS_CANCEL: &str = "tasks/cancel";
    /// The notification that ends the handshake.
    pub const INITIALIZED: &str = "notifications/initialized";
    /// Liveness check, in both directions.
    pub const PING: &str = "ping";
    /// List tools (paginated).
    pub const TOOLS_LIST: &str = "tools/list";
    /// Call a tool.
    pub const TOOLS_CALL: &str = "tools/call";
    /// Cancel a request in flight.
    pub const CANCELLED: &str = "notifications/cancelled";
    /// Progress of a request.
    pub const PROGRESS: &str = "notifications/progress";
    /// A log message from the server.
    pub const MESSAGE: &str = "notifications/message";
    /// The server's tool list changed.
    pub const TOOLS_LIST_CHANGED: &str = "notifications/tools/list_changed";
    /// List resources (paginated).
    pub const RESOURCES_LIST: &str = "resources/list";
    /// List resource templates (paginated).
    pub const RESOURCE_TEMPLATES_LIST: &str = "resources/templates/list";
    /// Read a resource.
    pub const RESOURCES_READ: &str = "resources/read";
    /// Subscribe to a resource's updates.
    pub const RESOURCES_SUBSCRIBE: &str = "resources/subscribe";
    /// End a subscription.
    pub const RESOURCES_UNSUBSCRIBE: &str = "resources/unsubscribe";
    /// A subscribed resource changed.
    pub const RESOURCE_UPDATED: &str = "notifications/resources/updated";
    /// The server's resource list changed.
    pub const RESOURCES_LIST_CHANGED: &str = "notifications/resources/list_changed";
    /// List prompts (paginated).
    pub const PROMPTS_LIST: &str = "prompts/list";
    /// Get a prompt with arguments.
    pub const PROMPTS_GET: &str = "prompts/get";
    /// The server's prompt list changed.
    pub const PROMPTS_LIST_CHANGED: &str = "notifications/prompts/list_changed";
    /// Complete an argument.
    pub const COMPLETE: &str = "completion/complete";
    /// Set the server's log level.
    pub const SET_LOG_LEVEL: &str = "logging/setLevel";
    /// The server asks for the client's roots.
    pub const ROOTS_LIST: &str = "roots/list";
    /// The client's roots changed.
    pub const ROOTS_LIST_CHANGED: &str = "notifications/roots/list_changed";
    /// The server asks for a model completion.
    pub const SAMPLING_CREATE: &str = "sampling/createMessage";
    /// The server asks the user for information.
    pub const ELICITATION_CREATE: &str = "elicitation/create";
    /// A URL-mode elicitation finished.
    pub const ELICITATION_COMPLETE: &str = "notifications/elicitation/complete";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_result_round_trips_every_field() {
        let original = json!({
            "content": [
                {"type": "text", "text": "a"},
                {"type": "image", "data": "AAA=", "mimeType": "image/png"},
                {"type": "resource_link", "uri": "file:///x", "name": "x"},
                {"type": "future_kind", "whatever": [1, 2]}
            ],
            "structuredContent": {"n": 1},
            "isError": true,
            "_meta": {"k": "v"},
            "unknownField": {"kept": true}
        });
        let parsed: ToolResult = serde_json::from_value(original.clone()).unwrap();
        assert!(parsed.is_error);
        assert_eq!(parsed.text(), "a");
        assert_eq!(serde_json::to_value(&parsed).unwrap(), original);
        assert_eq!(parsed.to_value(), original);
    }

    #[test]
    fn tool_keeps_unknown_fields_and_reads_hints() {
        let raw = json!({"name": "t", "inputSchema": {"type": "object"},
            "annotations": {"readOnlyHint": true, "x": 1}, "icons": [{"src": "https://x/i.png"}],
            "title": "T", "outputSchema": {"type": "object"}, "_meta": {"k": 1}, "execution": {"taskSupport": "optional"}});
        let tool: Tool = serde_json::from_value(raw.clone()).unwrap();
        assert!(tool.is_read_only() && tool.is_retry_safe());
        assert_eq!(serde_json::to_value(&tool).unwrap(), raw);
    }

    #[test]
    fn rejects_malformed_results() {
        assert!(ToolResult::from_value(json!([1])).is_err());
        assert!(ToolResult::from_value(json!({"content": 3})).is_err());
        assert!(ToolResult::from_value(json!({"content": [], "isError": "yes"})).is_err());
    }
}
