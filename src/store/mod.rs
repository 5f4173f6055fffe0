//! The [`Store`]: many services, one tool namespace, pooled sessions, calls.

mod auth;
mod batch;
mod cached;
mod call;
mod catalog;
mod client_features;
mod elicit_schema;
mod events;
mod features;
mod handlers;
mod index;
mod maintenance;
mod memory;
mod output_schema;
mod requests;
mod resource_index;
mod retry;
mod service;
mod stats;
mod submit;
mod submit_direct;
mod subscriptions;
mod tuning;
mod watchdog;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};
use serde_json::Value;

use crate::call_options::CallOptions;
use crate::config::{
    self, BatchConfig, CacheConfig, MemoryConfig, PerformanceConfig, PoolConfig, ServiceConfig,
};
use crate::error::{Error, Result};
use crate::exec::{CallHandle, CallResult, CompletionQueue, ToolCall, ToolOutput};
use crate::pool::PoolStats;
use crate::protocol::Tool;
use crate::session::SessionOptions;

use auth::AuthHooks;
pub use auth::LOGIN_TIMEOUT;
pub use batch::BatchOptions;
pub use events::{Event, EventQueue};
pub use features::Listed;
pub use handlers::{
    AcceptDefaults, ElicitationHandler, HandlerError, Reply, RequestContext, RootsHandler, SamplingHandler,
};
pub(crate) use index::{PromptIndex, PromptRef, ToolIndex, ToolRef};
pub(crate) use service::Service;
pub use service::ServiceInfo;
pub use stats::StoreStats;
pub use tuning::ApplyReport;

use catalog::ListKind;
use handlers::HandlerSet;
use maintenance::Maintenance;
use resource_index::ResourceIndex;

/// Builds a [`Store`].
#[derive(Clone)]
pub struct StoreBuilder {
    config: PerformanceConfig,
    client_name: String,
    use_env: bool,
    handlers: HandlerSet,
    /// The authorizer and token store of OAuth services (`store/auth.rs`).
    auth: AuthHooks,
}

impl std::fmt::Debug for StoreBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreBuilder")
            .field("config", &self.config)
            .field("client_name", &self.client_name)
            .field("use_env", &self.use_env)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl Default for StoreBuilder {
    fn default() -> Self {
        StoreBuilder {
            config: PerformanceConfig::new(),
            client_name: "mcpstore".to_owned(),
            use_env: false,
            handlers: HandlerSet::default(),
            auth: AuthHooks::default(),
        }
    }
}

impl StoreBuilder {
    /// Pool settings for every service.
    pub fn pool(mut self, pool: PoolConfig) -> Self {
        self.config.pool = pool;
        self
    }

    /// Result cache settings.
    pub fn cache(mut self, cache: CacheConfig) -> Self {
        self.config.cache = cache;
        self
    }

    /// Batch and background call settings.
    pub fn batch(mut self, batch: BatchConfig) -> Self {
        self.config.batch = batch;
        self
    }

    /// Memory monitor settings.
    pub fn memory(mut self, memory: MemoryConfig) -> Self {
        self.config.memory = memory;
        self
    }

    /// Every setting at once.
    pub fn performance(mut self, config: PerformanceConfig) -> Self {
        self.config = config;
        self
    }

    /// Also applies `MCPSTORE_*` environment variables when building (they win).
    pub fn with_env(mut self) -> Self {
        self.use_env = true;
        self
    }

    /// The name sent to servers as `clientInfo.name`.
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.client_name = name.into();
        self
    }

    /// Answers every server's `sampling/createMessage` (servers learn of it in `initialize`).
    pub fn sampling_handler(mut self, handler: impl SamplingHandler + 'static) -> Self {
        self.handlers.sampling = Some(Arc::new(handler));
        self
    }

    /// Answers every server's `elicitation/create` ([`AcceptDefaults`] is a built-in one).
    pub fn elicitation_handler(mut self, handler: impl ElicitationHandler + 'static) -> Self {
        self.handlers.elicitation = Some(Arc::new(handler));
        self
    }

    /// Gives every server these roots for `roots/list`.
    pub fn roots(mut self, roots: Vec<crate::protocol::Root>) -> Self {
        self.handlers.roots = Some(Arc::new(handlers::FixedRoots(roots)));
        self
    }

    /// Answers every server's `roots/list` with a handler.
    pub fn roots_handler(mut self, handler: impl RootsHandler + 'static) -> Self {
        self.handlers.roots = Some(Arc::new(handler));
        self
    }

    /// Builds the store and starts its maintenance thread.
    pub fn build(self) -> Result<Store> {
        let mut config = self.config;
        if self.use_env {
            config.apply_env()?;
        }
        config.validate()?;
        let store = Store::with_config(config, self.client_name, self.auth)?;
        *store.inner.handlers.write() = self.handlers;
        Ok(store)
    }
}

