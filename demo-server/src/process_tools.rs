//! Tools that report what the server process sees: `env`, `env_names`,
//! `cwd`, and `headers` (the HTTP headers of the request that carried the
//! call). Clients test their environment, working directory and header
//! settings with them.

use serde_json::{Map, Value, json};

use super::rpc::RpcError;
use super::tools::{arg_str, read_only_tool};

/// The definitions, in `tools/list` order (after the other built-ins).
pub fn definitions() -> Vec<Value> {
    vec![
        read_only_tool(
            "env",
            "One environment variable of the server process: {name, present, value}; the text is the value (empty when absent).",
            json!({"name": {"type": "string"}}),
            &["name"],
        ),
        read_only_tool(
            "env_names",
            "The names of the server process's environment variables, sorted: {names}.",
            json!({}),
            &[],
        ),
        read_only_tool("cwd", "The server process's current directory: {cwd}.", json!({}), &[]),
        read_only_tool(
            "headers",
            "The HTTP headers of the POST that carried this call, names in lowercase: {headers} (empty over stdio).",
            json!({}),
            &[],
        ),
    ]
}

fn result(text: String, structured: Value) -> Value {
    json!({"content": [{"type": "text", "text": text}], "structuredContent": structured})
}

/// `env {name}`: `value` is null when the variable is not set.
pub fn env(args: &Map<String, Value>) -> Result<Value, RpcError> {
    let name = arg_str(args, "name")?;
    // An empty name or one with '=' or NUL cannot be a variable (and
    // var_os would panic on some of them).
    let valid = !name.is_empty() && !name.contains(['=', '\0']);
    let value = valid.then(|| std::env::var_os(name)).flatten().map(|v| v.to_string_lossy().into_owned());
    let text = value.clone().unwrap_or_default();
    Ok(result(text, json!({"name": name, "present": value.is_some(), "value": value})))
}

/// `env_names {}`.
pub fn env_names() -> Value {
    let mut names: Vec<String> = std::env::vars_os().map(|(k, _)| k.to_string_lossy().into_owned()).collect();
    names.sort();
    result(names.join("\n"), json!({"names": names}))
}

/// `cwd {}`: a tool error when the directory cannot be read (it was removed).
pub fn cwd() -> Value {
    match std::env::current_dir() {
        Ok(dir) => {
            let dir = dir.to_string_lossy().into_owned();
            result(dir.clone(), json!({"cwd": dir}))
        }
        Err(e) => super::tools::error_result(format!("cannot read the current directory: {e}")),
    }
}

/// `headers {}`: `headers` is the request's header object (`{}` over stdio).
pub fn headers(request_headers: &Value) -> Value {
    let headers = match request_headers {
        Value::Object(_) => request_headers.clone(),
        _ => json!({}),
    };
    result(headers.to_string(), json!({"headers": headers}))
}

/// Builds the `headers` object from (name, value) pairs: names lowercased,
/// repeated headers joined with ", " (as HTTP folds them).
pub fn header_object<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
    let mut map = Map::new();
    for (name, value) in pairs {
        let name = name.to_ascii_lowercase();
        match map.get_mut(&name) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(value);
            }
            _ => {
                map.insert(name, Value::String(value.to_string()));
            }
        }
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn env_reports_presence_and_value() {
        // PATH is set for every test run; this name is never set.
        let path = std::env::var("PATH").unwrap();
        let r = env(&obj(json!({"name": "PATH"}))).unwrap();
        assert_eq!(r["content"][0]["text"], path);
        assert_eq!(r["structuredContent"], json!({"name": "PATH", "present": true, "value": path}));
        let r = env(&obj(json!({"name": "MCPSTORE_DEMO_SURELY_UNSET_VAR"}))).unwrap();
        assert_eq!(r["content"][0]["text"], "");
        assert_eq!(r["structuredContent"]["present"], false);
        assert_eq!(r["structuredContent"]["value"], Value::Null);
        for bad in ["", "A=B", "nul\0"] {
            assert_eq!(env(&obj(json!({"name": bad}))).unwrap()["structuredContent"]["present"], false);
        }
        assert_eq!(env(&obj(json!({}))).unwrap_err().code, -32602);
    }

    #[test]
    fn env_names_are_sorted_and_complete() {
        let r = env_names();
        let names: Vec<&str> =
            r["structuredContent"]["names"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        assert!(names.contains(&"PATH"));
        assert_eq!(names.len(), std::env::vars_os().count());
    }

    #[test]
    fn cwd_is_the_process_directory() {
        let r = cwd();
        let dir = std::env::current_dir().unwrap().to_string_lossy().into_owned();
        assert_eq!(r["structuredContent"]["cwd"], dir);
        assert_eq!(r["content"][0]["text"], dir);
    }

    #[test]
    fn headers_are_lowercased_and_folded() {
        let h = header_object([("X-One", "a"), ("x-one", "b"), ("Accept", "*/*")]);
        assert_eq!(h, json!({"x-one": "a, b", "accept": "*/*"}));
        assert_eq!(headers(&h)["structuredContent"], json!({"headers": h}));
        assert_eq!(headers(&Value::Null)["structuredContent"], json!({"headers": {}}));
    }

    #[test]
    fn definitions_are_read_only() {
        let defs = definitions();
        let names: Vec<&str> = defs.iter().map(|d| d["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["env", "env_names", "cwd", "headers"]);
        for d in &defs {
            assert_eq!(d["annotations"]["readOnlyHint"], true, "{d}");
        }
    }
}
