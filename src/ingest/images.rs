//! Images into a project: from a folder tree or a manifest, with their original labels.
//!
//! Each file is read once: its SHA-256 and size are computed from the bytes and its width and
//! height read from the header, without decoding the pixels. Files are read in parallel. A file
//! that cannot be read as an image is recorded as unreadable with its reason and never stops the
//! import; a label naming an unknown class, or a malformed line, does stop it, naming the file
//! and line, before anything is written.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressState, ProgressStyle};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::table::{self, IMAGE_COLS, LABEL_COLS};
use crate::error::{Error, Result};
use crate::imagefile;
use crate::store::{ImageRecord, ImageStatus};
use crate::vocab::Vocab;

/// File name endings taken as images when scanning a folder.
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "jpe", "jfif", "png", "gif", "webp", "bmp", "tif", "tiff",
];

/// A file found below the image root.
#[derive(Clone, Debug)]
pub struct FoundFile {
    pub key: String,
    pub raw_path: Option<Vec<u8>>,
    pub path: PathBuf,
}

#[derive(Debug, Default)]
pub struct Scan {
    pub files: Vec<FoundFile>,
    /// Files below the root that are not images by their name (README, .DS_Store, ...).
    pub ignored: Vec<String>,
    /// Places the walk could not enter, with the reason.
    pub warnings: Vec<String>,
    /// Names that are not valid UTF-8 and whose lossy key would clash with another.
    pub clashes: Vec<String>,
    /// Links below the root that lead out of it (to /etc, to /dev/zero...), not followed.
    pub links_outside: usize,
}

/// Walks `root` and lists image files in key order. Links are followed while they stay inside
/// the folder (a dataset's folders are often links to other folders of it); a link leading out
/// of it is skipped and counted, so that a folder handed over by someone else cannot make
/// `init` read (and store the first bytes of) /etc/passwd or walk /etc. Only regular files are
/// listed: a FIFO or a device is never opened. A file name holding a control character or a
/// bidirectional override is refused, naming it: keys are shown on screens.
pub fn scan_folder(root: &Path) -> Result<Scan> {
    if !root.is_dir() {
        return Err(Error::msg(format!(
            "{}: not a folder of images",
            root.display()
        )));
    }
    let real_root = std::fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
    let mut scan = Scan::default();
    let mut seen = HashSet::new();
    let mut outside = 0;
    let walk = walkdir::WalkDir::new(root)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| {
            let inside = !e.path_is_symlink()
                || std::fs::canonicalize(e.path()).is_ok_and(|p| p.starts_with(&real_root));
            if !inside {
                outside += 1;
            }
            inside
        });
    for entry in walk {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                scan.warnings.push(e.to_string());
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(root)
            .expect("walkdir yields paths under its root");
        let hidden = rel
            .components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
        let is_image = rel
            .extension()
            .map(|e| {
                let e = e.to_string_lossy().to_ascii_lowercase();
                IMAGE_EXTENSIONS.contains(&e.as_str())
            })
            .unwrap_or(false);
        let (key, raw_path) = key_of(rel);
        if hidden || !is_image {
            scan.ignored.push(key);
            continue;
        }
        // An image's key is shown on screens (an ignored file's name never is).
        if let Err(u) = crate::text::check(&key, false) {
            return Err(Error::msg(format!(
                "{}: the file name {u}; rename it (image keys are shown on screens)",
                entry.path().display()
            )));
        }
        if !seen.insert(key.clone()) {
            scan.clashes.push(key);
            continue;
        }
        scan.files.push(FoundFile {
            key,
            raw_path,
            path: entry.path().to_path_buf(),
        });
    }
    scan.links_outside = outside;
    scan.files.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(scan)
}

