//! A project's answers as the statistics see them, and the label sets they give.
//!
//! The statistics files of this module work on dense ids; this one is the bridge: it reads a
//! project through the store's typed API (every annotator's current answer, the images with their
//! original labels, the vocabulary, each model's top-1), turns it into dense ids once, and
//! aggregates the answers per (image, label) question with the chosen method:
//!
//! - `frequency`: the selection frequency `yes / (yes + no)` (Tsipras et al. 2020);
//! - `dawid-skene`: the Dawid-Skene posterior that the label is valid (Dawid & Skene 1979, as
//!   ImageNet-ReaL used it);
//! - scores computed elsewhere (`--scores`), e.g. ReaL's published posteriors.
//!
//! A label is valid when its score is at least the threshold. An image is *reviewed* when at
//! least one of its questions has evidence (an answer, or a given score); its label set is then
//! its valid labels, possibly none. An image never reviewed has no label set: ReaL keeps its
//! original label, and so do the exports that follow ReaL.

use std::collections::HashMap;

use super::reliability::{GoldQuestion, gold_truth};
use super::{Answer, Counts, DsOptions, Rating, dawid_skene};
use crate::error::{Error, Result};
use crate::store::{CurrentAnswerTable, CurrentRow, Store};

/// Per-pair scores computed elsewhere (e.g. ReaL's Dawid-Skene posteriors), to aggregate with
/// instead of the project's own estimate (`--scores`; read by `ingest::scores`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scores {
    /// (image key, class key) to score.
    pub by_pair: HashMap<(String, String), f64>,
}

