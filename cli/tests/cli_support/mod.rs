//! Running the `mcpstore` CLI from tests: a child process in an empty temp
//! dir (no ./mcp.json), without the developer's `MCPSTORE_*` settings,
//! killed after 60 s; its exit status and output.
#![allow(dead_code)]

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{self, TempDir, cli_bin, demo_bin};

/// What a finished CLI run left.
pub struct Output {
    /// The exit status (-1: killed by a signal).
    pub code: i32,
    /// Everything it printed to stdout.
    pub stdout: String,
    /// Everything it printed to stderr.
    pub stderr: String,
}

/// Runs the CLI in `cwd` (an empty temp dir, so no ./mcp.json is picked up),
/// killing it if it runs longer than 60 s.
pub fn run_in(cwd: &std::path::Path, args: &[&str]) -> Output {
    let mut cmd = common::isolated::command(cli_bin());
    cmd.args(args).current_dir(cwd).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.env("MCPSTORE_LOG", "warn").spawn().expect("start mcpstore");
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

pub fn run(args: &[&str]) -> Output {
    let dir = TempDir::new("mcps-cli");
    run_in(dir.path(), args)
}

pub fn stdio_source() -> Vec<String> {
    vec!["--stdio".into(), format!("'{}'", demo_bin())]
}

pub fn run_stdio(args: &[&str]) -> Output {
    let mut all = stdio_source();
    all.extend(args.iter().map(|s| (*s).to_owned()));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    run(&refs)
}

pub fn one_error_line(o: &Output) -> &str {
    let lines: Vec<&str> = o.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one stderr line, got: {:?}", o.stderr);
    assert!(lines[0].starts_with("mcpstore: "), "{}", lines[0]);
    lines[0]
}
