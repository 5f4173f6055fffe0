//! The memory monitor: samples this process's memory on the store's
//! maintenance thread and, above a threshold, relieves pressure itself.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::Serialize;

/// How many samples are kept.
const KEEP_SAMPLES: usize = 100;
/// How many recent samples the summary averages.
const SUMMARY_SAMPLES: usize = 10;

/// What the library holds alive at the time of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct LiveObjects {
    /// Entries in the result cache.
    pub cache_entries: usize,
    /// Objects held by the object pools (idle and handed out).
    pub pooled_objects: usize,
    /// Open sessions across services.
    pub open_sessions: usize,
    /// Calls in flight (pool leases).
    pub in_flight_calls: usize,
}

/// One memory sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemorySample {
    /// Seconds since the Unix epoch.
    pub timestamp: f64,
    /// Resident set size, in MiB.
    pub rss_mb: f64,
    /// Virtual memory, in MiB.
    pub virtual_mb: f64,
    /// RSS as a percentage of the machine's memory.
    pub percent: f64,
    /// The library's live objects.
    pub live: LiveObjects,
}

/// The monitor's view of recent memory use.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct MemorySummary {
    /// RSS of the last sample, in MiB.
    pub current_rss_mb: f64,
    /// Percent of system memory of the last sample.
    pub current_percent: f64,
    /// Mean RSS over the last 10 samples.
    pub avg_rss_mb: f64,
    /// Highest RSS over the last 10 samples.
    pub max_rss_mb: f64,
    /// Samples taken so far.
    pub samples: u64,
    /// Live objects at the last sample.
    pub live: LiveObjects,
    /// Pressure relief counts.
    pub actions: ReliefCounts,
}

/// How often each relief action ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct ReliefCounts {
    /// Times the threshold was exceeded.
    pub trips: u64,
    /// Expired cache entries dropped.
    pub expired_cleared: u64,
    /// Times the LRU half of the cache was dropped.
    pub cache_halved: u64,
    /// Times the object pools were trimmed.
    pub pools_trimmed: u64,
    /// Idle sessions closed above `min_connections`.
    pub sessions_closed: u64,
}

/// Called with the sample that exceeded the threshold.
pub type PressureCallback = Arc<dyn Fn(&MemorySample) + Send + Sync>;

/// Samples memory and relieves pressure; driven by the store's maintenance thread.
pub struct MemoryMonitor {
    running: AtomicBool,
    interval_ms: AtomicU64,
    threshold_mb_bits: AtomicU64,
    next_due: Mutex<Option<Instant>>,
    samples: Mutex<VecDeque<MemorySample>>,
    taken: AtomicU64,
    counts: Mutex<ReliefCounts>,
    callback: Mutex<Option<PressureCallback>>,
    system: Mutex<Option<sysinfo::System>>,
}

impl MemoryMonitor {
    pub(crate) fn new(threshold_mb: f64, interval: Duration) -> Self {
        MemoryMonitor {
            running: AtomicBool::new(false),
            interval_ms: AtomicU64::new(interval.as_millis().max(1) as u64),
            threshold_mb_bits: AtomicU64::new(threshold_mb.to_bits()),
            next_due: Mutex::new(None),
            samples: Mutex::new(VecDeque::with_capacity(KEEP_SAMPLES)),
            taken: AtomicU64::new(0),
            counts: Mutex::new(ReliefCounts::default()),
            callback: Mutex::new(None),
            system: Mutex::new(None),
        }
    }

    /// Starts sampling every `interval` (on the store's maintenance thread).
    pub fn start(&self, interval: Duration) {
        self.interval_ms.store(interval.as_millis().max(1) as u64, Ordering::Relaxed);
        *self.next_due.lock() = Some(Instant::now());
        self.running.store(true, Ordering::Release);
    }

    /// Stops sampling.
    pub fn stop(&self) {
        self.running.store(false, Ordering::Release);
        *self.next_due.lock() = None;
    }

