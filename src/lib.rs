//! labelvet: re-check image labels offline, from the terminal.
//!
//! The library holds everything but argument parsing, so that tests and benchmarks drive the
//! same code the binary runs.

pub mod analysis;
pub mod annotate;
pub mod demo;
pub mod error;
pub mod export;
pub mod imagefile;
pub mod info;
pub mod ingest;
#[cfg(feature = "predict")]
pub mod predict;
pub mod store;
pub mod suggest;
pub mod text;
pub mod tui;
pub mod vocab;
pub mod words;

pub use error::{Error, Result};
