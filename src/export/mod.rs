//! Results in the formats other tools read: label sets per image (JSON lines), one row per
//! (image, label) question (CSV), ImageNet-ReaL's `real.json`, and every current answer as
//! Prodigy-style JSON lines, every current classify answer as JSON lines, and every yes/no
//! answer in cleanlab's multi-annotator long format; Parquet files for dataframe and SQL engines
//! (`parquet`), ReaL's `raters.npz` (`npz`), a FiftyOne dataset (`fiftyone`); plus the report's
//! figures (`plots`) and the report as one HTML page (`html`).
//!
//! Every writer takes the same aggregated [`Results`], so an export and the report made with the
//! same `--method`, `--threshold` and `--scores` always agree.

pub mod fiftyone;
pub mod html;
pub mod npz;
pub mod parquet;
pub mod plots;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::analysis::project::{ProjectData, Results};
use crate::error::{Error, Result};
use crate::store::{ClassifyEvent, Store};

#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
pub enum ExportFormat {
    /// One JSON object per image: label set, per-label counts and scores, provenance.
    Jsonl,
    /// One row per (image, label) question with evidence.
    Csv,
    /// ImageNet-ReaL's layout: a JSON list of lists of class indices, in image-key order.
    RealJson,
    /// One Prodigy-style JSON object per current answer.
    Prodigy,
    /// One JSON object per current classify answer, in the layout `judgments import` reads.
    ClassifyJsonl,
    /// cleanlab's multi-annotator long format: `task,annotator,label` (1 yes, 0 no), each
    /// (image, label) question a binary task.
    Cleanlab,
}

impl ExportFormat {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Writes the export; returns how many records (lines, rows, or images) it holds.
pub fn export(
    store: &Store,
    data: &ProjectData,
    res: &Results,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<u64> {
    let n = match format {
        ExportFormat::Jsonl => jsonl(store, data, res, out),
        ExportFormat::Csv => csv(data, res, out),
        ExportFormat::RealJson => real_json(data, res, out),
        ExportFormat::Prodigy => prodigy(store, data, out),
        ExportFormat::ClassifyJsonl => classify_jsonl(store, out),
        ExportFormat::Cleanlab => cleanlab(data, out),
    }?;
    out.flush()
        .map_err(|e| Error::msg(format!("writing the export: {e}")))?;
    Ok(n)
}

fn write_err(e: impl std::fmt::Display) -> Error {
    Error::msg(format!("writing the export: {e}"))
}

#[derive(Serialize)]
struct ModelSource<'a> {
    model: &'a str,
    rank: u32,
    score: Option<f64>,
}

#[derive(Serialize)]
struct LabelRecord<'a> {
    label: &'a str,
    name: &'a str,
    index: Option<u32>,
    original: bool,
    yes: u32,
    no: u32,
    maybe: u32,
    frequency: Option<f64>,
    score: Option<f64>,
    valid: bool,
    /// Decided by an expert's verdict (the score is then 1 or 0).
    adjudicated: bool,
    /// The models that proposed the label, with rank and score.
    models: Vec<ModelSource<'a>>,
}

#[derive(Serialize)]
struct ImageRecord<'a> {
    image: &'a str,
    original_label: Option<&'a str>,
    /// Whether any of the image's questions has evidence; without it there is no label set.
    reviewed: bool,
    /// Valid labels (class keys), vocabulary order; `null` when not reviewed.
    labels: Option<Vec<&'a str>>,
    multi_label: bool,
    /// Whether the original label is in the set; `null` when it was not asked about.
    original_valid: Option<bool>,
    /// Every candidate and every label with evidence.
    candidates: Vec<LabelRecord<'a>>,
}

