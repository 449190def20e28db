//! Damaged and crafted source files, merged with the real binary. Each is refused with a message
//! that names the file and the problem, the target's bytes are unchanged (checked by SHA-256
//! after a checkpoint), and the source itself is not written to. A merge killed halfway leaves
//! the target as it was.

use crate::merge_support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use labelvet::store::schema::SCHEMA_VERSION;
use labelvet::store::{Answer, JudgmentEvent, Store};
use merge_support::{
    checkout_of, checksum, copy_db, fails, ok, s, small_project, state, with_suffix,
};
use rusqlite::Connection;

struct Fixture {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    target: PathBuf,
    /// A sound annotator's file with a few answers of alice's.
    good: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let target = small_project(&d.join("project.db"), 6);
    {
        let t = Store::open(&target).unwrap();
        t.append_answer("img0", "cat", Answer::Yes, "lead", "s0", None)
            .unwrap();
        t.append_answer("img1", "dog", Answer::No, "lead", "s0", None)
            .unwrap();
    }
    let good = checkout_of(&target, "alice", &d.join("alice.db"));
    {
        let g = Store::open(&good).unwrap();
        g.append_answer("img2", "fox", Answer::Yes, "alice", "s1", Some(800))
            .unwrap();
        g.append_answer("img3", "owl", Answer::Maybe, "alice", "s1", None)
            .unwrap();
    }
    Fixture {
        _dir: dir,
        dir: d,
        target,
        good,
    }
}

/// A copy of the good file changed by `sql`, run with SQLite's own guards off as an attacker
/// would.
fn variant(f: &Fixture, name: &str, sql: &str) -> PathBuf {
    let p = copy_db(&f.good, &f.dir.join(name));
    let conn = Connection::open(&p).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA ignore_check_constraints = ON; PRAGMA foreign_keys = OFF; {sql}"
    ))
    .unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    drop(conn);
    p
}

fn file_bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

/// Merges `source` into the target, expects a refusal naming the file and every one of
/// `expect`, and checks that neither file changed.
/// A source holding the target's first answer's id with another answer (the lead's), and that
/// first answer.
fn rewrite_of_first_answer(f: &Fixture) -> (PathBuf, JudgmentEvent) {
    let lead: Vec<JudgmentEvent> = Store::open(&f.target).unwrap().events().unwrap();
    let first = lead[0].clone();
    let rewrite = variant(
        f,
        "rewrite.db",
        &format!(
            "INSERT INTO judgments VALUES ('{}', '{}', '{}', 'no', NULL, 'lead', 's0', {}, NULL,
                                          'annotate');",
            first.id, first.image, first.label, first.created_at
        ),
    );
    (rewrite, first)
}

fn refused(f: &Fixture, source: &Path, expect: &[&str]) -> String {
    refused_with(f, source, &[], expect)
}

fn refused_with(f: &Fixture, source: &Path, args: &[&str], expect: &[&str]) -> String {
    let target_before = checksum(&f.target);
    let source_before = file_bytes(source);
    let mut all = vec!["merge", s(&f.target), s(source)];
    all.extend(args);
    let err = fails(&all);
    assert!(err.contains(s(source)), "the message names the file: {err}");
    for e in expect {
        assert!(err.contains(e), "expected {e:?} in: {err}");
    }
    assert_eq!(checksum(&f.target), target_before, "target changed: {err}");
    assert_eq!(file_bytes(source), source_before, "source changed");
    for side in ["-wal", "-shm", "-journal"] {
        assert!(
            !with_suffix(source, side).exists(),
            "{side} made beside the source"
        );
    }
    err
}

#[test]
fn a_sound_source_merges_and_a_second_merge_adds_nothing() {
    let f = fixture();
    let out = ok(&["merge", s(&f.target), s(&f.good)]);
    assert!(out.contains("2 new events"), "{out}");
    assert!(out.contains("alice"), "{out}");
    let out = ok(&["merge", s(&f.target), s(&f.good)]);
    assert!(out.contains("0 new events, 2 already present"), "{out}");
    let events = state(&f.target).events;
    assert_eq!(events.len(), 4);
    let info = ok(&["info", s(&f.target)]);
    assert!(info.contains("merged      2 files"), "{info}");
    assert!(info.contains("alice.db"), "{info}");
}

