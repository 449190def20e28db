//! `export --format parquet` of ImageNet-ReaL's 924,810 real answers over the 50,000-image
//! project, as the command does it: open the project, read every current answer once
//! (`ProjectData::load_with_answers`), aggregate them by selection frequency, and write
//! `answers.parquet`, `labels.parquet` and `images.parquet` into a fresh folder. Issue #17's
//! target: under 2 s (peak memory, under 200 MB, is measured on the command with
//! `/usr/bin/time -v`; see BENCHMARKS.md).
//!
//! Uses target/bench-data/real-answers.db (made by the report bench, or here the same way), so
//! that repeated runs measure the export, not the set-up. Run: `cargo bench --bench export`.

use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use labelvet::analysis::project::{Options, ProjectData, aggregate};
use labelvet::export::parquet::write_parquet_with;
use labelvet::ingest::judgments::{JudgmentImportOptions, import_judgments};
use labelvet::ingest::{InitOptions, init_project};
use labelvet::store::Store;

const RATERS: &str = "../shared/data/real/raters.csv.gz";
const ROWS: u64 = 924_810;

fn bench_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The 50,000-image validation project holding every ReaL answer (shared with the report and
/// classify benches, which make it the same way).
fn answered_project() -> PathBuf {
    let db = bench_dir().join("real-answers.db");
    if !db.exists() {
        let tmp = bench_dir().join("real-answers.export-partial.db");
        let _ = std::fs::remove_file(&tmp);
        init_project(
            &tmp,
            &InitOptions {
                manifest: Some("../shared/data/imagenet_val/original_labels.csv".into()),
                vocab: "imagenet1k".into(),
                ..InitOptions::default()
            },
        )
        .unwrap();
        let mut store = Store::open(&tmp).unwrap();
        let r = import_judgments(
            &mut store,
            Path::new(RATERS),
            &JudgmentImportOptions::default(),
        )
        .unwrap();
        assert_eq!(r.added, ROWS);
        drop(store);
        std::fs::rename(tmp, &db).unwrap();
    }
    db
}

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
