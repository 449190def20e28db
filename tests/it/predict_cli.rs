//! `labelvet predict` as a user runs it: the real binary, a real model and real photos from
//! ../shared/data, and each way it can go wrong (a model that does not fit the vocabulary,
//! unreadable and vanished images, bad arguments, Ctrl-C in the middle).
#![cfg(feature = "predict")]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use labelvet::store::Store;

use crate::cli_support;
use cli_support::{fails, ok, s};

const LABELLED: &str = "../shared/data/photos/imagenet_labeled";
const ALL_PHOTOS: &str = "../shared/data/photos";
const LITE0: &str = "lite0=../shared/data/models/efficientnet_lite0.onnx";

/// Every prediction row, to compare runs.
fn rows(db: &Path) -> Vec<(String, String, u32, String, f64)> {
    let store = Store::open(db).unwrap();
    let mut stmt = store
        .conn_for_tests()
        .prepare(
            "SELECT i.key, m.name, p.rank, p.label, p.score FROM predictions p
             JOIN images i ON i.id = p.image_id JOIN models m ON m.id = p.model_id
             ORDER BY 1, 2, 3",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn predicted_images(db: &Path) -> u64 {
    Store::open(db)
        .unwrap()
        .conn_for_tests()
        .query_row(
            "SELECT count(DISTINCT image_id) FROM predictions",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn predict_then_rerun_skips_and_force_recomputes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    ok(&["init", s(&db), "--images", LABELLED]);

    let out = ok(&["predict", s(&db), "--model", LITE0, "--scale-127"]);
    assert!(
        out.contains("lite0: 20 images predicted") && out.contains("0 already done, 0 skipped"),
        "{out}"
    );
    assert!(
        out.contains("input 224x224 NCHW, shorter side resized to 256, (x-127)/128"),
        "{out}"
    );
    assert!(
        out.contains("candidates per image: mean 5.0, min 5, max 5"),
        "{out}"
    );
    let first = rows(&db);
    assert_eq!(first.len(), 100);
    // The first photo's top-1 is its ImageNet label, index 243 (bull mastiff).
    assert_eq!(first[0].0, "imagenet_00_243.jpg");
    assert_eq!((first[0].2, first[0].3.as_str()), (1, "n02108422"));
    let info = ok(&["info", s(&db)]);
    assert!(info.contains("lite0"), "{info}");

    // Again: nothing left to do, nothing changes.
    let out = ok(&["predict", s(&db), "--model", LITE0, "--scale-127"]);
    assert!(
        out.contains("lite0: 0 images predicted") && out.contains("20 already done"),
        "{out}"
    );
    assert_eq!(rows(&db), first);

    // --force recomputes all of them; with the ImageNet mean/std instead of (x-127)/128 the
    // scores change, which shows the rows really are new.
    let out = ok(&["predict", s(&db), "--model", LITE0, "--force"]);
    assert!(
        out.contains("lite0: 20 images predicted") && out.contains("0 already done"),
        "{out}"
    );
    assert!(out.contains("mean 0.485,0.456,0.406"), "{out}");
    let forced = rows(&db);
    assert_eq!(forced.len(), 100);
    assert_ne!(forced, first);

    // And back: --force with the right preprocessing gives the first run's rows exactly.
    ok(&[
        "predict",
        s(&db),
        "--model",
        LITE0,
        "--scale-127",
        "--force",
    ]);
    assert_eq!(rows(&db), first);
}

#[test]
fn a_model_whose_outputs_do_not_match_the_vocabulary_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let vocab = dir.path().join("three.csv");
    std::fs::write(&vocab, "key,name\ncat,cat\ndog,dog\nbird,bird\n").unwrap();
    let db = dir.path().join("p.db");
    ok(&["init", s(&db), "--images", LABELLED, "--vocab", s(&vocab)]);
    let err = fails(&["predict", s(&db), "--model", LITE0, "--scale-127"]);
    assert!(
        err.contains("efficientnet_lite0.onnx (lite0): the model scores 1000 classes")
            && err.contains("`three` has 3 classes with an index"),
        "{err}"
    );
    assert!(rows(&db).is_empty());
    assert!(Store::open(&db).unwrap().models().unwrap().is_empty());

    // Indices that leave a gap are refused too, naming the missing one.
    let gappy = dir.path().join("gappy.csv");
    let mut text = String::from("key,name,index\n");
    for i in 0..1000 {
        let ix = if i == 7 { 1000 } else { i };
        text.push_str(&format!("c{i},class {i},{ix}\n"));
    }
    std::fs::write(&gappy, text).unwrap();
    let db2 = dir.path().join("p2.db");
    ok(&["init", s(&db2), "--images", LABELLED, "--vocab", s(&gappy)]);
    let err = fails(&["predict", s(&db2), "--model", LITE0, "--scale-127"]);
    assert!(err.contains("has index 7"), "{err}");
}

#[test]
fn unreadable_and_vanished_images_are_skipped_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir(&images).unwrap();
    for name in [
        "imagenet_00_243.jpg",
        "imagenet_01_559.jpg",
        "imagenet_02_438.jpg",
    ] {
        std::fs::copy(Path::new(LABELLED).join(name), images.join(name)).unwrap();
    }
    let jpeg = std::fs::read(Path::new(LABELLED).join("imagenet_03_990.jpg")).unwrap();
    std::fs::write(images.join("truncated.jpg"), &jpeg[..600]).unwrap();
    std::fs::write(images.join("text.jpg"), "this is not an image").unwrap();
    std::fs::copy(
        Path::new(LABELLED).join("imagenet_04_949.jpg"),
        images.join("gone.jpg"),
    )
    .unwrap();
    let db = dir.path().join("p.db");
    ok(&["init", s(&db), "--images", s(&images)]);
    std::fs::remove_file(images.join("gone.jpg")).unwrap();

    let out = ok(&["predict", s(&db), "--model", LITE0, "--scale-127"]);
    assert!(out.contains("lite0: 3 images predicted"), "{out}");
    assert!(out.contains("3 skipped"), "{out}");
    assert!(out.contains("skipped: gone.jpg: no such file"), "{out}");
    assert!(
        out.contains("skipped: text.jpg: not an image: starts with text"),
        "{out}"
    );
    assert!(
        out.contains("skipped: truncated.jpg: truncated JPEG: data ends after 600 bytes"),
        "{out}"
    );
    assert_eq!(predicted_images(&db), 3);

    // Skipped images are tried again: once the file is back, it is predicted.
    std::fs::copy(
        Path::new(LABELLED).join("imagenet_04_949.jpg"),
        images.join("gone.jpg"),
    )
    .unwrap();
    let out = ok(&["predict", s(&db), "--model", LITE0, "--scale-127"]);
    assert!(
        out.contains("lite0: 1 image predicted") && out.contains("3 already done, 2 skipped"),
        "{out}"
    );
    assert_eq!(predicted_images(&db), 4);
}

