//! Every tunable of a store in one place: [`PerformanceConfig`].
//!
//! It is loaded from the `performance` section of `mcp.json`, from a
//! standalone JSON file, or from `MCPSTORE_*` environment variables (which win),
//! with the seed's names and defaults. Keys are checked: an unknown key or a bad
//! value is an error that names it.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use super::values::{
    as_object, boolean, count, nonzero_seconds, number, parse_env_value, positive, seconds, unknown_key,
};
use crate::error::{Error, Result};

/// Connection pool settings, for the whole store or one service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolConfig {
    /// Sessions kept open and warm.
    pub min_connections: usize,
    /// Upper bound of open sessions.
    pub max_connections: usize,
    /// A session above the minimum idle this long is closed.
    pub max_idle_time: Duration,
    /// Spawn / TCP connect plus `initialize`.
    pub connection_timeout: Duration,
    /// Waiting for a response.
    pub read_timeout: Duration,
    /// Sending a request.
    pub write_timeout: Duration,
    /// Retries of a call that failed in a retryable way.
    pub max_retries: u32,
    /// First back-off; doubles each retry with jitter, capped.
    pub retry_delay: Duration,
    /// How often idle sessions are pinged.
    pub health_check_interval: Duration,
    /// A ping slower than this fails the check.
    pub health_check_timeout: Duration,
    /// How long a call waits for a free session before `PoolExhausted`.
    pub acquire_timeout: Duration,
    /// Requests one session carries at once before another is opened.
    pub max_in_flight_per_connection: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            min_connections: 2,
            max_connections: 10,
            max_idle_time: Duration::from_secs(300),
            connection_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            max_retries: 3,
            retry_delay: Duration::from_secs(1),
            health_check_interval: Duration::from_secs(60),
            health_check_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(30),
            max_in_flight_per_connection: 32,
        }
    }
}

/// Result cache settings.
///
/// The cache is opt-in per call: a result is served from or stored in it only
/// when the call carries a cache key (`ToolCall::cache_key`,
/// `CallOptions::cache_key`) or its service's cache policy names the tool.
/// `readOnlyHint` alone never caches: a read-only tool may still return
/// something new each time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheConfig {
    /// The master switch (`enable_result_cache`): off, nothing is cached, keys or not.
    pub enabled: bool,
    /// Maximum number of entries (`cache_size`).
    pub capacity: usize,
    /// Maximum bytes of results held (`cache_max_bytes`); a result larger than a
    /// tenth of it is never cached.
    pub max_bytes: usize,
    /// Time to live of an entry cached under a caller's key (`cache_ttl`); a
    /// service's cache policy sets its own per tool.
    pub ttl: Duration,
}

/// The default bound of the result cache: 64 MiB.
pub const DEFAULT_CACHE_MAX_BYTES: usize = 64 << 20;

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            enabled: true,
            capacity: 1000,
            max_bytes: DEFAULT_CACHE_MAX_BYTES,
            ttl: Duration::from_secs(300),
        }
    }
}

/// Batch and background call settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchConfig {
    /// Calls per chunk of a batch (`default_batch_size`).
    pub default_batch_size: usize,
    /// Worker threads of the store's executor (`max_workers`; 0 = `max_concurrent_calls`).
    pub max_workers: usize,
    /// Background calls in flight at once (`max_concurrent_calls`).
    pub max_concurrent_calls: usize,
    /// Overall limit of one call including retries (`call_timeout`).
    pub call_timeout: Duration,
    /// How long `submit` waits for a free slot before `Busy`.
    pub submit_timeout: Duration,
    /// How long a handler (sampling, elicitation, roots) may take before the
    /// server gets an error instead of its answer (`handler_timeout`).
    pub handler_timeout: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            default_batch_size: 10,
            max_workers: 0,
            max_concurrent_calls: 20,
            call_timeout: Duration::from_secs(30),
            submit_timeout: Duration::from_secs(30),
            handler_timeout: Duration::from_secs(60),
        }
    }
}

impl BatchConfig {
    /// The executor's thread count.
    pub fn workers(&self) -> usize {
        if self.max_workers == 0 { self.max_concurrent_calls.max(1) } else { self.max_workers }
    }
}

