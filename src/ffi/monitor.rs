//! The C side of the memory monitor, the Prometheus statistics and runtime tuning.

use std::ffi::{CString, c_char, c_void};
use std::time::Duration;

use serde_json::Value;

use super::args::{json_arg, string_out, write_out};
use super::boundary::{FfiResult, boundary};
use super::error::{Failure, mcps_error};
use super::store::{mcps_store, store_arg};
use super::strings::to_owned_c_string;
use crate::error::{Error, ErrorCode};

/// Called with a memory sample (JSON, borrowed for the call) when memory
/// crosses the threshold; see `mcps_store_on_memory_pressure`.
pub type mcps_pressure_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, sample_json: *const c_char)>;

struct PressureTarget {
    cb: unsafe extern "C" fn(*mut c_void, *const c_char),
    userdata: *mut c_void,
}

// SAFETY: the documented contract of `mcps_store_on_memory_pressure` is that the
// callback and its userdata may be used from the store's maintenance thread.
unsafe impl Send for PressureTarget {}
// SAFETY: as above; the target is only read.
unsafe impl Sync for PressureTarget {}

impl PressureTarget {
    fn call(&self, sample_json: &CString) {
        // SAFETY: the caller's contract: `cb` may run on this thread with `userdata`.
        unsafe { (self.cb)(self.userdata, sample_json.as_ptr()) };
    }
}

/// The store's statistics in the Prometheus text exposition format
/// (`mcpstore_calls_total{service=...,tool=...}`, pools, cache, memory).
///
/// On success writes a new string to `*out_text`; the caller frees it with
/// `mcps_string_free`. Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is a live store; `out_text` points to writable memory; `err` is NULL or
/// points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_stats_prometheus(
    s: *const mcps_store,
    out_text: *mut *mut c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    string_out(err, out_text, "out_text", || {
        // SAFETY: `s` is NULL or a live store (contract).
        Ok(unsafe { store_arg(s) }?.stats().to_prometheus())
    })
}

/// The memory monitor's summary as JSON: `current_rss_mb`, `current_percent`,
/// `avg_rss_mb` and `max_rss_mb` over the last 10 samples, `samples`, `live`
/// object counts and relief `actions`.
///
/// On success writes a new string to `*out_json`; the caller frees it with
/// `mcps_string_free`. Threads: any.
///
/// # Safety
/// `s` is a live store; `out_json` points to writable memory; `err` is NULL or
/// points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_memory_summary(
    s: *const mcps_store,
    out_json: *mut *mut c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    string_out(err, out_json, "out_json", || {
        // SAFETY: `s` is NULL or a live store (contract).
        let summary = unsafe { store_arg(s) }?.memory_summary();
        Ok(serde_json::to_string(&summary).unwrap_or_else(|_| "{}".to_owned()))
    })
}

/// Starts memory sampling every `interval_ms` milliseconds (at least 1) on
/// the store's maintenance thread. Threads: any.
///
/// # Safety
/// `s` is a live store.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_monitor_start(s: *const mcps_store, interval_ms: u64) -> ErrorCode {
    boundary(std::ptr::null_mut(), || {
        // SAFETY: `s` is NULL or a live store (contract).
        unsafe { store_arg(s) }?.memory_monitor().start(Duration::from_millis(interval_ms.max(1)));
        Ok(())
    })
}

/// Stops memory sampling. Threads: any.
///
/// # Safety
/// `s` is a live store.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_monitor_stop(s: *const mcps_store) -> ErrorCode {
    boundary(std::ptr::null_mut(), || {
        // SAFETY: `s` is NULL or a live store (contract).
        unsafe { store_arg(s) }?.memory_monitor().stop();
        Ok(())
    })
}

