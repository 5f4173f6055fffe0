//! `subscriptions/listen` (2026-07-28): the stateless era's notification
//! streams. Each listen request is a [`Subscription`] with the filter it
//! asked for; list changes and resource updates go to the subscriptions
//! that want them, tagged with `_meta.subscriptionId` (the listen request's
//! id). The first message of each is `notifications/subscriptions/acknowledged`.
//!
//! Over stdio the messages go to stdout, and the client ends a subscription
//! with `notifications/cancelled`; over HTTP the listen POST's response is a
//! long-lived SSE stream ([`ListenStream`]) that ends when the client closes
//! it. There is no resumption in this era: a stream that breaks is gone.

use std::collections::{BTreeSet, HashMap};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;
use serde_json::{Map, Value, json};

use super::modern::keys;
use super::peers::Background;
use super::rpc::{self, RpcError};
use super::sse;

/// How long an open HTTP listen stream stays silent before it sends a comment.
pub const KEEPALIVE: Duration = Duration::from_secs(1);
/// How often a waiting stream looks at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// What a subscription asked for (`params.notifications`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// `toolsListChanged`.
    pub tools: bool,
    /// `promptsListChanged`.
    pub prompts: bool,
    /// `resourcesListChanged`.
    pub resources: bool,
    /// `resourceSubscriptions`.
    pub uris: BTreeSet<String>,
}

impl Filter {
    /// Reads `params.notifications` (required); unknown kinds (`taskIds`:
    /// the server has no tasks) are left out of the acknowledgement.
    pub fn parse(params: &Value) -> Result<Filter, RpcError> {
        let n = params
            .get("notifications")
            .and_then(Value::as_object)
            .ok_or_else(|| RpcError::invalid_params("Missing params.notifications (an object)"))?;
        let flag = |k: &str| n.get(k).and_then(Value::as_bool).unwrap_or(false);
        let uris = match n.get("resourceSubscriptions") {
            None | Some(Value::Null) => BTreeSet::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|u| u.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| RpcError::invalid_params("resourceSubscriptions must be strings"))?,
            Some(_) => return Err(RpcError::invalid_params("resourceSubscriptions must be an array")),
        };
        Ok(Filter {
            tools: flag("toolsListChanged"),
            prompts: flag("promptsListChanged"),
            resources: flag("resourcesListChanged"),
            uris,
        })
    }

    /// What the server agreed to send (the acknowledgement's `notifications`).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (on, key) in [
            (self.tools, "toolsListChanged"),
            (self.prompts, "promptsListChanged"),
            (self.resources, "resourcesListChanged"),
        ] {
            if on {
                m.insert(key.into(), Value::Bool(true));
            }
        }
        if !self.uris.is_empty() {
            m.insert("resourceSubscriptions".into(), json!(self.uris));
        }
        Value::Object(m)
    }

    /// Whether `notifications/<kind>/list_changed` is wanted.
    pub fn wants_list(&self, kind: &str) -> bool {
        match kind {
            "tools" => self.tools,
            "prompts" => self.prompts,
            "resources" => self.resources,
            _ => false,
        }
    }
}

/// Where a subscription's messages go.
pub trait Sink: Send + Sync {
    /// Sends one message.
    fn send(&self, msg: &Value);
    /// Ends the subscription from the server's side, abruptly (HTTP: the
    /// connection is closed) or with `notifications/cancelled` (stdio).
    fn end(&self, id: &Value);
}

/// One listen request.
pub struct Subscription {
    /// The listen request's id (the subscription id).
    pub id: Value,
    /// What it asked for.
    pub filter: Filter,
    sink: Arc<dyn Sink>,
}

impl Subscription {
    /// Sends `method` with `params` (an object or null), tagged with this subscription's id.
    fn deliver(&self, method: &str, params: &Value) {
        let mut p = params.as_object().cloned().unwrap_or_default();
        p.insert("_meta".into(), json!({ keys::SUBSCRIPTION_ID: self.id }));
        self.sink.send(&rpc::notification(method, Value::Object(p)));
    }
}

/// Every live subscription of the process.
#[derive(Default)]
pub struct Subscriptions {
    live: Mutex<Vec<Weak<Subscription>>>,
    /// The stdio ones (nothing else holds them), by cancellation key.
    held: Mutex<HashMap<String, Arc<Subscription>>>,
}

impl Subscriptions {
    /// Starts a subscription: acknowledges it on `sink` and registers it.
    /// `hold_as`: keep it alive here under that key (stdio), else the caller
    /// holds it (the HTTP stream).
    pub fn start(
        &self,
        id: Value,
        filter: Filter,
        sink: Arc<dyn Sink>,
        hold_as: Option<String>,
    ) -> Arc<Subscription> {
        let sub = Arc::new(Subscription { id, filter, sink });
        sub.deliver(
            "notifications/subscriptions/acknowledged",
            &json!({"notifications": sub.filter.to_json()}),
        );
        let mut live = self.live.lock();
        live.retain(|s| s.strong_count() > 0);
        live.push(Arc::downgrade(&sub));
        drop(live);
        if let Some(key) = hold_as {
            self.held.lock().insert(key, sub.clone());
        }
        sub
    }

    /// Ends the stdio subscription under `key` (the client cancelled it).
    pub fn forget(&self, key: &str) -> bool {
        self.held.lock().remove(key).is_some()
    }

    fn all(&self) -> Vec<Arc<Subscription>> {
        let mut live = self.live.lock();
        live.retain(|s| s.strong_count() > 0);
        live.iter().filter_map(Weak::upgrade).collect()
    }

