//! The checked-in C header is what cbindgen generates now, and its version
//! macros match Cargo.toml.

#[path = "../examples/generate_header.rs"]
mod generate_header;

use std::ffi::CStr;

const REGENERATE: &str = "cargo run --example generate_header";

fn committed() -> String {
    let path = generate_header::header_path();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[test]
fn header_matches_a_fresh_generation() {
    let fresh = generate_header::generate().unwrap_or_else(|e| panic!("{e}"));
    let committed = committed();
    if fresh != committed {
        let line = fresh
            .lines()
            .zip(committed.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| fresh.lines().count().min(committed.lines().count()));
        panic!(
            "include/mcpstore.h is out of date (first difference at line {}): regenerate it with `{REGENERATE}` and commit it",
            line + 1
        );
    }
}

fn define(header: &str, name: &str) -> String {
    header
        .lines()
        .find_map(|l| l.strip_prefix(&format!("#define {name} ")))
        .unwrap_or_else(|| panic!("no #define {name} in the header; run `{REGENERATE}`"))
        .trim()
        .to_owned()
}

unsafe extern "C" {
    /// From the linked library, as a C program calls it.
    fn mcps_version() -> *const std::ffi::c_char;
}

#[test]
fn version_macros_match_cargo_toml() {
    let header = committed();
    assert_eq!(define(&header, "MCPS_VERSION_MAJOR"), env!("CARGO_PKG_VERSION_MAJOR"));
    assert_eq!(define(&header, "MCPS_VERSION_MINOR"), env!("CARGO_PKG_VERSION_MINOR"));
    assert_eq!(define(&header, "MCPS_VERSION_PATCH"), env!("CARGO_PKG_VERSION_PATCH"));
    // SAFETY: mcps_version returns a static NUL-terminated string.
    let v = unsafe { CStr::from_ptr(mcps_version()) };
    assert_eq!(v.to_str().ok(), Some(env!("CARGO_PKG_VERSION")));
}

#[test]
fn every_function_is_documented() {
    let header = committed();
    let lines: Vec<&str> = header.lines().collect();
    let mut functions = 0;
    for (i, line) in lines.iter().enumerate() {
        let is_prototype = line.contains("mcps_")
            && line.contains('(')
            && !line.starts_with(' ')
            && !line.starts_with('*')
            && !line.starts_with("/*")
            && !line.starts_with('#');
        if !is_prototype {
            continue;
        }
        functions += 1;
        assert!(i > 0 && lines[i - 1].trim() == "*/", "no doc comment before line {}: {line}", i + 1);
        let doc_start = lines[..i].iter().rposition(|l| l.trim() == "/**").unwrap_or(0);
        let doc = lines[doc_start..i].join("\n");
        if !line.starts_with("typedef") && !line.contains("mcps_version") {
            assert!(doc.contains("Threads:"), "the doc of line {} does not say which threads: {line}", i + 1);
        }
    }
    assert!(functions >= 30, "only {functions} functions found");
}

#[test]
fn status_constants_are_the_error_codes() {
    let header = committed();
    use mcpstore::ErrorCode;
    for (name, code) in [
        ("MCPS_OK", ErrorCode::Ok),
        ("MCPS_ERR_INVALID_ARGUMENT", ErrorCode::InvalidArgument),
        ("MCPS_ERR_CLOSED", ErrorCode::Closed),
        ("MCPS_ERR_TIMEOUT", ErrorCode::Timeout),
        ("MCPS_ERR_NOT_READY", ErrorCode::NotReady),
        ("MCPS_ERR_PANIC", ErrorCode::Panic),
    ] {
        let want = format!("    {name} = {},", code as i32);
        assert!(header.contains(&want), "the header lacks `{want}`");
    }
    assert!(!header.contains("MCPS_STATUS_"), "unrenamed status constants");
}
