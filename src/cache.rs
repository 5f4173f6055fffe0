//! The result cache: a sharded LRU with a time to live per entry, bounded by
//! entries and by bytes.
//!
//! Nothing is cached unless the caller asked (a cache key, or a service's
//! cache policy naming the tool): the store decides that; this module only
//! keeps entries. Keys are the caller's `cache_key`, or `(service, tool,
//! canonical JSON of the arguments)` with object keys sorted, so
//! `{"a":1,"b":2}` and `{"b":2,"a":1}` are one key. Hits hand out the shared
//! result (`Arc`), never a copy, with the entry's age.

use std::hash::BuildHasher;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lru::LruCache;
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::Value;

use serde_json::value::RawValue;

use crate::protocol::ToolResult;

struct Entry {
    value: Arc<ToolResult>,
    /// The result's bytes as the server sent them, when known (handed to C callers as they are).
    raw: Option<Arc<RawValue>>,
    service: Arc<str>,
    tool: Arc<str>,
    stored: Instant,
    expires: Instant,
    bytes: usize,
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
    /// Entries pushed out by capacity, by the byte bound, or by memory relief.
    pub evictions: u64,
    /// Entries dropped because their time to live ran out.
    pub expirations: u64,
    /// Entries dropped on request (a key, a tool, a service, or everything).
    pub invalidations: u64,
    /// Results not cached because they were larger than a tenth of `max_bytes`.
    pub too_large: u64,
    /// Entries held now.
    pub entries: usize,
    /// The most entries held.
    pub capacity: usize,
    /// Bytes of results held now (their size as the server sent them).
    pub bytes: u64,
    /// The most bytes held.
    pub max_bytes: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    inserts: AtomicU64,
    evictions: AtomicU64,
    expirations: AtomicU64,
    invalidations: AtomicU64,
    too_large: AtomicU64,
}

/// A thread-safe LRU cache of tool results with a time to live.
pub struct ResultCache {
    shards: Box<[Mutex<LruCache<String, Entry>>]>,
    hasher: std::collections::hash_map::RandomState,
    capacity: AtomicU64,
    max_bytes: AtomicU64,
    /// Bytes held across shards, changed under the shard lock of the entry.
    bytes: AtomicU64,
    counters: Counters,
}

/// Why an entry left the cache (for the counters).
#[derive(Clone, Copy)]
enum Gone {
    Evicted,
    Expired,
    Invalidated,
}

