//! The embedded demo MCP server (stdio and Streamable HTTP).
//!
//! This is an independent MCP *server* peer (protocol revision 2025-11-25)
//! used by the library's tests and benchmarks. It deliberately does not use
//! any of the library's client code: it speaks JSON-RPC with `serde_json`
//! directly.
//!
//! Start it with [`main_with_args`] (what the `mcpstore-demo-server` binary
//! does), with [`run`], or in-process with [`spawn_http`].
//!
//! Fault switches (see [`DemoOptions`]) make it crash, hang, answer garbage,
//! expire sessions or drop SSE connections so that client recovery paths can
//! be tested.

mod dispatch;
mod files;
mod http;
mod http_session;
mod http_wire;
mod rpc;
mod sse;
mod state;
mod stdio;
mod tools;

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

pub use http::{HttpServerHandle, spawn_http};

/// Command-line usage text (printed for `--help` and on bad arguments).
pub const USAGE: &str = "\
usage: mcpstore-demo-server [--http ADDR] [options]

Runs the mcpstore demo MCP server (protocol 2025-11-25) over stdio
(newline-delimited JSON) or, with --http, over Streamable HTTP at /mcp.

options:
  --http ADDR                 serve Streamable HTTP on ADDR (e.g. 127.0.0.1:0);
                              prints 'listening on http://ADDR/mcp' to stderr
  --root DIR                  root for read_file/list_directory (default: cwd)
  --page-size N               tools/list page size (default 0 = one page)
  --protocol-version V        always answer initialize with version V
  --delay-ms N                every tools/call waits N ms before answering
  --crash-after N             exit(3) when the (N+1)-th tools/call arrives
  --garbage-after N           replace the (N+1)-th tools/call reply by garbage
  --hang-after N              from the (N+1)-th tools/call on, answer nothing
  --expire-sessions-after N   (HTTP) 404 a session after its first N POSTs
  --json                      (HTTP) answer application/json instead of SSE
  --require-header 'N: V'     (HTTP) requests without that header get 401
  --sse-disconnect-every N    (HTTP SSE) close every N-th tools/call stream
                              after a priming event; resume with GET +
                              Last-Event-ID
  -h, --help                  print this help
";

/// Every switch of the demo server. `Default` is a well-behaved server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoOptions {
    /// Every `tools/call` waits this many milliseconds before answering
    /// (interruptible by cancellation).
    pub delay_ms: u64,
    /// When the (N+1)-th `tools/call` is received the process exits with
    /// status 3 before replying. Calls still in flight are lost. This also
    /// exits the whole process when the server runs in-process via
    /// [`spawn_http`].
    pub crash_after: Option<u64>,
    /// The reply to the (N+1)-th `tools/call` is replaced by a non-JSON line
    /// (stdio) or a non-JSON `application/json` body (HTTP), once.
    pub garbage_after: Option<u64>,
    /// From the (N+1)-th `tools/call` on, the server answers nothing at all
    /// (it keeps reading input).
    pub hang_after: Option<u64>,
    /// HTTP: each session answers its first N POSTs after `initialize`,
    /// then the session id gets 404 forever.
    pub expire_sessions_after: Option<u64>,
    /// HTTP: answer requests with `application/json` bodies instead of SSE.
    pub json_response: bool,
    /// `tools/list` page size; 0 means everything in one page.
    pub page_size: usize,
    /// Root directory for `read_file` / `list_directory` (None = cwd).
    pub root: Option<PathBuf>,
    /// Answer `initialize` with this protocol version whatever was asked.
    pub protocol_version: Option<String>,
    /// HTTP: a header (name, value) every request must carry, else 401.
    pub require_header: Option<(String, String)>,
    /// HTTP SSE: every N-th `tools/call` stream is closed after a priming
    /// event; the result is replayed on `GET /mcp` with `Last-Event-ID`.
    pub sse_disconnect_every: Option<u64>,
}

/// Which transport to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Newline-delimited JSON-RPC over stdin/stdout.
    Stdio,
    /// Streamable HTTP on this address (`host:port`; port 0 picks one).
    Http(String),
}

fn parse_u64(flag: &str, value: &str) -> Result<u64, String> {
    value.trim().parse::<u64>().map_err(|_| format!("{flag} expects a non-negative integer, got {value:?}"))
}

fn parse_header(value: &str) -> Result<(String, String), String> {
    let (name, val) = value
        .split_once(':')
        .ok_or_else(|| format!("--require-header expects 'Name: value', got {value:?}"))?;
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!("--require-header: bad header name in {value:?}"));
    }
    Ok((name.to_string(), val.trim().to_string()))
}

