//! Filtered annotation queues (`--class`, `--subtree`, `--original-label`, `--disputed`,
//! `--uncertain`, `--needs`, `--sample`, `--order`) on a project of real photos and real
//! predictions, with answers from a few annotators.

use crate::annotate_support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use annotate_support::{Project, photos_dir, project};
use labelvet::annotate::{QueueOrder, QueueSpec, Session, SessionOptions};
use labelvet::store::predictions::PredictionWriter;
use labelvet::store::{Answer, ImageRecord, ImageStatus, JudgmentEvent, QueueFilter, Store};

const CHICKY: &str = "curated/opencv__chicky_512.png";
const CHELSEA: &str = "curated/skimage__chelsea.png";

/// The 20 labelled ImageNet photos plus the toy dog and the tabby cat of the curated photos, each
/// with the real top-5 of the three models.
fn photos() -> Project {
    let p = project(20);
    let mut store = p.open();
    let mut records = Vec::new();
    for key in [CHICKY, CHELSEA] {
        let to = p.root.join(key);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(photos_dir().join(key), &to).unwrap();
        let (w, h) = image::image_dimensions(&to).unwrap();
        records.push(ImageRecord {
            key: key.into(),
            raw_path: None,
            original_label: None,
            sha256: None,
            bytes: Some(std::fs::metadata(&to).unwrap().len()),
            width: Some(w),
            height: Some(h),
            status: ImageStatus::Ok,
            error: None,
        });
    }
    store.insert_images(&records).unwrap();
    let ids = store.image_ids().unwrap();
    store
        .transaction(|tx| {
            let mut w = PredictionWriter::new(tx)?;
            let mut rdr = csv::Reader::from_path(photos_dir().join("predictions.csv")).unwrap();
            for rec in rdr.records() {
                let rec = rec.unwrap();
                if rec[0] != *CHICKY && rec[0] != *CHELSEA {
                    continue;
                }
                // Keep: the labelled photos' predictions of the same models are in already.
                let model = w.model_id_keep(&rec[1], "predictions.csv")?;
                let rank: u32 = rec[2].parse().unwrap();
                w.add(ids[&rec[0]], model, rank, &rec[4], rec[5].parse().ok())?;
            }
            Ok(())
        })
        .unwrap();
    store.rebuild_candidates().unwrap();
    p
}

fn open(p: &Project, annotator: &str, queue: QueueSpec) -> labelvet::error::Result<Session> {
    Session::open(
        p.open(),
        SessionOptions {
            annotator: annotator.into(),
            show_sources: false,
            queue,
        },
    )
}

/// Every (image, label) the session's queue asks, image by image in queue order.
fn asked(s: &mut Session) -> Vec<(String, Vec<String>)> {
    while s.prev_image().unwrap() {}
    let mut out = Vec::new();
    if s.image().is_none() {
        return out;
    }
    loop {
        let img = s.image().unwrap();
        let mut labels: Vec<String> = img.items.iter().map(|i| i.label.clone()).collect();
        labels.sort();
        out.push((img.key().to_string(), labels));
        if !s.next_image().unwrap() {
            return out;
        }
    }
}

fn questions(q: &[(String, Vec<String>)]) -> BTreeSet<(String, String)> {
    q.iter()
        .flat_map(|(k, ls)| ls.iter().map(move |l| (k.clone(), l.clone())))
        .collect()
}

/// Every candidate question of the project, computed the slow way for comparison.
fn all_questions(store: &Store) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for row in store.images().unwrap() {
        for c in store.candidates(row.id).unwrap() {
            out.insert((row.rec.key.clone(), c.label));
        }
    }
    out
}

fn assert_queue(s: &mut Session, expected: &BTreeSet<(String, String)>) {
    let q = asked(s);
    assert_eq!(&questions(&q), expected);
    let info = s.queue().expect("a filtered queue").clone();
    assert_eq!(info.questions, expected.len() as u64);
    assert_eq!(info.images, q.len());
    assert_eq!(s.progress().total, expected.len() as u64);
}

