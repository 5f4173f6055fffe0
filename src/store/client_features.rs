//! Registering what answers a server's requests: sampling, elicitation and
//! roots handlers, for the whole store or for one service, and the roots
//! themselves. A change reaches servers as MCP asks: capabilities are
//! declared at `initialize` (sessions opened from now on; restart a service
//! to apply them at once), a change of roots is announced at once
//! (`notifications/roots/list_changed`).

use std::sync::Arc;

use super::Store;
use super::handlers::{ElicitationHandler, FixedRoots, HandlerSet, RootsHandler, SamplingHandler};
use crate::error::Result;
use crate::protocol::Root;

impl Store {
    /// Changes the handlers of `service`, or the store's (`None`).
    fn change_handlers(&self, service: Option<&str>, change: impl FnOnce(&mut HandlerSet)) -> Result<()> {
        match service {
            Some(name) => self.inner.service(name)?.update_handlers(change),
            None => change(&mut self.inner.handlers.write()),
        }
        Ok(())
    }

    /// Sets (or with `None` removes) the sampling handler of `service`, or
    /// the store's (`None`): it answers `sampling/createMessage`.
    pub fn set_sampling_handler(
        &self,
        service: Option<&str>,
        handler: Option<Arc<dyn SamplingHandler>>,
    ) -> Result<()> {
        self.change_handlers(service, |h| h.sampling = handler)
    }

    /// Sets (or removes) the elicitation handler of `service` or the store's:
    /// it answers `elicitation/create` ([`crate::AcceptDefaults`] is a built-in one).
    pub fn set_elicitation_handler(
        &self,
        service: Option<&str>,
        handler: Option<Arc<dyn ElicitationHandler>>,
    ) -> Result<()> {
        self.change_handlers(service, |h| h.elicitation = handler)
    }

    /// Sets (or removes) the roots handler of `service` or the store's, and
    /// tells the servers concerned that the roots changed.
    pub fn set_roots_handler(
        &self,
        service: Option<&str>,
        handler: Option<Arc<dyn RootsHandler>>,
    ) -> Result<()> {
        self.change_handlers(service, |h| h.roots = handler)?;
        self.roots_changed(service)
    }

    /// Gives `service` (or every service: `None`) these roots, and tells
    /// the servers concerned that the roots changed.
    pub fn set_roots(&self, service: Option<&str>, roots: Vec<Root>) -> Result<()> {
        for (i, root) in roots.iter().enumerate() {
            root.validate().map_err(|m| crate::Error::InvalidArgument(format!("roots[{i}]: {m}")))?;
        }
        self.set_roots_handler(service, Some(Arc::new(FixedRoots(roots))))
    }

    /// Tells the servers of `service` (every service using the store's roots:
    /// `None`) that the roots changed, so they ask again (for a roots
    /// handler whose answer changed).
    pub fn roots_changed(&self, service: Option<&str>) -> Result<()> {
        match service {
            Some(name) => self.inner.service(name)?.roots_changed(),
            None => {
                let services: Vec<_> = self.inner.services.read().values().cloned().collect();
                // A service with roots of its own did not change.
                for s in services.iter().filter(|s| s.handlers().roots.is_none()) {
                    s.roots_changed();
                }
            }
        }
        Ok(())
    }
}
