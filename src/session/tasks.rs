//! The tasks extension (`io.modelcontextprotocol/tasks`): a stateless-era
//! server may answer `tools/call` with a task. The blocking call polls
//! `tasks/get` until the task ends, by the call's deadline, answers the
//! task's input requests through the handlers (`tasks/update`), and cancels
//! it (`tasks/cancel`) when the call is cancelled or runs out of time.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::request::{Exchange, encode_params};
use super::{MessageSizes, Session};
use crate::error::{Error, Result, TimeoutPhase};
use crate::protocol::messages::methods;
use crate::protocol::{RpcError, TaskInfo};

/// The poll interval when the server names none, and the bounds of one it names.
const DEFAULT_POLL: Duration = Duration::from_millis(500);
const MIN_POLL: Duration = Duration::from_millis(50);
const MAX_POLL: Duration = Duration::from_secs(5);
/// The longest `tasks/cancel` may take (sent in the background of a failed call).
const CANCEL_WAIT: Duration = Duration::from_secs(2);

/// A task as `tools/call` or `tasks/get` describes it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskState {
    #[serde(flatten)]
    info: TaskInfo,
    #[serde(default)]
    poll_interval_ms: Option<u64>,
    #[serde(default)]
    input_requests: Map<String, Value>,
    #[serde(default)]
    result: Option<Box<RawValue>>,
    #[serde(default)]
    error: Option<RpcError>,
}

fn parse(raw: &RawValue) -> Result<TaskState> {
    serde_json::from_str(raw.get()).map_err(|e| Error::Protocol(format!("invalid task: {e}")))
}

impl Session {
    /// Follows the task `created` (a `tools/call` result) to its end and
    /// returns what `tools/call` would have returned.
    pub(super) fn follow_task(
        &self,
        created: &RawValue,
        x: &Exchange<'_>,
        deadline: Instant,
        sizes: &mut MessageSizes,
    ) -> Result<Box<RawValue>> {
        sizes.task = true;
        let mut task = parse(created)?;
        let id = task.info.task_id.clone();
        let mut answered: HashSet<String> = HashSet::new();
        loop {
            if let Some(watch) = x.task {
                watch.update(task.info.clone());
            }
            match task.info.status.as_str() {
                "completed" => {
                    if let Some(result) = task.result.take() {
                        return Ok(result);
                    } // else a status without its result: ask for it
                }
                "failed" => {
                    return Err(task.error.map_or_else(
                        || {
                            Error::Protocol(format!(
                                "task {id} failed: {}",
                                task.info.status_message.unwrap_or_default()
                            ))
                        },
                        Error::from,
                    ));
                }
                "cancelled" => {
                    return Err(Error::Closed {
                        message: format!("the server cancelled task {id}"),
                        may_have_run: true,
                    });
                }
                "input_required" => {
                    let open: Map<String, Value> =
                        task.input_requests.into_iter().filter(|(k, _)| !answered.contains(k)).collect();
                    if !open.is_empty() {
                        let answers = self.fulfil(&open, deadline, x.timeout)?;
                        answered.extend(answers.keys().cloned());
                        let params = json!({ "taskId": id, "inputResponses": answers });
                        self.task_request(methods::TASKS_UPDATE, &id, &params, x, deadline, sizes)?;
                    }
                }
                _ => {}
            }
            let pause =
                task.poll_interval_ms.map_or(DEFAULT_POLL, Duration::from_millis).clamp(MIN_POLL, MAX_POLL);
            if let Err(e) = self.pause(pause, x, deadline) {
                self.cancel_task(&id);
                return Err(e);
            }
            let raw = match self.task_request(
                methods::TASKS_GET,
                &id,
                &json!({ "taskId": id }),
                x,
                deadline,
                sizes,
            ) {
                Ok(raw) => raw,
                Err(e) => {
                    if matches!(e, Error::Cancelled | Error::Timeout { .. }) {
                        self.cancel_task(&id);
                    }
                    return Err(e);
                }
            };
            task = parse(&raw)?;
        }
    }

    /// A `tasks/*` request for task `id` (its `Mcp-Name` is the task id), by `deadline`.
    fn task_request(
        &self,
        method: &str,
        id: &str,
        params: &Value,
        x: &Exchange<'_>,
        deadline: Instant,
        sizes: &mut MessageSizes,
    ) -> Result<Box<RawValue>> {
        let params = encode_params(Some(params))?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let request =
            Exchange { name: Some(id), ..Exchange::plain(method, params.as_deref(), remaining, x.cancel) };
        self.exchange(&request, sizes).map_err(|e| match e {
            Error::Timeout { phase, detail, .. } => Error::Timeout { phase, after: x.timeout, detail },
            other => other,
        })
    }

    /// Waits `pause`, no later than `deadline`; an error when the call was
    /// cancelled or its deadline passed.
    fn pause(&self, pause: Duration, x: &Exchange<'_>, deadline: Instant) -> Result<()> {
        let until = (Instant::now() + pause).min(deadline);
        while Instant::now() < until {
            if x.cancel.is_some_and(|c| c.is_cancelled()) {
                return Err(Error::Cancelled);
            }
            std::thread::sleep(until.saturating_duration_since(Instant::now()).min(MIN_POLL));
        }
        if x.cancel.is_some_and(|c| c.is_cancelled()) {
            return Err(Error::Cancelled);
        }
        if Instant::now() >= deadline {
            return Err(Error::timeout(TimeoutPhase::Response, x.timeout));
        }
        Ok(())
    }

    /// Asks the server to stop task `id`, in the background (the caller has its answer already).
    fn cancel_task(&self, id: &str) {
        let session = self.clone();
        let id = id.to_owned();
        let queued = self.inner.notices.post(move || {
            let params = json!({ "taskId": id });
            let Ok(params) = encode_params(Some(&params)) else { return };
            let request = Exchange { name: Some(&id), ..Exchange::plain(methods::TASKS_CANCEL, params.as_deref(), CANCEL_WAIT, None) };
            if let Err(e) = session.exchange(&request, &mut MessageSizes::default()) {
                log::debug!(target: "mcpstore::session", "[{}] tasks/cancel of {id} failed: {e}", session.inner.router.service);
            }
        });
        if !queued {
            log::debug!(target: "mcpstore::session", "[{}] tasks/cancel not sent: the notice queue is full", self.inner.router.service);
        }
    }
}
