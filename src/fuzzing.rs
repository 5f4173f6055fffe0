//! Entry points for the fuzz targets in `fuzz/` (`--features fuzzing`); not
//! part of the API.
//!
//! One function per target takes the fuzzer's bytes and drives one parser of
//! what someone else controls (a server, a proxy, a configuration file, a C
//! caller) the way the library does. None of them panics on any input: a
//! panic is a bug the fuzzer reports. Some check invariants on the way (a
//! line never longer than its limit, a result that survives its own
//! encoding), which panic when they break.

use std::ffi::{CString, c_char, c_void};
use std::io::{self, BufReader, Read};

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::auth::fuzz_access as auth;
use crate::config::{PerformanceConfig, ServersFile, ServiceConfig};
use crate::error::Error;
use crate::protocol::jsonrpc::{Incoming, parse_message, parse_messages};
use crate::protocol::modern::{DiscoverResult, ResultKind, result_kind, supported_in};
use crate::protocol::param_headers::{encode, header_values, param_headers as annotations};
use crate::protocol::tool_result_shape::ToolResultShape;
use crate::protocol::{
    CompleteResult, CreateMessageRequest, ElicitRequest, GetPromptResult, InitializeResult, Progress, Prompt,
    ReadResourceResult, Resource, ResourceTemplate, TaskInfo, Tool, ToolResult, template_matches,
};
use crate::transport::legacy_sse::fuzz_access as legacy;
use crate::transport::sse::SseReader;
use crate::transport::{Inbound, read_line_limited, stdio};

/// A fuzz target: takes any bytes, panics only on a bug.
pub type Target = fn(&[u8]);

/// The targets, by name (the names of the binaries in `fuzz/`).
pub const TARGETS: &[(&str, Target)] = &[
    ("jsonrpc", jsonrpc),
    ("mcp_result", mcp_result),
    ("param_headers", param_headers),
    ("stdio_framing", stdio_framing),
    ("sse", sse),
    ("legacy_sse", legacy_sse),
    ("www_authenticate", www_authenticate),
    ("oauth_metadata", oauth_metadata),
    ("mcp_json", mcp_json),
    ("performance", performance),
    ("ffi", ffi),
];

/// A reader that hands its bytes out in pieces of varying size (from
/// `pattern`), so that parsers meet every way a message can be split.
struct Pieces<'a> {
    data: &'a [u8],
    pattern: u8,
    turn: u8,
}

impl<'a> Pieces<'a> {
    fn new(data: &'a [u8], pattern: u8) -> Self {
        Pieces { data, pattern, turn: 0 }
    }
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.turn = self.turn.wrapping_add(1);
        let size = match self.pattern % 4 {
            0 => usize::MAX,                                                           // all at once
            1 => 1,                                                                    // byte by byte
            2 => 1 + usize::from(self.pattern >> 2),                                   // fixed pieces
            _ => 1 + usize::from(self.pattern.rotate_left(u32::from(self.turn)) % 17), // varying
        };
        let n = size.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Reads a JSON value the way the library does; `None` when it is not JSON.
fn json<T: DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_str(text).ok()
}

/// What a session does with one message it received: every param and result
/// parser a message of that kind may reach.
fn exercise_incoming(message: Incoming) {
    match message {
        Incoming::Response { outcome: Ok(raw), .. } => exercise_result(&raw),
        Incoming::Response { outcome: Err(e), .. } | Incoming::UnattributedError(e) => {
            let _ = supported_in(e.data.as_ref());
            let _ = Error::from(e).to_string();
        }
        Incoming::Request { method, params, .. } | Incoming::Notification { method, params } => {
            let Some(params) = params else { return };
            match method.as_str() {
                "notifications/progress" => {
                    let _ = serde_json::from_value::<Progress>(params);
                }
                "sampling/createMessage" => {
                    let _ = serde_json::from_value::<CreateMessageRequest>(params);
                }
                "elicitation/create" => {
                    if let Ok(request) = ElicitRequest::from_params(&params) {
                        let _ = request.mode();
                    }
                }
                _ => {
                    let _ = params.get("uri").and_then(Value::as_str);
                }
            }
        }
    }
}

