//! The call path: resolve the name, take a session, call, retry what is safe to retry.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cache::ResultCache;
use crate::error::{Error, Result, TimeoutPhase};
use crate::exec::{CallHandle, CallResult, HandleState, ToolCall};
use crate::protocol::ToolResult;
use crate::session::{CancelToken, MessageSizes, ProgressCallback};

use super::StoreInner;
use super::index::ToolRef;

/// The longest pause between two attempts of one call.
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(30);

/// Per-call options.
#[derive(Clone, Default)]
pub struct CallOptions {
    /// Overall limit of the call, retries included (default: `call_timeout`).
    pub timeout: Option<Duration>,
    /// Retry even if the request may have reached the server (the caller knows it is safe).
    pub retry_non_idempotent: bool,
    /// Cancels the call from another thread.
    pub cancel: Option<CancelToken>,
    /// Skip the result cache for this call.
    pub bypass_cache: bool,
    /// A cache key chosen by the caller; the result is cached under it.
    pub cache_key: Option<String>,
    /// Receives the server's progress notifications for this call. It runs on
    /// the session's reader thread (stdio) or the calling thread (HTTP): keep
    /// it short, and do not call the same service from it.
    pub progress: Option<ProgressCallback>,
}

impl StoreInner {
    /// Resolves a tool name; waits for services still starting before saying it is unknown.
    pub(crate) fn resolve(&self, name: &str) -> Result<ToolRef> {
        let index = self.index();
        let result = match index.resolve(name) {
            Ok(r) => Ok(r),
            Err(Error::ToolNotFound { .. }) if self.any_unsettled() => {
                let wait = self.config.read().pool.connection_timeout;
                self.wait_settled(None, wait);
                self.index().resolve(name)
            }
            Err(e) => Err(e),
        };
        result.map_err(|e| self.explain_missing(name, e))
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
            Some(s) => {
                let (state, last) = s.pool().state();
                Error::Closed {
                    message: format!(
                        "service '{}' is {}: {}",
                        s.name(),
                        state.as_str(),
                        last.unwrap_or_else(|| "not connected".into())
                    ),
                    sent: false,
                }
            }
            None => error,
        }
    }

    fn any_unsettled(&self) -> bool {
        self.services.read().values().any(|s| !s.settled())
    }

    /// Calls a tool by name with retries.
    pub(crate) fn call(
        &self,
        name: &str,
        arguments: &Value,
        options: &CallOptions,
    ) -> Result<Arc<ToolResult>> {
        let target = self.resolve(name)?;
        self.call_resolved(&target, arguments, options)
    }

    /// Calls an already resolved tool: from the cache when it may, else with retries.
    pub(crate) fn call_resolved(
        &self,
        target: &ToolRef,
        arguments: &Value,
        options: &CallOptions,
    ) -> Result<Arc<ToolResult>> {
        if !arguments.is_object() && !arguments.is_null() {
            return Err(Error::InvalidArgument("tool arguments must be a JSON object".into()));
        }
        let empty = Value::Object(Default::default());
        let arguments = if arguments.is_null() { &empty } else { arguments };
        let key = if options.bypass_cache {
            None
        } else {
            self.cache_key_for(target, arguments, options.cache_key.as_deref())
        };
        if let Some(k) = &key
            && let Some(hit) = self.cache_lookup(target, k)
        {
            target.metrics.record_cache_hit();
            return Ok(hit);
        }
        self.invoke_cached(target, arguments, options, key)
    }

    /// Calls the server (no lookup) and stores a cacheable result under `key`.
    pub(crate) fn invoke_cached(
        &self,
        target: &ToolRef,
        arguments: &Value,
        options: &CallOptions,
        key: Option<String>,
    ) -> Result<Arc<ToolResult>> {
        let timeout = options.timeout.unwrap_or_else(|| self.config.read().batch.call_timeout);
        let started = Instant::now();
        let mut sizes = MessageSizes::default();
        let outcome = invoke_with_retries(target, arguments, options, timeout, &mut sizes);
        let metrics = &target.metrics;
        metrics.record_call(started.elapsed(), outcome.as_ref().map(|r| r.is_error));
        metrics.record_bytes(sizes.sent, sizes.received);
        let result = Arc::new(outcome?);
        if let Some(k) = key {
            self.cache_insert(target, k, result.clone());
        }
        Ok(result)
    }

    /// The cache key of a call, if its result may be cached: an explicit
    /// key, or a read-only tool while automatic caching is on.
    pub(crate) fn cache_key_for(
        &self,
        target: &ToolRef,
        arguments: &Value,
        explicit: Option<&str>,
    ) -> Option<String> {
        match explicit {
            Some(k) => Some(ResultCache::key_from_user(k)),
            None if self.cache_enabled() && target.tool.is_read_only() => {
                Some(ResultCache::key_for(target.service.name(), &target.tool.name, arguments))
            }
            None => None,
        }
    }

    /// A cached result for `key`.
    pub(crate) fn cache_lookup(&self, _target: &ToolRef, key: &str) -> Option<Arc<ToolResult>> {
        self.cache.get(key)
    }

    /// Stores a result (never one with `isError`).
    pub(crate) fn cache_insert(&self, target: &ToolRef, key: String, result: Arc<ToolResult>) {
        self.cache.insert(key, target.service.name(), result);
    }

    /// Starts a call on the executor; `on_done` runs once with the outcome, on a worker.
    pub(crate) fn submit_call(
        self: &Arc<Self>,
        call: ToolCall,
        on_done: Option<Box<dyn FnOnce(CallResult) + Send>>,
    ) -> Result<CallHandle> {
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(Error::Closed { message: "store is closed".into(), sent: false });
        }
        let cfg = self.config();
        if !self.limiter.acquire(cfg.batch.submit_timeout) {
            return Err(Error::Busy { waited: cfg.batch.submit_timeout });
        }
        let executor = match self.executor() {
            Ok(e) => e,
            Err(e) => {
                self.limiter.release();
                return Err(e);
            }
        };
        let state = HandleState::new(crate::exec::default_wait(cfg.batch.call_timeout), on_done.is_some());
        let handle = CallHandle { state: state.clone() };
        let store = self.clone();
        let id = self.in_flight.start(&state);
        executor.spawn(move || {
            let options = CallOptions {
                cancel: Some(state.cancel.clone()),
                cache_key: call.cache_key.clone(),
                ..Default::default()
            };
            let outcome = if state.cancel.is_cancelled() {
                Err(Error::Cancelled)
            } else if store.closed.load(std::sync::atomic::Ordering::Acquire) {
                Err(Error::Closed { message: "store is closed".into(), sent: false })
            } else {
                // A bug must not take the worker down or leave the handle unresolved.
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    store.call(&call.tool, &call.arguments, &options)
                }))
                .unwrap_or_else(|_| Err(Error::Internal("a background call panicked".into())))
            };
            let final_result = state.resolve(outcome);
            store.in_flight.finish(id);
            store.limiter.release();
            if let Some(callback) = on_done {
                // A panicking callback must not take the worker down.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(final_result)));
            }
            // Waiters see the outcome only now, after the callback returned.
            state.publish();
        });
        Ok(handle)
    }
}

