//! Batches: many calls, bounded parallelism, results in input order.
//!
//! Cached results are served without a call and identical cacheable calls run
//! once. Every service's calls run at the same time as every other's:
//!
//! - a stdio service's calls are pipelined in *lanes*: a lane holds one
//!   session and keeps a window of requests in flight on its pipe; a service
//!   gets as many lanes as its calls need, up to `max_connections`, each
//!   within `max_in_flight_per_connection`;
//! - other calls (HTTP) each take a thread for their blocking request.
//!
//! Lanes and HTTP runners are tasks taken from one list by the calling thread
//! and by the store's workers, so a batch started from a worker never waits
//! for work queued behind busy workers. No item fails before the batch's
//! deadline unless its own request failed or passed its own read timeout.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{RecvTimeoutError, Sender};
use parking_lot::Mutex;
use serde_json::value::RawValue;

use super::cached::CachePlan;
use super::call::checked_arguments;
use super::retry::repeat_safe;
use super::{StoreInner, ToolRef};
use crate::call_options::CallOptions;
use crate::config::TransportConfig;
use crate::error::{Error, Result, TimeoutPhase};
use crate::exec::{CallResult, ToolCall, ToolOutput};
use crate::protocol::tool_result_shape::ToolResultShape;
use crate::session::Session;
use crate::transport::ReadHere;
use crate::util::IdMap;

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

/// One call to run.
struct Job {
    index: usize,
    target: ToolRef,
    plan: Option<CachePlan>,
}

/// What every task of one batch shares (cheap to clone for the workers).
#[derive(Clone)]
struct Batch<'a> {
    store: Arc<StoreInner>,
    calls: Calls<'a>,
    deadline: Instant,
    timeout: Duration,
    chunk: usize,
    done: Sender<(usize, CallResult)>,
}

/// The batch's calls: borrowed from the caller while only its thread runs
/// them, copied once into a shared list when the store's workers help.
#[derive(Clone)]
enum Calls<'a> {
    Borrowed(&'a [ToolCall]),
    Shared(Arc<[ToolCall]>),
}

impl std::ops::Deref for Calls<'_> {
    type Target = [ToolCall];

    fn deref(&self) -> &[ToolCall] {
        match self {
            Calls::Borrowed(calls) => calls,
            Calls::Shared(calls) => calls,
        }
    }
}

impl Batch<'_> {
    /// The same batch, owning its calls, for the store's workers.
    fn shared(&self) -> Batch<'static> {
        let calls = match &self.calls {
            Calls::Borrowed(calls) => Arc::from(*calls),
            Calls::Shared(calls) => calls.clone(),
        };
        Batch {
            store: self.store.clone(),
            calls: Calls::Shared(calls),
            deadline: self.deadline,
            timeout: self.timeout,
            chunk: self.chunk,
            done: self.done.clone(),
        }
    }
}

/// The pipelined calls of one stdio service, taken by its lanes as they have room.
struct ServiceQueue {
    jobs: Mutex<VecDeque<Job>>,
    window: usize,
}

enum Task {
    /// One session of a stdio service, pipelining from the service's queue.
    Lane(Arc<ServiceQueue>),
    /// A thread running calls one at a time from the shared queue of the rest.
    Runner(Arc<Mutex<VecDeque<Job>>>),
}

/// Runs a batch; one result per call, in input order.
pub(crate) fn run_batch(
    store: &Arc<StoreInner>,
    calls: &[ToolCall],
    options: &BatchOptions,
) -> Vec<CallResult> {
    let cfg = store.config();
    let workers = options.max_workers.unwrap_or_else(|| cfg.batch.workers()).max(1);
    let timeout = options.timeout.unwrap_or(cfg.batch.call_timeout);
    let deadline = crate::util::deadline_after(timeout);
    let mut results: Vec<Option<CallResult>> = vec![None; calls.len()];

    let (piped, others, duplicates) = plan(store, calls, deadline, &mut results);
    let mut tasks = Vec::new();
    for jobs in piped.into_values() {
        tasks.extend(lanes(jobs, workers));
    }
    let runners = others.len().min(workers);
    let shared = Arc::new(Mutex::new(VecDeque::from(others)));
    tasks.extend((0..runners).map(|_| Task::Runner(shared.clone())));

    let (tx, rx) = crossbeam_channel::unbounded();
    let expected = results.iter().filter(|r| r.is_none()).count() - duplicates.len();
    let chunk = options.batch_size.unwrap_or(cfg.batch.default_batch_size).max(1);
    let batch =
        Batch { store: store.clone(), calls: Calls::Borrowed(calls), deadline, timeout, chunk, done: tx };
    run_tasks(&batch, tasks);
    drop(batch);

    let mut received = 0;
    let slack = deadline.checked_add(Duration::from_millis(200)).unwrap_or(deadline);
    while received < expected {
        match rx.recv_deadline(slack) {
            Ok((index, result)) => {
                results[index] = Some(result);
                received += 1;
            }
            Err(_) => break,
        }
    }
    for (index, first) in duplicates {
        results[index] = results[first].clone();
    }
    results.into_iter().map(|r| r.unwrap_or(Err(Error::timeout(TimeoutPhase::Wait, timeout)))).collect()
}