/// Memory monitor settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryConfig {
    /// RSS above which the monitor relieves pressure (`memory_threshold_mb`).
    pub threshold_mb: f64,
    /// Sample memory in the background (`enable_performance_monitoring`).
    pub monitoring_enabled: bool,
    /// Time between samples (`monitoring_interval`).
    pub monitoring_interval: Duration,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            threshold_mb: 500.0,
            monitoring_enabled: true,
            monitoring_interval: Duration::from_secs(30),
        }
    }
}

/// Every tunable of a store: pool, cache, batch, memory and limits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerformanceConfig {
    /// Pool settings for every service (a service may override them).
    pub pool: PoolConfig,
    /// Result cache.
    pub cache: CacheConfig,
    /// Batches and background calls.
    pub batch: BatchConfig,
    /// Memory monitor.
    pub memory: MemoryConfig,
    /// Largest response accepted from a server, in bytes.
    pub max_response_bytes: usize,
}

/// The default response size limit: 64 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 << 20;

impl Default for PerformanceConfig {
    fn default() -> Self {
        PerformanceConfig {
            pool: PoolConfig::default(),
            cache: CacheConfig::default(),
            batch: BatchConfig::default(),
            memory: MemoryConfig::default(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

impl PerformanceConfig {
    /// The defaults (the same as `Default::default()`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a standalone JSON file holding a `performance` object (or the
    /// object itself), on top of the defaults, then applies the environment.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::config(None, None, format!("cannot read {}: {e}", path.display())))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| Error::config(None, None, format!("{} is not valid JSON: {e}", path.display())))?;
        let section = value.get("performance").unwrap_or(&value);
        let mut cfg = PerformanceConfig::new();
        cfg.apply_json(section)?;
        cfg.apply_env()?;
        Ok(cfg)
    }

    /// Applies a `performance` JSON object: flat seed keys (`cache_size`, ...)
    /// and/or sections `pool`, `cache`, `batch`, `memory`.
    pub fn apply_json(&mut self, section: &Value) -> Result<()> {
        let map = as_object(section, "performance")?;
        for (key, value) in map {
            match key.as_str() {
                "pool" | "cache" | "batch" | "memory" => {
                    for (k, v) in as_object(value, &format!("performance.{key}"))? {
                        let flat = section_key(key, k)
                            .ok_or_else(|| unknown_key(&format!("performance.{key}.{k}")))?;
                        self.set(flat, v, &format!("performance.{key}.{k}"))?;
                    }
                }
                _ => self.set(key, value, &format!("performance.{key}"))?,
            }
        }
        self.validate()
    }

    /// Applies every `MCPSTORE_<KEY>` variable of the environment whose key is
    /// a known setting (for example `MCPSTORE_CACHE_SIZE=50`).
    pub fn apply_env(&mut self) -> Result<()> {
        self.apply_vars(std::env::vars())
    }

    /// Applies `MCPSTORE_<KEY>` pairs from any source (used by [`Self::apply_env`] and tests).
    pub fn apply_vars(&mut self, vars: impl IntoIterator<Item = (String, String)>) -> Result<()> {
        for (name, raw) in vars {
            let Some(key) = name.strip_prefix("MCPSTORE_") else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            if !FLAT_KEYS.contains(&key.as_str()) {
                continue; // other MCPSTORE_* variables belong to other tools
            }
            let value = parse_env_value(&raw);
            self.set(&key, &value, &name)?;
        }
        self.validate()
    }

    /// Sets one setting by its flat key; `path` names it in errors.
    pub fn set(&mut self, key: &str, v: &Value, path: &str) -> Result<()> {
        if set_pool_key(&mut self.pool, key, v, path)? {
            return Ok(());
        }
        match key {
            "enable_result_cache" => self.cache.enabled = boolean(v, path)?,
            "cache_size" => self.cache.capacity = count(v, path)?,
            "cache_max_bytes" => self.cache.max_bytes = count(v, path)?,
            "cache_ttl" => self.cache.ttl = seconds(v, path)?,
            "default_batch_size" => self.batch.default_batch_size = positive(v, path)?,
            "max_workers" => self.batch.max_workers = count(v, path)?,
            "max_concurrent_calls" => self.batch.max_concurrent_calls = positive(v, path)?,
            "call_timeout" => self.batch.call_timeout = seconds(v, path)?,
            "submit_timeout" => self.batch.submit_timeout = seconds(v, path)?,
            "handler_timeout" => self.batch.handler_timeout = nonzero_seconds(v, path)?,
            "memory_threshold_mb" => self.memory.threshold_mb = number(v, path)?,
            "enable_performance_monitoring" => self.memory.monitoring_enabled = boolean(v, path)?,
            "monitoring_interval" => self.memory.monitoring_interval = seconds(v, path)?,
            "max_response_bytes" => self.max_response_bytes = positive(v, path)?,
            _ => return Err(unknown_key(path)),
        }
        Ok(())
    }

    /// Checks every setting, whether it was read from JSON or set in code: a
    /// value that cannot work (a zero limit, a zero interval that would spin,
    /// min above max) is an error naming the field.
    pub fn validate(&self) -> Result<()> {
        self.pool.validate(None)?;
        let b = &self.batch;
        let checks: [(bool, &str, &str); 7] = [
            (self.cache.enabled && self.cache.ttl.is_zero(), "cache_ttl", "must be greater than 0"),
            (b.default_batch_size == 0, "default_batch_size", "must be greater than 0"),
            (b.max_concurrent_calls == 0, "max_concurrent_calls", "must be greater than 0"),
            (b.call_timeout.is_zero(), "call_timeout", "must be greater than 0"),
            (
                self.memory.monitoring_enabled && self.memory.monitoring_interval.is_zero(),
                "monitoring_interval",
                "must be greater than 0 while monitoring is on",
            ),
            (
                !self.memory.threshold_mb.is_finite() || self.memory.threshold_mb < 0.0,
                "memory_threshold_mb",
                "must be a non-negative number",
            ),
            (self.max_response_bytes == 0, "max_response_bytes", "must be greater than 0"),
        ];
        match checks.iter().find(|(failed, _, _)| *failed) {
            Some((_, field, message)) => Err(Error::config(None, Some(field), *message)),
            None => Ok(()),
        }
    }

    /// The configuration as JSON with the seed's flat key names (seconds as numbers).
    pub fn to_flat_json(&self) -> Value {
        let mut m = Map::new();
        let p = &self.pool;
        let secs = |d: Duration| Value::from(d.as_secs_f64());
        m.insert("connection_pool_size".into(), p.max_connections.into());
        m.insert("min_connections".into(), p.min_connections.into());
        m.insert("max_connections".into(), p.max_connections.into());
        m.insert("max_idle_time".into(), secs(p.max_idle_time));
        m.insert("connection_timeout".into(), secs(p.connection_timeout));
        m.insert("read_timeout".into(), secs(p.read_timeout));
        m.insert("write_timeout".into(), secs(p.write_timeout));
        m.insert("max_retries".into(), p.max_retries.into());
        m.insert("retry_delay".into(), secs(p.retry_delay));
        m.insert("health_check_interval".into(), secs(p.health_check_interval));
        m.insert("health_check_timeout".into(), secs(p.health_check_timeout));
        m.insert("acquire_timeout".into(), secs(p.acquire_timeout));
        m.insert("max_in_flight_per_connection".into(), p.max_in_flight_per_connection.into());
        m.insert("default_batch_size".into(), self.batch.default_batch_size.into());
        m.insert("max_workers".into(), self.batch.max_workers.into());
        m.insert("max_concurrent_calls".into(), self.batch.max_concurrent_calls.into());
        m.insert("call_timeout".into(), secs(self.batch.call_timeout));
        m.insert("submit_timeout".into(), secs(self.batch.submit_timeout));
        m.insert("handler_timeout".into(), secs(self.batch.handler_timeout));
        m.insert("enable_result_cache".into(), self.cache.enabled.into());
        m.insert("cache_size".into(), self.cache.capacity.into());
        m.insert("cache_max_bytes".into(), self.cache.max_bytes.into());
        m.insert("cache_ttl".into(), secs(self.cache.ttl));
        m.insert("memory_threshold_mb".into(), self.memory.threshold_mb.into());
        m.insert("enable_performance_monitoring".into(), self.memory.monitoring_enabled.into());
        m.insert("monitoring_interval".into(), secs(self.memory.monitoring_interval));
        m.insert("max_response_bytes".into(), self.max_response_bytes.into());
        Value::Object(m)
    }
}

/// The flat keys of the `pool` section.
const POOL_KEYS: &[&str] = &[
    "connection_pool_size",
    "min_connections",
    "max_connections",
    "max_idle_time",
    "connection_timeout",
    "read_timeout",
    "write_timeout",
    "max_retries",
    "retry_delay",
    "health_check_interval",
    "health_check_timeout",
    "acquire_timeout",
    "max_in_flight_per_connection",
];
/// The flat keys of the `cache` section.
const CACHE_KEYS: &[&str] = &["enable_result_cache", "cache_size", "cache_max_bytes", "cache_ttl"];
/// The flat keys of the `batch` section.
const BATCH_KEYS: &[&str] = &[
    "default_batch_size",
    "max_workers",
    "max_concurrent_calls",
    "call_timeout",
    "submit_timeout",
    "handler_timeout",
];
/// The flat keys of the `memory` section.
const MEMORY_KEYS: &[&str] = &["memory_threshold_mb", "enable_performance_monitoring", "monitoring_interval"];

/// Every flat key understood by [`PerformanceConfig::set`] (each can also come
/// from the environment as `MCPSTORE_<KEY>`).
pub const FLAT_KEYS: &[&str] = &[
    "connection_pool_size",
    "min_connections",
    "max_connections",
    "max_idle_time",
    "connection_timeout",
    "read_timeout",
    "write_timeout",
    "max_retries",
    "retry_delay",
    "health_check_interval",
    "health_check_timeout",
    "acquire_timeout",
    "max_in_flight_per_connection",
    "enable_result_cache",
    "cache_size",
    "cache_max_bytes",
    "cache_ttl",
    "default_batch_size",
    "max_workers",
    "max_concurrent_calls",
    "call_timeout",
    "submit_timeout",
    "handler_timeout",
    "memory_threshold_mb",
    "enable_performance_monitoring",
    "monitoring_interval",
    "max_response_bytes",
];

/// Maps a key inside a section (`cache.capacity`) to its flat name (`cache_size`).
fn section_key(section: &str, key: &str) -> Option<&'static str> {
    let flat = match (section, key) {
        ("cache", "enabled") => "enable_result_cache",
        ("cache", "capacity" | "size") => "cache_size",
        ("cache", "max_bytes") => "cache_max_bytes",
        ("cache", "ttl") => "cache_ttl",
        ("memory", "threshold_mb") => "memory_threshold_mb",
        ("memory", "monitoring_enabled" | "enabled") => "enable_performance_monitoring",
        ("memory", "interval") => "monitoring_interval",
        ("batch", "batch_size") => "default_batch_size",
        _ => key,
    };
    let allowed: &[&str] = match section {
        "pool" => POOL_KEYS,
        "cache" => CACHE_KEYS,
        "batch" => BATCH_KEYS,
        "memory" => MEMORY_KEYS,
        _ => &[],
    };
    allowed.iter().find(|k| **k == flat).copied()
}

/// Sets a pool key; returns `false` when `key` is not a pool key.
pub(crate) fn set_pool_key(p: &mut PoolConfig, key: &str, v: &Value, path: &str) -> Result<bool> {
    match key {
        "min_connections" => p.min_connections = count(v, path)?,
        "max_connections" | "connection_pool_size" => p.max_connections = positive(v, path)?,
        "max_idle_time" => p.max_idle_time = seconds(v, path)?,
        "connection_timeout" => p.connection_timeout = nonzero_seconds(v, path)?,
        "read_timeout" => p.read_timeout = nonzero_seconds(v, path)?,
        "write_timeout" => p.write_timeout = nonzero_seconds(v, path)?,
        "max_retries" => p.max_retries = count(v, path)? as u32,
        "retry_delay" => p.retry_delay = seconds(v, path)?,
        "health_check_interval" => p.health_check_interval = nonzero_seconds(v, path)?,
        "health_check_timeout" => p.health_check_timeout = nonzero_seconds(v, path)?,
        "acquire_timeout" => p.acquire_timeout = seconds(v, path)?,
        "max_in_flight_per_connection" => p.max_in_flight_per_connection = positive(v, path)?,
        _ => return Ok(false),
    }
    Ok(true)
}

impl PoolConfig {
    /// Checks the settings (`service` names the service in the error, if any):
    /// min above max, a zero limit or a zero interval that would spin.
    pub fn validate(&self, service: Option<&str>) -> Result<()> {
        if self.min_connections > self.max_connections {
            return Err(Error::config(
                service,
                Some("min_connections"),
                format!("{} is greater than max_connections {}", self.min_connections, self.max_connections),
            ));
        }
        let zero: [(bool, &str); 7] = [
            (self.max_connections == 0, "max_connections"),
            (self.max_in_flight_per_connection == 0, "max_in_flight_per_connection"),
            (self.connection_timeout.is_zero(), "connection_timeout"),
            (self.read_timeout.is_zero(), "read_timeout"),
            (self.write_timeout.is_zero(), "write_timeout"),
            (self.health_check_interval.is_zero(), "health_check_interval"),
            (self.health_check_timeout.is_zero(), "health_check_timeout"),
        ];
        match zero.iter().find(|(is_zero, _)| *is_zero) {
            Some((_, field)) => Err(Error::config(service, Some(field), "must be greater than 0")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_match_the_seed() {
        let c = PerformanceConfig::new();
        assert_eq!(c.pool.max_connections, 10);
        assert_eq!(c.pool.connection_timeout, Duration::from_secs(30));
        assert_eq!(c.pool.read_timeout, Duration::from_secs(60));
        assert_eq!(c.batch.default_batch_size, 10);
        assert_eq!(c.batch.max_concurrent_calls, 20);
        assert_eq!(c.batch.call_timeout, Duration::from_secs(30));
        assert!(c.cache.enabled);
        assert_eq!(c.cache.capacity, 1000);
        assert_eq!(c.cache.ttl, Duration::from_secs(300));
        assert_eq!(c.memory.threshold_mb, 500.0);
        assert!(c.memory.monitoring_enabled);
        assert_eq!(c.memory.monitoring_interval, Duration::from_secs(30));
    }

    #[test]
    fn flat_and_nested_keys() {
        let mut c = PerformanceConfig::new();
        c.apply_json(&json!({"cache_size": 5, "pool": {"min_connections": 1, "read_timeout": 2.5},
            "cache": {"ttl": 9}, "memory": {"threshold_mb": 100}}))
            .unwrap();
        assert_eq!(c.cache.capacity, 5);
        assert_eq!(c.pool.min_connections, 1);
        assert_eq!(c.pool.read_timeout, Duration::from_millis(2500));
        assert_eq!(c.cache.ttl, Duration::from_secs(9));
        assert_eq!(c.memory.threshold_mb, 100.0);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let mut c = PerformanceConfig::new();
        let e = c.apply_json(&json!({"cache_sise": 5})).unwrap_err();
        assert!(e.to_string().contains("performance.cache_sise"), "{e}");
        let e = c.apply_json(&json!({"pool": {"cache_size": 5}})).unwrap_err();
        assert!(e.to_string().contains("performance.pool.cache_size"), "{e}");
        let e = c.apply_json(&json!({"max_connections": "ten"})).unwrap_err();
        assert!(e.to_string().contains("performance.max_connections"), "{e}");
        let e = c.apply_json(&json!({"pool": {"min_connections": 20}})).unwrap_err();
        assert!(e.to_string().contains("min_connections"), "{e}");
    }

    #[test]
    fn env_values_are_parsed_and_checked() {
        let mut c = PerformanceConfig::new();
        c.apply_vars([("MCPSTORE_CACHE_SIZE".into(), "50".into()), ("MCPSTORE_OTHER".into(), "x".into())])
            .unwrap();
        assert_eq!(c.cache.capacity, 50);
        let e = c.apply_vars([("MCPSTORE_CACHE_TTL".into(), "soon".into())]).unwrap_err();
        assert!(e.to_string().contains("MCPSTORE_CACHE_TTL"), "{e}");
    }
}
