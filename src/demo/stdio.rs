//! The stdio transport: newline-delimited JSON-RPC on stdin/stdout.
//!
//! The reading thread runs quick requests inline (echo, add, ... — fastest
//! for sequential clients) and hands slow ones (`sleep`, `ping_client`, or
//! everything under `--delay-ms`) to a thread each, so many requests can be
//! in flight and responses may come out of order. Every message is written
//! whole under a mutex and flushed once.

use std::io::{self, BufRead, Write};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};
use serde_json::Value;

use super::dispatch::{Admission, Outbound, Outcome, Peer, Server, Transport};
use super::rpc::{self, INVALID_REQUEST, Message, PARSE_ERROR};

/// The line written instead of a reply when `--garbage-after` fires.
pub const GARBAGE_LINE: &[u8] = b"this is not json <<garbage>>\n";

/// The shared, locked output (stdout in production).
struct LineOut<W: Write> {
    w: Mutex<W>,
}

impl<W: Write> LineOut<W> {
    fn write_line(&self, line: &[u8]) {
        let mut w = self.w.lock();
        // A closed stdout is not fatal: the reader sees EOF soon enough.
        if w.write_all(line).and_then(|()| w.flush()).is_err() {
            log::debug!("demo server: stdout write failed");
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
        Outcome::Reply(v) => out.send(&v),
        Outcome::Garbage => out.write_line(GARBAGE_LINE),
        Outcome::Silent => {}
    }
}

/// Serves one client on `input`/`output` until `input` reaches EOF, then
/// waits for requests still running and returns.
pub fn serve<R, W>(server: Arc<Server>, mut input: R, output: W) -> io::Result<()>
where
    R: BufRead,
    W: Write + Send + 'static,
{
    let out = Arc::new(LineOut { w: Mutex::new(output) });
    let workers = Arc::new(Workers::default());
    let peer = Peer::new("stdio", Transport::Stdio);
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
            Err(e) => out.send(&rpc::error(Value::Null, PARSE_ERROR, &format!("Parse error: {e}"))),
            Ok(Value::Array(items)) if !items.is_empty() => {
                for item in items {
                    handle(&server, &peer, &out, &workers, item);
                }
            }
            Ok(value) => handle(&server, &peer, &out, &workers, value),
        }
    }
    workers.wait_idle();
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
            out.send(&rpc::error(id, INVALID_REQUEST, &format!("Invalid Request: {reason}")));
        }
        Message::Notification { method, params } => server.notification(peer, &method, &params),
        Message::Response { id, message } => server.client_response(&id, message),
        Message::Request { id, method, params } => {
            let pending = match server.admit(peer, id, method, params) {
                Admission::Hang => return,
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
                emit(&o, s.execute(&p, pending, o.as_ref()));
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
    use crate::demo::DemoOptions;

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
}