/// Every parser a result may meet: its `resultType` (both eras), then each
/// result type a request can have.
fn exercise_result(raw: &RawValue) {
    match result_kind(raw) {
        Ok(ResultKind::InputRequired(input)) => {
            for (key, request) in &input.input_requests {
                let method = request.get("method").and_then(Value::as_str).unwrap_or(key);
                let params = request.get("params").cloned().unwrap_or(Value::Null);
                exercise_incoming(Incoming::Notification { method: method.to_owned(), params: Some(params) });
            }
            let _ = input.request_state.map(|s| s.get().len());
        }
        Ok(ResultKind::Task) => {
            let _ = json::<TaskInfo>(raw.get());
        }
        Ok(ResultKind::Complete | ResultKind::Unknown(_)) | Err(_) => {}
    }
    let text = raw.get();
    // The check on arrival accepts exactly what the parse on first read accepts.
    let shape = ToolResultShape::check(text);
    assert_eq!(shape.is_ok(), json::<ToolResult>(text).is_some(), "check and parse disagree on {text}");
    if let Some(result) = json::<ToolResult>(text) {
        assert_eq!(shape.map(|s| s.is_error).ok(), Some(result.is_error), "isError read two ways");
        let _ = (result.text(), result.approx_size());
        // A result survives its own encoding (the cache and the C ABI hand it on as JSON).
        let again: ToolResult = serde_json::from_str(&result.to_json()).expect("a ToolResult re-encodes");
        assert_eq!(again, result, "a ToolResult changed through its JSON");
    }
    if let Some(init) = json::<InitializeResult>(text) {
        let _ = init.tools_list_changed();
    }
    if let Some(discovered) = json::<DiscoverResult>(text)
        && let Some(version) = discovered.choose_version()
    {
        let _ = discovered.into_server_description(version);
    }
    let _ = json::<GetPromptResult>(text).map(|r| r.text());
    let _ = json::<CompleteResult>(text);
    if let Some(read) = json::<ReadResourceResult>(text) {
        let _ = read.text();
        read.contents.iter().for_each(|c| drop(c.bytes()));
    }
    let Some(mut page) = json::<Map<String, Value>>(text) else { return };
    let ttl = page.get("ttlMs").and_then(Value::as_f64);
    let _ = ttl.map(|t| std::time::Duration::from_millis(t.max(0.0) as u64));
    if let Some(tools) = page.remove("tools").and_then(|v| serde_json::from_value::<Vec<Tool>>(v).ok()) {
        for tool in &tools {
            let _ = (tool.is_read_only(), tool.is_retry_safe());
            if let Ok(headers) = annotations(&tool.input_schema) {
                let _ = header_values(&headers, &tool.input_schema);
            }
        }
    }
    let _ = page.remove("prompts").and_then(|v| serde_json::from_value::<Vec<Prompt>>(v).ok());
    let uris: Vec<String> = page
        .remove("resources")
        .and_then(|v| serde_json::from_value::<Vec<Resource>>(v).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.uri)
        .collect();
    if let Some(templates) =
        page.remove("resourceTemplates").and_then(|v| serde_json::from_value::<Vec<ResourceTemplate>>(v).ok())
    {
        for template in templates.iter().take(8) {
            for uri in uris.iter().take(8) {
                let _ = template_matches(&template.uri_template, uri);
            }
            let _ = template_matches(&template.uri_template, "file:///a/b/c.txt?x=1#f");
        }
    }
}

/// JSON-RPC messages (and batches) as every transport reads them, each
/// message then handled like a session does.
pub fn jsonrpc(data: &[u8]) {
    if let Ok(messages) = parse_messages(data) {
        messages.into_iter().for_each(exercise_incoming);
    }
}

