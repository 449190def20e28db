//! The project-file commands (`init`, `predictions import`, `info`, `demo`, `completions`) run as
//! a user runs them: the real binary, on the real photos, manifest and predictions in
//! ../shared/data, and on each kind of bad input.

use std::path::{Path, PathBuf};
use std::process::Command;

use labelvet::store::{ImageStatus, Store};

use crate::cli_support;
use cli_support::{fails, ok, s};

const PHOTOS: &str = "../shared/data/photos";
const PREDICTIONS: &str = "../shared/data/photos/predictions.csv";
const MANIFEST: &str = "../shared/data/imagenet_val/original_labels.csv";

/// A dump of everything in a project that an import may change, to check "left as it was".
fn dump(db: &Path) -> String {
    let store = Store::open(db).unwrap();
    let mut out = String::new();
    for table in ["images", "models", "predictions", "candidates", "judgments"] {
        // A model's import time says when it was (re)imported, to the second; the rest of the
        // row is what must not change.
        let columns = if table == "models" {
            "id, name, source"
        } else {
            "*"
        };
        let mut stmt = store
            .conn_for_tests()
            .prepare(&format!("SELECT {columns} FROM {table} ORDER BY 1, 2"))
            .unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                let mut line = String::new();
                for i in 0..n {
                    line.push_str(&format!("{:?}|", r.get_ref(i)?));
                }
                Ok(line)
            })
            .unwrap();
        for row in rows {
            out.push_str(&row.unwrap());
            out.push('\n');
        }
    }
    out
}

#[test]
fn photos_with_real_predictions_give_candidates() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    let out = ok(&["init", s(&db), "--images", PHOTOS]);
    assert!(
        out.contains("images: 81 (81 read, 0 missing, 0 unreadable)"),
        "{out}"
    );
    let out = ok(&["predictions", "import", s(&db), PREDICTIONS]);
    assert!(
        out.contains("imported 1215 predictions of 3 models"),
        "{out}"
    );
    // The data README: the union of three top-5 lists has 5..13 labels per photo.
    assert!(out.contains("min 5, max 13"), "{out}");

    let store = Store::open(&db).unwrap();
    let im = store
        .image("curated/skimage__chelsea.png")
        .unwrap()
        .unwrap();
    assert_eq!(im.rec.status, ImageStatus::Ok);
    assert_eq!((im.rec.width, im.rec.height), (Some(451), Some(300)));
    let expected_sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(
            std::fs::read(Path::new(PHOTOS).join("curated/skimage__chelsea.png")).unwrap(),
        ))
    };
    assert_eq!(im.rec.sha256.as_deref(), Some(expected_sha.as_str()));
    let cands = store.candidates(im.id).unwrap();
    // Tabby, tiger cat and Egyptian cat are the classic fine-grained trap of this photo.
    for wnid in ["n02123045", "n02123159", "n02124075"] {
        assert!(cands.iter().any(|c| c.label == wnid), "{wnid} missing");
    }
    let tabby = cands.iter().find(|c| c.label == "n02123045").unwrap();
    assert_eq!(tabby.sources.len(), 3, "all three models rank tabby");
    assert!(!tabby.is_original);

    let info = ok(&["info", s(&db)]);
    assert!(
        info.contains("images      81 (81 present, 0 missing, 0 unreadable)"),
        "{info}"
    );
    assert!(
        info.contains("efficientnet_lite2       405 predictions over 81 images"),
        "{info}"
    );
    let json: serde_json::Value = serde_json::from_str(&ok(&["info", s(&db), "--json"])).unwrap();
    assert_eq!(json["images"]["present"], 81);
    assert_eq!(json["models"].as_array().unwrap().len(), 3);
}

