//! Call metrics: per service and tool, counters and a latency histogram that
//! cost no lock on the call path (atomics only), exported as JSON and in the
//! Prometheus text format.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, ErrorCode};

/// Buckets per doubling of latency: bucket bounds grow by 2^(1/4) ≈ 19%.
const SUB_BUCKETS: u32 = 4;
/// Bucket 0 holds everything up to 1 µs; the last bucket everything above ~137 s.
const BUCKETS: usize = 28 * SUB_BUCKETS as usize + 2;

/// A lock-free latency histogram with logarithmic buckets.
pub struct Histogram {
    counts: Box<[AtomicU64]>,
    sum_nanos: AtomicU64,
    max_nanos: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
            max_nanos: AtomicU64::new(0),
        }
    }
}

/// The upper bound of bucket `i`, in nanoseconds.
fn bucket_upper_nanos(i: usize) -> f64 {
    1000.0 * 2f64.powf(i as f64 / f64::from(SUB_BUCKETS))
}

fn bucket_of(nanos: u64) -> usize {
    if nanos <= 1000 {
        return 0;
    }
    let octaves = (nanos as f64 / 1000.0).log2();
    ((octaves * f64::from(SUB_BUCKETS)).ceil() as usize).min(BUCKETS - 1)
}

impl Histogram {
    /// Records one observation.
    pub fn record(&self, d: Duration) {
        let nanos = d.as_nanos().min(u64::MAX as u128) as u64;
        self.counts[bucket_of(nanos)].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.max_nanos.fetch_max(nanos, Ordering::Relaxed);
    }

    /// The number of observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// The `q` quantile (0..=1) as the upper bound of its bucket, capped by the maximum.
    pub fn quantile(&self, q: f64) -> Duration {
        let counts: Vec<u64> = self.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return Duration::ZERO;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let upper = bucket_upper_nanos(i).min(self.max_nanos.load(Ordering::Relaxed) as f64);
                return Duration::from_nanos(upper as u64);
            }
        }
        self.max()
    }

    /// The slowest observation.
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max_nanos.load(Ordering::Relaxed))
    }

    /// The sum of all observations.
    pub fn sum(&self) -> Duration {
        Duration::from_nanos(self.sum_nanos.load(Ordering::Relaxed))
    }

    /// A summary in milliseconds.
    pub fn summary(&self) -> LatencySummary {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        LatencySummary {
            count: self.count(),
            sum_ms: ms(self.sum()),
            p50_ms: ms(self.quantile(0.50)),
            p90_ms: ms(self.quantile(0.90)),
            p99_ms: ms(self.quantile(0.99)),
            max_ms: ms(self.max()),
        }
    }
}

/// Latency percentiles of a histogram, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct LatencySummary {
    /// Observations.
    pub count: u64,
    /// Their sum.
    pub sum_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Maximum.
    pub max_ms: f64,
}

/// Every error kind, in a fixed order, for the per-kind counters.
const ERROR_KINDS: &[ErrorCode] = &[
    ErrorCode::InvalidArgument,
    ErrorCode::Config,
    ErrorCode::ServiceNotFound,
    ErrorCode::ToolNotFound,
    ErrorCode::AmbiguousTool,
    ErrorCode::PromptNotFound,
    ErrorCode::AmbiguousPrompt,
    ErrorCode::ResourceNotFound,
    ErrorCode::AmbiguousResource,
    ErrorCode::Transport,
    ErrorCode::HttpStatus,
    ErrorCode::Closed,
    ErrorCode::Protocol,
    ErrorCode::Rpc,
    ErrorCode::UnsupportedVersion,
    ErrorCode::ResponseTooLarge,
    ErrorCode::Timeout,
    ErrorCode::PoolExhausted,
    ErrorCode::Busy,
    ErrorCode::Cancelled,
    ErrorCode::NotReady,
    ErrorCode::Panic,
    ErrorCode::Internal,
];

/// The counters of one tool of one service.
pub struct ToolMetrics {
    service: String,
    tool: String,
    calls: AtomicU64,
    tool_errors: AtomicU64,
    errors: [AtomicU64; ERROR_KINDS.len()],
    retries: AtomicU64,
    cache_hits: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    latency: Histogram,
}

impl ToolMetrics {
    pub(crate) fn new(service: &str, tool: &str) -> Arc<Self> {
        Arc::new(ToolMetrics {
            service: service.to_owned(),
            tool: tool.to_owned(),
            calls: AtomicU64::new(0),
            tool_errors: AtomicU64::new(0),
            errors: std::array::from_fn(|_| AtomicU64::new(0)),
            retries: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            latency: Histogram::default(),
        })
    }

