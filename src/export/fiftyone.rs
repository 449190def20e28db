//! Label sets as a FiftyOne image classification dataset (`FiftyOneImageClassificationDataset`),
//! so that a team browses the re-checked labels beside the photos in FiftyOne's app.
//!
//! `labels.json` holds the classes and, per image, its label set as a list of classifications
//! (`{"label": class, "confidence": score}`; FiftyOne makes a list a `Classifications` field,
//! multi-label as the sets are), `null` for an image never reviewed. The photos are not copied:
//! `data.json` maps each image to its file under the project's image folder, which FiftyOne's
//! importer reads in place of a `data/` folder. Without an image folder (a project made from a
//! manifest alone) `data.json` is left out and the folder is given to the importer as
//! `data_path`; the ids are the image keys without their extension, as FiftyOne names files in
//! a folder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use super::write_file_atomically;
use crate::analysis::project::{ProjectData, Results};
use crate::error::{Error, Result};

/// What `write_fiftyone` wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FiftyOneSummary {
    pub images: usize,
    pub labelled: usize,
    pub files: Vec<PathBuf>,
    /// Where `data.json` points, when the project has an image folder.
    pub image_root: Option<PathBuf>,
}

#[derive(Serialize)]
struct Target {
    label: u32,
    confidence: Option<f64>,
}

/// The sample id of an image key: the key without its extension.
fn sample_id(key: &str) -> &str {
    let name_at = key.rfind('/').map_or(0, |i| i + 1);
    match key[name_at..].rfind('.') {
        Some(dot) if dot > 0 => &key[..name_at + dot],
        _ => key,
    }
}

/// Class names for FiftyOne's `classes`: display names, with the key added to a name that two
/// classes share (ImageNet has two "crane"s), so that every label says which class it is.
fn class_names(data: &ProjectData) -> Vec<String> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for c in &data.classes {
        *seen.entry(c.name.as_str()).or_default() += 1;
    }
    data.classes
        .iter()
        .map(|c| {
            if seen[c.name.as_str()] > 1 {
                format!("{} ({})", c.name, c.key)
            } else {
                c.name.clone()
            }
        })
        .collect()
}

/// Writes `labels.json` (and `data.json` when `image_root` is known) into `dir`.
pub fn write_fiftyone(
    data: &ProjectData,
    res: &Results,
    dir: &Path,
    image_root: Option<&Path>,
) -> Result<FiftyOneSummary> {
    let mut ids: HashMap<&str, &str> = HashMap::with_capacity(data.images.len());
    for im in &data.images {
        if let Some(other) = ids.insert(sample_id(&im.key), &im.key) {
            return Err(Error::msg(format!(
                "images {other} and {} differ only by their extension; FiftyOne would take them \
                 for one sample",
                im.key
            )));
        }
    }
    let mut labels = Map::with_capacity(data.images.len());
    let mut labelled = 0;
    for (i, im) in data.images.iter().enumerate() {
        let target = match res.label_set(i) {
            Some(set) => {
                labelled += 1;
                let questions = res.image_questions(i);
                let targets: Vec<Target> = set
                    .iter()
                    .map(|&c| Target {
                        label: c,
                        confidence: questions
                            .iter()
                            .find(|q| q.class == c)
                            .and_then(|q| q.score),
                    })
                    .collect();
                serde_json::to_value(targets).map_err(|e| Error::msg(e.to_string()))?
            }
            None => Value::Null,
        };
        labels.insert(sample_id(&im.key).to_string(), target);
    }
    let doc = serde_json::json!({
        "classes": class_names(data),
        "labels": labels,
    });
    let mut out = FiftyOneSummary {
        images: data.images.len(),
        labelled,
        ..FiftyOneSummary::default()
    };
    let path = dir.join("labels.json");
    write_file_atomically(&path, |w| {
        serde_json::to_writer(&mut *w, &doc).map_err(|e| Error::msg(e.to_string()))?;
        w.write_all(b"\n").map_err(|e| Error::io(&path, e))?;
        Ok(data.images.len() as u64)
    })?;
    out.files.push(path);
    if let Some(root) = image_root {
        let root = std::path::absolute(root).map_err(|e| Error::io(root, e))?;
        let map: Map<String, Value> = data
            .images
            .iter()
            .map(|im| {
                (
                    sample_id(&im.key).to_string(),
                    Value::String(root.join(&im.key).to_string_lossy().into_owned()),
                )
            })
            .collect();
        let path = dir.join("data.json");
        write_file_atomically(&path, |w| {
            serde_json::to_writer(&mut *w, &map).map_err(|e| Error::msg(e.to_string()))?;
            w.write_all(b"\n").map_err(|e| Error::io(&path, e))?;
            Ok(map.len() as u64)
        })?;
        out.files.push(path);
        out.image_root = Some(root);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_ids_drop_the_extension_of_the_file_name_only() {
        assert_eq!(sample_id("n02085620/x.JPEG"), "n02085620/x");
        assert_eq!(
            sample_id("ILSVRC2012_val_00000001.JPEG"),
            "ILSVRC2012_val_00000001"
        );
        assert_eq!(sample_id("a.b/c"), "a.b/c");
        assert_eq!(sample_id(".hidden"), ".hidden");
    }
}
