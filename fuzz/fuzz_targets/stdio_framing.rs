//! Fuzz target `stdio_framing`: see `mcpstore::fuzzing::stdio_framing`.

fn main() {
    afl::fuzz!(|data: &[u8]| mcpstore::fuzzing::stdio_framing(data));
}