    /// Records a call that reached the server (or tried to).
    pub(crate) fn record_call(&self, latency: Duration, outcome: Result<bool, &Error>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.latency.record(latency);
        match outcome {
            Ok(true) => {
                self.tool_errors.fetch_add(1, Ordering::Relaxed);
            }
            Ok(false) => {}
            Err(e) => {
                let code = e.code();
                if let Some(i) = ERROR_KINDS.iter().position(|k| *k == code) {
                    self.errors[i].fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    pub(crate) fn record_bytes(&self, out: usize, inbound: usize) {
        self.bytes_out.fetch_add(out as u64, Ordering::Relaxed);
        self.bytes_in.fetch_add(inbound as u64, Ordering::Relaxed);
    }

    pub(crate) fn record_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_cache_hit(&self) {
        self.cache_hits.fetch_add(1, Ordering::Relaxed);
    }

    /// A snapshot.
    pub fn snapshot(&self) -> ToolStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let errors = ERROR_KINDS
            .iter()
            .zip(self.errors.iter())
            .filter(|(_, c)| g(c) > 0)
            .map(|(k, c)| (k.name().to_owned(), g(c)))
            .collect();
        let timeouts =
            ERROR_KINDS.iter().position(|k| *k == ErrorCode::Timeout).map_or(0, |i| g(&self.errors[i]));
        ToolStats {
            service: self.service.clone(),
            tool: self.tool.clone(),
            calls: g(&self.calls),
            tool_errors: g(&self.tool_errors),
            errors,
            timeouts,
            retries: g(&self.retries),
            cache_hits: g(&self.cache_hits),
            bytes_in: g(&self.bytes_in),
            bytes_out: g(&self.bytes_out),
            latency: self.latency.summary(),
        }
    }
}

/// A snapshot of one tool's metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolStats {
    /// The service.
    pub service: String,
    /// The tool.
    pub tool: String,
    /// Calls sent to the server (cache hits excluded).
    pub calls: u64,
    /// Calls whose result had `isError: true`.
    pub tool_errors: u64,
    /// Failed calls by error kind.
    pub errors: std::collections::BTreeMap<String, u64>,
    /// Failed calls that timed out.
    pub timeouts: u64,
    /// Retried attempts.
    pub retries: u64,
    /// Calls served from the cache.
    pub cache_hits: u64,
    /// Bytes received (raw results).
    pub bytes_in: u64,
    /// Bytes sent (encoded requests).
    pub bytes_out: u64,
    /// Latency of calls sent to the server.
    pub latency: LatencySummary,
}

/// Escapes a Prometheus label value.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Writes tool metrics in the Prometheus text format (HELP, TYPE, samples).
pub(crate) fn write_prometheus(out: &mut String, tools: &[ToolStats]) {
    type Series = (&'static str, &'static str, fn(&ToolStats) -> u64);
    let series: [Series; 7] = [
        ("mcpstore_calls_total", "Tool calls sent to servers.", |t| t.calls),
        ("mcpstore_tool_errors_total", "Calls whose result had isError.", |t| t.tool_errors),
        ("mcpstore_timeouts_total", "Calls that timed out.", |t| t.timeouts),
        ("mcpstore_retries_total", "Retried attempts.", |t| t.retries),
        ("mcpstore_cache_hits_total", "Calls served from the result cache.", |t| t.cache_hits),
        ("mcpstore_bytes_received_total", "Bytes of results received.", |t| t.bytes_in),
        ("mcpstore_bytes_sent_total", "Bytes of requests sent.", |t| t.bytes_out),
    ];
    for (name, help, get) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for t in tools {
            let _ = writeln!(
                out,
                "{name}{{service=\"{}\",tool=\"{}\"}} {}",
                label(&t.service),
                label(&t.tool),
                get(t)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP mcpstore_errors_total Failed calls by error kind.\n# TYPE mcpstore_errors_total counter"
    );
    for t in tools {
        for (kind, n) in &t.errors {
            let _ = writeln!(
                out,
                "mcpstore_errors_total{{service=\"{}\",tool=\"{}\",kind=\"{}\"}} {n}",
                label(&t.service),
                label(&t.tool),
                label(kind)
            );
        }
    }
    let name = "mcpstore_call_duration_seconds";
    let _ = writeln!(out, "# HELP {name} Latency of tool calls.\n# TYPE {name} summary");
    for t in tools {
        let l = format!("service=\"{}\",tool=\"{}\"", label(&t.service), label(&t.tool));
        for (q, v) in [("0.5", t.latency.p50_ms), ("0.9", t.latency.p90_ms), ("0.99", t.latency.p99_ms)] {
            let _ = writeln!(out, "{name}{{{l},quantile=\"{q}\"}} {}", v / 1000.0);
        }
        let _ = writeln!(out, "{name}_sum{{{l}}} {}", t.latency.sum_ms / 1000.0);
        let _ = writeln!(out, "{name}_count{{{l}}} {}", t.latency.count);
    }
}

/// Writes one gauge or counter family with a single unlabelled or labelled sample set.
pub(crate) fn write_family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, v) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {v}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
    }
}

/// Formats `key="value"` for a label.
pub(crate) fn label_pair(key: &str, value: &str) -> String {
    format!("{key}=\"{}\"", label(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_one_bucket() {
        let h = Histogram::default();
        for ms in 1..=1000u64 {
            h.record(Duration::from_micros(ms * 100)); // 0.1 ms .. 100 ms
        }
        for (q, truth_ms) in [(0.5, 50.0), (0.9, 90.0), (0.99, 99.0)] {
            let got = h.quantile(q).as_secs_f64() * 1000.0;
            let ratio = got / truth_ms;
            assert!((1.0..=2f64.powf(0.25) + 1e-9).contains(&ratio), "q{q}: {got} vs {truth_ms}");
        }
        assert_eq!(h.max(), Duration::from_millis(100));
        assert_eq!(h.count(), 1000);
    }

    #[test]
    fn tool_metrics_count_by_kind() {
        let m = ToolMetrics::new("s", "t");
        m.record_call(Duration::from_millis(1), Ok(false));
        m.record_call(Duration::from_millis(1), Ok(true));
        m.record_call(Duration::from_millis(1), Err(&Error::Cancelled));
        m.record_retry();
        m.record_cache_hit();
        let s = m.snapshot();
        assert_eq!((s.calls, s.tool_errors, s.retries, s.cache_hits), (3, 1, 1, 1));
        assert_eq!(s.errors.get("cancelled"), Some(&1));
        let mut text = String::new();
        write_prometheus(&mut text, &[s]);
        assert!(text.contains("mcpstore_calls_total{service=\"s\",tool=\"t\"} 3"));
    }
}
