//! JSON-RPC 2.0 framing: encoding requests, notifications and responses, and
//! classifying incoming messages.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::Error;

/// Standard JSON-RPC error codes (the whole table, used or not).
#[allow(dead_code)]
pub mod codes {
    /// Invalid JSON was received.
    pub const PARSE_ERROR: i64 = -32700;
    /// The JSON sent is not a valid request.
    pub const INVALID_REQUEST: i64 = -32600;
    /// The method does not exist.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Invalid method parameters.
    pub const INVALID_PARAMS: i64 = -32602;
    /// Internal JSON-RPC error.
    pub const INTERNAL_ERROR: i64 = -32603;
}

/// A JSON-RPC request id: a number or a string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    /// A numeric id (this client only sends these).
    Number(i64),
    /// A string id (servers may use these for their own requests).
    String(String),
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestId::Number(n) => write!(f, "{n}"),
            RequestId::String(s) => write!(f, "{s:?}"),
        }
    }
}

/// The `error` member of a JSON-RPC response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpcError {
    /// The error code.
    pub code: i64,
    /// A short description.
    #[serde(default)]
    pub message: String,
    /// Optional extra data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl From<RpcError> for Error {
    fn from(e: RpcError) -> Self {
        Error::Rpc { code: e.code, message: e.message, data: e.data }
    }
}

/// A message received from a server.
#[derive(Debug)]
pub enum Incoming {
    /// A response to one of our requests.
    Response {
        /// The id of our request.
        id: RequestId,
        /// The `result` (kept raw, parsed by whoever waits for it) or the `error`.
        outcome: Result<Box<RawValue>, RpcError>,
    },
    /// A request from the server (for example `ping`).
    Request {
        /// The server's id, echoed in our response.
        id: RequestId,
        /// The method.
        method: String,
        /// The parameters.
        params: Option<Value>,
    },
    /// An error response without an id (the server could not read a request's id).
    UnattributedError(RpcError),
    /// A notification from the server.
    Notification {
        /// The method.
        method: String,
        /// The parameters.
        params: Option<Value>,
    },
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    params: Option<Value>,
    #[serde(default)]
    result: Option<Box<RawValue>>,
    #[serde(default)]
    error: Option<RpcError>,
}

/// Parses one JSON-RPC message; anything that is not one is a protocol error
/// that quotes (the start of) what was received.
pub fn parse_message(bytes: &[u8]) -> Result<Incoming, Error> {
    let wire: WireMessage = serde_json::from_slice(bytes)
        .map_err(|e| Error::Protocol(format!("invalid JSON-RPC message ({e}): {}", snippet(bytes))))?;
    let id = match wire.id {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(n) => Some(RequestId::Number(n)),
            None => return Err(Error::Protocol(format!("non-integer id {n}"))),
        },
        Some(Value::String(s)) => Some(RequestId::String(s)),
        Some(other) => return Err(Error::Protocol(format!("invalid id {other}"))),
    };
    match (wire.method, id) {
        (Some(method), Some(id)) => Ok(Incoming::Request { id, method, params: wire.params }),
        (Some(method), None) => Ok(Incoming::Notification { method, params: wire.params }),
        (None, Some(id)) => {
            let outcome = match (wire.result, wire.error) {
                (_, Some(err)) => Err(err),
                (Some(result), None) => Ok(result),
                (None, None) => {
                    return Err(Error::Protocol(format!("response {id} has neither result nor error")));
                }
            };
            Ok(Incoming::Response { id, outcome })
        }
        (None, None) => match wire.error {
            Some(error) => Ok(Incoming::UnattributedError(error)),
            None => Err(Error::Protocol(format!("message has neither method nor id: {}", snippet(bytes)))),
        },
    }
}

/// Parses one message or a JSON-RPC batch (an array of messages, which
/// servers of protocol 2025-03-26 may send).
pub fn parse_messages(bytes: &[u8]) -> Result<Messages, Error> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    if start.map(|i| bytes[i]) != Some(b'[') {
        return parse_message(bytes).map(|m| Messages::One(Some(m).into_iter()));
    }
    let items: Vec<Box<RawValue>> = serde_json::from_slice(bytes)
        .map_err(|e| Error::Protocol(format!("invalid JSON-RPC batch ({e}): {}", snippet(bytes))))?;
    let messages: Result<Vec<Incoming>, Error> =
        items.iter().map(|item| parse_message(item.get().as_bytes())).collect();
    Ok(Messages::Batch(messages?.into_iter()))
}

