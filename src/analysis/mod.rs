//! Statistics over the experts' answers: this module turns raw
//! `(item, annotator, answer)` triples into the numbers a review report needs.
//!
//! It exists as one self-contained, std-only unit so that the statistics can be
//! tested against published values without pulling in the terminal UI or any
//! storage code. The three parts answer three different questions:
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
pub mod report;

pub use aggregate::{Counts, counts, is_valid, selection_frequency, validity};
pub use agreement::{Agreement, AnnotatorAgreement, agreement};
pub use dawid_skene::{DsOptions, DsResult, dawid_skene};

/// An expert's verdict on whether an image shows the label in question.
///
/// The discriminants double as indices into per-category arrays (`[_; 3]`),
/// ordered from "label wrong" to "label right".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Answer {
    No = 0,
    Maybe = 1,
    Yes = 2,
}

/// Number of answer categories; the width of every per-category array.
pub const N_ANSWERS: usize = 3;

impl Answer {
    /// All answers in index order.
    pub const ALL: [Answer; N_ANSWERS] = [Answer::No, Answer::Maybe, Answer::Yes];

    /// Position of this answer in per-category arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Inverse of [`Answer::index`]; `None` for indices `>= 3`.
    pub fn from_index(index: usize) -> Option<Answer> {
        Answer::ALL.get(index).copied()
    }

    /// Lower-case name as used in the rater CSV files (`no`, `maybe`, `yes`).
    pub fn as_str(self) -> &'static str {
        match self {
            Answer::No => "no",
            Answer::Maybe => "maybe",
            Answer::Yes => "yes",
        }
    }

    /// Parses `no` / `maybe` / `yes`, ignoring ASCII case and surrounding
    /// whitespace; anything else is `None` so callers decide how to report it.
    pub fn parse(s: &str) -> Option<Answer> {
        let s = s.trim();
        Answer::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
    }
}

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
    fn answer_round_trips() {
        for a in Answer::ALL {
            assert_eq!(Answer::from_index(a.index()), Some(a));
            assert_eq!(Answer::parse(a.as_str()), Some(a));
        }
        assert_eq!(Answer::parse(" YES "), Some(Answer::Yes));
        assert_eq!(Answer::parse("y"), None);
        assert_eq!(Answer::from_index(3), None);
    }

    #[test]
    fn dense_index_rejects_out_of_range() {
        assert_eq!(dense_index(0, 1), Some(0));
        assert_eq!(dense_index(1, 1), None);
        assert_eq!(dense_index(u32::MAX, 0), None);
    }
}
