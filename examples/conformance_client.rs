//! A client for the official MCP conformance suite (`scripts/conformance.sh`).
//!
//! The runner starts a scenario server, then runs this program with the
//! server's URL as the last argument, the scenario's name in
//! `MCP_CONFORMANCE_SCENARIO`, the protocol revision the scenario runs at in
//! `MCP_CONFORMANCE_PROTOCOL_VERSION` (pre-release runner) and scenario data
//! in `MCP_CONFORMANCE_CONTEXT`. The client runs one generic flow, whatever
//! the scenario: it connects with the library (`Store` +
//! `ServiceConfig::http`, with the built-in elicitation handler that accepts
//! a form's defaults), lists what the server advertises, calls every tool
//! with arguments built from its input schema, reads every resource and gets
//! every prompt. It exits 0 when every request succeeded, 1 with a message
//! otherwise.
//!
//! The protocol revision becomes the service's `protocol` setting, as a user
//! would pin it (`auto` when the variable is absent): `2026-07-28` speaks the
//! stateless era, `2025-11-25` the `initialize` handshake.
//!
//! Authorization is the library's own: a 401 starts discovery, registration
//! and the authorization code flow, with the headless authorizer standing in
//! for the user's browser. The only per-scenario data is what a real user
//! would configure or ask for, which the scenario cannot let a client
//! discover:
//! - from `MCP_CONFORMANCE_CONTEXT`: the pre-registered client and the
//!   client-credentials keys, and `toolCalls` (the calls to make, with their
//!   exact arguments, instead of one call per tool);
//! - from the scenario name ([`scenario_plan`]): which grant the user chose
//!   (client credentials), a server that lists tools it does not serve, and
//!   the call whose argument is another tool's schema.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use mcpstore::{
    AcceptDefaults, AuthConfig, AuthMode, Error, HeadlessAuthorizer, HttpConfig, MemoryTokenStore,
    PoolConfig, ProtocolChoice, SecretSource, ServiceConfig, Store,
};
use serde_json::{Map, Value, json};

const SERVICE: &str = "server";

/// The suite's Client ID Metadata Document URL (a constant of the suite, not
/// in the context). Configuring it for every scenario is safe: it is used only
/// where the authorization server says it supports such documents.
const CLIENT_METADATA_URL: &str = "https://conformance-test.local/client-metadata.json";

/// What the generic flow does with the tools it lists.
enum ToolPlan {
    /// Call every listed tool with arguments built from its input schema.
    CallEach,
    /// Call exactly these `(tool, arguments)`.
    Calls(Vec<(String, Value)>),
    /// Only list them (the server lists tools it does not serve).
    ListOnly,
    /// Call tool `.0` with `{"schema": <the input schema of tool .1>}`, as listed.
    EchoSchema(&'static str, &'static str),
}

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
    let context: Value = match std::env::var("MCP_CONFORMANCE_CONTEXT") {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| Error::InvalidArgument(format!("MCP_CONFORMANCE_CONTEXT is not JSON: {e}")))?,
        Err(_) => Value::Null,
    };
    let protocol = match std::env::var("MCP_CONFORMANCE_PROTOCOL_VERSION") {
        Ok(version) if !version.is_empty() => {
            ProtocolChoice::parse(&version).map_err(Error::InvalidArgument)?
        }
        _ => ProtocolChoice::Auto,
    };
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
    let store = Store::builder()
        .pool(pool)
        .client_name("mcpstore-conformance-client")
        .elicitation_handler(AcceptDefaults)
        .authorizer(Arc::new(HeadlessAuthorizer::new()))
        .token_store(Arc::new(MemoryTokenStore::new()))
        .build()?;
    let http = HttpConfig { auth: auth_config(scenario, &context), ..HttpConfig::new(url) };
    store.add_service(SERVICE, ServiceConfig { protocol, ..ServiceConfig::new(http) })?;
    if let Some(down) = store.wait_ready(Duration::from_secs(15)).first() {
        return Err(Error::Closed {
            message: format!(
                "could not connect: service is {}: {}",
                down.state.as_str(),
                down.last_error.clone().unwrap_or_else(|| "no tools loaded".into())
            ),
            may_have_run: false,
        });
    }
    let info = store
        .list_services()
        .into_iter()
        .find(|s| s.name == SERVICE)
        .ok_or_else(|| Error::Internal("service vanished".into()))?;
    println!(
        "connected to {} (protocol {}; setting {})",
        info.server_info.map(|i| format!("{} {}", i.name, i.version)).unwrap_or_default(),
        info.protocol_version.unwrap_or_default(),
        std::env::var("MCP_CONFORMANCE_PROTOCOL_VERSION").unwrap_or_else(|_| "auto".into())
    );
    let tools = store.list_tools(Some(SERVICE))?;
    println!("tools: {}", tools.iter().map(|(_, t)| t.name.as_str()).collect::<Vec<_>>().join(", "));
    let calls = match scenario_plan(scenario, &context) {
        ToolPlan::CallEach => {
            tools.iter().map(|(_, t)| (t.name.clone(), arguments_for(&t.input_schema))).collect()
        }
        ToolPlan::Calls(calls) => calls,
        ToolPlan::ListOnly => Vec::new(),
        ToolPlan::EchoSchema(echo, of) => {
            let schema = tools.iter().find(|(_, t)| t.name == of).map(|(_, t)| t.input_schema.clone());
            vec![(echo.to_owned(), json!({ "schema": schema.unwrap_or(Value::Null) }))]
        }
    };
    let mut failures = Vec::new();
    for (tool, arguments) in calls {
        if let Err(e) = call(&store, &tool, arguments) {
            failures.push(format!("{tool}: {e}"));
        }
    }
    for (_, resource) in store.list_resources(Some(SERVICE))?.iter() {
        match store.read_resource(&resource.uri) {
            Ok(result) => println!("read {} -> {} content(s)", resource.uri, result.contents.len()),
            Err(e) => failures.push(format!("resource {}: {e}", resource.uri)),
        }
    }
    for (_, prompt) in store.list_prompts(Some(SERVICE))?.iter() {
        let arguments: Map<String, Value> =
            prompt.arguments.iter().filter(|a| a.required).map(|a| (a.name.clone(), json!("test"))).collect();
        match store.get_prompt(&format!("{SERVICE}.{}", prompt.name), arguments) {
            Ok(result) => println!("prompt {} -> {} message(s)", prompt.name, result.messages.len()),
            Err(e) => failures.push(format!("prompt {}: {e}", prompt.name)),
        }
    }
    match failures.is_empty() {
        true => Ok(()),
        false => Err(Error::Internal(failures.join("; "))),
    }
}

