//! An MCP server on rmcp 3.11 for mcpstore's interop tests, in both protocol
//! eras: a 2026-07-28 client (per-request `_meta`, `server/discover`, MRTR,
//! `subscriptions/listen`) and a 2025-11-25 client (`initialize`, server
//! requests, notifications on the session) are served by the same process
//! (stdio: the first message picks the era; HTTP: per request).
//!
//!   rmcp-interop-server --stdio
//!   rmcp-interop-server --http PORT     # PORT 0: any free port
//!
//! Over HTTP it prints `READY http://127.0.0.1:PORT/mcp` on stdout once it
//! listens; over stdio it prints `READY stdio` on stderr (stdout is the
//! protocol channel).
//!
//! What it offers (the same names as `tests/servers/ts_v2_server.mjs`):
//!
//! - tools: `echo {message}`, `add {a, b}`, `slow {ms}`, `region_headers
//!   {region, query?}` (`region` is annotated `x-mcp-header: Region`; the
//!   result reports the `Mcp-Method`, `Mcp-Name` and `Mcp-Param-Region`
//!   headers the server received), `confirm_action {action}` (elicitation),
//!   `ask_model {question}` (sampling), `client_roots {}` (roots) — on
//!   2026-07-28 as MRTR `input_required` results, on 2025-11-25 as server
//!   requests — and `add_tool {name}` (adds a tool and announces the change:
//!   `subscriptions/listen` on 2026-07-28, a session notification on 2025-11-25);
//! - resources: `test://static/text` (text), `test://static/blob` (blob),
//!   the template `test://items/{id}`;
//! - prompts: `greet {name, style?}`, `plain {}`;
//! - completions: `greet`'s `style`, the template's `id`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams, CompleteResult,
    ElicitRequestParams, GetPromptRequestParams, GetPromptResponse, GetPromptResult, InputRequest,
    InputRequests, InputRequiredResult, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, ServerConfig, ServerNotification, SubscriptionFilter, Tool,
    ToolListChangedNotification,
};
use rmcp::service::{RequestContext, RoleServer, SubscriptionContext};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler, ServiceExt};
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

const SERVER_NAME: &str = "mcpstore-interop-rmcp";
const BLOB: &[u8] = &[0, 1, 2, 3, 254, 255];

/// What the server announces to `subscriptions/listen` streams.
#[derive(Clone, Copy, Debug)]
enum Change {
    Tools,
}

/// The state every handler instance shares (HTTP makes one per session or request).
struct Shared {
    changes: broadcast::Sender<Change>,
    extra_tools: Mutex<Vec<String>>,
}

#[derive(Clone)]
struct Interop {
    shared: Arc<Shared>,
}

type Result<T> = std::result::Result<T, ErrorData>;

/// A value of an rmcp model type from its JSON form (the wire shape is the contract here).
fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| ErrorData::internal_error(format!("building a result: {e}"), None))
}

fn object(value: Value) -> Arc<Map<String, Value>> {
    match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::new(Map::new()),
    }
}

fn tool(name: &str, description: &str, schema: Value) -> Tool {
    Tool::new(name.to_owned(), description.to_owned(), object(schema))
}

fn text_result(text: impl Into<String>) -> Result<CallToolResponse> {
    let result: CallToolResult = from_json(json!({"resultType": "complete", "content": [{"type": "text", "text": text.into()}]}))?;
    Ok(result.into())
}

fn tool_error(text: impl Into<String>) -> Result<CallToolResponse> {
    let result: CallToolResult =
        from_json(json!({"resultType": "complete", "content": [{"type": "text", "text": text.into()}], "isError": true}))?;
    Ok(result.into())
}

fn input_required(key: &str, request: Value, state: Option<String>) -> Result<CallToolResponse> {
    let request: InputRequest = from_json(request)?;
    let mut requests = InputRequests::new();
    requests.insert(key.to_owned(), request);
    Ok(InputRequiredResult::new(Some(requests), state).into())
}

fn str_arg<'a>(args: &'a Map<String, Value>, name: &str) -> Result<&'a str> {
    args.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| ErrorData::invalid_params(format!("`{name}` must be a string"), None))
}

fn num_arg(args: &Map<String, Value>, name: &str) -> Result<f64> {
    args.get(name)
        .and_then(Value::as_f64)
        .ok_or_else(|| ErrorData::invalid_params(format!("`{name}` must be a number"), None))
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { format!("{n}") }
}

/// Whether this request is served in the stateless era (2026-07-28).
fn is_modern(context: &RequestContext<RoleServer>) -> bool {
    context.protocol_version().is_some_and(|v| !v.has_initialize())
}

