//! Fuzz target: see `classify` in tests/it/fuzz_support.rs.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/it/fuzz_support.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    let _ = harness::classify(data);
});
