//! Routing what a server sends: responses to their waiters by id,
//! notifications to handlers, and answers to the server's own requests.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::{Mutex, RwLock};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::reply::Deliver;
use super::server_requests::{Responder, ServerRequests, encode_answer, not_handled};
use super::{EventHandler, SessionEvent};
use crate::call_options::ProgressCallback;
use crate::dispatch::Dispatcher;
use crate::error::{Error, Result};
use crate::protocol::jsonrpc;
use crate::protocol::messages::{Progress, methods};
use crate::protocol::{Incoming, RequestId};
use crate::transport::Inbound;
use crate::util::IdMap;

pub(crate) struct Waiter {
    tx: Deliver,
    tag: usize,
}

/// Sends an encoded reply to the server (over the session's transport).
pub(crate) type SendReply = Arc<dyn Fn(Vec<u8>) + Send + Sync>;

/// Routes what the server sends: responses by id, notifications, server requests.
pub(crate) struct Router {
    pub(super) service: String,
    pub(super) pending: Mutex<IdMap<i64, Waiter>>,
    pub(super) closed: RwLock<Option<Error>>,
    pub(super) is_closed: AtomicBool,
    pub(super) events: Option<EventHandler>,
    pub(super) progress: Mutex<HashMap<String, ProgressCallback>>,
    /// Runs user callbacks (progress), never this reader.
    pub(super) callbacks: Arc<Dispatcher>,
    /// Lines the server wrote that were not JSON-RPC, and the last one with its time.
    pub(super) stray_lines: Arc<AtomicU64>,
    pub(super) last_stray: Mutex<Option<(Instant, String)>>,
    /// Who answers the server's requests (sampling, elicitation, roots), if anyone.
    pub(super) requests: Option<Arc<dyn ServerRequests>>,
    /// Sends replies to them over the session's transport (set once the session exists).
    pub(super) send_reply: RwLock<Option<SendReply>>,
    /// The stdio `subscriptions/listen` in force (0: none): a notification
    /// tagged with another subscription id belongs to one that ended.
    pub(super) listen_id: AtomicI64,
}

impl Router {
    /// Whether a notification carries the subscription id of a stdio
    /// `subscriptions/listen` other than the one in force (stdio has one
    /// stream for everything: the id is how notifications are told apart).
    fn is_of_an_ended_subscription(&self, params: Option<&Value>) -> bool {
        let current = self.listen_id.load(Ordering::Acquire);
        let tagged = params
            .and_then(|p| p.get("_meta"))
            .and_then(|m| m.get(crate::protocol::modern::meta::SUBSCRIPTION_ID));
        match tagged {
            Some(id) if current != 0 => {
                id.as_i64().or_else(|| id.as_str().and_then(|s| s.parse().ok())) != Some(current)
            }
            _ => false,
        }
    }

    pub(super) fn register(&self, id: i64, tx: Deliver, tag: usize) -> Result<()> {
        if self.is_closed.load(Ordering::Acquire) {
            return Err(self.closed_error(false));
        }
        self.pending.lock().insert(id, Waiter { tx, tag });
        // The connection may have closed between the check and the insert.
        if self.is_closed.load(Ordering::Acquire) && self.pending.lock().remove(&id).is_some() {
            return Err(self.closed_error(false));
        }
        Ok(())
    }

    pub(super) fn complete(&self, id: i64, result: Result<Box<RawValue>>) -> bool {
        let waiter = self.pending.lock().remove(&id);
        match waiter {
            Some(w) => {
                w.tx.send((w.tag, result));
                true
            }
            None => false,
        }
    }

    pub(super) fn closed_error(&self, may_have_run: bool) -> Error {
        match &*self.closed.read() {
            Some(Error::Closed { message, .. }) => Error::Closed { message: message.clone(), may_have_run },
            Some(other) => other.clone(),
            None => Error::Closed { message: "session closed".into(), may_have_run },
        }
    }

    fn emit(&self, event: SessionEvent) {
        if let Some(handler) = &self.events {
            handler(&event);
        }
    }

    /// A server request: `ping` is answered here; the rest goes to the
    /// handlers (answered later, from another thread) or gets `-32601`.
    fn handle_request(&self, id: RequestId, method: &str, params: Option<Value>) -> Option<Vec<u8>> {
        if method == methods::PING {
            let mut out = Vec::with_capacity(64);
            jsonrpc::write_result(&mut out, &id, &json!({}));
            out.push(b'\n');
            return Some(out);
        }
        let send = self.send_reply.read().clone();
        match (&self.requests, send) {
            (Some(requests), Some(send)) => {
                let deliver = Arc::new(move |answer| send(encode_answer(&id, &answer)));
                let responder = Responder::new(Arc::from(self.service.as_str()), deliver);
                requests.request(&self.service, method, params.unwrap_or(Value::Null), responder);
                None
            }
            _ => Some(not_handled(&id, method)),
        }
    }

