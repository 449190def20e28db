//! What a labeling project starts from, brought into the store: images (a folder or a manifest)
//! with their original labels, and model predictions. Answers made elsewhere come in through
//! `judgments`.

pub mod carry;
pub mod classify;
pub mod images;
pub mod judgments;
mod parquet_predictions;
pub mod predictions;
pub mod scores;
pub mod table;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::{ImageRecord, ImageStatus, PartialFile, Store};
use crate::vocab::Vocab;

#[derive(Clone, Debug, Default)]
pub struct InitOptions {
    /// A folder tree of images; keys are paths relative to it.
    pub images: Option<PathBuf>,
    /// A CSV listing images by key (with their original label); files may be absent.
    pub manifest: Option<PathBuf>,
    /// A CSV `image,label` giving original labels for a folder not in ImageNet layout.
    pub labels: Option<PathBuf>,
    /// `imagenet1k` or a vocabulary file.
    pub vocab: String,
    pub progress: bool,
}

#[derive(Clone, Debug, Default)]
pub struct InitReport {
    pub images: usize,
    pub ok: usize,
    pub missing: usize,
    /// Files that are there but could not be read as images: (key, reason).
    pub unreadable: Vec<(String, String)>,
    pub labelled: usize,
    /// Files below the folder skipped because their names are not image names.
    pub ignored: usize,
    /// Links below the folder not followed because they lead out of it.
    pub links_outside: usize,
    pub warnings: Vec<String>,
    /// Keys whose files have the same bytes.
    pub duplicates: Vec<Vec<String>>,
}

/// Makes a new project file. Everything is written to a temporary file beside `path` and moved
/// into place at the end, so a failure leaves no half-made project behind.
pub fn init_project(path: &Path, opts: &InitOptions) -> Result<(Store, InitReport)> {
    if path.exists() {
        return Err(Error::msg(format!(
            "{} already exists; choose another name or remove it first",
            path.display()
        )));
    }
    let vocab = Vocab::load(&opts.vocab)?;
    let (records, mut report) = gather(&vocab, opts)?;
    let root = match &opts.images {
        Some(dir) => Some(
            std::fs::canonicalize(dir)
                .map_err(|e| Error::io(dir, e))?
                .to_string_lossy()
                .into_owned(),
        ),
        None => None,
    };

    let partial = PartialFile::beside(path)?;
    let mut store = Store::create(partial.path(), &vocab)?;
    store.transaction(|tx| {
        crate::store::images::insert_images(tx, &records)?;
        if let Some(root) = &root {
            crate::store::set_meta_in(tx, "image_root", root)?;
        }
        crate::store::predictions::rebuild_candidates(tx)?;
        Ok(())
    })?;
    report.duplicates = store.duplicate_content()?;
    // Closing checkpoints the WAL into the main file, so the rename moves everything.
    drop(store);
    partial.finish()?;
    Ok((Store::open(path)?, report))
}

fn gather(vocab: &Vocab, opts: &InitOptions) -> Result<(Vec<ImageRecord>, InitReport)> {
    let mut report = InitReport::default();
    let records: Vec<ImageRecord> = match (&opts.manifest, &opts.images) {
        (Some(manifest), root) => {
            if opts.labels.is_some() {
                return Err(Error::msg(
                    "--labels goes with --images; a manifest gives its labels itself",
                ));
            }
            let rows = images::read_manifest(manifest, vocab)?;
            match root {
                Some(root) => {
                    let paths: Vec<PathBuf> = rows.iter().map(|r| root.join(&r.key)).collect();
                    let probes = images::probe_all(&paths, opts.progress);
                    rows.into_iter()
                        .zip(probes)
                        .map(|(r, p)| images::record(r.key, None, r.label, p))
                        .collect()
                }
                None => rows
                    .into_iter()
                    .map(|r| ImageRecord::missing(r.key, r.label))
                    .collect(),
            }
        }
        (None, Some(root)) => {
            let scan = images::scan_folder(root)?;
            report.ignored = scan.ignored.len();
            report.links_outside = scan.links_outside;
            report.warnings = scan.warnings;
            for k in scan.clashes {
                report.warnings.push(format!(
                    "{k}: skipped, its name clashes with another file's"
                ));
            }
            let labels = match &opts.labels {
                Some(file) => {
                    let known: HashSet<&str> = scan.files.iter().map(|f| f.key.as_str()).collect();
                    Some(images::read_labels(file, vocab, &known)?)
                }
                None => None,
            };
            let paths: Vec<PathBuf> = scan.files.iter().map(|f| f.path.clone()).collect();
            let probes = images::probe_all(&paths, opts.progress);
            scan.files
                .into_iter()
                .zip(probes)
                .map(|(f, p)| {
                    let label = match &labels {
                        Some(map) => map.get(&f.key).cloned(),
                        // ImageNet layout: the first folder is the class key.
                        None => f
                            .key
                            .split_once('/')
                            .and_then(|(dir, _)| vocab.get(dir))
                            .map(|c| c.key.clone()),
                    };
                    images::record(f.key, f.raw_path, label, p)
                })
                .collect()
        }
        (None, None) => {
            return Err(Error::msg(
                "say where the images are: --images DIR (a folder) or --manifest FILE",
            ));
        }
    };
    report.images = records.len();
    for r in &records {
        match r.status {
            ImageStatus::Ok => report.ok += 1,
            ImageStatus::Missing => report.missing += 1,
            ImageStatus::Unreadable => report.unreadable.push((
                r.key.clone(),
                r.error.clone().unwrap_or_else(|| "unreadable".into()),
            )),
        }
        if r.original_label.is_some() {
            report.labelled += 1;
        }
    }
    Ok((records, report))
}
