//! The `mcpServers` file format (Claude Desktop, Cursor, MCPStore), with this
//! library's additions: per-service `pool`, `cache`, retry settings, and a
//! `performance` section.

use std::path::Path;

use serde_json::{Map, Value};

use super::performance::set_pool_key;
use super::service::validate_name;
use super::values::seconds;
use super::{
    CachePolicy, CredentialsConfig, HttpConfig, HttpTransportKind, InheritEnv, PerformanceConfig, PoolConfig,
    ProtocolChoice, ServiceConfig, StdioConfig, TransportConfig,
};
use crate::error::{Error, Result};
use crate::protocol::Root;

impl ServiceConfig {
    /// Parses one `mcpServers` entry; `base_pool` is what its `pool` and `timeout` override.
    pub fn from_json(name: &str, entry: &Value, base_pool: &PoolConfig) -> Result<Self> {
        parse_entry(name, entry, base_pool)
    }
}

/// A parsed `mcp.json`: services in file order and the performance settings.
#[derive(Debug, Clone)]
pub struct ServersFile {
    /// The services, in the order of the file.
    pub services: Vec<(String, ServiceConfig)>,
    /// The `performance` section on top of the defaults (before the environment).
    pub performance: PerformanceConfig,
    /// Whether the file had a `performance` section.
    pub has_performance: bool,
    /// Where OAuth credentials are kept (`"credentials"`); `None`: the default file.
    pub credentials: Option<CredentialsConfig>,
}

impl ServersFile {
    /// Parses the text of an `mcp.json` file on top of the default settings
    /// (without the environment): checks every entry without starting anything.
    pub fn parse(text: &str) -> Result<ServersFile> {
        parse_str(text, &PerformanceConfig::default())
    }

    /// Reads and parses an `mcp.json` file, like [`ServersFile::parse`].
    pub fn load(path: impl AsRef<Path>) -> Result<ServersFile> {
        load_file(path.as_ref(), &PerformanceConfig::default())
    }
}

/// Reads and parses an `mcp.json` file.
pub(crate) fn load_file(path: &Path, base: &PerformanceConfig) -> Result<ServersFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::config(None, None, format!("cannot read {}: {e}", path.display())))?;
    parse_str(&text, base)
}

/// Parses the text of an `mcp.json` file.
pub(crate) fn parse_str(text: &str, base: &PerformanceConfig) -> Result<ServersFile> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| Error::config(None, None, format!("not valid JSON: {e}")))?;
    parse_value(&value, base)
}

/// Parses an `mcp.json` value: `{"mcpServers": {...}, "performance": {...}}`.
pub(crate) fn parse_value(value: &Value, base: &PerformanceConfig) -> Result<ServersFile> {
    let root =
        value.as_object().ok_or_else(|| Error::config(None, None, "the file must hold a JSON object"))?;
    for key in root.keys() {
        if !matches!(key.as_str(), "mcpServers" | "performance" | "servers" | "credentials" | "$schema") {
            return Err(Error::config(None, Some(key), "unknown top-level key"));
        }
    }
    let mut performance = base.clone();
    let has_performance = root.contains_key("performance");
    if let Some(p) = root.get("performance") {
        performance.apply_json(p)?;
    }
    let mut services = Vec::new();
    if let Some(servers) = root.get("mcpServers").or_else(|| root.get("servers")) {
        let servers = servers
            .as_object()
            .ok_or_else(|| Error::config(None, Some("mcpServers"), "must be a JSON object"))?;
        for (name, entry) in servers {
            if is_disabled(entry) {
                continue;
            }
            services.push((name.clone(), parse_entry(name, entry, &performance.pool)?));
        }
    }
    let credentials = root.get("credentials").map(CredentialsConfig::from_json).transpose()?;
    Ok(ServersFile { services, performance, has_performance, credentials })
}

fn is_disabled(entry: &Value) -> bool {
    entry.get("disabled").and_then(Value::as_bool).unwrap_or(false)
}

