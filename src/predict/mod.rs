//! Candidate labels from the user's own ONNX image classifiers, computed on this machine.
//!
//! A team that has a model but no prediction files should not need Python to get candidates:
//! `labelvet predict` runs each classifier over the project's images (pure Rust, tract) and
//! stores its top-k exactly as `predictions import` stores a file's rows, so candidates come out
//! the same either way. Work is committed in chunks: Ctrl-C, a crash or a closed laptop keeps
//! every finished chunk, and the next run carries on with the images still missing.

pub mod clamp;
pub mod depthwise;
pub mod model;
pub mod preprocess;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;

pub use model::{Classifier, ModelConfig, top_k};
pub use preprocess::{Layout, Normalize, Preprocess};

use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::predictions::{PredictionWriter, rebuild_candidates};
use crate::vocab::Vocab;

/// A model to run: the name its predictions are stored under, and its ONNX file.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSpec {
    pub name: String,
    pub path: PathBuf,
}

#[derive(Clone, Debug)]
pub struct PredictOptions {
    pub models: Vec<ModelSpec>,
    pub config: ModelConfig,
    /// Where the image files are; defaults to the folder the project was made from.
    pub images: Option<PathBuf>,
    pub top_k: u32,
    /// Images per transaction (more on a large project, where commits get slow): what a crash
    /// can cost at most. Ctrl-C costs nothing, finished images are committed.
    pub commit_every: usize,
    /// Recompute images the model has already predicted (its old rows are replaced).
    pub force: bool,
    pub progress: bool,
}

