//! The classify task's session on real photos: the queue from the results, the answer put
//! together label by label, committed as a classify event, undone, resumed, narrowed.

use crate::annotate_support;

use annotate_support::{Project, project};
use labelvet::analysis::classify::{ClassifyItem, load_classify_queue};
use labelvet::analysis::project::Options;
use labelvet::annotate::{ClassifySession, ManualClock, QueueOrder, QueueSpec, select_classify};
use labelvet::store::{Answer, Store};

/// Two raters say yes to two candidates of each of the first `n` images (and no to a third, if
/// any): their valid sets at 0.5 then have two labels.
fn answered_project(n: usize) -> (Project, Vec<(String, [String; 2])>) {
    let p = project(20);
    let store = p.open();
    let mut sets = Vec::new();
    for key in p.keys.iter().take(n) {
        let row = store.image(key).unwrap().unwrap();
        let cands = store.candidates(row.id).unwrap();
        let a = cands[0].label.clone();
        let b = cands[1].label.clone();
        for who in ["bob", "carol"] {
            store
                .append_answer(key, &a, Answer::Yes, who, "s", None)
                .unwrap();
            store
                .append_answer(key, &b, Answer::Yes, who, "s", None)
                .unwrap();
            if let Some(c) = cands.get(2) {
                store
                    .append_answer(key, &c.label, Answer::No, who, "s", None)
                    .unwrap();
            }
        }
        let mut pair = [a, b];
        pair.sort();
        sets.push((key.clone(), pair));
    }
    (p, sets)
}

fn queue(store: &Store, annotator: &str) -> Vec<ClassifyItem> {
    load_classify_queue(store, &Options::default(), None, annotator).unwrap()
}

fn open(p: &Project, annotator: &str) -> ClassifySession {
    let store = p.open();
    let items = queue(&store, annotator);
    ClassifySession::open_with_clock(
        store,
        annotator,
        items,
        "test",
        Box::new(ManualClock::new()),
    )
    .unwrap()
}

fn choice_keys(s: &ClassifySession) -> Vec<String> {
    s.image()
        .unwrap()
        .choices
        .iter()
        .map(|c| c.key.clone())
        .collect()
}

#[test]
fn the_queue_holds_the_images_with_two_or_more_valid_labels() {
    let (p, sets) = answered_project(3);
    let items = queue(&p.open(), "alice");
    let got: Vec<(String, Vec<String>)> = items
        .iter()
        .map(|i| {
            (
                i.image.clone(),
                i.labels.iter().map(|l| l.key.clone()).collect(),
            )
        })
        .collect();
    let mut want: Vec<(String, Vec<String>)> =
        sets.iter().map(|(k, s)| (k.clone(), s.to_vec())).collect();
    want.sort();
    let mut got_sorted = got.clone();
    for g in &mut got_sorted {
        g.1.sort();
    }
    assert_eq!(got_sorted, want);
}

#[test]
fn an_answer_is_put_together_then_committed_as_one_event() {
    let (p, sets) = answered_project(3);
    let mut s = open(&p, "alice");
    let key = s.image().unwrap().key().to_string();
    assert_eq!(key, sets[0].0);
    // Every valid label starts as present; no main object yet.
    assert!(s.image().unwrap().choices.iter().all(|c| c.present));
    assert_eq!(s.image().unwrap().objects(), 2);
    let err = s.save().unwrap_err().to_string();
    assert!(err.contains("main object"), "{err}");
    assert!(
        p.open().classify_events().unwrap().is_empty(),
        "nothing written"
    );

    let labels = choice_keys(&s);
    s.select(1);
    s.set_main();
    s.select(0);
    s.toggle_present();
    s.adjust_objects(2);
    assert_eq!(s.image().unwrap().objects(), 3);
    let (event, done) = s.save().unwrap();
    assert!(!done);
    let a = event.answer.clone().unwrap();
    assert_eq!(a.present, vec![labels[1].clone()]);
    assert_eq!(a.main, labels[1]);
    assert_eq!(a.objects, 3);
    // On disk, and the session moved to the next image.
    let stored = p.open().current_classify(&key, "alice").unwrap().unwrap();
    assert_eq!(stored.id, event.id);
    assert_eq!(s.image().unwrap().key(), sets[1].0);
    assert_eq!(s.progress(), (1, 3));
}