/// The keys an entry may have; others are logged and ignored (other clients'
/// files carry keys of their own, such as `autoApprove`).
const ENTRY_KEYS: &[&str] = &[
    "command",
    "args",
    "env",
    "cwd",
    "workingDir",
    "inheritEnv",
    "url",
    "headers",
    "auth",
    "transport",
    "type",
    "timeout",
    "pool",
    "cache",
    "trust_annotations",
    "idempotent_tools",
    "retry_non_idempotent",
    "disabled",
    "roots",
    "check_output_schema",
    "protocol",
];

/// The transport an entry declares (or implies by its keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    Stdio,
    Http(HttpTransportKind),
}

/// Which transport an entry declares, checked against the keys it has.
fn entry_kind(name: &str, obj: &Map<String, Value>) -> Result<EntryKind> {
    let err = |field: &str, msg: String| Error::config(Some(name), Some(field), msg);
    let declared_field = field_name(obj, "transport", "type");
    let declared = match obj.get(declared_field) {
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(err(declared_field, "must be a string".into())),
    };
    let has_command = obj.contains_key("command");
    let has_url = obj.contains_key("url");
    let kind = match declared {
        Some("stdio") => EntryKind::Stdio,
        Some("streamable-http" | "streamable_http" | "streamableHttp" | "http") => {
            EntryKind::Http(HttpTransportKind::StreamableHttp)
        }
        Some("sse") => EntryKind::Http(HttpTransportKind::Sse),
        Some(other) => {
            return Err(err(
                declared_field,
                format!("unknown transport '{other}' (expected stdio, streamable-http or sse)"),
            ));
        }
        None if has_command && has_url => {
            return Err(err(
                "command, url",
                "the entry has both 'command' (stdio) and 'url' (HTTP); keep one, or say which with 'transport'"
                    .into(),
            ));
        }
        None if has_command => EntryKind::Stdio,
        None if has_url => EntryKind::Http(HttpTransportKind::Auto),
        None => return Err(err("command", "an entry needs either 'command' (stdio) or 'url' (HTTP)".into())),
    };
    // A declared transport that contradicts the entry's keys is a mistake, not a choice.
    match (kind, has_command, has_url) {
        (EntryKind::Stdio, _, true) => Err(err(
            &format!("{declared_field}, url"),
            format!("'{declared_field}' says stdio, but the entry has an HTTP 'url'"),
        )),
        (EntryKind::Http(_), true, _) => Err(err(
            &format!("{declared_field}, command"),
            format!("'{declared_field}' says HTTP, but the entry has a stdio 'command'"),
        )),
        _ => Ok(kind),
    }
}

