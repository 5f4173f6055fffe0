//! Running calls off the caller's thread: batches, background calls with
//! handles and callbacks, and completion queues — on one dedicated rayon pool
//! per store, never rayon's global pool, and never an async runtime.

mod deadlines;
mod handle;
mod inflight;
mod limiter;
mod queue;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::call_options::CallOptions;
use crate::error::{Error, Result};
use crate::protocol::ToolResult;
use crate::protocol::tool_result_shape::{ToolResultShape, parse_checked};

pub use handle::CallHandle;
pub use queue::{Completion, CompletionQueue};

pub(crate) use deadlines::{DeadlineKey, Deadlines};
pub(crate) use handle::HandleState;
pub(crate) use inflight::InFlight;
pub(crate) use limiter::Limiter;
pub(crate) use queue::Submit;

/// The outcome of one call: its output or its own error.
pub type CallResult = Result<ToolOutput>;

/// What one call returned: the server's `CallToolResult` (shared, never
/// copied) and whether it came from the result cache, and how old it was.
///
/// It dereferences to the [`ToolResult`], so `output.text()` and
/// `output.is_error` read the result directly. A result fresh from the
/// server is kept as its bytes (checked to be a `CallToolResult` when it
/// arrived) and parsed the first time it is read: a caller that only passes
/// the JSON on, as the C ABI does, never builds it.
#[derive(Debug, Clone)]
pub struct ToolOutput {
    /// Set at once for a result built here (the cache, tests), else on first read from `raw`.
    result: OnceLock<Arc<ToolResult>>,
    /// The result's `isError`, known without parsing it.
    is_error: bool,
    /// The result's bytes as the server sent them, when known: handed to C
    /// callers as they are (no serialisation).
    raw: Option<Arc<RawValue>>,
    cache_age: Option<Duration>,
    schema_mismatch: Option<Arc<str>>,
}

/// Two outputs are equal when their results are (the bytes they came in may differ in layout).
impl PartialEq for ToolOutput {
    fn eq(&self, other: &Self) -> bool {
        self.result() == other.result()
            && self.cache_age == other.cache_age
            && self.schema_mismatch == other.schema_mismatch
    }
}

impl ToolOutput {
    /// A result built in place (tests).
    #[cfg(test)]
    pub(crate) fn fresh(result: Arc<ToolResult>) -> Self {
        let is_error = result.is_error;
        ToolOutput {
            result: OnceLock::from(result),
            is_error,
            raw: None,
            cache_age: None,
            schema_mismatch: None,
        }
    }

    /// A result that came from the server just now as `raw`, which passed
    /// [`crate::protocol::tool_result_shape::ToolResultShape::check`]: parsed when first read.
    pub(crate) fn from_server(raw: Arc<RawValue>, shape: ToolResultShape) -> Self {
        ToolOutput {
            result: OnceLock::new(),
            is_error: shape.is_error,
            raw: Some(raw),
            cache_age: None,
            schema_mismatch: None,
        }
    }

    /// A result served from the cache, stored `age` ago.
    pub(crate) fn cached(result: Arc<ToolResult>, age: Duration) -> Self {
        let is_error = result.is_error;
        ToolOutput {
            result: OnceLock::from(result),
            is_error,
            raw: None,
            cache_age: Some(age),
            schema_mismatch: None,
        }
    }

    /// Keeps the bytes the result was parsed from (the `result` member of the
    /// server's response, exactly as received).
    pub(crate) fn with_raw(mut self, raw: Arc<RawValue>) -> Self {
        self.raw = Some(raw);
        self
    }

    /// The result's JSON as the server sent it, when the bytes were kept.
    pub(crate) fn raw_json(&self) -> Option<&str> {
        self.raw.as_deref().map(RawValue::get)
    }

    /// The server's bytes, shared, when they were kept.
    pub(crate) fn raw(&self) -> Option<&Arc<RawValue>> {
        self.raw.as_ref()
    }

