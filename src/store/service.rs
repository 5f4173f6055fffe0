//! One service inside a store: its configuration, its connection pool and its tools.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::RwLock;
use serde::Serialize;

use crate::error::Result;
use crate::pool::connection::PoolListener;
use crate::pool::{ConnectionPool, PoolStats, ServiceState};
use crate::protocol::{Implementation, Tool};
use crate::servers::ServiceConfig;
use crate::session::{EventHandler, Session, SessionEvent, SessionOptions};

use super::StoreInner;

/// A service of a store.
pub struct Service {
    name: String,
    config: ServiceConfig,
    pool: Arc<ConnectionPool>,
    tools: RwLock<Arc<Vec<Arc<Tool>>>>,
    server: RwLock<Option<(Implementation, String)>>,
    tools_loaded: AtomicBool,
    tools_stale: AtomicBool,
    tools_loading: AtomicBool,
    store: Weak<StoreInner>,
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
    /// Sessions open now.
    pub sessions: usize,
}

impl Service {
    pub(crate) fn new(
        name: &str,
        config: ServiceConfig,
        pool_config: crate::config::PoolConfig,
        options: SessionOptions,
        store: Weak<StoreInner>,
    ) -> Arc<Service> {
        Arc::new_cyclic(|me: &Weak<Service>| {
            let weak = me.clone();
            let events: EventHandler = Arc::new(move |event: &SessionEvent| {
                if let (SessionEvent::ToolsListChanged, Some(service)) = (event, weak.upgrade()) {
                    service.tools_changed();
                }
            });
            let pool =
                ConnectionPool::new(name, config.transport.clone(), pool_config, options, Some(events));
            Service {
                name: name.to_owned(),
                config,
                pool,
                tools: RwLock::new(Arc::new(Vec::new())),
                server: RwLock::new(None),
                tools_loaded: AtomicBool::new(false),
                tools_stale: AtomicBool::new(false),
                tools_loading: AtomicBool::new(false),
                store,
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

    /// The service's connection pool.
    pub fn pool(&self) -> &Arc<ConnectionPool> {
        &self.pool
    }

    /// The tools the server listed.
    pub fn tools(&self) -> Arc<Vec<Arc<Tool>>> {
        self.tools.read().clone()
    }

    /// Whether the tool list has been loaded at least once.
    pub fn tools_loaded(&self) -> bool {
        self.tools_loaded.load(Ordering::Acquire)
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
        ServiceInfo {
            name: self.name.clone(),
            transport: self.config.transport.kind(),
            state,
            last_error,
            server_info: server.as_ref().map(|s| s.0.clone()),
            protocol_version: server.map(|s| s.1),
            tool_count: self.tools.read().len(),
            sessions: self.pool.open_sessions(),
        }
    }

    /// Loads the tool list through `session` and rebuilds the store's index.
    pub(crate) fn load_tools(&self, session: &Session) -> Result<()> {
        let tools = session.list_tools();
        if let Some(info) = session.server_info() {
            *self.server.write() = Some((info.server_info.clone(), info.protocol_version.clone()));
        }
        let tools = match tools {
            Ok(t) => t,
            Err(e) => {
                log::warn!(target: "mcpstore::store", "[{}] tools/list failed: {e}", self.name);
                return Err(e);
            }
        };
        *self.tools.write() = Arc::new(tools.into_iter().map(Arc::new).collect());
        self.tools_stale.store(false, Ordering::Release);
        if let Some(store) = self.store.upgrade() {
            store.rebuild_index();
            store.on_tools_changed(&self.name);
        }
        // Only now: a caller that sees the service settled must find its tools in the index.
        self.tools_loaded.store(true, Ordering::Release);
        Ok(())
    }

    /// The server said its tools changed: reload them (and drop cached results).
    fn tools_changed(self: &Arc<Self>) {
        self.tools_stale.store(true, Ordering::Release);
        if let Some(store) = self.store.upgrade() {
            store.on_tools_changed(&self.name);
        }
        self.reload_tools_in_background();
    }

    /// Reloads the tool list on a background thread, one reload at a time.
    pub(crate) fn reload_tools_in_background(self: &Arc<Self>) {
        if self.tools_loading.swap(true, Ordering::AcqRel) {
            return;
        }
        let service = self.clone();
        let spawned =
            std::thread::Builder::new().name(format!("mcps-tools-{}", self.name)).spawn(move || {
                match service.pool.acquire() {
                    Ok(lease) => {
                        let _ = service.load_tools(lease.session());
                    }
                    Err(e) => {
                        log::warn!(target: "mcpstore::store", "[{}] cannot refresh tools: {e}", service.name)
                    }
                }
                service.tools_loading.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            self.tools_loading.store(false, Ordering::Release);
        }
    }
}

struct Listener(Weak<Service>);

impl PoolListener for Listener {
    fn session_opened(&self, session: &Session) {
        if let Some(service) = self.0.upgrade() {
            if !service.tools_loaded() || service.tools_stale.load(Ordering::Acquire) {
                let _ = service.load_tools(session);
            }
            if let Some(store) = service.store.upgrade() {
                store.notify_settled();
            }
        }
    }
}