/// The `result` of a response, of either era: `resultType`, MRTR input
/// requests, discovery, tool results, lists, prompts, resources.
pub fn mcp_result(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(raw) = serde_json::from_str::<Box<RawValue>>(text) {
        exercise_result(&raw);
    }
}

/// `x-mcp-header` annotations of a tool's input schema (the first line may
/// hold the call's arguments), then the headers of one call.
pub fn param_headers(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (schema, arguments) = text.split_once('\n').unwrap_or((text, "{}"));
    let Some(schema) = json::<Value>(schema) else {
        let _ = encode(text);
        return;
    };
    let Ok(headers) = annotations(&schema) else { return };
    let arguments = json::<Value>(arguments).unwrap_or(Value::Null);
    for (name, value) in header_values(&headers, &arguments) {
        assert!(name.starts_with("mcp-param-"), "{name}");
        // A header value is visible ASCII with inner spaces only.
        assert!(value.bytes().all(|b| (0x20..=0x7e).contains(&b)), "unsafe header value {value:?}");
        assert!(!value.starts_with(' ') && !value.ends_with(' '), "{value:?}");
    }
}

/// A stdio server's stdout: lines read with the size limit, split in every
/// possible way, each line parsed as the reader thread does.
/// Byte 0 sets the limit, byte 1 how the stream is split.
pub fn stdio_framing(data: &[u8]) {
    let [limit, pattern, body @ ..] = data else { return };
    let limit = 1 + usize::from(*limit) * 8;
    let mut reader = BufReader::with_capacity(1 + usize::from(*pattern % 64), Pieces::new(body, *pattern));
    let mut line = Vec::new();
    let mut read = 0;
    loop {
        line.clear();
        match read_line_limited(&mut reader, &mut line, limit) {
            Ok(0) => {
                assert_eq!(read, body.len(), "a line was lost before the end");
                return;
            }
            Ok(n) => {
                assert_eq!(n, line.len());
                assert!(n <= limit, "a line of {n} bytes passed the limit {limit}");
                assert_eq!(&body[read..read + n], &line[..], "the line is not what was sent");
                read += n;
                assert!(line.ends_with(b"\n") || read == body.len(), "a line ended without a newline");
                let text = stdio::trim_line(&line);
                if !text.is_empty()
                    && let Ok(messages) = parse_messages(text)
                {
                    messages.into_iter().for_each(exercise_incoming);
                }
            }
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
                return;
            }
        }
    }
}

/// A Streamable HTTP response body or listening stream (`text/event-stream`):
/// events, `id`, `retry`, each message event parsed as the HTTP transport does.
/// Byte 0 sets the event size limit, byte 1 how the stream is split.
pub fn sse(data: &[u8]) {
    let [limit, pattern, body @ ..] = data else { return };
    let limit = 1 + usize::from(*limit) * 4;
    let reader = BufReader::with_capacity(1 + usize::from(*pattern % 64), Pieces::new(body, *pattern));
    let mut stream = SseReader::new(reader, limit);
    for _ in 0..=body.len() {
        match stream.next_event() {
            Ok(Some(event)) => {
                assert!(event.data.len() <= limit, "an event of {} bytes passed the limit", event.data.len());
                assert!(stream.last_event_id.as_deref().is_none_or(|id| !id.contains('\0')));
                if event.data.trim().is_empty() || !(event.event.is_empty() || event.event == "message") {
                    continue;
                }
                if let Ok(message) = parse_message(event.data.as_bytes()) {
                    exercise_incoming(message);
                }
            }
            Ok(None) | Err(_) => {
                let _ = stream.retry_ms.map(std::time::Duration::from_millis);
                return;
            }
        }
    }
    panic!("the SSE reader gave more events than the stream has bytes");
}

/// Records what a legacy stream hands over and answers server requests.
struct Recorder;

