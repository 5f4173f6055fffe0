//! Prompts (`prompts/list`, `prompts/get`) and argument completion
//! (`completion/complete`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A prompt a server lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Prompt {
    /// Its name, unique within its server.
    pub name: String,
    /// A human-readable title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The arguments it takes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<PromptArgument>,
    /// Fields this client does not interpret (icons, `_meta`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One argument of a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptArgument {
    /// Its name.
    pub name: String,
    /// A human-readable title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether the prompt needs it.
    #[serde(default)]
    pub required: bool,
    /// Fields this client does not interpret.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One message of a prompt: a role and a content block, kept as sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptMessage {
    /// `user` or `assistant`.
    pub role: String,
    /// A content block (text, image, audio, resource link, embedded resource).
    pub content: Value,
    /// Fields this client does not interpret.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The result of `prompts/get`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct GetPromptResult {
    /// A description of the prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its messages.
    #[serde(default)]
    pub messages: Vec<PromptMessage>,
    /// Fields this client does not interpret.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl GetPromptResult {
    /// The text of every text message, joined with newlines.
    pub fn text(&self) -> String {
        let texts = self.messages.iter().filter_map(|m| m.content.get("text").and_then(Value::as_str));
        texts.collect::<Vec<_>>().join("\n")
    }
}

/// What `completion/complete` completes an argument of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompletionRef {
    /// An argument of a prompt (its name, as the server knows it).
    Prompt(String),
    /// A variable of a resource template (the template).
    Resource(String),
}

impl CompletionRef {
    /// The `ref` object of the request.
    pub fn to_value(&self) -> Value {
        match self {
            CompletionRef::Prompt(name) => serde_json::json!({"type": "ref/prompt", "name": name}),
            CompletionRef::Resource(uri) => serde_json::json!({"type": "ref/resource", "uri": uri}),
        }
    }
}

/// The suggestions of `completion/complete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CompleteResult {
    /// The suggested values (at most 100).
    #[serde(default)]
    pub values: Vec<String>,
    /// How many values there are in all, when the server knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Whether there are more values than these.
    #[serde(default)]
    pub has_more: bool,
}
