//! One view of everything a store measures: pools, cache, object pools,
//! executor, memory and per-tool call metrics, as JSON, Prometheus text or a table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::cache::CacheStats;
use crate::exec::ExecutorStats;
use crate::metrics::{ToolStats, label_pair, write_family, write_prometheus};
use crate::monitor::MemorySummary;
use crate::objpool::ObjectPoolStats;
use crate::pool::PoolStats;

/// Everything a store measures, gathered at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct StoreStats {
    /// Seconds since the store was built.
    pub uptime_s: f64,
    /// Connection pools by service.
    pub pool: BTreeMap<String, PoolStats>,
    /// The result cache.
    pub cache: CacheStats,
    /// Object pools by name.
    pub objects: BTreeMap<String, ObjectPoolStats>,
    /// Background calls.
    pub executor: ExecutorStats,
    /// The memory monitor's summary.
    pub memory: MemorySummary,
    /// Call metrics by service and tool.
    pub tools: Vec<ToolStats>,
    /// Progress callbacks and events dropped because the dispatch queue was full.
    pub callbacks_dropped: u64,
    /// Cancellation notices dropped because their queue was full.
    pub notices_dropped: u64,
    /// Events dropped because an event queue or the dispatch queue was full.
    pub events_dropped: u64,
}

impl super::Store {
    /// Everything the store measures, gathered now.
    pub fn stats(&self) -> StoreStats {
        let mut tools: Vec<_> = self.inner.metrics.lock().values().map(|m| m.snapshot()).collect();
        tools.sort_by(|a, b| (&a.service, &a.tool).cmp(&(&b.service, &b.tool)));
        StoreStats {
            uptime_s: self.inner.started.elapsed().as_secs_f64(),
            pool: self.pool_stats(),
            cache: self.cache_stats(),
            objects: crate::objpool::object_pool_stats()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            executor: self.executor_stats(),
            memory: self.inner.monitor.summary(),
            tools,
            callbacks_dropped: self.inner.callbacks.dropped(),
            notices_dropped: self.inner.notices.dropped(),
            events_dropped: self.inner.events.dropped(),
        }
    }
}

