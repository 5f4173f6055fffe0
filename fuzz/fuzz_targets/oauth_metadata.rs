//! Fuzz target `oauth_metadata`: see `mcpstore::fuzzing::oauth_metadata`.

fn main() {
    afl::fuzz!(|data: &[u8]| mcpstore::fuzzing::oauth_metadata(data));
}
