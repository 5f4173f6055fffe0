//! One Streamable HTTP session as the session layer sees it: the request
//! path ([`HttpCore`]) and, once the handshake is done, its listening stream.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::http::HttpCore;
use super::http_listen::{ListenRequest, ListenStatus, Listener, Opener};
use super::{AuthHook, Inbound, Outcome, OutgoingRequest, Transport};
use crate::config::HttpConfig;
use crate::error::Result;

/// One MCP session over Streamable HTTP.
pub struct HttpTransport {
    core: Arc<HttpCore>,
    listener: Mutex<Option<Listener>>,
}

impl HttpTransport {
    /// A transport for `config.url`, sending `config.headers` with every
    /// request (checked by `ServiceConfig::validate`; checked again here).
    pub fn new(
        agent: ureq::Agent,
        config: &HttpConfig,
        inbound: Arc<dyn Inbound>,
        max_message_bytes: usize,
    ) -> Result<Self> {
        let core = HttpCore::new(agent, config, inbound, max_message_bytes)?;
        Ok(HttpTransport { core: Arc::new(core), listener: Mutex::new(None) })
    }

    /// Authorizes every request (POSTs, resumptions, the listening stream,
    /// DELETE) through `auth`, the service's OAuth credential. Called right
    /// after [`HttpTransport::new`], while nothing else holds the core.
    pub(crate) fn with_auth(mut self, auth: Option<Arc<dyn AuthHook>>) -> Self {
        match Arc::get_mut(&mut self.core) {
            Some(core) => core.auth = auth,
            None => debug_assert!(false, "with_auth after the core was shared"),
        }
        self
    }
}

impl Transport for HttpTransport {
    fn kind(&self) -> &'static str {
        self.core.kind()
    }

    fn send_request(&self, request: &OutgoingRequest<'_>) -> Result<Option<Outcome>> {
        self.core.send_request(request)
    }

    fn routes_responses(&self) -> bool {
        false
    }

    fn send_message(&self, body: &[u8], timeout: Duration) -> Result<()> {
        self.core.send_message(body, timeout)
    }

    fn finish_handshake(&self, initialized: &[u8], timeout: Duration) -> Result<()> {
        self.core.finish_handshake(initialized, timeout)
    }

    fn begin_session(&self) {
        self.core.begin_session();
    }

    fn set_protocol_version(&self, version: &str) {
        self.core.set_protocol_version(version);
    }

    /// Opens the listening stream unless one runs (after a re-initialization
    /// a stream that ended with the old session is opened again).
    fn start_listening(&self, wait: Duration) {
        let mut listener = self.listener.lock();
        // The stateless era has no GET stream (`subscriptions/listen` replaces it).
        let modern = self.core.modern.load(std::sync::atomic::Ordering::Acquire);
        if modern || listener.as_ref().is_some_and(|l| !l.ended()) || !self.core.is_open() {
            return;
        }
        *listener = Listener::start(self.core.clone(), Opener::Get, wait);
    }

    /// (Re)starts the stateless era's `subscriptions/listen` stream, whose
    /// requests `request` encodes; `None` stops it.
    fn subscribe(&self, request: Option<ListenRequest>, wait: Duration) {
        let mut listener = self.listener.lock();
        drop(listener.take()); // the old subscription ends with its stream
        if let Some(request) = request.filter(|_| self.core.is_open()) {
            *listener = Listener::start(self.core.clone(), Opener::Listen(request), wait);
        }
    }

    fn listen_status(&self) -> Option<ListenStatus> {
        self.listener.lock().as_ref().map(Listener::status)
    }

    fn is_open(&self) -> bool {
        self.core.is_open()
    }

    fn close(&self) {
        // The stream first, so it does not reconnect to a session being ended.
        let listener = self.listener.lock().take();
        drop(listener);
        self.core.close();
    }
}

impl Drop for HttpTransport {
    fn drop(&mut self) {
        self.close();
    }
}
