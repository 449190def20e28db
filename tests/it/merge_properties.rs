//! The algebra that makes "work apart, merge later" safe, checked on random event sets: merging
//! is commutative, idempotent and associative in the events of every kind (judgments, flags,
//! classify answers, expert verdicts), the candidates and every annotator's current answers. Events are drawn from one pool and each file holds a random part
//! of it, so files overlap the way re-merged and re-shared files do; answers tie on time often
//! (ties are broken by id), and retractions undo earlier answers. Packs (`labelvet pack`) are
//! the same files made small: mixed with full files, in any order, they give the same project.

use crate::merge_support;

use std::path::{Path, PathBuf};

use labelvet::store::merge::MergeOptions;
use labelvet::store::{Answer, ClassifyAnswer, ClassifyEvent, JudgmentEvent, Store, VerdictEvent};
use merge_support::{checkout_of, copy_db, small_project, state};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Op {
    annotator: usize,
    image: usize,
    label: usize,
    answer: usize,
    time: i64,
    /// Retract the annotator's latest standing answer to this question instead of answering.
    retract: bool,
    /// Flag the image (kind index) instead of answering.
    flag: Option<usize>,
    /// Give (or, with `retract`, undo) a classify answer to the image instead: the labels
    /// present as a bit mask of LABELS (the main one is `label`, always present) and the
    /// number of objects.
    classify: Option<(u8, u32)>,
    /// Give (or, with `retract`, undo) an expert's verdict on the question instead.
    verdict: bool,
    /// Which of the three files hold this event.
    in_files: [bool; 3],
}

fn op() -> impl Strategy<Value = Op> {
    (
        0..3usize,
        0..4usize,
        0..5usize,
        0..3usize,
        0..6i64,
        prop::bool::weighted(0.2),
        prop::option::weighted(0.15, 0..4usize),
        prop::option::weighted(0.2, (0..32u8, 1..4u32)),
        prop::bool::weighted(0.2),
        [any::<bool>(), any::<bool>(), any::<bool>()],
    )
        .prop_map(
            |(
                annotator,
                image,
                label,
                answer,
                time,
                retract,
                flag,
                classify,
                verdict,
                in_files,
            )| {
                Op {
                    annotator,
                    image,
                    label,
                    answer,
                    time,
                    retract,
                    flag,
                    classify,
                    verdict,
                    in_files,
                }
            },
        )
}

const LABELS: [&str; 5] = ["cat", "dog", "fox", "owl", "yak"];
const KINDS: [&str; 4] = ["broken", "ambiguous", "expert", "clear"];

enum Item {
    Event(JudgmentEvent),
    Verdict(VerdictEvent),
    Classify(ClassifyEvent),
    Flag {
        id: String,
        image: String,
        kind: &'static str,
        annotator: String,
        created_at: i64,
    },
}

/// Turns the ops into events and flags with ids unique to this case, and which files hold each.
/// A file holding a retraction also holds the answer it undoes, as a real file always does.
fn build(ops: &[Op], seed: u64) -> Vec<(Item, [bool; 3])> {
    let mut out: Vec<(Item, [bool; 3])> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let id = uuid::Uuid::from_u128((u128::from(seed) << 64) | i as u128).to_string();
        let annotator = format!("ann{}", op.annotator);
        let image = format!("img{}", op.image);
        if let Some(kind) = op.flag {
            out.push((
                Item::Flag {
                    id,
                    image,
                    kind: KINDS[kind],
                    annotator,
                    created_at: op.time,
                },
                op.in_files,
            ));
            continue;
        }
        if let Some((mask, objects)) = op.classify {
            let item = classify_event(&mut out, op, id, image, annotator, mask, objects);
            out.push((Item::Classify(item), op.in_files));
            continue;
        }
        let label = LABELS[op.label].to_string();
        let kind = if op.verdict { VERDICT } else { JUDGMENT };
        let undo = undo_target(&mut out, op, (kind, &annotator, &image, &label));
        let event = match undo {
            Some((target_id, target_time)) => JudgmentEvent {
                id,
                image,
                label,
                answer: None,
                retracts: Some(target_id),
                annotator,
                session: "s".into(),
                created_at: op.time.max(target_time),
                elapsed_ms: None,
                origin: "annotate".into(),
            },
            None => JudgmentEvent {
                id,
                image,
                label,
                answer: Answer::parse(["yes", "no", "maybe"][op.answer]),
                retracts: None,
                annotator,
                session: "s".into(),
                created_at: op.time,
                elapsed_ms: Some(100),
                origin: "annotate".into(),
            },
        };
        let item = if op.verdict {
            Item::Verdict(VerdictEvent(event))
        } else {
            Item::Event(event)
        };
        out.push((item, op.in_files));
    }
    out
}