/// The jobs of the batch: resolved, checked, served from the cache when they
/// may, identical cacheable calls merged. Returns the pipelined jobs by
/// service, the others, and the duplicates as `(index, index it copies)`.
#[allow(clippy::type_complexity)]
fn plan(
    store: &Arc<StoreInner>,
    calls: &[ToolCall],
    deadline: Instant,
    results: &mut [Option<CallResult>],
) -> (HashMap<String, Vec<Job>>, Vec<Job>, Vec<(usize, usize)>) {
    let mut first_by_key: HashMap<String, usize> = HashMap::new();
    let mut duplicates = Vec::new();
    let mut piped: HashMap<String, Vec<Job>> = HashMap::new();
    let mut others = Vec::new();
    for (index, call) in calls.iter().enumerate() {
        let target = match store.resolve(&call.tool, deadline) {
            Ok(t) => t,
            Err(e) => {
                results[index] = Some(Err(e));
                continue;
            }
        };
        let arguments = match checked_arguments(&call.arguments) {
            Ok(a) => a,
            Err(e) => {
                results[index] = Some(Err(e));
                continue;
            }
        };
        let plan = store.cache_plan(&target, arguments, &call.options);
        if let Some(p) = &plan {
            if let Some(hit) = store.cache_lookup(&target, p) {
                target.metrics.record_cache_hit();
                results[index] = Some(Ok(hit));
                continue;
            }
            if let Some(&first) = first_by_key.get(&p.key) {
                duplicates.push((index, first));
                continue;
            }
            first_by_key.insert(p.key.clone(), index);
        }
        let job = Job { index, target, plan };
        if pipelines(&job, &call.options) {
            // The service's name is copied once per batch, not once per call.
            match piped.get_mut(job.target.service.name()) {
                Some(jobs) => jobs.push(job),
                None => {
                    piped.insert(job.target.service.name().to_owned(), vec![job]);
                }
            }
        } else {
            others.push(job);
        }
    }
    (piped, others, duplicates)
}

/// Whether a call goes down a stdio pipe with others: its own timeout,
/// cancellation or progress callback need the regular path.
fn pipelines(job: &Job, options: &CallOptions) -> bool {
    matches!(job.target.service.config().transport, TransportConfig::Stdio(_))
        && options.timeout.is_none()
        && options.cancel.is_none()
        && options.progress.is_none()
}

/// The lanes of one stdio service: enough sessions to keep `workers` calls in
/// flight, each within the in-flight limit, at most `max_connections`.
fn lanes(jobs: Vec<Job>, workers: usize) -> Vec<Task> {
    let Some(first) = jobs.first() else { return Vec::new() };
    let cfg = first.target.service.pool().config();
    let in_flight = jobs.len().min(workers).max(1);
    let per_session = cfg.max_in_flight_per_connection.max(1);
    let count = in_flight.div_ceil(per_session).clamp(1, cfg.max_connections.max(1));
    let window = in_flight.div_ceil(count).max(1);
    let queue = Arc::new(ServiceQueue { jobs: Mutex::new(VecDeque::from(jobs)), window });
    (0..count).map(|_| Task::Lane(queue.clone())).collect()
}

