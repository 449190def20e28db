//! Statistics over the experts' answers: this module turns raw
//! `(item, annotator, answer)` triples into the numbers a review report needs.
//!
//! It exists as one self-contained unit so that the statistics can be tested
//! against published values without pulling in the terminal UI or any storage
//! code (the statistics files take only [`Answer`], a plain enum of the store's). The three parts answer three different questions:
//!
//! * [`aggregate`](mod@aggregate): "what did the annotators say?" — per-item counts and the
//!   selection frequency `yes / (yes + no)`, thresholded into valid / not valid.
//! * [`dawid_skene`](mod@dawid_skene): "what is probably true?" — a Dawid–Skene EM model that
//!   weighs each annotator by an estimated confusion matrix, as ImageNet-ReaL
//!   (Beyer et al. 2020, "Are we done with ImageNet?") did.
//! * [`agreement`](mod@agreement): "how much can the answers be trusted?" — percent agreement,
//!   Krippendorff's alpha, Fleiss' kappa, Gwet's AC1 and per-annotator agreement
//!   with the others.
//!
//! Three files connect those statistics to a project, and are the only ones here that know
//! about the store: [`project`](mod@project) reads a project's current answers into dense ids and
//! aggregates them into label sets with the chosen method, [`report`](mod@report) computes
//! every figure of `labelvet report` from that, and [`classify`](mod@classify) builds on both for
//! the CLASSIFY task: which images it asks about, and the figures its answers give.
//! [`reliability`](mod@reliability) says whose answers to trust: accuracy on gold questions,
//! the Dawid-Skene confusion estimates, the flag, and answer speed.
//! [`stopping`](mod@stopping) says when a question's answers so far settle it (`--until`), and
//! [`simulate`](mod@simulate) replays a project's complete answers under such a rule.
//!
//! Conventions shared by the three statistics files:
//!
//! * Ids are dense (`0..n_items`, `0..n_annotators`) because every function
//!   indexes flat vectors with them; a rating whose id is out of range is
//!   skipped rather than panicked on, since ids ultimately come from user data.
//! * Ratings may arrive in any order; nothing here assumes sorting, and results
//!   do not depend on the order of the input.
//! * Each `(item, annotator)` pair is expected at most once (the annotator's
//!   *current* answer). A duplicate is treated as an additional rating.
//! * A value that is mathematically undefined for the given data (for example
//!   an agreement coefficient when every answer is identical) is returned as
//!   `None`, never as `NaN`, so a report can print "n/a" instead of garbage.

pub mod aggregate;
pub mod agreement;
pub mod classify;
pub mod dawid_skene;
pub mod project;
pub mod reliability;
pub mod report;
pub mod simulate;
pub mod stopping;

/// The answer type lives with the events that record it, below every layer that reads it.
pub use crate::store::answer::{Answer, N_ANSWERS};
pub use aggregate::{Counts, counts, is_valid, selection_frequency, validity};
pub use agreement::{Agreement, AnnotatorAgreement, agreement};
pub use dawid_skene::{DsOptions, DsResult, dawid_skene};

/// One annotator's current answer to one question, with dense ids (0..n_items, 0..n_annotators).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rating {
    pub item: u32,
    pub annotator: u32,
    pub answer: Answer,
}

impl Rating {
    pub fn new(item: u32, annotator: u32, answer: Answer) -> Rating {
        Rating {
            item,
            annotator,
            answer,
        }
    }
}

/// Converts a `u32` id to an index if it is below `len`.
///
/// Centralised so that every file skips out-of-range ids the same way.
fn dense_index(id: u32, len: usize) -> Option<usize> {
    let i = usize::try_from(id).ok()?;
    (i < len).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_index_rejects_out_of_range() {
        assert_eq!(dense_index(0, 1), Some(0));
        assert_eq!(dense_index(1, 1), None);
        assert_eq!(dense_index(u32::MAX, 0), None);
    }
}
