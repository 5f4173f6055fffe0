//! Batches: many calls, bounded parallelism, results in input order.
//!
//! Cached results are served without a call and identical cacheable calls run
//! once. Calls to stdio services are pipelined: the calling thread writes a
//! window of requests down the pipe back to back and collects the replies as
//! they arrive, so a batch needs no thread per call. Other calls run on the
//! store's workers, with the calling thread taking part (so a batch started
//! from a worker can never deadlock waiting for busy workers).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;

use super::{CallResult, ToolCall};
use crate::error::{Error, TimeoutPhase};
use crate::servers::TransportConfig;
use crate::session::parse_tool_result;
use crate::store::{CallOptions, StoreInner, ToolRef};

/// Options of one batch; `None` uses the store's `batch` settings.
#[derive(Debug, Clone, Default)]
pub struct BatchOptions {
    /// Requests written down a pipe back to back in one go (`default_batch_size`).
    pub batch_size: Option<usize>,
    /// The most calls in flight at once (`max_workers`).
    pub max_workers: Option<usize>,
    /// Overall limit of the batch (`call_timeout`).
    pub timeout: Option<Duration>,
}

struct Job {
    index: usize,
    target: ToolRef,
    cache_key: Option<String>,
}

/// Runs a batch; one result per call, in input order.
pub(crate) fn run_batch(
    store: &Arc<StoreInner>,
    calls: &[ToolCall],
    options: &BatchOptions,
) -> Vec<CallResult> {
    let cfg = store.config();
    let workers = options.max_workers.unwrap_or_else(|| cfg.batch.workers()).max(1);
    let chunk = options.batch_size.unwrap_or(cfg.batch.default_batch_size).max(1);
    let timeout = options.timeout.unwrap_or(cfg.batch.call_timeout);
    let deadline = crate::session::deadline_after(timeout);

    let mut results: Vec<Option<CallResult>> = vec![None; calls.len()];
    let mut first_by_key: HashMap<String, usize> = HashMap::new();
    let mut duplicates: Vec<(usize, usize)> = Vec::new();
    let mut piped: HashMap<String, Vec<Job>> = HashMap::new();
    let mut parallel: Vec<Job> = Vec::new();

    for (index, call) in calls.iter().enumerate() {
        let target = match store.resolve(&call.tool) {
            Ok(t) => t,
            Err(e) => {
                results[index] = Some(Err(e));
                continue;
            }
        };
        if !call.arguments.is_object() {
            results[index] = Some(Err(Error::InvalidArgument("tool arguments must be a JSON object".into())));
            continue;
        }
        let cache_key = store.cache_key_for(&target, &call.arguments, call.cache_key.as_deref());
        if let Some(key) = &cache_key {
            if let Some(hit) = store.cache_lookup(&target, key) {
                results[index] = Some(Ok(hit));
                continue;
            }
            if let Some(&first) = first_by_key.get(key) {
                duplicates.push((index, first));
                continue;
            }
            first_by_key.insert(key.clone(), index);
        }
        let job = Job { index, target, cache_key };
        if matches!(job.target.service.config().transport, TransportConfig::Stdio { .. }) {
            piped.entry(job.target.service.name().to_owned()).or_default().push(job);
        } else {
            parallel.push(job);
        }
    }

    for (_, jobs) in piped {
        let leftovers = pipeline(store, calls, jobs, workers, chunk, deadline, &mut results);
        parallel.extend(leftovers);
    }
    run_parallel(store, calls, parallel, workers, deadline, &mut results);

    for (index, first) in duplicates {
        results[index] = results[first].clone();
    }
    results.into_iter().map(|r| r.unwrap_or(Err(Error::Internal("batch item lost".into())))).collect()
}

