//! Stopping rules: when a question's answers so far settle it, so that nobody is asked it again.
//!
//! ImageNet-ReaL asked five raters every question; replaying its answers shows most questions
//! settled after two. A rule says when to stop:
//!
//! - `margin:K`: the yes and no answers differ by at least K;
//! - `posterior:P`: the question's posterior puts at least P on one side of the threshold (see
//!   [`Model`]): the selection frequency's Beta posterior, with a prior that depends on what is
//!   known before anyone answers (whether the label is the image's original label, whether a
//!   model ranked it first) and each answer counted by its annotator's reliability;
//! - `max:N`: N answers, whatever they say (a cap);
//! - several at once, comma-separated (`margin:2,max:5`): settled as soon as one part is;
//! - `recommended`: the rule the README recommends, [`RECOMMENDED`].
//!
//! A question nobody has answered is never settled, whatever its prior says.
//!
//! What a posterior rule learns, it learns from answers: the priors and the annotators'
//! reliabilities are fitted by [`Model::fit`] on the answers it is given. `labelvet simulate`
//! fits them on the other half (fold) of the questions, never on the answers it replays;
//! `annotate --until` and `assign --until` fit them on every answer the project holds so far.

use std::fmt;
use std::str::FromStr;

use super::dawid_skene::{DsOptions, dawid_skene};
use super::project::ProjectData;
use super::simulate::FREQUENCY_THRESHOLD;
use super::{Answer, Rating};
use crate::error::{Error, Result};

/// The rule `recommended` names (see the README for its figures on ImageNet-ReaL).
pub const RECOMMENDED: &str = "posterior:0.978,max:5";

/// The accepted forms, for every message about a rule that could not be read.
pub const RULE_FORMS: &str = "margin:K (stop once |yes - no| >= K, K >= 1), posterior:P (stop once \
     the posterior puts at least P on one side of the threshold, 0.5 < P < 1), max:N (stop after N \
     answers, N >= 1), several joined by commas (margin:2,max:5), or recommended";

/// A stopping rule: a question is settled as soon as one of its parts is.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub margin: Option<u32>,
    pub posterior: Option<f64>,
    pub max: Option<u32>,
    /// As written (`recommended` stays `recommended`).
    text: String,
}

impl FromStr for Rule {
    type Err = Error;

