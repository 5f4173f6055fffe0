//! Helpers shared by the integration tests: server binaries and processes,
//! test dependencies, free ports, bounded waits, process and thread counting.
//!
//! Every wait here is bounded; a server that cannot start fails the test.
#![allow(dead_code)]

pub mod core;
pub mod isolated;
pub mod raw_mcp;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mcpstore::{PoolConfig, ServiceConfig, TransportConfig};
use mcpstore::{Session, SessionOptions};
use parking_lot::Mutex;

/// What a clock bound may add to the limit it checks: a timeout that fires
/// must return within its limit plus this, even on a loaded 2-core machine.
/// Bounds are kept only where the bound is the behaviour (a timeout, a
/// bounded shutdown); everything else asserts the state or order promised.
pub const LOAD_MARGIN: Duration = Duration::from_millis(1500);

/// How long any server gets to print its ready line.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A binary of the workspace (`mcpstore-demo-server`, `mcpstore`), built
/// beside this test by `cargo test` at the workspace root.
pub fn workspace_bin(name: &str) -> String {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join(name);
    assert!(
        bin.exists(),
        "{name} is not built at {}: run `cargo test` at the workspace root (or `cargo build --workspace`)",
        bin.display()
    );
    bin.to_string_lossy().into_owned()
}

/// The demo server binary.
pub fn demo_bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| workspace_bin("mcpstore-demo-server"))
}

/// The `mcpstore` CLI binary.
pub fn cli_bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| workspace_bin("mcpstore"))
}

/// A name unique within this test process (for temp dirs, markers, tool names).
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// A temporary directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let dir = std::env::temp_dir().join(unique(prefix));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn str(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ------------------------------------------------------------------ test dependencies

/// A test dependency: `$var`, else its default place under `target/test-deps/`.
/// A missing dependency fails the test (never skips it).
pub fn dep(var: &str, default_under_test_deps: &str) -> PathBuf {
    let path = match std::env::var_os(var) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-deps").join(default_under_test_deps),
    };
    assert!(
        path.exists(),
        "test dependency {var} not found at {}: run `bash scripts/install-test-deps.sh` \
         (and `source target/test-deps/env.sh`) before `cargo test`",
        path.display()
    );
    path
}

pub fn node() -> PathBuf {
    dep("MCPSTORE_NODE", "npm/node_modules/node/bin/node")
}

pub fn everything_js() -> PathBuf {
    dep("MCPSTORE_EVERYTHING_JS", "npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js")
}

pub fn filesystem_js() -> PathBuf {
    dep("MCPSTORE_FILESYSTEM_JS", "npm/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js")
}

pub fn python() -> PathBuf {
    dep("MCPSTORE_PYTHON", "venv/bin/python")
}

pub fn fastmcp_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/fastmcp_server.py")
}

pub fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

// ------------------------------------------------------------------ ports

/// A port on 127.0.0.1 that nothing listens on right now (it may be taken
/// by the time it is used: prefer `reserved_port.rs`'s `ReservedPort`, or retry).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

// ------------------------------------------------------------------ server processes

/// Which output stream carries a server's ready line.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ReadyOn {
    Stdout,
    Stderr,
}

/// A server child process, killed (and reaped) on drop. Both output streams
/// are drained on threads; their last lines are kept for failure messages.
pub struct ServerProcess {
    child: Child,
    /// What the ready line announced (URL or port), as extracted by the matcher.
    pub ready: String,
    tail: Arc<Mutex<VecDeque<String>>>,
    name: String,
}

fn drain(
    stream: impl Read + Send + 'static,
    tail: Arc<Mutex<VecDeque<String>>>,
    ready: Option<crossbeam_channel::Sender<String>>,
) {
    std::thread::spawn(move || {
        let reader = BufReader::new(stream);
        for line in reader.lines() {
            let Ok(line) = line else { return };
            if let Some(tx) = &ready {
                let _ = tx.send(line.clone());
            }
            let mut t = tail.lock();
            if t.len() == 40 {
                t.pop_front();
            }
            t.push_back(line);
        }
    });
}

impl ServerProcess {
    /// Starts `program args` with `env`, waits (bounded) for a line on `ready_on`
    /// for which `matcher` returns `Some`.
    pub fn start(
        name: &str,
        program: &Path,
        args: &[String],
        env: &[(&str, String)],
        ready_on: ReadyOn,
        matcher: impl Fn(&str) -> Option<String>,
    ) -> ServerProcess {
        let mut cmd = isolated::command(program);
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child =
            cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name} ({}): {e}", program.display()));
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = crossbeam_channel::unbounded();
        let stdout = child.stdout.take().expect("stdout piped");
        let stderr = child.stderr.take().expect("stderr piped");
        let (out_tx, err_tx) = match ready_on {
            ReadyOn::Stdout => (Some(tx), None),
            ReadyOn::Stderr => (None, Some(tx)),
        };
        drain(stdout, tail.clone(), out_tx);
        drain(stderr, tail.clone(), err_tx);
        let deadline = Instant::now() + START_TIMEOUT;
        let mut server = ServerProcess { child, ready: String::new(), tail, name: name.to_owned() };
        loop {
            match rx.recv_deadline(deadline) {
                Ok(line) => {
                    if let Some(found) = matcher(&line) {
                        server.ready = found;
                        return server;
                    }
                }
                Err(_) => {
                    let status = server.child.try_wait().ok().flatten();
                    panic!(
                        "{name} did not report ready within {START_TIMEOUT:?} (exit status: {status:?}); \
                         its output:\n{}",
                        server.output()
                    );
                }
            }
        }
    }

    /// The last lines the server printed.
    pub fn output(&self) -> String {
        self.tail.lock().iter().cloned().collect::<Vec<_>>().join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
        let _ = &self.name;
    }
}

