//! What clients change while the server runs: extra tools (`add_tool`,
//! `notify_later`), extra prompts (`notify_later`) and notes (`write_note`).
//! Shared by every client of the process.

use std::collections::BTreeMap;

use parking_lot::Mutex;

/// The lists that grow at run time.
#[derive(Default)]
pub struct Catalog {
    tools: Mutex<Vec<String>>,
    prompts: Mutex<Vec<String>>,
    notes: Mutex<BTreeMap<String, String>>,
}

fn add(list: &Mutex<Vec<String>>, name: &str) -> bool {
    let mut list = list.lock();
    if list.iter().any(|n| n == name) {
        return false;
    }
    list.push(name.to_owned());
    true
}

impl Catalog {
    /// Adds an extra tool; whether it is new.
    pub fn add_tool(&self, name: &str) -> bool {
        add(&self.tools, name)
    }

    /// The extra tools, in the order they were added.
    pub fn tools(&self) -> Vec<String> {
        self.tools.lock().clone()
    }

    /// Whether `name` is an extra tool.
    pub fn has_tool(&self, name: &str) -> bool {
        self.tools.lock().iter().any(|t| t == name)
    }

    /// Adds an extra prompt; whether it is new.
    pub fn add_prompt(&self, name: &str) -> bool {
        add(&self.prompts, name)
    }

    /// The extra prompts, in the order they were added.
    pub fn prompts(&self) -> Vec<String> {
        self.prompts.lock().clone()
    }

    /// Sets a note's text; whether the note is new.
    pub fn write_note(&self, name: &str, text: &str) -> bool {
        self.notes.lock().insert(name.to_owned(), text.to_owned()).is_none()
    }

    /// A note's text.
    pub fn note(&self, name: &str) -> Option<String> {
        self.notes.lock().get(name).cloned()
    }

    /// The notes' names, sorted.
    pub fn note_names(&self) -> Vec<String> {
        self.notes.lock().keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_grow_once_per_name() {
        let c = Catalog::default();
        assert!(c.add_tool("a") && !c.add_tool("a") && c.has_tool("a"));
        assert!(c.add_prompt("p") && !c.add_prompt("p"));
        assert_eq!(c.prompts(), ["p"]);
        assert!(c.write_note("b", "1"));
        assert!(!c.write_note("b", "2"), "an existing note is rewritten, not new");
        assert!(c.write_note("a", "x"));
        assert_eq!(c.note("b").as_deref(), Some("2"));
        assert_eq!(c.note_names(), ["a", "b"]);
        assert_eq!(c.note("zz"), None);
    }
}
