//! labelvet: re-check image labels offline, from the terminal.
//!
//! The library holds everything but argument parsing, so that tests and benchmarks drive the
//! same code the binary runs.

pub mod error;
pub mod ingest;
pub mod store;
pub mod vocab;

pub use error::{Error, Result};
pub mod analysis;
pub mod annotate;
pub mod tui;
