//! The CLASSIFY task's data: classify answers imported (keys and indices, defaults, errors by
//! file and line, stable ids), the report's figures against hand-computed numbers (with a tie and
//! a retraction), the classify queue, and classify events through checkout and merge like
//! judgments, hostile rows included. Real ImageNet validation keys and the bundled vocabulary.

use crate::merge_support;

use std::path::{Path, PathBuf};

use labelvet::analysis::classify::load_classify_queue;
use labelvet::analysis::project::Options;
use labelvet::store::Store;
use merge_support::{checkout_of, checksum, copy_db, fails, ok, s};

const MANIFEST: &str = "../shared/data/imagenet_val/original_labels.csv";

/// The first `n` validation images with their original labels (65, 970, 230, 809, 516, 57).
fn project(dir: &Path, n: usize) -> PathBuf {
    let text = std::fs::read_to_string(MANIFEST).unwrap();
    let manifest: String = text.lines().take(n + 1).map(|l| format!("{l}\n")).collect();
    let m = dir.join("manifest.csv");
    std::fs::write(&m, manifest).unwrap();
    let db = dir.join("val.db");
    ok(&["init", s(&db), "--manifest", s(&m)]);
    db
}

fn img(i: u32) -> String {
    format!("ILSVRC2012_val_{i:08}.JPEG")
}

/// The class key of an ImageNet index, from the project's own vocabulary.
fn key(db: &Path, index: u32) -> String {
    let v = Store::open(db).unwrap().vocab().unwrap();
    v.resolve(&index.to_string()).unwrap().key.clone()
}

fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

/// The hand-made answers of the report test; labels mix class keys and indices.
///   img1 (original 65):  ana main 66 objects 2, ben main 66 (objects by default 2),
///                        cai main 65 objects 1                  -> main 66, 2 objects
///   img2 (original 970): ana main 979 objects 1, ben main 970 objects 3
///                        -> a tie: the original 970; objects tie 1 / 3: 1
///   img3 (original 230): ana main 231 objects 2 at t=1000, then main 230 objects 1 at t=2000;
///                        ben main 231 objects 2
///                        -> before undo: tie -> 230, objects tie -> 1
///                        -> after ana's latest is retracted: 231 (2 votes), 2 objects
///   img4 (original 809): cai main 923 objects 2                 -> main 923, 2 objects
/// (ties as `--classify-ties original` breaks them; the default, first-given, is checked after)
fn answers(db: &Path) -> Vec<String> {
    let k = |i| key(db, i);
    vec![
        format!(
            r#"{{"image":"{}","annotator":"ana","present":[65,"{}"],"main":66,"objects":2}}"#,
            img(1),
            k(66)
        ),
        format!(
            r#"{{"image":"{}","annotator":"ben","present":["{}",66],"main":"{}"}}"#,
            img(1),
            k(65),
            k(66)
        ),
        format!(
            r#"{{"image":"{}","annotator":"cai","present":[65],"main":65,"objects":1}}"#,
            img(1)
        ),
        format!(
            r#"{{"image":"{}","annotator":"ana","present":[970,979],"main":979,"objects":1}}"#,
            img(2)
        ),
        format!(
            r#"{{"image":"{}","annotator":"ben","present":[970],"main":970,"objects":3}}"#,
            img(2)
        ),
        format!(
            r#"{{"image":"{}","annotator":"ana","present":[230,231],"main":231,"objects":2,"time":1000}}"#,
            img(3)
        ),
        format!(
            r#"{{"image":"{}","annotator":"ana","present":[230,231],"main":230,"objects":1,"time":2000}}"#,
            img(3)
        ),
        format!(
            r#"{{"image":"{}","annotator":"ben","present":[231,230],"main":231,"objects":2}}"#,
            img(3)
        ),
        format!(
            r#"{{"image":"{}","annotator":"cai","present":[809,923],"main":923,"objects":2}}"#,
            img(4)
        ),
    ]
}

