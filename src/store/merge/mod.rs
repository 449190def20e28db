//! Merging annotators' files into a project: the union of their append-only events, plus the
//! images, models and predictions a source has and the target lacks.
//!
//! The merge is a folder: this module orchestrates (opening and checking every source,
//! one transaction, the merge log), [`assets`] brings images, models and predictions, and
//! [`events`] is the one union of every event kind that `store::events` declares.
//!
//! Events carry global ids and are only ever added, so a merge is `INSERT OR IGNORE` by id: merging in any order, any number of times, gives the same events and so the same
//! current answers. What keeps that true against damaged or crafted files:
//! - every source is opened and checked by [`SourceFile::open`] (read-only, `trusted_schema`
//!   off, integrity and the exact schema checked: `store::untrusted` holds those rules) before
//!   the target is touched, and read through its own read-only connection; the target is
//!   written through its own;
//! - an id present on both sides with different content is refused, not silently resolved by
//!   whichever file came first (that would make the result depend on the order);
//! - every event must name an image the target has after the merge and a class of the target's
//!   vocabulary, with a valid answer; a retraction must undo an event of the same annotator on
//!   the same question;
//! - one image key with different bytes (SHA-256) on the two sides is a conflict that stops the
//!   merge, unless the caller keeps the target's side;
//! - all sources go in one transaction, so an error or a killed process leaves the target as it
//!   was. A dry run is the same transaction rolled back: it reports exactly what a merge would do.
//!   A large merge is that transaction rolled back too, once it passed, and then written again
//!   through a rollback journal, where the WAL would write each new page twice ([`Checked`]).
//!
//! A source may be a pack (`store::pack`): its rows are read as the project rows they stand for
//! (`store::pack_read`) and go through the same checks, and the classes it names must be the
//! target's as the pack records them.
//!
//! Integer row ids never cross files: source images and models are mapped to the target's by key
//! and name. Candidates are derived data, never copied: each new original label, prediction and
//! answered label adds its candidate, which equals a rebuild since a merge only adds inputs.

mod assets;
mod events;
mod opening;
mod pending;

use std::borrow::Cow;
use std::collections::BTreeMap;

// The merge looks up every event's id, image, label and annotator, and notes every answer's
// (image, label): hashbrown's default hasher (foldhash, seeded at random per map, so that no
// file can be made ahead to collide) costs a fraction of SipHash, which was a sixth of the
// merge thread's time on 100 packs.
use hashbrown::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use super::events::{KINDS, Kind};
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
    /// Accept new events of annotators other than the one a checkout was made for.
    pub allow_other_annotators: bool,
    /// From how many new events on the merge checks first and then writes through a rollback
    /// journal (see [`Checked`]); `None` for the default, [`TWO_PASS_FROM`]. For tests, which
    /// need both ways on small files.
    #[doc(hidden)]
    pub two_pass_from: Option<u64>,
    /// Called with the target's path between the two passes of a merge that takes them. For
    /// tests: another process's write at that moment.
    #[doc(hidden)]
    pub between_passes: Option<fn(&Path)>,
}

/// New events (of all kinds, all sources together) from which a merge is made in two passes
/// (see [`Checked`]). Below it, the WAL's second copy of each page costs less than switching
/// the journal twice, with its syncs, and than holding the file for this connection alone.
pub const TWO_PASS_FROM: u64 = 50_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageConflict {
    pub key: String,
    pub target_sha256: String,
    pub source_sha256: String,
}

/// New and already present events of one kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub new: u64,
    /// Events the target already had.
    pub duplicate: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.new += o.new;
        self.duplicate += o.duplicate;
    }
}

/// Counts per event kind, keyed by the kind's table (`judgments`, `flags`, `classify`, ...):
/// every kind of [`KINDS`] is counted from its declaration alone, so a new kind needs nothing
/// here.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct KindCounts(BTreeMap<&'static str, Counts>);

impl KindCounts {
    /// The counts of `kind` (zero when none came).
    pub fn of(&self, kind: &Kind) -> Counts {
        self.get(kind.table)
    }

    /// The counts of the kind kept in `table` (zero when none came).
    pub fn get(&self, table: &str) -> Counts {
        self.0.get(table).copied().unwrap_or_default()
    }

    pub(crate) fn add(&mut self, kind: &Kind, c: Counts) {
        *self.0.entry(kind.table).or_default() += c;
    }

