//! The team workflow with the real binary on the real photos and predictions: assign, annotate
//! each file, merge back; checkouts; dry runs; image conflicts; a schema-1 source; images and
//! models that only a source has.

use crate::merge_support;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use labelvet::annotate::{Session, SessionOptions};
use labelvet::store::predictions::PredictionWriter;
use labelvet::store::{Answer, ImageRecord, Store};
use merge_support::{
    PHOTOS, PREDICTIONS, checkout_of, checksum, copy_db, fails, labelvet, ok, s, state,
};

fn photo_project(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("project.db");
    ok(&["init", s(&p), "--images", PHOTOS]);
    ok(&["predictions", "import", s(&p), PREDICTIONS]);
    p
}

/// Works through an annotator's file with the annotation session `labelvet annotate` runs,
/// answering yes to everything, with one undo on the way; returns the events it wrote.
fn annotate_session(file: &Path, annotator: &str) -> usize {
    let mut session = Session::open(
        Store::open(file).unwrap(),
        SessionOptions {
            annotator: annotator.into(),
            show_sources: false,
            queue: Default::default(),
        },
    )
    .unwrap();
    let mut events = 0;
    while !session.is_finished() {
        session.answer(Answer::Yes).unwrap();
        events += 1;
        if events == 3 {
            session.undo().unwrap();
            session.answer(Answer::No).unwrap();
            events += 2;
        }
    }
    events
}

/// Answers every candidate of the given images: yes to the first candidate, no to the rest.
fn annotate(file: &Path, annotator: &str, images: &HashSet<String>) -> usize {
    let store = Store::open(file).unwrap();
    let mut n = 0;
    let mut keys: Vec<&String> = images.iter().collect();
    keys.sort();
    for key in keys {
        let id = store.image(key).unwrap().unwrap().id;
        for (i, c) in store.candidates(id).unwrap().iter().enumerate() {
            let answer = if i == 0 { Answer::Yes } else { Answer::No };
            store
                .append_answer(key, &c.label, answer, annotator, "s", Some(1500))
                .unwrap();
            n += 1;
        }
    }
    n
}