impl Inbound for Recorder {
    fn on_message(&self, message: Incoming) -> Option<Vec<u8>> {
        let request = matches!(message, Incoming::Request { .. });
        exercise_incoming(message);
        request.then(|| b"{}".to_vec())
    }

    fn on_closed(&self, _error: Error) {}

    fn on_stray(&self, _line: &str) {}
}

/// Stream URLs a legacy server's `endpoint` event is resolved against.
const STREAM_URLS: &[&str] = &[
    "http://127.0.0.1:8080/sse",
    "https://example.com/a/b/sse?x=1",
    "http://[::1]:9/sse/",
    "http://user@Host.example/sse#f",
    "HTTPS://h:443",
];

/// A legacy HTTP+SSE stream: the `endpoint` event (resolved and checked
/// against the stream's origin), then message events as its reader thread
/// handles them. Byte 0 picks the stream URL and the limit, byte 1 the split.
pub fn legacy_sse(data: &[u8]) {
    let [choice, pattern, body @ ..] = data else { return };
    let base = STREAM_URLS[usize::from(*choice) % STREAM_URLS.len()];
    let limit = 16 + usize::from(*choice) * 8;
    let reader = BufReader::with_capacity(1 + usize::from(*pattern % 64), Pieces::new(body, *pattern));
    let mut stream = SseReader::new(reader, limit);
    // The opening: events up to the endpoint event.
    loop {
        match stream.next_event() {
            Ok(Some(event)) if event.event == "endpoint" => {
                if let Ok(url) = legacy::resolve_endpoint(base, &event.data) {
                    // What was resolved resolves to itself: nothing is left to reinterpret.
                    assert_eq!(
                        legacy::resolve_endpoint(base, &url).as_deref(),
                        Ok(url.as_str()),
                        "endpoint {:?} resolved to {url:?}",
                        event.data
                    );
                }
                break;
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return,
        }
    }
    let recorder = Recorder;
    let mut handler = legacy::EventHandler::new("fuzz", &recorder);
    let mut replies = 0usize;
    let _ = legacy::pump(&mut handler, || stream.next_event(), &mut |_| replies += 1, limit);
}

/// A `WWW-Authenticate` header of a refusal.
pub fn www_authenticate(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let challenge = auth::Challenge::parse(Some(&text));
    let _ = (challenge.insufficient_scope(), challenge.scopes());
    if !challenge.bearer {
        assert_eq!(challenge, auth::Challenge::default(), "parameters outside a Bearer challenge");
    }
}

/// Server URLs a protected resource's `resource` is compared with.
const SERVER_URLS: &[&str] =
    &["https://mcp.example.com/mcp", "http://127.0.0.1:3000/a/b?x=1", "https://[::1]:8443/", "http://h"];

/// The documents of OAuth discovery and the token endpoint's answer:
/// Protected Resource Metadata, authorization server metadata, a token
/// response (byte 0 picks one); input that is not a JSON object goes to the
/// URL helpers discovery uses (two URLs, one per line).
pub fn oauth_metadata(data: &[u8]) {
    let [choice, body @ ..] = data else { return };
    let doc = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map,
        _ => {
            let text = String::from_utf8_lossy(body);
            let (a, b) = text.split_once('\n').unwrap_or((&text, SERVER_URLS[0]));
            urls(a, b);
            return;
        }
    };
    let server = SERVER_URLS[usize::from(*choice >> 2) % SERVER_URLS.len()];
    match choice % 3 {
        0 => {
            let location = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";
            if let Ok(protected) = auth::ProtectedResource::parse(location, &doc) {
                urls(&protected.resource, server);
                for issuer in protected.authorization_servers.iter().take(4) {
                    urls(issuer, &protected.resource);
                }
            }
        }
        1 => {
            if let Ok(meta) = auth::ServerMetadata::parse(&doc) {
                let _ = (meta.supports_s256(), meta.takes_auth_method("client_secret_basic"));
                urls(&meta.issuer, &meta.token_endpoint);
                for url in [&meta.authorization_endpoint, &meta.registration_endpoint].into_iter().flatten() {
                    assert!(auth::is_secure_endpoint(url), "an insecure endpoint {url} passed");
                }
            }
        }
        _ => {
            if let Ok(tokens) = auth::parse_token_response(&doc, Some("read write")) {
                let _ = (tokens.scopes(), tokens.expired(std::time::Duration::from_secs(30)));
            }
        }
    }
}

