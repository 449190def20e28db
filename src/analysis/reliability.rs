//! Whose answers to trust: per annotator, accuracy on gold questions with its Wilson interval,
//! the Dawid-Skene confusion estimates, the flag that drops an annotator, and how fast they
//! answered.
//!
//! ImageNet-ReaL scored its raters on "golden" questions answered by the paper's authors; this
//! module does the same with any project's gold answers (`store::quality`):
//!
//! - a gold question's **truth** is its experts' majority of yes against no; maybe answers do
//!   not vote, and a tie (or no decisive expert answer) is not gold;
//! - an annotator's **gold accuracy** is the share of their yes/no answers on gold questions
//!   that equal the truth; their maybe answers there are counted apart (`gold_maybe`), not in
//!   the accuracy; its 95% interval is Wilson's score interval, which stays inside 0..1 and is
//!   honest for small counts (Brown, Cai & DasGupta 2001);
//! - an annotator is **flagged** when the upper end of that interval is below the minimum
//!   accuracy (default 0.7): even the most generous reading of their gold answers is too low;
//!   an annotator without a yes/no answer on a gold question (and with answers on questions
//!   others answered too, from which alone the fit can learn anything) is flagged instead when their
//!   Dawid-Skene balanced accuracy is below 0.6;
//! - **speed**: the median seconds per answer and the share under 400 ms, too quick to have
//!   looked at the image, from the times the screen records; answers without a time (imported)
//!   are counted and left out.

use serde::Serialize;

use super::dawid_skene::{DsOptions, dawid_skene_of};
use super::project::ProjectData;
use super::{Answer, Counts, Rating};
use crate::error::Result;
use crate::store::Store;

/// z of a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

/// Answers faster than this had no time to look at the image.
pub const TOO_QUICK_MS: u32 = 400;

/// Dawid-Skene balanced accuracy below which an annotator without gold answers is flagged.
pub const MIN_DS_BALANCED_ACCURACY: f64 = 0.6;

/// Wilson's score interval for `k` successes in `n` trials at 95%; `None` when `n` is 0.
pub fn wilson(k: u64, n: u64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = Z95 / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// A question's gold truth from its experts' answers: the majority of yes against no; `None`
/// on a tie (including no yes and no no at all).
pub fn gold_truth(experts: &Counts) -> Option<bool> {
    match experts.yes.cmp(&experts.no) {
        std::cmp::Ordering::Greater => Some(true),
        std::cmp::Ordering::Less => Some(false),
        std::cmp::Ordering::Equal => None,
    }
}

/// One gold question: the experts' answers and the truth they give.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GoldQuestion {
    pub image: u32,
    pub class: u32,
    pub experts: Counts,
    pub truth: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct GoldSummary {
    /// Questions with gold answers.
    pub questions: usize,
    /// Of those, the ones with a truth (a majority of yes against no).
    pub with_truth: usize,
    /// Questions whose experts' yes and no are tied (both at least one): not gold.
    pub ties: usize,
    /// Questions whose experts answered only maybe: not gold.
    pub no_vote: usize,
    /// The flag's threshold on the upper end of the gold interval.
    pub min_gold_accuracy: f64,
}

/// One gold question as `labelvet gold list` shows it, by keys.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GoldListed {
    pub image: String,
    pub label: String,
    pub yes: u32,
    pub no: u32,
    pub maybe: u32,
    /// `yes`, `no`, or `null` for a tie (not gold).
    pub truth: Option<&'static str>,
    /// Each expert's current answer.
    pub experts: Vec<(String, &'static str)>,
}

/// The project's gold questions in (image, label) key order, with their experts' current
/// answers and the truth they give.
pub fn gold_list(store: &Store) -> Result<Vec<GoldListed>> {
    let mut out: Vec<GoldListed> = Vec::new();
    for g in store.current_gold()? {
        let same = out
            .last()
            .is_some_and(|q| q.image == g.image && q.label == g.label);
        if !same {
            out.push(GoldListed {
                image: g.image.clone(),
                label: g.label.clone(),
                yes: 0,
                no: 0,
                maybe: 0,
                truth: None,
                experts: Vec::new(),
            });
        }
        let q = out.last_mut().expect("pushed above");
        match g.answer {
            Answer::Yes => q.yes += 1,
            Answer::No => q.no += 1,
            Answer::Maybe => q.maybe += 1,
        }
        q.experts.push((g.annotator, g.answer.as_str()));
    }
    for q in &mut out {
        let c = Counts {
            yes: q.yes,
            no: q.no,
            maybe: q.maybe,
        };
        q.truth = gold_truth(&c).map(|t| if t { "yes" } else { "no" });
    }
    Ok(out)
}

/// Every figure of one annotator's reliability (the `annotators` of `report --json`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnnotatorReliability {
    pub annotator: String,
    /// Current answers on gold questions (those with a truth), maybe included.
    pub gold_answers: u64,
    /// Of those, maybe answers: counted apart, not in the accuracy.
    pub gold_maybe: u64,
    /// Yes/no answers on gold questions equal to the truth.
    pub gold_correct: u64,
    /// `gold_correct / (gold_answers - gold_maybe)`.
    pub gold_accuracy: Option<f64>,
    /// Wilson 95% interval of the accuracy.
    pub gold_ci_low: Option<f64>,
    pub gold_ci_high: Option<f64>,
    /// Dawid-Skene's fitted P(yes | valid), P(no | not valid), and the share of maybe answers
    /// it expects; present under `--method dawid-skene`, or when the flag needed the fit.
    pub ds_p_yes_if_valid: Option<f64>,
    pub ds_p_no_if_not_valid: Option<f64>,
    pub ds_maybe_rate: Option<f64>,
    /// The mean of the two, each among yes/no answers only (maybe left out, as in the gold
    /// accuracy): `(P(yes|valid)/(P(yes|valid)+P(no|valid)) + P(no|not)/(P(no|not)+P(yes|not))) / 2`.
    pub ds_balanced_accuracy: Option<f64>,
    pub flagged: bool,
    /// Why, in words, when flagged.
    pub flag_reason: Option<String>,
    /// Current answers with a recorded time, and without (imported answers).
    pub timed_answers: u64,
    pub untimed_answers: u64,
    /// Median seconds per timed answer.
    pub median_seconds: Option<f64>,
    /// Share of timed answers under 400 ms.
    pub share_under_400ms: Option<f64>,
}