    fn from_str(s: &str) -> Result<Rule> {
        let text = s.trim();
        let spelled = if text == "recommended" {
            RECOMMENDED
        } else {
            text
        };
        let bad = |why: String| {
            Error::msg(format!(
                "stopping rule `{}`: {why}; a rule is {RULE_FORMS}",
                crate::text::display(text)
            ))
        };
        if spelled.is_empty() {
            return Err(bad("empty".into()));
        }
        let mut rule = Rule {
            margin: None,
            posterior: None,
            max: None,
            text: text.to_string(),
        };
        for part in spelled.split(',') {
            let part = part.trim();
            let Some((name, value)) = part.split_once(':') else {
                return Err(bad(format!("`{part}` has no `:VALUE`")));
            };
            let (name, value) = (name.trim(), value.trim());
            match name {
                "margin" | "max" => {
                    let n: u32 = value.parse().ok().filter(|&n| n >= 1).ok_or_else(|| {
                        bad(format!("`{value}` in `{part}` is not a whole number >= 1"))
                    })?;
                    let slot = if name == "margin" {
                        &mut rule.margin
                    } else {
                        &mut rule.max
                    };
                    if slot.replace(n).is_some() {
                        return Err(bad(format!("`{name}` is given twice")));
                    }
                }
                "posterior" => {
                    let p: f64 = value
                        .parse()
                        .ok()
                        .filter(|p: &f64| *p > 0.5 && *p < 1.0)
                        .ok_or_else(|| {
                            bad(format!("`{value}` in `{part}` is not a probability between 0.5 and 1 (both excluded)"))
                        })?;
                    if rule.posterior.replace(p).is_some() {
                        return Err(bad("`posterior` is given twice".into()));
                    }
                }
                other => return Err(bad(format!("unknown part `{other}`"))),
            }
        }
        Ok(rule)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Rule {
    /// The rule spelled out part by part (`recommended` as what it names).
    pub fn spelled(&self) -> String {
        let mut parts = Vec::new();
        if let Some(k) = self.margin {
            parts.push(format!("margin:{k}"));
        }
        if let Some(p) = self.posterior {
            parts.push(format!("posterior:{p}"));
        }
        if let Some(n) = self.max {
            parts.push(format!("max:{n}"));
        }
        parts.join(",")
    }

    /// Whether the rule needs a fitted [`Model`].
    pub fn needs_model(&self) -> bool {
        self.posterior.is_some()
    }

    /// Whether a question with these answers so far is settled. `model` is required by a
    /// posterior rule (without it that part never settles).
    pub fn is_settled(&self, s: &State, model: Option<&Model>) -> bool {
        let n = s.total();
        if n == 0 {
            return false;
        }
        if self.max.is_some_and(|m| n >= m) {
            return true;
        }
        if self.margin.is_some_and(|k| s.yes.abs_diff(s.no) >= k) {
            return true;
        }
        match (self.posterior, model) {
            (Some(p), Some(m)) => {
                let post = m.posterior(s);
                post >= p || 1.0 - post >= p
            }
            _ => false,
        }
    }

    /// The fewest further answers that could settle the question: each one on the side its
    /// answers lean to (yes on a tie), from an annotator of average reliability. What the queue
    /// orders by, and what `info` and `report` add up as the answers the rule still expects at
    /// least. 0 when settled; `None` when no number of answers settles it under this rule (a
    /// posterior rule without a model).
    pub fn to_settle(&self, s: &State, model: Option<&Model>) -> Option<u32> {
        if self.is_settled(s, model) {
            return Some(0);
        }
        let mut best: Option<u32> = None;
        let mut keep = |n: u32| best = Some(best.map_or(n, |b| b.min(n)));
        let n = s.total();
        if let Some(m) = self.max {
            keep(m.saturating_sub(n).max(1));
        }
        if let Some(k) = self.margin {
            keep(k.saturating_sub(s.yes.abs_diff(s.no)).max(1));
        }
        if let (Some(p), Some(m)) = (self.posterior, model) {
            let lean_yes = match s.weight_yes.partial_cmp(&s.weight_no) {
                Some(std::cmp::Ordering::Less) => false,
                Some(std::cmp::Ordering::Greater) => true,
                _ => m.posterior(s) >= 0.5,
            };
            let mut t = *s;
            for extra in 1..=MAX_LOOKAHEAD {
                t.add_weighted(if lean_yes { Answer::Yes } else { Answer::No }, 1.0);
                let post = m.posterior(&t);
                if post >= p || 1.0 - post >= p {
                    keep(extra);
                    break;
                }
            }
        }
        best
    }
}

/// How far [`Rule::to_settle`] looks for a posterior rule.
const MAX_LOOKAHEAD: u32 = 64;

/// A question's answers so far, as a rule reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct State {
    pub yes: u32,
    pub no: u32,
    pub maybe: u32,
    /// The yes and no answers, each counted by its annotator's weight ([`Model::weight`]).
    pub weight_yes: f64,
    pub weight_no: f64,
    /// What the question is known by, for its prior.
    pub known: Known,
}

impl State {
    pub fn new(known: Known) -> State {
        State {
            known,
            ..State::default()
        }
    }

    pub fn total(&self) -> u32 {
        self.yes + self.no + self.maybe
    }

    /// One more answer by `annotator`; `model` gives its weight (1 without a model).
    pub fn add(&mut self, annotator: u32, answer: Answer, model: Option<&Model>) {
        let w = model.map_or(1.0, |m| m.weight(annotator, answer));
        self.add_weighted(answer, w);
    }

