//! The synthetic-project generator (examples/gen_project.rs), run small: it goes through the real
//! imports, so the project it writes opens, holds what it says, and the same seed repeats it.

#[path = "../examples/gen_project.rs"]
mod gen_project;

use gen_project::{GenOptions, generate, parse_args};
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