#[test]
fn a_key_leading_out_of_the_image_folder_is_never_opened() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir(&images).unwrap();
    std::fs::copy(
        Path::new(LABELLED).join("imagenet_00_243.jpg"),
        images.join("a.jpg"),
    )
    .unwrap();
    // A real photo outside the folder: were the key followed, it would be predicted.
    std::fs::copy(
        Path::new(LABELLED).join("imagenet_01_559.jpg"),
        dir.path().join("outside.jpg"),
    )
    .unwrap();
    let db = dir.path().join("p.db");
    ok(&["init", s(&db), "--images", s(&images)]);
    // As a project merged before keys were checked would hold it.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("INSERT INTO images(key, status) VALUES ('../outside.jpg', 'missing');")
        .unwrap();
    let out = ok(&["predict", s(&db), "--model", LITE0, "--scale-127"]);
    assert!(out.contains("lite0: 1 image predicted"), "{out}");
    assert!(out.contains("skipped: ../outside.jpg: "), "{out}");
    assert!(
        out.contains("must be a relative path inside the image folder"),
        "{out}"
    );
    assert_eq!(predicted_images(&db), 1);
}

#[test]
fn ctrl_c_keeps_finished_chunks_and_the_next_run_continues() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    ok(&["init", s(&db), "--images", ALL_PHOTOS]);
    let total = Store::open(&db).unwrap().images().unwrap().len() as u64;
    assert!(total > 60, "{total}");

    let child = Command::new(env!("CARGO_BIN_EXE_labelvet"))
        .args(["predict", s(&db), "--model", LITE0, "--scale-127"])
        .args(["--commit-every", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while predicted_images(&db) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no chunk committed"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stdout}\n{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let kept = predicted_images(&db);
    assert!(kept > 0 && kept < total, "{kept} of {total}");
    assert!(
        stdout.contains(&format!("lite0: {kept} images predicted")),
        "the report counts what was kept: {kept}\n{stdout}"
    );

    let out = ok(&["predict", s(&db), "--model", LITE0, "--scale-127"]);
    assert!(
        out.contains(&format!("{kept} already done")),
        "the second run continues: {out}"
    );
    let store = Store::open(&db).unwrap();
    let readable = store
        .images()
        .unwrap()
        .iter()
        .filter(|i| i.rec.status == labelvet::store::ImageStatus::Ok)
        .count() as u64;
    drop(store);
    assert_eq!(predicted_images(&db), readable);
}

#[test]
fn bad_arguments_and_projects_without_an_image_folder() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    let manifest = dir.path().join("m.csv");
    std::fs::write(
        &manifest,
        "image,wnid\nimagenet_00_243.jpg,n02108422\nimagenet_05_853.jpg,n04417672\n",
    )
    .unwrap();
    ok(&["init", s(&db), "--manifest", s(&manifest)]);

    let err = fails(&["predict", s(&db), "--model", LITE0, "--scale-127"]);
    assert!(
        err.contains("no image folder") && err.contains("--images DIR"),
        "{err}"
    );
    let out = ok(&[
        "predict",
        s(&db),
        "--model",
        LITE0,
        "--scale-127",
        "--images",
        LABELLED,
    ]);
    assert!(out.contains("lite0: 2 images predicted"), "{out}");
    // The original label and the model's top-5 are the candidates.
    assert!(out.contains("candidates per image: mean 5.0"), "{out}");

    let err = fails(&["predict", s(&db), "--model", "lite0"]);
    assert!(err.contains("NAME=FILE.onnx"), "{err}");
    let err = fails(&[
        "predict",
        s(&db),
        "--model",
        "x=missing.onnx",
        "--images",
        LABELLED,
    ]);
    assert!(err.contains("missing.onnx: no such model file"), "{err}");
    let err = fails(&[
        "predict",
        s(&db),
        "--model",
        LITE0,
        "--mean",
        "0.5,0.5",
        "--std",
        "1,1,1",
    ]);
    assert!(err.contains("--mean takes three"), "{err}");
    let err = fails(&["predict", s(&db), "--model", LITE0, "--mean", "0.5,0.5,0.5"]);
    assert!(err.contains("--std"), "{err}");
    let err = fails(&[
        "predict",
        s(&db),
        "--model",
        LITE0,
        "--input-size",
        "240",
        "--images",
        LABELLED,
    ]);
    assert!(err.contains("takes 224x224 images"), "{err}");
    let not_onnx = dir.path().join("model.onnx");
    std::fs::write(&not_onnx, "not a model").unwrap();
    let spec = format!("bad={}", not_onnx.display());
    let err = fails(&["predict", s(&db), "--model", &spec, "--images", LABELLED]);
    assert!(err.contains("cannot load the ONNX model"), "{err}");
    let err = fails(&[
        "predict",
        s(&db),
        "--model",
        LITE0,
        "--model",
        LITE0,
        "--images",
        LABELLED,
    ]);
    assert!(err.contains("given twice"), "{err}");
}

#[test]
fn help_shows_an_example() {
    let out = ok(&["predict", "--help"]);
    assert!(out.contains("labelvet predict val.db --model"), "{out}");
    assert!(out.contains("--scale-127"), "{out}");
}