#[test]
fn the_target_itself_is_refused_under_any_name() {
    let f = fixture();
    let before = checksum(&f.target);
    let err = fails(&["merge", s(&f.target), s(&f.target)]);
    assert!(err.contains("it is the target file itself"), "{err}");
    let link = f.dir.join("hard-link.db");
    std::fs::hard_link(&f.target, &link).unwrap();
    let err = fails(&["merge", s(&f.target), s(&link)]);
    assert!(err.contains("it is the target file itself"), "{err}");
    assert_eq!(checksum(&f.target), before);
}

#[test]
fn files_that_are_not_projects_are_refused() {
    let f = fixture();
    let text = f.dir.join("notes.db");
    std::fs::write(&text, "image,label\nimg0,cat\n".repeat(20)).unwrap();
    refused(&f, &text, &["not an SQLite database"]);

    let empty = f.dir.join("empty.db");
    std::fs::write(&empty, "").unwrap();
    refused(&f, &empty, &["empty file"]);

    let other = f.dir.join("other.db");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE judgments(id TEXT)")
        .unwrap();
    refused(&f, &other, &["not a labelvet project"]);

    let no_id = variant(&f, "no_id.db", "PRAGMA application_id = 0;");
    refused(&f, &no_id, &["not a labelvet project"]);
}

#[test]
fn a_truncated_copy_is_refused() {
    let f = fixture();
    let cut = copy_db(&f.good, &f.dir.join("cut.db"));
    let len = std::fs::metadata(&cut).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&cut).unwrap();
    file.set_len(len / 2).unwrap();
    drop(file);
    refused(&f, &cut, &["truncated", "copy it again"]);
}

/// Overwrites the root page of `object` (a table or an index) in the file at `p`.
fn damage_root(p: &Path, object: &str) {
    let (root, page_size): (i64, i64) = {
        let c = Connection::open(p).unwrap();
        let root = c
            .query_row(
                "SELECT rootpage FROM sqlite_schema WHERE name = ?1",
                [object],
                |r| r.get(0),
            )
            .unwrap();
        let size = c
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .unwrap();
        c.pragma_update(None, "journal_mode", "DELETE").unwrap();
        (root, size)
    };
    let mut bytes = std::fs::read(p).unwrap();
    let start = ((root - 1) * page_size) as usize;
    for b in &mut bytes[start..start + page_size as usize] {
        *b = 0xA5;
    }
    std::fs::write(p, &bytes).unwrap();
}

#[test]
fn damaged_predictions_are_refused_before_a_new_model_is_read() {
    let f = fixture();
    let p = variant(
        &f,
        "damaged_predictions.db",
        "INSERT INTO models(name, source, imported_at) VALUES ('extra', 'x.csv', '2026-11-28');
         INSERT INTO predictions(image_id, model_id, rank, label, score)
           SELECT id, (SELECT id FROM models WHERE name = 'extra'), 1, 'cat', 0.5 FROM images;",
    );
    damage_root(&p, "predictions");
    refused(&f, &p, &["damaged", "predictions"]);
}

#[test]
fn a_damaged_page_is_refused() {
    let f = fixture();
    let p = copy_db(&f.good, &f.dir.join("damaged.db"));
    damage_root(&p, "judgments_by_item");
    refused(&f, &p, &["damaged"]);
}