/// Runs the tasks on the calling thread and the store's workers: each takes
/// the next task not yet started until none is left.
fn run_tasks(batch: &Batch<'_>, tasks: Vec<Task>) {
    if tasks.is_empty() {
        return;
    }
    let tasks: Arc<Vec<Task>> = Arc::new(tasks);
    let next = Arc::new(AtomicUsize::new(0));
    let helpers = tasks.len() - 1;
    if helpers > 0 {
        match batch.store.executor() {
            Ok(exec) => {
                let shared = batch.shared();
                for _ in 0..helpers {
                    let (tasks, next, batch) = (tasks.clone(), next.clone(), shared.clone());
                    exec.spawn(move || take_tasks(&batch, &tasks, &next));
                }
            }
            Err(e) => log::warn!(target: "mcpstore::exec", "batch runs on the calling thread only: {e}"),
        }
    }
    take_tasks(batch, &tasks, &next);
}

fn take_tasks(batch: &Batch<'_>, tasks: &[Task], next: &AtomicUsize) {
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(task) = tasks.get(i) else { return };
        // A bug in one task must not lose the others' results or hang the batch.
        let run = std::panic::AssertUnwindSafe(|| match task {
            Task::Lane(queue) => run_lane(batch, queue),
            Task::Runner(queue) => run_singles(batch, queue),
        });
        if std::panic::catch_unwind(run).is_err() {
            log::error!(target: "mcpstore::exec", "a batch task panicked; its calls fail with a timeout");
        }
    }
}

/// Runs calls one at a time through the regular path (retries included).
fn run_singles(batch: &Batch<'_>, queue: &Mutex<VecDeque<Job>>) {
    loop {
        let Some(job) = queue.lock().pop_front() else { return };
        let result = invoke(batch, &job);
        if batch.done.send((job.index, result)).is_err() {
            return;
        }
    }
}

/// One call through the regular path, within what is left of the batch.
fn invoke(batch: &Batch<'_>, job: &Job) -> CallResult {
    if Instant::now() >= batch.deadline {
        return Err(Error::timeout(TimeoutPhase::Wait, batch.timeout));
    }
    let options = &batch.calls[job.index].options;
    let arguments = checked_arguments(&batch.calls[job.index].arguments)?;
    batch.store.invoke(&job.target, arguments, options, batch.deadline, batch.timeout, job.plan.as_ref())
}

/// A pipelined request on the wire: its job and when it stops waiting.
struct Sent {
    id: i64,
    job: Job,
    gives_up: Instant,
}

