//! `mcpstore bench`: measure calls per second and latency against any service.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use mcpstore::{BatchOptions, CallOptions, Error, Store, ToolCall};
use mcpstore::{BenchmarkResult, PerformanceBenchmark, Workload};
use serde_json::{Map, Value, json};

use crate::args::{BenchArgs, BenchMode};
use crate::commands::{parse_arguments, render_stats};
use crate::progress;

/// How long a submitted call may take before the run gives up on it.
const SUBMIT_WAIT: Duration = Duration::from_secs(60);

/// What to measure.
pub struct BenchSpec {
    /// The tool.
    pub tool: String,
    /// Its arguments.
    pub arguments: Value,
    /// How many calls (ignored with a duration).
    pub calls: usize,
    /// Calls in flight at once.
    pub concurrency: usize,
    /// How the calls are issued.
    pub mode: BenchMode,
    /// Calls per batch (batch mode).
    pub batch_size: usize,
    /// Run this long instead of a number of calls.
    pub duration: Option<Duration>,
    /// Unmeasured calls first.
    pub warmup: usize,
    /// Bypass the result cache.
    pub no_cache: bool,
    /// Draw a progress bar (on a terminal).
    pub show_progress: bool,
}

impl BenchSpec {
    /// The spec of a `bench` command line.
    pub fn from_args(args: &BenchArgs) -> Result<BenchSpec, Error> {
        Ok(BenchSpec {
            tool: args.tool.clone(),
            arguments: parse_arguments(args.json_args.as_deref())?,
            calls: args.calls,
            concurrency: args.concurrency,
            mode: args.mode,
            batch_size: args.batch_size,
            duration: args.duration,
            warmup: args.warmup,
            no_cache: args.no_cache,
            show_progress: !args.json,
        })
    }

    fn options(&self) -> CallOptions {
        CallOptions { bypass_cache: self.no_cache, ..Default::default() }
    }

    /// One call of the workload (with the cache bypassed under `--no-cache`).
    fn call(&self) -> ToolCall {
        ToolCall { options: self.options(), ..ToolCall::new(self.tool.clone(), self.arguments.clone()) }
    }

    /// Whether the run should go on after `done` calls started at `start`.
    fn more(&self, done: usize, start: Instant) -> bool {
        match self.duration {
            Some(d) => start.elapsed() < d,
            None => done < self.calls,
        }
    }
}

