//! `subscriptions/listen` (the stateless era's notification stream): which
//! notifications the session asks for (list changes the server announces,
//! the resources it is subscribed to), and, over stdio, the request that
//! carries them (over HTTP the transport runs it as a long-lived stream).
//! A subscription the server ends is made again, with a bounded back-off.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::reply::Deliver;
use super::request::encode_params;
use super::{Session, SessionInner};
use crate::error::Error;
use crate::protocol::messages::methods;
use crate::transport::ListenRequest;

/// How long a new subscription waits for the server to answer it.
const LISTEN_WAIT: Duration = Duration::from_secs(5);
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const MAX_PAUSE: Duration = Duration::from_secs(30);
/// A subscription that lasted this long was healthy: the next pause starts small.
const HEALTHY_AFTER: Duration = Duration::from_secs(10);

/// What the session subscribes to.
#[derive(Default)]
pub(super) struct Subscriptions {
    /// The resources subscribed to (`resourceSubscriptions`).
    uris: parking_lot::Mutex<BTreeSet<String>>,
    /// The id of the stdio listen request in flight (0: none).
    current: AtomicI64,
    /// A stdio listen thread runs.
    running: std::sync::atomic::AtomicBool,
}

impl Subscriptions {
    /// The id of the stdio listen request in flight, if one is.
    pub(super) fn listen_id(&self) -> Option<i64> {
        Some(self.current.load(Ordering::Acquire)).filter(|id| *id != 0)
    }
}

impl Session {
    /// The `notifications` filter of a listen request, or `None` when there
    /// is nothing to listen for. Every list the server has is asked for, even
    /// when it does not announce `listChanged` (some send the notification
    /// anyway); its acknowledgement says what it will send.
    fn listen_filter(&self) -> Option<Value> {
        let caps = self.server_info().map(|i| i.capabilities.clone()).unwrap_or(Value::Null);
        let announces = |kind: &str| caps.get(kind).is_some_and(|c| !c.is_null());
        let uris: Vec<String> = self.inner.subscriptions.uris.lock().iter().cloned().collect();
        let mut filter = serde_json::Map::new();
        for (kind, key) in [
            ("tools", "toolsListChanged"),
            ("prompts", "promptsListChanged"),
            ("resources", "resourcesListChanged"),
        ] {
            if announces(kind) {
                filter.insert(key.into(), Value::Bool(true));
            }
        }
        if !uris.is_empty() {
            filter.insert("resourceSubscriptions".into(), json!(uris));
        }
        (!filter.is_empty()).then_some(Value::Object(filter))
    }

    /// Makes the subscription fit what the session wants now: started,
    /// restarted with the new filter, or stopped.
    pub(super) fn refresh_subscription(&self) {
        if !self.is_modern() {
            return;
        }
        let filter = self.listen_filter();
        if self.inner.transport.routes_responses() {
            self.restart_stdio_listen(filter.is_some());
            return;
        }
        let request = filter.map(|_| listen_request(Arc::downgrade(&self.inner)));
        self.inner.transport.subscribe(request, self.inner.options.connection_timeout.min(LISTEN_WAIT));
    }

    /// Subscribes to updates of `uri` (the stateless era: part of the listen filter).
    pub(super) fn add_resource_subscription(&self, uri: &str) {
        self.inner.subscriptions.uris.lock().insert(uri.to_owned());
        self.refresh_subscription();
    }

    /// Ends the subscription to `uri`.
    pub(super) fn remove_resource_subscription(&self, uri: &str) {
        self.inner.subscriptions.uris.lock().remove(uri);
        self.refresh_subscription();
    }

    /// Over stdio: ends the listen request in flight (the thread makes the
    /// next one with the new filter) or starts the thread.
    fn restart_stdio_listen(&self, wanted: bool) {
        let subs = &self.inner.subscriptions;
        let current = subs.current.swap(0, Ordering::AcqRel);
        if current != 0 {
            self.inner.router.complete(current, Err(Error::Cancelled));
            self.send_cancel_in_background(current, "the subscription changed");
        }
        if wanted && !subs.running.swap(true, Ordering::AcqRel) {
            let session = Arc::downgrade(&self.inner);
            let spawned = crate::util::spawn_thread("mcps-listen", move || run_stdio(&session));
            if spawned.is_err() {
                subs.running.store(false, Ordering::Release);
            }
        }
    }
}

/// The encoder of listen requests: each call a new id, the current filter.
fn listen_request(session: Weak<SessionInner>) -> ListenRequest {
    Arc::new(move || {
        let Some(inner) = session.upgrade() else { return (0, b"{}\n".to_vec()) };
        let session = Session { inner };
        encode_listen(&session, session.listen_filter().unwrap_or_else(|| json!({})))
    })
}

fn encode_listen(session: &Session, filter: Value) -> (i64, Vec<u8>) {
    let id = session.next_id();
    let params = encode_params(Some(&json!({ "notifications": filter }))).ok().flatten();
    let mut body = Vec::with_capacity(256);
    session.wire().encode(&mut body, id, methods::SUBSCRIPTIONS_LISTEN, params.as_deref(), "", None);
    (id, body)
}

/// The stdio listen loop: one request in flight; when the server ends it,
/// or the filter changed, the next one. Holds the session only weakly while
/// it waits, so the session can close.
fn run_stdio(weak: &Weak<SessionInner>) {
    let mut pause = FIRST_PAUSE;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let session = Session { inner };
        let Some(filter) = session.listen_filter().filter(|_| session.is_alive()) else {
            session.inner.subscriptions.running.store(false, Ordering::Release);
            return;
        };
        let (tx, rx) = crossbeam_channel::bounded(1);
        let (id, body) = encode_listen(&session, filter);
        if session.inner.router.register(id, Deliver::Channel(tx), id as usize).is_err() {
            session.inner.subscriptions.running.store(false, Ordering::Release);
            return;
        }
        session.inner.subscriptions.current.store(id, Ordering::Release);
        session.inner.router.listen_id.store(id, Ordering::Release);
        if let Err(e) = session.inner.transport.send_message(&body, session.inner.options.write_timeout) {
            log::debug!(target: "mcpstore::session", "[{}] subscriptions/listen not sent: {e}", session.inner.router.service);
        }
        drop(session);
        let started = Instant::now();
        let ended = rx.recv();
        let Some(inner) = weak.upgrade() else { return };
        let session = Session { inner };
        let changed = matches!(ended, Ok((_, Err(Error::Cancelled))));
        if !session.is_alive() {
            session.inner.subscriptions.running.store(false, Ordering::Release);
            return;
        }
        if changed {
            continue; // the filter changed: listen again at once
        }
        // The server ended the subscription: again, after a pause that grows when it keeps ending at once.
        pause = if started.elapsed() >= HEALTHY_AFTER { FIRST_PAUSE } else { (pause * 2).min(MAX_PAUSE) };
        log::debug!(target: "mcpstore::session", "[{}] the server ended the subscription; listening again in {} ms", session.inner.router.service, pause.as_millis());
        drop(session);
        std::thread::sleep(pause);
    }
}

/// A `notifications/cancelled` from the server ends the request it names
/// (in the stateless era: a subscription the server tears down).
pub(super) fn cancelled_request(params: Option<&Value>) -> Option<i64> {
    let id = params?.get("requestId")?;
    id.as_i64().or_else(|| id.as_str().and_then(|s| s.parse().ok()))
}