    fn add_weighted(&mut self, answer: Answer, w: f64) {
        match answer {
            Answer::Yes => {
                self.yes += 1;
                self.weight_yes += w;
            }
            Answer::No => {
                self.no += 1;
                self.weight_no += w;
            }
            Answer::Maybe => self.maybe += 1,
        }
    }
}

/// What a question is known by before anyone answers it, for its prior.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Known {
    /// The label is the image's original label.
    pub original: bool,
    /// How many models ranked the label first for the image.
    pub top1_models: u32,
    /// The label (dense class id).
    pub class: u32,
}

/// One question's answers for [`Model::fit`], in any order.
#[derive(Clone, Debug, Default)]
pub struct Fitted<'a> {
    pub known: Known,
    /// (annotator, answer) pairs.
    pub answers: &'a [(u32, Answer)],
}

/// Number of prior groups: original or not, times ranked first by a model or not.
pub const N_GROUPS: usize = 4;

/// Fewer training questions than this in a group: the group takes the pooled prior.
const MIN_GROUP: usize = 50;

/// A label's own prior mean is its training questions' mean selection frequency, shrunk
/// towards its group's mean as if the group had this many questions more.
const CLASS_SHRINK: f64 = 5.0;

/// An annotator's weight is their Dawid-Skene log-likelihood ratio for the answer over the
/// average annotator's, raised to this power (a reliable annotator's answer counts more than
/// proportionally), and at most [`MAX_WEIGHT`].
const WEIGHT_POWER: f64 = 1.5;
const MAX_WEIGHT: f64 = 4.0;

/// What a posterior rule learns from answers, and the posterior it gives.
///
/// The quantity is a question's selection frequency θ (the share of annotators who would say
/// yes). Its prior is a Beta distribution per group of questions ([`Model::group`]: original
/// label or not, ranked first by a model or not), fitted to the training answers' yes and no
/// counts by maximum likelihood (beta-binomial); each label then moves the mean to its own
/// training questions' mean frequency, shrunk towards the group's ([`CLASS_SHRINK`]), keeping
/// the group's concentration (some labels are confused with others far more often). Each answer then adds its annotator's weight to
/// the yes or the no side: the log-likelihood ratio of that annotator's answer under a
/// Dawid-Skene fit of the training answers, relative to the average annotator's, so that an
/// annotator whose "no" is nearly always right counts for more than one who says "no" to
/// anything. The posterior is `P(θ >= threshold)` under `Beta(a + weighted yes, b + weighted no)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// Beta (a, b) per group.
    pub prior: [(f64, f64); N_GROUPS],
    /// Per (group, class), the label's prior mean when it has training questions.
    pub class_mean: std::collections::HashMap<(usize, u32), f64>,
    /// Per annotator (dense id), the weight of a no and of a yes answer.
    pub weights: Vec<[f64; 2]>,
    pub threshold: f64,
}

impl Model {
    pub fn group(k: Known) -> usize {
        usize::from(k.original) * 2 + usize::from(k.top1_models > 0)
    }

