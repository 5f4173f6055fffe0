//! Name resolution across services, precomputed so a call never lists
//! anything: one index per kind (tools, prompts), rebuilt when that kind's
//! lists change.
//!
//! Names resolve as MCPStore resolves them: exact `service.name` or
//! `service_name`, else a bare name that is unique across services.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::metrics::ToolMetrics;
use crate::protocol::{Prompt, Tool};

use super::output_schema::OutputCheck;
use super::service::Service;

/// Something a service offers under a name (a tool, a prompt), as an index holds it.
pub(crate) trait Indexed: Clone {
    /// The service that offers it.
    fn service(&self) -> &Arc<Service>;
    /// Its name on that service.
    fn name(&self) -> &str;
    /// The error for a name nothing has.
    fn not_found(name: &str, suggestions: Vec<String>) -> Error;
    /// The error for a bare name several services have.
    fn ambiguous(name: &str, candidates: Vec<String>) -> Error;
}

/// A resolved tool: its service and its definition.
#[derive(Clone)]
pub struct ToolRef {
    /// The service that serves the tool.
    pub(crate) service: Arc<Service>,
    /// The tool as the server listed it.
    pub(crate) tool: Arc<Tool>,
    /// Its call metrics (shared, lock-free).
    pub(crate) metrics: Arc<ToolMetrics>,
    /// The check of its `outputSchema`, when it declares one and the service checks.
    pub(crate) output: Option<Arc<OutputCheck>>,
    /// Its parameters mirrored into `Mcp-Param-*` headers (`x-mcp-header`).
    pub(crate) param_headers: Arc<[crate::protocol::param_headers::ParamHeader]>,
}

impl ToolRef {
    /// The `Mcp-Param-*` headers of a call with `arguments` (HTTP services only).
    pub(crate) fn header_values(&self, arguments: &serde_json::Value) -> Vec<(String, String)> {
        if self.param_headers.is_empty()
            || !matches!(self.service.config().transport, crate::config::TransportConfig::Http(_))
        {
            return Vec::new();
        }
        crate::protocol::param_headers::header_values(&self.param_headers, arguments)
    }

    /// Why `result` does not fit the tool's `outputSchema`, if it declares one and it does not.
    /// (The result is parsed for it only when there is a schema to check.)
    pub(crate) fn schema_mismatch(&self, output: &crate::exec::ToolOutput) -> Option<String> {
        self.output.as_ref().and_then(|check| check.mismatch(output.result()))
    }
}

impl Indexed for ToolRef {
    fn service(&self) -> &Arc<Service> {
        &self.service
    }
    fn name(&self) -> &str {
        &self.tool.name
    }
    fn not_found(name: &str, suggestions: Vec<String>) -> Error {
        Error::ToolNotFound { name: name.to_owned(), suggestions }
    }
    fn ambiguous(name: &str, candidates: Vec<String>) -> Error {
        Error::AmbiguousTool { name: name.to_owned(), candidates }
    }
}

/// A resolved prompt: its service and its definition.
#[derive(Clone)]
pub struct PromptRef {
    /// The service that serves the prompt.
    pub(crate) service: Arc<Service>,
    /// The prompt as the server listed it.
    pub(crate) prompt: Arc<Prompt>,
}

impl Indexed for PromptRef {
    fn service(&self) -> &Arc<Service> {
        &self.service
    }
    fn name(&self) -> &str {
        &self.prompt.name
    }
    fn not_found(name: &str, suggestions: Vec<String>) -> Error {
        Error::PromptNotFound { name: name.to_owned(), suggestions }
    }
    fn ambiguous(name: &str, candidates: Vec<String>) -> Error {
        Error::AmbiguousPrompt { name: name.to_owned(), candidates }
    }
}

enum Entry<R> {
    One(R),
    Ambiguous(Vec<String>),
}

/// Every name of one kind, built from the services' lists.
pub struct NameIndex<R> {
    entries: HashMap<String, Entry<R>>,
    qualified: Vec<String>,
}

