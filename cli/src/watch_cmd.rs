//! `mcpstore watch`: prints the store's events (list changes, resource
//! updates, log messages, progress, service states) as JSON lines, one per
//! event, until interrupted, `--for` seconds passed or `--count` were printed.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mcpstore::{Error, Event, LogLevel, Store};

use crate::feature_args::WatchArgs;

/// The longest one wait for an event lasts (then the deadline is checked again).
const POLL: Duration = Duration::from_millis(500);

/// Watches the store's events. With `min_level` (`--log-level`), log
/// messages below it are not printed, even those a server sent before it
/// applied the level (or that a server sends regardless).
pub fn run(store: &Store, args: &WatchArgs, min_level: Option<LogLevel>) -> Result<ExitCode, Error> {
    let queue = store.event_queue();
    for uri in &args.subscribe {
        let service = store.subscribe_resource(None, uri)?;
        eprintln!("mcpstore: subscribed to {uri} on {service}");
    }
    let deadline = args.for_secs.map(|d| Instant::now() + d);
    // Tests (and people) learn here that every event from now on is printed.
    eprintln!("mcpstore: watching {} service(s); Ctrl-C stops", store.list_services().len());
    let mut printed = 0;
    let mut out = std::io::stdout().lock();
    while args.count.is_none_or(|n| printed < n) {
        let wait = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => left.min(POLL),
                _ => break,
            },
            None => POLL,
        };
        let event = match queue.recv_timeout(wait) {
            Ok(event) => event,
            Err(Error::Timeout { .. }) => continue,
            Err(e) => return Err(e),
        };
        if let (Event::Log { level, .. }, Some(min)) = (&event, min_level)
            && *level < min
        {
            continue;
        }
        let json = event.to_json();
        let kind = json.get("type").and_then(|t| t.as_str()).unwrap_or("");
        if !args.types.is_empty() && !args.types.iter().any(|t| t == kind) {
            continue;
        }
        if writeln!(out, "{json}").and_then(|()| out.flush()).is_err() {
            break; // the reader went away
        }
        printed += 1;
    }
    if queue.dropped() > 0 {
        eprintln!("mcpstore: {} events were dropped (the queue was full)", queue.dropped());
    }
    Ok(ExitCode::SUCCESS)
}
