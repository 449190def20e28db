//! What the merge tests share: small projects, annotators' files, and ways to compare files.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use labelvet::store::checkout::{CheckoutOptions, checkout};
use labelvet::store::predictions::rebuild_candidates;
use labelvet::store::{
    ClassifyEvent, CurrentAnswer, CurrentClassify, ImageRecord, JudgmentEvent, Store,
};
use labelvet::vocab::Vocab;
use sha2::{Digest, Sha256};

pub const PHOTOS: &str = "../shared/data/photos";
pub const PREDICTIONS: &str = "../shared/data/photos/predictions.csv";
pub const MANIFEST: &str = "../shared/data/imagenet_val/original_labels.csv";
pub const RATERS: &str = "../shared/data/real/raters.csv.gz";

use crate::cli_support;
#[allow(unused_imports)] // each test file uses its own subset
pub use cli_support::{fails, labelvet, ok, s};

/// A five-class vocabulary for small synthetic projects.
pub fn small_vocab() -> Vocab {
    Vocab::from_reader(
        "small",
        Path::new("small.csv"),
        "key,name\ncat,Cat\ndog,Dog\nfox,Fox\nowl,Owl\nyak,Yak\n".as_bytes(),
    )
    .unwrap()
}

/// A project of `n` manifest-style images `img0..`, each with an original label.
pub fn small_project(path: &Path, n: usize) -> PathBuf {
    let vocab = small_vocab();
    let mut store = Store::create(path, &vocab).unwrap();
    let keys: Vec<&str> = vocab.classes().iter().map(|c| c.key.as_str()).collect();
    let images: Vec<ImageRecord> = (0..n)
        .map(|i| ImageRecord::missing(format!("img{i}"), Some(keys[i % keys.len()].to_string())))
        .collect();
    store
        .transaction(|tx| {
            labelvet::store::images::insert_images(tx, &images)?;
            rebuild_candidates(tx)
        })
        .unwrap();
    path.to_path_buf()
}

/// An annotator's file made from `project` (the project must not be open elsewhere for writes).
pub fn checkout_of(project: &Path, annotator: &str, out: &Path) -> PathBuf {
    let store = Store::open(project).unwrap();
    checkout(
        &store,
        out,
        &CheckoutOptions {
            annotator,
            with_answers: false,
            assignment: None,
            assignment_note: None,
            leave_out: None,
            with_images: None,
        },
    )
    .unwrap();
    out.to_path_buf()
}

/// Copies a closed project file (no log beside it).
pub fn copy_db(from: &Path, to: &Path) -> PathBuf {
    assert!(
        !with_suffix(from, "-wal").exists(),
        "{} is still open",
        from.display()
    );
    std::fs::copy(from, to).unwrap();
    to.to_path_buf()
}

pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// SHA-256 of the file's bytes once any log beside it is folded in.
pub fn checksum(path: &Path) -> String {
    if with_suffix(path, "-wal").exists() {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    }
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// Everything a merge may change, in a comparable form: events of every kind, current answers,
/// flags and candidates (by image key).
#[derive(Debug, PartialEq)]
pub struct State {
    pub events: Vec<JudgmentEvent>,
    pub current: Vec<CurrentAnswer>,
    pub classify: Vec<ClassifyEvent>,
    pub current_classify: Vec<CurrentClassify>,
    pub flags: Vec<String>,
    pub verdicts: Vec<labelvet::store::VerdictEvent>,
    pub current_verdicts: Vec<labelvet::store::CurrentAnswer>,
    pub candidates: Vec<String>,
    pub images: Vec<String>,
}

/// Each row `sql` gives, its values in a comparable form (`value|value|...|`).
pub fn rows(conn: &rusqlite::Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn.prepare(sql).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        let mut line = String::new();
        for i in 0..n {
            line.push_str(&format!("{:?}|", r.get_ref(i)?));
        }
        Ok(line)
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

pub fn state(path: &Path) -> State {
    let store = Store::open(path).unwrap();
    let rows = |sql: &str| rows(store.conn_for_tests(), sql);
    State {
        events: store.events().unwrap(),
        current: store.current_answers().unwrap(),
        classify: store.classify_events().unwrap(),
        current_classify: store.current_classify_answers().unwrap(),
        flags: rows("SELECT * FROM flags ORDER BY id"),
        verdicts: store.verdict_events().unwrap(),
        current_verdicts: store.current_verdicts().unwrap(),
        candidates: rows(
            "SELECT i.key, c.label, c.is_original FROM candidates c
             JOIN images i ON i.id = c.image_id ORDER BY 1, 2",
        ),
        images: rows(
            "SELECT key, raw_path, original_label, sha256, bytes, width, height, status, error
             FROM images ORDER BY key",
        ),
    }
}

/// A copy of `source` at `dst` with one more answer of alice's (img4, yak, no) left in its
/// `-wal`, as a killed `labelvet annotate` leaves it: committed, never checkpointed.
pub fn copy_with_answer_in_log(source: &Path, dst: &Path) -> PathBuf {
    let p = copy_db(source, dst);
    let store = Store::open(&p).unwrap();
    store
        .conn_for_tests()
        .set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )
        .unwrap();
    store
        .append_answer(
            "img4",
            "yak",
            labelvet::store::Answer::No,
            "alice",
            "s2",
            None,
        )
        .unwrap();
    p
}
