//! Switches that act on the whole process, run through the binary:
//! `--exit-on` (stdio and HTTP) and `--banner`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mcpstore-demo-server");
const LIMIT: Duration = Duration::from_secs(20);

fn start(args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the demo server")
}

/// Waits (bounded) for the child to exit; its exit code.
fn exit_code(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + LIMIT;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the demo server did not exit within {LIMIT:?}");
}

#[test]
fn exit_on_over_stdio_exits_before_answering() {
    let mut child = start(&["--exit-on", "tools/list", "--banner", "ready: demo"]);
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{}}}}"#).unwrap();
    writeln!(stdin, r#"{{"jsonrpc":"2.0","method":"notifications/tools/list"}}"#).unwrap();
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":2,"method":"tools/list"}}"#).unwrap();
    // Kept open: the server must exit by itself, not on EOF.
    assert_eq!(exit_code(&mut child), Some(3));
    drop(stdin);
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "ready: demo", "the banner comes first: {out}");
    assert_eq!(lines.len(), 2, "only initialize was answered: {out}");
    assert!(lines[1].contains("\"id\":1"), "{out}");
}

#[test]
fn exit_on_over_http_exits_on_arrival() {
    let mut child = start(&["--http", "127.0.0.1:0", "--exit-on", "ping"]);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("ready line: {line:?}"));
    let addr = url.trim_start_matches("http://").trim_end_matches("/mcp").to_string();
    let mut conn = TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(LIMIT)).unwrap();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    write!(
        conn,
        "POST /mcp HTTP/1.1\r\nHost: x\r\nMcp-Session-Id: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // An unknown session would get 404, but the process exits on arrival.
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    assert_eq!(exit_code(&mut child), Some(3));
    assert!(answer.is_empty(), "nothing was answered: {}", String::from_utf8_lossy(&answer));
}
