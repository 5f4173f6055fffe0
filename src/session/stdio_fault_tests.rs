//! Stdio faults seen through a session: a write to a server that exited
//! never raises SIGPIPE in the host (even with SIGPIPE at its default
//! action, as in a C or Go host), and dropping a session returns while a
//! daemonized grandchild still holds the server's pipes.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::{Session, SessionOptions};
use crate::config::{StdioConfig, TransportConfig};
use crate::error::Error;

fn sh(script: &str, args: &[&str]) -> StdioConfig {
    let mut all = vec!["-c".to_owned(), script.to_owned()];
    all.extend(args.iter().map(|s| (*s).to_owned()));
    StdioConfig::new("sh", all)
}

/// The demo server binary, built beside the test binary by `cargo test` at the workspace root.
fn demo_bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test binary path");
        let bin = exe.parent().and_then(|d| d.parent()).expect("target dir").join("mcpstore-demo-server");
        assert!(
            bin.exists(),
            "the demo server is not built at {}: run `cargo test` at the workspace root",
            bin.display()
        );
        bin.to_string_lossy().into_owned()
    })
}

fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

fn connect(config: &StdioConfig) -> Session {
    let options = SessionOptions {
        connection_timeout: Duration::from_secs(20),
        read_timeout: Duration::from_secs(20),
        write_timeout: Duration::from_secs(10),
        ..SessionOptions::default()
    };
    Session::connect("test", &TransportConfig::Stdio(config.clone()), options).expect("connect")
}

/// Call options with a timeout.
fn within(timeout: Duration) -> crate::CallOptions {
    crate::CallOptions { timeout: Some(timeout), ..Default::default() }
}

/// Runs `f` on its own thread and fails the test if it has not returned within `limit`.
fn bounded<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(v)) => v,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("test body did not finish within {limit:?} (hang?)"),
    }
}

// ------------------------------------------------------------------ SIGPIPE (fix 1)

const SIGPIPE_CHILD: &str = "MCPSTORE_TEST_SIGPIPE_CHILD";

/// Runs only inside the child process started by the test below: with SIGPIPE
/// at its default action (as in a C or Go host), writes to a server whose stdin
/// has no reader any more. Without the library's protection the process dies.
#[test]
fn sigpipe_child() {
    if std::env::var_os(SIGPIPE_CHILD).is_none() {
        return;
    }
    // SAFETY: restores the default action, as a C program has it.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // The demo server gets stdin and exits on its first tools/call; `sleep`
    // keeps stdout open, so the library only learns of the exit by writing.
    // (An asynchronous command's stdin is /dev/null unless redirected: pass it on via fd 3.)
    let script = r#"exec 3<&0; "$0" --crash-after 0 <&3 3<&- & exec 0<&- 3<&-; exec sleep 20"#;
    let session = connect(&sh(script, &[demo_bin()]));
    let first = session.call_tool("echo", json!({"message": "crash"}), &within(Duration::from_millis(500)));
    assert!(first.is_err(), "{first:?}");
    for _ in 0..3 {
        match session.call_tool("echo", json!({"message": "again"}), &within(Duration::from_secs(2))) {
            Err(e @ Error::Closed { may_have_run: false, .. }) => println!("write failed as it should: {e}"),
            other => panic!("expected a closed error, got {other:?}"),
        }
    }
    println!("SURVIVED");
}

#[test]
fn writing_to_an_exited_server_never_raises_sigpipe() {
    let mut child = Command::new(std::env::current_exe().unwrap());
    // The child gets none of the developer's MCPSTORE_* settings, only the switch.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MCPSTORE_") {
            child.env_remove(name);
        }
    }
    let out = child
        .args(["--exact", "session::stdio_fault_tests::sigpipe_child", "--nocapture", "--test-threads=1"])
        .env(SIGPIPE_CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("SURVIVED"),
        "child status {:?} (signal {:?})\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        out.status.signal(),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ------------------------------------------------------------------ stdio shutdown (fix 2)

#[test]
fn dropping_a_session_returns_while_a_daemonized_grandchild_holds_the_pipes() {
    let pidfile = std::env::temp_dir().join(unique("grandchild-pid"));
    let pidfile_str = pidfile.to_string_lossy().into_owned();
    // The grandchild leaves the process group (own session) and inherits stdout/stderr.
    let script = r#"setsid sleep 60 & echo $! > "$1"; exec "$0""#;
    let config = sh(script, &[demo_bin(), &pidfile_str]);
    let elapsed = bounded(Duration::from_secs(60), move || {
        let session = connect(&config);
        let r =
            session.call_tool("echo", json!({"message": "hi"}), &within(Duration::from_secs(10))).unwrap();
        assert_eq!(r.text(), "hi");
        let started = Instant::now();
        drop(session);
        started.elapsed()
    });
    if let Some(pid) = std::fs::read_to_string(&pidfile).ok().and_then(|s| s.trim().parse::<i32>().ok()) {
        // SAFETY: ends the sleep this test started.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    let _ = std::fs::remove_file(&pidfile);
    // Bounded by the shutdown's grace periods (stdin close 1 s, SIGTERM 1 s,
    // threads 2 s), not by the grandchild's 60 s; plus a margin for load.
    let bound = Duration::from_secs(4) + Duration::from_millis(1500);
    assert!(elapsed < bound, "drop took {elapsed:?}");
}
