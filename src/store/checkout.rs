//! Annotators' files: made from the project, worked on apart, merged back.
//!
//! A checkout is a full project file (same project UUID, vocabulary, images, models,
//! predictions and candidates) that `labelvet annotate` opens like any other, holding the
//! annotator's own earlier events and flags but no one else's unless asked, so that annotators
//! answer blind to each other. `assign` makes one checkout per annotator and records in each the
//! images that annotator is given, every image going to K annotators with the counts balanced.
//!
//! Candidates are copied as the project has them (they may include labels answered by others),
//! so every annotator sees the same questions. Assignments stay in the checkout: they are a work
//! order for one file, not part of the record that merging gathers.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rusqlite::{OptionalExtension, params};

use super::carried::{Carried, Carrier};
use super::{PartialFile, Store};
use crate::error::{Error, Result};

#[derive(Clone, Debug)]
pub struct CheckoutOptions<'a> {
    pub annotator: &'a str,
    /// Copy every annotator's events and flags, not only this annotator's.
    pub with_answers: bool,
    /// The image keys the annotator is given; `None` keeps the project's own assignment of
    /// this annotator, if it has one (every image otherwise).
    pub assignment: Option<&'a [String]>,
    /// How the assignment was made, kept in the file's meta as `assignment`.
    pub assignment_note: Option<&'a str>,
    /// (image key, class key) questions left out of the file's candidates, so that its
    /// annotator is not asked them: those `--until` settles from the answers merged so far.
    /// Merging the file back leaves the project's candidates as they are.
    pub leave_out: Option<&'a [(String, String)]>,
    /// Carry the annotator's images inside the file (`--with-images`; `store::carried`).
    pub with_images: Option<Carrier<'a>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CheckoutReport {
    pub path: PathBuf,
    pub annotator: String,
    pub images: u64,
    /// Images assigned to the annotator (`None`: no assignment, every image).
    pub assigned: Option<u64>,
    pub events: u64,
    pub flags: u64,
    /// The images carried in the file, when asked for.
    pub carried: Option<Carried>,
}

/// Makes the annotator's file `out` from `project`. The file is built beside `out` and moved into
/// place at the end, so a failure leaves nothing behind; an existing `out` is never overwritten.
pub fn checkout(project: &Store, out: &Path, opts: &CheckoutOptions<'_>) -> Result<CheckoutReport> {
    check_annotator_name(opts.annotator, false)?;
    check_lookalike(project, &[opts.annotator])?;
    if out.exists() {
        return Err(Error::msg(format!(
            "{} already exists; choose another name or remove it first",
            out.display()
        )));
    }
    let source = std::fs::canonicalize(project.path()).map_err(|e| Error::io(project.path(), e))?;
    let source = source.to_str().ok_or_else(|| {
        Error::msg(format!(
            "{}: the path is not valid UTF-8; move the project to a plainer path",
            source.display()
        ))
    })?;
    let vocab = project.vocab()?;
    let partial = PartialFile::beside(out)?;
    let report = {
        let pages = if opts.with_images.is_some() {
            super::BLOB_PAGE_SIZE
        } else {
            super::PAGE_SIZE
        };
        let mut store = Store::create_with_pages(partial.path(), &vocab, pages)?;
        // Nothing waits for the disk while the file is built under its temporary name (a crash
        // leaves only that); it is synced once, whole, before it takes its real name.
        store.conn.pragma_update(None, "synchronous", "OFF")?;
        store
            .conn
            .execute("ATTACH DATABASE ?1 AS project", [source])?;
        let report = store.transaction(|tx| fill(tx, project, out, opts))?;
        store.conn.execute("DETACH DATABASE project", [])?;
        // Closing checkpoints the log into the file, so the rename moves everything.
        report
    };
    partial.finish()?;
    Ok(report)
}

