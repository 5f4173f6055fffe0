//! Fuzz target `jsonrpc`: see `mcpstore::fuzzing::jsonrpc`.

fn main() {
    afl::fuzz!(|data: &[u8]| mcpstore::fuzzing::jsonrpc(data));
}