impl From<HashMap<(String, String), f64>> for Scores {
    fn from(by_pair: HashMap<(String, String), f64>) -> Scores {
        Scores { by_pair }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
pub enum Method {
    Frequency,
    DawidSkene,
    /// Scores given from outside (`--scores`).
    #[strum(serialize = "scores")]
    Given,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[derive(Clone, Debug)]
pub struct ClassInfo {
    pub key: String,
    pub name: String,
    pub index: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct ImageInfo {
    pub key: String,
    /// The store's row id, for provenance look-ups.
    pub id: i64,
    pub original: Option<u32>,
}

/// One annotator's current answer, in dense ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answered {
    pub image: u32,
    pub class: u32,
    pub annotator: u32,
    pub answer: Answer,
    /// The time the screen recorded for it; `None` for imported answers.
    pub elapsed_ms: Option<u32>,
}

/// An expert's current verdict on a question, in dense ids (`expert` indexes
/// [`ProjectData::experts`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerdictOn {
    pub image: u32,
    pub class: u32,
    pub expert: u32,
    pub verdict: Answer,
}

#[derive(Clone, Debug)]
pub struct ModelTop1 {
    pub name: String,
    /// Per image (same order as [`ProjectData::images`]), the class the model ranked first, or
    /// [`NO_TOP1`]. Four bytes an image, not the eight of an `Option<u32>`: ten models over
    /// ImageNet-train's 1.28 M images held 102 MB that way.
    top1: Vec<u32>,
}

/// [`ModelTop1::top1`] of an image the model has no prediction for.
pub const NO_TOP1: u32 = u32::MAX;

impl ModelTop1 {
    /// A model's top-1 from one `Option` per image.
    pub fn from_options(name: String, top1: impl IntoIterator<Item = Option<u32>>) -> ModelTop1 {
        ModelTop1 {
            name,
            top1: top1.into_iter().map(|c| c.unwrap_or(NO_TOP1)).collect(),
        }
    }

    /// The class the model ranked first on image `i`, if it has a prediction for it.
    pub fn at(&self, i: usize) -> Option<u32> {
        self.top1.get(i).copied().filter(|&c| c != NO_TOP1)
    }
}

/// Everything the report and the exports need from a project, in dense ids.
#[derive(Clone, Debug)]
pub struct ProjectData {
    pub path: String,
    /// In vocabulary order.
    pub classes: Vec<ClassInfo>,
    /// In key order.
    pub images: Vec<ImageInfo>,
    /// Sorted by name.
    pub annotators: Vec<String>,
    /// Sorted by (image, class, annotator).
    pub answers: Vec<Answered>,
    /// The gold questions with their experts' answers and truth, sorted by (image, class).
    pub gold: Vec<GoldQuestion>,
    /// Current verdicts, sorted by (image, class, expert).
    pub verdicts: Vec<VerdictOn>,
    /// The experts who gave verdicts, by name.
    pub experts: Vec<String>,
    /// Annotators whose answers were left out (`without_annotators`), by name: the exports that
    /// read answers from the store leave them out too.
    pub left_out: Vec<String>,
    /// Current answers naming an image or class the project does not hold (possible after
    /// merging files made from another vocabulary); left out of everything.
    pub foreign_answers: u64,
    pub models: Vec<ModelTop1>,
    /// (image, label) questions the project asks: its candidates.
    pub candidate_questions: u64,
}

impl ProjectData {
    pub fn load(store: &Store) -> Result<ProjectData> {
        Ok(Self::read(store, false)?.0)
    }

    /// [`ProjectData::load`], and the current answers it was made from with their events' times
    /// and origins (what `answers.parquet` holds), so that an export reads them once.
    pub fn load_with_answers(store: &Store) -> Result<(ProjectData, CurrentAnswerTable)> {
        let (data, table) = Self::read(store, true)?;
        Ok((data, table.expect("kept")))
    }

    /// The project; and its current answers' table when `keep` (else dropped as soon as the
    /// dense answers are made).
    fn read(store: &Store, keep: bool) -> Result<(ProjectData, Option<CurrentAnswerTable>)> {
        let vocab = store.vocab()?;
        let classes: Vec<ClassInfo> = vocab
            .classes()
            .iter()
            .map(|c| ClassInfo {
                key: c.key.clone(),
                name: c.name.clone(),
                index: c.index,
            })
            .collect();
        let class_of: HashMap<&str, u32> = classes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.key.as_str(), i as u32))
            .collect();
        let mut images: Vec<ImageInfo> = Vec::new();
        store.for_each_image_label(|id, key, original| {
            images.push(ImageInfo {
                original: original.and_then(|l| class_of.get(l).copied()),
                key: key.to_string(),
                id,
            })
        })?;
        // The store sorts by SQLite's byte order; sorting here makes the order ours to promise.
        // Keys are unique, so an unstable sort (no scratch memory) gives the one order.
        images.sort_unstable_by(|a, b| a.key.cmp(&b.key));

        // The models' top-1 are read on a second connection and thread while this one folds
        // the answers: on 1.28 M images and 10 models that pass is 3–5 s of the report's 14.
        let names = store.model_names()?;
        let reader = if names.is_empty() {
            None
        } else {
            store.second_reader()?
        };
        let (images_ref, class_ref) = (&images, &class_of);
        let (dense, models) = std::thread::scope(|s| -> Result<_> {
            let (tops, names) = match reader {
                Some(reader) => (
                    Some(s.spawn(move || models_top1(&reader, names, images_ref, class_ref))),
                    Vec::new(),
                ),
                None => (None, names),
            };
            let dense = current_answers(store, keep, images_ref, class_ref)?;
            let models = match tops {
                Some(thread) => thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?,
                None => models_top1(store, names, images_ref, class_ref)?,
            };
            Ok((dense, models))
        })?;
        let DenseAnswers {
            annotators,
            answers,
            foreign: foreign_answers,
            table,
        } = dense;

        let mut gold: Vec<GoldQuestion> = Vec::new();
        for g in store.current_gold()? {
            let (Some(image), Some(&class)) = (
                image_index(&images, &g.image),
                class_of.get(g.label.as_str()),
            ) else {
                continue;
            };
            match gold.last_mut() {
                Some(q) if (q.image, q.class) == (image, class) => q.experts.add(g.answer),
                _ => {
                    let mut experts = Counts::default();
                    experts.add(g.answer);
                    gold.push(GoldQuestion {
                        image,
                        class,
                        experts,
                        truth: None,
                    });
                }
            }
        }
        gold.sort_unstable_by_key(|q| (q.image, q.class));
        for q in &mut gold {
            q.truth = gold_truth(&q.experts);
        }
        let mut experts: Vec<String> = Vec::new();
        let mut verdicts = Vec::new();
        for v in store.current_verdicts()? {
            let (Some(image), Some(&class)) = (
                image_index(&images, &v.image),
                class_of.get(v.label.as_str()),
            ) else {
                continue;
            };
            let expert = match experts.iter().position(|e| *e == v.annotator) {
                Some(e) => e,
                None => {
                    experts.push(v.annotator.clone());
                    experts.len() - 1
                }
            };
            verdicts.push(VerdictOn {
                image,
                class,
                expert: expert as u32,
                verdict: v.answer,
            });
        }
        verdicts.sort_unstable_by_key(|v| (v.image, v.class, v.expert));

        let candidate_questions = store.candidate_count()?;

        let data = ProjectData {
            path: store.path().display().to_string(),
            classes,
            images,
            annotators,
            answers,
            gold,
            verdicts,
            experts,
            left_out: Vec::new(),
            foreign_answers,
            models,
            candidate_questions,
        };
        Ok((data, table))
    }