/// Fills a checkout being built (`main`, with the project attached as `project`) in one
/// transaction: the project's vocabulary, images, models, predictions and candidates, the
/// events the options carry, the assignment and the checkout's meta.
fn fill(
    tx: &rusqlite::Transaction<'_>,
    project: &Store,
    out: &Path,
    opts: &CheckoutOptions<'_>,
) -> Result<CheckoutReport> {
    let annotator = opts.annotator;
    tx.execute_batch(
        "DELETE FROM main.meta;
         DELETE FROM main.classes;
         INSERT INTO main.meta(key, value) SELECT key, value FROM project.meta;
         INSERT INTO main.classes(key, idx, name, synonyms, definition, parent, path,
                                  guideline)
           SELECT key, idx, name, synonyms, definition, parent, path, guideline
           FROM project.classes;
         INSERT INTO main.images(id, key, raw_path, original_label, sha256, bytes, width,
                                 height, status, error)
           SELECT id, key, raw_path, original_label, sha256, bytes, width, height, status,
                  error FROM project.images;
         INSERT INTO main.models(id, name, source, imported_at)
           SELECT id, name, source, imported_at FROM project.models;
         INSERT INTO main.predictions(image_id, model_id, rank, label, score)
           SELECT image_id, model_id, rank, label, score FROM project.predictions;
         INSERT INTO main.candidates(image_id, label, is_original)
           SELECT image_id, label, is_original FROM project.candidates;",
    )?;
    if let Some(questions) = opts.leave_out {
        let mut delete = tx.prepare(
            "DELETE FROM main.candidates WHERE label = ?2
               AND image_id = (SELECT id FROM main.images WHERE key = ?1)",
        )?;
        for (image, label) in questions {
            delete.execute(params![image, label])?;
        }
    }
    let copied = super::events::copy_to_checkout(tx, opts.with_answers, annotator)?;
    let count = |table: &str| copied.iter().find(|c| c.0 == table).map_or(0, |c| c.1);
    let (events, flags) = (count("judgments"), count("flags"));
    match opts.assignment {
        Some(keys) => {
            let mut insert = tx.prepare(
                "INSERT OR IGNORE INTO main.assignments(annotator, image) VALUES (?1, ?2)",
            )?;
            for key in keys {
                insert.execute(params![annotator, key])?;
            }
        }
        None => {
            tx.execute(
                "INSERT INTO main.assignments(annotator, image)
                   SELECT annotator, image FROM project.assignments WHERE annotator = ?1",
                [annotator],
            )?;
        }
    }
    let carried = match &opts.with_images {
        Some(carrier) => {
            // The images given to the annotator, or every image when none are.
            let records: Vec<super::ImageRecord> = tx
                .prepare(&format!(
                    "SELECT {} FROM main.images
                     WHERE NOT EXISTS (SELECT 1 FROM main.assignments WHERE annotator = ?1)
                        OR key IN (SELECT image FROM main.assignments WHERE annotator = ?1)
                     ORDER BY key",
                    super::images::COLUMNS
                ))?
                .query_map([annotator], |r| super::images::from_row(r).map(|r| r.rec))?
                .collect::<rusqlite::Result<_>>()?;
            Some(super::carried::carry(tx, &records, carrier)?)
        }
        None => None,
    };
    let project_name = project
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut meta = vec![
        ("checkout_annotator", annotator.to_string()),
        ("checkout_of", project_name),
        ("checkout_at", super::now_rfc3339()),
    ];
    if let Some(note) = opts.assignment_note {
        meta.push(("assignment", note.to_string()));
    }
    for (k, v) in meta {
        tx.execute(
            "INSERT OR REPLACE INTO main.meta(key, value) VALUES (?1, ?2)",
            params![k, v],
        )?;
    }
    let images: u64 = tx.query_row("SELECT count(*) FROM main.images", [], |r| r.get(0))?;
    let assigned: u64 = tx.query_row(
        "SELECT count(*) FROM main.assignments WHERE annotator = ?1",
        [annotator],
        |r| r.get(0),
    )?;
    Ok(CheckoutReport {
        path: out.to_path_buf(),
        annotator: annotator.to_string(),
        images,
        assigned: (assigned > 0).then_some(assigned),
        events,
        flags,
        carried,
    })
}

#[derive(Clone, Debug)]
pub struct AssignOptions<'a> {
    pub annotators: &'a [String],
    /// How many annotators see each image.
    pub overlap: usize,
    pub seed: u64,
    pub with_answers: bool,
    /// Distribute only these image keys (a selection, in key order) instead of every image with
    /// a candidate.
    pub images: Option<&'a [String]>,
    /// What the selection was, for the files' `assignment` note (e.g. `subtree terrier`).
    pub selection: Option<&'a str>,
    /// Questions left out of every file's candidates ([`CheckoutOptions::leave_out`]).
    pub leave_out: Option<&'a [(String, String)]>,
    /// Carry each annotator's images inside their file ([`CheckoutOptions::with_images`]).
    pub with_images: Option<Carrier<'a>>,
}

