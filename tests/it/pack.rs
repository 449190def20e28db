//! The trip back: `labelvet pack` writes the small file an annotator sends back, and `merge`
//! takes it like the full file. A pack merges to exactly what its full file merges to (every
//! event kind); an altered pack, or one of another project, is refused and leaves the target
//! byte for byte as it was, and so is one whose strings would not pass the door a full file's
//! pass; a file with no answers is said to have none; an existing output is
//! replaced only with --force, and only when it is a pack.

use crate::merge_support;

use std::path::{Path, PathBuf};

use labelvet::store::{Answer, FlagKind, GoldEvent, JudgmentEvent, Store};
use merge_support::{checkout_of, checksum, copy_db, fails, ok, s, small_project, state};

/// A checkout of a 4-image project in which alice gave events of every kind the event log
/// knows: answers and a retraction, a flag and its clear, a classify answer and its undo and a
/// second one, a gold answer and a verdict and its retraction.
pub(crate) fn alice_with_every_kind(d: &Path) -> (PathBuf, PathBuf) {
    let project = small_project(&d.join("project.db"), 4);
    let alice = checkout_of(&project, "alice", &d.join("alice.db"));
    let mut store = Store::open(&alice).unwrap();
    store
        .append_answer("img0", "cat", Answer::Yes, "alice", "s1", Some(900))
        .unwrap();
    let no = store
        .append_answer("img1", "dog", Answer::No, "alice", "s1", Some(700))
        .unwrap();
    store.append_retraction(&no, "s1").unwrap();
    store
        .append_answer("img2", "fox", Answer::Maybe, "alice", "s1", None)
        .unwrap();
    store
        .append_flag("img3", FlagKind::Broken, "half grey", "alice", "s1")
        .unwrap();
    store
        .append_flag("img3", FlagKind::Clear, "", "alice", "s1")
        .unwrap();
    store
        .append_flag("img1", FlagKind::Ambiguous, "two dogs?", "alice", "s1")
        .unwrap();
    let present = vec!["cat".to_string(), "owl".to_string()];
    store
        .append_classify("img0", "alice", "s1", &present, "cat", 2, Some(1200))
        .unwrap();
    store.retract_classify("img0", "alice", "s1").unwrap();
    store
        .append_classify("img0", "alice", "s2", &present, "owl", 3, Some(800))
        .unwrap();
    let gold = GoldEvent(JudgmentEvent {
        id: labelvet::store::new_event_id(),
        image: "img2".into(),
        label: "yak".into(),
        answer: Some(Answer::No),
        retracts: None,
        annotator: "alice".into(),
        session: "s3".into(),
        created_at: labelvet::store::now_ms(),
        elapsed_ms: Some(400),
        origin: "import".into(),
    });
    store.insert_with_candidates(&[gold]).unwrap();
    let v = store
        .append_verdict("img1", "cat", Answer::Yes, "alice", "s4", Some(300))
        .unwrap();
    store.retract_verdict(&v, "s4").unwrap();
    store
        .append_verdict("img2", "dog", Answer::No, "alice", "s4", None)
        .unwrap();
    drop(store);
    (project, alice)
}

