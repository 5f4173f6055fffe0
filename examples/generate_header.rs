//! Regenerates the C header `include/mcpstore.h` from `cbindgen.toml`:
//!
//! ```text
//! cargo run --example generate_header
//! ```
//!
//! `tests/c_header.rs` includes this file and fails when the checked-in
//! header differs from [`generate`]'s output.

use std::path::{Path, PathBuf};

/// The crate's root directory.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where the header lives.
pub fn header_path() -> PathBuf {
    root().join("include").join("mcpstore.h")
}

/// The version macros, from Cargo.toml.
fn version_macros() -> String {
    format!(
        "\n/** The version of this header (the crate's version in Cargo.toml). */\n\
         #define MCPS_VERSION_MAJOR {}\n#define MCPS_VERSION_MINOR {}\n#define MCPS_VERSION_PATCH {}\n",
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
    )
}

/// The header's text, freshly generated.
pub fn generate() -> Result<String, String> {
    let root = root();
    let mut config = cbindgen::Config::from_file(root.join("cbindgen.toml"))
        .map_err(|e| format!("cannot read cbindgen.toml: {e}"))?;
    config.after_includes = Some(version_macros());
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src").join("lib.rs"))
        .generate()
        .map_err(|e| format!("cbindgen failed: {e}"))?;
    let mut out = Vec::new();
    bindings.write(&mut out);
    let text = String::from_utf8(out).map_err(|e| format!("cbindgen wrote non-UTF-8: {e}"))?;
    Ok(rename_statuses(&text))
}

/// `MCPS_STATUS_OK` -> `MCPS_OK`, `MCPS_STATUS_X` -> `MCPS_ERR_X`.
fn rename_statuses(text: &str) -> String {
    text.replace("MCPS_STATUS_OK", "MCPS_OK").replace("MCPS_STATUS_", "MCPS_ERR_")
}

/// Writes the header if it changed.
fn write(path: &Path, text: &str) -> std::io::Result<bool> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(false);
    }
    std::fs::write(path, text)?;
    Ok(true)
}

#[allow(dead_code)] // tests/c_header.rs includes this file without calling main
fn main() -> std::process::ExitCode {
    let path = header_path();
    let result = generate().and_then(|text| write(&path, &text).map_err(|e| e.to_string()));
    match result {
        Ok(true) => println!("wrote {}", path.display()),
        Ok(false) => println!("{} is up to date", path.display()),
        Err(e) => {
            eprintln!("generate_header: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    std::process::ExitCode::SUCCESS
}
