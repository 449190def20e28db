//! Dawid–Skene EM: estimates how likely each label is to be right when the
//! annotators are not equally reliable.
//!
//! Vote counting treats every answer alike. Dawid–Skene (1979) instead learns,
//! per annotator, a confusion matrix `P(answer | truth)` and a class prior, and
//! combines the answers by Bayes' rule; this is how ImageNet-ReaL turned its
//! raters' answers into per-label scores. Here the truth is binary (label valid
//! or not) and answers are the three categories no / maybe / yes, so each
//! annotator has a 2x3 matrix and "maybe" gets whatever meaning the data gives
//! it rather than one fixed by hand.
//!
//! Choices that are not dictated by the model, and why:
//!
//! * **Initialisation**: EM needs a starting point and converges to a local
//!   optimum near it. Each item starts at its vote share with "maybe" counted
//!   as [`DsOptions::maybe_weight`] of a yes (default one half, i.e. no lean
//!   either way). Starting from the votes (not from random matrices) keeps the
//!   result deterministic and anchors "valid" to mean what most annotators say
//!   it means, which resolves EM's label-switching symmetry.
//! * **Smoothing**: every confusion cell and both prior classes get a
//!   pseudo-count ([`DsOptions::smoothing`], default 1, i.e. a uniform
//!   Dirichlet/Laplace prior). No probability is then ever 0, so one unusual
//!   answer cannot veto an item through `log 0`, and annotators with a handful
//!   of ratings keep near-uninformative matrices instead of extreme ones.
//! * **Log space**: per-item evidence is a sum of log probabilities, turned into
//!   a posterior with a numerically stable logistic, so items with many
//!   confident answers saturate to 0 or 1 instead of underflowing to 0/0.
//! * **Convergence**: the run stops when no item's posterior moves by more than
//!   [`DsOptions::tol`] in one iteration; the posterior is what a report shows,
//!   so that is the quantity whose stability matters.
//! * **Determinism**: ratings are bucketed by item and sorted inside each
//!   bucket, and every sum runs in that fixed order, so the result is
//!   bit-identical across runs and independent of input order. No hashing and
//!   no randomness is involved.
//! * **Speed**: the ratings are laid out once as flat arrays (item offsets plus
//!   one `annotator * 3 + answer` code per rating); an iteration then makes two
//!   linear passes and allocates nothing.

use super::{Answer, N_ANSWERS, Rating, dense_index};

/// Tuning knobs for [`dawid_skene`]. `Default` gives the documented values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DsOptions {
    /// Upper bound on EM iterations (one M-step followed by one E-step).
    pub max_iter: usize,
    /// Stop once the largest change of any item's posterior in one iteration
    /// is below this.
    pub tol: f64,
    /// Pseudo-count added to every confusion-matrix cell and to both classes of
    /// the prior. Values below [`MIN_SMOOTHING`] (including NaN) are raised to
    /// it, so probabilities stay strictly positive whatever the caller passes.
    pub smoothing: f64,
    /// How much of a "yes" a "maybe" counts as when forming the initial soft
    /// labels; clamped to `[0, 1]` (NaN means the default 0.5).
    pub maybe_weight: f64,
}

/// Smallest pseudo-count used, whatever [`DsOptions::smoothing`] says.
pub const MIN_SMOOTHING: f64 = 1e-9;

impl Default for DsOptions {
    fn default() -> Self {
        DsOptions {
            max_iter: 100,
            tol: 1e-6,
            smoothing: 1.0,
            maybe_weight: 0.5,
        }
    }
}

/// Outcome of a Dawid–Skene fit.
#[derive(Clone, Debug, PartialEq)]
pub struct DsResult {
    /// `P(label valid | answers)` per item. Items without ratings carry no
    /// evidence and get the prior.
    pub posterior: Vec<f64>,
    /// EM iterations run (0 only when `max_iter` is 0, in which case the
    /// posterior is the initial vote-share estimate).
    pub iterations: usize,
    /// Whether the tolerance was met before `max_iter` ran out.
    pub converged: bool,
    /// Per annotator, `[truth][answer]` = `P(answer | truth)`, truth 0 = not
    /// valid, 1 = valid, answer indexed by [`Answer::index`]. Each row sums to
    /// 1. Annotators without ratings get uniform rows.
    pub annotator_confusion: Vec<[[f64; N_ANSWERS]; 2]>,
    /// Estimated share of valid labels among rated items.
    pub prior: f64,
    /// Log-likelihood of the observed answers under the final parameters;
    /// useful to compare runs, it increases (up to smoothing) across EM steps.
    pub log_likelihood: f64,
}

