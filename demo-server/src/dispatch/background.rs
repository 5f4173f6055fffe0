//! Messages that belong to no request, sent on the clients' background
//! channels (stdout over stdio, the listening stream over HTTP):
//! `write_note`'s resource notifications, `notify_later`'s list change,
//! `--log-every`'s ticks; and `drop_listen_streams`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::{Peer, Server};
use crate::feature_tools::MAX_NOTIFY_DELAY_MS;
use crate::peers::Peers;
use crate::resources;
use crate::rpc::{self, RpcError};
use crate::tools::{self, text_result};

/// The levels `--log-every` cycles through.
const TICK_LEVELS: [&str; 5] = ["debug", "info", "notice", "warning", "error"];
/// How often a sleeping background thread looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(50);

/// Sleeps `total` unless `stop` is set first; whether the whole time passed.
fn sleep_unless(stop: &AtomicBool, total: Duration) -> bool {
    let deadline = Instant::now() + total;
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(STOP_POLL));
    }
}

fn name_arg(args: &Map<String, Value>, required: bool) -> Result<Option<&str>, RpcError> {
    if !required && args.get("name").is_none_or(Value::is_null) {
        return Ok(None);
    }
    let name = tools::arg_str(args, "name")?;
    if !resources::valid_note_name(name) {
        return Err(RpcError::invalid_params(format!(
            "Invalid argument \"name\": {name:?} must be 1-64 characters of A-Z a-z 0-9 _ - ."
        )));
    }
    Ok(Some(name))
}

impl Server {
    pub(super) fn write_note(&self, args: &Map<String, Value>) -> Result<Value, RpcError> {
        let name = name_arg(args, true)?.unwrap_or_default();
        let text = tools::arg_str(args, "text")?;
        let created = self.catalog.write_note(name, text);
        let uri = resources::note_uri(name);
        if created {
            let changed = rpc::notification("notifications/resources/list_changed", Value::Null);
            self.peers.broadcast(&changed, |_| true);
            self.subscriptions.list_changed("resources");
        }
        let params = json!({"uri": uri});
        let updated = rpc::notification("notifications/resources/updated", params.clone());
        self.peers.broadcast(&updated, |p| p.is_subscribed(&uri));
        self.subscriptions.notify("notifications/resources/updated", &params, |f| f.uris.contains(&uri));
        let verb = if created { "created" } else { "updated" };
        Ok(json!({"content": [{"type": "text", "text": format!("{verb} {uri}")}],
                  "structuredContent": {"uri": uri, "created": created}}))
    }

    /// `notify_later`: the change goes on the caller's listening stream (the
    /// handshake era), or to every subscription that wants it (stateless).
    pub(super) fn notify_later(
        &self,
        peer: &Peer,
        modern: bool,
        args: &Map<String, Value>,
    ) -> Result<Value, RpcError> {
        let kind = tools::arg_str(args, "kind")?;
        if !matches!(kind, "tools" | "resources" | "prompts") {
            return Err(RpcError::invalid_params(format!(
                "Invalid argument \"kind\": {kind:?} is not one of tools, resources, prompts"
            )));
        }
        let delay = Duration::from_millis(tools::arg_u64(args, "delay_ms", MAX_NOTIFY_DELAY_MS)?);
        let name = name_arg(args, false)?.map(str::to_owned);
        let method = format!("notifications/{kind}/list_changed");
        let (kind, state, catalog, stop) =
            (kind.to_owned(), peer.state.clone(), self.catalog.clone(), self.stopping.clone());
        let subscriptions = self.subscriptions.clone();
        let spawned = std::thread::Builder::new().name("demo-notify-later".into()).spawn(move || {
            if !sleep_unless(&stop, delay) {
                return;
            }
            match (kind.as_str(), name.as_deref()) {
                ("tools", Some(n)) if !tools::is_builtin(n) => {
                    catalog.add_tool(n);
                }
                ("resources", Some(n)) if catalog.note(n).is_none() => {
                    catalog.write_note(n, "added by notify_later");
                }
                ("prompts", Some(n)) => {
                    catalog.add_prompt(n);
                }
                _ => {}
            }
            if modern {
                subscriptions.list_changed(&kind);
            } else {
                state.background().send(&rpc::notification(&method, Value::Null));
            }
        });
        if spawned.is_err() {
            return Ok(tools::error_result("cannot start a thread for notify_later"));
        }
        let added = match args.get("name").and_then(Value::as_str) {
            Some(n) => format!(" after adding {n}"),
            None => String::new(),
        };
        Ok(text_result(format!(
            "will send notifications/{}/list_changed in {} ms{added}",
            tools::arg_str(args, "kind")?,
            delay.as_millis()
        )))
    }

    /// Ends the caller's listening streams (the handshake era), or every
    /// subscription (stateless: there is no caller to tell apart).
    pub(super) fn drop_listen_streams(&self, peer: &Peer, modern: bool) -> Value {
        let n = if modern { self.subscriptions.end_all() } else { peer.state.background().drop_streams() };
        text_result(format!("closed {n} listening stream{}", if n == 1 { "" } else { "s" }))
    }
}

