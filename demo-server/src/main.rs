//! The mcpstore demo MCP server (stdio, or Streamable HTTP with `--http`).

use std::process::ExitCode;

fn main() -> ExitCode {
    mcpstore_demo_server::main_with_args(std::env::args().skip(1).collect())
}
