//! Data flows one way through the layers (DESIGN.md §2): a module imports only
//! modules of a lower layer, and the files of one module never import each
//! other in a cycle. Read from the source, so a new import that breaks the
//! order fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The library's top-level modules from the bottom up; a module may use only
/// modules of a lower layer (same-layer modules are independent of each other).
const LAYERS: &[&[&str]] = &[
    &["error"],
    &["util", "protocol", "objpool", "cancel", "callback_slot"],
    &["config", "call_options", "dispatch"],
    &["transport"],
    &["auth"],
    &["session"],
    &["pool", "cache", "metrics", "monitor"],
    &["exec"],
    &["store"],
    &["bench"],
    &["ffi"],
    &["fuzzing"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The code of a file without its `#[cfg(test)] mod tests { ... }` tail and comments.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read source");
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The names `crate::NAME` mentions in `code`.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            out.insert(name);
        }
        rest = after;
    }
    out
}

/// The top-level module a file belongs to (`src/pool/checkout.rs` -> `pool`).
fn top_module(path: &Path) -> Option<String> {
    let rel = path.strip_prefix(src()).ok()?;
    let first = rel.components().next()?.as_os_str().to_string_lossy().into_owned();
    Some(first.trim_end_matches(".rs").to_owned())
}

#[test]
fn no_module_imports_one_above_it() {
    let mut violations = Vec::new();
    let mut seen = BTreeSet::new();
    for file in rust_files(&src()) {
        let Some(module) = top_module(&file) else { continue };
        if module == "lib" {
            continue; // the crate root re-exports from every layer
        }
        // Test-only files may reach anywhere (they check the layers, they are not one).
        if file.file_name().is_some_and(|n| n == "tests.rs" || n.to_string_lossy().ends_with("_tests.rs")) {
            continue;
        }
        let mine = layer_of(&module).unwrap_or_else(|| panic!("module '{module}' has no layer in LAYERS"));
        seen.insert(module.clone());
        for used in crate_paths(&code(&file)) {
            if used == module {
                continue;
            }
            let Some(theirs) = layer_of(&used) else { continue }; // an item of lib.rs (e.g. a re-export)
            if theirs >= mine {
                violations.push(format!("{} uses crate::{used} (layer {theirs} >= {mine})", file.display()));
            }
        }
    }
    assert!(violations.is_empty(), "imports against the layer order:\n{}", violations.join("\n"));
    let listed: BTreeSet<String> = LAYERS.iter().flat_map(|l| l.iter().map(|m| m.to_string())).collect();
    assert_eq!(seen, listed, "LAYERS lists modules that do not exist, or misses some");
}

/// The sibling files of each module directory, as a graph of who uses whom.
fn sibling_graph(dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let module = dir.file_name().expect("dir name").to_string_lossy().into_owned();
    let siblings: BTreeSet<String> = std::fs::read_dir(dir)
        .expect("read module dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| p.file_stem().expect("stem").to_string_lossy().into_owned())
        .filter(|n| n != "mod" && n != "tests" && !n.ends_with("_tests"))
        .collect();
    let mut graph = BTreeMap::new();
    for name in &siblings {
        let text = code(&dir.join(format!("{name}.rs")));
        let mut uses = BTreeSet::new();
        for other in &siblings {
            if other != name
                && (text.contains(&format!("super::{other}::"))
                    || text.contains(&format!("super::{other}}}"))
                    || text.contains(&format!("crate::{module}::{other}::")))
            {
                uses.insert(other.clone());
            }
        }
        graph.insert(name.clone(), uses);
    }
    graph
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(c) = visit(node, graph, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn no_module_has_an_import_cycle_among_its_files() {
    let dirs: Vec<PathBuf> = std::fs::read_dir(src())
        .expect("read src")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    assert!(dirs.len() >= 6, "module directories under src: {dirs:?}");
    for dir in dirs {
        if let Some(cycle) = find_cycle(&sibling_graph(&dir)) {
            panic!("import cycle in {}: {}", dir.display(), cycle.join(" -> "));
        }
    }
}

#[test]
fn the_checker_sees_cycles_and_paths() {
    let g: BTreeMap<String, BTreeSet<String>> =
        [("a".to_owned(), ["b".to_owned()].into()), ("b".to_owned(), ["a".to_owned()].into())].into();
    assert!(find_cycle(&g).is_some());
    let paths = crate_paths("use crate::session::X; fn f() { crate::util::spawn_thread() }");
    assert_eq!(paths, ["session".to_owned(), "util".to_owned()].into());
}