    /// Whether the monitor samples.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// The time between samples.
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms.load(Ordering::Relaxed))
    }

    /// Sets the RSS threshold in MiB above which pressure is relieved.
    pub fn set_threshold_mb(&self, mb: f64) {
        self.threshold_mb_bits.store(mb.to_bits(), Ordering::Relaxed);
    }

    /// The RSS threshold in MiB.
    pub fn threshold_mb(&self) -> f64 {
        f64::from_bits(self.threshold_mb_bits.load(Ordering::Relaxed))
    }

    /// Sets the callback run (on the maintenance thread) when the threshold is exceeded.
    pub fn on_pressure(&self, callback: impl Fn(&MemorySample) + Send + Sync + 'static) {
        *self.callback.lock() = Some(Arc::new(callback));
    }

    /// The kept samples, oldest first (at most 100).
    pub fn samples(&self) -> Vec<MemorySample> {
        self.samples.lock().iter().cloned().collect()
    }

    /// Current, mean and peak RSS over the last 10 samples, live objects and relief counts.
    pub fn summary(&self) -> MemorySummary {
        let samples = self.samples.lock();
        let recent: Vec<&MemorySample> = samples.iter().rev().take(SUMMARY_SAMPLES).collect();
        let last = samples.back();
        MemorySummary {
            current_rss_mb: last.map_or(0.0, |s| s.rss_mb),
            current_percent: last.map_or(0.0, |s| s.percent),
            avg_rss_mb: if recent.is_empty() {
                0.0
            } else {
                recent.iter().map(|s| s.rss_mb).sum::<f64>() / recent.len() as f64
            },
            max_rss_mb: recent.iter().map(|s| s.rss_mb).fold(0.0, f64::max),
            samples: self.taken.load(Ordering::Relaxed),
            live: last.map(|s| s.live).unwrap_or_default(),
            actions: *self.counts.lock(),
        }
    }

    /// When the next sample is due, if running.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        if self.is_running() { *self.next_due.lock() } else { None }
    }

    /// Takes a sample if one is due; returns it and whether it exceeded the threshold.
    pub(crate) fn sample_if_due(
        &self,
        now: Instant,
        live: impl FnOnce() -> LiveObjects,
    ) -> Option<(MemorySample, bool)> {
        {
            let mut due = self.next_due.lock();
            match *due {
                Some(at) if at <= now && self.is_running() => *due = Some(now + self.interval()),
                _ => return None,
            }
        }
        let sample = self.take_sample(live());
        let over = sample.rss_mb > self.threshold_mb();
        Some((sample, over))
    }

    /// Reads this process's memory now.
    pub fn take_sample(&self, live: LiveObjects) -> MemorySample {
        let (rss, virt, total) = read_memory(&mut self.system.lock());
        let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
        let sample = MemorySample {
            timestamp: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64()),
            rss_mb: mb(rss),
            virtual_mb: mb(virt),
            percent: if total == 0 { 0.0 } else { rss as f64 * 100.0 / total as f64 },
            live,
        };
        let mut samples = self.samples.lock();
        if samples.len() == KEEP_SAMPLES {
            samples.pop_front();
        }
        samples.push_back(sample.clone());
        self.taken.fetch_add(1, Ordering::Relaxed);
        sample
    }

    pub(crate) fn count(&self, f: impl FnOnce(&mut ReliefCounts)) {
        f(&mut self.counts.lock());
    }

    pub(crate) fn callback(&self) -> Option<PressureCallback> {
        self.callback.lock().clone()
    }
}

/// RSS, virtual memory and total system memory, in bytes.
fn read_memory(system: &mut Option<sysinfo::System>) -> (u64, u64, u64) {
    use sysinfo::{ProcessRefreshKind, ProcessesToUpdate};
    if system.is_none() {
        *system = sysinfo::System::new().ok();
    }
    let (Some(sys), Ok(pid)) = (system.as_mut(), sysinfo::get_current_pid()) else {
        return (0, 0, 0);
    };
    sys.refresh_memory();
    sys.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        false,
        ProcessRefreshKind::nothing().with_memory(),
    );
    let total = sys.total_memory();
    match sys.process(pid) {
        Some(p) => (p.memory(), p.virtual_memory(), total),
        None => (0, 0, total),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_real_and_bounded() {
        let m = MemoryMonitor::new(500.0, Duration::from_secs(1));
        for _ in 0..105 {
            m.take_sample(LiveObjects::default());
        }
        assert_eq!(m.samples().len(), KEEP_SAMPLES);
        let s = m.summary();
        assert!(s.current_rss_mb > 1.0, "rss {}", s.current_rss_mb);
        assert!(s.max_rss_mb >= s.avg_rss_mb && s.current_percent > 0.0);
        assert_eq!(s.samples, 105);
    }

    #[test]
    fn sampling_follows_start_and_stop() {
        let m = MemoryMonitor::new(500.0, Duration::from_secs(1));
        let now = Instant::now();
        assert!(m.sample_if_due(now, LiveObjects::default).is_none());
        m.start(Duration::from_millis(10));
        assert!(m.sample_if_due(Instant::now(), LiveObjects::default).is_some());
        assert!(m.sample_if_due(Instant::now(), LiveObjects::default).is_none(), "not due yet");
        m.stop();
        assert!(m.sample_if_due(Instant::now() + Duration::from_secs(1), LiveObjects::default).is_none());
    }
}