    /// The same project without the answers of `annotators` (dense ids), for
    /// `--exclude-annotators` and `--drop-flagged`.
    pub fn without_annotators(&self, annotators: &[u32]) -> ProjectData {
        let mut d = self.clone();
        d.answers.retain(|a| !annotators.contains(&a.annotator));
        d.left_out.extend(
            annotators
                .iter()
                .map(|&a| self.annotators[a as usize].clone()),
        );
        d
    }

    /// The dense id of an annotator by name.
    pub fn annotator_id(&self, name: &str) -> Option<u32> {
        self.annotators
            .binary_search_by(|a| a.as_str().cmp(name))
            .ok()
            .map(|i| i as u32)
    }

    /// The dense id of an image key.
    pub fn image_id(&self, key: &str) -> Option<u32> {
        image_index(&self.images, key)
    }

    /// The dense id of a class key.
    pub fn class_id(&self, key: &str) -> Option<u32> {
        self.classes
            .iter()
            .position(|c| c.key == key)
            .map(|i| i as u32)
    }
}

/// The current answers in dense ids, as [`dense_answers`] gives them; and the table they were
/// made from, when kept.
struct DenseAnswers {
    annotators: Vec<String>,
    answers: Vec<Answered>,
    foreign: u64,
    table: Option<CurrentAnswerTable>,
}

fn current_answers(
    store: &Store,
    keep: bool,
    images: &[ImageInfo],
    class_of: &HashMap<&str, u32>,
) -> Result<DenseAnswers> {
    // Straight into dense ids, from the store's fold of the current answers (texts once each):
    // a `String` copy of millions of answers would be most of the memory the report needs.
    let mut table = store.current_answer_table()?;
    let places = image_places(&table.images, images);
    let (annotators, answers, foreign) = if keep {
        dense_answers(&table, table.rows.iter().copied(), &places, class_of)
    } else {
        // The table's image keys are no longer needed (the project's own list has them all),
        // and each row's memory is given back as its answer is made (see `FromBack`), so that
        // the two are not held whole at once: 5 M answers take 200 MB as rows, 120 MB as
        // answers, and 1.28 M image keys 90 MB.
        table.images = Vec::new();
        let rows = FromBack(std::mem::take(&mut table.rows));
        dense_answers(&table, rows, &places, class_of)
    };
    Ok(DenseAnswers {
        annotators,
        answers,
        foreign,
        table: keep.then_some(table),
    })
}

