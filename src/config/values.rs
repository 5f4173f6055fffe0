//! Reading typed values out of JSON settings, with errors that name the setting.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The longest duration a setting accepts: one year (longer is a mistake, and
/// deadlines far beyond it would overflow).
const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

pub(crate) fn bad(path: &str, expected: &str, v: &Value) -> Error {
    Error::config(None, Some(path), format!("expected {expected}, got {v}"))
}

pub(crate) fn unknown_key(path: &str) -> Error {
    Error::config(None, Some(path), "unknown setting")
}

pub(crate) fn as_object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| Error::config(None, Some(path), "must be a JSON object"))
}

pub(crate) fn number(v: &Value, path: &str) -> Result<f64> {
    match v.as_f64() {
        Some(n) if n.is_finite() && n >= 0.0 => Ok(n),
        _ => Err(bad(path, "a non-negative number", v)),
    }
}

pub(crate) fn count(v: &Value, path: &str) -> Result<usize> {
    v.as_u64().and_then(|n| usize::try_from(n).ok()).ok_or_else(|| bad(path, "a non-negative integer", v))
}

pub(crate) fn positive(v: &Value, path: &str) -> Result<usize> {
    match count(v, path) {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(bad(path, "a positive integer", v)),
    }
}

pub(crate) fn boolean(v: &Value, path: &str) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") || s == "1" => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") || s == "0" => Ok(false),
        Value::Number(n) if n.as_u64() == Some(1) => Ok(true),
        Value::Number(n) if n.as_u64() == Some(0) => Ok(false),
        _ => Err(bad(path, "true or false", v)),
    }
}

pub(crate) fn seconds(v: &Value, path: &str) -> Result<Duration> {
    let n = number(v, path).map_err(|_| bad(path, "a number of seconds", v))?;
    if n > MAX_SECONDS {
        return Err(bad(path, "at most one year of seconds", v));
    }
    Duration::try_from_secs_f64(n).map_err(|_| bad(path, "a number of seconds", v))
}

pub(crate) fn nonzero_seconds(v: &Value, path: &str) -> Result<Duration> {
    let d = seconds(v, path)?;
    if d.is_zero() { Err(bad(path, "a number of seconds greater than 0", v)) } else { Ok(d) }
}

/// A value from the environment: JSON when it parses (`50`, `true`, `2.5`), else the text.
pub(crate) fn parse_env_value(raw: &str) -> Value {
    let t = raw.trim();
    serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_owned()))
}
