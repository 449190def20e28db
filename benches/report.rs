//! The results path on ImageNet-ReaL's 924,810 real answers (85 raters, 184,962 questions over a
//! 50,000-image project): `report` end to end from the project file, with Dawid-Skene (open,
//! read every current answer, aggregate, every figure, text and JSON), the queues that read
//! everyone's answers (`annotate --disputed`, `--uncertain`, `--needs` without a class: the
//! selection an annotator's session starts from), and `judgments import` of `raters.csv.gz`
//! into a fresh copy of the project.
//!
//! The projects are kept in target/bench-data so that repeated runs measure the work, not the
//! set-up. Run: `cargo bench --bench report`.

#[path = "common/real.rs"]
mod real;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use labelvet::analysis::project::{Method, Options, ProjectData, aggregate};
use labelvet::analysis::report::Report;
use labelvet::store::{QueueFilter, Store};
use real::*;

fn report(c: &mut Criterion) {
    let db = answered_project();
    let mut g = c.benchmark_group("report_real_924810_answers");
    g.sample_size(10);
    g.bench_function("dawid_skene_text_and_json", |b| {
        b.iter(|| {
            let store = Store::open(&db).unwrap();
            let data = ProjectData::load(&store).unwrap();
            let opts = Options {
                method: Method::DawidSkene,
                threshold: 0.8,
                ..Options::default()
            };
            let res = aggregate(&data, &opts, None).unwrap();
            let report = Report::build(&data, &res);
            let text = report.to_string();
            let json = serde_json::to_string(&report).unwrap();
            assert_eq!(report.progress.answers as u64, ROWS);
            (text.len(), json.len())
        })
    });
    g.finish();
}

fn queue(c: &mut Criterion) {
    let db = answered_project();
    let mut g = c.benchmark_group("queue_real_924810_answers");
    g.sample_size(10);
    let filters = [
        (
            "uncertain_0.2..0.8",
            QueueFilter {
                uncertain: Some((0.2, 0.8)),
                ..QueueFilter::default()
            },
        ),
        (
            "disputed",
            QueueFilter {
                disputed: true,
                ..QueueFilter::default()
            },
        ),
        (
            "needs_3",
            QueueFilter {
                needs: Some(3),
                ..QueueFilter::default()
            },
        ),
    ];
    for (name, filter) in filters {
        g.bench_function(name, |b| {
            b.iter(|| {
                // As `annotate` opens it: the project, then the annotator's selection.
                let store = Store::open(&db).unwrap();
                let images = store.select_queue("zed", &filter).unwrap();
                assert!(!images.is_empty());
                images.len()
            })
        });
    }
    g.finish();
}

fn import(c: &mut Criterion) {
    let base = base_project();
    let mut g = c.benchmark_group("judgments_import_real");
    g.sample_size(10);
    g.bench_function("raters_csv_gz_924810_rows", |b| {
        b.iter_batched(
            || {
                let tmp = tempfile::tempdir().unwrap();
                let db = tmp.path().join("val.db");
                std::fs::copy(&base, &db).unwrap();
                (tmp, db)
            },
            |(tmp, db)| {
                import_all_raters(&db);
                tmp
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, report, queue, import);
criterion_main!(benches);
