//! The grid task on real photos and their real predictions: a page of images judged for one
//! label, committed as yes/no events, undone a page at a time, resumed after a restart.

use crate::annotate_support;

use annotate_support::{Project, candidate_images, project};
use labelvet::annotate::{GridOptions, GridSession, ManualClock, Mark, QueueSpec};
use labelvet::store::{Answer, FlagKind, Store};

/// Patio: a candidate (original label or a model's top-5) on three of the labelled photos.
const PATIO: &str = "n03899768";

fn open(p: &Project, annotator: &str, label: &str, queue: QueueSpec) -> GridSession {
    GridSession::open_with_clock(
        p.open(),
        GridOptions {
            annotator: annotator.into(),
            label: label.into(),
            queue,
        },
        Box::new(ManualClock::new()),
    )
    .unwrap()
}

fn page_keys(s: &GridSession) -> Vec<String> {
    s.page().iter().map(|c| c.image.rec.key.clone()).collect()
}

/// The annotator's standing answers on `label`, by image.
fn standing(db: &std::path::Path, annotator: &str, label: &str) -> Vec<(String, Answer)> {
    let mut v: Vec<(String, Answer)> = Store::open(db)
        .unwrap()
        .current_answers()
        .unwrap()
        .into_iter()
        .filter(|a| a.annotator == annotator && a.label == label)
        .map(|a| (a.image, a.answer))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn the_grid_holds_the_images_that_have_the_label_as_a_candidate() {
    let p = project(20);
    let expected = candidate_images(&p.db, PATIO);
    assert_eq!(expected.len(), 3, "{expected:?}");
    let mut s = open(&p, "alice", "patio", QueueSpec::default());
    assert_eq!(s.class().key, PATIO);
    s.set_page_size(10).unwrap();
    assert_eq!(page_keys(&s), expected);
    assert_eq!(s.images_position(), (0, 3));
    assert!(s.page().iter().all(|c| c.mark == Mark::No));
}

#[test]
fn a_committed_page_answers_marked_images_yes_and_the_others_no() {
    let p = project(20);
    let expected = candidate_images(&p.db, PATIO);
    let mut s = open(&p, "alice", PATIO, QueueSpec::default());
    s.set_page_size(2).unwrap();
    assert_eq!(s.page_position(), (0, 2));
    s.move_cursor(1, 0, 2);
    s.toggle();
    assert_eq!(s.page()[1].mark, Mark::Yes);
    let done = s.commit_page().unwrap();
    assert_eq!((done.yes, done.no, done.finished), (1, 1, false));
    // On disk before the next page is shown.
    assert_eq!(
        standing(&p.db, "alice", PATIO),
        vec![
            (expected[0].clone(), Answer::No),
            (expected[1].clone(), Answer::Yes)
        ]
    );
    let events = p.open().events().unwrap();
    assert!(events.iter().all(|e| e.origin == "grid"), "{events:?}");
    assert_eq!(page_keys(&s), vec![expected[2].clone()]);
    assert_eq!(s.cursor(), 0);
    assert_eq!(s.answered(), 2);

    s.toggle_mark(Mark::Maybe);
    let done = s.commit_page().unwrap();
    assert_eq!((done.maybe, done.finished), (1, true));
    assert!(s.is_finished());
    assert_eq!(standing(&p.db, "alice", PATIO)[2].1, Answer::Maybe);
    assert!(s.commit_page().is_err(), "nothing left to commit");
}

#[test]
fn undo_takes_back_a_whole_page_and_brings_its_marks_back() {
    let p = project(20);
    let mut s = open(&p, "alice", PATIO, QueueSpec::default());
    s.set_page_size(2).unwrap();
    s.toggle();
    s.commit_page().unwrap();
    s.toggle();
    s.commit_page().unwrap();
    assert!(s.is_finished());
    assert_eq!(s.undo_depth(), 2);

    assert_eq!(s.undo_page().unwrap(), Some(1));
    assert_eq!(s.page().len(), 1);
    assert_eq!(s.page()[0].mark, Mark::Yes);
    assert_eq!(standing(&p.db, "alice", PATIO).len(), 2);

    assert_eq!(s.undo_page().unwrap(), Some(2));
    let marks: Vec<Mark> = s.page().iter().map(|c| c.mark).collect();
    assert_eq!(marks, vec![Mark::Yes, Mark::No]);
    assert!(standing(&p.db, "alice", PATIO).is_empty());
    assert_eq!(s.answered(), 0);
    assert_eq!(s.undo_page().unwrap(), None);
    // Undo appended retractions; nothing was deleted.
    let events = p.open().events().unwrap();
    assert_eq!(events.len(), 6);
    assert_eq!(events.iter().filter(|e| e.retracts.is_some()).count(), 3);
}

#[test]
fn reopening_resumes_after_the_committed_pages_and_skipped_images_stay_open() {
    let p = project(20);
    let expected = candidate_images(&p.db, PATIO);
    {
        let mut s = open(&p, "alice", PATIO, QueueSpec::default());
        s.set_page_size(2).unwrap();
        s.toggle_mark(Mark::Skip);
        let done = s.commit_page().unwrap();
        assert_eq!((done.skipped, done.no), (1, 1));
        // The next page is marked but never committed: it is not saved.
        s.toggle();
    }
    let mut s = open(&p, "alice", PATIO, QueueSpec::default());
    s.set_page_size(10).unwrap();
    assert_eq!(
        page_keys(&s),
        vec![expected[0].clone(), expected[2].clone()]
    );
    // Another annotator's grid is theirs alone.
    let mut bob = open(&p, "bob", PATIO, QueueSpec::default());
    bob.set_page_size(10).unwrap();
    assert_eq!(page_keys(&bob), expected);
}

#[test]
fn a_new_page_size_keeps_the_marks_of_the_images_still_on_the_page() {
    let p = project(20);
    let mut s = open(&p, "alice", PATIO, QueueSpec::default());
    s.set_page_size(3).unwrap();
    s.toggle();
    s.move_cursor(2, 0, 3);
    s.toggle_mark(Mark::Maybe);
    s.set_page_size(2).unwrap();
    let marks: Vec<Mark> = s.page().iter().map(|c| c.mark).collect();
    assert_eq!(marks, vec![Mark::Yes, Mark::No]);
    assert_eq!(s.cursor(), 1, "the cursor stays on the page");
    s.set_page_size(3).unwrap();
    assert_eq!(s.page()[0].mark, Mark::Yes);
}

#[test]
fn the_cursor_moves_on_the_page_layout_and_stays_on_it() {
    let p = project(20);
    let mut s = open(&p, "alice", PATIO, QueueSpec::default());
    s.set_page_size(3).unwrap();
    // Two columns: 0 1 / 2.
    s.move_cursor(0, 1, 2);
    assert_eq!(s.cursor(), 2);
    s.move_cursor(1, 0, 2);
    assert_eq!(s.cursor(), 2, "no cell to the right of the last");
    s.move_cursor(0, -1, 2);
    assert_eq!(s.cursor(), 0);
    s.move_cursor(0, -1, 2);
    assert_eq!(s.cursor(), 0);
    s.mark_all(Mark::Yes);
    assert!(s.page().iter().all(|c| c.mark == Mark::Yes));
}

#[test]
fn filters_narrow_the_grid_and_a_wrong_label_is_refused() {
    let p = project(20);
    let expected = candidate_images(&p.db, PATIO);
    let store = p.open();
    let first = store.image(&expected[0]).unwrap().unwrap();
    let orig = first.rec.original_label.clone().unwrap();
    let mut s = open(
        &p,
        "alice",
        PATIO,
        QueueSpec {
            original_label: Some(orig.clone()),
            ..QueueSpec::default()
        },
    );
    s.set_page_size(10).unwrap();
    assert!(page_keys(&s).contains(&expected[0]));
    assert!(
        s.page()
            .iter()
            .all(|c| c.image.rec.original_label.as_deref() == Some(orig.as_str()))
    );
    assert!(s.filters().contains(&orig), "{}", s.filters());

    // A flagged image is not asked again.
    store
        .append_flag(&expected[1], FlagKind::Broken, "", "alice", "s")
        .unwrap();
    let mut s = open(&p, "alice", PATIO, QueueSpec::default());
    s.set_page_size(10).unwrap();
    assert!(!page_keys(&s).contains(&expected[1]));

    let err = |label: &str, queue: QueueSpec| {
        GridSession::open(
            p.open(),
            GridOptions {
                annotator: "alice".into(),
                label: label.into(),
                queue,
            },
        )
        .err()
        .expect("refused")
        .to_string()
    };
    assert!(err("no such class", QueueSpec::default()).contains("no such class"));
    let both = err(
        PATIO,
        QueueSpec {
            class: Some(PATIO.into()),
            ..QueueSpec::default()
        },
    );
    assert!(both.contains("--label"), "{both}");
}

#[test]
fn a_label_outside_the_subtree_gives_an_empty_grid() {
    let p = project(20);
    let mut s = open(
        &p,
        "alice",
        PATIO,
        QueueSpec {
            subtree: Some("dog".into()),
            ..QueueSpec::default()
        },
    );
    s.set_page_size(10).unwrap();
    assert!(s.is_finished());
    assert_eq!(s.images_position(), (0, 0));
}
