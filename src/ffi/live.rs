//! Which handles are live, so that freeing one twice is detected instead of
//! corrupting the heap.
//!
//! A magic number inside the handle cannot do this: checking it after the
//! first free reads freed memory, itself undefined (and what ASan and
//! valgrind report). Instead every handle that is not on a per-call hot path
//! (stores, queues, event queues, call handles, cancel tokens, error objects,
//! replies, authorizations) is entered here, by address and type, when it is
//! handed to C and removed when C gives it back; a pointer that is not
//! entered (freed already, lent to a callback, or never a handle) is refused
//! without being dereferenced. One short lock of one of 16 shards per handle
//! and free: tens of nanoseconds, next to microseconds for making any of
//! them. Results (the per-call path, pooled) and `char *` strings are not
//! checked. A stale pointer whose address was handed out again for a new
//! handle of the same type cannot be told from that handle.

use std::any::TypeId;
use std::collections::HashMap;

use parking_lot::Mutex;

const SHARDS: usize = 16;

static LIVE: [Mutex<Option<HashMap<usize, TypeId>>>; SHARDS] = [const { Mutex::new(None) }; SHARDS];

fn shard(addr: usize) -> &'static Mutex<Option<HashMap<usize, TypeId>>> {
    // Heap blocks are at least 16-byte aligned: skip the bits that never differ.
    &LIVE[(addr >> 4) % SHARDS]
}

/// Hands `handle` to C: its pointer, entered as live.
pub(crate) fn into_raw<T: 'static>(handle: Box<T>) -> *mut T {
    let p = Box::into_raw(handle);
    shard(p as usize).lock().get_or_insert_with(HashMap::new).insert(p as usize, TypeId::of::<T>());
    p
}

/// Takes a handle back from C: `None` for NULL and for a pointer that is not
/// a live handle of this type (freed already, lent, or foreign), which is
/// then left alone.
///
/// # Safety
/// A pointer entered by [`into_raw`] for `T` and not taken back since
/// points to that `T` (nothing else is assumed of `p`).
pub(crate) unsafe fn take<T: 'static>(p: *mut T) -> Option<Box<T>> {
    if p.is_null() {
        return None;
    }
    let mut live = shard(p as usize).lock();
    let map = live.as_mut()?;
    if map.get(&(p as usize)) != Some(&TypeId::of::<T>()) {
        return None;
    }
    map.remove(&(p as usize));
    drop(live);
    // SAFETY: `p` was entered by `into_raw` for a `T` (a `Box::into_raw`) and is
    // taken back only once: it was removed above under the shard's lock.
    Some(unsafe { Box::from_raw(p) })
}

/// Whether `p` is a live handle of type `T` (for diagnostics and tests).
#[cfg(test)]
pub(crate) fn is_live<T: 'static>(p: *const T) -> bool {
    shard(p as usize).lock().as_ref().is_some_and(|m| m.get(&(p as usize)) == Some(&TypeId::of::<T>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_is_taken_back_once() {
        let p = into_raw(Box::new(7u32));
        assert!(is_live(p));
        // SAFETY: entered above.
        assert_eq!(unsafe { take(p) }.map(|b| *b), Some(7));
        assert!(!is_live(p));
        // SAFETY: not live any more: refused without a dereference.
        assert!(unsafe { take(p) }.is_none());
        // SAFETY: NULL is refused.
        assert!(unsafe { take(std::ptr::null_mut::<u32>()) }.is_none());
    }

    #[test]
    fn a_handle_of_another_type_is_refused() {
        let p = into_raw(Box::new(1u64));
        // SAFETY: entered as a u64, refused as an i64 without a dereference.
        assert!(unsafe { take(p.cast::<i64>()) }.is_none());
        // SAFETY: entered above.
        assert!(unsafe { take(p) }.is_some());
    }
}
