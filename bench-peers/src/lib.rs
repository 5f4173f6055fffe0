//! What the bench binaries share: command-line flags, CPU time from
//! `getrusage`, percentiles and the one-line JSON report.

use std::time::Duration;

/// The value after `--name` in `args`, if present.
pub fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

/// A numeric flag, or `default` when absent; exits with a message when malformed.
pub fn num_flag(args: &[String], name: &str, default: usize) -> usize {
    match flag(args, name) {
        None => default,
        Some(v) => v.parse().unwrap_or_else(|_| fail(&format!("{name}: not a number: {v}"))),
    }
}

/// Prints `message` to stderr and exits with status 2.
pub fn fail(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(2)
}

/// User + system CPU time of this process so far, in microseconds (all threads,
/// children excluded: the server's work is not the client's).
pub fn cpu_us() -> u64 {
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    us(ru.ru_utime) + us(ru.ru_stime)
}

/// The figures of one run, printed as one JSON line.
pub struct Report {
    pub client: &'static str,
    pub concurrency: usize,
    pub errors: usize,
    pub elapsed: Duration,
    /// CPU microseconds spent during the measured calls (not startup).
    pub cpu_us: u64,
    pub latencies: Vec<Duration>,
}

impl Report {
    /// Nearest-rank percentile (`p` in 0..=1) in milliseconds, as mcpstore's bench computes it.
    fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1].as_secs_f64() * 1000.0
    }

    pub fn print(mut self) {
        self.latencies.sort_unstable();
        let calls = self.latencies.len();
        let seconds = self.elapsed.as_secs_f64();
        let json = serde_json::json!({
            "client": self.client,
            "calls": calls,
            "concurrency": self.concurrency,
            "errors": self.errors,
            "seconds": seconds,
            "calls_per_s": calls as f64 / seconds,
            "p50_ms": Self::percentile_ms(&self.latencies, 0.50),
            "p99_ms": Self::percentile_ms(&self.latencies, 0.99),
            "cpu_us_per_call": self.cpu_us as f64 / calls.max(1) as f64,
        });
        println!("{json}");
    }
}