#[test]
fn triggers_and_views_are_refused_unrun() {
    let f = fixture();
    // A trigger that would empty the target, were the source's SQL ever run against it.
    let trig = variant(
        &f,
        "trigger.db",
        "CREATE TRIGGER wipe AFTER INSERT ON judgments BEGIN
           DELETE FROM judgments; DELETE FROM images;
         END;",
    );
    refused(&f, &trig, &["trigger `wipe`"]);

    let read_trig = variant(
        &f,
        "flagtrigger.db",
        "CREATE TRIGGER sneaky BEFORE DELETE ON flags BEGIN SELECT 1; END;",
    );
    refused(&f, &read_trig, &["trigger `sneaky`"]);

    // A view in place of a table: reading "judgments" would read whatever it says.
    let view = variant(
        &f,
        "view.db",
        "ALTER TABLE judgments RENAME TO judgments_real;
         CREATE VIEW judgments AS SELECT * FROM judgments_real UNION ALL
           SELECT id || 'x', image, label, answer, retracts, 'lead', session, created_at,
                  elapsed_ms, origin FROM judgments_real;",
    );
    refused(
        &f,
        &view,
        &["`judgments` is a view", "unexpected table `judgments_real`"],
    );

    let extra_view = variant(&f, "extra_view.db", "CREATE VIEW v AS SELECT 1;");
    refused(&f, &extra_view, &["view `v`"]);
}

#[test]
fn schema_changes_are_refused_by_name() {
    let f = fixture();
    let extra = variant(
        &f,
        "extra.db",
        "ALTER TABLE judgments ADD COLUMN evil TEXT;",
    );
    refused(&f, &extra, &["extra column `evil`"]);

    let generated = variant(
        &f,
        "generated.db",
        "ALTER TABLE images ADD COLUMN g TEXT GENERATED ALWAYS AS (upper(key)) VIRTUAL;",
    );
    refused(&f, &generated, &["extra column `g`"]);

    let table = variant(&f, "table.db", "CREATE TABLE notes(x);");
    refused(&f, &table, &["unexpected table `notes`"]);

    let index = variant(
        &f,
        "index.db",
        "CREATE INDEX sneaky ON judgments(lower(image));",
    );
    refused(&f, &index, &["unexpected index `sneaky`"]);

    // Same columns, no CHECK constraints: would let any answer in.
    let loose = variant(
        &f,
        "loose.db",
        "DROP TABLE flags;
         CREATE TABLE flags (
             id TEXT PRIMARY KEY, image TEXT NOT NULL, kind TEXT NOT NULL,
             note TEXT NOT NULL DEFAULT '', annotator TEXT NOT NULL, session TEXT NOT NULL,
             created_at INTEGER NOT NULL) WITHOUT ROWID;
         CREATE INDEX flags_by_image ON flags(image);",
    );
    refused(&f, &loose, &["table `flags` is defined differently"]);

    let missing = variant(&f, "missing.db", "DROP TABLE merge_log;");
    refused(&f, &missing, &["lacks the table `merge_log`"]);
}

#[test]
fn a_newer_schema_is_refused() {
    let f = fixture();
    let future = variant(
        &f,
        "future.db",
        &format!("PRAGMA user_version = {};", SCHEMA_VERSION + 1),
    );
    refused(
        &f,
        &future,
        &[
            &format!("schema version {}", SCHEMA_VERSION + 1),
            "upgrade labelvet",
        ],
    );
}

#[test]
fn rows_that_break_the_rules_are_refused() {
    let f = fixture();
    let bad_answer = variant(
        &f,
        "answer.db",
        "UPDATE judgments SET answer = 'bogus' WHERE label = 'fox';",
    );
    refused(&f, &bad_answer, &["answer `bogus`"]);

    let typed = variant(
        &f,
        "typed.db",
        "UPDATE judgments SET created_at = 'yesterday' WHERE label = 'fox';",
    );
    refused(&f, &typed, &["column created_at is not an integer"]);

    let bad_id = variant(
        &f,
        "id.db",
        "UPDATE judgments SET id = upper(id) WHERE label = 'fox';",
    );
    refused(&f, &bad_id, &["lowercase hyphenated UUID"]);

    let image = variant(
        &f,
        "image.db",
        "UPDATE judgments SET image = 'nowhere.jpg' WHERE label = 'fox';",
    );
    refused(&f, &image, &["image `nowhere.jpg`"]);

    let label = variant(
        &f,
        "label.db",
        "UPDATE judgments SET label = 'zebra' WHERE label = 'fox';",
    );
    refused(&f, &label, &["zebra"]);

    let flag = variant(
        &f,
        "flag.db",
        "INSERT INTO flags VALUES ('0190aaaa-0000-7000-8000-000000000001', 'img9', 'broken', '',
                                   'alice', 's', 1);",
    );
    refused(&f, &flag, &["image `img9`"]);
}

