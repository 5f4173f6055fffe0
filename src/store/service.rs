//! One service inside a store: its configuration, its connection pool, what
//! its server offers (tools, resources, templates, prompts), its handlers,
//! its log level and its resource subscriptions.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use serde_json::Value;

use super::StoreInner;
use super::catalog::{Catalog, ListKind};
use super::events::Event;
use super::handlers::{FixedRoots, HandlerSet};
use super::requests::StoreRequests;
use super::subscriptions::Subscriptions;
use crate::config::ServiceConfig;
use crate::error::Result;
use crate::pool::{ConnectionPool, PoolListener, PoolStats, ServiceState};
use crate::protocol::{Implementation, LogLevel, Prompt, Resource, ResourceTemplate, Tool};
use crate::session::{EventHandler, Session, SessionContext, SessionEvent, SessionOptions};
use crate::transport::ListenStatus;

/// Which reloaded lists become store events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Announce {
    /// None: the first listing of a new session.
    Never,
    /// Every list loaded: the server said they changed.
    Loaded,
    /// Only lists whose contents changed: a reload the server did not ask for.
    Changed,
}

/// The least time between two reloads of expired tool lists for unknown names.
const EXPIRY_RELOAD_GAP: Duration = Duration::from_secs(1);

/// A service of a store.
pub struct Service {
    name: String,
    config: ServiceConfig,
    pool: Arc<ConnectionPool>,
    pub(crate) catalog: Catalog,
    server: RwLock<Option<(Implementation, String)>>,
    /// A background refresh of stale lists (and subscriptions) is running.
    refreshing: AtomicBool,
    /// Counts requests for a refresh, so one that arrives during a run is not lost.
    refresh_requests: AtomicU64,
    handlers: RwLock<HandlerSet>,
    log_level: RwLock<Option<LogLevel>>,
    pub(crate) subscriptions: Subscriptions,
    store: Weak<StoreInner>,
    /// Its OAuth credential (HTTP services), shared by its sessions.
    auth: Option<Arc<crate::auth::ServiceAuth>>,
    /// Why the last tool list failed, when authorization was the reason.
    tools_auth_error: RwLock<Option<crate::error::Error>>,
    /// When an unknown name last made it list expired tools again.
    last_expiry_reload: Mutex<Option<Instant>>,
}

/// What `list_services` reports about one service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceInfo {
    /// The service's name.
    pub name: String,
    /// `"stdio"` or `"streamable-http"`.
    pub transport: &'static str,
    /// Its health.
    pub state: ServiceState,
    /// The last connection or health error, if any.
    pub last_error: Option<String>,
    /// The server's name and version, once connected.
    pub server_info: Option<Implementation>,
    /// The protocol version agreed with the server.
    pub protocol_version: Option<String>,
    /// How many tools it offers.
    pub tool_count: usize,
    /// How many resources it lists.
    pub resource_count: usize,
    /// How many resource templates it has.
    pub template_count: usize,
    /// How many prompts it offers.
    pub prompt_count: usize,
    /// Sessions open now.
    pub sessions: usize,
    /// The listening stream of each open HTTP session (empty for stdio).
    pub listening: Vec<ListenStatus>,
}

impl Service {
    pub(crate) fn new(
        name: &str,
        config: ServiceConfig,
        pool_config: crate::config::PoolConfig,
        options: SessionOptions,
        store: Weak<StoreInner>,
        mut context: SessionContext,
        auth: Option<Arc<crate::auth::ServiceAuth>>,
    ) -> Arc<Service> {
        Arc::new_cyclic(|me: &Weak<Service>| {
            let weak = me.clone();
            let events: EventHandler = Arc::new(move |event: &SessionEvent| {
                if let Some(service) = weak.upgrade() {
                    service.on_session_event(event);
                }
            });
            context.events = Some(events);
            let me_too = me.clone();
            let own = Box::new(move || me_too.upgrade().map(|s: Arc<Service>| s.handlers()));
            context.requests = Some(Arc::new(StoreRequests { store: store.clone(), own }));
            let handlers = HandlerSet {
                roots: config.roots.clone().map(|r| Arc::new(FixedRoots(r)) as _),
                ..Default::default()
            };
            let pool = ConnectionPool::new(name, config.transport.clone(), pool_config, options, context);
            Service {
                name: name.to_owned(),
                config,
                pool,
                catalog: Catalog::default(),
                server: RwLock::new(None),
                refreshing: AtomicBool::new(false),
                refresh_requests: AtomicU64::new(0),
                handlers: RwLock::new(handlers),
                log_level: RwLock::new(None),
                subscriptions: Subscriptions::default(),
                store,
                auth,
                tools_auth_error: RwLock::new(None),
                last_expiry_reload: Mutex::new(None),
            }
        })
    }

