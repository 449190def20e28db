//! How `project.db` and `expected.txt` here were made: this file, placed as
//! `tests/zz_make_schema3.rs` in a checkout of main at ab10d1b (schema 3, before the event log
//! of `store::events`), run once with `cargo test --release --test zz_make_schema3`. It is kept
//! as a record, not compiled: run today, it would write the file with today's code.
//! `store::events::tests` reads the file with today's code and compares with `expected.txt`.
#[path = "merge_support/mod.rs"]
mod merge_support;
use labelvet::store::merge::MergeOptions;
use labelvet::store::{Answer, FlagKind, Store};
use merge_support::{checkout_of, small_project};
use std::path::Path;

#[test]
fn make() {
    let out = Path::new("tests/data/schema3/project.db");
    let _ = std::fs::remove_file(out);
    let dir = tempfile::tempdir().unwrap();
    let base = small_project(out, 4);
    let work = checkout_of(&base, "bob", &dir.path().join("bob.db"));
    {
        let s = Store::open(&base).unwrap();
        let a = s
            .append_answer("img0", "cat", Answer::Yes, "ann", "s1", Some(800))
            .unwrap();
        s.append_answer("img0", "dog", Answer::No, "ann", "s1", Some(700))
            .unwrap();
        let b = s
            .append_answer("img1", "dog", Answer::Maybe, "ann", "s1", None)
            .unwrap();
        s.append_retraction(&b, "s1").unwrap();
        s.append_answer("img0", "cat", Answer::No, "ann", "s2", None)
            .unwrap();
        let _ = a;
        s.append_answers(
            &[
                ("img2".into(), "fox".into(), Answer::Yes),
                ("img3".into(), "owl".into(), Answer::No),
            ],
            "ann",
            "s3",
            Some(300),
        )
        .unwrap();
        s.append_flag("img1", FlagKind::Broken, "truncated", "ann", "s1")
            .unwrap();
        s.append_flag("img2", FlagKind::Expert, "", "ann", "s1")
            .unwrap();
        s.append_flag("img2", FlagKind::Clear, "", "ann", "s2")
            .unwrap();
        let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        s.append_classify(
            "img0",
            "ann",
            "s1",
            &keys(&["dog", "cat"]),
            "cat",
            2,
            Some(1500),
        )
        .unwrap();
        s.append_classify("img1", "ann", "s1", &keys(&["dog"]), "dog", 1, None)
            .unwrap();
        s.retract_classify("img1", "ann", "s1").unwrap();
    }
    {
        let s = Store::open(&work).unwrap();
        s.append_answer("img0", "cat", Answer::Yes, "bob", "b1", Some(500))
            .unwrap();
        s.append_answer("img3", "yak", Answer::Maybe, "bob", "b1", Some(500))
            .unwrap();
        s.append_flag("img3", FlagKind::Ambiguous, "two animals", "bob", "b1")
            .unwrap();
        let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        s.append_classify("img0", "bob", "b1", &keys(&["cat"]), "cat", 1, None)
            .unwrap();
    }
    let mut s = Store::open(&base).unwrap();
    s.merge(&[work], &MergeOptions::default(), &mut |_| {})
        .unwrap();
    let mut dump = format!("{:#?}\n", s.events().unwrap());
    dump += &format!("{:#?}\n", s.current_answers().unwrap());
    for i in 0..4 {
        dump += &format!("{:#?}\n", s.flags_for_image(&format!("img{i}")).unwrap());
        dump += &format!(
            "{:#?}\n",
            s.current_for_image(&format!("img{i}"), "ann").unwrap()
        );
        dump += &format!(
            "{:#?}\n",
            s.current_classify(&format!("img{i}"), "ann").unwrap()
        );
    }
    dump += &format!("{:#?}\n", s.classify_events().unwrap());
    dump += &format!("{:#?}\n", s.current_classify_answers().unwrap());
    dump += &format!("{:#?}\n", s.classify_counts().unwrap());
    dump += &format!("{:#?}\n", s.counts_by_annotator().unwrap());
    let log = s.merge_log().unwrap();
    dump += &format!(
        "{:#?}\n",
        log.iter()
            .map(|e| (
                &e.annotators,
                e.new_events,
                e.duplicate_events,
                e.new_flags,
                e.new_classify
            ))
            .collect::<Vec<_>>()
    );
    std::fs::write("tests/data/schema3/expected.txt", dump).unwrap();
    s.conn()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    s.conn()
        .pragma_update(None, "journal_mode", "DELETE")
        .unwrap();
    drop(s);
}
