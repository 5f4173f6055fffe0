//! The memory monitor: samples this process's memory on the store's
//! maintenance thread and, above a threshold, relieves pressure itself — but
//! only of what the library holds: a host that uses much memory of its own
//! with an idle store sees no relief, one warning when memory crosses the
//! threshold and another only after it went back under and crossed again.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::callback_slot::CallbackSlot;
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
    /// Bytes of results the result cache holds.
    pub cache_bytes: usize,
    /// Objects held by the object pools (idle and handed out).
    pub pooled_objects: usize,
    /// Idle objects in the object pools (what trimming would drop).
    pub idle_pooled_objects: usize,
    /// Open sessions across services.
    pub open_sessions: usize,
    /// Idle sessions above their service's `min_connections` (what relief would close).
    pub idle_sessions_above_min: usize,
    /// Calls in flight (pool leases).
    pub in_flight_calls: usize,
}

impl LiveObjects {
    /// Whether relief would free anything: cache entries or bytes, idle
    /// pooled objects, idle sessions above the minimum.
    pub fn releasable(&self) -> bool {
        self.cache_entries > 0
            || self.cache_bytes > 0
            || self.idle_pooled_objects > 0
            || self.idle_sessions_above_min > 0
    }
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

/// How often memory crossed the threshold and what relief freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct ReliefCounts {
    /// Times memory crossed the threshold (from below, or at the first
    /// sample): each is warned about once.
    pub trips: u64,
    /// Times relief ran: a sample above the threshold while the library held
    /// something to release ([`LiveObjects::releasable`]).
    pub reliefs: u64,
    /// Expired cache entries dropped.
    pub expired_cleared: u64,
    /// Times the LRU half of the cache was dropped (a non-empty cache).
    pub cache_halved: u64,
    /// Times idle pooled objects were dropped.
    pub pools_trimmed: u64,
    /// Idle sessions closed above `min_connections`.
    pub sessions_closed: u64,
}

/// Where a sample stands against the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pressure {
    /// At or below the threshold.
    Under,
    /// Above it, and the previous sample was not (or this is the first).
    Crossed,
    /// Above it, as the previous sample was.
    Over,
}

/// Called with the sample that crossed the threshold.
pub type PressureCallback = Arc<dyn Fn(&MemorySample) + Send + Sync>;

/// Samples memory and relieves pressure; driven by the store's maintenance thread.
pub struct MemoryMonitor {
    running: AtomicBool,
    interval_ms: AtomicU64,
    threshold_mb_bits: AtomicU64,
    /// Whether the last sample was above the threshold.
    above: AtomicBool,
    next_due: Mutex<Option<Instant>>,
    samples: Mutex<VecDeque<MemorySample>>,
    taken: AtomicU64,
    counts: Mutex<ReliefCounts>,
    callback: CallbackSlot<MemorySample>,
    system: Mutex<Option<sysinfo::System>>,
}

impl MemoryMonitor {
    pub(crate) fn new(threshold_mb: f64, interval: Duration) -> Self {
        MemoryMonitor {
            running: AtomicBool::new(false),
            interval_ms: AtomicU64::new(interval.as_millis().max(1) as u64),
            threshold_mb_bits: AtomicU64::new(threshold_mb.to_bits()),
            above: AtomicBool::new(false),
            next_due: Mutex::new(None),
            samples: Mutex::new(VecDeque::with_capacity(KEEP_SAMPLES)),
            taken: AtomicU64::new(0),
            counts: Mutex::new(ReliefCounts::default()),
            callback: CallbackSlot::default(),
            system: Mutex::new(None),
        }
    }

