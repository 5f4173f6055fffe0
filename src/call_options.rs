//! The options of one tool call, shared by the store, batches, background
//! calls and single sessions.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::protocol::{Progress, TaskInfo};
use parking_lot::Mutex;

/// Receives the server's `notifications/progress` for one call.
pub type ProgressCallback = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Per-call options; `Default` is what a plain `call_tool` uses.
#[derive(Clone, Default)]
pub struct CallOptions {
    /// Overall limit of the call, retries included (default: the store's `call_timeout`).
    pub timeout: Option<Duration>,
    /// Retry even if the request may have reached the server: the caller knows
    /// this call is safe to run twice.
    pub retry_non_idempotent: bool,
    /// Cancels the call from another thread (one token may serve many calls).
    pub cancel: Option<CancelToken>,
    /// Neither read nor write the result cache for this call.
    pub bypass_cache: bool,
    /// Serve this call from the cache under this key when it is there, and
    /// cache its result under it otherwise (for the store's `cache_ttl`).
    pub cache_key: Option<String>,
    /// Receives the server's progress notifications for this call.
    pub progress: Option<ProgressCallback>,
    /// Shows the task the call becomes, when a server runs it as one (the
    /// tasks extension); a background call's handle has one anyway.
    pub task: Option<TaskWatcher>,
}

/// Shows the task a call became (the tasks extension of the stateless era)
/// while the call follows it: its id and status as the server last gave them.
#[derive(Clone, Default)]
pub struct TaskWatcher(Arc<Mutex<Option<TaskInfo>>>);

impl TaskWatcher {
    /// A watcher that has seen no task yet.
    pub fn new() -> Self {
        TaskWatcher::default()
    }

    /// The task as last seen, if the call became one.
    pub fn current(&self) -> Option<TaskInfo> {
        self.0.lock().clone()
    }

    /// Records what the server said about the task.
    pub(crate) fn update(&self, task: TaskInfo) {
        *self.0.lock() = Some(task);
    }
}

impl std::fmt::Debug for TaskWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TaskWatcher").field(&self.current()).finish()
    }
}

impl std::fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallOptions")
            .field("timeout", &self.timeout)
            .field("retry_non_idempotent", &self.retry_non_idempotent)
            .field("cancel", &self.cancel)
            .field("bypass_cache", &self.bypass_cache)
            .field("cache_key", &self.cache_key)
            .field("progress", &self.progress.as_ref().map(|_| "callback"))
            .field("task", &self.task)
            .finish()
    }
}

impl CallOptions {
    /// Where a task this call becomes is shown, if anywhere.
    pub(crate) fn task_watch(&self) -> Option<&TaskWatcher> {
        self.task.as_ref()
    }

    /// Reads the options of a call's JSON form (`cache_key`, `timeout_ms`,
    /// `bypass_cache`, `retry_non_idempotent`; other keys are the caller's).
    /// The same keys make the options object of the C ABI.
    pub(crate) fn from_json_fields(obj: &Map<String, Value>) -> Result<CallOptions> {
        let bad = |key: &str, what: &str| Error::InvalidArgument(format!("'{key}' must be {what}"));
        let flag = |key: &str| match obj.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(bad(key, "a boolean")),
        };
        let cache_key = match obj.get("cache_key") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(bad("cache_key", "a string")),
        };
        let timeout = match obj.get("timeout_ms") {
            None | Some(Value::Null) => None,
            Some(v) => Some(Duration::from_millis(
                v.as_u64().ok_or_else(|| bad("timeout_ms", "a non-negative integer"))?,
            )),
        };
        Ok(CallOptions {
            timeout,
            retry_non_idempotent: flag("retry_non_idempotent")?,
            bypass_cache: flag("bypass_cache")?,
            cache_key,
            ..CallOptions::default()
        })
    }
}
