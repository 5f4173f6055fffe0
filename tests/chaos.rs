//! Chaos with exactly-once accounting (issue 14).
//!
//! 16 threads make single calls, batches and background calls (with and
//! without a completion callback) across four services — two stdio demo
//! servers, one Streamable HTTP demo server and the Python SDK's legacy
//! HTTP+SSE server — while another thread kills them (SIGKILL), pauses and
//! resumes them (SIGSTOP/SIGCONT), restarts them on the same port, and
//! makes them answer garbage, expire sessions, answer 503 or 429 and cut
//! SSE answers mid-event (the demo server's `--chaos` signals). Every call
//! carries a unique message; the servers record each execution
//! (`--record`). Then it asserts that:
//!
//! - every call returned exactly once (a batch answers each of its calls,
//!   a callback ran once) within its deadline plus [`SLACK`];
//! - every success is the call's own reply (its text is the call's message)
//!   and ran on the service it was sent to (no misrouting);
//! - no call that is not declared safe to repeat ran twice, and nothing ran
//!   that no call asked for;
//! - once the faults stop, every service is healthy again and answers;
//! - after the store is dropped, no child process, library thread or file
//!   descriptor is left.
//!
//! `MCPSTORE_CHAOS_SEED=N` replays a run's schedule (printed at the start);
//! `MCPSTORE_CHAOS_CALLS=N` sets its size (default 5,000). The long run:
//! `cargo build --release -p mcpstore-demo-server` (the test runs the demo
//! server of its own profile), then
//! `MCPSTORE_CHAOS_CALLS=100000 cargo test --release --test chaos -- --nocapture`.

mod common;
#[path = "chaos/fleet.rs"]
mod fleet;
#[path = "chaos/load.rs"]
mod load;
#[path = "chaos/rng.rs"]
mod rng;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mcpstore::{BatchConfig, PoolConfig, ServiceState, Store};
use serde_json::json;

use fleet::{Fleet, SERVICES};
use load::Load;

/// Worker threads.
const THREADS: u64 = 16;
/// What a call may take beyond its deadline on a loaded 2-core machine
/// (SIGSTOPped servers, restarts and 16 busy threads included).
const SLACK: Duration = Duration::from_millis(2500);

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(v.trim().parse().unwrap_or_else(|_| panic!("{name} must be a number, got {v:?}")))
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

fn store(fleet: &Fleet) -> Store {
    let store = Store::builder()
        .pool(PoolConfig {
            min_connections: 1,
            max_connections: 4,
            connection_timeout: Duration::from_secs(3),
            read_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(3),
            retry_delay: Duration::from_millis(50),
            acquire_timeout: Duration::from_secs(3),
            health_check_interval: Duration::from_secs(1),
            health_check_timeout: Duration::from_secs(1),
            ..PoolConfig::default()
        })
        .batch(BatchConfig {
            call_timeout: load::BATCH_TIMEOUT,
            max_concurrent_calls: 256,
            ..BatchConfig::default()
        })
        .build()
        .expect("build store");
    for (name, config) in fleet.configs() {
        store.add_service(name, config).unwrap_or_else(|e| panic!("add {name}: {e}"));
    }
    let not_ready = store.wait_ready(Duration::from_secs(30));
    assert!(
        not_ready.is_empty(),
        "not ready: {:?}",
        not_ready.iter().map(|s| &s.last_error).collect::<Vec<_>>()
    );
    store
}

/// Waits until every service is healthy and answers a fresh call.
fn assert_recovers(store: &Store) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut pending: Vec<&str> = SERVICES.to_vec();
    let mut probe = 0u64;
    while !pending.is_empty() {
        assert!(
            Instant::now() < deadline,
            "services not healthy 60 s after the faults stopped: {pending:?}: {:?}",
            store.list_services().iter().map(|s| (&s.name, s.state, &s.last_error)).collect::<Vec<_>>()
        );
        let states: BTreeMap<String, ServiceState> =
            store.list_services().into_iter().map(|s| (s.name, s.state)).collect();
        pending.retain(|name| {
            probe += 1;
            let message = format!("probe-{probe}");
            let answered = store
                .call_tool(&format!("{name}.echo"), json!({"message": message}))
                .is_ok_and(|r| r.result().text() == message);
            !(answered && states.get(*name) == Some(&ServiceState::Healthy))
        });
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(store.wait_ready(Duration::from_secs(5)).is_empty());
}

