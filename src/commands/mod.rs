//! Command handlers: each turns parsed arguments into library calls and prints the outcome.

pub mod annotate;
pub mod assign;
pub mod checkout;
pub mod export;
pub mod judgments;
pub mod merge;
pub mod predict;
pub mod report;
