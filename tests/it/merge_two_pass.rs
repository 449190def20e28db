//! A large merge is made in two passes: checked whole in a transaction that is rolled back,
//! then written through a rollback journal (`store::merge`'s `Checked`). The threshold is set
//! to 0 here so that small files take that way: it must write exactly what one pass writes,
//! refuse what one pass refuses with the target byte for byte as it was, leave the file in WAL
//! mode, and start again in one pass when another process wrote the target between the passes.

use crate::merge_support;
use crate::pack::{alice_with_every_kind, all_events};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use labelvet::store::merge::{MergeOptions, MergeReport};
use labelvet::store::predictions::PredictionWriter;
use labelvet::store::{Answer, ImageRecord, Store};
use merge_support::{checksum, copy_db, rows, state, with_suffix};

/// How many times a test's merges reached their second pass. One counter per test, since the
/// hook is a plain function and the tests run in parallel.
static BETWEEN_EVERY_KIND: AtomicUsize = AtomicUsize::new(0);
static BETWEEN_REFUSED: AtomicUsize = AtomicUsize::new(0);
static BETWEEN_INTERRUPTED: AtomicUsize = AtomicUsize::new(0);
static BETWEEN_ASSETS: AtomicUsize = AtomicUsize::new(0);

fn merge(
    target: &Path,
    sources: &[&Path],
    two_pass: bool,
    between: Option<fn(&Path)>,
) -> labelvet::error::Result<MergeReport> {
    let sources: Vec<PathBuf> = sources.iter().map(|p| p.to_path_buf()).collect();
    Store::open(target).unwrap().merge(
        &sources,
        &MergeOptions {
            two_pass_from: Some(if two_pass { 0 } else { u64::MAX }),
            between_passes: between,
            ..MergeOptions::default()
        },
        &mut |_| {},
    )
}

/// The merge log without its times.
fn merge_log(path: &Path) -> Vec<String> {
    let store = Store::open(path).unwrap();
    rows(
        store.conn_for_tests(),
        "SELECT * FROM merge_log ORDER BY id",
    )
    .into_iter()
    // The second column is `merged_at`.
    .map(|r| {
        let mut cells: Vec<&str> = r.split('|').collect();
        cells.remove(1);
        cells.join("|")
    })
    .collect()
}

/// The file's schema (every table and index) and journal mode.
fn schema_and_mode(path: &Path) -> (Vec<String>, String) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mode = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok", "{}", path.display());
    (
        rows(
            &conn,
            "SELECT type, name, sql FROM sqlite_schema ORDER BY name",
        ),
        mode,
    )
}

#[test]
fn two_passes_write_exactly_what_one_pass_writes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (project, alice) = alice_with_every_kind(d);
    let pack = d.join("alice.lvpack");
    let store = Store::open(&alice).unwrap();
    labelvet::store::pack::pack(&store, &pack, false).unwrap();
    drop(store);

    for source in [&alice, &pack] {
        let one = copy_db(&project, &d.join("one.db"));
        let two = copy_db(&project, &d.join("two.db"));
        let before = BETWEEN_EVERY_KIND.load(Ordering::SeqCst);
        let r1 = merge(&one, &[source], false, None).unwrap();
        let r2 = merge(
            &two,
            &[source],
            true,
            Some(|_| {
                BETWEEN_EVERY_KIND.fetch_add(1, Ordering::SeqCst);
            }),
        )
        .unwrap();
        assert_eq!(BETWEEN_EVERY_KIND.load(Ordering::SeqCst), before + 1);
        assert_eq!(r1.events(), r2.events());
        assert_eq!(r1.new_events(), 4);

        let events = all_events(&one);
        assert_eq!(events.len(), 4 + 3 + 3 + 1 + 3);
        assert_eq!(events, all_events(&two));
        assert_eq!(state(&one), state(&two));
        assert_eq!(merge_log(&one), merge_log(&two));
        assert_eq!(merge_log(&two).len(), 1);
        // The same tables and indexes (the dropped ones built again), and the file is back in
        // WAL mode with no journal left beside it.
        let (schema, mode) = schema_and_mode(&two);
        assert_eq!(schema, schema_and_mode(&one).0);
        assert_eq!(mode, "wal");
        assert!(!with_suffix(&two, "-journal").exists());

        // Merged again both ways, nothing is new, and nothing changes.
        let again = merge(&two, &[&alice, &pack], true, None).unwrap();
        assert_eq!(again.new_events(), 0);
        assert_eq!(events, all_events(&two));
    }
}

/// Every row a merge writes besides the events, by keys (row ids aside, which the merge
/// log's order fixes): images, models, predictions, candidates, the merge log.
fn assets(path: &Path) -> Vec<String> {
    let store = Store::open(path).unwrap();
    let conn = store.conn_for_tests();
    let mut all = rows(conn, "SELECT * FROM images ORDER BY id");
    all.extend(rows(conn, "SELECT * FROM models ORDER BY id"));
    all.extend(rows(
        conn,
        "SELECT i.key, m.name, p.rank, p.label, p.score FROM predictions p
         JOIN images i ON i.id = p.image_id JOIN models m ON m.id = p.model_id ORDER BY 1, 2, 3",
    ));
    all.extend(rows(conn, "SELECT * FROM candidates ORDER BY 1, 2"));
    all.extend(merge_log(path));
    all
}