#[test]
fn reimporting_a_model_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    ok(&["init", s(&db), "--images", PHOTOS]);
    ok(&["predictions", "import", s(&db), PREDICTIONS]);
    let before = dump(&db);
    ok(&["predictions", "import", s(&db), PREDICTIONS]);
    let store = Store::open(&db).unwrap();
    let n: i64 = store
        .conn_for_tests()
        .query_row("SELECT count(*) FROM predictions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1215);
    drop(store);
    assert_eq!(dump(&db), before);
    // Written through a rollback journal (the file was the import's alone), then WAL again.
    let mode: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert!(!dir.path().join("p.db-journal").exists());

    // Top-1 only: the model's other rows go, and candidates shrink with them.
    let out = ok(&["predictions", "import", s(&db), PREDICTIONS, "--top-k", "1"]);
    assert!(out.contains("imported 243 predictions"), "{out}");
    assert!(
        out.contains("skipped 972 rows ranked beyond the top 1"),
        "{out}"
    );
}

#[test]
fn imagenet_layout_gives_original_labels() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("train");
    // The labelled ImageNet photos, laid out as <wnid>/<file> like an ImageNet folder.
    let vocab = labelvet::vocab::Vocab::imagenet1k();
    let mut expected = Vec::new();
    for entry in std::fs::read_dir(Path::new(PHOTOS).join("imagenet_labeled")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let index: u32 = name
            .trim_end_matches(".jpg")
            .rsplit('_')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let wnid = vocab.by_index(index).unwrap().key.clone();
        std::fs::create_dir_all(root.join(&wnid)).unwrap();
        std::fs::copy(&path, root.join(&wnid).join(&name)).unwrap();
        expected.push((format!("{wnid}/{name}"), wnid));
    }
    std::fs::write(root.join("README.txt"), "not an image").unwrap();
    let db = dir.path().join("p.db");
    let out = ok(&["init", s(&db), "--images", s(&root)]);
    assert!(out.contains("images: 20 (20 read"), "{out}");
    assert!(out.contains("20 with an original label"), "{out}");
    assert!(out.contains("skipped 1 files that are not images"), "{out}");
    let store = Store::open(&db).unwrap();
    for (key, wnid) in expected {
        let im = store.image(&key).unwrap().expect(&key);
        assert_eq!(im.rec.original_label.as_deref(), Some(wnid.as_str()));
        let c = store.candidates(im.id).unwrap();
        assert_eq!(c.len(), 1);
        assert!(c[0].is_original);
    }
    // The stored root lets the screen find files later.
    let root_meta = store.meta().unwrap().image_root.unwrap();
    assert_eq!(
        PathBuf::from(root_meta),
        std::fs::canonicalize(&root).unwrap()
    );
}

#[test]
fn the_50000_name_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("val.db");
    let out = ok(&["init", s(&db), "--manifest", MANIFEST]);
    assert!(
        out.contains(
            "images: 50000 (0 read, 50000 missing, 0 unreadable); 50000 with an original label"
        ),
        "{out}"
    );
    let store = Store::open(&db).unwrap();
    let first = store
        .image("ILSVRC2012_val_00000001.JPEG")
        .unwrap()
        .unwrap();
    // Validation image 1 is a snake (index 65, n01751748 sea snake).
    assert_eq!(first.rec.original_label.as_deref(), Some("n01751748"));
    assert_eq!(first.rec.status, ImageStatus::Missing);
    assert_eq!(store.candidate_stats().unwrap(), (1.0, 1, 1));
}