/// The kinds of question an undo looks within.
const JUDGMENT: u8 = 0;
const CLASSIFY: u8 = 1;
const VERDICT: u8 = 2;

/// An event's place in the undo rules: its id, its (kind, annotator, image, label) question, whether it is an answer, what it retracts, and when.
struct View<'a> {
    id: &'a String,
    question: (u8, &'a str, &'a str, &'a str),
    answer: bool,
    retracts: Option<&'a String>,
    created_at: i64,
}

fn view(it: &Item) -> Option<View<'_>> {
    match it {
        Item::Event(e) | Item::Verdict(VerdictEvent(e)) => Some(View {
            id: &e.id,
            question: (
                if matches!(it, Item::Verdict(_)) {
                    VERDICT
                } else {
                    JUDGMENT
                },
                &e.annotator,
                &e.image,
                &e.label,
            ),
            answer: e.answer.is_some(),
            retracts: e.retracts.as_ref(),
            created_at: e.created_at,
        }),
        Item::Classify(e) => Some(View {
            id: &e.id,
            question: (CLASSIFY, &e.annotator, &e.image, ""),
            answer: e.answer.is_some(),
            retracts: e.retracts.as_ref(),
            created_at: e.created_at,
        }),
        Item::Flag { .. } => None,
    }
}

/// With `op.retract`, the annotator's latest standing answer to the question, as (id, time); the
/// files of the op then hold it too, as a file holding a retraction always holds its answer.
fn undo_target(
    out: &mut [(Item, [bool; 3])],
    op: &Op,
    question: (u8, &str, &str, &str),
) -> Option<(String, i64)> {
    if !op.retract {
        return None;
    }
    let retracted: Vec<&String> = out
        .iter()
        .filter_map(|(it, _)| view(it)?.retracts)
        .collect();
    let j = out.iter().rposition(|(it, _)| {
        view(it).is_some_and(|v| v.answer && v.question == question && !retracted.contains(&v.id))
    })?;
    let target = view(&out[j].0).map(|v| (v.id.clone(), v.created_at));
    for f in 0..3 {
        if op.in_files[f] {
            out[j].1[f] = true;
        }
    }
    target
}

/// A classify answer of the op, or with `retract` a retraction of the annotator's latest
/// standing classify answer to the image (marking its files as holding the answer too).
fn classify_event(
    out: &mut [(Item, [bool; 3])],
    op: &Op,
    id: String,
    image: String,
    annotator: String,
    mask: u8,
    objects: u32,
) -> ClassifyEvent {
    if let Some((target_id, target_time)) = undo_target(out, op, (CLASSIFY, &annotator, &image, ""))
    {
        return ClassifyEvent {
            id,
            image,
            answer: None,
            retracts: Some(target_id),
            annotator,
            session: "s".into(),
            created_at: op.time.max(target_time),
            elapsed_ms: None,
            origin: "annotate".into(),
        };
    }
    let main = LABELS[op.label].to_string();
    let present: Vec<String> = (0..LABELS.len())
        .filter(|&i| mask & (1 << i) != 0 || i == op.label)
        .map(|i| LABELS[i].to_string())
        .collect();
    ClassifyEvent {
        id,
        image,
        answer: Some(ClassifyAnswer::new(&present, &main, objects).unwrap()),
        retracts: None,
        annotator,
        session: "s".into(),
        created_at: op.time,
        elapsed_ms: Some(100),
        origin: "annotate".into(),
    }
}

