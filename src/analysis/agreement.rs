//! Inter-annotator agreement: how far the answers can be trusted before any
//! model is fitted to them.
//!
//! Several coefficients are reported because each has a known blind spot:
//! raw percent agreement ignores chance; Fleiss' kappa and Krippendorff's alpha
//! correct for chance but collapse when one answer dominates (as "no" does on
//! label re-checks), the "kappa paradox"; Gwet's AC1 was designed to stay
//! stable under such skew. Per-annotator agreement with the others' consensus
//! points at the individual who disagrees, which no pooled number can.
//!
//! All coefficients treat no / maybe / yes as nominal categories. The pooled
//! ones only need how many annotators gave each answer to each item, so they
//! are implemented on a flat `items x categories` count table with the number
//! of categories as a parameter. That keeps them checkable against published
//! examples that use other scales (Fleiss 1971 has 5 categories) while
//! [`agreement`] always uses the 3 answers.
//!
//! Items with fewer than 2 ratings contain no pair of answers to compare, so
//! they drop out of every pooled coefficient (Gwet's AC1 still uses them for
//! its category prevalences, as Gwet specifies). Undefined results are `None`;
//! see each function for when that happens.

use super::{N_ANSWERS, Rating, dense_index};

/// Pooled and per-annotator agreement over one set of ratings.
#[derive(Clone, Debug, PartialEq)]
pub struct Agreement {
    /// Mean over items with >= 2 ratings of the share of agreeing pairs of
    /// ratings. `None` if no item has 2 ratings.
    pub percent: Option<f64>,
    /// Krippendorff's alpha, nominal. `None` if no item has 2 ratings or
    /// only one answer occurs among them (no variation to explain).
    pub krippendorff_alpha: Option<f64>,
    /// Fleiss' kappa. `None` unless every rated item has the same number
    /// (>= 2) of ratings, or if only one answer occurs.
    pub fleiss_kappa: Option<f64>,
    /// Gwet's AC1 over the 3-answer scale. `None` if no item has 2 ratings.
    pub gwet_ac1: Option<f64>,
    /// Items with at least 2 ratings, i.e. those the coefficients are about.
    pub items_used: usize,
    /// Ratings belonging to those items.
    pub ratings_used: usize,
    /// One entry per annotator id in `0..n_annotators`.
    pub per_annotator: Vec<AnnotatorAgreement>,
}

/// How one annotator compares with the consensus of the other annotators.
///
/// For each item the annotator rated, the consensus is the answer given most
/// often by the *other* annotators of that item. Items where nobody else
/// answered, or where two answers tie for most often, have no consensus and
/// are skipped (counted in `n_rated` but not in `n_compared`).
#[derive(Clone, Debug, PartialEq)]
pub struct AnnotatorAgreement {
    pub annotator: u32,
    /// Items this annotator rated.
    pub n_rated: usize,
    /// Items skipped because the others' most frequent answers tied.
    pub n_ties: usize,
    /// Items with a consensus to compare against.
    pub n_compared: usize,
    /// Compared items where the annotator gave the consensus answer.
    pub n_equal: usize,
    /// `n_equal / n_compared`; `None` when nothing was compared.
    pub share_equal: Option<f64>,
    /// Cohen's kappa between the annotator's answers and the consensus over
    /// the compared items. `None` when nothing was compared or when chance
    /// agreement is 1 (both sides used one and the same answer throughout),
    /// where kappa is 0/0.
    pub cohen_kappa: Option<f64>,
}

