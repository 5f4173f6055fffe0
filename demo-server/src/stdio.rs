//! The stdio transport: newline-delimited JSON-RPC on stdin/stdout.
//!
//! The reading thread runs quick requests inline (echo, add, ... — fastest
//! for sequential clients) and hands slow ones (`sleep`, `ping_client`, or
//! everything under `--delay-ms`) to a thread each, so many requests can be
//! in flight and responses may come out of order. Every message is written
//! whole under a mutex and flushed once.
//!
//! `--banner` and `--noise-every` write lines that are not JSON-RPC, to test
//! that clients skip them.

use std::io::{self, BufRead, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Condvar, Mutex};
use serde_json::Value;

use super::dispatch::{Admission, Outbound, Outcome, Peer, Server, Transport};
use super::peers::Background;
use super::rpc::{self, INVALID_REQUEST, Message, PARSE_ERROR};

/// The line written instead of a reply when `--garbage-after` fires.
pub const GARBAGE_LINE: &[u8] = b"this is not json <<garbage>>\n";

/// The shared, locked output (stdout in production).
struct LineOut<W: Write> {
    w: Mutex<W>,
    /// `--noise-every`: a noise line goes before every N-th reply.
    noise_every: Option<u64>,
    replies: AtomicU64,
}

/// The `n`-th noise line (from 1): plain text, a JSON object that is not
/// JSON-RPC, a response whose id (a float) no client request can have.
fn noise_line(n: u64) -> String {
    match n % 3 {
        1 => format!("debug: noise {n}\n"),
        2 => format!("{{\"log\":\"noise {n}\"}}\n"),
        _ => "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"result\":{}}\n".to_string(),
    }
}

impl<W: Write> LineOut<W> {
    fn new(output: W, noise_every: Option<u64>) -> Self {
        LineOut { w: Mutex::new(output), noise_every, replies: AtomicU64::new(0) }
    }

    fn write_line(&self, line: &[u8]) {
        let mut w = self.w.lock();
        // A closed stdout is not fatal: the reader sees EOF soon enough.
        if w.write_all(line).and_then(|()| w.flush()).is_err() {
            log::debug!("demo server: stdout write failed");
        }
    }

    /// Writes the answer to a request (a response, an error or the garbage
    /// line), preceded by a noise line when `--noise-every` says so.
    fn reply_line(&self, line: &[u8]) {
        let n = self.replies.fetch_add(1, Ordering::SeqCst) + 1;
        match self.noise_every {
            Some(every) if n.is_multiple_of(every) => {
                let mut both = noise_line(n / every).into_bytes();
                both.extend_from_slice(line);
                self.write_line(&both);
            }
            _ => self.write_line(line),
        }
    }

    fn reply(&self, msg: &Value) {
        if let Ok(mut buf) = serde_json::to_vec(msg) {
            buf.push(b'\n');
            self.reply_line(&buf);
        }
    }
}

impl<W: Write> Outbound for LineOut<W> {
    fn send(&self, msg: &Value) {
        let mut buf = match serde_json::to_vec(msg) {
            Ok(b) => b,
            Err(_) => return,
        };
        buf.push(b'\n');
        self.write_line(&buf);
    }
}

/// Messages that belong to no request go to stdout as well.
impl<W: Write + Send + 'static> Background for LineOut<W> {
    fn send(&self, msg: &Value) {
        Outbound::send(self, msg);
    }
}

/// Counts worker threads so EOF can wait for them.
#[derive(Default)]
struct Workers {
    count: Mutex<usize>,
    idle: Condvar,
}

impl Workers {
    fn start(&self) {
        *self.count.lock() += 1;
    }

    fn done(&self) {
        let mut c = self.count.lock();
        *c = c.saturating_sub(1);
        if *c == 0 {
            self.idle.notify_all();
        }
    }

    fn wait_idle(&self) {
        let mut c = self.count.lock();
        while *c > 0 {
            self.idle.wait(&mut c);
        }
    }
}

fn emit<W: Write>(out: &LineOut<W>, outcome: Outcome) {
    match outcome {
        Outcome::Reply(v) => out.reply(&v),
        Outcome::Garbage => out.reply_line(GARBAGE_LINE),
        Outcome::Silent => {}
    }
}