fn fill(path: &Path, items: &[(Item, [bool; 3])], file: usize) {
    let store = Store::open(path).unwrap();
    let events: Vec<&JudgmentEvent> = items
        .iter()
        .filter(|(_, f)| f[file])
        .filter_map(|(it, _)| match it {
            Item::Event(e) => Some(e),
            _ => None,
        })
        .collect();
    store.insert_events(events).unwrap();
    let classify: Vec<&ClassifyEvent> = items
        .iter()
        .filter(|(_, f)| f[file])
        .filter_map(|(it, _)| match it {
            Item::Classify(e) => Some(e),
            _ => None,
        })
        .collect();
    store.insert_classify_events(classify).unwrap();
    let verdicts: Vec<VerdictEvent> = items
        .iter()
        .filter(|(_, f)| f[file])
        .filter_map(|(it, _)| match it {
            Item::Verdict(e) => Some(e.clone()),
            _ => None,
        })
        .collect();
    store.insert_verdicts(&verdicts).unwrap();
    for (it, f) in items {
        if let (
            Item::Flag {
                id,
                image,
                kind,
                annotator,
                created_at,
            },
            true,
        ) = (it, f[file])
        {
            store
                .conn_for_tests()
                .execute(
                    "INSERT INTO flags(id, image, kind, note, annotator, session, created_at)
                     VALUES (?1, ?2, ?3, '', ?4, 's', ?5)",
                    rusqlite::params![id, image, kind, annotator, created_at],
                )
                .unwrap();
        }
    }
    // As `judgments import` does: answered labels become candidates of the file.
    store.rebuild_candidates().unwrap();
}

fn merge(target: &Path, sources: &[&Path]) -> u64 {
    let mut store = Store::open(target).unwrap();
    let sources: Vec<PathBuf> = sources.iter().map(|p| p.to_path_buf()).collect();
    store
        // The generated files are checkouts whose events are anyone's: allowed, so that the
        // property is about the union itself.
        .merge(
            &sources,
            &MergeOptions {
                allow_other_annotators: true,
                // Merges of several files are made in two passes (as large merges are), of one
                // file in one: the properties then hold across both ways too.
                two_pass_from: Some(if sources.len() > 1 { 0 } else { u64::MAX }),
                ..MergeOptions::default()
            },
            &mut |_| {},
        )
        .unwrap()
        .new_events()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn merging_is_commutative_idempotent_and_associative(
        ops in prop::collection::vec(op(), 0..40),
        seed in any::<u64>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let base = small_project(&d.join("base.db"), 4);
        let items = build(&ops, seed);
        let files: Vec<PathBuf> = (0..3)
            .map(|f| {
                let p = checkout_of(&base, &format!("ann{f}"), &d.join(format!("f{f}.db")));
                fill(&p, &items, f);
                p
            })
            .collect();
        let (a, b, c) = (files[0].as_path(), files[1].as_path(), files[2].as_path());

        // merge(A, B) = merge(B, A)
        let ab = copy_db(&base, &d.join("ab.db"));
        merge(&ab, &[a, b]);
        let ba = copy_db(&base, &d.join("ba.db"));
        merge(&ba, &[b]);
        merge(&ba, &[a]);
        let s_ab = state(&ab);
        prop_assert_eq!(&s_ab, &state(&ba));

        // Merging twice = merging once.
        prop_assert_eq!(merge(&ab, &[a, b, a]), 0);
        prop_assert_eq!(&s_ab, &state(&ab));

        // (A + B) + C = A + (B + C), merging into the files themselves.
        let left = copy_db(a, &d.join("left.db"));
        merge(&left, &[b]);
        merge(&left, &[c]);
        let bc = copy_db(b, &d.join("bc.db"));
        merge(&bc, &[c]);
        let right = copy_db(a, &d.join("right.db"));
        merge(&right, &[&bc]);
        let s_left = state(&left);
        prop_assert_eq!(&s_left, &state(&right));

        // And both equal the union of all three merged into the project in one go.
        let all = copy_db(&base, &d.join("all.db"));
        merge(&all, &[c, a, b]);
        prop_assert_eq!(&s_left, &state(&all));

        // The union holds exactly the pool's events that some file held.
        let held = items.iter().filter(|(it, f)| {
            matches!(it, Item::Event(_)) && f.iter().any(|x| *x)
        }).count();
        prop_assert_eq!(s_left.events.len(), held);
        let held_classify = items.iter().filter(|(it, f)| {
            matches!(it, Item::Classify(_)) && f.iter().any(|x| *x)
        }).count();
        prop_assert_eq!(s_left.classify.len(), held_classify);
        let held_verdicts = items.iter().filter(|(it, f)| {
            matches!(it, Item::Verdict(_)) && f.iter().any(|x| *x)
        }).count();
        prop_assert_eq!(s_left.verdicts.len(), held_verdicts);
    }
}