#[test]
fn assign_annotate_and_merge_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let project = photo_project(d);
    let handout = d.join("handout");
    let out = ok(&[
        "assign",
        s(&project),
        "--annotators",
        "alice,bob,carol",
        "--overlap",
        "2",
        "-o",
        s(&handout),
        "--seed",
        "5",
    ]);
    assert!(out.contains("made 3 files"), "{out}");

    let project_uuid = Store::open(&project).unwrap().meta().unwrap().project_uuid;
    let all: HashSet<String> = Store::open(&project)
        .unwrap()
        .images()
        .unwrap()
        .into_iter()
        .map(|i| i.rec.key)
        .collect();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut counts = Vec::new();
    let mut expected_events = 0;
    for name in ["alice", "bob", "carol"] {
        let file = handout.join(format!("{name}.db"));
        let store = Store::open(&file).unwrap();
        assert_eq!(store.meta().unwrap().project_uuid, project_uuid);
        assert_eq!(store.checkout_annotator().unwrap().as_deref(), Some(name));
        assert_eq!(
            store.images().unwrap().len(),
            all.len(),
            "every image travels"
        );
        let mine = store.assigned_images(name).unwrap().expect("an assignment");
        assert_eq!(
            store.assigned_image_ids(name).unwrap().unwrap().len(),
            mine.len()
        );
        assert_eq!(store.assigned_images("someone-else").unwrap(), None);
        for k in &mine {
            *seen.entry(k.clone()).or_default() += 1;
        }
        counts.push(mine.len());
        drop(store);
        expected_events += annotate_session(&file, name);
        // The session asked about the assigned images only, every candidate of each.
        let store = Store::open(&file).unwrap();
        let answered: HashSet<String> = store
            .current_answers()
            .unwrap()
            .into_iter()
            .map(|c| c.image)
            .collect();
        assert_eq!(answered, mine, "{name} answered outside their assignment");
    }
    assert_eq!(seen.len(), all.len(), "every image is assigned");
    assert!(
        seen.values().all(|&n| n == 2),
        "each image to two annotators"
    );
    let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
    assert!(max - min <= 1, "{counts:?}");

    // The same seed gives the same split.
    let again = d.join("again");
    ok(&[
        "assign",
        s(&project),
        "--annotators",
        "alice,bob,carol",
        "--overlap",
        "2",
        "-o",
        s(&again),
        "--seed",
        "5",
    ]);
    for name in ["alice", "bob", "carol"] {
        let a = Store::open(&again.join(format!("{name}.db")))
            .unwrap()
            .assigned_images(name)
            .unwrap();
        let b = Store::open(&handout.join(format!("{name}.db")))
            .unwrap()
            .assigned_images(name)
            .unwrap();
        assert_eq!(a, b);
    }
    // Existing files are never overwritten.
    let err = fails(&[
        "assign",
        s(&project),
        "--annotators",
        "alice,bob,carol",
        "--overlap",
        "2",
        "-o",
        s(&again),
    ]);
    assert!(err.contains("already exist"), "{err}");

    let files: Vec<String> = ["alice", "bob", "carol"]
        .iter()
        .map(|n| handout.join(format!("{n}.db")).display().to_string())
        .collect();
    let mut args = vec!["merge", s(&project)];
    args.extend(files.iter().map(String::as_str));

    // A dry run reports and writes nothing.
    let before = checksum(&project);
    let mut dry = args.clone();
    dry.push("--dry-run");
    let out = ok(&dry);
    assert!(out.contains("dry run: nothing was written"), "{out}");
    assert!(out.contains("alice"), "{out}");
    assert_eq!(checksum(&project), before);
    assert!(
        Store::open(&project)
            .unwrap()
            .merge_log()
            .unwrap()
            .is_empty()
    );

    let out = ok(&args);
    assert!(
        out.contains(&format!("{expected_events} new events, 0 already present")),
        "{out}"
    );
    let store = Store::open(&project).unwrap();
    assert_eq!(store.events().unwrap().len(), expected_events);
    let log = store.merge_log().unwrap();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].source_file, "alice.db");
    assert_eq!(log[0].annotators[0].0, "alice");
    assert_eq!(log[0].source_uuid, project_uuid);
    // The project holds no assignment: merging does not carry work orders.
    assert_eq!(store.assigned_images("alice").unwrap(), None);
    drop(store);
    let info = ok(&["info", s(&project)]);
    assert!(
        info.contains("merged      3 files; annotators merged in: alice, bob, carol"),
        "{info}"
    );
    assert!(info.contains("bob.db"), "{info}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["info", s(&project), "--json"])).unwrap();
    assert_eq!(json["merges"].as_array().unwrap().len(), 3);

    // Merging again adds nothing; the log records it.
    let out = ok(&args);
    assert!(
        out.contains(&format!("0 new events, {expected_events} already present")),
        "{out}"
    );
}

#[test]
fn a_checkout_carries_the_annotators_own_answers_only_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let project = photo_project(dir.path());
    {
        let store = Store::open(&project).unwrap();
        let img = &store.images().unwrap()[0].rec.key.clone();
        let label = store
            .candidates(store.image(img).unwrap().unwrap().id)
            .unwrap()[0]
            .label
            .clone();
        store
            .append_answer(img, &label, Answer::Yes, "alice", "s", None)
            .unwrap();
        store
            .append_answer(img, &label, Answer::No, "bob", "s", None)
            .unwrap();
    }
    let blind = dir.path().join("alice.db");
    let out = ok(&[
        "checkout",
        s(&project),
        "--annotator",
        "alice",
        "-o",
        s(&blind),
    ]);
    assert!(out.contains("all 81 images"), "{out}");
    let seen = Store::open(&blind).unwrap().events().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].annotator, "alice");
    let everything = dir.path().join("all.db");
    ok(&[
        "checkout",
        s(&project),
        "--annotator",
        "alice",
        "-o",
        s(&everything),
        "--with-answers",
    ]);
    assert_eq!(Store::open(&everything).unwrap().events().unwrap().len(), 2);
    // Same project, same questions.
    let (p, c) = (state(&project), state(&blind));
    assert_eq!(p.images, c.images);
    assert_eq!(p.candidates, c.candidates);
    assert_eq!(
        Store::open(&blind).unwrap().models().unwrap().len(),
        Store::open(&project).unwrap().models().unwrap().len()
    );
    let err = fails(&[
        "checkout",
        s(&project),
        "--annotator",
        "alice",
        "-o",
        s(&blind),
    ]);
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn different_bytes_under_one_key_stop_the_merge_unless_the_target_wins() {
    let dir = tempfile::tempdir().unwrap();
    let project = photo_project(dir.path());
    let file = checkout_of(&project, "alice", &dir.path().join("alice.db"));
    let key = {
        let store = Store::open(&file).unwrap();
        let img = store
            .images()
            .unwrap()
            .into_iter()
            .find(|i| i.rec.sha256.is_some())
            .unwrap();
        let label = store.candidates(img.id).unwrap()[0].label.clone();
        store
            .append_answer(&img.rec.key, &label, Answer::Yes, "alice", "s", None)
            .unwrap();
        store
            .conn_for_tests()
            .execute(
                "UPDATE images SET sha256 = ?1 WHERE key = ?2",
                [&"0".repeat(64), &img.rec.key],
            )
            .unwrap();
        img.rec.key
    };
    let before = checksum(&project);
    let err = fails(&["merge", s(&project), s(&file)]);
    assert!(err.contains(&key), "{err}");
    assert!(err.contains("different bytes"), "{err}");
    assert!(err.contains("--keep-target"), "{err}");
    assert_eq!(checksum(&project), before);

    let dry = labelvet(&["merge", s(&project), s(&file), "--dry-run"]);
    let out = String::from_utf8_lossy(&dry.stdout);
    assert!(
        !dry.status.success(),
        "a dry run that finds a conflict fails"
    );
    assert!(out.contains("conflicts: 1 image"), "{out}");
    assert!(out.contains(&key), "{out}");
    assert_eq!(checksum(&project), before);

    let out = ok(&["merge", s(&project), s(&file), "--keep-target"]);
    assert!(out.contains("the target's image records are kept"), "{out}");
    assert!(out.contains("1 new events are about those images"), "{out}");
    let store = Store::open(&project).unwrap();
    assert_ne!(
        store.image(&key).unwrap().unwrap().rec.sha256,
        Some("0".repeat(64))
    );
    assert_eq!(store.events().unwrap().len(), 1);
    assert_eq!(store.merge_log().unwrap()[0].conflicts_kept, 1);
}