/// The key of a relative path: `/`-separated, and a lossy rendering (with the raw bytes kept
/// aside) when the name is not valid UTF-8.
fn key_of(rel: &Path) -> (String, Option<Vec<u8>>) {
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let key = parts.join("/");
    let raw = match rel.to_str() {
        Some(_) => None,
        None => {
            #[cfg(unix)]
            {
                use std::os::unix::ffi::OsStrExt;
                Some(rel.as_os_str().as_bytes().to_vec())
            }
            #[cfg(not(unix))]
            {
                None
            }
        }
    };
    (key, raw)
}

/// What reading a file told us.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    pub sha256: Option<String>,
    pub bytes: Option<u64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub status: ImageStatus,
    pub error: Option<String>,
}

/// Hashes a file and reads its dimensions from the header, refusing sizes over the decoding
/// limits ([`imagefile::MAX_SIDE`], [`imagefile::MAX_DECODE_BYTES`]) as the screen does.
pub fn probe_file(path: &Path) -> Probe {
    let data = match imagefile::read_file(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Probe {
                sha256: None,
                bytes: None,
                width: None,
                height: None,
                status: ImageStatus::Missing,
                error: None,
            };
        }
        Err(e) => {
            return Probe {
                sha256: None,
                bytes: None,
                width: None,
                height: None,
                status: ImageStatus::Unreadable,
                error: Some(format!("cannot read: {e}")),
            };
        }
    };
    probe_bytes(&data)
}

pub fn probe_bytes(data: &[u8]) -> Probe {
    let sha = hex::encode(Sha256::digest(data));
    let mut p = Probe {
        sha256: Some(sha),
        bytes: Some(data.len() as u64),
        width: None,
        height: None,
        status: ImageStatus::Unreadable,
        error: None,
    };
    match imagefile::open(data) {
        Ok(img) => {
            p.width = Some(img.width);
            p.height = Some(img.height);
            p.status = ImageStatus::Ok;
        }
        Err(why) => p.error = Some(why),
    }
    p
}

/// A progress bar on stderr when it is a terminal; silent otherwise or when `show` is false.
pub fn progress_bar(len: u64, what: &str, show: bool) -> ProgressBar {
    let target = if show {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({rate}, {eta} left)")
            .expect("valid template")
            // indicatif's own `{per_sec}` prints four decimals ("7.8406/s").
            .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&rate(s.per_sec()));
            })
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// A rate as the progress bars show it: one decimal under 100 a second, none above.
pub fn rate(per_sec: f64) -> String {
    if per_sec >= 100.0 {
        format!("{per_sec:.0}/s")
    } else {
        format!("{per_sec:.1}/s")
    }
}

