//! The demo server's switches: [`DemoOptions`], [`Mode`], the usage text and
//! the command-line parser.

use std::path::PathBuf;

use super::modern::{self, Eras};

/// Command-line usage text (printed for `--help` and on bad arguments).
pub const USAGE: &str = "\
usage: mcpstore-demo-server [--http ADDR] [options]

Runs the mcpstore demo MCP server over stdio (newline-delimited JSON) or,
with --http, over Streamable HTTP at /mcp. It speaks both protocol eras:
2025-11-25 (initialize, sessions) and 2026-07-28 (stateless: every request
carries its _meta, server/discover, subscriptions/listen, multi round-trip
results). Switches marked (2025) mean nothing in the stateless era.

options:
  --era E                     both (default), 2025-11-25 (server/discover is
                              an unknown method) or 2026-07-28 (initialize
                              is refused with -32022)
  --http ADDR                 serve Streamable HTTP on ADDR (e.g. 127.0.0.1:0);
                              prints 'listening on http://ADDR/mcp' to stderr
  --root DIR                  root for read_file/list_directory (default: cwd);
                              when given, its top-level files are resources
  --page-size N               page size of tools/list, resources/list,
                              resources/templates/list and prompts/list
                              (default 0 = one page)
  --protocol-version V        always answer initialize with version V; a
                              version older than 2026-07-28 makes the server
                              2025-11-25 only, a newer one the only version
                              of its stateless era
  --delay-ms N                every tools/call waits N ms before answering
  --crash-after N             exit(3) when the (N+1)-th tools/call arrives
  --garbage-after N           replace the (N+1)-th tools/call reply by garbage
  --hang-after N              from the (N+1)-th tools/call on, answer nothing
  --serial                    handle one request at a time, in arrival order
                              (all sessions); notifications act at once, and
                              cancelling a queued request drops it unanswered
  --never-initialize          never answer initialize nor server/discover
                              (HTTP: the POST stays open until the client
                              gives up or the server stops)
  --exit-on METHOD            exit(3) when a request with METHOD arrives,
                              before answering it
  --banner TEXT               (stdio) write TEXT as one line on stdout at
                              start-up, before reading anything
  --noise-every N             (stdio) before every N-th reply write one line
                              that is not JSON-RPC for this client, cycling:
                              'debug: noise <n>', {\"log\":\"noise <n>\"}, a
                              response with the float id 1.5
  --expire-sessions-after N   (HTTP, 2025) 404 a session after its first N
                              POSTs
  --json                      (HTTP) answer application/json instead of SSE
  --require-header 'N: V'     (HTTP) requests without that header get 401
  --sse-disconnect-every N    (HTTP SSE) close every N-th tools/call stream
                              after a priming event; resume with GET +
                              Last-Event-ID (2026-07-28: the stream ends
                              with no result and the call is not run; the
                              client must send it again)
  --no-listen-stream          (HTTP) offer no listening stream: GET without
                              Last-Event-ID gets 405, subscriptions/listen
                              gets -32601, and messages that belong to no
                              request are dropped
  --log-every MS              every MS ms, send each client a log message
                              (notifications/message, logger demo.ticker,
                              data 'tick <n>'), its level cycling debug,
                              info, notice, warning, error; filtered by the
                              client's logging/setLevel (2025: in the
                              stateless era log messages go only with the
                              request that asked for them)
  --record FILE               append 'TOOL<TAB>MESSAGE' to FILE each time a
                              tools/call with a string argument 'message'
                              starts running (one line per execution)
  --chaos                     one-shot faults armed by signals (repeated
                              signals before the fault fires do not stack):
                              SIGUSR1 the next tools/call reply is garbage;
                              (HTTP) SIGUSR2 the next POST's session expires,
                              SIGRTMIN+1 the next POST gets 503, SIGRTMIN+2
                              the next POST gets 429, SIGRTMIN+3 the next SSE
                              answer is cut mid-event and its connection
                              dropped
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
    /// [`spawn_http`](crate::spawn_http).
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
    /// One request at a time, in arrival order, across every session of the
    /// process (stdio and HTTP). Notifications are still handled at once:
    /// `notifications/cancelled` stops the running request or removes a
    /// queued one, which then gets no reply. `ping` queues like the rest.
    pub serial: bool,
    /// `initialize` requests are received and never answered (stdio and
    /// HTTP; over HTTP the POST gets no response until the client gives up
    /// or the server stops). Other requests are answered as usual.
    pub never_initialize: bool,
    /// The process exits with status 3 as soon as a request with this
    /// method arrives, before answering it (stdio and HTTP).
    pub exit_on: Option<String>,
    /// Stdio: this text is written as one line on stdout at start-up,
    /// before anything is read.
    pub banner: Option<String>,
    /// Stdio: before every N-th reply one line that is not a JSON-RPC
    /// message for this client is written, cycling through a plain text
    /// line (`debug: noise <n>`), a JSON object that is not JSON-RPC
    /// (`{"log":"noise <n>"}`) and a response with a float id
    /// (`{"jsonrpc":"2.0","id":1.5,"result":{}}`); `<n>` counts noise lines
    /// from 1.
    pub noise_every: Option<u64>,
    /// HTTP: no listening stream. `GET /mcp` without `Last-Event-ID` is
    /// answered 405, and messages that belong to no request (list changes,
    /// resource updates, ticks) are dropped instead of queued.
    pub no_listen_stream: bool,
    /// Every this many milliseconds each initialized client gets a log
    /// message on its background channel (stdout, or the listening stream),
    /// levels cycling debug, info, notice, warning, error.
    pub log_every_ms: Option<u64>,
    /// Which protocol eras are served (see also [`DemoOptions::eras`]).
    pub era: Eras,
    /// Appends `TOOL<TAB>MESSAGE` to this file each time a `tools/call`
    /// whose arguments hold a string `message` starts running.
    pub record: Option<PathBuf>,
    /// Faults armed by signals (see the `chaos` module): garbage, session
    /// expiry, 503, 429, an SSE answer cut mid-event.
    pub chaos: bool,
}