/// The shared state behind a [`Store`]; background threads hold it weakly.
pub(crate) struct StoreInner {
    config: RwLock<PerformanceConfig>,
    pub(crate) cache: crate::cache::ResultCache,
    cache_enabled: std::sync::atomic::AtomicBool,
    executor: std::sync::OnceLock<std::result::Result<crate::exec::Executor, Error>>,
    pub(crate) limiter: crate::exec::Limiter,
    pub(crate) metrics: Mutex<std::collections::HashMap<(String, String), Arc<crate::metrics::ToolMetrics>>>,
    pub(crate) monitor: crate::monitor::MemoryMonitor,
    started: Instant,
    pub(crate) in_flight: crate::exec::InFlight,
    services: RwLock<BTreeMap<String, Arc<Service>>>,
    index: RwLock<Arc<ToolIndex>>,
    prompt_index: RwLock<Arc<PromptIndex>>,
    resource_index: RwLock<Arc<ResourceIndex>>,
    /// Where events go: the callback and the queues.
    pub(crate) events: events::EventBus,
    /// The store's handlers (a service's own win over them).
    pub(crate) handlers: RwLock<HandlerSet>,
    /// The store's deadline thread: ends background calls no thread waits for
    /// when their reply is late, and answers server requests whose handler ran out of time.
    pub(crate) deadlines: crate::exec::Deadlines,
    settled: (Mutex<()>, Condvar),
    client_name: String,
    maintenance: Maintenance,
    closed: std::sync::atomic::AtomicBool,
    /// Runs user code: progress and completion callbacks, events, handlers.
    pub(crate) callbacks: Arc<crate::dispatch::Dispatcher>,
    /// Sends cancellation notices for every session of the store.
    pub(crate) notices: Arc<crate::dispatch::Dispatcher>,
    /// This store itself, for work that outlives a borrow (background calls).
    me: std::sync::Weak<StoreInner>,
    /// What OAuth services get: the authorizer and the token store.
    auth: crate::auth::AuthContext,
}

impl StoreInner {
    /// Rebuilds the indexes of the list kinds in `kinds` from every service's lists.
    pub(crate) fn rebuild_indexes(&self, kinds: &[ListKind]) {
        if kinds.contains(&ListKind::Tools) {
            self.rebuild_tool_index();
        }
        if kinds.contains(&ListKind::Prompts) {
            let mut index = self.prompt_index.write();
            let services: Vec<_> = self.services.read().values().cloned().collect();
            let prompts = services
                .iter()
                .flat_map(|s| {
                    s.prompts()
                        .iter()
                        .map(|p| PromptRef { service: s.clone(), prompt: p.clone() })
                        .collect::<Vec<_>>()
                })
                .collect();
            *index = Arc::new(PromptIndex::build(prompts));
        }
        if kinds.contains(&ListKind::Resources) || kinds.contains(&ListKind::Templates) {
            let mut index = self.resource_index.write();
            let services: Vec<_> = self.services.read().values().cloned().collect();
            let lists = services.into_iter().map(|s| {
                let uris = s.resources().iter().map(|r| r.uri.clone()).collect();
                let templates = s.templates().iter().cloned().collect();
                (s, uris, templates)
            });
            *index = Arc::new(ResourceIndex::build(lists));
        }
    }