#[test]
fn undo_retracts_and_brings_the_answer_back_to_change_it() {
    let (p, sets) = answered_project(2);
    let mut s = open(&p, "alice");
    s.set_main();
    s.adjust_objects(1);
    let (first, _) = s.save().unwrap();
    assert_eq!(s.image().unwrap().key(), sets[1].0);

    let undone = s.undo().unwrap().unwrap();
    assert_eq!(undone.id, first.id);
    assert_eq!(s.image().unwrap().key(), sets[0].0);
    let img = s.image().unwrap();
    assert_eq!(img.main, Some(0));
    assert_eq!(img.objects(), 3, "the undone answer is back on screen");
    assert_eq!(s.progress(), (0, 2));
    let store = p.open();
    assert!(
        store
            .current_classify(&sets[0].0, "alice")
            .unwrap()
            .is_none()
    );
    let events = store.classify_events().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].retracts.as_deref(), Some(first.id.as_str()));
    assert!(s.undo().unwrap().is_none());
}

#[test]
fn reopening_resumes_at_the_first_unanswered_image_and_shows_saved_answers() {
    let (p, sets) = answered_project(3);
    {
        let mut s = open(&p, "alice");
        s.select(1);
        s.set_main();
        s.save().unwrap();
    }
    let mut s = open(&p, "alice");
    assert_eq!(s.image().unwrap().key(), sets[1].0);
    assert_eq!(s.progress(), (1, 3));
    s.prev_image().unwrap();
    let img = s.image().unwrap();
    assert!(img.saved.is_some());
    assert_eq!(img.main, Some(1));
    // Another annotator starts from the beginning.
    let bob = open(&p, "bob");
    assert_eq!(bob.image().unwrap().key(), sets[0].0);
}

#[test]
fn the_last_answer_finishes_the_queue() {
    let (p, _) = answered_project(1);
    let mut s = open(&p, "alice");
    s.set_main();
    let (_, done) = s.save().unwrap();
    assert!(done);
    assert!(s.is_finished());
    assert!(s.image().unwrap().saved.is_some());
}

#[test]
fn queue_flags_narrow_the_classify_queue() {
    let (p, sets) = answered_project(3);
    let store = p.open();
    let vocab = store.vocab().unwrap();
    let items = queue(&store, "alice");
    let label = sets[1].1[0].clone();
    let only = select_classify(
        items.clone(),
        &QueueSpec {
            class: Some(label.clone()),
            ..QueueSpec::default()
        },
        &vocab,
    )
    .unwrap();
    assert!(only.iter().any(|i| i.image == sets[1].0));
    assert!(only.iter().all(|i| i.labels.iter().any(|l| l.key == label)));

    let sample = QueueSpec {
        sample: Some(2),
        seed: 3,
        order: QueueOrder::Random,
        ..QueueSpec::default()
    };
    let a = select_classify(items.clone(), &sample, &vocab).unwrap();
    let b = select_classify(items.clone(), &sample, &vocab).unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(
        a.iter().map(|i| &i.image).collect::<Vec<_>>(),
        b.iter().map(|i| &i.image).collect::<Vec<_>>(),
        "reproducible"
    );

    let err = select_classify(
        items,
        &QueueSpec {
            disputed: true,
            ..QueueSpec::default()
        },
        &vocab,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("--classify"), "{err}");
}

#[test]
fn an_empty_classify_queue_is_said_before_the_screen_opens() {
    let p = project(3);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_labelvet"))
        .arg("annotate")
        .arg(&p.db)
        .args(["--classify", "--threshold", "0.8"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has two or more valid labels at frequency >= 0.8"),
        "{err}"
    );
    // The threshold without --classify is a mistake, said as such.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_labelvet"))
        .arg("annotate")
        .arg(&p.db)
        .args(["--threshold", "0.8"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("add --classify"));
}
