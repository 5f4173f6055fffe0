//! Prompts and completions from C: the prompts across services, getting one
//! with its arguments, and suggestions for an argument of a prompt or a
//! resource template.

use std::ffi::c_char;

use serde_json::{Map, Value};

use super::args::{arguments_arg, json_arg, opt_str_arg, str_arg, string_out};
use super::error::Failure;
use super::error::mcps_error;
use super::options::{mcps_cancel, options_arg};
use super::resources::to_json;
use super::store::{list_out, mcps_store, store_arg};
use crate::error::ErrorCode;
use crate::protocol::CompletionRef;

/// The object of `args_json` (NULL means `{}`).
fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(), // `arguments_arg` gives objects only
    }
}

/// Reads a completion reference: `{"type": "ref/prompt", "name": N}` or
/// `{"type": "ref/resource", "uri": TEMPLATE}`.
fn completion_ref(value: &Value) -> Result<CompletionRef, Failure> {
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    match value.get("type").and_then(Value::as_str) {
        Some("ref/prompt") => text("name")
            .map(CompletionRef::Prompt)
            .ok_or_else(|| Failure::invalid("ref_json: a ref/prompt needs a string \"name\"")),
        Some("ref/resource") => text("uri")
            .map(CompletionRef::Resource)
            .ok_or_else(|| Failure::invalid("ref_json: a ref/resource needs a string \"uri\"")),
        _ => Err(Failure::invalid(
            "ref_json must be {\"type\": \"ref/prompt\", \"name\": ...} or {\"type\": \"ref/resource\", \"uri\": ...}",
        )),
    }
}

/// The prompts of one service (`service`), or of every service (`service ==
/// NULL`), as a JSON array of MCP `Prompt` objects (`name`, `title`,
/// `description`, `arguments: [{"name", "description", "required"}]`, ...),
/// each with an added `"service"` field. Waits for services that are still connecting.
///
/// On success writes a new string to `*out_json`; the caller frees it with
/// `mcps_string_free`. Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is a live store; `service` is NULL or a NUL-terminated string;
/// `out_json` points to writable memory; `err` is NULL or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_list_prompts(
    s: *const mcps_store,
    service: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    // SAFETY: forwarded from this function's contract.
    unsafe { list_out(s, service, out_json, err, |store, service| store.list_prompts(service)) }
}

/// Gets a prompt by name (`service.prompt`, `service_prompt` or a bare name
/// unique across services) with its arguments: `args_json` is a JSON object
/// of argument names to values (strings; other JSON values are sent as their
/// text; NULL means `{}`). Writes the MCP `GetPromptResult` as JSON:
/// `{"description"?, "messages": [{"role", "content": {...}}]}`.
/// `MCPS_ERR_PROMPT_NOT_FOUND` (with suggestions) or
/// `MCPS_ERR_AMBIGUOUS_PROMPT` (with the candidates) when the name does not
/// name one prompt. Blocks the calling thread (up to the store's `call_timeout`).
///
/// On success writes a new string to `*out_json`; the caller frees it with
/// `mcps_string_free`. Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is a live store; `name` is a NUL-terminated string (NULL is refused);
/// `args_json` is NULL or a NUL-terminated string; `out_json` points to
/// writable memory; `err` is NULL or points to writable memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_get_prompt(
    s: *const mcps_store,
    name: *const c_char,
    args_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    string_out(err, out_json, "out_json", || {
        // SAFETY: pointers are NULL or valid (contract); NULL is refused where required.
        let (store, name, args) =
            unsafe { (store_arg(s)?, str_arg(name, "name")?, arguments_arg(args_json)?) };
        to_json(&store.get_prompt(name, object(args))?)
    })
}

/// Like `mcps_store_get_prompt`, with per-call options (`options_json` as
/// for `mcps_store_call_tool_with`; only `timeout_ms` applies, NULL for the
/// defaults) and an optional cancel token (`cancel`, NULL for none).
/// Threads: any; the store is thread-safe.
///
/// # Safety
/// As for `mcps_store_get_prompt`; `options_json` is NULL or a
/// NUL-terminated string; `cancel` is NULL or a live token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mcps_store_get_prompt_with(
    s: *const mcps_store,
    name: *const c_char,
    args_json: *const c_char,
    options_json: *const c_char,
    cancel: *const mcps_cancel,
    out_json: *mut *mut c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    string_out(err, out_json, "out_json", || {
        // SAFETY: pointers are NULL or valid (contract); NULL is refused where required.
        let (store, name, args, options) = unsafe {
            (
                store_arg(s)?,
                str_arg(name, "name")?,
                arguments_arg(args_json)?,
                options_arg(options_json, cancel)?,
            )
        };
        to_json(&store.get_prompt_with(name, object(args), &options)?)
    })
}

/// Suggests values for the argument `argument` (typed so far: `value`) of a
/// prompt or a resource template. `ref_json` names what is completed:
/// `{"type": "ref/prompt", "name": PROMPT}` (resolved like
/// `mcps_store_get_prompt`, within `service` when it is not NULL) or
/// `{"type": "ref/resource", "uri": TEMPLATE}` (the template's URI, on
/// `service` or the one service that has it). `context_json` is a JSON
/// object of the arguments already chosen (NULL means `{}`).
///
/// Writes the MCP completion as JSON: `{"values": [...], "total"?, "hasMore"}`.
/// On success writes a new string to `*out_json`; the caller frees it with
/// `mcps_string_free`. Blocks the calling thread. Threads: any; the store is thread-safe.
///
/// # Safety
/// `s` is a live store; `service` and `context_json` are NULL or
/// NUL-terminated strings; `ref_json`, `argument` and `value` are
/// NUL-terminated strings (NULL is refused); `out_json` points to writable
/// memory; `err` is NULL or points to writable memory.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)] // the C signature: each argument is one plain value
pub unsafe extern "C" fn mcps_store_complete(
    s: *const mcps_store,
    service: *const c_char,
    ref_json: *const c_char,
    argument: *const c_char,
    value: *const c_char,
    context_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut mcps_error,
) -> ErrorCode {
    string_out(err, out_json, "out_json", || {
        // SAFETY: pointers are NULL or valid (contract); NULL is refused where required.
        let (store, service, reference, argument, value, context) = unsafe {
            (
                store_arg(s)?,
                opt_str_arg(service, "service")?,
                json_arg(ref_json, "ref_json")?,
                str_arg(argument, "argument")?,
                str_arg(value, "value")?,
                json_arg(context_json, "context_json")?,
            )
        };
        if reference.is_null() {
            return Err(Failure::invalid("ref_json is NULL"));
        }
        let context = match context {
            Value::Null => Map::new(),
            Value::Object(map) => map,
            _ => return Err(Failure::invalid("context_json must be a JSON object")),
        };
        let reference = completion_ref(&reference)?;
        to_json(&store.complete(service, &reference, argument, value, &context)?)
    })
}