/// The messages of one received buffer, in order. A single message, what
/// servers send almost always, needs no allocation.
pub enum Messages {
    /// One message.
    One(std::option::IntoIter<Incoming>),
    /// The messages of a JSON-RPC batch.
    Batch(std::vec::IntoIter<Incoming>),
}

impl Iterator for Messages {
    type Item = Incoming;

    fn next(&mut self) -> Option<Incoming> {
        match self {
            Messages::One(one) => one.next(),
            Messages::Batch(many) => many.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Messages::One(one) => one.size_hint(),
            Messages::Batch(many) => many.size_hint(),
        }
    }
}

impl ExactSizeIterator for Messages {}

/// The first 200 characters of a received buffer, for error messages.
pub fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]);
    text.trim_end().to_owned()
}

/// Appends a notification `{"jsonrpc":"2.0","method":M,"params":P}` to `buf`.
pub fn write_notification<P: Serialize + ?Sized>(buf: &mut Vec<u8>, method: &str, params: Option<&P>) {
    buf.extend_from_slice(b"{\"jsonrpc\":\"2.0\"");
    write_method_and_params(buf, method, params);
}

fn write_method_and_params<P: Serialize + ?Sized>(buf: &mut Vec<u8>, method: &str, params: Option<&P>) {
    buf.extend_from_slice(b",\"method\":");
    write_json(buf, method);
    if let Some(p) = params {
        buf.extend_from_slice(b",\"params\":");
        write_json(buf, p);
    }
    buf.push(b'}');
}

/// Appends a success response to a server request.
pub fn write_result(buf: &mut Vec<u8>, id: &RequestId, result: &Value) {
    buf.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    write_json(buf, id);
    buf.extend_from_slice(b",\"result\":");
    write_json(buf, result);
    buf.push(b'}');
}

/// Appends an error response to a server request.
pub fn write_error(buf: &mut Vec<u8>, id: &RequestId, error: &RpcError) {
    buf.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    write_json(buf, id);
    buf.extend_from_slice(b",\"error\":");
    write_json(buf, error);
    buf.push(b'}');
}

fn write_json<T: Serialize + ?Sized>(buf: &mut Vec<u8>, value: &T) {
    // Serializing plain data into a Vec cannot fail: no I/O and no non-string map keys.
    if serde_json::to_writer(&mut *buf, value).is_err() {
        buf.extend_from_slice(b"null");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_notification() {
        let mut buf = Vec::new();
        write_notification::<Value>(&mut buf, "notifications/initialized", None);
        assert_eq!(buf, br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    }

    #[test]
    fn classifies_messages() {
        match parse_message(br#"{"jsonrpc":"2.0","id":3,"result":{"x":1}}"#).unwrap() {
            Incoming::Response { id, outcome } => {
                assert_eq!(id, RequestId::Number(3));
                assert_eq!(outcome.unwrap().get(), r#"{"x":1}"#);
            }
            other => panic!("unexpected {other:?}"),
        }
        match parse_message(br#"{"jsonrpc":"2.0","id":"a","error":{"code":-32601,"message":"no"}}"#).unwrap()
        {
            Incoming::Response { outcome: Err(e), .. } => assert_eq!(e.code, -32601),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            parse_message(br#"{"jsonrpc":"2.0","id":"s1","method":"ping"}"#).unwrap(),
            Incoming::Request { .. }
        ));
        assert!(matches!(
            parse_message(br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{}}"#).unwrap(),
            Incoming::Notification { .. }
        ));
    }

    #[test]
    fn garbage_is_a_protocol_error_quoting_the_input() {
        let err = parse_message(b"this is not json").unwrap_err();
        assert!(matches!(err, Error::Protocol(ref m) if m.contains("this is not json")), "{err}");
        assert!(parse_message(br#"{"jsonrpc":"2.0","id":1}"#).is_err());
        assert!(matches!(
            parse_message(br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse"}}"#)
                .unwrap(),
            Incoming::UnattributedError(_)
        ));
        let batch =
            parse_messages(br#"[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","method":"x"}]"#)
                .unwrap();
        assert_eq!(batch.len(), 2);
        assert!(parse_message(br#"{"jsonrpc":"2.0"}"#).is_err());
    }
}
