//! A bounded pool of reusable objects with a guard that returns them on drop.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_queue::ArrayQueue;
use serde::Serialize;

type Factory<T> = Box<dyn Fn() -> T + Send + Sync>;
type Reset<T> = Box<dyn Fn(&mut T) + Send + Sync>;

struct Shared<T> {
    idle: ArrayQueue<T>,
    factory: Factory<T>,
    reset: Reset<T>,
    min_size: usize,
    active: AtomicUsize,
    created: AtomicUsize,
    reused: AtomicUsize,
}

/// A bounded, lock-free pool of objects of type `T`.
///
/// [`ObjectPool::get`] hands out an idle object (or makes a new one); the
/// [`Pooled`] guard resets it and returns it when dropped. At most `max_size`
/// objects are kept idle; extra ones are dropped.
pub struct ObjectPool<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for ObjectPool<T> {
    fn clone(&self) -> Self {
        ObjectPool { shared: self.shared.clone() }
    }
}

/// A snapshot of an object pool's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct ObjectPoolStats {
    /// Idle objects ready to be handed out.
    pub pool_size: usize,
    /// Objects handed out and not yet returned.
    pub active_objects: usize,
    /// The most idle objects kept.
    pub max_size: usize,
    /// Objects made by the factory.
    pub created: usize,
    /// Hand-outs served by an idle object.
    pub reused: usize,
}

impl<T: Send + 'static> ObjectPool<T> {
    /// A pool keeping at most `max_size` idle objects made by `factory` and
    /// cleaned by `reset` when they come back.
    pub fn new(
        max_size: usize,
        factory: impl Fn() -> T + Send + Sync + 'static,
        reset: impl Fn(&mut T) + Send + Sync + 'static,
    ) -> Self {
        ObjectPool {
            shared: Arc::new(Shared {
                idle: ArrayQueue::new(max_size.max(1)),
                factory: Box::new(factory),
                reset: Box::new(reset),
                min_size: 0,
                active: AtomicUsize::new(0),
                created: AtomicUsize::new(0),
                reused: AtomicUsize::new(0),
            }),
        }
    }

    /// Takes an idle object or makes one.
    pub fn get(&self) -> Pooled<T> {
        let s = &self.shared;
        let value = match s.idle.pop() {
            Some(v) => {
                s.reused.fetch_add(1, Ordering::Relaxed);
                v
            }
            None => {
                s.created.fetch_add(1, Ordering::Relaxed);
                (s.factory)()
            }
        };
        s.active.fetch_add(1, Ordering::Relaxed);
        Pooled { value: Some(value), pool: self.shared.clone() }
    }

    /// Takes an idle object (or makes one) without a guard, for a holder that
    /// cannot keep one (a pointer handed across the C ABI). It counts as
    /// active until it comes back through [`ObjectPool::put_back`].
    pub fn take(&self) -> T {
        let mut guard = self.get();
        let value = guard.value.take();
        // `get` always fills the guard; the fallback never runs.
        value.unwrap_or_else(|| (self.shared.factory)())
    }

    /// Returns an object obtained with [`ObjectPool::take`]: resets it and
    /// keeps it idle (dropped when the pool is full).
    pub fn put_back(&self, value: T) {
        self.shared.put_back(value);
    }

    /// Drops idle objects down to the pool's minimum (memory relief); returns how many.
    pub fn trim(&self) -> usize {
        let mut dropped = 0;
        while self.shared.idle.len() > self.shared.min_size && self.shared.idle.pop().is_some() {
            dropped += 1;
        }
        dropped
    }

    /// The pool's counters.
    pub fn stats(&self) -> ObjectPoolStats {
        let s = &self.shared;
        ObjectPoolStats {
            pool_size: s.idle.len(),
            active_objects: s.active.load(Ordering::Relaxed),
            max_size: s.idle.capacity(),
            created: s.created.load(Ordering::Relaxed),
            reused: s.reused.load(Ordering::Relaxed),
        }
    }
}

/// An object on loan from an [`ObjectPool`]; goes back when dropped.
pub struct Pooled<T: Send + 'static> {
    value: Option<T>,
    pool: Arc<Shared<T>>,
}

impl<T: Send + 'static> Pooled<T> {
    /// Keeps the object for good: it will not return to the pool.
    pub fn detach(mut self) -> T {
        self.pool.active.fetch_sub(1, Ordering::Relaxed);
        // `value` is only None after drop or detach, which both consume the guard.
        self.value.take().unwrap_or_else(|| (self.pool.factory)())
    }
}