#[test]
fn bad_image_files_are_listed_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("imgs");
    std::fs::create_dir_all(&root).unwrap();
    let good =
        std::fs::read(Path::new(PHOTOS).join("imagenet_labeled/imagenet_00_243.jpg")).unwrap();
    std::fs::write(root.join("good.jpg"), &good).unwrap();
    std::fs::write(root.join("copy.jpg"), &good).unwrap();
    std::fs::write(root.join("zero.jpg"), b"").unwrap();
    std::fs::write(root.join("text.jpg"), b"this is a text file, not a JPEG").unwrap();
    std::fs::write(root.join("truncated.jpg"), &good[..200]).unwrap();
    std::fs::write(
        root.join("cut.png"),
        &std::fs::read(Path::new(PHOTOS).join("curated/skimage__camera.png")).unwrap()[..20],
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9.jpg");
        std::fs::write(root.join(name), &good[..]).unwrap();
    }
    let db = dir.path().join("p.db");
    let out = ok(&["init", s(&db), "--images", s(&root)]);
    assert!(
        out.contains("unreadable: zero.jpg: empty file (0 bytes)"),
        "{out}"
    );
    assert!(
        out.contains(
            "unreadable: text.jpg: not an image: starts with text (\"this is a text file, not…\")"
        ),
        "{out}"
    );
    assert!(
        out.contains("unreadable: truncated.jpg: truncated JPEG: data ends after 200 bytes"),
        "{out}"
    );
    assert!(
        out.contains("unreadable: cut.png: truncated PNG: data ends after 20 bytes"),
        "{out}"
    );
    assert!(out.contains("same content: "), "{out}");
    assert!(
        out.contains("copy.jpg") && out.contains("good.jpg"),
        "{out}"
    );
    let store = Store::open(&db).unwrap();
    let zero = store.image("zero.jpg").unwrap().unwrap();
    assert_eq!(zero.rec.status, ImageStatus::Unreadable);
    assert_eq!(zero.rec.bytes, Some(0));
    #[cfg(unix)]
    {
        // The non-UTF-8 name gets a readable key and keeps its raw bytes to find the file.
        let odd = store.image("caf\u{fffd}.jpg").unwrap().expect("lossy key");
        assert_eq!(odd.rec.status, ImageStatus::Ok);
        assert!(odd.rec.path_under(&root).exists());
    }
}

#[test]
fn unknown_labels_stop_init_and_leave_no_project() {
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("labels.csv");
    std::fs::write(
        &labels,
        "image,label\ncurated/skimage__chelsea.png,n02123045\ncurated/opencv__orange.jpg,n99999999\n",
    )
    .unwrap();
    let db = dir.path().join("p.db");
    let err = fails(&["init", s(&db), "--images", PHOTOS, "--labels", s(&labels)]);
    assert!(
        err.contains("labels.csv:3: unknown class `n99999999`"),
        "{err}"
    );
    assert!(!db.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary files left"
    );

    std::fs::write(&labels, "image,label\nnot/there.jpg,n02123045\n").unwrap();
    let err = fails(&["init", s(&db), "--images", PHOTOS, "--labels", s(&labels)]);
    assert!(
        err.contains("labels.csv:2: image not/there.jpg is not in the image folder"),
        "{err}"
    );

    let manifest = dir.path().join("m.csv");
    std::fs::write(&manifest, "image,wnid\na.jpg,n01440764\nb.jpg,tench?\n").unwrap();
    let err = fails(&["init", s(&db), "--manifest", s(&manifest)]);
    assert!(err.contains("m.csv:3: unknown class `tench?`"), "{err}");
    std::fs::write(&manifest, "image,wnid\na.jpg,n01440764\na.jpg,n01440764\n").unwrap();
    let err = fails(&["init", s(&db), "--manifest", s(&manifest)]);
    assert!(
        err.contains("m.csv:3: image a.jpg is listed twice"),
        "{err}"
    );
    assert!(!db.exists());

    let err = fails(&["init", s(&db)]);
    assert!(err.contains("--images DIR"), "{err}");
}

#[test]
fn bad_prediction_lines_stop_the_import_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    ok(&["init", s(&db), "--images", PHOTOS]);
    ok(&["predictions", "import", s(&db), PREDICTIONS]);
    let before = dump(&db);
    let img = "curated/skimage__chelsea.png";
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unknown.csv",
            format!(
                "image,model,rank,label,score\n{img},m,1,n02123045,0.5\n{img},m,2,n00000000,0.1\n"
            ),
            "unknown.csv:3: unknown class `n00000000`",
        ),
        (
            "index.csv",
            format!("image,model,rank,label,score\n{img},m,1,1000,0.5\n"),
            "index.csv:2: unknown class `1000`",
        ),
        (
            "noimage.csv",
            "image,model,rank,label,score\nnope.jpg,m,1,n02123045,0.5\n".to_string(),
            "noimage.csv:2: image nope.jpg is not in the project",
        ),
        (
            "rank.csv",
            format!("image,model,rank,label,score\n{img},m,first,n02123045,0.5\n"),
            "rank.csv:2: rank `first` is not a whole number from 1",
        ),
        (
            "score.csv",
            format!("image,model,rank,label,score\n{img},m,1,n02123045,high\n"),
            "score.csv:2: score `high` is not a number",
        ),
        (
            "dup.csv",
            format!(
                "image,model,rank,label,score\n{img},m,1,n02123045,0.5\n{img},m,1,n02123159,0.4\n"
            ),
            "dup.csv:3: image curated/skimage__chelsea.png, model m: rank 1 given twice",
        ),
        (
            "bad.jsonl",
            format!(
                "{{\"image\":\"{img}\",\"model\":\"m\",\"topk\":[{{\"label\":281}}]}}\n{{\"image\": oops}}\n"
            ),
            "bad.jsonl:2: not a prediction record",
        ),
    ];
    for (name, text, expected) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        // A good file first: its rows must be rolled back with the bad one's.
        let err = fails(&["predictions", "import", s(&db), PREDICTIONS, s(&file)]);
        assert!(err.contains(expected), "{name}: {err}");
        assert_eq!(dump(&db), before, "{name} changed the project");
    }
}

