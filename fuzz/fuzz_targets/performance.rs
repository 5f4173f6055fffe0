//! Fuzz target `performance`: see `mcpstore::fuzzing::performance`.

fn main() {
    afl::fuzz!(|data: &[u8]| mcpstore::fuzzing::performance(data));
}
