//! Fuzz target `www_authenticate`: see `mcpstore::fuzzing::www_authenticate`.

fn main() {
    afl::fuzz!(|data: &[u8]| mcpstore::fuzzing::www_authenticate(data));
}
