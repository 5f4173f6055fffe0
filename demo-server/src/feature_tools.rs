//! The definitions of the tools that exercise the rest of MCP: notes
//! (resources and their updates), requests to the client (sampling,
//! elicitation, roots) and messages sent on the listening stream.

use serde_json::{Value, json};

use super::tools::tool;

/// Longest `notify_later` delay accepted (one minute).
pub const MAX_NOTIFY_DELAY_MS: u64 = 60_000;

/// The definitions, in `tools/list` order (after the other built-ins).
pub fn definitions() -> Vec<Value> {
    vec![
        tool(
            "write_note",
            "Sets the note demo://notes/<name>: sends notifications/resources/updated to the clients subscribed to it and, for a new note, notifications/resources/list_changed to every client.",
            json!({
                "name": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
                "text": {"type": "string"},
            }),
            &["name", "text"],
        ),
        tool(
            "ask_model",
            "Asks the client's model the question (sampling/createMessage) and returns its text.",
            json!({"question": {"type": "string"}}),
            &["question"],
        ),
        tool(
            "ask_user",
            "Asks the user for name, age and subscribe (elicitation/create, form mode); returns '<action> name=.. age=.. subscribe=..'. With default_name, the form's name has that default.",
            json!({"question": {"type": "string"}, "default_name": {"type": "string"}}),
            &["question"],
        ),
        tool(
            "list_roots",
            "Asks the client for its roots (roots/list) and returns their URIs, one per line.",
            json!({}),
            &[],
        ),
        tool(
            "notify_later",
            "After delay_ms, with no request running, sends notifications/<kind>/list_changed on the client's listening stream (stdout over stdio); with name, first adds a tool, a note or a prompt of that name.",
            json!({
                "kind": {"type": "string", "enum": ["tools", "resources", "prompts"]},
                "delay_ms": {"type": "integer", "minimum": 0, "maximum": MAX_NOTIFY_DELAY_MS},
                "name": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
            }),
            &["kind", "delay_ms"],
        ),
        tool(
            "drop_listen_streams",
            "Closes this session's open listening streams (GET) abruptly, without a final event, so the client must reconnect.",
            json!({}),
            &[],
        ),
    ]
}