impl ResultCache {
    /// A cache of at most `capacity` entries and `max_bytes` bytes. Small
    /// caches use one shard (exact LRU); larger ones spread over up to 16 shards.
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        let shard_count = (capacity / 128).clamp(1, 16).next_power_of_two().min(16);
        let per_shard = per_shard(capacity, shard_count);
        let shards = (0..shard_count).map(|_| Mutex::new(LruCache::new(per_shard))).collect();
        ResultCache {
            shards,
            hasher: Default::default(),
            capacity: AtomicU64::new(capacity as u64),
            max_bytes: AtomicU64::new(max_bytes as u64),
            bytes: AtomicU64::new(0),
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

    /// Counts an entry that left, and its bytes.
    fn gone(&self, entry: &Entry, why: Gone) {
        self.bytes.fetch_sub(entry.bytes as u64, Ordering::Relaxed);
        let counter = match why {
            Gone::Evicted => &self.counters.evictions,
            Gone::Expired => &self.counters.expirations,
            Gone::Invalidated => &self.counters.invalidations,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The live entry for `key` and its age, if any.
    #[cfg_attr(not(any(test, feature = "bench-internals")), allow(dead_code))]
    pub fn get(&self, key: &str) -> Option<(Arc<ToolResult>, Duration)> {
        self.get_with_raw(key).map(|(value, _, age)| (value, age))
    }

    /// The live entry for `key`, its bytes as the server sent them (when
    /// stored with them) and its age, if any.
    pub(crate) fn get_with_raw(
        &self,
        key: &str,
    ) -> Option<(Arc<ToolResult>, Option<Arc<RawValue>>, Duration)> {
        let mut shard = self.shard(key).lock();
        let now = Instant::now();
        let found = match shard.get(key) {
            Some(e) if e.expires > now => {
                Some((e.value.clone(), e.raw.clone(), now.saturating_duration_since(e.stored)))
            }
            Some(_) => {
                if let Some(old) = shard.pop(key) {
                    self.gone(&old, Gone::Expired);
                }
                None
            }
            None => None,
        };
        drop(shard);
        let counter = if found.is_some() { &self.counters.hits } else { &self.counters.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores `value` (whose encoded size is `bytes`) for `ttl`. Tool errors
    /// are never stored, nor results larger than a tenth of the byte bound.
    #[cfg_attr(not(any(test, feature = "bench-internals")), allow(dead_code))]
    pub fn insert(
        &self,
        key: String,
        service: &str,
        tool: &str,
        value: Arc<ToolResult>,
        bytes: usize,
        ttl: Duration,
    ) {
        self.insert_with_raw(key, (service, tool), (value, None), bytes, ttl);
    }

    /// [`ResultCache::insert`] of a result with its bytes as the server sent
    /// them (`bytes` is their length; they are what a hit hands to C callers).
    pub(crate) fn insert_with_raw(
        &self,
        key: String,
        (service, tool): (&str, &str),
        (value, raw): (Arc<ToolResult>, Option<Arc<RawValue>>),
        bytes: usize,
        ttl: Duration,
    ) {
        if value.is_error || self.capacity.load(Ordering::Relaxed) == 0 || ttl.is_zero() {
            return; // tool errors are never cached; capacity 0 turns the cache off
        }
        let max_bytes = self.max_bytes.load(Ordering::Relaxed);
        if bytes as u64 > max_bytes / 10 {
            self.counters.too_large.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let now = Instant::now();
        let expires = now.checked_add(ttl).unwrap_or_else(|| crate::util::deadline_after(ttl));
        let entry = Entry {
            value,
            raw,
            service: Arc::from(service),
            tool: Arc::from(tool),
            stored: now,
            expires,
            bytes,
        };
        let mut shard = self.shard(&key).lock();
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        let replaces = shard.contains(&key);
        match shard.push(key, entry) {
            // A newer result for the same key: the old one's bytes go, nothing is counted.
            Some((_, old)) if replaces => {
                self.bytes.fetch_sub(old.bytes as u64, Ordering::Relaxed);
            }
            Some((_, old)) => self.gone(&old, Gone::Evicted),
            None => {}
        }
        drop(shard);
        self.counters.inserts.fetch_add(1, Ordering::Relaxed);
        if !self.exact_shards() {
            self.enforce_capacity();
        }
        self.enforce_bytes();
    }

    /// Whether the shards' bounds add up to exactly the capacity (no slack to police).
    fn exact_shards(&self) -> bool {
        let capacity = self.capacity.load(Ordering::Relaxed) as usize;
        self.shards.len() == 1 || capacity.is_multiple_of(self.shards.len())
    }

    /// Drops the oldest entry (by the time it was stored) across shards.
    fn evict_oldest(&self) -> bool {
        let oldest = self
            .shards
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.lock().peek_lru().map(|(_, e)| (e.stored, i)))
            .min();
        let Some((_, shard)) = oldest else { return false };
        let popped = self.shards[shard].lock().pop_lru();
        if let Some((_, old)) = popped {
            self.gone(&old, Gone::Evicted);
        }
        true
    }

    /// Evicts until the whole cache is within its entry capacity (shard bounds round up).
    fn enforce_capacity(&self) {
        let capacity = self.capacity.load(Ordering::Relaxed) as usize;
        while self.len() > capacity && self.evict_oldest() {}
    }

    /// Evicts least recently used entries until the cache is within its byte bound.
    fn enforce_bytes(&self) {
        let max = self.max_bytes.load(Ordering::Relaxed);
        while self.bytes.load(Ordering::Relaxed) > max && self.evict_oldest() {}
    }

    /// Drops the entry of `key` (a caller's key as given, or an internal one); returns whether there was one.
    pub fn invalidate_key(&self, key: &str) -> bool {
        let old = self.shard(key).lock().pop(key);
        old.inspect(|e| self.gone(e, Gone::Invalidated)).is_some()
    }

    /// Drops every entry of `service`'s tool `tool`; returns how many.
    pub fn invalidate_tool(&self, service: &str, tool: &str) -> usize {
        self.retain(|e| !(&*e.service == service && &*e.tool == tool), Gone::Invalidated)
    }

    /// Drops every entry of `service`; returns how many.
    pub fn invalidate_service(&self, service: &str) -> usize {
        self.retain(|e| &*e.service != service, Gone::Invalidated)
    }

    /// Empties the cache; returns how many entries were dropped.
    pub fn clear(&self) -> usize {
        self.retain(|_| false, Gone::Invalidated)
    }

    /// Drops expired entries; returns how many.
    pub fn purge_expired(&self) -> usize {
        let now = Instant::now();
        self.retain(|e| e.expires > now, Gone::Expired)
    }

    /// Drops the least recently used `fraction` of each shard (memory relief); returns how many.
    pub fn evict_lru_fraction(&self, fraction: f64) -> usize {
        let mut n = 0;
        for shard in self.shards.iter() {
            let mut s = shard.lock();
            let drop_count = (s.len() as f64 * fraction).ceil() as usize;
            for _ in 0..drop_count {
                if let Some((_, old)) = s.pop_lru() {
                    self.gone(&old, Gone::Evicted);
                    n += 1;
                }
            }
        }
        n
    }

    fn retain(&self, keep: impl Fn(&Entry) -> bool, why: Gone) -> usize {
        let mut removed = 0;
        for shard in self.shards.iter() {
            let mut s = shard.lock();
            let doomed: Vec<String> = s.iter().filter(|(_, e)| !keep(e)).map(|(k, _)| k.clone()).collect();
            for key in doomed {
                if let Some(old) = s.pop(&key) {
                    self.gone(&old, why);
                    removed += 1;
                }
            }
        }
        removed
    }

    /// Changes the bounds at runtime, evicting what no longer fits.
    pub fn reconfigure(&self, capacity: usize, max_bytes: usize) {
        self.capacity.store(capacity as u64, Ordering::Relaxed);
        self.max_bytes.store(max_bytes as u64, Ordering::Relaxed);
        let per = per_shard(capacity, self.shards.len());
        for shard in self.shards.iter() {
            let mut s = shard.lock();
            while s.len() > per.get() {
                match s.pop_lru() {
                    Some((_, old)) => self.gone(&old, Gone::Evicted),
                    None => break,
                }
            }
            s.resize(per);
        }
        self.enforce_capacity();
        self.enforce_bytes();
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// Whether the cache holds nothing.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of results held now.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
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
            invalidations: g(&self.counters.invalidations),
            too_large: g(&self.counters.too_large),
            entries: self.len(),
            capacity: self.capacity.load(Ordering::Relaxed) as usize,
            bytes: self.bytes(),
            max_bytes: self.max_bytes.load(Ordering::Relaxed),
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

    const TTL: Duration = Duration::from_secs(10);

    fn result(text: &str) -> Arc<ToolResult> {
        Arc::new(ToolResult { content: vec![json!({"type": "text", "text": text})], ..Default::default() })
    }

    fn put(c: &ResultCache, key: &str, service: &str, bytes: usize, ttl: Duration) {
        c.insert(key.into(), service, "t", result(key), bytes, ttl);
    }

    #[test]
    fn canonical_keys_ignore_key_order() {
        let a = ResultCache::key_for("s", "t", &json!({"a": 1, "b": {"y": 2, "x": [1, {"d": 0, "c": 1}]}}));
        let b = ResultCache::key_for("s", "t", &json!({"b": {"x": [1, {"c": 1, "d": 0}], "y": 2}, "a": 1}));
        assert_eq!(a, b);
        assert_ne!(a, ResultCache::key_for("s", "t2", &json!({"a": 1})));
    }

    #[test]
    fn hit_miss_ttl_age_and_lru() {
        let c = ResultCache::new(2, 1 << 20);
        put(&c, "k1", "s", 10, Duration::from_millis(50));
        put(&c, "k2", "s", 10, TTL);
        let (hit, age) = c.get("k1").unwrap(); // k1 is now most recent
        assert_eq!(hit.text(), "k1");
        assert!(age < Duration::from_millis(50));
        put(&c, "k3", "s", 10, TTL); // evicts k2
        assert!(c.get("k2").is_none());
        assert!(c.get("k3").is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert!(c.get("k1").is_none(), "its own TTL passed");
        let s = c.stats();
        assert_eq!((s.hits, s.inserts, s.evictions, s.expirations, s.misses), (2, 3, 1, 1, 2));
        assert_eq!(s.bytes, 10, "only k3 is left");
    }

    #[test]
    fn bounded_by_bytes_and_large_results_are_not_cached() {
        let c = ResultCache::new(1000, 1000);
        put(&c, "big", "s", 101, TTL); // over a tenth of the bound
        assert!(c.get("big").is_none());
        assert_eq!(c.stats().too_large, 1);
        for i in 0..20 {
            put(&c, &format!("k{i}"), "s", 100, TTL);
        }
        let s = c.stats();
        assert!(s.bytes <= 1000 && s.entries == 10, "{s:?}");
        assert!(c.get("k19").is_some() && c.get("k0").is_none(), "the oldest went first");
    }

    #[test]
    fn capacity_is_exact_across_shards() {
        let c = ResultCache::new(1000, 1 << 30);
        for i in 0..50 {
            put(&c, &format!("k{i}"), "s", 1, TTL);
        }
        c.reconfigure(3, 1 << 30);
        assert_eq!(c.len(), 3);
        for i in 50..100 {
            put(&c, &format!("k{i}"), "s", 1, TTL);
        }
        assert_eq!(c.len(), 3);
        assert_eq!(c.bytes(), 3);
        assert!(c.get("k99").is_some(), "the newest entry stays");
    }

    #[test]
    fn errors_are_not_cached_and_invalidation_by_key_tool_service_all() {
        let c = ResultCache::new(10, 1 << 20);
        let mut err = (*result("x")).clone();
        err.is_error = true;
        c.insert("e".into(), "s", "t", Arc::new(err), 1, TTL);
        assert!(c.get("e").is_none());
        c.insert("a".into(), "s1", "t1", result("a"), 1, TTL);
        c.insert("b".into(), "s1", "t2", result("b"), 1, TTL);
        c.insert("c".into(), "s2", "t1", result("c"), 1, TTL);
        c.insert("d".into(), "s2", "t1", result("d"), 1, TTL);
        assert!(c.invalidate_key("d") && !c.invalidate_key("d"));
        assert_eq!(c.invalidate_tool("s1", "t1"), 1);
        assert!(c.get("a").is_none() && c.get("b").is_some() && c.get("c").is_some());
        assert_eq!(c.invalidate_service("s2"), 1);
        assert_eq!(c.clear(), 1);
        assert!(c.is_empty());
        assert_eq!(c.bytes(), 0);
        assert_eq!(c.stats().invalidations, 4);
    }
}
