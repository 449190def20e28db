//! Every integration test, as modules of one test binary: one link step instead of one per file
//! (each links the whole library and its dependencies). Run one file's tests with a filter on its
//! module name, e.g. `cargo test --test it merge_hostile`.
//!
//! New test files go here as modules; helpers shared between files are the `*_support` modules.

mod annotate_support;
mod cli_support;
mod fuzz_support;
/// The synthetic-project generator, compiled in so that `gen_project` can run it small.
#[path = "../../examples/gen_project.rs"]
#[allow(dead_code)]
mod gen_project_example;
mod merge_support;
mod tools;

mod annotate_classify;
mod annotate_grid;
mod annotate_queue;
mod annotate_scale;
mod annotate_session;
mod bad_images;
mod bulk_write;
mod carried_images;
mod checkout_select;
mod classify;
mod exit_codes;
mod exports;
mod fuzz_regressions;
mod gen_project;
mod merge_hostile;
mod merge_properties;
mod merge_real;
mod merge_two_pass;
mod merge_workflow;
mod new_user;
mod pack;
#[cfg(feature = "predict")]
mod predict_cli;
#[cfg(feature = "predict")]
mod predict_models;
mod project_cli;
mod quality;
mod quality_real;
mod real_terminals;
mod results_cli;
mod results_real;
mod scaled_decode;
mod simulate_real;
mod tui_screen;
mod tui_show;
mod tui_tmux;
mod untrusted_input;
