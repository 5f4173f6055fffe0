//! The tools that ask the client something while they run: `ask_model`
//! (`sampling/createMessage`), `ask_user` (`elicitation/create`, form mode)
//! and `list_roots` (`roots/list`). The request goes where the tool call's
//! own messages go (stdout over stdio, the call's SSE stream over HTTP), as
//! with `ping_client`; a client that did not declare the capability gets a
//! tool error and no request.
//!
//! In the stateless era (2026-07-28) a server sends no requests: the first
//! call answers `input_required` with the request under a key and a
//! `requestState`, and the client calls again with `inputResponses` under
//! that key and the exact `requestState` (multi round-trip requests).

use std::sync::atomic::Ordering;
use std::time::Duration;

use crossbeam_channel::select;
use serde_json::{Map, Value, json};

use super::{Failure, Outbound, Peer, Pending, Server, ToolResult, Transport};
use crate::resources::base64;
use crate::rpc::{self, RpcError};
use crate::state::CancelToken;
use crate::tools::{self, error_result, text_result};

/// How long a tool waits for the client's answer (a model or a person may be slow).
pub const CLIENT_ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// How a request to the client ended.
enum Answer {
    /// Its `result`.
    Result(Value),
    /// Why there is none, for a tool error.
    Failed(String),
    /// The stateless era: this `input_required` result asks for it.
    InputRequired(Value),
}

/// The `requestState` of a tool call that asks the client: it names the
/// tool and its arguments, so a retry of another call cannot use it.
pub fn request_state(params: &Value) -> String {
    let name = params.get("name").and_then(Value::as_str).unwrap_or("");
    let args = params.get("arguments").map(Value::to_string).unwrap_or_default();
    // FNV-1a over the arguments' text.
    let hash =
        args.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    base64(format!("demo-mrtr-v1:{name}:{hash:016x}").as_bytes())
}

/// The stateless era's round of a tool that asks the client: the answer
/// under `key` in the call's `inputResponses` (with the exact
/// `requestState`), else an `input_required` result asking for it.
fn input_round(call: &Value, key: &str, method: &str, params: Value) -> Result<Answer, Failure> {
    let state = request_state(call);
    let Some(answer) = call.get("inputResponses").and_then(|r| r.get(key)) else {
        return Ok(Answer::InputRequired(json!({
            "resultType": "input_required",
            "inputRequests": {key: {"method": method, "params": params}},
            "requestState": state,
        })));
    };
    if call.get("requestState").and_then(Value::as_str) != Some(state.as_str()) {
        return Err(Failure::Rpc(RpcError::invalid_params(
            "requestState is missing or is not the one this call was given",
        )));
    }
    Ok(Answer::Result(answer.clone()))
}

impl Server {
    /// Sends `method` with `params` to the client and waits for its answer;
    /// `capability` is what the client must have declared.
    #[allow(clippy::too_many_arguments)]
    fn ask_client(
        &self,
        peer: &Peer,
        pending: &Pending,
        (capability, key): (&str, &str),
        method: &str,
        params: Value,
        token: &CancelToken,
        out: &dyn Outbound,
    ) -> Result<Answer, Failure> {
        if let Some(meta) = &pending.modern {
            if !meta.has_capability(capability) {
                return Ok(Answer::Failed(format!(
                    "the client did not declare the {capability} capability, so no {method} input was asked for"
                )));
            }
            return input_round(&pending.params, key, method, params);
        }
        if !peer.state.has_capability(capability) {
            return Ok(Answer::Failed(format!(
                "the client did not declare the {capability} capability, so no {method} request was sent"
            )));
        }
        if peer.transport == Transport::HttpJson {
            return Ok(Answer::Failed(format!(
                "{method} needs SSE: the server answers with plain JSON (--json)"
            )));
        }
        let id = format!("srv-{}", self.next_server_request.fetch_add(1, Ordering::SeqCst) + 1);
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.client_waiters.lock().insert(id.clone(), tx);
        out.send(&rpc::request_with(&id, method, params));
        let answer = select! {
            recv(rx) -> msg => Some(msg.ok()),
            recv(token.receiver()) -> _ => None,
            default(CLIENT_ANSWER_TIMEOUT) => Some(None),
        };
        self.client_waiters.lock().remove(&id);
        match answer {
            None => Err(Failure::Cancelled),
            Some(None) => Ok(Answer::Failed(format!(
                "the client did not answer {method} within {} s",
                CLIENT_ANSWER_TIMEOUT.as_secs()
            ))),
            Some(Some(msg)) => Ok(match (msg.get("result"), msg.get("error")) {
                (_, Some(err)) => {
                    Answer::Failed(format!("the client answered {method} with an error: {err}"))
                }
                (Some(result), None) => Answer::Result(result.clone()),
                (None, None) => Answer::Failed(format!("the client's answer to {method} has no result")),
            }),
        }
    }

