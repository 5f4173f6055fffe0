//! The demo server's prompts: `summarize {topic, style?}` and `greet
//! {name}`, plus extra ones added at run time (`notify_later` with kind
//! `prompts`), which take no arguments.

use serde_json::{Map, Value, json};

use super::rpc::RpcError;

/// The styles `summarize` knows, in the order completions offer them.
pub const STYLES: [&str; 3] = ["brief", "bullet", "detailed"];

/// The built-in prompt definitions, in `prompts/list` order.
pub fn builtin() -> Vec<Value> {
    vec![
        json!({
            "name": "summarize",
            "title": "Summarize a topic",
            "description": "Asks for a summary of a topic in a style.",
            "arguments": [
                {"name": "topic", "description": "What to summarize", "required": true},
                {"name": "style", "description": "brief, bullet or detailed (default brief)", "required": false},
            ],
        }),
        json!({
            "name": "greet",
            "title": "Greet someone",
            "description": "A greeting for someone, and the assistant's answer.",
            "arguments": [{"name": "name", "description": "Who to greet", "required": true}],
        }),
    ]
}

/// The definition of an extra prompt.
pub fn extra(name: &str) -> Value {
    json!({"name": name, "description": "An extra prompt added with notify_later.", "arguments": []})
}

/// Every prompt: the built-in ones, then the extra ones.
pub fn list(extra_names: &[String]) -> Vec<Value> {
    let mut all = builtin();
    all.extend(extra_names.iter().map(|n| extra(n)));
    all
}

fn argument<'a>(
    args: &'a Map<String, Value>,
    name: &str,
    required: bool,
) -> Result<Option<&'a str>, RpcError> {
    match args.get(name) {
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Null) | None if !required => Ok(None),
        Some(_) => Err(RpcError::invalid_params(format!("Invalid argument {name:?}: expected a string"))),
        None => Err(RpcError::invalid_params(format!("Missing required argument {name:?}"))),
    }
}

fn user(text: String) -> Value {
    json!({"role": "user", "content": {"type": "text", "text": text}})
}

/// `prompts/get`: the prompt `name` with its arguments filled in.
pub fn get(name: &str, args: &Map<String, Value>, extra_names: &[String]) -> Result<Value, RpcError> {
    match name {
        "summarize" => {
            let topic = argument(args, "topic", true)?.unwrap_or_default();
            let style = argument(args, "style", false)?.unwrap_or("brief");
            let ask = match style {
                "brief" => format!("Summarize {topic} in one or two sentences."),
                "bullet" => format!("Summarize {topic} as a short bulleted list."),
                "detailed" => format!("Write a detailed summary of {topic}, section by section."),
                other => {
                    return Err(RpcError::invalid_params(format!(
                        "Invalid argument \"style\": {other:?} is not one of {}",
                        STYLES.join(", ")
                    )));
                }
            };
            Ok(json!({"description": format!("A {style} summary of {topic}"), "messages": [user(ask)]}))
        }
        "greet" => {
            let who = argument(args, "name", true)?.unwrap_or_default();
            Ok(json!({
                "description": format!("A greeting for {who}"),
                "messages": [
                    user(format!("Please greet {who}.")),
                    {"role": "assistant", "content": {"type": "text", "text": format!("Hello, {who}! Welcome to the mcpstore demo.")}},
                ],
            }))
        }
        other if extra_names.iter().any(|n| n == other) => {
            Ok(json!({"messages": [user(format!("This is the extra prompt {other}."))]}))
        }
        other => Err(RpcError::invalid_params(format!("Unknown prompt: {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn arguments_are_filled_in_and_checked() {
        let r = get("summarize", &obj(json!({"topic": "pools", "style": "bullet"})), &[]).unwrap();
        assert_eq!(r["messages"][0]["content"]["text"], "Summarize pools as a short bulleted list.");
        let r = get("summarize", &obj(json!({"topic": "pools"})), &[]).unwrap();
        assert_eq!(r["description"], "A brief summary of pools");
        assert!(get("summarize", &obj(json!({})), &[]).unwrap_err().message.contains("topic"));
        assert!(get("summarize", &obj(json!({"topic": "x", "style": "loud"})), &[]).is_err());
        let r = get("greet", &obj(json!({"name": "Ada"})), &[]).unwrap();
        assert_eq!(r["messages"][1]["role"], "assistant");
        assert!(r["messages"][1]["content"]["text"].as_str().unwrap().contains("Ada"));
        assert!(get("nope", &Map::new(), &[]).unwrap_err().message.contains("Unknown prompt"));
        let extra = vec!["later".to_owned()];
        assert!(get("later", &Map::new(), &extra).is_ok());
        let names: Vec<Value> = list(&extra).iter().map(|p| p["name"].clone()).collect();
        assert_eq!(names, [json!("summarize"), json!("greet"), json!("later")]);
    }
}
