//! Request access and response building on touche: headers, the body,
//! complete responses (touche gives them a Content-Length, so clients keep
//! the connection without waiting for a last chunk) and streamed ones
//! (chunked, each chunk flushed as it comes).

use std::io::{self, Read};

use serde_json::Value;
use touche::{Body, HeaderMap, HttpBody, Response, StatusCode};

use super::rpc;

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024 * 1024;
/// What the server calls itself in the `Server` header.
const SERVER_NAME: &str = "mcpstore-demo-server";

/// A response ready for touche to write.
pub type Reply = Response<Body>;

/// Every request header as (lowercase name, value); repeated headers come
/// once per occurrence.
pub fn headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect()
}

/// Why a request body could not be read.
pub enum BodyError {
    /// Larger than [`MAX_BODY`] (answer 413).
    TooLarge,
    /// The client sent less than it announced, or the connection broke.
    Io(io::Error),
}

/// Reads the whole request body (touche decodes chunked bodies).
pub fn read_body(body: Body) -> Result<Vec<u8>, BodyError> {
    if body.len().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut bytes = Vec::new();
    body.into_reader().take(MAX_BODY as u64 + 1).read_to_end(&mut bytes).map_err(BodyError::Io)?;
    if bytes.len() > MAX_BODY {
        return Err(BodyError::TooLarge);
    }
    Ok(bytes)
}

fn build(status: u16, headers: &[(&str, &str)], body: Body) -> Reply {
    let mut builder = Response::builder().status(status).header("Server", SERVER_NAME);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body).unwrap_or_else(|e| {
        log::warn!("demo server: cannot build a response: {e}");
        let mut fallback = Response::new(Body::empty());
        *fallback.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}

/// A complete response. `headers` may include `Content-Type`.
pub fn respond(status: u16, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
    build(status, headers, Body::from(body))
}

/// A `200` response whose chunks come from `chunks` as touche writes it
/// (each one flushed at once).
pub fn streamed(headers: &[(&str, &str)], chunks: impl Iterator<Item = Vec<u8>> + Send + 'static) -> Reply {
    build(200, headers, Body::from_iter(chunks))
}

/// A plain-text response.
pub fn text(status: u16, extra: &[(&str, &str)], message: &str) -> Reply {
    let mut hs = extra.to_vec();
    hs.push(("Content-Type", "text/plain"));
    respond(status, &hs, message.as_bytes().to_vec())
}

/// A JSON body.
pub fn json(status: u16, extra: &[(&str, &str)], body: Vec<u8>) -> Reply {
    let mut hs = extra.to_vec();
    hs.push(("Content-Type", "application/json"));
    respond(status, &hs, body)
}

/// An HTTP error with a JSON-RPC error body (id null).
pub fn rpc_error(status: u16, code: i64, message: &str) -> Reply {
    json(status, &[], rpc::error(Value::Null, code, message).to_string().into_bytes())
}

/// Borrows owned (name, value) pairs as `&str` pairs.
pub fn pairs(owned: &[(String, String)]) -> Vec<(&str, &str)> {
    owned.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
}