    /// Fits priors and weights on `questions` (see the type's docs); `n_annotators` sizes the
    /// weights (annotators without training answers weigh 1).
    pub fn fit(questions: &[Fitted<'_>], n_annotators: usize, threshold: f64) -> Model {
        // Priors: yes/no counts per group, as a histogram over (yes, no).
        let mut hist: [Vec<((u32, u32), f64)>; N_GROUPS] = Default::default();
        let mut pooled: Vec<((u32, u32), f64)> = Vec::new();
        let mut sizes = [0usize; N_GROUPS];
        let add = |h: &mut Vec<((u32, u32), f64)>, key: (u32, u32)| match h
            .iter_mut()
            .find(|(k, _)| *k == key)
        {
            Some((_, c)) => *c += 1.0,
            None => h.push((key, 1.0)),
        };
        let mut ratings = Vec::new();
        let mut by_class: std::collections::HashMap<(usize, u32), (f64, f64)> =
            std::collections::HashMap::new();
        for (item, q) in questions.iter().enumerate() {
            let yes = q.answers.iter().filter(|a| a.1 == Answer::Yes).count() as u32;
            let no = q.answers.iter().filter(|a| a.1 == Answer::No).count() as u32;
            if yes + no > 0 {
                let g = Model::group(q.known);
                add(&mut hist[g], (yes, no));
                add(&mut pooled, (yes, no));
                sizes[g] += 1;
                let c = by_class.entry((g, q.known.class)).or_default();
                c.0 += f64::from(yes) / f64::from(yes + no);
                c.1 += 1.0;
            }
            for &(annotator, answer) in q.answers {
                ratings.push(Rating::new(item as u32, annotator, answer));
            }
        }
        let pooled_prior = fit_beta(&pooled);
        let mut prior = [pooled_prior; N_GROUPS];
        for g in 0..N_GROUPS {
            if sizes[g] >= MIN_GROUP {
                prior[g] = fit_beta(&hist[g]);
            }
        }

        // Weights: each annotator's log-likelihood ratio per answer, over the average's.
        let ds = dawid_skene(
            &ratings,
            questions.len(),
            n_annotators,
            &DsOptions::default(),
        );
        let llr = |c: &[[f64; 3]; 2], a: Answer| -> f64 {
            let (valid, invalid) = (c[1][a.index()], c[0][a.index()]);
            match a {
                Answer::Yes => (valid / invalid).ln(),
                _ => (invalid / valid).ln(),
            }
        };
        let mut sum = [0.0f64; 2];
        let mut count = [0usize; 2];
        let mut per = vec![[0usize; 2]; n_annotators];
        for r in &ratings {
            let side = match r.answer {
                Answer::No => 0,
                Answer::Yes => 1,
                Answer::Maybe => continue,
            };
            if let Some(c) = ds.annotator_confusion.get(r.annotator as usize) {
                sum[side] += llr(c, r.answer);
                count[side] += 1;
                per[r.annotator as usize][side] += 1;
            }
        }
        let mean = [0, 1].map(|s| {
            if count[s] > 0 {
                sum[s] / count[s] as f64
            } else {
                0.0
            }
        });
        let weights = (0..n_annotators)
            .map(|a| {
                [(0, Answer::No), (1, Answer::Yes)].map(|(s, ans)| {
                    if per[a][s] == 0 || mean[s] <= 0.0 {
                        return 1.0;
                    }
                    let w = llr(&ds.annotator_confusion[a], ans) / mean[s];
                    w.max(0.0).powf(WEIGHT_POWER).min(MAX_WEIGHT)
                })
            })
            .collect();
        let class_mean = by_class
            .into_iter()
            .map(|((g, class), (sum, n))| {
                let (a, b) = prior[g];
                let group_mean = a / (a + b);
                (
                    (g, class),
                    (sum + CLASS_SHRINK * group_mean) / (n + CLASS_SHRINK),
                )
            })
            .collect();
        Model {
            prior,
            class_mean,
            weights,
            threshold,
        }
    }

    /// The weight of `annotator`'s `answer` (0 for maybe, 1 for an annotator it does not know).
    pub fn weight(&self, annotator: u32, answer: Answer) -> f64 {
        let side = match answer {
            Answer::No => 0,
            Answer::Yes => 1,
            Answer::Maybe => return 0.0,
        };
        self.weights
            .get(annotator as usize)
            .map_or(1.0, |w| w[side])
    }

    /// `P(θ >= threshold)` given the answers so far.
    pub fn posterior(&self, s: &State) -> f64 {
        let (a, b) = self.prior_of(s.known);
        1.0 - beta_cdf(self.threshold, a + s.weight_yes, b + s.weight_no)
    }

    /// The Beta prior of a question known by `k`.
    pub fn prior_of(&self, k: Known) -> (f64, f64) {
        let g = Model::group(k);
        let (a, b) = self.prior[g];
        match self.class_mean.get(&(g, k.class)) {
            Some(&m) => {
                let m = m.clamp(1e-3, 1.0 - 1e-3);
                ((a + b) * m, (a + b) * (1.0 - m))
            }
            None => (a, b),
        }
    }
}

/// The Beta (a, b) that maximises the beta-binomial likelihood of the (yes, no) counts: a
/// search over a log grid, then a finer one around the best point. (1, 1) without data.
fn fit_beta(hist: &[((u32, u32), f64)]) -> (f64, f64) {
    if hist.is_empty() {
        return (1.0, 1.0);
    }
    let ll = |a: f64, b: f64| -> f64 {
        let base = ln_beta(a, b);
        hist.iter()
            .map(|&((y, n), c)| c * (ln_beta(a + f64::from(y), b + f64::from(n)) - base))
            .sum()
    };
    let (mut la, mut lb) = (0.0f64, 0.0f64);
    let mut best = f64::NEG_INFINITY;
    // ln a, ln b in [-5, 5].
    for step in [0.25, 0.05, 0.01] {
        let (ca, cb) = (la, lb);
        let span = if step == 0.25 { 20 } else { 6 };
        for i in -span..=span {
            for j in -span..=span {
                let (x, y) = if step == 0.25 {
                    (f64::from(i) * step, f64::from(j) * step)
                } else {
                    (ca + f64::from(i) * step, cb + f64::from(j) * step)
                };
                let v = ll(x.exp(), y.exp());
                if v > best {
                    best = v;
                    (la, lb) = (x, y);
                }
            }
        }
    }
    (la.exp(), lb.exp())
}

/// What is known of question (image, class) of a project before anyone answers it.
pub fn known(data: &ProjectData, image: u32, class: u32) -> Known {
    Known {
        class,
        original: data.images[image as usize].original == Some(class),
        top1_models: data
            .models
            .iter()
            .filter(|m| m.at(image as usize) == Some(class))
            .count() as u32,
    }
}

/// One answered question's standing under a rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Standing {
    pub image: u32,
    pub class: u32,
    pub answers: u32,
    pub settled: bool,
    /// [`Rule::to_settle`].
    pub to_settle: Option<u32>,
}