/// Every row of every event table, by id: what must come out the same.
pub(crate) fn all_events(path: &Path) -> Vec<String> {
    let store = Store::open(path).unwrap();
    let mut out = Vec::new();
    for k in labelvet::store::events::KINDS {
        let mut stmt = store
            .conn_for_tests()
            .prepare(&format!("SELECT * FROM {} ORDER BY id", k.table))
            .unwrap();
        let n = stmt.column_count();
        let rows: Vec<String> = stmt
            .query_map([], |r| {
                let mut line = format!("{}:", k.table);
                for i in 0..n {
                    line.push_str(&format!("{:?}|", r.get_ref(i)?));
                }
                Ok(line)
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        out.extend(rows);
    }
    out
}

#[test]
fn a_pack_merges_to_exactly_what_its_full_file_merges_to() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (project, alice) = alice_with_every_kind(d);
    let pack = d.join("alice.lvpack");
    let out = ok(&["pack", s(&alice), "-o", s(&pack)]);
    assert!(out.contains("of alice"), "{out}");
    for kind in [
        "4 events",
        "3 flags",
        "3 classify answers",
        "1 gold answers",
        "3 verdicts",
    ] {
        assert!(out.contains(kind), "{kind} is not in: {out}");
    }

    let from_full = copy_db(&project, &d.join("from_full.db"));
    let merged = ok(&["merge", s(&from_full), s(&alice)]);
    assert!(!merged.contains("a pack"), "{merged}");
    let from_pack = copy_db(&project, &d.join("from_pack.db"));
    let merged = ok(&["merge", s(&from_pack), s(&pack)]);
    assert!(
        merged.contains("same project, a pack of schema"),
        "{merged}"
    );

    let events = all_events(&from_full);
    assert_eq!(events.len(), 4 + 3 + 3 + 1 + 3);
    assert_eq!(events, all_events(&from_pack));
    assert_eq!(state(&from_full), state(&from_pack));
    // Merged again, either way round, nothing is new.
    let again = ok(&["merge", s(&from_pack), s(&alice), s(&pack)]);
    assert!(again.contains("0 new"), "{again}");
    assert_eq!(events, all_events(&from_pack));
    let again = ok(&["merge", s(&from_full), s(&pack)]);
    assert!(again.contains("0 new"), "{again}");
}

/// Runs an SQL statement on a copy of the pack (as a hex editor or sqlite3 would) and expects
/// the merge to refuse it with `expected`, leaving the target as it was.
fn refused_after(pack: &Path, target: &Path, sql: &str, expected: &str) {
    let altered = pack.with_file_name("altered.lvpack");
    let _ = std::fs::remove_file(&altered);
    std::fs::copy(pack, &altered).unwrap();
    rusqlite::Connection::open(&altered)
        .unwrap()
        .execute_batch(sql)
        .unwrap();
    let before = checksum(target);
    let err = fails(&["merge", s(target), s(&altered)]);
    assert!(err.contains("refused"), "{sql}: {err}");
    assert!(
        err.contains(expected),
        "{sql}: {expected:?} is not in: {err}"
    );
    assert_eq!(checksum(target), before, "{sql}: the target changed");
}

#[test]
fn an_altered_pack_is_refused_and_leaves_the_target_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (project, alice) = alice_with_every_kind(d);
    let pack = d.join("alice.lvpack");
    ok(&["pack", s(&alice), "-o", s(&pack)]);
    let sum = "does not match the SHA-256 it was written with";
    // The project's UUID edited to another project's would pass that project's UUID check:
    // the sum stops it.
    let other = small_project(&d.join("other.db"), 4);
    let uuid = Store::open(&other).unwrap().meta().unwrap().project_uuid;
    refused_after(
        &pack,
        &other,
        &format!("UPDATE pack_meta SET value = '{uuid}' WHERE key = 'project_uuid'"),
        sum,
    );
    // An image's content hash, a class's, an event's answer and its time.
    refused_after(
        &pack,
        &project,
        "UPDATE pack_images SET sha256 = zeroblob(32) WHERE rowid = (SELECT min(rowid) FROM pack_images)",
        sum,
    );
    refused_after(
        &pack,
        &project,
        "UPDATE pack_classes SET sha256 = zeroblob(32)",
        sum,
    );
    refused_after(
        &pack,
        &project,
        "UPDATE pack_judgments SET answer = (SELECT id FROM pack_strings WHERE s = 'no')
         WHERE answer = (SELECT id FROM pack_strings WHERE s = 'yes')",
        sum,
    );
    refused_after(
        &pack,
        &project,
        "UPDATE pack_flags SET created_at = created_at + 1",
        sum,
    );
    // An event removed (a retraction left without its answer), or one copied twice.
    refused_after(
        &pack,
        &project,
        "DELETE FROM pack_verdicts WHERE rowid = (SELECT min(rowid) FROM pack_verdicts)",
        sum,
    );
    refused_after(
        &pack,
        &project,
        "INSERT INTO pack_classify SELECT * FROM pack_classify LIMIT 1",
        "an id twice",
    );
    // Values of the wrong shape are refused before anything is summed.
    refused_after(
        &pack,
        &project,
        "UPDATE pack_gold SET id = 'not sixteen bytes'",
        "is not 16 bytes",
    );
    refused_after(
        &pack,
        &project,
        "UPDATE pack_judgments SET label = 999999",
        "names no string of the pack",
    );
    // SQL of the file's own (a trigger) is refused by name, as from a full file.
    refused_after(
        &pack,
        &project,
        "CREATE TRIGGER t AFTER INSERT ON pack_strings BEGIN SELECT 1; END",
        "trigger `t`",
    );
    // The untouched pack still merges.
    ok(&["merge", s(&project), s(&pack)]);
}

#[test]
fn a_pack_of_another_project_is_refused_by_its_uuid() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, alice) = alice_with_every_kind(d);
    let pack = d.join("alice.lvpack");
    ok(&["pack", s(&alice), "-o", s(&pack)]);
    // The same images and vocabulary, made again: another project.
    let other = small_project(&d.join("other.db"), 4);
    let before = checksum(&other);
    let err = fails(&["merge", s(&other), s(&pack)]);
    assert!(err.contains("belongs to another project"), "{err}");
    assert_eq!(checksum(&other), before);
}