#[test]
fn a_source_cannot_rewrite_or_undo_the_targets_events() {
    let f = fixture();
    // The same id with another answer.
    let (rewrite, first) = rewrite_of_first_answer(&f);
    refused(&f, &rewrite, &[&first.id, "different content"]);

    // A retraction by someone else of the lead's answer.
    let undo = variant(
        &f,
        "undo.db",
        &format!(
            "INSERT INTO judgments VALUES ('0190aaaa-0000-7000-8000-000000000002', '{}', '{}',
                                          'retract', '{}', 'mallory', 's', {}, NULL, 'annotate');",
            first.image,
            first.label,
            first.id,
            first.created_at + 1
        ),
    );
    // (mallory is not the annotator alice's file was made for: allowed here, so that the
    // retraction's own check is what refuses it.)
    refused_with(
        &f,
        &undo,
        &["--allow-other-annotators"],
        &["mallory", "not an answer of theirs"],
    );

    let dangling = variant(
        &f,
        "dangling.db",
        "INSERT INTO judgments VALUES ('0190aaaa-0000-7000-8000-000000000003', 'img0', 'cat',
                                      'retract', '0190aaaa-0000-7000-8000-0000000000ff', 'alice',
                                      's', 5, NULL, 'annotate');",
    );
    refused(&f, &dangling, &["which is in neither file"]);
}

/// Sources are opened on helper threads while the ones before them are merged; what is
/// reported stays as when all were opened first: a later source that cannot be opened wins over
/// an earlier one refused in the merge, and nothing is announced as merged before every source
/// has been opened.
#[test]
fn a_later_source_that_cannot_be_opened_is_refused_before_an_earlier_ones_merge() {
    let f = fixture();
    let (rewrite, _) = rewrite_of_first_answer(&f);
    let text = f.dir.join("notes.db");
    std::fs::write(&text, "image,label\nimg0,cat\n".repeat(20)).unwrap();
    let before = checksum(&f.target);

    let err = fails(&["merge", s(&f.target), s(&f.good), s(&rewrite), s(&text)]);
    assert!(err.contains(s(&text)), "{err}");
    assert!(err.contains("not an SQLite database"), "{err}");
    assert!(!err.contains("different content"), "{err}");
    assert!(!err.contains("[1/3]"), "nothing announced: {err}");
    assert_eq!(checksum(&f.target), before);

    // Every source opens: the merge's refusal stands, after the sources merged before it.
    let err = fails(&["merge", s(&f.target), s(&f.good), s(&rewrite), s(&f.good)]);
    assert!(err.contains("[1/3]"), "{err}");
    assert!(!err.contains("[2/3]"), "{err}");
    assert!(
        err.contains(s(&rewrite)) && err.contains("different content"),
        "{err}"
    );
    assert_eq!(checksum(&f.target), before);
}

