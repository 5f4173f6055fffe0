//! Tool definitions, argument helpers and the pure tool handlers
//! (arguments JSON in, `CallToolResult` JSON out).

use std::path::Path;
use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use super::feature_tools;
use super::files;
use super::process_tools;
use super::rpc::RpcError;

/// Largest text `big` produces.
pub const MAX_BIG_BYTES: u64 = 256 * 1024 * 1024;
/// Longest `sleep` accepted (one hour).
pub const MAX_SLEEP_MS: u64 = 3_600_000;

/// Log levels in increasing severity (RFC 5424 names, as MCP uses them).
pub const LOG_LEVELS: [&str; 8] =
    ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];

/// A 1x1 PNG image.
pub const PNG_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";
/// A tiny 8-sample, 8 kHz mono WAV file.
const WAV_BASE64: &str = "UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQgAAACAoMCggGBAYA==";

pub fn tool(name: &str, description: &str, properties: Value, required: &[&str]) -> Value {
    json!({
        "name": name,
        "description": description,
        "inputSchema": {
            "type": "object",
            "properties": properties,
            "required": required,
        },
    })
}

fn with(mut tool: Value, key: &str, value: Value) -> Value {
    if let Some(obj) = tool.as_object_mut() {
        obj.insert(key.to_string(), value);
    }
    tool
}

fn read_only() -> Value {
    json!({"readOnlyHint": true})
}

/// A tool definition annotated `readOnlyHint: true`.
pub fn read_only_tool(name: &str, description: &str, properties: Value, required: &[&str]) -> Value {
    with(tool(name, description, properties, required), "annotations", read_only())
}

