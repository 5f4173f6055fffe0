//! Tool name resolution across services, precomputed so a call never lists tools.
//!
//! Names resolve as MCPStore resolves them: exact `service.tool` or
//! `service_tool`, else a bare tool name that is unique across services.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::metrics::ToolMetrics;
use crate::protocol::Tool;

use super::service::Service;

/// The tools of one service, shared.
pub(crate) type ToolList = Arc<Vec<Arc<Tool>>>;

/// A resolved tool: its service and its definition.
#[derive(Clone)]
pub struct ToolRef {
    /// The service that serves the tool.
    pub(crate) service: Arc<Service>,
    /// The tool as the server listed it.
    pub(crate) tool: Arc<Tool>,
    /// Its call metrics (shared, lock-free).
    pub(crate) metrics: Arc<ToolMetrics>,
}

impl ToolRef {
    /// The service's name.
    pub fn service_name(&self) -> &str {
        self.service.name()
    }

    /// The tool's definition.
    pub fn tool(&self) -> &Tool {
        &self.tool
    }
}

enum Entry {
    One(ToolRef),
    Ambiguous(Vec<String>),
}

/// Every callable name, built from the services' tool lists.
#[derive(Default)]
pub struct ToolIndex {
    entries: HashMap<String, Entry>,
    qualified: Vec<String>,
}

impl ToolIndex {
    /// Builds the index from each service and its tools.
    pub(crate) fn build(
        services: &[(Arc<Service>, ToolList)],
        metrics_for: &mut dyn FnMut(&str, &str) -> Arc<ToolMetrics>,
    ) -> ToolIndex {
        let mut entries: HashMap<String, Entry> = HashMap::new();
        let mut qualified = Vec::new();
        let mut bare: HashMap<&str, Vec<ToolRef>> = HashMap::new();
        for (service, tools) in services {
            for tool in tools.iter() {
                let metrics = metrics_for(service.name(), &tool.name);
                let r = ToolRef { service: service.clone(), tool: tool.clone(), metrics };
                let dotted = format!("{}.{}", service.name(), tool.name);
                // `a` + `b_c` and `a_b` + `c` both give `a_b_c`: such a name is ambiguous.
                let underscored = format!("{}_{}", service.name(), tool.name);
                match entries.get_mut(&underscored) {
                    Some(Entry::One(other)) => {
                        let mut c =
                            vec![format!("{}.{}", other.service.name(), other.tool.name), dotted.clone()];
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
                bare.entry(tool.name.as_str()).or_default().push(r);
            }
        }
        for (name, refs) in bare {
            if entries.contains_key(name) {
                continue; // a qualified name wins over a bare one
            }
            let entry = if refs.len() == 1 {
                Entry::One(refs.into_iter().next().unwrap_or_else(|| unreachable!()))
            } else {
                let mut c: Vec<String> =
                    refs.iter().map(|r| format!("{}.{}", r.service.name(), r.tool.name)).collect();
                c.sort();
                Entry::Ambiguous(c)
            };
            entries.insert(name.to_owned(), entry);
        }
        qualified.sort();
        ToolIndex { entries, qualified }
    }

    /// Resolves a tool name.
    pub fn resolve(&self, name: &str) -> Result<ToolRef> {
        match self.entries.get(name) {
            Some(Entry::One(r)) => Ok(r.clone()),
            Some(Entry::Ambiguous(candidates)) => {
                Err(Error::AmbiguousTool { name: name.to_owned(), candidates: candidates.clone() })
            }
            None => Err(Error::ToolNotFound { name: name.to_owned(), suggestions: self.suggest(name) }),
        }
    }

    /// Whether the name resolves to exactly one tool.
    pub fn contains(&self, name: &str) -> bool {
        matches!(self.entries.get(name), Some(Entry::One(_)))
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

    /// Every tool's qualified name (`service.tool`), sorted.
    pub fn qualified_names(&self) -> &[String] {
        &self.qualified
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
