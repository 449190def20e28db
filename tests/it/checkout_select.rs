//! `checkout` and `assign` with the queue's image filters (`--class`, `--subtree`,
//! `--original-label`, `--sample`, ...): a coordinator hands out only the images the filters
//! select, on a project of real photos with the real predictions of three models.

use crate::annotate_support;
use crate::cli_support;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use annotate_support::{Project, project};
use cli_support::{fails, ok, s};
use labelvet::store::Store;
use labelvet::vocab::Vocab;

/// The images with a candidate among `labels`, worked out from the project's candidates.
fn images_with_candidate_in(p: &Project, labels: &HashSet<String>) -> BTreeSet<String> {
    let store = p.open();
    let mut out = BTreeSet::new();
    for (key, id) in store.image_ids().unwrap() {
        if store
            .candidates(id)
            .unwrap()
            .iter()
            .any(|c| labels.contains(&c.label))
        {
            out.insert(key);
        }
    }
    out
}

fn subtree(node: &str) -> HashSet<String> {
    Vocab::imagenet1k()
        .subtree(node)
        .unwrap()
        .into_iter()
        .map(|c| c.key.clone())
        .collect()
}

fn assigned(file: &std::path::Path, annotator: &str) -> Option<BTreeSet<String>> {
    Store::open(file)
        .unwrap()
        .assigned_images(annotator)
        .unwrap()
        .map(|set| set.into_iter().collect())
}

#[test]
fn assign_subtree_hands_out_only_those_images_balanced() {
    let p = project(20);
    let dogs = images_with_candidate_in(&p, &subtree("dog"));
    assert!(
        !dogs.is_empty() && dogs.len() < p.keys.len(),
        "the photos should hold some dogs and some not: {dogs:?}"
    );
    let out = p.dir.path().join("handout");
    let said = ok(&[
        "assign",
        s(&p.db),
        "--annotators",
        "alice,bob,carol",
        "--overlap",
        "2",
        "-o",
        s(&out),
        "--seed",
        "7",
        "--subtree",
        "dog",
    ]);
    assert!(
        said.contains(&format!("images selected by subtree dog: {}", dogs.len())),
        "{said}"
    );
    let mut times: BTreeMap<String, usize> = BTreeMap::new();
    let mut counts = Vec::new();
    for a in ["alice", "bob", "carol"] {
        let mine = assigned(&out.join(format!("{a}.db")), a).expect("an assignment");
        assert!(mine.is_subset(&dogs), "{a} got non-dogs: {mine:?}");
        counts.push(mine.len());
        for k in mine {
            *times.entry(k).or_default() += 1;
        }
    }
    // Every dog image to exactly two annotators, nothing else, the counts within one.
    assert_eq!(times.keys().cloned().collect::<BTreeSet<_>>(), dogs);
    assert!(times.values().all(|&n| n == 2), "{times:?}");
    assert_eq!(counts.iter().sum::<usize>(), 2 * dogs.len());
    assert!(
        counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1,
        "{counts:?}"
    );
}

#[test]
fn checkout_class_assigns_only_that_class_and_sample_draws_from_the_selection() {
    let p = project(20);
    let vocab = Vocab::imagenet1k();
    // The dalmatian photo's class (ImageNet index 251), by name.
    let dalmatian = vocab.by_index(251).unwrap().key.clone();
    let expected = images_with_candidate_in(&p, &HashSet::from([dalmatian.clone()]));
    assert!(!expected.is_empty() && expected.len() < p.keys.len());
    let file = p.dir.path().join("dave.db");
    let said = ok(&[
        "checkout",
        s(&p.db),
        "--annotator",
        "dave",
        "-o",
        s(&file),
        "--class",
        "dalmatian",
    ]);
    assert!(
        said.contains(&format!(
            "{} of {} images assigned to dave",
            expected.len(),
            p.keys.len()
        )),
        "{said}"
    );
    assert_eq!(assigned(&file, "dave"), Some(expected));

    // A sample of the dogs: that many, all dogs, the same for the same seed.
    let dogs = images_with_candidate_in(&p, &subtree("dog"));
    let sample = |name: &str, seed: &str| {
        let file = p.dir.path().join(format!("{name}.db"));
        ok(&[
            "checkout",
            s(&p.db),
            "--annotator",
            name,
            "-o",
            s(&file),
            "--subtree",
            "dog",
            "--sample",
            "2",
            "--seed",
            seed,
        ]);
        assigned(&file, name).expect("an assignment")
    };
    let (first, again) = (sample("erin", "5"), sample("frank", "5"));
    assert_eq!(first.len(), 2);
    assert!(first.is_subset(&dogs), "{first:?}");
    assert_eq!(first, again);
}

#[test]
fn no_filter_assigns_nothing_and_an_empty_selection_makes_no_file() {
    let p = project(20);
    let all = p.dir.path().join("all.db");
    ok(&["checkout", s(&p.db), "--annotator", "gina", "-o", s(&all)]);
    assert_eq!(assigned(&all, "gina"), None, "no filter: every image");

    // No photo is labelled tench (n01440764): nothing to hand out, and no file is made.
    let none = p.dir.path().join("none.db");
    let err = fails(&[
        "checkout",
        s(&p.db),
        "--annotator",
        "hal",
        "-o",
        s(&none),
        "--original-label",
        "tench",
    ]);
    assert!(err.contains("no image of"), "{err}");
    assert!(err.contains("matches the selection"), "{err}");
    assert!(!none.exists());
    let err = fails(&[
        "assign",
        s(&p.db),
        "--annotators",
        "a,b",
        "--overlap",
        "1",
        "-o",
        s(&p.dir.path().join("out")),
        "--subtree",
        "no such node",
    ]);
    assert!(err.contains("no such node"), "{err}");
}