/// Computes every agreement figure for the ratings.
///
/// Ratings whose item or annotator id is out of range are skipped; each
/// `(item, annotator)` pair is expected at most once.
pub fn agreement(ratings: &[Rating], n_items: usize, n_annotators: usize) -> Agreement {
    let in_range = |r: &Rating| {
        let item = dense_index(r.item, n_items)?;
        let annotator = dense_index(r.annotator, n_annotators)?;
        Some((item, annotator, r.answer.index()))
    };
    let mut table = vec![0u32; n_items * N_ANSWERS];
    for (item, _, answer) in ratings.iter().filter_map(in_range) {
        let cell = &mut table[item * N_ANSWERS + answer];
        *cell = cell.saturating_add(1);
    }

    let mut items_used = 0;
    let mut ratings_used = 0;
    for row in table.chunks_exact(N_ANSWERS) {
        let m = row_total(row);
        if m >= 2 {
            items_used += 1;
            ratings_used += m as usize;
        }
    }

    let mut per_annotator: Vec<AnnotatorAgreement> = (0..n_annotators)
        .map(|a| AnnotatorAgreement {
            annotator: u32::try_from(a).unwrap_or(u32::MAX),
            n_rated: 0,
            n_ties: 0,
            n_compared: 0,
            n_equal: 0,
            share_equal: None,
            cohen_kappa: None,
        })
        .collect();
    // confusion[a][own answer][consensus answer], for Cohen's kappa.
    let mut confusion = vec![[[0u64; N_ANSWERS]; N_ANSWERS]; n_annotators];
    for (item, a, own) in ratings.iter().filter_map(in_range) {
        let entry = &mut per_annotator[a];
        entry.n_rated += 1;
        let mut others = [0u32; N_ANSWERS];
        others.copy_from_slice(&table[item * N_ANSWERS..(item + 1) * N_ANSWERS]);
        // This rating was counted into the table, so the cell is at least 1.
        others[own] = others[own].saturating_sub(1);
        match plurality(&others) {
            Plurality::Nobody => {}
            Plurality::Tie => entry.n_ties += 1,
            Plurality::Answer(c) => {
                entry.n_compared += 1;
                if c == own {
                    entry.n_equal += 1;
                }
                confusion[a][own][c] += 1;
            }
        }
    }
    for (entry, conf) in per_annotator.iter_mut().zip(&confusion) {
        if entry.n_compared > 0 {
            entry.share_equal = Some(entry.n_equal as f64 / entry.n_compared as f64);
        }
        entry.cohen_kappa = cohen_kappa(conf);
    }

    Agreement {
        percent: percent_agreement_table(&table, N_ANSWERS),
        krippendorff_alpha: krippendorff_alpha_table(&table, N_ANSWERS),
        fleiss_kappa: fleiss_kappa_table(&table, N_ANSWERS),
        gwet_ac1: gwet_ac1_table(&table, N_ANSWERS),
        items_used,
        ratings_used,
        per_annotator,
    }
}

enum Plurality {
    Nobody,
    Tie,
    Answer(usize),
}

fn plurality(counts: &[u32; N_ANSWERS]) -> Plurality {
    let max = counts.iter().copied().max().unwrap_or(0);
    if max == 0 {
        return Plurality::Nobody;
    }
    let mut winners = counts.iter().enumerate().filter(|&(_, &c)| c == max);
    match (winners.next(), winners.next()) {
        (Some((k, _)), None) => Plurality::Answer(k),
        _ => Plurality::Tie,
    }
}

/// Cohen's kappa from a square confusion table, computed from integer sums so
/// that the undefined case (chance agreement exactly 1) is detected exactly.
fn cohen_kappa(conf: &[[u64; N_ANSWERS]; N_ANSWERS]) -> Option<f64> {
    let n: u64 = conf.iter().flatten().sum();
    if n == 0 {
        return None;
    }
    let agree: u64 = (0..N_ANSWERS).map(|k| conf[k][k]).sum();
    // Sum over categories of row total * column total = n^2 * p_e.
    let chance: u128 = (0..N_ANSWERS)
        .map(|k| {
            let row: u64 = conf[k].iter().sum();
            let col: u64 = conf.iter().map(|r| r[k]).sum();
            u128::from(row) * u128::from(col)
        })
        .sum();
    let n2 = u128::from(n) * u128::from(n);
    if chance >= n2 {
        return None;
    }
    let observed = u128::from(n) * u128::from(agree);
    Some((observed as f64 - chance as f64) / (n2 - chance) as f64)
}

fn row_total(row: &[u32]) -> u64 {
    row.iter().map(|&c| u64::from(c)).sum()
}

/// `x (x - 1)`: ordered pairs within a group of `x`, the building block of
/// every pair-counting coefficient here.
fn pairs(x: u64) -> u64 {
    x * x.saturating_sub(1)
}

