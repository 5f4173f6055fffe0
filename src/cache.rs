//! The result cache: a sharded LRU with a time to live.
//!
//! Keys are the caller's `cache_key`, or `(service, tool, canonical JSON of the
//! arguments)` with object keys sorted, so `{"a":1,"b":2}` and `{"b":2,"a":1}`
//! are one key. Hits hand out the shared result (`Arc`), never a copy.

use std::hash::BuildHasher;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lru::LruCache;
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::Value;

use crate::protocol::ToolResult;

struct Entry {
    value: Arc<ToolResult>,
    service: Arc<str>,
    expires: Instant,
}

/// A snapshot of the cache's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct CacheStats {
    /// Lookups that found a live entry.
    pub hits: u64,
    /// Lookups that found nothing (or an expired entry).
    pub misses: u64,
    /// Results stored.
    pub inserts: u64,
    /// Entries pushed out by capacity (or memory relief).
    pub evictions: u64,
    /// Entries dropped because their time to live ran out.
    pub expirations: u64,
    /// Entries held now.
    pub entries: usize,
    /// The most entries held.
    pub capacity: usize,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    inserts: AtomicU64,
    evictions: AtomicU64,
    expirations: AtomicU64,
}

/// A thread-safe LRU cache of tool results with a time to live.
pub struct ResultCache {
    shards: Box<[Mutex<LruCache<String, Entry>>]>,
    hasher: std::collections::hash_map::RandomState,
    ttl_nanos: AtomicU64,
    capacity: AtomicU64,
    counters: Counters,
}

impl ResultCache {
    /// A cache of at most `capacity` entries living `ttl` each. Small caches
    /// use one shard (exact LRU); larger ones spread over up to 16 shards.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        let shard_count = (capacity / 128).clamp(1, 16).next_power_of_two().min(16);
        let per_shard = per_shard(capacity, shard_count);
        let shards = (0..shard_count).map(|_| Mutex::new(LruCache::new(per_shard))).collect();
        ResultCache {
            shards,
            hasher: Default::default(),
            ttl_nanos: AtomicU64::new(ttl.as_nanos().min(u64::MAX as u128) as u64),
            capacity: AtomicU64::new(capacity as u64),
            counters: Counters::default(),
        }
    }

    /// The key of a call without a caller-chosen key.
    pub fn key_for(service: &str, tool: &str, arguments: &Value) -> String {
        let mut key = String::with_capacity(service.len() + tool.len() + 64);
        key.push_str(service);
        key.push('\u{1f}');
        key.push_str(tool);
        key.push('\u{1f}');
        write_canonical(&mut key, arguments);
        key
    }

    /// The key of a call with a caller-chosen key.
    pub fn key_from_user(cache_key: &str) -> String {
        let mut key = String::with_capacity(cache_key.len() + 1);
        key.push('\u{1e}');
        key.push_str(cache_key);
        key
    }

    fn shard(&self, key: &str) -> &Mutex<LruCache<String, Entry>> {
        if self.shards.len() == 1 {
            return &self.shards[0];
        }

        &self.shards[(self.hasher.hash_one(key) as usize) & (self.shards.len() - 1)]
    }

    /// The live entry for `key`, if any.
    pub fn get(&self, key: &str) -> Option<Arc<ToolResult>> {
        let mut shard = self.shard(key).lock();
        let now = Instant::now();
        let found = match shard.get(key) {
            Some(e) if e.expires > now => Some(e.value.clone()),
            Some(_) => {
                shard.pop(key);
                self.counters.expirations.fetch_add(1, Ordering::Relaxed);
                None
            }
            None => None,
        };
        drop(shard);
        let counter = if found.is_some() { &self.counters.hits } else { &self.counters.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores a result; results with `isError` are never stored.
    pub fn insert(&self, key: String, service: &str, value: Arc<ToolResult>) {
        if value.is_error || self.capacity.load(Ordering::Relaxed) == 0 {
            return; // tool errors are never cached; capacity 0 turns the cache off
        }
        let ttl = Duration::from_nanos(self.ttl_nanos.load(Ordering::Relaxed));
        let entry = Entry { value, service: Arc::from(service), expires: Instant::now() + ttl };
        let mut shard = self.shard(&key).lock();
        let replaced_same_key = shard.contains(&key);
        if let Some((_, _old)) = shard.push(key, entry)
            && !replaced_same_key
        {
            self.counters.evictions.fetch_add(1, Ordering::Relaxed);
        }
        drop(shard);
        self.counters.inserts.fetch_add(1, Ordering::Relaxed);
        if !self.exact_shards() {
            self.enforce_capacity();
        }
    }

    /// Whether the shards' bounds add up to exactly the capacity (no slack to police).
    fn exact_shards(&self) -> bool {
        let capacity = self.capacity.load(Ordering::Relaxed) as usize;
        self.shards.len() == 1 || capacity.is_multiple_of(self.shards.len())
    }

    /// Drops the oldest entries (by insertion) across shards until the whole
    /// cache is within its capacity (shard bounds round up).
    fn enforce_capacity(&self) {
        let capacity = self.capacity.load(Ordering::Relaxed) as usize;
        while self.len() > capacity {
            let oldest = self
                .shards
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.lock().peek_lru().map(|(_, e)| (e.expires, i)))
                .min();
            let Some((_, shard)) = oldest else { return };
            if self.shards[shard].lock().pop_lru().is_some() {
                self.counters.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Drops every entry of `service`; returns how many.
    pub fn invalidate_service(&self, service: &str) -> usize {
        self.retain(|e| &*e.service != service)
    }

    /// Empties the cache.
    pub fn clear(&self) -> usize {
        let mut n = 0;
        for shard in self.shards.iter() {
            let mut s = shard.lock();
            n += s.len();
            s.clear();
        }
        n
    }

    /// Drops expired entries; returns how many.
    pub fn purge_expired(&self) -> usize {
        let now = Instant::now();
        let n = self.retain(|e| e.expires > now);
        self.counters.expirations.fetch_add(n as u64, Ordering::Relaxed);
        n
    }

    /// Drops the least recently used `fraction` of each shard (memory relief); returns how many.
    pub fn evict_lru_fraction(&self, fraction: f64) -> usize {
        let mut n = 0;
        for shard in self.shards.iter() {
            let mut s = shard.lock();
            let drop_count = (s.len() as f64 * fraction).ceil() as usize;
            for _ in 0..drop_count {
                if s.pop_lru().is_some() {
                    n += 1;
                }
            }
        }
        self.counters.evictions.fetch_add(n as u64, Ordering::Relaxed);
        n
    }

    fn retain(&self, keep: impl Fn(&Entry) -> bool) -> usize {
        let mut removed = 0;
        for shard in self.shards.iter() {
            let mut s = shard.lock();
            let before = s.len();
            s.retain(|_, e| keep(e));
            removed += before - s.len();
        }
        removed
    }

    /// Changes capacity and time to live at runtime (new TTL applies to new entries).
    pub fn reconfigure(&self, capacity: usize, ttl: Duration) {
        self.ttl_nanos.store(ttl.as_nanos().min(u64::MAX as u128) as u64, Ordering::Relaxed);
        self.capacity.store(capacity as u64, Ordering::Relaxed);
        let per = per_shard(capacity, self.shards.len());
        for shard in self.shards.iter() {
            let mut s = shard.lock();
            let before = s.len();
            s.resize(per);
            let evicted = before.saturating_sub(s.len());
            self.counters.evictions.fetch_add(evicted as u64, Ordering::Relaxed);
        }
        self.enforce_capacity();
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cache's counters.
    pub fn stats(&self) -> CacheStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CacheStats {
            hits: g(&self.counters.hits),
            misses: g(&self.counters.misses),
            inserts: g(&self.counters.inserts),
            evictions: g(&self.counters.evictions),
            expirations: g(&self.counters.expirations),
            entries: self.len(),
            capacity: self.capacity.load(Ordering::Relaxed) as usize,
        }
    }
}

fn per_shard(capacity: usize, shards: usize) -> NonZeroUsize {
    NonZeroUsize::new(capacity.div_ceil(shards).max(1)).unwrap_or(NonZeroUsize::MIN)
}

/// Writes `value` as JSON with every object's keys sorted.
pub fn write_canonical(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_string(out, k);
                out.push(':');
                write_canonical(out, &map[k]);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, v);
            }
            out.push(']');
        }
        Value::String(s) => push_json_string(out, s),
        other => out.push_str(&other.to_string()),
    }
}

