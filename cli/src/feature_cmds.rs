//! The `resources`, `templates`, `read`, `prompts`, `prompt` and `complete`
//! commands: lists print one line per item, the others print the server's
//! result as JSON.

use std::process::ExitCode;

use mcpstore::{CallOptions, CompletionRef, Error, Prompt, Store};
use serde_json::{Map, Value};

use crate::commands::parse_arguments;
use crate::feature_args::CompleteArgs;

/// The first line of an optional description.
fn first_line(text: Option<&str>) -> &str {
    text.unwrap_or("").lines().next().unwrap_or("")
}

/// Prints a value as one line of JSON.
fn print_json(value: &impl serde::Serialize) -> Result<ExitCode, Error> {
    let text =
        serde_json::to_string(value).map_err(|e| Error::Internal(format!("cannot print the result: {e}")))?;
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// A JSON object of arguments (absent: empty).
fn argument_map(text: Option<&str>) -> Result<Map<String, Value>, Error> {
    match parse_arguments(text)? {
        Value::Object(map) => Ok(map),
        _ => Err(Error::InvalidArgument("arguments must be a JSON object".into())),
    }
}

/// Prints the resources of one service or of all: service, URI, name, MIME type.
pub fn resources(store: &Store, service: Option<&str>) -> Result<ExitCode, Error> {
    for (service, r) in store.list_resources(service)? {
        let mime = r.mime_type.as_deref().unwrap_or("");
        println!("{service:<12} {:<40} {:<20} {mime}", r.uri, r.name);
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the resource templates of one service or of all.
pub fn templates(store: &Store, service: Option<&str>) -> Result<ExitCode, Error> {
    for (service, t) in store.list_resource_templates(service)? {
        println!(
            "{service:<12} {:<40} {:<20} {}",
            t.uri_template,
            t.name,
            first_line(t.description.as_deref())
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads a resource and prints its ReadResourceResult.
pub fn read(store: &Store, uri: &str, service: Option<&str>) -> Result<ExitCode, Error> {
    print_json(&store.read_resource_with(service, uri, &CallOptions::default())?)
}

/// A prompt's arguments as `name*` (required) or `name`, comma-separated.
fn prompt_arguments(p: &Prompt) -> String {
    let names: Vec<String> = p
        .arguments
        .iter()
        .map(|a| if a.required { format!("{}*", a.name) } else { a.name.clone() })
        .collect();
    names.join(",")
}

/// Prints the prompts of one service or of all: name, arguments (`*`: required), description.
pub fn prompts(store: &Store, service: Option<&str>) -> Result<ExitCode, Error> {
    for (service, p) in store.list_prompts(service)? {
        let name = format!("{service}.{}", p.name);
        println!("{name:<32} ({}) {}", prompt_arguments(&p), first_line(p.description.as_deref()));
    }
    Ok(ExitCode::SUCCESS)
}

/// Gets a prompt and prints its GetPromptResult.
pub fn prompt(store: &Store, name: &str, json_args: Option<&str>) -> Result<ExitCode, Error> {
    print_json(&store.get_prompt(name, argument_map(json_args)?)?)
}

/// Asks for completions and prints the CompleteResult (`values`, `total`, `hasMore`).
pub fn complete(store: &Store, args: &CompleteArgs) -> Result<ExitCode, Error> {
    let reference = match (&args.prompt, &args.template) {
        (Some(prompt), _) => CompletionRef::Prompt(prompt.clone()),
        (None, Some(template)) => CompletionRef::Resource(template.clone()),
        (None, None) => return Err(Error::InvalidArgument("give --prompt or --template".into())),
    };
    let context = argument_map(args.context.as_deref())?;
    print_json(&store.complete(args.service.as_deref(), &reference, &args.argument, &args.value, &context)?)
}
