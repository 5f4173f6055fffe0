//! The restricted schemas of form elicitation (a flat object of primitive
//! properties: strings with length and format, numbers with bounds, booleans,
//! single- and multi-select enums): filling defaults into an accepted form
//! (SEP-1034) and checking the content before it goes to the server.

use serde_json::{Map, Value};

/// The properties of a requested schema (empty when it has none).
fn properties(schema: &Value) -> Option<&Map<String, Value>> {
    schema.get("properties").and_then(Value::as_object)
}

/// Fills every property that has a `default` and is missing from `content`.
pub(crate) fn fill_defaults(schema: &Value, content: &mut Map<String, Value>) {
    let Some(props) = properties(schema) else { return };
    for (name, prop) in props {
        if let Some(default) = prop.get("default")
            && !content.contains_key(name)
        {
            content.insert(name.clone(), default.clone());
        }
    }
}

/// The content of a form accepted with nothing but the schema's defaults, or
/// why there is none (a required property without a default).
pub(crate) fn defaults_only(schema: &Value) -> Result<Map<String, Value>, String> {
    let mut content = Map::new();
    fill_defaults(schema, &mut content);
    for name in required(schema) {
        if !content.contains_key(name) {
            return Err(format!("required property '{name}' has no default"));
        }
    }
    Ok(content)
}

fn required(schema: &Value) -> impl Iterator<Item = &str> {
    schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
}

/// Checks accepted content against the requested schema: only its properties,
/// every required one, each of the right type and within its limits.
pub(crate) fn validate(schema: &Value, content: &Map<String, Value>) -> Result<(), String> {
    let empty = Map::new();
    let props = properties(schema).unwrap_or(&empty);
    for name in required(schema) {
        if !content.contains_key(name) {
            return Err(format!("required property '{name}' is missing"));
        }
    }
    for (name, value) in content {
        let prop =
            props.get(name).ok_or_else(|| format!("'{name}' is not a property of the requested schema"))?;
        check_property(prop, value).map_err(|e| format!("property '{name}': {e}"))?;
    }
    Ok(())
}

fn check_property(prop: &Value, value: &Value) -> Result<(), String> {
    let kind = prop.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "string" => {
            let s = value.as_str().ok_or("expected a string")?;
            check_string(prop, s)
        }
        "number" => {
            let n = value.as_f64().ok_or("expected a number")?;
            check_bounds(prop, n)
        }
        "integer" => {
            let integral =
                value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0);
            if !integral {
                return Err("expected an integer".into());
            }
            check_bounds(prop, value.as_f64().unwrap_or_default())
        }
        "boolean" => value.as_bool().map(drop).ok_or_else(|| "expected a boolean".into()),
        "array" => check_multi_select(prop, value),
        other => Err(format!("unsupported property type '{other}'")),
    }
}

fn check_string(prop: &Value, s: &str) -> Result<(), String> {
    let chars = s.chars().count() as u64;
    if let Some(min) = prop.get("minLength").and_then(Value::as_u64)
        && chars < min
    {
        return Err(format!("shorter than {min} characters"));
    }
    if let Some(max) = prop.get("maxLength").and_then(Value::as_u64)
        && chars > max
    {
        return Err(format!("longer than {max} characters"));
    }
    if let Some(options) = allowed_values(prop)
        && !options.contains(&s)
    {
        return Err(format!("'{s}' is not one of {}", options.join(", ")));
    }
    match prop.get("format").and_then(Value::as_str) {
        Some("email") if !is_email(s) => Err(format!("'{s}' is not an email address")),
        Some("uri") if !is_uri(s) => Err(format!("'{s}' is not a URI")),
        Some("date") if !is_date(s) => Err(format!("'{s}' is not a date (YYYY-MM-DD)")),
        Some("date-time") if !is_date_time(s) => Err(format!("'{s}' is not a date-time (RFC 3339)")),
        _ => Ok(()),
    }
}

/// The values of a single-select enum: `enum`, or the `const`s of `oneOf`/`anyOf`.
fn allowed_values(prop: &Value) -> Option<Vec<&str>> {
    if let Some(values) = prop.get("enum").and_then(Value::as_array) {
        return Some(values.iter().filter_map(Value::as_str).collect());
    }
    let titled = prop.get("oneOf").or_else(|| prop.get("anyOf"))?.as_array()?;
    Some(titled.iter().filter_map(|o| o.get("const").and_then(Value::as_str)).collect())
}

fn check_bounds(prop: &Value, n: f64) -> Result<(), String> {
    if let Some(min) = prop.get("minimum").and_then(Value::as_f64)
        && n < min
    {
        return Err(format!("{n} is below the minimum {min}"));
    }
    if let Some(max) = prop.get("maximum").and_then(Value::as_f64)
        && n > max
    {
        return Err(format!("{n} is above the maximum {max}"));
    }
    Ok(())
}

