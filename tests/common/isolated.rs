//! Isolation from the developer's environment: `MCPSTORE_<KEY>` variables
//! change every store that reads the environment, so child processes started
//! by tests get none of them (a test sets the ones it means), and in-process
//! tests that use an API reading the environment check it is clean first.

use std::ffi::OsStr;
use std::process::Command;

/// `program` as a command whose environment has every `MCPSTORE_*` variable
/// of this process removed; add the ones the test means with `.env(...)`.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MCPSTORE_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// Fails with a clear message when this process's environment holds a
/// `MCPSTORE_<KEY>` setting (one of [`mcpstore::FLAT_KEYS`]): a test of an
/// API that applies the environment (`Store::from_json`, `from_file`,
/// `PerformanceConfig::from_file`) would not test what it says.
pub fn assert_no_settings_in_env() {
    let set: Vec<String> = std::env::vars()
        .filter_map(|(name, _)| {
            let key = name.strip_prefix("MCPSTORE_")?.to_ascii_lowercase();
            mcpstore::FLAT_KEYS.contains(&key.as_str()).then_some(name)
        })
        .collect();
    assert!(
        set.is_empty(),
        "this test reads the environment, which sets {set:?}: unset them to run the tests \
         (they override the settings the test checks)"
    );
}
