//! A session on an ImageNet-train-sized project (1.28 million images, ~8 candidates each) opens
//! in under a second and under 200 MB.
//!
//! Ignored by default: building the 10-million-candidate project takes a minute or two and
//! ~400 MB of disk. Run it with `cargo test --release --test it annotate_scale -- --ignored`.
//! The rows are generated with SQL (image keys in ImageNet's `<wnid>/<file>` shape, labels from
//! the real vocabulary); what is measured is the session's own work on a file of that size.

use std::time::{Duration, Instant};

use labelvet::annotate::{Session, SessionOptions};
use labelvet::store::{Answer, Store};
use labelvet::vocab::Vocab;

const IMAGES: i64 = 1_281_167;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
#[ignore = "builds a 1.28M-image project (~1-2 min, ~400 MB); run with --ignored"]
fn a_million_image_project_opens_in_under_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("big.db");
    let store = Store::create(&db, &Vocab::imagenet1k()).unwrap();
    let t = Instant::now();
    store
        .conn_for_tests()
        .execute_batch(&format!(
            "BEGIN;
             CREATE TEMP TABLE ck(n INTEGER PRIMARY KEY, key TEXT NOT NULL);
             INSERT INTO ck SELECT idx, key FROM classes;
             INSERT INTO images(key, status, original_label)
               WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < {last})
               SELECT printf('%s/%s_%08d.JPEG', k.key, k.key, s.n), 'missing', k.key
               FROM s JOIN ck k ON k.n = s.n % 1000
               ORDER BY 1;
             INSERT INTO candidates(image_id, label, is_original)
               SELECT i.id, i.original_label, 1 FROM images i;
             INSERT OR IGNORE INTO candidates(image_id, label, is_original)
               WITH RECURSIVE r(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM r WHERE j < 7)
               SELECT i.id, k.key, 0 FROM images i, r
               JOIN ck k ON k.n = (i.id * 7919 + r.j * 104729) % 1000
               ORDER BY i.id;
             COMMIT;",
            last = IMAGES - 1
        ))
        .unwrap();
    drop(store);
    eprintln!("built in {:.1?}", t.elapsed());

    // An annotator with a day's work (the first 2,000 images answered) reopens the project.
    let store = Store::open(&db).unwrap();
    let mut s = Session::open(
        store,
        SessionOptions {
            annotator: "alice".into(),
            show_sources: false,
            queue: Default::default(),
        },
    )
    .unwrap();
    let mut answered = 0;
    while s.position().0 < 2_000 {
        s.answer(Answer::Yes).unwrap();
        answered += 1;
    }
    drop(s);

    let before = rss_kib();
    let t = Instant::now();
    let s = Session::open(
        Store::open(&db).unwrap(),
        SessionOptions {
            annotator: "alice".into(),
            show_sources: false,
            queue: Default::default(),
        },
    )
    .unwrap();
    let took = t.elapsed();
    let grew = rss_kib().saturating_sub(before);
    eprintln!(
        "opened in {took:.1?}, resident memory +{} MiB, {} images, {} questions, resumed at #{}",
        grew / 1024,
        s.position().1,
        s.progress().total,
        s.position().0
    );
    assert_eq!(s.position(), (2_000, IMAGES as usize));
    assert_eq!(s.progress().answered, answered);
    assert!(s.progress().total > 8_000_000);
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(grew < 200 * 1024, "grew by {grew} KiB");
}
