//! Merging annotators' files into a project: the union of their append-only events, plus the
//! images, models and predictions a source has and the target lacks.
//!
//! Events and flags carry global ids and are only ever added, so a merge is `INSERT OR IGNORE`
//! by id: merging in any order, any number of times, gives the same events and so the same
//! current answers. What keeps that true against damaged or crafted files:
//! - every source is opened and checked by [`SourceFile::open`] before the target is touched,
//!   and read through its own read-only connection; the target is written through its own;
//! - an id present on both sides with different content is refused, not silently resolved by
//!   whichever file came first (that would make the result depend on the order);
//! - every event must name an image the target has after the merge and a class of the target's
//!   vocabulary, with a valid answer; a retraction must undo an event of the same annotator on
//!   the same question;
//! - one image key with different bytes (SHA-256) on the two sides is a conflict that stops the
//!   merge, unless the caller keeps the target's side;
//! - all sources go in one transaction, so an error or a killed process leaves the target as it
//!   was. A dry run is the same transaction rolled back: it reports exactly what a merge would do.
//!
//! Integer row ids never cross files: source images and models are mapped to the target's by key
//! and name. Candidates are derived data, never copied: each new original label, prediction and
//! answered label adds its candidate, which equals a rebuild since a merge only adds inputs.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{
    Connection, OptionalExtension, Row, Statement, Transaction, TransactionBehavior, params,
};

