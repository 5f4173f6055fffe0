//! Requests a server sends its client (`roots/list`, `sampling/createMessage`,
//! `elicitation/create`): handed to whoever the session was given (the
//! store's handlers), answered later from any thread through a [`Responder`].
//! The reader never waits for them: it goes on routing replies.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use crate::protocol::jsonrpc::{self, codes};
use crate::protocol::{RequestId, RpcError};

/// Receives a session's server requests and says what the client can do.
pub(crate) trait ServerRequests: Send + Sync {
    /// The client capabilities to declare in `initialize` (only what has a handler).
    fn capabilities(&self, service: &str) -> Value;
    /// A request to answer (once, from any thread) through `responder`.
    fn request(&self, service: &str, method: &str, params: Value, responder: Responder);
}

/// The answer to one server request: its result, or a JSON-RPC error.
pub(crate) type Answer = Result<Value, RpcError>;

/// Delivers an answer: encoded and sent to the server (a server request), or
/// handed to the call waiting for it (a multi round-trip input request).
pub(crate) type Deliver = Arc<dyn Fn(Answer) + Send + Sync>;

/// Answers one server request exactly once: the first answer wins, later ones
/// (a handler that returns after its timeout was answered) are dropped.
#[derive(Clone)]
pub(crate) struct Responder {
    service: Arc<str>,
    deliver: Deliver,
    answered: Arc<AtomicBool>,
}

impl Responder {
    pub(crate) fn new(service: Arc<str>, deliver: Deliver) -> Self {
        Responder { service, deliver, answered: Arc::new(AtomicBool::new(false)) }
    }

    /// The service whose server asked.
    pub(crate) fn service(&self) -> &str {
        &self.service
    }

    /// Answers with a result; `false` when the request was answered already.
    pub(crate) fn result(&self, result: Value) -> bool {
        self.answer(Ok(result))
    }

    /// Answers with a JSON-RPC error; `false` when the request was answered already.
    pub(crate) fn error(&self, code: i64, message: impl Into<String>) -> bool {
        self.answer(Err(RpcError { code, message: message.into(), data: None }))
    }

    fn answer(&self, answer: Answer) -> bool {
        if self.answered.swap(true, Ordering::AcqRel) {
            return false;
        }
        (self.deliver)(answer);
        true
    }

    /// Whether it was answered.
    pub(crate) fn answered(&self) -> bool {
        self.answered.load(Ordering::Acquire)
    }
}

/// Encodes the answer to server request `id` as a JSON-RPC response line.
pub(crate) fn encode_answer(id: &RequestId, answer: &Answer) -> Vec<u8> {
    let mut buf = Vec::with_capacity(128);
    match answer {
        Ok(result) => jsonrpc::write_result(&mut buf, id, result),
        Err(error) => jsonrpc::write_error(&mut buf, id, error),
    }
    buf.push(b'\n');
    buf
}

/// The reply to a request nobody handles: method not found.
pub(crate) fn not_handled(id: &RequestId, method: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    let err = RpcError {
        code: codes::METHOD_NOT_FOUND,
        message: format!("client does not support '{method}'"),
        data: None,
    };
    jsonrpc::write_error(&mut out, id, &err);
    out.push(b'\n');
    out
}