/// The built-in tool definitions, in `tools/list` order.
pub fn builtin() -> &'static [Value] {
    static DEFS: OnceLock<Vec<Value>> = OnceLock::new();
    DEFS.get_or_init(|| {
        let path = json!({"path": {"type": "string", "description": "Path relative to the server root"}});
        let mut defs = vec![
            tool(
                "echo",
                "Returns the message unchanged.",
                json!({"message": {"type": "string"}}),
                &["message"],
            ),
            with(
                with(
                    with(
                        tool(
                            "add",
                            "Adds two numbers.",
                            json!({"a": {"type": "number"}, "b": {"type": "number"}}),
                            &["a", "b"],
                        ),
                        "title",
                        json!("Add two numbers"),
                    ),
                    "annotations",
                    json!({"readOnlyHint": true, "idempotentHint": true}),
                ),
                "outputSchema",
                json!({"type": "object", "properties": {"sum": {"type": "number"}}, "required": ["sum"]}),
            ),
            with(
                tool(
                    "read_file",
                    "Reads a UTF-8 text file under the server root.",
                    path.clone(),
                    &["path"],
                ),
                "annotations",
                read_only(),
            ),
            with(
                tool(
                    "list_directory",
                    "Lists a directory under the server root: '[DIR] name' / '[FILE] name' lines, sorted.",
                    path,
                    &["path"],
                ),
                "annotations",
                read_only(),
            ),
            tool(
                "sleep",
                "Sleeps for ms milliseconds (cancellable; progress with _meta.progressToken).",
                json!({"ms": {"type": "integer", "minimum": 0, "maximum": MAX_SLEEP_MS}}),
                &["ms"],
            ),
            tool(
                "fail",
                "Returns a tool error (isError: true) with the message.",
                json!({"message": {"type": "string"}}),
                &[],
            ),
            tool(
                "counter",
                "Increments a server-wide counter and returns its new value.",
                json!({}),
                &[],
            ),
            // Not annotated read-only: clients that cache read-only tools must not cache live counters.
            tool(
                "stats",
                "Server statistics: calls, in_flight, peak_in_flight, cancelled, cancelled_ids, sessions, deleted_sessions, pings, discovers, listen_streams_opened.",
                json!({}),
                &[],
            ),
            tool(
                "reset_stats",
                "Resets calls, peak_in_flight, cancelled, cancelled_ids, pings and discovers.",
                json!({}),
                &[],
            ),
            with(
                tool(
                    "mixed_content",
                    "Returns every content kind plus structuredContent and _meta.",
                    json!({}),
                    &[],
                ),
                "annotations",
                read_only(),
            ),
            with(
                tool(
                    "big",
                    "Returns one text item of `bytes` 'x' characters.",
                    json!({"bytes": {"type": "integer", "minimum": 0, "maximum": MAX_BIG_BYTES}}),
                    &["bytes"],
                ),
                "annotations",
                read_only(),
            ),
            tool(
                "ping_client",
                "Sends a ping request to the client and waits up to 5 s for its answer (protocol 2025-11-25 only: a tool error in 2026-07-28).",
                json!({}),
                &[],
            ),
            tool(
                "log",
                "Sends notifications/message with the level and message (at or above the client's level: logging/setLevel, or in 2026-07-28 the request's _meta logLevel).",
                json!({
                    "level": {"type": "string", "enum": LOG_LEVELS},
                    "message": {"type": "string"},
                }),
                &["level", "message"],
            ),
            tool(
                "add_tool",
                "Registers an extra echo-like tool and sends notifications/tools/list_changed.",
                json!({"name": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"}}),
                &["name"],
            ),
            tool(
                "notify_list_changed",
                "Sends notifications/tools/list_changed.",
                json!({}),
                &[],
            ),
        ];
        defs.extend(process_tools::definitions());
        defs.extend(feature_tools::definitions());
        defs
    })
}

/// Whether `name` is a built-in tool.
pub fn is_builtin(name: &str) -> bool {
    builtin().iter().any(|t| t.get("name").and_then(Value::as_str) == Some(name))
}

/// The definition of an extra tool registered with `add_tool`.
pub fn extra_tool(name: &str) -> Value {
    tool(
        name,
        "Extra tool added with add_tool: echoes the message.",
        json!({"message": {"type": "string"}}),
        &["message"],
    )
}

/// Whether `name` is acceptable for `add_tool`.
pub fn valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Cuts `all` into a page. The cursor is an opaque string (here the offset
/// of the page's first item); `page_size == 0` means one page.
pub fn paginate(
    all: Vec<Value>,
    cursor: Option<&str>,
    page_size: usize,
) -> Result<(Vec<Value>, Option<String>), RpcError> {
    let start = match cursor {
        None => 0,
        Some(c) => c
            .strip_prefix("offset-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= all.len())
            .ok_or_else(|| RpcError::invalid_params(format!("Invalid cursor: {c:?}")))?,
    };
    if page_size == 0 {
        return Ok((all.into_iter().skip(start).collect(), None));
    }
    let end = start.saturating_add(page_size).min(all.len());
    let next = (end < all.len()).then(|| format!("offset-{end}"));
    Ok((all.into_iter().skip(start).take(end - start).collect(), next))
}

/// A successful result with one text item.
pub fn text_result(text: impl Into<String>) -> Value {
    json!({"content": [{"type": "text", "text": text.into()}]})
}

/// A tool execution error (isError: true) with one text item.
pub fn error_result(text: impl Into<String>) -> Value {
    json!({"content": [{"type": "text", "text": text.into()}], "isError": true})
}

/// A required string argument.
pub fn arg_str<'a>(args: &'a Map<String, Value>, name: &str) -> Result<&'a str, RpcError> {
    match args.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(RpcError::invalid_params(format!("Invalid argument {name:?}: expected a string"))),
        None => Err(RpcError::invalid_params(format!("Missing required argument {name:?}"))),
    }
}

/// A required non-negative integer argument, at most `max`.
pub fn arg_u64(args: &Map<String, Value>, name: &str, max: u64) -> Result<u64, RpcError> {
    let v = args
        .get(name)
        .ok_or_else(|| RpcError::invalid_params(format!("Missing required argument {name:?}")))?;
    let n = v.as_u64().or_else(|| {
        // Accept integral floats such as 10.0.
        v.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64).map(|f| f as u64)
    });
    match n {
        Some(n) if n <= max => Ok(n),
        Some(_) => Err(RpcError::invalid_params(format!("Invalid argument {name:?}: must be at most {max}"))),
        None => Err(RpcError::invalid_params(format!(
            "Invalid argument {name:?}: expected a non-negative integer"
        ))),
    }
}