    /// Every kind with its counts, in [`KINDS`] order, those with none included.
    pub fn by_kind(&self) -> impl Iterator<Item = (&'static Kind, Counts)> + '_ {
        KINDS.iter().map(|k| (*k, self.of(k)))
    }

    /// The answers' counts: the first kind of [`KINDS`], the judgments.
    pub fn answers(&self) -> Counts {
        self.of(KINDS[0])
    }

    /// All kinds together.
    pub fn total(&self) -> Counts {
        let mut t = Counts::default();
        for c in self.0.values() {
            t += *c;
        }
        t
    }
}

/// One annotator's events in a source, of every kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnnotatorMerge {
    pub annotator: String,
    pub events: KindCounts,
}

/// What one source brought (or, in a dry run, would bring).
#[derive(Clone, Debug, Default)]
pub struct SourceReport {
    pub path: PathBuf,
    pub project_uuid: String,
    pub same_project: bool,
    pub schema_version: i64,
    /// The source is a pack (`labelvet pack`), not an annotator's or project's full file.
    pub pack: bool,
    pub vocab_differs: bool,
    /// A sidecar log recovered into a private copy, as a sentence.
    pub recovered: Option<String>,
    /// Annotators with events of any kind in the source, by name.
    pub annotators: Vec<AnnotatorMerge>,
    /// New and already present events of each kind.
    pub events: KindCounts,
    pub new_images: u64,
    pub conflicts: Vec<ImageConflict>,
    /// New events on images in conflict (brought in with the target's image record), of the
    /// kinds whose log counts them (`Log::answers`).
    pub events_on_conflicts: u64,
    pub new_models: Vec<String>,
    /// Models both sides have from different imports: only predictions the target lacked came.
    pub differing_models: Vec<String>,
    pub new_predictions: u64,
}

impl SourceReport {
    /// The answers' counts: the first kind of [`KINDS`], the judgments.
    pub fn answers(&self) -> Counts {
        self.events.answers()
    }
}

#[derive(Clone, Debug, Default)]
pub struct MergeReport {
    pub target: PathBuf,
    pub sources: Vec<SourceReport>,
    pub dry_run: bool,
    pub keep_target: bool,
}

impl MergeReport {
    /// Every kind's counts, all sources together.
    pub fn events(&self) -> KindCounts {
        let mut all = KindCounts::default();
        for s in &self.sources {
            for (k, c) in s.events.by_kind() {
                all.add(k, c);
            }
        }
        all
    }

    /// New judgment events, all sources together.
    pub fn new_events(&self) -> u64 {
        self.sources.iter().map(|s| s.answers().new).sum()
    }

