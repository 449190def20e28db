//! `labelvet predict` on real models and photos: the three EfficientNet-Lite classifiers in
//! ../shared/data/models over the 20 labelled ImageNet photos must agree with the reference
//! predictions (onnxruntime with PIL preprocessing) in ../shared/data/photos/predictions.csv,
//! and their rows must be stored the way imported predictions are.
#![cfg(feature = "predict")]

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use labelvet::ingest::{InitOptions, init_project};
use labelvet::predict::{ModelSpec, Normalize, PredictOptions, predict};
use labelvet::store::Store;

const PHOTOS: &str = "../shared/data/photos/imagenet_labeled";
const REFERENCE: &str = "../shared/data/photos/predictions.csv";
const MODELS: [&str; 3] = [
    "efficientnet_lite0",
    "efficientnet_lite1",
    "efficientnet_lite2",
];

fn model(name: &str) -> ModelSpec {
    ModelSpec {
        name: name.to_string(),
        path: PathBuf::from(format!("../shared/data/models/{name}.onnx")),
    }
}

/// (image key, model) -> [(wnid, score)] by rank.
type Top5 = HashMap<(String, String), Vec<(String, f64)>>;

fn reference() -> Top5 {
    let mut out = Top5::new();
    let mut rdr = csv::Reader::from_path(REFERENCE).unwrap();
    for rec in rdr.records() {
        let rec = rec.unwrap();
        let Some(key) = rec[0].strip_prefix("imagenet_labeled/") else {
            continue;
        };
        out.entry((key.to_string(), rec[1].to_string()))
            .or_default()
            .push((rec[4].to_string(), rec[5].parse().unwrap()));
    }
    out
}

fn stored(store: &Store) -> Top5 {
    let mut stmt = store
        .conn_for_tests()
        .prepare(
            "SELECT i.key, m.name, p.rank, p.label, p.score FROM predictions p
             JOIN images i ON i.id = p.image_id JOIN models m ON m.id = p.model_id
             ORDER BY i.key, m.name, p.rank",
        )
        .unwrap();
    let mut out = Top5::new();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, u32>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, f64>(4)?,
            ))
        })
        .unwrap();
    for row in rows {
        let (key, model, rank, label, score) = row.unwrap();
        let v = out.entry((key, model)).or_default();
        assert_eq!(v.len() as u32 + 1, rank, "ranks run 1, 2, ...");
        v.push((label, score));
    }
    out
}

#[test]
fn three_models_agree_with_the_reference_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    let (mut store, init) = init_project(
        &db,
        &InitOptions {
            images: Some(PHOTOS.into()),
            vocab: "imagenet1k".into(),
            ..InitOptions::default()
        },
    )
    .unwrap();
    assert_eq!(init.ok, 20);
    let mut opts = PredictOptions {
        models: MODELS.iter().map(|m| model(m)).collect(),
        ..PredictOptions::default()
    };
    opts.config.normalize = Normalize::Scale127;
    let report = predict(&mut store, &opts, &AtomicBool::new(false)).unwrap();
    assert!(!report.interrupted);
    let sizes: Vec<u32> = report
        .models
        .iter()
        .map(|m| m.preprocess.unwrap().input_size)
        .collect();
    assert_eq!(
        sizes,
        [224, 240, 260],
        "input sizes are read from the models"
    );
    let resized: Vec<u32> = report
        .models
        .iter()
        .map(|m| m.preprocess.unwrap().resize_shorter)
        .collect();
    assert_eq!(resized, [256, 274, 297]);
    for m in &report.models {
        assert_eq!((m.predicted, m.already, m.skipped.len()), (20, 0, 0));
    }

    let want = reference();
    let got = stored(&store);
    assert_eq!(got.len(), 60, "20 photos x 3 models");
    for name in MODELS {
        let mut max_diff: f64 = 0.0;
        let mut min_overlap = 5;
        for ((key, m), ours) in got.iter().filter(|((_, m), _)| m == name) {
            let theirs = &want[&(key.clone(), m.clone())];
            assert_eq!(ours.len(), 5);
            assert_eq!(
                ours[0].0, theirs[0].0,
                "{name} {key}: top-1 {ours:?} vs reference {theirs:?}"
            );
            let diff = (ours[0].1 - theirs[0].1).abs();
            assert!(
                diff <= 0.02,
                "{name} {key}: top-1 score {} vs {}",
                ours[0].1,
                theirs[0].1
            );
            let a: HashSet<&str> = ours.iter().map(|(l, _)| l.as_str()).collect();
            let b: HashSet<&str> = theirs.iter().map(|(l, _)| l.as_str()).collect();
            let overlap = a.intersection(&b).count();
            assert!(overlap >= 4, "{name} {key}: top-5 {ours:?} vs {theirs:?}");
            assert!(
                ours.windows(2).all(|w| w[0].1 >= w[1].1),
                "scores fall with rank"
            );
            max_diff = max_diff.max(diff);
            min_overlap = min_overlap.min(overlap);
        }
        println!(
            "{name}: top-1 20/20 as the reference, max top-1 score diff {max_diff:.4}, min top-5 overlap {min_overlap}/5"
        );
    }

    // Candidates are rebuilt from the new rows as after an import: each image's candidates are
    // the union of the three top-5 lists, with every model's rank as provenance.
    for (key, id) in store.image_ids().unwrap() {
        let cands = store.candidates(id).unwrap();
        let union: HashSet<&str> = got
            .iter()
            .filter(|((k, _), _)| *k == key)
            .flat_map(|(_, v)| v.iter().map(|(l, _)| l.as_str()))
            .collect();
        let labels: HashSet<&str> = cands.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, union, "{key}");
        let sources: usize = cands.iter().map(|c| c.sources.len()).sum();
        assert_eq!(sources, 15, "{key}: 3 models x top-5");
    }
    let models = store.models().unwrap();
    assert_eq!(models.len(), 3);
    for m in models {
        assert_eq!((m.predictions, m.images), (100, 20));
        assert!(m.source.unwrap().ends_with(&format!("{}.onnx", m.name)));
    }
}