fn parse_entry(name: &str, entry: &Value, base_pool: &PoolConfig) -> Result<ServiceConfig> {
    validate_name(name)?;
    let err = |field: &str, msg: &str| Error::config(Some(name), Some(field), msg);
    let obj =
        entry.as_object().ok_or_else(|| Error::config(Some(name), None, "entry must be a JSON object"))?;
    for key in obj.keys().filter(|k| !ENTRY_KEYS.contains(&k.as_str())) {
        log::warn!(target: "mcpstore::config", "[{name}] ignoring unknown key '{key}'");
    }
    let kind = entry_kind(name, obj)?;
    if kind == EntryKind::Stdio && obj.contains_key("auth") {
        return Err(err(
            "auth",
            "OAuth is for HTTP services; a stdio server gets its credentials from its env",
        ));
    }
    let transport = match kind {
        EntryKind::Stdio => TransportConfig::Stdio(parse_stdio(name, obj)?),
        EntryKind::Http(kind) => TransportConfig::Http(parse_http(name, obj, kind)?),
    };
    let mut config = ServiceConfig::new(transport);

    let mut pool = base_pool.clone();
    let mut custom_pool = false;
    if let Some(timeout) = obj.get("timeout") {
        set_pool_key(&mut pool, "read_timeout", timeout, "timeout")
            .map_err(|e| rename(e, name, "timeout"))?;
        custom_pool = true;
    }
    if let Some(p) = obj.get("pool") {
        let map = p.as_object().ok_or_else(|| err("pool", "must be a JSON object"))?;
        for (k, v) in map {
            let field = format!("pool.{k}");
            if !set_pool_key(&mut pool, k, v, &field).map_err(|e| rename(e, name, &field))? {
                return Err(err(&field, "unknown pool setting"));
            }
        }
        custom_pool = true;
    }
    if custom_pool {
        config.pool = Some(pool);
    }
    if let Some(cache) = obj.get("cache") {
        config.cache = parse_cache_policy(name, cache)?;
    }
    if let Some(v) = obj.get("trust_annotations") {
        config.retry.trust_annotations =
            v.as_bool().ok_or_else(|| err("trust_annotations", "must be a boolean"))?;
    }
    if let Some(v) = obj.get("idempotent_tools") {
        config.retry.idempotent_tools = string_list(Some(v), name, "idempotent_tools")?.into_iter().collect();
    }
    if let Some(v) = obj.get("retry_non_idempotent") {
        config.retry.retry_all =
            v.as_bool().ok_or_else(|| err("retry_non_idempotent", "must be a boolean"))?;
    }
    if let Some(v) = obj.get("protocol") {
        let text = v.as_str().ok_or_else(|| err("protocol", "must be a string"))?;
        config.protocol = ProtocolChoice::parse(text).map_err(|m| err("protocol", &m))?;
    }
    if let Some(v) = obj.get("check_output_schema") {
        config.check_output_schema =
            v.as_bool().ok_or_else(|| err("check_output_schema", "must be a boolean"))?;
    }
    if let Some(v) = obj.get("roots") {
        config.roots = Some(parse_roots(name, v)?);
    }
    config.validate(name)?;
    Ok(config)
}

/// `["/path", "file:///uri", {"uri": "file:///x", "name": "x"}]`: a path
/// becomes a `file://` root of its absolute form.
fn parse_roots(name: &str, v: &Value) -> Result<Vec<Root>> {
    let items = v.as_array().ok_or_else(|| Error::config(Some(name), Some("roots"), "must be a list"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let field = format!("roots[{i}]");
            match item {
                Value::String(s) if s.starts_with("file://") => Ok(Root { uri: s.clone(), name: None }),
                Value::String(path) => Ok(Root::directory(path)),
                Value::Object(_) => serde_json::from_value(item.clone()).map_err(|e| {
                    Error::config(Some(name), Some(&field), format!("must be {{\"uri\", \"name\"?}}: {e}"))
                }),
                _ => {
                    Err(Error::config(Some(name), Some(&field), "must be a path, a file:// URI or an object"))
                }
            }
        })
        .collect()
}

fn parse_stdio(name: &str, obj: &Map<String, Value>) -> Result<StdioConfig> {
    let err = |field: &str, msg: &str| Error::config(Some(name), Some(field), msg);
    let command = match obj.get("command") {
        Some(Value::String(c)) if !c.trim().is_empty() => c.clone(),
        Some(Value::String(_)) => return Err(err("command", "must not be empty")),
        Some(_) => return Err(err("command", "must be a string")),
        None => return Err(err("command", "is required for a stdio service")),
    };
    let mut stdio = StdioConfig::new(command, string_list(obj.get("args"), name, "args")?);
    if let Some(env) = obj.get("env") {
        stdio.env = string_map(env, name, "env")?.into_iter().collect();
    }
    stdio.inherit_env = match obj.get("inheritEnv") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => InheritEnv::Minimal,
        Some(Value::Bool(true)) => InheritEnv::All,
        Some(list @ Value::Array(_)) => InheritEnv::Names(string_list(Some(list), name, "inheritEnv")?),
        Some(_) => return Err(err("inheritEnv", "must be true, false or a list of variable names")),
    };
    let cwd_field = field_name(obj, "cwd", "workingDir");
    match obj.get(cwd_field) {
        None | Some(Value::Null) => {}
        Some(Value::String(dir)) => stdio.cwd = Some(dir.into()),
        Some(_) => return Err(err(cwd_field, "must be a string")),
    }
    Ok(stdio)
}

