//! The `services`, `tools`, `call` and `batch` commands.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use mcpstore::exec::{ToolCall, result_to_json};
use mcpstore::{BatchOptions, Error, Store};
use serde_json::Value;

use crate::progress::Progress;
use crate::{EXIT_FAILURE, EXIT_TOOL_ERROR};

/// Prints every service with its state.
pub fn services(store: &Store) -> Result<ExitCode, Error> {
    println!(
        "{:<16} {:<16} {:<13} {:>5} {:>8}  server",
        "service", "transport", "state", "tools", "sessions"
    );
    for s in store.list_services() {
        let server = s.server_info.map(|i| format!("{} {}", i.name, i.version)).unwrap_or_default();
        println!(
            "{:<16} {:<16} {:<13} {:>5} {:>8}  {server}",
            s.name,
            s.transport,
            s.state.as_str(),
            s.tool_count,
            s.sessions
        );
        if let Some(e) = s.last_error {
            println!("{:<16} last error: {e}", "");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the tools of one service or of all.
pub fn tools(store: &Store, args: &[String]) -> Result<ExitCode, Error> {
    let tools = store.list_tools(args.first().map(String::as_str))?;
    for (service, tool) in tools {
        let description = tool.description.as_deref().unwrap_or("").lines().next().unwrap_or("");
        println!("{service}.{:<28} {description}", tool.name);
    }
    Ok(ExitCode::SUCCESS)
}

/// Parses a JSON arguments object (absent means `{}`).
pub fn parse_arguments(text: Option<&String>) -> Result<Value, Error> {
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

/// Calls one tool and prints its CallToolResult.
pub fn call(store: &Store, args: &[String]) -> Result<ExitCode, Error> {
    let tool = args.first().ok_or_else(|| Error::InvalidArgument("call needs a TOOL name".into()))?;
    if args.len() > 2 {
        return Err(Error::InvalidArgument("call takes TOOL and at most one JSON_ARGS".into()));
    }
    let arguments = parse_arguments(args.get(1))?;
    let result = store.call_tool(tool, arguments)?;
    println!("{}", result.to_json());
    Ok(if result.is_error { ExitCode::from(EXIT_TOOL_ERROR) } else { ExitCode::SUCCESS })
}

/// Runs one call per line of a JSONL file and prints one line per call, in order.
pub fn batch(store: &Store, args: &[String]) -> Result<ExitCode, Error> {
    let path = args.first().ok_or_else(|| Error::InvalidArgument("batch needs a FILE.jsonl".into()))?;
    let reader: Box<dyn BufRead> = if path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path)
            .map_err(|e| Error::InvalidArgument(format!("cannot open {path}: {e}")))?;
        Box::new(std::io::BufReader::new(file))
    };
    let mut calls: Vec<Result<ToolCall, Error>> = Vec::new();
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
    // Chunks of calls (valid or not), so the progress bar moves during long files.
    let progress = Progress::new(Some(calls.len()));
    let chunk_size = store.config().batch.default_batch_size.max(1) * 10;
    let mut results = Vec::with_capacity(calls.len());
    let mut calls = calls.into_iter().peekable();
    while calls.peek().is_some() {
        let chunk: Vec<_> = calls.by_ref().take(chunk_size).collect();
        results.extend(store.batch_call_items(chunk, &BatchOptions::default()));
        progress.update(results.len());
    }
    progress.finish();
    let mut out = std::io::stdout().lock();
    for result in &results {
        let _ = writeln!(out, "{}", result_to_json(result));
    }
    let failed = results.iter().any(|r| r.is_err());
    Ok(if failed { ExitCode::from(EXIT_FAILURE) } else { ExitCode::SUCCESS })
}

/// The store's statistics in one of the `--stats` formats.
pub fn render_stats(store: &Store, format: &str) -> String {
    let stats = store.stats();
    match format {
        "json" => format!("{}\n", stats.to_json()),
        "prometheus" => stats.to_prometheus(),
        _ => stats.to_table(),
    }
}
