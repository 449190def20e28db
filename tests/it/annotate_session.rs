//! The annotation session driven directly, against projects of real photos and predictions.

use crate::annotate_support;

use std::time::Duration;

use annotate_support::{Project, project, project_with};
use labelvet::annotate::{Advance, ManualClock, Session, SessionOptions};
use labelvet::store::{Answer, FlagKind, Store};

fn open(p: &Project, annotator: &str) -> Session {
    Session::open(
        p.open(),
        SessionOptions {
            annotator: annotator.into(),
            show_sources: false,
            queue: Default::default(),
        },
    )
    .unwrap()
}

fn open_clocked(p: &Project, annotator: &str, clock: &ManualClock) -> Session {
    Session::open_with_clock(
        p.open(),
        SessionOptions {
            annotator: annotator.into(),
            show_sources: false,
            queue: Default::default(),
        },
        Box::new(clock.clone()),
    )
    .unwrap()
}

fn assert_close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-6, "{a} != {b}");
}

fn labels(s: &Session) -> Vec<String> {
    s.image()
        .unwrap()
        .items
        .iter()
        .map(|i| i.label.clone())
        .collect()
}

fn key(s: &Session) -> String {
    s.image().unwrap().key().to_string()
}

/// Every standing answer of `annotator` as (image, label, answer), read from the file itself.
fn standing(db: &std::path::Path, annotator: &str) -> Vec<(String, String, Answer)> {
    let store = Store::open(db).unwrap();
    let mut v: Vec<_> = store
        .current_answers()
        .unwrap()
        .into_iter()
        .filter(|a| a.annotator == annotator)
        .map(|a| (a.image, a.label, a.answer))
        .collect();
    v.sort();
    v
}

#[test]
fn answers_walk_the_candidates_then_the_next_image() {
    let p = project(3);
    let mut s = open(&p, "alice");
    assert_eq!(key(&s), p.keys[0]);
    assert_eq!(s.cursor(), 0);
    let n = s.image().unwrap().items.len();
    assert!(n >= 5, "real predictions give 5..13 candidates, got {n}");
    let order = labels(&s);

    for i in 0..n - 1 {
        assert_eq!(s.answer(Answer::Yes).unwrap(), Advance::Candidate);
        assert_eq!(s.cursor(), i + 1);
    }
    assert_eq!(s.answer(Answer::No).unwrap(), Advance::Image);
    assert_eq!(key(&s), p.keys[1]);
    assert_eq!(s.cursor(), 0);

    // Every answer is in the file, with this session's id, before the next call.
    let saved = standing(&p.db, "alice");
    assert_eq!(saved.len(), n);
    let events = Store::open(&p.db).unwrap().events().unwrap();
    assert!(events.iter().all(|e| e.session == s.session_id()));
    assert!(events.iter().all(|e| e.elapsed_ms.is_some()));
    let last = order.last().unwrap();
    assert!(saved.contains(&(p.keys[0].clone(), last.clone(), Answer::No)));
}

#[test]
fn every_answer_is_committed_before_the_session_moves_on() {
    let p = project(2);
    let mut s = open(&p, "alice");
    // A second connection, as a crash-surviving reader would see the file.
    let other = Store::open(&p.db).unwrap();
    for expected in 1..=4 {
        let label = s.current_item().unwrap().label.clone();
        s.answer(Answer::Maybe).unwrap();
        let events = other.events().unwrap();
        assert_eq!(events.len(), expected);
        assert_eq!(events.last().unwrap().label, label);
        assert_eq!(events.last().unwrap().answer, Some(Answer::Maybe));
    }
}

