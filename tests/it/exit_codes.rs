//! The exit codes the README promises, through the real binary: 0 done, 1 bad input or refused,
//! 2 usage, 75 when the project file stays locked; and the typed errors behind them, which a
//! caller of the library can match.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use labelvet::Error;
use labelvet::store::Store;
use labelvet::store::merge::MergeOptions;

use crate::cli_support::{labelvet, s};

const PREDICTIONS: &str = "../shared/data/photos/predictions.csv";

/// A project of the 20 labelled photos' keys (no files needed), made by `init --manifest`.
fn project(dir: &Path) -> PathBuf {
    let manifest = dir.join("manifest.csv");
    let mut rows = String::from("image,label\n");
    for line in std::fs::read_to_string(PREDICTIONS)
        .unwrap()
        .lines()
        .skip(1)
    {
        let key = line.split(',').next().unwrap();
        if !rows.contains(&format!("\n{key},")) {
            rows.push_str(&format!("{key},\n"));
        }
    }
    std::fs::write(&manifest, rows).unwrap();
    let db = dir.join("p.db");
    let out = labelvet(&["init", s(&db), "--manifest", s(&manifest)]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    db
}

fn code(args: &[&str]) -> (Option<i32>, String) {
    let out = labelvet(args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn done_bad_input_refused_and_usage() {
    let dir = tempfile::tempdir().unwrap();
    let db = project(dir.path());
    assert_eq!(code(&["info", s(&db)]).0, Some(0));

    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "image,model,rank,label,score\nnot-in-project.jpg,m,1,n01440764,0.5\n",
    )
    .unwrap();
    let (c, err) = code(&["predictions", "import", s(&db), s(&bad)]);
    assert_eq!(c, Some(1), "{err}");
    assert!(err.contains("bad.csv:2"), "{err}");

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, b"this is not a database, only text").unwrap();
    let (c, err) = code(&["merge", s(&db), s(&garbage)]);
    assert_eq!(c, Some(1), "{err}");
    assert!(err.contains("garbage.db: refused"), "{err}");

    let (c, err) = code(&["info"]);
    assert_eq!(c, Some(2), "{err}");
    let (c, err) = code(&["info", s(&db), "--no-such-flag"]);
    assert_eq!(c, Some(2), "{err}");
    let (c, err) = code(&["frobnicate"]);
    assert_eq!(c, Some(2), "{err}");
}

#[test]
fn a_project_file_that_stays_locked_exits_75_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = project(dir.path());
    let other = rusqlite::Connection::open(&db).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    // The store waits its busy timeout (10 s) for the other writer, then gives up.
    let (c, err) = code(&["predictions", "import", s(&db), PREDICTIONS]);
    other.execute_batch("COMMIT").unwrap();
    drop(other);
    assert_eq!(c, Some(75), "{err}");
    assert!(
        err.contains("p.db: still locked by another process"),
        "{err}"
    );
    let store = Store::open(&db).unwrap();
    assert!(store.models().unwrap().is_empty());
    drop(store);
    // Run again once the lock is gone: it goes through.
    assert_eq!(
        code(&["predictions", "import", s(&db), PREDICTIONS]).0,
        Some(0)
    );
}

#[test]
fn the_library_errors_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let db = project(dir.path());

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, b"this is not a database, only text").unwrap();
    let mut store = Store::open(&db).unwrap();
    let err = store
        .merge(
            std::slice::from_ref(&garbage),
            &MergeOptions::default(),
            &mut |_| {},
        )
        .unwrap_err();
    assert!(
        matches!(&err, Error::MergeRefused { path, .. } if *path == garbage),
        "{err:?}"
    );

    store
        .conn_for_tests()
        .busy_timeout(Duration::from_millis(100))
        .unwrap();
    let other = rusqlite::Connection::open(&db).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let err = store.transaction(|_| Ok(())).unwrap_err();
    assert!(
        matches!(&err, Error::Locked { path, .. } if *path == db),
        "{err:?}"
    );
    other.execute_batch("ROLLBACK").unwrap();

    // Any other SQLite error names the project file.
    let err = store
        .transaction(|tx| {
            tx.execute("INSERT INTO no_such_table VALUES (1)", [])?;
            Ok(())
        })
        .unwrap_err();
    assert!(
        matches!(&err, Error::Sqlite { path: Some(path), .. } if *path == db),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with(&format!("{}: ", db.display())),
        "{err}"
    );
}

/// A summary printed into a pipe whose reader is gone (`labelvet init ... | head -0`) ends the
/// output quietly: the work it reports is saved, so the exit is 0 and there is no panic.
#[test]
fn summaries_into_a_closed_pipe_end_quietly_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    let manifest = dir.path().join("m.csv");
    std::fs::write(&manifest, "image,label\na.jpg,n01440764\nb.jpg,n01443537\n").unwrap();
    let closed = |args: &[&str]| {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_labelvet"))
            .args(args)
            .stdout(writer)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    };
    closed(&["init", s(&db), "--manifest", s(&manifest)]);
    assert!(Store::open(&db).is_ok(), "init saved the project");
    closed(&["info", s(&db)]);
    closed(&["report", s(&db)]);
    let answers = dir.path().join("a.csv");
    std::fs::write(
        &answers,
        "image,label,answer,annotator\na.jpg,n01440764,yes,ann\n",
    )
    .unwrap();
    closed(&["judgments", "import", s(&db), s(&answers)]);
    let n: i64 = Store::open(&db)
        .unwrap()
        .conn_for_tests()
        .query_row("SELECT count(*) FROM judgments", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1, "the import was saved before its summary");
}