#[test]
fn class_asks_one_label_on_the_images_that_have_it() {
    let p = photos();
    let store = p.open();
    let vocab = store.vocab().unwrap();
    let pekinese = vocab.lookup("Pekinese").unwrap().key.clone();
    let expected: BTreeSet<_> = all_questions(&store)
        .into_iter()
        .filter(|(_, l)| *l == pekinese)
        .collect();
    assert!(expected.contains(&(CHICKY.to_string(), pekinese.clone())));
    let mut s = open(
        &p,
        "dave",
        QueueSpec {
            class: Some("Pekinese".into()),
            ..QueueSpec::default()
        },
    )
    .unwrap();
    assert_queue(&mut s, &expected);
    assert_eq!(
        s.queue().unwrap().to_string(),
        format!(
            "class Pekinese · {} question{} on {} image{}",
            expected.len(),
            if expected.len() == 1 { "" } else { "s" },
            expected.len(),
            if expected.len() == 1 { "" } else { "s" },
        )
    );
}

#[test]
fn subtree_resolves_through_the_wordnet_hierarchy() {
    let p = photos();
    let store = p.open();
    let vocab = store.vocab().unwrap();
    for (node, must_have, must_not) in [("dog", CHICKY, CHELSEA), ("feline", CHELSEA, CHICKY)] {
        let under: BTreeSet<String> = vocab
            .subtree(node)
            .unwrap()
            .into_iter()
            .map(|c| c.key.clone())
            .collect();
        let expected: BTreeSet<_> = all_questions(&store)
            .into_iter()
            .filter(|(_, l)| under.contains(l))
            .collect();
        let mut s = open(
            &p,
            "dave",
            QueueSpec {
                subtree: Some(node.into()),
                ..QueueSpec::default()
            },
        )
        .unwrap();
        let q = asked(&mut s);
        assert_queue(&mut s, &expected);
        let keys: Vec<&str> = q.iter().map(|(k, _)| k.as_str()).collect();
        assert!(keys.contains(&must_have), "{node}: {keys:?}");
        assert!(!keys.contains(&must_not), "{node}: {keys:?}");
        if node == "feline" {
            let chelsea = &q.iter().find(|(k, _)| k == CHELSEA).unwrap().1;
            for cat in ["tabby", "tiger cat", "Egyptian cat"] {
                let key = &vocab.lookup(cat).unwrap().key;
                assert!(chelsea.contains(key), "{cat} asked on chelsea");
            }
            // The models' fifth guesses for the cat (a tray, a teapot) are not felines.
            assert!(chelsea.iter().all(|l| under.contains(l)));
        } else {
            // Dogs among the ImageNet photos too, by their original labels.
            assert!(keys.iter().any(|k| k.starts_with("imagenet_labeled/")));
        }
    }
}

#[test]
fn class_and_subtree_combine() {
    let p = photos();
    let inside = QueueSpec {
        class: Some("Pekinese".into()),
        subtree: Some("dog".into()),
        ..QueueSpec::default()
    };
    let mut s = open(&p, "dave", inside).unwrap();
    assert!(!asked(&mut s).is_empty());
    let outside = QueueSpec {
        class: Some("Pekinese".into()),
        subtree: Some("feline".into()),
        ..QueueSpec::default()
    };
    let s = open(&p, "dave", outside).unwrap();
    assert!(s.image().is_none());
    assert!(s.is_finished());
    assert_eq!(s.progress().total, 0);
}

#[test]
fn original_label_keeps_whole_images() {
    let p = photos();
    let store = p.open();
    let first = store.image(&p.keys[0]).unwrap().unwrap();
    let label = first.rec.original_label.clone().unwrap();
    let with_label: BTreeSet<String> = store
        .images()
        .unwrap()
        .into_iter()
        .filter(|r| r.rec.original_label.as_deref() == Some(label.as_str()))
        .map(|r| r.rec.key)
        .collect();
    let expected: BTreeSet<_> = all_questions(&store)
        .into_iter()
        .filter(|(k, _)| with_label.contains(k))
        .collect();
    let mut s = open(
        &p,
        "dave",
        QueueSpec {
            original_label: Some(label),
            ..QueueSpec::default()
        },
    )
    .unwrap();
    assert_queue(&mut s, &expected);
}