/// Serves one client on `input`/`output` until `input` reaches EOF, then
/// waits for requests still running and returns. `--banner` is written
/// before anything is read.
pub fn serve<R, W>(server: Arc<Server>, mut input: R, output: W) -> io::Result<()>
where
    R: BufRead,
    W: Write + Send + 'static,
{
    let out = Arc::new(LineOut::new(output, server.options().noise_every));
    if let Some(banner) = &server.options().banner {
        out.write_line(format!("{banner}\n").as_bytes());
    }
    let workers = Arc::new(Workers::default());
    let peer = Peer::with_background("stdio", Transport::Stdio, out.clone());
    server.register(&peer);
    server.start_background();
    let mut line = Vec::with_capacity(4096);
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = line.trim_ascii();
        if text.is_empty() || server.is_hung() {
            continue;
        }
        match serde_json::from_slice::<Value>(text) {
            Err(e) => out.reply(&rpc::error(Value::Null, PARSE_ERROR, &format!("Parse error: {e}"))),
            Ok(Value::Array(items)) if !items.is_empty() => {
                for item in items {
                    handle(&server, &peer, &out, &workers, item);
                }
            }
            Ok(value) => handle(&server, &peer, &out, &workers, value),
        }
    }
    workers.wait_idle();
    // Ends the background work (--log-every, notify_later): nobody reads any more.
    server.shutdown();
    Ok(())
}

