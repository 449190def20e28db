//! The bundled demo: 35 real photos with the real top-5 predictions of three models, so that a
//! newcomer sees the whole tool work with one command and no data of their own. The photos are
//! compiled into the binary and written out to the user's data directory on first use; the
//! project is built by the same import code a real project goes through.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ingest::predictions::{PredictionOptions, import_predictions};
use crate::ingest::{InitOptions, init_project};
use crate::store::Store;

const PHOTOS: &[(&str, &[u8])] = &[
    (
        "curated/matplotlib__grace_hopper.jpg",
        include_bytes!("../assets/demo/photos/curated/matplotlib__grace_hopper.jpg"),
    ),
    (
        "curated/opencv__baboon.jpg",
        include_bytes!("../assets/demo/photos/curated/opencv__baboon.jpg"),
    ),
    (
        "curated/opencv__chicky_512.png",
        include_bytes!("../assets/demo/photos/curated/opencv__chicky_512.png"),
    ),
    (
        "curated/opencv__fruits.jpg",
        include_bytes!("../assets/demo/photos/curated/opencv__fruits.jpg"),
    ),
    (
        "curated/opencv__hfs_000.jpg",
        include_bytes!("../assets/demo/photos/curated/opencv__hfs_000.jpg"),
    ),
    (
        "curated/opencv__messi5.jpg",
        include_bytes!("../assets/demo/photos/curated/opencv__messi5.jpg"),
    ),
    (
        "curated/opencv__orange.jpg",
        include_bytes!("../assets/demo/photos/curated/opencv__orange.jpg"),
    ),
    (
        "curated/opencv__squirrel_cls.jpg",
        include_bytes!("../assets/demo/photos/curated/opencv__squirrel_cls.jpg"),
    ),
    (
        "curated/opencv__stuff.jpg",
        include_bytes!("../assets/demo/photos/curated/opencv__stuff.jpg"),
    ),
    (
        "curated/skimage__camera.png",
        include_bytes!("../assets/demo/photos/curated/skimage__camera.png"),
    ),
    (
        "curated/skimage__chelsea.png",
        include_bytes!("../assets/demo/photos/curated/skimage__chelsea.png"),
    ),
    (
        "curated/skimage__coffee.png",
        include_bytes!("../assets/demo/photos/curated/skimage__coffee.png"),
    ),
    (
        "imagenet_labeled/imagenet_00_243.jpg",
        include_bytes!("../assets/demo/photos/imagenet_labeled/imagenet_00_243.jpg"),
    ),
    (
        "imagenet_labeled/imagenet_01_559.jpg",
        include_bytes!("../assets/demo/photos/imagenet_labeled/imagenet_01_559.jpg"),
    ),
    (
        "imagenet_labeled/imagenet_02_438.jpg",
        include_bytes!("../assets/demo/photos/imagenet_labeled/imagenet_02_438.jpg"),
    ),
    (
        "imagenet_labeled/imagenet_03_990.jpg",
        include_bytes!("../assets/demo/photos/imagenet_labeled/imagenet_03_990.jpg"),
    ),
    (
        "imagenet_labeled/imagenet_04_949.jpg",
        include_bytes!("../assets/demo/photos/imagenet_labeled/imagenet_04_949.jpg"),
    ),
    (
        "imagenet_labeled/imagenet_05_853.jpg",
        include_bytes!("../assets/demo/photos/imagenet_labeled/imagenet_05_853.jpg"),
    ),
    (
        "imagenet_labeled/imagenet_06_609.jpg",
        include_bytes!("../assets/demo/photos/imagenet_labeled/imagenet_06_609.jpg"),
    ),
    (
        "imagenet_labeled/imagenet_07_609.jpg",
        include_bytes!("../assets/demo/photos/imagenet_labeled/imagenet_07_609.jpg"),
    ),
    (
        "imagenet_labeled/imagenet_08_915.jpg",
        include_bytes!("../assets/demo/photos/imagenet_labeled/imagenet_08_915.jpg"),
    ),
    (
        "imagenet_labeled/imagenet_09_455.jpg",
        include_bytes!("../assets/demo/photos/imagenet_labeled/imagenet_09_455.jpg"),
    ),
    (
        "imagenet_labeled/imagenet_10_541.jpg",
        include_bytes!("../assets/demo/photos/imagenet_labeled/imagenet_10_541.jpg"),
    ),
    (
        "imagenet_labeled/imagenet_11_630.jpg",
        include_bytes!("../assets/demo/photos/imagenet_labeled/imagenet_11_630.jpg"),
    ),
    (
        "imagenet_labeled/imagenet_12_741.jpg",
        include_bytes!("../assets/demo/photos/imagenet_labeled/imagenet_12_741.jpg"),
    ),
    (
        "imagenet_labeled/imagenet_13_471.jpg",
        include_bytes!("../assets/demo/photos/imagenet_labeled/imagenet_13_471.jpg"),
    ),
    (
        "imagenet_labeled/imagenet_14_129.jpg",
        include_bytes!("../assets/demo/photos/imagenet_labeled/imagenet_14_129.jpg"),
    ),
    (
        "imagenet_labeled/imagenet_15_99.jpg",
        include_bytes!("../assets/demo/photos/imagenet_labeled/imagenet_15_99.jpg"),
    ),
    (
        "imagenet_labeled/imagenet_16_251.jpg",
        include_bytes!("../assets/demo/photos/imagenet_labeled/imagenet_16_251.jpg"),
    ),
    (
        "imagenet_labeled/imagenet_17_22.jpg",
        include_bytes!("../assets/demo/photos/imagenet_labeled/imagenet_17_22.jpg"),
    ),
    (
        "imagenet_labeled/imagenet_18_317.jpg",
        include_bytes!("../assets/demo/photos/imagenet_labeled/imagenet_18_317.jpg"),
    ),
    (
        "imagenet_labeled/imagenet_19_305.jpg",
        include_bytes!("../assets/demo/photos/imagenet_labeled/imagenet_19_305.jpg"),
    ),
    (
        "more/gradio__cheetah.jpg",
        include_bytes!("../assets/demo/photos/more/gradio__cheetah.jpg"),
    ),
    (
        "more/gradio__lion.jpg",
        include_bytes!("../assets/demo/photos/more/gradio__lion.jpg"),
    ),
    (
        "more/imgaug__quokka.jpg",
        include_bytes!("../assets/demo/photos/more/imgaug__quokka.jpg"),
    ),
];
const LABELS: &str = include_str!("../assets/demo/labels.csv");
const PREDICTIONS: &str = include_str!("../assets/demo/predictions.csv");
const LICENSES: &str = include_str!("../assets/demo/LICENSES.md");