#[test]
fn another_project_needs_leave_and_the_classes_it_uses() {
    let f = fixture();
    let other = small_project(&f.dir.join("other-project.db"), 6);
    {
        let o = Store::open(&other).unwrap();
        o.append_answer("img5", "yak", Answer::Yes, "bob", "s", None)
            .unwrap();
    }
    let uuid = Store::open(&other).unwrap().meta().unwrap().project_uuid;
    refused(
        &f,
        &other,
        &["another project", &uuid, "--allow-other-project"],
    );
    let out = ok(&["merge", s(&f.target), s(&other), "--allow-other-project"]);
    assert!(out.contains("another project"), "{out}");
    assert!(out.contains("1 new events"), "{out}");
    let info = ok(&["info", s(&f.target)]);
    assert!(info.contains(&format!("from project {uuid}")), "{info}");

    // A vocabulary with a class the target lacks, used by an answer.
    let vocab = labelvet::vocab::Vocab::from_reader(
        "zoo",
        Path::new("zoo.csv"),
        "key,name\ncat,Cat\nzebra,Zebra\nokapi,Okapi\n".as_bytes(),
    )
    .unwrap();
    let zoo = f.dir.join("zoo.db");
    {
        let z = Store::create(&zoo, &vocab).unwrap();
        z.insert_images(&[labelvet::store::ImageRecord::missing(
            "img0".into(),
            Some("cat".into()),
        )])
        .unwrap();
        z.append_answer("img0", "zebra", Answer::Yes, "bob", "s", None)
            .unwrap();
    }
    refused_with(
        &f,
        &zoo,
        &["--allow-other-project"],
        &[
            "vocabulary differs",
            "1 class the target's vocabulary lacks: zebra",
        ],
    );
}

#[test]
fn answers_left_in_a_log_beside_the_source_come_in_without_touching_it() {
    let f = fixture();
    // As a killed `labelvet annotate` leaves it: committed answers still in the -wal.
    let p = merge_support::copy_with_answer_in_log(&f.good, &f.dir.join("logged.db"));
    let wal = with_suffix(&p, "-wal");
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
    let (main_before, wal_before) = (file_bytes(&p), file_bytes(&wal));
    let out = ok(&["merge", s(&f.target), s(&p)]);
    assert!(out.contains("3 new events"), "{out}");
    assert!(out.contains("recovered"), "{out}");
    assert_eq!(file_bytes(&p), main_before);
    assert_eq!(file_bytes(&wal), wal_before);
    assert!(
        state(&f.target)
            .events
            .iter()
            .any(|e| e.image == "img4" && e.label == "yak")
    );
}

#[test]
fn a_merge_killed_halfway_leaves_the_target_as_it_was() {
    let f = fixture();
    const FILES: usize = 6;
    const EVENTS: usize = 120_000;
    let mut sources = Vec::new();
    for n in 0..FILES {
        let p = checkout_of(&f.target, &format!("r{n}"), &f.dir.join(format!("r{n}.db")));
        let store = Store::open(&p).unwrap();
        let events: Vec<JudgmentEvent> = (0..EVENTS)
            .map(|i| JudgmentEvent {
                id: uuid::Uuid::from_u128(((n as u128 + 1) << 64) | i as u128).to_string(),
                image: format!("img{}", i % 6),
                label: ["cat", "dog", "fox", "owl", "yak"][i % 5].into(),
                answer: Some([Answer::Yes, Answer::No, Answer::Maybe][i % 3]),
                retracts: None,
                annotator: format!("r{n}"),
                session: "s".into(),
                created_at: i as i64,
                elapsed_ms: None,
                origin: "annotate".into(),
            })
            .collect();
        let mut store = store;
        store
            .transaction(|tx| labelvet::store::judgments::insert_events(tx, &events))
            .unwrap();
        drop(store);
        sources.push(p);
    }
    let before = state(&f.target);
    let sum_before = checksum(&f.target);

    let mut child = Command::new(env!("CARGO_BIN_EXE_labelvet"))
        .arg("merge")
        .arg(&f.target)
        .args(&sources)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    // The first source is merged: the transaction is open and holds its rows.
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with(&format!("[1/{FILES}]")), "{first}");
    assert!(
        child.try_wait().unwrap().is_none(),
        "the merge ended before it could be killed; give it more to do"
    );
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed, not finished");

    let store = Store::open(&f.target).unwrap();
    let check: String = store
        .conn_for_tests()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(store);
    assert_eq!(state(&f.target), before);
    assert_eq!(checksum(&f.target), sum_before);

    // And the same merge, let run, brings everything.
    let out = ok(&["merge", s(&f.target), s(&sources[0]), s(&sources[1])]);
    assert!(out.contains(&format!("{} new events", 2 * EVENTS)), "{out}");
}
