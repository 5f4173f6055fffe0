//! An MCP server written with rmcp, the official Rust SDK, serving one tool:
//! `echo {message}` returns `message` as text content. It is the "peer server"
//! of the benchmarks: the same tool as mcpstore's demo server, built the way
//! rmcp's own documentation builds servers (tool macros, a multi-threaded tokio
//! runtime, `StreamableHttpService` in an axum router for HTTP).
//!
//!   rmcp-echo-server                       # stdio; prints "ready" to stderr first
//!   rmcp-echo-server --http 127.0.0.1:0    # prints "listening on http://ADDR/mcp" to stderr
//!   rmcp-echo-server --http 127.0.0.1:0 --nodelay   # the same, with TCP_NODELAY on accepted sockets
//!
//! `axum::serve` leaves Nagle's algorithm on, as rmcp's examples do; `--nodelay`
//! shows how much of a client's HTTP latency comes from that.

use std::sync::Arc;

use axum::serve::ListenerExt;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ServiceExt, tool, tool_router};
use serde::Deserialize;

#[derive(Deserialize, schemars::JsonSchema)]
struct EchoArgs {
    /// The text to send back.
    message: String,
}

#[derive(Clone, Default)]
struct Echo;

// `server_handler` generates the `ServerHandler` impl (tools only) from this block.
#[tool_router(server_handler)]
impl Echo {
    #[tool(description = "Returns its argument `message` as text")]
    async fn echo(&self, Parameters(args): Parameters<EchoArgs>) -> String {
        args.message
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => {
            // stdout is the protocol channel, so the ready line goes to stderr.
            eprintln!("ready");
            Echo.serve(rmcp::transport::stdio()).await?.waiting().await?;
        }
        [flag, addr, rest @ ..] if flag == "--http" && rest.iter().all(|a| a == "--nodelay") => {
            let service = StreamableHttpService::new(
                || Ok(Echo),
                Arc::new(LocalSessionManager::default()),
                StreamableHttpServerConfig::default(),
            );
            let router = axum::Router::new().nest_service("/mcp", service);
            let listener = tokio::net::TcpListener::bind(addr.as_str()).await?;
            eprintln!("listening on http://{}/mcp", listener.local_addr()?);
            if rest.is_empty() {
                axum::serve(listener, router).await?;
            } else {
                let listener = listener.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                axum::serve(listener, router).await?;
            }
        }
        _ => {
            eprintln!("usage: rmcp-echo-server [--http 127.0.0.1:PORT [--nodelay]]");
            std::process::exit(2);
        }
    }
    Ok(())
}
