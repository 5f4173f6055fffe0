//! Applying a new [`PerformanceConfig`] to a running store.

use serde::Serialize;

use crate::config::PerformanceConfig;
use crate::error::Result;

use super::Store;

/// What [`Store::apply_performance_config`] changed and what waits for a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ApplyReport {
    /// Settings now in force.
    pub applied: Vec<String>,
    /// Settings that changed but only take effect for a new store.
    pub needs_restart: Vec<String>,
}

impl Store {
    /// Applies at runtime what can change safely: cache size, TTL and switch,
    /// the background call limit, monitor interval and threshold, and pool
    /// limits (for services without their own; new sessions follow them).
    /// Returns which settings took effect and which need a restart.
    pub fn apply_performance_config(&self, new: PerformanceConfig) -> Result<ApplyReport> {
        new.validate()?;
        let inner = &self.inner;
        let old = inner.config();
        let mut report = ApplyReport::default();
        let mut note = |changed: bool, name: &str, live: bool| {
            if changed {
                if live {
                    report.applied.push(name.to_owned())
                } else {
                    report.needs_restart.push(name.to_owned())
                }
            }
        };
        if new.cache != old.cache {
            inner.cache.reconfigure(new.cache.capacity, new.cache.max_bytes);
            inner.set_cache_enabled(new.cache.enabled);
        }
        note(new.cache.capacity != old.cache.capacity, "cache_size", true);
        note(new.cache.ttl != old.cache.ttl, "cache_ttl", true);
        note(new.cache.max_bytes != old.cache.max_bytes, "cache_max_bytes", true);
        note(new.cache.enabled != old.cache.enabled, "enable_result_cache", true);

        inner.limiter.set_limit(new.batch.max_concurrent_calls);
        note(new.batch.max_concurrent_calls != old.batch.max_concurrent_calls, "max_concurrent_calls", true);
        note(new.batch.default_batch_size != old.batch.default_batch_size, "default_batch_size", true);
        note(new.batch.call_timeout != old.batch.call_timeout, "call_timeout", true);
        note(new.batch.submit_timeout != old.batch.submit_timeout, "submit_timeout", true);
        let executor_started = inner.executor.get().is_some();
        note(new.batch.max_workers != old.batch.max_workers, "max_workers", !executor_started);

        if new.pool != old.pool {
            for service in inner.services.read().values() {
                if service.config().pool.is_none() {
                    service.pool().set_config(new.pool.clone());
                }
            }
        }
        note(new.pool != old.pool, "pool", true);
        if new.memory != old.memory {
            inner.monitor.set_threshold_mb(new.memory.threshold_mb);
            if new.memory.monitoring_enabled {
                inner.monitor.start(new.memory.monitoring_interval);
            } else {
                inner.monitor.stop();
            }
        }
        note(new.memory != old.memory, "memory", true);
        note(new.max_response_bytes != old.max_response_bytes, "max_response_bytes", false);
        *inner.config.write() = new;
        inner.maintenance.wake();
        Ok(report)
    }
}