fn urls(a: &str, b: &str) {
    let _ = (auth::resource_matches(a, b), auth::resource_matches(b, a));
    let _ = (auth::protected_resource_candidates(a), auth::server_metadata_candidates(a));
    let _ = (auth::is_secure_endpoint(a), auth::origin(a));
    let _ = auth::with_query(a, &[("client_id", b), ("state", "x y")]);
}

/// An `mcp.json` file: `mcpServers` (every entry checked) and `performance`.
pub fn mcp_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(file) = ServersFile::parse(text) else { return };
    for (name, service) in &file.services {
        let _ = service.validate(name);
    }
    let _ = file.performance.to_flat_json();
}

/// A `performance` section (JSON), or `MCPSTORE_*` variables (`KEY=VALUE`
/// lines) when the input does not start with `{`. What was accepted reads
/// back from its own flat form to the same settings.
pub fn performance(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut config = PerformanceConfig::default();
    let accepted = if text.trim_start().starts_with('{') {
        json::<Value>(text).is_some_and(|section| config.apply_json(&section).is_ok())
    } else {
        let vars = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (format!("MCPSTORE_{}", k.trim_start_matches("MCPSTORE_")), v.to_owned()));
        config.apply_vars(vars).is_ok()
    };
    if accepted {
        let flat = config.to_flat_json();
        let mut again = PerformanceConfig::default();
        if let Err(e) = again.apply_json(&flat) {
            panic!("settings that validated do not read back from {flat}: {e}");
        }
        assert_eq!(again.to_flat_json(), flat, "settings changed through their flat form");
    }
}

// The C ABI, called through its exported symbols as a C program does.
// (Not part of the header: these are the library's own functions, seen from outside.)
#[allow(unused_doc_comments)] // read by cbindgen, not rustdoc
/// cbindgen:ignore
unsafe extern "C" {
    fn mcps_store_new(config_json: *const c_char, out: *mut *mut c_void, err: *mut *mut c_void) -> i32;
    fn mcps_store_add_service(
        s: *const c_void,
        name: *const c_char,
        service_json: *const c_char,
        err: *mut *mut c_void,
    ) -> i32;
    fn mcps_store_load_json(s: *const c_void, config_json: *const c_char, err: *mut *mut c_void) -> i32;
    fn mcps_store_free(s: *mut c_void);
    fn mcps_store_call_tool(
        s: *const c_void,
        tool: *const c_char,
        args_json: *const c_char,
        out: *mut *mut c_void,
        err: *mut *mut c_void,
    ) -> i32;
    fn mcps_store_call_tool_with(
        s: *const c_void,
        tool: *const c_char,
        args_json: *const c_char,
        options_json: *const c_char,
        cancel: *const c_void,
        out: *mut *mut c_void,
        err: *mut *mut c_void,
    ) -> i32;
    fn mcps_store_batch_call(
        s: *const c_void,
        calls_json: *const c_char,
        out_json: *mut *mut c_char,
        err: *mut *mut c_void,
    ) -> i32;
    fn mcps_store_get_prompt(
        s: *const c_void,
        name: *const c_char,
        args_json: *const c_char,
        out_json: *mut *mut c_char,
        err: *mut *mut c_void,
    ) -> i32;
    fn mcps_store_complete(
        s: *const c_void,
        service: *const c_char,
        ref_json: *const c_char,
        argument: *const c_char,
        value: *const c_char,
        context_json: *const c_char,
        out_json: *mut *mut c_char,
        err: *mut *mut c_void,
    ) -> i32;
    fn mcps_store_read_resource(
        s: *const c_void,
        uri: *const c_char,
        out_json: *mut *mut c_char,
        err: *mut *mut c_void,
    ) -> i32;
    fn mcps_store_set_roots(
        s: *const c_void,
        service: *const c_char,
        roots_json: *const c_char,
        err: *mut *mut c_void,
    ) -> i32;
    fn mcps_store_set_log_level(
        s: *const c_void,
        service: *const c_char,
        level: *const c_char,
        err: *mut *mut c_void,
    ) -> i32;
    fn mcps_store_apply_performance(
        s: *const c_void,
        performance_json: *const c_char,
        out_report_json: *mut *mut c_char,
        err: *mut *mut c_void,
    ) -> i32;
    fn mcps_store_list_tools(
        s: *const c_void,
        service: *const c_char,
        out_json: *mut *mut c_char,
        err: *mut *mut c_void,
    ) -> i32;
    fn mcps_store_remove_service(s: *const c_void, name: *const c_char, err: *mut *mut c_void) -> i32;
    fn mcps_error_code(e: *const c_void) -> i32;
    fn mcps_error_message(e: *const c_void) -> *const c_char;
    fn mcps_error_free(e: *mut c_void);
    fn mcps_result_json(r: *const c_void) -> *const c_char;
    fn mcps_result_free(r: *mut c_void);
    fn mcps_string_free(s: *mut c_char);
}

