//! The CLASSIFY task on ImageNet-ReaL's 924,810 real answers over the 50,000-image project:
//! building an annotator's classify queue (the images with two or more valid labels at the
//! report's default, selection frequency >= 0.5) and the report's CLASSIFY figures once every
//! queued image has classify answers from three annotators.
//!
//! - `queue_end_to_end`: open the project, read every current answer, aggregate, build the queue
//!   (what the classify screen pays once at start);
//! - `queue_from_aggregated`: only the queue, from answers already aggregated (what it pays to
//!   rebuild the queue after an answer);
//! - `summary`: read every current classify answer and compute the figures.
//!
//! Uses target/bench-data/real-answers.db (made by the report bench, or here the same way) and
//! a copy of it with classify answers. Run: `cargo bench --bench classify`.

#[path = "common/real.rs"]
mod real;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use labelvet::analysis::classify::{ClassifySummary, classify_queue, load_classify_queue};
use labelvet::analysis::project::{Options, ProjectData, aggregate};
use labelvet::store::{ClassifyAnswer, ClassifyEvent, Store};
use real::*;

/// A copy with classify answers from three annotators on every queued image: each ticks every
/// valid label, the main object rotating among them, 1 to 3 objects.
fn classified_project() -> PathBuf {
    let db = bench_dir().join("real-classify.db");
    if !db.exists() {
        let tmp = bench_dir().join("real-classify.partial.db");
        std::fs::copy(answered_project(), &tmp).unwrap();
        let mut store = Store::open(&tmp).unwrap();
        let queue = load_classify_queue(&store, &Options::default(), None, "a0").unwrap();
        let mut events = Vec::new();
        for (i, item) in queue.iter().enumerate() {
            let present: Vec<String> = item.labels.iter().map(|l| l.key.clone()).collect();
            for a in 0..3usize {
                let main = &present[(i + a) % present.len()];
                events.push(ClassifyEvent {
                    id: uuid::Uuid::now_v7().to_string(),
                    image: item.image.clone(),
                    answer: Some(
                        ClassifyAnswer::new(&present, main, 1 + ((i + a) % 3) as u32).unwrap(),
                    ),
                    retracts: None,
                    annotator: format!("a{a}"),
                    session: "bench".into(),
                    created_at: 1,
                    elapsed_ms: None,
                    origin: "bench".into(),
                });
            }
        }
        store
            .transaction(|tx| labelvet::store::classify::insert_classify_events(tx, &events))
            .unwrap();
        drop(store);
        std::fs::rename(tmp, &db).unwrap();
    }
    db
}

fn classify(c: &mut Criterion) {
    let db = classified_project();
    let mut g = c.benchmark_group("classify_real_924810_answers");
    g.sample_size(10);
    g.bench_function("queue_end_to_end", |b| {
        b.iter(|| {
            let store = Store::open(&db).unwrap();
            let q = load_classify_queue(&store, &Options::default(), None, "a1").unwrap();
            assert!(q.len() > 1000 && q.iter().all(|i| i.answered));
        })
    });
    let store = Store::open(&db).unwrap();
    let data = ProjectData::load(&store).unwrap();
    let res = aggregate(&data, &Options::default(), None).unwrap();
    g.bench_function("queue_from_aggregated", |b| {
        b.iter(|| classify_queue(&store, &data, &res, "a1").unwrap())
    });
    g.bench_function("summary", |b| {
        b.iter(|| {
            let s = ClassifySummary::load(&store, &data).unwrap().unwrap();
            assert_eq!(s.annotators, 3);
        })
    });
    g.finish();
}

criterion_group!(benches, classify);
criterion_main!(benches);
