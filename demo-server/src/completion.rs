//! `completion/complete`: `summarize`'s `style` (brief, bullet, detailed)
//! and the note template's `name` (the notes that exist), by prefix.
//! Other arguments of known prompts and templates get no suggestions.

use serde_json::{Value, json};

use super::prompts::STYLES;
use super::resources::NOTE_TEMPLATE;
use super::rpc::RpcError;

/// At most this many values are returned (MCP's limit).
const MAX_VALUES: usize = 100;

fn str_field<'a>(v: &'a Value, path: &str) -> Result<&'a str, RpcError> {
    v.pointer(path)
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params(format!("Missing or invalid {}", path.replace('/', "."))))
}

/// Answers `completion/complete` given the prompts and the notes that exist.
pub fn complete(params: &Value, prompts: &[String], notes: &[String]) -> Result<Value, RpcError> {
    let kind = str_field(params, "/ref/type")?;
    let argument = str_field(params, "/argument/name")?;
    let typed = str_field(params, "/argument/value")?;
    let candidates: Vec<&str> = match kind {
        "ref/prompt" => {
            let name = str_field(params, "/ref/name")?;
            if !prompts.iter().any(|p| p == name) {
                return Err(RpcError::invalid_params(format!("Unknown prompt: {name}")));
            }
            match (name, argument) {
                ("summarize", "style") => STYLES.to_vec(),
                _ => Vec::new(),
            }
        }
        "ref/resource" => {
            let uri = str_field(params, "/ref/uri")?;
            if uri != NOTE_TEMPLATE {
                return Err(RpcError::invalid_params(format!("Unknown resource template: {uri}")));
            }
            match argument {
                "name" => notes.iter().map(String::as_str).collect(),
                _ => Vec::new(),
            }
        }
        other => return Err(RpcError::invalid_params(format!("Invalid ref.type: {other:?}"))),
    };
    let matching: Vec<&str> = candidates.into_iter().filter(|c| c.starts_with(typed)).collect();
    let total = matching.len();
    let values: Vec<&str> = matching.into_iter().take(MAX_VALUES).collect();
    Ok(json!({"completion": {"values": values, "total": total, "hasMore": total > MAX_VALUES}}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(name: &str, arg: &str, value: &str) -> Value {
        json!({"ref": {"type": "ref/prompt", "name": name}, "argument": {"name": arg, "value": value}})
    }

    #[test]
    fn styles_and_note_names_by_prefix() {
        let prompts = vec!["summarize".to_owned(), "greet".to_owned()];
        let notes = vec!["alpha".to_owned(), "alps".to_owned(), "beta".to_owned()];
        let r = complete(&prompt("summarize", "style", "b"), &prompts, &notes).unwrap();
        assert_eq!(r["completion"], json!({"values": ["brief", "bullet"], "total": 2, "hasMore": false}));
        let r = complete(&prompt("summarize", "style", ""), &prompts, &notes).unwrap();
        assert_eq!(r["completion"]["values"], json!(["brief", "bullet", "detailed"]));
        let r = complete(&prompt("greet", "name", "A"), &prompts, &notes).unwrap();
        assert_eq!(r["completion"]["values"], json!([]));
        assert!(complete(&prompt("nope", "x", ""), &prompts, &notes).is_err());
        let template = json!({"ref": {"type": "ref/resource", "uri": NOTE_TEMPLATE},
                              "argument": {"name": "name", "value": "al"}});
        let r = complete(&template, &prompts, &notes).unwrap();
        assert_eq!(r["completion"]["values"], json!(["alpha", "alps"]));
        let other = json!({"ref": {"type": "ref/resource", "uri": "x://{y}"}, "argument": {"name": "y", "value": ""}});
        assert!(complete(&other, &prompts, &notes).is_err());
        assert!(
            complete(
                &json!({"ref": {"type": "ref/x"}, "argument": {"name": "a", "value": ""}}),
                &prompts,
                &notes
            )
            .is_err()
        );
        assert!(complete(&json!({}), &prompts, &notes).is_err());
    }
}
