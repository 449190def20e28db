//! `simulate` on ImageNet-ReaL's 924,810 real answers (184,962 questions): one replay with the
//! margin:2 rule and one with the recommended rule (which fits its priors and annotator weights
//! on each fold first), each from the loaded project to the figures of both methods (two
//! Dawid-Skene fits: all the answers, the answers used). Issue 16 asks for under 10 s.
//!
//! The project is kept in target/bench-data (shared with the report bench) so that repeated runs
//! measure the work, not the set-up. Run: `cargo bench --bench simulate`.

#[path = "common/real.rs"]
mod real;

use criterion::{Criterion, criterion_group, criterion_main};
use labelvet::analysis::project::ProjectData;
use labelvet::analysis::simulate::{SimOptions, simulate};
use labelvet::store::Store;
use real::*;

fn bench(c: &mut Criterion) {
    let db = answered_project();
    let data = ProjectData::load(&Store::open(&db).unwrap()).unwrap();
    let mut g = c.benchmark_group("simulate_real_924810_answers");
    g.sample_size(10);
    for rule in ["margin:2", "recommended"] {
        g.bench_function(rule, |b| {
            b.iter(|| {
                let s = simulate(
                    &data,
                    &SimOptions {
                        rule: rule.parse().unwrap(),
                        seed: 0,
                        repeats: 1,
                        threshold: 0.8,
                    },
                )
                .unwrap();
                assert_eq!(s.frequency.answers_total, 924_810);
                s
            })
        });
    }
    g.bench_function("load_and_margin2", |b| {
        b.iter(|| {
            let data = ProjectData::load(&Store::open(&db).unwrap()).unwrap();
            simulate(
                &data,
                &SimOptions {
                    rule: "margin:2".parse().unwrap(),
                    seed: 0,
                    repeats: 1,
                    threshold: 0.8,
                },
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
