//! The store's server features besides tools: resources, templates,
//! prompts, completions and log levels, resolved across services like tool
//! names; and the event stream. Every request here is read-only, so one that
//! failed on a session that died is tried once more on another.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value};

use super::catalog::ListKind;
use super::events::{Event, EventQueue};
use super::service::Service;
use super::{Store, StoreInner};
use crate::call_options::CallOptions;
use crate::error::{Error, Result, TimeoutPhase};
use crate::protocol::{
    CompleteResult, CompletionRef, GetPromptResult, LogLevel, Prompt, ReadResourceResult, Resource,
    ResourceTemplate,
};
use crate::session::Session;
use crate::util::deadline_after;

/// `(service, item)` pairs, as the list calls return them.
pub type Listed<T> = Vec<(String, Arc<T>)>;

impl StoreInner {
    /// The services a list covers: one, or all; waits for those still starting.
    fn listed_services(&self, service: Option<&str>) -> Result<Vec<Arc<Service>>> {
        let services: Vec<Arc<Service>> = match service {
            Some(name) => vec![self.service(name)?],
            None => self.services.read().values().cloned().collect(),
        };
        let wait = services.iter().map(|s| s.pool().config().connection_timeout).max().unwrap_or_default();
        self.wait_settled(service, wait);
        if let (Some(only), Some(s)) = (service, services.first())
            && !s.tools_loaded()
        {
            let (state, error) = s.pool().state();
            return Err(Error::Closed {
                message: format!(
                    "service '{only}' is {}: {}",
                    state.as_str(),
                    error.unwrap_or_else(|| "nothing listed yet".into())
                ),
                may_have_run: false,
            });
        }
        Ok(services)
    }

    /// Every item of one kind of the services in `service` (one or all).
    pub(crate) fn listed<T>(
        &self,
        service: Option<&str>,
        items: impl Fn(&Service) -> Arc<Vec<Arc<T>>>,
    ) -> Result<Listed<T>> {
        let mut out = Vec::new();
        for s in self.listed_services(service)? {
            out.extend(items(&s).iter().map(|item| (s.name().to_owned(), item.clone())));
        }
        Ok(out)
    }

    /// Looks something up in an index; while services are still starting, a
    /// miss waits for them (no later than `deadline`) and looks again.
    fn lookup<T>(&self, deadline: Instant, find: impl Fn(&StoreInner) -> Result<T>) -> Result<T> {
        let missing = |e: &Error| matches!(e, Error::PromptNotFound { .. } | Error::ResourceNotFound { .. });
        let found = match find(self) {
            Err(e) if missing(&e) && self.services.read().values().any(|s| !s.settled()) => {
                let wait = self.config.read().pool.connection_timeout;
                self.wait_settled(None, wait.min(deadline.saturating_duration_since(Instant::now())));
                find(self)
            }
            other => other,
        };
        // Lists past their freshness lifetime (SEP-2549) may be why it missed.
        let kinds: &[ListKind] = match &found {
            Err(Error::PromptNotFound { .. }) => &[ListKind::Prompts],
            Err(Error::ResourceNotFound { .. }) => &[ListKind::Resources, ListKind::Templates],
            _ => return found,
        };
        if self.reload_expired(kinds, deadline) { find(self) } else { found }
    }

