//! The server features besides tools: resources (list, templates, read,
//! subscribe), prompts (list, get) and completions; paginated lists.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::{Peer, Server};
use crate::completion;
use crate::prompts;
use crate::resources;
use crate::rpc::{RESOURCE_NOT_FOUND, RpcError};
use crate::tools;

fn uri_param(params: &Value) -> Result<&str, RpcError> {
    params
        .get("uri")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params("Missing or invalid params.uri: expected a string"))
}

impl Server {
    /// One page of `all` as `{key: [...], nextCursor?}`, after `params.cursor`.
    pub(super) fn page(&self, all: Vec<Value>, params: &Value, key: &str) -> Result<Value, RpcError> {
        let cursor = match params.get("cursor") {
            None | Some(Value::Null) => None,
            Some(Value::String(c)) => Some(c.as_str()),
            Some(_) => return Err(RpcError::invalid_params("Invalid cursor: expected a string")),
        };
        let (page, next) = tools::paginate(all, cursor, self.opts.page_size)?;
        let mut result = Map::new();
        result.insert(key.to_owned(), Value::Array(page));
        if let Some(next) = next {
            result.insert("nextCursor".into(), Value::String(next));
        }
        Ok(Value::Object(result))
    }

    /// The root whose files are resources: only one given with `--root`.
    fn resource_root(&self) -> Option<&Path> {
        self.opts.root.as_ref().map(|_| self.root.as_path())
    }

    pub(super) fn list_resources(&self, params: &Value) -> Result<Value, RpcError> {
        self.page(resources::list(&self.catalog, self.resource_root()), params, "resources")
    }

    pub(super) fn list_templates(&self, params: &Value) -> Result<Value, RpcError> {
        self.page(resources::templates(), params, "resourceTemplates")
    }

    pub(super) fn read_resource(&self, params: &Value) -> Result<Value, RpcError> {
        resources::read(uri_param(params)?, &self.catalog, self.resource_root())
    }

    pub(super) fn subscribe(&self, peer: &Peer, params: &Value) -> Result<Value, RpcError> {
        let uri = uri_param(params)?;
        if !resources::subscribable(uri, self.resource_root()) {
            return Err(RpcError { code: RESOURCE_NOT_FOUND, message: format!("Resource not found: {uri}") });
        }
        peer.state.subscribe(uri);
        Ok(json!({}))
    }

    pub(super) fn unsubscribe(&self, peer: &Peer, params: &Value) -> Result<Value, RpcError> {
        peer.state.unsubscribe(uri_param(params)?);
        Ok(json!({}))
    }

    pub(super) fn list_prompts(&self, params: &Value) -> Result<Value, RpcError> {
        self.page(prompts::list(&self.catalog.prompts()), params, "prompts")
    }

