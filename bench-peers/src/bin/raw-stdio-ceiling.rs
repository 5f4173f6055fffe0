//! The stdio ceiling: what a client with no MCP library at all gets from a
//! server over its pipes. It spawns the server, does the initialize handshake
//! by hand, then keeps a window of W `tools/call` requests in flight on one
//! pipe, refilling it as responses arrive. No async runtime, one thread.
//!
//!   raw-stdio-ceiling --stdio "CMD ARGS" --calls N --window W [--message TEXT] [--warmup K] [--write-each]
//!
//! `--write-each` writes every request with its own syscall (no coalescing),
//! to show what coalescing the writes is worth.
//!
//! Prints the same JSON line as rmcp-bench-client (client "raw").

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mcpstore_bench_peers::{Report, cpu_us, fail, flag, num_flag};
use serde::Deserialize;
use serde::de::IgnoredAny;

/// The fields of a response line this client looks at; serde skips the rest.
#[derive(Deserialize)]
struct Reply {
    id: Option<u64>,
    result: Option<ToolResult>,
    error: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct ToolResult {
    #[serde(rename = "isError", default)]
    is_error: bool,
}

/// Reads lines until the response with `id` arrives (skipping notifications).
fn read_reply(reader: &mut impl BufRead, line: &mut String) -> Reply {
    loop {
        line.clear();
        if reader.read_line(line).unwrap_or(0) == 0 {
            fail("raw-stdio-ceiling: the server closed its stdout");
        }
        match serde_json::from_str::<Reply>(line) {
            Ok(reply) if reply.id.is_some() => return reply,
            Ok(_) => continue, // a notification
            Err(e) => fail(&format!("raw-stdio-ceiling: bad line from the server ({e}): {line}")),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let calls = num_flag(&args, "--calls", 10_000).max(1);
    let window = num_flag(&args, "--window", 1).max(1);
    let warmup = num_flag(&args, "--warmup", 10);
    let write_each = args.iter().any(|a| a == "--write-each");
    let message = serde_json::to_string(&flag(&args, "--message").unwrap_or_else(|| "hi".into())).unwrap();
    let line =
        flag(&args, "--stdio").unwrap_or_else(|| fail("usage: raw-stdio-ceiling --stdio \"CMD ARGS\" ..."));
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some((program, rest)) = words.split_first() else { fail("--stdio needs a command") };

    let mut child = Command::new(program)
        .args(rest)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| fail(&format!("cannot start {program}: {e}")));
    let mut w = BufWriter::with_capacity(64 * 1024, child.stdin.take().unwrap());
    let mut r = BufReader::with_capacity(64 * 1024, child.stdout.take().unwrap());
    let mut buf = String::with_capacity(4096);

    // The lifecycle, by hand: initialize, its reply, then the initialized notification.
    writeln!(
        w,
        r#"{{"jsonrpc":"2.0","id":0,"method":"initialize","params":{{"protocolVersion":"2025-11-25","capabilities":{{}},"clientInfo":{{"name":"raw-stdio-ceiling","version":"0"}}}}}}"#
    )
    .and_then(|_| w.flush())
    .unwrap_or_else(|e| fail(&format!("write: {e}")));
    if read_reply(&mut r, &mut buf).result.is_none() {
        fail(&format!("initialize failed: {buf}"));
    }
    writeln!(w, r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#).unwrap();

    // Request ids 1..=warmup are the warm-up, sent one at a time; the measured
    // calls follow, and `sent_at` is indexed by id.
    let total = warmup + calls;
    let send = |w: &mut BufWriter<_>, id: usize| {
        writeln!(
            w,
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"message":{message}}}}}}}"#
        )
        .unwrap_or_else(|e| fail(&format!("write: {e}")));
    };
    for id in 1..=warmup {
        send(&mut w, id);
        w.flush().unwrap();
        read_reply(&mut r, &mut buf);
    }

    let mut sent_at = vec![None::<Instant>; total + 1];
    let mut latencies: Vec<Duration> = Vec::with_capacity(calls);
    let mut errors = 0;
    let mut next = warmup + 1;
    let cpu0 = cpu_us();
    let start = Instant::now();
    while next <= total && next - warmup - 1 < window {
        sent_at[next] = Some(Instant::now());
        send(&mut w, next);
        next += 1;
    }
    while latencies.len() < calls {
        // Write what is queued before blocking on the pipe; while replies are
        // already buffered, refills accumulate into one write.
        if r.buffer().is_empty() {
            w.flush().unwrap_or_else(|e| fail(&format!("write: {e}")));
        }
        let reply = read_reply(&mut r, &mut buf);
        let id = reply.id.unwrap() as usize;
        let Some(t) = sent_at.get_mut(id).and_then(Option::take) else {
            fail(&format!("unexpected id {id}"))
        };
        latencies.push(t.elapsed());
        if reply.error.is_some() || reply.result.is_none_or(|x| x.is_error) {
            errors += 1;
        }
        if next <= total {
            sent_at[next] = Some(Instant::now());
            send(&mut w, next);
            next += 1;
            if write_each {
                w.flush().unwrap_or_else(|e| fail(&format!("write: {e}")));
            }
        }
    }
    let elapsed = start.elapsed();
    let cpu = cpu_us() - cpu0;

    // EOF on its stdin ends a stdio MCP server.
    drop(w);
    let _ = child.wait();
    Report { client: "raw", concurrency: window, errors, elapsed, cpu_us: cpu, latencies }.print();
}
