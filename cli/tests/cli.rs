//! The `mcpstore` command line: `call` (output and exit codes), `services`,
//! `tools`, `batch`, `bench` (its modes, `--duration`, `--no-cache`,
//! `--stats`), `--help`, `--version` and usage errors, with `--stdio`,
//! `--url` and `--config` sources.
//!
//! The CLI runs without the developer's `MCPSTORE_*` settings (they would
//! change its configuration); tests set the ones they mean.

mod cli_support;
#[path = "../../tests/common/mod.rs"]
mod common;

use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::OwnedFd;

use cli_support::{Output, one_error_line, run, run_in, run_stdio};
use common::{TempDir, demo_bin, demo_http};
use serde_json::{Value, json};

#[test]
fn call_prints_json_and_exits_0() {
    let o = run_stdio(&["call", "echo", r#"{"message":"x y"}"#]);
    assert_eq!(o.code, 0, "stderr: {}", o.stderr);
    let v: Value = serde_json::from_str(o.stdout.trim()).expect("stdout is JSON");
    // The demo speaks 2026-07-28 to `auto`: the result says its kind.
    assert_eq!(v, json!({"content": [{"type": "text", "text": "x y"}], "resultType": "complete"}));
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
    let tools = common::core::DEMO_TOOLS.len();
    assert!(row.contains(&format!(" {tools} ")), "tool count: {row}");
    // Connected: healthy, or warming while the second warm session (min 2) opens; never degraded.
    assert!(row.contains("healthy") || row.contains("warming"), "state: {row}");

    let o = run_stdio(&["tools"]);
    assert_eq!(o.code, 0, "stderr: {}", o.stderr);
    let names: Vec<&str> = o.stdout.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(names.len(), tools, "{}", o.stdout);
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
    let (_reserved, port) = refused_port();
    let o = run(&["--url", &format!("http://127.0.0.1:{port}/mcp"), "call", "echo", "{}"]);
    assert_eq!(o.code, 2, "{}", o.stdout);
    assert!(o.stderr.lines().last().unwrap_or("").starts_with("mcpstore: "), "{}", o.stderr);
}

/// A port on 127.0.0.1 that refuses connections and that nothing else can
/// take while the returned socket lives: a listener whose listening socket
/// was shut down (Linux then refuses connections; the port stays bound).
fn refused_port() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local addr").port();
    // std has no shutdown for listeners: use a TcpStream view of a duplicate.
    let dup = TcpStream::from(OwnedFd::from(listener.try_clone().expect("dup")));
    dup.shutdown(Shutdown::Both).expect("shut the listening socket");
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "port {port} still accepts connections");
    (listener, port)
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

/// The demo server's own count of `tools/call` requests, asked over `url`.
fn server_calls(url: &str) -> u64 {
    let o = run(&["--url", url, "call", "stats"]);
    assert_eq!(o.code, 0, "stderr: {}", o.stderr);
    let v: Value = serde_json::from_str(o.stdout.trim()).expect("stats result");
    v["structuredContent"]["calls"].as_u64().expect("calls")
}

fn bench_json(o: &Output) -> Value {
    assert_eq!(o.code, 0, "stdout: {} stderr: {}", o.stdout, o.stderr);
    let lines: Vec<&str> = o.stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one JSON object: {}", o.stdout);
    serde_json::from_str(lines[0]).expect("bench --json prints JSON")
}

#[test]
fn batch_prints_one_line_per_call_in_order_with_per_line_errors() {
    let dir = TempDir::new("mcps-cli-batch");
    let path = dir.path().join("calls.jsonl");
    let lines = [
        r#"{"tool": "echo", "arguments": {"message": "first"}}"#,
        "not json",
        r#"{"tool": "add", "arguments": {"a": 1, "b": 2}}"#,
        r#"{"tool": "ecoh", "arguments": {}}"#,
        "",
        r#"{"tool": "fail", "arguments": {"message": "boom"}}"#,
        r#"{"arguments": {}}"#,
        r#"{"tool": "echo", "arguments": {"message": "last"}}"#,
    ];
    std::fs::write(&path, lines.join("\n")).unwrap();
    let p = path.to_string_lossy().into_owned();
    let o = run_stdio(&["batch", &p]);
    assert_eq!(o.code, 2, "a line failed: {} {}", o.stdout, o.stderr);
    let out: Vec<Value> = o.stdout.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(out.len(), 7, "one line per call, the blank line skipped: {}", o.stdout);
    assert_eq!(out[0]["content"][0]["text"], "first");
    assert!(out[1]["error"]["message"].as_str().unwrap().contains("line 2"), "{}", out[1]);
    assert_eq!(out[2]["structuredContent"]["sum"], 3);
    assert!(out[3]["error"]["message"].as_str().unwrap().contains("ecoh"), "{}", out[3]);
    assert_eq!(out[4]["isError"], true);
    assert_eq!(out[4]["content"][0]["text"], "boom");
    assert!(out[5]["error"]["message"].as_str().unwrap().contains("line 7"), "{}", out[5]);
    assert_eq!(out[6]["content"][0]["text"], "last");

    // Only a tool error: exit 1; all fine: exit 0.
    std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[5])).unwrap();
    let o = run_stdio(&["batch", &p]);
    assert_eq!(o.code, 1, "{} {}", o.stdout, o.stderr);
    assert_eq!(o.stdout.lines().count(), 2);
    std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[7])).unwrap();
    let o = run_stdio(&["batch", &p]);
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
    assert_eq!(o.stdout.lines().count(), 2);
    // A file that cannot be read is one error line, exit 2.
    let o = run_stdio(&["batch", "/nonexistent/calls.jsonl"]);
    assert_eq!(o.code, 2);
    assert!(one_error_line(&o).contains("cannot open"));
}

