//! Fuzz target `sse`: see `mcpstore::fuzzing::sse`.

fn main() {
    afl::fuzz!(|data: &[u8]| mcpstore::fuzzing::sse(data));
}
