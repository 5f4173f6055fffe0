//! The MCP endpoint `/mcp` (Streamable HTTP, protocol 2025-11-25).
//!
//! - `POST /mcp`: one JSON-RPC message (or a batch array). `initialize`
//!   without a session creates one (`Mcp-Session-Id` response header); all
//!   other POSTs need a live session id (missing: 400, unknown or expired:
//!   404). Notifications and responses get 202; requests get an SSE answer
//!   (or one JSON body with `--json`).
//! - `GET /mcp` (`Accept: text/event-stream`, a live session): the session's
//!   listening stream ([`listen`](super::listen); 409 while one is open, 405
//!   with `--no-listen-stream`). With `Last-Event-ID` of a request stream:
//!   replays a stream the server closed early (`--sse-disconnect-every`);
//!   of the listening stream (`0_<n>`): reopens it after that event.
//! - `DELETE /mcp`: ends the session (200; unknown: 404).
//!
//! A POST of the stateless era (2026-07-28: its `_meta` or its
//! `MCP-Protocol-Version` header names that era) needs no session: see
//! [`http_modern`](super::http_modern).

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use touche::{Body, HeaderMap, Method, Request};

use super::chaos;
use super::dispatch::{Admission, Outbound, Outcome, Peer, Pending, Server, Transport};
use super::http::Shared;
use super::http_modern;
use super::http_reply::{self, BodyError, Reply};
use super::http_session::{LogOutbound, Session};
use super::listen::{LISTEN_STREAM, OpenError};
use super::process_tools;
use super::rpc::{self, INVALID_REQUEST, Message, PARSE_ERROR};
use super::sse::{self, Collected, Ending, GARBAGE, Replay};

/// Retry delay (ms) announced before the server closes an SSE stream early.
const RETRY_MS: u64 = 100;

/// The value of a header, if present and valid UTF-8.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Answers one request. `Err` closes the connection without an answer
/// (a request that must never be answered, once the server stops).
/// `conn` is the connection's number (a listening stream keeps a handle on it).
pub fn handle(shared: &Shared, conn: u64, rq: Request<Body>) -> io::Result<Reply> {
    let (parts, body) = rq.into_parts();
    let headers = &parts.headers;
    if parts.uri.path() != "/mcp" {
        return Ok(http_reply::text(404, &[], "not found: the MCP endpoint is /mcp\n"));
    }
    if let Some((name, value)) = &shared.opts().require_header
        && header(headers, name) != Some(value.as_str())
    {
        let msg = format!("Unauthorized: missing or wrong {name} header");
        return Ok(http_reply::rpc_error(401, -32001, &msg));
    }
    if header(headers, "origin").is_some_and(|o| !origin_allowed(o)) {
        return Ok(http_reply::rpc_error(403, -32001, "Forbidden: Origin not allowed"));
    }
    if shared.server.is_hung() {
        return Err(hang(shared));
    }
    let stateless_only = !shared.opts().eras().handshake();
    match parts.method {
        Method::POST if shared.opts().chaos => {
            post(shared, headers, body, conn).map(|r| chaos::maybe_cut(r, shared.connection(conn)))
        }
        Method::POST => post(shared, headers, body, conn),
        Method::GET | Method::DELETE if stateless_only => {
            Ok(http_reply::text(405, &[("Allow", "POST")], "method not allowed: a 2026-07-28 server\n"))
        }
        Method::GET => Ok(get(shared, headers, conn)),
        Method::DELETE => Ok(delete(shared, headers)),
        _ => Ok(http_reply::text(405, &[("Allow", "GET, POST, DELETE")], "method not allowed\n")),
    }
}

/// Holds a request that must never be answered until the server stops.
pub fn hang(shared: &Shared) -> io::Error {
    while !shared.stopping() {
        std::thread::sleep(Duration::from_millis(50));
    }
    io::Error::other("the server stopped")
}