    /// Rebuilds the tool index from every service's tool list.
    fn rebuild_tool_index(&self) {
        // Read the tool lists and publish the index under one lock: two services
        // loading their tools at once must not publish an index built from a
        // snapshot that misses the other's tools.
        let mut index = self.index.write();
        let services: Vec<_> = self.services.read().values().cloned().collect();
        let mut registry = self.metrics.lock();
        let mut tools = Vec::new();
        for service in &services {
            for tool in service.tools().iter() {
                let metrics = registry
                    .entry((service.name().to_owned(), tool.name.clone()))
                    .or_insert_with(|| crate::metrics::ToolMetrics::new(service.name(), &tool.name))
                    .clone();
                let output = match (&tool.output_schema, service.config().check_output_schema) {
                    (Some(schema), true) => Some(Arc::new(output_schema::OutputCheck::new(schema.clone()))),
                    _ => None,
                };
                let param_headers = crate::protocol::param_headers::param_headers(&tool.input_schema)
                    .map(Arc::from)
                    .unwrap_or_else(|_| Arc::from(Vec::new()));
                tools.push(ToolRef {
                    service: service.clone(),
                    tool: tool.clone(),
                    metrics,
                    output,
                    param_headers,
                });
            }
        }
        *index = Arc::new(ToolIndex::build(tools));
    }

    /// The prompt index.
    pub(crate) fn prompt_index(&self) -> Arc<PromptIndex> {
        self.prompt_index.read().clone()
    }

    /// The resource index.
    pub(crate) fn resource_index(&self) -> Arc<ResourceIndex> {
        self.resource_index.read().clone()
    }

    /// A service's tools changed: drop what was cached for it.
    pub(crate) fn on_tools_changed(&self, service: &str) {
        self.cache.invalidate_service(service);
    }

    /// The settings in force.
    pub(crate) fn config(&self) -> PerformanceConfig {
        self.config.read().clone()
    }

    /// The store's worker threads, started on first use.
    pub(crate) fn executor(&self) -> Result<&crate::exec::Executor> {
        let threads = self.config.read().batch.workers();
        self.executor.get_or_init(|| crate::exec::Executor::new(threads)).as_ref().map_err(Clone::clone)
    }

