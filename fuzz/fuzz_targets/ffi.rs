//! Fuzz target `ffi`: see `mcpstore::fuzzing::ffi`.

fn main() {
    afl::fuzz!(|data: &[u8]| mcpstore::fuzzing::ffi(data));
}
