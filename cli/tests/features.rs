//! The CLI's commands beyond tools, against the demo server over stdio and
//! Streamable HTTP: `resources`, `templates`, `read`, `prompts`, `prompt`,
//! `complete`, `watch` (`--for`, `--count`, `--type`, `--subscribe`),
//! `--log-level`, `--accept-elicitation-defaults`, `--root`, and `auth` on a
//! service without OAuth.

mod cli_support;
#[path = "../../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::time::{Duration, Instant};

use cli_support::{Output, one_error_line, run, run_stdio};
use common::{TempDir, cli_bin, demo_bin, demo_http};
use mcpstore::Root;
use serde_json::{Value, json};

/// The demo server over stdio with extra arguments, as a `--stdio` source.
fn stdio_with(args: &str) -> String {
    format!("'{}' {args}", demo_bin())
}

fn json_line(o: &Output) -> Value {
    assert_eq!(o.code, 0, "stdout {} stderr {}", o.stdout, o.stderr);
    assert_eq!(o.stdout.trim().lines().count(), 1, "{}", o.stdout);
    serde_json::from_str(o.stdout.trim()).expect("stdout is JSON")
}

/// The first word of each line of stdout (the service, or service.name).
fn columns(o: &Output, n: usize) -> Vec<String> {
    assert_eq!(o.code, 0, "stdout {} stderr {}", o.stdout, o.stderr);
    o.stdout.lines().map(|l| l.split_whitespace().nth(n).unwrap_or("").to_owned()).collect()
}

#[test]
fn resources_and_templates_follow_every_page() {
    let source = stdio_with("--page-size 1");
    let o = run(&["--stdio", &source, "resources"]);
    assert_eq!(columns(&o, 1), ["demo://docs/readme", "demo://docs/logo.png"], "{}", o.stdout);
    assert!(o.stdout.lines().all(|l| l.starts_with("server ")), "{}", o.stdout);
    assert!(o.stdout.contains("image/png"));
    let o = run(&["--stdio", &source, "resources", "server"]);
    assert_eq!(columns(&o, 1).len(), 2);
    let o = run(&["--stdio", &source, "templates"]);
    assert_eq!(columns(&o, 1), ["demo://notes/{name}"]);
    let o = run(&["--stdio", &source, "resources", "nosuch"]);
    assert_eq!(o.code, 2);
    assert!(one_error_line(&o).contains("nosuch"));
}

#[test]
fn read_keeps_text_and_blobs_whole() {
    let o = run_stdio(&["read", "demo://docs/readme"]);
    let v = json_line(&o);
    assert_eq!(v["contents"][0]["mimeType"], "text/markdown");
    assert!(v["contents"][0]["text"].as_str().unwrap().starts_with("# mcpstore demo server"));
    // Over HTTP, with the service named.
    let http = demo_http(&[]);
    let v = json_line(&run(&["--url", &http.url(), "read", "demo://docs/logo.png", "--service", "server"]));
    assert_eq!(v["contents"][0]["mimeType"], "image/png");
    assert!(v["contents"][0]["blob"].as_str().unwrap().starts_with("iVBORw0KGgo"));
    let o = run_stdio(&["read", "nothing://here"]);
    assert_eq!(o.code, 2);
    assert!(one_error_line(&o).contains("nothing://here"), "{}", o.stderr);
}