    /// Whether read-only tools are cached automatically.
    pub(crate) fn cache_enabled(&self) -> bool {
        self.cache_enabled.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn set_cache_enabled(&self, on: bool) {
        self.cache_enabled.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Wakes threads waiting for services to finish starting.
    pub(crate) fn notify_settled(&self) {
        let _g = self.settled.0.lock();
        self.settled.1.notify_all();
    }

    pub(crate) fn index(&self) -> Arc<ToolIndex> {
        self.index.read().clone()
    }

    pub(crate) fn service(&self, name: &str) -> Result<Arc<Service>> {
        let services = self.services.read();
        services.get(name).cloned().ok_or_else(|| Error::ServiceNotFound {
            name: name.to_owned(),
            suggestions: index::suggest(name, services.keys().map(String::as_str)),
        })
    }

    /// Waits until every service in `names` (all when empty) has settled, up to `timeout`.
    pub(crate) fn wait_settled(&self, only: Option<&str>, timeout: Duration) {
        let deadline = crate::util::deadline_after(timeout);
        let mut guard = self.settled.0.lock();
        loop {
            let pending = {
                let services = self.services.read();
                services.values().any(|s| only.is_none_or(|n| n == s.name()) && !s.settled())
            };
            if !pending || Instant::now() >= deadline {
                return;
            }
            // Short slices: a failed first connect does not signal the condvar.
            let slice = (Instant::now() + Duration::from_millis(25)).min(deadline);
            let _ = self.settled.1.wait_until(&mut guard, slice);
        }
    }

    fn shutdown(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::Release);
        self.maintenance.stop();
        // Pending calls end as closed first; then no deadline of theirs is left to run,
        // and server requests still waiting for a handler are answered at once.
        self.in_flight.close_all();
        self.deadlines.stop();
        // Let the servers hear about the cancelled calls before their sessions close.
        self.notices.stop(Duration::from_secs(2));
        // Callbacks of calls that just ended still run (bounded).
        self.callbacks.stop(Duration::from_secs(2));
        let services: Vec<_> = std::mem::take(&mut *self.services.write()).into_values().collect();
        std::thread::scope(|s| {
            for service in &services {
                s.spawn(|| service.pool().close());
            }
        });
        *self.index.write() = Arc::new(ToolIndex::default());
        *self.prompt_index.write() = Arc::new(PromptIndex::default());
        *self.resource_index.write() = Arc::new(ResourceIndex::default());
        self.events.close();
    }
}

/// Keeps many MCP services at hand and calls their tools.
///
/// A store is shared by reference between threads (`&Store` is `Send + Sync`);
/// dropping it closes every session and child process and ends its threads.
pub struct Store {
    inner: Arc<StoreInner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("services", &self.inner.services.read().keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Store {
    /// A builder with the default settings.
    pub fn builder() -> StoreBuilder {
        StoreBuilder::default()
    }

    /// A store with the default settings.
    pub fn new() -> Result<Store> {
        Store::builder().build()
    }

    fn with_config(config: PerformanceConfig, client_name: String, auth: AuthHooks) -> Result<Store> {
        let auth = auth.context(&client_name);
        let callbacks = Arc::new(crate::dispatch::Dispatcher::new("mcps-dispatch"));
        let inner = Arc::new_cyclic(|weak| StoreInner {
            cache: crate::cache::ResultCache::new(config.cache.capacity, config.cache.max_bytes),
            cache_enabled: std::sync::atomic::AtomicBool::new(config.cache.enabled),
            executor: std::sync::OnceLock::new(),
            limiter: crate::exec::Limiter::new(config.batch.max_concurrent_calls),
            metrics: Mutex::new(std::collections::HashMap::new()),
            monitor: crate::monitor::MemoryMonitor::new(
                config.memory.threshold_mb,
                config.memory.monitoring_interval,
            ),
            started: Instant::now(),
            in_flight: crate::exec::InFlight::default(),
            config: RwLock::new(config),
            services: RwLock::new(BTreeMap::new()),
            index: RwLock::new(Arc::new(ToolIndex::default())),
            prompt_index: RwLock::new(Arc::new(PromptIndex::default())),
            resource_index: RwLock::new(Arc::new(ResourceIndex::default())),
            events: events::EventBus::new(callbacks.clone()),
            handlers: RwLock::new(HandlerSet::default()),
            deadlines: crate::exec::Deadlines::default(),
            settled: (Mutex::new(()), Condvar::new()),
            client_name,
            maintenance: Maintenance::start(weak.clone()),
            callbacks: callbacks.clone(),
            notices: Arc::new(crate::dispatch::Dispatcher::new("mcps-notices")),
            me: weak.clone(),
            closed: std::sync::atomic::AtomicBool::new(false),
            auth,
        });
        let memory = inner.config().memory;
        if memory.monitoring_enabled {
            inner.monitor.start(memory.monitoring_interval);
        }
        inner.maintenance.wake(); // the store exists now: let the maintenance thread start
        Ok(Store { inner })
    }

    /// A store from an `mcp.json` file: its `performance` section, then the
    /// environment, then its services.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Store> {
        let file = config::load_file(path.as_ref(), &PerformanceConfig::new())?;
        Store::from_servers_file(file)
    }

    /// A store from the text of an `mcp.json` file.
    pub fn from_json(text: &str) -> Result<Store> {
        let file = config::parse_str(text, &PerformanceConfig::new())?;
        Store::from_servers_file(file)
    }

    fn from_servers_file(file: config::ServersFile) -> Result<Store> {
        let mut perf = file.performance;
        perf.apply_env()?;
        let store = Store::builder().performance(perf).credentials(file.credentials.as_ref()).build()?;
        for (name, config) in file.services {
            store.add_service(&name, config)?;
        }
        Ok(store)
    }

    /// Adds the services of an `mcp.json` file to this store (its
    /// `performance` section, if any, applies to them).
    pub fn load_config(&self, path: impl AsRef<Path>) -> Result<Vec<String>> {
        let base = self.inner.config.read().clone();
        let file = config::load_file(path.as_ref(), &base)?;
        self.add_services_from(file)
    }

    /// Adds the services of `mcp.json` text to this store.
    pub fn load_json(&self, text: &str) -> Result<Vec<String>> {
        let base = self.inner.config.read().clone();
        let file = config::parse_str(text, &base)?;
        self.add_services_from(file)
    }

    fn add_services_from(&self, file: config::ServersFile) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for (name, mut config) in file.services {
            if config.pool.is_none() && file.has_performance {
                config.pool = Some(file.performance.pool.clone());
            }
            self.add_service(&name, config)?;
            names.push(name);
        }
        Ok(names)
    }

