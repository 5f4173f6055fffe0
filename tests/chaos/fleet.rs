//! The four services of the chaos run and the faults thrown at them.
//!
//! - `sa`, `sb`: the demo server over stdio (children of the store, found
//!   by their `MCPSTORE_TEST_MARKER`); `sa` answers after 3 ms on a thread
//!   per call, so calls are in flight when it dies; `sb` writes a noise
//!   line before every 50th reply.
//! - `h`: the demo server over Streamable HTTP, a child of the test,
//!   restarted on the same port; every 97th call's SSE stream is closed
//!   early and resumed by the client.
//! - `s`: the Python SDK server over legacy HTTP+SSE, restarted on the same port.
//!
//! Every server runs with `--chaos --record FILE` (Python: `MCPSTORE_RECORD`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcpstore::{HttpConfig, HttpTransportKind, ServiceConfig, TransportConfig};
use parking_lot::Mutex;

use crate::common::{self, ReadyOn, ServerProcess, TempDir};
use crate::rng::Rng;

/// The service names, in the order of [`Fleet::records`].
pub const SERVICES: [&str; 4] = ["sa", "sb", "h", "s"];

/// A server the test owns (HTTP or legacy SSE), restartable on its port.
pub struct Owned {
    sse: bool,
    port: u16,
    record: PathBuf,
    process: Mutex<Option<ServerProcess>>,
}

impl Owned {
    fn start(sse: bool, port: u16, record: &Path) -> ServerProcess {
        let record = common::path_str(record);
        if sse {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/python_sse_server.py");
            ServerProcess::start(
                "Python SSE server (chaos)",
                &common::python(),
                &[common::path_str(&script), port.to_string()],
                &[("MCPSTORE_RECORD", record)],
                ReadyOn::Stdout,
                |line| line.strip_prefix("READY ").map(|u| u.trim().to_owned()),
            )
        } else {
            let args = ["--chaos", "--record", &record, "--sse-disconnect-every", "97"];
            common::demo_http_on(port, &args).process
        }
    }

