//! Fuzz target: see `classify` in tests/fuzz_support/mod.rs.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_support/mod.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    let _ = harness::classify(data);
});
