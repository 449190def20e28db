//! Fuzz target: see `wal_check` in tests/it/fuzz_support.rs.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/it/fuzz_support.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    let _ = harness::wal_check(data);
});