    pub(super) fn get_prompt(&self, params: &Value) -> Result<Value, RpcError> {
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::invalid_params("Missing or invalid params.name: expected a string"))?;
        let empty = Map::new();
        let args = match params.get("arguments") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(m)) => m,
            Some(_) => return Err(RpcError::invalid_params("Invalid arguments: expected an object")),
        };
        prompts::get(name, args, &self.catalog.prompts())
    }

    pub(super) fn complete(&self, params: &Value) -> Result<Value, RpcError> {
        let names: Vec<String> = prompts::list(&self.catalog.prompts())
            .iter()
            .filter_map(|p| p.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect();
        completion::complete(params, &names, &self.catalog.note_names())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{Collect, call, reply, server};
    use super::super::{Peer, Transport};
    use crate::DemoOptions;
    use serde_json::{Value, json};

    /// Every item of a paginated list, following `nextCursor`.
    fn all_pages(s: &crate::dispatch::Server, p: &Peer, method: &str, key: &str) -> (Vec<Value>, usize) {
        let out = Collect::default();
        let (mut items, mut pages, mut cursor) = (Vec::new(), 0, Value::Null);
        loop {
            let r = reply(call(s, p, 100 + pages as i64, method, json!({"cursor": cursor}), &out));
            items.extend(r["result"][key].as_array().unwrap().iter().cloned());
            pages += 1;
            cursor = r["result"].get("nextCursor").cloned().unwrap_or(Value::Null);
            if cursor.is_null() {
                return (items, pages);
            }
        }
    }

    #[test]
    fn capabilities_name_every_feature() {
        let s = server(DemoOptions::default());
        let p = Peer::new("t", Transport::Stdio);
        let out = Collect::default();
        let caps = json!({"sampling": {}});
        let r = reply(call(&s, &p, 1, "initialize", json!({"capabilities": caps}), &out));
        let c = &r["result"]["capabilities"];
        assert_eq!(c["resources"], json!({"subscribe": true, "listChanged": true}));
        assert_eq!(c["prompts"], json!({"listChanged": true}));
        assert_eq!(c["completions"], json!({}));
        assert_eq!(c["logging"], json!({}));
        assert!(p.state.has_capability("sampling") && !p.state.has_capability("roots"));
    }

    #[test]
    fn resources_paginate_read_and_subscribe() {
        let s = server(DemoOptions { page_size: 1, ..Default::default() });
        let p = Peer::new("t", Transport::Stdio);
        let out = Collect::default();
        s.catalog.write_note("a", "note a");
        let (items, pages) = all_pages(&s, &p, "resources/list", "resources");
        let uris: Vec<&str> = items.iter().map(|r| r["uri"].as_str().unwrap()).collect();
        assert_eq!(uris, ["demo://docs/readme", "demo://docs/logo.png", "demo://notes/a"]);
        assert_eq!(pages, 3);
        let (templates, _) = all_pages(&s, &p, "resources/templates/list", "resourceTemplates");
        assert_eq!(templates[0]["uriTemplate"], "demo://notes/{name}");
        let r = reply(call(&s, &p, 1, "resources/read", json!({"uri": "demo://notes/a"}), &out));
        assert_eq!(r["result"]["contents"][0]["text"], "note a");
        let r = reply(call(&s, &p, 2, "resources/read", json!({"uri": "demo://notes/b"}), &out));
        assert_eq!(r["error"]["code"], -32002);
        let r = reply(call(&s, &p, 3, "resources/read", json!({}), &out));
        assert_eq!(r["error"]["code"], -32602);
        let r = reply(call(&s, &p, 4, "resources/subscribe", json!({"uri": "demo://notes/b"}), &out));
        assert_eq!(r["result"], json!({}));
        assert!(p.state.is_subscribed("demo://notes/b"));
        let r = reply(call(&s, &p, 5, "resources/subscribe", json!({"uri": "nothing://x"}), &out));
        assert_eq!(r["error"]["code"], -32002);
        let r = reply(call(&s, &p, 6, "resources/unsubscribe", json!({"uri": "demo://notes/b"}), &out));
        assert_eq!(r["result"], json!({}));
        assert!(!p.state.is_subscribed("demo://notes/b"));
    }

    #[test]
    fn prompts_and_completions() {
        let s = server(DemoOptions { page_size: 1, ..Default::default() });
        let p = Peer::new("t", Transport::Stdio);
        let out = Collect::default();
        let (prompts, pages) = all_pages(&s, &p, "prompts/list", "prompts");
        assert_eq!(prompts.len(), 2);
        assert_eq!(pages, 2);
        let get = json!({"name": "summarize", "arguments": {"topic": "pools", "style": "detailed"}});
        let r = reply(call(&s, &p, 1, "prompts/get", get, &out));
        assert!(
            r["result"]["messages"][0]["content"]["text"]
                .as_str()
                .unwrap()
                .contains("detailed summary of pools")
        );
        let r = reply(call(&s, &p, 2, "prompts/get", json!({"name": "summarize"}), &out));
        assert_eq!(r["error"]["code"], -32602);
        let r = reply(call(&s, &p, 3, "prompts/get", json!({"name": "nope"}), &out));
        assert_eq!(r["error"]["code"], -32602);
        let styles = json!({"ref": {"type": "ref/prompt", "name": "summarize"}, "argument": {"name": "style", "value": "d"}});
        let r = reply(call(&s, &p, 4, "completion/complete", styles, &out));
        assert_eq!(r["result"]["completion"]["values"], json!(["detailed"]));
        s.catalog.write_note("shopping", "milk");
        s.catalog.write_note("shows", "x");
        s.catalog.write_note("work", "y");
        let names = json!({"ref": {"type": "ref/resource", "uri": "demo://notes/{name}"}, "argument": {"name": "name", "value": "sh"}});
        let r = reply(call(&s, &p, 5, "completion/complete", names, &out));
        assert_eq!(r["result"]["completion"]["values"], json!(["shopping", "shows"]));
    }
}