fn arg_number<'a>(args: &'a Map<String, Value>, name: &str) -> Result<&'a Value, RpcError> {
    match args.get(name) {
        Some(v @ Value::Number(_)) => Ok(v),
        Some(_) => Err(RpcError::invalid_params(format!("Invalid argument {name:?}: expected a number"))),
        None => Err(RpcError::invalid_params(format!("Missing required argument {name:?}"))),
    }
}

/// `echo {message}`.
pub fn echo(args: &Map<String, Value>) -> Result<Value, RpcError> {
    Ok(text_result(arg_str(args, "message")?))
}

/// `add {a, b}`: integer arithmetic when both are integers.
pub fn add(args: &Map<String, Value>) -> Result<Value, RpcError> {
    let a = arg_number(args, "a")?;
    let b = arg_number(args, "b")?;
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64())
        && let Some(sum) = x.checked_add(y)
    {
        return Ok(sum_result(Value::from(sum), sum.to_string()));
    }
    let sum = a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0);
    if !sum.is_finite() {
        return Ok(error_result("the sum is not a finite number"));
    }
    Ok(sum_result(Value::from(sum), sum.to_string()))
}

fn sum_result(sum: Value, text: String) -> Value {
    json!({"content": [{"type": "text", "text": text}], "structuredContent": {"sum": sum}})
}

/// `fail {message?}`.
pub fn fail(args: &Map<String, Value>) -> Result<Value, RpcError> {
    match args.get("message") {
        None => Ok(error_result("failed as requested")),
        Some(_) => Ok(error_result(arg_str(args, "message")?)),
    }
}

/// `big {bytes}`.
pub fn big(args: &Map<String, Value>) -> Result<Value, RpcError> {
    let n = arg_u64(args, "bytes", MAX_BIG_BYTES)?;
    // n <= MAX_BIG_BYTES, so it fits in usize on every supported target.
    let n = usize::try_from(n).map_err(|_| RpcError::invalid_params("\"bytes\" is too large"))?;
    Ok(text_result("x".repeat(n)))
}

/// `mixed_content {}`: one item of every content kind.
pub fn mixed_content() -> Value {
    json!({
        "content": [
            {"type": "text", "text": "plain text"},
            {"type": "image", "data": PNG_BASE64, "mimeType": "image/png",
             "annotations": {"audience": ["user"], "priority": 0.5}},
            {"type": "audio", "data": WAV_BASE64, "mimeType": "audio/wav"},
            {"type": "resource_link", "uri": "file:///demo/readme.txt", "name": "readme.txt",
             "title": "Demo readme", "description": "A linked resource", "mimeType": "text/plain"},
            {"type": "resource", "resource": {"uri": "demo://embedded/hello",
             "mimeType": "text/plain", "text": "hello from an embedded resource"}},
        ],
        "structuredContent": {"kinds": ["text", "image", "audio", "resource_link", "resource"], "count": 5},
        "_meta": {"demo": true},
    })
}

/// `read_file {path}` confined to `root` (canonical).
pub fn read_file(root: &Path, args: &Map<String, Value>) -> Result<Value, RpcError> {
    let path = arg_str(args, "path")?;
    Ok(match files::read_file(root, path) {
        Ok(text) => text_result(text),
        Err(e) => error_result(e),
    })
}

