//! The clients the server talks to — the stdio connection, or one HTTP
//! session each: what the client declared at `initialize`, its log level,
//! its resource subscriptions, and where messages that belong to no request
//! go (its [`Background`] channel). [`Peers`] knows every live client, for
//! messages sent to all of them (list changes, resource updates, ticks).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use serde_json::Value;

/// The transport a request arrived on (decides what the server can send).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// stdin/stdout.
    Stdio,
    /// HTTP POST answered with an SSE stream.
    HttpSse,
    /// HTTP POST answered with one JSON body (no room for extra messages).
    HttpJson,
}

/// Where a client's messages that belong to no request go: stdout over
/// stdio, the session's listening stream (GET) over HTTP.
pub trait Background: Send + Sync {
    /// Sends one message (a notification) now, or queues it (HTTP, while no
    /// listening stream is open).
    fn send(&self, msg: &Value);

    /// Closes the open listening streams abruptly (no final event); how many
    /// there were. Nothing to close over stdio.
    fn drop_streams(&self) -> usize {
        0
    }
}

/// A background channel that drops everything (unit tests, and the
/// stateless era's HTTP requests, which belong to no session).
pub struct Nowhere;

impl Background for Nowhere {
    fn send(&self, _msg: &Value) {}
}

/// What the server knows of one client, shared by every request of it.
pub struct PeerState {
    /// Index into [`tools::LOG_LEVELS`](crate::tools::LOG_LEVELS) set by `logging/setLevel`.
    min_log_level: AtomicUsize,
    /// The `capabilities` of the client's `initialize` request.
    capabilities: Mutex<Value>,
    /// Whether the client sent `notifications/initialized` (nothing is sent
    /// on the server's own initiative before).
    initialized: AtomicBool,
    /// The resource URIs the client subscribed to.
    subscriptions: Mutex<BTreeSet<String>>,
    background: Arc<dyn Background>,
}

/// The client a message came from: a stdio connection or an HTTP session.
#[derive(Clone)]
pub struct Peer {
    /// "stdio" or the HTTP session id; scopes request ids for cancellation.
    pub key: Arc<str>,
    /// The transport of the current request.
    pub transport: Transport,
    /// The client's state.
    pub state: Arc<PeerState>,
}

impl Peer {
    /// A peer whose background messages are dropped (unit tests).
    #[cfg(test)]
    pub fn new(key: &str, transport: Transport) -> Self {
        Peer::with_background(key, transport, Arc::new(Nowhere))
    }

    /// A peer whose background messages go to `background`.
    pub fn with_background(key: &str, transport: Transport, background: Arc<dyn Background>) -> Self {
        Peer {
            key: Arc::from(key),
            transport,
            state: Arc::new(PeerState {
                min_log_level: AtomicUsize::new(0),
                capabilities: Mutex::new(Value::Null),
                initialized: AtomicBool::new(false),
                subscriptions: Mutex::new(BTreeSet::new()),
                background,
            }),
        }
    }
}

impl PeerState {
    /// The least severe level the client wants (index into `LOG_LEVELS`).
    pub fn min_log_level(&self) -> usize {
        self.min_log_level.load(Ordering::Relaxed)
    }

    /// Sets the least severe level the client wants.
    pub fn set_min_log_level(&self, idx: usize) {
        self.min_log_level.store(idx, Ordering::Relaxed);
    }

    /// Records the client's `initialize` capabilities.
    pub fn set_capabilities(&self, capabilities: Value) {
        *self.capabilities.lock() = capabilities;
    }

    /// The client sent `notifications/initialized`.
    pub fn mark_initialized(&self) {
        self.initialized.store(true, Ordering::Release);
    }

    /// Whether the client sent `notifications/initialized`.
    pub fn is_initialized(&self) -> bool {
        self.initialized.load(Ordering::Acquire)
    }

    /// Whether the client declared the capability `name` (`sampling`,
    /// `elicitation`, `roots`): present and an object.
    pub fn has_capability(&self, name: &str) -> bool {
        self.capabilities.lock().get(name).is_some_and(Value::is_object)
    }

    /// Subscribes to `uri`.
    pub fn subscribe(&self, uri: &str) {
        self.subscriptions.lock().insert(uri.to_owned());
    }

    /// Ends the subscription to `uri`; whether there was one.
    pub fn unsubscribe(&self, uri: &str) -> bool {
        self.subscriptions.lock().remove(uri)
    }

    /// Whether the client subscribed to `uri`.
    pub fn is_subscribed(&self, uri: &str) -> bool {
        self.subscriptions.lock().contains(uri)
    }

    /// The client's background channel.
    pub fn background(&self) -> &dyn Background {
        self.background.as_ref()
    }

    /// The client's background channel, to keep (a stdio subscription's sink).
    pub fn background_arc(&self) -> Arc<dyn Background> {
        self.background.clone()
    }
}

/// Every live client. A client is forgotten once nothing holds it any
/// more (its stdio connection ended, its HTTP session was deleted or expired
/// and its requests finished).
#[derive(Default)]
pub struct Peers {
    live: Mutex<Vec<Weak<PeerState>>>,
}

impl Peers {
    /// Adds a client.
    pub fn register(&self, peer: &Peer) {
        let mut live = self.live.lock();
        live.retain(|p| p.strong_count() > 0);
        live.push(Arc::downgrade(&peer.state));
    }

    /// The live clients that sent `notifications/initialized`.
    pub fn initialized(&self) -> Vec<Arc<PeerState>> {
        let mut live = self.live.lock();
        live.retain(|p| p.strong_count() > 0);
        live.iter().filter_map(Weak::upgrade).filter(|p| p.is_initialized()).collect()
    }

    /// Sends `msg` to the background channel of every initialized client
    /// that `wants` it.
    pub fn broadcast(&self, msg: &Value, wants: impl Fn(&PeerState) -> bool) {
        for peer in self.initialized() {
            if wants(&peer) {
                peer.background().send(msg);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Default)]
    struct Keep(Mutex<Vec<Value>>);
    impl Background for Keep {
        fn send(&self, msg: &Value) {
            self.0.lock().push(msg.clone());
        }
    }

    #[test]
    fn capabilities_subscriptions_and_broadcasts() {
        let peers = Peers::default();
        let kept = Arc::new(Keep::default());
        let a = Peer::with_background("a", Transport::Stdio, kept.clone());
        let b = Peer::new("b", Transport::HttpSse);
        peers.register(&a);
        peers.register(&b);
        assert!(peers.initialized().is_empty(), "nothing is sent before initialize");
        a.state
            .set_capabilities(json!({"sampling": {}, "roots": {"listChanged": true}, "elicitation": true}));
        a.state.mark_initialized();
        b.state.mark_initialized();
        assert!(a.state.has_capability("sampling") && a.state.has_capability("roots"));
        assert!(!a.state.has_capability("elicitation"), "not an object");
        assert!(!b.state.has_capability("sampling"));
        a.state.subscribe("demo://notes/x");
        assert!(a.state.is_subscribed("demo://notes/x"));
        peers.broadcast(&json!({"m": 1}), |p| p.is_subscribed("demo://notes/x"));
        assert_eq!(kept.0.lock().len(), 1);
        assert!(a.state.unsubscribe("demo://notes/x"));
        assert!(!a.state.unsubscribe("demo://notes/x"));
        drop(b);
        assert_eq!(peers.initialized().len(), 1, "a dropped client is forgotten");
    }
}