/// The tool index.
pub(crate) type ToolIndex = NameIndex<ToolRef>;
/// The prompt index.
pub(crate) type PromptIndex = NameIndex<PromptRef>;

impl<R> Default for NameIndex<R> {
    fn default() -> Self {
        NameIndex { entries: HashMap::new(), qualified: Vec::new() }
    }
}

fn qualified_name<R: Indexed>(r: &R) -> String {
    format!("{}.{}", r.service().name(), r.name())
}

impl<R: Indexed> NameIndex<R> {
    /// Builds the index from everything the services offer.
    pub(crate) fn build(items: Vec<R>) -> NameIndex<R> {
        let mut entries: HashMap<String, Entry<R>> = HashMap::new();
        let mut qualified = Vec::new();
        let mut bare: HashMap<String, Vec<R>> = HashMap::new();
        for r in items {
            let dotted = qualified_name(&r);
            // `a` + `b_c` and `a_b` + `c` both give `a_b_c`: such a name is ambiguous.
            let underscored = format!("{}_{}", r.service().name(), r.name());
            match entries.get_mut(&underscored) {
                Some(Entry::One(other)) => {
                    let mut c = vec![qualified_name(other), dotted.clone()];
                    c.sort();
                    entries.insert(underscored, Entry::Ambiguous(c));
                }
                Some(Entry::Ambiguous(c)) => c.push(dotted.clone()),
                None => {
                    entries.insert(underscored, Entry::One(r.clone()));
                }
            }
            entries.insert(dotted.clone(), Entry::One(r.clone()));
            qualified.push(dotted);
            bare.entry(r.name().to_owned()).or_default().push(r);
        }
        for (name, mut refs) in bare {
            if entries.contains_key(&name) {
                continue; // a qualified name wins over a bare one
            }
            let entry = if refs.len() == 1 {
                Entry::One(refs.swap_remove(0))
            } else {
                let mut c: Vec<String> = refs.iter().map(qualified_name).collect();
                c.sort();
                Entry::Ambiguous(c)
            };
            entries.insert(name, entry);
        }
        qualified.sort();
        NameIndex { entries, qualified }
    }

    /// Resolves a name.
    pub fn resolve(&self, name: &str) -> Result<R> {
        match self.entries.get(name) {
            Some(Entry::One(r)) => Ok(r.clone()),
            Some(Entry::Ambiguous(candidates)) => Err(R::ambiguous(name, candidates.clone())),
            None => Err(R::not_found(name, self.suggest(name))),
        }
    }

    /// Up to five known names close to `name`.
    pub fn suggest(&self, name: &str) -> Vec<String> {
        let mut found = suggest(name, self.entries.keys().map(String::as_str));
        // `svc.tool` with a misspelled service: suggest by the tool part too.
        if let Some((_, tool)) = name.split_once('.') {
            for s in suggest(tool, self.qualified.iter().map(String::as_str)) {
                if !found.contains(&s) {
                    found.push(s);
                }
            }
            found.truncate(5);
        }
        found
    }
}

/// Up to five candidates similar to `name`: close in edit distance or containing it.
pub(crate) fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<String> {
    let lower = name.to_lowercase();
    let limit = (name.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = candidates
        .filter_map(|c| {
            let d = edit_distance(&lower, &c.to_lowercase());
            let contains = !lower.is_empty() && c.to_lowercase().contains(&lower);
            (d <= limit || contains).then_some((if contains { d.min(limit) } else { d }, c))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(5).map(|(_, c)| c.to_owned()).collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_and_suggestions() {
        assert_eq!(edit_distance("echo", "ecoh"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        let names = ["echo", "demo.echo", "add", "read_file", "list_directory"];
        let s = suggest("ecoh", names.iter().copied());
        assert!(s.contains(&"echo".to_owned()), "{s:?}");
        assert!(suggest("zzzzzz", names.iter().copied()).is_empty());
        assert!(suggest("file", names.iter().copied()).contains(&"read_file".to_owned()));
    }
}