impl Default for PredictOptions {
    fn default() -> Self {
        PredictOptions {
            models: Vec::new(),
            config: ModelConfig {
                input_size: None,
                resize_shorter: None,
                normalize: Normalize::IMAGENET,
                batch: 1,
            },
            images: None,
            top_k: 5,
            commit_every: 256,
            force: false,
            progress: false,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelRun {
    pub name: String,
    pub source: String,
    pub preprocess: Option<Preprocess>,
    pub batch: usize,
    pub batch_refused: Option<String>,
    /// Images predicted and stored by this run.
    pub predicted: usize,
    /// Images skipped because the model had predicted them before (no `--force`).
    pub already: usize,
    /// Images that could not be read, with the reason; not stored, tried again next run.
    pub skipped: Vec<(String, String)>,
    pub elapsed: Duration,
}

impl ModelRun {
    pub fn images_per_second(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            (self.predicted + self.skipped.len()) as f64 / s
        } else {
            0.0
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PredictReport {
    pub models: Vec<ModelRun>,
    /// Stopped by the cancel flag (Ctrl-C) before the end; everything listed was kept.
    pub interrupted: bool,
}

/// An image to classify.
struct Job {
    id: i64,
    key: String,
    path: PathBuf,
}

impl AsRef<Path> for Job {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

/// Runs every model over the project's images and stores their top-k. All models are loaded and
/// checked against the vocabulary before any image is read. `cancel` is polled between images:
/// once set, finished images are committed and the run returns with `interrupted`.
pub fn predict(
    store: &mut Store,
    opts: &PredictOptions,
    cancel: &AtomicBool,
) -> Result<PredictReport> {
    if opts.models.is_empty() {
        return Err(Error::msg(
            "give at least one model: --model NAME=FILE.onnx",
        ));
    }
    if opts.top_k == 0 {
        return Err(Error::msg("--top-k must be at least 1"));
    }
    for (i, m) in opts.models.iter().enumerate() {
        if m.name.trim().is_empty() {
            return Err(Error::msg(format!(
                "{}: the model needs a name (--model NAME=FILE.onnx)",
                m.path.display()
            )));
        }
        if opts.models[..i].iter().any(|o| o.name == m.name) {
            return Err(Error::msg(format!("model name {} given twice", m.name)));
        }
    }
    let vocab = store.vocab()?;
    let root = image_root(store, opts.images.as_deref())?;
    let mut classifiers = Vec::new();
    for m in &opts.models {
        let c = Classifier::load(&m.path, &opts.config)?;
        let labels = output_labels(&vocab, &c, &m.name)?;
        classifiers.push((m, c, labels));
    }
    let images = store.images()?;
    let mut report = PredictReport::default();
    for (spec, classifier, labels) in &classifiers {
        let source = spec.path.display().to_string();
        let mut run = ModelRun {
            name: spec.name.clone(),
            source: source.clone(),
            preprocess: Some(classifier.preprocess),
            batch: classifier.batch,
            batch_refused: classifier.batch_refused.clone(),
            ..ModelRun::default()
        };
        let done = if opts.force {
            Default::default()
        } else {
            store.images_predicted_by(&spec.name)?
        };
        // A key that breaks the image-key rule (a project made before the rule may hold
        // `../SECRET.txt`) is never opened: it is listed as skipped with the reason.
        let mut jobs: Vec<Job> = Vec::new();
        let mut refused = Vec::new();
        for im in images.iter().filter(|im| !done.contains(&im.id)) {
            match im.rec.file_under(&root) {
                Ok(path) => jobs.push(Job {
                    id: im.id,
                    key: im.rec.key.clone(),
                    path,
                }),
                Err(why) => refused.push((im.rec.key.clone(), why)),
            }
        }
        run.already = images.len() - jobs.len() - refused.len();
        run.skipped.extend(refused);
        let bar = crate::ingest::images::progress_bar(jobs.len() as u64, &spec.name, opts.progress);
        let start = Instant::now();
        let mut cleared = !opts.force;
        let mut chunk_len = opts.commit_every.max(1);
        let mut pos = 0;
        while pos < jobs.len() && !cancel.load(Ordering::Relaxed) {
            let chunk = &jobs[pos..(pos + chunk_len).min(jobs.len())];
            let work = Instant::now();
            let results = classify(classifier, chunk, opts.top_k as usize, cancel, &|| {
                bar.inc(1)
            })?;
            let work = work.elapsed();
            let commit = Instant::now();
            let rows = store.transaction(|tx| {
                let mut writer = PredictionWriter::new(tx)?;
                let model_id = if cleared {
                    writer.model_id_keep(&spec.name, &source)?
                } else {
                    writer.model_id(&spec.name, &source)?
                };
                let mut stored = 0;
                for (job, result) in chunk.iter().zip(&results) {
                    if let Some(Ok(top)) = result {
                        for (rank, &(index, score)) in top.iter().enumerate() {
                            writer.add(
                                job.id,
                                model_id,
                                rank as u32 + 1,
                                &labels[index],
                                Some(score),
                            )?;
                        }
                        stored += 1;
                    }
                }
                drop(writer);
                rebuild_candidates(tx)?;
                Ok(stored)
            })?;
            let commit = commit.elapsed();
            cleared = true;
            pos += chunk.len();
            run.predicted += rows;
            for (job, result) in chunk.iter().zip(results) {
                if let Some(Err(why)) = result {
                    run.skipped.push((job.key.clone(), why));
                }
            }
            // A commit rebuilds the candidates of the whole project, which takes about half a
            // second per 50,000 images: on a large project chunks grow until committing costs
            // under 5% of the time.
            let per_image = work.as_secs_f64() / chunk.len() as f64;
            if per_image > 0.0 {
                let needed = (20.0 * commit.as_secs_f64() / per_image).ceil() as usize;
                chunk_len = chunk_len.max(needed);
            }
        }
        if !cleared && !cancel.load(Ordering::Relaxed) {
            // --force on a model with nothing left to read: its old rows still go.
            store.transaction(|tx| {
                PredictionWriter::new(tx)?.model_id(&spec.name, &source)?;
                rebuild_candidates(tx)
            })?;
        }
        run.elapsed = start.elapsed();
        bar.finish_and_clear();
        report.models.push(run);
        if cancel.load(Ordering::Relaxed) {
            report.interrupted = true;
            break;
        }
    }
    Ok(report)
}

/// One file's result: its top-k as (output index, probability), or why it could not be read.
pub type Outcome = std::result::Result<Vec<(usize, f64)>, String>;

/// Classifies files in parallel: every worker decodes, prepares and runs its own batches with
/// its own inference state. `None` for files not reached because `cancel` was set; `Err` with
/// the reason for a file that could not be read as an image. A model failure stops everything.
pub fn classify(
    classifier: &Classifier,
    jobs: &[impl AsRef<Path> + Sync],
    k: usize,
    cancel: &AtomicBool,
    tick: &(dyn Fn() + Sync),
) -> Result<Vec<Option<Outcome>>> {
    let per_batch: Vec<Vec<Option<Outcome>>> = jobs
        .par_chunks(classifier.batch)
        .map_init(
            || classifier.state(),
            |state, batch| -> Result<Vec<_>> {
                if cancel.load(Ordering::Relaxed) {
                    return Ok(vec![None; batch.len()]);
                }
                let state = state.as_mut().map_err(|e| Error::msg(e.to_string()))?;
                let inputs: Vec<std::result::Result<Vec<f32>, String>> = batch
                    .iter()
                    .map(|p| classifier.preprocess.load(p.as_ref()))
                    .collect();
                let ok: Vec<&[f32]> = inputs
                    .iter()
                    .filter_map(|r| r.as_ref().ok().map(Vec::as_slice))
                    .collect();
                let mut outputs = if ok.is_empty() {
                    Vec::new()
                } else {
                    classifier.run(state, &ok)?
                }
                .into_iter();
                let out = inputs
                    .into_iter()
                    .map(|r| {
                        tick();
                        Some(r.map(|_| top_k(&outputs.next().expect("one output per input"), k)))
                    })
                    .collect();
                Ok(out)
            },
        )
        .collect::<Result<_>>()?;
    Ok(per_batch.into_iter().flatten().collect())
}

/// Output index -> class key. The model's output size must equal the number of vocabulary
/// classes that have an index, and index `i` must name output `i`.
fn output_labels(vocab: &Vocab, c: &Classifier, name: &str) -> Result<Vec<String>> {
    let indexed = vocab.classes().iter().filter(|c| c.index.is_some()).count();
    if c.classes != indexed {
        return Err(Error::msg(format!(
            "{} ({name}): the model scores {} classes but the project's vocabulary `{}` has {} \
             classes with an index; output i must be the class with index i, so the two must \
             match (give the vocabulary an `index` column in the model's output order)",
            c.path.display(),
            c.classes,
            vocab.name,
            indexed
        )));
    }
    (0..c.classes)
        .map(|i| {
            vocab
                .by_index(i as u32)
                .map(|cl| cl.key.clone())
                .ok_or_else(|| {
                    Error::msg(format!(
                        "{} ({name}): no class of the vocabulary `{}` has index {i}, which is \
                         output {i} of the model; indices must run from 0 to {}",
                        c.path.display(),
                        vocab.name,
                        c.classes - 1
                    ))
                })
        })
        .collect()
}

fn image_root(store: &Store, given: Option<&Path>) -> Result<PathBuf> {
    let root = match given {
        Some(dir) => dir.to_path_buf(),
        None => match store.meta()?.image_root {
            Some(root) => PathBuf::from(root),
            None => {
                return Err(Error::msg(format!(
                    "{}: the project was made from a manifest and has no image folder; say \
                     where the files are with --images DIR",
                    store.path().display()
                )));
            }
        },
    };
    if !root.is_dir() {
        return Err(Error::msg(format!(
            "{}: the image folder is not there{}",
            root.display(),
            if given.is_none() {
                " (moved? give its new place with --images DIR)"
            } else {
                ""
            }
        )));
    }
    Ok(root)
}
