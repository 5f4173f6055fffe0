//! A one-line progress bar on stderr, shown only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Draws `done/total` at most every 100 ms.
pub struct Progress {
    total: Option<usize>,
    enabled: bool,
    started: Instant,
    last_draw_ms: AtomicUsize,
}

impl Progress {
    /// A bar for `total` items (`None` when the count is unknown).
    pub fn new(total: Option<usize>) -> Self {
        Progress {
            total,
            enabled: std::io::stderr().is_terminal(),
            started: Instant::now(),
            last_draw_ms: AtomicUsize::new(0),
        }
    }

    /// Reports `done` items finished.
    pub fn update(&self, done: usize) {
        if !self.enabled {
            return;
        }
        let now_ms = self.started.elapsed().as_millis() as usize;
        let last = self.last_draw_ms.load(Ordering::Relaxed);
        if now_ms < last + 100
            || self.last_draw_ms.compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return;
        }
        let line = match self.total {
            Some(total) if total > 0 => {
                let width = 30;
                let filled = (done.min(total) * width) / total;
                format!("\r[{}{}] {done}/{total}", "#".repeat(filled), "-".repeat(width - filled))
            }
            _ => format!("\r{done} done, {:.1}s", self.started.elapsed().as_secs_f64()),
        };
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if self.enabled {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(b"\r\x1b[2K");
            let _ = err.flush();
        }
    }
}