    fn new(sse: bool, record: PathBuf) -> Owned {
        let process = Owned::start(sse, 0, &record);
        let port = process
            .ready
            .rsplit_once(':')
            .and_then(|(_, rest)| rest.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {:?}", process.ready));
        Owned { sse, port, record, process: Mutex::new(Some(process)) }
    }

    pub fn url(&self) -> String {
        let path = if self.sse { "sse" } else { "mcp" };
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// Its pid; None while it is down or being restarted.
    fn pid(&self) -> Option<u32> {
        self.process.try_lock()?.as_ref().map(ServerProcess::pid)
    }

    /// SIGKILL (and reap).
    fn kill(&self) {
        if let Some(mut p) = self.process.lock().take() {
            p.kill();
        }
    }

    /// Starts it again on its port if it is not running (the port may
    /// linger for a moment: retried).
    pub fn ensure_running(&self) {
        let mut slot = self.process.lock();
        if slot.as_mut().is_some_and(|p| !p.exited()) {
            return;
        }
        for attempt in 0.. {
            let (sse, port, record) = (self.sse, self.port, self.record.clone());
            match std::panic::catch_unwind(move || Owned::start(sse, port, &record)) {
                Ok(p) => {
                    *slot = Some(p);
                    return;
                }
                Err(e) if attempt >= 20 => std::panic::resume_unwind(e),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }
}

/// The servers, their record files and the faults injected so far.
pub struct Fleet {
    _dir: TempDir,
    pub records: [PathBuf; 4],
    markers: [String; 2],
    pub http: Arc<Owned>,
    pub sse: Arc<Owned>,
    restarts: Mutex<Vec<std::thread::JoinHandle<()>>>,
    paused: Mutex<Vec<(u32, Instant)>>,
    pub faults: Mutex<BTreeMap<&'static str, u64>>,
}

impl Fleet {
    pub fn start() -> Fleet {
        let dir = TempDir::new("chaos");
        let records = SERVICES.map(|s| dir.path().join(format!("{s}.record")));
        let markers = [common::unique("chaos-sa"), common::unique("chaos-sb")];
        let http = Arc::new(Owned::new(false, records[2].clone()));
        let sse = Arc::new(Owned::new(true, records[3].clone()));
        Fleet {
            _dir: dir,
            records,
            markers,
            http,
            sse,
            paused: Mutex::new(Vec::new()),
            restarts: Mutex::new(Vec::new()),
            faults: Mutex::new(BTreeMap::new()),
        }
    }

    /// The services' configurations, in [`SERVICES`] order.
    pub fn configs(&self) -> Vec<(&'static str, ServiceConfig)> {
        let stdio = |i: usize, extra: &[&str]| {
            let record = common::path_str(&self.records[i]);
            let mut args = vec!["--chaos", "--record", &record];
            args.extend_from_slice(extra);
            common::with_env(common::demo_stdio(&args), "MCPSTORE_TEST_MARKER", self.markers[i].clone())
        };
        let sse = ServiceConfig::new(TransportConfig::Http(HttpConfig {
            transport: HttpTransportKind::Sse,
            ..HttpConfig::new(self.sse.url())
        }));
        vec![
            ("sa", stdio(0, &["--delay-ms", "3"])),
            ("sb", stdio(1, &["--noise-every", "50"])),
            ("h", ServiceConfig::http(self.http.url())),
            ("s", sse),
        ]
    }

    fn count(&self, fault: &'static str) {
        *self.faults.lock().entry(fault).or_default() += 1;
    }

    /// The pids a fault on `target` may hit (stdio: every session's process).
    fn pids(&self, target: usize) -> Vec<u32> {
        match target {
            0 | 1 => common::marked_children(&self.markers[target]),
            2 => self.http.pid().into_iter().collect(),
            _ => self.sse.pid().into_iter().collect(),
        }
    }

    fn pause(&self, pid: u32, rng: &mut Rng) {
        signal(pid, libc::SIGSTOP);
        let until = Instant::now() + Duration::from_millis(rng.range(50, 1500));
        self.paused.lock().push((pid, until));
    }

    /// Resumes the processes whose pause is over (all of them with `all`).
    pub fn resume(&self, all: bool) {
        let now = Instant::now();
        self.paused.lock().retain(|&(pid, until)| {
            let due = all || until <= now;
            if due {
                signal(pid, libc::SIGCONT);
            }
            !due
        });
    }

    /// One fault at random.
    pub fn inject(&self, rng: &mut Rng) {
        // The Python server takes seconds to come back: hit it less often.
        let target = match rng.below(10) {
            0..3 => 0,
            3..6 => 1,
            6..9 => 2,
            _ => 3,
        };
        let pids = self.pids(target);
        if pids.is_empty() {
            // Nothing to hit right now (a stdio session being reopened).
            return;
        }
        let pid = pids[rng.below(pids.len() as u64) as usize];
        let rt = libc::SIGRTMIN();
        let roll = rng.below(100);
        match (target, roll) {
            (_, 0..15) => {
                self.count("sigkill");
                if target < 2 {
                    signal(pid, libc::SIGKILL);
                } else {
                    // Killed now, back on the same port a moment later
                    // (on a thread: the Python server takes a while to start).
                    let owned = self.owned(target).clone();
                    owned.kill();
                    let pause = Duration::from_millis(rng.range(0, 400));
                    self.restarts.lock().push(std::thread::spawn(move || {
                        std::thread::sleep(pause);
                        owned.ensure_running();
                    }));
                    self.count("restart");
                }
            }
            (_, 15..35) => {
                self.count("sigstop/sigcont");
                self.pause(pid, rng);
            }
            // The Python server has no fault switches.
            (3, _) => {}
            (_, 35..55) => {
                self.count("garbage reply");
                signal(pid, libc::SIGUSR1);
            }
            (0 | 1, _) => {}
            (_, 55..67) => {
                self.count("session expired");
                signal(pid, libc::SIGUSR2);
            }
            (_, 67..78) => {
                self.count("http 503");
                signal(pid, rt + 1);
            }
            (_, 78..89) => {
                self.count("http 429");
                signal(pid, rt + 2);
            }
            _ => {
                self.count("sse cut mid-event");
                signal(pid, rt + 3);
            }
        }
    }

    fn owned(&self, target: usize) -> &Arc<Owned> {
        if target == 2 { &self.http } else { &self.sse }
    }

    /// Ends the faults: every process resumed, both owned servers up.
    pub fn calm(&self) {
        for restart in std::mem::take(&mut *self.restarts.lock()) {
            restart.join().expect("a restart failed");
        }
        self.resume(true);
        self.http.ensure_running();
        self.sse.ensure_running();
    }

    /// How often each message ran, per service (from the record files).
    pub fn executions(&self) -> Vec<BTreeMap<String, u32>> {
        self.records
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                let mut runs = BTreeMap::new();
                for line in text.lines() {
                    let (tool, message) = line.split_once('\t').unwrap_or(("", line));
                    assert_eq!(tool, "echo", "unexpected record line {line:?} in {}", path.display());
                    *runs.entry(message.to_owned()).or_default() += 1;
                }
                runs
            })
            .collect()
    }

    /// Stops the owned servers.
    pub fn stop(&self) {
        for restart in std::mem::take(&mut *self.restarts.lock()) {
            let _ = restart.join();
        }
        self.resume(true);
        self.http.kill();
        self.sse.kill();
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.stop();
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return };
    // SAFETY: kill(2) takes plain integers; a gone pid gives ESRCH, ignored.
    unsafe {
        libc::kill(pid, sig);
    }
}