fn confirm_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"confirmed": {"type": "boolean", "description": "Go ahead?"}},
        "required": ["confirmed"]
    })
}

/// The text of a confirmation answer (an `ElicitResult` as JSON).
fn confirmation_text(action: &str, answer: &Value) -> String {
    let accepted = answer.get("action").and_then(Value::as_str) == Some("accept");
    let confirmed = answer.pointer("/content/confirmed").and_then(Value::as_bool) == Some(true);
    match accepted && confirmed {
        true => format!("confirmed: {action}"),
        false => format!("not confirmed: {action}"),
    }
}

/// The text of a sampling answer (a `CreateMessageResult` as JSON).
fn model_text(answer: &Value) -> String {
    let text = answer.pointer("/content/text").and_then(Value::as_str).unwrap_or("");
    let model = answer.get("model").and_then(Value::as_str).unwrap_or("");
    format!("model {model} said: {text}")
}

fn roots_text(answer: &Value) -> String {
    let uris: Vec<&str> = answer
        .get("roots")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("uri").and_then(Value::as_str))
        .collect();
    format!("roots: {}", uris.join(" "))
}

impl Interop {
    fn new() -> Self {
        let (changes, _) = broadcast::channel(64);
        Interop { shared: Arc::new(Shared { changes, extra_tools: Mutex::new(Vec::new()) }) }
    }

    fn tools(&self) -> Vec<Tool> {
        let mut tools = vec![
            tool(
                "echo",
                "Returns `message` as text",
                json!({"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}),
            ),
            tool(
                "add",
                "Adds `a` and `b`",
                json!({
                    "type": "object",
                    "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                    "required": ["a", "b"]
                }),
            ),
            tool(
                "slow",
                "Waits `ms` milliseconds, then answers",
                json!({"type": "object", "properties": {"ms": {"type": "integer", "minimum": 0}}, "required": ["ms"]}),
            ),
            tool(
                "region_headers",
                "Reports the Mcp-Method, Mcp-Name and Mcp-Param-Region headers of its HTTP request",
                json!({
                    "type": "object",
                    "properties": {
                        "region": {"type": "string", "x-mcp-header": "Region"},
                        "query": {"type": "string"}
                    },
                    "required": ["region"]
                }),
            ),
            tool(
                "confirm_action",
                "Asks the user (elicitation) to confirm `action`",
                json!({"type": "object", "properties": {"action": {"type": "string"}}, "required": ["action"]}),
            ),
            tool(
                "ask_model",
                "Asks the client's model (sampling) `question`",
                json!({"type": "object", "properties": {"question": {"type": "string"}}, "required": ["question"]}),
            ),
            tool("client_roots", "Lists the client's roots", json!({"type": "object", "properties": {}})),
            tool(
                "add_tool",
                "Adds a tool `name` (an echo) and announces that the tool list changed",
                json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}),
            ),
        ];
        let extra = self.shared.extra_tools.lock().map(|t| t.clone()).unwrap_or_default();
        for name in extra {
            tools.push(tool(
                &name,
                "An echo added by add_tool",
                json!({"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}),
            ));
        }
        tools
    }

    async fn call(&self, request: CallToolRequestParams, context: RequestContext<RoleServer>) -> Result<CallToolResponse> {
        let args = request.arguments.clone().unwrap_or_default();
        let name = request.name.to_string();
        let extra = self.shared.extra_tools.lock().map(|t| t.contains(&name)).unwrap_or(false);
        match name.as_str() {
            "echo" => text_result(str_arg(&args, "message")?),
            _ if extra => text_result(str_arg(&args, "message")?),
            "add" => text_result(format_number(num_arg(&args, "a")? + num_arg(&args, "b")?)),
            "slow" => {
                let ms = args.get("ms").and_then(Value::as_u64).unwrap_or(0);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(ms)) => text_result(format!("slept {ms} ms")),
                    _ = context.ct.cancelled() => tool_error("cancelled"),
                }
            }
            "region_headers" => self.region_headers(&args, &context),
            "confirm_action" => self.confirm_action(&request, &args, context).await,
            "ask_model" => self.ask_model(&request, &args, context).await,
            "client_roots" => self.client_roots(&request, context).await,
            "add_tool" => {
                let new = str_arg(&args, "name")?.to_owned();
                if let Ok(mut tools) = self.shared.extra_tools.lock()
                    && !tools.contains(&new)
                {
                    tools.push(new.clone());
                }
                if is_modern(&context) {
                    let _ = self.shared.changes.send(Change::Tools);
                } else {
                    let _ = context.peer.notify_tool_list_changed().await;
                }
                text_result(format!("added {new}"))
            }
            other => Err(ErrorData::invalid_params(format!("unknown tool: {other}"), None)),
        }
    }

