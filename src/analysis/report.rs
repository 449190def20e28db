//! The results report: every figure `labelvet report` prints (and `--json` writes, and the plots
//! draw), computed once from the aggregated answers so that the three can never disagree.

use std::collections::HashMap;
use std::fmt::{self, Write as _};

use serde::Serialize;

use super::classify::ClassifySummary;
use super::project::{Method, ModelTop1, ProjectData, Results};
use super::reliability::{AnnotatorReliability, GoldSummary, Reliability, SpeedSummary};
use super::{Answer, agreement};
use crate::text::{display, display_lines};

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub project: String,
    pub method: &'static str,
    pub threshold: f64,
    /// The scores file, under `--scores`.
    pub scores_file: Option<String>,
    pub dawid_skene: Option<DsInfo>,
    pub warnings: Vec<String>,
    pub progress: Progress,
    pub labels: LabelSummary,
    /// Original labels found not valid most often, by class.
    pub most_rejected_originals: Vec<Rejection>,
    /// Pairs of labels most often valid on the same image.
    pub frequent_pairs: Vec<PairCount>,
    pub agreement: AgreementSummary,
    pub models: Vec<ModelAccuracy>,
    pub distributions: Distributions,
    /// The CLASSIFY figures (main object, number of objects), when the project has classify
    /// answers; filled in by the caller from the store (see `analysis::classify`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classify: Option<ClassifySummary>,
    /// Per annotator: gold accuracy and interval, Dawid-Skene estimates, the flag, speed (see
    /// `analysis::reliability`), computed before any annotator is left out; filled in by the
    /// caller ([`Report::set_quality`]), since they may need a Dawid-Skene fit of their own.
    pub annotators: Vec<AnnotatorReliability>,
    pub gold: GoldSummary,
    pub speed: SpeedSummary,
    /// Annotators whose answers were left out of every other figure, and why.
    pub left_out: Vec<LeftOut>,
    pub verdicts: VerdictSummary,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LeftOut {
    pub annotator: String,
    pub answers: usize,
    pub why: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct VerdictSummary {
    /// Current verdicts, by how many experts.
    pub verdicts: usize,
    pub experts: usize,
    /// Questions a verdict decided (score 1 or 0).
    pub adjudicated: usize,
    /// Questions whose experts' current verdicts differ: none of them decides.
    pub conflicts: Vec<VerdictConflict>,
}

#[derive(Clone, Debug, Serialize)]
pub struct VerdictConflict {
    pub image: String,
    pub label: ClassRef,
    pub verdicts: Vec<ExpertVerdict>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ExpertVerdict {
    pub expert: String,
    pub verdict: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct DsInfo {
    pub iterations: usize,
    pub converged: bool,
    pub max_iterations: usize,
    /// Estimated share of valid labels among the questions.
    pub prior: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Progress {
    pub images: usize,
    pub candidate_questions: u64,
    pub questions_answered: usize,
    pub images_with_answers: usize,
    /// Current answers (an annotator's latest to each question).
    pub answers: usize,
    pub annotators: Vec<AnnotatorProgress>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AnnotatorProgress {
    pub annotator: String,
    pub answers: usize,
    pub yes: usize,
    pub no: usize,
    pub maybe: usize,
    pub images: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct LabelSummary {
    /// Images with at least one question with evidence; every share below is of these.
    pub reviewed_images: usize,
    pub with_no_valid_label: usize,
    pub single_label: usize,
    pub multi_label: usize,
    pub share_multi_label: Option<f64>,
    pub mean_valid_labels: Option<f64>,
    /// Reviewed images whose original label was asked about.
    pub original_checked: usize,
    pub original_not_valid: usize,
    pub share_original_not_valid: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ClassRef {
    pub key: String,
    pub name: String,
    pub index: Option<u32>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Rejection {
    pub class: ClassRef,
    pub checked: usize,
    pub not_valid: usize,
    pub share: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct PairCount {
    pub a: ClassRef,
    pub b: ClassRef,
    pub images: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct AgreementSummary {
    pub percent: Option<f64>,
    pub krippendorff_alpha: Option<f64>,
    pub fleiss_kappa: Option<f64>,
    pub gwet_ac1: Option<f64>,
    /// Questions with at least two answers, which the coefficients are about.
    pub questions_used: usize,
    pub answers_used: usize,
    pub per_annotator: Vec<AnnotatorAgreementRow>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AnnotatorAgreementRow {
    pub annotator: String,
    pub answers: usize,
    /// Answers compared with a consensus of the others (no tie, someone else answered).
    pub compared: usize,
    pub ties: usize,
    /// Share of compared answers equal to the others' most frequent answer.
    pub agreement: Option<f64>,
    pub cohen_kappa: Option<f64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Accuracy {
    pub correct: usize,
    pub images: usize,
    pub accuracy: Option<f64>,
}

impl Accuracy {
    fn add(&mut self, hit: bool) {
        self.images += 1;
        self.correct += usize::from(hit);
    }

    fn finish(mut self) -> Self {
        self.accuracy = (self.images > 0).then(|| self.correct as f64 / self.images as f64);
        self
    }
}

/// A model's top-1 accuracy, against the original labels and against the label sets. A
/// prediction counts against a set when it is in the set; images whose set is empty are left
/// out, as ImageNet-ReaL does.
#[derive(Clone, Debug, Serialize)]
pub struct ModelAccuracy {
    pub model: String,
    /// Every image with an original label and a prediction.
    pub original: Accuracy,
    /// The same, on the reviewed images with a non-empty label set (the images of `label_sets`).
    pub original_on_reviewed: Accuracy,
    /// Reviewed images with a non-empty label set.
    pub label_sets: Accuracy,
    /// ImageNet-ReaL's definition over all images: unreviewed images keep their original label.
    pub real_style: Accuracy,
    /// Reviewed images with exactly one valid label.
    pub single_label: Accuracy,
    /// Reviewed images with two or more valid labels.
    pub multi_label: Accuracy,
}

#[derive(Clone, Debug, Serialize)]
pub struct Histogram {
    /// Bin `i` covers `[i / bins, (i + 1) / bins)`; the last also holds 1.
    pub counts: Vec<usize>,
    /// Questions without a value (selection frequency: only "maybe" answers).
    pub undefined: usize,
}

impl Histogram {
    fn of(values: impl Iterator<Item = Option<f64>>, bins: usize) -> Histogram {
        let mut h = Histogram {
            counts: vec![0; bins],
            undefined: 0,
        };
        for v in values {
            match v {
                // The epsilon keeps k/5 and similar ratios out of the bin below their edge.
                Some(v) => {
                    let b = ((v * bins as f64) + 1e-9)
                        .floor()
                        .clamp(0.0, (bins - 1) as f64);
                    h.counts[b as usize] += 1;
                }
                None => h.undefined += 1,
            }
        }
        h
    }
}

pub const HISTOGRAM_BINS: usize = 20;

#[derive(Clone, Debug, Serialize)]
pub struct Distributions {
    /// Selection frequency `yes / (yes + no)` of every answered question.
    pub selection_frequency: Histogram,
    /// The method's score, when it is not the selection frequency.
    pub score: Option<Histogram>,
    /// `labels_per_image[k]`: reviewed images with `k` valid labels.
    pub labels_per_image: Vec<usize>,
}

/// How many classes and pairs the lists keep.
const TOP: usize = 15;

impl Report {
    pub fn build(data: &ProjectData, res: &Results) -> Report {
        let class_ref = |c: u32| {
            let c = &data.classes[c as usize];
            ClassRef {
                key: c.key.clone(),
                name: c.name.clone(),
                index: c.index,
            }
        };
        let mut warnings = Vec::new();
        if data.foreign_answers > 0 {
            warnings.push(format!(
                "{} answers name an image or class this project does not hold; left out",
                data.foreign_answers
            ));
        }
        let dawid_skene = res.ds.map(|d| DsInfo {
            iterations: d.iterations,
            converged: d.converged,
            max_iterations: d.max_iter,
            prior: d.prior,
        });
        if let Some(d) = &dawid_skene
            && !d.converged
        {
            warnings.push(format!(
                "Dawid-Skene stopped at its cap of {} iterations before converging; \
                 its scores are the last iteration's",
                d.max_iterations
            ));
        }
        if res.unscored_questions > 0 {
            warnings.push(format!(
                "{} answered questions have no score in the scores file; they count as not valid",
                res.unscored_questions
            ));
        }

        let progress = progress(data, res);
        let (labels, rejections, pairs, labels_per_image) = label_figures(data, res);
        let most_rejected_originals = rejections
            .into_iter()
            .map(|(c, checked, not_valid)| Rejection {
                class: class_ref(c),
                checked,
                not_valid,
                share: not_valid as f64 / checked as f64,
            })
            .collect();
        let frequent_pairs = pairs
            .into_iter()
            .map(|((a, b), images)| PairCount {
                a: class_ref(a),
                b: class_ref(b),
                images,
            })
            .collect();

        let ag = agreement(&res.ratings, res.questions.len(), data.annotators.len());
        let per_annotator = ag
            .per_annotator
            .iter()
            .filter(|p| p.n_rated > 0)
            .map(|p| AnnotatorAgreementRow {
                annotator: data.annotators[p.annotator as usize].clone(),
                answers: p.n_rated,
                compared: p.n_compared,
                ties: p.n_ties,
                agreement: p.share_equal,
                cohen_kappa: p.cohen_kappa,
            })
            .collect();
        let agreement = AgreementSummary {
            percent: ag.percent,
            krippendorff_alpha: ag.krippendorff_alpha,
            fleiss_kappa: ag.fleiss_kappa,
            gwet_ac1: ag.gwet_ac1,
            questions_used: ag.items_used,
            answers_used: ag.ratings_used,
            per_annotator,
        };

        let models = data
            .models
            .iter()
            .map(|m| model_accuracy(data, res, m))
            .collect();

        let answered = res.questions.iter().filter(|q| q.counts.total() > 0);
        let distributions = Distributions {
            selection_frequency: Histogram::of(answered.map(|q| q.frequency()), HISTOGRAM_BINS),
            score: (res.method != Method::Frequency)
                .then(|| Histogram::of(res.questions.iter().map(|q| q.score), HISTOGRAM_BINS)),
            labels_per_image,
        };

        let verdicts = verdict_summary(data, res, &class_ref);
        if !verdicts.conflicts.is_empty() {
            warnings.push(format!(
                "{} questions have conflicting verdicts; none of them decides (listed below)",
                verdicts.conflicts.len()
            ));
        }

        Report {
            project: data.path.clone(),
            method: res.method.as_str(),
            threshold: res.threshold,
            scores_file: None,
            dawid_skene,
            warnings,
            progress,
            labels,
            most_rejected_originals,
            frequent_pairs,
            agreement,
            models,
            distributions,
            classify: None,
            annotators: Vec::new(),
            gold: GoldSummary::default(),
            speed: SpeedSummary::default(),
            left_out: Vec::new(),
            verdicts,
        }
    }

    /// Puts in the reliability figures computed before annotators were left out, and who was
    /// left out and why (`--exclude-annotators`, `--drop-flagged`).
    pub fn set_quality(&mut self, r: Reliability, left_out: Vec<LeftOut>) {
        self.annotators = r.annotators;
        self.gold = r.gold;
        self.speed = r.speed;
        for l in &left_out {
            self.warnings.push(format!(
                "left out {} answers of {}: {}",
                num(l.answers as u64),
                l.annotator,
                l.why
            ));
        }
        self.left_out = left_out;
    }
}

fn verdict_summary(
    data: &ProjectData,
    res: &Results,
    class_ref: &dyn Fn(u32) -> ClassRef,
) -> VerdictSummary {
    let mut experts: Vec<u32> = data.verdicts.iter().map(|v| v.expert).collect();
    experts.sort_unstable();
    experts.dedup();
    let conflicts = res
        .verdict_conflicts
        .iter()
        .map(|&(image, class)| VerdictConflict {
            image: data.images[image as usize].key.clone(),
            label: class_ref(class),
            verdicts: data
                .verdicts
                .iter()
                .filter(|v| (v.image, v.class) == (image, class))
                .map(|v| ExpertVerdict {
                    expert: data.experts[v.expert as usize].clone(),
                    verdict: v.verdict.as_str(),
                })
                .collect(),
        })
        .collect();
    VerdictSummary {
        verdicts: data.verdicts.len(),
        experts: experts.len(),
        adjudicated: res.questions.iter().filter(|q| q.adjudicated).count(),
        conflicts,
    }
}

fn progress(data: &ProjectData, res: &Results) -> Progress {
    let mut annotators: Vec<AnnotatorProgress> = data
        .annotators
        .iter()
        .map(|a| AnnotatorProgress {
            annotator: a.clone(),
            answers: 0,
            yes: 0,
            no: 0,
            maybe: 0,
            images: 0,
        })
        .collect();
    // Answers are sorted by image, so an annotator's images are counted on the first answer of
    // each image.
    let mut last_image = vec![u32::MAX; annotators.len()];
    for a in &data.answers {
        let p = &mut annotators[a.annotator as usize];
        p.answers += 1;
        match a.answer {
            Answer::Yes => p.yes += 1,
            Answer::No => p.no += 1,
            Answer::Maybe => p.maybe += 1,
        }
        if last_image[a.annotator as usize] != a.image {
            last_image[a.annotator as usize] = a.image;
            p.images += 1;
        }
    }
    let questions_answered = res
        .questions
        .iter()
        .filter(|q| q.counts.total() > 0)
        .count();
    let mut images_with_answers = 0;
    let mut last = None;
    for a in &data.answers {
        if last != Some(a.image) {
            images_with_answers += 1;
            last = Some(a.image);
        }
    }
    // An annotator left out (`--exclude-annotators`, `--drop-flagged`) has no answers here.
    annotators.retain(|a| a.answers > 0);
    Progress {
        images: data.images.len(),
        candidate_questions: data.candidate_questions,
        questions_answered,
        images_with_answers,
        answers: data.answers.len(),
        annotators,
    }
}

type Rejections = Vec<(u32, usize, usize)>;
type Pairs = Vec<((u32, u32), usize)>;

fn label_figures(
    data: &ProjectData,
    res: &Results,
) -> (LabelSummary, Rejections, Pairs, Vec<usize>) {
    let mut s = LabelSummary {
        reviewed_images: 0,
        with_no_valid_label: 0,
        single_label: 0,
        multi_label: 0,
        share_multi_label: None,
        mean_valid_labels: None,
        original_checked: 0,
        original_not_valid: 0,
        share_original_not_valid: None,
    };
    let mut per_class: HashMap<u32, (usize, usize)> = HashMap::new();
    let mut pairs: HashMap<(u32, u32), usize> = HashMap::new();
    let mut per_image: Vec<usize> = Vec::new();
    let mut total_valid = 0usize;
    for (i, im) in data.images.iter().enumerate() {
        let Some(set) = res.label_set(i) else {
            continue;
        };
        s.reviewed_images += 1;
        total_valid += set.len();
        match set.len() {
            0 => s.with_no_valid_label += 1,
            1 => s.single_label += 1,
            _ => s.multi_label += 1,
        }
        if per_image.len() <= set.len() {
            per_image.resize(set.len() + 1, 0);
        }
        per_image[set.len()] += 1;
        if let Some(orig) = im.original
            && let Some(q) = res.image_questions(i).iter().find(|q| q.class == orig)
        {
            s.original_checked += 1;
            let e = per_class.entry(orig).or_default();
            e.0 += 1;
            if !q.valid {
                s.original_not_valid += 1;
                e.1 += 1;
            }
        }
        for (x, &a) in set.iter().enumerate() {
            for &b in &set[x + 1..] {
                *pairs.entry((a.min(b), a.max(b))).or_default() += 1;
            }
        }
    }
    let share = |n: usize, d: usize| (d > 0).then(|| n as f64 / d as f64);
    s.share_multi_label = share(s.multi_label, s.reviewed_images);
    s.mean_valid_labels = share(total_valid, s.reviewed_images);
    s.share_original_not_valid = share(s.original_not_valid, s.original_checked);

    let key = |c: u32| data.classes[c as usize].key.as_str();
    let mut rejections: Rejections = per_class
        .into_iter()
        .filter(|&(_, (_, not_valid))| not_valid > 0)
        .map(|(c, (checked, not_valid))| (c, checked, not_valid))
        .collect();
    // Most rejections first; at equal counts the higher share, then the key, for a stable list.
    rejections.sort_by(|a, b| {
        b.2.cmp(&a.2)
            .then((b.2 * a.1).cmp(&(a.2 * b.1)))
            .then(key(a.0).cmp(key(b.0)))
    });
    rejections.truncate(TOP);
    let mut pairs: Pairs = pairs.into_iter().collect();
    pairs.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then(key(a.0.0).cmp(key(b.0.0)))
            .then(key(a.0.1).cmp(key(b.0.1)))
    });
    pairs.truncate(TOP);
    (s, rejections, pairs, per_image)
}

fn model_accuracy(data: &ProjectData, res: &Results, model: &ModelTop1) -> ModelAccuracy {
    let mut m = ModelAccuracy {
        model: model.name.clone(),
        original: Accuracy::default(),
        original_on_reviewed: Accuracy::default(),
        label_sets: Accuracy::default(),
        real_style: Accuracy::default(),
        single_label: Accuracy::default(),
        multi_label: Accuracy::default(),
    };
    for (i, im) in data.images.iter().enumerate() {
        let Some(pred) = model.at(i) else {
            continue;
        };
        if let Some(orig) = im.original {
            m.original.add(pred == orig);
        }
        match res.label_set(i) {
            None => {
                if let Some(orig) = im.original {
                    m.real_style.add(pred == orig);
                }
            }
            Some(set) if set.is_empty() => {}
            Some(set) => {
                let hit = set.contains(&pred);
                m.real_style.add(hit);
                m.label_sets.add(hit);
                if let Some(orig) = im.original {
                    m.original_on_reviewed.add(pred == orig);
                }
                if set.len() == 1 {
                    m.single_label.add(hit);
                } else {
                    m.multi_label.add(hit);
                }
            }
        }
    }
    for a in [
        &mut m.original,
        &mut m.original_on_reviewed,
        &mut m.label_sets,
        &mut m.real_style,
        &mut m.single_label,
        &mut m.multi_label,
    ] {
        *a = a.finish();
    }
    m
}

/// `12,345`: thousands separated, for tables people read.
pub(crate) fn num(n: impl Into<u64>) -> String {
    let s = n.into().to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

pub(crate) fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".into(), |x| format!("{:.1}%", 100.0 * x))
}

pub(crate) fn coef(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".into(), |x| format!("{x:.3}"))
}

pub(crate) fn of(n: usize, d: usize) -> String {
    let share = (d > 0).then(|| n as f64 / d as f64);
    format!("{} of {} ({})", num(n as u64), num(d as u64), pct(share))
}

pub(crate) fn acc(a: &Accuracy) -> String {
    match a.accuracy {
        Some(x) => format!("{:.2}% ({})", 100.0 * x, num(a.images as u64)),
        None => "n/a".into(),
    }
}

/// How many annotators the text lists before pointing at `--json`.
const LISTED: usize = 20;

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut o = String::new();
        let w = &mut o;
        let _ = writeln!(w, "labelvet report: {}", display(&self.project));
        let mut how = format!("method: {}", self.method);
        if let Some(s) = &self.scores_file {
            let _ = write!(how, " from {}", display(s));
        }
        if let Some(d) = &self.dawid_skene {
            let _ = write!(
                how,
                " ({} after {} iteration{}, prior {:.3})",
                if d.converged {
                    "converged"
                } else {
                    "NOT converged"
                },
                d.iterations,
                if d.iterations == 1 { "" } else { "s" },
                d.prior
            );
        }
        let _ = writeln!(w, "{how}; a label is valid at score >= {}", self.threshold);
        for warning in &self.warnings {
            let _ = writeln!(w, "warning: {}", display(warning));
        }

        let p = &self.progress;
        let _ = writeln!(w, "\nProgress");
        let _ = writeln!(
            w,
            "  questions answered   {}",
            of(p.questions_answered, p.candidate_questions as usize)
        );
        let _ = writeln!(
            w,
            "  images with answers  {}",
            of(p.images_with_answers, p.images)
        );
        let _ = writeln!(
            w,
            "  current answers      {} by {} annotator{}",
            num(p.answers as u64),
            p.annotators.len(),
            if p.annotators.len() == 1 { "" } else { "s" }
        );
        if !p.annotators.is_empty() {
            let mut by_answers: Vec<&AnnotatorProgress> = p.annotators.iter().collect();
            by_answers.sort_by(|a, b| {
                b.answers
                    .cmp(&a.answers)
                    .then(a.annotator.cmp(&b.annotator))
            });
            let width = annotator_width(by_answers.iter().map(|a| a.annotator.as_str()));
            let _ = writeln!(
                w,
                "    {:<width$}  {:>9}  {:>7}  {:>7}  {:>7}  {:>7}",
                "annotator", "answers", "images", "yes", "no", "maybe"
            );
            for a in by_answers.iter().take(LISTED) {
                let _ = writeln!(
                    w,
                    "    {:<width$}  {:>9}  {:>7}  {:>7}  {:>7}  {:>7}",
                    display(&a.annotator),
                    num(a.answers as u64),
                    num(a.images as u64),
                    num(a.yes as u64),
                    num(a.no as u64),
                    num(a.maybe as u64)
                );
            }
            if by_answers.len() > LISTED {
                let _ = writeln!(
                    w,
                    "    ... and {} more (all in --json)",
                    by_answers.len() - LISTED
                );
            }
        }

        let l = &self.labels;
        let _ = writeln!(
            w,
            "\nLabel sets ({} reviewed {})",
            num(l.reviewed_images as u64),
            if l.reviewed_images == 1 {
                "image"
            } else {
                "images"
            }
        );
        let _ = writeln!(
            w,
            "  2+ valid labels          {}",
            of(l.multi_label, l.reviewed_images)
        );
        let _ = writeln!(
            w,
            "  exactly 1 valid label    {}",
            of(l.single_label, l.reviewed_images)
        );
        let _ = writeln!(
            w,
            "  no valid label           {}",
            of(l.with_no_valid_label, l.reviewed_images)
        );
        let _ = writeln!(
            w,
            "  original label not valid {}",
            of(l.original_not_valid, l.original_checked)
        );
        if let Some(m) = l.mean_valid_labels {
            let _ = writeln!(w, "  valid labels per image   {m:.2} on average");
        }

        if !self.most_rejected_originals.is_empty() {
            let _ = writeln!(w, "\nOriginal labels most often not valid");
            let width = name_width(self.most_rejected_originals.iter().map(|r| &r.class));
            let _ = writeln!(
                w,
                "  {:<width$}  {:>9}  {:>7}  {:>6}",
                "class", "not valid", "checked", "share"
            );
            for r in &self.most_rejected_originals {
                let _ = writeln!(
                    w,
                    "  {:<width$}  {:>9}  {:>7}  {:>6}",
                    class_label(&r.class),
                    num(r.not_valid as u64),
                    num(r.checked as u64),
                    pct(Some(r.share))
                );
            }
        }

        if !self.frequent_pairs.is_empty() {
            let _ = writeln!(w, "\nLabels most often valid together");
            let width = name_width(self.frequent_pairs.iter().map(|p| &p.a));
            let _ = writeln!(w, "  {:>6}  {:<width$}  label", "images", "label");
            for p in &self.frequent_pairs {
                let _ = writeln!(
                    w,
                    "  {:>6}  {:<width$}  {}",
                    num(p.images as u64),
                    class_label(&p.a),
                    class_label(&p.b)
                );
            }
        }

        if let Some(c) = &self.classify {
            write_classify(w, c);
        }

        let a = &self.agreement;
        let _ = writeln!(
            w,
            "\nAgreement ({} questions with 2+ answers, {} answers)",
            num(a.questions_used as u64),
            num(a.answers_used as u64)
        );
        let _ = writeln!(w, "  percent agreement     {}", coef(a.percent));
        let _ = writeln!(w, "  Krippendorff's alpha  {}", coef(a.krippendorff_alpha));
        let fleiss = match a.fleiss_kappa {
            Some(k) => format!("{k:.3}"),
            None => "n/a (needs the same number of answers on every question)".into(),
        };
        let _ = writeln!(w, "  Fleiss' kappa         {fleiss}");
        let _ = writeln!(w, "  Gwet's AC1            {}", coef(a.gwet_ac1));
        let compared: Vec<&AnnotatorAgreementRow> = a
            .per_annotator
            .iter()
            .filter(|r| r.agreement.is_some())
            .collect();
        if !compared.is_empty() {
            let mut rows = compared.clone();
            rows.sort_by(|x, y| {
                x.agreement
                    .partial_cmp(&y.agreement)
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then(x.annotator.cmp(&y.annotator))
            });
            let title = if rows.len() > LISTED {
                format!("  the {LISTED} annotators agreeing least with the others' consensus")
            } else {
                "  each annotator against the others' consensus".into()
            };
            let _ = writeln!(w, "{title}");
            let width = annotator_width(rows.iter().map(|r| r.annotator.as_str()));
            let _ = writeln!(
                w,
                "    {:<width$}  {:>8}  {:>9}  {:>6}",
                "annotator", "compared", "agreement", "kappa"
            );
            for r in rows.iter().take(LISTED) {
                let _ = writeln!(
                    w,
                    "    {:<width$}  {:>8}  {:>9}  {:>6}",
                    display(&r.annotator),
                    num(r.compared as u64),
                    pct(r.agreement),
                    coef(r.cohen_kappa)
                );
            }
        }

        write_quality(w, self);

        if !self.models.is_empty() {
            let _ = writeln!(
                w,
                "\nModel top-1 accuracy (images counted in brackets; empty label sets left out)"
            );
            for m in &self.models {
                let _ = writeln!(w, "  {}", display(&m.model));
                let _ = writeln!(
                    w,
                    "    original labels, all images       {}",
                    acc(&m.original)
                );
                let _ = writeln!(
                    w,
                    "    original labels, reviewed images  {}",
                    acc(&m.original_on_reviewed)
                );
                let _ = writeln!(
                    w,
                    "    label sets, reviewed images       {}",
                    acc(&m.label_sets)
                );
                let _ = writeln!(
                    w,
                    "      single-label images             {}",
                    acc(&m.single_label)
                );
                let _ = writeln!(
                    w,
                    "      multi-label images              {}",
                    acc(&m.multi_label)
                );
                let _ = writeln!(
                    w,
                    "    ReaL-style, all images            {}",
                    acc(&m.real_style)
                );
            }
        } else {
            let _ = writeln!(
                w,
                "\nNo model predictions in the project: import some to re-score models"
            );
        }
        // Each field from the project is escaped where it is written; this catches any missed.
        f.write_str(&display_lines(&o))
    }
}

/// The sections on answer quality: gold accuracy and flags, speed, verdicts.
fn write_quality(w: &mut String, r: &Report) {
    let g = &r.gold;
    let ds = r
        .annotators
        .iter()
        .any(|a| a.ds_balanced_accuracy.is_some());
    if g.questions > 0 || ds {
        let _ = writeln!(
            w,
            "\nAnnotator reliability ({} gold questions: {} with a truth, {} tied, {} only maybe)",
            num(g.questions as u64),
            num(g.with_truth as u64),
            num(g.ties as u64),
            num(g.no_vote as u64)
        );
        let _ = writeln!(
            w,
            "  flagged when the 95% interval of gold accuracy ends below {:.0}%, or without \
             gold answers when Dawid-Skene balanced accuracy is below 60%",
            100.0 * g.min_gold_accuracy
        );
        let mut rows: Vec<&AnnotatorReliability> = r.annotators.iter().collect();
        // Least reliable first: flagged, then by the interval's upper end, then balanced accuracy.
        rows.sort_by(|a, b| {
            b.flagged
                .cmp(&a.flagged)
                .then(
                    a.gold_ci_high
                        .partial_cmp(&b.gold_ci_high)
                        .unwrap_or(std::cmp::Ordering::Equal),
                )
                .then(
                    a.ds_balanced_accuracy
                        .partial_cmp(&b.ds_balanced_accuracy)
                        .unwrap_or(std::cmp::Ordering::Equal),
                )
                .then(a.annotator.cmp(&b.annotator))
        });
        let width = annotator_width(rows.iter().map(|a| a.annotator.as_str()));
        let _ = writeln!(
            w,
            "    {:<width$}  {:>6}  {:>5}  {:>8}  {:>15}  {:>8}  flag",
            "annotator", "gold", "maybe", "accuracy", "95% interval", "DS bal."
        );
        for a in rows.iter().take(LISTED) {
            let interval = match (a.gold_ci_low, a.gold_ci_high) {
                (Some(lo), Some(hi)) => format!("{:.1}-{:.1}%", 100.0 * lo, 100.0 * hi),
                _ => "n/a".into(),
            };
            let _ = writeln!(
                w,
                "    {:<width$}  {:>6}  {:>5}  {:>8}  {:>15}  {:>8}  {}",
                display(&a.annotator),
                num(a.gold_answers),
                num(a.gold_maybe),
                pct(a.gold_accuracy),
                interval,
                pct(a.ds_balanced_accuracy),
                if a.flagged { "FLAGGED" } else { "" }
            );
        }
        if rows.len() > LISTED {
            let _ = writeln!(
                w,
                "    ... and {} more (all in --json)",
                rows.len() - LISTED
            );
        }
        let flagged = r.annotators.iter().filter(|a| a.flagged).count();
        let _ = writeln!(
            w,
            "  {} flagged; --drop-flagged leaves their answers out",
            crate::words::count(flagged as u64, "annotator")
        );
    }
    let sp = &r.speed;
    if sp.timed_answers > 0 {
        let _ = writeln!(
            w,
            "\nSpeed ({} timed answers; {} without a time left out)",
            num(sp.timed_answers),
            num(sp.untimed_answers)
        );
        let _ = writeln!(
            w,
            "  median {:.2} s per answer; {} under 400 ms",
            sp.median_seconds.unwrap_or(0.0),
            pct(sp.share_under_400ms)
        );
        let mut rows: Vec<&AnnotatorReliability> = r
            .annotators
            .iter()
            .filter(|a| a.timed_answers > 0)
            .collect();
        rows.sort_by(|a, b| {
            a.median_seconds
                .partial_cmp(&b.median_seconds)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.annotator.cmp(&b.annotator))
        });
        let width = annotator_width(rows.iter().map(|a| a.annotator.as_str()));
        let _ = writeln!(
            w,
            "    {:<width$}  {:>7}  {:>8}  {:>9}",
            "annotator", "answers", "median s", "< 400 ms"
        );
        for a in rows.iter().take(LISTED) {
            let _ = writeln!(
                w,
                "    {:<width$}  {:>7}  {:>8.2}  {:>9}",
                display(&a.annotator),
                num(a.timed_answers),
                a.median_seconds.unwrap_or(0.0),
                pct(a.share_under_400ms)
            );
        }
    } else if sp.untimed_answers > 0 {
        let _ = writeln!(
            w,
            "\nSpeed: no answer has a recorded time ({} imported answers)",
            num(sp.untimed_answers)
        );
    }
    let v = &r.verdicts;
    if v.verdicts > 0 {
        let _ = writeln!(
            w,
            "\nVerdicts: {} by {}; {} questions decided",
            num(v.verdicts as u64),
            crate::words::count(v.experts as u64, "expert"),
            num(v.adjudicated as u64)
        );
        if !v.conflicts.is_empty() {
            let _ = writeln!(w, "  conflicting verdicts (none of them decides):");
            for c in &v.conflicts {
                let who: Vec<String> = c
                    .verdicts
                    .iter()
                    .map(|e| format!("{} {}", display(&e.expert), e.verdict))
                    .collect();
                let _ = writeln!(
                    w,
                    "    {}  {}: {}",
                    display(&c.image),
                    class_label(&c.label),
                    who.join(", ")
                );
            }
        }
    }
}

/// The CLASSIFY section of the text report.
fn write_classify(w: &mut String, c: &ClassifySummary) {
    let _ = writeln!(
        w,
        "\nClassify: main object and number of objects ({} image{}, {} answer{} by {})",
        num(c.images as u64),
        if c.images == 1 { "" } else { "s" },
        num(c.answers as u64),
        if c.answers == 1 { "" } else { "s" },
        crate::words::count(c.annotators as u64, "annotator")
    );
    let _ = writeln!(
        w,
        "  2+ objects                  {}",
        of(c.multi_object, c.images)
    );
    let _ = writeln!(
        w,
        "  main label not the original {}",
        of(c.main_not_original, c.with_original)
    );
    let objects: Vec<String> = c
        .objects_per_image
        .iter()
        .map(|o| format!("{}: {}", o.objects, num(o.images as u64)))
        .collect();
    let _ = writeln!(w, "  objects per image           {}", objects.join(", "));
    let rule = if c.tie_rule == "original" {
        "the main label to the original, else vocabulary order; the number to the smaller"
    } else {
        "to the value given first"
    };
    let _ = writeln!(
        w,
        "  ties                        {} on the main label, {} on the number ({rule})",
        num(c.main_ties as u64),
        num(c.objects_ties as u64)
    );
    if c.foreign_answers > 0 {
        let _ = writeln!(
            w,
            "  left out                    {} answers naming an image or class the project lacks",
            num(c.foreign_answers)
        );
    }
    if !c.confusions.is_empty() {
        let width = name_width(c.confusions.iter().map(|x| &x.original)).max(8);
        let _ = writeln!(w, "  main label instead of the original");
        let _ = writeln!(w, "    {:>6}  {:<width$}  main", "images", "original");
        for x in &c.confusions {
            let _ = writeln!(
                w,
                "    {:>6}  {:<width$}  {}",
                num(x.images as u64),
                class_label(&x.original),
                class_label(&x.main)
            );
        }
    }
}

/// Width of a table's annotator column: the longest name, at least the header's.
fn annotator_width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names
        .map(|n| display(n).chars().count())
        .max()
        .unwrap_or(0)
        .max(9)
}

pub(crate) fn class_label(c: &ClassRef) -> String {
    format!("{} ({})", display(&c.name), display(&c.key))
}

fn name_width<'a>(classes: impl Iterator<Item = &'a ClassRef>) -> usize {
    classes
        .map(|c| class_label(c).chars().count())
        .max()
        .unwrap_or(0)
        .max(5)
}

#[cfg(test)]
mod tests {
    use super::super::project::{Options, aggregate, tiny_project};
    use super::*;

    #[test]
    fn figures_of_the_tiny_project_by_hand() {
        let mut d = tiny_project();
        // A model right on img0 by the sets (c1 is valid there) but not by the original (c0),
        // wrong on img1 whose set is empty, right on img2 by the original label.
        d.models.push(ModelTop1::from_options(
            "m".into(),
            [Some(1), Some(0), Some(0)],
        ));
        let res = aggregate(&d, &Options::default(), None).unwrap();
        let r = Report::build(&d, &res);

        assert_eq!(r.progress.questions_answered, 3);
        assert_eq!(r.progress.images_with_answers, 2);
        assert_eq!(r.progress.answers, 7);
        let a = &r.progress.annotators;
        assert_eq!(
            (a[0].answers, a[0].yes, a[0].maybe, a[0].images),
            (3, 2, 1, 2)
        );
        assert_eq!((a[1].answers, a[1].images), (2, 1));

        // img0 {c0, c1}, img1 {} (only "maybe"), img2 unreviewed.
        assert_eq!(r.labels.reviewed_images, 2);
        assert_eq!(r.labels.multi_label, 1);
        assert_eq!(r.labels.with_no_valid_label, 1);
        assert_eq!(r.labels.share_multi_label, Some(0.5));
        assert_eq!(r.distributions.labels_per_image, vec![1, 0, 1]);
        // Original c0 asked on img0 (valid) and img1 (not valid: no decisive answer).
        assert_eq!(
            (r.labels.original_checked, r.labels.original_not_valid),
            (2, 1)
        );
        assert_eq!(r.most_rejected_originals.len(), 1);
        assert_eq!(r.most_rejected_originals[0].class.name, "zero");
        assert_eq!(r.frequent_pairs.len(), 1);
        assert_eq!(r.frequent_pairs[0].images, 1);

        let m = &r.models[0];
        assert_eq!((m.original.correct, m.original.images), (2, 3));
        assert_eq!((m.label_sets.correct, m.label_sets.images), (1, 1));
        assert_eq!(
            (
                m.original_on_reviewed.correct,
                m.original_on_reviewed.images
            ),
            (0, 1)
        );
        assert_eq!((m.multi_label.correct, m.multi_label.images), (1, 1));
        assert_eq!(m.single_label.accuracy, None);
        // ReaL-style: img0 by its set (hit), img1 left out, img2 by its original label (hit).
        assert_eq!((m.real_style.correct, m.real_style.images), (2, 2));

        // Frequencies 2/3 and 1; the maybe-only question is undefined.
        let h = &r.distributions.selection_frequency;
        assert_eq!(h.undefined, 1);
        assert_eq!(h.counts[13], 1);
        assert_eq!(h.counts[19], 1);
        assert!(r.distributions.score.is_none());

        // Percent agreement over the three questions: [2 yes, 1 no] -> 1/3, [yes, maybe] -> 0,
        // [maybe, maybe] -> 1; mean 4/9.
        let p = r.agreement.percent.unwrap();
        assert!((p - 4.0 / 9.0).abs() < 1e-12, "{p}");
        assert_eq!(r.agreement.fleiss_kappa, None);

        let text = r.to_string();
        assert!(
            text.contains("2+ valid labels          1 of 2 (50.0%)"),
            "{text}"
        );
        assert!(text.contains("zero (c0)"), "{text}");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["labels"]["multi_label"], 1);
        assert_eq!(json["models"][0]["real_style"]["correct"], 2);
    }

    #[test]
    fn histogram_edges_hold_exact_ratios() {
        let h = Histogram::of([0.0, 0.2, 0.4, 0.6, 0.8, 1.0].into_iter().map(Some), 20);
        for b in [0, 4, 8, 12, 16, 19] {
            assert_eq!(h.counts[b], 1, "bin {b}: {:?}", h.counts);
        }
        assert_eq!(num(1_234_567u64), "1,234,567");
        assert_eq!(num(12u64), "12");
    }
}