impl DemoOptions {
    /// The eras actually served: `--era`, narrowed to 2025-11-25 by a
    /// `--protocol-version` older than the stateless era.
    pub fn eras(&self) -> Eras {
        match &self.protocol_version {
            Some(v) if v.as_str() < modern::MODERN_VERSION => Eras::Handshake,
            _ => self.era,
        }
    }

    /// The versions of the stateless era the server speaks.
    pub fn modern_versions(&self) -> Vec<String> {
        match &self.protocol_version {
            Some(v) if v.as_str() >= modern::MODERN_VERSION => vec![v.clone()],
            _ => vec![modern::MODERN_VERSION.to_owned()],
        }
    }
}

/// Which transport to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Newline-delimited JSON-RPC over stdin/stdout.
    Stdio,
    /// Streamable HTTP on this address (`host:port`; port 0 picks one).
    Http(String),
}

/// Flags that take no value.
const SWITCHES: [&str; 5] = ["--json", "--serial", "--never-initialize", "--no-listen-stream", "--chaos"];

/// Flags that take a value.
const VALUED: [&str; 17] = [
    "--http",
    "--era",
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
    "--exit-on",
    "--banner",
    "--noise-every",
    "--log-every",
    "--record",
];

fn parse_u64(flag: &str, value: &str) -> Result<u64, String> {
    value.trim().parse::<u64>().map_err(|_| format!("{flag} expects a non-negative integer, got {value:?}"))
}