#[test]
fn undo_takes_back_this_sessions_answers_one_by_one() {
    let p = project(2);
    let mut s = open(&p, "alice");
    let order = labels(&s);
    s.answer(Answer::Yes).unwrap();
    s.answer(Answer::No).unwrap();
    s.answer(Answer::Maybe).unwrap();
    assert_eq!(s.cursor(), 3);
    assert_eq!(s.progress().answered, 3);

    let undone = s.undo().unwrap().unwrap();
    assert_eq!(undone.label, order[2]);
    assert_eq!(undone.answer, Some(Answer::Maybe));
    assert_eq!(s.cursor(), 2, "the undone question comes back");
    assert_eq!(s.current_item().unwrap().answer, None);
    assert_eq!(s.progress().answered, 2);

    let undone = s.undo().unwrap().unwrap();
    assert_eq!(undone.label, order[1]);
    assert_eq!(s.cursor(), 1);
    assert_eq!(
        standing(&p.db, "alice"),
        vec![(p.keys[0].clone(), order[0].clone(), Answer::Yes)]
    );

    // Retractions are appended: 3 answers + 2 retractions, nothing deleted.
    let events = Store::open(&p.db).unwrap().events().unwrap();
    assert_eq!(events.len(), 5);
    assert_eq!(events.iter().filter(|e| e.retracts.is_some()).count(), 2);

    s.undo().unwrap().unwrap();
    assert!(s.undo().unwrap().is_none(), "nothing left to undo");
    assert!(standing(&p.db, "alice").is_empty());
    assert_eq!(s.progress().answered, 0);
}

#[test]
fn undo_goes_back_to_the_previous_image_and_restores_an_earlier_answer() {
    let p = project(2);
    let mut s = open(&p, "alice");
    let n = s.image().unwrap().items.len();
    for _ in 0..n {
        s.answer(Answer::Yes).unwrap();
    }
    assert_eq!(key(&s), p.keys[1]);
    let undone = s.undo().unwrap().unwrap();
    assert_eq!(undone.image, p.keys[0]);
    assert_eq!(key(&s), p.keys[0]);
    assert_eq!(s.cursor(), n - 1);

    // Changing an answer, then undoing the change, brings the first answer back.
    s.select(0);
    s.answer(Answer::No).unwrap();
    let before = s.progress().answered;
    s.undo().unwrap();
    assert_eq!(s.cursor(), 0);
    assert_eq!(s.current_item().unwrap().answer, Some(Answer::Yes));
    assert_eq!(s.progress().answered, before, "still answered: yes is back");
}

#[test]
fn skip_leaves_a_question_open_until_the_rest_is_done() {
    let p = project(2);
    let mut s = open(&p, "alice");
    let first = s.current_item().unwrap().label.clone();
    assert_eq!(s.skip().unwrap(), Advance::Candidate);
    assert_eq!(s.cursor(), 1);
    let n0 = s.image().unwrap().items.len();
    for _ in 1..n0 {
        s.answer(Answer::No).unwrap();
    }
    assert_eq!(
        key(&s),
        p.keys[1],
        "the skipped question does not hold the image"
    );
    let n1 = s.image().unwrap().items.len();
    for _ in 0..n1 - 1 {
        s.answer(Answer::Yes).unwrap();
    }
    // The last answer of the queue wraps round to the skipped question.
    assert_eq!(s.answer(Answer::Yes).unwrap(), Advance::Image);
    assert_eq!(key(&s), p.keys[0]);
    assert_eq!(s.current_item().unwrap().label, first);
    assert!(!s.is_finished());
    assert_eq!(s.answer(Answer::Maybe).unwrap(), Advance::Finished);
    assert!(s.is_finished());
    assert_eq!(s.progress().answered, s.progress().total);
}