    /// Starts sampling every `interval` (on the store's maintenance thread).
    /// A new start warns again if memory is above the threshold.
    pub fn start(&self, interval: Duration) {
        self.interval_ms.store(interval.as_millis().max(1) as u64, Ordering::Relaxed);
        self.above.store(false, Ordering::Relaxed);
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

    /// Sets the callback run (on the maintenance thread) when memory crosses
    /// the threshold: once per crossing, again only after memory went back under.
    ///
    /// Replacing the callback returns only after a running invocation of the
    /// previous one has returned (so whatever it uses may be freed at once),
    /// except when called from inside the callback itself: then it returns
    /// at once (waiting would deadlock) and the new callback runs from the
    /// next crossing on.
    pub fn on_pressure(&self, callback: impl Fn(&MemorySample) + Send + Sync + 'static) {
        self.callback.set(Some(Arc::new(callback)));
    }

    /// Removes the pressure callback; like [`MemoryMonitor::on_pressure`], it
    /// returns only after a running invocation has returned (unless called
    /// from inside it).
    pub fn clear_on_pressure(&self) {
        self.callback.set(None);
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

    /// Takes a sample if one is due; returns it and where it stands against the threshold.
    pub(crate) fn sample_if_due(
        &self,
        now: Instant,
        live: impl FnOnce() -> LiveObjects,
    ) -> Option<(MemorySample, Pressure)> {
        {
            let mut due = self.next_due.lock();
            match *due {
                Some(at) if at <= now && self.is_running() => *due = Some(now + self.interval()),
                _ => return None,
            }
        }
        let sample = self.take_sample(live());
        let pressure = self.pressure(sample.rss_mb);
        Some((sample, pressure))
    }

    /// Where `rss_mb` stands against the threshold, given the previous sample.
    fn pressure(&self, rss_mb: f64) -> Pressure {
        let over = rss_mb > self.threshold_mb();
        match (over, self.above.swap(over, Ordering::Relaxed)) {
            (false, _) => Pressure::Under,
            (true, false) => Pressure::Crossed,
            (true, true) => Pressure::Over,
        }
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

    /// Runs the pressure callback, if any, with `sample`; a panic in it is caught.
    pub(crate) fn run_callback(&self, sample: &MemorySample) {
        self.callback.invoke(sample);
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

    #[test]
    fn crossing_the_threshold_is_reported_once_until_memory_goes_back_under() {
        let m = MemoryMonitor::new(0.001, Duration::from_secs(1));
        assert_eq!(m.pressure(10.0), Pressure::Crossed);
        assert_eq!(m.pressure(10.0), Pressure::Over);
        assert_eq!(m.pressure(10.0), Pressure::Over);
        m.set_threshold_mb(100.0);
        assert_eq!(m.pressure(10.0), Pressure::Under);
        m.set_threshold_mb(0.001);
        assert_eq!(m.pressure(10.0), Pressure::Crossed);
        m.start(Duration::from_secs(1));
        assert_eq!(m.pressure(10.0), Pressure::Crossed, "a new start warns again");
    }

    fn sample() -> MemorySample {
        MemorySample {
            timestamp: 0.0,
            rss_mb: 1.0,
            virtual_mb: 1.0,
            percent: 0.0,
            live: LiveObjects::default(),
        }
    }

    #[test]
    fn replacing_a_running_callback_waits_for_it() {
        let m = Arc::new(MemoryMonitor::new(0.001, Duration::from_secs(1)));
        let (entered_tx, entered) = crossbeam_channel::bounded(1);
        let finished = Arc::new(AtomicBool::new(false));
        let f = finished.clone();
        m.on_pressure(move |_| {
            let _ = entered_tx.send(());
            std::thread::sleep(Duration::from_millis(200));
            f.store(true, Ordering::SeqCst);
        });
        let runner = m.clone();
        let t = std::thread::spawn(move || runner.run_callback(&sample()));
        entered.recv_timeout(Duration::from_secs(10)).expect("the callback started");
        m.clear_on_pressure();
        assert!(finished.load(Ordering::SeqCst), "cleared only after the running callback returned");
        t.join().unwrap();
    }

    #[test]
    fn replacing_the_callback_from_inside_it_does_not_deadlock() {
        let m = Arc::new(MemoryMonitor::new(0.001, Duration::from_secs(1)));
        let second = Arc::new(AtomicU64::new(0));
        let (me, s) = (Arc::downgrade(&m), second.clone());
        m.on_pressure(move |_| {
            if let Some(m) = me.upgrade() {
                let s = s.clone();
                m.on_pressure(move |_| {
                    s.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        m.run_callback(&sample()); // replaces itself and returns
        assert_eq!(second.load(Ordering::SeqCst), 0, "the new callback runs from the next time on");
        m.run_callback(&sample());
        assert_eq!(second.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn only_held_objects_are_releasable() {
        assert!(
            !LiveObjects { open_sessions: 3, in_flight_calls: 2, pooled_objects: 4, ..Default::default() }
                .releasable()
        );
        assert!(LiveObjects { cache_entries: 1, ..Default::default() }.releasable());
        assert!(LiveObjects { cache_bytes: 1, ..Default::default() }.releasable());
        assert!(LiveObjects { idle_pooled_objects: 1, ..Default::default() }.releasable());
        assert!(LiveObjects { idle_sessions_above_min: 1, ..Default::default() }.releasable());
    }
}
