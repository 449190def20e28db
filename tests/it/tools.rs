//! Tests that need a program from outside Rust (tmux, a Python package, a browser): one rule for
//! when it is missing. On a developer's machine the test says it is skipped and passes; under
//! `CI=true` it fails, because CI installs every such tool (.ci/run) and a test that silently
//! stopped running would look like a test that passes.

/// `true` when the tool was `found` and the test should go on; `false` (with a notice) when it is
/// missing outside CI. Panics when it is missing and `CI=true`.
pub fn available(tool: &str, found: bool) -> bool {
    if found {
        return true;
    }
    assert!(
        !in_ci(),
        "{tool} is missing and CI=true: CI must install it (.ci/run), so this test fails \
         instead of skipping"
    );
    eprintln!("NOTICE: {tool} is not installed; skipping this test (it fails under CI=true)");
    false
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}
