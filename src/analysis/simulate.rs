//! `labelvet simulate`: how many answers a stopping rule would have needed, replayed on a
//! project whose questions were all answered in full.
//!
//! Each question's answers are put in a random order (seeded) and revealed one at a time until
//! the rule settles the question or they run out; the answers revealed are the ones the rule
//! would have asked for. The label sets they give (selection frequency at
//! [`FREQUENCY_THRESHOLD`], and Dawid-Skene at the chosen threshold, fitted on the revealed
//! answers alone) are then compared with those of all the answers.
//!
//! The replay is honest: a posterior rule's priors and annotator reliabilities
//! ([`Model::fit`]) are learned from the other fold of questions (images split in two halves
//! by a hash of their key), whose answers the rule is not deciding on; never from the answers of
//! the question being replayed.

use rayon::prelude::*;
use serde::Serialize;

use super::project::{Method, Options, ProjectData, Results, aggregate};
use super::stopping::{Fitted, Known, Model, Rule, State, known};
use super::{Answer, DsOptions};
use crate::error::{Error, Result};

/// The rules `simulate --sweep` replays, by family.
pub const SWEEP: &[(&str, &[&str])] = &[
    ("max:N", &["max:1", "max:2", "max:3", "max:4", "max:5"]),
    ("margin:K", &["margin:1", "margin:2", "margin:3"]),
    (
        "posterior:P,max:5",
        &[
            "posterior:0.9,max:5",
            "posterior:0.95,max:5",
            "posterior:0.96,max:5",
            "posterior:0.97,max:5",
            "posterior:0.978,max:5",
            "posterior:0.98,max:5",
            "posterior:0.99,max:5",
        ],
    ),
];

/// The selection-frequency threshold the frequency figures use (Tsipras et al.; ReaL's raters).
pub const FREQUENCY_THRESHOLD: f64 = 0.5;

#[derive(Clone, Debug)]
pub struct SimOptions {
    pub rule: Rule,
    pub seed: u64,
    pub repeats: usize,
    /// Dawid-Skene's validity threshold.
    pub threshold: f64,
}

/// The figures of one method: how many answers the rule used, and how often their label sets
/// agree with those of all the answers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Figures {
    pub answers_total: u64,
    pub answers_used: u64,
    pub share_used: f64,
    /// Share of questions whose validity (valid or not) is the same as with all the answers.
    pub validity_agreement: f64,
    /// Share of reviewed images whose label set is the same as with all the answers.
    pub label_set_agreement: f64,
}

/// One replay (one seed).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Run {
    pub seed: u64,
    pub frequency: Figures,
    pub dawid_skene: Figures,
}

/// What `simulate` reports: the median of the runs, figure by figure, and every run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Simulation {
    pub rule: String,
    /// The rule part by part (`recommended` spelled out).
    pub rule_spelled: String,
    pub seed: u64,
    pub repeats: usize,
    pub questions: u64,
    pub images: u64,
    pub frequency_threshold: f64,
    pub threshold: f64,
    /// The frequency method's figures, at the top level.
    #[serde(flatten)]
    pub frequency: Figures,
    pub dawid_skene: Figures,
    /// Where a posterior rule's priors and reliabilities came from.
    pub learned_from: &'static str,
    pub runs: Vec<Run>,
}

/// One question of the replay: its answers (a range of `ProjectData::answers`) and its group.
struct Question {
    start: usize,
    end: usize,
    known: Known,
    fold: u8,
}

/// The seed of repeat `r`: `seed` itself first, so `--repeats 1` replays exactly `--seed`.
pub fn run_seed(seed: u64, r: usize) -> u64 {
    seed.wrapping_add(r as u64)
}