    /// Registers the service as its pool's listener (needs the final `Arc`).
    pub(crate) fn attach(self: &Arc<Self>) {
        let listener: Arc<dyn PoolListener> = Arc::new(Listener(Arc::downgrade(self)));
        self.pool.set_listener(listener);
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The service's configuration.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// The service's OAuth credential, if it has one.
    pub(crate) fn auth(&self) -> Option<&Arc<crate::auth::ServiceAuth>> {
        self.auth.as_ref()
    }

    /// Why the service cannot serve for want of authorization, if that is why:
    /// opening a session failed, or listing its tools did.
    pub(crate) fn auth_error(&self) -> Option<crate::error::Error> {
        self.pool.auth_failure().or_else(|| self.tools_auth_error.read().clone())
    }

    /// The service's connection pool.
    pub fn pool(&self) -> &Arc<ConnectionPool> {
        &self.pool
    }

    /// The tools the server listed.
    pub fn tools(&self) -> Arc<Vec<Arc<Tool>>> {
        self.catalog.tools.get()
    }

    /// The resources the server listed.
    pub(crate) fn resources(&self) -> Arc<Vec<Arc<Resource>>> {
        self.catalog.resources.get()
    }

    /// The resource templates the server listed.
    pub(crate) fn templates(&self) -> Arc<Vec<Arc<ResourceTemplate>>> {
        self.catalog.templates.get()
    }

    /// The prompts the server listed.
    pub(crate) fn prompts(&self) -> Arc<Vec<Arc<Prompt>>> {
        self.catalog.prompts.get()
    }

    /// Whether the tool list has been loaded at least once.
    pub fn tools_loaded(&self) -> bool {
        self.catalog.tools.loaded()
    }

    /// The service's own handlers (unset ones fall back to the store's).
    pub(crate) fn handlers(&self) -> HandlerSet {
        self.handlers.read().clone()
    }

    /// Changes the service's own handlers.
    pub(crate) fn update_handlers(&self, change: impl FnOnce(&mut HandlerSet)) {
        change(&mut self.handlers.write());
    }

    /// Whether the service has finished starting: tools loaded, or connecting failed.
    ///
    /// The pool leaves `Initializing` only after the first session's tools were
    /// loaded (or a connection failed), so the state alone says it; checking
    /// `tools_loaded` too would let `wait_ready` return in between, while the
    /// service still reports `initializing`.
    pub fn settled(&self) -> bool {
        !matches!(self.pool.state().0, ServiceState::Initializing)
    }

    /// The service's pool statistics.
    pub fn pool_stats(&self) -> PoolStats {
        self.pool.stats()
    }

    /// A summary for `list_services`.
    pub fn info(&self) -> ServiceInfo {
        let (state, last_error) = self.pool.state();
        let server = self.server.read().clone();
        let sessions = self.pool.live_sessions();
        ServiceInfo {
            name: self.name.clone(),
            transport: self.config.transport.kind(),
            state,
            last_error,
            server_info: server.as_ref().map(|s| s.0.clone()),
            protocol_version: server.map(|s| s.1),
            tool_count: self.catalog.tools.get().len(),
            resource_count: self.catalog.resources.get().len(),
            template_count: self.catalog.templates.get().len(),
            prompt_count: self.catalog.prompts.get().len(),
            sessions: self.pool.open_sessions(),
            listening: sessions.iter().filter_map(Session::listen_status).collect(),
        }
    }

    /// Loads the lists in `kinds` that need it through `session` (by
    /// `deadline`, when a call waits for it), then publishes them in the
    /// store's indexes. A failed tool list is the error; other lists that
    /// fail are logged and tried again with the next session or refresh.
    pub(crate) fn load_lists(
        &self,
        session: &Session,
        deadline: Option<Instant>,
        kinds: &[ListKind],
        announce: Announce,
    ) -> Result<()> {
        if let Some(info) = session.server_info() {
            *self.server.write() = Some((info.server_info.clone(), info.protocol_version.clone()));
        }
        let mut loaded = Vec::new();
        let mut failure = None;
        for &kind in kinds {
            match self.catalog.load(kind, session, deadline) {
                Ok(changed) => {
                    if kind == ListKind::Tools {
                        *self.tools_auth_error.write() = None;
                        self.drop_tools_with_bad_headers();
                    }
                    if changed || announce != Announce::Changed {
                        loaded.push(kind);
                    }
                }
                Err(e) => {
                    log::warn!(target: "mcpstore::store", "[{}] listing {kind:?} failed: {e}", self.name);
                    if kind == ListKind::Tools {
                        // Refused for authorization: calls report that, not "no tools".
                        if matches!(e, crate::error::Error::Auth { .. }) {
                            *self.tools_auth_error.write() = Some(e.clone());
                        }
                        failure = Some(e);
                    }
                }
            }
        }
        if let Some(store) = self.store.upgrade() {
            store.rebuild_indexes(&loaded);
            if loaded.contains(&ListKind::Tools) {
                store.on_tools_changed(&self.name);
            }
            // Only now: a caller that sees a list loaded must find it in the index.
            for &kind in &loaded {
                self.catalog.set_loaded(kind);
            }
            if announce != Announce::Never {
                for event in list_events(&self.name, &loaded) {
                    store.events.emit(event);
                }
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// Over HTTP, a tool whose `x-mcp-header` annotations are invalid cannot
    /// be called correctly (SEP-2243): it is left out, and said so once per listing.
    fn drop_tools_with_bad_headers(&self) {
        if !matches!(self.config.transport, crate::config::TransportConfig::Http(_)) {
            return;
        }
        self.catalog.tools.retain(|tool| match crate::protocol::param_headers::param_headers(&tool.input_schema) {
            Ok(_) => true,
            Err(why) => {
                log::warn!(target: "mcpstore::store", "[{}] leaving out tool '{}': {why}", self.name, tool.name);
                false
            }
        });
    }

    /// What the session reports on its own becomes store events; a list
    /// change reloads that list first.
    fn on_session_event(self: &Arc<Self>, event: &SessionEvent) {
        let service = self.name.clone();
        let event = match event {
            SessionEvent::ToolsListChanged => return self.list_changed(&[ListKind::Tools]),
            SessionEvent::ResourcesListChanged => {
                return self.list_changed(&[ListKind::Resources, ListKind::Templates]);
            }
            SessionEvent::PromptsListChanged => return self.list_changed(&[ListKind::Prompts]),
            SessionEvent::ResourceUpdated(uri) => Event::ResourceUpdated { service, uri: uri.clone() },
            SessionEvent::Log(params) => log_event(service, params),
            SessionEvent::ElicitationComplete(id) => {
                Event::ElicitationComplete { service, elicitation_id: id.clone() }
            }
            SessionEvent::Progress(progress) => Event::Progress { service, progress: progress.clone() },
            SessionEvent::Closed(_) => return,
        };
        if let Some(store) = self.store.upgrade() {
            store.events.emit(event);
        }
    }

    /// The server said some lists changed: reload them in the background
    /// (cached results of its tools are dropped at once).
    fn list_changed(self: &Arc<Self>, kinds: &[ListKind]) {
        for &kind in kinds {
            self.catalog.mark_stale(kind);
        }
        if kinds.contains(&ListKind::Tools)
            && let Some(store) = self.store.upgrade()
        {
            store.on_tools_changed(&self.name);
        }
        self.refresh_in_background();
    }

    /// Reloads stale lists and re-establishes lost subscriptions on a
    /// background thread, one run at a time; a request that arrives while
    /// one runs gets one more run (never a loop on a failing server: the
    /// maintenance thread asks again at most once a round).
    pub(crate) fn refresh_in_background(self: &Arc<Self>) {
        self.refresh_requests.fetch_add(1, Ordering::AcqRel);
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let service = self.clone();
        let spawned = crate::util::spawn_thread(format!("mcps-refresh-{}", self.name), move || {
            loop {
                let seen = service.refresh_requests.load(Ordering::Acquire);
                service.refresh_once();
                service.refreshing.store(false, Ordering::Release);
                let asked_again = service.refresh_requests.load(Ordering::Acquire) != seen;
                if !asked_again || service.refreshing.swap(true, Ordering::AcqRel) {
                    return;
                }
            }
        });
        if spawned.is_err() {
            self.refreshing.store(false, Ordering::Release); // tried again on a later round
        }
    }

    /// Lists `kinds` again, by `deadline`, where the server's freshness
    /// lifetime for them ran out (`ttlMs`, SEP-2549). Called when a name or
    /// URI was not found: the one moment a stale list costs the caller, so
    /// there is no polling. At most once a second per service. Whether it
    /// listed anything again.
    pub(crate) fn reload_expired(&self, kinds: &[ListKind], deadline: Instant) -> bool {
        let now = Instant::now();
        let expired: Vec<ListKind> =
            kinds.iter().copied().filter(|k| self.catalog.expired(*k, now)).collect();
        if expired.is_empty() || now >= deadline {
            return false;
        }
        {
            let mut last = self.last_expiry_reload.lock();
            if last.is_some_and(|t| now.duration_since(t) < EXPIRY_RELOAD_GAP) {
                return false;
            }
            *last = Some(now);
        }
        let Ok(lease) = self.pool.acquire() else { return false };
        self.load_lists(lease.session(), Some(deadline), &expired, Announce::Changed).is_ok()
    }

    fn refresh_once(self: &Arc<Self>) {
        let lease = match self.pool.acquire() {
            Ok(lease) => lease,
            Err(e) => {
                log::warn!(target: "mcpstore::store", "[{}] cannot refresh lists: {e}", self.name);
                return;
            }
        };
        let stale: Vec<ListKind> =
            ListKind::ALL.into_iter().filter(|k| self.catalog.needs_load(*k)).collect();
        if !stale.is_empty() {
            let _ = self.load_lists(lease.session(), None, &stale, Announce::Loaded);
        }
        drop(lease);
        if self.subscriptions.need_renewal() {
            self.renew_subscriptions();
        }
    }

    /// Subscribes again, on a live session, to every URI whose subscription
    /// was on a session that closed; each gets an update event, since it may
    /// have changed while nobody listened.
    fn renew_subscriptions(&self) {
        let lease = match self.pool.acquire() {
            Ok(lease) => lease,
            Err(e) => {
                log::warn!(target: "mcpstore::store", "[{}] cannot renew subscriptions: {e}", self.name);
                return;
            }
        };
        let renewed = self.subscriptions.renew(lease.session());
        if let Some(store) = self.store.upgrade() {
            for uri in renewed {
                store.events.emit(Event::ResourceUpdated { service: self.name.clone(), uri });
            }
        }
    }

    /// Sets the least severe level of the server's log messages, on every
    /// open session now and on each new one.
    pub(crate) fn set_log_level(&self, level: LogLevel) -> Result<()> {
        *self.log_level.write() = Some(level);
        let sessions = self.pool.live_sessions();
        if sessions.is_empty() {
            // Applied when the first session opens; fails now if none can.
            return self.pool.acquire().and_then(|lease| lease.session().set_log_level(level));
        }
        sessions.iter().try_for_each(|s| s.set_log_level(level))
    }

    /// Tells every open session that the client's roots changed.
    pub(crate) fn roots_changed(&self) {
        for session in self.pool.live_sessions() {
            session.notify_roots_changed();
        }
    }
}

/// The events announcing that `loaded` lists changed (resources and templates are one).
fn list_events(service: &str, loaded: &[ListKind]) -> Vec<Event> {
    let service = service.to_owned();
    let mut events = Vec::new();
    if loaded.contains(&ListKind::Tools) {
        events.push(Event::ToolsListChanged { service: service.clone() });
    }
    if loaded.contains(&ListKind::Resources) || loaded.contains(&ListKind::Templates) {
        events.push(Event::ResourcesListChanged { service: service.clone() });
    }
    if loaded.contains(&ListKind::Prompts) {
        events.push(Event::PromptsListChanged { service });
    }
    events
}

/// `notifications/message` params as an event (an unknown level counts as `info`).
fn log_event(service: String, params: &Value) -> Event {
    let level =
        params.get("level").and_then(Value::as_str).and_then(|l| l.parse().ok()).unwrap_or(LogLevel::Info);
    let logger = params.get("logger").and_then(Value::as_str).map(str::to_owned);
    let data = params.get("data").cloned().unwrap_or(Value::Null);
    Event::Log { service, level, logger, data }
}

struct Listener(Weak<Service>);

impl PoolListener for Listener {
    fn session_opened(&self, session: &Session, deadline: Option<Instant>) {
        let Some(service) = self.0.upgrade() else { return };
        let stale: Vec<ListKind> =
            ListKind::ALL.into_iter().filter(|k| service.catalog.needs_load(*k)).collect();
        if !stale.is_empty() {
            let _ = service.load_lists(session, deadline, &stale, Announce::Never);
        }
        if let Some(level) = *service.log_level.read()
            && let Err(e) = session.set_log_level(level)
        {
            log::warn!(target: "mcpstore::store", "[{}] logging/setLevel failed: {e}", service.name);
        }
        if let Some(store) = service.store.upgrade() {
            store.notify_settled();
        }
    }

    fn state_changed(&self, state: ServiceState, error: Option<String>) {
        let Some(service) = self.0.upgrade() else { return };
        if let Some(store) = service.store.upgrade() {
            store.events.emit(Event::ServiceState { service: service.name.clone(), state, error });
        }
    }
}