/// Every answered question of a project under a rule, the model fitted for it (on every
/// current answer of the project: the answers revealed so far), and what an unanswered
/// question needs.
#[derive(Clone, Debug)]
pub struct Settlement {
    pub questions: Vec<Standing>,
    pub model: Option<Model>,
}

impl Settlement {
    pub fn of(data: &ProjectData, rule: &Rule) -> Settlement {
        let pairs: Vec<(u32, Answer)> = data
            .answers
            .iter()
            .map(|a| (a.annotator, a.answer))
            .collect();
        let mut groups: Vec<(u32, u32, usize, usize)> = Vec::new();
        let mut start = 0;
        for g in data
            .answers
            .chunk_by(|a, b| (a.image, a.class) == (b.image, b.class))
        {
            groups.push((g[0].image, g[0].class, start, start + g.len()));
            start += g.len();
        }
        let model = rule.needs_model().then(|| {
            let train: Vec<Fitted> = groups
                .iter()
                .map(|&(image, class, s, e)| Fitted {
                    known: known(data, image, class),
                    answers: &pairs[s..e],
                })
                .collect();
            Model::fit(&train, data.annotators.len(), FREQUENCY_THRESHOLD)
        });
        let questions = groups
            .iter()
            .map(|&(image, class, s, e)| {
                let mut st = State::new(known(data, image, class));
                for &(annotator, answer) in &pairs[s..e] {
                    st.add(annotator, answer, model.as_ref());
                }
                Standing {
                    image,
                    class,
                    answers: (e - s) as u32,
                    settled: rule.is_settled(&st, model.as_ref()),
                    to_settle: rule.to_settle(&st, model.as_ref()),
                }
            })
            .collect();
        Settlement { questions, model }
    }

