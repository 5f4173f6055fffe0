//! `read_file` / `list_directory`, confined to a root directory.

use std::fs;
use std::path::{Component, Path, PathBuf};

/// Largest file `read_file` returns.
const MAX_READ_BYTES: u64 = 16 * 1024 * 1024;

/// Resolves `requested` (relative to `root`, or absolute) and checks that
/// the canonical result (symlinks and `..` resolved) lies inside `root`.
///
/// `root` must already be canonical. The error text is meant for a tool
/// error result.
pub fn confine(root: &Path, requested: &str) -> Result<PathBuf, String> {
    let candidate =
        if Path::new(requested).is_absolute() { PathBuf::from(requested) } else { root.join(requested) };
    let canonical = match fs::canonicalize(&candidate) {
        Ok(c) => c,
        Err(e) if lexically_inside(root, &candidate) => {
            return Err(format!("cannot access {requested:?}: {e}"));
        }
        Err(_) => return Err(outside(root, requested)),
    };
    if canonical.starts_with(root) { Ok(canonical) } else { Err(outside(root, requested)) }
}

fn outside(root: &Path, requested: &str) -> String {
    format!("access denied: {requested:?} is outside the server root {}", root.display())
}

/// Whether `path`, with `.` and `..` resolved textually, stays in `root`.
fn lexically_inside(root: &Path, path: &Path) -> bool {
    let mut normal = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                if !normal.pop() {
                    return false;
                }
            }
            Component::CurDir => {}
            other => normal.push(other),
        }
    }
    normal.starts_with(root)
}

/// Reads a UTF-8 text file inside `root`.
pub fn read_file(root: &Path, requested: &str) -> Result<String, String> {
    let path = confine(root, requested)?;
    let meta = fs::metadata(&path).map_err(|e| format!("cannot read {requested:?}: {e}"))?;
    if meta.is_dir() {
        return Err(format!("{requested:?} is a directory"));
    }
    if meta.len() > MAX_READ_BYTES {
        return Err(format!("{requested:?} is too large ({} bytes, limit {MAX_READ_BYTES})", meta.len()));
    }
    let bytes = fs::read(&path).map_err(|e| format!("cannot read {requested:?}: {e}"))?;
    String::from_utf8(bytes).map_err(|_| format!("{requested:?} is not UTF-8 text"))
}

/// Lists a directory inside `root`: one line per entry, `[DIR] name` or
/// `[FILE] name`, sorted by name.
pub fn list_directory(root: &Path, requested: &str) -> Result<String, String> {
    let path = confine(root, requested)?;
    let entries = fs::read_dir(&path).map_err(|e| format!("cannot list {requested:?}: {e}"))?;
    let mut items: Vec<(String, bool)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {requested:?}: {e}"))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Follow symlinks for the kind; a dangling link counts as a file.
        let is_dir = fs::metadata(entry.path()).is_ok_and(|m| m.is_dir());
        items.push((name, is_dir));
    }
    items.sort();
    let lines: Vec<String> = items
        .into_iter()
        .map(|(name, is_dir)| if is_dir { format!("[DIR] {name}") } else { format!("[FILE] {name}") })
        .collect();
    Ok(lines.join("\n"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fresh temporary directory (canonical), removed by the caller.
    pub(crate) fn temp_dir(tag: &str) -> PathBuf {
        let base = std::env::temp_dir().join(format!(
            "mcpstore-demo-{tag}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        let base = PathBuf::from(base.to_string_lossy().replace([' ', ':', '{', '}', ','], "_"));
        fs::create_dir_all(&base).unwrap();
        fs::canonicalize(&base).unwrap()
    }

    #[test]
    fn confinement() {
        let top = temp_dir("confine");
        let root = top.join("root");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::write(root.join("a.txt"), "hello").unwrap();
        fs::write(root.join("sub/b.txt"), "bee").unwrap();
        fs::write(top.join("secret.txt"), "nope").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(top.join("secret.txt"), root.join("link")).unwrap();

        assert_eq!(read_file(&root, "a.txt").unwrap(), "hello");
        assert_eq!(read_file(&root, "sub/../sub/b.txt").unwrap(), "bee");
        let abs = root.join("a.txt");
        assert_eq!(read_file(&root, abs.to_str().unwrap()).unwrap(), "hello");
        assert!(read_file(&root, "../secret.txt").unwrap_err().contains("outside"));
        let abs_secret = top.join("secret.txt");
        assert!(read_file(&root, abs_secret.to_str().unwrap()).unwrap_err().contains("outside"));
        #[cfg(unix)]
        assert!(read_file(&root, "link").unwrap_err().contains("outside"));
        assert!(read_file(&root, "missing").unwrap_err().contains("cannot access"));
        assert!(read_file(&root, "../missing").unwrap_err().contains("outside"));
        assert!(read_file(&root, "sub/../../missing").unwrap_err().contains("outside"));
        assert!(read_file(&root, "/nonexistent/x").unwrap_err().contains("outside"));
        assert!(read_file(&root, "sub").unwrap_err().contains("directory"));
        assert!(list_directory(&root, "..").unwrap_err().contains("outside"));

        let listing = list_directory(&root, ".").unwrap();
        #[cfg(unix)]
        assert_eq!(listing, "[FILE] a.txt\n[FILE] link\n[DIR] sub");
        assert!(listing.contains("[DIR] sub"));
        assert_eq!(list_directory(&root, "sub").unwrap(), "[FILE] b.txt");
        fs::remove_dir_all(&top).unwrap();
    }
}