use super::untrusted::{SourceFile, describe, refused};
use super::{Store, locked_or, now_rfc3339};
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, Default)]
pub struct MergeOptions {
    /// Report what would change and write nothing.
    pub dry_run: bool,
    /// On an image key with different bytes on the two sides, keep the target's record.
    pub keep_target: bool,
    /// Accept sources made from another project (a different project UUID).
    pub allow_other_project: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageConflict {
    pub key: String,
    pub target_sha256: String,
    pub source_sha256: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnnotatorMerge {
    pub annotator: String,
    pub new_events: u64,
    /// Events of theirs the target already had.
    pub duplicate_events: u64,
}

/// What one source brought (or, in a dry run, would bring).
#[derive(Clone, Debug, Default)]
pub struct SourceReport {
    pub path: PathBuf,
    pub project_uuid: String,
    pub same_project: bool,
    pub schema_version: i64,
    pub vocab_differs: bool,
    /// A sidecar log recovered into a private copy, as a sentence.
    pub recovered: Option<String>,
    /// Annotators with events in the source, by name.
    pub annotators: Vec<AnnotatorMerge>,
    pub new_events: u64,
    pub duplicate_events: u64,
    pub new_flags: u64,
    pub duplicate_flags: u64,
    pub new_images: u64,
    pub conflicts: Vec<ImageConflict>,
    /// New events on images in conflict (brought in with the target's image record).
    pub events_on_conflicts: u64,
    pub new_models: Vec<String>,
    /// Models both sides have from different imports: only predictions the target lacked came.
    pub differing_models: Vec<String>,
    pub new_predictions: u64,
    /// Classify events (see `store::classify`) new to the target, and those it already had.
    pub new_classify: u64,
    pub duplicate_classify: u64,
}

#[derive(Clone, Debug, Default)]
pub struct MergeReport {
    pub target: PathBuf,
    pub sources: Vec<SourceReport>,
    pub dry_run: bool,
    pub keep_target: bool,
}

impl MergeReport {
    pub fn new_events(&self) -> u64 {
        self.sources.iter().map(|s| s.new_events).sum()
    }

    pub fn duplicate_events(&self) -> u64 {
        self.sources.iter().map(|s| s.duplicate_events).sum()
    }

    pub fn conflicts(&self) -> usize {
        self.sources.iter().map(|s| s.conflicts.len()).sum()
    }

    /// A dry run found image conflicts that would stop the real merge (no --keep-target).
    pub fn would_stop(&self) -> bool {
        self.dry_run && !self.keep_target && self.conflicts() > 0
    }
}

/// One row of the target's merge log.
#[derive(Clone, Debug, PartialEq)]
pub struct MergeLogEntry {
    pub merged_at: String,
    pub source_file: String,
    pub source_uuid: String,
    pub source_schema: i64,
    /// Annotator and how many of their events this merge added.
    pub annotators: Vec<(String, u64)>,
    pub new_events: u64,
    pub duplicate_events: u64,
    pub new_flags: u64,
    pub new_images: u64,
    pub new_models: u64,
    pub new_predictions: u64,
    pub conflicts_kept: u64,
    /// Classify events this merge added (0 in entries written before schema 3).
    pub new_classify: u64,
}

impl Store {
    /// Merges `sources` into this project in one transaction; `on_source` hears about each
    /// source once it is merged (still inside the transaction). See the module docs.
    pub fn merge(
        &mut self,
        sources: &[PathBuf],
        opts: &MergeOptions,
        on_source: &mut dyn FnMut(&SourceReport),
    ) -> Result<MergeReport> {
        merge(self, sources, opts, on_source)
    }

    /// The merge log, oldest first.
    pub fn merge_log(&self) -> Result<Vec<MergeLogEntry>> {
        let mut stmt = self.conn.prepare(
            "SELECT merged_at, source_file, source_uuid, source_schema, annotators, new_events,
                    duplicate_events, new_flags, new_images, new_models, new_predictions,
                    conflicts_kept, new_classify
             FROM merge_log ORDER BY id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                let annotators: String = r.get(4)?;
                Ok(MergeLogEntry {
                    merged_at: r.get(0)?,
                    source_file: r.get(1)?,
                    source_uuid: r.get(2)?,
                    source_schema: r.get(3)?,
                    annotators: serde_json::from_str::<BTreeMap<String, u64>>(&annotators)
                        .map(|m| m.into_iter().collect())
                        .unwrap_or_default(),
                    new_events: r.get(5)?,
                    duplicate_events: r.get(6)?,
                    new_flags: r.get(7)?,
                    new_images: r.get(8)?,
                    new_models: r.get(9)?,
                    new_predictions: r.get(10)?,
                    conflicts_kept: r.get(11)?,
                    new_classify: r.get(12)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

fn merge(
    target: &mut Store,
    sources: &[PathBuf],
    opts: &MergeOptions,
    on_source: &mut dyn FnMut(&SourceReport),
) -> Result<MergeReport> {
    let target_path = target.path().to_path_buf();
    let target_id = FileId::of(&target_path)?;
    let meta = target.meta()?;
    let classes: HashMap<String, u32> = target
        .conn
        .prepare("SELECT key FROM classes ORDER BY key")?
        .query_map([], |r| r.get(0))?
        .enumerate()
        .map(|(i, k)| k.map(|k| (k, i as u32)))
        .collect::<rusqlite::Result<_>>()?;

    // Every source is checked before the target is locked, so a bad file fails fast. They are
    // opened and checked side by side (each on its own connection), and reported in order.
    let opened: Vec<Result<SourceFile>> = sources
        .par_iter()
        .map(|path| {
            if FileId::of(path).is_ok_and(|id| id == target_id) {
                return Err(refused(path, "it is the target file itself"));
            }
            SourceFile::open(path)
        })
        .collect();
    let mut files = Vec::with_capacity(sources.len());
    for (path, src) in sources.iter().zip(opened) {
        let src = src?;
        if src.project_uuid() != meta.project_uuid && !opts.allow_other_project {
            return Err(refused(
                path,
                format!(
                    "it belongs to another project ({}, the target is {}); if you mean to \
                     combine the two projects, merge with --allow-other-project",
                    src.project_uuid(),
                    meta.project_uuid
                ),
            ));
        }
        // Every row's label is checked against the target's classes as it is read; a source
        // that says its vocabulary differs is first checked whole, to name all it lacks at once.
        if src.vocab_digest() != meta.vocab_digest {
            check_classes(&src, &classes)?;
        }
        files.push(src);
    }

    let incoming: u64 = files
        .iter()
        .map(|f| f.judgment_count())
        .collect::<Result<Vec<u64>>>()?
        .into_iter()
        .sum();
    // Room in the page cache for the pages the new events touch (about 400 bytes of table and
    // index each), so that they are not written out to the log and back during the merge.
    let cache_mib = (incoming * 400 / (1 << 20)).clamp(64, 512) as u32;
    let cache_before: i64 = target
        .conn
        .pragma_query_value(None, "cache_size", |r| r.get(0))?;
    target.set_cache_mib(cache_mib)?;
    let out = merge_files(target, &files, &meta, classes, incoming, opts, on_source);
    // The large cache was for the merge; a caller that goes on gets its memory back.
    target
        .conn
        .pragma_update(None, "cache_size", cache_before)?;
    out
}

/// The write half of [`merge`]: all sources, one transaction.
fn merge_files(
    target: &mut Store,
    files: &[SourceFile],
    meta: &super::Meta,
    classes: HashMap<String, u32>,
    incoming: u64,
    opts: &MergeOptions,
    on_source: &mut dyn FnMut(&SourceReport),
) -> Result<MergeReport> {
    let target_path = target.path().to_path_buf();
    let tx = target
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| locked_or(&target_path, e))?;
    let existing: u64 = tx.query_row("SELECT count(*) FROM judgments", [], |r| r.get(0))?;
    // When more events come in than the target holds, dropping the secondary indexes and
    // building them again from sorted rows at the end costs less than inserting each event into
    // them at a random place (about half the time for a first merge of a team's files). The
    // merge itself only looks events up by id, the primary key. Rebuilt from the target's own
    // statements, the schema stays statement for statement what it was.
    let rebuild: Vec<(String, String)> = if incoming > existing {
        let indexes: Vec<(String, String)> = tx
            .prepare(
                "SELECT name, sql FROM sqlite_schema
                 WHERE type = 'index' AND tbl_name = 'judgments' AND sql IS NOT NULL",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (name, _) in &indexes {
            tx.execute_batch(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))?;
        }
        indexes
    } else {
        Vec::new()
    };
    let mut state = TargetState::load(&tx, classes)?;
    let mut report = MergeReport {
        target: target_path.clone(),
        sources: Vec::new(),
        dry_run: opts.dry_run,
        keep_target: opts.keep_target,
    };
    for src in files {
        let mut r = SourceReport {
            path: src.path.clone(),
            project_uuid: src.project_uuid().to_string(),
            same_project: src.project_uuid() == meta.project_uuid,
            schema_version: src.schema_version,
            vocab_differs: src.vocab_digest() != meta.vocab_digest,
            recovered: src.recovered.clone(),
            ..SourceReport::default()
        };
        merge_one(&tx, &mut state, src, &target_path, &mut r)?;
        if !r.conflicts.is_empty() && !opts.keep_target && !opts.dry_run {
            return Err(conflict_error(&src.path, &r.conflicts));
        }
        if !opts.dry_run {
            write_log(&tx, &r)?;
        }
        on_source(&r);
        report.sources.push(r);
    }
    if opts.dry_run {
        // The rollback brings back the dropped indexes too.
        tx.rollback()?;
    } else {
        for (_, sql) in &rebuild {
            tx.execute_batch(sql)?;
        }
        tx.commit().map_err(|e| locked_or(&target_path, e))?;
    }
    Ok(report)
}

/// What makes two paths one file: the same device and inode (so a hard link or a symbolic link
/// to the target is caught), or elsewhere the same canonical path.
#[derive(PartialEq, Eq)]
struct FileId {
    #[cfg(unix)]
    id: (u64, u64),
    #[cfg(not(unix))]
    id: PathBuf,
}

impl FileId {
    fn of(path: &Path) -> Result<FileId> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let md = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
            Ok(FileId {
                id: (md.dev(), md.ino()),
            })
        }
        #[cfg(not(unix))]
        {
            Ok(FileId {
                id: std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?,
            })
        }
    }
}

fn conflict_error(path: &Path, conflicts: &[ImageConflict]) -> Error {
    const SHOWN: usize = 10;
    let mut list: Vec<String> = conflicts
        .iter()
        .take(SHOWN)
        .map(|c| {
            format!(
                "{} (target {}, source {})",
                c.key,
                short(&c.target_sha256),
                short(&c.source_sha256)
            )
        })
        .collect();
    if conflicts.len() > SHOWN {
        list.push(format!("and {} more", conflicts.len() - SHOWN));
    }
    refused(
        path,
        format!(
            "{} image{} have different bytes (SHA-256) under the same key: {}; merge with \
             --keep-target to keep the target's images and take the answers anyway",
            conflicts.len(),
            if conflicts.len() == 1 { "" } else { "s" },
            list.join(", ")
        ),
    )
}

fn short(sha: &str) -> &str {
    &sha[..12.min(sha.len())]
}

/// Refuses a source that uses classes the target's vocabulary lacks, naming them.
fn check_classes(src: &SourceFile, classes: &HashMap<String, u32>) -> Result<()> {
    let sq = |e: rusqlite::Error| refused(&src.path, describe(&e));
    src.check_table("predictions")?;
    let mut stmt = src
        .conn
        .prepare(
            "SELECT label FROM judgments UNION SELECT label FROM predictions
             UNION SELECT original_label FROM images WHERE original_label IS NOT NULL",
        )
        .map_err(sq)?;
    let mut rows = stmt.query([]).map_err(sq)?;
    let mut missing = Vec::new();
    while let Some(row) = rows.next().map_err(sq)? {
        match row.get_ref(0).map_err(sq)? {
            ValueRef::Text(t) if classes.contains_key(String::from_utf8_lossy(t).as_ref()) => {}
            ValueRef::Text(t) => missing.push(String::from_utf8_lossy(t).into_owned()),
            other => missing.push(format!("{other:?}")),
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    const SHOWN: usize = 20;
    let n = missing.len();
    missing.truncate(SHOWN);
    let more = if n > SHOWN {
        format!(" and {} more", n - SHOWN)
    } else {
        String::new()
    };
    Err(refused(
        &src.path,
        format!(
            "its vocabulary differs from the target's and it uses {n} class{} the target's \
             vocabulary lacks: {}{more}",
            if n == 1 { "" } else { "es" },
            missing.join(", ")
        ),
    ))
}

/// What the merge needs to know of the target, kept up to date as sources come in.
struct TargetState {
    /// class key -> a small number standing for it
    classes: HashMap<String, u32>,
    /// key -> (row id, SHA-256)
    images: HashMap<String, (i64, Option<String>)>,
    /// name -> (row id, source, imported_at)
    models: HashMap<String, (i64, Option<String>, String)>,
    /// (image id, class) pairs this merge has made sure are candidates: most answers are to
    /// labels already asked about, so each pair costs one statement, not one per event.
    candidates: HashSet<(i64, u32)>,
}

impl TargetState {
    fn load(conn: &Connection, classes: HashMap<String, u32>) -> Result<TargetState> {
        let images = conn
            .prepare("SELECT key, id, sha256 FROM images")?
            .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?
            .collect::<rusqlite::Result<_>>()?;
        let models = conn
            .prepare("SELECT name, id, source, imported_at FROM models")?
            .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?))))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(TargetState {
            classes,
            images,
            models,
            candidates: HashSet::new(),
        })
    }

    /// The class's number, or `None` when the target has no such class.
    fn class(&self, key: &str) -> Option<u32> {
        self.classes.get(key).copied()
    }

    /// Makes (image, label) a candidate of the target unless this merge already did.
    fn candidate(
        &mut self,
        insert: &mut rusqlite::CachedStatement<'_>,
        image_id: i64,
        class: u32,
        label: &str,
        original: bool,
    ) -> Result<()> {
        if self.candidates.insert((image_id, class)) {
            insert.execute(params![image_id, label, original])?;
        }
        Ok(())
    }
}

const INSERT_CANDIDATE: &str =
    "INSERT OR IGNORE INTO candidates(image_id, label, is_original) VALUES (?1, ?2, ?3)";

/// Reads one source's rows and writes what the target lacks, filling in `r`.
fn merge_one(
    tx: &Transaction<'_>,
    state: &mut TargetState,
    src: &SourceFile,
    target_path: &Path,
    r: &mut SourceReport,
) -> Result<()> {
    let path = src.path.as_path();
    let sq = |e: rusqlite::Error| refused(path, describe(&e));
    let mut candidate = tx.prepare_cached(INSERT_CANDIDATE)?;

    // A model both sides got from the same import is skipped whole; when every model is, the
    // source's image ids need no mapping.
    let models: Vec<(i64, String, Option<String>, String)> = src
        .conn
        .prepare("SELECT id, name, source, imported_at FROM models ORDER BY name")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect()
        })
        .map_err(|e| refused(path, format!("its models table: {}", describe(&e))))?;
    let map_ids = models.iter().any(|(_, name, source, at)| {
        !matches!(state.models.get(name), Some((_, s, a)) if s == source && a == at)
    });

    // Images: add the ones the target lacks, find conflicts, map ids for the predictions.
    let mut image_ids: HashMap<i64, i64> = HashMap::new();
    let mut conflicted: HashSet<i64> = HashSet::new();
    let mut conflicted_keys: HashSet<String> = HashSet::new();
    {
        let mut stmt = src
            .conn
            .prepare(
                "SELECT id, key, raw_path, original_label, sha256, bytes, width, height, status,
                        error FROM images",
            )
            .map_err(sq)?;
        let mut rows = stmt.query([]).map_err(sq)?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO images(key, raw_path, original_label, sha256, bytes, width, height,
                                status, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        while let Some(row) = rows.next().map_err(sq)? {
            let f = Fields::new(path, row, "images");
            let id = f.int(0)?;
            let key = f.text(1)?;
            let sha = f.opt_text(4)?;
            if let Some((tid, tsha)) = state.images.get(key) {
                if let (Some(t), Some(s)) = (tsha.as_deref(), sha)
                    && t != s
                {
                    r.conflicts.push(ImageConflict {
                        key: key.to_string(),
                        target_sha256: t.to_string(),
                        source_sha256: s.to_string(),
                    });
                    conflicted.insert(id);
                    conflicted_keys.insert(key.to_string());
                }
                if map_ids {
                    image_ids.insert(id, *tid);
                }
                continue;
            }
            let raw_path = match row.get_ref(2).map_err(sq)? {
                ValueRef::Null => None,
                ValueRef::Blob(b) => Some(b.to_vec()),
                _ => return Err(f.bad(2, "is neither empty nor bytes")),
            };
            let label = f.opt_text(3)?;
            let class = match label {
                Some(l) => Some(state.class(l).ok_or_else(|| {
                    refused(
                        path,
                        format!("image {key} has original label `{l}`, not a class of the target"),
                    )
                })?),
                None => None,
            };
            let status = f.text(8)?;
            if !matches!(status, "ok" | "missing" | "unreadable") {
                return Err(f.bad(8, "is not ok, missing or unreadable"));
            }
            insert.execute(params![
                key,
                raw_path,
                label,
                sha,
                f.opt_count(5)?,
                f.opt_count(6)?,
                f.opt_count(7)?,
                status,
                f.opt_text(9)?
            ])?;
            let tid = tx.last_insert_rowid();
            if let (Some(l), Some(c)) = (label, class) {
                state.candidate(&mut candidate, tid, c, l, true)?;
            }
            state
                .images
                .insert(key.to_string(), (tid, sha.map(String::from)));
            image_ids.insert(id, tid);
            r.new_images += 1;
        }
    }

    // Predictions of the models the target lacks, or has from another import.
    for (sid, name, source, imported_at) in models {
        let tid = match state.models.get(&name) {
            Some((_, s, at)) if *s == source && *at == imported_at => continue,
            Some((tid, ..)) => {
                r.differing_models.push(name.clone());
                *tid
            }
            None => {
                tx.execute(
                    "INSERT INTO models(name, source, imported_at) VALUES (?1, ?2, ?3)",
                    params![name, source, imported_at],
                )?;
                let tid = tx.last_insert_rowid();
                state
                    .models
                    .insert(name.clone(), (tid, source.clone(), imported_at.clone()));
                r.new_models.push(name.clone());
                tid
            }
        };
        src.check_table("predictions")?;
        let mut stmt = src
            .conn
            .prepare("SELECT image_id, rank, label, score FROM predictions WHERE model_id = ?1")
            .map_err(sq)?;
        let mut rows = stmt.query([sid]).map_err(sq)?;
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO predictions(image_id, model_id, rank, label, score)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        while let Some(row) = rows.next().map_err(sq)? {
            let f = Fields::new(path, row, "predictions");
            let image = f.int(0)?;
            let Some(&timage) = image_ids.get(&image) else {
                return Err(refused(
                    path,
                    format!(
                        "a prediction of model {name} names image id {image}, not in its images"
                    ),
                ));
            };
            if conflicted.contains(&image) {
                continue;
            }
            let rank = f.int(1)?;
            if rank < 1 {
                return Err(f.bad(1, "is below 1"));
            }
            let label = f.text(2)?;
            let Some(class) = state.class(label) else {
                return Err(refused(
                    path,
                    format!(
                        "a prediction of model {name} names `{label}`, not a class of the target"
                    ),
                ));
            };
            let score = match row.get_ref(3).map_err(sq)? {
                ValueRef::Null => None,
                ValueRef::Real(x) => Some(x),
                ValueRef::Integer(i) => Some(i as f64),
                _ => return Err(f.bad(3, "is not a number")),
            };
            if insert.execute(params![timage, tid, rank, label, score])? == 1 {
                r.new_predictions += 1;
                state.candidate(&mut candidate, timage, class, label, false)?;
            }
        }
    }

    // Judgment events: the union by id.
    // Hashed while events come in (a lookup per event); put in name order once, below.
    let mut per_annotator: HashMap<String, (u64, u64)> = HashMap::new();
    let mut retractions: Vec<[String; 5]> = Vec::new();
    {
        let mut stmt = src
            .conn
            .prepare(
                "SELECT id, image, label, answer, retracts, annotator, session, created_at,
                        elapsed_ms, origin FROM judgments",
            )
            .map_err(sq)?;
        let mut rows = stmt.query([]).map_err(sq)?;
        let mut existing = tx.prepare_cached(
            "SELECT id, image, label, answer, retracts, annotator, session, created_at,
                    elapsed_ms, origin FROM judgments WHERE id = ?1",
        )?;
        let mut batch = EventBatch::default();
        loop {
            let next = rows.next().map_err(sq)?;
            if let Some(row) = next {
                let f = Fields::new(path, row, "judgments");
                let id = f.event_id(0)?;
                let image = f.text(1)?;
                let label = f.text(2)?;
                let answer = f.text(3)?;
                let retracts = f.opt_text(4)?;
                match (answer, retracts) {
                    ("yes" | "no" | "maybe", None) | ("retract", Some(_)) => {}
                    ("yes" | "no" | "maybe" | "retract", _) => {
                        return Err(refused(
                            path,
                            format!(
                                "event {id}: a retraction must name the event it undoes, and only a retraction may"
                            ),
                        ));
                    }
                    _ => {
                        return Err(refused(
                            path,
                            format!(
                                "event {id}: answer `{answer}` is not yes, no, maybe or retract"
                            ),
                        ));
                    }
                }
                let annotator = f.nonempty_text(5)?;
                let session = f.text(6)?;
                let created_at = f.int(7)?;
                let elapsed_ms = f.opt_int(8)?;
                let origin = f.text(9)?;
                let Some(&(image_id, _)) = state.images.get(image) else {
                    return Err(refused(
                        path,
                        format!(
                            "event {id} names image `{image}`, which is neither in {} nor in the \
                             source's images",
                            target_path.display()
                        ),
                    ));
                };
                let Some(class) = state.class(label) else {
                    return Err(refused(
                        path,
                        format!(
                            "event {id} (image {image}) names label `{label}`, not a class of the \
                             target's vocabulary"
                        ),
                    ));
                };
                batch.push(
                    [id, image, label, answer],
                    retracts,
                    [annotator, session, origin],
                    (created_at, elapsed_ms),
                    (image_id, class),
                );
                if !batch.is_full() {
                    continue;
                }
            }
            batch.write(tx)?;
            for (e, &added) in batch.events.iter().zip(&batch.added) {
                let [id, image, label, annotator] =
                    [&e.id, &e.image, &e.label, &e.annotator].map(|t| batch.str(t));
                let counts = match per_annotator.get_mut(annotator) {
                    Some(counts) => counts,
                    None => per_annotator.entry(annotator.to_string()).or_default(),
                };
                if added {
                    counts.0 += 1;
                    if let Some(t) = &e.retracts {
                        retractions.push([
                            id.to_string(),
                            batch.str(t).to_string(),
                            image.to_string(),
                            label.to_string(),
                            annotator.to_string(),
                        ]);
                    } else {
                        state.candidate(&mut candidate, e.image_id, e.class, label, false)?;
                    }
                    if conflicted_keys.contains(image) {
                        r.events_on_conflicts += 1;
                    }
                } else {
                    counts.1 += 1;
                    let values = batch.values(e);
                    let same = existing.query_row([id], |t| {
                        for (i, v) in values.iter().enumerate() {
                            if t.get_ref(i + 1)? != *v {
                                return Ok(false);
                            }
                        }
                        Ok(true)
                    })?;
                    if !same {
                        return Err(refused(
                            path,
                            format!(
                                "event {id} is also in {} with different content; one of the \
                                 two files was altered",
                                target_path.display()
                            ),
                        ));
                    }
                }
            }
            batch.clear();
            if next.is_none() {
                break;
            }
        }
    }
    // Checked once all events are in, since an undone event may come later in the same file.
    let mut undone =
        tx.prepare_cached("SELECT image, label, annotator, answer FROM judgments WHERE id = ?1")?;
    for [id, target, image, label, annotator] in &retractions {
        let found: Option<(String, String, String, String)> = undone
            .query_row([target], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        match found {
            None => {
                return Err(refused(
                    path,
                    format!("event {id} retracts event {target}, which is in neither file"),
                ));
            }
            Some((i, l, a, ans))
                if i == *image && l == *label && a == *annotator && ans != "retract" => {}
            Some(_) => {
                return Err(refused(
                    path,
                    format!(
                        "event {id} by {annotator} retracts event {target}, which is not an \
                         answer of theirs to the same image and label"
                    ),
                ));
            }
        }
    }
    r.new_events = per_annotator.values().map(|c| c.0).sum();
    r.duplicate_events = per_annotator.values().map(|c| c.1).sum();
    r.annotators = per_annotator
        .into_iter()
        .map(
            |(annotator, (new_events, duplicate_events))| AnnotatorMerge {
                annotator,
                new_events,
                duplicate_events,
            },
        )
        .collect();
    r.annotators.sort_by(|a, b| a.annotator.cmp(&b.annotator));

    // Flags: the same union by id.
    {
        let mut stmt = src
            .conn
            .prepare("SELECT id, image, kind, note, annotator, session, created_at FROM flags")
            .map_err(sq)?;
        let mut rows = stmt.query([]).map_err(sq)?;
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO flags(id, image, kind, note, annotator, session, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut existing = tx.prepare_cached(
            "SELECT id, image, kind, note, annotator, session, created_at FROM flags
             WHERE id = ?1",
        )?;
        while let Some(row) = rows.next().map_err(sq)? {
            let f = Fields::new(path, row, "flags");
            let id = f.event_id(0)?;
            let image = f.text(1)?;
            let kind = f.text(2)?;
            if !matches!(kind, "broken" | "ambiguous" | "expert" | "clear") {
                return Err(refused(
                    path,
                    format!("flag {id}: kind `{kind}` is not broken, ambiguous, expert or clear"),
                ));
            }
            if !state.images.contains_key(image) {
                return Err(refused(
                    path,
                    format!(
                        "flag {id} names image `{image}`, which is neither in {} nor in the \
                         source's images",
                        target_path.display()
                    ),
                ));
            }
            let values = (f.text(3)?, f.nonempty_text(4)?, f.text(5)?, f.int(6)?);
            if insert.execute(params![
                id, image, kind, values.0, values.1, values.2, values.3
            ])? == 1
            {
                r.new_flags += 1;
                continue;
            }
            r.duplicate_flags += 1;
            let same = existing.query_row([id], |t| {
                for i in 1..7 {
                    if t.get_ref(i)? != row.get_ref(i)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            })?;
            if !same {
                return Err(refused(
                    path,
                    format!(
                        "flag {id} is also in {} with different content; one of the two files \
                         was altered",
                        target_path.display()
                    ),
                ));
            }
        }
    }
    super::classify::merge_source(tx, src, target_path, &state.images, &state.classes, r)?;
    Ok(())
}

/// Judgment events read and checked, waiting to be written to the target many at a time.
///
/// The judgments table's `CHECK (answer IN (...))` makes SQLite build a small temporary index
/// each time an INSERT statement runs; written one event per statement, that took more time than
/// the inserts themselves. One statement per batch keeps every check, of the schema and of the
/// merge; the ids the target already has are looked up first, so each event is still known to
/// be new or a duplicate.
#[derive(Default)]
struct EventBatch<'c> {
    /// The events' text, end to end; each event holds ranges into it.
    text: String,
    events: Vec<PendingEvent>,
    /// Whether each event was new to the target, filled in by [`EventBatch::write`].
    added: Vec<bool>,
    /// The ids of the batch the target already has, sorted.
    present: Vec<[u8; 36]>,
    /// The lookup and the INSERT of a full batch, prepared once.
    full: Option<(Statement<'c>, Statement<'c>)>,
}

struct PendingEvent {
    id: Range<usize>,
    image: Range<usize>,
    label: Range<usize>,
    answer: Range<usize>,
    retracts: Option<Range<usize>>,
    annotator: Range<usize>,
    session: Range<usize>,
    origin: Range<usize>,
    created_at: i64,
    elapsed_ms: Option<i64>,
    image_id: i64,
    class: u32,
}

impl<'c> EventBatch<'c> {
    /// Events per INSERT: 10 values each, far below SQLite's 32,766 parameters.
    const SIZE: usize = 100;

    fn push(
        &mut self,
        [id, image, label, answer]: [&str; 4],
        retracts: Option<&str>,
        [annotator, session, origin]: [&str; 3],
        (created_at, elapsed_ms): (i64, Option<i64>),
        (image_id, class): (i64, u32),
    ) {
        let mut add = |t: &str| {
            let start = self.text.len();
            self.text.push_str(t);
            start..self.text.len()
        };
        let event = PendingEvent {
            id: add(id),
            image: add(image),
            label: add(label),
            answer: add(answer),
            retracts: retracts.map(&mut add),
            annotator: add(annotator),
            session: add(session),
            origin: add(origin),
            created_at,
            elapsed_ms,
            image_id,
            class,
        };
        self.events.push(event);
    }

    fn is_full(&self) -> bool {
        self.events.len() >= Self::SIZE
    }

    fn clear(&mut self) {
        self.text.clear();
        self.events.clear();
        self.added.clear();
    }

    fn str(&self, range: &Range<usize>) -> &str {
        &self.text[range.clone()]
    }

    /// The event's values in the order of the judgments table's columns after `id`.
    fn values(&self, e: &PendingEvent) -> [ValueRef<'_>; 9] {
        let text = |r: &Range<usize>| ValueRef::Text(self.str(r).as_bytes());
        [
            text(&e.image),
            text(&e.label),
            text(&e.answer),
            e.retracts.as_ref().map_or(ValueRef::Null, text),
            text(&e.annotator),
            text(&e.session),
            ValueRef::Integer(e.created_at),
            e.elapsed_ms.map_or(ValueRef::Null, ValueRef::Integer),
            text(&e.origin),
        ]
    }

    /// Finds which events the target already has, fills in `added`, and writes the new ones.
    fn write(&mut self, tx: &'c Connection) -> Result<()> {
        self.added.clear();
        let n = self.events.len();
        if n == 0 {
            return Ok(());
        }
        // A full batch reuses its statements: preparing 1,000 parameters and clearing them
        // again each time cost as much as a tenth of the merge.
        let full = n == Self::SIZE;
        let (mut present, mut insert) = match self.full.take() {
            Some(statements) if full => statements,
            kept => {
                self.full = kept;
                let marks = vec!["?"; n].join(",");
                let rows = vec!["(?,?,?,?,?,?,?,?,?,?)"; n].join(",");
                (
                    // Asked first rather than with `RETURNING id`, which SQLite runs as a
                    // trigger, once per row.
                    tx.prepare(&format!("SELECT id FROM judgments WHERE id IN ({marks})"))?,
                    tx.prepare(&format!(
                        "INSERT OR IGNORE INTO judgments(id, image, label, answer, retracts, \
                         annotator, session, created_at, elapsed_ms, origin) VALUES {rows}"
                    ))?,
                )
            }
        };
        for (i, e) in self.events.iter().enumerate() {
            present.raw_bind_parameter(i + 1, self.str(&e.id))?;
        }
        self.present.clear();
        let mut rows = present.raw_query();
        while let Some(row) = rows.next()? {
            let id = match row.get_ref(0)? {
                ValueRef::Text(t) => <[u8; 36]>::try_from(t).ok(),
                _ => None,
            };
            self.present.push(id.ok_or_else(|| {
                Error::msg("the target holds an event id that is not a UUID".to_string())
            })?);
        }
        drop(rows);
        self.present.sort_unstable();
        for e in &self.events {
            let id = self.str(&e.id).as_bytes();
            let known =
                <&[u8; 36]>::try_from(id).is_ok_and(|id| self.present.binary_search(id).is_ok());
            self.added.push(!known);
        }
        let new = self.added.iter().filter(|&&a| a).count();
        if new > 0 {
            for (i, e) in self.events.iter().enumerate() {
                insert.raw_bind_parameter(i * 10 + 1, self.str(&e.id))?;
                for (c, v) in self.values(e).into_iter().enumerate() {
                    insert.raw_bind_parameter(i * 10 + c + 2, ToSqlOutput::Borrowed(v))?;
                }
            }
            let written = insert.raw_execute()?;
            if written != new {
                return Err(Error::msg(format!(
                    "merge: {new} events were missing from the target but {written} were written"
                )));
            }
        }
        if full {
            self.full = Some((present, insert));
        }
        Ok(())
    }
}

fn write_log(tx: &Transaction<'_>, r: &SourceReport) -> Result<()> {
    let annotators: BTreeMap<&str, u64> = r
        .annotators
        .iter()
        .map(|a| (a.annotator.as_str(), a.new_events))
        .collect();
    let file = r
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| r.path.display().to_string());
    tx.execute(
        "INSERT INTO merge_log(merged_at, source_file, source_uuid, source_schema, annotators,
                               new_events, duplicate_events, new_flags, new_images, new_models,
                               new_predictions, conflicts_kept)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            now_rfc3339(),
            file,
            r.project_uuid,
            r.schema_version,
            serde_json::to_string(&annotators).map_err(|e| Error::msg(e.to_string()))?,
            r.new_events,
            r.duplicate_events,
            r.new_flags,
            r.new_images,
            r.new_models.len() as u64,
            r.new_predictions,
            r.conflicts.len() as u64
        ],
    )?;
    super::classify::log_merge(tx, r)?;
    Ok(())
}