    /// What a question nobody has answered needs under `rule` (a label the model knows
    /// nothing of, not the original one).
    pub fn unanswered_to_settle(&self, rule: &Rule) -> Option<u32> {
        let k = Known {
            class: u32::MAX,
            ..Known::default()
        };
        rule.to_settle(&State::new(k), self.model.as_ref())
    }

    /// The counts `info --until` and `report --until` show. `candidates` is the number of
    /// questions the project asks (its candidates, every answered question among them).
    pub fn summary(&self, rule: &Rule, candidates: u64) -> SettledSummary {
        let answered = self.questions.len() as u64;
        let settled = self.questions.iter().filter(|q| q.settled).count() as u64;
        let unanswered = candidates.saturating_sub(answered);
        let per_unanswered = self.unanswered_to_settle(rule);
        let mut expected = Some(0u64);
        for q in &self.questions {
            expected = expected.zip(q.to_settle).map(|(e, n)| e + u64::from(n));
        }
        if unanswered > 0 {
            expected = expected
                .zip(per_unanswered)
                .map(|(e, n)| e + unanswered * u64::from(n));
        }
        SettledSummary {
            rule: rule.to_string(),
            rule_spelled: rule.spelled(),
            questions: candidates.max(answered),
            answered,
            settled,
            open: candidates.max(answered) - settled,
            answers_expected_at_least: expected,
        }
    }
}

/// How many questions a rule settles, and how many answers it still expects.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SettledSummary {
    pub rule: String,
    pub rule_spelled: String,
    /// The project's questions (candidates).
    pub questions: u64,
    /// Questions with at least one current answer.
    pub answered: u64,
    pub settled: u64,
    /// Not settled, answered or not.
    pub open: u64,
    /// The fewest further answers that settle every open question ([`Rule::to_settle`] summed;
    /// `None` when the rule cannot settle some of them).
    pub answers_expected_at_least: Option<u64>,
}