fn check_multi_select(prop: &Value, value: &Value) -> Result<(), String> {
    let items = value.as_array().ok_or("expected an array")?;
    let count = items.len() as u64;
    if let Some(min) = prop.get("minItems").and_then(Value::as_u64)
        && count < min
    {
        return Err(format!("fewer than {min} items"));
    }
    if let Some(max) = prop.get("maxItems").and_then(Value::as_u64)
        && count > max
    {
        return Err(format!("more than {max} items"));
    }
    let options = prop.get("items").and_then(allowed_values);
    for item in items {
        let s = item.as_str().ok_or("expected an array of strings")?;
        if let Some(options) = &options
            && !options.contains(&s)
        {
            return Err(format!("'{s}' is not one of {}", options.join(", ")));
        }
    }
    Ok(())
}

fn is_email(s: &str) -> bool {
    s.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
    }) && !s.contains(char::is_whitespace)
}

fn is_uri(s: &str) -> bool {
    s.split_once(':').is_some_and(|(scheme, rest)| {
        !rest.is_empty()
            && scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    }) && !s.contains(char::is_whitespace)
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    matches!(parts.as_slice(), [y, m, d] if digits(y, 4) && digits(m, 2) && digits(d, 2)
        && (1..=12).contains(&m.parse::<u8>().unwrap_or(0)) && (1..=31).contains(&d.parse::<u8>().unwrap_or(0)))
}

fn is_date_time(s: &str) -> bool {
    let Some((date, time)) = s.split_once(['T', 't']) else { return false };
    if !is_date(date) || time.len() < 8 {
        return false;
    }
    let (hms, zone) = time.split_at(8);
    let hms_ok = matches!(hms.split(':').collect::<Vec<_>>().as_slice(), [h, m, sec] if digits(h, 2) && digits(m, 2) && digits(sec, 2));
    let zone = zone.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let zone_ok = zone.eq_ignore_ascii_case("z")
        || ((zone.starts_with('+') || zone.starts_with('-'))
            && zone.len() == 6
            && zone.as_bytes()[3] == b':');
    hms_ok && zone_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "name": {"type": "string", "minLength": 2, "default": "John Doe"},
            "age": {"type": "integer", "minimum": 0, "maximum": 150, "default": 30},
            "score": {"type": "number", "default": 95.5},
            "status": {"type": "string", "enum": ["active", "inactive"], "default": "active"},
            "tier": {"type": "string", "oneOf": [{"const": "gold", "title": "Gold"}]},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "maxItems": 2},
            "email": {"type": "string", "format": "email"},
            "when": {"type": "string", "format": "date-time"},
            "verified": {"type": "boolean", "default": true}
        }, "required": ["name"]})
    }

    #[test]
    fn defaults_fill_what_is_missing() {
        let content = defaults_only(&schema()).unwrap();
        assert_eq!(content["name"], "John Doe");
        assert_eq!(content["age"], 30);
        assert_eq!(content["verified"], true);
        assert!(validate(&schema(), &content).is_ok());
        let no_default = json!({"properties": {"x": {"type": "string"}}, "required": ["x"]});
        assert!(defaults_only(&no_default).is_err());
        let mut given = Map::from_iter([("age".to_owned(), json!(7))]);
        fill_defaults(&schema(), &mut given);
        assert_eq!(given["age"], 7, "a value the user gave is kept");
        assert_eq!(given["status"], "active");
    }

    #[test]
    fn bad_content_is_named() {
        let check = |content: Value| validate(&schema(), content.as_object().unwrap());
        assert!(check(json!({"name": "Al", "tier": "gold", "tags": ["a"], "email": "a@b.io", "when": "2026-01-02T03:04:05Z"})).is_ok());
        assert!(check(json!({})).unwrap_err().contains("'name' is missing"));
        assert!(check(json!({"name": "A"})).unwrap_err().contains("shorter"));
        assert!(check(json!({"name": "Al", "age": 1.5})).unwrap_err().contains("integer"));
        assert!(check(json!({"name": "Al", "age": 200})).unwrap_err().contains("maximum"));
        assert!(check(json!({"name": "Al", "status": "gone"})).unwrap_err().contains("not one of"));
        assert!(check(json!({"name": "Al", "tier": "silver"})).is_err());
        assert!(check(json!({"name": "Al", "tags": ["a", "c"]})).is_err());
        assert!(check(json!({"name": "Al", "email": "nope"})).is_err());
        assert!(check(json!({"name": "Al", "when": "yesterday"})).is_err());
        assert!(check(json!({"name": "Al", "verified": "yes"})).is_err());
        assert!(check(json!({"name": "Al", "extra": 1})).unwrap_err().contains("not a property"));
    }
}
