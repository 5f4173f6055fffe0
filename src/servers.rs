//! Service definitions and the `mcpServers` file format (Claude Desktop,
//! Cursor, MCPStore).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::{PerformanceConfig, PoolConfig, set_pool_key, validate_pool};
use crate::error::{Error, Result};

/// How a service is reached.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TransportConfig {
    /// A child process speaking newline-delimited JSON on stdin/stdout.
    Stdio {
        /// The program to run.
        command: String,
        /// Its arguments.
        args: Vec<String>,
        /// Variables added to the inherited environment.
        env: BTreeMap<String, String>,
        /// The working directory, if not the current one.
        cwd: Option<PathBuf>,
    },
    /// Streamable HTTP (one POST per message; JSON or SSE replies).
    Http {
        /// The MCP endpoint, for example `http://127.0.0.1:8000/mcp`.
        url: String,
        /// Headers sent with every request (for example `Authorization`).
        headers: BTreeMap<String, String>,
    },
}

impl TransportConfig {
    /// `"stdio"` or `"streamable-http"`.
    pub fn kind(&self) -> &'static str {
        match self {
            TransportConfig::Stdio { .. } => "stdio",
            TransportConfig::Http { .. } => "streamable-http",
        }
    }
}

/// One service: how to reach it and, optionally, its own pool settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceConfig {
    /// How the service is reached.
    pub transport: TransportConfig,
    /// Pool settings of this service; `None` uses the store's.
    pub pool: Option<PoolConfig>,
    /// Retry `tools/call` requests that may have reached the server, for every tool.
    pub retry_non_idempotent: bool,
}

impl ServiceConfig {
    /// A stdio service: `command` with `args`.
    pub fn stdio<I, S>(command: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ServiceConfig {
            transport: TransportConfig::Stdio {
                command: command.into(),
                args: args.into_iter().map(Into::into).collect(),
                env: BTreeMap::new(),
                cwd: None,
            },
            pool: None,
            retry_non_idempotent: false,
        }
    }

    /// A Streamable HTTP service at `url`.
    pub fn http(url: impl Into<String>) -> Self {
        ServiceConfig {
            transport: TransportConfig::Http { url: url.into(), headers: BTreeMap::new() },
            pool: None,
            retry_non_idempotent: false,
        }
    }

    /// Adds an environment variable (stdio only; ignored for HTTP).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        if let TransportConfig::Stdio { env, .. } = &mut self.transport {
            env.insert(key.into(), value.into());
        }
        self
    }

    /// Sets the working directory (stdio only).
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        if let TransportConfig::Stdio { cwd, .. } = &mut self.transport {
            *cwd = Some(dir.into());
        }
        self
    }

    /// Adds a header sent with every request (HTTP only).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        if let TransportConfig::Http { headers, .. } = &mut self.transport {
            headers.insert(name.into(), value.into());
        }
        self
    }

    /// Uses these pool settings for this service.
    pub fn with_pool(mut self, pool: PoolConfig) -> Self {
        self.pool = Some(pool);
        self
    }

    /// Allows retrying calls that may have reached the server, for every tool.
    pub fn retry_non_idempotent(mut self, yes: bool) -> Self {
        self.retry_non_idempotent = yes;
        self
    }

    /// Parses one `mcpServers` entry; `base_pool` is what its `pool` overrides.
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
}

/// Reads and parses an `mcp.json` file.
pub fn load_file(path: &Path, base: &PerformanceConfig) -> Result<ServersFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::config(None, None, format!("cannot read {}: {e}", path.display())))?;
    parse_str(&text, base)
}

/// Parses the text of an `mcp.json` file.
pub fn parse_str(text: &str, base: &PerformanceConfig) -> Result<ServersFile> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| Error::config(None, None, format!("not valid JSON: {e}")))?;
    parse_value(&value, base)
}