    /// Sends `method` with `params` to every subscription whose filter `wants` it.
    pub fn notify(&self, method: &str, params: &Value, wants: impl Fn(&Filter) -> bool) -> usize {
        let mut n = 0;
        for sub in self.all() {
            if wants(&sub.filter) {
                sub.deliver(method, params);
                n += 1;
            }
        }
        n
    }

    /// `notifications/<kind>/list_changed` to the subscriptions that want it.
    pub fn list_changed(&self, kind: &str) -> usize {
        self.notify(&format!("notifications/{kind}/list_changed"), &Value::Null, |f| f.wants_list(kind))
    }

    /// Ends every subscription from the server's side; how many there were.
    pub fn end_all(&self) -> usize {
        let subs = self.all();
        self.held.lock().clear();
        for sub in &subs {
            sub.sink.end(&sub.id);
        }
        subs.len()
    }
}

/// A stdio subscription's sink: stdout (the connection's background channel).
pub struct LineSink(pub Arc<dyn Background>);

impl Sink for LineSink {
    fn send(&self, msg: &Value) {
        self.0.send(msg);
    }

    fn end(&self, id: &Value) {
        let reason = "the server ended the subscription";
        self.0
            .send(&rpc::notification("notifications/cancelled", json!({"requestId": id, "reason": reason})));
    }
}

/// An HTTP subscription's sink: the events of its stream.
pub struct StreamSink {
    tx: Sender<Vec<u8>>,
    conn: Mutex<Option<TcpStream>>,
    ended: AtomicBool,
}

impl Sink for StreamSink {
    fn send(&self, msg: &Value) {
        if let Ok(data) = serde_json::to_vec(msg) {
            let _ = self.tx.send(sse::event(None, &data));
        }
    }

    fn end(&self, _id: &Value) {
        self.ended.store(true, Ordering::SeqCst);
        if let Some(conn) = self.conn.lock().take() {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}

/// The body of an HTTP listen response: the acknowledgement, then each
/// message as it comes (comments while idle), until the client closes it,
/// the server ends it or stops.
pub struct ListenStream {
    /// Holds the subscription while the stream lives.
    _sub: Arc<Subscription>,
    sink: Arc<StreamSink>,
    rx: Receiver<Vec<u8>>,
    stopping: Arc<AtomicBool>,
}

impl ListenStream {
    /// Opens a stream for listen request `id` on connection `conn`.
    pub fn open(
        subs: &Subscriptions,
        id: Value,
        filter: Filter,
        conn: Option<TcpStream>,
        stopping: Arc<AtomicBool>,
    ) -> ListenStream {
        let (tx, rx) = crossbeam_channel::unbounded();
        let sink = Arc::new(StreamSink { tx, conn: Mutex::new(conn), ended: AtomicBool::new(false) });
        let sub = subs.start(id, filter, sink.clone(), None);
        ListenStream { _sub: sub, sink, rx, stopping }
    }
}

impl Iterator for ListenStream {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        let idle_since = Instant::now();
        loop {
            if self.sink.ended.load(Ordering::SeqCst) || self.stopping.load(Ordering::Relaxed) {
                return None;
            }
            match self.rx.recv_timeout(POLL) {
                Ok(mut chunk) => {
                    while let Ok(more) = self.rx.try_recv() {
                        chunk.extend_from_slice(&more);
                    }
                    return Some(chunk);
                }
                Err(RecvTimeoutError::Timeout) if idle_since.elapsed() >= KEEPALIVE => {
                    return Some(b": keep-alive\n\n".to_vec());
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Keep(Mutex<Vec<Value>>);
    impl Background for Keep {
        fn send(&self, msg: &Value) {
            self.0.lock().push(msg.clone());
        }
    }

    #[test]
    fn filters_parse_and_acknowledge() {
        let f = Filter::parse(&json!({"notifications": {"toolsListChanged": true, "resourceSubscriptions": ["a://b"], "taskIds": ["t"]}})).unwrap();
        assert!(f.tools && !f.prompts && f.uris.contains("a://b"));
        assert_eq!(f.to_json(), json!({"toolsListChanged": true, "resourceSubscriptions": ["a://b"]}));
        assert!(Filter::parse(&json!({})).is_err());
        assert!(Filter::parse(&json!({"notifications": {"resourceSubscriptions": [1]}})).is_err());
    }

    #[test]
    fn notifications_carry_the_subscription_id() {
        let subs = Subscriptions::default();
        let kept = Arc::new(Keep::default());
        let tools = Filter { tools: true, ..Default::default() };
        subs.start(json!(7), tools, Arc::new(LineSink(kept.clone())), Some("k".into()));
        assert_eq!(kept.0.lock()[0]["method"], "notifications/subscriptions/acknowledged");
        assert_eq!(kept.0.lock()[0]["params"]["_meta"][keys::SUBSCRIPTION_ID], 7);
        assert_eq!(subs.list_changed("tools"), 1);
        assert_eq!(subs.list_changed("prompts"), 0);
        assert_eq!(kept.0.lock()[1]["params"], json!({"_meta": {keys::SUBSCRIPTION_ID: 7}}));
        assert_eq!(subs.end_all(), 1);
        assert_eq!(kept.0.lock()[2]["method"], "notifications/cancelled");
        assert_eq!(subs.list_changed("tools"), 0, "ended");
        let stop = Arc::new(AtomicBool::new(false));
        let mut stream = ListenStream::open(&subs, json!("s"), Filter::default(), None, stop.clone());
        assert!(String::from_utf8(stream.next().unwrap()).unwrap().contains("acknowledged"));
        assert!(!subs.forget("nothing"));
        stop.store(true, Ordering::Relaxed);
        assert!(stream.next().is_none());
    }
}
