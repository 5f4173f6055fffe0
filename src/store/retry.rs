//! The one retry rule of every call path (single calls, batches, background
//! calls), and the pauses between attempts.
//!
//! A failure is retried when another attempt can help and either the request
//! provably never reached the server or the call is known safe to repeat:
//! the user named the tool (`idempotent_tools`), opted in (the call's
//! `retry_non_idempotent`, the service's `retry_non_idempotent`), or the
//! server's `idempotentHint`/`readOnlyHint` says so and the service trusts
//! annotations (`trust_annotations`, on by default).

use std::time::{Duration, Instant};

use crate::call_options::CallOptions;
use crate::cancel::CancelToken;
use crate::config::ServiceConfig;
use crate::error::Error;
use crate::protocol::Tool;

/// The longest pause between two attempts of one call.
pub(crate) const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(30);

/// Whether running `tool` twice for one call is known to be safe.
pub(crate) fn repeat_safe(service: &ServiceConfig, tool: &Tool, options: &CallOptions) -> bool {
    let policy = &service.retry;
    options.retry_non_idempotent
        || policy.retry_all
        || policy.idempotent_tools.contains(&tool.name)
        || (policy.trust_annotations && tool.is_retry_safe())
}

/// `base * 2^(attempt-1)` with ±25% jitter, capped, and at least the server's `Retry-After`.
pub(crate) fn backoff(base: Duration, attempt: u32, error: &Error) -> Duration {
    let exp = base.saturating_mul(1u32 << (attempt.max(1) - 1).min(16)).min(MAX_RETRY_BACKOFF);
    let jitter = 0.75 + 0.5 * pseudo_random();
    let pause = exp.mul_f64(jitter).min(MAX_RETRY_BACKOFF); // the cap holds after jitter too
    match error {
        Error::Transport { retry_after: Some(ra), .. } => pause.max(*ra).min(MAX_RETRY_BACKOFF),
        _ => pause,
    }
}

/// Sleeps `pause` in short slices; returns `true` as soon as the call is cancelled.
pub(crate) fn sleep_unless_cancelled(pause: Duration, cancel: Option<&CancelToken>) -> bool {
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
    use crate::config::RetryPolicy;
    use serde_json::json;

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
            may_have_run: false,
        };
        assert!(backoff(base, 1, &throttled) >= Duration::from_secs(2));
        assert!(backoff(Duration::from_secs(20), 10, &e) <= MAX_RETRY_BACKOFF);
    }

    #[test]
    fn who_decides_that_a_tool_is_safe_to_repeat() {
        let hinted: Tool = serde_json::from_value(
            json!({"name": "get", "inputSchema": {}, "annotations": {"idempotentHint": true}}),
        )
        .unwrap();
        let plain: Tool = serde_json::from_value(json!({"name": "charge", "inputSchema": {}})).unwrap();
        let none = CallOptions::default();
        let service = ServiceConfig::stdio("x", Vec::<String>::new());
        assert!(repeat_safe(&service, &hinted, &none));
        assert!(!repeat_safe(&service, &plain, &none));
        let distrust = ServiceConfig {
            retry: RetryPolicy { trust_annotations: false, ..Default::default() },
            ..service.clone()
        };
        assert!(!repeat_safe(&distrust, &hinted, &none), "annotations are not trusted");
        let named = ServiceConfig {
            retry: RetryPolicy { idempotent_tools: ["charge".to_owned()].into(), ..Default::default() },
            ..service.clone()
        };
        assert!(repeat_safe(&named, &plain, &none));
        assert!(repeat_safe(
            &service,
            &plain,
            &CallOptions { retry_non_idempotent: true, ..Default::default() }
        ));
    }
}