/// Typed access to one source row: each value must have the type labelvet writes (SQLite does
/// not enforce declared types, so a crafted file could hold anything), and a wrong one is named.
struct Fields<'a, 'r> {
    path: &'a Path,
    row: &'a Row<'r>,
    table: &'static str,
}

impl<'a, 'r> Fields<'a, 'r> {
    fn new(path: &'a Path, row: &'a Row<'r>, table: &'static str) -> Self {
        Fields { path, row, table }
    }

    fn get(&self, i: usize) -> Result<ValueRef<'a>> {
        self.row
            .get_ref(i)
            .map_err(|e| refused(self.path, describe(&e)))
    }

    fn bad(&self, i: usize, what: &str) -> Error {
        let column = self.row.as_ref().column_name(i).unwrap_or("?").to_string();
        let id = match self.row.get_ref(0) {
            Ok(ValueRef::Text(t)) => String::from_utf8_lossy(t).into_owned(),
            Ok(ValueRef::Integer(n)) => n.to_string(),
            _ => "?".into(),
        };
        refused(
            self.path,
            format!("{} row {id}: column {column} {what}", self.table),
        )
    }

    fn text(&self, i: usize) -> Result<&'a str> {
        match self.get(i)? {
            ValueRef::Text(t) => {
                std::str::from_utf8(t).map_err(|_| self.bad(i, "is not valid UTF-8"))
            }
            _ => Err(self.bad(i, "is not text")),
        }
    }

    fn nonempty_text(&self, i: usize) -> Result<&'a str> {
        let t = self.text(i)?;
        if t.trim().is_empty() {
            return Err(self.bad(i, "is empty"));
        }
        Ok(t)
    }

    fn opt_text(&self, i: usize) -> Result<Option<&'a str>> {
        match self.get(i)? {
            ValueRef::Null => Ok(None),
            _ => self.text(i).map(Some),
        }
    }

    fn int(&self, i: usize) -> Result<i64> {
        match self.get(i)? {
            ValueRef::Integer(n) => Ok(n),
            _ => Err(self.bad(i, "is not an integer")),
        }
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match self.get(i)? {
            ValueRef::Null => Ok(None),
            _ => self.int(i).map(Some),
        }
    }

    fn opt_count(&self, i: usize) -> Result<Option<i64>> {
        match self.opt_int(i)? {
            Some(n) if n < 0 => Err(self.bad(i, "is negative")),
            n => Ok(n),
        }
    }

    /// An event id: a UUID in its canonical lowercase hyphenated form, so one event cannot
    /// come in twice under two spellings of its id.
    fn event_id(&self, i: usize) -> Result<&'a str> {
        let id = self.text(i)?;
        let canonical = uuid::Uuid::try_parse(id).is_ok_and(|u| {
            let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
            u.hyphenated().encode_lower(&mut buf) == id
        });
        if !canonical {
            return Err(self.bad(i, "is not a lowercase hyphenated UUID"));
        }
        Ok(id)
    }
}