/// `list_directory {path}` confined to `root` (canonical).
pub fn list_directory(root: &Path, args: &Map<String, Value>) -> Result<Value, RpcError> {
    let path = arg_str(args, "path")?;
    Ok(match files::list_directory(root, path) {
        Ok(text) => text_result(text),
        Err(e) => error_result(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn echo_and_errors() {
        assert_eq!(
            echo(&obj(json!({"message": "hi"}))).unwrap(),
            json!({"content": [{"type": "text", "text": "hi"}]})
        );
        let e = echo(&obj(json!({}))).unwrap_err();
        assert_eq!(e.code, -32602);
        assert!(e.message.contains("message"));
        assert!(echo(&obj(json!({"message": 1}))).unwrap_err().message.contains("message"));
    }

    #[test]
    fn add_integers_and_floats() {
        let r = add(&obj(json!({"a": 2, "b": 3}))).unwrap();
        assert_eq!(r["content"][0]["text"], "5");
        assert_eq!(r["structuredContent"]["sum"], 5);
        let r = add(&obj(json!({"a": 1.5, "b": 1}))).unwrap();
        assert_eq!(r["content"][0]["text"], "2.5");
        let r = add(&obj(json!({"a": -4, "b": 1}))).unwrap();
        assert_eq!(r["content"][0]["text"], "-3");
        let r = add(&obj(json!({"a": i64::MAX, "b": 1}))).unwrap();
        assert!(r.get("isError").is_none());
        let e = add(&obj(json!({"a": "2", "b": 3}))).unwrap_err();
        assert!(e.message.contains("\"a\""));
        let e = add(&obj(json!({"a": 2}))).unwrap_err();
        assert!(e.message.contains("\"b\""));
    }

    #[test]
    fn fail_big_mixed() {
        let r = fail(&obj(json!({"message": "boom"}))).unwrap();
        assert_eq!(r["isError"], true);
        assert_eq!(r["content"][0]["text"], "boom");
        let r = big(&obj(json!({"bytes": 10}))).unwrap();
        assert_eq!(r["content"][0]["text"], "xxxxxxxxxx");
        assert!(big(&obj(json!({"bytes": -1}))).is_err());
        assert!(big(&obj(json!({"bytes": MAX_BIG_BYTES + 1}))).is_err());
        let m = mixed_content();
        let kinds: Vec<&str> =
            m["content"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["text", "image", "audio", "resource_link", "resource"]);
        assert_eq!(m["_meta"]["demo"], true);
    }

    #[test]
    fn arg_u64_accepts_integral_floats() {
        assert_eq!(arg_u64(&obj(json!({"ms": 10.0})), "ms", 100).unwrap(), 10);
        assert!(arg_u64(&obj(json!({"ms": 1.5})), "ms", 100).is_err());
        assert!(arg_u64(&obj(json!({"ms": 101})), "ms", 100).is_err());
    }

    #[test]
    fn definitions_are_well_formed() {
        let defs = builtin();
        assert_eq!(defs.len(), 25);
        for d in defs {
            assert!(d["name"].is_string());
            assert_eq!(d["inputSchema"]["type"], "object");
        }
        assert!(is_builtin("echo"));
        assert!(!is_builtin("nope"));
        assert!(valid_tool_name("my_tool-2.x"));
        assert!(!valid_tool_name("bad name"));
        assert!(!valid_tool_name(""));
    }

    #[test]
    fn pagination() {
        let all: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        let (p, next) = paginate(all.clone(), None, 0).unwrap();
        assert_eq!(p.len(), 5);
        assert!(next.is_none());
        let (p, next) = paginate(all.clone(), None, 2).unwrap();
        assert_eq!(p, vec![json!(0), json!(1)]);
        let (p, next) = paginate(all.clone(), next.as_deref(), 2).unwrap();
        assert_eq!(p, vec![json!(2), json!(3)]);
        let (p, next) = paginate(all.clone(), next.as_deref(), 2).unwrap();
        assert_eq!(p, vec![json!(4)]);
        assert!(next.is_none());
        let (p, next) = paginate(all.clone(), None, 5).unwrap();
        assert_eq!(p.len(), 5);
        assert!(next.is_none());
        assert!(paginate(all.clone(), Some("garbage"), 2).is_err());
        assert!(paginate(all, Some("offset-9"), 2).is_err());
    }
}
