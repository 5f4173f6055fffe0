//! The server features of a session besides tools: paginated lists, resources,
//! prompts, completions and logging. Each request waits up to the session's
//! read timeout, and no later than a deadline when one is given.

use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::request::{Exchange, encode_params};
use super::{MessageSizes, Session};
use crate::call_options::CallOptions;
use crate::error::{Error, Result};
use crate::protocol::messages::methods;
use crate::protocol::{
    CompleteResult, CompletionRef, GetPromptResult, LogLevel, Prompt, ReadResourceResult, Resource,
    ResourceTemplate, Tool,
};

/// The most pages a list may have (a server that never ends its cursor is a bug).
const MAX_PAGES: usize = 10_000;

impl Session {
    /// The timeout of one request: the options' own, else the read timeout, capped by `deadline`.
    fn timeout_for(&self, options: &CallOptions, deadline: Option<Instant>) -> std::time::Duration {
        let mut timeout = options.timeout.unwrap_or(self.inner.options.read_timeout);
        if let Some(d) = deadline {
            timeout = timeout.min(d.saturating_duration_since(Instant::now()));
        }
        timeout
    }

    /// Sends `method` with `params` and parses the result.
    fn ask<T: DeserializeOwned>(&self, method: &str, params: &Value, options: &CallOptions) -> Result<T> {
        self.ask_about(method, None, params, options)
    }

    /// Like `ask`, for a request about `name` (a prompt, a resource: its `Mcp-Name`).
    fn ask_about<T: DeserializeOwned>(
        &self,
        method: &str,
        name: Option<&str>,
        params: &Value,
        options: &CallOptions,
    ) -> Result<T> {
        let params = encode_params(Some(params))?;
        let timeout = self.timeout_for(options, None);
        let exchange =
            Exchange { name, ..Exchange::plain(method, params.as_deref(), timeout, options.cancel.as_ref()) };
        let raw = self.exchange(&exchange, &mut MessageSizes::default())?;
        serde_json::from_str(raw.get()).map_err(|e| Error::Protocol(format!("invalid {method} result: {e}")))
    }

    /// Every item of a paginated list (`key` of each page), following `nextCursor` to the end.
    pub(crate) fn list_all<T: DeserializeOwned>(
        &self,
        method: &str,
        key: &str,
        deadline: Option<Instant>,
    ) -> Result<Vec<T>> {
        self.list_all_fresh(method, key, deadline).map(|(items, _)| items)
    }

