//! `x-mcp-header` (SEP-2243): tool parameters a server wants mirrored into
//! `Mcp-Param-{Name}` HTTP headers, checked once per tool list and encoded
//! per call (header-unsafe values in the `=?base64?...?=` form).

use base64::Engine as _;
use serde_json::Value;

/// The largest integer a header may carry (JavaScript's safe range).
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// One mirrored parameter: the header's name suffix and the property's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamHeader {
    /// `Name` in `Mcp-Param-Name`, as annotated.
    pub name: String,
    /// The chain of `properties` keys from the schema's root.
    pub path: Vec<String>,
}

/// The mirrored parameters of an input schema, or why the tool is invalid
/// (clients must then not offer it over Streamable HTTP).
pub fn param_headers(input_schema: &Value) -> Result<Vec<ParamHeader>, String> {
    let mut found = Vec::new();
    scan(input_schema, &mut Vec::new(), true, true, &mut found)?;
    for (i, a) in found.iter().enumerate() {
        if found[..i].iter().any(|b| b.name.eq_ignore_ascii_case(&a.name)) {
            return Err(format!("x-mcp-header '{}' appears twice (names are case-insensitive)", a.name));
        }
    }
    Ok(found)
}

/// Walks the schema: an annotation counts only on a property reached from the
/// root through `properties` keys alone; anywhere else it makes the tool invalid.
fn scan(
    node: &Value,
    path: &mut Vec<String>,
    chain: bool,
    root: bool,
    out: &mut Vec<ParamHeader>,
) -> Result<(), String> {
    match node {
        Value::Object(map) => {
            if let Some(annotation) = map.get("x-mcp-header") {
                if !chain || root {
                    return Err(format!(
                        "x-mcp-header at '{}' is not on a property reached through 'properties'",
                        display(path)
                    ));
                }
                out.push(ParamHeader {
                    name: checked_name(annotation, map.get("type"))?,
                    path: path.clone(),
                });
            }
            for (key, value) in map {
                if key == "properties"
                    && let Value::Object(props) = value
                {
                    for (name, schema) in props {
                        path.push(name.clone());
                        scan(schema, path, chain, false, out)?;
                        path.pop();
                    }
                } else if key != "x-mcp-header" {
                    scan(value, path, false, false, out)?;
                }
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|v| scan(v, path, false, false, out)),
        _ => Ok(()),
    }
}

fn display(path: &[String]) -> String {
    if path.is_empty() { "(root)".into() } else { path.join(".") }
}

/// The annotation's value: a non-empty RFC 9110 token on a string, integer or boolean property.
fn checked_name(annotation: &Value, kind: Option<&Value>) -> Result<String, String> {
    let name = annotation.as_str().ok_or("x-mcp-header must be a string")?;
    if name.is_empty() {
        return Err("x-mcp-header must not be empty".into());
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)) {
        return Err(format!("x-mcp-header {name:?} is not an HTTP token"));
    }
    match kind.and_then(Value::as_str) {
        Some("string" | "integer" | "boolean") => Ok(name.to_owned()),
        other => Err(format!(
            "x-mcp-header {name:?} is on a property of type {other:?} (only string, integer, boolean)"
        )),
    }
}

/// The `Mcp-Param-*` headers of one call: `(header name, value)`; a parameter
/// that is absent or null gets no header.
pub fn header_values(headers: &[ParamHeader], arguments: &Value) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|h| {
            let value = h.path.iter().try_fold(arguments, |v, key| v.get(key))?;
            let text = match value {
                Value::String(s) => encode(s),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => match n.as_i64() {
                    Some(i) if i.abs() <= MAX_SAFE_INTEGER => i.to_string(),
                    _ => return None, // not an integer a header may carry
                },
                _ => return None,
            };
            Some((format!("mcp-param-{}", h.name.to_ascii_lowercase()), text))
        })
        .collect()
}