/// The demo server over HTTP as a child process: `--http 127.0.0.1:<port>` plus `args`.
/// Port 0 lets the server pick; the URL comes from its `listening on` stderr line.
pub fn demo_http_on(port: u16, args: &[&str]) -> DemoHttp {
    let mut all = vec!["--http".to_owned(), format!("127.0.0.1:{port}")];
    all.extend(args.iter().map(|s| (*s).to_owned()));
    let process = ServerProcess::start(
        "mcpstore-demo-server",
        Path::new(demo_bin()),
        &all,
        &[],
        ReadyOn::Stderr,
        |line| line.split_once("listening on ").map(|(_, url)| url.trim().to_owned()),
    );
    DemoHttp { process }
}

/// The demo server over HTTP on a port it picks.
pub fn demo_http(args: &[&str]) -> DemoHttp {
    demo_http_on(0, args)
}

/// A running HTTP demo server process.
pub struct DemoHttp {
    pub process: ServerProcess,
}

impl DemoHttp {
    /// `http://127.0.0.1:<port>/mcp`.
    pub fn url(&self) -> String {
        self.process.ready.clone()
    }

    pub fn config(&self) -> ServiceConfig {
        ServiceConfig::http(self.url())
    }

    pub fn transport(&self) -> TransportConfig {
        self.config().transport
    }
}

/// `config` with the environment variable `key=value` (stdio only).
pub fn with_env(mut config: ServiceConfig, key: &str, value: impl Into<String>) -> ServiceConfig {
    if let TransportConfig::Stdio(stdio) = &mut config.transport {
        stdio.env.insert(key.to_owned(), value.into());
    }
    config
}

/// The demo server over stdio with `args`.
pub fn demo_stdio(args: &[&str]) -> ServiceConfig {
    ServiceConfig::stdio(demo_bin(), args.iter().map(|s| (*s).to_owned()))
}

/// server-everything over Streamable HTTP on a free port.
pub fn everything_http() -> ServerProcess {
    // PORT=0 does not report the real port, so pick one; retry if someone took it meanwhile.
    let mut last = String::new();
    for _ in 0..3 {
        let port = free_port();
        let started = std::panic::catch_unwind(|| {
            ServerProcess::start(
                "server-everything (HTTP)",
                &node(),
                &[path_str(&everything_js()), "streamableHttp".to_owned()],
                &[("PORT", port.to_string())],
                ReadyOn::Stderr,
                |line| {
                    line.contains("MCP Streamable HTTP Server listening on port")
                        .then(|| format!("http://127.0.0.1:{port}/mcp"))
                },
            )
        });
        match started {
            Ok(p) => return p,
            Err(e) => last = e.downcast_ref::<String>().cloned().unwrap_or_else(|| "start failed".into()),
        }
    }
    panic!("cannot start server-everything over HTTP: {last}");
}

/// The FastMCP (Python `mcp`) test server over Streamable HTTP.
pub fn fastmcp_http() -> ServerProcess {
    ServerProcess::start(
        "FastMCP test server",
        &python(),
        &[path_str(&fastmcp_script()), "0".to_owned()],
        &[],
        ReadyOn::Stdout,
        |line| line.strip_prefix("READY ").map(|u| u.trim().to_owned()),
    )
}

/// The Python SDK server over the legacy HTTP+SSE transport on `port` (0: one
/// it picks); its stream URL (`.../sse`) is `ready`.
pub fn python_sse_on(port: u16) -> ServerProcess {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/python_sse_server.py");
    ServerProcess::start(
        "Python SSE server",
        &python(),
        &[path_str(&script), port.to_string()],
        &[],
        ReadyOn::Stdout,
        |line| line.strip_prefix("READY ").map(|u| u.trim().to_owned()),
    )
}

// ------------------------------------------------------------------ sessions and stores

/// Session options with short, test-friendly limits.
pub fn session_options() -> SessionOptions {
    SessionOptions {
        client_name: "mcpstore-tests".into(),
        connection_timeout: Duration::from_secs(20),
        read_timeout: Duration::from_secs(20),
        write_timeout: Duration::from_secs(10),
        ..SessionOptions::default()
    }
}

/// Opens a session directly (no store, no pool).
pub fn connect(transport: &TransportConfig) -> Session {
    try_connect(transport).unwrap_or_else(|e| panic!("connect failed: {e}"))
}

