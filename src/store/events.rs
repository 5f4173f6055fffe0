//! The store's event stream: what servers tell the client on their own
//! (list changes, resource updates, log messages, progress) and service
//! state changes, to a callback (on the dispatch thread) and to any number of
//! queues. Both are bounded and count what they drop.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::callback_slot::{CallbackSlot, SharedCallback};
use crate::dispatch::Dispatcher;
use crate::error::{Error, Result, TimeoutPhase};
use crate::pool::ServiceState;
use crate::protocol::{LogLevel, Progress};

/// How many events a queue holds before it drops new ones.
const QUEUE_CAPACITY: usize = 4096;

/// Something that happened at a service.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The service's tools changed; the tool index already holds the new list.
    ToolsListChanged {
        /// The service.
        service: String,
    },
    /// The service's resources changed; the resource index already holds the new list.
    ResourcesListChanged {
        /// The service.
        service: String,
    },
    /// The service's prompts changed; the prompt index already holds the new list.
    PromptsListChanged {
        /// The service.
        service: String,
    },
    /// A subscribed resource changed (read it again to see how).
    ResourceUpdated {
        /// The service.
        service: String,
        /// The resource's URI.
        uri: String,
    },
    /// A log message of the server (`notifications/message`).
    Log {
        /// The service.
        service: String,
        /// Its severity.
        level: LogLevel,
        /// The logger's name, if the server gave one.
        logger: Option<String>,
        /// The message: any JSON.
        data: Value,
    },
    /// Progress of a call that asked for it.
    Progress {
        /// The service.
        service: String,
        /// The progress notice.
        progress: Progress,
    },
    /// A URL-mode elicitation finished.
    ElicitationComplete {
        /// The service.
        service: String,
        /// The elicitation's id.
        elicitation_id: String,
    },
    /// The service's health changed.
    ServiceState {
        /// The service.
        service: String,
        /// Its new state.
        state: ServiceState,
        /// Its last error, if any.
        error: Option<String>,
    },
}

impl Event {
    /// The service the event is about.
    pub fn service(&self) -> &str {
        match self {
            Event::ToolsListChanged { service }
            | Event::ResourcesListChanged { service }
            | Event::PromptsListChanged { service }
            | Event::ResourceUpdated { service, .. }
            | Event::Log { service, .. }
            | Event::Progress { service, .. }
            | Event::ElicitationComplete { service, .. }
            | Event::ServiceState { service, .. } => service,
        }
    }

    /// The event as JSON: `{"type": ..., "service": ..., ...}` (the C ABI's and the CLI's form).
    pub fn to_json(&self) -> Value {
        let service = self.service();
        match self {
            Event::ToolsListChanged { .. } => json!({"type": "tools_list_changed", "service": service}),
            Event::ResourcesListChanged { .. } => {
                json!({"type": "resources_list_changed", "service": service})
            }
            Event::PromptsListChanged { .. } => json!({"type": "prompts_list_changed", "service": service}),
            Event::ResourceUpdated { uri, .. } => {
                json!({"type": "resource_updated", "service": service, "uri": uri})
            }
            Event::Log { level, logger, data, .. } => {
                json!({"type": "log", "service": service, "level": level.as_str(), "logger": logger, "data": data})
            }
            Event::Progress { progress, .. } => {
                json!({"type": "progress", "service": service, "progress": progress})
            }
            Event::ElicitationComplete { elicitation_id, .. } => {
                json!({"type": "elicitation_complete", "service": service, "elicitationId": elicitation_id})
            }
            Event::ServiceState { state, error, .. } => {
                json!({"type": "service_state", "service": service, "state": state.as_str(), "error": error})
            }
        }
    }
}

/// A queue of the store's events, for event loops (C, Go): every event from
/// its creation on, until it is dropped. Bounded: when full, new events are
/// dropped and counted.
pub struct EventQueue {
    rx: Receiver<Event>,
    /// Events dropped because the queue was full (the bus counts them here).
    dropped: Arc<AtomicU64>,
}

/// The bus's end of a queue: its sender, and its drop counter while the queue lives.
struct QueueEnd {
    tx: Sender<Event>,
    dropped: std::sync::Weak<AtomicU64>,
}

impl EventQueue {
    /// The next event, waiting up to `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Event> {
        self.rx.recv_timeout(timeout).map_err(|e| match e {
            RecvTimeoutError::Timeout => Error::timeout(TimeoutPhase::Wait, timeout),
            RecvTimeoutError::Disconnected => {
                Error::Closed { message: "store is closed".into(), may_have_run: false }
            }
        })
    }

    /// An event if one is waiting.
    pub fn try_recv(&self) -> Option<Event> {
        self.rx.try_recv().ok()
    }

    /// Events this queue dropped because it was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for EventQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventQueue")
            .field("waiting", &self.rx.len())
            .field("dropped", &self.dropped())
            .finish()
    }
}

/// Where the store's events go: the callback (run on the dispatch thread)
/// and the live queues.
pub(crate) struct EventBus {
    callback: Arc<CallbackSlot<Event>>,
    queues: Mutex<Vec<QueueEnd>>,
    dispatcher: Arc<Dispatcher>,
    /// Events a full queue or a full dispatch queue did not take, in all.
    dropped: AtomicU64,
}

impl EventBus {
    pub(crate) fn new(dispatcher: Arc<Dispatcher>) -> Self {
        EventBus {
            callback: Arc::default(),
            queues: Mutex::new(Vec::new()),
            dispatcher,
            dropped: AtomicU64::new(0),
        }
    }

    /// Hands an event to the callback and the queues; never runs user code
    /// on the calling thread (often a transport's reader).
    pub(crate) fn emit(&self, event: Event) {
        let mut queues = self.queues.lock();
        queues.retain(|q| match q.dropped.upgrade() {
            Some(dropped) => {
                if let Err(TrySendError::Full(_)) = q.tx.try_send(event.clone()) {
                    dropped.fetch_add(1, Ordering::Relaxed);
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
                true
            }
            None => false, // the queue was dropped
        });
        drop(queues);
        if self.callback.is_set() {
            let callback = self.callback.clone();
            if !self.dispatcher.post(move || callback.invoke(&event)) {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Events dropped so far (by every queue and the callback).
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Sets (or with `None` clears) the callback; returns once a running
    /// invocation of the previous one has returned (unless called from it).
    pub(crate) fn set_callback(&self, callback: Option<SharedCallback<Event>>) {
        self.callback.set(callback);
    }

    /// A new queue of every event from now on.
    pub(crate) fn queue(&self) -> EventQueue {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE_CAPACITY);
        let dropped = Arc::new(AtomicU64::new(0));
        self.queues.lock().push(QueueEnd { tx, dropped: Arc::downgrade(&dropped) });
        EventQueue { rx, dropped }
    }

    /// Disconnects every queue (the store is closing).
    pub(crate) fn close(&self) {
        self.queues.lock().clear();
        self.callback.set(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_and_counts() {
        let bus = EventBus::new(Arc::new(Dispatcher::new("mcps-test-dispatch")));
        let queue = bus.queue();
        let event = || Event::ResourceUpdated { service: "s".into(), uri: "u".into() };
        for _ in 0..QUEUE_CAPACITY + 3 {
            bus.emit(event());
        }
        assert_eq!(queue.dropped(), 3);
        assert_eq!(bus.dropped(), 3);
        assert_eq!(queue.try_recv(), Some(event()));
        drop(queue);
        bus.emit(event()); // a dropped queue is forgotten, not counted
        assert_eq!(bus.dropped(), 3);
        assert!(bus.queues.lock().is_empty());
    }
}