/// Where the demo lives: `$LABELVET_DATA_DIR/demo` when set (tests use it), else the user's
/// data directory (e.g. `~/.local/share/labelvet/demo`).
pub fn demo_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("LABELVET_DATA_DIR") {
        return Ok(PathBuf::from(dir).join("demo"));
    }
    directories::ProjectDirs::from("", "", "labelvet")
        .map(|d| d.data_dir().join("demo"))
        .ok_or_else(|| {
            Error::msg("cannot find a home directory for the demo; set LABELVET_DATA_DIR")
        })
}

/// Opens the demo project, making it first if it is not there (or not usable).
pub fn open_or_create(dir: &Path, progress: bool) -> Result<(Store, bool)> {
    let db = dir.join("demo.db");
    if db.exists() {
        match Store::open(&db) {
            Ok(s) => return Ok((s, false)),
            Err(e) => {
                return Err(Error::msg(format!(
                    "{e}\nThe demo project is damaged; remove {} to make it again.",
                    dir.display()
                )));
            }
        }
    }
    let photos = dir.join("photos");
    for (key, bytes) in PHOTOS {
        let path = photos.join(key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
    }
    for (name, text) in [
        ("labels.csv", LABELS),
        ("predictions.csv", PREDICTIONS),
        ("LICENSES.md", LICENSES),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    }
    let (mut store, _) = init_project(
        &db,
        &InitOptions {
            images: Some(photos),
            manifest: None,
            labels: Some(dir.join("labels.csv")),
            vocab: crate::vocab::IMAGENET1K.into(),
            progress,
        },
    )?;
    import_predictions(
        &mut store,
        &[dir.join("predictions.csv")],
        &PredictionOptions {
            progress,
            ..PredictionOptions::default()
        },
    )?;
    Ok((store, true))
}

/// How many photos the demo holds.
pub fn photo_count() -> usize {
    PHOTOS.len()
}
