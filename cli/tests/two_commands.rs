//! The README's two commands keep working: `cargo run --release --bin mcpstore
//! -- demo` runs the CLI's tour, the tour itself must succeed with the real
//! results of its calls, and CI runs exactly the README's test command.

#[path = "../../tests/common/isolated.rs"]
#[allow(dead_code)]
mod isolated;

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The workspace root (this crate lives in `cli/`).
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn readme_opens_with_the_two_commands_and_ci_runs_the_second() {
    let readme = read("README.md");
    let block: Vec<&str> = readme.lines().skip_while(|l| !l.starts_with("```")).skip(1).take(2).collect();
    assert!(block[0].starts_with("cargo run --release --bin mcpstore -- demo"), "{block:?}");
    assert!(block[1].starts_with("bash scripts/test-all.sh"), "{block:?}");
    let ci = read(".ci/run");
    assert!(ci.contains("scripts/test-all.sh"), "{ci}");
    let manifest = read("cli/Cargo.toml");
    assert!(manifest.contains("name = \"mcpstore\""), "the CLI crate builds the `mcpstore` binary");
}

/// Runs `mcpstore demo` without the developer's `MCPSTORE_*` settings,
/// killing it if it runs longer than `limit`; (exit code, stdout, stderr).
fn run_demo(limit: Duration) -> (Option<i32>, String, String) {
    let mut cmd = isolated::command(env!("CARGO_BIN_EXE_mcpstore"));
    cmd.arg("demo").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run mcpstore demo");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
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
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for mcpstore demo") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mcpstore demo did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.code(), t_out.join().expect("stdout reader"), t_err.join().expect("stderr reader"))
}

/// The line of `stdout` that shows the call `head` (tool and arguments).
fn call_line<'a>(stdout: &'a str, head: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.trim_start().starts_with(head))
        .unwrap_or_else(|| panic!("no line for {head}:\n{stdout}"))
}

#[test]
fn the_demo_tour_succeeds_and_prints_real_results() {
    let (code, stdout, stderr) = run_demo(Duration::from_secs(180));
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains("unexpected"), "{stdout}");
    // Each call's own result follows its arrow (the arguments alone would not do).
    let echo = call_line(&stdout, r#"local.echo {"message":"hello over stdio"}"#);
    assert!(echo.ends_with("-> hello over stdio"), "{echo}");
    let web = call_line(&stdout, r#"web.echo {"message":"hello over Streamable HTTP"}"#);
    assert!(web.ends_with("-> hello over Streamable HTTP"), "{web}");
    let add = call_line(&stdout, r#"local.add {"a":2,"b":3}"#);
    assert!(add.ends_with("-> 5"), "{add}");
    let read = call_line(&stdout, r#"local.read_file {"path":"hello.txt"}"#);
    assert!(read.contains("-> Hello from the mcpstore demo!"), "{read}");
    let fail = call_line(&stdout, "local.fail ");
    assert!(fail.contains("-> tool error: tool errors are data, not exceptions  (as intended)"), "{fail}");
    let ambiguous = call_line(&stdout, r#"echo {"message":"ambiguous?"}"#);
    assert!(ambiguous.contains("-> error: ") && ambiguous.contains("(as intended)"), "{ambiguous}");
    let unknown = call_line(&stdout, "ecoh {}");
    assert!(unknown.contains("-> error: ") && unknown.contains("echo"), "suggests echo: {unknown}");
    assert!(stdout.contains("100/100 ok; last result (99 + 1) = 100"), "{stdout}");
    // The benchmark rows: 2000 calls each, none failed.
    for name in ["local.echo single x1", "local.echo single x16", "web.echo single x1", "web.echo single x16"]
    {
        let row = call_line(&stdout, name);
        let cols: Vec<&str> = row[name.len()..].split_whitespace().collect();
        assert_eq!(cols.first(), Some(&"2000"), "calls: {row}");
        assert_eq!(cols.get(1), Some(&"0"), "errors: {row}");
    }
}
