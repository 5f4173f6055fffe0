//! Running calls off the caller's thread: batches, background calls with
//! handles and callbacks, and completion queues — on one dedicated rayon pool
//! per store, never rayon's global pool, and never an async runtime.

mod batch;
mod handle;
mod inflight;
mod limiter;
mod queue;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::protocol::ToolResult;

pub use batch::BatchOptions;
pub use handle::CallHandle;
pub use queue::{Completion, CompletionQueue};

pub(crate) use batch::run_batch;
pub(crate) use handle::HandleState;
pub(crate) use inflight::InFlight;
pub(crate) use limiter::Limiter;

/// The outcome of one call: the shared result or its own error.
pub type CallResult = Result<Arc<ToolResult>>;

/// One call of a batch or a background submission.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The tool's name (`service.tool`, `service_tool` or a unique bare name).
    pub tool: String,
    /// The arguments object.
    pub arguments: Value,
    /// Cache the result under this key (and serve it from there).
    pub cache_key: Option<String>,
}

impl ToolCall {
    /// A call of `tool` with `arguments`.
    pub fn new(tool: impl Into<String>, arguments: Value) -> Self {
        ToolCall { tool: tool.into(), arguments, cache_key: None }
    }

    /// Sets a cache key.
    pub fn cache_key(mut self, key: impl Into<String>) -> Self {
        self.cache_key = Some(key.into());
        self
    }

    /// Reads `{"tool": ..., "arguments": ..., "cache_key": ...}`.
    pub fn from_json(value: &Value) -> Result<ToolCall> {
        let obj =
            value.as_object().ok_or_else(|| Error::InvalidArgument("a call must be a JSON object".into()))?;
        let tool = obj
            .get("tool")
            .or_else(|| obj.get("name"))
            .and_then(Value::as_str)
            .ok_or_else(|| Error::InvalidArgument("a call needs a string 'tool'".into()))?;
        let arguments = match obj.get("arguments").or_else(|| obj.get("args")) {
            None | Some(Value::Null) => Value::Object(Default::default()),
            Some(v @ Value::Object(_)) => v.clone(),
            Some(_) => return Err(Error::InvalidArgument("'arguments' must be a JSON object".into())),
        };
        let cache_key = match obj.get("cache_key") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(Error::InvalidArgument("'cache_key' must be a string".into())),
        };
        Ok(ToolCall { tool: tool.to_owned(), arguments, cache_key })
    }
}

/// A call's outcome as JSON: the CallToolResult, or `{"error": {"code", "kind", "message"}}`.
pub fn result_to_json(result: &CallResult) -> Value {
    match result {
        Ok(r) => r.to_value(),
        Err(e) => error_to_json(e),
    }
}

/// An error as `{"error": {"code", "kind", "message", "rpc_code"?}}`.
pub fn error_to_json(e: &Error) -> Value {
    let mut err = serde_json::json!({"code": e.code() as i32, "kind": e.kind(), "message": e.to_string()});
    if let Some(rpc) = e.rpc_code() {
        err["rpc_code"] = rpc.into();
    }
    serde_json::json!({ "error": err })
}

/// The store's worker threads.
pub(crate) struct Executor {
    pool: rayon::ThreadPool,
    threads: usize,
}

/// Counters of the executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct ExecutorStats {
    /// Worker threads.
    pub workers: usize,
    /// Background calls in flight now.
    pub in_flight: usize,
    /// The most background calls in flight at once.
    pub max_in_flight: usize,
    /// Background calls submitted.
    pub submitted: u64,
    /// Submissions refused with `Busy`.
    pub rejected: u64,
}

impl Executor {
    pub(crate) fn new(threads: usize) -> Result<Executor> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("mcps-worker-{i}"))
            .stack_size(512 * 1024)
            .build()
            .map_err(|e| Error::Internal(format!("cannot start worker threads: {e}")))?;
        Ok(Executor { pool, threads: threads.max(1) })
    }

    pub(crate) fn spawn(&self, job: impl FnOnce() + Send + 'static) {
        self.pool.spawn(job);
    }

    pub(crate) fn threads(&self) -> usize {
        self.threads
    }
}

/// How long `wait()` without a limit waits at most: the call's own timeout plus a margin.
pub(crate) fn default_wait(call_timeout: Duration) -> Duration {
    call_timeout + Duration::from_secs(5)
}