    /// Judgment events the target already had, all sources together.
    pub fn duplicate_events(&self) -> u64 {
        self.sources.iter().map(|s| s.answers().duplicate).sum()
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
    /// Annotator and how many of their events this merge added (of every kind; judgments
    /// only in entries written before the count covered every kind).
    pub annotators: Vec<(String, u64)>,
    /// Each kind's counts, from the log columns its declaration names (`Log`): 0 where its
    /// log keeps no count of events already present, and in entries written before the kind
    /// was logged.
    pub events: KindCounts,
    pub new_images: u64,
    pub new_models: u64,
    pub new_predictions: u64,
    pub conflicts_kept: u64,
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
        self.named(|| {
            let mut columns: Vec<&str> = Vec::new();
            for k in KINDS {
                columns.push(k.log.new);
                columns.extend(k.log.duplicate);
            }
            let mut stmt = self.conn.prepare(&format!(
                "SELECT merged_at, source_file, source_uuid, source_schema, annotators, new_images,
                        new_models, new_predictions, conflicts_kept, {}
                 FROM merge_log ORDER BY id",
                columns.join(", ")
            ))?;
            let rows = stmt
                .query_map([], |r| {
                    let annotators: String = r.get(4)?;
                    let mut events = KindCounts::default();
                    let mut i = 9;
                    for k in KINDS {
                        let new = r.get(i)?;
                        i += 1;
                        let mut duplicate = 0;
                        if k.log.duplicate.is_some() {
                            duplicate = r.get(i)?;
                            i += 1;
                        }
                        events.add(k, Counts { new, duplicate });
                    }
                    Ok(MergeLogEntry {
                        merged_at: r.get(0)?,
                        source_file: r.get(1)?,
                        source_uuid: r.get(2)?,
                        source_schema: r.get(3)?,
                        annotators: serde_json::from_str::<BTreeMap<String, u64>>(&annotators)
                            .map(|m| m.into_iter().collect())
                            .unwrap_or_default(),
                        events,
                        new_images: r.get(5)?,
                        new_models: r.get(6)?,
                        new_predictions: r.get(7)?,
                        conflicts_kept: r.get(8)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
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
    let classes = target_classes(target)?;

    // The new events are written at the end in id order (`pending`), each page of the table
    // filled once: a page cache sized for them (it was 400 bytes per event, up to 512 MiB, when
    // they went to random places) only held memory. 16 MiB serves the lookups by id and the
    // candidates; measured on 100 packs, larger caches cost as much time and more memory.
    let cache_mib = 16;
    let cache_before: i64 = target
        .conn
        .pragma_query_value(None, "cache_size", |r| r.get(0))?;
    target.set_cache_mib(cache_mib)?;
    // The sources are opened and checked on helper threads while those before them are merged
    // (`opening`).
    let shared = opening::Shared::default();
    let out = std::thread::scope(|scope| {
        let files = opening::Sources::start(scope, &shared, sources, &target_id);
        merge_files(target, files, &meta, classes, opts, on_source, true)
    })
    .and_then(|merged| {
        let checked = match merged {
            Merged::Done(report) => return Ok(report),
            Merged::Checked(checked) => checked,
        };
        if let Some(hook) = opts.between_passes {
            hook(&target_path);
        }
        if let Some(report) = write_checked(target, *checked)? {
            return Ok(report);
        }
        // Another process wrote the target between the two passes: what was checked may no
        // longer hold, so the merge is made again as one pass, on what the file holds now.
        // Its sources were announced already.
        let meta = target.meta()?;
        let classes = target_classes(target)?;
        let shared = opening::Shared::default();
        std::thread::scope(|scope| {
            let files = opening::Sources::start(scope, &shared, sources, &target_id);
            merge_files(target, files, &meta, classes, opts, &mut |_| {}, false)
        })
        .map(Merged::into_report)
    });
    // The cache was for the merge; a caller that goes on gets its own back.
    target
        .conn
        .pragma_update(None, "cache_size", cache_before)?;
    out
}

/// The target's class keys, each with a small number standing for it.
fn target_classes(target: &Store) -> Result<HashMap<String, u32>> {
    Ok(target
        .conn
        .prepare("SELECT key FROM classes ORDER BY key")?
        .query_map([], |r| r.get(0))?
        .enumerate()
        .map(|(i, k)| k.map(|k| (k, i as u32)))
        .collect::<rusqlite::Result<_>>()?)
}

/// How [`merge_files`] ended.
enum Merged {
    /// Committed, or rolled back as a dry run.
    Done(MergeReport),
    /// Every source checked and merged in a transaction that was then rolled back, to be
    /// written by [`write_checked`].
    Checked(Box<Checked>),
}

impl Merged {
    fn into_report(self) -> MergeReport {
        match self {
            Merged::Done(r) => r,
            Merged::Checked(c) => c.report,
        }
    }
}

/// A merge checked whole and not yet written: the first of its two passes.
///
/// A merge of many events writes them, and their indexes, as new pages. Through the WAL each
/// page is written twice (to the log, then by the checkpoint into the file); through a
/// rollback journal once, since pages added past the end of the file need no old copy. But the
/// switch to a rollback journal and back is itself a write to the file's header, and a merge
/// that is refused must leave the target byte for byte as it was. So a large merge is made
/// twice: first in WAL mode as always, every source read, checked and merged, in a transaction
/// that is rolled back, nothing written to the file, whether it passed or was refused (a
/// refusal ends there, as before). Then, if it passed, the same writes go in through a
/// rollback journal, in one transaction: the few rows the sources' merges wrote on the way
/// ([`Written`]), and the new events held in memory ([`pending`]).
///
/// Between the passes no lock is held (the journal mode cannot change inside a transaction);
/// `PRAGMA data_version` tells whether another connection wrote the file meanwhile, and then
/// the merge is made again in one pass.
struct Checked {
    report: MergeReport,
    pending: Vec<pending::Pending>,
    /// Events coming in per kind, as [`drop_indexes`] takes them.
    incoming: Vec<u64>,
    written: Written,
    candidates: Candidates,
    /// Each class's key, by its number.
    keys: Vec<String>,
    /// The target's `PRAGMA data_version` once pass one was rolled back.
    data_version: i64,
}

/// The second pass of a [`Checked`] merge: `None` when another connection wrote the target
/// since the first, and nothing was written.
fn write_checked(target: &mut Store, c: Checked) -> Result<Option<MergeReport>> {
    let path = target.path().to_path_buf();
    target.with_rollback_journal(|store| {
        let conn = &store.conn;
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
            .map_err(|e| locked_or(&path, e))?;
        let now: i64 = tx.pragma_query_value(None, "data_version", |r| r.get(0))?;
        if now != c.data_version {
            return Ok(None);
        }
        c.written.replay(&tx)?;
        c.candidates.write(&tx, &c.keys)?;
        write_pending(&tx, &c.pending, &c.incoming)?;
        tx.commit().map_err(|e| locked_or(&path, e))?;
        Ok(Some(c.report))
    })
}

/// Writes the new events held in memory, with the indexes of each kind that gets more new
/// events than the target holds dropped first and built again after.
fn write_pending(
    tx: &Transaction<'_>,
    pending: &[pending::Pending],
    incoming: &[u64],
) -> Result<()> {
    let rebuild = drop_indexes(tx, incoming)?;
    for p in pending {
        p.write(tx)?;
    }
    // The indexes are built from sorted rows; SQLite's sorter may share that work with a
    // helper thread (the sorted result, and so the index, is the same). It sorts runs as large
    // as the page cache, each on a helper while the main thread reads on: SQLite built the two
    // judgments indexes of a million events in a median of 0.90 s with runs of 2 MiB, 1.00 s
    // with 4 MiB, and 1.4-1.8 s with 16 MiB (BENCHMARKS.md, twenty-first and twenty-second
    // sessions). The merge gives the cache back its size when it ends.
    tx.pragma_update(None, "cache_size", -SORT_RUN_KIB)?;
    crate::store::events::build_indexes(tx, &rebuild, 2)
}

/// The page cache while the indexes are built, in KiB: the size of the sorter's runs.
const SORT_RUN_KIB: i64 = 2 * 1024;

/// The checks a source passes before any of it is merged: its project, a pack's classes, and
/// a vocabulary that differs from the target's. `class_sums` keeps the target's class hashes
/// from one source to the next: a merge does not change the target's classes, and a hundred
/// packs name mostly the same thousand (asked of SQLite and hashed for every pack, they took
/// 8% of the merge thread's time on 100 packs).
fn check_source(
    conn: &Connection,
    path: &Path,
    src: &SourceFile,
    meta: &super::Meta,
    classes: &HashMap<String, u32>,
    class_sums: &mut HashMap<String, Option<[u8; 32]>>,
    opts: &MergeOptions,
) -> Result<()> {
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
    // A pack names the classes its events use with their content hashes: under the same
    // vocabulary they are the target's, or the pack was altered.
    if let Some(sums) = &src.pack_classes
        && src.vocab_digest() == meta.vocab_digest
    {
        for (key, sum) in sums {
            let target_sum = match class_sums.get(key) {
                Some(known) => *known,
                None => {
                    let known = super::pack::class_sha256(conn, key)?;
                    class_sums.insert(key.clone(), known);
                    known
                }
            };
            if target_sum.as_ref() != Some(sum) {
                return Err(refused(
                    path,
                    format!(
                        "class `{}` is not the target's as the pack records it (its content \
                         hash differs, under the same vocabulary): the pack was altered",
                        crate::text::display(key)
                    ),
                ));
            }
        }
    }
    // Every row's label is checked against the target's classes as it is read; a source
    // that says its vocabulary differs is first checked whole, to name all it lacks at once.
    if src.vocab_digest() != meta.vocab_digest {
        check_classes(src, classes)?;
    }
    Ok(())
}

/// The events of each kind (in `KINDS` order) a source brings.
fn source_counts(src: &SourceFile) -> Result<Vec<u64>> {
    KINDS.iter().map(|k| src.count(k)).collect()
}

/// Why a merge stops, other than a source that fails to open or its checks (which is reported
/// at once): such a failure waits until every source is opened and checked, as when they all
/// were before the target was touched, and the first of the lowest rank stands.
struct Stop {
    /// 0: a source's events could not be counted (it was done for every source before the
    /// target was touched); 1: the target, or the merge of a source.
    rank: u8,
    error: Error,
}

/// The write half of [`merge`]: all sources, one transaction, each source merged as soon as
/// it is open and checked.
fn merge_files(
    target: &mut Store,
    mut files: opening::Sources<'_>,
    meta: &super::Meta,
    classes: HashMap<String, u32>,
    opts: &MergeOptions,
    on_source: &mut dyn FnMut(&SourceReport),
    two_pass: bool,
) -> Result<Merged> {
    let target_path = target.path().to_path_buf();
    let n = files.len();
    let mut report = MergeReport {
        target: target_path.clone(),
        sources: Vec::new(),
        dry_run: opts.dry_run,
        keep_target: opts.keep_target,
    };
    // Events coming in, per kind (in `KINDS` order).
    let mut incoming = vec![0u64; KINDS.len()];
    let mut stop: Option<Stop> = None;
    let fail = |stop: &mut Option<Stop>, rank: u8, error: Error| {
        if stop.as_ref().is_none_or(|s| rank < s.rank) {
            *stop = Some(Stop { rank, error });
        }
    };
    // The target's class hashes, as packs' checks ask for them.
    let mut class_sums = HashMap::new();
    // Sources opened and checked, not yet merged.
    let mut ready: std::collections::VecDeque<SourceFile> = std::collections::VecDeque::new();
    let mut checked = 0;
    // Reports handed to `on_source` so far: a source is announced once every source has passed.
    let mut announced = 0;

    // The transaction is the target connection's own; the sources' checks that read the
    // target (a pack's classes) go through the same connection, inside it.
    let conn: &Connection = &target.conn;
    let begun = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
        .map_err(|e| locked_or(&target_path, e));
    let (tx, mut state) = match begun.and_then(|tx| {
        let mut state = TargetState::begin(&tx, classes.clone(), opts)?;
        // What the sources' merges write besides their events, for a second pass (`Checked`);
        // whether there will be one is known at the end.
        if two_pass && !opts.dry_run {
            state.written = Some(Written::new(&tx));
        }
        Ok((tx, state))
    }) {
        Ok((tx, state)) => (Some(tx), Some(state)),
        Err(e) => {
            fail(&mut stop, 1, e);
            (None, None)
        }
    };
    let mut merged = 0;
    loop {
        // Every source opened by now is checked, in order; the next one to merge is waited for.
        while checked < n {
            files.allow(merged, stop.is_some());
            let wait = stop.is_some() || checked == merged;
            let Some((path, opened)) = files.take(checked, wait) else {
                break;
            };
            let src = opened?;
            check_source(conn, path, &src, meta, &classes, &mut class_sums, opts)?;
            match source_counts(&src) {
                Ok(c) => {
                    for (all, c) in incoming.iter_mut().zip(c) {
                        *all += c;
                    }
                }
                Err(e) => fail(&mut stop, 0, e),
            }
            checked += 1;
            if stop.is_none() {
                ready.push_back(src);
            }
        }
        if let Some(s) = stop.take() {
            if checked < n {
                stop = Some(s);
                continue;
            }
            // Every source passed; what failed is the target or a source's merge, after the
            // sources before it were merged and announced.
            if s.rank == 1 {
                for r in &report.sources[announced..] {
                    on_source(r);
                }
            }
            return Err(s.error);
        }
        if checked == n {
            for r in &report.sources[announced..] {
                on_source(r);
            }
            announced = report.sources.len();
        }
        let Some(mut src) = ready.pop_front() else {
            break;
        };
        let (Some(tx), Some(state)) = (&tx, &mut state) else {
            unreachable!("no source is ready once the target failed");
        };
        let mut r = SourceReport {
            path: src.path.clone(),
            project_uuid: src.project_uuid().to_string(),
            same_project: src.project_uuid() == meta.project_uuid,
            schema_version: src.schema_version,
            pack: src.pack_classes.is_some(),
            vocab_differs: src.vocab_digest() != meta.vocab_digest,
            recovered: src.recovered.clone(),
            ..SourceReport::default()
        };
        let done = merge_one(tx, state, &src, &target_path, &mut r).and_then(|()| {
            if !r.conflicts.is_empty() && !opts.keep_target && !opts.dry_run {
                return Err(conflict_error(&src.path, &r.conflicts));
            }
            if !opts.dry_run {
                write_log(tx, state, &r)?;
            }
            Ok(())
        });
        // A pack's rows, read when it was opened, are not needed again.
        src.pack = None;
        drop(src);
        merged += 1;
        if let Err(e) = done {
            fail(&mut stop, 1, e);
            continue;
        }
        if checked == n {
            on_source(&r);
            announced += 1;
        }
        report.sources.push(r);
    }
    let (Some(tx), Some(mut state)) = (tx, state) else {
        unreachable!("the target failed and no error was returned");
    };
    if opts.dry_run {
        tx.rollback()?;
        return Ok(Merged::Done(report));
    }
    let new: u64 = state.pending.iter().map(|p| p.len() as u64).sum();
    let mut keys = vec![String::new(); state.classes.len()];
    for (key, &i) in &state.classes {
        keys[i as usize].clone_from(key);
    }
    if let Some(written) = state.written.take()
        && new >= opts.two_pass_from.unwrap_or(TWO_PASS_FROM)
        && written.is_complete(conn)
    {
        tx.rollback()?;
        let data_version = conn.pragma_query_value(None, "data_version", |r| r.get(0))?;
        return Ok(Merged::Checked(Box::new(Checked {
            report,
            pending: state.pending,
            incoming,
            written,
            candidates: state.new_candidates,
            keys,
            data_version,
        })));
    }
    state.new_candidates.write(&tx, &keys)?;
    write_pending(&tx, &state.pending, &incoming)?;
    tx.commit().map_err(|e| locked_or(&target_path, e))?;
    Ok(Merged::Done(report))
}

/// When more events of a kind come in than the target holds, dropping the kind's secondary
/// indexes and building them again from sorted rows at the end costs less than inserting each
/// event into them at a random place (about half the time for a first merge of a team's files).
/// Nothing is written to the event tables before the new events (`pending`), and the merge
/// only looks events up by id, the primary key. Returns the dropped indexes' statements, from
/// the target's own schema, so that it stays statement for statement what it was.
fn drop_indexes(tx: &Transaction<'_>, incoming: &[u64]) -> Result<Vec<(String, String)>> {
    let mut dropped = Vec::new();
    for (kind, &n) in KINDS.iter().zip(incoming) {
        // Whether the target holds at least `n` events of the kind, counted no further.
        let has: u64 = tx.query_row(
            &format!(
                "SELECT count(*) FROM (SELECT 1 FROM {} LIMIT ?1)",
                kind.table
            ),
            [n as i64],
            |r| r.get(0),
        )?;
        if n <= has {
            continue;
        }
        dropped.extend(crate::store::events::drop_secondary_indexes(tx, kind)?);
    }
    Ok(dropped)
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
    let mut missing = Vec::new();
    if let Some(pack) = &src.pack {
        // The same values as the full file's query below: each kind's candidate column and the
        // images' original labels, each once, in order (a pack has no predictions).
        let mut named: std::collections::BTreeSet<&[u8]> = std::collections::BTreeSet::new();
        for (i, k) in KINDS.iter().enumerate() {
            if let Some(c) = k.candidate {
                for v in pack.column_strings(i, k.index_of(c)) {
                    if let ValueRef::Text(t) = v {
                        named.insert(t);
                    }
                }
            }
        }
        for i in 0..pack.images.len() {
            if let (ValueRef::Text(t), _) = pack.value(&pack.images.row(i)[3]) {
                named.insert(t);
            }
        }
        for t in named {
            let t = String::from_utf8_lossy(t);
            if !classes.contains_key(t.as_ref()) {
                missing.push(t.into_owned());
            }
        }
        return missing_classes(src, missing);
    }
    let sq = |e: rusqlite::Error| refused(&src.path, describe(&e));
    src.check_table("predictions")?;
    let mut sql: String = KINDS
        .iter()
        .filter_map(|k| {
            k.candidate
                .map(|c| format!("SELECT {c} FROM {} UNION ", k.table))
        })
        .collect();
    sql.push_str(
        "SELECT label FROM predictions
         UNION SELECT original_label FROM images WHERE original_label IS NOT NULL",
    );
    let mut stmt = src.conn.prepare(&sql).map_err(sq)?;
    let mut rows = stmt.query([]).map_err(sq)?;
    while let Some(row) = rows.next().map_err(sq)? {
        match row.get_ref(0).map_err(sq)? {
            ValueRef::Text(t) if classes.contains_key(String::from_utf8_lossy(t).as_ref()) => {}
            ValueRef::Text(t) => missing.push(String::from_utf8_lossy(t).into_owned()),
            other => missing.push(format!("{other:?}")),
        }
    }
    missing_classes(src, missing)
}

/// Refuses `src` when it uses classes the target lacks (`missing`), naming them.
fn missing_classes(src: &SourceFile, mut missing: Vec<String>) -> Result<()> {
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
    /// (image id, class) pairs this merge makes sure are candidates: most answers are to
    /// labels already asked about, so each pair is written once, not once per event.
    candidates: HashSet<(i64, u32)>,
    /// Those pairs in the order they came, with whether the label is the image's original,
    /// written once all sources are in (see [`Candidates`]).
    new_candidates: Candidates,
    /// Every annotator name of the target and of the sources merged so far: a new one must be
    /// NFC and must not look like another ([`crate::text::NameSet`]).
    names: crate::text::NameSet,
    /// `MergeOptions::allow_other_annotators`.
    allow_other_annotators: bool,
    /// Per kind of [`KINDS`], whether the target held events of it when the merge began.
    target_has: Vec<bool>,
    /// Per kind of [`KINDS`], the new events of the sources merged so far, written once all
    /// are in (see [`pending`]).
    pending: Vec<pending::Pending>,
    /// The other rows written, when the merge may take a second pass.
    written: Option<Written>,
}

impl TargetState {
    /// What the merge needs of the target, read at the start of its transaction.
    fn begin(
        tx: &Connection,
        classes: HashMap<String, u32>,
        opts: &MergeOptions,
    ) -> Result<TargetState> {
        let names = crate::store::events::annotator_names(tx)?;
        let target_has = KINDS
            .iter()
            .map(|k| {
                tx.query_row(
                    &format!("SELECT EXISTS (SELECT 1 FROM {})", k.table),
                    [],
                    |r| r.get(0),
                )
            })
            .collect::<rusqlite::Result<Vec<bool>>>()?;
        let images = tx
            .prepare("SELECT key, id, sha256 FROM images")?
            .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?
            .collect::<rusqlite::Result<_>>()?;
        let models = tx
            .prepare("SELECT name, id, source, imported_at FROM models")?
            .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?))))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(TargetState {
            classes,
            images,
            models,
            candidates: HashSet::new(),
            new_candidates: Candidates::default(),
            names: crate::text::NameSet::new(names.iter().map(String::as_str)),
            allow_other_annotators: opts.allow_other_annotators,
            target_has,
            pending: KINDS.iter().map(|k| pending::Pending::new(k)).collect(),
            written: None,
        })
    }

    /// The class's number, or `None` when the target has no such class.
    fn class(&self, key: &str) -> Option<u32> {
        self.classes.get(key).copied()
    }

    /// Makes (image, class) a candidate of the target, unless this merge already did.
    fn candidate(&mut self, image_id: i64, class: u32, original: bool) {
        if self.candidates.insert((image_id, class)) {
            self.new_candidates.0.push((image_id, class, original));
        }
    }

    /// Notes a row just written by `sql` with `values`, if the merge may take a second pass.
    fn wrote(&mut self, sql: impl Into<Cow<'static, str>>, values: impl FnOnce() -> Vec<Value>) {
        if let Some(w) = &mut self.written {
            w.rows.push((sql.into(), values()));
        }
    }
}

/// The candidates the sources' images, predictions and answers make, written after every
/// source is in, like the events: in the first pass of a merge that takes two, not at all.
/// Nothing in the merge reads them back, and a pair the target has already is left as it is
/// (`INSERT OR IGNORE`), as when each was written at once. In (image, label) order, the order
/// of the table's key, each page is filled in one go: a first merge of ReaL's answers adds
/// 160,000 candidates at random places otherwise.
#[derive(Default)]
struct Candidates(Vec<(i64, u32, bool)>);

impl Candidates {
    /// `keys`: each class's key, by its number (numbers follow the keys' order).
    fn write(mut self, tx: &Connection, keys: &[String]) -> Result<()> {
        self.0
            .sort_unstable_by_key(|&(image, class, _)| (image, class));
        let mut insert = tx.prepare_cached(crate::store::predictions::INSERT_CANDIDATE)?;
        for (image, class, original) in self.0 {
            insert.execute(params![image, &keys[class as usize], original])?;
        }
        Ok(())
    }
}

/// The rows the first pass of a merge wrote besides the events and candidates (images,
/// models, predictions, the merge log), to be written again by its second ([`Checked`]). Each is kept
/// as the statement that inserts it, with its row id where its table has one, so that it comes
/// out the same.
struct Written {
    rows: Vec<(Cow<'static, str>, Vec<Value>)>,
    /// The connection's `total_changes()` when the merge began.
    changes_before: u64,
}

impl Written {
    fn new(conn: &Connection) -> Written {
        Written {
            rows: Vec::new(),
            changes_before: conn.total_changes(),
        }
    }

    /// Whether every row the transaction changed was noted: a write the merge makes without
    /// noting it would be lost in the second pass, so then there is none. (Tests take two
    /// passes on every kind of source, and see that they did.)
    fn is_complete(&self, conn: &Connection) -> bool {
        let changed = conn.total_changes() - self.changes_before;
        debug_assert_eq!(
            changed,
            self.rows.len() as u64,
            "a merge's write was not noted"
        );
        changed == self.rows.len() as u64
    }

    /// Writes the rows again. The target is as the first pass found it, so each is new to it.
    fn replay(&self, tx: &Connection) -> Result<()> {
        for (sql, values) in &self.rows {
            let n = tx
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(values))?;
            if n != 1 {
                return Err(Error::msg(format!(
                    "merge: a row written in the first pass was not new in the second: {sql}"
                )));
            }
        }
        Ok(())
    }
}

/// Reads one source's rows and writes what the target lacks, filling in `r`.
fn merge_one(
    tx: &Transaction<'_>,
    state: &mut TargetState,
    src: &SourceFile,
    target_path: &Path,
    r: &mut SourceReport,
) -> Result<()> {
    let images = assets::merge_assets(tx, state, src, r)?;
    for kind in KINDS {
        events::merge_kind(
            tx,
            state,
            src,
            kind,
            target_path,
            &images.conflicted_keys,
            r,
        )?;
    }
    Ok(())
}

/// Writes the source's row of the merge log: what it brought, each event kind's counts in the
/// columns its declaration names.
fn write_log(tx: &Transaction<'_>, state: &mut TargetState, r: &SourceReport) -> Result<()> {
    let annotators: BTreeMap<&str, u64> = r
        .annotators
        .iter()
        .map(|a| (a.annotator.as_str(), a.events.total().new))
        .collect();
    let file = r
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| r.path.display().to_string());
    let mut columns = vec![
        "merged_at",
        "source_file",
        "source_uuid",
        "source_schema",
        "annotators",
        "new_images",
        "new_models",
        "new_predictions",
        "conflicts_kept",
    ];
    let mut values: Vec<rusqlite::types::Value> = vec![
        now_rfc3339().into(),
        file.into(),
        r.project_uuid.clone().into(),
        r.schema_version.into(),
        serde_json::to_string(&annotators)
            .map_err(|e| Error::msg(e.to_string()))?
            .into(),
        (r.new_images as i64).into(),
        (r.new_models.len() as i64).into(),
        (r.new_predictions as i64).into(),
        (r.conflicts.len() as i64).into(),
    ];
    for (kind, c) in r.events.by_kind() {
        columns.push(kind.log.new);
        values.push((c.new as i64).into());
        if let Some(column) = kind.log.duplicate {
            columns.push(column);
            values.push((c.duplicate as i64).into());
        }
    }
    tx.execute(
        &format!(
            "INSERT INTO merge_log({}) VALUES ({})",
            columns.join(", "),
            vec!["?"; columns.len()].join(", ")
        ),
        rusqlite::params_from_iter(&values),
    )?;
    let id = tx.last_insert_rowid();
    state.wrote(
        format!(
            "INSERT INTO merge_log(id, {}) VALUES ({})",
            columns.join(", "),
            vec!["?"; columns.len() + 1].join(", ")
        ),
        || {
            let mut all = vec![id.into()];
            all.extend(values);
            all
        },
    );
    Ok(())
}
