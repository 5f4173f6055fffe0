//! `mcpstore demo`: a short tour against the embedded demo server.

use std::process::ExitCode;
use std::time::Duration;

use mcpstore::bench::PerformanceBenchmark;
use mcpstore::{BatchOptions, Error, ServiceConfig, Store, ToolCall};
use serde_json::json;

use crate::bench_cmd::{BenchSpec, measure};

/// Runs the tour: services, tools, calls over stdio and HTTP, a batch, a small benchmark.
pub fn run() -> Result<ExitCode, Error> {
    let root = std::env::temp_dir().join(format!("mcpstore-demo-{}", std::process::id()));
    std::fs::create_dir_all(&root)
        .map_err(|e| Error::Internal(format!("cannot create {}: {e}", root.display())))?;
    let _ = std::fs::write(root.join("hello.txt"), "Hello from the mcpstore demo!\n");
    let root_arg = root.to_string_lossy().into_owned();

    let http_opts = mcpstore::demo::DemoOptions { root: Some(root.clone()), ..Default::default() };
    let http = mcpstore::demo::spawn_http(http_opts, "127.0.0.1:0")
        .map_err(|e| Error::Internal(format!("cannot start the demo HTTP server: {e}")))?;

    let store = Store::builder().build()?;
    store.add_service("local", crate::embedded_demo_service(&["--root", &root_arg])?)?;
    store.add_service("web", ServiceConfig::http(http.url()))?;
    store.wait_ready(Duration::from_secs(30));

    println!("== services");
    crate::commands::services(&store)?;

    println!("\n== tools (names resolve as service.tool, service_tool, or a unique bare name)");
    for (service, tool) in store.list_tools(None)?.into_iter().take(8) {
        println!("  {service}.{}", tool.name);
    }

    println!("\n== calls");
    let show = |name: &str, args: serde_json::Value| match store.call_tool(name, args.clone()) {
        Ok(r) => println!(
            "  {name} {args} -> {}{}",
            r.text().replace('\n', " | "),
            if r.is_error { "  (tool error)" } else { "" }
        ),
        Err(e) => println!("  {name} {args} -> error: {e}"),
    };
    show("local.echo", json!({"message": "hello over stdio"}));
    show("web.echo", json!({"message": "hello over Streamable HTTP"}));
    show("local.add", json!({"a": 2, "b": 3}));
    show("local.read_file", json!({"path": "hello.txt"}));
    show("local.fail", json!({"message": "tool errors are data, not exceptions"}));
    show("echo", json!({"message": "ambiguous?"}));
    show("ecoh", json!({}));

    println!("\n== a batch of 100 calls, results in input order");
    let calls: Vec<ToolCall> =
        (0..100).map(|i| ToolCall::new("local.add", json!({"a": i, "b": 1}))).collect();
    let results = store.batch_call(&calls, &BatchOptions::default());
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let last = results.last().and_then(|r| r.as_ref().ok()).map(|r| r.text()).unwrap_or_default();
    println!("  {ok}/100 ok; last result (99 + 1) = {last}");

    println!("\n== benchmark (echo, 2,000 calls each)");
    let bench = PerformanceBenchmark::new();
    for (tool, concurrency) in [("local.echo", 1), ("local.echo", 16), ("web.echo", 1), ("web.echo", 16)] {
        let spec = BenchSpec {
            tool: tool.into(),
            arguments: json!({"message": "bench"}),
            calls: 2000,
            concurrency,
            mode: "single".into(),
            batch_size: 100,
            duration: None,
            warmup: 50,
            no_cache: true,
        };
        measure(&store, &spec, &bench)?;
    }
    print!("{}", bench.table());
    drop(store);
    drop(http);
    let _ = std::fs::remove_dir_all(&root);
    Ok(ExitCode::SUCCESS)
}