fn handle<W: Write + Send + 'static>(
    server: &Arc<Server>,
    peer: &Peer,
    out: &Arc<LineOut<W>>,
    workers: &Arc<Workers>,
    value: Value,
) {
    match rpc::classify(value) {
        Message::Invalid { id, reason } => {
            out.reply(&rpc::error(id, INVALID_REQUEST, &format!("Invalid Request: {reason}")));
        }
        Message::Notification { method, params } => server.notification(peer, &method, &params),
        Message::Response { id, message } => server.client_response(&id, message),
        Message::Request { id, method, params } => {
            let pending = match server.admit(peer, id, method, params) {
                Admission::Hang => return,
                Admission::Answer(v) => return out.reply(&v),
                Admission::Run(p) => p,
            };
            if server.is_quick(&pending) {
                emit(out, server.execute(peer, pending, out.as_ref()));
                return;
            }
            let (s, p, o, w) = (server.clone(), peer.clone(), out.clone(), workers.clone());
            workers.start();
            // If no thread can be spawned the closure is dropped unrun;
            // account for it so EOF does not wait forever.
            let spawned = std::thread::Builder::new().name("demo-call".into()).spawn(move || {
                s.execute_then(&p, pending, o.as_ref(), |outcome| emit(&o, outcome));
                w.done();
            });
            if spawned.is_err() {
                workers.done();
                log::warn!("demo server: could not spawn a worker thread");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DemoOptions;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn run(opts: DemoOptions, input: &str) -> Vec<String> {
        let server = Arc::new(Server::new(opts).unwrap());
        let out = Shared::default();
        serve(server, input.as_bytes(), out.clone()).unwrap();
        let bytes = out.0.lock().clone();
        String::from_utf8(bytes).unwrap().lines().map(str::to_string).collect()
    }

    #[test]
    fn session() {
        let input = concat!(
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
            "\n",
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            "\n\n",
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":30}}}"#,
            "\n",
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}"#,
            "\n",
            "{not json\n",
            r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"log","arguments":{"level":"info","message":"m"}}}"#,
            "\n",
        );
        let lines = run(DemoOptions::default(), input);
        let msgs: Vec<Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(msgs.len(), 6, "{lines:?}");
        assert_eq!(msgs[0]["id"], 1);
        // echo overtakes the sleep that was sent first.
        assert_eq!(msgs[1]["id"], 3);
        assert_eq!(msgs[2]["error"]["code"], -32700);
        assert_eq!(msgs[2]["id"], Value::Null);
        assert_eq!(msgs[3]["method"], "notifications/message");
        assert_eq!(msgs[4]["id"], 4);
        assert_eq!(msgs[5]["id"], 2);
        assert_eq!(msgs[5]["result"]["content"][0]["text"], "slept 30 ms");
    }

    #[test]
    fn garbage_line() {
        let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"counter"}}"#;
        let input = format!("{call}\n{call}\n{call}\n");
        let lines = run(DemoOptions { garbage_after: Some(1), ..Default::default() }, &input);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1], "this is not json <<garbage>>");
        let last: Value = serde_json::from_str(&lines[2]).unwrap();
        assert_eq!(last["result"]["content"][0]["text"], "3");
    }

    fn req(id: u64, method: &str, params: Value) -> String {
        format!("{}\n", serde_json::json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}))
    }

    fn sleep(id: u64, ms: u64) -> String {
        req(id, "tools/call", serde_json::json!({"name":"sleep","arguments":{"ms":ms}}))
    }

    fn cancel(id: u64) -> String {
        format!(
            "{{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{{\"requestId\":{id}}}}}\n"
        )
    }

    fn ids(lines: &[String]) -> Vec<Value> {
        lines.iter().map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].clone()).collect()
    }

    #[test]
    fn banner_comes_first() {
        let lines = run(DemoOptions { banner: Some("hello, not json".into()), ..Default::default() }, "");
        assert_eq!(lines, ["hello, not json"]);
        let lines =
            run(DemoOptions { banner: Some("b".into()), ..Default::default() }, &req(1, "ping", Value::Null));
        assert_eq!(lines[0], "b");
        assert_eq!(ids(&lines[1..]), [serde_json::json!(1)]);
    }

    #[test]
    fn noise_goes_before_every_nth_reply_and_cycles() {
        let input: String = (1..=7).map(|i| req(i, "ping", Value::Null)).collect();
        let lines = run(DemoOptions { noise_every: Some(2), ..Default::default() }, &input);
        assert_eq!(lines.len(), 10, "{lines:?}");
        assert_eq!(lines[1], "debug: noise 1");
        assert_eq!(lines[4], "{\"log\":\"noise 2\"}");
        assert_eq!(lines[7], "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"result\":{}}");
        let replies: Vec<String> = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| ![1, 4, 7].contains(i))
            .map(|(_, l)| l.clone())
            .collect();
        assert_eq!(ids(&replies), (1..=7).map(|i| serde_json::json!(i)).collect::<Vec<_>>());
        assert_eq!(noise_line(4), "debug: noise 4\n");
    }

    #[test]
    fn never_initialize_answers_everything_else() {
        let input = format!("{}{}", req(1, "initialize", serde_json::json!({})), req(2, "ping", Value::Null));
        let lines = run(DemoOptions { never_initialize: true, ..Default::default() }, &input);
        assert_eq!(ids(&lines), [serde_json::json!(2)]);
    }

    #[test]
    fn serial_keeps_arrival_order_and_drops_cancelled_requests() {
        let serial = DemoOptions { serial: true, ..Default::default() };
        // Without --serial the ping overtakes the sleep; with it, it waits.
        let input = format!("{}{}", sleep(1, 100), req(2, "ping", Value::Null));
        assert_eq!(ids(&run(DemoOptions::default(), &input)), [serde_json::json!(2), serde_json::json!(1)]);
        assert_eq!(ids(&run(serial.clone(), &input)), [serde_json::json!(1), serde_json::json!(2)]);
        // A ping and a long sleep cancelled while queued get no replies, and the sleep never runs.
        let input = format!(
            "{}{}{}{}{}",
            sleep(1, 200),
            req(2, "ping", Value::Null),
            cancel(2),
            sleep(3, 60_000),
            cancel(3)
        );
        let started = std::time::Instant::now();
        assert_eq!(ids(&run(serial, &input)), [serde_json::json!(1)]);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the cancelled sleep did not run out"
        );
    }

    #[test]
    fn headers_are_empty_over_stdio() {
        let lines =
            run(DemoOptions::default(), &req(1, "tools/call", serde_json::json!({"name": "headers"})));
        let v: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(v["result"]["structuredContent"], serde_json::json!({"headers": {}}));
    }
}