/// A header value: as it is when header-safe (visible ASCII and inner
/// spaces), else `=?base64?{UTF-8 in Base64}?=`.
pub fn encode(value: &str) -> String {
    let looks_encoded = value.starts_with("=?base64?") && value.ends_with("?=");
    let safe = !value.is_empty()
        && value.bytes().all(|b| (0x20..=0x7e).contains(&b))
        && !value.starts_with(' ')
        && !value.ends_with(' ')
        && !looks_encoded;
    if safe {
        value.to_owned()
    } else {
        format!("=?base64?{}?=", base64::engine::general_purpose::STANDARD.encode(value.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_encoded_as_the_specification_shows() {
        assert_eq!(encode("us-west1"), "us-west1");
        assert_eq!(encode("us west 1"), "us west 1");
        assert_eq!(encode("Hello, 世界"), "=?base64?SGVsbG8sIOS4lueVjA==?=");
        assert_eq!(encode(" padded "), "=?base64?IHBhZGRlZCA=?=");
        assert_eq!(encode("line1\nline2"), "=?base64?bGluZTEKbGluZTI=?=");
        assert_eq!(encode("\tindented"), "=?base64?CWluZGVudGVk?=");
        assert_eq!(encode("=?base64?literal?="), "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=");
    }

    #[test]
    fn annotations_are_found_and_mirrored() {
        let schema = json!({"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "priority": {"type": "integer", "x-mcp-header": "Priority"},
            "verbose": {"type": "boolean", "x-mcp-header": "Verbose"},
            "nested": {"type": "object", "properties": {"zone": {"type": "string", "x-mcp-header": "Zone"}}},
            "ratio": {"type": "number"}
        }});
        let headers = param_headers(&schema).unwrap();
        assert_eq!(headers.len(), 4);
        let values = header_values(
            &headers,
            &json!({"region": "eu", "priority": 42, "verbose": null, "nested": {"zone": "a b"}}),
        );
        assert!(values.contains(&("mcp-param-priority".to_owned(), "42".to_owned())), "{values:?}");
        assert!(values.contains(&("mcp-param-zone".to_owned(), "a b".to_owned())), "{values:?}");
        let names: Vec<&str> = values.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"mcp-param-region") && names.contains(&"mcp-param-priority"));
        assert!(
            names.contains(&"mcp-param-zone") && !names.contains(&"mcp-param-verbose"),
            "null gets no header"
        );
    }

    #[test]
    fn invalid_annotations_invalidate_the_tool() {
        let with = |prop: Value| json!({"type": "object", "properties": {"p": prop}});
        for bad in [
            with(json!({"type": "string", "x-mcp-header": ""})),
            with(json!({"type": "object", "x-mcp-header": "P"})),
            with(json!({"type": "array", "x-mcp-header": "P"})),
            with(json!({"type": "null", "x-mcp-header": "P"})),
            with(json!({"type": "number", "x-mcp-header": "P"})),
            with(json!({"type": "string", "x-mcp-header": "My Region"})),
            with(json!({"type": "string", "x-mcp-header": "Region:Primary"})),
            with(json!({"type": "string", "x-mcp-header": "Région"})),
            with(json!({"type": "string", "x-mcp-header": "Region\t1"})),
            with(json!({"type": "array", "items": {"type": "string", "x-mcp-header": "P"}})),
            json!({"type": "object", "x-mcp-header": "Root"}),
            json!({"type": "object", "properties": {"a": {"type": "string", "x-mcp-header": "MyField"},
                "b": {"type": "string", "x-mcp-header": "myfield"}}}),
            json!({"anyOf": [{"properties": {"a": {"type": "string", "x-mcp-header": "A"}}}]}),
        ] {
            assert!(param_headers(&bad).is_err(), "{bad}");
        }
        assert_eq!(param_headers(&json!({"type": "object"})).unwrap(), vec![]);
    }
}