/// Seconds-per-answer histogram bins: `[edges[i], edges[i + 1])`, the last open-ended.
pub const SPEED_EDGES_S: &[f64] = &[0.0, 0.4, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 60.0];

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpeedBin {
    pub from_seconds: f64,
    /// `None` for the last bin, open-ended.
    pub to_seconds: Option<f64>,
    pub answers: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SpeedSummary {
    pub timed_answers: u64,
    /// Answers without a time (imported); left out of every speed figure.
    pub untimed_answers: u64,
    pub median_seconds: Option<f64>,
    pub share_under_400ms: Option<f64>,
    pub histogram: Vec<SpeedBin>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reliability {
    pub gold: GoldSummary,
    pub annotators: Vec<AnnotatorReliability>,
    pub speed: SpeedSummary,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReliabilityOptions {
    pub min_gold_accuracy: f64,
}

impl Default for ReliabilityOptions {
    fn default() -> Self {
        ReliabilityOptions {
            min_gold_accuracy: 0.7,
        }
    }
}

/// The Dawid-Skene confusion rows of every annotator (`[truth][answer]`), fitted on the
/// project's current answers, one item per (image, label) question.
pub fn fit_confusion(data: &ProjectData) -> Vec<[[f64; 3]; 2]> {
    // The answers are sorted by (image, class): a question is a run of them, numbered as they
    // come. Made as they are read, not held: 5 M ratings are 60 MB, at the report's peak.
    let ratings = data.answers.iter().scan(None, |last, a| {
        let item = match *last {
            None => 0,
            Some((item, image, class)) if (image, class) == (a.image, a.class) => item,
            Some((item, _, _)) => item + 1,
        };
        *last = Some((item, a.image, a.class));
        Some(Rating::new(item, a.annotator, a.answer))
    });
    let n_items = data
        .answers
        .chunk_by(|a, b| (a.image, a.class) == (b.image, b.class))
        .count();
    dawid_skene_of(
        ratings,
        n_items,
        data.annotators.len(),
        &DsOptions::default(),
    )
    .annotator_confusion
}

/// Every annotator's figures (see the module docs). `confusion` is the Dawid-Skene fit when
/// the caller has one; without it, it is fitted here only when an annotator has no yes/no
/// gold answer and so is judged by it.
pub fn reliability(
    data: &ProjectData,
    confusion: Option<&[[[f64; 3]; 2]]>,
    opts: &ReliabilityOptions,
) -> Reliability {
    let n = data.annotators.len();
    let mut gold = GoldSummary {
        questions: data.gold.len(),
        min_gold_accuracy: opts.min_gold_accuracy,
        ..GoldSummary::default()
    };
    for q in &data.gold {
        match q.truth {
            Some(_) => gold.with_truth += 1,
            None if q.experts.yes > 0 => gold.ties += 1,
            None => gold.no_vote += 1,
        }
    }
    // Answers and gold questions are both sorted by (image, class): one merge walk.
    let mut counts = vec![(0u64, 0u64, 0u64); n];
    let mut g = 0;
    let mut times: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut untimed = vec![0u64; n];
    for a in &data.answers {
        let who = a.annotator as usize;
        match a.elapsed_ms {
            Some(ms) => times[who].push(ms),
            None => untimed[who] += 1,
        }
        while g < data.gold.len() && (data.gold[g].image, data.gold[g].class) < (a.image, a.class) {
            g += 1;
        }
        let Some(q) = data.gold.get(g) else { continue };
        let (Some(truth), true) = (q.truth, (q.image, q.class) == (a.image, a.class)) else {
            continue;
        };
        let c = &mut counts[who];
        c.0 += 1;
        match a.answer {
            Answer::Maybe => c.1 += 1,
            Answer::Yes => c.2 += u64::from(truth),
            Answer::No => c.2 += u64::from(!truth),
        }
    }
    // Dawid-Skene learns an annotator's reliability only from questions others answered too:
    // an annotator who shares none (a lone annotator, the demo's first answers) gets the
    // prior's 50% and must not be flagged on it.
    let mut shared = vec![0u64; n];
    for group in data
        .answers
        .chunk_by(|a, b| (a.image, a.class) == (b.image, b.class))
    {
        if group.len() > 1 {
            for a in group {
                shared[a.annotator as usize] += 1;
            }
        }
    }
    let needs_fit = counts.iter().any(|c| c.0 == c.1);
    let fitted;
    let confusion = match confusion {
        Some(c) => Some(c),
        None if needs_fit && !data.answers.is_empty() => {
            fitted = fit_confusion(data);
            Some(fitted.as_slice())
        }
        None => None,
    };
    let mut all_times: Vec<u32> = Vec::new();
    let annotators = (0..n)
        .map(|i| {
            let (answers, maybe, correct) = counts[i];
            let decisive = answers - maybe;
            let ci = wilson(correct, decisive);
            let accuracy = (decisive > 0).then(|| correct as f64 / decisive as f64);
            let ds = confusion.and_then(|c| c.get(i)).map(ds_figures);
            let mut flag_reason = None;
            if let Some((_, high)) = ci {
                if high < opts.min_gold_accuracy {
                    flag_reason = Some(format!(
                        "gold accuracy {:.1}% (95% interval up to {:.1}%) is below {:.0}%",
                        100.0 * accuracy.unwrap_or(0.0),
                        100.0 * high,
                        100.0 * opts.min_gold_accuracy
                    ));
                }
            } else if let Some((_, _, _, balanced)) = ds
                && shared[i] > 0
                && balanced < MIN_DS_BALANCED_ACCURACY
            {
                flag_reason = Some(format!(
                    "no gold answers, and Dawid-Skene balanced accuracy {:.1}% is below {:.0}%",
                    100.0 * balanced,
                    100.0 * MIN_DS_BALANCED_ACCURACY
                ));
            }
            let t = &mut times[i];
            all_times.extend_from_slice(t);
            let (median_seconds, share_under_400ms) = speed_of(t);
            AnnotatorReliability {
                annotator: data.annotators[i].clone(),
                gold_answers: answers,
                gold_maybe: maybe,
                gold_correct: correct,
                gold_accuracy: accuracy,
                gold_ci_low: ci.map(|c| c.0),
                gold_ci_high: ci.map(|c| c.1),
                ds_p_yes_if_valid: ds.map(|d| d.0),
                ds_p_no_if_not_valid: ds.map(|d| d.1),
                ds_maybe_rate: ds.map(|d| d.2),
                ds_balanced_accuracy: ds.map(|d| d.3),
                flagged: flag_reason.is_some(),
                flag_reason,
                timed_answers: t.len() as u64,
                untimed_answers: untimed[i],
                median_seconds,
                share_under_400ms,
            }
        })
        .collect();
    let (median_seconds, share_under_400ms) = speed_of(&mut all_times);
    let mut histogram: Vec<SpeedBin> = SPEED_EDGES_S
        .iter()
        .enumerate()
        .map(|(b, &from)| SpeedBin {
            from_seconds: from,
            to_seconds: SPEED_EDGES_S.get(b + 1).copied(),
            answers: 0,
        })
        .collect();
    for &ms in &all_times {
        let s = f64::from(ms) / 1000.0;
        let b = SPEED_EDGES_S.iter().rposition(|&e| s >= e).unwrap_or(0);
        histogram[b].answers += 1;
    }
    Reliability {
        gold,
        annotators,
        speed: SpeedSummary {
            timed_answers: all_times.len() as u64,
            untimed_answers: untimed.iter().sum(),
            median_seconds,
            share_under_400ms,
            histogram,
        },
    }
}

/// (P(yes | valid), P(no | not valid), maybe rate, balanced accuracy) of one confusion matrix.
/// The maybe rate weighs the two rows equally, as the balanced accuracy does.
fn ds_figures(m: &[[f64; 3]; 2]) -> (f64, f64, f64, f64) {
    let (no, maybe, yes) = (
        Answer::No.index(),
        Answer::Maybe.index(),
        Answer::Yes.index(),
    );
    let decisive = |p: f64, q: f64| if p + q > 0.0 { p / (p + q) } else { 0.5 };
    let sensitivity = decisive(m[1][yes], m[1][no]);
    let specificity = decisive(m[0][no], m[0][yes]);
    (
        m[1][yes],
        m[0][no],
        (m[0][maybe] + m[1][maybe]) / 2.0,
        (sensitivity + specificity) / 2.0,
    )
}

/// (median seconds, share under 400 ms) of answer times in ms; sorts `t`.
fn speed_of(t: &mut [u32]) -> (Option<f64>, Option<f64>) {
    if t.is_empty() {
        return (None, None);
    }
    t.sort_unstable();
    let n = t.len();
    let median_ms = if n % 2 == 1 {
        f64::from(t[n / 2])
    } else {
        (f64::from(t[n / 2 - 1]) + f64::from(t[n / 2])) / 2.0
    };
    let quick = t.partition_point(|&ms| ms < TOO_QUICK_MS);
    (Some(median_ms / 1000.0), Some(quick as f64 / n as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_published_values() {
        // Newcombe (1998), table I: 81/263 gives 0.2553 to 0.3662.
        let (lo, hi) = wilson(81, 263).unwrap();
        assert!(
            (lo - 0.2553).abs() < 1e-4 && (hi - 0.3662).abs() < 1e-4,
            "{lo} {hi}"
        );
        // 15/148: 0.0624 to 0.1605; 0/20: 0 to 0.1611.
        let (lo, hi) = wilson(15, 148).unwrap();
        assert!(
            (lo - 0.0624).abs() < 1e-4 && (hi - 0.1605).abs() < 1e-4,
            "{lo} {hi}"
        );
        let (lo, hi) = wilson(0, 20).unwrap();
        assert!(lo == 0.0 && (hi - 0.1611).abs() < 1e-4, "{hi}");
        assert_eq!(wilson(0, 0), None);
    }

    #[test]
    fn truth_is_the_majority_of_yes_against_no() {
        let c = |yes, no, maybe| Counts { yes, no, maybe };
        assert_eq!(gold_truth(&c(3, 2, 0)), Some(true));
        assert_eq!(gold_truth(&c(1, 2, 2)), Some(false));
        assert_eq!(gold_truth(&c(2, 2, 1)), None);
        assert_eq!(gold_truth(&c(0, 0, 5)), None);
        assert_eq!(gold_truth(&c(1, 0, 4)), Some(true));
    }

    #[test]
    fn medians_and_quick_shares() {
        let mut t = vec![300, 1000, 399, 5000];
        assert_eq!(speed_of(&mut t), (Some(0.6995), Some(0.5)));
        let mut t = vec![400, 2000, 100];
        assert_eq!(speed_of(&mut t), (Some(0.4), Some(1.0 / 3.0)));
        assert_eq!(speed_of(&mut []), (None, None));
    }
}