/// Fits binary Dawid–Skene by EM; see the module docs for the choices made.
///
/// Ratings whose item or annotator id is out of range are skipped.
pub fn dawid_skene(
    ratings: &[Rating],
    n_items: usize,
    n_annotators: usize,
    opts: &DsOptions,
) -> DsResult {
    dawid_skene_of(ratings.iter().copied(), n_items, n_annotators, opts)
}

/// [`dawid_skene`] of ratings made as they are read (twice: a clone of `ratings` counts them
/// first), for a caller that would otherwise hold them all only to hand them over: 5 M ratings
/// are 60 MB.
pub fn dawid_skene_of(
    ratings: impl Iterator<Item = Rating> + Clone,
    n_items: usize,
    n_annotators: usize,
    opts: &DsOptions,
) -> DsResult {
    let alpha = if opts.smoothing >= MIN_SMOOTHING {
        opts.smoothing
    } else {
        MIN_SMOOTHING
    };
    let maybe_weight = if opts.maybe_weight.is_nan() {
        0.5
    } else {
        opts.maybe_weight.clamp(0.0, 1.0)
    };

    let data = ByItem::new(ratings, n_items, n_annotators);
    let n_codes = n_annotators * N_ANSWERS;

    let mut posterior = initial_soft_labels(&data, maybe_weight);
    // acc[code] = expected count of that (annotator, answer) under each truth;
    // log_p[code] = log P(answer | truth) for the annotator of that code.
    let mut acc = vec![[0.0f64; 2]; n_codes];
    let mut log_p = vec![[0.0f64; 2]; n_codes];
    let mut prior = 0.5;
    let mut log_likelihood = 0.0;
    let mut iterations = 0;
    let mut converged = false;

    if opts.max_iter == 0 {
        prior = m_step(&data, &posterior, alpha, &mut acc, &mut log_p);
    }
    while iterations < opts.max_iter {
        iterations += 1;
        prior = m_step(&data, &posterior, alpha, &mut acc, &mut log_p);
        let (max_delta, ll) = e_step(&data, prior, &log_p, &mut posterior);
        log_likelihood = ll;
        if max_delta < opts.tol {
            converged = true;
            break;
        }
    }

    for (i, p) in posterior.iter_mut().enumerate() {
        if data.is_unrated(i) {
            *p = prior;
        }
    }

    let annotator_confusion = (0..n_annotators)
        .map(|a| {
            let mut m = [[0.0; N_ANSWERS]; 2];
            for (k, cell) in log_p[a * N_ANSWERS..(a + 1) * N_ANSWERS].iter().enumerate() {
                m[0][k] = cell[0].exp();
                m[1][k] = cell[1].exp();
            }
            m
        })
        .collect();

    DsResult {
        posterior,
        iterations,
        converged,
        annotator_confusion,
        prior,
        log_likelihood,
    }
}

/// Ratings bucketed by item: item `i` owns `codes[offsets[i]..offsets[i + 1]]`,
/// each code being `annotator * 3 + answer` (four bytes: a rating's ids are `u32`s).
struct ByItem {
    offsets: Vec<usize>,
    codes: Vec<u32>,
}

