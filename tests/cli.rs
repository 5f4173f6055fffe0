//! The `mcpstore` command line: `call` (output and exit codes), `services`,
//! `tools`, `bench --json`, with `--stdio`, `--url` and `--config` sources.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{TempDir, cli_bin, demo_bin, demo_http};
use serde_json::{Value, json};

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the CLI in `cwd` (an empty temp dir, so no ./mcp.json is picked up),
/// killing it if it runs longer than 60 s.
fn run_in(cwd: &std::path::Path, args: &[&str]) -> Output {
    let mut child = Command::new(cli_bin())
        .args(args)
        .current_dir(cwd)
        .env("MCPSTORE_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mcpstore");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mcpstore {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output { code: status.code().unwrap_or(-1), stdout: t_out.join().unwrap(), stderr: t_err.join().unwrap() }
}

fn run(args: &[&str]) -> Output {
    let dir = TempDir::new("mcps-cli");
    run_in(dir.path(), args)
}

fn stdio_source() -> Vec<String> {
    vec!["--stdio".into(), format!("'{}'", demo_bin())]
}

fn run_stdio(args: &[&str]) -> Output {
    let mut all = stdio_source();
    all.extend(args.iter().map(|s| (*s).to_owned()));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    run(&refs)
}

fn one_error_line(o: &Output) -> &str {
    let lines: Vec<&str> = o.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one stderr line, got: {:?}", o.stderr);
    assert!(lines[0].starts_with("mcpstore: "), "{}", lines[0]);
    lines[0]
}

#[test]
fn call_prints_json_and_exits_0() {
    let o = run_stdio(&["call", "echo", r#"{"message":"x y"}"#]);
    assert_eq!(o.code, 0, "stderr: {}", o.stderr);
    let v: Value = serde_json::from_str(o.stdout.trim()).expect("stdout is JSON");
    assert_eq!(v, json!({"content": [{"type": "text", "text": "x y"}]}));
    assert_eq!(o.stdout.trim().lines().count(), 1);

    let o = run_stdio(&["call", "server.add", r#"{"a": 20, "b": 22}"#]);
    assert_eq!(o.code, 0, "stderr: {}", o.stderr);
    let v: Value = serde_json::from_str(o.stdout.trim()).unwrap();
    assert_eq!(v["structuredContent"], json!({"sum": 42}));

    // No arguments means {}.
    let o = run_stdio(&["call", "counter"]);
    assert_eq!(o.code, 0, "stderr: {}", o.stderr);
    assert_eq!(serde_json::from_str::<Value>(o.stdout.trim()).unwrap()["content"][0]["text"], "1");
}

#[test]
fn call_exits_1_on_tool_error() {
    let o = run_stdio(&["call", "fail", r#"{"message":"nope"}"#]);
    assert_eq!(o.code, 1, "stdout {} stderr {}", o.stdout, o.stderr);
    let v: Value = serde_json::from_str(o.stdout.trim()).unwrap();
    assert_eq!(v["isError"], true);
    assert_eq!(v["content"][0]["text"], "nope");
}

#[test]
fn call_exits_2_with_one_line_on_other_errors() {
    let o = run_stdio(&["call", "ecoh", "{}"]);
    assert_eq!(o.code, 2);
    assert!(o.stdout.is_empty(), "{}", o.stdout);
    let line = one_error_line(&o);
    assert!(line.contains("unknown tool 'ecoh'") && line.contains("echo"), "{line}");

    let o = run_stdio(&["call", "echo", "{not json"]);
    assert_eq!(o.code, 2);
    assert!(one_error_line(&o).contains("not valid JSON"));

    let o = run_stdio(&["call", "echo", "[1]"]);
    assert_eq!(o.code, 2);
    one_error_line(&o);

    // A JSON-RPC error from the server.
    let o = run_stdio(&["call", "echo", "{}"]);
    assert_eq!(o.code, 2);
    assert!(one_error_line(&o).contains("-32602"));

    let o = run(&["--bogus"]);
    assert_eq!(o.code, 2);
    let o = run(&["--url", "http://127.0.0.1:1/mcp", "--stdio", "x", "tools"]);
    assert_eq!(o.code, 2);
}

#[test]
fn services_and_tools() {
    let o = run_stdio(&["services"]);
    assert_eq!(o.code, 0, "stderr: {}", o.stderr);
    let row = o
        .stdout
        .lines()
        .find(|l| l.starts_with("server "))
        .unwrap_or_else(|| panic!("no row for the service: {}", o.stdout));
    assert!(row.contains("stdio"), "{row}");
    assert!(row.contains("mcpstore-demo-server"), "{row}");
    assert!(row.contains(" 15 "), "tool count: {row}");
    // Connected: healthy, or degraded while the second warm session (min 2) opens.
    assert!(row.contains("healthy") || row.contains("degraded"), "state: {row}");

    let o = run_stdio(&["tools"]);
    assert_eq!(o.code, 0, "stderr: {}", o.stderr);
    let names: Vec<&str> = o.stdout.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(names.len(), 15, "{}", o.stdout);
    assert!(names.contains(&"server.echo") && names.contains(&"server.mixed_content"));

    let o = run_stdio(&["tools", "nosuch"]);
    assert_eq!(o.code, 2);
    one_error_line(&o);
}

const BENCH_KEYS: [&str; 14] = [
    "calls",
    "ok",
    "errors",
    "elapsed_s",
    "calls_per_sec",
    "min_ms",
    "avg_ms",
    "p50_ms",
    "p99_ms",
    "max_ms",
    "success_rate",
    "pool",
    "cache",
    "objects",
];

fn check_bench(o: &Output, service: &str) {
    assert_eq!(o.code, 0, "stderr: {}", o.stderr);
    let lines: Vec<&str> = o.stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one JSON object: {}", o.stdout);
    let v: Value = serde_json::from_str(lines[0]).expect("bench --json prints JSON");
    let obj = v.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = BENCH_KEYS.to_vec();
    want.sort_unstable();
    assert_eq!(keys, want);
    assert_eq!(v["calls"], 200);
    assert_eq!(v["ok"], 200);
    assert_eq!(v["errors"], 0);
    assert_eq!(v["success_rate"], 1.0);
    for k in ["elapsed_s", "calls_per_sec", "min_ms", "avg_ms", "p50_ms", "p99_ms", "max_ms"] {
        assert!(v[k].as_f64().is_some_and(|x| x >= 0.0), "{k}: {}", v[k]);
    }
    assert!(v["min_ms"].as_f64() <= v["p50_ms"].as_f64());
    assert!(v["p50_ms"].as_f64() <= v["p99_ms"].as_f64());
    assert!(v["p99_ms"].as_f64() <= v["max_ms"].as_f64());
    let pool = &v["pool"][service];
    for k in ["created", "reused", "failed", "evicted"] {
        assert!(pool[k].is_u64(), "pool.{service}.{k}: {v}");
    }
    let created = pool["created"].as_u64().unwrap();
    assert!(created >= 1, "{pool}");
    assert!(pool["reused"].as_u64().unwrap() >= 200 - created, "{pool}");
    for k in ["hits", "misses", "entries"] {
        assert!(v["cache"][k].is_u64(), "cache.{k}: {v}");
    }
    assert!(v["objects"].is_object());
}

#[test]
fn bench_json_over_stdio() {
    let o =
        run_stdio(&["bench", "echo", r#"{"message":"x"}"#, "--calls", "200", "--concurrency", "4", "--json"]);
    check_bench(&o, "server");
}

#[test]
fn url_source_and_bench() {
    let demo = demo_http(&[]);
    let url = demo.url();
    let o = run(&["--url", &url, "call", "echo", r#"{"message":"over http"}"#]);
    assert_eq!(o.code, 0, "stderr: {}", o.stderr);
    let v: Value = serde_json::from_str(o.stdout.trim()).unwrap();
    assert_eq!(v["content"][0]["text"], "over http");
    let o = run(&["--url", &url, "services"]);
    assert!(o.stdout.contains("streamable-http"), "{}", o.stdout);
    let o = run(&[
        "--url",
        &url,
        "bench",
        "echo",
        r#"{"message":"x"}"#,
        "--calls",
        "200",
        "--concurrency",
        "4",
        "--json",
    ]);
    check_bench(&o, "server");

    // A URL nobody listens on: a one-line error, exit 2.
    let port = common::free_port();
    let o = run(&["--url", &format!("http://127.0.0.1:{port}/mcp"), "call", "echo", "{}"]);
    assert_eq!(o.code, 2, "{}", o.stdout);
    assert!(o.stderr.lines().last().unwrap_or("").starts_with("mcpstore: "), "{}", o.stderr);
}

#[test]
fn config_source() {
    let dir = TempDir::new("mcps-cli-cfg");
    let path = dir.path().join("servers.json");
    let cfg = json!({"mcpServers": {"local": {"command": demo_bin()}}});
    std::fs::write(&path, cfg.to_string()).unwrap();
    let p = path.to_string_lossy().into_owned();
    let o = run(&["--config", &p, "call", "local.echo", r#"{"message":"cfg"}"#]);
    assert_eq!(o.code, 0, "stderr: {}", o.stderr);
    assert!(o.stdout.contains("cfg"));
    // ./mcp.json in the working directory is used by default.
    std::fs::write(dir.path().join("mcp.json"), cfg.to_string()).unwrap();
    let o = run_in(dir.path(), &["tools", "local"]);
    assert_eq!(o.code, 0, "stderr: {}", o.stderr);
    assert!(o.stdout.contains("local.echo"));
    std::fs::write(&path, r#"{"mcpServers": {"local": {"command": 5}}}"#).unwrap();
    let o = run(&["--config", &p, "services"]);
    assert_eq!(o.code, 2);
    let line = one_error_line(&o);
    assert!(line.contains("'local'") && line.contains("command"), "{line}");
}