    /// Adds a service and starts connecting to it in the background; calls
    /// that need it wait (up to its connection timeout) until it is ready.
    pub fn add_service(&self, name: &str, config: ServiceConfig) -> Result<()> {
        config::validate_name(name)?;
        if self.inner.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(Error::Closed { message: "store is closed".into(), may_have_run: false });
        }
        config.validate(name)?;
        let perf = self.inner.config.read().clone();
        let pool_config = config.pool.clone().unwrap_or_else(|| perf.pool.clone());
        let options = SessionOptions {
            client_name: self.inner.client_name.clone(),
            connection_timeout: pool_config.connection_timeout,
            read_timeout: pool_config.read_timeout,
            write_timeout: pool_config.write_timeout,
            max_message_bytes: perf.max_response_bytes,
            protocol: config.protocol.clone(),
        };
        let auth = self.auth_for(name, &config, &pool_config)?;
        let context = crate::session::SessionContext {
            callbacks: Some(self.inner.callbacks.clone()),
            notices: Some(self.inner.notices.clone()),
            auth: auth.clone().map(|a| a as Arc<dyn crate::transport::AuthHook>),
            ..Default::default()
        };
        let service =
            Service::new(name, config, pool_config, options, Arc::downgrade(&self.inner), context, auth);
        service.attach();
        {
            let mut services = self.inner.services.write();
            if services.contains_key(name) {
                return Err(Error::config(Some(name), None, "a service with this name already exists"));
            }
            services.insert(name.to_owned(), service.clone());
        }
        self.inner.maintenance.wake();
        Ok(())
    }

    /// Removes a service and closes its sessions.
    pub fn remove_service(&self, name: &str) -> Result<()> {
        let service = self.inner.services.write().remove(name);
        let Some(service) = service else {
            return Err(self
                .inner
                .service(name)
                .err()
                .unwrap_or(Error::ServiceNotFound { name: name.to_owned(), suggestions: Vec::new() }));
        };
        self.inner.rebuild_indexes(&ListKind::ALL);
        self.inner.on_tools_changed(name);
        // Its metrics go with it, so the registry never outgrows the services.
        self.inner.metrics.lock().retain(|(service, _), _| service != name);
        service.pool().close();
        self.inner.notify_settled();
        Ok(())
    }

    /// Closes every session of a service and starts it afresh.
    pub fn restart_service(&self, name: &str) -> Result<()> {
        let service = self.inner.service(name)?;
        let config = service.config().clone();
        self.remove_service(name)?;
        self.add_service(name, config)
    }

    /// Every service with its state, server info and tool count.
    pub fn list_services(&self) -> Vec<ServiceInfo> {
        self.inner.services.read().values().map(|s| s.info()).collect()
    }

    /// A service's configuration, as given to [`Store::add_service`].
    pub fn service_config(&self, name: &str) -> Result<ServiceConfig> {
        self.inner.service(name).map(|s| s.config().clone())
    }

    /// Takes one session of a service's pool and returns it (micro-benchmarks).
    #[cfg(feature = "bench-internals")]
    pub(crate) fn checkout_once(&self, service: &str) -> Result<()> {
        self.inner.service(service)?.pool().acquire().map(drop)
    }

    /// The names of the services.
    pub fn service_names(&self) -> Vec<String> {
        self.inner.services.read().keys().cloned().collect()
    }

    /// Waits until every service has connected (or failed to), up to `timeout`;
    /// returns the services that are not serving.
    pub fn wait_ready(&self, timeout: Duration) -> Vec<ServiceInfo> {
        self.inner.wait_settled(None, timeout);
        self.list_services().into_iter().filter(|s| s.tool_count == 0 && s.sessions == 0).collect()
    }

    /// The tools of one service, or of every service (`None`), as
    /// `(service, tool)` pairs. Waits for services that are still starting.
    pub fn list_tools(&self, service: Option<&str>) -> Result<Vec<(String, Arc<Tool>)>> {
        let services: Vec<Arc<Service>> = match service {
            Some(name) => vec![self.inner.service(name)?],
            None => self.inner.services.read().values().cloned().collect(),
        };
        let wait = services.iter().map(|s| s.pool().config().connection_timeout).max().unwrap_or_default();
        self.inner.wait_settled(service, wait);
        let mut out = Vec::new();
        for s in services {
            if let Some(only) = service
                && !s.tools_loaded()
            {
                if let Some(auth) = s.auth_error() {
                    return Err(auth);
                }
                let (state, error) = s.pool().state();
                return Err(Error::Closed {
                    message: format!(
                        "service '{only}' is {}: {}",
                        state.as_str(),
                        error.unwrap_or_else(|| "no tools loaded".into())
                    ),
                    may_have_run: false,
                });
            }
            for t in s.tools().iter() {
                out.push((s.name().to_owned(), t.clone()));
            }
        }
        Ok(out)
    }