/// Percent agreement on an `items x q` count table: the mean over items with
/// at least 2 ratings of `sum_k n_k (n_k - 1) / (m (m - 1))`, the share of ordered
/// pairs of ratings that agree.
pub(crate) fn percent_agreement_table(table: &[u32], q: usize) -> Option<f64> {
    if q == 0 {
        return None;
    }
    let mut sum = 0.0;
    let mut n = 0usize;
    for row in table.chunks_exact(q) {
        let m = row_total(row);
        if m >= 2 {
            let agreeing: u64 = row.iter().map(|&c| pairs(u64::from(c))).sum();
            sum += agreeing as f64 / pairs(m) as f64;
            n += 1;
        }
    }
    (n > 0).then(|| sum / n as f64)
}

/// Krippendorff's alpha for nominal data on an `items x q` count table.
///
/// Follows Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability":
/// each unit with `m_u >= 2` values contributes its `m_u (m_u - 1)` ordered
/// pairs to the coincidence matrix with weight `1 / (m_u - 1)`; then
/// `alpha = 1 - (n - 1) * sum_{c != k} o_ck / sum_{c != k} n_c n_k`, written
/// below through the diagonal as
/// `1 - (n - 1)(n - sum_c o_cc) / (n (n - 1) - sum_c n_c (n_c - 1))`.
/// `None` when there are no pairable values or only one category occurs
/// (expected disagreement 0, alpha 0/0).
pub(crate) fn krippendorff_alpha_table(table: &[u32], q: usize) -> Option<f64> {
    if q == 0 {
        return None;
    }
    let mut n_c = vec![0u64; q];
    let mut o_diag = 0.0;
    let mut n = 0u64;
    for row in table.chunks_exact(q) {
        let m = row_total(row);
        if m < 2 {
            continue;
        }
        n += m;
        let same: u64 = row.iter().map(|&c| pairs(u64::from(c))).sum();
        o_diag += same as f64 / (m - 1) as f64;
        for (t, &c) in n_c.iter_mut().zip(row) {
            *t += u64::from(c);
        }
    }
    let expected_same: u128 = n_c.iter().map(|&c| u128::from(pairs(c))).sum();
    let all_pairs = u128::from(pairs(n));
    if n < 2 || expected_same >= all_pairs {
        return None;
    }
    let observed_diff = n as f64 - o_diag;
    Some(1.0 - (n - 1) as f64 * observed_diff / (all_pairs - expected_same) as f64)
}

/// Fleiss' kappa on an `items x q` count table (Fleiss 1971).
///
/// Fleiss' chance model assumes every item was rated by the same number of
/// raters, so rather than silently computing something else this returns
/// `None` unless all items with any rating have the same count `m >= 2`.
/// Also `None` when only one category occurs (chance agreement 1).
pub(crate) fn fleiss_kappa_table(table: &[u32], q: usize) -> Option<f64> {
    if q == 0 {
        return None;
    }
    let mut m = None;
    let mut n_items = 0u64;
    let mut same_pairs = 0u64;
    let mut totals = vec![0u64; q];
    for row in table.chunks_exact(q) {
        let r = row_total(row);
        if r == 0 {
            continue;
        }
        match m {
            None => m = Some(r),
            Some(m) if m != r => return None,
            Some(_) => {}
        }
        n_items += 1;
        same_pairs += row.iter().map(|&c| pairs(u64::from(c))).sum::<u64>();
        for (t, &c) in totals.iter_mut().zip(row) {
            *t += u64::from(c);
        }
    }
    let m = m.filter(|&m| m >= 2)?;
    let n_ratings = n_items * m;
    let sum_sq: u128 = totals.iter().map(|&t| u128::from(t) * u128::from(t)).sum();
    let n_sq = u128::from(n_ratings) * u128::from(n_ratings);
    if sum_sq >= n_sq {
        return None;
    }
    let p_bar = same_pairs as f64 / (n_items as f64 * pairs(m) as f64);
    let p_e = sum_sq as f64 / n_sq as f64;
    Some((p_bar - p_e) / (1.0 - p_e))
}