#[test]
fn prompts_prompt_and_complete() {
    let source = stdio_with("--page-size 1");
    let o = run(&["--stdio", &source, "prompts"]);
    assert_eq!(columns(&o, 0), ["server.summarize", "server.greet"], "{}", o.stdout);
    assert!(o.stdout.contains("(topic*,style)"), "{}", o.stdout);
    let v = json_line(&run_stdio(&["prompt", "summarize", r#"{"topic": "pools", "style": "detailed"}"#]));
    let text = v["messages"][0]["content"]["text"].as_str().unwrap();
    assert!(text.contains("pools"), "{v}");
    let v = json_line(&run_stdio(&["prompt", "server.greet", r#"{"name": "Ada"}"#]));
    assert!(v["messages"].as_array().unwrap().len() >= 2, "{v}");
    let o = run_stdio(&["prompt", "summarize"]);
    assert_eq!(o.code, 2, "a required argument is missing");
    assert!(one_error_line(&o).contains("-32602"), "{}", o.stderr);
    let o = run_stdio(&["prompt", "sumarize", "{}"]);
    assert_eq!(o.code, 2);
    assert!(one_error_line(&o).contains("summarize"), "suggests the name: {}", o.stderr);

    let v = json_line(&run_stdio(&["complete", "--prompt", "summarize", "style", "d"]));
    assert_eq!(v["values"], json!(["detailed"]));
    let v = json_line(&run_stdio(&["complete", "--prompt", "server.summarize", "style"]));
    assert!(v["values"].as_array().unwrap().len() > 1, "no prefix: every style: {v}");
    // Template variables: the notes written on an HTTP server.
    let http = demo_http(&[]);
    for name in ["shopping", "shows", "work"] {
        let o = run(&[
            "--url",
            &http.url(),
            "call",
            "write_note",
            &json!({"name": name, "text": "x"}).to_string(),
        ]);
        assert_eq!(o.code, 0, "{}", o.stderr);
    }
    let v = json_line(&run(&[
        "--url",
        &http.url(),
        "complete",
        "--template",
        "demo://notes/{name}",
        "name",
        "sh",
    ]));
    assert_eq!(v["values"], json!(["shopping", "shows"]));
    let o = run_stdio(&["complete", "style", "d"]);
    assert_eq!(o.code, 2, "--prompt or --template is required");
}

/// A `watch` running in the background: its stdout lines, collected once it ends.
struct Watch {
    child: std::process::Child,
    stdout: std::thread::JoinHandle<String>,
}

impl Watch {
    /// Starts `mcpstore ARGS` and waits until it says it is watching.
    fn start(args: &[&str]) -> Watch {
        let dir = TempDir::new("mcps-watch");
        let mut cmd = common::isolated::command(cli_bin());
        cmd.args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.env("MCPSTORE_LOG", "warn").spawn().expect("start mcpstore watch");
        let mut out = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let (tx, rx) = crossbeam_channel::unbounded();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains("watching") => break,
                Ok(_) => {}
                Err(_) => {
                    let _ = child.kill();
                    panic!("watch {args:?} did not start");
                }
            }
        }
        Watch { child, stdout }
    }

    /// Waits (up to 30 s) for it to end by itself; its exit status and events.
    fn finish(mut self) -> (i32, Vec<Value>) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("watch did not end by itself");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = self.stdout.join().unwrap();
        let events = out.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
        (status.code().unwrap_or(-1), events)
    }
}

#[test]
fn watch_prints_list_changes_and_resource_updates_then_stops_at_count() {
    let http = demo_http(&[]);
    let url = http.url();
    let w = Watch::start(&[
        "--url",
        &url,
        "watch",
        "--subscribe",
        "demo://notes/w",
        "--type",
        "resource_updated",
        "--type",
        "resources_list_changed",
        "--count",
        "2",
    ]);
    // Another client writes the note: this watcher hears of it on its listening stream.
    let o = run(&["--url", &url, "call", "write_note", r#"{"name": "w", "text": "hello"}"#]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let (code, events) = w.finish();
    assert_eq!(code, 0);
    let mut kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    kinds.sort();
    assert_eq!(kinds, ["resource_updated", "resources_list_changed"], "{events:?}");
    let updated = events.iter().find(|e| e["type"] == "resource_updated").unwrap();
    assert_eq!(updated["uri"], "demo://notes/w");
    assert!(events.iter().all(|e| e["service"] == "server"));
}

#[test]
fn watch_with_a_log_level_prints_only_those_messages() {
    // Log messages that belong to no request are the handshake era's (in
    // 2026-07-28 a log message goes only with the request that asked for it).
    let source = stdio_with("--log-every 50 --era 2025-11-25");
    let w = Watch::start(&[
        "--stdio",
        &source,
        "--log-level",
        "warning",
        "watch",
        "--type",
        "log",
        "--count",
        "3",
    ]);
    let (code, events) = w.finish();
    assert_eq!(code, 0);
    assert_eq!(events.len(), 3);
    for e in &events {
        assert!(matches!(e["level"].as_str(), Some("warning" | "error")), "{e}");
        assert_eq!(e["logger"], "demo.ticker");
        assert!(e["data"].as_str().unwrap().starts_with("tick "), "{e}");
    }
    let o = run_stdio(&["--log-level", "loud", "tools"]);
    assert_eq!(o.code, 2, "an unknown level is a usage error");
    assert!(o.stderr.contains("loud"));
}

#[test]
fn watch_for_ends_after_that_long() {
    let started = Instant::now();
    let w = Watch::start(&["--stdio", &stdio_with(""), "watch", "--for", "0.5", "--type", "log"]);
    let (code, events) = w.finish();
    assert_eq!(code, 0);
    assert!(events.is_empty(), "{events:?}");
    assert!(started.elapsed() >= Duration::from_millis(500));
}

#[test]
fn elicitation_defaults_and_roots_answer_the_server() {
    // Without the flags the client declares neither capability: the tools say so.
    let o = run_stdio(&["call", "ask_user", r#"{"question": "q", "default_name": "Ada"}"#]);
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert!(o.stdout.contains("elicitation capability"), "{}", o.stdout);
    let o = run_stdio(&["call", "list_roots"]);
    assert_eq!(o.code, 1);
    assert!(o.stdout.contains("roots capability"), "{}", o.stdout);
    let o = run_stdio(&["call", "ask_model", r#"{"question": "q"}"#]);
    assert_eq!(o.code, 1, "the CLI has no model");
    assert!(o.stdout.contains("sampling capability"), "{}", o.stdout);

    let args = r#"{"question": "Who?", "default_name": "Ada"}"#;
    let v = json_line(&run_stdio(&["--accept-elicitation-defaults", "call", "ask_user", args]));
    assert_eq!(v["content"][0]["text"], "accept name=Ada age=30 subscribe=false");
    // A required field without a default: the built-in handler declines.
    let v =
        json_line(&run_stdio(&["--accept-elicitation-defaults", "call", "ask_user", r#"{"question": "q"}"#]));
    assert_eq!(v["content"][0]["text"], "decline");

    let (a, b) = (TempDir::new("mcps-root-a"), TempDir::new("mcps-root-b"));
    let v = json_line(&run_stdio(&["--root", &a.str(), "--root", &b.str(), "call", "list_roots"]));
    let uris: Vec<&str> = v["structuredContent"]["roots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert_eq!(uris, [Root::directory(a.path()).uri, Root::directory(b.path()).uri]);
    let o = run_stdio(&["--root", "/no/such/dir", "tools"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("/no/such/dir"));
}

#[test]
fn auth_on_a_service_without_oauth() {
    let v = json_line(&run_stdio(&["auth", "status", "server"]));
    assert_eq!(v["mode"], "none");
    assert_eq!(v["authorized"], false);
    let o = run_stdio(&["auth", "login", "server"]);
    assert_eq!(o.code, 2);
    assert!(one_error_line(&o).contains("auth"), "{}", o.stderr);
    let o = run_stdio(&["auth", "logout", "server"]);
    assert_eq!(o.code, 0, "nothing to forget: {}", o.stderr);
    let o = run_stdio(&["auth", "status", "nosuch"]);
    assert_eq!(o.code, 2);
    let o = run_stdio(&["auth", "status"]);
    assert_eq!(o.code, 2, "SERVICE is required");
}
