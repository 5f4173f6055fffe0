//! A client for the official MCP conformance suite (`scripts/conformance.sh`).
//!
//! The runner starts a scenario server, then runs this program with the
//! server's URL as the last argument and the scenario's name in
//! `MCP_CONFORMANCE_SCENARIO`. The client connects with the library
//! (`Store` + `ServiceConfig::http`), lists the tools and makes the
//! scenario's call; it exits 0 on success, 1 with a message on failure.

use std::process::ExitCode;
use std::time::Duration;

use mcpstore::{Error, PoolConfig, ServiceConfig, Store};
use serde_json::{Value, json};

const SERVICE: &str = "server";

fn main() -> ExitCode {
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let Some(url) = std::env::args().skip(1).last() else {
        eprintln!("conformance_client: usage: conformance_client [ARGS...] URL");
        return ExitCode::from(2);
    };
    match run(&scenario, &url) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("conformance_client: scenario '{scenario}' against {url} failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(scenario: &str, url: &str) -> Result<(), Error> {
    // One session: a conformance server expects one client session at a time.
    let pool = PoolConfig {
        min_connections: 1,
        max_connections: 1,
        connection_timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(20),
        max_retries: 1,
        retry_delay: Duration::from_millis(200),
        ..PoolConfig::default()
    };
    let store = Store::builder().pool(pool).client_name("mcpstore-conformance-client").build()?;
    store.add_service(SERVICE, ServiceConfig::http(url))?;
    if let Some(down) = store.wait_ready(Duration::from_secs(15)).first() {
        return Err(Error::Closed {
            message: format!(
                "could not connect: service is {}: {}",
                down.state.as_str(),
                down.last_error.clone().unwrap_or_else(|| "no tools loaded".into())
            ),
            sent: false,
        });
    }
    let info = store
        .list_services()
        .into_iter()
        .find(|s| s.name == SERVICE)
        .ok_or_else(|| Error::Internal("service vanished".into()))?;
    println!(
        "connected to {} (protocol {})",
        info.server_info.map(|i| format!("{} {}", i.name, i.version)).unwrap_or_default(),
        info.protocol_version.unwrap_or_default()
    );
    let tools = store.list_tools(Some(SERVICE))?;
    println!("tools: {}", tools.iter().map(|(_, t)| t.name.as_str()).collect::<Vec<_>>().join(", "));
    match scenario {
        "tools_call" => call(&store, "add_numbers", json!({"a": 5, "b": 3})),
        "sse-retry" => call(&store, "test_reconnection", json!({})),
        _ => Ok(()), // initialize (and scenarios that only need the handshake)
    }
}

fn call(store: &Store, tool: &str, arguments: Value) -> Result<(), Error> {
    let name = format!("{SERVICE}.{tool}");
    let result = store.call_tool(&name, arguments)?;
    println!("{tool} -> {}", result.to_json());
    if result.is_error {
        return Err(Error::Internal(format!("tool {tool} reported an error: {}", result.text())));
    }
    Ok(())
}
