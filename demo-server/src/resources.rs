//! The demo server's resources: two documents (`demo://docs/readme`, text;
//! `demo://docs/logo.png`, a blob), the notes (`demo://notes/<name>`, set by
//! the `write_note` tool, also reachable through the template
//! `demo://notes/{name}`) and, when `--root` is given, the regular files at
//! the top of the root as `file://` URIs.

use std::fs;
use std::path::Path;

use serde_json::{Value, json};

use super::catalog::Catalog;
use super::files;
use super::rpc::{RESOURCE_NOT_FOUND, RpcError};
use super::tools::PNG_BASE64;

/// The text document.
pub const README_URI: &str = "demo://docs/readme";
/// The binary document.
pub const LOGO_URI: &str = "demo://docs/logo.png";
/// What every note's URI starts with.
pub const NOTE_PREFIX: &str = "demo://notes/";
/// The notes' URI template.
pub const NOTE_TEMPLATE: &str = "demo://notes/{name}";
/// At most this many files of the root are listed.
const MAX_FILES: usize = 100;
/// Largest file read as a resource.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

const README_TEXT: &str = "# mcpstore demo server\n\n\
An MCP server for testing clients: tools, resources (this one, a logo, notes \
and the files of `--root`), a resource template, prompts, completions, \
logging, and tools that ask the client (sampling, elicitation, roots).\n";

/// The two documents, as `resources/list` shows them.
fn documents() -> Vec<Value> {
    vec![
        json!({"uri": README_URI, "name": "readme", "title": "The demo server's README",
               "description": "What the demo server offers (Markdown).", "mimeType": "text/markdown",
               "size": README_TEXT.len()}),
        json!({"uri": LOGO_URI, "name": "logo.png", "title": "A 1x1 logo",
               "description": "A tiny PNG image (a blob resource).", "mimeType": "image/png"}),
    ]
}

/// A note's listing entry.
fn note_entry(name: &str) -> Value {
    json!({"uri": format!("{NOTE_PREFIX}{name}"), "name": format!("note {name}"), "mimeType": "text/plain"})
}

/// Whether a file name can go into a `file://` URI as it is.
fn uri_safe(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The regular files at the top of `root` whose names need no escaping, sorted.
fn file_entries(root: &Path) -> Vec<Value> {
    let Ok(entries) = fs::read_dir(root) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| uri_safe(n))
        .collect();
    names.sort();
    names.truncate(MAX_FILES);
    names
        .into_iter()
        .map(|name| {
            let uri = format!("file://{}/{name}", root.display());
            json!({"uri": uri, "name": name, "mimeType": mime_type(&name)})
        })
        .collect()
}

/// Every resource, in `resources/list` order: documents, notes, files.
pub fn list(catalog: &Catalog, root: Option<&Path>) -> Vec<Value> {
    let mut all = documents();
    all.extend(catalog.note_names().iter().map(|n| note_entry(n)));
    if let Some(root) = root {
        all.extend(file_entries(root));
    }
    all
}

/// The resource templates.
pub fn templates() -> Vec<Value> {
    vec![json!({
        "uriTemplate": NOTE_TEMPLATE,
        "name": "note",
        "title": "A note",
        "description": "A note written with the write_note tool.",
        "mimeType": "text/plain",
    })]
}

/// The note name in a note URI (`demo://notes/<name>`).
pub fn note_name(uri: &str) -> Option<&str> {
    uri.strip_prefix(NOTE_PREFIX).filter(|n| valid_note_name(n))
}

/// Whether `name` is acceptable as a note name (1-64 of A-Z a-z 0-9 _ - .).
pub fn valid_note_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && uri_safe(name)
}

/// The URI of note `name`.
pub fn note_uri(name: &str) -> String {
    format!("{NOTE_PREFIX}{name}")
}

fn mime_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()) {
        Some(ext) if ext == "md" => "text/markdown",
        Some(ext) if ext == "json" => "application/json",
        Some(ext) if ext == "png" => "image/png",
        Some(ext) if matches!(ext.as_str(), "txt" | "log" | "csv" | "rs" | "toml") => "text/plain",
        _ => "application/octet-stream",
    }
}

fn not_found(uri: &str) -> RpcError {
    RpcError { code: RESOURCE_NOT_FOUND, message: format!("Resource not found: {uri}") }
}

/// Whether a client may subscribe to `uri`: a document, a note (existing or
/// not yet: its template matches), or a file of the root.
pub fn subscribable(uri: &str, root: Option<&Path>) -> bool {
    uri == README_URI || uri == LOGO_URI || note_name(uri).is_some() || file_path(uri, root).is_some()
}

