//! Streamable HTTP in the stateless era (2026-07-28): every POST carries
//! one request (or notification) with its own `_meta`; there are no
//! sessions, no `Mcp-Session-Id`, no GET stream and no resumption.
//!
//! - `MCP-Protocol-Version` must equal the `_meta` version, `Mcp-Method`
//!   the body's method, and on `tools/call`, `prompts/get` and
//!   `resources/read` `Mcp-Name` the tool or prompt name or the URI
//!   (plain or `=?base64?...?=`); otherwise `400` with `-32020`.
//! - Bad `_meta` is `400` with `-32602`, an unknown version `400` with
//!   `-32022` (`data.supported`), an unknown method `404` with `-32601`.
//! - `subscriptions/listen` is answered with a long-lived SSE stream
//!   ([`ListenStream`](super::subscriptions::ListenStream)).
//! - `--sse-disconnect-every N`: every N-th `tools/call` stream ends after
//!   an SSE comment, with no result; the call is not run (a broken stream
//!   loses its request, and the client sends it again under a new id).
//! - Closing the stream cancels the request: a slow request's connection
//!   is watched, and a client that closed it is counted as a cancellation.

use std::io;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use touche::HeaderMap;

use super::dispatch::{Admission, Transport};
use super::http::Shared;
use super::http_mcp::{self, Batch, header};
use super::http_reply::{self, Reply};
use super::modern::{self, HEADER_MISMATCH};
use super::process_tools;
use super::rpc::{self, INVALID_REQUEST, METHOD_NOT_FOUND, Message};
use super::sse;
use super::state::CancelToken;

/// How often a slow request's connection is looked at.
const WATCH_EVERY: Duration = Duration::from_millis(20);

/// Whether the client closed its side of `conn` (a read would see the end).
#[cfg(unix)]
fn peer_closed(conn: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut byte = 0u8;
    // SAFETY: a one-byte peek into a local buffer on a socket this process owns;
    // MSG_PEEK leaves the data in place and MSG_DONTWAIT never blocks.
    let n = unsafe {
        libc::recv(conn.as_raw_fd(), (&raw mut byte).cast(), 1, libc::MSG_PEEK | libc::MSG_DONTWAIT)
    };
    n == 0
}

#[cfg(not(unix))]
fn peer_closed(_conn: &TcpStream) -> bool {
    false
}

/// Watches a slow request's connection until the request ends (nothing
/// else holds its token any more) or the client closes it (then cancels it).
fn watch(shared: &Shared, conn: Option<TcpStream>, id: Value, token: Option<Arc<CancelToken>>) {
    let (Some(conn), Some(token)) = (conn, token) else { return };
    let server = shared.server.clone();
    let spawned = std::thread::Builder::new().name("demo-http-watch".into()).spawn(move || {
        while Arc::strong_count(&token) > 1 && !token.is_cancelled() && !server.is_stopping() {
            if peer_closed(&conn) {
                server.disconnected(id, &token);
                return;
            }
            std::thread::sleep(WATCH_EVERY);
        }
    });
    if spawned.is_err() {
        log::warn!("demo server: cannot watch a connection");
    }
}

/// Whether a POST belongs to the stateless era: the server speaks it, and
/// the body's `_meta` or the `MCP-Protocol-Version` header names it (or the
/// server speaks nothing else).
pub fn is_stateless(shared: &Shared, headers: &HeaderMap, value: &Value) -> bool {
    let eras = shared.opts().eras();
    if !eras.modern() {
        return false;
    }
    if !eras.handshake() {
        return true;
    }
    let in_body = value.get("params").is_some_and(|p| modern::requested_version(p).is_some());
    in_body
        || header(headers, "mcp-protocol-version").is_some_and(|v| shared.server.is_modern_version(v.trim()))
}

/// The HTTP status of a stateless error response.
fn status_of(reply: &Value) -> u16 {
    match reply.pointer("/error/code").and_then(Value::as_i64) {
        Some(rpc::INVALID_PARAMS | modern::HEADER_MISMATCH | -32021 | modern::UNSUPPORTED_VERSION) => 400,
        Some(METHOD_NOT_FOUND) => 404,
        _ => 200,
    }
}

fn json_reply(reply: &Value) -> Reply {
    http_reply::json(status_of(reply), &[], reply.to_string().into_bytes())
}