/// Calls the tool, retrying failures that are safe to retry, with back-off.
fn invoke_with_retries(
    target: &ToolRef,
    arguments: &Value,
    options: &CallOptions,
    timeout: Duration,
    sizes: &mut MessageSizes,
) -> Result<ToolResult> {
    let service = &target.service;
    let pool = service.pool();
    let cfg = pool.config();
    let deadline = crate::session::deadline_after(timeout);
    let retry_safe =
        target.tool.is_retry_safe() || options.retry_non_idempotent || service.config().retry_non_idempotent;
    let mut attempt: u32 = 0;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Error::Timeout { phase: TimeoutPhase::Response, after: timeout });
        }
        let result = pool.acquire_until(Some(deadline)).and_then(|lease| {
            let r = lease.session().call_tool_with_progress(
                &target.tool.name,
                arguments,
                cfg.read_timeout.min(remaining),
                options.cancel.as_ref(),
                options.progress.as_ref(),
                sizes,
            );
            // A hung server, or one that stopped accepting connections, fails its
            // next health check (within a second) and is evicted; the service state follows.
            let suspect = matches!(
                r,
                Err(Error::Timeout { phase: TimeoutPhase::Response, .. })
                    | Err(Error::Transport { sent: false, status: None, .. })
            );
            if suspect {
                lease.mark_suspect();
            }
            r
        });
        let error = match result {
            Ok(r) => return Ok(r),
            Err(e) => e,
        };
        let cancelled = options.cancel.as_ref().is_some_and(CancelToken::is_cancelled);
        let may_retry = !cancelled
            && attempt < cfg.max_retries
            && error.is_retryable()
            && (!error.may_have_executed() || retry_safe);
        if !may_retry {
            return Err(error);
        }
        attempt += 1;
        pool.count_retry(&error);
        target.metrics.record_retry();
        let pause = backoff(cfg.retry_delay, attempt, &error);
        if Instant::now() + pause >= deadline {
            return Err(error);
        }
        log::debug!(target: "mcpstore::call", "[{}] retry {attempt} of {} in {pause:?}: {error}", service.name(), target.tool.name);
        if sleep_unless_cancelled(pause, options.cancel.as_ref()) {
            return Err(Error::Cancelled);
        }
    }
}

/// Sleeps `pause` in short slices; returns `true` as soon as the call is cancelled.
fn sleep_unless_cancelled(pause: Duration, cancel: Option<&CancelToken>) -> bool {
    let end = Instant::now() + pause;
    loop {
        if cancel.is_some_and(CancelToken::is_cancelled) {
            return true;
        }
        let now = Instant::now();
        if now >= end {
            return false;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(20)));
    }
}

/// `base * 2^(attempt-1)` with ±25% jitter, capped, and at least the server's `Retry-After`.
fn backoff(base: Duration, attempt: u32, error: &Error) -> Duration {
    let exp = base.saturating_mul(1u32 << (attempt - 1).min(16)).min(MAX_RETRY_BACKOFF);
    let jitter = 0.75 + 0.5 * pseudo_random();
    let pause = exp.mul_f64(jitter).min(MAX_RETRY_BACKOFF); // the cap holds after jitter too
    match error {
        Error::Transport { retry_after: Some(ra), .. } => pause.max(*ra).min(MAX_RETRY_BACKOFF),
        _ => pause.min(MAX_RETRY_BACKOFF),
    }
}

/// A cheap pseudo-random number in [0, 1) for jitter (no crypto needed).
fn pseudo_random() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_honours_retry_after() {
        let base = Duration::from_millis(100);
        let e = Error::unsent("x");
        for attempt in 1..5 {
            let want = 100.0 * f64::from(1u32 << (attempt - 1));
            let got = backoff(base, attempt, &e).as_secs_f64() * 1000.0;
            assert!(got >= want * 0.75 - 1.0 && got <= want * 1.25 + 1.0, "{attempt}: {got}");
        }
        let throttled = Error::Transport {
            message: "x".into(),
            status: Some(429),
            retry_after: Some(Duration::from_secs(2)),
            sent: false,
        };
        assert!(backoff(base, 1, &throttled) >= Duration::from_secs(2));
        assert!(backoff(Duration::from_secs(20), 10, &e) <= MAX_RETRY_BACKOFF);
    }
}
