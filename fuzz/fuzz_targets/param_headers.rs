//! Fuzz target `param_headers`: see `mcpstore::fuzzing::param_headers`.

fn main() {
    afl::fuzz!(|data: &[u8]| mcpstore::fuzzing::param_headers(data));
}