pub fn try_connect(transport: &TransportConfig) -> mcpstore::Result<Session> {
    Session::connect("test", transport, session_options())
}

/// The protocol version of the handshake era, which the demo server also speaks.
pub const HANDSHAKE_ERA: &str = "2025-11-25";
/// The protocol version of the stateless era (what `protocol: auto` finds on the demo server).
pub const STATELESS_ERA: &str = "2026-07-28";

/// Opens a session pinned to protocol `version` (no era probe).
pub fn connect_pinned(transport: &TransportConfig, version: &str) -> Session {
    let options = SessionOptions {
        protocol: mcpstore::ProtocolChoice::Version(version.to_owned()),
        ..session_options()
    };
    Session::connect("test", transport, options).unwrap_or_else(|e| panic!("connect ({version}) failed: {e}"))
}

/// `config` pinned to protocol `version`.
pub fn pinned(mut config: ServiceConfig, version: &str) -> ServiceConfig {
    config.protocol = mcpstore::ProtocolChoice::Version(version.to_owned());
    config
}

/// Whether a session speaks the stateless era.
pub fn is_stateless(s: &Session) -> bool {
    s.server_info().is_some_and(|i| i.protocol_version == STATELESS_ERA)
}

/// Pool settings with short timeouts for tests (no warm sessions kept by default).
pub fn test_pool() -> PoolConfig {
    PoolConfig {
        min_connections: 1,
        max_connections: 4,
        connection_timeout: Duration::from_secs(20),
        read_timeout: Duration::from_secs(20),
        write_timeout: Duration::from_secs(10),
        retry_delay: Duration::from_millis(20),
        acquire_timeout: Duration::from_secs(20),
        ..PoolConfig::default()
    }
}

/// A store with `test_pool()` and one service, waited for (bounded).
pub fn store_with(name: &str, config: ServiceConfig) -> mcpstore::Store {
    store_with_pool(name, config, test_pool())
}

pub fn store_with_pool(name: &str, config: ServiceConfig, pool: PoolConfig) -> mcpstore::Store {
    let store = mcpstore::Store::builder()
        .pool(pool)
        .batch(mcpstore::BatchConfig { call_timeout: Duration::from_secs(30), ..Default::default() })
        .build()
        .expect("build store");
    store.add_service(name, config).expect("add service");
    let not_ready = store.wait_ready(Duration::from_secs(30));
    assert!(
        not_ready.is_empty(),
        "service did not start: {:?}",
        not_ready.iter().map(|s| (&s.name, s.state, &s.last_error)).collect::<Vec<_>>()
    );
    store
}

// ------------------------------------------------------------------ bounded waits

/// Polls `f` every 10 ms until it returns true or `timeout` passes; returns whether it did.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Like [`wait_until`] but fails the test with `what` on timeout.
pub fn eventually(timeout: Duration, what: &str, f: impl FnMut() -> bool) {
    assert!(wait_until(timeout, f), "timed out after {timeout:?} waiting for {what}");
}

/// Runs `f` on its own thread and fails the test if it has not returned
/// within `limit` (so a hang in the library fails instead of blocking CI).
pub fn bounded<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let handle = std::thread::Builder::new()
        .name("bounded-test-body".into())
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(r);
        })
        .expect("spawn test body");
    match rx.recv_timeout(limit) {
        Ok(Ok(v)) => {
            let _ = handle.join();
            v
        }
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("test body did not finish within {limit:?} (hang?)"),
    }
}

// ------------------------------------------------------------------ processes and threads

/// Pids of this process's direct children (zombies included).
pub fn child_pids() -> Vec<u32> {
    let me = std::process::id();
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ..." — comm may hold spaces and parentheses.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let _state = fields.next();
        if fields.next().and_then(|p| p.parse::<u32>().ok()) == Some(me) {
            out.push(pid);
        }
    }
    out
}

/// Children of this process whose environment holds `MCPSTORE_TEST_MARKER=<marker>`.
pub fn marked_children(marker: &str) -> Vec<u32> {
    let needle = format!("MCPSTORE_TEST_MARKER={marker}");
    child_pids()
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

/// Children of this process running the demo server binary.
pub fn demo_children() -> Vec<u32> {
    child_pids()
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|c| c.trim().starts_with("mcpstore-demo"))
                .unwrap_or(false)
        })
        .collect()
}

/// Names of this process's threads.
pub fn thread_names() -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc/self/task") {
        for e in entries.flatten() {
            if let Ok(name) = std::fs::read_to_string(e.path().join("comm")) {
                out.push(name.trim().to_owned());
            }
        }
    }
    out
}

/// Threads of the library (their names start with `mcps-`).
pub fn library_threads() -> Vec<String> {
    thread_names().into_iter().filter(|n| n.starts_with("mcps-")).collect()
}

/// The `stats` tool of the demo server, through a store.
pub fn demo_stats(store: &mcpstore::Store, tool: &str) -> serde_json::Value {
    let r = store.call_tool(tool, serde_json::json!({})).unwrap_or_else(|e| panic!("{tool} failed: {e}"));
    r.structured_content.clone().expect("stats has structuredContent")
}
