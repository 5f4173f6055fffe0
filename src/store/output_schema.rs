//! Checks a tool's `structuredContent` against the `outputSchema` it
//! declares (JSON Schema, compiled once per tool list). A mismatch is
//! reported on the result, never a lost result: the caller decides.

use std::sync::OnceLock;

use serde_json::Value;

use crate::protocol::ToolResult;

/// The output schema of one tool, compiled on first use.
pub(crate) struct OutputCheck {
    schema: Value,
    compiled: OnceLock<Result<jsonschema::Validator, String>>,
}

impl OutputCheck {
    /// A check for `schema` (a tool's `outputSchema`).
    pub(crate) fn new(schema: Value) -> Self {
        OutputCheck { schema, compiled: OnceLock::new() }
    }

    /// Why `result` does not fit the schema, if it does not. An error result
    /// is not checked; a schema that does not compile is reported as such.
    pub(crate) fn mismatch(&self, result: &ToolResult) -> Option<String> {
        if result.is_error {
            return None;
        }
        let Some(content) = result.structured_content.as_ref() else {
            return Some("the tool declares an outputSchema but returned no structuredContent".into());
        };
        let validator = self.compiled.get_or_init(|| {
            jsonschema::validator_for(&self.schema).map_err(|e| format!("invalid outputSchema: {e}"))
        });
        match validator {
            Err(e) => Some(e.clone()),
            Ok(v) => {
                let errors: Vec<String> = v
                    .iter_errors(content)
                    .take(3)
                    .map(|e| format!("{e} at '{}'", e.instance_path()))
                    .collect();
                (!errors.is_empty()).then(|| {
                    format!("structuredContent does not match the outputSchema: {}", errors.join("; "))
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn result(structured: Option<Value>, is_error: bool) -> ToolResult {
        let mut value = json!({"content": [], "isError": is_error});
        if let Some(s) = structured {
            value["structuredContent"] = s;
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn mismatches_are_named() {
        let check = OutputCheck::new(
            json!({"type": "object", "properties": {"sum": {"type": "number"}}, "required": ["sum"]}),
        );
        assert_eq!(check.mismatch(&result(Some(json!({"sum": 3})), false)), None);
        let bad = check.mismatch(&result(Some(json!({"sum": "three"})), false)).unwrap();
        assert!(bad.contains("/sum"), "{bad}");
        assert!(check.mismatch(&result(None, false)).unwrap().contains("no structuredContent"));
        assert_eq!(check.mismatch(&result(None, true)), None, "error results are not checked");
        let broken = OutputCheck::new(json!({"type": 12}));
        assert!(broken.mismatch(&result(Some(json!({})), false)).unwrap().contains("invalid outputSchema"));
    }
}