/// A spinner on stderr naming a step that may take more than a second (reading a large file,
/// selecting a queue), with the time spent; hidden unless `show` (stderr is a terminal). Clear it
/// with `finish_and_clear` before printing the step's outcome.
pub fn spinner(what: &str, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    // Cleared when dropped too, so that an error on the way out is not printed after it.
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        .with_finish(ProgressFinish::AndClear);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"),
    );
    bar.set_message(what.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// Probes many files in parallel, keeping their order.
pub fn probe_all(paths: &[PathBuf], progress: bool) -> Vec<Probe> {
    let bar = progress_bar(paths.len() as u64, "hashing", progress);
    let out: Vec<Probe> = paths
        .par_iter()
        .map(|p| {
            let r = probe_file(p);
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();
    out
}

pub fn record(
    key: String,
    raw_path: Option<Vec<u8>>,
    label: Option<String>,
    p: Probe,
) -> ImageRecord {
    ImageRecord {
        key,
        raw_path,
        original_label: label,
        sha256: p.sha256,
        bytes: p.bytes,
        width: p.width,
        height: p.height,
        status: p.status,
        error: p.error,
    }
}

/// Reads a CSV `image,label` file into key -> class key, checking every label and every image
/// against the vocabulary and the known keys.
pub fn read_labels(
    path: &Path,
    vocab: &Vocab,
    known: &HashSet<&str>,
) -> Result<HashMap<String, String>> {
    let mut rdr = table::csv_reader(table::open(path)?);
    let headers = rdr
        .headers()
        .map_err(|e| Error::input(path, 1, e.to_string()))?
        .clone();
    let (img_col, lab_col, header_is_data) = match (
        table::find_col(&headers, IMAGE_COLS),
        table::find_col(&headers, LABEL_COLS),
    ) {
        (Some(i), Some(l)) => (i, l, false),
        // A header-less two-column file: its first row is data.
        _ if headers.len() >= 2 && vocab.resolve(&headers[1]).is_some() => (0, 1, true),
        _ => {
            return Err(Error::input(
                path,
                1,
                "expected a header with `image` and `label` columns",
            ));
        }
    };
    let mut out = HashMap::new();
    let mut handle = |line: u64, rec: &csv::StringRecord| -> Result<()> {
        let image = rec.get(img_col).unwrap_or("");
        let label = rec.get(lab_col).unwrap_or("");
        if image.is_empty() {
            return Err(Error::input(path, line, "empty image name"));
        }
        let class = vocab.resolve(label).ok_or_else(|| {
            Error::input(
                path,
                line,
                format!("unknown class `{label}` for image {image}"),
            )
        })?;
        if !known.contains(image) {
            return Err(Error::input(
                path,
                line,
                format!("image {image} is not in the image folder"),
            ));
        }
        if let Some(prev) = out.insert(image.to_string(), class.key.clone())
            && prev != class.key
        {
            return Err(Error::input(
                path,
                line,
                format!(
                    "image {image} is given two labels ({prev} and {})",
                    class.key
                ),
            ));
        }
        Ok(())
    };
    if header_is_data {
        table::check_fields(path, &headers)?;
        handle(1, &headers)?;
    }
    for rec in rdr.records() {
        let rec = rec
            .map_err(|e| Error::input(path, e.position().map_or(0, |p| p.line()), e.to_string()))?;
        table::check_fields(path, &rec)?;
        handle(table::line_of(&rec), &rec)?;
    }
    Ok(out)
}

/// One row of a manifest: an image key and its original label (a class key), if any.
#[derive(Clone, Debug, PartialEq)]
pub struct ManifestRow {
    pub key: String,
    pub label: Option<String>,
}

/// Reads a manifest: CSV with an image column (`image`, else the first column) and, optionally,
/// a label column (`label`, `wnid` or `label_index`).
pub fn read_manifest(path: &Path, vocab: &Vocab) -> Result<Vec<ManifestRow>> {
    let mut rdr = table::csv_reader(table::open(path)?);
    let headers = rdr
        .headers()
        .map_err(|e| Error::input(path, 1, e.to_string()))?
        .clone();
    let img_col = table::find_col(&headers, IMAGE_COLS).unwrap_or(0);
    let lab_col = table::find_col(&headers, LABEL_COLS);
    let mut seen = HashSet::new();
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec
            .map_err(|e| Error::input(path, e.position().map_or(0, |p| p.line()), e.to_string()))?;
        table::check_fields(path, &rec)?;
        let line = table::line_of(&rec);
        let key = rec.get(img_col).unwrap_or("").to_string();
        if key.is_empty() {
            return Err(Error::input(path, line, "empty image name"));
        }
        crate::store::images::check_image_key(&key).map_err(|why| Error::input(path, line, why))?;
        let label = match lab_col.and_then(|c| rec.get(c)).unwrap_or("") {
            "" => None,
            l => Some(
                vocab
                    .resolve(l)
                    .ok_or_else(|| {
                        Error::input(path, line, format!("unknown class `{l}` for image {key}"))
                    })?
                    .key
                    .clone(),
            ),
        };
        if !seen.insert(key.clone()) {
            return Err(Error::input(
                path,
                line,
                format!("image {key} is listed twice"),
            ));
        }
        rows.push(ManifestRow { key, label });
    }
    Ok(rows)
}
