//! Handlers for what servers ask of the client: sampling, elicitation and
//! roots. A handler is registered for the whole store or for one service; a
//! server gets the capability only when a handler exists for it.
//!
//! Handlers run on the store's dispatch thread (never a transport's reader),
//! one at a time. Each answers through a [`Reply`]: a closure handler simply
//! returns its answer; a handler that needs long (a language model) may move
//! the reply to a thread of its own and return at once, so other callbacks
//! are not held up. A reply not sent within `handler_timeout` is answered
//! with an error for it; a reply dropped unsent, or a handler that panics,
//! answers with an error too. The server always gets exactly one answer.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::elicit_schema;
use crate::protocol::jsonrpc::codes;
use crate::protocol::{
    CreateMessageRequest, CreateMessageResult, ElicitAction, ElicitRequest, ElicitResult, Root,
};
use crate::session::Responder;

/// Who asks: the service and the method of its request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The service whose server sent the request.
    pub service: String,
    /// `sampling/createMessage`, `elicitation/create` or `roots/list`.
    pub method: &'static str,
    /// When the server gets a timeout error instead of the answer.
    pub deadline: Instant,
}

/// A handler's refusal, sent to the server as a JSON-RPC error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError {
    /// The JSON-RPC error code.
    pub code: i64,
    /// What went wrong.
    pub message: String,
}

impl HandlerError {
    /// An error with its own code.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        HandlerError { code, message: message.into() }
    }

    /// The user turned the request down (code -1, as MCP's examples use for sampling).
    pub fn rejected(message: impl Into<String>) -> Self {
        HandlerError::new(-1, message)
    }

    /// The handler failed (internal error, -32603).
    pub fn internal(message: impl Into<String>) -> Self {
        HandlerError::new(codes::INTERNAL_ERROR, message)
    }
}

impl std::fmt::Display for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "error {}: {}", self.code, self.message)
    }
}

impl std::error::Error for HandlerError {}

/// Checks (and may complete) an answer before it is sent.
type Check<T> = Box<dyn FnOnce(&mut T) -> Result<(), String> + Send>;

/// The one answer to a server request. Send it at once or later, from any
/// thread; dropping it unsent answers the server with an internal error.
pub struct Reply<T> {
    responder: Option<Responder>,
    check: Option<Check<T>>,
    _answer: PhantomData<fn(T)>,
}

impl<T> std::fmt::Debug for Reply<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply").field("sent", &self.responder.is_none()).finish()
    }
}

impl<T: Serialize> Reply<T> {
    pub(crate) fn new(responder: Responder, check: Option<Check<T>>) -> Self {
        Reply { responder: Some(responder), check, _answer: PhantomData }
    }

    /// Sends the answer (checked first: an answer that does not fit the
    /// request becomes an error for the server). Returns `false` when the
    /// request had been answered already (its timeout passed).
    pub fn send(mut self, outcome: Result<T, HandlerError>) -> bool {
        let Some(responder) = self.responder.take() else { return false };
        let outcome = outcome.and_then(|mut answer| match self.check.take() {
            Some(check) => check(&mut answer).map(|()| answer).map_err(|e| {
                log::warn!(target: "mcpstore::handlers", "[{}] a handler's answer was refused: {e}", responder.service());
                HandlerError::internal(format!("the client's answer was invalid: {e}"))
            }),
            None => Ok(answer),
        });
        match outcome.and_then(|a| serde_json::to_value(a).map_err(|e| HandlerError::internal(e.to_string())))
        {
            Ok(value) => responder.result(value),
            Err(e) => responder.error(e.code, e.message),
        }
    }

    /// Whether the request is still waiting for this answer.
    pub fn is_pending(&self) -> bool {
        self.responder.as_ref().is_some_and(|r| !r.answered())
    }
}

impl<T: Serialize + DeserializeOwned> Reply<T> {
    /// Sends an answer given as JSON text (the C ABI's form); text that is
    /// not a valid answer becomes an error for the server.
    pub(crate) fn send_json(self, json: &str) -> bool {
        let parsed = serde_json::from_str::<T>(json)
            .map_err(|e| HandlerError::internal(format!("the client's answer was not valid: {e}")));
        self.send(parsed)
    }
}

impl<T> Drop for Reply<T> {
    fn drop(&mut self) {
        if let Some(responder) = self.responder.take() {
            responder.error(codes::INTERNAL_ERROR, "the client's handler returned without answering");
        }
    }
}

/// Answers `sampling/createMessage` (a closure
/// `Fn(&RequestContext, CreateMessageRequest) -> Result<CreateMessageResult, HandlerError>` is one).
pub trait SamplingHandler: Send + Sync {
    /// Answers one request through `reply` (now or later, from any thread).
    fn create_message(
        &self,
        context: &RequestContext,
        request: CreateMessageRequest,
        reply: Reply<CreateMessageResult>,
    );

    /// Whether requests may carry `tools` and `toolChoice` (declared as `sampling.tools`).
    fn supports_tools(&self) -> bool {
        true
    }
}

impl<F> SamplingHandler for F
where
    F: Fn(&RequestContext, CreateMessageRequest) -> Result<CreateMessageResult, HandlerError> + Send + Sync,
{
    fn create_message(
        &self,
        context: &RequestContext,
        request: CreateMessageRequest,
        reply: Reply<CreateMessageResult>,
    ) {
        reply.send(self(context, request));
    }
}