fn push_json_string(out: &mut String, s: &str) {
    match serde_json::to_string(s) {
        Ok(quoted) => out.push_str(&quoted),
        Err(_) => out.push_str("\"\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn result(text: &str) -> Arc<ToolResult> {
        Arc::new(ToolResult { content: vec![json!({"type": "text", "text": text})], ..Default::default() })
    }

    #[test]
    fn canonical_keys_ignore_key_order() {
        let a = ResultCache::key_for("s", "t", &json!({"a": 1, "b": {"y": 2, "x": [1, {"d": 0, "c": 1}]}}));
        let b = ResultCache::key_for("s", "t", &json!({"b": {"x": [1, {"c": 1, "d": 0}], "y": 2}, "a": 1}));
        assert_eq!(a, b);
        assert_ne!(a, ResultCache::key_for("s", "t2", &json!({"a": 1})));
    }

    #[test]
    fn hit_miss_ttl_and_lru() {
        let c = ResultCache::new(2, Duration::from_millis(50));
        c.insert("k1".into(), "s", result("1"));
        c.insert("k2".into(), "s", result("2"));
        assert_eq!(c.get("k1").unwrap().text(), "1"); // k1 is now most recent
        c.insert("k3".into(), "s", result("3")); // evicts k2
        assert!(c.get("k2").is_none());
        assert!(c.get("k3").is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert!(c.get("k1").is_none());
        let s = c.stats();
        assert_eq!((s.hits, s.inserts, s.evictions), (2, 3, 1));
        assert!(s.expirations >= 1 && s.misses == 2);
    }

    #[test]
    fn capacity_is_exact_across_shards() {
        let c = ResultCache::new(1000, Duration::from_secs(10));
        for i in 0..50 {
            c.insert(format!("k{i}"), "s", result("x"));
        }
        c.reconfigure(3, Duration::from_secs(10));
        assert_eq!(c.len(), 3);
        for i in 50..100 {
            c.insert(format!("k{i}"), "s", result("x"));
        }
        assert_eq!(c.len(), 3);
        assert!(c.get("k99").is_some(), "the newest entry stays");
    }

    #[test]
    fn errors_are_not_cached_and_services_invalidate() {
        let c = ResultCache::new(10, Duration::from_secs(10));
        let mut err = (*result("x")).clone();
        err.is_error = true;
        c.insert("e".into(), "s", Arc::new(err));
        assert!(c.get("e").is_none());
        c.insert("a".into(), "s1", result("a"));
        c.insert("b".into(), "s2", result("b"));
        assert_eq!(c.invalidate_service("s1"), 1);
        assert!(c.get("a").is_none() && c.get("b").is_some());
        assert_eq!(c.evict_lru_fraction(0.5), 1);
        assert!(c.is_empty());
    }
}