/// Sets the RSS threshold (MiB) above which the monitor relieves pressure of
/// what the library holds: expired cache entries, then the LRU half of the
/// cache, idle pooled objects, idle sessions above the minimum. A sample above
/// the threshold while the library holds none of these does nothing; crossing
/// the threshold logs one warning (again only after memory went back under).
/// A negative or non-finite value is `MCPS_ERR_INVALID_ARGUMENT`. Threads: any.
///
/// # Safety
/// `s` is a live store.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_set_memory_threshold(
    s: *const mcps_store,
    threshold_mb: f64,
) -> ErrorCode {
    boundary(std::ptr::null_mut(), || {
        if !threshold_mb.is_finite() || threshold_mb < 0.0 {
            return Err(Error::InvalidArgument("threshold_mb must be a non-negative number".into()).into());
        }
        // SAFETY: `s` is NULL or a live store (contract).
        unsafe { store_arg(s) }?.memory_monitor().set_threshold_mb(threshold_mb);
        Ok(())
    })
}

/// Sets the function called, on the store's maintenance thread, with the
/// memory sample (JSON, lent for the call) when memory crosses the threshold:
/// once per crossing, again only after memory went back under it. NULL
/// removes the callback. `userdata` is passed back as is.
///
/// Replacing or removing a callback returns only after a running invocation
/// of the previous one has returned, so the caller may free the previous
/// `userdata` as soon as this function returns. Called from inside the
/// callback itself (on the maintenance thread) it does not wait, which would
/// deadlock: it returns at once, the new callback applies from the next
/// crossing on, and the running callback (the caller) keeps using its
/// `userdata` until it returns. `mcps_store_free` also returns only after a
/// running callback returned. The callback must not wait for a thread that
/// is replacing it or freeing the store. `userdata` must stay valid until the
/// callback is replaced or removed, or the store is freed. Threads: any.
///
/// # Safety
/// `s` is a live store; `cb`, if not NULL, is safe to call from another thread
/// with `userdata`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_on_memory_pressure(
    s: *const mcps_store,
    cb: mcps_pressure_callback,
    userdata: *mut c_void,
) -> ErrorCode {
    boundary(std::ptr::null_mut(), || {
        // SAFETY: `s` is NULL or a live store (contract).
        let store = unsafe { store_arg(s) }?;
        let monitor = store.memory_monitor();
        match cb {
            None => monitor.clear_on_pressure(),
            Some(cb) => {
                let target = PressureTarget { cb, userdata };
                monitor.on_pressure(move |sample| {
                    let json = serde_json::to_string(sample).unwrap_or_else(|_| "{}".to_owned());
                    target.call(&CString::new(json).unwrap_or_default());
                });
            }
        }
        Ok(())
    })
}

/// Applies performance settings at runtime: `performance_json` is a JSON object
/// with the keys of the `performance` section of `mcp.json` (flat keys such as
/// `cache_size`, or sections `pool`, `cache`, `batch`, `memory`), applied on
/// top of the settings in force. An unknown key or a bad value is
/// `MCPS_ERR_CONFIG`, naming it.
///
/// On success, when `out_report_json` is not NULL, writes a new string
/// `{"applied": [...], "needs_restart": [...]}` that the caller frees with
/// `mcps_string_free`. Threads: any.
///
/// # Safety
/// `s` is a live store; `performance_json` is a NUL-terminated string;
/// `out_report_json` and `err` are NULL or point to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_apply_performance(
    s: *const mcps_store,
    performance_json: *const c_char,
    out_report_json: *mut *mut c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    boundary(err, || -> FfiResult {
        // SAFETY: pointers are NULL or valid (contract).
        let (store, section) = unsafe { (store_arg(s)?, json_arg(performance_json, "performance_json")?) };
        if section.is_null() {
            return Err(Failure::invalid("performance_json is NULL"));
        }
        let mut config = store.config();
        config.apply_json(&section)?;
        let report = store.apply_performance_config(config)?;
        if !out_report_json.is_null() {
            let json = serde_json::to_value(&report).unwrap_or(Value::Null).to_string();
            // SAFETY: `out_report_json` is not NULL and writable (contract).
            unsafe { write_out(out_report_json, to_owned_c_string(json)) };
        }
        Ok(())
    })
}