/// Runs the benchmark and prints the figures (tables, or one JSON object with `--json`).
pub fn run(store: &Store, args: &BenchArgs) -> Result<ExitCode, Error> {
    let spec = BenchSpec::from_args(args)?;
    store.resolve_tool(&spec.tool)?;
    let bench = PerformanceBenchmark::new();
    let result = measure(store, &spec, &bench)?;
    if args.json {
        println!("{}", summary_json(store, &result));
    } else {
        print!("{}", bench.table());
        for (service, p) in store.pool_stats() {
            println!(
                "pool {service}: created {} reused {} failed {} evicted {} open {}",
                p.created, p.reused, p.failed, p.evicted, p.open
            );
        }
        let c = store.cache_stats();
        println!("cache: hits {} misses {} entries {}", c.hits, c.misses, c.entries);
    }
    if let Some(format) = args.stats {
        print!("{}", render_stats(store, format));
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the workload described by `spec` and records it in `bench`.
pub fn measure(
    store: &Store,
    spec: &BenchSpec,
    bench: &PerformanceBenchmark,
) -> Result<BenchmarkResult, Error> {
    let options = spec.options();
    for _ in 0..spec.warmup {
        let _ = store.call_tool_with(&spec.tool, spec.arguments.clone(), &options);
    }
    let name = format!("{} {} x{}", spec.tool, spec.mode.as_str(), spec.concurrency);
    let total = if spec.duration.is_some() { None } else { Some(spec.calls) };
    let bar = progress::bar(total, spec.show_progress);
    let result = match spec.mode {
        BenchMode::Batch => bench.record(run_batches(store, spec, &name, &bar)),
        BenchMode::Submit => bench.record(run_submitted(store, spec, &name, &bar)),
        BenchMode::Single => {
            let workload = spec.duration.map_or(Workload::Calls(spec.calls), Workload::Duration);
            let call = |_| {
                store.call_tool_with(&spec.tool, spec.arguments.clone(), &options).and_then(|r| {
                    if r.tool_error() { Err(Error::Internal("tool error".into())) } else { Ok(()) }
                })
            };
            let report = |n: usize| bar.set_position(n as u64);
            bench.run_concurrent(&name, workload, spec.concurrency, call, Some(&report))
        }
    };
    bar.finish_and_clear();
    Ok(result)
}

fn is_failure(r: &mcpstore::CallResult) -> bool {
    r.as_ref().map_or(true, |r| r.tool_error())
}

/// Batches of `batch_size` calls with `concurrency` workers; latency is per call, amortized.
fn run_batches(store: &Store, spec: &BenchSpec, name: &str, bar: &ProgressBar) -> BenchmarkResult {
    let options = BatchOptions { max_workers: Some(spec.concurrency), ..Default::default() };
    let mut latencies = Vec::new();
    let mut errors = 0;
    let start = Instant::now();
    while spec.more(latencies.len(), start) {
        let size = match spec.duration {
            Some(_) => spec.batch_size,
            None => spec.batch_size.min(spec.calls - latencies.len()),
        };
        let chunk: Vec<ToolCall> = (0..size).map(|_| spec.call()).collect();
        let t = Instant::now();
        let results = store.batch_call(&chunk, &options);
        let each = t.elapsed() / size.max(1) as u32;
        errors += results.iter().filter(|r| is_failure(r)).count();
        latencies.extend(std::iter::repeat_n(each, size));
        bar.set_position(latencies.len() as u64);
    }
    BenchmarkResult::from_latencies(name, latencies, errors, start.elapsed())
}

/// Background calls through a completion queue, `concurrency` outstanding at a time.
fn run_submitted(store: &Store, spec: &BenchSpec, name: &str, bar: &ProgressBar) -> BenchmarkResult {
    let queue = store.completion_queue();
    let call = spec.call();
    let mut started: Vec<Instant> = Vec::new();
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut outstanding = 0;
    let start = Instant::now();
    loop {
        while outstanding < spec.concurrency && spec.more(started.len(), start) {
            let tag = started.len() as u64;
            started.push(Instant::now());
            match queue.submit(call.clone(), tag) {
                Ok(()) => outstanding += 1,
                Err(_) => {
                    errors += 1;
                    latencies.push(Duration::ZERO);
                }
            }
        }
        if outstanding == 0 {
            break;
        }
        match queue.recv_timeout(SUBMIT_WAIT) {
            Ok(done) => {
                outstanding -= 1;
                let t0 = started.get(done.tag as usize).copied().unwrap_or(start);
                latencies.push(t0.elapsed());
                if is_failure(&done.result) {
                    errors += 1;
                }
                bar.set_position(latencies.len() as u64);
            }
            Err(_) => {
                // Calls that never came back count as failed ones that took the whole wait.
                latencies.extend(std::iter::repeat_n(SUBMIT_WAIT, outstanding));
                errors += outstanding;
                break;
            }
        }
    }
    BenchmarkResult::from_latencies(name, latencies, errors, start.elapsed())
}

/// The `--json` summary: exactly the documented keys.
pub fn summary_json(store: &Store, r: &BenchmarkResult) -> Value {
    let mut pool = Map::new();
    for (service, p) in store.pool_stats() {
        pool.insert(
            service,
            json!({"created": p.created, "reused": p.reused, "failed": p.failed, "evicted": p.evicted}),
        );
    }
    let c = store.cache_stats();
    let objects: Map<String, Value> = store
        .stats()
        .objects
        .into_iter()
        .map(|(name, s)| (name, serde_json::to_value(s).unwrap_or(Value::Null)))
        .collect();
    json!({
        "calls": r.iterations,
        "ok": r.iterations.saturating_sub(r.errors),
        "errors": r.errors,
        "elapsed_s": r.total_s,
        "calls_per_sec": r.calls_per_sec,
        "min_ms": r.min_ms,
        "avg_ms": r.avg_ms,
        "p50_ms": r.p50_ms,
        "p99_ms": r.p99_ms,
        "max_ms": r.max_ms,
        "success_rate": r.success_rate,
        "pool": pool,
        "cache": {"hits": c.hits, "misses": c.misses, "entries": c.entries},
        "objects": objects,
    })
}