fn jsonl(store: &Store, data: &ProjectData, res: &Results, out: &mut dyn Write) -> Result<u64> {
    let class_of: HashMap<&str, u32> = data
        .classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.key.as_str(), i as u32))
        .collect();
    for (i, im) in data.images.iter().enumerate() {
        let questions = res.image_questions(i);
        let candidates = store.candidates(im.id)?;
        let mut labels: Vec<u32> = candidates
            .iter()
            .filter_map(|c| class_of.get(c.label.as_str()).copied())
            .chain(questions.iter().map(|q| q.class))
            .collect();
        labels.sort_unstable();
        labels.dedup();
        let records: Vec<LabelRecord<'_>> = labels
            .iter()
            .map(|&c| {
                let class = &data.classes[c as usize];
                let q = questions.iter().find(|q| q.class == c);
                let counts = q.map(|q| q.counts).unwrap_or_default();
                let models = candidates
                    .iter()
                    .find(|cand| cand.label == class.key)
                    .map(|cand| {
                        cand.sources
                            .iter()
                            .map(|s| ModelSource {
                                model: &s.model,
                                rank: s.rank,
                                score: s.score,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                LabelRecord {
                    label: &class.key,
                    name: &class.name,
                    index: class.index,
                    original: im.original == Some(c),
                    yes: counts.yes,
                    no: counts.no,
                    maybe: counts.maybe,
                    frequency: counts.selection_frequency(),
                    score: q.and_then(|q| q.score),
                    valid: q.is_some_and(|q| q.valid),
                    adjudicated: q.is_some_and(|q| q.adjudicated),
                    models,
                }
            })
            .collect();
        let set = res.label_set(i);
        let rec = ImageRecord {
            image: &im.key,
            original_label: im.original.map(|c| data.classes[c as usize].key.as_str()),
            reviewed: set.is_some(),
            labels: set.as_ref().map(|s| {
                s.iter()
                    .map(|&c| data.classes[c as usize].key.as_str())
                    .collect()
            }),
            multi_label: set.as_ref().is_some_and(|s| s.len() >= 2),
            original_valid: im
                .original
                .and_then(|o| questions.iter().find(|q| q.class == o).map(|q| q.valid)),
            candidates: records,
        };
        serde_json::to_writer(&mut *out, &rec).map_err(write_err)?;
        out.write_all(b"\n").map_err(write_err)?;
    }
    Ok(data.images.len() as u64)
}

fn csv(data: &ProjectData, res: &Results, out: &mut dyn Write) -> Result<u64> {
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record([
        "image",
        "label",
        "label_index",
        "name",
        "yes",
        "no",
        "maybe",
        "frequency",
        "score",
        "valid",
        "original",
        "adjudicated",
    ])
    .map_err(write_err)?;
    let opt = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_default();
    for q in &res.questions {
        let im = &data.images[q.image as usize];
        let class = &data.classes[q.class as usize];
        w.write_record([
            im.key.as_str(),
            &class.key,
            &class.index.map(|i| i.to_string()).unwrap_or_default(),
            &class.name,
            &q.counts.yes.to_string(),
            &q.counts.no.to_string(),
            &q.counts.maybe.to_string(),
            &opt(q.frequency()),
            &opt(q.score),
            if q.valid { "1" } else { "0" },
            if im.original == Some(q.class) {
                "1"
            } else {
                "0"
            },
            if q.adjudicated { "1" } else { "0" },
        ])
        .map_err(write_err)?;
    }
    w.flush().map_err(write_err)?;
    Ok(res.questions.len() as u64)
}

/// ReaL's `real.json`: for each image in key order, its valid labels' indices (ascending); an
/// image never reviewed keeps `[original label]` (`[]` without one); a reviewed image with no
/// valid label gets `[]`. Written in the file's own spacing (`[[], [970, 795], ...]`).
fn real_json(data: &ProjectData, res: &Results, out: &mut dyn Write) -> Result<u64> {
    let index = |c: u32| {
        let class = &data.classes[c as usize];
        class.index.ok_or_else(|| {
            Error::msg(format!(
                "class {} has no index; the real-json layout needs a vocabulary with indices",
                class.key
            ))
        })
    };
    let mut text = String::with_capacity(data.images.len() * 8);
    text.push('[');
    for (i, im) in data.images.iter().enumerate() {
        let classes = match res.label_set(i) {
            Some(set) => set,
            None => im.original.into_iter().collect(),
        };
        let mut idx = classes
            .into_iter()
            .map(index)
            .collect::<Result<Vec<u32>>>()?;
        idx.sort_unstable();
        if i > 0 {
            text.push_str(", ");
        }
        text.push('[');
        let parts: Vec<String> = idx.iter().map(u32::to_string).collect();
        text.push_str(&parts.join(", "));
        text.push(']');
    }
    text.push_str("]\n");
    out.write_all(text.as_bytes()).map_err(write_err)?;
    Ok(data.images.len() as u64)
}

#[derive(Serialize)]
struct ProdigyMeta<'a> {
    label_name: &'a str,
    /// With the session, time, origin and time spent, the event itself: `judgments import`
    /// makes the same event from them, so importing an export again adds nothing.
    event_id: &'a str,
    origin: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    elapsed_ms: Option<i64>,
}

#[derive(Serialize)]
struct ProdigyRecord<'a> {
    image: &'a str,
    label: &'a str,
    answer: &'static str,
    #[serde(rename = "_annotator_id")]
    annotator_id: &'a str,
    #[serde(rename = "_session_id")]
    session_id: &'a str,
    /// Seconds, as Prodigy writes it.
    #[serde(rename = "_timestamp")]
    timestamp: i64,
    /// Milliseconds, which `labelvet judgments import` prefers, so a round trip keeps the time.
    time: i64,
    meta: ProdigyMeta<'a>,
}

/// Every current answer (an annotator's latest to each question, retractions applied), in
/// (image, label, annotator) order: yes / no / maybe as accept / reject / ignore.
#[derive(Serialize)]
struct ClassifyRecord<'a> {
    image: &'a str,
    annotator: &'a str,
    present: &'a [String],
    main: &'a str,
    objects: u32,
    /// Milliseconds since 1970.
    time: i64,
    /// With the session, origin and time spent, the event itself (see [`ProdigyMeta`]).
    event_id: &'a str,
    session: &'a str,
    origin: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    elapsed_ms: Option<i64>,
}

