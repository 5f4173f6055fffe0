//! What the store caches, and only when asked: a call with a cache key, or a
//! tool its service's cache policy names. `readOnlyHint` alone never caches:
//! a read-only tool may still return something new each time. MRTR rounds and
//! tool errors are never cached.

use std::time::Duration;

use serde_json::Value;

use super::index::ToolRef;
use super::{Store, StoreInner};
use crate::cache::ResultCache;
use crate::call_options::CallOptions;
use crate::error::Result;
use crate::exec::ToolOutput;

/// Where and how long one call's result is cached.
pub(crate) struct CachePlan {
    /// The cache key.
    pub(crate) key: String,
    /// The entry's time to live.
    ttl: Duration,
}

impl StoreInner {
    /// Whether (and where) this call's result is served from and stored in the
    /// cache: only when the master switch is on, the call does not bypass the
    /// cache, and it carries a cache key or its tool is in the service's policy.
    pub(crate) fn cache_plan(
        &self,
        target: &ToolRef,
        arguments: &Value,
        options: &CallOptions,
    ) -> Option<CachePlan> {
        if options.bypass_cache || !self.cache_enabled() {
            return None;
        }
        if let Some(key) = &options.cache_key {
            let ttl = self.config.read().cache.ttl;
            return Some(CachePlan { key: ResultCache::key_from_user(key), ttl });
        }
        let ttl = target.service.config().cache.ttl_for(&target.tool.name)?;
        Some(CachePlan {
            key: ResultCache::key_for(target.service.name(), &target.tool.name, arguments),
            ttl,
        })
    }

    /// The cached result for `plan`, with its age (checked against the
    /// tool's `outputSchema` like a fresh one: the schema may have changed).
    pub(crate) fn cache_lookup(&self, target: &ToolRef, plan: &CachePlan) -> Option<ToolOutput> {
        self.cache.get_with_raw(&plan.key).map(|(result, raw, age)| {
            let output = ToolOutput::cached(result, age);
            let output = match raw {
                Some(raw) => output.with_raw(raw),
                None => output,
            };
            let mismatch = target.schema_mismatch(&output);
            output.with_schema_mismatch(mismatch)
        })
    }

    /// Stores a fresh result of `bytes` encoded bytes (never one with `isError`),
    /// parsed once here and kept with the server's bytes.
    pub(crate) fn cache_store(&self, target: &ToolRef, plan: &CachePlan, output: &ToolOutput, bytes: usize) {
        self.cache.insert_with_raw(
            plan.key.clone(),
            (target.service.name(), &target.tool.name),
            (output.result().clone(), output.raw().cloned()),
            bytes,
            plan.ttl,
        );
    }
}

impl Store {
    /// Drops the result cached under a caller's `cache_key`; returns whether there was one.
    pub fn invalidate_cache_key(&self, cache_key: &str) -> bool {
        self.inner.cache.invalidate_key(&ResultCache::key_from_user(cache_key))
    }

    /// Drops every cached result of a tool (named as for `call_tool`); returns how many.
    /// Results cached under a caller's key are kept: the key names them, not the tool.
    pub fn invalidate_cache_tool(&self, tool: &str) -> Result<usize> {
        let target = self.inner.index().resolve(tool)?;
        Ok(self.inner.cache.invalidate_tool(target.service.name(), &target.tool.name))
    }

    /// Drops every cached result of a service; returns how many.
    pub fn invalidate_cache_service(&self, service: &str) -> Result<usize> {
        let service = self.inner.service(service)?;
        Ok(self.inner.cache.invalidate_service(service.name()))
    }

    /// Empties the result cache; returns how many entries were dropped.
    pub fn clear_cache(&self) -> usize {
        self.inner.cache.clear()
    }
}
