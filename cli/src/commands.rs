//! The `services`, `tools`, `call` and `batch` commands.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use mcpstore::{BatchOptions, Error, Store, ToolCall, ToolOutput};
use serde_json::Value;

use crate::args::StatsFormat;
use crate::progress;
use crate::{EXIT_FAILURE, EXIT_TOOL_ERROR};

/// Prints every service with its state.
pub fn services(store: &Store) -> Result<ExitCode, Error> {
    println!(
        "{:<16} {:<16} {:<13} {:>5} {:>8}  {:<10}  server",
        "service", "transport", "state", "tools", "sessions", "protocol"
    );
    for s in store.list_services() {
        let server = s.server_info.map(|i| format!("{} {}", i.name, i.version)).unwrap_or_default();
        println!(
            "{:<16} {:<16} {:<13} {:>5} {:>8}  {:<10}  {server}",
            s.name,
            s.transport,
            s.state.as_str(),
            s.tool_count,
            s.sessions,
            s.protocol_version.as_deref().unwrap_or("-")
        );
        if let Some(e) = s.last_error {
            println!("{:<16} last error: {e}", "");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the tools of one service or of all.
pub fn tools(store: &Store, service: Option<&str>) -> Result<ExitCode, Error> {
    for (service, tool) in store.list_tools(service)? {
        let description = tool.description.as_deref().unwrap_or("").lines().next().unwrap_or("");
        println!("{service}.{:<28} {description}", tool.name);
    }
    Ok(ExitCode::SUCCESS)
}

/// Parses a JSON arguments object (absent means `{}`).
pub fn parse_arguments(text: Option<&str>) -> Result<Value, Error> {
    match text {
        None => Ok(Value::Object(Default::default())),
        Some(t) => {
            let v: Value = serde_json::from_str(t)
                .map_err(|e| Error::InvalidArgument(format!("arguments are not valid JSON: {e}")))?;
            if v.is_object() {
                Ok(v)
            } else {
                Err(Error::InvalidArgument("arguments must be a JSON object".into()))
            }
        }
    }
}

/// A result as the CLI prints it: the CallToolResult as the server sent it,
/// plus `"_mcpstore": {"cache": {"hit": true, "age_ms": N}}` when it came
/// from the result cache.
fn result_json(result: &ToolOutput) -> Value {
    result.annotated_json()
}

/// Calls one tool and prints its CallToolResult (saying so when it came from the cache).
pub fn call(store: &Store, tool: &str, json_args: Option<&str>) -> Result<ExitCode, Error> {
    let result = store.call_tool(tool, parse_arguments(json_args)?)?;
    println!("{}", result_json(&result));
    Ok(if result.tool_error() { ExitCode::from(EXIT_TOOL_ERROR) } else { ExitCode::SUCCESS })
}

/// Reads the calls of a JSONL file (`-`: stdin): one per non-empty line,
/// a line that is not a call kept as its error.
fn read_calls(path: &str) -> Result<Vec<Result<ToolCall, Error>>, Error> {
    let reader: Box<dyn BufRead> = if path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path)
            .map_err(|e| Error::InvalidArgument(format!("cannot open {path}: {e}")))?;
        Box::new(std::io::BufReader::new(file))
    };
    let mut calls = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| Error::InvalidArgument(format!("cannot read {path}: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let call = serde_json::from_str::<Value>(&line)
            .map_err(|e| Error::InvalidArgument(format!("line {}: not valid JSON: {e}", n + 1)))
            .and_then(|v| {
                ToolCall::from_json(&v).map_err(|e| Error::InvalidArgument(format!("line {}: {e}", n + 1)))
            });
        calls.push(call);
    }
    Ok(calls)
}

/// Runs one call per line of a JSONL file and prints one line per call, in
/// order: the CallToolResult (as `call` prints it), or the error as JSON. Exit 2 when a line
/// failed, else 1 when a tool reported an error, else 0.
pub fn batch(store: &Store, path: &str) -> Result<ExitCode, Error> {
    let calls = read_calls(path)?;
    // Chunks of calls (valid or not), so the progress bar moves during long files.
    let bar = progress::bar(Some(calls.len()), true);
    let chunk_size = store.config().batch.default_batch_size.max(1) * 10;
    let mut results = Vec::with_capacity(calls.len());
    let mut calls = calls.into_iter().peekable();
    while calls.peek().is_some() {
        let chunk: Vec<_> = calls.by_ref().take(chunk_size).collect();
        results.extend(store.batch_call_items(chunk, &BatchOptions::default()));
        bar.set_position(results.len() as u64);
    }
    bar.finish_and_clear();
    let mut out = std::io::stdout().lock();
    for result in &results {
        let line = match result {
            Ok(r) => result_json(r),
            Err(e) => e.to_json(),
        };
        let _ = writeln!(out, "{line}");
    }
    Ok(if results.iter().any(|r| r.is_err()) {
        ExitCode::from(EXIT_FAILURE)
    } else if results.iter().any(|r| r.as_ref().is_ok_and(ToolOutput::tool_error)) {
        ExitCode::from(EXIT_TOOL_ERROR)
    } else {
        ExitCode::SUCCESS
    })
}

/// The store's statistics in one of the `--stats` formats.
pub fn render_stats(store: &Store, format: StatsFormat) -> String {
    let stats = store.stats();
    match format {
        StatsFormat::Json => format!("{}\n", stats.to_json()),
        StatsFormat::Prometheus => stats.to_prometheus(),
        StatsFormat::Table => stats.to_table(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use mcpstore::{CachePolicy, ServiceConfig};
    use serde_json::json;

    use super::*;

    #[test]
    fn a_cached_result_says_so_and_a_fresh_one_does_not() {
        let http = mcpstore_demo_server::spawn_http(Default::default(), "127.0.0.1:0").unwrap();
        let store = Store::builder().build().unwrap();
        let cache = CachePolicy { tools: [("add".to_owned(), Duration::from_secs(60))].into() };
        store.add_service("web", ServiceConfig { cache, ..ServiceConfig::http(http.url()) }).unwrap();
        assert!(store.wait_ready(Duration::from_secs(30)).is_empty());
        let fresh = store.call_tool("add", json!({"a": 1, "b": 2})).unwrap();
        let cached = store.call_tool("add", json!({"a": 1, "b": 2})).unwrap();
        let (fresh, cached) = (result_json(&fresh), result_json(&cached));
        assert!(fresh.get("_mcpstore").is_none(), "{fresh}");
        assert_eq!(fresh["structuredContent"]["sum"], 3);
        assert_eq!(cached["_mcpstore"]["cache"]["hit"], true, "{cached}");
        assert!(cached["_mcpstore"]["cache"]["age_ms"].as_u64().is_some(), "{cached}");
        assert_eq!(cached["structuredContent"], fresh["structuredContent"]);
    }
}
