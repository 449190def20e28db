//! Merge throughput: 20 annotators' files of 50,000 judgment events each (1,000,000 events) into
//! a project of the 50,000 ImageNet validation images, and 100 files of 10,000 events each (a
//! large team's handouts, each file still holding every image), next to the floor for the same rows: a
//! bare `ATTACH` + `INSERT OR IGNORE ... SELECT` per file through rusqlite, which checks nothing. labelvet's merge also opens each source read-only and immutable, checks
//! its header, exact schema and integrity, maps its 50,000 images by key, validates every event
//! (types, id, image, label, answer, retractions) and adds the candidates answers imply.
//!
//! The events are real questions and answers: file f takes rows f*50,000.. (f*10,000..) of
//! ImageNet-ReaL's raters.csv.gz (wrapping around), each with its own id. The generated files
//! are kept in target/bench-data/merge (merge-100) so that repeated runs measure the merge, not
//! the generator; they are made again when labelvet's schema version changes, so that the
//! sources are never migrated on the fly (a cost of old handouts, not of merging).
//!
//! The same 100 files as packs (`labelvet pack`: the events and the keys and hashes of the
//! images and classes they name, nothing else) merge in their own group, `100 packs`; the packs
//! are made from the 100 files once, in target/bench-data/merge-100-packs.
//! Run: `cargo bench --bench merge`, or one group: `cargo bench --bench merge -- "100 files"`,
//! `cargo bench --bench merge -- "100 packs"`.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use labelvet::ingest::{InitOptions, init_project};
use labelvet::store::checkout::{CheckoutOptions, checkout};
use labelvet::store::merge::MergeOptions;
use labelvet::store::schema::SCHEMA_VERSION;
use labelvet::store::{Answer, JudgmentEvent, Store};

/// (directory under target/bench-data, files, events per file)
type Shape = (&'static str, usize, usize);
const TWENTY: Shape = ("merge", 20, 50_000);
const HUNDRED: Shape = ("merge-100", 100, 10_000);
const MANIFEST: &str = "../shared/data/imagenet_val/original_labels.csv";
const RATERS: &str = "../shared/data/real/raters.csv.gz";

/// The file whose presence says a fixture folder is complete. A fixture is made again when the
/// schema or a new project's page size changes: the figures are those of a project as `init`
/// makes it now.
fn done_marker(dir: &Path) -> PathBuf {
    dir.join(format!(
        ".complete-schema{SCHEMA_VERSION}-page{}",
        labelvet::store::PAGE_SIZE
    ))
}

fn data_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/bench-data")
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// (image, wnid, rater, answer) for every row of raters.csv.gz.
fn rater_rows() -> Vec<(String, String, String, Answer)> {
    let file = std::fs::File::open(RATERS).unwrap();
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
    reader
        .lines()
        .skip(1)
        .map(|line| {
            let line = line.unwrap();
            let f: Vec<&str> = line.split(',').collect();
            (
                f[0].to_string(),
                f[2].to_string(),
                f[3].to_string(),
                Answer::parse(f[4]).unwrap(),
            )
        })
        .collect()
}

/// The project and the annotators' files, made once per schema version.
fn fixture((name, files, events): Shape) -> (PathBuf, Vec<PathBuf>) {
    let dir = data_dir(name);
    let project = dir.join("project.db");
    let sources: Vec<PathBuf> = (0..files)
        .map(|f| dir.join(format!("annotator{f:02}.db")))
        .collect();
    let done = done_marker(&dir);
    if done.exists() {
        return (project, sources);
    }
    for entry in std::fs::read_dir(&dir).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let (store, _) = init_project(
        &project,
        &InitOptions {
            manifest: Some(MANIFEST.into()),
            vocab: "imagenet1k".into(),
            ..InitOptions::default()
        },
    )
    .unwrap();
    let rows = rater_rows();
    for (f, path) in sources.iter().enumerate() {
        checkout(
            &store,
            path,
            &CheckoutOptions {
                annotator: &format!("annotator{f:02}"),
                with_answers: false,
                assignment: None,
                assignment_note: None,
                leave_out: None,
                with_images: None,
            },
        )
        .unwrap();
        let events: Vec<JudgmentEvent> = (0..events)
            .map(|i| {
                let (image, label, rater, answer) = &rows[(f * events + i) % rows.len()];
                JudgmentEvent {
                    id: uuid::Uuid::from_u128(((f as u128 + 1) << 64) | i as u128).to_string(),
                    image: image.clone(),
                    label: label.clone(),
                    answer: Some(*answer),
                    retracts: None,
                    annotator: rater.clone(),
                    session: format!("s{f}"),
                    created_at: 1_700_000_000_000 + i as i64,
                    elapsed_ms: Some(1200),
                    origin: "annotate".into(),
                }
            })
            .collect();
        let mut s = Store::open(path).unwrap();
        s.transaction(|tx| labelvet::store::judgments::insert_events(tx, &events))
            .unwrap();
        s.rebuild_candidates().unwrap();
    }
    drop(store);
    std::fs::write(done, "").unwrap();
    (project, sources)
}

/// A fresh copy of the project for one iteration.
fn fresh(project: &Path) -> PathBuf {
    let copy = project.with_file_name("target.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", copy.display()));
    }
    std::fs::copy(project, &copy).unwrap();
    copy
}