/// A store the C target calls (made once per process, with no service: no
/// input ever starts a server process or a connection).
struct SharedStore(*mut c_void);

// SAFETY: the C ABI's store is thread-safe (`mcps_store` is `Send + Sync`).
unsafe impl Send for SharedStore {}
// SAFETY: as above.
unsafe impl Sync for SharedStore {}

/// Store 0 keeps the default settings (so that the checks below that keep
/// services out see what it sees); store 1 takes `mcps_store_apply_performance`.
fn shared_store(which: usize) -> *const c_void {
    static STORES: [std::sync::OnceLock<SharedStore>; 2] =
        [std::sync::OnceLock::new(), std::sync::OnceLock::new()];
    STORES[which]
        .get_or_init(|| {
            let mut store = std::ptr::null_mut();
            // SAFETY: NULL config is allowed; `store` is writable; no error wanted.
            let status = unsafe { mcps_store_new(std::ptr::null(), &mut store, std::ptr::null_mut()) };
            assert!(status == 0 && !store.is_null(), "mcps_store_new(NULL) failed: {status}");
            SharedStore(store)
        })
        .0
}

/// Checks and frees what one C call gave back: an error iff the status is not `MCPS_OK`.
///
/// # Safety
/// `err`, `string` and `result` are NULL or what the call wrote.
unsafe fn settle(status: i32, err: *mut c_void, string: *mut c_char, result: *mut c_void) {
    if status == 0 {
        assert!(err.is_null(), "an error object on success");
    } else {
        assert!(string.is_null() && result.is_null(), "an output written on failure (status {status})");
        if !err.is_null() {
            // SAFETY: `err` is a live error written by the call.
            unsafe {
                assert_eq!(mcps_error_code(err), status, "the error's code is not the status");
                assert!(!mcps_error_message(err).is_null());
            }
        }
    }
    // SAFETY: each is NULL or owned by us now, and freed once.
    unsafe {
        if !result.is_null() {
            assert!(!mcps_result_json(result).is_null());
        }
        mcps_error_free(err);
        mcps_string_free(string);
        mcps_result_free(result);
    }
}