    fn region_headers(&self, args: &Map<String, Value>, context: &RequestContext<RoleServer>) -> Result<CallToolResponse> {
        let headers = context.extensions.get::<axum::http::request::Parts>().map(|parts| {
            let get = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
            json!({
                "mcp-method": get("mcp-method"),
                "mcp-name": get("mcp-name"),
                "mcp-param-region": get("mcp-param-region"),
                "mcp-protocol-version": get("mcp-protocol-version"),
            })
        });
        let report = json!({
            "region": args.get("region"),
            "query": args.get("query"),
            "headers": headers.unwrap_or(Value::Null),
        });
        let result: CallToolResult = from_json(json!({
            "resultType": "complete",
            "content": [{"type": "text", "text": report.to_string()}],
            "structuredContent": report,
        }))?;
        Ok(result.into())
    }

    async fn confirm_action(
        &self,
        request: &CallToolRequestParams,
        args: &Map<String, Value>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse> {
        let action = str_arg(args, "action")?.to_owned();
        let message = format!("Confirm {action}?");
        if is_modern(&context) {
            let state = format!("confirm:{action}");
            if let Some(answer) = request.input_responses.as_ref().and_then(|r| r.get("confirm")) {
                if request.request_state.as_deref() != Some(state.as_str()) {
                    return Err(ErrorData::invalid_params(
                        format!("requestState {:?} is not the one sent ({state:?})", request.request_state),
                        None,
                    ));
                }
                return text_result(confirmation_text(&action, answer));
            }
            let elicit = json!({
                "method": "elicitation/create",
                "params": {"mode": "form", "message": message, "requestedSchema": confirm_schema()}
            });
            return input_required("confirm", elicit, Some(state));
        }
        let params: ElicitRequestParams =
            from_json(json!({"mode": "form", "message": message, "requestedSchema": confirm_schema()}))?;
        match context.peer.create_elicitation(params).await {
            Ok(answer) => {
                let answer = serde_json::to_value(answer).unwrap_or(Value::Null);
                text_result(confirmation_text(&action, &answer))
            }
            Err(e) => tool_error(format!("elicitation failed: {e}")),
        }
    }

    async fn ask_model(
        &self,
        request: &CallToolRequestParams,
        args: &Map<String, Value>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse> {
        let question = str_arg(args, "question")?.to_owned();
        let params = json!({
            "messages": [{"role": "user", "content": {"type": "text", "text": question}}],
            "maxTokens": 100
        });
        if is_modern(&context) {
            if let Some(answer) = request.input_responses.as_ref().and_then(|r| r.get("answer")) {
                return text_result(model_text(answer));
            }
            return input_required("answer", json!({"method": "sampling/createMessage", "params": params}), None);
        }
        #[allow(deprecated)]
        let answer = context.peer.create_message(from_json(params)?).await;
        match answer {
            Ok(answer) => text_result(model_text(&serde_json::to_value(answer).unwrap_or(Value::Null))),
            Err(e) => tool_error(format!("sampling failed: {e}")),
        }
    }

    async fn client_roots(
        &self,
        request: &CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse> {
        if is_modern(&context) {
            if let Some(answer) = request.input_responses.as_ref().and_then(|r| r.get("roots")) {
                return text_result(roots_text(answer));
            }
            return input_required("roots", json!({"method": "roots/list"}), None);
        }
        #[allow(deprecated)]
        let answer = context.peer.list_roots().await;
        match answer {
            Ok(answer) => text_result(roots_text(&serde_json::to_value(answer).unwrap_or(Value::Null))),
            Err(e) => tool_error(format!("roots/list failed: {e}")),
        }
    }
}

impl ServerHandler for Interop {
    fn get_info(&self) -> ServerConfig {
        let capabilities = from_json(json!({
            "tools": {"listChanged": true},
            "resources": {"listChanged": true},
            "prompts": {"listChanged": true},
            "completions": {}
        }))
        .unwrap_or_default();
        ServerConfig::new(capabilities)
            .with_server_info(rmcp::model::Implementation::new(SERVER_NAME, env!("CARGO_PKG_VERSION")))
            .with_instructions("mcpstore's rmcp interop server")
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools().into_iter().find(|t| t.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse> {
        self.call(request, context).await
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult> {
        from_json(json!({"resultType": "complete", "resources": [
            {"uri": "test://static/text", "name": "static-text", "mimeType": "text/plain"},
            {"uri": "test://static/blob", "name": "static-blob", "mimeType": "application/octet-stream"}
        ]}))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult> {
        from_json(json!({"resultType": "complete", "resourceTemplates": [
            {"uriTemplate": "test://items/{id}", "name": "item", "mimeType": "text/plain"}
        ]}))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse> {
        let uri = request.uri.as_str();
        let contents = match uri {
            "test://static/text" => json!({"uri": uri, "mimeType": "text/plain", "text": "hello from rmcp"}),
            "test://static/blob" => {
                use base64::Engine as _;
                let blob = base64::engine::general_purpose::STANDARD.encode(BLOB);
                json!({"uri": uri, "mimeType": "application/octet-stream", "blob": blob})
            }
            _ => match uri.strip_prefix("test://items/") {
                Some(id) if !id.is_empty() => json!({"uri": uri, "mimeType": "text/plain", "text": format!("item {id}")}),
                _ => return Err(ErrorData::invalid_params(format!("no resource {uri}"), Some(json!({"uri": uri})))),
            },
        };
        let result: ReadResourceResult = from_json(json!({"resultType": "complete", "contents": [contents]}))?;
        Ok(result.into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult> {
        from_json(json!({"resultType": "complete", "prompts": [
            {
                "name": "greet",
                "description": "Greets `name`, in `style`",
                "arguments": [
                    {"name": "name", "description": "Who", "required": true},
                    {"name": "style", "description": "formal, casual or friendly", "required": false}
                ]
            },
            {"name": "plain", "description": "A prompt without arguments"}
        ]}))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse> {
        let args = request.arguments.unwrap_or_default();
        let text = match request.name.as_str() {
            "greet" => {
                let name = args.get("name").and_then(Value::as_str).ok_or_else(|| {
                    ErrorData::invalid_params("greet needs the argument `name`", None)
                })?;
                match args.get("style").and_then(Value::as_str) {
                    Some(style) => format!("Hello, {name}! (style: {style})"),
                    None => format!("Hello, {name}!"),
                }
            }
            "plain" => "A plain prompt.".to_owned(),
            other => return Err(ErrorData::invalid_params(format!("unknown prompt: {other}"), None)),
        };
        let result: GetPromptResult = from_json(json!({
            "resultType": "complete",
            "description": format!("prompt {}", request.name),
            "messages": [{"role": "user", "content": {"type": "text", "text": text}}]
        }))?;
        Ok(result.into())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult> {
        let reference = serde_json::to_value(&request.r#ref).unwrap_or(Value::Null);
        let candidates: &[&str] = match (
            reference.get("type").and_then(Value::as_str),
            reference.get("name").or_else(|| reference.get("uri")).and_then(Value::as_str),
            request.argument.name.as_str(),
        ) {
            (Some("ref/prompt"), Some("greet"), "style") => &["formal", "casual", "friendly"],
            (Some("ref/resource"), Some("test://items/{id}"), "id") => &["1", "2", "3", "42"],
            _ => &[],
        };
        let prefix = request.argument.value.as_str();
        let values: Vec<&str> = candidates.iter().copied().filter(|c| c.starts_with(prefix)).collect();
        from_json(json!({"resultType": "complete", "completion": {"values": values, "total": values.len(), "hasMore": false}}))
    }

    fn accepted_subscription_filter(&self, requested: &SubscriptionFilter) -> Option<SubscriptionFilter> {
        Some(requested.clone())
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<()> {
        let mut changes = self.shared.changes.subscribe();
        loop {
            tokio::select! {
                _ = context.cancelled() => return Ok(()),
                change = changes.recv() => match change {
                    Ok(Change::Tools) => {
                        let notification = ServerNotification::ToolListChangedNotification(
                            ToolListChangedNotification::default(),
                        );
                        let _ = context.sink().send(notification).await;
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                },
            }
        }
    }
}

fn usage() -> ! {
    eprintln!("usage: rmcp-interop-server --stdio | --http PORT");
    std::process::exit(2);
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let server = Interop::new();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["--stdio"] => {
            eprintln!("READY stdio");
            server.serve(rmcp::transport::stdio()).await?.waiting().await?;
        }
        ["--http", port] => {
            let port: u16 = port.parse().unwrap_or_else(|_| usage());
            let service = StreamableHttpService::new(
                move || Ok(server.clone()),
                Arc::new(LocalSessionManager::default()),
                StreamableHttpServerConfig::default(),
            );
            let router = axum::Router::new().nest_service("/mcp", service);
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
            println!("READY http://{}/mcp", listener.local_addr()?);
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?;
        }
        _ => usage(),
    }
    Ok(())
}
