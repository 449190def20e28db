//! Plain vote counting: the transparent baseline every other statistic is
//! compared against.
//!
//! ImageNet-ReaL summarises each (image, label) question by its *selection
//! frequency*, the share of annotators who said the label is right. "Maybe"
//! carries no direction, so it is left out of both numerator and denominator:
//! `frequency = yes / (yes + no)`. The counts are kept separately so a report
//! can still show how many annotators were unsure.

use super::{Answer, N_ANSWERS, Rating, dense_index};

/// How many annotators gave each answer to one item.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Counts {
    pub no: u32,
    pub maybe: u32,
    pub yes: u32,
}

impl Counts {
    /// Counts one more answer. Saturates rather than overflowing, because a
    /// corrupted input must not be able to panic the tool.
    pub fn add(&mut self, answer: Answer) {
        let slot = match answer {
            Answer::No => &mut self.no,
            Answer::Maybe => &mut self.maybe,
            Answer::Yes => &mut self.yes,
        };
        *slot = slot.saturating_add(1);
    }

    pub fn get(&self, answer: Answer) -> u32 {
        match answer {
            Answer::No => self.no,
            Answer::Maybe => self.maybe,
            Answer::Yes => self.yes,
        }
    }

    /// All answers, including "maybe".
    pub fn total(&self) -> u32 {
        self.no.saturating_add(self.maybe).saturating_add(self.yes)
    }

    /// Counts indexed by [`Answer::index`].
    pub fn as_array(&self) -> [u32; N_ANSWERS] {
        [self.no, self.maybe, self.yes]
    }

    /// `yes / (yes + no)`; see [`selection_frequency`].
    pub fn selection_frequency(&self) -> Option<f64> {
        selection_frequency(self)
    }

    /// Validity at `threshold`; see [`validity`].
    pub fn is_valid(&self, threshold: f64) -> Option<bool> {
        self.selection_frequency().map(|f| is_valid(f, threshold))
    }
}

/// Tallies the answers per item. Items nobody rated get all-zero counts;
/// ratings with `item >= n_items` are skipped.
pub fn counts(ratings: &[Rating], n_items: usize) -> Vec<Counts> {
    let mut out = vec![Counts::default(); n_items];
    for r in ratings {
        if let Some(i) = dense_index(r.item, n_items) {
            out[i].add(r.answer);
        }
    }
    out
}

/// Share of decisive answers that said "yes": `yes / (yes + no)`.
///
/// `None` when nobody answered yes or no (unrated, or only "maybe"), because
/// there is then no evidence either way and 0 or 0.5 would both be invented.
pub fn selection_frequency(c: &Counts) -> Option<f64> {
    let decisive = u64::from(c.yes) + u64::from(c.no);
    if decisive == 0 {
        None
    } else {
        Some(c.yes as f64 / decisive as f64)
    }
}

/// Whether a frequency (or any score in `[0, 1]`) passes `threshold`.
///
/// The comparison is `>=`, so a threshold is the smallest *accepted* value:
/// at 0.5 a tie of one yes and one no counts as valid, and at 0.8 exactly
/// 4 yes out of 5 passes. This matches how ImageNet-ReaL thresholds its
/// scores, and it is exact for simple ratios: `4.0 / 5.0` is the same `f64`
/// as the literal `0.8`, so such boundaries are not lost to rounding.
pub fn is_valid(frequency: f64, threshold: f64) -> bool {
    frequency >= threshold
}

/// Validity per item at `threshold` (see [`is_valid`]); `None` where the
/// selection frequency is undefined.
pub fn validity(counts: &[Counts], threshold: f64) -> Vec<Option<bool>> {
    counts.iter().map(|c| c.is_valid(threshold)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(item: u32, annotator: u32, answer: Answer) -> Rating {
        Rating::new(item, annotator, answer)
    }

    #[test]
    fn counts_any_order_and_skips_out_of_range() {
        let ratings = [
            r(1, 0, Answer::Yes),
            r(0, 0, Answer::No),
            r(1, 1, Answer::Maybe),
            r(1, 2, Answer::Yes),
            r(7, 0, Answer::Yes), // item out of range
        ];
        let c = counts(&ratings, 3);
        assert_eq!(c.len(), 3);
        assert_eq!(
            c[0],
            Counts {
                no: 1,
                maybe: 0,
                yes: 0
            }
        );
        assert_eq!(
            c[1],
            Counts {
                no: 0,
                maybe: 1,
                yes: 2
            }
        );
        assert_eq!(c[2], Counts::default());
        assert_eq!(c[1].total(), 3);
        assert_eq!(c[1].as_array(), [0, 1, 2]);
        assert_eq!(c[1].get(Answer::Maybe), 1);
    }

    #[test]
    fn frequency_ignores_maybe_and_is_none_without_evidence() {
        let c = Counts {
            no: 1,
            maybe: 5,
            yes: 3,
        };
        assert_eq!(c.selection_frequency(), Some(0.75));
        let only_maybe = Counts {
            no: 0,
            maybe: 2,
            yes: 0,
        };
        assert_eq!(only_maybe.selection_frequency(), None);
        assert_eq!(Counts::default().selection_frequency(), None);
    }

    #[test]
    fn threshold_is_inclusive() {
        let four_of_five = Counts {
            no: 1,
            maybe: 0,
            yes: 4,
        };
        assert_eq!(four_of_five.is_valid(0.8), Some(true));
        let three_of_five = Counts {
            no: 2,
            maybe: 0,
            yes: 3,
        };
        assert_eq!(three_of_five.is_valid(0.8), Some(false));
        let tie = Counts {
            no: 1,
            maybe: 0,
            yes: 1,
        };
        assert_eq!(tie.is_valid(0.5), Some(true));
        assert!(is_valid(0.8, 0.8));
        assert!(!is_valid(0.799_999, 0.8));
        assert_eq!(
            validity(&[four_of_five, Counts::default()], 0.8),
            vec![Some(true), None]
        );
    }
}