fn classify_json(db: &Path) -> serde_json::Value {
    let out = ok(&["report", s(db), "--json", "--classify-ties", "original"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["classify"].clone()
}

#[test]
fn report_figures_match_the_hand_computed_ones_before_and_after_an_undo() {
    let dir = tempfile::tempdir().unwrap();
    let db = project(dir.path(), 6);
    assert!(
        classify_json(&db).is_null(),
        "no classify answers, no section"
    );
    assert!(!ok(&["report", s(&db)]).contains("Classify"));

    let file = write(dir.path(), "classify.jsonl", &answers(&db));
    let out = ok(&[
        "judgments",
        "import",
        s(&db),
        s(&file),
        "--format",
        "classify-jsonl",
    ]);
    assert!(
        out.contains("read 9 classify answers by 3 annotators on 4 images"),
        "{out}"
    );

    let c = classify_json(&db);
    assert_eq!(c["images"], 4);
    assert_eq!(
        c["answers"], 8,
        "ana's two answers on img3 are one current answer"
    );
    assert_eq!(c["annotators"], 3);
    assert_eq!(c["main_ties"], 2, "img2 and img3");
    assert_eq!(c["objects_ties"], 2);
    assert_eq!(c["multi_object"], 2, "img1 and img4");
    assert_eq!(c["share_multi_object"], 0.5);
    assert_eq!(c["with_original"], 4);
    assert_eq!(c["main_not_original"], 2, "img1 and img4");
    assert_eq!(c["share_main_not_original"], 0.5);
    assert_eq!(
        c["objects_per_image"],
        serde_json::json!([{"objects": 1, "images": 2}, {"objects": 2, "images": 2}])
    );

    // The default breaks ties to the value given first (Tsipras et al.): on img2 ana's 979
    // and 1 object (her line comes first); on img3 ben's 231 and 2 objects (his untimed line
    // is dated before ana's answer at t=2000).
    let first: serde_json::Value =
        serde_json::from_str(&ok(&["report", s(&db), "--json"])).unwrap();
    let f = &first["classify"];
    assert_eq!(f["tie_rule"], "first-given");
    assert_eq!(
        (f["main_ties"].as_u64(), f["objects_ties"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(f["multi_object"], 3, "img1, img3 and img4");
    assert_eq!(f["main_not_original"], 4);

    // Undo ana's latest answer on img3: her earlier one (main 231, 2 objects) is current again.
    {
        let store = Store::open(&db).unwrap();
        let undo = store
            .retract_classify(&img(3), "ana", "test")
            .unwrap()
            .unwrap();
        assert!(undo.retracts.is_some());
        let now = store.current_classify(&img(3), "ana").unwrap().unwrap();
        let answer = now.answer.unwrap();
        assert_eq!((answer.main, answer.objects), (key(&db, 231), 2));
    }
    let c = classify_json(&db);
    assert_eq!(c["answers"], 8);
    assert_eq!(c["main_ties"], 1, "only img2");
    assert_eq!(c["objects_ties"], 1);
    assert_eq!(c["multi_object"], 3);
    assert_eq!(c["share_multi_object"], 0.75);
    assert_eq!(c["main_not_original"], 3);
    assert_eq!(c["share_main_not_original"], 0.75);
    let confusions: Vec<(String, String, u64)> = c["confusions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["original"]["key"].as_str().unwrap().to_string(),
                x["main"]["key"].as_str().unwrap().to_string(),
                x["images"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        confusions,
        vec![
            (key(&db, 65), key(&db, 66), 1),
            (key(&db, 230), key(&db, 231), 1),
            (key(&db, 809), key(&db, 923), 1),
        ]
    );

    let text = ok(&["report", s(&db), "--classify-ties", "original"]);
    assert!(
        text.contains(
            "Classify: main object and number of objects (4 images, 8 answers by 3 annotators)"
        ),
        "{text}"
    );
    // One column for the values, whatever the row's name.
    for row in [
        "  2+ objects                  3 of 4 (75.0%)",
        "  main label not the original 3 of 4 (75.0%)",
        "  objects per image           1: 1, 2: 3",
    ] {
        assert!(text.lines().any(|l| l == row), "`{row}` in:\n{text}");
    }
    let info = ok(&["info", s(&db)]);
    assert!(
        info.contains("classify    8 current answers on 4 images by 3 annotators (10 events)"),
        "{info}"
    );
    let json: serde_json::Value = serde_json::from_str(&ok(&["info", s(&db), "--json"])).unwrap();
    assert_eq!(
        json["classify"],
        serde_json::json!({"events": 10, "current_answers": 8, "images": 4, "annotators": 3})
    );
}

#[test]
fn import_reads_keys_and_indices_finds_the_format_and_adds_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = project(dir.path(), 4);
    let file = write(dir.path(), "answers.jsonl", &answers(&db)[..5]);
    // No --format: the `present` field tells classify answers from judgments.
    let out = ok(&["judgments", "import", s(&db), s(&file)]);
    assert!(out.contains("added 5 new; 0 were already"), "{out}");
    let events = Store::open(&db).unwrap().classify_events().unwrap();
    assert_eq!(events.len(), 5);

    let store = Store::open(&db).unwrap();
    let ben = store.current_classify(&img(1), "ben").unwrap().unwrap();
    let a = ben.answer.unwrap();
    // Keys and indices name the same classes; present is stored sorted; objects defaults to
    // the number of labels present.
    let mut expected = vec![key(&db, 65), key(&db, 66)];
    expected.sort();
    assert_eq!(a.present, expected);
    assert_eq!((a.main.clone(), a.objects), (key(&db, 66), 2));
    assert_eq!(ben.origin, "import:answers.jsonl");
    assert_eq!(uuid::Uuid::parse_str(&ben.id).unwrap().get_version_num(), 8);
    drop(store);

    // The same answers from a renamed copy, and again: nothing new.
    let copy = dir.path().join("renamed.jsonl");
    std::fs::copy(&file, &copy).unwrap();
    let out = ok(&[
        "judgments",
        "import",
        s(&db),
        s(&copy),
        "--format",
        "classify-jsonl",
    ]);
    assert!(out.contains("added 0 new; 5 were already"), "{out}");
    assert_eq!(Store::open(&db).unwrap().classify_events().unwrap(), events);

    // The export gives the answers back in the import's layout: another project reads them into
    // the same current answers.
    let exported = dir.path().join("exported.jsonl");
    ok(&[
        "export",
        s(&db),
        "--format",
        "classify-jsonl",
        "-o",
        s(&exported),
    ]);
    let other_dir = tempfile::tempdir().unwrap();
    let other = project(other_dir.path(), 4);
    ok(&["judgments", "import", s(&other), s(&exported)]);
    let answers = |db: &Path| -> Vec<(String, String, labelvet::store::ClassifyAnswer)> {
        Store::open(db)
            .unwrap()
            .current_classify_answers()
            .unwrap()
            .into_iter()
            .map(|c| (c.image, c.annotator, c.answer))
            .collect()
    };
    assert_eq!(answers(&other), answers(&db));
    assert_eq!(answers(&db).len(), 5);

    // --annotator names the annotator of lines that name none.
    let line = format!(r#"{{"image":"{}","present":[809],"main":809}}"#, img(4));
    let f = write(dir.path(), "anon.jsonl", &[line]);
    fails(&["judgments", "import", s(&db), s(&f)]);
    ok(&["judgments", "import", s(&db), s(&f), "--annotator", "dee"]);
    assert!(
        Store::open(&db)
            .unwrap()
            .current_classify(&img(4), "dee")
            .unwrap()
            .is_some()
    );
}

#[test]
fn bad_lines_name_file_and_line_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = project(dir.path(), 4);
    let good = format!(
        r#"{{"image":"{}","annotator":"ana","present":[65,66],"main":66}}"#,
        img(1)
    );
    let cases = [
        (
            format!(
                r#"{{"image":"{}","annotator":"ana","present":[65,"n99999999"],"main":65}}"#,
                img(1)
            ),
            "unknown class `n99999999`",
        ),
        (
            format!(
                r#"{{"image":"{}","annotator":"ana","present":[65,66],"main":67}}"#,
                img(1)
            ),
            "is not among the labels present",
        ),
        (
            r#"{"image":"nope.JPEG","annotator":"ana","present":[65],"main":65}"#.to_string(),
            "image nope.JPEG is not in the project",
        ),
        (
            format!(
                r#"{{"image":"{}","annotator":"ana","present":[],"main":65}}"#,
                img(1)
            ),
            "`present` is empty",
        ),
        (
            format!(
                r#"{{"image":"{}","annotator":"ana","present":[65],"main":65,"objects":0}}"#,
                img(1)
            ),
            "is not a count of at least 1",
        ),
        (
            format!(
                r#"{{"image":"{}","annotator":"ana","present":[65,"{}"],"main":65}}"#,
                img(1),
                key(&db, 65)
            ),
            "names class",
        ),
        (
            format!(
                r#"{{"image":"{}","annotator":"ana","present":[65]}}"#,
                img(1)
            ),
            "no `main` field",
        ),
        ("{not json".to_string(), "not a classify record"),
    ];
    let before = checksum(&db);
    for (bad, msg) in cases {
        // Line 1 is good, line 2 blank, line 3 the bad one.
        let f = write(dir.path(), "bad.jsonl", &[good.clone(), String::new(), bad]);
        let err = fails(&[
            "judgments",
            "import",
            s(&db),
            s(&f),
            "--format",
            "classify-jsonl",
        ]);
        assert!(err.contains(&format!("{}:3: ", f.display())), "{err}");
        assert!(err.contains(msg), "{msg}: {err}");
        assert_eq!(checksum(&db), before, "{msg}: the project changed");
    }
}

#[test]
fn the_queue_holds_multi_label_images_with_their_valid_labels() {
    let dir = tempfile::tempdir().unwrap();
    let db = project(dir.path(), 4);
    // img1: 65 valid (yes, yes), 66 at selection frequency 1/2; img2: 970 valid, 979 not
    // (no, no); img3 unanswered.
    let mut lines = Vec::new();
    for a in ["ana", "ben"] {
        let on_66 = if a == "ana" { "yes" } else { "no" };
        for (i, label, answer) in [
            (1, 65, "yes"),
            (1, 66, on_66),
            (2, 970, "yes"),
            (2, 979, "no"),
        ] {
            lines.push(format!(
                r#"{{"image":"{}","label":{label},"annotator":"{a}","answer":"{answer}"}}"#,
                img(i)
            ));
        }
    }
    let f = write(dir.path(), "judgments.jsonl", &lines);
    ok(&["judgments", "import", s(&db), s(&f)]);
    let classify = format!(
        r#"{{"image":"{}","annotator":"ana","present":[65,66],"main":66}}"#,
        img(1)
    );
    let f = write(dir.path(), "classify.jsonl", &[classify]);
    ok(&["judgments", "import", s(&db), s(&f)]);

    let store = Store::open(&db).unwrap();
    for (who, answered) in [("ana", true), ("ben", false)] {
        let q = load_classify_queue(&store, &Options::default(), None, who).unwrap();
        assert_eq!(q.len(), 1, "{q:?}");
        assert_eq!(q[0].image, img(1));
        let labels: Vec<&str> = q[0].labels.iter().map(|l| l.key.as_str()).collect();
        assert_eq!(labels, [key(&db, 65), key(&db, 66)], "vocabulary order");
        assert_eq!(q[0].labels[0].name, "sea snake");
        assert_eq!(q[0].original, Some(key(&db, 65)));
        assert_eq!(q[0].answered, answered);
    }
    // At a stricter threshold 66 is not valid on img1, and no image has two valid labels.
    let strict = Options {
        threshold: 0.6,
        ..Options::default()
    };
    assert!(
        load_classify_queue(&store, &strict, None, "ana")
            .unwrap()
            .is_empty()
    );
}

/// The classify events and current classify answers of a file, comparable across files.
fn classify_state(db: &Path) -> (Vec<labelvet::store::ClassifyEvent>, Vec<String>) {
    let store = Store::open(db).unwrap();
    let current = store
        .current_classify_answers()
        .unwrap()
        .into_iter()
        .map(|c| format!("{} {} {}", c.image, c.annotator, c.event_id))
        .collect();
    let mut events = store.classify_events().unwrap();
    events.sort_by(|a, b| a.id.cmp(&b.id));
    (events, current)
}

#[test]
fn classify_events_merge_like_judgments_and_travel_with_checkouts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = project(d, 6);
    let alice = checkout_of(&db, "alice", &d.join("alice.db"));
    let bob = checkout_of(&db, "bob", &d.join("bob.db"));
    let (k65, k66) = (key(&db, 65), key(&db, 66));
    {
        let a = Store::open(&alice).unwrap();
        a.append_classify(
            &img(1),
            "alice",
            "s",
            &[k65.clone(), k66.clone()],
            &k66,
            2,
            Some(900),
        )
        .unwrap();
        a.append_classify(
            &img(1),
            "alice",
            "s",
            std::slice::from_ref(&k65),
            &k65,
            1,
            None,
        )
        .unwrap();
        a.retract_classify(&img(1), "alice", "s").unwrap().unwrap();
        a.append_classify(
            &img(2),
            "alice",
            "s",
            &[key(&db, 970)],
            &key(&db, 970),
            1,
            None,
        )
        .unwrap();
        let b = Store::open(&bob).unwrap();
        b.append_classify(
            &img(1),
            "bob",
            "s",
            std::slice::from_ref(&k66),
            &k66,
            3,
            None,
        )
        .unwrap();
    }
    let ab = copy_db(&db, &d.join("ab.db"));
    let ba = copy_db(&db, &d.join("ba.db"));
    let out = ok(&["merge", s(&ab), s(&alice), s(&bob)]);
    assert!(
        out.contains("classify answers: 4 new, 0 already present"),
        "{out}"
    );
    ok(&["merge", s(&ba), s(&bob), s(&alice)]);
    let merged = classify_state(&ab);
    assert_eq!(merged.0.len(), 5);
    assert_eq!(merged, classify_state(&ba), "merge(A, B) == merge(B, A)");
    assert_eq!(
        merged.1.len(),
        3,
        "alice on img1 (her first answer again) and img2, bob on img1"
    );
    let log = Store::open(&ab).unwrap().merge_log().unwrap();
    assert_eq!(
        log.iter()
            .map(|e| e.events.get("classify").new)
            .collect::<Vec<_>>(),
        [4, 1]
    );

    // Twice is once.
    let before = classify_state(&ab);
    ok(&["merge", s(&ab), s(&alice), s(&bob)]);
    assert_eq!(classify_state(&ab), before);
    let log = Store::open(&ab).unwrap().merge_log().unwrap();
    assert_eq!(
        log[2].events.get("classify").new + log[3].events.get("classify").new,
        0
    );

    // A checkout carries its annotator's classify events, and everyone's with --with-answers.
    let own = d.join("own.db");
    ok(&["checkout", s(&ab), "--annotator", "bob", "-o", s(&own)]);
    assert_eq!(classify_state(&own).0.len(), 1);
    let all = d.join("all.db");
    ok(&[
        "checkout",
        s(&ab),
        "--annotator",
        "cai",
        "-o",
        s(&all),
        "--with-answers",
    ]);
    assert_eq!(classify_state(&all), before);
}

#[test]
fn hostile_classify_rows_are_refused_and_leave_the_target_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = project(d, 4);
    let alice = checkout_of(&db, "alice", &d.join("alice.db"));
    let (k65, k66) = (key(&db, 65), key(&db, 66));
    let id = {
        let a = Store::open(&alice).unwrap();
        a.append_classify(
            &img(1),
            "alice",
            "s",
            &[k65.clone(), k66.clone()],
            &k65,
            2,
            None,
        )
        .unwrap()
        .id
    };
    let before = checksum(&db);
    let cases = [
        (
            r#"UPDATE classify SET present = '["n99999999"]', main = 'n99999999'"#.to_string(),
            "label `n99999999` is not a class of the target's vocabulary",
        ),
        (
            format!("UPDATE classify SET main = '{}'", key(&db, 67)),
            "is not among the labels present",
        ),
        (
            format!(r#"UPDATE classify SET present = '["{k66}","{k65}"]'"#),
            "is not a sorted list of distinct class keys",
        ),
        (
            "UPDATE classify SET image = 'elsewhere.JPEG'".to_string(),
            "names image `elsewhere.JPEG`",
        ),
        (
            format!(
                "INSERT INTO classify(id, image, retracts, annotator, session, created_at)
                 VALUES ('01890000-0000-7000-8000-000000000000', '{}', '{id}', 'mallory', 's', 1)",
                img(1)
            ),
            "which is not a classify answer of theirs to the same image",
        ),
    ];
    for (i, (sql, msg)) in cases.iter().enumerate() {
        let bad = copy_db(&alice, &d.join(format!("bad{i}.db")));
        rusqlite::Connection::open(&bad)
            .unwrap()
            .execute_batch(sql)
            .unwrap();
        // Others' events allowed, so that each row's own check is what refuses it.
        let err = fails(&["merge", s(&db), s(&bad), "--allow-other-annotators"]);
        assert!(err.contains(msg), "{msg}: {err}");
        assert_eq!(checksum(&db), before, "{msg}: the target changed");
    }

    // An id on both sides with different content is refused too.
    ok(&["merge", s(&db), s(&alice)]);
    let before = checksum(&db);
    let altered = copy_db(&alice, &d.join("altered.db"));
    rusqlite::Connection::open(&altered)
        .unwrap()
        .execute("UPDATE classify SET objects = 5", [])
        .unwrap();
    let err = fails(&["merge", s(&db), s(&altered)]);
    assert!(err.contains("with different content"), "{err}");
    assert_eq!(checksum(&db), before);
}

#[test]
fn a_schema_2_source_merges_into_a_schema_3_target() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = project(d, 4);
    let old = checkout_of(&db, "alice", &d.join("old.db"));
    {
        let store = Store::open(&old).unwrap();
        store
            .append_answer(
                &img(1),
                &key(&db, 65),
                labelvet::store::Answer::Yes,
                "alice",
                "s",
                None,
            )
            .unwrap();
    }
    {
        // What labelvet's second schema wrote: no classify table nor later indexes, the merge
        // log without the classify counts (made by migration 2's own statement).
        let m2 = labelvet::store::schema::MIGRATIONS[1];
        let merge_log = &m2[m2.find("CREATE TABLE merge_log").unwrap()..];
        let conn = rusqlite::Connection::open(&old).unwrap();
        conn.execute_batch(&format!(
            "DROP TABLE classify; DROP TABLE gold; DROP TABLE verdicts;
             DROP INDEX candidates_by_label; DROP TABLE image_blobs; DROP TABLE merge_log;
             DROP TABLE answer_tally; DROP TABLE answer_tally_stamp;
             {merge_log}
             CREATE INDEX predictions_by_model ON predictions(model_id);
             UPDATE meta SET value = '2' WHERE key = 'schema_version';
             PRAGMA user_version = 2;"
        ))
        .unwrap();
    }
    let out = ok(&["merge", s(&db), s(&old)]);
    assert!(out.contains("schema 2"), "{out}");
    let store = Store::open(&db).unwrap();
    assert_eq!(store.events().unwrap().len(), 1);
    assert_eq!(store.merge_log().unwrap()[0].source_schema, 2);
    assert!(store.classify_events().unwrap().is_empty());
}
