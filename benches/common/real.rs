//! The ReaL projects the benches read, made once into target/bench-data and shared by them:
//! the 50,000 ImageNet validation images, without answers and with every ReaL answer.
//! Included by each bench with `#[path = "common/real.rs"] mod real;`.

#![allow(dead_code)] // each bench uses part of it

use std::path::{Path, PathBuf};

use labelvet::ingest::judgments::{JudgmentImportOptions, import_judgments};
use labelvet::ingest::{InitOptions, init_project};
use labelvet::store::Store;

pub const RATERS: &str = "../shared/data/real/raters.csv.gz";
/// The answers in raters.csv.gz.
pub const ROWS: u64 = 924_810;

pub fn bench_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The 50,000-image validation project, without answers.
pub fn base_project() -> PathBuf {
    let base = bench_dir().join("real-base.db");
    if !base.exists() {
        let tmp = bench_dir().join("real-base.partial.db");
        let _ = std::fs::remove_file(&tmp);
        init_project(
            &tmp,
            &InitOptions {
                manifest: Some("../shared/data/imagenet_val/original_labels.csv".into()),
                vocab: "imagenet1k".into(),
                ..InitOptions::default()
            },
        )
        .unwrap();
        std::fs::rename(tmp, &base).unwrap();
    }
    base
}

/// The same project holding every ReaL answer.
pub fn answered_project() -> PathBuf {
    let db = bench_dir().join("real-answers.db");
    if !db.exists() {
        let tmp = bench_dir().join("real-answers.partial.db");
        std::fs::copy(base_project(), &tmp).unwrap();
        import_all_raters(&tmp);
        std::fs::rename(tmp, &db).unwrap();
    }
    db
}

/// Imports every row of `raters.csv.gz` into the project `db`: the set-up of
/// [`answered_project`], and the work the import bench times.
pub fn import_all_raters(db: &Path) {
    let mut store = Store::open(db).unwrap();
    let r = import_judgments(
        &mut store,
        Path::new(RATERS),
        &JudgmentImportOptions::default(),
    )
    .unwrap();
    assert_eq!(r.added, ROWS);
}
