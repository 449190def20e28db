//! The answer to a yes/no/maybe question. It is part of what an event records, so it lives in
//! the store, the lowest layer that needs it; `analysis` re-exports it for the statistics.

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
}