fn parse_http(name: &str, obj: &Map<String, Value>, transport: HttpTransportKind) -> Result<HttpConfig> {
    let err = |field: &str, msg: &str| Error::config(Some(name), Some(field), msg);
    let url = match obj.get("url") {
        Some(Value::String(u)) => u.clone(),
        Some(_) => return Err(err("url", "must be a string")),
        None => return Err(err("url", "is required for an HTTP service")),
    };
    let mut http = HttpConfig { transport, ..HttpConfig::new(url) };
    if let Some(headers) = obj.get("headers") {
        http.headers = string_map(headers, name, "headers")?.into_iter().collect();
    }
    if let Some(auth) = obj.get("auth") {
        http.auth = super::auth::parse_auth(name, auth)?;
    }
    Ok(http)
}

/// `{"tools": {"get_forecast": {"ttl": 60}}}` (or `{"tools": {"get_forecast": 60}}`).
fn parse_cache_policy(name: &str, v: &Value) -> Result<CachePolicy> {
    let err = |field: &str, msg: &str| Error::config(Some(name), Some(field), msg);
    let obj = v.as_object().ok_or_else(|| err("cache", "must be a JSON object"))?;
    if let Some(key) = obj.keys().find(|k| k.as_str() != "tools") {
        return Err(err(&format!("cache.{key}"), "unknown cache setting (expected 'tools')"));
    }
    let mut policy = CachePolicy::default();
    let Some(tools) = obj.get("tools") else { return Ok(policy) };
    let tools = tools.as_object().ok_or_else(|| err("cache.tools", "must be a JSON object"))?;
    for (tool, setting) in tools {
        let field = format!("cache.tools.{tool}");
        let ttl = match setting {
            Value::Object(o) => {
                if let Some(k) = o.keys().find(|k| k.as_str() != "ttl") {
                    return Err(err(&format!("{field}.{k}"), "unknown setting (expected 'ttl')"));
                }
                let ttl = o.get("ttl").ok_or_else(|| err(&format!("{field}.ttl"), "is required"))?;
                seconds(ttl, &format!("{field}.ttl")).map_err(|e| rename(e, name, &format!("{field}.ttl")))?
            }
            other => seconds(other, &field).map_err(|e| rename(e, name, &field))?,
        };
        if ttl.is_zero() {
            return Err(err(&format!("{field}.ttl"), "must be greater than 0"));
        }
        policy.tools.insert(tool.clone(), ttl);
    }
    Ok(policy)
}

fn field_name<'a>(obj: &Map<String, Value>, first: &'a str, alias: &'a str) -> &'a str {
    if obj.contains_key(first) { first } else { alias }
}

fn rename(e: Error, service: &str, field: &str) -> Error {
    match e {
        Error::Config { message, .. } => Error::config(Some(service), Some(field), message),
        other => other,
    }
}

fn string_list(v: Option<&Value>, service: &str, field: &str) -> Result<Vec<String>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str().map(str::to_owned).ok_or_else(|| {
                    Error::config(Some(service), Some(&format!("{field}[{i}]")), "must be a string")
                })
            })
            .collect(),
        Some(_) => Err(Error::config(Some(service), Some(field), "must be an array of strings")),
    }
}

