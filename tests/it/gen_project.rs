//! The synthetic-project generator (examples/gen_project.rs), run small: it goes through the real
//! imports, so the project it writes opens, holds what it says, and the same seed repeats it.

use crate::gen_project_example::{GenOptions, generate, parse_args};
use labelvet::store::Store;

#[test]
fn a_small_generated_project_holds_what_the_generator_reports() {
    let dir = tempfile::tempdir().unwrap();
    let args: Vec<String> = ["--images", "40", "--models", "2", "--annotators", "3"]
        .iter()
        .map(|s| s.to_string())
        .chain([dir.path().join("a.db").display().to_string()])
        .collect();
    let opts = parse_args(&args).unwrap();
    let g = generate(&opts).unwrap();
    assert_eq!(g.images, 40);
    assert_eq!(g.prediction_rows, 40 * 2 * 5);
    // Every annotator answers every candidate: the original label plus up to 5 per model.
    assert!(g.answers >= 40 * 3 * 5 && g.answers <= 40 * 3 * 11, "{g:?}");

    let store = Store::open(&opts.out).unwrap();
    let first = store
        .image("ILSVRC2012_val_00000001.JPEG")
        .unwrap()
        .expect("the first image");
    assert!(first.rec.original_label.is_some());
    let candidates = store.candidates(first.id).unwrap();
    assert!(candidates.len() >= 5, "{candidates:?}");
    drop(store);

    // The same seed makes the same project; the output must not exist yet.
    let again = GenOptions {
        out: dir.path().join("b.db"),
        ..opts.clone()
    };
    assert_eq!(generate(&again).unwrap(), g);
    assert!(generate(&opts).is_err());
    assert!(parse_args(&["--images".into(), "x".into()]).is_err());
}

#[test]
fn files_mode_writes_inputs_that_the_real_imports_read() {
    use labelvet::ingest::judgments::{JudgmentImportOptions, import_judgments};
    use labelvet::ingest::predictions::{PredictionOptions, import_predictions};
    use labelvet::ingest::{InitOptions, init_project};

    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("in");
    let args: Vec<String> = [
        "--images",
        "3000",
        "--models",
        "3",
        "--annotators",
        "2",
        "--names",
        "train",
        "--answer-images",
        "10",
        "--answer-labels",
        "4",
        "--files",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([files.display().to_string()])
    .collect();
    let opts = parse_args(&args).unwrap();
    let g = generate(&opts).unwrap();
    assert_eq!(g.prediction_rows, 3000 * 3 * 5);
    // Original label plus three models' top-5 leave at least 4 candidates to answer.
    assert_eq!(g.answers, 10 * 2 * 4);

    let manifest = std::fs::read_to_string(files.join("manifest.csv")).unwrap();
    let lines: Vec<&str> = manifest.lines().skip(1).collect();
    assert_eq!(lines.len(), 3000);
    // Training-set names: the folder is the label, three per class over 1000 classes.
    let (key, label) = lines[0].split_once(',').unwrap();
    assert_eq!(key.split('/').next(), Some(label));
    assert!(
        key.starts_with("n01440764/n01440764_") && key.ends_with(".JPEG"),
        "{key}"
    );
    assert!(lines[2999].starts_with("n15075141/"), "{}", lines[2999]);
    let keys: std::collections::HashSet<&str> =
        lines.iter().map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(keys.len(), 3000);

    let db = dir.path().join("p.db");
    let (mut store, _) = init_project(
        &db,
        &InitOptions {
            manifest: Some(files.join("manifest.csv")),
            vocab: "imagenet1k".into(),
            ..InitOptions::default()
        },
    )
    .unwrap();
    let preds: Vec<_> = (0..3)
        .map(|m| files.join(format!("model{m}.jsonl.gz")))
        .collect();
    let p = import_predictions(&mut store, &preds, &PredictionOptions::default()).unwrap();
    assert_eq!(p.rows, g.prediction_rows);
    let j = import_judgments(
        &mut store,
        &files.join("answers.csv.gz"),
        &JudgmentImportOptions::default(),
    )
    .unwrap();
    assert_eq!(j.rows, g.answers);
    let first = store.image(key).unwrap().expect("the first image");
    assert_eq!(first.rec.original_label.as_deref(), Some(label));
    let (mean, _, _) = store.candidate_stats().unwrap();
    assert!((4.0..=16.0).contains(&mean), "mean candidates {mean}");
}
