//! Multi round-trip requests (SEP-2322): a stateless-era server that needs
//! input (sampling, elicitation, roots) answers `input_required`; the same
//! handlers that answer handshake-era server requests produce the inputs, and
//! the request is sent again under a new id with them and the server's
//! `requestState`, exactly as received.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::Session;
use super::server_requests::Responder;
use crate::error::{Error, Result, TimeoutPhase};
use crate::protocol::modern::InputRequired;

impl Session {
    /// Answers every input request of `input` through the handlers (they run
    /// on the dispatch thread, one after another), by `deadline` (`limit` is
    /// the call's own, for the error).
    /// Returns the params members of the next round: `inputResponses` and
    /// `requestState` (when the server sent one).
    pub(super) fn answer_inputs(
        &self,
        input: &InputRequired,
        deadline: Instant,
        limit: Duration,
    ) -> Result<String> {
        let answers = self.fulfil(&input.input_requests, deadline, limit)?;
        let mut extra = String::from("\"inputResponses\":");
        extra.push_str(&Value::Object(answers).to_string());
        if let Some(state) = &input.request_state {
            extra.push_str(",\"requestState\":");
            extra.push_str(state.get());
        }
        Ok(extra)
    }

    /// The answers to `requests` (key → `{method, params}`), under the same keys.
    pub(super) fn fulfil(
        &self,
        requests: &Map<String, Value>,
        deadline: Instant,
        limit: Duration,
    ) -> Result<Map<String, Value>> {
        let service = &self.inner.router.service;
        let handlers = self.inner.router.requests.clone();
        let (tx, rx) = crossbeam_channel::unbounded();
        for (key, request) in requests {
            let method = request.get("method").and_then(Value::as_str).unwrap_or_default().to_owned();
            let params = request.get("params").cloned().unwrap_or_else(|| Value::Object(Map::new()));
            let Some(handlers) = &handlers else {
                return Err(Error::Protocol(format!(
                    "the server needs '{method}' input, and this session has no handlers (use a Store)"
                )));
            };
            let (tx, answer_key, answer_method) = (tx.clone(), key.clone(), method.clone());
            let deliver = Arc::new(move |answer| {
                let _ = tx.send((answer_key.clone(), answer_method.clone(), answer));
            });
            handlers.request(service, &method, params, Responder::new(Arc::from(service.as_str()), deliver));
        }
        drop(tx);
        let mut answers = Map::new();
        while answers.len() < requests.len() {
            match rx.recv_deadline(deadline) {
                Ok((key, _, Ok(value))) => {
                    answers.insert(key, value);
                }
                Ok((key, method, Err(e))) => {
                    return Err(Error::Rpc {
                        code: e.code,
                        message: format!(
                            "the client could not give the '{method}' input '{key}': {}",
                            e.message
                        ),
                        data: None,
                    });
                }
                Err(_) => return Err(Error::timeout(TimeoutPhase::Response, limit)),
            }
        }
        Ok(answers)
    }
}