/// Answers from alice, bob and carol on six questions of the first three images:
/// q1 yes/no (disputed, 0.5), q2 yes/yes/no (disputed, 0.67), q3 yes/yes (1.0),
/// q4 alice no then yes, bob yes (only the latest counts: 1.0), q5 yes and a retracted no (1.0,
/// one answer), q6 one maybe (no selection frequency).
fn answered(p: &Project) -> Vec<(String, String)> {
    let store = p.open();
    let mut qs = Vec::new();
    for key in &p.keys[..3] {
        let id = store.image(key).unwrap().unwrap().id;
        let c = store.candidates(id).unwrap();
        qs.push((key.clone(), c[0].label.clone()));
        qs.push((key.clone(), c[1].label.clone()));
    }
    let say = |q: &(String, String), who: &str, a: Answer| {
        let e = store.append_answer(&q.0, &q.1, a, who, "s", None).unwrap();
        // Event time is in milliseconds: keep "latest" unambiguous.
        std::thread::sleep(Duration::from_millis(3));
        e
    };
    say(&qs[0], "alice", Answer::Yes);
    say(&qs[0], "bob", Answer::No);
    say(&qs[1], "alice", Answer::Yes);
    say(&qs[1], "bob", Answer::Yes);
    say(&qs[1], "carol", Answer::No);
    say(&qs[2], "alice", Answer::Yes);
    say(&qs[2], "bob", Answer::Yes);
    say(&qs[3], "alice", Answer::No);
    say(&qs[3], "alice", Answer::Yes);
    say(&qs[3], "bob", Answer::Yes);
    say(&qs[4], "alice", Answer::Yes);
    let no = say(&qs[4], "bob", Answer::No);
    store.append_retraction(&no, "s").unwrap();
    say(&qs[5], "carol", Answer::Maybe);
    qs
}

fn spec_queue(p: &Project, who: &str, spec: QueueSpec) -> BTreeSet<(String, String)> {
    let mut s = open(p, who, spec).unwrap();
    let q = asked(&mut s);
    let got = questions(&q);
    assert_eq!(s.progress().total, got.len() as u64);
    got
}