/// Whether a browser `Origin` may call the server (localhost only).
pub fn origin_allowed(origin: &str) -> bool {
    let Some(rest) = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host = if authority.starts_with('[') {
        authority.split(']').next().map(|h| format!("{h}]"))
    } else {
        authority.split(':').next().map(str::to_string)
    };
    matches!(host.as_deref(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

/// The session named by the request; `Err((status, message))` if missing
/// (400) or unknown/expired (404). POSTs count towards expiry.
fn session_for(
    shared: &Shared,
    headers: &HeaderMap,
    count: bool,
) -> Result<Arc<Session>, (u16, &'static str)> {
    let Some(id) = header(headers, "mcp-session-id") else {
        return Err((400, "Bad Request: missing Mcp-Session-Id header"));
    };
    let Some(session) = shared.sessions.get(id.trim()) else {
        return Err((404, "Session not found"));
    };
    if count && shared.opts().chaos && chaos::take(chaos::Fault::Expire) {
        shared.sessions.remove(&session.id);
        return Err((404, "Session expired"));
    }
    if count {
        let n = session.count_post();
        if shared.opts().expire_sessions_after.is_some_and(|limit| n > limit) {
            shared.sessions.remove(&session.id);
            return Err((404, "Session expired"));
        }
    }
    Ok(session)
}

/// The POST's messages after classification.
pub struct Batch {
    /// The POST was a JSON array.
    pub batch: bool,
    /// Error responses for messages that were not valid.
    pub errors: Vec<Value>,
    /// The admitted requests.
    pub requests: Vec<Pending>,
}

fn post(shared: &Shared, headers: &HeaderMap, body: Body, conn: u64) -> io::Result<Reply> {
    if let Some(v) = header(headers, "mcp-protocol-version")
        && !shared.server.supports_version(v.trim())
    {
        let msg = format!("Bad Request: unsupported MCP-Protocol-Version {v:?}");
        return Ok(http_reply::rpc_error(400, INVALID_REQUEST, &msg));
    }
    let body = match http_reply::read_body(body) {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return Ok(http_reply::text(413, &[], "request body too large\n")),
        Err(BodyError::Io(e)) => return Ok(http_reply::text(400, &[], &format!("bad request body: {e}\n"))),
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return Ok(http_reply::rpc_error(400, PARSE_ERROR, &format!("Parse error: {e}"))),
    };
    if let Some(refused) = shared.opts().chaos.then(chaos::refusal).flatten() {
        return Ok(refused);
    }
    if shared.opts().exit_on.is_some() {
        for msg in value.as_array().map_or(std::slice::from_ref(&value), Vec::as_slice) {
            if let (Some(method), Some(_)) = (msg.get("method").and_then(Value::as_str), msg.get("id")) {
                shared.server.arrived(method);
            }
        }
    }
    if http_modern::is_stateless(shared, headers, &value) {
        return http_modern::post(shared, headers, value, conn);
    }
    let is_initialize =
        value.get("method").and_then(Value::as_str) == Some("initialize") && value.get("id").is_some();
    let (session, new_session) = if is_initialize {
        shared.server.stats().session_created();
        let session = shared.sessions.create(shared.transport, !shared.opts().no_listen_stream);
        shared.server.register(&session.peer);
        (session, true)
    } else {
        match session_for(shared, headers, true) {
            Ok(s) => (s, false),
            Err((status, msg)) => return Ok(http_reply::rpc_error(status, INVALID_REQUEST, msg)),
        }
    };
    let batch = value.is_array();
    let items = match value {
        Value::Array(items) if items.is_empty() => {
            return Ok(http_reply::rpc_error(400, INVALID_REQUEST, "Invalid Request: empty batch"));
        }
        Value::Array(items) => items,
        other => vec![other],
    };
    let Some(mut msgs) = classify(shared, &session, headers, items, batch) else {
        return Err(hang(shared));
    };
    if !msgs.batch
        && let Some(err) = msgs.errors.pop()
    {
        return Ok(http_reply::json(400, &[], err.to_string().into_bytes()));
    }
    if msgs.requests.is_empty() && msgs.errors.is_empty() {
        return Ok(http_reply::respond(202, &[], Vec::new()));
    }
    let mut extra: Vec<(String, String)> = Vec::new();
    if new_session {
        extra.push(("Mcp-Session-Id".into(), session.id.clone()));
    }
    if shared.transport == Transport::HttpJson {
        return Ok(reply_json(shared, &session.peer, msgs, &extra));
    }
    Ok(reply_sse(shared, &session, msgs, extra))
}

/// Classifies and admits the messages; None when one must never be
/// answered (the whole POST then stays unanswered).
fn classify(
    shared: &Shared,
    session: &Session,
    headers: &HeaderMap,
    items: Vec<Value>,
    batch: bool,
) -> Option<Batch> {
    let peer = &session.peer;
    let mut out = Batch { batch, errors: Vec::new(), requests: Vec::new() };
    let mut request_headers: Option<Value> = None;
    for item in items {
        match rpc::classify(item) {
            Message::Invalid { id, reason } => {
                out.errors.push(rpc::error(id, INVALID_REQUEST, &format!("Invalid Request: {reason}")));
            }
            Message::Notification { method, params } => shared.server.notification(peer, &method, &params),
            Message::Response { id, message } => shared.server.client_response(&id, message),
            Message::Request { id, method, params } => match shared.server.admit(peer, id, method, params) {
                Admission::Hang => return None,
                Admission::Answer(reply) => out.errors.push(reply),
                Admission::Run(mut p) => {
                    if p.tool_name() == Some("headers") {
                        let h = request_headers.get_or_insert_with(|| {
                            let pairs = http_reply::headers(headers);
                            process_tools::header_object(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())))
                        });
                        p.set_headers(h.clone());
                    }
                    out.requests.push(p);
                }
            },
        }
    }
    Some(out)
}

/// Drops messages sent before the response (no room for them in a JSON body).
struct Discard;

impl Outbound for Discard {
    fn send(&self, _msg: &Value) {}
}

/// Answers with one JSON body (`--json`).
pub fn reply_json(shared: &Shared, peer: &Peer, msgs: Batch, extra: &[(String, String)]) -> Reply {
    let hs = http_reply::pairs(extra);
    let mut replies = msgs.errors;
    for p in msgs.requests {
        match shared.server.execute(peer, p, &Discard) {
            Outcome::Reply(v) => replies.push(v),
            Outcome::Garbage => return http_reply::json(200, &hs, GARBAGE.to_vec()),
            Outcome::Silent => {}
        }
    }
    let body = match (msgs.batch, replies.pop()) {
        (_, None) => return http_reply::respond(204, &hs, Vec::new()),
        (false, Some(v)) => v.to_string(),
        (true, Some(v)) => {
            replies.push(v);
            Value::Array(replies).to_string()
        }
    };
    http_reply::json(200, &hs, body.into_bytes())
}

fn reply_sse(
    shared: &Shared,
    session: &Arc<Session>,
    mut msgs: Batch,
    extra: Vec<(String, String)>,
) -> Reply {
    let single_call = !msgs.batch && msgs.requests.len() == 1 && msgs.requests[0].method() == "tools/call";
    if let (true, Some(every)) = (single_call, shared.opts().sse_disconnect_every) {
        let n = shared.sse_calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n.is_multiple_of(every)
            && let Some(p) = msgs.requests.pop()
        {
            return disconnect_early(shared, session, p, &extra);
        }
    }
    let stream =
        shared.opts().sse_disconnect_every.map(|_| shared.next_stream.fetch_add(1, Ordering::SeqCst) + 1);
    answer_sse(shared, session.peer.clone(), msgs, extra, stream)
}

/// Answers with SSE: complete at once for quick requests, else from a
/// thread of their own; `stream` numbers the events (resumable streams).
pub fn answer_sse(
    shared: &Shared,
    peer: Peer,
    msgs: Batch,
    extra: Vec<(String, String)>,
    stream: Option<u64>,
) -> Reply {
    let slow = msgs.requests.iter().any(|p| !shared.server.is_quick(p));
    let server = shared.server.clone();
    let job = move |out: &dyn Outbound| run_sse(&server, &peer, msgs, out);
    if slow {
        return sse::answer_from_thread(shared.server.clone(), extra, stream, job);
    }
    let collected = Collected::new(stream);
    let ending = job(&collected);
    collected.finish(ending, &extra)
}

/// Runs the requests of an SSE answer; errors and batch replies go to `out`.
fn run_sse(server: &Server, peer: &Peer, mut msgs: Batch, out: &dyn Outbound) -> Ending {
    for e in &msgs.errors {
        out.send(e);
    }
    if msgs.batch {
        for p in msgs.requests {
            match server.execute(peer, p, out) {
                Outcome::Reply(v) => out.send(&v),
                Outcome::Garbage => return Ending::Garbage,
                Outcome::Silent => {}
            }
        }
        return Ending::Silent;
    }
    match msgs.requests.pop().map(|p| server.execute(peer, p, out)) {
        Some(Outcome::Reply(v)) => Ending::Reply(v),
        Some(Outcome::Garbage) => Ending::Garbage,
        Some(Outcome::Silent) | None => Ending::Silent,
    }
}

/// `--sse-disconnect-every`: answers with only a priming event (id +
/// retry), and runs the request in the background, storing its events for
/// a `GET` with `Last-Event-ID`.
fn disconnect_early(
    shared: &Shared,
    session: &Arc<Session>,
    pending: Pending,
    extra: &[(String, String)],
) -> Reply {
    let stream = shared.next_stream.fetch_add(1, Ordering::SeqCst) + 1;
    let log = session.new_stream(stream);
    let priming = sse::priming(&sse::event_id(stream, 0), Some(RETRY_MS));
    let server = shared.server.clone();
    let peer = session.peer.clone();
    let bg_log = log.clone();
    let spawned = std::thread::Builder::new().name("demo-http-bg".into()).spawn(move || {
        let out = LogOutbound(bg_log.clone());
        match server.execute(&peer, pending, &out) {
            Outcome::Reply(v) => out.send(&v),
            Outcome::Garbage => bg_log.push(GARBAGE.to_vec()),
            Outcome::Silent => {}
        }
        bg_log.finish();
    });
    if spawned.is_err() {
        log::warn!("demo server: cannot spawn a background call thread");
        log.finish();
    }
    http_reply::respond(200, &sse::stream_headers(extra), priming)
}

fn get(shared: &Shared, headers: &HeaderMap, conn: u64) -> Reply {
    let session = match session_for(shared, headers, false) {
        Ok(s) => s,
        Err((status, msg)) => return http_reply::rpc_error(status, INVALID_REQUEST, msg),
    };
    let Some(last) = header(headers, "last-event-id") else {
        return listen(shared, &session, headers, None, conn);
    };
    let Some((stream, after)) = sse::parse_event_id(last) else {
        return http_reply::rpc_error(400, INVALID_REQUEST, "Bad Request: malformed Last-Event-ID");
    };
    if stream == LISTEN_STREAM {
        return listen(shared, &session, headers, Some(after), conn);
    }
    let Some(log) = session.stream(stream) else {
        return http_reply::rpc_error(400, INVALID_REQUEST, "Bad Request: unknown Last-Event-ID");
    };
    let replay = Replay::new(log, stream, after, shared.server.clone());
    http_reply::streamed(&sse::stream_headers(&[]), replay)
}

/// Opens the session's listening stream (after event `after` when resuming).
fn listen(shared: &Shared, session: &Session, headers: &HeaderMap, after: Option<u64>, conn: u64) -> Reply {
    if shared.opts().no_listen_stream {
        let msg = "GET /mcp is only for resuming a stream with Last-Event-ID (--no-listen-stream)\n";
        return http_reply::text(405, &[("Allow", "POST, DELETE")], msg);
    }
    let accepts =
        header(headers, "accept").is_some_and(|a| a.to_ascii_lowercase().contains(sse::EVENT_STREAM));
    if !accepts {
        return http_reply::rpc_error(
            406,
            INVALID_REQUEST,
            "Not Acceptable: the listening stream needs Accept: text/event-stream",
        );
    }
    match session.listen.open(after, shared.connection(conn), shared.server.clone()) {
        Ok(body) => {
            shared.server.stats().listen_stream_opened();
            http_reply::streamed(&sse::stream_headers(&[]), body)
        }
        Err(OpenError::AlreadyOpen) => http_reply::rpc_error(
            409,
            INVALID_REQUEST,
            "Conflict: this session's listening stream is open already",
        ),
        Err(OpenError::Closed) => http_reply::rpc_error(404, INVALID_REQUEST, "Session not found"),
    }
}

fn delete(shared: &Shared, headers: &HeaderMap) -> Reply {
    let session = match session_for(shared, headers, false) {
        Ok(s) => s,
        Err((status, msg)) => return http_reply::rpc_error(status, INVALID_REQUEST, msg),
    };
    if shared.sessions.remove(&session.id) {
        shared.server.stats().session_deleted();
    }
    http_reply::respond(200, &[], Vec::new())
}