fn labelvet_merge(target: &Path, sources: &[PathBuf]) -> u64 {
    let mut store = Store::open(target).unwrap();
    let r = store
        // The files carry ReaL's raters' answers under each checkout's name: others allowed.
        .merge(
            sources,
            &MergeOptions {
                allow_other_annotators: true,
                ..MergeOptions::default()
            },
            &mut |_| {},
        )
        .unwrap();
    r.new_events()
}

/// SQLite attaches at most 10 files at once and never inside a transaction, so the floor commits
/// once per file (in WAL mode with `synchronous = NORMAL` a commit does not wait for the disk).
fn attach_insert(target: &Path, sources: &[PathBuf]) -> u64 {
    let conn = rusqlite::Connection::open(target).unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    let mut added = 0;
    for s in sources {
        conn.execute("ATTACH DATABASE ?1 AS src", [s.to_str().unwrap()])
            .unwrap();
        conn.execute_batch("BEGIN").unwrap();
        added += conn
            .execute(
                "INSERT OR IGNORE INTO main.judgments SELECT * FROM src.judgments",
                [],
            )
            .unwrap() as u64;
        conn.execute_batch("COMMIT; DETACH DATABASE src").unwrap();
    }
    added
}

fn bench_shape(c: &mut Criterion, shape: Shape) {
    let (project, sources) = fixture(shape);
    let (_, files, events) = shape;
    let expected = (files * events) as u64;
    let mut g = c.benchmark_group(format!(
        "merge {files} files x {} events",
        thousands(events)
    ));
    g.sample_size(10)
        .measurement_time(Duration::from_secs(60))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function("labelvet merge", |b| {
        b.iter_batched(
            || fresh(&project),
            |t| assert_eq!(labelvet_merge(&t, &sources), expected),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("bare ATTACH + INSERT OR IGNORE", |b| {
        b.iter_batched(
            || fresh(&project),
            |t| assert_eq!(attach_insert(&t, &sources), expected),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// The packs of the 100 files, made once per schema version. The files' events are ReaL's
/// raters', not their checkout annotator's, so each file is first made a plain project file
/// (its `checkout_annotator` forgotten), whose pack carries every event.
fn packs(sources: &[PathBuf]) -> Vec<PathBuf> {
    let dir = data_dir("merge-100-packs");
    let packs: Vec<PathBuf> = (0..sources.len())
        .map(|f| dir.join(format!("annotator{f:02}.lvpack")))
        .collect();
    let done = done_marker(&dir);
    if done.exists() {
        return packs;
    }
    for entry in std::fs::read_dir(&dir).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    for (source, pack) in sources.iter().zip(&packs) {
        let store = Store::open(source).unwrap();
        store
            .conn_for_tests()
            .execute("DELETE FROM meta WHERE key = 'checkout_annotator'", [])
            .unwrap();
        let r = labelvet::store::pack::pack(&store, pack, false).unwrap();
        assert!(r.bytes < 1 << 20, "{}: {} bytes", pack.display(), r.bytes);
    }
    std::fs::write(done, "").unwrap();
    packs
}

fn bench_packs(c: &mut Criterion) {
    let (project, sources) = fixture(HUNDRED);
    let packs = packs(&sources);
    let (_, files, events) = HUNDRED;
    let expected = (files * events) as u64;
    let mut g = c.benchmark_group(format!(
        "merge {files} packs x {} events",
        thousands(events)
    ));
    g.sample_size(10)
        .measurement_time(Duration::from_secs(40))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function("labelvet merge", |b| {
        b.iter_batched(
            || fresh(&project),
            |t| assert_eq!(labelvet_merge(&t, &packs), expected),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn thousands(n: usize) -> String {
    format!("{},{:03}", n / 1000, n % 1000)
}

fn bench(c: &mut Criterion) {
    bench_shape(c, TWENTY);
    bench_shape(c, HUNDRED);
    bench_packs(c);
}

criterion_group! {
    name = benches;
    // Criterion's own plots need system fonts, which the project's plotters build does not load.
    config = Criterion::default().without_plots();
    targets = bench
}
criterion_main!(benches);
