//! Which service serves a resource URI: the one that lists it, else the one
//! whose template matches it. Precomputed from the services' lists and
//! rebuilt when a service's resources change.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::protocol::{ResourceTemplate, template_matches};

use super::index::suggest;
use super::service::Service;

/// The resource URIs and templates of every service.
#[derive(Default)]
pub(crate) struct ResourceIndex {
    /// Listed URIs and the services that list them.
    listed: HashMap<String, Vec<Arc<Service>>>,
    /// Every service's templates.
    templates: Vec<(Arc<Service>, Arc<ResourceTemplate>)>,
}

impl ResourceIndex {
    /// Builds the index from each service's listed URIs and templates.
    pub(crate) fn build(
        services: impl IntoIterator<Item = (Arc<Service>, Vec<String>, Vec<Arc<ResourceTemplate>>)>,
    ) -> ResourceIndex {
        let mut index = ResourceIndex::default();
        for (service, uris, templates) in services {
            for uri in uris {
                let holders = index.listed.entry(uri).or_default();
                if !holders.iter().any(|s| Arc::ptr_eq(s, &service)) {
                    holders.push(service.clone());
                }
            }
            index.templates.extend(templates.into_iter().map(|t| (service.clone(), t)));
        }
        index
    }

    /// The one service for `uri`: listed by exactly one, else matched by the
    /// templates of exactly one. Listing wins over a template.
    pub(crate) fn resolve(&self, uri: &str) -> Result<Arc<Service>> {
        if let Some(holders) = self.listed.get(uri) {
            return one_of(uri, holders.clone());
        }
        let mut matching: Vec<Arc<Service>> = Vec::new();
        for (service, template) in &self.templates {
            if template_matches(&template.uri_template, uri)
                && !matching.iter().any(|s| Arc::ptr_eq(s, service))
            {
                matching.push(service.clone());
            }
        }
        if matching.is_empty() {
            let known = self.listed.keys().map(String::as_str);
            let templates = self.templates.iter().map(|(_, t)| t.uri_template.as_str());
            return Err(Error::ResourceNotFound {
                uri: uri.to_owned(),
                suggestions: suggest(uri, known.chain(templates)),
            });
        }
        one_of(uri, matching)
    }
}

fn one_of(uri: &str, mut services: Vec<Arc<Service>>) -> Result<Arc<Service>> {
    if services.len() == 1 {
        return Ok(services.swap_remove(0));
    }
    let mut candidates: Vec<String> = services.iter().map(|s| s.name().to_owned()).collect();
    candidates.sort();
    Err(Error::AmbiguousResource { uri: uri.to_owned(), candidates })
}