impl fmt::Display for SettledSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule = if self.rule == self.rule_spelled {
            self.rule.clone()
        } else {
            format!("{} ({})", self.rule, self.rule_spelled)
        };
        writeln!(f, "until {rule}")?;
        writeln!(
            f,
            "  settled     {} of {} questions ({} answered), {} open",
            self.settled, self.questions, self.answered, self.open
        )?;
        match self.answers_expected_at_least {
            Some(n) => writeln!(
                f,
                "  expected    at least {n} more answers to settle the rest"
            ),
            None => writeln!(
                f,
                "  expected    the rule cannot settle every open question"
            ),
        }
    }
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; about 15 significant digits).
pub fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 - x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = G[0];
    for (i, g) in G.iter().enumerate().skip(1) {
        sum += g / (x + i as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// The regularised incomplete beta function `I_x(a, b)`: the Beta(a, b) distribution's CDF at
/// x (continued fraction, modified Lentz; Numerical Recipes 6.4).
pub fn beta_cdf(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front = (a * x.ln() + b * (1.0 - x).ln() - ln_beta(a, b)).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(x, a, b) / a
    } else {
        1.0 - front * beta_cf(1.0 - x, b, a) / b
    }
}

fn beta_cf(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-14 {
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> Rule {
        s.parse().unwrap()
    }

    #[test]
    fn parses_parts_and_names_the_forms_when_it_cannot() {
        let r = rule("margin:2,max:5");
        assert_eq!((r.margin, r.posterior, r.max), (Some(2), None, Some(5)));
        assert_eq!(r.to_string(), "margin:2,max:5");
        let r = rule("recommended");
        assert_eq!(r.to_string(), "recommended");
        assert_eq!(r.spelled(), RECOMMENDED);
        assert_eq!(rule(" posterior:0.98 ").posterior, Some(0.98));
        for bad in [
            "",
            "margin",
            "margin:0",
            "margin:x",
            "posterior:1",
            "posterior:0.5",
            "max:-1",
            "median:3",
            "margin:2,margin:3",
            "margin:2,",
        ] {
            let e = bad.parse::<Rule>().unwrap_err().to_string();
            assert!(
                e.contains("margin:K") && e.contains("posterior:P"),
                "{bad}: {e}"
            );
            assert!(e.contains("recommended"), "{e}");
        }
        assert!(
            "median:3"
                .parse::<Rule>()
                .unwrap_err()
                .to_string()
                .contains("unknown part `median`")
        );
    }

    #[test]
    fn margin_and_max_settle_and_count_what_is_left() {
        let r = rule("margin:2,max:4");
        let mut s = State::new(Known::default());
        assert!(!r.is_settled(&s, None));
        assert_eq!(r.to_settle(&s, None), Some(2));
        s.add(0, Answer::Yes, None);
        assert_eq!(r.to_settle(&s, None), Some(1));
        s.add(1, Answer::No, None);
        assert_eq!(r.to_settle(&s, None), Some(2));
        s.add(2, Answer::Maybe, None);
        // max:4 is one answer away; so is nothing else.
        assert_eq!(r.to_settle(&s, None), Some(1));
        s.add(3, Answer::Maybe, None);
        assert!(r.is_settled(&s, None));
        let mut s = State::new(Known::default());
        s.add(0, Answer::No, None);
        s.add(1, Answer::No, None);
        assert!(rule("margin:2").is_settled(&s, None));
        // A posterior rule without a model never settles, and says so.
        assert_eq!(rule("posterior:0.9").to_settle(&s, None), None);
    }

    #[test]
    fn beta_cdf_matches_closed_forms() {
        // Beta(1, 1) is uniform; Beta(2, 1) has CDF x^2; Beta(1, 3) has 1 - (1 - x)^3.
        assert!((beta_cdf(0.3, 1.0, 1.0) - 0.3).abs() < 1e-12);
        assert!((beta_cdf(0.5, 2.0, 1.0) - 0.25).abs() < 1e-12);
        assert!((beta_cdf(0.2, 1.0, 3.0) - (1.0 - 0.8f64.powi(3))).abs() < 1e-12);
        // Symmetry: I_x(a, b) = 1 - I_{1-x}(b, a).
        let (a, b) = (0.37, 4.2);
        assert!((beta_cdf(0.5, a, b) + beta_cdf(0.5, b, a) - 1.0).abs() < 1e-12);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn a_fitted_model_trusts_the_prior_and_the_reliable() {
        // Group "not original": nearly always no. Annotator 0 agrees with the majority,
        // annotator 2 answers at random-ish.
        let mut store: Vec<Vec<(u32, Answer)>> = Vec::new();
        let mut known = Vec::new();
        for i in 0..400u32 {
            let valid = i % 10 == 0;
            let (a, b) = if valid {
                (Answer::Yes, Answer::Yes)
            } else {
                (Answer::No, Answer::No)
            };
            let c = if i % 3 == 0 { Answer::Yes } else { Answer::No };
            store.push(vec![(0, a), (1, b), (2, c)]);
            known.push(Known::default());
        }
        let qs: Vec<Fitted> = store
            .iter()
            .zip(&known)
            .map(|(a, k)| Fitted {
                known: *k,
                answers: a,
            })
            .collect();
        let m = Model::fit(&qs, 3, 0.5);
        assert!(m.weight(0, Answer::No) > m.weight(2, Answer::No));
        let (a, b) = m.prior[0];
        assert!(a / (a + b) < 0.3, "{a} {b}");
        let r = rule("posterior:0.9");
        let mut s = State::new(Known::default());
        s.add(0, Answer::No, Some(&m));
        assert!(r.is_settled(&s, Some(&m)));
        let mut s = State::new(Known::default());
        s.add(2, Answer::No, Some(&m));
        assert!(!r.is_settled(&s, Some(&m)) || m.weight(2, Answer::No) > 0.0);
    }
}