/// Replays `data` under the rule (see the module docs).
pub fn simulate(data: &ProjectData, opts: &SimOptions) -> Result<Simulation> {
    if !(0.0..=1.0).contains(&opts.threshold) {
        return Err(Error::msg(format!(
            "threshold {} is not between 0 and 1",
            opts.threshold
        )));
    }
    let replay = Replay::new(data, &opts.rule)?;
    let full_freq = aggregate(data, &options(Method::Frequency, FREQUENCY_THRESHOLD), None)?;
    let full_ds = aggregate(data, &options(Method::DawidSkene, opts.threshold), None)?;
    let repeats = opts.repeats.max(1);
    let runs: Vec<Run> = (0..repeats)
        .into_par_iter()
        .map(|r| {
            let seed = run_seed(opts.seed, r);
            let used = replay.used(seed);
            let partial = partial(data, &used);
            let f = aggregate(
                &partial,
                &options(Method::Frequency, FREQUENCY_THRESHOLD),
                None,
            )?;
            let d = aggregate(&partial, &options(Method::DawidSkene, opts.threshold), None)?;
            let n_used = partial.answers.len() as u64;
            Ok(Run {
                seed,
                frequency: figures(&full_freq, &f, data.answers.len() as u64, n_used),
                dawid_skene: figures(&full_ds, &d, data.answers.len() as u64, n_used),
            })
        })
        .collect::<Result<_>>()?;
    let reviewed = (0..full_freq.n_images())
        .filter(|&i| full_freq.is_reviewed(i))
        .count();
    Ok(Simulation {
        rule: opts.rule.to_string(),
        rule_spelled: opts.rule.spelled(),
        seed: opts.seed,
        repeats,
        questions: replay.questions.len() as u64,
        images: reviewed as u64,
        frequency_threshold: FREQUENCY_THRESHOLD,
        threshold: opts.threshold,
        frequency: median(runs.iter().map(|r| r.frequency)),
        dawid_skene: median(runs.iter().map(|r| r.dawid_skene)),
        learned_from: if opts.rule.needs_model() {
            "the other fold of questions (images split in two by a hash of their key)"
        } else {
            "nothing: the rule counts answers"
        },
        runs,
    })
}

fn options(method: Method, threshold: f64) -> Options {
    Options {
        method,
        threshold,
        ds: DsOptions::default(),
    }
}

/// The questions, folds and fitted models of a replay: everything that does not depend on the
/// seed, made once for every repeat.
pub struct Replay<'a> {
    data: &'a ProjectData,
    rule: Rule,
    questions: Vec<Question>,
    /// The model that decides fold f's questions, fitted on the other fold.
    models: Option<[Model; 2]>,
}