/// Every current classify answer, by (image, annotator), as `judgments import --format
/// classify-jsonl` reads it back (labels as class keys).
fn classify_jsonl(store: &Store, out: &mut dyn Write) -> Result<u64> {
    let events: HashMap<String, ClassifyEvent> = store
        .classify_events()?
        .into_iter()
        .map(|e| (e.id.clone(), e))
        .collect();
    let mut n = 0;
    for c in store.current_classify_answers()? {
        let Some(e) = events.get(&c.event_id) else {
            continue;
        };
        let rec = ClassifyRecord {
            image: &c.image,
            annotator: &c.annotator,
            present: &c.answer.present,
            main: &c.answer.main,
            objects: c.answer.objects,
            time: c.created_at,
            event_id: &c.event_id,
            session: &e.session,
            origin: &e.origin,
            elapsed_ms: e.elapsed_ms,
        };
        serde_json::to_writer(&mut *out, &rec).map_err(write_err)?;
        out.write_all(b"\n").map_err(write_err)?;
        n += 1;
    }
    Ok(n)
}

fn prodigy(store: &Store, data: &ProjectData, out: &mut dyn Write) -> Result<u64> {
    let names: HashMap<&str, &str> = data
        .classes
        .iter()
        .map(|c| (c.key.as_str(), c.name.as_str()))
        .collect();
    let mut current = store.current_answers()?;
    current.retain(|c| !data.left_out.contains(&c.annotator));
    // The session, time and origin of each current answer's event. Sessions and origins repeat
    // across thousands of answers, so they are kept once each.
    let position: HashMap<&str, usize> = current
        .iter()
        .enumerate()
        .map(|(i, c)| (c.event_id.as_str(), i))
        .collect();
    let mut texts: Vec<String> = Vec::new();
    let mut text_ids: HashMap<String, u32> = HashMap::new();
    let mut intern = |s: String| -> u32 {
        if let Some(&id) = text_ids.get(&s) {
            return id;
        }
        let id = texts.len() as u32;
        texts.push(s.clone());
        text_ids.insert(s, id);
        id
    };
    /// What the record tells of its event besides the answer (texts interned).
    #[derive(Clone, Copy)]
    struct Detail {
        session: u32,
        created_at: i64,
        origin: u32,
        elapsed_ms: Option<i64>,
    }
    let mut detail: Vec<Option<Detail>> = vec![None; current.len()];
    for e in store.events()? {
        if let Some(&i) = position.get(e.id.as_str()) {
            detail[i] = Some(Detail {
                session: intern(e.session),
                created_at: e.created_at,
                origin: intern(e.origin),
                elapsed_ms: e.elapsed_ms,
            });
        }
    }
    let mut n = 0;
    for (c, d) in current.iter().zip(&detail) {
        let Some(Detail {
            session,
            created_at,
            origin,
            elapsed_ms,
        }) = *d
        else {
            continue;
        };
        let rec = ProdigyRecord {
            image: &c.image,
            label: &c.label,
            answer: match c.answer {
                crate::analysis::Answer::Yes => "accept",
                crate::analysis::Answer::No => "reject",
                crate::analysis::Answer::Maybe => "ignore",
            },
            annotator_id: &c.annotator,
            session_id: &texts[session as usize],
            timestamp: created_at.div_euclid(1000),
            time: created_at,
            meta: ProdigyMeta {
                label_name: names.get(c.label.as_str()).copied().unwrap_or(""),
                event_id: &c.event_id,
                origin: &texts[origin as usize],
                elapsed_ms,
            },
        };
        serde_json::to_writer(&mut *out, &rec).map_err(write_err)?;
        out.write_all(b"\n").map_err(write_err)?;
        n += 1;
    }
    Ok(n)
}

