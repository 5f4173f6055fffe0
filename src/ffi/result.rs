//! `mcps_result`: a tool's result handed to C, recycled through an object pool.

use std::ffi::{CString, c_char};
use std::sync::OnceLock;

use parking_lot::Mutex;

use super::boundary::guard;
use super::strings::to_cstring;
use crate::exec::ToolOutput;
use crate::objpool::{ObjectPool, register_object_pool};

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
    result: Option<ToolOutput>,
    json: OnceLock<CString>,
    text: OnceLock<CString>,
    mismatch: OnceLock<Option<CString>>,
    /// The buffer of a previous JSON rendering, reused by the next one.
    spare: Mutex<Vec<u8>>,
}

impl mcps_result {
    fn empty() -> Self {
        mcps_result {
            result: None,
            json: OnceLock::new(),
            text: OnceLock::new(),
            mismatch: OnceLock::new(),
            spare: Mutex::new(Vec::new()),
        }
    }

    /// Clears the object for reuse, keeping its JSON buffer when it is not too large.
    fn reset(&mut self) {
        self.result = None;
        self.text.take();
        self.mismatch.take();
        if let Some(json) = self.json.take() {
            let mut buf = json.into_bytes_with_nul();
            buf.clear();
            if buf.capacity() <= KEEP_BUFFER_BYTES {
                *self.spare.get_mut() = buf;
            }
        }
    }

    /// The JSON text, made on first use: the server's own bytes copied into a
    /// (reused) buffer with a NUL after them; serialised only for a result
    /// whose bytes were not kept.
    fn json(&self) -> &CString {
        self.json.get_or_init(|| {
            let mut buf = std::mem::take(&mut *self.spare.lock());
            buf.clear();
            if let Some(r) = &self.result {
                r.write_json(&mut buf);
            }
            if buf.is_empty() {
                buf.extend_from_slice(b"{}");
            }
            buf.push(0);
            // JSON has no raw NUL (inside strings it is escaped), so the only NUL is the terminator.
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

impl mcps_result {
    /// Why the result does not fit the tool's `outputSchema`, built on first use.
    fn mismatch(&self) -> Option<&CString> {
        self.mismatch
            .get_or_init(|| {
                let result = self.result.as_ref()?;
                result.schema_mismatch().map(|m| to_cstring(m.to_owned()))
            })
            .as_ref()
    }
}

/// The process-wide pool of result objects (listed as `c_results` in the object pool statistics).
fn pool() -> &'static ObjectPool<Box<mcps_result>> {
    static POOL: OnceLock<ObjectPool<Box<mcps_result>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let pool = ObjectPool::new(
            POOL_SIZE,
            || Box::new(mcps_result::empty()),
            |r: &mut Box<mcps_result>| r.reset(),
        );
        register_object_pool("c_results", pool.clone());
        pool
    })
}

/// A result object holding `result`, from the pool (a pooled object costs
/// less than a fresh one: see `benches/README.md`).
pub(crate) fn new_result(result: ToolOutput) -> Box<mcps_result> {
    let mut r = pool().take();
    r.result = Some(result);
    r
}

/// Hands a result object back to the pool.
pub(crate) fn release_result(r: Box<mcps_result>) {
    pool().put_back(r);
}

/// The result as JSON text: the `CallToolResult` object as the server sent
/// it (`content`, `structuredContent`, `isError`, `_meta`, ...).
///
/// Bytes: exactly the bytes of the `result` member of the server's JSON-RPC
/// response, as received (whitespace, key order, number spelling and string
/// escapes as the server wrote them), followed by a NUL; the library neither
/// parses nor re-serialises them for this call. A result served from the
/// cache gives the bytes it was first received with. No `_mcpstore` member
/// is added here: see `mcps_result_from_cache`, `mcps_result_cache_age_ms`
/// and `mcps_result_schema_mismatch` (`mcps_store_batch_call` items carry
/// it). Only a result that never came as bytes (built by the library) is
/// serialised, compactly. The first call copies the bytes; later calls
/// return the same pointer.
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
        unsafe { r.as_ref() }.and_then(|r| r.result.as_ref()).is_some_and(ToolOutput::tool_error)
    })
}

/// Whether the result came from the result cache (the call did not reach
/// the server). Only calls with a cache key or a service cache policy are
/// ever served from the cache.
///
/// Ownership: borrows `r`. Threads: any. `r == NULL` gives false.
///
/// # Safety
/// `r` is NULL or a live result (owned, or lent to the running callback).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_result_from_cache(r: *const mcps_result) -> bool {
    guard(false, || {
        // SAFETY: by contract `r` is NULL or a live result.
        unsafe { r.as_ref() }.and_then(|r| r.result.as_ref()).is_some_and(ToolOutput::from_cache)
    })
}

/// Why the result's `structuredContent` does not fit the `outputSchema` the
/// tool declares (a message for people), or NULL when it fits, the tool
/// declares none, or `r == NULL`. The result is still returned as the
/// server sent it.
///
/// Ownership: the string belongs to `r` and lives as long as `r`; do not
/// free it. Threads: any, also several at once.
///
/// # Safety
/// `r` is NULL or a live result (owned, or lent to the running callback).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_result_schema_mismatch(r: *const mcps_result) -> *const c_char {
    guard(std::ptr::null(), || {
        // SAFETY: by contract `r` is NULL or a live result.
        unsafe { r.as_ref() }.and_then(mcps_result::mismatch).map_or(std::ptr::null(), |m| m.as_ptr())
    })
}

/// How old a result from the cache is, in milliseconds; -1 for a result that
/// came from the server (or `r == NULL`).
///
/// Ownership: borrows `r`. Threads: any.
///
/// # Safety
/// `r` is NULL or a live result (owned, or lent to the running callback).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_result_cache_age_ms(r: *const mcps_result) -> i64 {
    guard(-1, || {
        // SAFETY: by contract `r` is NULL or a live result.
        let age = unsafe { r.as_ref() }.and_then(|r| r.result.as_ref()).and_then(ToolOutput::cache_age);
        age.map_or(-1, |a| i64::try_from(a.as_millis()).unwrap_or(i64::MAX))
    })
}

/// Frees an owned result: it goes back to the library's object pool, and
/// the strings it lent become invalid. `mcps_result_free(NULL)` does nothing.
///
/// Ownership: takes `r`. Never free a result lent to a callback. Freeing a
/// result twice is undefined behaviour and not detected (results are pooled).
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