    /// Appends the result's JSON to `out`: the server's own bytes when they
    /// were kept, else the result serialised (compact).
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) {
        match self.raw_json() {
            Some(raw) => out.extend_from_slice(raw.as_bytes()),
            None => {
                if serde_json::to_writer(&mut *out, &**self.result()).is_err() {
                    out.extend_from_slice(b"{}");
                }
            }
        }
    }

    /// Appends [`ToolOutput::annotated_json`] to `out`, from the server's own
    /// bytes when they were kept: as they are when there is nothing to add,
    /// else with the `"_mcpstore"` member added before the closing brace.
    pub(crate) fn write_annotated_json(&self, out: &mut Vec<u8>) {
        if self.cache_age.is_none() && self.schema_mismatch.is_none() {
            return self.write_json(out);
        }
        // The server's own `_mcpstore` member (if any) is replaced: that needs the parsed form.
        let raw =
            self.raw_json().map(str::trim_end).filter(|r| r.ends_with('}') && !r.contains("\"_mcpstore\""));
        let Some(raw) = raw else {
            if serde_json::to_writer(&mut *out, &self.annotated_json()).is_err() {
                out.extend_from_slice(b"{}");
            }
            return;
        };
        let body = raw[..raw.len() - 1].trim_end();
        out.extend_from_slice(body.as_bytes());
        if !body.trim_start().ends_with('{') {
            out.push(b',');
        }
        out.extend_from_slice(b"\"_mcpstore\":");
        let notes = Value::Object(self.notes());
        if serde_json::to_writer(&mut *out, &notes).is_err() {
            out.extend_from_slice(b"{}");
        }
        out.push(b'}');
    }

    /// What the library knows of the result (see [`ToolOutput::annotated_json`]).
    fn notes(&self) -> serde_json::Map<String, Value> {
        let mut notes = serde_json::Map::new();
        if let Some(age) = self.cache_age {
            let age_ms = u64::try_from(age.as_millis()).unwrap_or(u64::MAX);
            notes.insert("cache".into(), serde_json::json!({"hit": true, "age_ms": age_ms}));
        }
        if let Some(m) = &self.schema_mismatch {
            notes.insert("schema_mismatch".into(), Value::String(m.to_string()));
        }
        notes
    }

    /// The result (parsed from the server's bytes on the first call).
    pub fn result(&self) -> &Arc<ToolResult> {
        self.result.get_or_init(|| {
            let raw = self.raw.as_deref().map_or("{}", RawValue::get);
            Arc::new(parse_checked(raw))
        })
    }

    /// The result, without the cache information.
    pub fn into_result(self) -> Arc<ToolResult> {
        self.result();
        self.result.into_inner().unwrap_or_default()
    }

    /// Whether the tool reported an error (`isError`), without parsing the
    /// result: the same as `output.is_error`, which parses it when it is
    /// read first.
    pub fn tool_error(&self) -> bool {
        self.is_error
    }

    /// Whether the result came from the cache (the call never reached the server).
    pub fn from_cache(&self) -> bool {
        self.cache_age.is_some()
    }

    /// How old a cached result is (`None` for a fresh one).
    pub fn cache_age(&self) -> Option<Duration> {
        self.cache_age
    }

    /// Records why the result does not fit the tool's `outputSchema`.
    pub(crate) fn with_schema_mismatch(mut self, mismatch: Option<String>) -> Self {
        self.schema_mismatch = mismatch.map(Arc::from);
        self
    }

    /// Why `structuredContent` does not match the `outputSchema` the tool
    /// declares, when it does not (checked unless the service turned it off).
    pub fn schema_mismatch(&self) -> Option<&str> {
        self.schema_mismatch.as_deref()
    }

    /// The result as JSON as the server sent it, plus what the library knows
    /// of it under `"_mcpstore"`: `"cache": {"hit": true, "age_ms": N}` when
    /// it came from the cache, `"schema_mismatch": "..."` when it does not
    /// fit the tool's `outputSchema`.
    pub fn annotated_json(&self) -> Value {
        let mut value = self.result().to_value();
        if let Value::Object(map) = &mut value {
            let notes = self.notes();
            if !notes.is_empty() {
                map.insert("_mcpstore".into(), Value::Object(notes));
            }
        }
        value
    }
}

impl std::ops::Deref for ToolOutput {
    type Target = ToolResult;

    fn deref(&self) -> &ToolResult {
        self.result()
    }
}

/// One call of a batch or a background submission: which tool, its
/// arguments, and its options (cache key, timeout, cancellation, ...).
#[derive(Debug, Clone)]
pub struct ToolCall {
    /// The tool's name (`service.tool`, `service_tool` or a unique bare name).
    pub tool: String,
    /// The arguments object.
    pub arguments: Value,
    /// The call's options.
    pub options: CallOptions,
}