/// The path of a `file://` URI inside the root.
fn file_path(uri: &str, root: Option<&Path>) -> Option<std::path::PathBuf> {
    let path = uri.strip_prefix("file://")?;
    files::confine(root?, path).ok().filter(|p| p.is_file())
}

fn text_contents(uri: &str, mime: &str, text: &str) -> Value {
    json!({"contents": [{"uri": uri, "mimeType": mime, "text": text}]})
}

/// `resources/read`: the contents of `uri`.
pub fn read(uri: &str, catalog: &Catalog, root: Option<&Path>) -> Result<Value, RpcError> {
    if uri == README_URI {
        return Ok(text_contents(uri, "text/markdown", README_TEXT));
    }
    if uri == LOGO_URI {
        return Ok(json!({"contents": [{"uri": uri, "mimeType": "image/png", "blob": PNG_BASE64}]}));
    }
    if let Some(name) = note_name(uri) {
        let text = catalog.note(name).ok_or_else(|| not_found(uri))?;
        return Ok(text_contents(uri, "text/plain", &text));
    }
    let path = file_path(uri, root).ok_or_else(|| not_found(uri))?;
    let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_FILE_BYTES {
        return Err(RpcError::invalid_params(format!("{uri} is too large ({size} bytes)")));
    }
    let bytes = fs::read(&path).map_err(|_| not_found(uri))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mime = mime_type(&name);
    Ok(match String::from_utf8(bytes) {
        Ok(text) => {
            text_contents(uri, if mime == "application/octet-stream" { "text/plain" } else { mime }, &text)
        }
        Err(e) => json!({"contents": [{"uri": uri, "mimeType": mime, "blob": base64(e.as_bytes())}]}),
    })
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::tests::temp_dir;

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(&[0xff, 0xfe, 0x00, 0x01]), "//4AAQ==");
    }

    #[test]
    fn documents_notes_and_files() {
        let catalog = Catalog::default();
        let root = temp_dir("resources");
        fs::write(root.join("a.txt"), "alpha").unwrap();
        fs::write(root.join("b.bin"), [0xff, 0x00]).unwrap();
        fs::write(root.join("has space.txt"), "x").unwrap();
        fs::create_dir(root.join("sub")).unwrap();
        let uris = |all: Vec<Value>| -> Vec<String> {
            all.iter().map(|r| r["uri"].as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(uris(list(&catalog, None)), [README_URI, LOGO_URI]);
        catalog.write_note("n1", "first note");
        let a = format!("file://{}/a.txt", root.display());
        let b = format!("file://{}/b.bin", root.display());
        assert_eq!(uris(list(&catalog, Some(&root))), [README_URI, LOGO_URI, "demo://notes/n1", &a, &b]);

        let readme = read(README_URI, &catalog, None).unwrap();
        assert_eq!(readme["contents"][0]["mimeType"], "text/markdown");
        assert!(readme["contents"][0]["text"].as_str().unwrap().starts_with("# mcpstore demo server"));
        let logo = read(LOGO_URI, &catalog, None).unwrap();
        assert_eq!(logo["contents"][0]["blob"], PNG_BASE64);
        assert_eq!(read("demo://notes/n1", &catalog, None).unwrap()["contents"][0]["text"], "first note");
        assert_eq!(read("demo://notes/zz", &catalog, None).unwrap_err().code, RESOURCE_NOT_FOUND);
        assert_eq!(read(&a, &catalog, Some(&root)).unwrap()["contents"][0]["text"], "alpha");
        assert_eq!(read(&b, &catalog, Some(&root)).unwrap()["contents"][0]["blob"], "/wA=");
        assert_eq!(read(&a, &catalog, None).unwrap_err().code, RESOURCE_NOT_FOUND, "no --root, no files");
        let outside = format!("file://{}/../x", root.display());
        assert!(read(&outside, &catalog, Some(&root)).is_err());
        assert!(read("nothing://here", &catalog, None).is_err());

        assert!(subscribable("demo://notes/later", None), "a note that does not exist yet");
        assert!(subscribable(&a, Some(&root)) && subscribable(README_URI, None));
        assert!(!subscribable("demo://notes/bad name", None) && !subscribable("x://y", None));
        assert_eq!(templates()[0]["uriTemplate"], NOTE_TEMPLATE);
        fs::remove_dir_all(&root).unwrap();
    }
}