#[test]
fn moving_between_candidates_and_images() {
    let p = project(4);
    let mut s = open(&p, "alice");
    let n = s.image().unwrap().items.len();
    s.next_candidate();
    s.next_candidate();
    assert_eq!(s.cursor(), 2);
    s.prev_candidate();
    assert_eq!(s.cursor(), 1);
    s.select(99);
    assert_eq!(s.cursor(), n - 1, "clamped to the last candidate");
    s.prev_candidate();
    s.select(0);
    s.prev_candidate();
    assert_eq!(s.cursor(), 0);

    assert!(!s.prev_image().unwrap(), "already at the first image");
    assert!(s.next_image().unwrap());
    assert!(s.next_image().unwrap());
    assert_eq!(key(&s), p.keys[2]);
    assert_eq!(s.position(), (2, 4));
    assert!(s.prev_image().unwrap());
    assert_eq!(key(&s), p.keys[1]);

    s.go_to(&p.keys[3]).unwrap();
    assert_eq!(key(&s), p.keys[3]);
    assert!(!s.next_image().unwrap(), "already at the last image");
    let err = s.go_to("no/such.jpg").unwrap_err().to_string();
    assert!(err.contains("no image `no/such.jpg`"), "{err}");
    assert_eq!(key(&s), p.keys[3], "a failed jump stays put");

    // Going back to an image with answers puts the cursor on its first open candidate.
    s.go_to(&p.keys[0]).unwrap();
    s.answer(Answer::Yes).unwrap();
    s.answer(Answer::Yes).unwrap();
    s.next_image().unwrap();
    s.prev_image().unwrap();
    assert_eq!(s.cursor(), 2);
}

#[test]
fn progress_counts_answers_and_pace() {
    let p = project(3);
    let clock = ManualClock::new();
    let mut s = open_clocked(&p, "alice", &clock);
    let total = s.progress().total;
    let store = p.open();
    let all: u64 = store
        .conn_for_tests()
        .query_row("SELECT count(*) FROM candidates", [], |r| r.get(0))
        .unwrap();
    assert_eq!(total, all);
    assert_eq!(s.progress().answered, 0);
    assert_eq!(s.progress().per_hour, None);
    assert_eq!(s.progress().time_left, None);

    for _ in 0..3 {
        clock.advance(Duration::from_secs(10));
        s.answer(Answer::Yes).unwrap();
    }
    let pr = s.progress();
    assert_eq!(pr.answered, 3);
    assert_eq!(pr.session_answers, 3);
    assert_close(pr.per_hour.unwrap(), 360.0); // 3 answers in 30 s of work
    let left = pr.time_left.unwrap().as_secs_f64();
    assert!((left - (total - 3) as f64 * 10.0).abs() < 0.01, "{left}");

    // A long pause counts as one minute of work at most.
    clock.advance(Duration::from_secs(3600));
    s.answer(Answer::No).unwrap();
    assert_close(s.progress().per_hour.unwrap(), 160.0); // 4 answers in 90 s

    // The elapsed time of each answer is recorded.
    let events = store.events().unwrap();
    let elapsed: Vec<_> = events.iter().map(|e| e.elapsed_ms.unwrap()).collect();
    assert_eq!(elapsed, vec![10_000, 10_000, 10_000, 3_600_000]);

    // Another annotator's answers do not count for alice.
    let mut b = open(&p, "bob");
    b.answer(Answer::Yes).unwrap();
    assert_eq!(open(&p, "alice").progress().answered, 4);
    assert_eq!(open(&p, "bob").progress().answered, 1);
}

#[test]
fn reopening_resumes_at_the_first_open_image() {
    let p = project(4);
    let mut s = open(&p, "alice");
    let n0 = s.image().unwrap().items.len();
    for _ in 0..n0 {
        s.answer(Answer::Yes).unwrap();
    }
    s.answer(Answer::No).unwrap();
    drop(s);

    let s = open(&p, "alice");
    assert_eq!(key(&s), p.keys[1], "image 0 is done, image 1 is half done");
    assert_eq!(s.cursor(), 1, "on the first open candidate");
    assert_eq!(s.progress().answered, n0 as u64 + 1);

    // Bob has answered nothing: he starts at the beginning.
    assert_eq!(key(&open(&p, "bob")), p.keys[0]);

    // Retracting one of alice's answers on the first image (say, from another session) makes it
    // the resume point again.
    let store = p.open();
    let last = store
        .current_for_image(&p.keys[0], "alice")
        .unwrap()
        .into_iter()
        .next()
        .unwrap();
    store.append_retraction(&last, "elsewhere").unwrap();
    assert_eq!(key(&open(&p, "alice")), p.keys[0]);
}

