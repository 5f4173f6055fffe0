//! The README's two commands keep working: `cargo run --release -- demo` needs
//! `mcpstore` as the default binary, the tour itself must succeed, and CI runs
//! exactly the README's test command.

use std::process::Command;
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn readme_opens_with_the_two_commands_and_ci_runs_the_second() {
    let readme = read("README.md");
    let block: Vec<&str> = readme.lines().skip_while(|l| !l.starts_with("```")).skip(1).take(2).collect();
    assert!(block[0].starts_with("cargo run --release -- demo"), "{block:?}");
    assert!(block[1].starts_with("bash scripts/test-all.sh"), "{block:?}");
    let ci = read(".ci/run");
    assert!(ci.contains("scripts/test-all.sh"), "{ci}");
    let manifest = read("Cargo.toml");
    assert!(manifest.contains("default-run = \"mcpstore\""), "`cargo run` needs a default binary");
}

#[test]
fn the_demo_tour_succeeds() {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_mcpstore")).arg("demo").output().expect("run mcpstore demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("hello over stdio") && stdout.contains("hello over Streamable HTTP"), "{stdout}");
    assert!(stdout.contains("100/100 ok"), "{stdout}");
    assert!(stdout.contains("local.echo single x16"), "{stdout}");
    assert!(started.elapsed() < Duration::from_secs(120));
}
