//! Routing what a server sends: responses to their waiters by id,
//! notifications to handlers, and answers to the server's own requests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::Sender;
use parking_lot::{Mutex, RwLock};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::{EventHandler, ProgressCallback, SessionEvent};
use crate::error::{Error, Result};
use crate::protocol::jsonrpc::{self, codes};
use crate::protocol::messages::{Progress, methods};
use crate::protocol::{Incoming, RequestId, RpcError};
use crate::transport::Inbound;

/// A reply delivered to a waiter: its tag and the raw result or error.
pub(crate) type Reply = (usize, Result<Box<RawValue>>);

pub(crate) struct Waiter {
    tx: Sender<Reply>,
    tag: usize,
}

/// Routes what the server sends: responses by id, notifications, server requests.
pub(crate) struct Router {
    pub(super) service: String,
    pub(super) pending: Mutex<HashMap<i64, Waiter>>,
    pub(super) closed: RwLock<Option<Error>>,
    pub(super) is_closed: AtomicBool,
    pub(super) events: Option<EventHandler>,
    pub(super) progress: Mutex<HashMap<String, ProgressCallback>>,
}

impl Router {
    pub(super) fn register(&self, id: i64, tx: Sender<Reply>, tag: usize) -> Result<()> {
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
                let _ = w.tx.send((w.tag, result));
                true
            }
            None => false,
        }
    }

    pub(super) fn closed_error(&self, sent: bool) -> Error {
        match &*self.closed.read() {
            Some(Error::Closed { message, .. }) => Error::Closed { message: message.clone(), sent },
            Some(other) => other.clone(),
            None => Error::Closed { message: "session closed".into(), sent },
        }
    }

    fn emit(&self, event: SessionEvent) {
        if let Some(handler) = &self.events {
            handler(&event);
        }
    }

    fn handle_request(&self, id: &RequestId, method: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        if method == methods::PING {
            jsonrpc::write_result(&mut out, id, &json!({}));
        } else {
            let err = RpcError {
                code: codes::METHOD_NOT_FOUND,
                message: format!("client does not support '{method}'"),
                data: None,
            };
            jsonrpc::write_error(&mut out, id, &err);
        }
        out.push(b'\n');
        out
    }

    fn handle_notification(&self, method: &str, params: Option<Value>) {
        match method {
            methods::TOOLS_LIST_CHANGED => self.emit(SessionEvent::ToolsListChanged),
            methods::PROGRESS => match params.map(serde_json::from_value::<Progress>) {
                Some(Ok(p)) => {
                    let callback = self.progress.lock().get(&p.progress_token.to_string()).cloned();
                    if let Some(cb) = callback {
                        cb(&p);
                    }
                    self.emit(SessionEvent::Progress(p));
                }
                _ => {
                    log::debug!(target: "mcpstore::session", "[{}] malformed progress notification", self.service)
                }
            },
            methods::MESSAGE => log_server_message(&self.service, params.as_ref()),
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
            Incoming::Request { id, method, .. } => Some(self.handle_request(&id, &method)),
            Incoming::UnattributedError(e) => {
                log::warn!(target: "mcpstore::session", "[{}] server reported an error without an id: {} {}", self.service, e.code, e.message);
                None
            }
            Incoming::Notification { method, params } => {
                self.handle_notification(&method, params);
                None
            }
        }
    }

    fn on_closed(&self, error: Error) {
        *self.closed.write() = Some(error.clone());
        self.is_closed.store(true, Ordering::Release);
        let waiters: Vec<(i64, Waiter)> = self.pending.lock().drain().collect();
        for (_, w) in waiters {
            let _ = w.tx.send((w.tag, Err(error.clone())));
        }
        self.emit(SessionEvent::Closed(error));
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