/// `--log-every`: a thread that sends every initialized client a log
/// message every `every`, levels cycling, until `stop`.
pub(super) fn start_ticker(peers: Arc<Peers>, stop: Arc<AtomicBool>, every: Duration) {
    let spawned = std::thread::Builder::new().name("demo-ticker".into()).spawn(move || {
        let mut n: u64 = 0;
        while sleep_unless(&stop, every) {
            n += 1;
            let level = TICK_LEVELS[((n - 1) % TICK_LEVELS.len() as u64) as usize];
            let idx = tools::LOG_LEVELS.iter().position(|l| *l == level).unwrap_or(0);
            let msg = rpc::notification(
                "notifications/message",
                json!({"level": level, "logger": "demo.ticker", "data": format!("tick {n}")}),
            );
            peers.broadcast(&msg, |p| idx >= p.min_log_level());
        }
    });
    if spawned.is_err() {
        log::warn!("demo server: cannot start the --log-every thread");
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{Collect, call, reply, server};
    use super::*;
    use crate::DemoOptions;
    use crate::peers::{Background, Transport};
    use parking_lot::Mutex;

    #[derive(Default)]
    struct Keep(Mutex<Vec<Value>>);
    impl Background for Keep {
        fn send(&self, msg: &Value) {
            self.0.lock().push(msg.clone());
        }
        fn drop_streams(&self) -> usize {
            2
        }
    }

    fn methods(k: &Keep) -> Vec<String> {
        k.0.lock().iter().map(|m| m["method"].as_str().unwrap_or("").to_owned()).collect()
    }

    fn client(s: &Server) -> (Peer, Arc<Keep>) {
        let keep = Arc::new(Keep::default());
        let p = Peer::with_background("k", Transport::Stdio, keep.clone());
        s.register(&p);
        s.notification(&p, "notifications/initialized", &Value::Null);
        (p, keep)
    }

    #[test]
    fn write_note_notifies_subscribers_and_everyone_of_new_notes() {
        let s = server(DemoOptions::default());
        let (a, kept_a) = client(&s);
        let (b, kept_b) = client(&s);
        let out = Collect::default();
        reply(call(&s, &a, 1, "resources/subscribe", json!({"uri": "demo://notes/x"}), &out));
        let write = |text: &str| json!({"name": "write_note", "arguments": {"name": "x", "text": text}});
        let r = reply(call(&s, &b, 2, "tools/call", write("one"), &out));
        assert_eq!(r["result"]["structuredContent"]["created"], true);
        assert_eq!(
            methods(&kept_a),
            ["notifications/resources/list_changed", "notifications/resources/updated"]
        );
        assert_eq!(kept_a.0.lock()[1]["params"]["uri"], "demo://notes/x");
        assert_eq!(methods(&kept_b), ["notifications/resources/list_changed"], "b is not subscribed");
        reply(call(&s, &b, 3, "tools/call", write("two"), &out));
        assert_eq!(methods(&kept_a).len(), 3, "a rewrite: only the update");
        assert_eq!(methods(&kept_b).len(), 1);
        assert!(out.0.borrow().is_empty(), "nothing went on the request's own stream");
        let r = reply(call(&s, &b, 4, "resources/read", json!({"uri": "demo://notes/x"}), &out));
        assert_eq!(r["result"]["contents"][0]["text"], "two");
        let bad = json!({"name": "write_note", "arguments": {"name": "a b", "text": ""}});
        assert_eq!(reply(call(&s, &b, 5, "tools/call", bad, &out))["error"]["code"], -32602);
        drop(b);
    }

    #[test]
    fn notify_later_adds_then_notifies_in_the_background() {
        let s = server(DemoOptions::default());
        let (p, kept) = client(&s);
        let out = Collect::default();
        for (id, kind) in [(1, "tools"), (2, "resources"), (3, "prompts")] {
            let args = json!({"kind": kind, "delay_ms": 10, "name": format!("late_{kind}")});
            let r = reply(call(
                &s,
                &p,
                id,
                "tools/call",
                json!({"name": "notify_later", "arguments": args}),
                &out,
            ));
            assert!(r["result"]["content"][0]["text"].as_str().unwrap().starts_with("will send"), "{r}");
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while kept.0.lock().len() < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut got = methods(&kept);
        got.sort();
        assert_eq!(
            got,
            [
                "notifications/prompts/list_changed",
                "notifications/resources/list_changed",
                "notifications/tools/list_changed"
            ]
        );
        assert!(s.catalog.has_tool("late_tools") && s.catalog.note("late_resources").is_some());
        assert_eq!(s.catalog.prompts(), ["late_prompts"]);
        let bad = json!({"name": "notify_later", "arguments": {"kind": "things", "delay_ms": 1}});
        assert_eq!(reply(call(&s, &p, 9, "tools/call", bad, &out))["error"]["code"], -32602);
        let r = reply(call(&s, &p, 10, "tools/call", json!({"name": "drop_listen_streams"}), &out));
        assert_eq!(r["result"]["content"][0]["text"], "closed 2 listening streams");
    }

    #[test]
    fn ticks_follow_each_clients_level() {
        let s = Arc::new(server(DemoOptions { log_every_ms: Some(5), ..Default::default() }));
        let (quiet, kept_quiet) = client(&s);
        let (_loud, kept_loud) = client(&s);
        quiet.state.set_min_log_level(tools::LOG_LEVELS.iter().position(|l| *l == "warning").unwrap());
        s.start_background();
        let deadline = Instant::now() + Duration::from_secs(10);
        while kept_loud.0.lock().len() < 10 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        s.shutdown();
        let levels = |k: &Keep| -> Vec<String> {
            k.0.lock().iter().map(|m| m["params"]["level"].as_str().unwrap().to_owned()).collect()
        };
        let loud = levels(&kept_loud);
        assert!(loud.len() >= 10, "{loud:?}");
        assert_eq!(&loud[..5], ["debug", "info", "notice", "warning", "error"]);
        assert!(levels(&kept_quiet).iter().all(|l| l == "warning" || l == "error"));
        assert!(!levels(&kept_quiet).is_empty());
    }
}