/// Gwet's AC1 for several raters with a varying number of raters per item
/// (Gwet 2008, "Computing inter-rater reliability and its variance in the
/// presence of high agreement"; the missing-data form of his Handbook).
///
/// `p_a` is the percent agreement over items with >= 2 ratings; the category
/// prevalences `pi_k` average `n_ik / m_i` over all items with >= 1 rating;
/// `p_e = sum_k pi_k (1 - pi_k) / (q - 1)` with `q` the size of the scale
/// (not only the categories that happened to occur). Since `p_e <= 1 / q`,
/// the denominator `1 - p_e` never vanishes; the result is `None` only when
/// no item has 2 ratings or the scale has fewer than 2 categories.
pub(crate) fn gwet_ac1_table(table: &[u32], q: usize) -> Option<f64> {
    if q < 2 {
        return None;
    }
    let p_a = percent_agreement_table(table, q)?;
    let mut pi = vec![0.0; q];
    let mut n_rated = 0usize;
    for row in table.chunks_exact(q) {
        let m = row_total(row);
        if m == 0 {
            continue;
        }
        n_rated += 1;
        for (p, &c) in pi.iter_mut().zip(row) {
            *p += f64::from(c) / m as f64;
        }
    }
    let n_rated = n_rated as f64;
    let p_e = pi
        .iter()
        .map(|&s| {
            let p = s / n_rated;
            p * (1.0 - p)
        })
        .sum::<f64>()
        / (q - 1) as f64;
    Some((p_a - p_e) / (1.0 - p_e))
}

#[cfg(test)]
mod tests {
    use super::super::Answer::{self, Maybe, No, Yes};
    use super::*;

    /// Builds an `items x q` count table from `(item, category)` values.
    fn table_from_values(values: &[(usize, usize)], n_items: usize, q: usize) -> Vec<u32> {
        let mut t = vec![0u32; n_items * q];
        for &(i, c) in values {
            t[i * q + c] += 1;
        }
        t
    }