impl<'a> Replay<'a> {
    pub fn new(data: &'a ProjectData, rule: &Rule) -> Result<Replay<'a>> {
        let mut questions: Vec<Question> = Vec::new();
        let folds: Vec<u8> = data
            .images
            .iter()
            .map(|im| (fold_hash(im.key.as_bytes()) & 1) as u8)
            .collect();
        let mut start = 0;
        for group in data
            .answers
            .chunk_by(|a, b| (a.image, a.class) == (b.image, b.class))
        {
            let (image, class) = (group[0].image, group[0].class);
            let known = known(data, image, class);
            questions.push(Question {
                start,
                end: start + group.len(),
                known,
                fold: folds[image as usize],
            });
            start += group.len();
        }
        if questions.is_empty() || data.answers.len() < 2 * questions.len() {
            return Err(Error::msg(format!(
                "{}: {} answers to {} questions, fewer than two per question: simulate replays \
                 complete answers (several per question, as ImageNet-ReaL's five) and leaves some \
                 out; with at most one per question there is nothing to leave out",
                crate::text::display(&data.path),
                data.answers.len(),
                questions.len()
            )));
        }
        let models = rule.needs_model().then(|| {
            let pairs: Vec<(u32, Answer)> = data
                .answers
                .iter()
                .map(|a| (a.annotator, a.answer))
                .collect();
            let fit = |fold: u8| {
                let train: Vec<Fitted> = questions
                    .iter()
                    .filter(|q| q.fold != fold)
                    .map(|q| Fitted {
                        known: q.known,
                        answers: &pairs[q.start..q.end],
                    })
                    .collect();
                Model::fit(&train, data.annotators.len(), FREQUENCY_THRESHOLD)
            };
            let (m0, m1) = rayon::join(|| fit(0), || fit(1));
            [m0, m1]
        });
        Ok(Replay {
            data,
            rule: rule.clone(),
            questions,
            models,
        })
    }

    /// Which answers (indices into `ProjectData::answers`, as flags) the rule asks for when
    /// each question's answers come in the order `seed` draws.
    pub fn used(&self, seed: u64) -> Vec<bool> {
        let mut used = vec![false; self.data.answers.len()];
        let mut rng = SplitMix64(seed ^ 0x6c61_6265_6c76_6574);
        let mut order: Vec<usize> = Vec::new();
        for q in &self.questions {
            order.clear();
            order.extend(q.start..q.end);
            // Fisher-Yates.
            for i in (1..order.len()).rev() {
                let j = (rng.next() % (i as u64 + 1)) as usize;
                order.swap(i, j);
            }
            let model = self.models.as_ref().map(|m| &m[q.fold as usize]);
            let mut s = State::new(q.known);
            for &i in &order {
                let a = &self.data.answers[i];
                s.add(a.annotator, a.answer, model);
                used[i] = true;
                if self.rule.is_settled(&s, model) {
                    break;
                }
            }
        }
        used
    }
}

/// The project with only the `used` answers.
fn partial(data: &ProjectData, used: &[bool]) -> ProjectData {
    let mut p = data.clone();
    let mut i = 0;
    p.answers.retain(|_| {
        i += 1;
        used[i - 1]
    });
    p
}

fn figures(full: &Results, part: &Results, total: u64, used: u64) -> Figures {
    // Every question keeps at least one answer, so both hold the same questions in order.
    let same = full
        .questions
        .iter()
        .zip(&part.questions)
        .filter(|(a, b)| (a.image, a.class) == (b.image, b.class) && a.valid == b.valid)
        .count();
    let mut images = 0usize;
    let mut same_sets = 0usize;
    for i in 0..full.n_images() {
        if !full.is_reviewed(i) {
            continue;
        }
        images += 1;
        same_sets += usize::from(full.label_set(i) == part.label_set(i));
    }
    let share = |k: usize, n: usize| if n == 0 { 1.0 } else { k as f64 / n as f64 };
    Figures {
        answers_total: total,
        answers_used: used,
        share_used: share(used as usize, total as usize),
        validity_agreement: share(same, full.questions.len()),
        label_set_agreement: share(same_sets, images),
    }
}

/// Figure by figure, the median of the runs (the lower middle one for an even count).
fn median(runs: impl Iterator<Item = Figures>) -> Figures {
    let runs: Vec<Figures> = runs.collect();
    let mid = |f: &dyn Fn(&Figures) -> f64| -> f64 {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[(v.len() - 1) / 2]
    };
    Figures {
        answers_total: runs[0].answers_total,
        answers_used: mid(&|r| r.answers_used as f64) as u64,
        share_used: mid(&|r| r.share_used),
        validity_agreement: mid(&|r| r.validity_agreement),
        label_set_agreement: mid(&|r| r.label_set_agreement),
    }
}

/// FNV-1a of the bytes, then a SplitMix64 finaliser: stable across processes and releases.
fn fold_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    SplitMix64(h).next()
}

/// SplitMix64: a small generator whose output is fixed by its definition, so that a seed gives
/// the same replay on every machine and release.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::project::tiny_project;

    #[test]
    fn one_answer_per_question_is_refused() {
        let mut d = tiny_project();
        d.answers.retain(|a| a.annotator == 0);
        let opts = SimOptions {
            rule: "margin:2".parse().unwrap(),
            seed: 0,
            repeats: 1,
            threshold: 0.5,
        };
        let e = simulate(&d, &opts).unwrap_err().to_string();
        assert!(e.contains("fewer than two per question"), "{e}");
    }

    #[test]
    fn max_one_uses_one_answer_per_question_and_the_full_rule_agrees() {
        let d = tiny_project();
        let opts = |rule: &str| SimOptions {
            rule: rule.parse().unwrap(),
            seed: 3,
            repeats: 3,
            threshold: 0.5,
        };
        let s = simulate(&d, &opts("max:1")).unwrap();
        assert_eq!(s.frequency.answers_used, 3);
        assert_eq!(s.frequency.answers_total, 7);
        assert_eq!(s.runs.len(), 3);
        let s = simulate(&d, &opts("max:9")).unwrap();
        assert_eq!(s.frequency.answers_used, 7);
        assert_eq!(s.frequency.validity_agreement, 1.0);
        assert_eq!(s.dawid_skene.label_set_agreement, 1.0);
        // The same seed replays the same way.
        assert_eq!(
            simulate(&d, &opts("margin:2")).unwrap(),
            simulate(&d, &opts("margin:2")).unwrap()
        );
    }
}