impl<T: Send + 'static> Deref for Pooled<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // Always Some until the guard is consumed.
        self.value.as_ref().unwrap_or_else(|| unreachable!("pooled value taken"))
    }
}

impl<T: Send + 'static> DerefMut for Pooled<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value.as_mut().unwrap_or_else(|| unreachable!("pooled value taken"))
    }
}

impl<T> Shared<T> {
    /// Takes back an active object: resets it and keeps it idle if there is room.
    fn put_back(&self, mut v: T) {
        self.active.fetch_sub(1, Ordering::Relaxed);
        (self.reset)(&mut v);
        let _ = self.idle.push(v); // full: the object is simply dropped
    }
}

impl<T: Send + 'static> Drop for Pooled<T> {
    fn drop(&mut self) {
        if let Some(v) = self.value.take() {
            self.pool.put_back(v);
        }
    }
}

type StatsSource = Box<dyn Fn() -> ObjectPoolStats + Send + Sync>;

fn registry() -> &'static parking_lot::Mutex<Vec<(&'static str, StatsSource)>> {
    static REG: std::sync::OnceLock<parking_lot::Mutex<Vec<(&'static str, StatsSource)>>> =
        std::sync::OnceLock::new();
    REG.get_or_init(|| parking_lot::Mutex::new(Vec::new()))
}

/// Makes a process-wide pool visible in [`object_pool_stats`] (and trimmed by the memory monitor).
pub fn register_object_pool<T: Send + 'static>(name: &'static str, pool: ObjectPool<T>) {
    let trim_pool = pool.clone();
    registry().lock().push((name, Box::new(move || pool.stats())));
    trimmers().lock().push(Box::new(move || trim_pool.trim()));
}

type Trimmer = Box<dyn Fn() -> usize + Send + Sync>;

fn trimmers() -> &'static parking_lot::Mutex<Vec<Trimmer>> {
    static T: std::sync::OnceLock<parking_lot::Mutex<Vec<Trimmer>>> = std::sync::OnceLock::new();
    T.get_or_init(|| parking_lot::Mutex::new(Vec::new()))
}

/// The statistics of every process-wide object pool, by name.
pub fn object_pool_stats() -> std::collections::BTreeMap<&'static str, ObjectPoolStats> {
    registry().lock().iter().map(|(name, f)| (*name, f())).collect()
}

/// Trims every process-wide object pool to its minimum; returns how many objects were dropped.
pub fn trim_object_pools() -> usize {
    trimmers().lock().iter().map(|t| t()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_resets_and_bounds() {
        let pool = ObjectPool::new(2, Vec::<u8>::new, Vec::clear);
        {
            let mut a = pool.get();
            a.extend_from_slice(b"abc");
            let _b = pool.get();
            let _c = pool.get();
            assert_eq!(pool.stats().active_objects, 3);
        }
        let s = pool.stats();
        assert_eq!((s.active_objects, s.pool_size, s.created), (0, 2, 3));
        let a = pool.get();
        assert!(a.is_empty(), "reset ran");
        assert_eq!(pool.stats().reused, 1);
        drop(a);
        assert_eq!(pool.trim(), 2);
        let kept = pool.get().detach();
        assert!(kept.is_empty());
        assert_eq!(pool.stats().active_objects, 0);
    }

    #[test]
    fn take_and_put_back_count_as_active() {
        let pool = ObjectPool::new(2, Vec::<u8>::new, Vec::clear);
        let mut v = pool.take();
        v.push(1);
        assert_eq!(pool.stats().active_objects, 1);
        pool.put_back(v);
        let s = pool.stats();
        assert_eq!((s.active_objects, s.pool_size), (0, 1));
        assert!(pool.take().is_empty(), "reset ran");
        assert_eq!(pool.stats().reused, 1);
    }

    #[test]
    fn many_threads() {
        let pool = ObjectPool::new(4, || 0u64, |v| *v = 0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        let mut v = pool.get();
                        *v += 1;
                    }
                });
            }
        });
        let st = pool.stats();
        assert_eq!(st.active_objects, 0);
        assert!(st.pool_size <= 4);
        assert_eq!(st.created + st.reused, 8000);
    }
}