/// Pipelines one stdio service's jobs on one session; returns the jobs that
/// must go the regular way (the session could not take them).
fn pipeline(
    store: &Arc<StoreInner>,
    calls: &[ToolCall],
    jobs: Vec<Job>,
    workers: usize,
    chunk: usize,
    deadline: Instant,
    results: &mut [Option<CallResult>],
) -> Vec<Job> {
    let Some(first) = jobs.first() else {
        return Vec::new();
    };
    let service = first.target.service.clone();
    let pool_cfg = service.pool().config();
    let window = workers.min(pool_cfg.max_in_flight_per_connection).max(1);
    let mut lease = match service.pool().acquire() {
        Ok(l) => l,
        Err(_) => return jobs, // the regular path retries and reports per call
    };
    lease.reserve_extra(window - 1);
    let session = lease.session().clone();
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut by_index: HashMap<usize, (i64, &Job)> = HashMap::new();
    let mut leftovers = Vec::new();
    let mut next = 0;
    let mut last_progress = Instant::now();
    while next < jobs.len() || !by_index.is_empty() {
        while by_index.len() < window && next < jobs.len() {
            let take = (window - by_index.len()).min(chunk).min(jobs.len() - next);
            let slice = &jobs[next..next + take];
            next += take;
            let requests: Vec<(usize, &str, &serde_json::Value)> = slice
                .iter()
                .map(|j| (j.index, j.target.tool.name.as_str(), &calls[j.index].arguments))
                .collect();
            match session.start_tool_calls(&requests, &tx) {
                Ok(ids) => {
                    for (job, id) in slice.iter().zip(ids) {
                        by_index.insert(job.index, (id, job));
                    }
                }
                Err(e) => {
                    for job in slice {
                        if e.may_have_executed() {
                            results[job.index] = Some(Err(e.clone()));
                        } else {
                            leftovers.push(clone_job(job));
                        }
                    }
                }
            }
        }
        if by_index.is_empty() {
            continue;
        }
        let wait_until = deadline.min(last_progress + pool_cfg.read_timeout);
        match rx.recv_deadline(wait_until) {
            Ok((index, reply)) => {
                last_progress = Instant::now();
                let Some((_, job)) = by_index.remove(&index) else {
                    continue;
                };
                match reply.and_then(|raw| parse_tool_result(&raw)) {
                    Ok(result) => {
                        let result = Arc::new(result);
                        if let Some(key) = &job.cache_key {
                            store.cache_insert(&job.target, key.clone(), result.clone());
                        }
                        results[index] = Some(Ok(result));
                    }
                    Err(e)
                        if e.is_retryable()
                            && (!e.may_have_executed() || job.target.tool.is_retry_safe()) =>
                    {
                        leftovers.push(clone_job(job));
                    }
                    Err(e) => results[index] = Some(Err(e)),
                }
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                let after = pool_cfg.read_timeout.min(deadline.saturating_duration_since(last_progress));
                for (index, (id, _)) in by_index.drain() {
                    session.abandon_request(id);
                    results[index] = Some(Err(Error::Timeout { phase: TimeoutPhase::Response, after }));
                }
                lease.mark_suspect();
                for job in &jobs[next..] {
                    results[job.index] = Some(Err(Error::Timeout { phase: TimeoutPhase::Wait, after }));
                }
                next = jobs.len();
            }
        }
    }
    leftovers
}

fn clone_job(job: &Job) -> Job {
    Job { index: job.index, target: job.target.clone(), cache_key: job.cache_key.clone() }
}

/// Runs jobs on up to `workers` threads (the caller included), each call with retries.
fn run_parallel(
    store: &Arc<StoreInner>,
    calls: &[ToolCall],
    jobs: Vec<Job>,
    workers: usize,
    deadline: Instant,
    results: &mut [Option<CallResult>],
) {
    if jobs.is_empty() {
        return;
    }
    let jobs = Arc::new(jobs);
    let arguments: Arc<Vec<serde_json::Value>> =
        Arc::new(jobs.iter().map(|j| calls[j.index].arguments.clone()).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = crossbeam_channel::unbounded::<(usize, CallResult)>();
    let work = {
        let store = store.clone();
        let jobs = jobs.clone();
        let arguments = arguments.clone();
        let next = next.clone();
        move |tx: crossbeam_channel::Sender<(usize, CallResult)>| {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { return };
                let remaining = deadline.saturating_duration_since(Instant::now());
                let result = if remaining.is_zero() {
                    Err(Error::Timeout { phase: TimeoutPhase::Wait, after: Duration::ZERO })
                } else {
                    let options = CallOptions { timeout: Some(remaining), ..Default::default() };
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        store.invoke_cached(&job.target, &arguments[i], &options, job.cache_key.clone())
                    }))
                    .unwrap_or_else(|_| Err(Error::Internal("a batch call panicked".into())))
                };
                if tx.send((job.index, result)).is_err() {
                    return;
                }
            }
        }
    };
    let helpers = workers.min(jobs.len()).saturating_sub(1);
    if helpers > 0 {
        match store.executor() {
            Ok(exec) => {
                for _ in 0..helpers {
                    let w = work.clone();
                    let tx = tx.clone();
                    exec.spawn(move || w(tx));
                }
            }
            Err(e) => log::warn!(target: "mcpstore::exec", "batch runs on the calling thread only: {e}"),
        }
    }
    work(tx.clone());
    drop(tx);
    let mut received = 0;
    while received < jobs.len() {
        match rx.recv_deadline(deadline.checked_add(Duration::from_millis(100)).unwrap_or(deadline)) {
            Ok((index, result)) => {
                results[index] = Some(result);
                received += 1;
            }
            Err(_) => break,
        }
    }
    for job in jobs.iter() {
        if results[job.index].is_none() {
            results[job.index] =
                Some(Err(Error::Timeout { phase: TimeoutPhase::Wait, after: Duration::ZERO }));
        }
    }
}