#[test]
fn a_pack_of_a_file_without_answers_says_so_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let project = small_project(&d.join("project.db"), 4);
    let bob = checkout_of(&project, "bob", &d.join("bob.db"));
    let pack = d.join("bob.lvpack");
    let err = fails(&["pack", s(&bob), "-o", s(&pack)]);
    assert!(err.contains("bob.db"), "{err}");
    assert!(err.contains("holds no answers of bob"), "{err}");
    assert!(!pack.exists());
    let left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("lvpack"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn an_existing_output_is_replaced_only_with_force_and_only_when_a_pack() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (project, alice) = alice_with_every_kind(d);
    let pack = d.join("alice.lvpack");
    ok(&["pack", s(&alice), "-o", s(&pack)]);
    let first = checksum(&pack);
    let err = fails(&["pack", s(&alice), "-o", s(&pack)]);
    assert!(err.contains("already exists"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(checksum(&pack), first);
    ok(&["pack", s(&alice), "-o", s(&pack), "--force"]);
    // Not over a project, nor over the annotator's file itself, even with --force.
    let before = checksum(&project);
    let err = fails(&["pack", s(&alice), "-o", s(&project), "--force"]);
    assert!(err.contains("is not a pack"), "{err}");
    assert_eq!(checksum(&project), before);
    let err = fails(&["pack", s(&alice), "-o", s(&alice), "--force"]);
    assert!(err.contains("the annotator's file itself"), "{err}");
    assert!(Store::open(&alice).unwrap().events().unwrap().len() == 4);
}

#[test]
fn ten_thousand_answers_pack_into_less_than_a_megabyte() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let project = small_project(&d.join("project.db"), 2000);
    let alice = checkout_of(&project, "alice", &d.join("alice.db"));
    let labels = ["cat", "dog", "fox", "owl", "yak"];
    let session = labelvet::store::new_event_id();
    let events: Vec<JudgmentEvent> = (0..10_000)
        .map(|i| JudgmentEvent {
            id: labelvet::store::new_event_id(),
            image: format!("img{}", i / 5),
            label: labels[i % 5].into(),
            answer: Some([Answer::Yes, Answer::No, Answer::Maybe][i % 3]),
            retracts: None,
            annotator: "alice".into(),
            session: session.clone(),
            created_at: 1_764_000_000_000 + i as i64 * 1500,
            elapsed_ms: Some(900 + (i as i64 * 37) % 2000),
            origin: "annotate".into(),
        })
        .collect();
    Store::open(&alice)
        .unwrap()
        .transaction(|tx| labelvet::store::events::insert(tx, &events))
        .unwrap();
    let pack = d.join("alice.lvpack");
    ok(&["pack", s(&alice), "-o", s(&pack)]);
    let size = std::fs::metadata(&pack).unwrap().len();
    assert!(size < 1 << 20, "{size} bytes");
    let target = copy_db(&project, &d.join("target.db"));
    let out = ok(&["merge", s(&target), s(&pack)]);
    assert!(out.contains("10000 new"), "{out}");
}

#[test]
fn a_pack_opened_as_a_project_says_what_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, alice) = alice_with_every_kind(d);
    let pack = d.join("alice.lvpack");
    ok(&["pack", s(&alice), "-o", s(&pack)]);
    let before = checksum(&pack);
    let err = fails(&["info", s(&pack)]);
    assert!(err.contains("a pack of an annotator's answers"), "{err}");
    assert!(err.contains("labelvet merge"), "{err}");
    assert_eq!(checksum(&pack), before);
}

/// [`alice_with_every_kind`] in `d`, alice's file edited by hand with `sql` (its `?1` is
/// `value`), then packed by `labelvet pack`: (project, alice's file, pack).
fn edited_and_packed(d: &Path, sql: &str, value: &str) -> (PathBuf, PathBuf, PathBuf) {
    let (project, alice) = alice_with_every_kind(d);
    rusqlite::Connection::open(&alice)
        .unwrap()
        .execute(sql, [value])
        .unwrap();
    let pack = d.join("alice.lvpack");
    ok(&["pack", s(&alice), "-o", s(&pack)]);
    (project, alice, pack)
}

/// A pack's strings are checked once each, not once a cell (`store::pack_read`): one that would
/// command a terminal, or is over the limit for a name, is still refused in every column it
/// stands in, as from a full file. The pack is made by `labelvet pack` from a file edited by
/// hand, so its content sum is right and only the merge's own checks stand in the way.
#[test]
fn a_packs_strings_pass_the_same_door_as_a_full_files() {
    for (session, expected) in [
        ("s1\u{1b}[2J".to_string(), "ESC (U+001B)"),
        ("s".repeat(2000), "over the limit of 1024"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (project, alice, pack) = edited_and_packed(
            dir.path(),
            "UPDATE judgments SET session = ?1 WHERE answer = 'maybe'",
            &session,
        );
        for source in [&alice, &pack] {
            let before = checksum(&project);
            let err = fails(&["merge", s(&project), s(source)]);
            assert!(err.contains("refused"), "{err}");
            assert!(
                err.contains("column session") && err.contains(expected),
                "{expected:?} is not in: {err}"
            );
            assert_eq!(checksum(&project), before, "the target changed");
        }
    }
}

/// A string over a name's limit but within a note's is checked again where it stands as a note,
/// and passes there.
#[test]
fn a_packs_long_note_merges() {
    let dir = tempfile::tempdir().unwrap();
    let note = "n".repeat(2000);
    let (project, _, pack) = edited_and_packed(
        dir.path(),
        "UPDATE flags SET note = ?1 WHERE note = 'two dogs?'",
        &note,
    );
    ok(&["merge", s(&project), s(&pack)]);
    let kept: String = rusqlite::Connection::open(&project)
        .unwrap()
        .query_row(
            "SELECT note FROM flags WHERE length(note) = 2000",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, note);
}