    fn handle_notification(&self, method: &str, params: Option<Value>) {
        match method {
            methods::TOOLS_LIST_CHANGED => self.emit(SessionEvent::ToolsListChanged),
            methods::RESOURCES_LIST_CHANGED => self.emit(SessionEvent::ResourcesListChanged),
            // The server ended a request of ours (a subscription it tears down): its waiter learns it.
            methods::CANCELLED => {
                if let Some(id) = super::listen::cancelled_request(params.as_ref()) {
                    self.complete(
                        id,
                        Err(Error::Closed {
                            message: "the server cancelled the request".into(),
                            may_have_run: true,
                        }),
                    );
                }
            }
            methods::SUBSCRIPTIONS_ACKNOWLEDGED => {
                log::debug!(target: "mcpstore::session", "[{}] subscription acknowledged: {:?}", self.service, params)
            }
            methods::PROMPTS_LIST_CHANGED => self.emit(SessionEvent::PromptsListChanged),
            methods::RESOURCE_UPDATED => {
                match params.as_ref().and_then(|p| p.get("uri")).and_then(Value::as_str) {
                    Some(uri) => self.emit(SessionEvent::ResourceUpdated(uri.to_owned())),
                    None => {
                        log::debug!(target: "mcpstore::session", "[{}] resource update without a uri", self.service)
                    }
                }
            }
            methods::ELICITATION_COMPLETE => {
                if let Some(id) = params.as_ref().and_then(|p| p.get("elicitationId")).and_then(Value::as_str)
                {
                    self.emit(SessionEvent::ElicitationComplete(id.to_owned()));
                }
            }
            methods::PROGRESS => match params.map(serde_json::from_value::<Progress>) {
                Some(Ok(p)) => {
                    let callback = self.progress.lock().get(&p.progress_token.to_string()).cloned();
                    if let Some(cb) = callback {
                        // User code runs on the dispatch thread, in order; dropped when it lags far behind.
                        let progress = p.clone();
                        self.callbacks.post(move || cb(&progress));
                    }
                    self.emit(SessionEvent::Progress(p));
                }
                _ => {
                    log::debug!(target: "mcpstore::session", "[{}] malformed progress notification", self.service)
                }
            },
            methods::MESSAGE => {
                log_server_message(&self.service, params.as_ref());
                if let Some(p) = params {
                    self.emit(SessionEvent::Log(p));
                }
            }
            _ => log::trace!(target: "mcpstore::session", "[{}] notification {method}", self.service),
        }
    }
}

impl Inbound for Router {
    fn on_message(&self, message: Incoming) -> Option<Vec<u8>> {
        match message {
            Incoming::Response { id, outcome } => {
                let numeric = match &id {
                    RequestId::Number(n) => Some(*n),
                    RequestId::String(s) => s.parse().ok(),
                };
                let delivered = numeric.is_some_and(|n| self.complete(n, outcome.map_err(Error::from)));
                if !delivered {
                    log::debug!(target: "mcpstore::session", "[{}] response to unknown or expired request {id}", self.service);
                }
                None
            }
            Incoming::Request { id, method, params } => self.handle_request(id, &method, params),
            Incoming::UnattributedError(e) => {
                log::warn!(target: "mcpstore::session", "[{}] server reported an error without an id: {} {}", self.service, e.code, e.message);
                None
            }
            Incoming::Notification { method, params } => {
                if self.is_of_an_ended_subscription(params.as_ref()) {
                    log::debug!(target: "mcpstore::session", "[{}] {method} of an ended subscription dropped", self.service);
                } else {
                    self.handle_notification(&method, params);
                }
                None
            }
        }
    }

    fn on_closed(&self, error: Error) {
        *self.closed.write() = Some(error.clone());
        self.is_closed.store(true, Ordering::Release);
        let waiters: Vec<(i64, Waiter)> = self.pending.lock().drain().collect();
        for (_, w) in waiters {
            w.tx.send((w.tag, Err(error.clone())));
        }
        self.emit(SessionEvent::Closed(error));
    }

    fn on_stray(&self, line: &str) {
        self.stray_lines.fetch_add(1, Ordering::Relaxed);
        *self.last_stray.lock() = Some((Instant::now(), line.to_owned()));
    }
}

impl Router {
    /// The last line that was not JSON-RPC, if the server wrote one after `since`.
    pub(super) fn stray_since(&self, since: Instant) -> Option<String> {
        match &*self.last_stray.lock() {
            Some((at, line)) if *at >= since => Some(line.clone()),
            _ => None,
        }
    }
}

/// Maps `notifications/message` levels onto the `log` facade.
fn log_server_message(service: &str, params: Option<&Value>) {
    let Some(p) = params else { return };
    let level = match p.get("level").and_then(Value::as_str).unwrap_or("info") {
        "debug" => log::Level::Debug,
        "info" | "notice" => log::Level::Info,
        "warning" => log::Level::Warn,
        _ => log::Level::Error,
    };
    let logger = p.get("logger").and_then(Value::as_str).unwrap_or("");
    let data = p.get("data").cloned().unwrap_or(Value::Null);
    let text = match data {
        Value::String(s) => s,
        other => other.to_string(),
    };
    log::log!(target: "mcpstore::server", level, "[{service}] {logger}: {text}");
}