#[test]
fn jsonl_and_gzip_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    ok(&["init", s(&db), "--images", PHOTOS]);
    let jsonl = dir.path().join("p.jsonl.gz");
    {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&jsonl).unwrap(),
            flate2::Compression::fast(),
        );
        writeln!(gz, r#"{{"image":"curated/skimage__chelsea.png","model":"vit","topk":[{{"label":"n02123045","score":0.6}},{{"label":285,"score":0.3}}]}}"#).unwrap();
        writeln!(gz).unwrap();
        writeln!(
            gz,
            r#"{{"image":"curated/opencv__orange.jpg","topk":[{{"label":950}}]}}"#
        )
        .unwrap();
        gz.finish().unwrap();
    }
    let err = fails(&["predictions", "import", s(&db), s(&jsonl)]);
    assert!(err.contains("p.jsonl.gz:3: no `model` field"), "{err}");
    let out = ok(&["predictions", "import", s(&db), s(&jsonl), "--model", "vit"]);
    assert!(
        out.contains("imported 3 predictions of 1 model (vit)"),
        "{out}"
    );
    let store = Store::open(&db).unwrap();
    let im = store
        .image("curated/skimage__chelsea.png")
        .unwrap()
        .unwrap();
    let cands = store.candidates(im.id).unwrap();
    assert_eq!(cands[0].label, "n02123045");
    assert_eq!(cands[1].label, "n02124075");
    assert_eq!(cands[1].sources[0].rank, 2);
}

#[test]
fn foreign_and_missing_project_files() {
    let dir = tempfile::tempdir().unwrap();
    let err = fails(&["info", s(&dir.path().join("none.db"))]);
    assert!(err.contains("no such project file"), "{err}");
    let err = fails(&["info", PREDICTIONS]);
    assert!(
        err.contains("not a labelvet project (not an SQLite database)"),
        "{err}"
    );
}

#[test]
fn demo_is_made_once_then_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_labelvet"))
            .args(["demo", "--info"])
            .env("LABELVET_DATA_DIR", dir.path())
            .output()
            .unwrap()
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let text = String::from_utf8(first.stdout).unwrap();
    assert!(text.contains("made the demo project"), "{text}");
    assert!(
        text.contains("images      35 (35 present, 0 missing, 0 unreadable)"),
        "{text}"
    );
    assert!(text.contains("models      3"), "{text}");
    assert!(dir.path().join("demo/LICENSES.md").exists());
    let second = String::from_utf8(run().stdout).unwrap();
    assert!(!second.contains("made the demo project"), "{second}");
    assert!(second.contains("images      35"), "{second}");
}

#[test]
fn completions_and_help_with_examples() {
    for shell in ["bash", "zsh", "fish"] {
        let out = ok(&["completions", shell]);
        assert!(out.contains("labelvet"), "{shell}");
        assert!(out.contains("predictions"), "{shell}");
    }
    for cmd in [
        &["init", "--help"][..],
        &["predictions", "import", "--help"],
        &["info", "--help"],
        &["demo", "--help"],
        &["completions", "--help"],
    ] {
        let out = ok(cmd);
        assert!(out.contains("Example"), "{cmd:?} has no example:\n{out}");
    }
}