/// An mcp.json in `dir` with the HTTP demo server at `url` as service
/// `server`, whose cache policy caches `add` for a minute.
fn config_caching_add(dir: &TempDir, url: &str) -> String {
    let path = dir.path().join("mcp.json");
    let config = json!({"mcpServers": {"server": {"url": url, "cache": {"tools": {"add": {"ttl": 60}}}}}});
    std::fs::write(&path, config.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

fn bench_add(config: &str, mode: &str, no_cache: bool) -> Output {
    let mut args = vec![
        "--config",
        config,
        "bench",
        "add",
        r#"{"a": 1, "b": 2}"#,
        "--mode",
        mode,
        "--calls",
        "30",
        "--batch-size",
        "7",
        "--concurrency",
        "3",
        "--warmup",
        "2",
        "--json",
    ];
    if no_cache {
        args.push("--no-cache");
    }
    run(&args)
}

#[test]
fn bench_no_cache_sends_every_call_to_the_server_in_every_mode() {
    let demo = demo_http(&[]);
    let url = demo.url();
    let dir = TempDir::new("mcps-cli-nocache");
    let config = config_caching_add(&dir, &url);
    for mode in ["single", "submit", "batch"] {
        // The service's policy caches `add`: without --no-cache its repeats are hits...
        let before = server_calls(&url);
        let v = bench_json(&bench_add(&config, mode, false));
        assert_eq!(v["ok"], 30, "{mode}: {v}");
        let hits = v["cache"]["hits"].as_u64().unwrap();
        let served = server_calls(&url) - before;
        assert!(hits > 0 && served < 32, "{mode}: the cache served repeats: {served} served, {v}");
        // ...and with --no-cache every call, warm-up included, reaches the server.
        let before = server_calls(&url);
        let v = bench_json(&bench_add(&config, mode, true));
        assert_eq!(v["calls"], 30, "{mode}: {v}");
        assert_eq!(v["ok"], 30, "{mode}: {v}");
        assert_eq!(v["errors"], 0, "{mode}: {v}");
        assert_eq!(v["cache"]["hits"], 0, "{mode}: {v}");
        assert_eq!(v["cache"]["entries"], 0, "{mode}: nothing stored either: {v}");
        assert_eq!(server_calls(&url) - before, 32, "{mode}");
    }
}

#[test]
fn bench_duration_runs_for_that_long() {
    let demo = demo_http(&[]);
    let url = demo.url();
    for mode in ["single", "batch", "submit"] {
        let before = server_calls(&url);
        let o = run(&[
            "--url",
            &url,
            "bench",
            "echo",
            r#"{"message": "d"}"#,
            "--mode",
            mode,
            "--duration",
            "0.3",
            "--calls",
            "1",
            "--batch-size",
            "5",
            "--warmup",
            "0",
            "--no-cache",
            "--json",
        ]);
        let v = bench_json(&o);
        let calls = v["calls"].as_u64().unwrap();
        assert!(v["elapsed_s"].as_f64().unwrap() >= 0.3, "{mode}: {v}");
        assert!(calls >= 2, "the duration, not --calls 1, bounds the run: {mode}: {v}");
        assert_eq!(v["ok"], calls, "{mode}: {v}");
        assert_eq!(server_calls(&url) - before, calls, "{mode}");
    }
}

/// What `bench` prints after its own tables: the `--stats` output.
fn stats_part(o: &Output) -> String {
    assert_eq!(o.code, 0, "stdout: {} stderr: {}", o.stdout, o.stderr);
    let mut lines = o.stdout.lines().skip_while(|l| !l.starts_with("cache: hits"));
    assert!(lines.next().is_some(), "no cache line: {}", o.stdout);
    lines.collect::<Vec<_>>().join("\n")
}

#[test]
fn bench_stats_formats() {
    let bench = |format: &str| {
        run_stdio(&[
            "bench",
            "echo",
            r#"{"message":"s"}"#,
            "--calls",
            "20",
            "--warmup",
            "0",
            "--stats",
            format,
        ])
    };
    let json = stats_part(&bench("json"));
    let v: Value = serde_json::from_str(json.trim()).expect("--stats json is one JSON object");
    for key in ["uptime_s", "pool", "cache", "objects", "executor", "memory", "tools"] {
        assert!(v.get(key).is_some(), "{key} missing: {v}");
    }
    assert!(v["pool"]["server"]["created"].as_u64().is_some_and(|n| n >= 1), "{v}");
    let echo = v["tools"].as_array().unwrap().iter().find(|t| t["tool"] == "echo").expect("echo metrics");
    assert_eq!(echo["service"], "server");
    assert_eq!(echo["calls"], 20, "{echo}");

    let prom = stats_part(&bench("prometheus"));
    let mut samples = 0;
    for line in prom.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix('#') {
            assert!(rest.starts_with(" HELP ") || rest.starts_with(" TYPE "), "{line}");
            continue;
        }
        let (name, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("sample line: {line}"));
        assert!(name.starts_with("mcpstore_"), "{line}");
        assert!(value.parse::<f64>().is_ok(), "value of {line}");
        samples += 1;
    }
    assert!(samples > 10, "{prom}");
    assert!(prom.lines().any(|l| l == r#"mcpstore_calls_total{service="server",tool="echo"} 20"#), "{prom}");
    assert!(prom.contains(r#"mcpstore_pool_sessions_created_total{service="server"}"#), "{prom}");

    let table = stats_part(&bench("table"));
    let header = table.lines().next().unwrap_or("");
    assert!(header.starts_with("tool") && header.contains("calls") && header.contains("p99 ms"), "{table}");
    let row = table.lines().find(|l| l.starts_with("server.echo")).unwrap_or_else(|| panic!("{table}"));
    assert_eq!(row.split_whitespace().nth(1), Some("20"), "{row}");
    assert!(table.lines().any(|l| l.starts_with("cache: ")), "{table}");
}

#[test]
fn help_on_every_command() {
    let cases: [(&[&str], &[&str]); 8] = [
        (
            &["--help"],
            &["--config", "--stdio", "--url", "--header", "--verbose", "--version", "services", "bench"],
        ),
        (&["services", "--help"], &["Usage: mcpstore services"]),
        (&["tools", "--help"], &["[SERVICE]"]),
        (&["call", "--help"], &["<TOOL>", "[JSON_ARGS]"]),
        (&["batch", "--help"], &["<FILE.jsonl>"]),
        (
            &["bench", "--help"],
            &[
                "<TOOL>",
                "--calls",
                "--concurrency",
                "--mode",
                "single",
                "batch",
                "submit",
                "--batch-size",
                "--duration",
                "--warmup",
                "--no-cache",
                "--json",
                "--stats",
                "prometheus",
            ],
        ),
        (&["demo", "--help"], &["Usage: mcpstore demo"]),
        (&["help", "call"], &["<TOOL>", "[JSON_ARGS]"]),
    ];
    for (args, wanted) in cases {
        let o = run(args);
        assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
        assert!(o.stderr.is_empty(), "{args:?}: {}", o.stderr);
        for w in wanted {
            assert!(o.stdout.contains(w), "{args:?} does not mention {w}:\n{}", o.stdout);
        }
    }
    let top = run(&["--help"]);
    assert!(!top.stdout.contains("serve-demo"), "the demo server command stays hidden");
    // The hidden command passes --help on to the demo server.
    let demo = run(&["serve-demo", "--help"]);
    assert_eq!(demo.code, 0);
    assert!(demo.stdout.contains("--sse-disconnect-every"), "{}", demo.stdout);
}

#[test]
fn version_prints_the_crate_version() {
    for flag in ["--version", "-V"] {
        let o = run(&[flag]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert_eq!(o.stdout, format!("mcpstore {}\n", env!("CARGO_PKG_VERSION")));
    }
}

#[test]
fn usage_errors_exit_2_and_name_the_argument() {
    let cases: [(&[&str], &[&str]); 6] = [
        (&["--bogus", "services"], &["--bogus"]),
        (&["bench", "echo", "--bogus-flag"], &["--bogus-flag"]),
        (&["call", "echo", "{}", "--nope"], &["--nope"]),
        (&["bench", "echo", "--mode", "fast"], &["--mode", "fast"]),
        (&["bench", "echo", "--calls", "x"], &["--calls", "x"]),
        (&["--config", "a.json", "--url", "http://x/mcp", "services"], &["--config", "--url"]),
    ];
    for (args, named) in cases {
        let o = run(args);
        assert_eq!(o.code, 2, "{args:?}: {}", o.stderr);
        assert!(o.stdout.is_empty(), "{args:?}: {}", o.stdout);
        for n in named {
            assert!(o.stderr.contains(n), "{args:?}: stderr does not name {n}: {}", o.stderr);
        }
    }
    let o = run(&[]);
    assert_eq!(o.code, 2, "a command is required: {}", o.stderr);
}