    /// Runs a read-only request on a session of `service`, by the options'
    /// deadline; tried once more on another session when the first one failed
    /// in a way another attempt can help.
    fn on_session<T>(
        &self,
        service: &Arc<Service>,
        options: &CallOptions,
        deadline: Instant,
        request: impl Fn(&Session, &CallOptions) -> Result<T>,
    ) -> Result<T> {
        let mut attempt = 0;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Error::timeout(TimeoutPhase::Response, self.call_timeout(options)));
            }
            let lease = service.pool().acquire_until(Some(deadline))?;
            let timed = CallOptions {
                timeout: Some(options.timeout.map_or(remaining, |t| t.min(remaining))),
                ..options.clone()
            };
            match request(lease.session(), &timed) {
                Err(e) if attempt == 0 && e.should_retry(true) && !matches!(e, Error::Timeout { .. }) => {
                    service.pool().count_retry(&e);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

impl Store {
    /// The resources of one service, or of every service (`None`), as
    /// `(service, resource)` pairs. Waits for services that are still starting.
    pub fn list_resources(&self, service: Option<&str>) -> Result<Listed<Resource>> {
        self.inner.listed(service, Service::resources)
    }

    /// The resource templates of one service or of every service.
    pub fn list_resource_templates(&self, service: Option<&str>) -> Result<Listed<ResourceTemplate>> {
        self.inner.listed(service, Service::templates)
    }

    /// The prompts of one service or of every service.
    pub fn list_prompts(&self, service: Option<&str>) -> Result<Listed<Prompt>> {
        self.inner.listed(service, Service::prompts)
    }

    /// The service that serves `uri`: the one that lists it, else the one
    /// whose template matches it ([`Error::ResourceNotFound`],
    /// [`Error::AmbiguousResource`] with candidates otherwise).
    pub fn resolve_resource(&self, uri: &str) -> Result<String> {
        let deadline = deadline_after(self.inner.config.read().pool.connection_timeout);
        self.inner.lookup(deadline, |s| s.resource_index().resolve(uri)).map(|s| s.name().to_owned())
    }

    /// Reads a resource from the service that serves it; text and binary
    /// contents are kept whole.
    pub fn read_resource(&self, uri: &str) -> Result<ReadResourceResult> {
        self.read_resource_with(None, uri, &CallOptions::default())
    }

    /// Reads a resource from `service` (else the one that serves it), with a
    /// timeout and cancellation from `options`. Never cached.
    pub fn read_resource_with(
        &self,
        service: Option<&str>,
        uri: &str,
        options: &CallOptions,
    ) -> Result<ReadResourceResult> {
        let deadline = deadline_after(self.inner.call_timeout(options));
        let target = self.resource_service(service, uri, deadline)?;
        self.inner.on_session(&target, options, deadline, |session, o| session.read_resource(uri, o))
    }

    fn resource_service(&self, service: Option<&str>, uri: &str, deadline: Instant) -> Result<Arc<Service>> {
        match service {
            Some(name) => self.inner.service(name),
            None => self.inner.lookup(deadline, |s| s.resource_index().resolve(uri)),
        }
    }

    /// Subscribes to updates of `uri` ([`Event::ResourceUpdated`]) on
    /// `service` (else the one that serves it); returns the service. The
    /// subscription outlives the session it was made on: it moves to another
    /// when that one closes.
    pub fn subscribe_resource(&self, service: Option<&str>, uri: &str) -> Result<String> {
        let deadline = deadline_after(self.inner.config.read().batch.call_timeout);
        let target = self.resource_service(service, uri, deadline)?;
        let lease = target.pool().acquire_until(Some(deadline))?;
        target.subscriptions.subscribe(uri, lease.session())?;
        Ok(target.name().to_owned())
    }

    /// Ends a subscription made with [`Store::subscribe_resource`].
    pub fn unsubscribe_resource(&self, service: Option<&str>, uri: &str) -> Result<()> {
        let deadline = deadline_after(self.inner.config.read().batch.call_timeout);
        let target = self.resource_service(service, uri, deadline)?;
        match target.subscriptions.unsubscribe(uri)? {
            true => Ok(()),
            false => Err(Error::InvalidArgument(format!("not subscribed to '{uri}' on '{}'", target.name()))),
        }
    }

    /// The URIs a service is subscribed to.
    pub fn subscriptions(&self, service: &str) -> Result<Vec<String>> {
        Ok(self.inner.service(service)?.subscriptions.uris())
    }

    /// Gets a prompt by name (`service.prompt`, `service_prompt`, or a unique
    /// bare name) with its arguments (strings; other JSON values are sent as text).
    pub fn get_prompt(&self, name: &str, arguments: Map<String, Value>) -> Result<GetPromptResult> {
        self.get_prompt_with(name, arguments, &CallOptions::default())
    }

    /// Like [`Store::get_prompt`], with a timeout and cancellation from `options`.
    pub fn get_prompt_with(
        &self,
        name: &str,
        arguments: Map<String, Value>,
        options: &CallOptions,
    ) -> Result<GetPromptResult> {
        let deadline = deadline_after(self.inner.call_timeout(options));
        let target = self.inner.lookup(deadline, |s| s.prompt_index().resolve(name))?;
        let prompt = target.prompt.name.clone();
        self.inner.on_session(&target.service, options, deadline, |session, o| {
            session.get_prompt(&prompt, &arguments, o)
        })
    }

    /// Suggests values for `argument` (typed so far: `value`) of a prompt
    /// (`CompletionRef::Prompt`, resolved like [`Store::get_prompt`]) or of a
    /// resource template (`CompletionRef::Resource`, the template's URI, on
    /// `service` or the one service that has it). `context` holds arguments
    /// already chosen.
    pub fn complete(
        &self,
        service: Option<&str>,
        reference: &CompletionRef,
        argument: &str,
        value: &str,
        context: &Map<String, Value>,
    ) -> Result<CompleteResult> {
        let options = CallOptions::default();
        let deadline = deadline_after(self.inner.call_timeout(&options));
        let (target, reference) = match reference {
            CompletionRef::Prompt(name) => {
                let qualified = match service {
                    Some(s) => format!("{s}.{name}"),
                    None => name.clone(),
                };
                let found = self.inner.lookup(deadline, |s| s.prompt_index().resolve(&qualified))?;
                let bare = CompletionRef::Prompt(found.prompt.name.clone());
                (found.service, bare)
            }
            CompletionRef::Resource(template) => {
                (self.template_service(service, template)?, reference.clone())
            }
        };
        self.inner.on_session(&target, &options, deadline, |session, o| {
            session.complete_with(&reference, argument, value, context, o)
        })
    }

    /// The service that has the resource template `template` (or `service`).
    fn template_service(&self, service: Option<&str>, template: &str) -> Result<Arc<Service>> {
        if let Some(name) = service {
            return self.inner.service(name);
        }
        let mut having: Vec<Arc<Service>> = self
            .inner
            .listed_services(None)?
            .into_iter()
            .filter(|s| s.templates().iter().any(|t| t.uri_template == template))
            .collect();
        match having.len() {
            1 => Ok(having.swap_remove(0)),
            0 => Err(Error::ResourceNotFound { uri: template.to_owned(), suggestions: Vec::new() }),
            _ => Err(Error::AmbiguousResource {
                uri: template.to_owned(),
                candidates: having.iter().map(|s| s.name().to_owned()).collect(),
            }),
        }
    }

    /// Sets the least severe level of log messages the server of `service`
    /// (every service: `None`) sends; they arrive as [`Event::Log`]. Applies
    /// to every open session and to those opened later.
    pub fn set_log_level(&self, service: Option<&str>, level: LogLevel) -> Result<()> {
        let services: Vec<Arc<Service>> = match service {
            Some(name) => vec![self.inner.service(name)?],
            None => self.inner.services.read().values().cloned().collect(),
        };
        let mut first_error = None;
        for s in services {
            let offered = s
                .pool()
                .live_sessions()
                .first()
                .and_then(Session::server_info)
                .is_none_or(|info| info.capabilities.get("logging").is_some_and(|c| !c.is_null()));
            if service.is_none() && !offered {
                continue; // "every service" means every one that logs
            }
            if let Err(e) = s.set_log_level(level) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Runs `callback` for every event, on the store's dispatch thread (in
    /// order; when it falls far behind, events are dropped and counted in
    /// [`StoreStats`](crate::StoreStats)). Replaces the previous callback;
    /// returns once a running invocation of that one has returned.
    pub fn on_event(&self, callback: impl Fn(&Event) + Send + Sync + 'static) {
        self.inner.events.set_callback(Some(Arc::new(callback)));
    }

    /// Removes the event callback (returns once a running invocation has returned).
    pub fn clear_event_callback(&self) {
        self.inner.events.set_callback(None);
    }

    /// A queue of every event from now on (bounded; it counts what it drops).
    pub fn event_queue(&self) -> EventQueue {
        self.inner.events.queue()
    }
}