#[test]
fn answer_filters_read_every_annotators_current_answers() {
    let p = photos();
    let qs = answered(&p);
    let pick = |ix: &[usize]| -> BTreeSet<_> { ix.iter().map(|&i| qs[i].clone()).collect() };

    let disputed = QueueSpec {
        disputed: true,
        ..QueueSpec::default()
    };
    assert_eq!(spec_queue(&p, "dave", disputed.clone()), pick(&[0, 1]));

    let mid = QueueSpec {
        uncertain: Some((0.4, 0.7)),
        ..QueueSpec::default()
    };
    assert_eq!(spec_queue(&p, "dave", mid), pick(&[0, 1]));
    let high = QueueSpec {
        uncertain: Some((0.6, 1.0)),
        ..QueueSpec::default()
    };
    assert_eq!(spec_queue(&p, "dave", high.clone()), pick(&[1, 2, 3, 4]));

    let all = all_questions(&p.open());
    let needs2 = QueueSpec {
        needs: Some(2),
        ..QueueSpec::default()
    };
    let expected: BTreeSet<_> = all.difference(&pick(&[0, 1, 2, 3])).cloned().collect();
    assert_eq!(spec_queue(&p, "dave", needs2), expected);
    let needs3 = QueueSpec {
        needs: Some(3),
        ..QueueSpec::default()
    };
    let expected: BTreeSet<_> = all.difference(&pick(&[1])).cloned().collect();
    assert_eq!(spec_queue(&p, "dave", needs3.clone()), expected);

    // Filters combine: disputed and within 0.6..1 leaves q2.
    let both = QueueSpec {
        disputed: true,
        uncertain: Some((0.6, 1.0)),
        ..QueueSpec::default()
    };
    assert_eq!(spec_queue(&p, "dave", both), pick(&[1]));

    // A class narrows the answers read first; the result is the same as filtering after.
    let one_class = QueueSpec {
        class: Some(qs[0].1.clone()),
        disputed: true,
        ..QueueSpec::default()
    };
    let expected: BTreeSet<_> = pick(&[0, 1])
        .into_iter()
        .filter(|(_, l)| *l == qs[0].1)
        .collect();
    assert!(expected.contains(&qs[0]));
    assert_eq!(spec_queue(&p, "dave", one_class), expected);

    // Alice answered both disputed questions: her queue is done, with its counts.
    let s = open(&p, "alice", disputed).unwrap();
    assert!(s.is_finished());
    assert_eq!((s.progress().answered, s.progress().total), (2, 2));
    // Bob's no on q5 was retracted: of q2..q5 he stands on three.
    let s = open(&p, "bob", high).unwrap();
    assert_eq!((s.progress().answered, s.progress().total), (3, 4));
    // Alice answered q4 twice (counted once) and q2, which --needs 3 leaves out.
    let s = open(&p, "alice", needs3).unwrap();
    assert_eq!(
        (s.progress().answered, s.progress().total),
        (4, all.len() as u64 - 1)
    );
}

#[test]
fn progress_resume_and_next_follow_the_queue() {
    let p = photos();
    let spec = QueueSpec {
        subtree: Some("dog".into()),
        order: QueueOrder::Random,
        seed: 3,
        ..QueueSpec::default()
    };
    let mut s = open(&p, "erin", spec.clone()).unwrap();
    let order: Vec<String> = asked(&mut s).into_iter().map(|(k, _)| k).collect();
    assert!(order.len() >= 3, "{order:?}");
    let total = s.progress().total;
    drop(s);

    // Answer the whole first image, then one question of the second.
    let mut s = open(&p, "erin", spec.clone()).unwrap();
    assert_eq!(s.image().unwrap().key(), order[0]);
    let first = s.image().unwrap().items.len();
    for _ in 0..first {
        s.answer(Answer::Yes).unwrap();
    }
    assert_eq!(s.image().unwrap().key(), order[1]);
    s.answer(Answer::No).unwrap();
    assert_eq!(s.progress().answered, first as u64 + 1);
    drop(s);

    let mut s = open(&p, "erin", spec.clone()).unwrap();
    assert_eq!(s.image().unwrap().key(), order[1], "resumes in queue order");
    assert_eq!(s.progress().answered, first as u64 + 1);
    assert_eq!(s.progress().total, total);
    assert_eq!(
        s.image().unwrap().open_count(),
        s.image().unwrap().items.len() - 1
    );
    let mut answers = first as u64 + 1;
    while !s.is_finished() {
        s.answer(Answer::Maybe).unwrap();
        answers += 1;
    }
    assert_eq!(answers, total);
    assert_eq!(s.progress().answered, total);
    // Only the dog questions were answered: the full queue is far from done.
    let whole = open(&p, "erin", QueueSpec::default()).unwrap();
    assert_eq!(whole.progress().answered, total);
    assert!(whole.progress().total > total);
    assert!(!whole.is_finished());
    // Images outside the queue cannot be jumped to.
    let mut s = open(&p, "erin", spec).unwrap();
    let err = s.go_to(CHELSEA).unwrap_err().to_string();
    assert!(err.contains("not in this queue"), "{err}");
}

