//! Fuzz target `mcp_result`: see `mcpstore::fuzzing::mcp_result`.

fn main() {
    afl::fuzz!(|data: &[u8]| mcpstore::fuzzing::mcp_result(data));
}
