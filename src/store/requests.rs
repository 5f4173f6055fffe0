//! The store's answer to a server's requests: finds the handler (the
//! service's, else the store's), checks the request, and runs the handler on
//! the dispatch thread with a deadline. Without a handler the server gets
//! `-32601`; a request that does not parse gets `-32602`; a handler that
//! panics gets the server `-32603`. The session always lives on.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Weak};
use std::time::Instant;

use serde_json::{Value, json};

use super::StoreInner;
use super::handlers::{HandlerSet, Reply, RequestContext, elicitation_check};
use super::watchdog;
use crate::protocol::jsonrpc::codes;
use crate::protocol::messages::methods;
use crate::protocol::{CreateMessageRequest, ElicitRequest};
use crate::session::{Responder, ServerRequests};

/// The service's own handlers, read when a request arrives.
pub(crate) type OwnHandlers = Box<dyn Fn() -> Option<HandlerSet> + Send + Sync>;

/// Answers the requests of one service's sessions.
pub(crate) struct StoreRequests {
    pub(crate) store: Weak<StoreInner>,
    pub(crate) own: OwnHandlers,
}

impl StoreRequests {
    /// The handlers in force for the service: its own, else the store's.
    fn handlers(&self) -> Option<(Arc<StoreInner>, HandlerSet)> {
        let store = self.store.upgrade()?;
        let own = (self.own)().unwrap_or_default();
        let set = own.or(&store.handlers.read());
        Some((store, set))
    }
}

impl ServerRequests for StoreRequests {
    fn capabilities(&self, _service: &str) -> Value {
        self.handlers().map_or_else(|| json!({}), |(_, set)| set.capabilities())
    }

    fn request(&self, service: &str, method: &str, params: Value, responder: Responder) {
        let Some((store, handlers)) = self.handlers() else {
            responder.error(codes::INTERNAL_ERROR, "the client is closing");
            return;
        };
        let timeout = store.config.read().batch.handler_timeout;
        let job = match prepare(service, method, params, &handlers, &responder, timeout) {
            Ok(job) => job,
            Err((code, message)) => {
                log::debug!(target: "mcpstore::handlers", "[{service}] {method}: {message}");
                responder.error(code, message);
                return;
            }
        };
        let timer = watchdog::guard(&store.deadlines, &responder, timeout);
        let method = method.to_owned();
        let guarded = responder.clone();
        let owner = Arc::downgrade(&store);
        let run = move || {
            if catch_unwind(AssertUnwindSafe(job)).is_err() {
                log::error!(target: "mcpstore::handlers", "[{}] the {method} handler panicked", guarded.service());
                guarded.error(codes::INTERNAL_ERROR, "the client's handler failed");
            }
            // Answered in place (most handlers): the timer has nothing left to guard.
            // A handler that keeps its reply to answer later leaves it armed until
            // `handler_timeout`, when it finds the request answered and does nothing.
            if guarded.answered()
                && let (Some(key), Some(store)) = (timer, owner.upgrade())
            {
                store.deadlines.disarm(key);
            }
        };
        if !store.callbacks.post(run) {
            responder.error(codes::INTERNAL_ERROR, "the client is too busy to answer");
            if let Some(key) = timer {
                store.deadlines.disarm(key);
            }
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The handler call for one request, or the error the server gets at once.
fn prepare(
    service: &str,
    method: &str,
    params: Value,
    handlers: &HandlerSet,
    responder: &Responder,
    timeout: std::time::Duration,
) -> Result<Job, (i64, String)> {
    let no_handler = || (codes::METHOD_NOT_FOUND, format!("the client has no handler for '{method}'"));
    let context = |method: &'static str| RequestContext {
        service: service.to_owned(),
        method,
        deadline: crate::util::deadline_after(timeout).max(Instant::now()),
    };
    let invalid = |e: String| (codes::INVALID_PARAMS, format!("invalid {method} params: {e}"));
    match method {
        methods::ROOTS_LIST => {
            let handler = handlers.roots.clone().ok_or_else(no_handler)?;
            let context = context(methods::ROOTS_LIST);
            let reply: Reply<Value> = Reply::new(responder.clone(), None);
            Ok(Box::new(move || {
                let outcome = handler.roots(&context).map(|roots| json!({ "roots": roots }));
                reply.send(outcome);
            }))
        }
        methods::SAMPLING_CREATE => {
            let handler = handlers.sampling.clone().ok_or_else(no_handler)?;
            let request: CreateMessageRequest =
                serde_json::from_value(params).map_err(|e| invalid(e.to_string()))?;
            if request.tools.is_some() && !handler.supports_tools() {
                return Err(invalid("the client does not support tools in sampling".into()));
            }
            let context = context(methods::SAMPLING_CREATE);
            let reply = Reply::new(responder.clone(), None);
            Ok(Box::new(move || handler.create_message(&context, request, reply)))
        }
        methods::ELICITATION_CREATE => {
            let handler = handlers.elicitation.clone().ok_or_else(no_handler)?;
            let request = ElicitRequest::from_params(&params).map_err(invalid)?;
            if matches!(request, ElicitRequest::Url { .. }) && !handler.supports_url() {
                return Err(invalid("the client does not support URL-mode elicitation".into()));
            }
            let context = context(methods::ELICITATION_CREATE);
            let reply = Reply::new(responder.clone(), Some(elicitation_check(&request)));
            Ok(Box::new(move || handler.elicit(&context, request, reply)))
        }
        _ => Err((codes::METHOD_NOT_FOUND, format!("the client does not support '{method}'"))),
    }
}
