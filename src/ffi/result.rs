//! `mcps_result`: a tool's result handed to C, recycled through an object pool.

use std::ffi::{CString, c_char};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use super::panic::{guard, to_cstring};
use crate::pool::{ObjectPool, register_object_pool};
use crate::protocol::ToolResult;

/// Idle result objects kept for reuse.
const POOL_SIZE: usize = 256;
/// A JSON buffer larger than this is not kept for reuse.
const KEEP_BUFFER_BYTES: usize = 64 * 1024;

/// A tool's result (an MCP `CallToolResult`), owned by the caller.
///
/// Comes from `mcps_store_call_tool`, `mcps_call_wait` or `mcps_queue_next`
/// (owned: free it with `mcps_result_free`, which returns it to the
/// library's object pool), or is lent to a callback (borrowed: valid only
/// during the callback; never free it). Any thread may read it, also
/// several at once.
pub struct mcps_result {
    result: Option<Arc<ToolResult>>,
    json: OnceLock<CString>,
    text: OnceLock<CString>,
    /// The buffer of a previous JSON rendering, reused by the next one.
    spare: Mutex<Vec<u8>>,
    /// Whether the object belongs to the pool (pooling may be switched off).
    pooled: bool,
}

impl mcps_result {
    fn empty(pooled: bool) -> Self {
        mcps_result {
            result: None,
            json: OnceLock::new(),
            text: OnceLock::new(),
            spare: Mutex::new(Vec::new()),
            pooled,
        }
    }

    /// Clears the object for reuse, keeping its JSON buffer when it is not too large.
    fn reset(&mut self) {
        self.result = None;
        self.text.take();
        if let Some(json) = self.json.take() {
            let mut buf = json.into_bytes_with_nul();
            buf.clear();
            if buf.capacity() <= KEEP_BUFFER_BYTES {
                *self.spare.get_mut() = buf;
            }
        }
    }

    /// The JSON text, rendered on first use.
    fn json(&self) -> &CString {
        self.json.get_or_init(|| {
            let mut buf = std::mem::take(&mut *self.spare.lock());
            buf.clear();
            if let Some(r) = &self.result
                && serde_json::to_writer(&mut buf, &**r).is_err()
            {
                buf.clear();
            }
            if buf.is_empty() {
                buf.extend_from_slice(b"{}");
            }
            buf.push(0);
            // JSON encoding escapes NUL, so the only NUL is the terminator.
            CString::from_vec_with_nul(buf).unwrap_or_else(|_| c"{}".to_owned())
        })
    }

    /// The joined text content, built on first use.
    fn text(&self) -> &CString {
        self.text.get_or_init(|| {
            let text = self.result.as_ref().map(|r| r.text()).unwrap_or_default();
            to_cstring(text)
        })
    }
}

static POOLING: AtomicBool = AtomicBool::new(true);

/// The process-wide pool of result objects (listed as `c_results` in the object pool statistics).
fn pool() -> &'static ObjectPool<Box<mcps_result>> {
    static POOL: OnceLock<ObjectPool<Box<mcps_result>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let pool = ObjectPool::new(
            POOL_SIZE,
            || Box::new(mcps_result::empty(true)),
            |r: &mut Box<mcps_result>| r.reset(),
        );
        register_object_pool("c_results", pool.clone());
        pool
    })
}

/// Switches the reuse of `mcps_result` objects on (the default) or off.
///
/// With pooling off every result is a fresh allocation, freed by
/// `mcps_result_free`; this exists to measure what the pool pays (see
/// `benches/c_abi.rs`) and for hosts that prefer no idle memory.
pub fn set_result_pooling(enabled: bool) {
    POOLING.store(enabled, Ordering::Relaxed);
}

/// A result object holding `result`, from the pool unless pooling is off.
pub(crate) fn new_result(result: Arc<ToolResult>) -> Box<mcps_result> {
    let mut r =
        if POOLING.load(Ordering::Relaxed) { pool().take() } else { Box::new(mcps_result::empty(false)) };
    r.result = Some(result);
    r
}

/// Hands a result object back: to the pool when it came from there.
pub(crate) fn release_result(r: Box<mcps_result>) {
    if r.pooled {
        pool().put_back(r);
    }
}

/// The result as JSON text: the `CallToolResult` object as the server sent
/// it (`content`, `structuredContent`, `isError`, `_meta`, ...).
///
/// Ownership: the string belongs to `r` and lives as long as `r`; do not
/// free it. Threads: any, also several at once. `r == NULL` gives NULL.
///
/// # Safety
/// `r` is NULL or a live result (owned, or lent to the running callback).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_result_json(r: *const mcps_result) -> *const c_char {
    guard(std::ptr::null(), || {
        // SAFETY: by contract `r` is NULL or a live result.
        unsafe { r.as_ref() }.map_or(std::ptr::null(), |r| r.json().as_ptr())
    })
}

/// The text of the result's `text` content items, joined with newlines
/// (empty when there is none; cut at the first NUL character, if any).
///
/// Ownership: the string belongs to `r` and lives as long as `r`; do not
/// free it. Threads: any, also several at once. `r == NULL` gives NULL.
///
/// # Safety
/// `r` is NULL or a live result (owned, or lent to the running callback).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_result_text(r: *const mcps_result) -> *const c_char {
    guard(std::ptr::null(), || {
        // SAFETY: by contract `r` is NULL or a live result.
        unsafe { r.as_ref() }.map_or(std::ptr::null(), |r| r.text().as_ptr())
    })
}

/// Whether the tool reported an error (`isError: true`): the call worked
/// and the tool failed; this is data, not an `mcps_error`.
///
/// Ownership: borrows `r`. Threads: any. `r == NULL` gives false.
///
/// # Safety
/// `r` is NULL or a live result (owned, or lent to the running callback).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_result_is_error(r: *const mcps_result) -> bool {
    guard(false, || {
        // SAFETY: by contract `r` is NULL or a live result.
        unsafe { r.as_ref() }.and_then(|r| r.result.as_ref()).is_some_and(|r| r.is_error)
    })
}

/// Frees an owned result: it goes back to the library's object pool, and
/// the strings it lent become invalid. `mcps_result_free(NULL)` does nothing.
///
/// Ownership: takes `r`. Never free a result lent to a callback.
/// Threads: any, but only once per result.
///
/// # Safety
/// `r` is NULL or an owned result that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_result_free(r: *mut mcps_result) {
    guard((), || {
        if !r.is_null() {
            // SAFETY: by contract `r` came from `Box::into_raw` in this library and is freed once.
            release_result(unsafe { Box::from_raw(r) });
        }
    });
}