/// cleanlab's multi-annotator long format (`cleanlab.multiannotator.convert_long_to_wide_dataset`
/// reads `task`, `annotator`, `label`): each (image, label) question with a yes or no is a
/// binary task, numbered from 0 in (image key, vocabulary) order, its label 1 for yes and 0 for
/// no; "maybe" is no class of a binary task and is left out. `image` and `class` say which
/// question a task is.
fn cleanlab(data: &ProjectData, out: &mut dyn Write) -> Result<u64> {
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record(["task", "annotator", "label", "image", "class"])
        .map_err(write_err)?;
    let mut task: Option<(u32, u32)> = None;
    let mut tasks = 0u64;
    let mut n = 0u64;
    for a in &data.answers {
        let label = match a.answer {
            crate::analysis::Answer::Yes => "1",
            crate::analysis::Answer::No => "0",
            crate::analysis::Answer::Maybe => continue,
        };
        if task != Some((a.image, a.class)) {
            if task.is_some() {
                tasks += 1;
            }
            task = Some((a.image, a.class));
        }
        w.write_record([
            tasks.to_string().as_str(),
            &data.annotators[a.annotator as usize],
            label,
            &data.images[a.image as usize].key,
            &data.classes[a.class as usize].key,
        ])
        .map_err(write_err)?;
        n += 1;
    }
    w.flush().map_err(write_err)?;
    Ok(n)
}

/// Makes `dir` ready to receive an export's files: created when missing; when it exists and
/// holds anything, refused unless `force` (files of the export's names are then replaced, and
/// nothing else in the folder is touched).
pub fn prepare_output_dir(dir: &Path, force: bool) -> Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() && !force {
                return Err(Error::msg(format!(
                    "{} exists and is not empty; choose a new folder, or give --force to write \
                     into it (files of the same names are replaced)",
                    dir.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
        }
        Err(e) if dir.is_file() => Err(Error::msg(format!(
            "{} is a file; the export writes a folder of files there ({e})",
            dir.display()
        ))),
        Err(e) => Err(Error::io(dir, e)),
    }
}

/// Refuses an output file that would destroy what it was made from: `out` must not be one of
/// `inputs` (compared by device and inode, so a link or another spelling of the path is caught
/// too), nor any SQLite database (a project or annotator's file: `export -o val.db` once wrote
/// a CSV over the project and every answer was lost), even with `force`; and an existing file
/// is replaced only with `force`.
pub fn check_output_file(out: &Path, inputs: &[&Path], force: bool) -> Result<()> {
    let shown = crate::text::display_path(out);
    let Ok(md) = std::fs::metadata(out) else {
        return Ok(()); // nothing there (or a dangling link, which the rename replaces)
    };
    if md.is_dir() {
        return Err(Error::msg(format!(
            "{shown} is a folder; give a file name to write"
        )));
    }
    if inputs.iter().any(|i| same_file(out, i)) {
        return Err(Error::msg(format!(
            "{shown} is an input of this command; writing there would destroy it (choose \
             another name)"
        )));
    }
    if is_sqlite(out) {
        return Err(Error::msg(format!(
            "{shown} is an SQLite database (a project or annotator's file?); labelvet never \
             writes an export over one (choose another name)"
        )));
    }
    if !force {
        return Err(Error::msg(format!(
            "{shown} already exists; choose another name, or add --force to replace it"
        )));
    }
    Ok(())
}

/// Whether two paths name the same file (device and inode on Unix).
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        #[cfg(unix)]
        (Ok(x), Ok(y)) => {
            use std::os::unix::fs::MetadataExt;
            x.dev() == y.dev() && x.ino() == y.ino()
        }
        #[cfg(not(unix))]
        (Ok(_), Ok(_)) => std::fs::canonicalize(a)
            .ok()
            .is_some_and(|p| std::fs::canonicalize(b).ok() == Some(p)),
        _ => false,
    }
}

fn is_sqlite(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head == b"SQLite format 3\0")
}

/// Writes what `f` writes to `path` through a temporary file beside it, so that a failure never leaves
/// a half-written file under the final name.
pub fn write_file_atomically(
    path: &Path,
    f: impl FnOnce(&mut (dyn Write + Send)) -> Result<u64>,
) -> Result<u64> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export".into());
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // Removed when dropped, so a failure anywhere below leaves nothing behind.
    let prefix = format!(".{name}.partial-");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    // The file others will read: the umask's permissions, as a plain `File::create` gives
    // (tempfile's default is 0600).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let tmp = builder.tempfile_in(dir).map_err(|e| Error::io(path, e))?;
    let mut w = std::io::BufWriter::new(tmp);
    let n = f(&mut w)?;
    let tmp = w
        .into_inner()
        .map_err(|e| Error::io(path, e.into_error()))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(n)
}