/// A pack of `file` (made to carry every annotator's events: its checkout annotator is
/// forgotten, as in a file that is not a checkout), or `None` when it holds no event to pack.
fn pack_of(file: &Path, out: &Path) -> Option<PathBuf> {
    let store = Store::open(file).unwrap();
    store
        .conn_for_tests()
        .execute("DELETE FROM meta WHERE key = 'checkout_annotator'", [])
        .unwrap();
    match labelvet::store::pack::pack(&store, out, false) {
        Ok(_) => Some(out.to_path_buf()),
        Err(e) if e.to_string().contains("holds no answers") => None,
        Err(e) => panic!("{e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn packs_and_full_files_mixed_in_any_order_give_the_same_project(
        ops in prop::collection::vec(op(), 1..40),
        seed in any::<u64>(),
        packed in [any::<bool>(), any::<bool>(), any::<bool>()],
        order in Just(vec![0usize, 1, 2]).prop_shuffle(),
        one_go in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let base = small_project(&d.join("base.db"), 4);
        let items = build(&ops, seed);
        let files: Vec<PathBuf> = (0..3)
            .map(|f| {
                let p = checkout_of(&base, &format!("ann{f}"), &d.join(format!("f{f}.db")));
                fill(&p, &items, f);
                p
            })
            .collect();
        let packs: Vec<Option<PathBuf>> = files
            .iter()
            .enumerate()
            .map(|(f, p)| pack_of(p, &d.join(format!("f{f}.lvpack"))))
            .collect();

        // The full files, in file order, in one merge.
        let full = copy_db(&base, &d.join("full.db"));
        let all: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        merge(&full, &all);
        let expected = state(&full);

        // Each file as its pack or itself, in a shuffled order, in one merge or one at a time.
        let chosen: Vec<&Path> = order
            .iter()
            .map(|&f| match (&packs[f], packed[f]) {
                (Some(pack), true) => pack.as_path(),
                _ => files[f].as_path(),
            })
            .collect();
        let mixed = copy_db(&base, &d.join("mixed.db"));
        if one_go {
            merge(&mixed, &chosen);
        } else {
            for src in &chosen {
                merge(&mixed, &[*src]);
            }
        }
        prop_assert_eq!(&expected, &state(&mixed));
        // A pack after its own full file brings nothing new, and the other way round.
        for f in 0..3 {
            if let Some(pack) = &packs[f] {
                prop_assert_eq!(merge(&mixed, &[pack.as_path(), files[f].as_path()]), 0);
            }
        }
        prop_assert_eq!(&expected, &state(&mixed));
    }
}