/// The top-1 of the models `names` (id, name) per image of `images` (sorted by key).
fn models_top1(
    store: &Store,
    names: Vec<(i64, String)>,
    images: &[ImageInfo],
    class_of: &HashMap<&str, u32>,
) -> Result<Vec<ModelTop1>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    // Every model's top-1 in one pass, by row ids: model by model and through image keys took
    // a minute on 1.28 M images and 10 models. The pass comes in image id order, so the images
    // sorted by id are walked alongside it.
    let slot_of: HashMap<i64, usize> = names
        .iter()
        .enumerate()
        .map(|(s, (id, _))| (*id, s))
        .collect();
    let mut by_id: Vec<(i64, u32)> = images
        .iter()
        .enumerate()
        .map(|(i, im)| (im.id, i as u32))
        .collect();
    by_id.sort_unstable();
    let mut at = 0usize;
    let mut tops: Vec<Vec<u32>> = vec![vec![NO_TOP1; images.len()]; names.len()];
    store.for_each_top1(|image_id, model_id, label| {
        while at < by_id.len() && by_id[at].0 < image_id {
            at += 1;
        }
        if let (Some(&s), Some(&(id, i))) = (slot_of.get(&model_id), by_id.get(at))
            && id == image_id
        {
            tops[s][i as usize] = class_of.get(label).copied().unwrap_or(NO_TOP1);
        }
    })?;
    Ok(names
        .into_iter()
        .zip(tops)
        .map(|((_, name), top1)| ModelTop1 { name, top1 })
        .collect())
}

/// The dense id of an image key: its place among `images` (sorted by key).
fn image_index(images: &[ImageInfo], key: &str) -> Option<u32> {
    images
        .binary_search_by(|im| im.key.as_str().cmp(key))
        .ok()
        .map(|i| i as u32)
}

/// A table's rows handed out from the last, the vector's unused end given back to the
/// allocator as it goes (a shrink in place), so that rows read and answers made are never
/// both held whole.
struct FromBack(Vec<CurrentRow>);

impl Iterator for FromBack {
    type Item = CurrentRow;

    fn next(&mut self) -> Option<CurrentRow> {
        let row = self.0.pop()?;
        if self.0.capacity() - self.0.len() >= FROM_BACK_SLACK {
            self.0.shrink_to_fit();
        }
        Some(row)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.0.len(), Some(self.0.len()))
    }
}

/// Rows popped between shrinks: 1 M rows, 40 MB.
const FROM_BACK_SLACK: usize = 1 << 20;

/// For each image key of an answer table (sorted by bytes), its place among `images` (sorted
/// by key), if the project holds it.
fn image_places(keys: &[String], images: &[ImageInfo]) -> Vec<Option<u32>> {
    // Both key lists are sorted by bytes: one walk pairs them.
    let mut at = 0usize;
    keys.iter()
        .map(|k| {
            while at < images.len() && images[at].key.as_str() < k.as_str() {
                at += 1;
            }
            (at < images.len() && images[at].key == *k).then_some(at as u32)
        })
        .collect()
}

/// The current answers of `rows` (rows of `table`, in any order) in dense ids (images by
/// `image_ids`, the [`image_places`] of the table's images; classes as `class_of` numbers them),
/// sorted by (image, class, annotator); the annotators who gave them, by name (their dense
/// ids); and how many answers name an image or class the project does not hold.
fn dense_answers(
    table: &CurrentAnswerTable,
    rows: impl Iterator<Item = CurrentRow>,
    image_ids: &[Option<u32>],
    class_of: &HashMap<&str, u32>,
) -> (Vec<String>, Vec<Answered>, u64) {
    let classes: Vec<Option<u32>> = table
        .labels
        .iter()
        .map(|k| class_of.get(k.as_str()).copied())
        .collect();
    const NONE: u32 = u32::MAX;
    let mut annotator = vec![NONE; table.annotators.len()];
    let mut answers = Vec::with_capacity(rows.size_hint().0);
    let mut foreign = 0u64;
    for r in rows {
        let (Some(image), Some(class), Some(answer)) = (
            image_ids[r.image as usize],
            classes[r.label as usize],
            r.answer,
        ) else {
            foreign += 1;
            continue;
        };
        // Marked as used for now; numbered below.
        annotator[r.annotator as usize] = 0;
        answers.push(Answered {
            image,
            class,
            annotator: r.annotator,
            answer,
            elapsed_ms: r.elapsed_ms().and_then(|ms| u32::try_from(ms).ok()),
        });
    }
    // Dense annotator ids in name order (the table's names are sorted), so that every listing
    // is sorted by name; an annotator whose every answer is foreign is not one of the project's.
    let mut names = Vec::new();
    for (i, id) in annotator.iter_mut().enumerate() {
        if *id != NONE {
            *id = names.len() as u32;
            names.push(table.annotators[i].clone());
        }
    }
    for a in &mut answers {
        a.annotator = annotator[a.annotator as usize];
    }
    answers.sort_unstable_by_key(|a| (a.image, a.class, a.annotator));
    (names, answers, foreign)
}

