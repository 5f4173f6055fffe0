//! What a service offers, as its server last listed it: tools, resources,
//! resource templates and prompts. Each list is loaded with the first
//! session, marked stale by its `list_changed` notification and loaded again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use parking_lot::{Mutex, RwLock};
use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::protocol::messages::methods;
use crate::protocol::{InitializeResult, Prompt, Resource, ResourceTemplate, Tool};
use crate::session::Session;

/// One kind of list a server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListKind {
    Tools,
    Resources,
    Templates,
    Prompts,
}

impl ListKind {
    pub(crate) const ALL: [ListKind; 4] =
        [ListKind::Tools, ListKind::Resources, ListKind::Templates, ListKind::Prompts];

    /// The list method and the key of its items.
    fn method(self) -> (&'static str, &'static str) {
        match self {
            ListKind::Tools => (methods::TOOLS_LIST, "tools"),
            ListKind::Resources => (methods::RESOURCES_LIST, "resources"),
            ListKind::Templates => (methods::RESOURCE_TEMPLATES_LIST, "resourceTemplates"),
            ListKind::Prompts => (methods::PROMPTS_LIST, "prompts"),
        }
    }

    /// Whether the server offers this kind. Tools are always listed (servers
    /// that forget the capability still answer); the others only when announced.
    pub(crate) fn offered_by(self, info: Option<&InitializeResult>) -> bool {
        let has = |key: &str| info.is_some_and(|i| i.capabilities.get(key).is_some_and(|c| !c.is_null()));
        match self {
            ListKind::Tools => true,
            ListKind::Resources | ListKind::Templates => has("resources"),
            ListKind::Prompts => has("prompts"),
        }
    }
}

/// One list of a service.
pub(crate) struct Listing<T> {
    items: RwLock<Arc<Vec<Arc<T>>>>,
    loaded: AtomicBool,
    stale: AtomicBool,
    /// Until when the server said the list stays fresh (`ttlMs`, 2026-07-28).
    fresh_until: Mutex<Option<Instant>>,
}

impl<T> Default for Listing<T> {
    fn default() -> Self {
        Listing {
            items: RwLock::new(Arc::new(Vec::new())),
            loaded: AtomicBool::new(false),
            stale: AtomicBool::new(false),
            fresh_until: Mutex::new(None),
        }
    }
}

impl<T: DeserializeOwned + PartialEq> Listing<T> {
    /// The items, as last listed.
    pub(crate) fn get(&self) -> Arc<Vec<Arc<T>>> {
        self.items.read().clone()
    }

    /// Whether it was listed at least once.
    pub(crate) fn loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Whether it must be listed (again).
    pub(crate) fn needs_load(&self) -> bool {
        !self.loaded() || self.stale.load(Ordering::Acquire)
    }

    pub(crate) fn mark_stale(&self) {
        self.stale.store(true, Ordering::Release);
    }

    /// Replaces the items; `loaded` is set by the caller once the indexes
    /// hold them. Whether they differ from the ones before.
    pub(crate) fn set(&self, items: Vec<T>) -> bool
    where
        T: PartialEq,
    {
        let mut current = self.items.write();
        let changed = current.len() != items.len() || current.iter().zip(&items).any(|(a, b)| **a != *b);
        *current = Arc::new(items.into_iter().map(Arc::new).collect());
        self.stale.store(false, Ordering::Release);
        changed
    }

    pub(crate) fn set_loaded(&self) {
        self.loaded.store(true, Ordering::Release);
    }

    /// Keeps only the items `keep` accepts.
    pub(crate) fn retain(&self, keep: impl Fn(&T) -> bool) {
        let mut items = self.items.write();
        if items.iter().all(|i| keep(i)) {
            return;
        }
        *items = Arc::new(items.iter().filter(|i| keep(i)).cloned().collect());
    }

    /// Whether the server's freshness lifetime for the list has run out.
    /// Lists of servers that give none (2025-11-25) never expire: their
    /// `list_changed` notifications keep them current.
    pub(crate) fn expired(&self, now: Instant) -> bool {
        self.fresh_until.lock().is_some_and(|until| now >= until)
    }

    /// Lists the items through `session` (by `deadline`) and keeps them;
    /// whether they changed.
    fn load(&self, kind: ListKind, session: &Session, deadline: Option<Instant>) -> Result<bool> {
        let (method, key) = kind.method();
        let received = Instant::now();
        let (items, ttl) = session.list_all_fresh(method, key, deadline)?;
        *self.fresh_until.lock() = ttl.map(|ttl| received + ttl);
        Ok(self.set(items))
    }
}

/// Every list of a service.
#[derive(Default)]
pub(crate) struct Catalog {
    pub(crate) tools: Listing<Tool>,
    pub(crate) resources: Listing<Resource>,
    pub(crate) templates: Listing<ResourceTemplate>,
    pub(crate) prompts: Listing<Prompt>,
}

impl Catalog {
    /// Whether `kind` must be listed (again).
    pub(crate) fn needs_load(&self, kind: ListKind) -> bool {
        match kind {
            ListKind::Tools => self.tools.needs_load(),
            ListKind::Resources => self.resources.needs_load(),
            ListKind::Templates => self.templates.needs_load(),
            ListKind::Prompts => self.prompts.needs_load(),
        }
    }

    /// Whether the server's freshness lifetime for `kind` ran out.
    pub(crate) fn expired(&self, kind: ListKind, now: Instant) -> bool {
        match kind {
            ListKind::Tools => self.tools.expired(now),
            ListKind::Resources => self.resources.expired(now),
            ListKind::Templates => self.templates.expired(now),
            ListKind::Prompts => self.prompts.expired(now),
        }
    }

    pub(crate) fn mark_stale(&self, kind: ListKind) {
        match kind {
            ListKind::Tools => self.tools.mark_stale(),
            ListKind::Resources => self.resources.mark_stale(),
            ListKind::Templates => self.templates.mark_stale(),
            ListKind::Prompts => self.prompts.mark_stale(),
        }
    }

    pub(crate) fn set_loaded(&self, kind: ListKind) {
        match kind {
            ListKind::Tools => self.tools.set_loaded(),
            ListKind::Resources => self.resources.set_loaded(),
            ListKind::Templates => self.templates.set_loaded(),
            ListKind::Prompts => self.prompts.set_loaded(),
        }
    }

    /// Lists `kind` through `session`; a kind the server does not offer is an
    /// empty list. Whether the list changed.
    pub(crate) fn load(&self, kind: ListKind, session: &Session, deadline: Option<Instant>) -> Result<bool> {
        let info = session.server_info();
        if !kind.offered_by(info.as_deref()) {
            return Ok(match kind {
                ListKind::Tools => self.tools.set(Vec::new()),
                ListKind::Resources => self.resources.set(Vec::new()),
                ListKind::Templates => self.templates.set(Vec::new()),
                ListKind::Prompts => self.prompts.set(Vec::new()),
            });
        }
        match kind {
            ListKind::Tools => self.tools.load(kind, session, deadline),
            ListKind::Resources => self.resources.load(kind, session, deadline),
            ListKind::Templates => self.templates.load(kind, session, deadline),
            ListKind::Prompts => self.prompts.load(kind, session, deadline),
        }
    }
}