/// Parses an `mcp.json` value: `{"mcpServers": {...}, "performance": {...}}`.
pub fn parse_value(value: &Value, base: &PerformanceConfig) -> Result<ServersFile> {
    let root =
        value.as_object().ok_or_else(|| Error::config(None, None, "the file must hold a JSON object"))?;
    for key in root.keys() {
        if !matches!(key.as_str(), "mcpServers" | "performance" | "servers" | "$schema") {
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
    Ok(ServersFile { services, performance, has_performance })
}

fn is_disabled(entry: &Value) -> bool {
    entry.get("disabled").and_then(Value::as_bool).unwrap_or(false)
}

/// Checks a service name: non-empty, no whitespace, no dots (dots qualify tool names).
pub fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '.' || c.is_control()) {
        return Err(Error::config(
            Some(name),
            None,
            "a service name must be non-empty, without spaces or dots",
        ));
    }
    Ok(())
}

fn parse_entry(name: &str, entry: &Value, base_pool: &PoolConfig) -> Result<ServiceConfig> {
    validate_name(name)?;
    let err = |field: &str, msg: &str| Error::config(Some(name), Some(field), msg);
    let obj =
        entry.as_object().ok_or_else(|| Error::config(Some(name), None, "entry must be a JSON object"))?;

    let declared = match obj.get("transport").or_else(|| obj.get("type")) {
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(err(field_name(obj, "transport", "type"), "must be a string")),
    };
    let kind = match declared {
        Some("stdio") => "stdio",
        Some("streamable-http" | "streamable_http" | "streamableHttp" | "http") => "http",
        Some(other) => {
            return Err(err(
                field_name(obj, "transport", "type"),
                &format!("unknown transport '{other}' (expected stdio or streamable-http)"),
            ));
        }
        None if obj.contains_key("command") => "stdio",
        None if obj.contains_key("url") => "http",
        None => {
            return Err(err("command", "an entry needs either 'command' (stdio) or 'url' (HTTP)"));
        }
    };

    let mut config = if kind == "stdio" {
        let command = match obj.get("command") {
            Some(Value::String(c)) if !c.trim().is_empty() => c.clone(),
            Some(Value::String(_)) => return Err(err("command", "must not be empty")),
            Some(_) => return Err(err("command", "must be a string")),
            None => return Err(err("command", "is required for a stdio service")),
        };
        let args = string_list(obj.get("args"), name, "args")?;
        let mut service = ServiceConfig::stdio(command, args);
        if let Some(env) = obj.get("env") {
            for (k, v) in string_map(env, name, "env")? {
                service = service.env(k, v);
            }
        }
        match obj.get("cwd").or_else(|| obj.get("workingDir")) {
            None | Some(Value::Null) => {}
            Some(Value::String(dir)) => service = service.cwd(dir),
            Some(_) => return Err(err(field_name(obj, "cwd", "workingDir"), "must be a string")),
        }
        service
    } else {
        let url = match obj.get("url") {
            Some(Value::String(u)) => u.clone(),
            Some(_) => return Err(err("url", "must be a string")),
            None => return Err(err("url", "is required for an HTTP service")),
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(err("url", "must start with http:// or https://"));
        }
        let mut service = ServiceConfig::http(url);
        if let Some(headers) = obj.get("headers") {
            for (k, v) in string_map(headers, name, "headers")? {
                service = service.header(k, v);
            }
        }
        service
    };

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
        validate_pool(&pool, Some(name))?;
        config.pool = Some(pool);
    }
    if let Some(v) = obj.get("retry_non_idempotent") {
        config.retry_non_idempotent =
            v.as_bool().ok_or_else(|| err("retry_non_idempotent", "must be a boolean"))?;
    }
    Ok(config)
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
            TransportConfig::Stdio { command, args, env, cwd } => {
                assert_eq!(command, "npx");
                assert_eq!(args.len(), 3);
                assert_eq!(env.get("A").map(String::as_str), Some("1"));
                assert_eq!(cwd.as_deref(), Some(Path::new("/tmp")));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(f.services[1].1.transport.kind(), "streamable-http");
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
    fn disabled_entries_are_skipped() {
        let f = parse(json!({"mcpServers": {"a": {"command": "x", "disabled": true}}})).unwrap();
        assert!(f.services.is_empty());
    }
}