/// Answers `elicitation/create` (a closure
/// `Fn(&RequestContext, ElicitRequest) -> Result<ElicitResult, HandlerError>` is one, for form mode).
/// An accepted form's content gets the schema's defaults for what it lacks
/// and is checked against the requested schema before it is sent.
pub trait ElicitationHandler: Send + Sync {
    /// Answers one request through `reply` (now or later, from any thread).
    fn elicit(&self, context: &RequestContext, request: ElicitRequest, reply: Reply<ElicitResult>);

    /// Whether URL mode is supported (else such requests get -32602 without reaching the handler).
    fn supports_url(&self) -> bool {
        false
    }
}

impl<F> ElicitationHandler for F
where
    F: Fn(&RequestContext, ElicitRequest) -> Result<ElicitResult, HandlerError> + Send + Sync,
{
    fn elicit(&self, context: &RequestContext, request: ElicitRequest, reply: Reply<ElicitResult>) {
        reply.send(self(context, request));
    }
}

/// The built-in elicitation handler: accepts every form with its schema's
/// defaults (declines a form whose required properties lack one).
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptDefaults;

impl ElicitationHandler for AcceptDefaults {
    fn elicit(&self, _context: &RequestContext, request: ElicitRequest, reply: Reply<ElicitResult>) {
        let answer = match &request {
            ElicitRequest::Form { requested_schema, .. } => {
                match elicit_schema::defaults_only(requested_schema) {
                    Ok(content) => ElicitResult::accept(content),
                    Err(_) => ElicitResult::decline(),
                }
            }
            ElicitRequest::Url { .. } => ElicitResult::decline(),
        };
        reply.send(Ok(answer));
    }
}

/// Answers `roots/list` (a closure `Fn(&RequestContext) -> Result<Vec<Root>, HandlerError>` is one).
pub trait RootsHandler: Send + Sync {
    /// The roots to give the server.
    fn roots(&self, context: &RequestContext) -> Result<Vec<Root>, HandlerError>;
}

impl<F> RootsHandler for F
where
    F: Fn(&RequestContext) -> Result<Vec<Root>, HandlerError> + Send + Sync,
{
    fn roots(&self, context: &RequestContext) -> Result<Vec<Root>, HandlerError> {
        self(context)
    }
}

/// Roots given as a list (`set_roots`, `"roots"` in an `mcpServers` entry).
pub(crate) struct FixedRoots(pub(crate) Vec<Root>);

impl RootsHandler for FixedRoots {
    fn roots(&self, _context: &RequestContext) -> Result<Vec<Root>, HandlerError> {
        Ok(self.0.clone())
    }
}

/// The handlers of the store or of one service (unset ones fall back to the store's).
#[derive(Clone, Default)]
pub(crate) struct HandlerSet {
    pub(crate) sampling: Option<Arc<dyn SamplingHandler>>,
    pub(crate) elicitation: Option<Arc<dyn ElicitationHandler>>,
    pub(crate) roots: Option<Arc<dyn RootsHandler>>,
}

impl HandlerSet {
    /// This set, with the store's handlers where it has none.
    pub(crate) fn or(&self, store: &HandlerSet) -> HandlerSet {
        HandlerSet {
            sampling: self.sampling.clone().or_else(|| store.sampling.clone()),
            elicitation: self.elicitation.clone().or_else(|| store.elicitation.clone()),
            roots: self.roots.clone().or_else(|| store.roots.clone()),
        }
    }

    /// The client capabilities these handlers give (MCP 2025-11-25).
    pub(crate) fn capabilities(&self) -> Value {
        let mut caps = serde_json::Map::new();
        if self.roots.is_some() {
            caps.insert("roots".into(), serde_json::json!({ "listChanged": true }));
        }
        if let Some(s) = &self.sampling {
            let sampling =
                if s.supports_tools() { serde_json::json!({ "tools": {} }) } else { serde_json::json!({}) };
            caps.insert("sampling".into(), sampling);
        }
        if let Some(e) = &self.elicitation {
            let mut modes = serde_json::json!({ "form": {} });
            if e.supports_url() {
                modes["url"] = serde_json::json!({});
            }
            caps.insert("elicitation".into(), modes);
        }
        Value::Object(caps)
    }
}

/// The check an elicitation answer gets: an accepted form is completed with
/// the schema's defaults and must then fit the schema; other answers carry no content.
pub(crate) fn elicitation_check(request: &ElicitRequest) -> Check<ElicitResult> {
    let schema = match request {
        ElicitRequest::Form { requested_schema, .. } => Some(requested_schema.clone()),
        ElicitRequest::Url { .. } => None,
    };
    Box::new(move |answer: &mut ElicitResult| {
        match (answer.action, &schema) {
            (ElicitAction::Accept, Some(schema)) => {
                let content = answer.content.get_or_insert_with(Default::default);
                elicit_schema::fill_defaults(schema, content);
                elicit_schema::validate(schema, content)?;
            }
            // URL mode, decline and cancel carry no content.
            _ => answer.content = None,
        }
        Ok(())
    })
}
