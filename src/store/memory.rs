//! The store's side of the memory monitor: live object counts and pressure relief.

use std::time::Instant;

use crate::monitor::{LiveObjects, MemoryMonitor, MemorySample, MemorySummary, Pressure};

use super::{Store, StoreInner};

impl StoreInner {
    /// What the library holds alive now.
    pub(crate) fn live_objects(&self) -> LiveObjects {
        let mut live = LiveObjects {
            cache_entries: self.cache.len(),
            cache_bytes: usize::try_from(self.cache.bytes()).unwrap_or(usize::MAX),
            ..Default::default()
        };
        for s in crate::objpool::object_pool_stats().values() {
            live.pooled_objects += s.pool_size + s.active_objects;
            live.idle_pooled_objects += s.pool_size;
        }
        for service in self.services.read().values() {
            let p = service.pool_stats();
            let min = service.pool().config().min_connections;
            live.open_sessions += p.open;
            live.idle_sessions_above_min += p.open.saturating_sub(min).min(p.idle);
            live.in_flight_calls += p.in_flight;
        }
        live
    }

    /// Samples memory if due and, above the threshold, relieves pressure when
    /// the library holds something to release; returns when the next sample is due.
    ///
    /// Crossing the threshold is warned about (and the pressure callback run)
    /// once; again only after memory went back under it.
    pub(crate) fn monitor_tick(&self, now: Instant) -> Option<Instant> {
        if let Some((sample, pressure)) = self.monitor.sample_if_due(now, || self.live_objects()) {
            if pressure == Pressure::Crossed {
                self.pressure_crossed(&sample);
            }
            if pressure != Pressure::Under && sample.live.releasable() {
                self.relieve_pressure(&sample);
            }
        }
        self.monitor.next_due()
    }

    /// Memory went above the threshold: one warning, one callback.
    fn pressure_crossed(&self, sample: &MemorySample) {
        let live = &sample.live;
        log::warn!(
            target: "mcpstore::monitor",
            "RSS {:.1} MB is above the threshold of {:.1} MB; the library holds {} cache entries ({} bytes),              {} idle sessions above the minimum, {} idle pooled objects",
            sample.rss_mb,
            self.monitor.threshold_mb(),
            live.cache_entries,
            live.cache_bytes,
            live.idle_sessions_above_min,
            live.idle_pooled_objects,
        );
        self.monitor.count(|c| c.trips += 1);
        self.monitor.run_callback(sample);
    }

    /// Frees what the library holds, in order: expired cache entries, the LRU
    /// half of the cache, idle pooled objects, idle sessions above `min_connections`.
    pub(crate) fn relieve_pressure(&self, sample: &MemorySample) {
        let expired = self.cache.purge_expired();
        let halved = self.cache.evict_lru_fraction(0.5);
        let trimmed = crate::objpool::trim_object_pools();
        let closed: usize = self.services.read().values().map(|s| s.pool().close_idle_above_min()).sum();
        self.monitor.count(|c| {
            c.reliefs += 1;
            c.expired_cleared += expired as u64;
            c.cache_halved += u64::from(halved > 0);
            c.pools_trimmed += u64::from(trimmed > 0);
            c.sessions_closed += closed as u64;
        });
        log::debug!(
            target: "mcpstore::monitor",
            "RSS {:.1} MB: relief dropped {expired} expired and {halved} cache entries, {trimmed} pooled objects, \
             closed {closed} idle sessions",
            sample.rss_mb,
        );
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
}