    /// Like [`Session::list_all`], with how long the list stays fresh: the
    /// shortest `ttlMs` of its pages (2026-07-28, SEP-2549; a negative one
    /// counts as 0). `None` when no page says (2025-11-25 servers).
    pub(crate) fn list_all_fresh<T: DeserializeOwned>(
        &self,
        method: &str,
        key: &str,
        deadline: Option<Instant>,
    ) -> Result<(Vec<T>, Option<Duration>)> {
        let mut items = Vec::new();
        let mut ttl: Option<Duration> = None;
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let params = cursor.as_ref().map(|c| json!({ "cursor": c }));
            let timeout = self.timeout_for(&CallOptions::default(), deadline);
            let raw = self.request(method, params.as_ref(), timeout, None)?;
            let mut page: Map<String, Value> = serde_json::from_str(raw.get())
                .map_err(|e| Error::Protocol(format!("invalid {method} result: {e}")))?;
            let list = page.remove(key).unwrap_or(Value::Array(Vec::new()));
            let list: Vec<T> = serde_json::from_value(list)
                .map_err(|e| Error::Protocol(format!("invalid {method} result ({key}): {e}")))?;
            items.extend(list);
            if let Some(page_ttl) = page.get("ttlMs").and_then(Value::as_f64) {
                let page_ttl = Duration::from_millis(page_ttl.max(0.0) as u64);
                ttl = Some(ttl.map_or(page_ttl, |t| t.min(page_ttl)));
            }
            match page.remove("nextCursor") {
                Some(Value::String(next)) if cursor.as_deref() == Some(next.as_str()) => {
                    return Err(Error::Protocol(format!("{method} returned the same cursor twice")));
                }
                Some(Value::String(next)) => cursor = Some(next),
                Some(Value::Null) | None => return Ok((items, ttl)),
                Some(other) => return Err(Error::Protocol(format!("{method}: invalid nextCursor {other}"))),
            }
        }
        Err(Error::Protocol(format!("{method} did not end after {MAX_PAGES} pages")))
    }

    /// Lists every tool, following `nextCursor` until the last page.
    pub fn list_tools(&self) -> Result<Vec<Tool>> {
        self.list_tools_by(None)
    }

    /// Lists every tool, each page within the read timeout and all by `deadline`.
    pub(crate) fn list_tools_by(&self, deadline: Option<Instant>) -> Result<Vec<Tool>> {
        self.list_all(methods::TOOLS_LIST, "tools", deadline)
    }

    /// Lists every resource.
    pub fn list_resources(&self) -> Result<Vec<Resource>> {
        self.list_all(methods::RESOURCES_LIST, "resources", None)
    }

    /// Lists every resource template.
    pub fn list_resource_templates(&self) -> Result<Vec<ResourceTemplate>> {
        self.list_all(methods::RESOURCE_TEMPLATES_LIST, "resourceTemplates", None)
    }

    /// Reads a resource; text and binary contents are kept whole.
    pub fn read_resource(&self, uri: &str, options: &CallOptions) -> Result<ReadResourceResult> {
        self.ask_about(methods::RESOURCES_READ, Some(uri), &json!({ "uri": uri }), options)
    }

    /// Asks for `notifications/resources/updated` about `uri` (the server must offer `resources.subscribe`).
    pub fn subscribe_resource(&self, uri: &str) -> Result<()> {
        if self.is_modern() {
            // The stateless era subscribes through `subscriptions/listen`.
            self.add_resource_subscription(uri);
            return Ok(());
        }
        self.ask::<Value>(methods::RESOURCES_SUBSCRIBE, &json!({ "uri": uri }), &CallOptions::default())
            .map(drop)
    }

    /// Ends a subscription.
    pub fn unsubscribe_resource(&self, uri: &str) -> Result<()> {
        if self.is_modern() {
            self.remove_resource_subscription(uri);
            return Ok(());
        }
        self.ask::<Value>(methods::RESOURCES_UNSUBSCRIBE, &json!({ "uri": uri }), &CallOptions::default())
            .map(drop)
    }

    /// Lists every prompt.
    pub fn list_prompts(&self) -> Result<Vec<Prompt>> {
        self.list_all(methods::PROMPTS_LIST, "prompts", None)
    }

    /// Gets a prompt with its arguments (string values, as the protocol has them).
    pub fn get_prompt(
        &self,
        name: &str,
        arguments: &Map<String, Value>,
        options: &CallOptions,
    ) -> Result<GetPromptResult> {
        let arguments: Map<String, Value> = arguments
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), Value::String(text))
            })
            .collect();
        self.ask_about(
            methods::PROMPTS_GET,
            Some(name),
            &json!({ "name": name, "arguments": arguments }),
            options,
        )
    }

    /// Suggests values for argument `argument` (typed so far: `value`) of a
    /// prompt or resource template; `context` holds arguments already chosen.
    pub fn complete(
        &self,
        reference: &CompletionRef,
        argument: &str,
        value: &str,
        context: &Map<String, Value>,
    ) -> Result<CompleteResult> {
        self.complete_with(reference, argument, value, context, &CallOptions::default())
    }

    /// Like [`Session::complete`], with a timeout and cancellation from `options`.
    pub(crate) fn complete_with(
        &self,
        reference: &CompletionRef,
        argument: &str,
        value: &str,
        context: &Map<String, Value>,
        options: &CallOptions,
    ) -> Result<CompleteResult> {
        let mut params =
            json!({ "ref": reference.to_value(), "argument": { "name": argument, "value": value } });
        if !context.is_empty() {
            params["context"] = json!({ "arguments": context });
        }
        let result: Value = self.ask(methods::COMPLETE, &params, options)?;
        serde_json::from_value(result.get("completion").cloned().unwrap_or(Value::Null))
            .map_err(|e| Error::Protocol(format!("invalid completion/complete result: {e}")))
    }

    /// Sets the least severe level of the server's log messages.
    /// (A stateless-era session sends the level with every request instead.)
    pub fn set_log_level(&self, level: LogLevel) -> Result<()> {
        if self.is_modern() {
            self.set_wire_log_level(Some(level));
            return Ok(());
        }
        self.ask::<Value>(
            methods::SET_LOG_LEVEL,
            &json!({ "level": level.as_str() }),
            &CallOptions::default(),
        )
        .map(drop)
    }
}
