//! Every key of `FLAT_KEYS` can come from the environment as
//! `MCPSTORE_<KEY>`: applied through `PerformanceConfig::apply_vars` (the
//! function `apply_env` feeds with `std::env::vars()`), each changes its field.

use std::time::Duration;

use mcpstore::{FLAT_KEYS, PerformanceConfig};

type Check = fn(&PerformanceConfig) -> bool;

/// Each key, a value unlike its default, and how the field must read after it.
const CASES: &[(&str, &str, Check)] = &[
    ("connection_pool_size", "7", |c| c.pool.max_connections == 7),
    ("min_connections", "5", |c| c.pool.min_connections == 5),
    ("max_connections", "8", |c| c.pool.max_connections == 8),
    ("max_idle_time", "12.5", |c| c.pool.max_idle_time == Duration::from_millis(12_500)),
    ("connection_timeout", "3", |c| c.pool.connection_timeout == Duration::from_secs(3)),
    ("read_timeout", "4", |c| c.pool.read_timeout == Duration::from_secs(4)),
    ("write_timeout", "6", |c| c.pool.write_timeout == Duration::from_secs(6)),
    ("max_retries", "9", |c| c.pool.max_retries == 9),
    ("retry_delay", "0.25", |c| c.pool.retry_delay == Duration::from_millis(250)),
    ("health_check_interval", "11", |c| c.pool.health_check_interval == Duration::from_secs(11)),
    ("health_check_timeout", "2", |c| c.pool.health_check_timeout == Duration::from_secs(2)),
    ("acquire_timeout", "13", |c| c.pool.acquire_timeout == Duration::from_secs(13)),
    ("max_in_flight_per_connection", "3", |c| c.pool.max_in_flight_per_connection == 3),
    ("enable_result_cache", "false", |c| !c.cache.enabled),
    ("cache_size", "50", |c| c.cache.capacity == 50),
    ("cache_max_bytes", "4096", |c| c.cache.max_bytes == 4096),
    ("cache_ttl", "9", |c| c.cache.ttl == Duration::from_secs(9)),
    ("default_batch_size", "17", |c| c.batch.default_batch_size == 17),
    ("max_workers", "6", |c| c.batch.max_workers == 6),
    ("max_concurrent_calls", "21", |c| c.batch.max_concurrent_calls == 21),
    ("call_timeout", "31", |c| c.batch.call_timeout == Duration::from_secs(31)),
    ("submit_timeout", "32", |c| c.batch.submit_timeout == Duration::from_secs(32)),
    ("handler_timeout", "33", |c| c.batch.handler_timeout == Duration::from_secs(33)),
    ("memory_threshold_mb", "123.5", |c| c.memory.threshold_mb == 123.5),
    ("enable_performance_monitoring", "0", |c| !c.memory.monitoring_enabled),
    ("monitoring_interval", "7", |c| c.memory.monitoring_interval == Duration::from_secs(7)),
    ("max_response_bytes", "1048576", |c| c.max_response_bytes == 1 << 20),
];

#[test]
fn every_flat_key_can_come_from_the_environment() {
    let mut covered: Vec<&str> = CASES.iter().map(|(k, _, _)| *k).collect();
    covered.sort_unstable();
    let mut keys = FLAT_KEYS.to_vec();
    keys.sort_unstable();
    assert_eq!(covered, keys, "one case per key of FLAT_KEYS");

    for (key, value, check) in CASES {
        let defaults = PerformanceConfig::new();
        assert!(!check(&defaults), "{key}: {value} must differ from the default");
        let name = format!("MCPSTORE_{}", key.to_ascii_uppercase());
        let mut config = PerformanceConfig::new();
        config
            .apply_vars([(name.clone(), (*value).to_owned())])
            .unwrap_or_else(|e| panic!("{name}={value}: {e}"));
        assert!(check(&config), "{name}={value} did not set its field: {config:?}");
        let mut changed = config.to_flat_json();
        let mut default_json = defaults.to_flat_json();
        // Only that setting changed (connection_pool_size is max_connections).
        let mut same_setting = vec![*key];
        if matches!(*key, "connection_pool_size" | "max_connections") {
            same_setting.extend(["connection_pool_size", "max_connections"]);
        }
        for k in same_setting {
            changed.as_object_mut().unwrap().remove(k);
            default_json.as_object_mut().unwrap().remove(k);
        }
        assert_eq!(changed, default_json, "{name} changed another setting too");

        // A bad value is an error naming the variable.
        let err =
            PerformanceConfig::new().apply_vars([(name.clone(), "not-a-value".to_owned())]).unwrap_err();
        assert!(err.to_string().contains(&name), "{name}: {err}");
    }
}