impl ByItem {
    fn new(
        ratings: impl Iterator<Item = Rating> + Clone,
        n_items: usize,
        n_annotators: usize,
    ) -> ByItem {
        let code_of = |r: Rating| -> Option<(usize, u32)> {
            let item = dense_index(r.item, n_items)?;
            let annotator = dense_index(r.annotator, n_annotators)?;
            let code = annotator.checked_mul(N_ANSWERS)? + r.answer.index();
            Some((item, u32::try_from(code).ok()?))
        };

        // Counting sort by item: linear time, and unlike a HashMap it fixes
        // the layout independently of anything but the ids themselves.
        let mut offsets = vec![0usize; n_items + 1];
        for (item, _) in ratings.clone().filter_map(code_of) {
            offsets[item + 1] += 1;
        }
        for i in 0..n_items {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut codes = vec![0u32; offsets[n_items]];
        for (item, code) in ratings.filter_map(code_of) {
            codes[fill[item]] = code;
            fill[item] += 1;
        }
        drop(fill);
        // Sorting inside each item makes floating-point sums independent of
        // the order in which the caller listed the ratings.
        for w in offsets.windows(2) {
            codes[w[0]..w[1]].sort_unstable();
        }
        ByItem { offsets, codes }
    }

    fn n_items(&self) -> usize {
        self.offsets.len() - 1
    }

    fn item(&self, i: usize) -> &[u32] {
        &self.codes[self.offsets[i]..self.offsets[i + 1]]
    }

    fn is_unrated(&self, i: usize) -> bool {
        self.offsets[i] == self.offsets[i + 1]
    }
}

/// Vote share per item with "maybe" worth `maybe_weight` of a yes. Unrated
/// items get 0.5; they never enter the M-step and are overwritten by the prior
/// at the end.
fn initial_soft_labels(data: &ByItem, maybe_weight: f64) -> Vec<f64> {
    let yes_weight = |&code: &u32| match code as usize % N_ANSWERS {
        x if x == Answer::Yes.index() => 1.0,
        x if x == Answer::Maybe.index() => maybe_weight,
        _ => 0.0,
    };
    (0..data.n_items())
        .map(|i| {
            let codes = data.item(i);
            if codes.is_empty() {
                0.5
            } else {
                codes.iter().map(yes_weight).sum::<f64>() / codes.len() as f64
            }
        })
        .collect()
}

/// Re-estimates the smoothed confusion matrices (into `log_p`) and returns the
/// prior `P(valid)`, from the current soft labels.
fn m_step(
    data: &ByItem,
    posterior: &[f64],
    alpha: f64,
    acc: &mut [[f64; 2]],
    log_p: &mut [[f64; 2]],
) -> f64 {
    acc.fill([0.0; 2]);
    let mut valid_mass = 0.0;
    let mut n_rated = 0usize;
    for (i, &t) in posterior.iter().enumerate() {
        let codes = data.item(i);
        if codes.is_empty() {
            continue;
        }
        n_rated += 1;
        valid_mass += t;
        let f = 1.0 - t;
        for &c in codes {
            acc[c as usize][0] += f;
            acc[c as usize][1] += t;
        }
    }

    for (acc_a, log_a) in acc
        .chunks_exact(N_ANSWERS)
        .zip(log_p.chunks_exact_mut(N_ANSWERS))
    {
        for truth in 0..2 {
            let total: f64 = acc_a.iter().map(|c| c[truth]).sum::<f64>() + N_ANSWERS as f64 * alpha;
            for (cell, log_cell) in acc_a.iter().zip(log_a.iter_mut()) {
                log_cell[truth] = ((cell[truth] + alpha) / total).ln();
            }
        }
    }

    (valid_mass + alpha) / (n_rated as f64 + 2.0 * alpha)
}

/// Recomputes every rated item's posterior in place; returns the largest
/// change and the log-likelihood of the data.
fn e_step(data: &ByItem, prior: f64, log_p: &[[f64; 2]], posterior: &mut [f64]) -> (f64, f64) {
    let log_prior = [(1.0 - prior).ln(), prior.ln()];
    let mut max_delta = 0.0f64;
    let mut log_likelihood = 0.0;
    for (i, p) in posterior.iter_mut().enumerate() {
        let codes = data.item(i);
        if codes.is_empty() {
            continue;
        }
        let mut l = log_prior;
        for &c in codes {
            l[0] += log_p[c as usize][0];
            l[1] += log_p[c as usize][1];
        }
        let d = l[1] - l[0];
        // exp(-|d|) is in (0, 1], so neither branch can overflow.
        let e = (-d.abs()).exp();
        let new = if d >= 0.0 {
            1.0 / (1.0 + e)
        } else {
            e / (1.0 + e)
        };
        log_likelihood += l[0].max(l[1]) + e.ln_1p();
        max_delta = max_delta.max((new - *p).abs());
        *p = new;
    }
    (max_delta, log_likelihood)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: a tiny fixed-seed generator so synthetic data is identical
    /// on every run without a dependency.
    struct Rng(u64);
    impl Rng {
        fn next_f64(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Answers `truth` with probability `acc`, otherwise the opposite; never
    /// "maybe", so that majority vote has no ties to break on 5 raters.
    fn answer(rng: &mut Rng, truth: bool, acc: f64) -> Answer {
        let says_yes = if rng.next_f64() < acc { truth } else { !truth };
        if says_yes { Answer::Yes } else { Answer::No }
    }

    struct Synthetic {
        truth: Vec<bool>,
        ratings: Vec<Rating>,
    }

    /// Two decent annotators, one adversarial and two coin-flippers: a
    /// majority of five is dragged down by the three bad ones, while a model
    /// that learns who to trust (and that the adversary is informative when
    /// flipped) can do much better.
    fn synthetic(n_items: usize) -> Synthetic {
        let accuracies = [0.9, 0.85, 0.15, 0.5, 0.5];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut truth = Vec::with_capacity(n_items);
        let mut ratings = Vec::new();
        for item in 0..n_items {
            let t = rng.next_f64() < 0.3;
            truth.push(t);
            for (a, &acc) in accuracies.iter().enumerate() {
                ratings.push(Rating::new(item as u32, a as u32, answer(&mut rng, t, acc)));
            }
        }
        Synthetic { truth, ratings }
    }

    fn accuracy(pred: impl Iterator<Item = bool>, truth: &[bool]) -> f64 {
        let hits = pred.zip(truth).filter(|(p, t)| p == *t).count();
        hits as f64 / truth.len() as f64
    }

    #[test]
    fn beats_majority_vote_with_unreliable_annotators() {
        let s = synthetic(2000);
        let n = s.truth.len();
        let counts = super::super::counts(&s.ratings, n);
        let mv = accuracy(counts.iter().map(|c| c.yes > c.no), &s.truth);
        let ds = dawid_skene(&s.ratings, n, 5, &DsOptions::default());
        let ds_acc = accuracy(ds.posterior.iter().map(|&p| p >= 0.5), &s.truth);
        assert!(ds.converged);
        assert!(ds_acc > mv + 0.1, "DS {ds_acc} vs MV {mv}");
        assert!(ds_acc > 0.9, "DS {ds_acc}");
        assert!((ds.prior - 0.3).abs() < 0.05, "prior {}", ds.prior);

        // The adversary is learnt as saying "yes" mostly when the label is wrong.
        let adv = ds.annotator_confusion[2];
        assert!(adv[0][Answer::Yes.index()] > 0.7 && adv[1][Answer::No.index()] > 0.7);
        // Coin-flippers end up with (nearly) identical rows: uninformative.
        let coin = ds.annotator_confusion[3];
        assert!((coin[0][Answer::Yes.index()] - coin[1][Answer::Yes.index()]).abs() < 0.1);
    }

    #[test]
    fn deterministic_and_order_independent() {
        let s = synthetic(500);
        let n = s.truth.len();
        let opts = DsOptions::default();
        let a = dawid_skene(&s.ratings, n, 5, &opts);
        let b = dawid_skene(&s.ratings, n, 5, &opts);
        let bits = |r: &DsResult| r.posterior.iter().map(|p| p.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b));
        assert_eq!(a, b);

        let mut shuffled = s.ratings.clone();
        shuffled.reverse();
        shuffled.swap(3, 1700);
        let c = dawid_skene(&shuffled, n, 5, &opts);
        assert_eq!(bits(&a), bits(&c));
        assert_eq!(a.prior.to_bits(), c.prior.to_bits());
    }

    #[test]
    fn convergence_flag_reflects_max_iter() {
        let s = synthetic(500);
        let n = s.truth.len();
        let short = DsOptions {
            max_iter: 2,
            tol: 1e-12,
            ..DsOptions::default()
        };
        let r = dawid_skene(&s.ratings, n, 5, &short);
        assert_eq!(r.iterations, 2);
        assert!(!r.converged);

        let r = dawid_skene(&s.ratings, n, 5, &DsOptions::default());
        assert!(r.converged);
        assert!(r.iterations < 100);

        let zero = DsOptions {
            max_iter: 0,
            ..DsOptions::default()
        };
        let r = dawid_skene(&s.ratings, n, 5, &zero);
        assert_eq!(r.iterations, 0);
        assert!(!r.converged);
        assert!(r.posterior.iter().all(|p| (0.0..=1.0).contains(p)));
    }

    #[test]
    fn probabilities_are_positive_and_normalised() {
        // Only "no" and "yes" are ever used, and one annotator rates nothing:
        // smoothing must still keep every cell > 0 and rows summing to 1.
        let s = synthetic(200);
        let opts = DsOptions {
            smoothing: 0.0,
            ..DsOptions::default()
        };
        let r = dawid_skene(&s.ratings, s.truth.len(), 6, &opts);
        for m in &r.annotator_confusion {
            for row in m {
                assert!(row.iter().all(|&p| p > 0.0));
                assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            }
        }
        let unused = r.annotator_confusion[5];
        assert!(
            unused
                .iter()
                .flatten()
                .all(|&p| (p - 1.0 / 3.0).abs() < 1e-12)
        );
        assert!(r.posterior.iter().all(|p| p.is_finite()));
        assert!(r.log_likelihood.is_finite());
    }

    #[test]
    fn unrated_items_get_the_prior_and_bad_ids_are_skipped() {
        let mut s = synthetic(300);
        let n = s.truth.len();
        s.ratings.push(Rating::new(9999, 0, Answer::Yes));
        s.ratings.push(Rating::new(0, 99, Answer::Yes));
        let r = dawid_skene(&s.ratings, n + 2, 5, &DsOptions::default());
        assert_eq!(r.posterior.len(), n + 2);
        assert_eq!(r.posterior[n], r.prior);
        assert_eq!(r.posterior[n + 1], r.prior);
        let clean = dawid_skene(
            &s.ratings[..s.ratings.len() - 2],
            n,
            5,
            &DsOptions::default(),
        );
        assert_eq!(clean.posterior[..], r.posterior[..n]);
    }

    #[test]
    fn empty_input_is_harmless() {
        let r = dawid_skene(&[], 3, 2, &DsOptions::default());
        assert_eq!(r.posterior, vec![0.5; 3]);
        assert_eq!(r.prior, 0.5);
        assert!(r.converged);
        let r = dawid_skene(&[], 0, 0, &DsOptions::default());
        assert!(r.posterior.is_empty() && r.annotator_confusion.is_empty());
    }

    /// One annotator only: nothing to weigh them against, so the posterior must follow their
    /// own answers (yes above maybe above no) and stay finite; a tied item (one yes, one no, from
    /// two annotators seen once each) lands between the two.
    #[test]
    fn single_annotator_and_a_tie() {
        let mut ratings = Vec::new();
        for item in 0..30u32 {
            let a = match item % 3 {
                0 => Answer::Yes,
                1 => Answer::Maybe,
                _ => Answer::No,
            };
            ratings.push(Rating::new(item, 0, a));
        }
        // Item 30: a tie between two annotators who rate nothing else.
        ratings.push(Rating::new(30, 1, Answer::Yes));
        ratings.push(Rating::new(30, 2, Answer::No));
        let r = dawid_skene(&ratings, 31, 3, &DsOptions::default());
        assert!(r.converged);
        assert!(
            r.posterior
                .iter()
                .all(|p| p.is_finite() && (0.0..=1.0).contains(p))
        );
        let (yes, maybe, no) = (r.posterior[0], r.posterior[1], r.posterior[2]);
        assert!(yes > maybe && maybe > no, "{yes} {maybe} {no}");
        assert!(yes > 0.5 && no < 0.5);
        // Annotators 1 and 2 answered once each, in opposite directions, and are smoothed alike:
        // the tie carries little evidence either way.
        assert!(
            r.posterior[30] > no && r.posterior[30] < yes,
            "{}",
            r.posterior[30]
        );
    }

    #[test]
    fn maybe_weight_shapes_the_start_only() {
        // All-"maybe" item: with weight 1 it starts as valid, with 0 as invalid.
        let ratings = [
            Rating::new(0, 0, Answer::Maybe),
            Rating::new(0, 1, Answer::Maybe),
        ];
        let start = |w: f64| {
            let opts = DsOptions {
                max_iter: 0,
                maybe_weight: w,
                ..DsOptions::default()
            };
            dawid_skene(&ratings, 1, 2, &opts).posterior[0]
        };
        assert_eq!(start(1.0), 1.0);
        assert_eq!(start(0.0), 0.0);
        assert_eq!(start(f64::NAN), 0.5);
        assert_eq!(start(7.0), 1.0);
    }
}
