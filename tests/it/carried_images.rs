//! The trip out: `checkout --with-images` and `assign --with-images` put the annotator's images
//! inside their file, each checked against the project's record on the way in and on every read;
//! `show` reads them from the file with no image folder; a merge takes such a file back without
//! its images; files of schema 5 (before carried images) still open and merge.
//! The screen itself is driven in tmux by `tui_tmux::a_file_carrying_its_images_annotates_with_no_image_folder`.

use crate::merge_support;

use std::path::{Path, PathBuf};

use labelvet::store::schema::SCHEMA_VERSION;
use labelvet::store::{Answer, QueueFilter, Store};
use merge_support::{PHOTOS, PREDICTIONS, checkout_of, checksum, fails, ok, s};

/// A project over a private copy of the shared photos (so that a test may change a file), with
/// their predictions.
fn project(d: &Path) -> (PathBuf, PathBuf) {
    let images = d.join("images");
    copy_tree(Path::new(PHOTOS), &images);
    let db = d.join("project.db");
    ok(&["init", s(&db), "--images", s(&images)]);
    ok(&["predictions", "import", s(&db), PREDICTIONS]);
    (db, images)
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
            let mut perms = std::fs::metadata(&dst).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&dst, perms).unwrap();
        }
    }
}

/// (image key, SHA-256 of the blob, resized_from, the blob) of every carried image, by key.
fn blobs(db: &Path) -> Vec<(String, String, Option<String>, Vec<u8>)> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut stmt = c
        .prepare("SELECT image, sha256, resized_from, data FROM image_blobs ORDER BY image")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn sha(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

#[test]
fn assigned_images_travel_checked_and_show_reads_them_without_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (db, images) = project(d);
    let hand = d.join("hand");
    let out = ok(&[
        "assign",
        s(&db),
        "--annotators",
        "alice,bob",
        "--overlap",
        "1",
        "-o",
        s(&hand),
        "--with-images",
    ]);
    assert!(out.contains("carries"), "{out}");
    assert!(out.contains("labelvet pack"), "{out}");
    let alice = hand.join("alice.db");
    let project = Store::open(&db).unwrap();
    let assigned = Store::open(&alice)
        .unwrap()
        .assigned_images("alice")
        .unwrap()
        .unwrap();
    let carried = blobs(&alice);
    // Every assigned image the project could read is carried, byte for byte as recorded.
    let readable: Vec<&String> = assigned
        .iter()
        .filter(|k| project.image(k).unwrap().unwrap().rec.sha256.is_some())
        .collect();
    assert_eq!(carried.len(), readable.len());
    assert!(carried.len() > 10, "{}", carried.len());
    for (key, recorded, resized_from, data) in &carried {
        assert!(assigned.contains(key), "{key} is not alice's");
        assert_eq!(*recorded, sha(data));
        assert_eq!(resized_from, &None);
        assert_eq!(
            project.image(key).unwrap().unwrap().rec.sha256.as_ref(),
            Some(recorded)
        );
    }
    drop(project);

    // No image folder on this machine: `show` draws from the file.
    std::fs::rename(&images, d.join("elsewhere")).unwrap();
    let (good, _, _, _) = &carried[0];
    let shown = ok(&["show", s(&alice), good]);
    assert!(!shown.contains("image not drawn"), "{shown}");
    assert!(shown.contains('▄'), "no picture drawn:\n{shown}");
    // An image that is bob's is not in alice's file: said so, and the text is there all the same.
    let bobs = Store::open(&hand.join("bob.db"))
        .unwrap()
        .assigned_images("bob")
        .unwrap()
        .unwrap();
    let not_hers = bobs.iter().find(|k| !assigned.contains(*k)).unwrap();
    let shown = ok(&["show", s(&alice), not_hers]);
    assert!(shown.contains("image not drawn"), "{shown}");
    assert!(shown.contains("not carried in this file"), "{shown}");
    // Bytes altered in the file (here: another photo's, which would decode) are broken.
    let (victim, _, _, _) = &carried[1];
    rusqlite::Connection::open(&alice)
        .unwrap()
        .execute(
            "UPDATE image_blobs SET data = ?1 WHERE image = ?2",
            rusqlite::params![carried[0].3, victim],
        )
        .unwrap();
    let shown = ok(&["show", s(&alice), victim]);
    assert!(shown.contains("image not drawn"), "{shown}");
    assert!(
        shown.contains("broken: the carried bytes do not match their SHA-256"),
        "{shown}"
    );
    assert!(
        !shown.contains('▄'),
        "the altered image was drawn:\n{shown}"
    );
    // And the record altered with the bytes: the project's hash still tells.
    rusqlite::Connection::open(&alice)
        .unwrap()
        .execute(
            "UPDATE image_blobs SET sha256 = ?1 WHERE image = ?2",
            rusqlite::params![carried[0].1, victim],
        )
        .unwrap();
    let shown = ok(&["show", s(&alice), victim]);
    assert!(
        shown.contains("broken: the carried bytes are not the image the project recorded"),
        "{shown}"
    );

    // Merged back, the file brings its answers and none of its images.
    let label = {
        let store = Store::open(&db).unwrap();
        let id = store.image(good).unwrap().unwrap().id;
        store.candidates(id).unwrap()[0].label.clone()
    };
    Store::open(&alice)
        .unwrap()
        .append_answer(
            good,
            &label,
            labelvet::store::Answer::Yes,
            "alice",
            "s",
            None,
        )
        .unwrap();
    let merged = ok(&["merge", s(&db), s(&alice)]);
    assert!(merged.contains("1 new"), "{merged}");
    let store = Store::open(&db).unwrap();
    assert!(!store.holds_images().unwrap());
    assert_eq!(store.events().unwrap().len(), 1);
}