/// The C ABI's string and JSON inputs: byte 0 picks a function, the rest
/// holds its string arguments separated by NUL bytes (a missing argument is
/// NULL; invalid UTF-8 and malformed JSON included). Inputs that would add a
/// service are passed only when they are refused anyway.
pub fn ffi(data: &[u8]) {
    let [choice, rest @ ..] = data else { return };
    let fields: Vec<CString> =
        rest.split(|b| *b == 0).take(6).map(|f| CString::new(f).expect("no NUL inside a field")).collect();
    let arg = |i: usize| fields.get(i).map_or(std::ptr::null(), |f| f.as_ptr());
    let text = |i: usize| fields.get(i).and_then(|f| f.to_str().ok());
    let s = shared_store(0);
    let mut err: *mut c_void = std::ptr::null_mut();
    let mut string: *mut c_char = std::ptr::null_mut();
    let mut result: *mut c_void = std::ptr::null_mut();
    // SAFETY: every pointer is NULL or a live NUL-terminated string or out-parameter.
    let status = unsafe {
        match choice % 16 {
            0 => mcps_store_call_tool(s, arg(0), arg(1), &mut result, &mut err),
            1 => {
                mcps_store_call_tool_with(s, arg(0), arg(1), arg(2), std::ptr::null(), &mut result, &mut err)
            }
            2 => mcps_store_batch_call(s, arg(0), &mut string, &mut err),
            3 => mcps_store_get_prompt(s, arg(0), arg(1), &mut string, &mut err),
            4 => mcps_store_complete(s, arg(0), arg(1), arg(2), arg(3), arg(4), &mut string, &mut err),
            5 => mcps_store_read_resource(s, arg(0), &mut string, &mut err),
            6 => mcps_store_set_roots(s, arg(0), arg(1), &mut err),
            7 => mcps_store_set_log_level(s, arg(0), arg(1), &mut err),
            8 => mcps_store_apply_performance(shared_store(1), arg(0), &mut string, &mut err),
            9 => mcps_store_list_tools(s, arg(0), &mut string, &mut err),
            10 => mcps_store_remove_service(s, arg(0), &mut err),
            11 => {
                // Only entries that are refused: a fuzzer must not start processes.
                let accepted = match (text(0), text(1).and_then(json::<Value>)) {
                    (Some(name), Some(entry)) => {
                        ServiceConfig::from_json(name, &entry, &Default::default()).is_ok()
                    }
                    _ => false,
                };
                if accepted {
                    return;
                }
                mcps_store_add_service(s, arg(0), arg(1), &mut err)
            }
            12 | 13 => {
                // Only files that add no service (see above).
                if text(0).is_some_and(|t| ServersFile::parse(t).is_ok_and(|f| !f.services.is_empty())) {
                    return;
                }
                if choice % 16 == 12 {
                    mcps_store_load_json(s, arg(0), &mut err)
                } else {
                    let mut store = std::ptr::null_mut();
                    let status = mcps_store_new(arg(0), &mut store, &mut err);
                    assert_eq!(status == 0, !store.is_null(), "a store written on failure");
                    mcps_store_free(store);
                    status
                }
            }
            // The same functions without the store, and with every output missing.
            14 => mcps_store_call_tool(std::ptr::null(), arg(0), arg(1), &mut result, &mut err),
            _ => mcps_store_batch_call(s, arg(0), std::ptr::null_mut(), &mut err),
        }
    };
    // SAFETY: what the call wrote, if anything.
    unsafe { settle(status, err, string, result) };
}

#[cfg(test)]
mod tests {
    /// Every target takes every seed of its corpus (`cargo test --features fuzzing --lib fuzzing`).
    #[test]
    fn every_target_takes_its_seeds() {
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        for (name, target) in super::TARGETS {
            let dir = corpus.join(name);
            let seeds: Vec<_> =
                std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).collect();
            assert!(!seeds.is_empty(), "no seeds for {name}");
            for seed in seeds {
                let path = seed.unwrap().path();
                target(&std::fs::read(&path).unwrap());
            }
        }
    }
}
