//! Import throughput: images hashed and probed per second on a generated ImageNet-layout tree of
//! 10,000 JPEG files (next to `sha256sum` over the same files), and prediction rows per second
//! for 50,000 images x 10 models x top-5 = 2.5 million rows.
//!
//! The generated data is kept in target/bench-data so that repeated runs measure the import, not
//! the generator. Run: `cargo bench --bench import`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use labelvet::ingest::predictions::{PredictionOptions, import_predictions};
use labelvet::ingest::{InitOptions, init_project};
use labelvet::store::Store;
use labelvet::vocab::Vocab;

const N_FILES: usize = 10_000;
const N_IMAGES: usize = 50_000;
const N_MODELS: usize = 10;

fn bench_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// 10,000 real JPEGs in 100 class folders: the 20 labelled ImageNet photos, each copy made
/// distinct by a trailer after the end-of-image marker (which decoders ignore).
fn jpeg_tree() -> PathBuf {
    let root = bench_dir().join("tree10k");
    let done = root.join(".complete");
    if done.exists() {
        return root;
    }
    let photos: Vec<Vec<u8>> = std::fs::read_dir("../shared/data/photos/imagenet_labeled")
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    let vocab = Vocab::imagenet1k();
    for i in 0..N_FILES {
        let class = &vocab.classes()[i % 100 * 10].key;
        let dir = root.join(class);
        std::fs::create_dir_all(&dir).unwrap();
        let mut bytes = photos[i % photos.len()].clone();
        bytes.extend_from_slice(format!("labelvet-bench-{i}").as_bytes());
        std::fs::write(dir.join(format!("img_{i:05}.JPEG")), bytes).unwrap();
    }
    std::fs::write(done, "").unwrap();
    root
}

fn tree_files(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walk(root);
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "JPEG") {
            out.push(p);
        }
    }
    out
}

/// A 50,000-image project (from the validation manifest) and a 2.5-million-row predictions CSV.
fn predictions_fixture() -> (PathBuf, PathBuf) {
    let dir = bench_dir();
    let base = dir.join("val-base.db");
    if !base.exists() {
        init_project(
            &base,
            &InitOptions {
                manifest: Some("../shared/data/imagenet_val/original_labels.csv".into()),
                vocab: "imagenet1k".into(),
                ..InitOptions::default()
            },
        )
        .unwrap();
    }
    let csv = dir.join("preds-2.5M.csv");
    if !csv.exists() {
        let tmp = dir.join("preds.partial");
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp).unwrap());
        writeln!(w, "image,model,rank,label,score").unwrap();
        // A cheap deterministic generator: the labels need only be valid and distinct per row.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for img in 1..=N_IMAGES {
            for m in 0..N_MODELS {
                let start = (x >> 33) % 995;
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let mut score = 0.9;
                for rank in 1..=5 {
                    writeln!(
                        w,
                        "ILSVRC2012_val_{img:08}.JPEG,model_{m},{rank},{},{score:.4}",
                        start + rank
                    )
                    .unwrap();
                    score /= 3.0;
                }
            }
        }
        w.flush().unwrap();
        drop(w);
        std::fs::rename(tmp, &csv).unwrap();
    }
    (base, csv)
}

fn fresh_copy(base: &Path, name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join(name);
    std::fs::copy(base, &db).unwrap();
    (tmp, db)
}

fn images(c: &mut Criterion) {
    let root = jpeg_tree();
    let files = tree_files(&root);
    assert_eq!(files.len(), N_FILES);
    let mut g = c.benchmark_group("hash_10k_jpegs");
    g.sample_size(10);
    g.bench_function("labelvet_init", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |tmp| {
                let (_, report) = init_project(
                    &tmp.path().join("p.db"),
                    &InitOptions {
                        images: Some(root.clone()),
                        vocab: "imagenet1k".into(),
                        ..InitOptions::default()
                    },
                )
                .unwrap();
                assert_eq!(report.ok, N_FILES);
                tmp
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("sha256sum", |b| {
        b.iter(|| {
            let out = Command::new("sha256sum")
                .args(&files)
                .output()
                .expect("sha256sum is installed");
            assert!(out.status.success());
        })
    });
    g.finish();
}

fn predictions(c: &mut Criterion) {
    let (base, csv) = predictions_fixture();
    let mut g = c.benchmark_group("predictions_2.5M_rows");
    g.sample_size(10);
    g.bench_function("import", |b| {
        b.iter_batched(
            || fresh_copy(&base, "val.db"),
            |(tmp, db)| {
                let mut store = Store::open(&db).unwrap();
                let r = import_predictions(
                    &mut store,
                    std::slice::from_ref(&csv),
                    &PredictionOptions::default(),
                )
                .unwrap();
                assert_eq!(r.rows, (N_IMAGES * N_MODELS * 5) as u64);
                tmp
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, images, predictions);
criterion_main!(benches);