/// Makes `DIR/<annotator>.db` for every annotator, each image (of the selection, when given)
/// going to `overlap` of them. Either every file is made or none is left behind.
pub fn assign(
    project: &Store,
    dir: &Path,
    opts: &AssignOptions<'_>,
) -> Result<Vec<CheckoutReport>> {
    for a in opts.annotators {
        check_annotator_name(a, true)?;
    }
    let names: Vec<&str> = opts.annotators.iter().map(String::as_str).collect();
    check_lookalike(project, &names)?;
    let images: Vec<String> = match opts.images {
        Some([]) => {
            return Err(Error::msg(format!(
                "no image of the project matches the selection ({})",
                opts.selection.unwrap_or("given")
            )));
        }
        Some(keys) => keys.to_vec(),
        None => project
            .conn
            .prepare(
                "SELECT key FROM images i
                 WHERE EXISTS (SELECT 1 FROM candidates c WHERE c.image_id = i.id) ORDER BY key",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?,
    };
    let plan = plan_assignment(&images, opts.annotators, opts.overlap, opts.seed)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let outs: Vec<PathBuf> = opts
        .annotators
        .iter()
        .map(|a| dir.join(format!("{a}.db")))
        .collect();
    let taken: Vec<String> = outs
        .iter()
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !taken.is_empty() {
        return Err(Error::msg(format!(
            "{} already exist{}; choose another folder or remove them first",
            taken.join(", "),
            if taken.len() == 1 { "s" } else { "" }
        )));
    }
    let mut reports = Vec::new();
    for ((annotator, keys), out) in opts.annotators.iter().zip(&plan).zip(&outs) {
        let mut note = format!(
            "{} of {} images, each image to {} of {} annotators ({}), seed {}",
            keys.len(),
            images.len(),
            opts.overlap,
            opts.annotators.len(),
            opts.annotators.join(", "),
            opts.seed
        );
        if let Some(sel) = opts.selection {
            note.push_str(&format!("; images selected by {sel}"));
        }
        let made = checkout(
            project,
            out,
            &CheckoutOptions {
                annotator,
                with_answers: opts.with_answers,
                assignment: Some(keys),
                assignment_note: Some(&note),
                leave_out: opts.leave_out,
                with_images: opts.with_images,
            },
        );
        match made {
            Ok(r) => reports.push(r),
            Err(e) => {
                for r in &reports {
                    remove_db_files(&r.path);
                }
                return Err(e);
            }
        }
    }
    Ok(reports)
}

/// Gives each image to `overlap` distinct annotators so that every annotator's count is within
/// one of every other's, the same for the same seed. Images are taken in a seeded random order
/// and each goes to the least-loaded annotators, ties broken at random: the least-loaded rule
/// keeps the counts within one, the random ties vary who shares images with whom (which
/// agreement figures need). Returns each annotator's keys, sorted.
pub fn plan_assignment(
    images: &[String],
    annotators: &[String],
    overlap: usize,
    seed: u64,
) -> Result<Vec<Vec<String>>> {
    let n = annotators.len();
    if n == 0 {
        return Err(Error::msg("name at least one annotator"));
    }
    let mut seen = HashSet::new();
    for a in annotators {
        if !seen.insert(a.as_str()) {
            return Err(Error::msg(format!("annotator {a} is named twice")));
        }
    }
    if overlap == 0 || overlap > n {
        return Err(Error::msg(format!(
            "--overlap must be between 1 and the number of annotators ({n}), not {overlap}"
        )));
    }
    if images.len() * overlap < n {
        return Err(Error::msg(format!(
            "{} images with candidates, each to {overlap} annotators, cannot give all {n} \
             annotators work",
            images.len()
        )));
    }
    let mut sorted: Vec<&String> = images.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut rng = SplitMix64(seed);
    for i in (1..sorted.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        sorted.swap(i, j);
    }
    let mut load = vec![0usize; n];
    let mut out: Vec<Vec<String>> = vec![Vec::new(); n];
    let mut order: Vec<(usize, u64, usize)> = Vec::with_capacity(n);
    for key in sorted {
        order.clear();
        order.extend((0..n).map(|a| (load[a], rng.next(), a)));
        order.sort_unstable();
        for &(_, _, a) in &order[..overlap] {
            load[a] += 1;
            out[a].push(key.clone());
        }
    }
    for keys in &mut out {
        keys.sort();
    }
    Ok(out)
}

/// SplitMix64: a small, fast generator whose output is fixed by its definition, so a seed gives
/// the same assignment on every machine and every version.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (rejection sampling, so no value is favoured).
    fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next();
            if x < zone {
                return x % n;
            }
        }
    }
}

/// Annotator names are stored in every event; for `assign` they also name files.
fn check_annotator_name(name: &str, as_file: bool) -> Result<()> {
    let problem = if name.trim().is_empty() {
        Some("is empty")
    } else if name.trim() != name {
        Some("starts or ends with a space")
    } else if crate::text::check(name, false).is_err() {
        Some("holds a control character or a bidirectional override")
    } else if crate::text::nfc(name) != name {
        Some("is not in Unicode NFC form (an accent typed as a separate character)")
    } else if name.chars().count() > 100 {
        Some("is longer than 100 characters")
    } else if as_file && (name.contains(['/', '\\', ',']) || name.starts_with('.')) {
        Some("cannot be a file name (it holds / \\ or , or starts with a dot)")
    } else {
        None
    };
    match problem {
        Some(p) => Err(Error::msg(format!("annotator name {name:?} {p}"))),
        None => Ok(()),
    }
}

