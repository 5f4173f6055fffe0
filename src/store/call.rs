//! The single-call path: resolve the name, serve from the cache when the call
//! asked for it, take a session, call, retry what the one retry rule allows;
//! every step stops at the call's deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use serde_json::value::RawValue;

use super::StoreInner;
use super::catalog::ListKind;
use super::index::ToolRef;
use super::retry::{backoff, repeat_safe, sleep_unless_cancelled};
use crate::call_options::CallOptions;
use crate::cancel::CancelToken;
use crate::error::{Error, Result, TimeoutPhase};
use crate::exec::ToolOutput;
use crate::protocol::tool_result_shape::ToolResultShape;
use crate::session::{MessageSizes, ToolRequest};
use crate::util::deadline_after;

impl StoreInner {
    /// Resolves a tool name; waits (no later than `deadline`) for services
    /// still starting before saying it is unknown.
    pub(crate) fn resolve(&self, name: &str, deadline: Instant) -> Result<ToolRef> {
        let index = self.index();
        let result = match index.resolve(name) {
            Ok(r) => Ok(r),
            Err(Error::ToolNotFound { .. }) if self.any_unsettled() => {
                let connect = self.config.read().pool.connection_timeout;
                let wait = connect.min(deadline.saturating_duration_since(Instant::now()));
                self.wait_settled(None, wait);
                match self.index().resolve(name) {
                    // The caller's deadline ran out while its service was still starting.
                    Err(Error::ToolNotFound { .. }) if self.any_unsettled() && Instant::now() >= deadline => {
                        return Err(Error::timeout(TimeoutPhase::Initialize, wait));
                    }
                    other => other,
                }
            }
            Err(e) => Err(e),
        };
        let result = match result {
            Err(Error::ToolNotFound { .. }) if self.reload_expired(&[ListKind::Tools], deadline) => {
                self.index().resolve(name)
            }
            other => other,
        };
        result.map_err(|e| self.explain_missing(name, e))
    }

    /// Lists `kinds` again on every service whose list of them is past its
    /// freshness lifetime; whether any did (then a miss is worth a second look).
    pub(crate) fn reload_expired(&self, kinds: &[ListKind], deadline: Instant) -> bool {
        let services: Vec<_> = self.services.read().values().cloned().collect();
        // Every service, not the first: `any` would stop early.
        services.iter().filter(|s| s.reload_expired(kinds, deadline)).count() > 0
    }

    /// A tool of a service that is not serving is "unreachable", not "unknown".
    fn explain_missing(&self, name: &str, error: Error) -> Error {
        if !matches!(error, Error::ToolNotFound { .. }) {
            return error;
        }
        let services = self.services.read();
        let down = services.values().find(|s| {
            !s.tools_loaded()
                && (name
                    .strip_prefix(s.name())
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('_')))
        });
        match down {
            // Not serving for want of authorization: say so with the auth error itself.
            Some(s) if let Some(auth) = s.auth_error() => auth,
            Some(s) => {
                let (state, last) = s.pool().state();
                Error::Closed {
                    message: format!(
                        "service '{}' is {}: {}",
                        s.name(),
                        state.as_str(),
                        last.unwrap_or_else(|| "not connected".into())
                    ),
                    may_have_run: false,
                }
            }
            None => error,
        }
    }

    fn any_unsettled(&self) -> bool {
        self.services.read().values().any(|s| !s.settled())
    }

    /// The call's overall limit (its own, else the store's `call_timeout`).
    pub(crate) fn call_timeout(&self, options: &CallOptions) -> Duration {
        options.timeout.unwrap_or_else(|| self.config.read().batch.call_timeout)
    }

    /// Calls a tool by name: resolution, cache, retries, all within the call's deadline.
    pub(crate) fn call(&self, name: &str, arguments: &Value, options: &CallOptions) -> Result<ToolOutput> {
        let timeout = self.call_timeout(options);
        let deadline = deadline_after(timeout);
        let target = self.resolve(name, deadline)?;
        let arguments = checked_arguments(arguments)?;
        let plan = self.cache_plan(&target, arguments, options);
        if let Some(hit) = plan.as_ref().and_then(|p| self.cache_lookup(&target, p)) {
            target.metrics.record_cache_hit();
            return Ok(hit);
        }
        self.invoke(&target, arguments, options, deadline, timeout, plan.as_ref())
    }

    /// Calls the server (no lookup), records metrics, and caches what `plan` says.
    pub(crate) fn invoke(
        &self,
        target: &ToolRef,
        arguments: &Value,
        options: &CallOptions,
        deadline: Instant,
        timeout: Duration,
        plan: Option<&super::cached::CachePlan>,
    ) -> Result<ToolOutput> {
        let started = Instant::now();
        let mut sizes = MessageSizes::default();
        let outcome = invoke_with_retries(target, arguments, options, (deadline, timeout), &mut sizes);
        let metrics = &target.metrics;
        metrics.record_call(started.elapsed(), outcome.as_ref().map(|(shape, _)| shape.is_error));
        metrics.record_bytes(sizes.sent, sizes.received);
        let (shape, raw) = outcome?;
        let output = ToolOutput::from_server(Arc::from(raw), shape);
        // A result that took input rounds (MRTR) or a task is never cached.
        let interactive = sizes.input_rounds > 0 || sizes.task;
        if let (Some(plan), false) = (plan, interactive) {
            self.cache_store(target, plan, &output, sizes.received);
        }
        let mismatch = target.schema_mismatch(&output);
        Ok(output.with_schema_mismatch(mismatch))
    }
}

