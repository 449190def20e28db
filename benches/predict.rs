//! `labelvet predict` throughput: images per second for each bundled test classifier
//! (EfficientNet-Lite0/1/2 in ../shared/data/models) over the 20 labelled ImageNet photos, the
//! whole pipeline the command runs per image (read, decode, resize, crop, inference on all
//! cores, softmax, top-5), model loading excluded. The `per image` group runs the same photos
//! one at a time on one core, for the speed-up that using every core gives.
//!
//! Run: `cargo bench --features predict --bench predict`.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use labelvet::predict::{Classifier, ModelConfig, Normalize, classify, top_k};

const MODELS: &str = "../shared/data/models";
const PHOTOS: &str = "../shared/data/photos/imagenet_labeled";

fn photos() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(PHOTOS)
        .expect("the shared photos")
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn load(name: &str) -> Classifier {
    let cfg = ModelConfig {
        input_size: None,
        resize_shorter: None,
        normalize: Normalize::Scale127,
        batch: 1,
    };
    Classifier::load(&Path::new(MODELS).join(format!("{name}.onnx")), &cfg).unwrap()
}

fn bench(c: &mut Criterion) {
    let photos = photos();
    let cancel = AtomicBool::new(false);
    let mut all = c.benchmark_group("predict 20 photos, all cores");
    all.sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(photos.len() as u64));
    for name in [
        "efficientnet_lite0",
        "efficientnet_lite1",
        "efficientnet_lite2",
    ] {
        let model = load(name);
        all.bench_function(name, |b| {
            b.iter(|| {
                let out = classify(&model, &photos, 5, &cancel, &|| {}).unwrap();
                assert!(out.iter().all(|r| matches!(r, Some(Ok(_)))));
                out
            })
        });
    }
    all.finish();

    let mut one = c.benchmark_group("predict 20 photos, one core");
    one.sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(photos.len() as u64));
    let model = load("efficientnet_lite0");
    one.bench_function("efficientnet_lite0", |b| {
        let mut state = model.state().unwrap();
        b.iter(|| {
            photos
                .iter()
                .map(|p| {
                    let x = model.preprocess.load(p).unwrap();
                    top_k(&model.run(&mut state, &[&x]).unwrap()[0], 5)
                })
                .collect::<Vec<_>>()
        })
    });
    one.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