    /// Resolves a tool name to `(service, tool definition)`.
    pub fn resolve_tool(&self, name: &str) -> Result<(String, Arc<Tool>)> {
        let wait = self.inner.config.read().pool.connection_timeout;
        self.inner
            .resolve(name, crate::util::deadline_after(wait))
            .map(|r| (r.service.name().to_owned(), r.tool.clone()))
    }

    /// Calls a tool by name (`service.tool`, `service_tool`, or a unique bare
    /// name). Never served from the cache: that takes a cache key or a cache
    /// policy (see [`CallOptions::cache_key`] and [`ServiceConfig::cache`]).
    pub fn call_tool(&self, name: &str, arguments: Value) -> Result<ToolOutput> {
        self.inner.call(name, &arguments, &CallOptions::default())
    }

    /// Calls a tool with per-call options (timeout, cache key, retry opt-in, cancellation, progress).
    pub fn call_tool_with(&self, name: &str, arguments: Value, options: &CallOptions) -> Result<ToolOutput> {
        self.inner.call(name, &arguments, options)
    }

    /// Runs many calls with bounded parallelism; one result per call, in input order.
    pub fn batch_call(&self, calls: &[ToolCall], options: &BatchOptions) -> Vec<CallResult> {
        batch::run_batch(&self.inner, calls, options)
    }

    /// Like [`Store::batch_call`] for calls that may have failed to parse
    /// (a JSONL file, a C caller's JSON): the valid ones run as one batch, and
    /// every item's outcome, parse errors included, comes back in input order.
    pub fn batch_call_items(&self, calls: Vec<Result<ToolCall>>, options: &BatchOptions) -> Vec<CallResult> {
        let valid: Vec<ToolCall> = calls.iter().filter_map(|c| c.as_ref().ok().cloned()).collect();
        let mut done = self.batch_call(&valid, options).into_iter();
        calls
            .into_iter()
            .map(|c| match c {
                Ok(_) => done.next().unwrap_or_else(|| Err(Error::Internal("batch item lost".into()))),
                Err(e) => Err(e),
            })
            .collect()
    }

    /// Starts a call in the background and returns its handle.
    ///
    /// Waits up to `submit_timeout` for a free slot when `max_concurrent_calls`
    /// are in flight, then fails with [`Error::Busy`].
    pub fn submit(&self, call: ToolCall) -> Result<CallHandle> {
        self.inner.submit_call(call, None)
    }

    /// Like [`Store::submit`], and runs `callback` once with the outcome, on
    /// the store's dispatch thread (never a transport's reader; callbacks run
    /// one at a time, in the order calls finish). Waiters of the handle see
    /// the outcome only after the callback returned.
    pub fn submit_with_callback(
        &self,
        call: ToolCall,
        callback: impl FnOnce(CallResult) + Send + 'static,
    ) -> Result<CallHandle> {
        self.inner.submit_call(call, Some(submit::OnDone::User(Box::new(callback))))
    }

    /// A queue that hands out completions of tagged submissions as they finish.
    pub fn completion_queue(&self) -> CompletionQueue {
        let store: std::sync::Weak<dyn crate::exec::Submit> = Arc::downgrade(&self.inner) as _;
        CompletionQueue::new(store)
    }

    /// The result cache's counters.
    pub fn cache_stats(&self) -> crate::cache::CacheStats {
        self.inner.cache.stats()
    }

    /// The executor's counters.
    pub fn executor_stats(&self) -> crate::exec::ExecutorStats {
        let l = &self.inner.limiter;
        crate::exec::ExecutorStats {
            workers: self.inner.executor.get().and_then(|e| e.as_ref().ok()).map_or(0, |e| e.threads()),
            in_flight: l.in_flight(),
            max_in_flight: l.peak(),
            submitted: l.submitted.load(std::sync::atomic::Ordering::Relaxed),
            rejected: l.rejected.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Pool statistics of every service.
    pub fn pool_stats(&self) -> BTreeMap<String, PoolStats> {
        self.inner.services.read().iter().map(|(k, s)| (k.clone(), s.pool_stats())).collect()
    }

    /// The settings in force.
    pub fn config(&self) -> PerformanceConfig {
        self.inner.config.read().clone()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.inner.shutdown();
    }
}