    pub(super) fn ask_model(
        &self,
        peer: &Peer,
        pending: &Pending,
        args: &Map<String, Value>,
        token: &CancelToken,
        out: &dyn Outbound,
    ) -> ToolResult {
        let question = tools::arg_str(args, "question")?;
        let params = json!({
            "messages": [{"role": "user", "content": {"type": "text", "text": question}}],
            "systemPrompt": "You are the model of an mcpstore demo client. Answer briefly.",
            "maxTokens": 200,
        });
        let ask = ("sampling", "model_answer");
        Ok(match self.ask_client(peer, pending, ask, "sampling/createMessage", params, token, out)? {
            Answer::InputRequired(asking) => asking,
            Answer::Failed(why) => error_result(why),
            Answer::Result(result) => {
                let text = model_text(&result.get("content").cloned().unwrap_or(Value::Null));
                let model = result.get("model").cloned().unwrap_or(Value::Null);
                json!({"content": [{"type": "text", "text": text}],
                       "structuredContent": {"model": model, "text": text}})
            }
        })
    }

    pub(super) fn ask_user(
        &self,
        peer: &Peer,
        pending: &Pending,
        args: &Map<String, Value>,
        token: &CancelToken,
        out: &dyn Outbound,
    ) -> ToolResult {
        let question = tools::arg_str(args, "question")?;
        let default_name = match args.get("default_name") {
            None | Some(Value::Null) => None,
            Some(_) => Some(tools::arg_str(args, "default_name")?),
        };
        let params = json!({"message": question, "requestedSchema": user_schema(default_name)});
        let ask = ("elicitation", "user_answer");
        Ok(match self.ask_client(peer, pending, ask, "elicitation/create", params, token, out)? {
            Answer::InputRequired(asking) => asking,
            Answer::Failed(why) => error_result(why),
            Answer::Result(result) => match describe_user_answer(&result) {
                Ok(text) => text_result(text),
                Err(why) => error_result(format!("the client's answer does not fit the form: {why}")),
            },
        })
    }

    pub(super) fn list_roots(
        &self,
        peer: &Peer,
        pending: &Pending,
        token: &CancelToken,
        out: &dyn Outbound,
    ) -> ToolResult {
        let ask = ("roots", "client_roots");
        Ok(match self.ask_client(peer, pending, ask, "roots/list", json!({}), token, out)? {
            Answer::InputRequired(asking) => asking,
            Answer::Failed(why) => error_result(why),
            Answer::Result(result) => {
                let roots = result.get("roots").and_then(Value::as_array).cloned().unwrap_or_default();
                let uris: Vec<&str> =
                    roots.iter().filter_map(|r| r.get("uri").and_then(Value::as_str)).collect();
                json!({"content": [{"type": "text", "text": uris.join("\n")}],
                       "structuredContent": {"roots": roots}})
            }
        })
    }
}

/// The form `ask_user` sends; `default_name` becomes the name's default
/// (so a client that accepts with the defaults can answer it).
pub fn user_schema(default_name: Option<&str>) -> Value {
    let mut schema = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "title": "Name", "description": "Your name"},
            "age": {"type": "integer", "title": "Age", "minimum": 0, "maximum": 150, "default": 30},
            "subscribe": {"type": "boolean", "title": "Subscribe to the newsletter", "default": false},
        },
        "required": ["name"],
    });
    if let Some(name) = default_name {
        schema["properties"]["name"]["default"] = json!(name);
    }
    schema
}

/// The text of a sampling result's content: one block, or the text blocks of a list.
fn model_text(content: &Value) -> String {
    let text = |block: &Value| block.get("text").and_then(Value::as_str).map(str::to_owned);
    match content {
        Value::Array(blocks) => blocks.iter().filter_map(text).collect::<Vec<_>>().join("\n"),
        block => text(block).unwrap_or_default(),
    }
}

