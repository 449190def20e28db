//! Test projects made of real photographs and real model predictions.
//!
//! The photos are the 20 labelled ImageNet validation images in the shared data (the original label
//! index is the last number of each file name); the predictions are the real top-5 of three
//! EfficientNet-Lite models for them. Files are copied into a temporary image root so that a test
//! can add a corrupt file or remove one without touching the shared data.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use labelvet::store::predictions::PredictionWriter;
use labelvet::store::{ImageRecord, ImageStatus, Store};
use labelvet::vocab::Vocab;

/// The shared data, by the relative path CI uses too.
pub const PHOTOS: &str = "../shared/data/photos";

pub struct Project {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub root: PathBuf,
    pub keys: Vec<String>,
}

impl Project {
    pub fn open(&self) -> Store {
        Store::open(&self.db).unwrap()
    }
}

pub fn photos_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(PHOTOS)
}

/// The labelled photos, sorted: `(key, path, original wnid)`.
pub fn labelled_photos(vocab: &Vocab) -> Vec<(String, PathBuf, String)> {
    let dir = photos_dir().join("imagenet_labeled");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
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
        out.push((format!("imagenet_labeled/{name}"), path, wnid));
    }
    out.sort();
    out
}

/// A project of the first `n` labelled photos with their real predictions and candidates.
pub fn project(n: usize) -> Project {
    project_with(n, &[])
}

/// As [`project`], plus extra image records whose files are written as given (`None`: no file).
pub fn project_with(n: usize, extra: &[(&str, Option<&[u8]>)]) -> Project {
    project_in(n, extra, None)
}

/// As [`project_with`], with the image files under `root` instead of the temporary directory (a
/// relative root keeps file paths on screen the same on every machine).
pub fn project_in(n: usize, extra: &[(&str, Option<&[u8]>)], root: Option<&Path>) -> Project {
    let dir = tempfile::tempdir().unwrap();
    let root = match root {
        Some(r) => {
            let _ = std::fs::remove_dir_all(r);
            r.to_path_buf()
        }
        None => dir.path().join("images"),
    };
    let db = dir.path().join("project.db");
    let vocab = Vocab::imagenet1k();
    let store = Store::create(&db, &vocab).unwrap();
    store
        .set_meta("image_root", root.to_str().unwrap())
        .unwrap();

    let photos: Vec<_> = labelled_photos(&vocab).into_iter().take(n).collect();
    let mut records = Vec::new();
    for (key, path, wnid) in &photos {
        let to = root.join(key);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(path, &to).unwrap();
        let (w, h) = image::image_dimensions(&to).unwrap();
        records.push(ImageRecord {
            key: key.clone(),
            raw_path: None,
            original_label: Some(wnid.clone()),
            sha256: None,
            bytes: Some(std::fs::metadata(&to).unwrap().len()),
            width: Some(w),
            height: Some(h),
            status: ImageStatus::Ok,
            error: None,
        });
    }
    for (key, bytes) in extra {
        let mut rec = ImageRecord::missing(key.to_string(), None);
        if let Some(bytes) = bytes {
            let to = root.join(key);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::write(&to, bytes).unwrap();
            rec.status = ImageStatus::Unreadable;
            rec.bytes = Some(bytes.len() as u64);
        }
        records.push(rec);
    }
    store.insert_images(&records).unwrap();

    let ids = store.image_ids().unwrap();
    let mut store = store;
    let preds = photos_dir().join("predictions.csv");
    store
        .transaction(|tx| {
            let mut w = PredictionWriter::new(tx)?;
            let mut rdr = csv::Reader::from_path(&preds).unwrap();
            for rec in rdr.records() {
                let rec = rec.unwrap();
                let Some(&image_id) = ids.get(&rec[0]) else {
                    continue;
                };
                let model = w.model_id(&rec[1], "predictions.csv")?;
                let rank: u32 = rec[2].parse().unwrap();
                let score: f64 = rec[5].parse().unwrap();
                assert!(w.add(image_id, model, rank, &rec[4], Some(score))?);
            }
            Ok(())
        })
        .unwrap();
    store.rebuild_candidates().unwrap();
    let keys = store
        .images()
        .unwrap()
        .into_iter()
        .map(|r| r.rec.key)
        .collect();
    Project {
        dir,
        db,
        root,
        keys,
    }
}

/// The first `len` bytes of a real JPEG: a file that starts as an image and then stops.
pub fn truncated_jpeg(len: usize) -> Vec<u8> {
    let vocab = Vocab::imagenet1k();
    let (_, path, _) = &labelled_photos(&vocab)[0];
    let mut bytes = std::fs::read(path).unwrap();
    bytes.truncate(len);
    bytes
}

/// The images of the project at `db` with `label` among their candidates, in key order.
pub fn candidate_images(db: &Path, label: &str) -> Vec<String> {
    let store = Store::open(db).unwrap();
    let mut keys = Vec::new();
    for row in store.images().unwrap() {
        if store
            .candidates(row.id)
            .unwrap()
            .iter()
            .any(|c| c.label == label)
        {
            keys.push(row.rec.key);
        }
    }
    keys
}
