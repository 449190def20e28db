//! ImageNet-ReaL's 924,810 real rater answers, split the way a team would have made them: one
//! file per rater (85 files), each a checkout of one project into which that rater's answers
//! were imported. Merged in two different orders into two projects made from the 50,000-name
//! manifest, they give the same current answers, all of them.

use crate::merge_support;

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use labelvet::ingest::judgments::{JudgmentImportOptions, import_judgments};
use labelvet::ingest::{InitOptions, init_project};
use labelvet::store::Store;
use labelvet::store::checkout::{CheckoutOptions, checkout};
use labelvet::store::merge::MergeOptions;
use merge_support::{MANIFEST, RATERS, copy_db};
use rayon::prelude::*;

const RATER_COUNT: usize = 85;
const ANSWERS: usize = 924_810;

fn manifest_project(path: &Path) -> PathBuf {
    init_project(
        path,
        &InitOptions {
            manifest: Some(MANIFEST.into()),
            vocab: "imagenet1k".into(),
            ..InitOptions::default()
        },
    )
    .unwrap();
    path.to_path_buf()
}

/// raters.csv.gz split into one CSV per rater, in the importer's CSV layout.
fn split_by_rater(dir: &Path) -> Vec<(String, PathBuf)> {
    let file = std::fs::File::open(RATERS).unwrap();
    let lines = std::io::BufReader::new(flate2::read::GzDecoder::new(file)).lines();
    let mut by_rater: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut header = None;
    for line in lines {
        let line = line.unwrap();
        if header.is_none() {
            assert_eq!(line, "image,label_index,wnid,rater,answer");
            header = Some(line);
            continue;
        }
        // image,label_index,wnid,rater,answer -> image,wnid,rater,answer
        let f: Vec<&str> = line.split(',').collect();
        by_rater
            .entry(f[3].to_string())
            .or_default()
            .push(format!("{},{},{},{}", f[0], f[2], f[3], f[4]));
    }
    by_rater
        .into_iter()
        .map(|(rater, rows)| {
            let path = dir.join(format!("{rater}.csv"));
            let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
            writeln!(w, "image,wnid,rater,answer").unwrap();
            for row in rows {
                writeln!(w, "{row}").unwrap();
            }
            (rater, path)
        })
        .collect()
}

fn merge(target: &Path, sources: &[PathBuf], allow_other_project: bool) -> u64 {
    let mut store = Store::open(target).unwrap();
    store
        .merge(
            sources,
            &MergeOptions {
                allow_other_project,
                ..MergeOptions::default()
            },
            &mut |_| {},
        )
        .unwrap()
        .new_events()
}

#[test]
fn real_raters_merged_in_two_orders_give_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = manifest_project(&d.join("base.db"));
    let csvs = split_by_rater(d);
    assert_eq!(csvs.len(), RATER_COUNT);

    // One file per rater: a checkout of the project, then that rater's answers imported into it.
    let files: Vec<PathBuf> = csvs
        .par_iter()
        .map(|(rater, csv)| {
            let out = d.join(format!("{rater}.db"));
            let project = Store::open(&base).unwrap();
            checkout(
                &project,
                &out,
                &CheckoutOptions {
                    annotator: rater,
                    with_answers: false,
                    assignment: None,
                    assignment_note: None,
                    leave_out: None,
                    with_images: None,
                },
            )
            .unwrap();
            let mut store = Store::open(&out).unwrap();
            let r = import_judgments(&mut store, csv, &JudgmentImportOptions::default()).unwrap();
            assert_eq!(r.annotators, 1);
            assert_eq!(r.added, r.rows);
            out
        })
        .collect();

    // Two orders, merged side by side. Order one: every file in rater order, in one merge, into a
    // copy of the project. Order two: reversed and interleaved, in batches of 10, into a project
    // made afresh from the manifest (another project UUID, hence the leave to merge).
    let first = copy_db(&base, &d.join("first.db"));
    let second = manifest_project(&d.join("second.db"));
    let mut order: Vec<PathBuf> = files.iter().rev().step_by(2).cloned().collect();
    order.extend(files.iter().rev().skip(1).step_by(2).cloned());
    assert_eq!(order.len(), RATER_COUNT);
    assert_ne!(order, files);
    let (one, two) = rayon::join(
        || merge(&first, &files, false),
        || {
            order
                .chunks(10)
                .map(|batch| merge(&second, batch, true))
                .sum::<u64>()
        },
    );
    assert_eq!(one, ANSWERS as u64);
    assert_eq!(two, ANSWERS as u64);
    // Files merged again change nothing.
    assert_eq!(merge(&second, &order[..3], true), 0);

    let (a, b) = rayon::join(
        || Store::open(&first).unwrap().current_answers().unwrap(),
        || Store::open(&second).unwrap().current_answers().unwrap(),
    );
    assert_eq!(a.len(), ANSWERS, "every rater answered each question once");
    assert!(a == b, "the two orders give different current answers");
    let raters: std::collections::HashSet<&str> = a.iter().map(|c| c.annotator.as_str()).collect();
    assert_eq!(raters.len(), RATER_COUNT);
    assert_eq!(
        Store::open(&first).unwrap().merge_log().unwrap().len(),
        RATER_COUNT
    );
    assert_eq!(
        Store::open(&second).unwrap().merge_log().unwrap().len(),
        RATER_COUNT + 3
    );
}