#[derive(Clone, Debug)]
pub struct Options {
    pub method: Method,
    pub threshold: f64,
    pub ds: DsOptions,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            method: Method::Frequency,
            threshold: 0.5,
            ds: DsOptions::default(),
        }
    }
}

/// One (image, label) question with evidence.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Question {
    pub image: u32,
    pub class: u32,
    pub counts: Counts,
    /// The method's estimate that the label is valid; `None` when there is no evidence for it
    /// (only "maybe" answers under `frequency`, or no given score under `scores`).
    pub score: Option<f64>,
    pub valid: bool,
    /// Decided by an expert's verdict: the score is 1 or 0 whatever the answers say.
    pub adjudicated: bool,
}

impl Question {
    pub fn frequency(&self) -> Option<f64> {
        self.counts.selection_frequency()
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DsRun {
    pub iterations: usize,
    pub converged: bool,
    pub max_iter: usize,
    pub prior: f64,
}

/// Aggregated answers: one entry per question, grouped by image.
#[derive(Clone, Debug)]
pub struct Results {
    pub method: Method,
    pub threshold: f64,
    /// Sorted by (image, class).
    pub questions: Vec<Question>,
    /// Image `i` owns `questions[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<usize>,
    /// Each current answer as a rating of its question (`item` = index into `questions`).
    pub ratings: Vec<Rating>,
    pub ds: Option<DsRun>,
    /// Answered questions the given scores do not cover (not valid: no score).
    pub unscored_questions: usize,
    /// The Dawid-Skene fit's confusion rows per annotator, under `dawid-skene`.
    pub confusion: Option<Vec<[[f64; 3]; 2]>>,
    /// Questions whose experts' current verdicts differ (yes against no): none of them decides.
    pub verdict_conflicts: Vec<(u32, u32)>,
}

impl Results {
    pub fn image_questions(&self, image: usize) -> &[Question] {
        &self.questions[self.offsets[image]..self.offsets[image + 1]]
    }

    /// Whether the image has any question with evidence.
    pub fn is_reviewed(&self, image: usize) -> bool {
        self.offsets[image] < self.offsets[image + 1]
    }

    /// The image's valid labels in vocabulary order; `None` when it was never reviewed.
    pub fn label_set(&self, image: usize) -> Option<Vec<u32>> {
        self.is_reviewed(image).then(|| {
            self.image_questions(image)
                .iter()
                .filter(|q| q.valid)
                .map(|q| q.class)
                .collect()
        })
    }

    pub fn n_images(&self) -> usize {
        self.offsets.len() - 1
    }
}

/// Aggregates the project's answers (see the module docs). `scores` is required for
/// [`Method::Given`] and ignored otherwise.
pub fn aggregate(data: &ProjectData, opts: &Options, scores: Option<&Scores>) -> Result<Results> {
    if !(0.0..=1.0).contains(&opts.threshold) {
        return Err(Error::msg(format!(
            "threshold {} is not between 0 and 1",
            opts.threshold
        )));
    }
    let given: Option<HashMap<(u32, u32), f64>> = match (opts.method, scores) {
        (Method::Given, None) => {
            return Err(Error::msg("the `scores` method needs a scores file"));
        }
        (Method::Given, Some(s)) => Some(dense_scores(data, s)?),
        _ => None,
    };

    // Questions: every answered pair, plus every scored pair when scores are given. The
    // answers are sorted by (image, class): a question's answers are one run, kept once (5 M
    // answers are 1 M questions).
    let mut keys: Vec<(u32, u32)> = Vec::new();
    for a in &data.answers {
        if keys.last() != Some(&(a.image, a.class)) {
            keys.push((a.image, a.class));
        }
    }
    if let Some(g) = &given {
        keys.extend(g.keys().copied());
    }
    keys.extend(data.verdicts.iter().map(|v| (v.image, v.class)));
    keys.sort_unstable();
    keys.dedup();
    let mut questions: Vec<Question> = keys
        .iter()
        .map(|&(image, class)| Question {
            image,
            class,
            counts: Counts::default(),
            score: None,
            valid: false,
            adjudicated: false,
        })
        .collect();

    // Answers and keys are both sorted by (image, class), so one merge walk finds each item.
    let mut ratings = Vec::with_capacity(data.answers.len());
    let mut q = 0;
    for a in &data.answers {
        while keys[q] != (a.image, a.class) {
            q += 1;
        }
        questions[q].counts.add(a.answer);
        ratings.push(Rating::new(q as u32, a.annotator, a.answer));
    }

    let mut ds = None;
    let mut confusion = None;
    let mut unscored_questions = 0;
    match opts.method {
        Method::Frequency => {
            for q in &mut questions {
                q.score = q.counts.selection_frequency();
            }
        }
        Method::DawidSkene => {
            let r = dawid_skene(&ratings, questions.len(), data.annotators.len(), &opts.ds);
            for (q, p) in questions.iter_mut().zip(&r.posterior) {
                q.score = Some(*p);
            }
            ds = Some(DsRun {
                iterations: r.iterations,
                converged: r.converged,
                max_iter: opts.ds.max_iter,
                prior: r.prior,
            });
            confusion = Some(r.annotator_confusion);
        }
        Method::Given => {
            let g = given.as_ref().expect("checked above");
            for q in &mut questions {
                q.score = g.get(&(q.image, q.class)).copied();
                if q.score.is_none() {
                    unscored_questions += 1;
                }
            }
        }
    }
    for q in &mut questions {
        q.valid = q.score.is_some_and(|s| super::is_valid(s, opts.threshold));
    }
    let verdict_conflicts = adjudicate(&mut questions, &keys, &data.verdicts);

    let mut offsets = vec![0usize; data.images.len() + 1];
    for q in &questions {
        offsets[q.image as usize + 1] += 1;
    }
    for i in 0..data.images.len() {
        offsets[i + 1] += offsets[i];
    }

    Ok(Results {
        method: opts.method,
        threshold: opts.threshold,
        questions,
        offsets,
        ratings,
        ds,
        unscored_questions,
        confusion,
        verdict_conflicts,
    })
}

/// Lets the experts' current verdicts decide their questions: where every yes or no verdict on
/// a question agrees, its score becomes 1 or 0 and it is valid accordingly, whatever the method;
/// a maybe verdict decides nothing; where yes and no verdicts meet, nothing is decided and the
/// question is returned as a conflict. `keys` are the questions' (image, class), in order.
fn adjudicate(
    questions: &mut [Question],
    keys: &[(u32, u32)],
    verdicts: &[VerdictOn],
) -> Vec<(u32, u32)> {
    let mut conflicts = Vec::new();
    for group in verdicts.chunk_by(|a, b| (a.image, a.class) == (b.image, b.class)) {
        let key = (group[0].image, group[0].class);
        let yes = group.iter().any(|v| v.verdict == Answer::Yes);
        let no = group.iter().any(|v| v.verdict == Answer::No);
        if yes && no {
            conflicts.push(key);
            continue;
        }
        if !(yes || no) {
            continue;
        }
        let q = &mut questions[keys
            .binary_search(&key)
            .expect("every verdict is a question")];
        q.score = Some(if yes { 1.0 } else { 0.0 });
        q.valid = yes;
        q.adjudicated = true;
    }
    conflicts
}

fn dense_scores(data: &ProjectData, scores: &Scores) -> Result<HashMap<(u32, u32), f64>> {
    let class_of: HashMap<&str, u32> = data
        .classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.key.as_str(), i as u32))
        .collect();
    scores
        .by_pair
        .iter()
        .map(|((image, label), &s)| {
            let i = data.image_id(image).ok_or_else(|| {
                Error::msg(format!("scores: image {image} is not in the project"))
            })?;
            let c = class_of
                .get(label.as_str())
                .ok_or_else(|| Error::msg(format!("scores: unknown class {label}")))?;
            Ok(((i, *c), s))
        })
        .collect()
}

