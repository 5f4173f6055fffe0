//! JSON-RPC 2.0 message classification and message builders.

use serde_json::{Map, Value, json};

/// Invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// The JSON sent is not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid method parameters (also unknown tools and bad tool arguments).
pub const INVALID_PARAMS: i64 = -32602;
/// A resource that does not exist (MCP's code for `resources/read`).
pub const RESOURCE_NOT_FOUND: i64 = -32002;

/// A JSON-RPC error to be sent back as an `error` member.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// JSON-RPC error code.
    pub code: i64,
    /// Human-readable message.
    pub message: String,
}

impl RpcError {
    /// An `INVALID_PARAMS` error with this message.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        RpcError { code: INVALID_PARAMS, message: message.into() }
    }
}

/// One incoming JSON-RPC message, classified.
#[derive(Debug)]
pub enum Message {
    /// A request (has `method` and a string/number `id`).
    Request {
        /// The request id (string or number).
        id: Value,
        /// Method name.
        method: String,
        /// Parameters (`Null` when absent).
        params: Value,
    },
    /// A notification (has `method`, no `id`).
    Notification {
        /// Method name.
        method: String,
        /// Parameters (`Null` when absent).
        params: Value,
    },
    /// A response to a server-initiated request.
    Response {
        /// The id it answers.
        id: Value,
        /// The whole response message.
        message: Value,
    },
    /// Not a valid JSON-RPC message; answer with `INVALID_REQUEST`.
    Invalid {
        /// The id to answer with (`Null` when unknown).
        id: Value,
        /// What is wrong.
        reason: String,
    },
}

fn valid_id(id: &Value) -> bool {
    matches!(id, Value::String(_) | Value::Number(_))
}

/// Classifies a parsed JSON value as a JSON-RPC message.
pub fn classify(value: Value) -> Message {
    let Value::Object(mut m) = value else {
        return Message::Invalid {
            id: Value::Null,
            reason: "a JSON-RPC message must be a JSON object".into(),
        };
    };
    let id = m.get("id").cloned();
    let answer_id = id.clone().filter(valid_id).unwrap_or(Value::Null);
    if m.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Message::Invalid { id: answer_id, reason: "\"jsonrpc\" must be \"2.0\"".into() };
    }
    match m.remove("method") {
        Some(Value::String(method)) => {
            let params = m.remove("params").unwrap_or(Value::Null);
            if !matches!(params, Value::Null | Value::Object(_) | Value::Array(_)) {
                return Message::Invalid { id: answer_id, reason: "\"params\" must be an object".into() };
            }
            match id {
                None => Message::Notification { method, params },
                Some(id) if valid_id(&id) => Message::Request { id, method, params },
                Some(_) => {
                    Message::Invalid { id: Value::Null, reason: "\"id\" must be a string or a number".into() }
                }
            }
        }
        Some(_) => Message::Invalid { id: answer_id, reason: "\"method\" must be a string".into() },
        None => match id {
            Some(id) if m.contains_key("result") || m.contains_key("error") => {
                Message::Response { id, message: Value::Object(m) }
            }
            _ => Message::Invalid { id: answer_id, reason: "not a request, notification or response".into() },
        },
    }
}

/// A success response.
pub fn response(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// An error response.
pub fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// A notification.
pub fn notification(method: &str, params: Value) -> Value {
    let mut m = Map::new();
    m.insert("jsonrpc".into(), Value::from("2.0"));
    m.insert("method".into(), Value::from(method));
    if !params.is_null() {
        m.insert("params".into(), params);
    }
    Value::Object(m)
}

/// A server-to-client request without params.
pub fn request(id: &str, method: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method})
}

/// A server-to-client request with params.
pub fn request_with(id: &str, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        let r = classify(json!({"jsonrpc":"2.0","id":1,"method":"ping"}));
        assert!(matches!(r, Message::Request { ref method, .. } if method == "ping"));
        let n = classify(json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
        assert!(matches!(n, Message::Notification { .. }));
        let s = classify(json!({"jsonrpc":"2.0","id":"srv-1","result":{}}));
        assert!(matches!(s, Message::Response { .. }));
        let bad = classify(json!({"jsonrpc":"1.0","id":7,"method":"ping"}));
        assert!(matches!(bad, Message::Invalid { id, .. } if id == json!(7)));
        let bad_id = classify(json!({"jsonrpc":"2.0","id":null,"method":"ping"}));
        assert!(matches!(bad_id, Message::Invalid { id: Value::Null, .. }));
        assert!(matches!(classify(json!([1])), Message::Invalid { .. }));
        let bad_params = classify(json!({"jsonrpc":"2.0","id":1,"method":"x","params":3}));
        assert!(matches!(bad_params, Message::Invalid { .. }));
    }

    #[test]
    fn builds() {
        assert_eq!(notification("a", Value::Null), json!({"jsonrpc":"2.0","method":"a"}));
        assert_eq!(error(json!(1), METHOD_NOT_FOUND, "x")["error"]["code"], json!(-32601));
    }
}
