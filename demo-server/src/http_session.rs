//! HTTP sessions, their listening streams and the stored SSE streams used
//! for resumption.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use parking_lot::{Condvar, Mutex};
use serde_json::Value;

use super::dispatch::{Outbound, Peer, Transport};
use super::listen::ListenHub;

/// How many stored streams a session keeps.
const MAX_STREAMS_PER_SESSION: usize = 64;

/// The events of one SSE stream the server closed early, kept so that a
/// `GET` with `Last-Event-ID` can replay them.
#[derive(Default)]
pub struct StreamLog {
    state: Mutex<LogState>,
    changed: Condvar,
}

#[derive(Default)]
struct LogState {
    /// (sequence number, event data); sequence numbers start at 1 (0 is the
    /// priming event).
    events: Vec<(u64, Vec<u8>)>,
    done: bool,
}

impl StreamLog {
    /// Appends an event's data.
    pub fn push(&self, data: Vec<u8>) {
        let mut st = self.state.lock();
        let seq = st.events.len() as u64 + 1;
        st.events.push((seq, data));
        self.changed.notify_all();
    }

    /// Marks the stream complete (its response, if any, was pushed).
    pub fn finish(&self) {
        self.state.lock().done = true;
        self.changed.notify_all();
    }

    /// Events after sequence number `after`, waiting up to `timeout` for
    /// one if there is none yet; also whether the stream is complete (all
    /// its events then are in the returned list or were returned before).
    pub fn wait_after(&self, after: u64, timeout: Duration) -> (Vec<(u64, Vec<u8>)>, bool) {
        let mut st = self.state.lock();
        let collect = |st: &LogState| -> Vec<(u64, Vec<u8>)> {
            st.events.iter().filter(|(s, _)| *s > after).cloned().collect()
        };
        let mut found = collect(&st);
        if found.is_empty() && !st.done {
            self.changed.wait_for(&mut st, timeout);
            found = collect(&st);
        }
        (found, st.done)
    }
}

/// An [`Outbound`] that appends messages to a [`StreamLog`].
pub struct LogOutbound(pub Arc<StreamLog>);

impl Outbound for LogOutbound {
    fn send(&self, msg: &Value) {
        if let Ok(data) = serde_json::to_vec(msg) {
            self.0.push(data);
        }
    }
}

/// One MCP session over HTTP.
pub struct Session {
    /// The session id (`Mcp-Session-Id`).
    pub id: String,
    /// The dispatcher's view of this client.
    pub peer: Peer,
    /// The listening stream (GET) and the messages waiting for it.
    pub listen: Arc<ListenHub>,
    posts: AtomicU64,
    streams: Mutex<BTreeMap<u64, Arc<StreamLog>>>,
}

impl Session {
    /// Counts a POST of this session; returns the new count.
    pub fn count_post(&self) -> u64 {
        self.posts.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Stores a new stream log under `stream`.
    pub fn new_stream(&self, stream: u64) -> Arc<StreamLog> {
        let log = Arc::new(StreamLog::default());
        let mut streams = self.streams.lock();
        if streams.len() >= MAX_STREAMS_PER_SESSION
            && let Some(oldest) = streams.keys().next().copied()
        {
            streams.remove(&oldest);
        }
        streams.insert(stream, log.clone());
        log
    }

    /// A stored stream log.
    pub fn stream(&self, stream: u64) -> Option<Arc<StreamLog>> {
        self.streams.lock().get(&stream).cloned()
    }
}

/// All live sessions.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Arc<Session>>>,
}

fn random_hex() -> String {
    let mut out = String::with_capacity(32);
    for i in 0..2u64 {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(i);
        if let Ok(t) = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) {
            h.write_u128(t.as_nanos());
        }
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

impl Sessions {
    /// Creates and registers a session; with `listen` false it offers no
    /// listening stream (its background messages are dropped).
    pub fn create(&self, transport: Transport, listen: bool) -> Arc<Session> {
        let mut map = self.map.lock();
        let mut id = random_hex();
        while map.contains_key(&id) {
            id = random_hex();
        }
        let hub = Arc::new(ListenHub::new(listen));
        let session = Arc::new(Session {
            peer: Peer::with_background(&id, transport, hub.clone()),
            listen: hub,
            id: id.clone(),
            posts: AtomicU64::new(0),
            streams: Mutex::new(BTreeMap::new()),
        });
        map.insert(id, session.clone());
        session
    }

    /// Looks a session up.
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        self.map.lock().get(id).cloned()
    }

    /// Removes a session (its listening stream ends); returns whether it existed.
    pub fn remove(&self, id: &str) -> bool {
        let removed = self.map.lock().remove(id);
        if let Some(session) = &removed {
            session.listen.close();
        }
        removed.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_unique_and_removable() {
        let s = Sessions::default();
        let a = s.create(Transport::HttpSse, true);
        let b = s.create(Transport::HttpSse, true);
        assert_ne!(a.id, b.id);
        assert_eq!(a.id.len(), 32);
        assert!(a.id.bytes().all(|c| c.is_ascii_hexdigit()));
        assert!(s.get(&a.id).is_some());
        assert!(s.remove(&a.id));
        assert!(!s.remove(&a.id));
        assert!(s.get(&a.id).is_none());
        assert_eq!(b.count_post(), 1);
        assert_eq!(b.count_post(), 2);
    }

    #[test]
    fn stream_log_replays_and_waits() {
        let log = Arc::new(StreamLog::default());
        log.push(b"a".to_vec());
        let (ev, done) = log.wait_after(0, Duration::from_millis(1));
        assert_eq!(ev, vec![(1, b"a".to_vec())]);
        assert!(!done);
        let l2 = log.clone();
        let h = std::thread::spawn(move || l2.wait_after(1, Duration::from_secs(5)));
        std::thread::sleep(Duration::from_millis(20));
        log.push(b"b".to_vec());
        let (ev, _) = h.join().unwrap();
        assert_eq!(ev, vec![(2, b"b".to_vec())]);
        log.finish();
        let (ev, done) = log.wait_after(2, Duration::from_secs(5));
        assert!(ev.is_empty());
        assert!(done);
    }

    #[test]
    fn old_streams_are_pruned() {
        let s = Sessions::default().create(Transport::HttpSse, true);
        for i in 0..(MAX_STREAMS_PER_SESSION as u64 + 5) {
            s.new_stream(i);
        }
        assert!(s.stream(0).is_none());
        assert!(s.stream(MAX_STREAMS_PER_SESSION as u64 + 4).is_some());
    }
}
