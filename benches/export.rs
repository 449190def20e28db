//! `export --format parquet` of ImageNet-ReaL's 924,810 real answers over the 50,000-image
//! project, as the command does it: open the project, read every current answer once
//! (`ProjectData::load_with_answers`), aggregate them by selection frequency, and write
//! `answers.parquet`, `labels.parquet` and `images.parquet` into a fresh folder. Issue #17's
//! target: under 2 s (peak memory, under 200 MB, is measured on the command with
//! `/usr/bin/time -v`; see BENCHMARKS.md).
//!
//! Uses target/bench-data/real-answers.db (made by the report bench, or here the same way), so
//! that repeated runs measure the export, not the set-up. Run: `cargo bench --bench export`.

#[path = "common/real.rs"]
mod real;

use criterion::{Criterion, criterion_group, criterion_main};
use labelvet::analysis::project::{Options, ProjectData, aggregate};
use labelvet::export::parquet::write_parquet_with;
use labelvet::store::Store;
use real::*;

fn parquet(c: &mut Criterion) {
    let db = answered_project();
    let out = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("export_real_924810_answers");
    g.sample_size(10);
    g.bench_function("parquet", |b| {
        b.iter(|| {
            let store = Store::open(&db).unwrap();
            let (data, table) = ProjectData::load_with_answers(&store).unwrap();
            let res = aggregate(&data, &Options::default(), None).unwrap();
            // The files of the same names are replaced, as `--force` does.
            let s = write_parquet_with(&table, &data, &res, out.path()).unwrap();
            assert_eq!(s.answers, ROWS);
            s.labels
        })
    });
    g.finish();
}

criterion_group!(benches, parquet);
criterion_main!(benches);
