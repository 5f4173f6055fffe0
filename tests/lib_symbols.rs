//! The C libraries (`libmcpstore.a`, `libmcpstore.so`) and the rlib carry no
//! demo server code: the demo server is its own crate, a test-only dependency.
//! Checked on the symbols of the artifacts cargo built for this test run.

use std::path::PathBuf;
use std::process::Command;

/// `target/<profile>/` (this test runs from `target/<profile>/deps/`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().and_then(|d| d.parent()).expect("target dir").to_path_buf()
}

/// The defined symbols of `file` (demangled), from `nm`.
fn symbols(file: &str) -> Vec<String> {
    let path = target_dir().join(file);
    assert!(path.exists(), "{} was not built (cargo builds it with the library)", path.display());
    let out = Command::new("nm")
        .args(["--defined-only", "--demangle"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run nm on {}: {e}", path.display()));
    assert!(
        out.status.success(),
        "nm failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn the_libraries_hold_the_c_abi_and_no_demo_code() {
    for file in ["libmcpstore.a", "libmcpstore.so", "libmcpstore.rlib"] {
        let symbols = symbols(file);
        assert!(
            symbols.iter().any(|s| s.ends_with(" mcps_store_new")),
            "{file} does not define mcps_store_new: the check would prove nothing"
        );
        let demo: Vec<&String> = symbols.iter().filter(|s| s.contains("mcpstore_demo_server")).collect();
        assert!(demo.is_empty(), "{file} carries demo server code: {:?}", &demo[..demo.len().min(5)]);
    }
}