/// A count where 0 means "off".
fn parse_every(flag: &str, value: &str) -> Result<Option<u64>, String> {
    let n = parse_u64(flag, value)?;
    Ok((n > 0).then_some(n))
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

fn set_switch(opts: &mut DemoOptions, flag: &str) {
    match flag {
        "--json" => opts.json_response = true,
        "--serial" => opts.serial = true,
        "--no-listen-stream" => opts.no_listen_stream = true,
        "--chaos" => opts.chaos = true,
        _ => opts.never_initialize = true,
    }
}

fn set_valued(opts: &mut DemoOptions, mode: &mut Mode, flag: &str, value: String) -> Result<(), String> {
    match flag {
        "--http" => *mode = Mode::Http(value),
        "--era" => opts.era = Eras::parse(&value)?,
        "--root" => opts.root = Some(PathBuf::from(value)),
        "--page-size" => {
            opts.page_size = usize::try_from(parse_u64(flag, &value)?)
                .map_err(|_| "--page-size is too large".to_string())?;
        }
        "--protocol-version" => opts.protocol_version = Some(value),
        "--delay-ms" => opts.delay_ms = parse_u64(flag, &value)?,
        "--crash-after" => opts.crash_after = Some(parse_u64(flag, &value)?),
        "--garbage-after" => opts.garbage_after = Some(parse_u64(flag, &value)?),
        "--hang-after" => opts.hang_after = Some(parse_u64(flag, &value)?),
        "--expire-sessions-after" => opts.expire_sessions_after = Some(parse_u64(flag, &value)?),
        "--require-header" => opts.require_header = Some(parse_header(&value)?),
        "--sse-disconnect-every" => opts.sse_disconnect_every = parse_every(flag, &value)?,
        "--exit-on" if value.is_empty() => return Err("--exit-on expects a method name".to_string()),
        "--exit-on" => opts.exit_on = Some(value),
        // A banner must stay one line: a newline would make it two.
        "--banner" if value.contains(['\n', '\r']) => {
            return Err("--banner expects one line of text".to_string());
        }
        "--banner" => opts.banner = Some(value),
        "--noise-every" => opts.noise_every = parse_every(flag, &value)?,
        "--log-every" => opts.log_every_ms = parse_every(flag, &value)?,
        "--record" => opts.record = Some(PathBuf::from(value)),
        _ => return Err(format!("unknown argument {flag:?}")),
    }
    Ok(())
}

/// Parses command-line arguments (without the program name).
///
/// Flags take their value either as the next argument or as `--flag=value`.
/// `--help` is reported as an error here; [`main_with_args`](crate::main_with_args)
/// handles it before calling this.
pub fn parse_args(args: impl Iterator<Item = String>) -> Result<(DemoOptions, Mode), String> {
    let mut opts = DemoOptions::default();
    let mut mode = Mode::Stdio;
    let mut args = args;
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if flag == "--help" || flag == "-h" {
            return Err("help requested".to_string());
        }
        if SWITCHES.contains(&flag.as_str()) {
            if inline.is_some() {
                return Err(format!("{flag} takes no value"));
            }
            set_switch(&mut opts, &flag);
            continue;
        }
        if !VALUED.contains(&flag.as_str()) {
            return Err(format!("unknown argument {arg:?}"));
        }
        let value = match inline {
            Some(v) => v,
            None => args.next().ok_or_else(|| format!("{flag} expects a value"))?,
        };
        set_valued(&mut opts, &mut mode, &flag, value)?;
    }
    Ok((opts, mode))
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
            "--serial",
            "--never-initialize",
            "--exit-on",
            "tools/list",
            "--banner",
            "hello there",
            "--noise-every=3",
            "--no-listen-stream",
            "--log-every",
            "250",
            "--era",
            "2026-07-28",
            "--record",
            "/tmp/rec",
            "--chaos",
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
        assert!(o.serial);
        assert!(o.never_initialize);
        assert_eq!(o.exit_on.as_deref(), Some("tools/list"));
        assert_eq!(o.banner.as_deref(), Some("hello there"));
        assert_eq!(o.noise_every, Some(3));
        assert!(o.no_listen_stream);
        assert_eq!(o.log_every_ms, Some(250));
        assert_eq!(o.era, Eras::Stateless);
        // 1999-01-01 is older than the stateless era: the server is 2025-11-25 only.
        assert_eq!(o.eras(), Eras::Handshake);
        assert_eq!(o.record, Some(PathBuf::from("/tmp/rec")));
        assert!(o.chaos);
    }

    #[test]
    fn protocol_version_narrows_the_eras() {
        let (o, _) = parse_args(args(&[])).unwrap();
        assert_eq!((o.eras(), o.modern_versions()), (Eras::Both, vec!["2026-07-28".to_owned()]));
        let (o, _) = parse_args(args(&["--protocol-version", "2027-01-01"])).unwrap();
        assert_eq!((o.eras(), o.modern_versions()), (Eras::Both, vec!["2027-01-01".to_owned()]));
        assert!(parse_args(args(&["--era", "1999"])).is_err());
    }

    #[test]
    fn rejects_bad_args() {
        assert!(parse_args(args(&["--bogus"])).is_err());
        assert!(parse_args(args(&["--delay-ms"])).is_err());
        assert!(parse_args(args(&["--delay-ms", "-1"])).is_err());
        assert!(parse_args(args(&["--require-header", "nocolon"])).is_err());
        assert!(parse_args(args(&["--json=1"])).is_err());
        assert!(parse_args(args(&["--serial=yes"])).is_err());
        assert!(parse_args(args(&["--exit-on", ""])).is_err());
        assert!(parse_args(args(&["--banner", "two\nlines"])).is_err());
        assert!(parse_args(args(&["--noise-every", "x"])).is_err());
        let (o, m) = parse_args(args(&[])).unwrap();
        assert_eq!(o, DemoOptions::default());
        assert_eq!(m, Mode::Stdio);
    }

    #[test]
    fn zero_turns_counts_off() {
        let (o, _) = parse_args(args(&["--noise-every", "0", "--sse-disconnect-every", "0"])).unwrap();
        assert_eq!(o.noise_every, None);
        assert_eq!(o.sse_disconnect_every, None);
    }
}
