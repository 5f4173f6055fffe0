//! Small helpers every layer uses: named threads, overflow-safe deadlines and
//! maps keyed by the library's own numbers.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// The stack of the library's own threads: they parse JSON, wait, and (HTTP) do TLS handshakes.
const STACK_SIZE: usize = 512 * 1024;

/// Starts a named library thread (names start with `mcps-`, so a host can tell
/// them apart). A thread that cannot be started is an error the caller
/// handles, never a panic.
pub(crate) fn spawn_thread<T: Send + 'static>(
    name: impl Into<String>,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>> {
    let name = name.into();
    std::thread::Builder::new()
        .name(name.clone())
        .stack_size(STACK_SIZE)
        .spawn(f)
        .map_err(|e| Error::Internal(format!("cannot start thread '{name}': {e}")))
}

/// `now + d`, saturating far in the future instead of overflowing.
pub(crate) fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d).unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// A map keyed by numbers the library mints itself (request ids, batch
/// indexes), looked up on every call. Such keys cannot be chosen to collide,
/// so they need no DoS-resistant hash: foldhash's (already in the tree under
/// hashbrown) costs a fraction of std's SipHash.
pub(crate) type IdMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
