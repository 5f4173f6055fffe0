//! The benchmark facility: run a closure many times (on one or many threads)
//! and record iterations, errors, success rate and latency percentiles.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;

/// The figures of one benchmark run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchmarkResult {
    /// The run's name.
    pub name: String,
    /// Calls made.
    pub iterations: usize,
    /// Calls that returned an error.
    pub errors: usize,
    /// `(iterations - errors) / iterations`, from 0 to 1.
    pub success_rate: f64,
    /// Wall time of the whole run, in seconds.
    pub total_s: f64,
    /// Calls per second of wall time.
    pub calls_per_sec: f64,
    /// Mean latency, in milliseconds.
    pub avg_ms: f64,
    /// Fastest call, in milliseconds.
    pub min_ms: f64,
    /// Slowest call, in milliseconds.
    pub max_ms: f64,
    /// Median latency, in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, in milliseconds.
    pub p99_ms: f64,
}

impl BenchmarkResult {
    /// Computes the figures from per-call latencies.
    pub fn from_latencies(name: &str, mut latencies: Vec<Duration>, errors: usize, total: Duration) -> Self {
        latencies.sort_unstable();
        let n = latencies.len();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let pct = |p: f64| -> f64 {
            if n == 0 {
                return 0.0;
            }
            let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
            ms(latencies[rank - 1])
        };
        let sum: Duration = latencies.iter().sum();
        BenchmarkResult {
            name: name.to_owned(),
            iterations: n,
            errors,
            success_rate: if n == 0 { 0.0 } else { (n - errors) as f64 / n as f64 },
            total_s: total.as_secs_f64(),
            calls_per_sec: if total.is_zero() { 0.0 } else { n as f64 / total.as_secs_f64() },
            avg_ms: if n == 0 { 0.0 } else { ms(sum) / n as f64 },
            min_ms: latencies.first().map_or(0.0, |d| ms(*d)),
            max_ms: latencies.last().map_or(0.0, |d| ms(*d)),
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
        }
    }
}

/// Runs named benchmarks and keeps their results for a table.
#[derive(Default)]
pub struct PerformanceBenchmark {
    results: Mutex<Vec<BenchmarkResult>>,
}

/// How a concurrent run is bounded.
#[derive(Debug, Clone, Copy)]
pub enum Workload {
    /// Exactly this many calls.
    Calls(usize),
    /// As many calls as fit in this time.
    Duration(Duration),
}

impl PerformanceBenchmark {
    /// An empty benchmark set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `f(i)` for `i` in `0..iterations` on this thread.
    pub fn run<T, E>(
        &self,
        name: &str,
        iterations: usize,
        mut f: impl FnMut(usize) -> Result<T, E>,
    ) -> BenchmarkResult {
        let mut latencies = Vec::with_capacity(iterations);
        let mut errors = 0;
        let start = Instant::now();
        for i in 0..iterations {
            let t = Instant::now();
            if f(i).is_err() {
                errors += 1;
            }
            latencies.push(t.elapsed());
        }
        self.record(BenchmarkResult::from_latencies(name, latencies, errors, start.elapsed()))
    }

    /// Runs `f(i)` on `threads` threads until the workload is done;
    /// `progress` is called with the number of calls finished so far.
    pub fn run_concurrent<T, E>(
        &self,
        name: &str,
        workload: Workload,
        threads: usize,
        f: impl Fn(usize) -> Result<T, E> + Sync,
        progress: Option<&(dyn Fn(usize) + Sync)>,
    ) -> BenchmarkResult {
        let next = AtomicUsize::new(0);
        let done = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let errors = AtomicUsize::new(0);
        let all = Mutex::new(Vec::new());
        let start = Instant::now();
        let end = match workload {
            Workload::Duration(d) => Some(start + d),
            Workload::Calls(_) => None,
        };
        let limit = match workload {
            Workload::Calls(n) => n,
            Workload::Duration(_) => usize::MAX,
        };
        std::thread::scope(|s| {
            for _ in 0..threads.max(1) {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= limit || end.is_some_and(|e| Instant::now() >= e) {
                            break;
                        }
                        let t = Instant::now();
                        if f(i).is_err() {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                        mine.push(t.elapsed());
                        let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if let Some(p) = progress
                            && finished.is_multiple_of(64)
                        {
                            p(finished);
                        }
                    }
                    all.lock().extend(mine);
                });
            }
        });
        stop.store(true, Ordering::Relaxed);
        let total = start.elapsed();
        let latencies = std::mem::take(&mut *all.lock());
        self.record(BenchmarkResult::from_latencies(name, latencies, errors.load(Ordering::Relaxed), total))
    }

    /// Adds a result computed elsewhere.
    pub fn record(&self, result: BenchmarkResult) -> BenchmarkResult {
        self.results.lock().push(result.clone());
        result
    }

    /// Every result so far, in run order.
    pub fn results(&self) -> Vec<BenchmarkResult> {
        self.results.lock().clone()
    }

    /// The results as a text table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<28} {:>9} {:>7} {:>8} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "benchmark",
            "calls",
            "errors",
            "success",
            "calls/s",
            "avg ms",
            "min ms",
            "p50 ms",
            "p99 ms",
            "max ms"
        );
        for r in self.results.lock().iter() {
            let _ = writeln!(
                out,
                "{:<28} {:>9} {:>7} {:>7.1}% {:>11.1} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                r.name,
                r.iterations,
                r.errors,
                r.success_rate * 100.0,
                r.calls_per_sec,
                r.avg_ms,
                r.min_ms,
                r.p50_ms,
                r.p99_ms,
                r.max_ms
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_errors_of_every_third_call() {
        let b = PerformanceBenchmark::new();
        let r = b.run("thirds", 30, |i| if i % 3 == 2 { Err(()) } else { Ok(()) });
        assert_eq!(r.iterations, 30);
        assert_eq!(r.errors, 10);
        assert!((r.success_rate - 20.0 / 30.0).abs() < 1e-9);
        assert!(r.min_ms <= r.p50_ms && r.p50_ms <= r.p99_ms && r.p99_ms <= r.max_ms);
        let c = b.run_concurrent(
            "c",
            Workload::Calls(300),
            4,
            |i| if i % 3 == 2 { Err(()) } else { Ok(()) },
            None,
        );
        assert_eq!((c.iterations, c.errors), (300, 100));
        assert_eq!(b.results().len(), 2);
        assert!(b.table().contains("thirds"));
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let lat: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let r = BenchmarkResult::from_latencies("x", lat, 0, Duration::from_secs(1));
        assert_eq!(r.p50_ms, 50.0);
        assert_eq!(r.p99_ms, 99.0);
        assert_eq!(r.max_ms, 100.0);
        assert_eq!(r.calls_per_sec, 100.0);
    }
}