/// The standard headers must say what the body says (SEP-2243).
fn check_headers(headers: &HeaderMap, id: &Value, method: &str, params: &Value) -> Result<(), Value> {
    let mismatch =
        |what: String| Err(rpc::error(id.clone(), HEADER_MISMATCH, &format!("Header mismatch: {what}")));
    if let Some(Value::String(version)) = modern::requested_version(params) {
        match header(headers, "mcp-protocol-version").map(str::trim) {
            Some(v) if v == version => {}
            Some(v) => {
                return mismatch(format!("MCP-Protocol-Version {v:?} is not the _meta version {version:?}"));
            }
            None => return mismatch("the MCP-Protocol-Version header is missing".into()),
        }
    } else {
        return Ok(()); // no _meta: refused on admission (-32602 or -32022)
    }
    match header(headers, "mcp-method") {
        Some(m) if m == method => {}
        Some(m) => return mismatch(format!("Mcp-Method {m:?} is not the body's method {method:?}")),
        None => return mismatch("the Mcp-Method header is missing".into()),
    }
    let named = match method {
        "tools/call" | "prompts/get" => params.get("name"),
        "resources/read" => params.get("uri"),
        _ => return Ok(()),
    };
    let Some(named) = named.and_then(Value::as_str) else { return Ok(()) };
    match header(headers, "mcp-name").map(modern::header_value) {
        Some(Some(n)) if n == named => Ok(()),
        Some(_) => mismatch(format!("Mcp-Name does not match {named:?}")),
        None => mismatch(format!("the Mcp-Name header is missing (the body names {named:?})")),
    }
}

/// Answers one stateless POST. `Err` closes the connection unanswered (a
/// request that must never be answered, once the server stops).
pub fn post(shared: &Shared, headers: &HeaderMap, value: Value, conn: u64) -> io::Result<Reply> {
    if value.is_array() {
        let msg = "Invalid Request: protocol 2026-07-28 has no batches";
        return Ok(http_reply::rpc_error(400, INVALID_REQUEST, msg));
    }
    let peer = shared.stateless_peer();
    let (id, method, params) = match rpc::classify(value) {
        Message::Request { id, method, params } => (id, method, params),
        Message::Notification { method, params } => {
            shared.server.notification(&peer, &method, &params);
            return Ok(http_reply::respond(202, &[], Vec::new()));
        }
        Message::Response { .. } => {
            let msg = "Invalid Request: a 2026-07-28 server sends no requests, so it takes no responses";
            return Ok(http_reply::rpc_error(400, INVALID_REQUEST, msg));
        }
        Message::Invalid { id, reason } => {
            let reply = rpc::error(id, INVALID_REQUEST, &format!("Invalid Request: {reason}"));
            return Ok(http_reply::json(400, &[], reply.to_string().into_bytes()));
        }
    };
    if let Err(reply) = check_headers(headers, &id, &method, &params) {
        return Ok(json_reply(&reply));
    }
    if modern::requested_version(&params).is_none() && shared.opts().eras().handshake() {
        // A 2026-07-28 header on a request without its _meta.
        let supported = shared.server.modern_versions().to_vec();
        if let Err(reply) = modern::parse_meta(&id, &params, &supported) {
            return Ok(json_reply(&reply));
        }
    }
    let mut pending = match shared.server.admit(&peer, id, method, params) {
        Admission::Hang => return Err(http_mcp::hang(shared)),
        Admission::Answer(reply) => return Ok(json_reply(&reply)),
        Admission::Run(p) => p,
    };
    if !modern::has_method(pending.method()) && pending.is_modern() {
        let reply = rpc::error(
            pending.id().clone(),
            METHOD_NOT_FOUND,
            &format!("Method not found: {} (not in protocol {})", pending.method(), modern::MODERN_VERSION),
        );
        shared.server.discard(pending);
        return Ok(json_reply(&reply));
    }
    if pending.method() == "subscriptions/listen" {
        return Ok(match shared.server.open_listen(pending, shared.connection(conn)) {
            Ok(stream) => http_reply::streamed(&sse::stream_headers(&[]), stream),
            Err(reply) => json_reply(&reply),
        });
    }
    if pending.tool_name() == Some("headers") {
        let pairs = http_reply::headers(headers);
        pending
            .set_headers(process_tools::header_object(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))));
    }
    if let (true, Some(every)) = (pending.method() == "tools/call", shared.opts().sse_disconnect_every) {
        let n = shared.sse_calls.fetch_add(1, Ordering::SeqCst) + 1;
        if shared.transport == Transport::HttpSse && n.is_multiple_of(every) {
            shared.server.discard(pending);
            return Ok(http_reply::respond(200, &sse::stream_headers(&[]), b": closing early\n\n".to_vec()));
        }
    }
    if !shared.server.is_quick(&pending) {
        watch(shared, shared.connection(conn), pending.id().clone(), shared.server.cancel_token(&pending));
    }
    let msgs = Batch { batch: false, errors: Vec::new(), requests: vec![pending] };
    if shared.transport == Transport::HttpJson {
        return Ok(http_mcp::reply_json(shared, &peer, msgs, &[]));
    }
    Ok(http_mcp::answer_sse(shared, peer, msgs, Vec::new(), None))
}