#[test]
fn a_finished_queue_opens_finished_and_still_allows_review() {
    let p = project(1);
    let mut s = open(&p, "alice");
    while !s.is_finished() {
        s.answer(Answer::Yes).unwrap();
    }
    drop(s);
    let mut s = open(&p, "alice");
    assert!(s.is_finished());
    assert_eq!(key(&s), p.keys[0]);
    // Changing an answer on review does not move the session away.
    s.select(1);
    assert_eq!(s.answer(Answer::No).unwrap(), Advance::Finished);
    assert_eq!(s.image().unwrap().items[1].answer, Some(Answer::No));
}

#[test]
fn blind_order_is_fixed_per_image_and_annotator() {
    let p = project(20);
    let orders = |who: &str| -> Vec<Vec<String>> {
        let mut s = open(&p, who);
        let mut all = vec![labels(&s)];
        while s.next_image().unwrap() {
            all.push(labels(&s));
        }
        all
    };
    let alice = orders("alice");
    assert_eq!(alice, orders("alice"), "the same screen on every reopening");
    let bob = orders("bob");
    let differ = alice.iter().zip(&bob).filter(|(a, b)| a != b).count();
    assert!(
        differ >= 15,
        "only {differ} of 20 images differ between annotators"
    );
    for (a, b) in alice.iter().zip(&bob) {
        let (mut a, mut b) = (a.clone(), b.clone());
        a.sort();
        b.sort();
        assert_eq!(a, b, "the same candidates, only in another order");
    }

    // Blind: the original label is not always first (it is first in the store's order).
    let originals_first = alice
        .iter()
        .zip(&p.keys)
        .filter(|(order, key)| {
            let store = p.open();
            let orig = store.image(key).unwrap().unwrap().rec.original_label;
            orig.as_deref() == Some(order[0].as_str())
        })
        .count();
    assert!(
        originals_first < 10,
        "{originals_first} of 20 lead with the original label"
    );

    // With sources shown, the store's order comes back: the original label leads.
    let s = Session::open(
        p.open(),
        SessionOptions {
            annotator: "alice".into(),
            show_sources: true,
            queue: Default::default(),
        },
    )
    .unwrap();
    let img = s.image().unwrap();
    assert!(img.items[0].is_original);
    assert!(img.items.iter().skip(1).all(|i| !i.is_original));
    assert!(!img.items[1].sources.is_empty());
}

#[test]
fn flags_are_saved_and_a_flagged_image_is_not_a_resume_point() {
    let p = project_with(
        3,
        &[("broken/truncated.jpg", Some(b"\xff\xd8\xff\xe0 not really"))],
    );
    let mut s = open(&p, "alice");
    assert_eq!(
        key(&s),
        p.keys[1],
        "an image without candidates is not a resume point"
    );
    s.prev_image().unwrap();
    assert_eq!(key(&s), "broken/truncated.jpg", "keys sort `broken/` first");
    assert!(s.image().unwrap().items.is_empty());
    s.flag(FlagKind::Broken, "  truncated file ").unwrap();
    let flags = &s.image().unwrap().flags;
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0].kind, FlagKind::Broken);
    assert_eq!(flags[0].note, "truncated file");
    assert_eq!(flags[0].annotator, "alice");
    assert!(s.answer(Answer::Yes).is_err(), "no candidate to answer");

    // Give the broken image a candidate: it would be open, but alice flagged it.
    let store = p.open();
    store
        .append_answer(
            "broken/truncated.jpg",
            "n01440764",
            Answer::Yes,
            "bob",
            "s",
            None,
        )
        .unwrap();
    store.rebuild_candidates().unwrap();
    assert_eq!(key(&open(&p, "alice")), p.keys[1]);
    assert_eq!(key(&open(&p, "carol")), "broken/truncated.jpg");

    // Clearing the flag makes it a resume point again.
    let mut s = open(&p, "alice");
    s.go_to("broken/truncated.jpg").unwrap();
    s.flag(FlagKind::Clear, "").unwrap();
    assert!(s.image().unwrap().flags.is_empty());
    assert_eq!(key(&open(&p, "alice")), "broken/truncated.jpg");

    // Flagging an image with candidates lets the annotator go on answering.
    let mut s = open(&p, "alice");
    s.go_to(&p.keys[1]).unwrap();
    s.flag(FlagKind::Expert, "").unwrap();
    s.flag(FlagKind::Ambiguous, "two dogs").unwrap();
    assert_eq!(s.image().unwrap().flags.len(), 2);
    assert_eq!(s.answer(Answer::Maybe).unwrap(), Advance::Candidate);
}