/// Parses command-line arguments (without the program name).
///
/// Flags take their value either as the next argument or as `--flag=value`.
/// `--help` is reported as an error here; [`main_with_args`] handles it
/// before calling this.
pub fn parse_args(args: impl Iterator<Item = String>) -> Result<(DemoOptions, Mode), String> {
    let mut opts = DemoOptions::default();
    let mut mode = Mode::Stdio;
    let mut args = args;
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if flag == "--json" {
            if inline.is_some() {
                return Err("--json takes no value".to_string());
            }
            opts.json_response = true;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            return Err("help requested".to_string());
        }
        let known = [
            "--http",
            "--root",
            "--page-size",
            "--protocol-version",
            "--delay-ms",
            "--crash-after",
            "--garbage-after",
            "--hang-after",
            "--expire-sessions-after",
            "--require-header",
            "--sse-disconnect-every",
        ];
        if !known.contains(&flag.as_str()) {
            return Err(format!("unknown argument {arg:?}"));
        }
        let value = match inline {
            Some(v) => v,
            None => args.next().ok_or_else(|| format!("{flag} expects a value"))?,
        };
        match flag.as_str() {
            "--http" => mode = Mode::Http(value),
            "--root" => opts.root = Some(PathBuf::from(value)),
            "--page-size" => {
                opts.page_size = usize::try_from(parse_u64(&flag, &value)?)
                    .map_err(|_| "--page-size is too large".to_string())?;
            }
            "--protocol-version" => opts.protocol_version = Some(value),
            "--delay-ms" => opts.delay_ms = parse_u64(&flag, &value)?,
            "--crash-after" => opts.crash_after = Some(parse_u64(&flag, &value)?),
            "--garbage-after" => opts.garbage_after = Some(parse_u64(&flag, &value)?),
            "--hang-after" => opts.hang_after = Some(parse_u64(&flag, &value)?),
            "--expire-sessions-after" => {
                opts.expire_sessions_after = Some(parse_u64(&flag, &value)?);
            }
            "--require-header" => opts.require_header = Some(parse_header(&value)?),
            "--sse-disconnect-every" => {
                let n = parse_u64(&flag, &value)?;
                opts.sse_disconnect_every = (n > 0).then_some(n);
            }
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    Ok((opts, mode))
}

/// Runs the server in the foreground until stdin closes (stdio mode) or
/// forever (HTTP mode).
pub fn run(opts: DemoOptions, mode: Mode) -> io::Result<()> {
    match mode {
        Mode::Stdio => {
            let server = Arc::new(dispatch::Server::new(opts)?);
            stdio::serve(server, io::stdin().lock(), io::stdout())
        }
        Mode::Http(addr) => {
            let handle = spawn_http(opts, &addr)?;
            eprintln!("listening on {}", handle.url());
            handle.wait();
            Ok(())
        }
    }
}

/// Entry point shared by the `mcpstore-demo-server` binary and the hidden
/// CLI subcommand: parses `args` (without the program name), prints usage on
/// `--help` (exit 0) or bad arguments (exit 2), then runs the server.
pub fn main_with_args(args: Vec<String>) -> ExitCode {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match parse_args(args.into_iter()) {
        Err(e) => {
            eprintln!("mcpstore-demo-server: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Ok((opts, mode)) => match run(opts, mode) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("mcpstore-demo-server: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> impl Iterator<Item = String> {
        list.iter().map(|s| s.to_string()).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn parses_all_flags() {
        let (o, m) = parse_args(args(&[
            "--http",
            "127.0.0.1:0",
            "--root=/tmp",
            "--page-size",
            "3",
            "--protocol-version",
            "1999-01-01",
            "--delay-ms",
            "5",
            "--crash-after",
            "1",
            "--garbage-after",
            "2",
            "--hang-after",
            "3",
            "--expire-sessions-after",
            "4",
            "--json",
            "--require-header",
            "Authorization: Bearer x:y",
            "--sse-disconnect-every",
            "2",
        ]))
        .unwrap();
        assert_eq!(m, Mode::Http("127.0.0.1:0".into()));
        assert_eq!(o.root, Some(PathBuf::from("/tmp")));
        assert_eq!(o.page_size, 3);
        assert_eq!(o.protocol_version.as_deref(), Some("1999-01-01"));
        assert_eq!(o.delay_ms, 5);
        assert_eq!(o.crash_after, Some(1));
        assert_eq!(o.garbage_after, Some(2));
        assert_eq!(o.hang_after, Some(3));
        assert_eq!(o.expire_sessions_after, Some(4));
        assert!(o.json_response);
        assert_eq!(o.require_header, Some(("Authorization".into(), "Bearer x:y".into())));
        assert_eq!(o.sse_disconnect_every, Some(2));
    }

    #[test]
    fn rejects_bad_args() {
        assert!(parse_args(args(&["--bogus"])).is_err());
        assert!(parse_args(args(&["--delay-ms"])).is_err());
        assert!(parse_args(args(&["--delay-ms", "-1"])).is_err());
        assert!(parse_args(args(&["--require-header", "nocolon"])).is_err());
        assert!(parse_args(args(&["--json=1"])).is_err());
        let (o, m) = parse_args(args(&[])).unwrap();
        assert_eq!(o, DemoOptions::default());
        assert_eq!(m, Mode::Stdio);
    }
}