impl ToolCall {
    /// A call of `tool` with `arguments` and default options.
    pub fn new(tool: impl Into<String>, arguments: Value) -> Self {
        ToolCall { tool: tool.into(), arguments, options: CallOptions::default() }
    }

    /// Reads `{"tool": ..., "arguments": ..., "cache_key": ..., "timeout_ms": ...,
    /// "bypass_cache": ..., "retry_non_idempotent": ...}` (the JSONL and C form).
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
        let options = CallOptions::from_json_fields(obj)?;
        Ok(ToolCall { tool: tool.to_owned(), arguments, options })
    }
}

/// Appends a call's outcome as JSON to `out`: the CallToolResult (see
/// [`ToolOutput::annotated_json`]; from the server's own bytes when they were
/// kept, see [`ToolOutput::write_annotated_json`]), or `{"error": {...}}`
/// (see [`Error::to_json`]).
pub(crate) fn write_result_json(result: &CallResult, out: &mut Vec<u8>) {
    match result {
        Ok(r) => r.write_annotated_json(out),
        Err(e) => {
            if serde_json::to_writer(&mut *out, &e.to_json()).is_err() {
                out.extend_from_slice(b"{}");
            }
        }
    }
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

#[cfg(test)]
mod raw_tests {
    use super::*;

    fn output(raw: &str, cached: bool) -> ToolOutput {
        let result = Arc::new(
            ToolResult::from_value(serde_json::from_str(raw).unwrap_or_default()).unwrap_or_default(),
        );
        let raw = Arc::from(RawValue::from_string(raw.to_owned()).unwrap_or_else(|e| panic!("{e}")));
        let output = if cached {
            ToolOutput::cached(result, Duration::from_millis(7))
        } else {
            ToolOutput::fresh(result)
        };
        output.with_raw(raw)
    }

    fn annotated(o: &ToolOutput) -> Value {
        let mut out = Vec::new();
        o.write_annotated_json(&mut out);
        serde_json::from_slice(&out).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)))
    }

    #[test]
    fn the_servers_bytes_are_kept_and_annotations_spliced_in() {
        let raw = "{ \"content\": [{\"type\":\"text\",\"text\":\"1.50\"}] }";
        let fresh = output(raw, false);
        let mut out = Vec::new();
        fresh.write_json(&mut out);
        assert_eq!(out, raw.as_bytes(), "no re-serialisation");
        out.clear();
        fresh.write_annotated_json(&mut out);
        assert_eq!(out, raw.as_bytes(), "nothing to add");
        let cached = output(raw, true);
        assert_eq!(annotated(&cached), cached.annotated_json());
        assert_eq!(annotated(&cached)["_mcpstore"]["cache"]["age_ms"], 7);
        let empty = output("{}", true).with_schema_mismatch(Some("no".into()));
        assert_eq!(annotated(&empty), serde_json::json!({"_mcpstore": empty.notes()}));
        // The server's own `_mcpstore` member is replaced, as in the parsed form.
        let own = output(r#"{"content":[],"_mcpstore":{"x":1}}"#, true);
        assert_eq!(annotated(&own), own.annotated_json());
    }

    #[test]
    fn a_result_from_the_server_is_parsed_when_first_read() {
        let raw = r#"{"content":[{"type":"text","text":"boom"}],"isError":true,"x":[1]}"#;
        let shape = ToolResultShape::check(raw).unwrap_or_else(|e| panic!("{e}"));
        let bytes = Arc::from(RawValue::from_string(raw.to_owned()).unwrap_or_else(|e| panic!("{e}")));
        let output = ToolOutput::from_server(bytes, shape);
        assert!(output.tool_error());
        assert!(output.result.get().is_none(), "not parsed before it is read");
        let mut out = Vec::new();
        output.write_json(&mut out);
        assert_eq!(out, raw.as_bytes());
        assert!(output.result.get().is_none(), "handing the bytes on parses nothing");
        assert!(output.is_error);
        assert_eq!(output.text(), "boom");
        assert_eq!(output.extra["x"], serde_json::json!([1]));
        assert_eq!(output.clone(), output);
        assert!(output.into_result().is_error);
    }
}