    fn close(a: Option<f64>, b: f64, eps: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < eps)
    }

    fn r(item: u32, annotator: u32, answer: Answer) -> Rating {
        Rating::new(item, annotator, answer)
    }

    /// Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability",
    /// section C: 4 observers, 12 units, values 1..=5, missing values; the
    /// nominal alpha is 0.743. Unit 12 has a single value and drops out.
    #[test]
    fn krippendorff_textbook_nominal_with_missing() {
        #[rustfmt::skip]
        let data: [[u8; 12]; 4] = [
            // 0 = missing
            [1, 2, 3, 3, 2, 1, 4, 1, 2, 0, 0, 0], // observer A
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, 0, 3], // observer B
            [0, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, 0], // observer C
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, 0], // observer D
        ];
        let values: Vec<(usize, usize)> = data
            .iter()
            .flat_map(|obs| obs.iter().enumerate())
            .filter(|&(_, &v)| v > 0)
            .map(|(u, &v)| (u, usize::from(v - 1)))
            .collect();
        let table = table_from_values(&values, 12, 5);
        let alpha = krippendorff_alpha_table(&table, 5);
        assert!(close(alpha, 0.743, 5e-4), "{alpha:?}");
        // Mixed numbers of values per unit: Fleiss' kappa is not defined.
        assert_eq!(fleiss_kappa_table(&table, 5), None);
    }

    /// Fleiss (1971) / Wikipedia "Fleiss' kappa" worked example: 10 subjects,
    /// 14 raters, 5 categories; P-bar = 0.378, P_e = 0.213, kappa = 0.210.
    #[test]
    fn fleiss_wikipedia_example() {
        #[rustfmt::skip]
        let table: Vec<u32> = vec![
            0, 0, 0, 0, 14,
            0, 2, 6, 4, 2,
            0, 0, 3, 5, 6,
            0, 3, 9, 2, 0,
            2, 2, 8, 1, 1,
            7, 7, 0, 0, 0,
            3, 2, 6, 3, 0,
            2, 5, 3, 2, 2,
            6, 5, 2, 1, 0,
            0, 2, 2, 3, 7,
        ];
        let kappa = fleiss_kappa_table(&table, 5);
        assert!(close(kappa, 0.210, 5e-4), "{kappa:?}");
        assert!(close(percent_agreement_table(&table, 5), 0.378, 5e-4));
        // An unrated row does not break the equal-count requirement.
        let mut with_empty = table.clone();
        with_empty.extend([0; 5]);
        assert_eq!(fleiss_kappa_table(&with_empty, 5), kappa);
    }

    /// Hand-computed example with a varying number of raters and one item
    /// rated once (categories no, maybe, yes):
    ///   A = [2,0,0]: pair agreement 1
    ///   B = [1,1,1]: 0
    ///   C = [0,1,2]: 2 / 6 = 1/3
    ///   D = [0,1,0]: single rating, prevalences only
    /// p_a = (1 + 0 + 1/3) / 3 = 4/9.
    /// pi = (1 + 1/3 + 0 + 0, 0 + 1/3 + 1/3 + 1, 0 + 1/3 + 2/3 + 0) / 4
    ///    = (1/3, 5/12, 1/4); sum pi (1 - pi) = 94/144; p_e = 47/144.
    /// AC1 = (64/144 - 47/144) / (97/144) = 17/97.
    /// Krippendorff: n = 8, sum o_cc = 2 + 0 + 1 = 3, n_c = (3, 2, 3),
    /// alpha = 1 - 7 * (8 - 3) / (56 - 14) = 1/6.
    #[test]
    fn gwet_and_alpha_hand_computed() {
        let ratings = [
            r(0, 0, No),
            r(0, 1, No),
            r(1, 0, No),
            r(1, 1, Maybe),
            r(1, 2, Yes),
            r(2, 2, Maybe),
            r(2, 0, Yes),
            r(2, 1, Yes),
            r(3, 3, Maybe),
        ];
        let a = agreement(&ratings, 4, 4);
        assert!(close(a.percent, 4.0 / 9.0, 1e-12));
        assert!(close(a.gwet_ac1, 17.0 / 97.0, 1e-12), "{:?}", a.gwet_ac1);
        assert!(close(a.krippendorff_alpha, 1.0 / 6.0, 1e-12));
        assert_eq!(a.fleiss_kappa, None);
        assert_eq!(a.items_used, 3);
        assert_eq!(a.ratings_used, 8);
    }

    #[test]
    fn percent_agreement_by_hand() {
        // [3 yes] -> 1; [2 yes, 1 no] -> 2/6; [1 no, 1 maybe] -> 0;
        // a lone rating is ignored. Mean = (1 + 1/3 + 0) / 3 = 4/9.
        let ratings = [
            r(0, 0, Yes),
            r(0, 1, Yes),
            r(0, 2, Yes),
            r(1, 0, Yes),
            r(1, 1, No),
            r(1, 2, Yes),
            r(2, 0, No),
            r(2, 1, Maybe),
            r(3, 2, Yes),
        ];
        let a = agreement(&ratings, 4, 3);
        assert!(close(a.percent, 4.0 / 9.0, 1e-12));
    }

    /// Consensus of the others, with a tie, a lone rating and a disagreement:
    ///   item 0: a0 Y, a1 Y, a2 N   -> a0, a1 see {Y, N}: tie; a2 sees Y.
    ///   item 1: a0 Y, a1 Y, a2 Y, a3 M -> a0..a2 see Y; a3 sees Y.
    ///   item 2: a0 N alone          -> nobody to compare with.
    ///   item 3: a1 N, a3 N          -> both see N.
    #[test]
    fn per_annotator_consensus_ties_and_kappa() {
        let ratings = [
            r(1, 3, Maybe),
            r(0, 0, Yes),
            r(0, 1, Yes),
            r(0, 2, No),
            r(1, 0, Yes),
            r(1, 1, Yes),
            r(1, 2, Yes),
            r(2, 0, No),
            r(3, 1, No),
            r(3, 3, No),
        ];
        let a = agreement(&ratings, 4, 5);
        let p = &a.per_annotator;
        assert_eq!(p.len(), 5);

        assert_eq!(
            (p[0].n_rated, p[0].n_ties, p[0].n_compared, p[0].n_equal),
            (3, 1, 1, 1)
        );
        assert_eq!(p[0].share_equal, Some(1.0));
        // Both sides only ever said "yes": chance agreement is 1.
        assert_eq!(p[0].cohen_kappa, None);

        assert_eq!(
            (p[1].n_rated, p[1].n_ties, p[1].n_compared, p[1].n_equal),
            (3, 1, 2, 2)
        );
        assert_eq!(p[1].cohen_kappa, Some(1.0));

        // Own (N, Y) vs consensus (Y, Y): p_o = 1/2, p_e = 1/2 -> 0.
        assert_eq!((p[2].n_compared, p[2].n_equal), (2, 1));
        assert_eq!(p[2].share_equal, Some(0.5));
        assert_eq!(p[2].cohen_kappa, Some(0.0));

        // Own (M, N) vs consensus (Y, N): p_o = 1/2, p_e = 1/4 -> 1/3.
        assert_eq!((p[3].n_compared, p[3].n_equal), (2, 1));
        assert!(close(p[3].cohen_kappa, 1.0 / 3.0, 1e-12));

        assert_eq!(p[4].n_rated, 0);
        assert_eq!((p[4].share_equal, p[4].cohen_kappa), (None, None));
        assert_eq!(p[4].annotator, 4);
    }

    #[test]
    fn single_annotator_everything_undefined() {
        let ratings = [r(0, 0, Yes), r(1, 0, No), r(2, 0, Maybe)];
        let a = agreement(&ratings, 3, 1);
        assert_eq!(a.items_used, 0);
        assert_eq!(a.percent, None);
        assert_eq!(a.krippendorff_alpha, None);
        assert_eq!(a.fleiss_kappa, None);
        assert_eq!(a.gwet_ac1, None);
        assert_eq!(a.per_annotator[0].n_rated, 3);
        assert_eq!(a.per_annotator[0].n_compared, 0);
        assert_eq!(a.per_annotator[0].share_equal, None);
    }

    #[test]
    fn all_answers_identical() {
        let ratings: Vec<Rating> = (0..4)
            .flat_map(|i| (0..3).map(move |a| r(i, a, No)))
            .collect();
        let a = agreement(&ratings, 4, 3);
        assert_eq!(a.percent, Some(1.0));
        // No variation: chance-corrected coefficients based on observed
        // prevalences are 0/0; AC1's chance term is 0, so it is 1.
        assert_eq!(a.krippendorff_alpha, None);
        assert_eq!(a.fleiss_kappa, None);
        assert_eq!(a.gwet_ac1, Some(1.0));
        for p in &a.per_annotator {
            assert_eq!(p.share_equal, Some(1.0));
            assert_eq!(p.cohen_kappa, None);
        }
    }

    #[test]
    fn missing_answers_and_order_do_not_matter_beyond_counts() {
        // Equal-count design: every item has 3 ratings from different subsets
        // of 4 annotators (the fourth answer is missing each time).
        let mut ratings = vec![
            r(0, 0, Yes),
            r(0, 1, Yes),
            r(0, 2, No),
            r(1, 1, No),
            r(1, 2, No),
            r(1, 3, No),
            r(2, 0, Maybe),
            r(2, 2, Yes),
            r(2, 3, Yes),
        ];
        let a = agreement(&ratings, 3, 4);
        assert!(a.fleiss_kappa.is_some());
        ratings.reverse();
        assert_eq!(agreement(&ratings, 3, 4), a);

        // Dropping one rating makes the counts unequal: Fleiss is undefined
        // but the others still work.
        ratings.pop();
        let b = agreement(&ratings, 3, 4);
        assert_eq!(b.fleiss_kappa, None);
        assert!(b.krippendorff_alpha.is_some() && b.gwet_ac1.is_some());
    }

    #[test]
    fn perfect_agreement_with_variation_is_one() {
        let ratings = [
            r(0, 0, Yes),
            r(0, 1, Yes),
            r(1, 0, No),
            r(1, 1, No),
            r(2, 0, Maybe),
            r(2, 1, Maybe),
        ];
        let a = agreement(&ratings, 3, 2);
        assert!(close(a.krippendorff_alpha, 1.0, 1e-12));
        assert!(close(a.fleiss_kappa, 1.0, 1e-12));
        assert!(close(a.gwet_ac1, 1.0, 1e-12));
        assert_eq!(a.per_annotator[0].cohen_kappa, Some(1.0));
    }

    #[test]
    fn empty_and_out_of_range_are_harmless() {
        let a = agreement(&[], 0, 0);
        assert_eq!(a.percent, None);
        assert!(a.per_annotator.is_empty());
        let a = agreement(&[r(5, 0, Yes), r(0, 9, No)], 1, 1);
        assert_eq!(a.items_used, 0);
        assert_eq!(a.per_annotator[0].n_rated, 0);
        assert_eq!(percent_agreement_table(&[1, 2], 0), None);
        assert_eq!(gwet_ac1_table(&[3], 1), None);
    }
}