fn string_map(v: &Value, service: &str, field: &str) -> Result<Vec<(String, String)>> {
    let obj =
        v.as_object().ok_or_else(|| Error::config(Some(service), Some(field), "must be a JSON object"))?;
    obj.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            Value::Number(n) => Ok((k.clone(), n.to_string())),
            Value::Bool(b) => Ok((k.clone(), b.to_string())),
            _ => Err(Error::config(Some(service), Some(&format!("{field}.{k}")), "must be a string")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn parse(v: Value) -> Result<ServersFile> {
        parse_value(&v, &PerformanceConfig::new())
    }

    #[test]
    fn parses_the_documented_example() {
        let f = parse(json!({"mcpServers": {
            "files": {"command": "npx", "args": ["-y", "pkg", "/tmp"], "env": {"A": "1"}, "cwd": "/tmp"},
            "web": {"url": "http://127.0.0.1:8000/mcp", "headers": {"Authorization": "Bearer x"}, "transport": "streamable-http"}
        }, "performance": {"pool": {"min_connections": 2, "max_connections": 10, "connection_timeout": 30, "read_timeout": 60}}}))
        .unwrap();
        assert_eq!(f.services.len(), 2);
        assert_eq!(f.services[0].0, "files");
        match &f.services[0].1.transport {
            TransportConfig::Stdio(StdioConfig { command, args, env, cwd, inherit_env }) => {
                assert_eq!(command, "npx");
                assert_eq!(args.len(), 3);
                assert_eq!(env.get("A").map(String::as_str), Some("1"));
                assert_eq!(cwd.as_deref(), Some(Path::new("/tmp")));
                assert_eq!(*inherit_env, InheritEnv::Minimal);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(f.services[1].1.transport.kind(), "streamable-http");
    }

    #[test]
    fn http_transport_kinds() {
        let f = parse(json!({"mcpServers": {
            "auto": {"url": "http://x/mcp"},
            "streamable": {"url": "http://x/mcp", "transport": "streamable-http"},
            "http": {"url": "http://x/mcp", "type": "http"},
            "legacy": {"url": "http://x/sse", "transport": "sse"},
            "legacy_type": {"url": "http://x/sse", "type": "sse"},
        }}))
        .unwrap();
        let mut kinds: Vec<(&str, HttpTransportKind, &str)> = f
            .services
            .iter()
            .map(|(name, s)| match &s.transport {
                TransportConfig::Http(h) => (name.as_str(), h.transport, s.transport.kind()),
                other => panic!("{other:?}"),
            })
            .collect();
        kinds.sort_unstable_by_key(|k| k.0);
        assert_eq!(
            kinds,
            [
                ("auto", HttpTransportKind::Auto, "streamable-http"),
                ("http", HttpTransportKind::StreamableHttp, "streamable-http"),
                ("legacy", HttpTransportKind::Sse, "sse"),
                ("legacy_type", HttpTransportKind::Sse, "sse"),
                ("streamable", HttpTransportKind::StreamableHttp, "streamable-http"),
            ]
        );
        let err = parse(json!({"mcpServers": {"s": {"command": "x", "transport": "sse"}}})).unwrap_err();
        assert!(err.to_string().contains("says HTTP"), "{err}");
    }

    #[test]
    fn aliases_and_per_service_pool() {
        let f = parse(json!({"mcpServers": {
            "a": {"type": "stdio", "command": "x", "workingDir": "/", "timeout": 5, "pool": {"max_connections": 3}},
        }}))
        .unwrap();
        let pool = f.services[0].1.pool.clone().unwrap();
        assert_eq!(pool.read_timeout, Duration::from_secs(5));
        assert_eq!(pool.max_connections, 3);
    }

    #[test]
    fn malformed_entries_name_service_and_field() {
        let cases = [
            (json!({"s": {"command": 3}}), "command"),
            (json!({"s": {"command": "x", "args": "a b"}}), "args"),
            (json!({"s": {"command": "x", "args": ["a", 1]}}), "args[1]"),
            (json!({"s": {"command": "x", "env": {"A": []}}}), "env.A"),
            (json!({"s": {"url": "ftp://x"}}), "url"),
            (json!({"s": {"url": "http://x", "transport": "carrier-pigeon"}}), "transport"),
            (json!({"s": {"url": "http://x", "type": "websocket"}}), "type"),
            (json!({"s": {}}), "command"),
            (json!({"s": {"command": "x", "pool": {"max_conections": 3}}}), "pool.max_conections"),
            (json!({"s": {"command": "x", "timeout": "soon"}}), "timeout"),
            (json!({"s": {"command": "x", "cwd": 1}}), "cwd"),
            (json!({"s": {"url": "http://x", "headers": {"A": {}}}}), "headers.A"),
            (json!({"s": {"url": "http://x", "headers": {"A b": "1"}}}), "headers.A b"),
            (json!({"s": {"url": "http://x", "headers": {"A": "1\n2"}}}), "headers.A"),
            (json!({"s": {"command": "x", "url": "http://x"}}), "command, url"),
            (json!({"s": {"transport": "stdio", "url": "http://x"}}), "transport, url"),
            (json!({"s": {"type": "http", "command": "x"}}), "type, command"),
            (
                json!({"s": {"command": "x", "pool": {"max_in_flight_per_connection": 0}}}),
                "pool.max_in_flight_per_connection",
            ),
            (json!({"s": {"command": "x", "cache": {"tools": {"t": {"ttl": "long"}}}}}), "cache.tools.t.ttl"),
            (json!({"s": {"command": "x", "cache": {"tools": {"t": {"tll": 5}}}}}), "cache.tools.t.tll"),
            (json!({"s": {"command": "x", "cache": {"tool": {}}}}), "cache.tool"),
            (json!({"s": {"command": "x", "trust_annotations": "no"}}), "trust_annotations"),
            (json!({"s": {"command": "x", "idempotent_tools": "a"}}), "idempotent_tools"),
            (json!({"s": {"command": "x", "inheritEnv": "yes"}}), "inheritEnv"),
            (json!({"s": {"command": "x", "auth": {"type": "oauth"}}}), "auth"),
            (json!({"s": {"url": "http://x", "auth": {"type": "oauth", "scopes": 3}}}), "auth.scopes"),
            (
                json!({"s": {"url": "http://x", "headers": {"Authorization": "Bearer t"}, "auth": {"type": "oauth", "scopes": ["a"]}}}),
                "auth",
            ),
        ];
        for (servers, field) in cases {
            let err = parse(json!({ "mcpServers": servers })).unwrap_err();
            match &err {
                Error::Config { service, field: f, .. } => {
                    assert_eq!(service.as_deref(), Some("s"), "{err}");
                    assert_eq!(f.as_deref(), Some(field), "{err}");
                }
                other => panic!("expected config error, got {other}"),
            }
        }
        assert!(parse(json!({"mcpServers": {"a b": {"command": "x"}}})).is_err());
        assert!(parse(json!({"mcpServer": {}})).is_err());
    }

    #[test]
    fn cache_and_retry_policies() {
        let f = parse(json!({"mcpServers": {"w": {"url": "http://x/mcp",
            "cache": {"tools": {"get_forecast": {"ttl": 60}, "quick": 1.5}},
            "trust_annotations": false, "idempotent_tools": ["charge_status"]},
            "s": {"command": "x", "inheritEnv": ["LANG"], "retry_non_idempotent": true}}}))
        .unwrap();
        let w = &f.services.iter().find(|(n, _)| n == "w").unwrap().1;
        assert_eq!(w.cache.ttl_for("get_forecast"), Some(Duration::from_secs(60)));
        assert_eq!(w.cache.ttl_for("quick"), Some(Duration::from_millis(1500)));
        assert_eq!(w.cache.ttl_for("other"), None);
        assert!(!w.retry.trust_annotations);
        assert!(w.retry.idempotent_tools.contains("charge_status"));
        let s = &f.services.iter().find(|(n, _)| n == "s").unwrap().1;
        assert!(s.retry.retry_all && s.retry.trust_annotations);
        match &s.transport {
            TransportConfig::Stdio(c) => assert_eq!(c.inherit_env, InheritEnv::Names(vec!["LANG".into()])),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn disabled_entries_are_skipped() {
        let f = parse(json!({"mcpServers": {"a": {"command": "x", "disabled": true}}})).unwrap();
        assert!(f.services.is_empty());
    }
}
