//! Bulk writes through a rollback journal (`Store::with_rollback_journal`): a `judgments import`
//! of ImageNet-ReaL's 924,810 answers, killed while it writes, must leave the project as it was
//! (SQLite rolls the hot journal back at the next open), and the same import let run must land
//! whole, with the file back in WAL mode.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use labelvet::store::Store;

use crate::cli_support::{ok, s};

const MANIFEST: &str = "../shared/data/imagenet_val/original_labels.csv";
const RATERS: &str = "../shared/data/real/raters.csv.gz";

fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every row of the tables an import writes, in key order, as one text.
fn content(db: &Path) -> String {
    let store = Store::open(db).unwrap();
    let c = store.conn_for_tests();
    let check: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok", "{}", db.display());
    let mut out = String::new();
    for sql in [
        "SELECT count(*) || ' ' || ifnull(max(id), '') FROM judgments",
        "SELECT group_concat(image_id || label || is_original, ',') FROM candidates",
        "SELECT group_concat(name, ',') FROM sqlite_master",
    ] {
        let v: String = c.query_row(sql, [], |r| r.get(0)).unwrap();
        out.push_str(&v);
        out.push('\n');
    }
    out
}

#[test]
fn a_judgments_import_killed_while_writing_leaves_the_project_as_it_was() {
    let dir = fresh_dir("bulk_write_killed");
    let db = dir.join("p.db");
    ok(&["init", s(&db), "--manifest", MANIFEST]);
    let before = content(&db);

    let mut child = Command::new(env!("CARGO_BIN_EXE_labelvet"))
        .args(["judgments", "import", s(&db), RATERS])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The rollback journal appears with the transaction's first write, after the file is read.
    let journal = dir.join("p.db-journal");
    let started = Instant::now();
    while !journal.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended before it wrote through a rollback journal"
        );
        assert!(started.elapsed() < Duration::from_secs(120), "no journal");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the import ended before it could be killed"
    );
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success(), "killed, not finished");

    // The hot journal is rolled back at the next open: nothing of the import is there.
    assert_eq!(content(&db), before);

    // The same import, let run, brings every answer, and leaves a WAL file without a journal.
    let out = ok(&["judgments", "import", s(&db), RATERS]);
    assert!(out.contains("924810"), "{out}");
    assert!(!journal.exists());
    let store = Store::open(&db).unwrap();
    let n: i64 = store
        .conn_for_tests()
        .query_row("SELECT count(*) FROM judgments", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 924_810);
    let mode: String = store
        .conn_for_tests()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}
