//! A long run that checks the library does not grow: `N` tool calls (default
//! 1,000,000) against the demo server over stdio and Streamable HTTP, as
//! single calls, batches and background calls (handles and callbacks), with
//! the result cache on (cache keys from a hot set of 500 that fits in the
//! cache and a cold one of 5,000 that does not: hits, misses, evictions) and
//! off (`bypass_cache`).
//!
//! Every 10,000 calls it samples this process's RSS (`VmRSS` of
//! `/proc/self/status`) and open file descriptors (`/proc/self/fd`), prints
//! the samples, and at the end the least-squares slope of both over the
//! samples after the first 10% (the warm-up). Every result is checked; any
//! error fails the run.
//!
//! Run: `cargo build --release --bins && cargo run --release --example soak -- [--calls N] [--demo PATH]`
//! (`--demo` defaults to `mcpstore-demo-server` next to the example's target directory).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mcpstore::{BatchOptions, CallOptions, PerformanceConfig, ServiceConfig, Store, ToolCall};
use serde_json::json;

/// Calls between two samples.
const SAMPLE_EVERY: u64 = 10_000;
/// Keys of cached calls: a hot set that fits in the cache (1,000 entries) and
/// a cold one that does not (hits, misses and evictions).
const HOT_KEYS: u64 = 500;
const COLD_KEYS: u64 = 5_000;
/// Calls of one round (see `round`); `SAMPLE_EVERY` is a multiple of it.
const ROUND: u64 = 20;

struct Args {
    calls: u64,
    demo: String,
}

fn usage() -> ! {
    eprintln!("usage: soak [--calls N] [--demo PATH]");
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut calls: u64 = 1_000_000;
    let mut demo = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--calls" => {
                calls = it.next().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or_else(|| usage())
            }
            "--demo" => demo = Some(it.next().unwrap_or_else(|| usage())),
            _ => usage(),
        }
    }
    let calls = calls.div_ceil(SAMPLE_EVERY).max(1) * SAMPLE_EVERY;
    let demo = demo.unwrap_or_else(|| {
        let exe = std::env::current_exe().expect("example path");
        let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
        dir.join("mcpstore-demo-server").to_string_lossy().into_owned()
    });
    Args { calls, demo }
}

/// The demo server over HTTP on a port it picks; killed on drop.
struct HttpDemo {
    child: Child,
    url: String,
}

impl HttpDemo {
    fn start(demo: &str) -> HttpDemo {
        let mut child = Command::new(demo)
            .args(["--http", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {demo}: {e}"));
        let mut lines = BufReader::new(child.stderr.take().expect("stderr piped")).lines();
        let url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some((_, url)) = line.split_once("listening on ") {
                        break url.trim().to_owned();
                    }
                }
                _ => panic!("{demo} --http exited before it said where it listens"),
            }
        };
        // Keep draining its stderr so that it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        HttpDemo { child, url }
    }
}

impl Drop for HttpDemo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One sample: calls done, seconds since the start, RSS in KiB, open descriptors.
#[derive(Clone, Copy)]
struct Sample {
    calls: u64,
    secs: f64,
    rss_kib: f64,
    fds: f64,
}

fn rss_kib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

fn open_fds() -> f64 {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count() as f64).unwrap_or(f64::NAN)
}

/// The least-squares slope of `y` over `x`.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 { 0.0 } else { sxy / sxx }
}

/// Counts and checks outcomes.
#[derive(Default)]
struct Tally {
    errors: AtomicU64,
    wrong: AtomicU64,
    cache_hits: AtomicU64,
}

impl Tally {
    fn check(&self, outcome: &mcpstore::CallResult, want: &str) {
        match outcome {
            Ok(out) => {
                if out.from_cache() {
                    self.cache_hits.fetch_add(1, Ordering::Relaxed);
                }
                if (out.is_error || out.text() != want) && self.wrong.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!("wrong result: want {want:?}, got {:?}", out.text());
                }
            }
            Err(e) => {
                if self.errors.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!("call failed: {e}");
                }
            }
        }
    }
}

/// How a call uses the cache.
#[derive(Clone, Copy, PartialEq)]
enum Cache {
    Off,
    Hot,
    Cold,
}

/// `k`-th variant of a round's calls: off, off, hot, cold.
fn mode(k: u64) -> Cache {
    [Cache::Off, Cache::Off, Cache::Hot, Cache::Cold][(k % 4) as usize]
}

/// The echo call `i` on `service`, with the cache on (a key) or off (bypassed).
fn echo(service: &str, i: u64, cache: Cache) -> (ToolCall, String) {
    let message = match cache {
        Cache::Off => format!("m{i}"),
        Cache::Hot => format!("h{}", i % HOT_KEYS),
        Cache::Cold => format!("c{}", i % COLD_KEYS),
    };
    let mut call = ToolCall::new(format!("{service}.echo"), json!({ "message": message }));
    if cache != Cache::Off {
        call.options.cache_key = Some(message.clone());
    } else {
        call.options.bypass_cache = true;
    }
    (call, message)
}