impl StoreStats {
    /// The statistics as a JSON value.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The statistics in the Prometheus text exposition format.
    pub fn to_prometheus(&self) -> String {
        let mut out = String::new();
        write_prometheus(&mut out, &self.tools);
        let per_service = |f: fn(&PoolStats) -> f64| -> Vec<(String, f64)> {
            self.pool.iter().map(|(s, p)| (label_pair("service", s), f(p))).collect()
        };
        type Series = (&'static str, &'static str, &'static str, fn(&PoolStats) -> f64);
        let pool_series: [Series; 11] = [
            ("mcpstore_pool_sessions_created_total", "counter", "Sessions opened.", |p| p.created as f64),
            (
                "mcpstore_pool_sessions_reused_total",
                "counter",
                "Calls served by an already used session.",
                |p| p.reused as f64,
            ),
            (
                "mcpstore_pool_sessions_failed_total",
                "counter",
                "Session opens that failed and sessions that died.",
                |p| p.failed as f64,
            ),
            ("mcpstore_pool_sessions_evicted_total", "counter", "Sessions evicted.", |p| p.evicted as f64),
            ("mcpstore_pool_health_checks_failed_total", "counter", "Failed health checks.", |p| {
                p.health_checks_failed as f64
            }),
            ("mcpstore_pool_retries_total", "counter", "Retried calls.", |p| p.retries as f64),
            ("mcpstore_pool_waits_total", "counter", "Calls that waited for a free session.", |p| {
                p.waits as f64
            }),
            ("mcpstore_pool_wait_seconds_total", "counter", "Time spent waiting for a free session.", |p| {
                p.wait_ms / 1000.0
            }),
            ("mcpstore_pool_sessions_open", "gauge", "Sessions open now.", |p| p.open as f64),
            ("mcpstore_pool_sessions_idle", "gauge", "Open sessions without a call.", |p| p.idle as f64),
            ("mcpstore_pool_calls_in_flight", "gauge", "Calls in flight.", |p| p.in_flight as f64),
        ];
        for (name, kind, help, f) in pool_series {
            write_family(&mut out, name, kind, help, &per_service(f));
        }
        let c = &self.cache;
        for (name, kind, help, v) in [
            ("mcpstore_result_cache_hits_total", "counter", "Cache lookups that hit.", c.hits as f64),
            ("mcpstore_result_cache_misses_total", "counter", "Cache lookups that missed.", c.misses as f64),
            (
                "mcpstore_result_cache_inserts_total",
                "counter",
                "Results stored in the cache.",
                c.inserts as f64,
            ),
            ("mcpstore_result_cache_evictions_total", "counter", "Entries evicted.", c.evictions as f64),
            ("mcpstore_result_cache_expirations_total", "counter", "Entries expired.", c.expirations as f64),
            ("mcpstore_result_cache_entries", "gauge", "Entries held.", c.entries as f64),
            (
                "mcpstore_executor_calls_in_flight",
                "gauge",
                "Background calls in flight.",
                self.executor.in_flight as f64,
            ),
            (
                "mcpstore_executor_submitted_total",
                "counter",
                "Background calls submitted.",
                self.executor.submitted as f64,
            ),
            (
                "mcpstore_memory_rss_bytes",
                "gauge",
                "Resident memory.",
                self.memory.current_rss_mb * 1048576.0,
            ),
            ("mcpstore_memory_pressure_trips_total", "counter", "Times memory crossed the threshold.", {
                self.memory.actions.trips as f64
            }),
            (
                "mcpstore_memory_reliefs_total",
                "counter",
                "Times the monitor released what the library held.",
                self.memory.actions.reliefs as f64,
            ),
            ("mcpstore_uptime_seconds", "gauge", "Seconds since the store was built.", self.uptime_s),
        ] {
            write_family(&mut out, name, kind, help, &[(String::new(), v)]);
        }
        let objects: Vec<(String, f64)> =
            self.objects.iter().map(|(n, o)| (label_pair("pool", n), o.active_objects as f64)).collect();
        write_family(&mut out, "mcpstore_objects_active", "gauge", "Pooled objects handed out.", &objects);
        let idle: Vec<(String, f64)> =
            self.objects.iter().map(|(n, o)| (label_pair("pool", n), o.pool_size as f64)).collect();
        write_family(&mut out, "mcpstore_objects_idle", "gauge", "Pooled objects ready for reuse.", &idle);
        out
    }

    /// The statistics as a human-readable table.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<28} {:>8} {:>7} {:>7} {:>7} {:>8} {:>9} {:>9} {:>9}",
            "tool", "calls", "errors", "retries", "hits", "p50 ms", "p90 ms", "p99 ms", "max ms"
        );
        for t in &self.tools {
            let errors: u64 = t.errors.values().sum::<u64>() + t.tool_errors;
            let _ = writeln!(
                out,
                "{:<28} {:>8} {:>7} {:>7} {:>7} {:>8.3} {:>9.3} {:>9.3} {:>9.3}",
                format!("{}.{}", t.service, t.tool),
                t.calls,
                errors,
                t.retries,
                t.cache_hits,
                t.latency.p50_ms,
                t.latency.p90_ms,
                t.latency.p99_ms,
                t.latency.max_ms
            );
        }
        let _ = writeln!(
            out,
            "\n{:<16} {:>8} {:>8} {:>7} {:>8} {:>6} {:>6} {:>9}",
            "service", "created", "reused", "failed", "evicted", "open", "idle", "in flight"
        );
        for (s, p) in &self.pool {
            let _ = writeln!(
                out,
                "{s:<16} {:>8} {:>8} {:>7} {:>8} {:>6} {:>6} {:>9}",
                p.created, p.reused, p.failed, p.evicted, p.open, p.idle, p.in_flight
            );
        }
        let c = &self.cache;
        let _ = writeln!(
            out,
            "\ncache: {} hits, {} misses, {} entries of {}, {} evictions, {} expirations",
            c.hits, c.misses, c.entries, c.capacity, c.evictions, c.expirations
        );
        let m = &self.memory;
        let _ = writeln!(
            out,
            "memory: rss {:.1} MB ({:.2}%), avg {:.1} MB, max {:.1} MB over the last samples",
            m.current_rss_mb, m.current_percent, m.avg_rss_mb, m.max_rss_mb
        );
        out
    }
}