#[test]
fn an_empty_project_opens_and_refuses_answers() {
    let p = project(0);
    let mut s = open(&p, "alice");
    assert!(s.image().is_none());
    assert!(s.is_finished());
    assert_eq!(s.progress().total, 0);
    assert!(s.answer(Answer::Yes).is_err());
    assert!(s.flag(FlagKind::Broken, "").is_err());
    assert!(!s.next_image().unwrap());
    assert!(s.undo().unwrap().is_none());
    let err = Session::open(
        p.open(),
        SessionOptions {
            annotator: "  ".into(),
            show_sources: false,
            queue: Default::default(),
        },
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("annotator name is empty"));
}

#[test]
fn a_checkout_with_an_assignment_queues_only_the_assigned_images() {
    use labelvet::store::checkout::{CheckoutOptions, checkout};
    let p = project(6);
    let given = vec![p.keys[1].clone(), p.keys[4].clone()];
    let file = p.dir.path().join("alice.db");
    checkout(
        &p.open(),
        &file,
        &CheckoutOptions {
            annotator: "alice",
            with_answers: false,
            assignment: Some(&given),
            assignment_note: None,
            leave_out: None,
            with_images: None,
        },
    )
    .unwrap();
    let opts = |who: &str| SessionOptions {
        annotator: who.into(),
        show_sources: false,
        queue: Default::default(),
    };
    let store = Store::open(&file).unwrap();
    let expected_total: u64 = given
        .iter()
        .map(|k| {
            let id = store.image(k).unwrap().unwrap().id;
            store.candidates(id).unwrap().len() as u64
        })
        .sum();
    let mut s = Session::open(store, opts("alice")).unwrap();
    assert_eq!(s.position(), (0, 2));
    assert_eq!(key(&s), given[0]);
    assert_eq!(s.progress().total, expected_total);
    let n = s.image().unwrap().items.len();
    for _ in 0..n {
        s.answer(Answer::Yes).unwrap();
    }
    assert_eq!(
        key(&s),
        given[1],
        "the next assigned image, not the next in the project"
    );
    while !s.is_finished() {
        s.answer(Answer::No).unwrap();
    }
    assert_eq!(s.progress().answered, expected_total);
    drop(s);

    // In the same file, someone with no assignment has every image.
    let s = Session::open(Store::open(&file).unwrap(), opts("bob")).unwrap();
    assert_eq!(s.position(), (0, 6));
}

#[test]
fn two_sessions_on_one_file_both_land_and_a_held_lock_moves_nothing() {
    let p = project(3);
    let mut a = open(&p, "alice");
    let mut b = open(&p, "bob");
    for i in 0..6 {
        if i % 2 == 0 {
            a.answer(Answer::Yes).unwrap();
        } else {
            b.answer(Answer::No).unwrap();
        }
    }
    assert_eq!(standing(&p.db, "alice").len(), 3);
    assert_eq!(standing(&p.db, "bob").len(), 3);

    // Another process holds the write lock: the answer fails with the store's message and the
    // session stays on the same question, with nothing counted.
    a.store()
        .conn_for_tests()
        .busy_timeout(Duration::from_millis(100))
        .unwrap();
    let other = rusqlite::Connection::open(&p.db).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let before = (a.cursor(), a.progress());
    let err = a.answer(Answer::Maybe).unwrap_err().to_string();
    assert!(err.contains("still locked by another process"), "{err}");
    assert!(err.contains("close the other labelvet"), "{err}");
    assert_eq!((a.cursor(), a.progress()), before);
    assert!(a.current_item().unwrap().answer.is_none());
    other.execute_batch("COMMIT").unwrap();
    a.answer(Answer::Maybe).unwrap();
    assert_eq!(standing(&p.db, "alice").len(), 4);
    let ok: String = other
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}
