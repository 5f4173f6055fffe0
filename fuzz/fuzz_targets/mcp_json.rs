//! Fuzz target `mcp_json`: see `mcpstore::fuzzing::mcp_json`.

fn main() {
    afl::fuzz!(|data: &[u8]| mcpstore::fuzzing::mcp_json(data));
}