/// `accept name=.. age=.. subscribe=..` for an accepted form (checked
/// against [`user_schema`]); `decline` or `cancel` otherwise.
fn describe_user_answer(result: &Value) -> Result<String, String> {
    let action = result.get("action").and_then(Value::as_str).ok_or("no action")?;
    match action {
        "accept" => {
            let empty = Map::new();
            let content = result.get("content").and_then(Value::as_object).unwrap_or(&empty);
            let name =
                content.get("name").and_then(Value::as_str).ok_or("name is missing or not a string")?;
            let age = match content.get("age") {
                None => 30,
                Some(v) => {
                    v.as_i64().filter(|a| (0..=150).contains(a)).ok_or("age is not an integer in 0..150")?
                }
            };
            let subscribe = match content.get("subscribe") {
                None => false,
                Some(v) => v.as_bool().ok_or("subscribe is not a boolean")?,
            };
            Ok(format!("accept name={name} age={age} subscribe={subscribe}"))
        }
        "decline" | "cancel" => Ok(action.to_owned()),
        other => Err(format!("unknown action {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{Collect, call, reply, server};
    use super::super::{Admission, Outcome, Peer, Transport};
    use super::*;
    use crate::DemoOptions;
    use std::sync::Arc;

    #[test]
    fn answers_are_described_and_checked() {
        let ok = json!({"action": "accept", "content": {"name": "Ada", "age": 36, "subscribe": true}});
        assert_eq!(describe_user_answer(&ok).unwrap(), "accept name=Ada age=36 subscribe=true");
        let defaults = json!({"action": "accept", "content": {"name": "Ada"}});
        assert_eq!(describe_user_answer(&defaults).unwrap(), "accept name=Ada age=30 subscribe=false");
        assert_eq!(describe_user_answer(&json!({"action": "decline"})).unwrap(), "decline");
        assert!(describe_user_answer(&json!({"action": "accept", "content": {}})).is_err());
        assert!(
            describe_user_answer(&json!({"action": "accept", "content": {"name": "x", "age": 200}})).is_err()
        );
        assert!(describe_user_answer(&json!({"action": "maybe"})).is_err());
        assert_eq!(model_text(&json!({"type": "text", "text": "42"})), "42");
        assert_eq!(
            model_text(
                &json!([{"type": "text", "text": "a"}, {"type": "image"}, {"type": "text", "text": "b"}])
            ),
            "a\nb"
        );
    }

    #[test]
    fn without_the_capability_nothing_is_sent() {
        let s = server(DemoOptions::default());
        let p = Peer::new("t", Transport::Stdio);
        let out = Collect::default();
        reply(call(&s, &p, 1, "initialize", json!({"capabilities": {}}), &out));
        for (tool, cap) in [("ask_model", "sampling"), ("ask_user", "elicitation"), ("list_roots", "roots")] {
            let r = reply(call(
                &s,
                &p,
                2,
                "tools/call",
                json!({"name": tool, "arguments": {"question": "q"}}),
                &out,
            ));
            assert_eq!(r["result"]["isError"], true, "{tool}");
            assert!(r["result"]["content"][0]["text"].as_str().unwrap().contains(cap), "{r}");
        }
        assert!(out.0.borrow().is_empty(), "no request went to the client");
    }

    /// Runs `tool` on a thread, answers the request it sends with `answer`, returns the tool's result.
    fn round_trip(tool: &str, caps: Value, answer: Value) -> (Value, Value) {
        let s = Arc::new(server(DemoOptions::default()));
        let p = Peer::new("t", Transport::Stdio);
        reply(call(&s, &p, 1, "initialize", json!({"capabilities": caps}), &Collect::default()));
        let (tx, rx) = crossbeam_channel::unbounded();
        struct Chan(crossbeam_channel::Sender<Value>);
        impl Outbound for Chan {
            fn send(&self, msg: &Value) {
                let _ = self.0.send(msg.clone());
            }
        }
        let (s2, p2, name) = (s.clone(), p.clone(), tool.to_owned());
        let h = std::thread::spawn(move || {
            let params = json!({"name": name, "arguments": {"question": "What now?"}});
            match s2.admit(&p2, json!(9), "tools/call".into(), params) {
                Admission::Run(pending) => match s2.execute(&p2, pending, &Chan(tx)) {
                    Outcome::Reply(v) => v,
                    other => panic!("{other:?}"),
                },
                Admission::Hang | Admission::Answer(_) => panic!("not run"),
            }
        });
        let request = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        s.client_response(&request["id"], json!({"jsonrpc": "2.0", "id": request["id"], "result": answer}));
        (request, h.join().unwrap())
    }

    #[test]
    fn requests_go_out_and_answers_come_back() {
        let (req, r) = round_trip(
            "ask_model",
            json!({"sampling": {}}),
            json!({"role": "assistant", "content": {"type": "text", "text": "42"}, "model": "m"}),
        );
        assert_eq!(req["method"], "sampling/createMessage");
        assert_eq!(req["params"]["messages"][0]["content"]["text"], "What now?");
        assert_eq!(r["result"]["content"][0]["text"], "42");
        let (req, r) = round_trip(
            "ask_user",
            json!({"elicitation": {"form": {}}}),
            json!({"action": "accept", "content": {"name": "Ada"}}),
        );
        assert_eq!(req["method"], "elicitation/create");
        assert_eq!(req["params"]["requestedSchema"]["required"], json!(["name"]));
        assert_eq!(r["result"]["content"][0]["text"], "accept name=Ada age=30 subscribe=false");
        let (req, r) = round_trip(
            "list_roots",
            json!({"roots": {}}),
            json!({"roots": [{"uri": "file:///a"}, {"uri": "file:///b", "name": "b"}]}),
        );
        assert_eq!(req["method"], "roots/list");
        assert_eq!(r["result"]["content"][0]["text"], "file:///a\nfile:///b");
    }
}
