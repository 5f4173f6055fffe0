//! The peer client bench: rmcp (the official Rust SDK) as an MCP client,
//! making N `echo` calls with C in flight, one session.
//!
//!   rmcp-bench-client --stdio "CMD ARGS" --calls N --concurrency C [--message TEXT] [--warmup W]
//!   rmcp-bench-client --url http://127.0.0.1:PORT/mcp --calls N --concurrency C
//!
//! Prints one JSON line: calls, seconds, calls_per_s, p50_ms, p99_ms,
//! cpu_us_per_call (this process's user + system time during the calls).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mcpstore_bench_peers::{Report, cpu_us, fail, flag, num_flag};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, JsonObject};
use rmcp::service::{Peer, RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};

/// One `echo` call; `true` when it succeeded and the tool did not report an error.
async fn echo(peer: &Peer<RoleClient>, arguments: &JsonObject) -> bool {
    let params = CallToolRequestParams::new("echo").with_arguments(arguments.clone());
    matches!(peer.call_tool(params).await, Ok(r) if r.is_error != Some(true))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let calls = num_flag(&args, "--calls", 10_000).max(1);
    let concurrency = num_flag(&args, "--concurrency", 1).max(1);
    let warmup = num_flag(&args, "--warmup", 10);
    let message = flag(&args, "--message").unwrap_or_else(|| "hi".into());

    // `()` is rmcp's do-nothing client handler: this client only sends requests.
    let client: RunningService<RoleClient, ()> = if let Some(line) = flag(&args, "--stdio") {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((program, rest)) = words.split_first() else { fail("--stdio needs a command") };
        let mut command = tokio::process::Command::new(program);
        command.args(rest);
        ().serve(TokioChildProcess::new(command)?).await?
    } else if let Some(url) = flag(&args, "--url") {
        // rmcp caps a session's concurrent POSTs (16 by default); lift the cap to C
        // so that C calls really are in flight, as with the other clients.
        let config = StreamableHttpClientTransportConfig::with_uri(url).max_concurrent_requests(concurrency);
        ().serve(StreamableHttpClientTransport::from_config(config)).await?
    } else {
        fail("usage: rmcp-bench-client (--stdio \"CMD ARGS\" | --url URL) --calls N --concurrency C")
    };

    let arguments: JsonObject = serde_json::json!({ "message": message }).as_object().cloned().unwrap();
    for _ in 0..warmup {
        echo(client.peer(), &arguments).await;
    }

    // C tasks share one counter of calls left; each keeps its own latencies.
    let next = Arc::new(AtomicUsize::new(0));
    let cpu0 = cpu_us();
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (peer, next, arguments) = (client.peer().clone(), next.clone(), arguments.clone());
            tokio::spawn(async move {
                let (mut latencies, mut errors) = (Vec::<Duration>::new(), 0usize);
                while next.fetch_add(1, Ordering::Relaxed) < calls {
                    let t = Instant::now();
                    if !echo(&peer, &arguments).await {
                        errors += 1;
                    }
                    latencies.push(t.elapsed());
                }
                (latencies, errors)
            })
        })
        .collect();
    let (mut latencies, mut errors) = (Vec::with_capacity(calls), 0);
    for task in tasks {
        let (l, e) = task.await?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();
    let cpu = cpu_us() - cpu0;

    Report { client: "rmcp", concurrency, errors, elapsed, cpu_us: cpu, latencies }.print();
    // Closing the session ends the stdio child (rmcp kills it on drop as well).
    let _ = client.cancel().await;
    Ok(())
}
