//! `mcpstore demo`: a short tour against the embedded demo server.
//!
//! Every call prints its actual result. Some calls show errors on purpose
//! (a tool error, an ambiguous and an unknown name); the tour fails (exit
//! status 2) when any call ends otherwise than it should.

use std::process::ExitCode;
use std::time::Duration;

use mcpstore::PerformanceBenchmark;
use mcpstore::{BatchOptions, Error, ProtocolChoice, ServiceConfig, Store, ToolCall};
use serde_json::{Value, json};

use crate::EXIT_FAILURE;
use crate::args::BenchMode;
use crate::bench_cmd::{BenchSpec, measure};

/// How a tour call should end.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Expect {
    /// A result without `isError`.
    Ok,
    /// A result with `isError: true`.
    ToolError,
    /// An `Err` (a name that does not resolve).
    Error,
}

/// The tour's store and what went wrong so far.
pub(crate) struct Tour {
    /// The store with the tour's services.
    pub(crate) store: Store,
    /// What went wrong so far.
    pub(crate) failures: Vec<String>,
}

impl Tour {
    /// Calls `name` and prints what came back; records a failure when the
    /// outcome is not `expect`.
    pub(crate) fn call(&mut self, name: &str, args: Value, expect: Expect) {
        let (got, shown) = match self.store.call_tool(name, args.clone()) {
            Ok(r) if r.is_error => (Expect::ToolError, format!("tool error: {}", r.text())),
            Ok(r) => (Expect::Ok, r.text()),
            Err(e) => (Expect::Error, format!("error: {e}")),
        };
        let note = match (got == expect, expect) {
            (true, Expect::Ok) => "",
            (true, _) => "  (as intended)",
            (false, _) => "  <-- unexpected",
        };
        println!("  {name} {args} -> {}{note}", shown.replace('\n', " | "));
        if got != expect {
            self.failures.push(format!("{name} {args}: expected {expect:?}, got {shown}"));
        }
    }

    /// Records (and shows) a failure.
    pub(crate) fn fail(&mut self, what: String) {
        println!("  <-- {what}");
        self.failures.push(what);
    }
}

/// Runs the tour: services, tools, calls over stdio and HTTP, resources,
/// prompts, completions, logging, requests to the client, a batch, a small benchmark.
pub fn run() -> Result<ExitCode, Error> {
    let root = std::env::temp_dir().join(format!("mcpstore-demo-{}", std::process::id()));
    std::fs::create_dir_all(&root)
        .map_err(|e| Error::Internal(format!("cannot create {}: {e}", root.display())))?;
    let code = tour(&root);
    let _ = std::fs::remove_dir_all(&root);
    code
}