/// Checks the ledger against the servers' records; returns the summary lines.
fn account(load: &Load, fleet: &Fleet) -> Vec<String> {
    let ledger = load.ledger.lock();
    let runs = fleet.executions();
    assert_eq!(ledger.len() as u64, load.total, "every call is in the ledger once");
    let mut failures = Vec::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut samples: BTreeMap<String, String> = BTreeMap::new();
    let mut failed_by_service: BTreeMap<&str, u64> = BTreeMap::new();
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    let (mut ok, mut repeated, mut worst_overshoot) = (0u64, 0u64, Duration::ZERO);
    let mut known = std::collections::HashSet::new();
    for e in ledger.iter() {
        assert!(known.insert(e.message.as_str()), "message {} used twice", e.message);
        *kinds.entry(format!("{:?}", e.kind)).or_default() += 1;
        worst_overshoot = worst_overshoot.max(e.elapsed.saturating_sub(e.limit));
        if e.elapsed > e.limit + SLACK {
            failures.push(format!(
                "{} ({:?}) took {:?}, limit {:?}: {:?}",
                e.message, e.kind, e.elapsed, e.limit, e.outcome
            ));
        }
        if let Some(n) = &e.callbacks {
            let n = n.load(Ordering::SeqCst);
            if n != 1 {
                failures.push(format!("{}: its callback ran {n} times", e.message));
            }
        }
        let here = runs[e.service].get(&e.message).copied().unwrap_or(0);
        let elsewhere: u32 = (0..SERVICES.len())
            .filter(|&s| s != e.service)
            .map(|s| runs[s].get(&e.message).copied().unwrap_or(0))
            .sum();
        if elsewhere > 0 {
            failures.push(format!(
                "{} was sent to {} but ran {elsewhere} times elsewhere",
                e.message, SERVICES[e.service]
            ));
        }
        if here > 1 {
            if e.repeat_ok {
                repeated += 1;
            } else {
                failures.push(format!(
                    "{} (not safe to repeat, {:?}) ran {here} times: {:?}",
                    e.message, e.kind, e.outcome
                ));
            }
        }
        match &e.outcome {
            Ok(text) if *text != e.message => {
                failures.push(format!("{} got another call's reply {text:?}", e.message));
            }
            Ok(_) if here == 0 => failures.push(format!("{} succeeded but never ran", e.message)),
            Ok(_) => ok += 1,
            Err(err) => {
                let kind = err.split(':').next().unwrap_or("?").to_owned();
                *errors.entry(kind.clone()).or_default() += 1;
                *failed_by_service.entry(SERVICES[e.service]).or_default() += 1;
                samples.entry(kind).or_insert_with(|| err.clone());
            }
        }
    }
    for (s, service_runs) in runs.iter().enumerate() {
        for message in service_runs.keys() {
            if !known.contains(message.as_str()) && !message.starts_with("probe-") {
                failures.push(format!("{} ran {message:?}, which no call sent", SERVICES[s]));
            }
        }
    }
    let executions: u32 = runs.iter().flat_map(|r| r.values()).sum();
    let summary = vec![
        format!("calls: {} ({kinds:?})", ledger.len()),
        format!("succeeded: {ok}; failed: {} {errors:?}", ledger.len() as u64 - ok),
        format!("failed by service: {failed_by_service:?}"),
        format!("an error of each kind: {samples:?}"),
        format!("executions recorded: {executions}; repeat-safe calls that ran more than once: {repeated}"),
        format!("faults injected: {:?}", fleet.faults.lock()),
        format!("worst time over a deadline: {worst_overshoot:?} (slack {SLACK:?})"),
        format!("lost / duplicated / misrouted: {} violations", failures.len()),
    ];
    assert!(
        failures.is_empty(),
        "{} violations (seed {}; replay with MCPSTORE_CHAOS_SEED={}):\n{}\n{}",
        failures.len(),
        load.seed,
        load.seed,
        failures.iter().take(30).cloned().collect::<Vec<_>>().join("\n"),
        summary.join("\n")
    );
    summary
}

#[test]
fn chaos_exactly_once() {
    let seed = env_u64("MCPSTORE_CHAOS_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    let total = env_u64("MCPSTORE_CHAOS_CALLS").unwrap_or(5_000);
    eprintln!("chaos seed: {seed} (replay: MCPSTORE_CHAOS_SEED={seed} MCPSTORE_CHAOS_CALLS={total})");
    let limit = Duration::from_secs(180) + Duration::from_millis(total * 20);
    common::bounded(limit, move || run(seed, total));
}

fn run(seed: u64, total: u64) {
    let children_before = common::child_pids();
    let fds_before = open_fds();
    let started = Instant::now();
    let fleet = Arc::new(Fleet::start());
    let store = Arc::new(store(&fleet));
    let load = Arc::new(Load::new(seed, total));

    let stop = Arc::new(AtomicBool::new(false));
    let faults = {
        let (fleet, stop) = (fleet.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut rng = rng::Rng::fork(seed, 0);
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(rng.range(20, 250)));
                fleet.resume(false);
                fleet.inject(&mut rng);
            }
            fleet.calm();
        })
    };
    let workers: Vec<_> = (0..THREADS)
        .map(|w| {
            let (store, load) = (store.clone(), load.clone());
            std::thread::Builder::new()
                .name(format!("chaos-worker-{w}"))
                .spawn(move || load.work(&store, w))
                .expect("spawn worker")
        })
        .collect();
    let progress = {
        let (load, stop) = (load.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut last = Instant::now();
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(200));
                if last.elapsed() >= Duration::from_secs(30) {
                    last = Instant::now();
                    eprintln!(
                        "chaos: {} / {total} calls issued after {:?}",
                        load.issued(),
                        started.elapsed()
                    );
                }
            }
        })
    };
    for w in workers {
        w.join().expect("a worker panicked");
    }
    let load_time = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    faults.join().expect("the fault thread panicked");
    let _ = progress.join();

    assert_recovers(&store);
    let summary = account(&load, &fleet);

    let store = Arc::into_inner(store).expect("the workers are done with the store");
    drop(store);
    drop(Arc::into_inner(fleet).expect("the fault thread is done"));
    common::eventually(Duration::from_secs(15), "no library thread left", || {
        common::library_threads().is_empty()
    });
    common::eventually(Duration::from_secs(15), "no child process left", || {
        common::child_pids().iter().all(|p| children_before.contains(p))
    });
    common::eventually(Duration::from_secs(15), "no file descriptor left", || open_fds() <= fds_before);
    eprintln!("chaos: seed {seed}, {total} calls in {load_time:?}");
    for line in summary {
        eprintln!("chaos: {line}");
    }
}