/// One round of `ROUND` calls: 4 single calls, a batch of 8, 8 background
/// calls (4 waited on through their handle, 4 with a callback as well),
/// over both transports, half of them through the cache.
fn round(store: &Store, n: u64, tally: &Arc<Tally>) {
    let services = ["stdio", "http"];
    // Single calls: each transport, cache on and off.
    let mut i = n;
    for service in services {
        for cache in [Cache::Off, Cache::Hot] {
            let (call, want) = echo(service, i, cache);
            let options: CallOptions = call.options.clone();
            tally.check(&store.call_tool_with(&call.tool, call.arguments, &options), &want);
            i += 1;
        }
    }
    // A batch of 8.
    let (calls, wants): (Vec<_>, Vec<_>) =
        (0..8).map(|k| echo(services[(k % 2) as usize], i + k, mode(k / 2))).unzip();
    i += 8;
    for (outcome, want) in store.batch_call(&calls, &BatchOptions::default()).iter().zip(&wants) {
        tally.check(outcome, want);
    }
    // 8 background calls.
    let mut handles = Vec::with_capacity(8);
    for k in 0..8 {
        let (call, want) = echo(services[(k % 2) as usize], i + k, mode(k / 2));
        let handle = if k < 4 {
            store.submit(call)
        } else {
            let (t, w) = (tally.clone(), want.clone());
            store.submit_with_callback(call, move |outcome| t.check(&outcome, &w))
        };
        match handle {
            Ok(h) => handles.push((h, want, k < 4)),
            Err(e) => tally.check(&Err(e), &want),
        }
    }
    for (h, want, check) in handles {
        let outcome = h.wait_timeout(Duration::from_secs(60));
        if check {
            tally.check(&outcome, &want);
        } else if let Err(e) = outcome {
            tally.check(&Err(e), &want);
        }
    }
}

fn main() -> Result<(), mcpstore::Error> {
    let args = parse_args();
    let http = HttpDemo::start(&args.demo);
    let mut perf = PerformanceConfig::new();
    perf.cache.enabled = true;
    let store = Store::builder().performance(perf).build()?;
    store.add_service("stdio", ServiceConfig::stdio(args.demo.clone(), Vec::<String>::new()))?;
    store.add_service("http", ServiceConfig::http(http.url.clone()))?;
    store.wait_ready(Duration::from_secs(30));

    println!("soak: {} calls against {} (stdio) and {} (HTTP)", args.calls, args.demo, http.url);
    println!("{:>10} {:>8} {:>10} {:>5}", "calls", "secs", "RSS KiB", "fds");
    let tally = Arc::new(Tally::default());
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut take_sample = |calls: u64| {
        let s = Sample { calls, secs: start.elapsed().as_secs_f64(), rss_kib: rss_kib(), fds: open_fds() };
        println!("{:>10} {:>8.1} {:>10.0} {:>5.0}", s.calls, s.secs, s.rss_kib, s.fds);
        samples.push(s);
    };
    take_sample(0);
    let mut done = 0;
    while done < args.calls {
        round(&store, done, &tally);
        done += ROUND;
        if done % SAMPLE_EVERY == 0 {
            take_sample(done);
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let stats = store.cache_stats();
    drop(store);
    drop(http);

    let warm = samples.len() / 10;
    let after: Vec<&Sample> = samples.iter().skip(warm.max(1)).collect();
    let per_100k = |f: fn(&Sample) -> f64| {
        let points: Vec<(f64, f64)> = after.iter().map(|s| (s.calls as f64, f(s))).collect();
        slope(&points) * 100_000.0
    };
    let (first, warmed, last) = (samples[0], *after[0], *samples.last().expect("samples"));
    println!();
    println!("{done} calls in {elapsed:.1} s ({:.0} calls/s)", done as f64 / elapsed);
    println!(
        "errors {}, wrong results {}, cache hits {} (cache: {} hits, {} misses, {} evictions)",
        tally.errors.load(Ordering::Relaxed),
        tally.wrong.load(Ordering::Relaxed),
        tally.cache_hits.load(Ordering::Relaxed),
        stats.hits,
        stats.misses,
        stats.evictions,
    );
    println!("{:>22} {:>10} {:>5}", "", "RSS KiB", "fds");
    println!("{:>22} {:>10.0} {:>5.0}", "start", first.rss_kib, first.fds);
    println!(
        "{:>22} {:>10.0} {:>5.0}",
        format!("after warm-up ({})", warmed.calls),
        warmed.rss_kib,
        warmed.fds
    );
    println!("{:>22} {:>10.0} {:>5.0}", "end", last.rss_kib, last.fds);
    println!(
        "slope after warm-up (least squares over {} samples): RSS {:+.1} KiB per 100k calls, fds {:+.3} per 100k calls",
        after.len(),
        per_100k(|s| s.rss_kib),
        per_100k(|s| s.fds),
    );
    let failed = tally.errors.load(Ordering::Relaxed) + tally.wrong.load(Ordering::Relaxed);
    if failed > 0 {
        eprintln!("soak: {failed} calls failed");
        std::process::exit(1);
    }
    Ok(())
}