/// New names must not look like the project's names, or like each other, without being them.
fn check_lookalike(project: &Store, names: &[&str]) -> Result<()> {
    let mut known =
        crate::text::NameSet::new(project.annotator_names()?.iter().map(String::as_str));
    for name in names {
        known.admit(name).map_err(Error::msg)?;
    }
    Ok(())
}

fn remove_db_files(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// What the annotation queue needs of a checkout.
impl Store {
    /// The keys of the images assigned to `annotator`, or `None` when the file assigns them
    /// nothing (then every image is theirs).
    pub fn assigned_images(&self, annotator: &str) -> Result<Option<HashSet<String>>> {
        self.named(|| {
            let keys: HashSet<String> = self
                .conn
                .prepare_cached("SELECT image FROM assignments WHERE annotator = ?1")?
                .query_map([annotator], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok((!keys.is_empty()).then_some(keys))
        })
    }

    /// The same as [`Store::assigned_images`], as image row ids.
    pub fn assigned_image_ids(&self, annotator: &str) -> Result<Option<HashSet<i64>>> {
        self.named(|| {
            let any: Option<i64> = self
                .conn
                .query_row(
                    "SELECT 1 FROM assignments WHERE annotator = ?1 LIMIT 1",
                    [annotator],
                    |r| r.get(0),
                )
                .optional()?;
            if any.is_none() {
                return Ok(None);
            }
            let ids: HashSet<i64> = self
                .conn
                .prepare_cached(
                    "SELECT i.id FROM assignments a JOIN images i ON i.key = a.image
                     WHERE a.annotator = ?1",
                )?
                .query_map([annotator], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(Some(ids))
        })
    }

    /// The annotator a checkout was made for, if this file is one.
    pub fn checkout_annotator(&self) -> Result<Option<String>> {
        self.named(|| {
            Ok(self
                .conn
                .query_row(
                    "SELECT value FROM meta WHERE key = 'checkout_annotator'",
                    [],
                    |r| r.get(0),
                )
                .optional()?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("img{i:05}")).collect()
    }

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("a{i}")).collect()
    }

    #[test]
    fn every_image_goes_to_k_distinct_annotators_with_balanced_counts() {
        for (n_images, n_ann, k) in [(1000, 3, 2), (7, 5, 3), (10, 10, 1), (101, 4, 4), (3, 3, 1)] {
            let plan = plan_assignment(&keys(n_images), &names(n_ann), k, 7).unwrap();
            let counts: Vec<usize> = plan.iter().map(Vec::len).collect();
            let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
            assert!(max - min <= 1, "{counts:?}");
            assert_eq!(counts.iter().sum::<usize>(), n_images * k);
            for key in keys(n_images) {
                let holders = plan
                    .iter()
                    .filter(|p| p.binary_search(&key).is_ok())
                    .count();
                assert_eq!(holders, k, "{key}");
            }
        }
    }

    #[test]
    fn the_seed_fixes_the_plan_and_varies_the_pairs() {
        let a = plan_assignment(&keys(500), &names(4), 2, 42).unwrap();
        assert_eq!(a, plan_assignment(&keys(500), &names(4), 2, 42).unwrap());
        let mut shuffled = keys(500);
        shuffled.reverse();
        assert_eq!(a, plan_assignment(&shuffled, &names(4), 2, 42).unwrap());
        assert_ne!(a, plan_assignment(&keys(500), &names(4), 2, 43).unwrap());
        // Every pair of annotators shares some images: the pairs are not fixed by position.
        for i in 0..4 {
            for j in i + 1..4 {
                let shared = a[i]
                    .iter()
                    .filter(|k| a[j].binary_search(k).is_ok())
                    .count();
                assert!(shared > 0, "a{i} and a{j} share nothing");
            }
        }
    }

    #[test]
    fn impossible_plans_are_refused() {
        assert!(plan_assignment(&keys(10), &names(3), 0, 1).is_err());
        assert!(plan_assignment(&keys(10), &names(3), 4, 1).is_err());
        assert!(plan_assignment(&keys(1), &names(3), 1, 1).is_err());
        let twice = vec!["x".to_string(), "x".to_string()];
        assert!(plan_assignment(&keys(10), &twice, 1, 1).is_err());
        assert!(check_annotator_name("../x", true).is_err());
        assert!(check_annotator_name("ann", true).is_ok());
        assert!(check_annotator_name(" ", false).is_err());
    }
}