#[test]
fn images_models_and_predictions_come_the_same_in_two_passes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (project, alice) = alice_with_every_kind(d);
    {
        let mut store = Store::open(&alice).unwrap();
        store
            .insert_images(&[ImageRecord::missing(
                "extra/new.jpg".into(),
                Some("cat".into()),
            )])
            .unwrap();
        let new = store.image("extra/new.jpg").unwrap().unwrap().id;
        let old = store.image("img1").unwrap().unwrap().id;
        store
            .transaction(|tx| {
                let mut w = PredictionWriter::new(tx)?;
                let m = w.model_id("tiny-net", "tiny.csv")?;
                w.add(new, m, 1, "owl", Some(0.7))?;
                w.add(new, m, 2, "yak", Some(0.2))?;
                w.add(old, m, 1, "fox", Some(0.9))?;
                Ok(())
            })
            .unwrap();
        store.rebuild_candidates().unwrap();
        store
            .append_answer("extra/new.jpg", "dog", Answer::Yes, "alice", "s", None)
            .unwrap();
    }
    let one = copy_db(&project, &d.join("one.db"));
    let two = copy_db(&project, &d.join("two.db"));
    let r1 = merge(&one, &[&alice], false, None).unwrap();
    let r2 = merge(
        &two,
        &[&alice],
        true,
        Some(|_| {
            BETWEEN_ASSETS.fetch_add(1, Ordering::SeqCst);
        }),
    )
    .unwrap();
    assert_eq!(BETWEEN_ASSETS.load(Ordering::SeqCst), 1);
    let (s1, s2) = (&r1.sources[0], &r2.sources[0]);
    assert_eq!((s1.new_images, s1.new_predictions), (1, 3));
    assert_eq!((s2.new_images, s2.new_predictions), (1, 3));
    assert_eq!(s2.new_models, ["tiny-net"]);

    let written = assets(&two);
    assert_eq!(written, assets(&one));
    let models: i64 = Store::open(&two)
        .unwrap()
        .conn_for_tests()
        .query_row(
            "SELECT count(*) FROM models WHERE name = 'tiny-net'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(models, 1);
    assert_eq!(all_events(&one), all_events(&two));
    assert_eq!(state(&one), state(&two));
}

#[test]
fn a_refusal_in_the_first_pass_leaves_the_target_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (project, alice) = alice_with_every_kind(d);
    // The target holds an answer; a second source gives its id another answer. It comes
    // after alice's file, whose events, candidates and merge log row were written by then.
    let first = {
        let t = Store::open(&project).unwrap();
        t.append_answer("img3", "cat", Answer::Yes, "lead", "s0", None)
            .unwrap();
        t.events().unwrap().remove(0)
    };
    let rewrite = copy_db(&alice, &d.join("rewrite.db"));
    rusqlite::Connection::open(&rewrite)
        .unwrap()
        .execute(
            "INSERT INTO judgments VALUES (?1, ?2, ?3, 'no', NULL, 'lead', 's0', ?4, NULL,
                                           'annotate')",
            rusqlite::params![first.id, first.image, first.label, first.created_at],
        )
        .unwrap();
    let before = checksum(&project);
    let err = merge(
        &project,
        &[&alice, &rewrite],
        true,
        Some(|_| {
            BETWEEN_REFUSED.fetch_add(1, Ordering::SeqCst);
        }),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("different content"), "{err}");
    assert_eq!(checksum(&project), before);
    assert_eq!(BETWEEN_REFUSED.load(Ordering::SeqCst), 0, "no second pass");
    assert_eq!(schema_and_mode(&project).1, "wal");
}

/// Between the passes, an annotator answers in the project itself (an `annotate` session open
/// on it while the coordinator merges).
fn answer_in_target(path: &Path) {
    BETWEEN_INTERRUPTED.fetch_add(1, Ordering::SeqCst);
    Store::open(path)
        .unwrap()
        .append_answer("img3", "owl", Answer::No, "lead", "s9", None)
        .unwrap();
}

#[test]
fn a_write_between_the_passes_makes_the_merge_again_in_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (project, alice) = alice_with_every_kind(d);
    let plain = copy_db(&project, &d.join("plain.db"));

    let report = merge(&project, &[&alice], true, Some(answer_in_target)).unwrap();
    assert_eq!(BETWEEN_INTERRUPTED.load(Ordering::SeqCst), 1);
    assert_eq!(report.new_events(), 4);
    merge(&plain, &[&alice], false, None).unwrap();

    // Alice's events once, the lead's answer kept, one row in the merge log.
    let expected = all_events(&plain);
    let got = all_events(&project);
    assert!(expected.iter().all(|e| got.contains(e)));
    assert_eq!(got.len(), expected.len() + 1);
    let lead: Vec<_> = Store::open(&project)
        .unwrap()
        .events()
        .unwrap()
        .into_iter()
        .filter(|e| e.annotator == "lead")
        .collect();
    assert_eq!(lead.len(), 1);
    assert_eq!(
        (lead[0].image.as_str(), lead[0].label.as_str()),
        ("img3", "owl")
    );
    assert_eq!(merge_log(&project), merge_log(&plain));
    assert_eq!(schema_and_mode(&project).1, "wal");
}