#[test]
fn max_side_reencodes_larger_images_down_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (db, _) = project(d);
    let full = d.join("full.db");
    ok(&[
        "checkout",
        s(&db),
        "--annotator",
        "alice",
        "-o",
        s(&full),
        "--with-images",
    ]);
    let small = d.join("small.db");
    let out = ok(&[
        "checkout",
        s(&db),
        "--annotator",
        "alice",
        "-o",
        s(&small),
        "--with-images",
        "--max-side",
        "128",
    ]);
    assert!(out.contains("re-encoded smaller"), "{out}");
    let project = Store::open(&db).unwrap();
    let mut resized = 0;
    for (key, recorded, resized_from, data) in blobs(&small) {
        assert_eq!(recorded, sha(&data));
        let rec = project.image(&key).unwrap().unwrap().rec;
        let (w, h) = image::load_from_memory(&data)
            .unwrap()
            .into_rgb8()
            .dimensions();
        assert!(w.max(h) <= 128, "{key}: {w}x{h}");
        match resized_from {
            Some(from) => {
                resized += 1;
                assert_eq!(Some(from), rec.sha256);
                assert!(rec.width.unwrap().max(rec.height.unwrap()) > 128);
            }
            None => assert_eq!(Some(recorded), rec.sha256),
        }
    }
    assert!(resized > 0);
    assert!(std::fs::metadata(&small).unwrap().len() < std::fs::metadata(&full).unwrap().len() / 2);

    // The project has the large pages of bulk writes; a file that carries images has SQLite's
    // own, in which a BLOB's last page wastes less (`store::BLOB_PAGE_SIZE`).
    let page_size = |db: &Path| -> i64 {
        rusqlite::Connection::open(db)
            .unwrap()
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .unwrap()
    };
    assert_eq!(page_size(&db), labelvet::store::PAGE_SIZE);
    assert_eq!(page_size(&full), labelvet::store::BLOB_PAGE_SIZE);
    assert_eq!(page_size(&small), labelvet::store::BLOB_PAGE_SIZE);

    // `info` says whose file it is and what it carries, instead of the coordinator's folder.
    let carried = blobs(&small);
    let info = ok(&["info", s(&small)]);
    assert!(info.contains("checkout    alice's file"), "{info}");
    assert!(
        info.contains(&format!(
            "carries     {} images inside the file",
            carried.len()
        )),
        "{info}"
    );
    assert!(
        info.contains(&format!("{resized} re-encoded smaller")),
        "{info}"
    );
    assert!(!info.contains("image root"), "{info}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["info", s(&small), "--json"])).unwrap();
    assert_eq!(json["checkout_annotator"], "alice");
    assert_eq!(json["carried"]["images"], carried.len() as u64);
    assert_eq!(json["carried"]["resized"], resized);
    let bytes: usize = carried.iter().map(|c| c.3.len()).sum();
    assert_eq!(json["carried"]["bytes"], bytes as u64);
    // The project itself carries nothing and names its folder.
    let info = ok(&["info", s(&db)]);
    assert!(
        info.contains("image root") && !info.contains("carries"),
        "{info}"
    );
    assert!(!info.contains("checkout "), "{info}");
}