#[test]
fn samples_and_random_orders_are_reproducible_per_seed() {
    let p = photos();
    let keys = |spec: QueueSpec| -> Vec<String> {
        let mut s = open(&p, "dave", spec).unwrap();
        asked(&mut s).into_iter().map(|(k, _)| k).collect()
    };
    let sample = |seed| QueueSpec {
        sample: Some(5),
        seed,
        ..QueueSpec::default()
    };
    let a = keys(sample(1));
    assert_eq!(a.len(), 5);
    assert_eq!(a, keys(sample(1)));
    let mut sorted = a.clone();
    sorted.sort();
    assert_eq!(a, sorted, "a sample keeps file order");
    assert!(
        (2..6).any(|seed| keys(sample(seed)) != a),
        "other seeds draw other images"
    );
    // The sample is drawn from the filtered queue.
    let dogs = keys(QueueSpec {
        subtree: Some("dog".into()),
        ..QueueSpec::default()
    });
    let dog_sample = keys(QueueSpec {
        subtree: Some("dog".into()),
        sample: Some(2),
        seed: 4,
        ..QueueSpec::default()
    });
    assert_eq!(dog_sample.len(), 2);
    assert!(dog_sample.iter().all(|k| dogs.contains(k)));

    let random = |seed| QueueSpec {
        order: QueueOrder::Random,
        seed,
        ..QueueSpec::default()
    };
    let r = keys(random(7));
    assert_eq!(r, keys(random(7)));
    assert_ne!(r, keys(random(8)));
    let mut r_sorted = r.clone();
    r_sorted.sort();
    assert_eq!(r_sorted, keys(QueueSpec::default()));
    assert_ne!(r, r_sorted);
}

#[test]
fn fewest_answers_first() {
    let p = photos();
    answered(&p);
    let store = p.open();
    let mut per_image: BTreeMap<String, u64> = BTreeMap::new();
    for a in store.current_answers().unwrap() {
        *per_image.entry(a.image).or_default() += 1;
    }
    let mut s = open(
        &p,
        "dave",
        QueueSpec {
            order: QueueOrder::FewestAnswers,
            ..QueueSpec::default()
        },
    )
    .unwrap();
    let q = asked(&mut s);
    let rate = |(k, ls): &(String, Vec<String>)| {
        per_image.get(k).copied().unwrap_or(0) as f64 / ls.len() as f64
    };
    for w in q.windows(2) {
        assert!(
            rate(&w[0]) < rate(&w[1]) || (rate(&w[0]) == rate(&w[1]) && w[0].0 < w[1].0),
            "{:?} before {:?}",
            w[0].0,
            w[1].0
        );
    }
    // The three answered images come last; the most answered per question is the first one.
    let last: Vec<&str> = q[q.len() - 3..].iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(last.last(), Some(&p.keys[0].as_str()));
    assert!(last.contains(&p.keys[1].as_str()) && last.contains(&p.keys[2].as_str()));
}

