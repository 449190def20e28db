//! Running the real binary from integration tests: one way to call it, and to assert that it
//! succeeded or failed with its output in the message, shared by every CLI test file.
#![allow(dead_code)] // each test file uses its own subset

use std::path::Path;
use std::process::{Command, Output};

/// Runs labelvet with `args`, its data directory pointed away from the user's.
pub fn labelvet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_labelvet"))
        .args(args)
        .env(
            "LABELVET_DATA_DIR",
            std::env::temp_dir().join("labelvet-tests-unused"),
        )
        .output()
        .expect("run labelvet")
}

/// Runs labelvet, expects success, returns its standard output.
pub fn ok(args: &[&str]) -> String {
    let out = labelvet(args);
    assert!(
        out.status.success(),
        "labelvet {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs labelvet, expects failure, returns its standard error.
pub fn fails(args: &[&str]) -> String {
    let out = labelvet(args);
    assert!(
        !out.status.success(),
        "labelvet {args:?} should have failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