/// The arguments of a call: an object (`null` and absent mean `{}`).
pub(crate) fn checked_arguments(arguments: &Value) -> Result<&Value> {
    static EMPTY: std::sync::LazyLock<Value> = std::sync::LazyLock::new(|| Value::Object(Default::default()));
    match arguments {
        Value::Object(_) => Ok(arguments),
        Value::Null => Ok(&EMPTY),
        _ => Err(Error::InvalidArgument("tool arguments must be a JSON object".into())),
    }
}

/// Calls the tool, retrying under the one retry rule, with back-off, until
/// `deadline` (`timeout` is the limit it stands for, for the error).
fn invoke_with_retries(
    target: &ToolRef,
    arguments: &Value,
    options: &CallOptions,
    (deadline, timeout): (Instant, Duration),
    sizes: &mut MessageSizes,
) -> Result<(ToolResultShape, Box<RawValue>)> {
    let service = &target.service;
    let pool = service.pool();
    let cfg = pool.config();
    let safe = repeat_safe(service.config(), &target.tool, options);
    let headers = target.header_values(arguments);
    let mut attempt: u32 = 0;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Error::timeout(TimeoutPhase::Response, timeout));
        }
        let result = pool.acquire_until(Some(deadline)).and_then(|lease| {
            let request = ToolRequest {
                name: &target.tool.name,
                arguments,
                timeout: cfg.read_timeout.min(remaining),
                options,
                headers: &headers,
                task: options.task_watch(),
            };
            let r = lease.session().call_tool_measured(&request, sizes);
            // A session that let a call time out (or refused a connection) takes no
            // new calls until a health check clears it; it is never cut short for it.
            if matches!(
                r,
                Err(Error::Timeout { phase: TimeoutPhase::Response, .. })
                    | Err(Error::Transport { may_have_run: false, status: None, .. })
            ) {
                lease.mark_suspect();
            }
            r
        });
        let error = match result {
            Ok(r) => return Ok(r),
            Err(e) => e,
        };
        let cancelled = options.cancel.as_ref().is_some_and(CancelToken::is_cancelled);
        if cancelled || attempt >= cfg.max_retries || !error.should_retry(safe) || pool.in_backoff() {
            return Err(error);
        }
        attempt += 1;
        let pause = backoff(cfg.retry_delay, attempt, &error);
        if Instant::now() + pause >= deadline {
            return Err(error);
        }
        pool.count_retry(&error);
        target.metrics.record_retry();
        log::debug!(target: "mcpstore::call", "[{}] retry {attempt} of {} in {pause:?}: {error}", service.name(), target.tool.name);
        if sleep_unless_cancelled(pause, options.cancel.as_ref()) {
            return Err(Error::Cancelled);
        }
    }
}