fn tour(root: &std::path::Path) -> Result<ExitCode, Error> {
    std::fs::write(root.join("hello.txt"), "Hello from the mcpstore demo!\n")
        .map_err(|e| Error::Internal(format!("cannot write the demo file: {e}")))?;
    let root_arg = root.to_string_lossy().into_owned();
    let http_opts =
        mcpstore_demo_server::DemoOptions { root: Some(root.to_path_buf()), ..Default::default() };
    let http = mcpstore_demo_server::spawn_http(http_opts, "127.0.0.1:0")
        .map_err(|e| Error::Internal(format!("cannot start the demo HTTP server: {e}")))?;

    let store = crate::demo_features::with_handlers(Store::builder(), root).build()?;
    store.add_service("local", crate::embedded_demo_service(&["--root", &root_arg])?)?;
    store.add_service("web", ServiceConfig::http(http.url()))?;
    // A second HTTP demo server (its own notes and lists), pinned to the
    // handshake era: the demo speaks both.
    let http2025 = mcpstore_demo_server::spawn_http(Default::default(), "127.0.0.1:0")
        .map_err(|e| Error::Internal(format!("cannot start the second demo HTTP server: {e}")))?;
    let mut pinned = ServiceConfig::http(http2025.url());
    pinned.protocol = ProtocolChoice::Version("2025-11-25".into());
    store.add_service("web2025", pinned)?;
    let mut t = Tour { store, failures: Vec::new() };
    for s in t.store.wait_ready(Duration::from_secs(30)) {
        t.fail(format!("service {} did not start: {}", s.name, s.last_error.unwrap_or_default()));
    }

    println!("== services (auto finds 2026-07-28, stateless; web2025 is pinned to 2025-11-25, initialize)");
    crate::commands::services(&t.store)?;
    for s in t.store.list_services() {
        let want = if s.name == "web2025" { "2025-11-25" } else { "2026-07-28" };
        if s.protocol_version.as_deref() != Some(want) {
            t.fail(format!("service {} speaks {:?}, not {want}", s.name, s.protocol_version));
        }
    }

    println!("\n== tools (names resolve as service.tool, service_tool, or a unique bare name)");
    for (service, tool) in t.store.list_tools(None)?.into_iter().take(8) {
        println!("  {service}.{}", tool.name);
    }

    println!("\n== calls");
    t.call("local.echo", json!({"message": "hello over stdio"}), Expect::Ok);
    t.call("web.echo", json!({"message": "hello over Streamable HTTP"}), Expect::Ok);
    t.call("web2025.echo", json!({"message": "hello in protocol 2025-11-25"}), Expect::Ok);
    t.call("local.add", json!({"a": 2, "b": 3}), Expect::Ok);
    t.call("local.read_file", json!({"path": "hello.txt"}), Expect::Ok);
    t.call("local.fail", json!({"message": "tool errors are data, not exceptions"}), Expect::ToolError);
    t.call("echo", json!({"message": "ambiguous?"}), Expect::Error);
    t.call("ecoh", json!({}), Expect::Error);

    t.features(root)?;

    println!("\n== a batch of 100 calls, results in input order");
    let calls: Vec<ToolCall> =
        (0..100).map(|i| ToolCall::new("local.add", json!({"a": i, "b": 1}))).collect();
    let results = t.store.batch_call(&calls, &BatchOptions::default());
    let ok = results.iter().filter(|r| r.as_ref().is_ok_and(|r| !r.is_error)).count();
    let last = results.last().and_then(|r| r.as_ref().ok()).map(|r| r.text()).unwrap_or_default();
    println!("  {ok}/100 ok; last result (99 + 1) = {last}");
    if ok != 100 || last != "100" {
        t.fail(format!("the batch: {ok}/100 ok, last result {last:?}"));
    }

    println!("\n== benchmark (echo, 2,000 calls each)");
    let bench = PerformanceBenchmark::new();
    for (tool, concurrency) in [("local.echo", 1), ("local.echo", 16), ("web.echo", 1), ("web.echo", 16)] {
        let spec = BenchSpec {
            tool: tool.into(),
            arguments: json!({"message": "bench"}),
            calls: 2000,
            concurrency,
            mode: BenchMode::Single,
            batch_size: 100,
            duration: None,
            warmup: 50,
            no_cache: true,
            show_progress: true,
        };
        let r = measure(&t.store, &spec, &bench)?;
        if r.errors > 0 {
            t.fail(format!("{tool} x{concurrency}: {} of {} calls failed", r.errors, r.iterations));
        }
    }
    print!("{}", bench.table());
    let Tour { store, failures } = t;
    drop(store);
    drop(http);
    drop(http2025);
    if failures.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("mcpstore: the demo tour failed: {}", failures.join("; "));
    Ok(ExitCode::from(EXIT_FAILURE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_that_end_otherwise_than_intended_fail_the_tour() {
        let http = mcpstore_demo_server::spawn_http(Default::default(), "127.0.0.1:0").unwrap();
        let store = Store::builder().build().unwrap();
        store.add_service("web", ServiceConfig::http(http.url())).unwrap();
        assert!(store.wait_ready(Duration::from_secs(30)).is_empty());
        let mut t = Tour { store, failures: Vec::new() };
        t.call("echo", json!({"message": "x"}), Expect::Ok);
        t.call("fail", json!({}), Expect::ToolError);
        t.call("nosuch", json!({}), Expect::Error);
        assert!(t.failures.is_empty(), "{:?}", t.failures);
        t.call("echo", json!({"message": "x"}), Expect::Error);
        t.call("fail", json!({}), Expect::Ok);
        t.call("echo", json!({}), Expect::Ok);
        assert_eq!(t.failures.len(), 3, "{:?}", t.failures);
        assert!(t.failures[2].contains("-32602"), "the server's error is kept: {}", t.failures[2]);
    }
}
