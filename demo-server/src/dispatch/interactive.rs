//! The tools that talk to the client while they run: `sleep` (progress
//! notifications, cancellation), `ping_client` (a server-to-client request),
//! `log` (log notifications at the session's level) and `add_tool` (a
//! changed tool list).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::select;
use serde_json::{Map, Value, json};

use super::{Failure, Outbound, PING_CLIENT_TIMEOUT, Peer, Server, ToolResult, Transport};
use crate::modern::RequestMeta;
use crate::rpc::{self, RpcError};
use crate::state::CancelToken;
use crate::tools::{self, error_result, text_result};

impl Server {
    pub(super) fn sleep(
        &self,
        args: &Map<String, Value>,
        progress: Option<&Value>,
        token: &CancelToken,
        out: &dyn Outbound,
    ) -> ToolResult {
        let ms = tools::arg_u64(args, "ms", tools::MAX_SLEEP_MS)?;
        let total = Duration::from_millis(ms);
        match progress {
            Some(progress_token) if ms > 0 => {
                let start = Instant::now();
                for step in 1..=10u64 {
                    let target = total * step as u32 / 10;
                    let elapsed = start.elapsed();
                    if target > elapsed && !token.sleep(target - elapsed) {
                        return Err(Failure::Cancelled);
                    }
                    let done = ms * step;
                    let value =
                        if done % 10 == 0 { Value::from(done / 10) } else { Value::from(done as f64 / 10.0) };
                    out.send(&rpc::notification(
                        "notifications/progress",
                        json!({
                            "progressToken": progress_token,
                            "progress": value,
                            "total": ms,
                            "message": format!("slept {value} of {ms} ms"),
                        }),
                    ));
                }
            }
            _ => {
                if !token.sleep(total) {
                    return Err(Failure::Cancelled);
                }
            }
        }
        Ok(text_result(format!("slept {ms} ms")))
    }

    pub(super) fn ping_client(&self, peer: &Peer, token: &CancelToken, out: &dyn Outbound) -> ToolResult {
        if peer.transport == Transport::HttpJson {
            return Ok(error_result("ping_client needs SSE: the server answers with plain JSON (--json)"));
        }
        let id = format!("srv-{}", self.next_server_request.fetch_add(1, Ordering::SeqCst) + 1);
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.client_waiters.lock().insert(id.clone(), tx);
        out.send(&rpc::request(&id, "ping"));
        let answer = select! {
            recv(rx) -> msg => Some(msg.ok()),
            recv(token.receiver()) -> _ => None,
            default(PING_CLIENT_TIMEOUT) => Some(None),
        };
        self.client_waiters.lock().remove(&id);
        match answer {
            None => Err(Failure::Cancelled),
            Some(None) => Ok(error_result(format!(
                "the client did not answer ping {id} within {} s",
                PING_CLIENT_TIMEOUT.as_secs()
            ))),
            Some(Some(msg)) => match msg.get("error") {
                Some(err) => Ok(error_result(format!("the client answered ping {id} with an error: {err}"))),
                None => Ok(text_result("pong")),
            },
        }
    }

    /// `log`: the level the client wants is its `logging/setLevel`, or in
    /// the stateless era the request's own (none: no message at all).
    pub(super) fn log(
        &self,
        peer: &Peer,
        modern: Option<&RequestMeta>,
        args: &Map<String, Value>,
        out: &dyn Outbound,
    ) -> Result<Value, RpcError> {
        let level = tools::arg_str(args, "level")?;
        let message = tools::arg_str(args, "message")?;
        let idx = tools::LOG_LEVELS.iter().position(|l| *l == level).ok_or_else(|| {
            RpcError::invalid_params(format!(
                "Invalid argument \"level\": {level:?} is not one of {}",
                tools::LOG_LEVELS.join(", ")
            ))
        })?;
        let wanted = match modern {
            Some(meta) => meta.log_level.is_some_and(|min| idx >= min),
            None => idx >= peer.state.min_log_level(),
        };
        if wanted {
            out.send(&rpc::notification(
                "notifications/message",
                json!({"level": level, "logger": "demo", "data": message}),
            ));
        }
        Ok(text_result("logged"))
    }