#[test]
fn unknown_names_fail_with_the_vocabulary_message() {
    let p = photos();
    let class = QueueSpec {
        class: Some("wombatoid".into()),
        ..QueueSpec::default()
    };
    let err = open(&p, "dave", class).err().unwrap().to_string();
    assert!(err.contains("no class named `wombatoid`"), "{err}");
    let node = QueueSpec {
        subtree: Some("wombatoid".into()),
        ..QueueSpec::default()
    };
    let err = open(&p, "dave", node).err().unwrap().to_string();
    assert!(err.contains("no class is under `wombatoid`"), "{err}");
    // `crane` names two classes: the message lists them.
    let crane = QueueSpec {
        original_label: Some("crane".into()),
        ..QueueSpec::default()
    };
    let err = open(&p, "dave", crane).err().unwrap().to_string();
    assert!(err.contains("names 2 classes"), "{err}");

    // The binary refuses before it looks for a terminal, and exits non-zero.
    for args in [
        &["--subtree", "wombatoid"][..],
        &["--class", "wombatoid"][..],
        &["--uncertain", "0.9..0.1"][..],
        &["--order", "shuffled"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_labelvet"))
            .arg("annotate")
            .arg(&p.db)
            .args(["--annotator", "dave"])
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("needs a terminal"), "{args:?}: {stderr}");
        assert!(
            stderr.contains("wombatoid")
                || stderr.contains("0.9..0.1")
                || stderr.contains("shuffled"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn the_header_names_the_queue_and_its_size() {
    use labelvet::tui::{App, AppOptions, Encoder, Keymap};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    let p = photos();
    let spec = QueueSpec {
        subtree: Some("dog".into()),
        ..QueueSpec::default()
    };
    let session = open(&p, "dave", spec).unwrap();
    let info = session.queue().unwrap().clone();
    let mut app = App::new(
        session,
        Keymap::default(),
        Encoder::halfblocks(),
        AppOptions {
            project_name: "project.db".into(),
            image_root: Some(p.root.clone()),
            carried: None,
        },
        Box::new(|| {}),
    );
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
    term.draw(|f| app.draw(f)).unwrap();
    let buf = term.backend().buffer();
    let top: String = (0..buf.area.width)
        .map(|x| buf[(x, 0)].symbol().to_string())
        .collect();
    let want = format!(
        "queue: subtree dog · {} questions on {} images",
        info.questions, info.images
    );
    assert!(top.contains(&want), "{top}");
    assert!(info.images >= 3 && info.questions >= info.images as u64);
}

/// A store with images `img0`..`img3` (original labels a, b, none, a) and the judgment events
/// `events` (image, label, annotator, answer, time, id byte), then retractions of the events
/// `undo` names; candidates rebuilt from both.
fn store_with_answers(
    dir: &std::path::Path,
    events: &[(u8, u8, u8, u8, i64, u8)],
    undo: &[usize],
) -> Store {
    let vocab = labelvet::vocab::Vocab::from_reader(
        "t",
        std::path::Path::new("t.csv"),
        "key,name\na,A\nb,B\nc,C\n".as_bytes(),
    )
    .unwrap();
    let store = Store::create(&dir.join("p.db"), &vocab).unwrap();
    let originals = [Some("a"), Some("b"), None, Some("a")];
    let records: Vec<ImageRecord> = originals
        .iter()
        .enumerate()
        .map(|(i, o)| ImageRecord::missing(format!("img{i}"), o.map(str::to_string)))
        .collect();
    store.insert_images(&records).unwrap();
    let mut made: Vec<JudgmentEvent> = Vec::new();
    for (i, &(image, label, who, answer, t, id)) in events.iter().enumerate() {
        made.push(JudgmentEvent {
            // Ids in another order than the times (several in one millisecond).
            id: format!("{id:03}-{i:03}"),
            image: format!("img{image}"),
            label: ["a", "b", "c"][label as usize].into(),
            answer: Some(Answer::ALL[answer as usize]),
            retracts: None,
            annotator: ["ann", "bob", "cy"][who as usize].into(),
            session: "s".into(),
            created_at: 1000 + t,
            elapsed_ms: None,
            origin: "import".into(),
        });
    }
    for (n, &u) in undo.iter().enumerate() {
        if let Some(target) = made[..events.len()].get(u).cloned() {
            made.push(JudgmentEvent {
                id: format!("u{n:03}"),
                answer: None,
                retracts: Some(target.id.clone()),
                created_at: 2000,
                ..target
            });
        }
    }
    store.insert_events(&made).unwrap();
    store.rebuild_candidates().unwrap();
    store
}

/// The selection the filter's words describe, computed the slow way from the walk of the
/// current answers (`Store::current_answers`) and every image's candidates: per image with a
/// selected question, in key order, its key, its selected labels and their current answers
/// (counted when a filter or the order reads answers, else 0).
fn selection_by_hand(store: &Store, f: &QueueFilter) -> Vec<(String, Vec<String>, u64)> {
    let counted = f.disputed || f.uncertain.is_some() || f.needs.is_some() || f.count_answers;
    let mut counts: BTreeMap<(String, String), (i64, i64, i64)> = BTreeMap::new();
    for a in store.current_answers().unwrap() {
        let c = counts.entry((a.image, a.label)).or_default();
        c.0 += i64::from(a.answer == Answer::Yes);
        c.1 += i64::from(a.answer == Answer::No);
        c.2 += 1;
    }
    let mut out = Vec::new();
    for row in store.images().unwrap() {
        let mut labels = Vec::new();
        let mut answers = 0;
        for c in store.candidates(row.id).unwrap() {
            let (yes, no, total) = counts
                .get(&(row.rec.key.clone(), c.label.clone()))
                .copied()
                .unwrap_or_default();
            let keep = f.labels.as_ref().is_none_or(|l| l.contains(&c.label))
                && (!f.disputed || yes > 0 && no > 0)
                && f.uncertain.is_none_or(|(lo, hi)| {
                    let freq = yes as f64 / (yes + no) as f64;
                    yes + no > 0 && lo <= freq && freq <= hi
                })
                && f.needs.is_none_or(|k| total < i64::from(k));
            if keep {
                labels.push(c.label);
                answers += total as u64;
            }
        }
        if !labels.is_empty() {
            labels.sort();
            out.push((row.rec.key, labels, if counted { answers } else { 0 }));
        }
    }
    out
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// The answer filters (`--disputed`, `--uncertain`, `--needs`, with or without a class,
    /// and the counts `--order fewest-answers` reads) select what the current answers say:
    /// answers changed (several in one millisecond, where the greater id wins), undone, and
    /// none at all.
    #[test]
    fn answer_filters_select_what_the_current_answers_say(
        events in proptest::collection::vec(
            (0u8..4, 0u8..3, 0u8..3, 0u8..3, 0i64..3, 0u8..255),
            0..40,
        ),
        undo in proptest::collection::vec(0usize..40, 0..6),
        disputed in proptest::bool::ANY,
        uncertain in proptest::option::of((0u8..=4, 0u8..=4)),
        needs in proptest::option::of(0u32..4),
        count_answers in proptest::bool::ANY,
        class in proptest::option::of(0u8..3),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_answers(dir.path(), &events, &undo);
        let f = QueueFilter {
            labels: class.map(|c| vec![["a", "b", "c"][c as usize].to_string()]),
            disputed,
            uncertain: uncertain.map(|(a, b)| {
                (f64::from(a.min(b)) / 4.0, f64::from(a.max(b)) / 4.0)
            }),
            needs,
            count_answers,
            ..QueueFilter::default()
        };
        let got: Vec<(String, Vec<String>, u64)> = store
            .select_images(&f)
            .unwrap()
            .into_iter()
            .map(|im| {
                let labels = store.selection_labels(im.id).unwrap();
                proptest::prop_assert_eq!(im.questions, labels.len() as u64);
                Ok((im.key, labels, im.answers))
            })
            .collect::<Result<_, _>>()?;
        proptest::prop_assert_eq!(got, selection_by_hand(&store, &f));
        // An annotator's queue of an unassigning project is the same selection.
        let theirs: Vec<String> =
            store.select_queue("dan", &f).unwrap().into_iter().map(|im| im.key).collect();
        let all: Vec<String> = selection_by_hand(&store, &f).into_iter().map(|s| s.0).collect();
        proptest::prop_assert_eq!(theirs, all.clone());
        // An annotator with assignments: only their images (every other key of the project).
        store
            .conn_for_tests()
            .execute_batch(
                "INSERT INTO assignments(annotator, image)
                 SELECT 'eve', key FROM images WHERE id % 2 = 1",
            )
            .unwrap();
        let assigned: Vec<String> = store
            .conn_for_tests()
            .prepare("SELECT key FROM images WHERE id % 2 = 1")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let theirs: Vec<String> =
            store.select_queue("eve", &f).unwrap().into_iter().map(|im| im.key).collect();
        let mine: Vec<String> = all.into_iter().filter(|k| assigned.contains(k)).collect();
        proptest::prop_assert_eq!(theirs, mine);
    }
}