#[test]
fn a_schema_1_source_merges_into_a_current_target() {
    let dir = tempfile::tempdir().unwrap();
    let project = photo_project(dir.path());
    let file = checkout_of(&project, "alice", &dir.path().join("old.db"));
    let expected = {
        let store = Store::open(&file).unwrap();
        let keys: HashSet<String> = store
            .images()
            .unwrap()
            .into_iter()
            .take(5)
            .map(|i| i.rec.key)
            .collect();
        drop(store);
        annotate(&file, "alice", &keys)
    };
    {
        // What a file of labelvet's first schema holds: migration 1 only.
        let conn = rusqlite::Connection::open(&file).unwrap();
        conn.execute_batch(
            "DROP TABLE classify; DROP TABLE gold; DROP TABLE verdicts;
             DROP TABLE assignments; DROP TABLE merge_log; DROP INDEX candidates_by_label;
             DROP TABLE image_blobs; DROP TABLE answer_tally; DROP TABLE answer_tally_stamp;
             CREATE INDEX predictions_by_model ON predictions(model_id);
             UPDATE meta SET value = '1' WHERE key = 'schema_version';
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let out = ok(&["merge", s(&project), s(&file)]);
    assert!(out.contains("schema 1"), "{out}");
    assert!(out.contains(&format!("{expected} new events")), "{out}");
    assert_eq!(
        Store::open(&project).unwrap().merge_log().unwrap()[0].source_schema,
        1
    );
    // The source was read, not migrated in place.
    let conn = rusqlite::Connection::open(&file).unwrap();
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, 1);
}

#[test]
fn images_and_models_only_a_source_has_come_along_with_their_candidates() {
    let dir = tempfile::tempdir().unwrap();
    let project = photo_project(dir.path());
    let file = checkout_of(&project, "alice", &dir.path().join("alice.db"));
    let existing = {
        let mut store = Store::open(&file).unwrap();
        store
            .insert_images(&[ImageRecord::missing(
                "extra/new.jpg".into(),
                Some("n01440764".into()),
            )])
            .unwrap();
        let existing = store.images().unwrap()[0].clone();
        let new_id = store.image("extra/new.jpg").unwrap().unwrap().id;
        store
            .transaction(|tx| {
                let mut w = PredictionWriter::new(tx)?;
                let m = w.model_id("tiny-net", "tiny.csv")?;
                w.add(new_id, m, 1, "n01443537", Some(0.7))?;
                w.add(new_id, m, 2, "n01484850", Some(0.2))?;
                w.add(existing.id, m, 1, "n01491361", Some(0.9))?;
                Ok(())
            })
            .unwrap();
        store.rebuild_candidates().unwrap();
        store
            .append_answer(
                "extra/new.jpg",
                "n01494475",
                Answer::Yes,
                "alice",
                "s",
                None,
            )
            .unwrap();
        existing.rec.key
    };
    let out = ok(&["merge", s(&project), s(&file)]);
    assert!(out.contains("images: 1 new"), "{out}");
    assert!(out.contains("new models: tiny-net"), "{out}");
    assert!(out.contains("predictions: 3 new"), "{out}");

    let store = Store::open(&project).unwrap();
    let new = store.image("extra/new.jpg").unwrap().unwrap();
    let labels: Vec<String> = store
        .candidates(new.id)
        .unwrap()
        .into_iter()
        .map(|c| c.label)
        .collect();
    assert_eq!(
        labels,
        ["n01440764", "n01443537", "n01484850", "n01494475"],
        "original, the model's two, the answered label"
    );
    let old = store.image(&existing).unwrap().unwrap();
    assert!(
        store
            .candidates(old.id)
            .unwrap()
            .iter()
            .any(|c| c.label == "n01491361" && c.sources.iter().any(|s| s.model == "tiny-net"))
    );
    drop(store);
    // The candidates equal a full rebuild from the merged images, predictions and answers.
    let merged = state(&project).candidates;
    let rebuilt = copy_db(&project, &dir.path().join("rebuilt.db"));
    Store::open(&rebuilt).unwrap().rebuild_candidates().unwrap();
    assert_eq!(state(&rebuilt).candidates, merged);
}

/// A file of schema 6 still has the index of predictions by model: as a merge source it is read
/// (its predictions of a model the target lacks come along), not migrated; opened to work on,
/// it loses the index and keeps its predictions and their counts.
#[test]
fn a_schema_6_source_with_its_index_by_model_merges_and_opens() {
    let dir = tempfile::tempdir().unwrap();
    let project = photo_project(dir.path());
    let file = checkout_of(&project, "alice", &dir.path().join("old.db"));
    {
        let mut store = Store::open(&file).unwrap();
        let ids: Vec<i64> = store.images().unwrap()[..2].iter().map(|i| i.id).collect();
        store
            .transaction(|tx| {
                let mut w = PredictionWriter::new(tx)?;
                let m = w.model_id("tiny-net", "tiny.csv")?;
                w.add(ids[0], m, 1, "n01443537", Some(0.7))?;
                w.add(ids[0], m, 2, "n01484850", None)?;
                w.add(ids[1], m, 1, "n01491361", Some(0.9))?;
                Ok(())
            })
            .unwrap();
        store.rebuild_candidates().unwrap();
    }
    {
        // What labelvet's sixth schema wrote: migrations 1 to 6, with predictions_by_model.
        let conn = rusqlite::Connection::open(&file).unwrap();
        conn.execute_batch(
            "DROP TABLE answer_tally; DROP TABLE answer_tally_stamp;
             CREATE INDEX predictions_by_model ON predictions(model_id);
             UPDATE meta SET value = '6' WHERE key = 'schema_version';
             PRAGMA user_version = 6;",
        )
        .unwrap();
    }
    let copy = copy_db(&file, &dir.path().join("copy.db"));
    let out = ok(&["merge", s(&project), s(&file)]);
    assert!(out.contains("schema 6"), "{out}");
    assert!(out.contains("new models: tiny-net"), "{out}");
    assert!(out.contains("predictions: 3 new"), "{out}");
    let conn = rusqlite::Connection::open(&file).unwrap();
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, 6);
    drop(conn);

    let rows = |path: &Path| -> Vec<String> {
        let conn = rusqlite::Connection::open(path).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT 'p', image_id, model_id, rank, label, ifnull(score, 'none') FROM predictions
                 UNION ALL SELECT 'c', image_id, label, is_original, '', '' FROM candidates
                 ORDER BY 1, 2, 3, 4",
            )
            .unwrap();
        stmt.query_map([], |r| {
            Ok((0..6)
                .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                .collect::<Vec<_>>()
                .join("|"))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
    };
    let before = rows(&copy);
    let store = Store::open(&copy).unwrap();
    assert_eq!(
        store.meta().unwrap().schema_version,
        labelvet::store::schema::SCHEMA_VERSION
    );
    let index: i64 = store
        .conn_for_tests()
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'predictions_by_model'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(index, 0);
    let tiny = store
        .models()
        .unwrap()
        .into_iter()
        .find(|m| m.name == "tiny-net")
        .unwrap();
    assert_eq!((tiny.predictions, tiny.images), (3, 2));
    drop(store);
    assert_eq!(rows(&copy), before);
}
