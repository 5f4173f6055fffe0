//! `mcpstore bench`: measure calls per second and latency against any service.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcpstore::bench::{BenchmarkResult, PerformanceBenchmark, Workload};
use mcpstore::{BatchOptions, CallOptions, Error, Store, ToolCall};
use serde_json::{Map, Value, json};

use crate::args::Options;
use crate::commands::parse_arguments;
use crate::progress::Progress;

/// A parsed `bench` command line.
pub struct BenchSpec {
    pub tool: String,
    pub arguments: Value,
    pub calls: usize,
    pub concurrency: usize,
    pub mode: String,
    pub batch_size: usize,
    pub duration: Option<Duration>,
    pub warmup: usize,
    pub no_cache: bool,
}

impl BenchSpec {
    fn parse(opts: &Options) -> Result<BenchSpec, Error> {
        let bad = |e: String| Error::InvalidArgument(e);
        let tool = opts.positional.first().cloned().ok_or_else(|| bad("bench needs a TOOL name".into()))?;
        if opts.positional.len() > 2 {
            return Err(bad("bench takes TOOL and at most one JSON_ARGS".into()));
        }
        let mode = opts.text("--mode").unwrap_or_else(|| "single".into());
        if !matches!(mode.as_str(), "single" | "batch" | "submit") {
            return Err(bad(format!("--mode must be single, batch or submit, not '{mode}'")));
        }
        let duration = match opts.text("--duration") {
            None => None,
            Some(s) => Some(
                s.parse::<f64>()
                    .ok()
                    .and_then(|v| Duration::try_from_secs_f64(v).ok())
                    .ok_or_else(|| bad(format!("--duration: invalid value '{s}'")))?,
            ),
        };
        Ok(BenchSpec {
            tool,
            arguments: parse_arguments(opts.positional.get(1))?,
            calls: opts.get("--calls", 1000usize).map_err(bad)?.max(1),
            concurrency: opts.get("--concurrency", 1usize).map_err(bad)?.max(1),
            mode,
            batch_size: opts.get("--batch-size", 100usize).map_err(bad)?.max(1),
            duration,
            warmup: opts.get("--warmup", 10usize).map_err(bad)?,
            no_cache: opts.flag("--no-cache"),
        })
    }
}

/// Runs the benchmark and prints the figures (a table, or one JSON object with `--json`).
pub fn run(store: &Store, args: &[String]) -> Result<ExitCode, Error> {
    let opts = Options::parse(
        args,
        &["--json", "--no-cache"],
        &["--calls", "--concurrency", "--mode", "--batch-size", "--duration", "--warmup", "--stats"],
    )
    .map_err(Error::InvalidArgument)?;
    let spec = BenchSpec::parse(&opts)?;
    let stats_format = opts.text("--stats");
    if let Some(f) = &stats_format
        && !matches!(f.as_str(), "json" | "prometheus" | "table")
    {
        return Err(Error::InvalidArgument(format!("--stats must be json, prometheus or table, not '{f}'")));
    }
    store.resolve_tool(&spec.tool)?;
    let bench = PerformanceBenchmark::new();
    let result = measure(store, &spec, &bench)?;
    if opts.flag("--json") {
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
    if let Some(format) = stats_format {
        print!("{}", crate::commands::render_stats(store, &format));
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the workload described by `spec` and records it in `bench`.
pub fn measure(
    store: &Store,
    spec: &BenchSpec,
    bench: &PerformanceBenchmark,
) -> Result<BenchmarkResult, Error> {
    let options = CallOptions { bypass_cache: spec.no_cache, ..Default::default() };
    for _ in 0..spec.warmup {
        let _ = store.call_tool_with(&spec.tool, &spec.arguments, &options);
    }
    let name = format!("{} {} x{}", spec.tool, spec.mode, spec.concurrency);
    let progress = Progress::new(if spec.duration.is_some() { None } else { Some(spec.calls) });
    let result = match spec.mode.as_str() {
        "batch" => run_batches(store, spec, &name, &progress),
        "submit" => run_submitted(store, spec, &name, &progress),
        _ => {
            let workload = spec.duration.map_or(Workload::Calls(spec.calls), Workload::Duration);
            let call = |_| {
                store
                    .call_tool_with(&spec.tool, &spec.arguments, &options)
                    .and_then(|r| if r.is_error { Err(Error::Internal("tool error".into())) } else { Ok(()) })
            };
            let report = |n: usize| progress.update(n);
            bench.run_concurrent(&name, workload, spec.concurrency, call, Some(&report))
        }
    };
    progress.finish();
    Ok(if spec.mode == "single" { result } else { bench.record(result) })
}

fn is_failure(r: &mcpstore::CallResult) -> bool {
    r.as_ref().map_or(true, |r| r.is_error)
}

/// Batches of `batch_size` calls with `concurrency` workers; latency is per call, amortized.
fn run_batches(store: &Store, spec: &BenchSpec, name: &str, progress: &Progress) -> BenchmarkResult {
    let calls: Vec<ToolCall> =
        (0..spec.calls).map(|_| ToolCall::new(spec.tool.clone(), spec.arguments.clone())).collect();
    let options = BatchOptions { max_workers: Some(spec.concurrency), ..Default::default() };
    let mut latencies = Vec::with_capacity(spec.calls);
    let mut errors = 0;
    let start = Instant::now();
    for chunk in calls.chunks(spec.batch_size) {
        let t = Instant::now();
        let results = store.batch_call(chunk, &options);
        let each = t.elapsed() / chunk.len() as u32;
        errors += results.iter().filter(|r| is_failure(r)).count();
        latencies.extend(std::iter::repeat_n(each, chunk.len()));
        progress.update(latencies.len());
    }
    BenchmarkResult::from_latencies(name, latencies, errors, start.elapsed())
}

/// Background calls through a completion queue, `concurrency` outstanding at a time.
fn run_submitted(store: &Store, spec: &BenchSpec, name: &str, progress: &Progress) -> BenchmarkResult {
    let queue = store.completion_queue();
    let mut started: Vec<Option<Instant>> = vec![None; spec.calls];
    let mut latencies = Vec::with_capacity(spec.calls);
    let mut errors = 0;
    let mut next = 0;
    let start = Instant::now();
    let call = Arc::new(ToolCall::new(spec.tool.clone(), spec.arguments.clone()));
    while latencies.len() + errors_not_started(next, spec.calls) < spec.calls {
        while next < spec.calls && next - latencies.len() < spec.concurrency {
            started[next] = Some(Instant::now());
            if queue.submit((*call).clone(), next as u64).is_err() {
                errors += 1;
                latencies.push(Duration::ZERO);
            }
            next += 1;
        }
        match queue.recv_timeout(Duration::from_secs(60)) {
            Ok(done) => {
                let t0 = started[done.tag as usize].unwrap_or(start);
                latencies.push(t0.elapsed());
                if is_failure(&done.result) {
                    errors += 1;
                }
                progress.update(latencies.len());
            }
            Err(_) => break,
        }
    }
    BenchmarkResult::from_latencies(name, latencies, errors, start.elapsed())
}

fn errors_not_started(_next: usize, _total: usize) -> usize {
    0
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
    let objects: Map<String, Value> = mcpstore::pool::object_pool_stats()
        .into_iter()
        .map(|(name, s)| (name.to_owned(), serde_json::to_value(s).unwrap_or(Value::Null)))
        .collect();
    json!({
        "calls": r.iterations,
        "ok": r.iterations - r.errors,
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