/// A project small enough to check every figure by hand (the report's tests use it too):
/// three images, two classes, three annotators.
///   img0/c0: yes yes no   -> f = 2/3
///   img0/c1: yes maybe    -> f = 1
///   img1/c0: maybe maybe  -> f undefined
///   img2: no answers
#[cfg(test)]
pub(crate) fn tiny_project() -> ProjectData {
    let a = |image, class, annotator, answer| Answered {
        image,
        class,
        annotator,
        answer,
        elapsed_ms: None,
    };
    ProjectData {
        path: "tiny.db".into(),
        classes: vec![
            ClassInfo {
                key: "c0".into(),
                name: "zero".into(),
                index: Some(0),
            },
            ClassInfo {
                key: "c1".into(),
                name: "one".into(),
                index: Some(1),
            },
        ],
        images: (0..3)
            .map(|i| ImageInfo {
                key: format!("img{i}"),
                id: i + 1,
                original: Some(0),
            })
            .collect(),
        annotators: vec!["a".into(), "b".into(), "c".into()],
        answers: vec![
            a(0, 0, 0, Answer::Yes),
            a(0, 0, 1, Answer::Yes),
            a(0, 0, 2, Answer::No),
            a(0, 1, 0, Answer::Yes),
            a(0, 1, 1, Answer::Maybe),
            a(1, 0, 0, Answer::Maybe),
            a(1, 0, 2, Answer::Maybe),
        ],
        gold: vec![],
        verdicts: vec![],
        experts: vec![],
        left_out: vec![],
        foreign_answers: 0,
        models: vec![],
        candidate_questions: 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequency_sets_with_maybe_only_and_unreviewed_images() {
        let d = tiny_project();
        let r = aggregate(&d, &Options::default(), None).unwrap();
        assert_eq!(r.questions.len(), 3);
        assert_eq!(r.questions[0].score, Some(2.0 / 3.0));
        assert_eq!(r.questions[1].score, Some(1.0));
        assert_eq!(r.questions[2].score, None);
        assert_eq!(r.label_set(0), Some(vec![0, 1]));
        // Answered, but only "maybe": reviewed, with no valid label.
        assert_eq!(r.label_set(1), Some(vec![]));
        assert_eq!(r.label_set(2), None);
        assert_eq!(r.ratings.len(), 7);

        let strict = Options {
            threshold: 0.7,
            ..Options::default()
        };
        let r = aggregate(&d, &strict, None).unwrap();
        assert_eq!(r.label_set(0), Some(vec![1]));
    }

    #[test]
    fn given_scores_add_questions_and_flag_missing_ones() {
        let d = tiny_project();
        let mut s = Scores::default();
        s.by_pair.insert(("img0".into(), "c0".into()), 0.9);
        s.by_pair.insert(("img2".into(), "c1".into()), 0.8);
        let opts = Options {
            method: Method::Given,
            threshold: 0.8,
            ..Options::default()
        };
        let r = aggregate(&d, &opts, Some(&s)).unwrap();
        assert_eq!(r.label_set(0), Some(vec![0]));
        assert_eq!(r.label_set(1), Some(vec![]));
        // Threshold is inclusive: 0.8 passes at 0.8.
        assert_eq!(r.label_set(2), Some(vec![1]));
        assert_eq!(r.unscored_questions, 2);
        assert!(aggregate(&d, &opts, None).is_err());
        let bad = Options {
            threshold: 1.5,
            ..Options::default()
        };
        assert!(aggregate(&d, &bad, None).is_err());
    }

    #[test]
    fn dawid_skene_is_deterministic_and_reports_its_run() {
        let d = tiny_project();
        let opts = Options {
            method: Method::DawidSkene,
            ..Options::default()
        };
        let a = aggregate(&d, &opts, None).unwrap();
        let b = aggregate(&d, &opts, None).unwrap();
        assert_eq!(a.questions, b.questions);
        let run = a.ds.unwrap();
        assert!(run.iterations >= 1 && run.max_iter == 100);
        assert!(a.questions.iter().all(|q| q.score.is_some()));
    }
}
