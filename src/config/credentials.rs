//! Where a store keeps OAuth credentials: `mcp.json`'s top-level
//! `"credentials"` key (`"memory"`, or `{"file": PATH}`); without it, a file
//! in the user's configuration directory.

use std::path::PathBuf;

use serde_json::Value;

use crate::error::{Error, Result};

/// Where OAuth credentials (tokens, registered clients) are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsConfig {
    /// In memory only: every new store logs in again.
    Memory,
    /// In this JSON file (created with mode 0600; a relative path is taken
    /// from the current directory).
    File(PathBuf),
}

impl CredentialsConfig {
    /// Reads the `"credentials"` value of an `mcp.json` file.
    pub(crate) fn from_json(value: &Value) -> Result<CredentialsConfig> {
        let wrong = |why: &str| Error::config(None, Some("credentials"), why);
        match value {
            Value::String(s) if s == "memory" => Ok(CredentialsConfig::Memory),
            Value::Object(map) => {
                if let Some(key) = map.keys().find(|k| k.as_str() != "file") {
                    return Err(wrong(&format!("unknown key '{key}' (the key is \"file\")")));
                }
                match map.get("file") {
                    Some(Value::String(path)) if !path.trim().is_empty() => {
                        Ok(CredentialsConfig::File(PathBuf::from(path)))
                    }
                    _ => Err(wrong("\"file\" must be a non-empty path")),
                }
            }
            _ => Err(wrong("must be \"memory\" or {\"file\": \"PATH\"}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn memory_and_a_file_are_read_and_the_rest_refused_by_name() {
        assert_eq!(CredentialsConfig::from_json(&json!("memory")).unwrap(), CredentialsConfig::Memory);
        assert_eq!(
            CredentialsConfig::from_json(&json!({"file": "/tmp/c.json"})).unwrap(),
            CredentialsConfig::File("/tmp/c.json".into())
        );
        for bad in [json!("disk"), json!(3), json!({}), json!({"file": ""}), json!({"file": "x", "mode": 1})]
        {
            let e = CredentialsConfig::from_json(&bad).unwrap_err().to_string();
            assert!(e.contains("credentials"), "{bad}: {e}");
        }
    }
}
