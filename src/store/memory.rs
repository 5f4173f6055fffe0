//! The store's side of the memory monitor: live object counts and pressure relief.

use std::time::Instant;

use crate::monitor::{LiveObjects, MemoryMonitor, MemorySample, MemorySummary};
use crate::stats::StoreStats;

use super::{Store, StoreInner};

impl StoreInner {
    /// What the library holds alive now.
    pub(crate) fn live_objects(&self) -> LiveObjects {
        let mut live = LiveObjects { cache_entries: self.cache.len(), ..Default::default() };
        for s in crate::pool::object_pool_stats().values() {
            live.pooled_objects += s.pool_size + s.active_objects;
        }
        for service in self.services.read().values() {
            let p = service.pool_stats();
            live.open_sessions += p.open;
            live.in_flight_calls += p.in_flight;
        }
        live
    }

    /// Samples memory if due and relieves pressure; returns when the next sample is due.
    pub(crate) fn monitor_tick(&self, now: Instant) -> Option<Instant> {
        if let Some((sample, over)) = self.monitor.sample_if_due(now, || self.live_objects())
            && over
        {
            self.relieve_pressure(&sample);
        }
        self.monitor.next_due()
    }

    /// Frees memory, in order: expired cache entries, the LRU half of the cache,
    /// idle pooled objects, idle sessions above `min_connections`.
    pub(crate) fn relieve_pressure(&self, sample: &MemorySample) {
        log::warn!(target: "mcpstore::monitor", "RSS {:.1} MB is above the threshold of {:.1} MB; relieving pressure", sample.rss_mb, self.monitor.threshold_mb());
        let expired = self.cache.purge_expired();
        let halved = self.cache.evict_lru_fraction(0.5);
        let trimmed = crate::pool::trim_object_pools();
        let closed: usize = self.services.read().values().map(|s| s.pool().close_idle_above_min()).sum();
        self.monitor.count(|c| {
            c.trips += 1;
            c.expired_cleared += expired as u64;
            c.cache_halved += 1;
            c.pools_trimmed += 1;
            c.sessions_closed += closed as u64;
        });
        log::debug!(target: "mcpstore::monitor", "relief: {expired} expired, {halved} evicted, {trimmed} objects trimmed, {closed} sessions closed");
        if let Some(callback) = self.monitor.callback() {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(sample)));
        }
    }
}

impl Store {
    /// The memory monitor: `start(interval)`, `stop()`, `summary()`, `samples()`,
    /// `set_threshold_mb()`, `on_pressure(callback)`. It samples on the store's
    /// maintenance thread.
    pub fn memory_monitor(&self) -> &MemoryMonitor {
        self.inner.maintenance.wake();
        &self.inner.monitor
    }

    /// The memory monitor's summary.
    pub fn memory_summary(&self) -> MemorySummary {
        self.inner.monitor.summary()
    }

    /// Everything the store measures, gathered now.
    pub fn stats(&self) -> StoreStats {
        let mut tools: Vec<_> = self.inner.metrics.lock().values().map(|m| m.snapshot()).collect();
        tools.sort_by(|a, b| (&a.service, &a.tool).cmp(&(&b.service, &b.tool)));
        StoreStats {
            uptime_s: self.inner.started.elapsed().as_secs_f64(),
            pool: self.pool_stats(),
            cache: self.cache_stats(),
            objects: crate::pool::object_pool_stats().into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            executor: self.executor_stats(),
            memory: self.inner.monitor.summary(),
            tools,
        }
    }
}