/// One lane: a session of the service, a window of requests in flight on it,
/// refilled from the service's queue as replies arrive.
fn run_lane(batch: &Batch<'_>, queue: &ServiceQueue) {
    let Some(first_service) = queue.jobs.lock().front().map(|j| j.target.service.clone()) else { return };
    let pool = first_service.pool();
    let read_timeout = pool.config().read_timeout;
    let mut lease = match pool.acquire_until(Some(batch.deadline)) {
        Ok(l) => l,
        // No session for this lane: its calls take the regular path (retries, errors per call).
        Err(_) => return drain_regular(batch, queue),
    };
    lease.reserve_extra(queue.window - 1);
    let session = lease.session().clone();
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut sent: IdMap<usize, Sent> = IdMap::default();
    let mut leftovers = Vec::new();
    // Over stdio the lane reads its replies itself: no hand-off per reply.
    let mut lead = session.lead_reads();
    loop {
        // Fill the window.
        while sent.len() < queue.window {
            let take = (queue.window - sent.len()).min(batch.chunk);
            let slice: Vec<Job> = {
                let mut q = queue.jobs.lock();
                let n = take.min(q.len());
                q.drain(..n).collect()
            };
            if slice.is_empty() {
                break;
            }
            let requests: Vec<(usize, &str, &serde_json::Value)> = slice
                .iter()
                .map(|j| (j.index, j.target.tool.name.as_str(), &batch.calls[j.index].arguments))
                .collect();
            let gives_up = batch.deadline.min(Instant::now() + read_timeout);
            match session.start_tool_calls(&requests, &tx) {
                Ok(ids) => {
                    for (job, id) in slice.into_iter().zip(ids) {
                        sent.insert(job.index, Sent { id, job, gives_up });
                    }
                }
                Err(e) => {
                    for job in slice {
                        if e.may_have_run() {
                            send(batch, job.index, Err(e.clone()));
                        } else {
                            leftovers.push(job); // never written: the regular path may try another session
                        }
                    }
                }
            }
        }
        if sent.is_empty() {
            break;
        }
        let wait_until = sent.values().map(|s| s.gives_up).min().unwrap_or(batch.deadline);
        let received = match (rx.try_recv(), &lead) {
            (Ok(first), _) => Ok(first),
            (Err(_), Some(reads)) => match reads.read(wait_until, &|| !rx.is_empty()) {
                ReadHere::Read => match rx.try_recv() {
                    Ok(first) => Ok(first),
                    // What came was for others (a server that keeps writing
                    // must not keep the lane from its deadlines).
                    Err(_) if Instant::now() >= wait_until => Err(RecvTimeoutError::Timeout),
                    Err(_) => continue,
                },
                ReadHere::Idle => Err(RecvTimeoutError::Timeout),
                // The end was routed to every waiter, this lane's too.
                ReadHere::Ended => rx.recv_deadline(wait_until),
            },
            (Err(_), None) => rx.recv_deadline(wait_until),
        };
        match received {
            // Every reply already there is taken before the window is refilled,
            // so that the refills go down the pipe in one write.
            Ok(first) => {
                for (index, reply) in std::iter::once(first).chain(rx.try_iter()) {
                    let Some(Sent { job, .. }) = sent.remove(&index) else { continue };
                    let checked = reply.as_ref().ok().and_then(|raw| session.final_tool_reply(raw));
                    if checked.is_none() && reply.is_ok() {
                        lead = None; // input rounds wait for replies: the reader thread reads them
                    }
                    if let Some(job) = finish(batch, &session, job, reply, checked) {
                        leftovers.push(job);
                    }
                }
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                // Only requests past their own limit give up; the rest keep waiting.
                let now = Instant::now();
                let expired: Vec<usize> =
                    sent.iter().filter(|(_, s)| s.gives_up <= now).map(|(i, _)| *i).collect();
                for index in expired {
                    if let Some(s) = sent.remove(&index) {
                        session.abandon_request(s.id, "timeout");
                        send(
                            batch,
                            index,
                            Err(Error::timeout(TimeoutPhase::Response, read_timeout.min(batch.timeout))),
                        );
                    }
                }
                lease.mark_suspect();
            }
        }
    }
    drop(lead);
    drop(lease);
    for job in leftovers {
        let result = invoke(batch, &job);
        send(batch, job.index, result);
    }
}

/// Delivers the result of a lane's reply; gives the job back when its
/// failure makes it one to run again through the regular path.
/// `checked` is the reply's shape when it is the call's end (else it may take more rounds).
fn finish(
    batch: &Batch<'_>,
    session: &Session,
    job: Job,
    reply: Result<Box<RawValue>>,
    checked: Option<Result<ToolResultShape>>,
) -> Option<Job> {
    let index = job.index;
    let arguments = &batch.calls[index].arguments;
    let reply = reply.and_then(|raw| {
        let bytes = raw.get().len();
        let finished = match checked {
            Some(checked) => checked.map(|shape| (shape, raw, false)),
            None => session.finish_tool_reply(&job.target.tool.name, arguments, raw, batch.deadline),
        };
        finished.map(|(r, raw, interactive)| (r, raw, bytes, interactive))
    });
    match reply {
        Ok((shape, raw, bytes, interactive)) => {
            let output = ToolOutput::from_server(Arc::from(raw), shape);
            // A result that took input rounds or a task is never cached.
            if let (Some(plan), false) = (&job.plan, interactive) {
                batch.store.cache_store(&job.target, plan, &output, bytes);
            }
            let mismatch = job.target.schema_mismatch(&output);
            send(batch, index, Ok(output.with_schema_mismatch(mismatch)));
            None
        }
        Err(e)
            if e.should_retry(repeat_safe(
                job.target.service.config(),
                &job.target.tool,
                &batch.calls[index].options,
            )) =>
        {
            Some(job)
        }
        Err(e) => {
            send(batch, index, Err(e));
            None
        }
    }
}

/// Runs a lane's calls through the regular path (when the lane got no session).
fn drain_regular(batch: &Batch<'_>, queue: &ServiceQueue) {
    loop {
        let Some(job) = queue.jobs.lock().pop_front() else { return };
        let result = invoke(batch, &job);
        send(batch, job.index, result);
    }
}

fn send(batch: &Batch<'_>, index: usize, result: CallResult) {
    let _ = batch.done.send((index, result));
}