#[test]
fn a_file_changed_since_init_is_not_carried_and_no_file_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (db, images) = project(d);
    let key = Store::open(&db)
        .unwrap()
        .images()
        .unwrap()
        .into_iter()
        .find(|r| r.rec.status == labelvet::store::ImageStatus::Ok)
        .unwrap()
        .rec
        .key;
    let file = images.join(&key);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.push(0);
    std::fs::write(&file, bytes).unwrap();
    let out = d.join("alice.db");
    let before = checksum(&db);
    let err = fails(&[
        "checkout",
        s(&db),
        "--annotator",
        "alice",
        "-o",
        s(&out),
        "--with-images",
    ]);
    assert!(err.contains(&key), "{err}");
    assert!(err.contains("changed since `labelvet init`"), "{err}");
    assert!(!out.exists());
    assert_eq!(checksum(&db), before);
    // A project with no image folder says so.
    let manifest = d.join("m.db");
    ok(&["init", s(&manifest), "--manifest", merge_support::MANIFEST]);
    let err = fails(&[
        "checkout",
        s(&manifest),
        "--annotator",
        "alice",
        "-o",
        s(&d.join("m-alice.db")),
        "--with-images",
    ]);
    assert!(err.contains("no image folder"), "{err}");
}

#[test]
fn a_schema_5_file_opens_and_merges_into_a_current_target() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = merge_support::small_project(&d.join("project.db"), 4);
    let old = checkout_of(&db, "alice", &d.join("old.db"));
    Store::open(&old)
        .unwrap()
        .append_answer(
            "img1",
            "dog",
            labelvet::store::Answer::No,
            "alice",
            "s",
            None,
        )
        .unwrap();
    {
        // What labelvet's fifth schema wrote: no image_blobs.
        let conn = rusqlite::Connection::open(&old).unwrap();
        conn.execute_batch(
            "DROP TABLE image_blobs; DROP TABLE answer_tally; DROP TABLE answer_tally_stamp;
             CREATE INDEX predictions_by_model ON predictions(model_id);
             UPDATE meta SET value = '5' WHERE key = 'schema_version';
             PRAGMA user_version = 5;",
        )
        .unwrap();
    }
    let copy = d.join("copy.db");
    std::fs::copy(&old, &copy).unwrap();
    // As a merge source it is read, not migrated.
    let out = ok(&["merge", s(&db), s(&old)]);
    assert!(out.contains("schema 5"), "{out}");
    assert_eq!(Store::open(&db).unwrap().events().unwrap().len(), 1);
    let v: i64 = rusqlite::Connection::open(&old)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, 5);
    // Opened to work on, it is migrated and keeps its answers; it carries no images.
    let store = Store::open(&copy).unwrap();
    assert_eq!(store.meta().unwrap().schema_version, SCHEMA_VERSION);
    assert!(!store.holds_images().unwrap());
    assert_eq!(store.events().unwrap().len(), 1);
    // It is answered, and its queue selected by answers (from the answer tally, which the
    // migration adds empty and the first selection builds) as from the fold of the answers.
    store
        .append_answer("img1", "dog", Answer::Yes, "bob", "s", None)
        .unwrap();
    let disputed = QueueFilter {
        disputed: true,
        ..QueueFilter::default()
    };
    let by_fold = QueueFilter {
        labels: Some(vec!["dog".into()]),
        ..disputed.clone()
    };
    let selected = store.select_images(&by_fold).unwrap();
    assert_eq!(store.select_images(&disputed).unwrap(), selected);
    store
        .append_answer("img1", "dog", Answer::No, "carol", "s", None)
        .unwrap();
    assert_eq!(
        store.select_images(&disputed).unwrap(),
        store.select_images(&by_fold).unwrap()
    );
    drop(store);
    // And it packs, and the pack merges.
    let pack = d.join("old.lvpack");
    ok(&["pack", s(&copy), "-o", s(&pack)]);
    // (alice's answer, which the project has already)
    ok(&["merge", s(&db), s(&pack)]);
    assert_eq!(Store::open(&db).unwrap().events().unwrap().len(), 1);
}