    /// Announces a changed tool list: on the request's own stream (the
    /// handshake era), to the subscriptions that want it (the stateless era).
    pub(super) fn tools_changed(&self, modern: bool, out: &dyn Outbound) {
        if modern {
            self.subscriptions.list_changed("tools");
        } else {
            out.send(&rpc::notification("notifications/tools/list_changed", Value::Null));
        }
    }

    pub(super) fn add_tool(
        &self,
        args: &Map<String, Value>,
        modern: bool,
        out: &dyn Outbound,
    ) -> Result<Value, RpcError> {
        let name = tools::arg_str(args, "name")?;
        if !tools::valid_tool_name(name) {
            return Err(RpcError::invalid_params(format!(
                "Invalid argument \"name\": {name:?} must be 1-64 characters of A-Z a-z 0-9 _ - ."
            )));
        }
        if tools::is_builtin(name) {
            return Ok(error_result(format!("tool {name:?} already exists (built-in)")));
        }
        self.catalog.add_tool(name);
        self.tools_changed(modern, out);
        Ok(text_result(format!("added tool {name}")))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{Collect, call, reply, server};
    use super::super::{Outcome, Peer, Transport};
    use crate::DemoOptions;
    use serde_json::json;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn log_respects_level() {
        let s = server(DemoOptions::default());
        let p = Peer::new("t", Transport::Stdio);
        let out = Collect::default();
        reply(call(&s, &p, 1, "logging/setLevel", json!({"level": "warning"}), &out));
        reply(call(
            &s,
            &p,
            2,
            "tools/call",
            json!({"name": "log", "arguments": {"level": "info", "message": "a"}}),
            &out,
        ));
        assert!(out.0.borrow().is_empty());
        let r = reply(call(
            &s,
            &p,
            3,
            "tools/call",
            json!({"name": "log", "arguments": {"level": "error", "message": "b"}}),
            &out,
        ));
        assert_eq!(r["result"]["content"][0]["text"], "logged");
        assert_eq!(out.0.borrow()[0]["params"], json!({"level": "error", "logger": "demo", "data": "b"}));
        let r = reply(call(
            &s,
            &p,
            4,
            "tools/call",
            json!({"name": "log", "arguments": {"level": "loud", "message": "b"}}),
            &out,
        ));
        assert_eq!(r["error"]["code"], -32602);
    }

    #[test]
    fn sleep_progress_and_cancel() {
        let s = Arc::new(server(DemoOptions::default()));
        let p = Peer::new("t", Transport::Stdio);
        let out = Collect::default();
        let r = reply(call(
            &s,
            &p,
            1,
            "tools/call",
            json!({"name": "sleep", "arguments": {"ms": 20}, "_meta": {"progressToken": "tok"}}),
            &out,
        ));
        assert_eq!(r["result"]["content"][0]["text"], "slept 20 ms");
        let notes = out.0.borrow();
        assert_eq!(notes.len(), 10);
        assert_eq!(notes[9]["params"]["progress"], 20);
        assert_eq!(notes[9]["params"]["total"], 20);
        assert_eq!(notes[0]["params"]["progressToken"], "tok");
        drop(notes);

        let s2 = s.clone();
        let p2 = p.clone();
        let h = std::thread::spawn(move || {
            let out = Collect::default();
            matches!(
                call(&s2, &p2, 7, "tools/call", json!({"name": "sleep", "arguments": {"ms": 10000}}), &out),
                Some(Outcome::Silent)
            )
        });
        std::thread::sleep(Duration::from_millis(50));
        s.notification(&p, "notifications/cancelled", &json!({"requestId": 7}));
        assert!(h.join().unwrap());
        let st = s.stats.snapshot();
        assert_eq!(st["cancelled"], 1);
        assert_eq!(st["cancelled_ids"], json!([7]));
    }

    #[test]
    fn ping_client_json_mode_needs_sse() {
        let s = server(DemoOptions::default());
        let p = Peer::new("t", Transport::HttpJson);
        let out = Collect::default();
        let r = reply(call(&s, &p, 1, "tools/call", json!({"name": "ping_client"}), &out));
        assert_eq!(r["result"]["isError"], true);
    }
}
