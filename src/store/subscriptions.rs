//! A service's resource subscriptions: held on one session (its updates
//! arrive there), and moved to another when that session closes.

use std::collections::BTreeSet;

use parking_lot::Mutex;

use crate::error::Result;
use crate::session::Session;

#[derive(Default)]
struct State {
    uris: BTreeSet<String>,
    /// The session the server sends the updates on.
    holder: Option<Session>,
}

/// The URIs a service is subscribed to.
#[derive(Default)]
pub(crate) struct Subscriptions {
    state: Mutex<State>,
}

impl Subscriptions {
    /// Subscribes to `uri` on the holding session (`session` becomes it when
    /// there is none alive; then the others move to it as well).
    pub(crate) fn subscribe(&self, uri: &str, session: &Session) -> Result<()> {
        let mut state = self.state.lock();
        let holder = match &state.holder {
            Some(h) if h.is_alive() => h.clone(),
            _ => session.clone(),
        };
        holder.subscribe_resource(uri)?;
        state.uris.insert(uri.to_owned());
        if state.holder.as_ref().is_none_or(|h| !h.is_alive()) {
            state.holder = Some(holder);
        }
        Ok(())
    }

    /// Ends the subscription to `uri`; `false` when there was none.
    pub(crate) fn unsubscribe(&self, uri: &str) -> Result<bool> {
        let mut state = self.state.lock();
        if !state.uris.remove(uri) {
            return Ok(false);
        }
        match &state.holder {
            Some(h) if h.is_alive() => h.unsubscribe_resource(uri).map(|()| true),
            _ => Ok(true),
        }
    }

    /// The URIs subscribed to.
    pub(crate) fn uris(&self) -> Vec<String> {
        self.state.lock().uris.iter().cloned().collect()
    }

    /// Whether the session holding the subscriptions is gone.
    pub(crate) fn need_renewal(&self) -> bool {
        let state = self.state.lock();
        !state.uris.is_empty() && state.holder.as_ref().is_none_or(|h| !h.is_alive())
    }

    /// Subscribes to every URI again on `session` and returns the URIs
    /// renewed. When one fails, all stay due (tried again on a later round):
    /// a subscription is never dropped by the library.
    pub(crate) fn renew(&self, session: &Session) -> Vec<String> {
        let mut state = self.state.lock();
        if state.holder.as_ref().is_some_and(Session::is_alive) {
            return Vec::new(); // renewed meanwhile
        }
        let mut renewed = Vec::new();
        let mut failed = false;
        for uri in &state.uris {
            match session.subscribe_resource(uri) {
                Ok(()) => renewed.push(uri.clone()),
                Err(e) => {
                    log::warn!(target: "mcpstore::store", "cannot subscribe to {uri} again: {e}");
                    failed = true;
                }
            }
        }
        state.holder = (!failed).then(|| session.clone());
        renewed
    }
}
