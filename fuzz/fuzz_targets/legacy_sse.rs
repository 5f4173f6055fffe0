//! Fuzz target `legacy_sse`: see `mcpstore::fuzzing::legacy_sse`.

fn main() {
    afl::fuzz!(|data: &[u8]| mcpstore::fuzzing::legacy_sse(data));
}
