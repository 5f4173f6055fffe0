//! The embedded demo MCP server (stdio and Streamable HTTP).
//!
//! This is an independent MCP *server* peer used by the library's tests and
//! benchmarks. It speaks both protocol eras: 2025-11-25 (`initialize`,
//! sessions, server-to-client requests) and 2026-07-28 (stateless requests
//! with per-request `_meta`, `server/discover`, `subscriptions/listen`,
//! multi round-trip results); a request's `_meta` says which it belongs to. It deliberately does not use
//! any of the library's client code: it speaks JSON-RPC with `serde_json`
//! directly, over stdio or over HTTP/1.1 served by `touche`.
//!
//! Start it with [`main_with_args`] (what the `mcpstore-demo-server` binary
//! does), with [`run`], or in-process with [`spawn_http`].
//!
//! Beside tools it serves resources (documents, notes, the files of
//! `--root`), a resource template with subscriptions, prompts, completions
//! and logging, asks the client (sampling, elicitation, roots) from tools,
//! and over HTTP keeps a listening stream (GET) per session; in the stateless
//! era the same tools ask through `input_required` results, and list changes
//! go to `subscriptions/listen` streams.
//!
//! Fault switches (see [`DemoOptions`]) make it crash, hang, answer garbage,
//! expire sessions, drop SSE connections, run requests one at a time or
//! write noise so that client recovery paths can be tested.

mod catalog;
mod chaos;
mod completion;
mod dispatch;
mod feature_tools;
mod files;
mod http;
mod http_mcp;
mod http_modern;
mod http_reply;
mod http_session;
mod listen;
mod modern;
mod options;
mod peers;
mod process_tools;
mod prompts;
mod resources;
mod rpc;
mod serial;
mod sse;
mod state;
mod stdio;
mod subscriptions;
mod tools;

#[cfg(test)]
mod http_tests;

use std::io;
use std::process::ExitCode;
use std::sync::Arc;

pub use http::{HttpServerHandle, spawn_http};
pub use modern::Eras;
pub use options::{DemoOptions, Mode, USAGE, parse_args};

/// Runs the server in the foreground until stdin closes (stdio mode) or
/// forever (HTTP mode).
pub fn run(opts: DemoOptions, mode: Mode) -> io::Result<()> {
    chaos::setup(&opts)?;
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