/// The calls to make: `toolCalls` from the context when it has them, else
/// what the scenario's name says a user would do (data no client can discover).
fn scenario_plan(scenario: &str, context: &Value) -> ToolPlan {
    if let Some(calls) = context.get("toolCalls").and_then(Value::as_array) {
        return ToolPlan::Calls(
            calls
                .iter()
                .filter_map(|c| {
                    let name = c.get("name")?.as_str()?.to_owned();
                    Some((name, c.get("arguments").cloned().unwrap_or_else(|| json!({}))))
                })
                .collect(),
        );
    }
    match scenario {
        // Its server lists a tool (to check that the client does not fetch a
        // network `$ref` of its schema) and serves no tools/call.
        "json-schema-ref-no-deref" => ToolPlan::ListOnly,
        // The echo tool takes the other tool's schema exactly as listed.
        "json-schema-2020-12-preservation" => {
            ToolPlan::EchoSchema("json_schema_echo", "json_schema_2020_12_tool")
        }
        _ => ToolPlan::CallEach,
    }
}

/// The OAuth settings a user would write for this server: a pre-registered
/// client or client credentials when the scenario's context has them.
fn auth_config(scenario: &str, context: &Value) -> AuthConfig {
    let text = |key: &str| context.get(key).and_then(Value::as_str).map(str::to_owned);
    let mode = if scenario.starts_with("auth/client-credentials") {
        AuthMode::ClientCredentials
    } else {
        AuthMode::AuthorizationCode
    };
    AuthConfig {
        mode,
        client_id: text("client_id"),
        client_secret: text("client_secret").map(SecretSource::Value),
        client_metadata_url: Some(CLIENT_METADATA_URL.to_owned()),
        private_key: text("private_key_pem").map(SecretSource::Value),
        signing_alg: text("signing_algorithm"),
        ..AuthConfig::default()
    }
}

/// Arguments that satisfy an input schema: every required property gets its
/// default, an example, the first allowed value, or a plain value of its type.
fn arguments_for(schema: &Value) -> Value {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut arguments = serde_json::Map::new();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties.iter().filter(|(name, _)| required.contains(&name.as_str())) {
            arguments.insert(name.clone(), value_for(property));
        }
    }
    Value::Object(arguments)
}

fn value_for(property: &Value) -> Value {
    if let Some(v) = property.get("default").or_else(|| property.get("const")) {
        return v.clone();
    }
    for list in ["examples", "enum"] {
        if let Some(v) = property.get(list).and_then(Value::as_array).and_then(|a| a.first()) {
            return v.clone();
        }
    }
    let kind = match property.get("type") {
        Some(Value::Array(kinds)) => {
            kinds.iter().filter_map(Value::as_str).find(|k| *k != "null").unwrap_or("string")
        }
        Some(Value::String(kind)) => kind.as_str(),
        _ => "string",
    };
    let minimum = property.get("minimum").and_then(Value::as_f64);
    match kind {
        "integer" => json!(minimum.map_or(1, |m| m.ceil() as i64)),
        "number" => json!(minimum.unwrap_or(1.0)),
        "boolean" => json!(true),
        "object" => arguments_for(property),
        "array" => json!([]),
        _ => json!("test"),
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
