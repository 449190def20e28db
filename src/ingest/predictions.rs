//! Model predictions into a project, streamed row by row so memory stays flat whatever the file's
//! size, all in one transaction so that a malformed line leaves the project as it was.
//!
//! Three formats: long CSV (`image,model,rank,label,score`, label as class key or index; the
//! shared data's `label_index`/`wnid` columns work too), JSON lines
//! (`{"image":..,"model":..,"topk":[{"label":..,"score":..},..]}`), either possibly gzipped, and
//! Parquet in either layout (see `parquet_predictions`), as a GPU cluster writes them. All three
//! go through the same checks, so a file says the same things whatever its format.

// Looked up once a prediction (64 M for 10 models' top-5 of ImageNet-train): hashbrown's
// default hasher, not std's SipHash, which took a tenth of the reading thread's time.
use hashbrown::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::table::{self, Format, IMAGE_COLS};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::predictions::SortedPredictions;
use crate::vocab::Vocab;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PredictionImport {
    pub files: usize,
    /// Rows stored (within the top-k).
    pub rows: u64,
    /// Rows read but beyond the top-k.
    pub beyond_top_k: u64,
    pub models: Vec<String>,
    /// (file, model) for files that name no model and were given none: the model is named
    /// after the file (`resnet50.csv` is `resnet50`).
    pub models_from_file_names: Vec<(String, String)>,
}

/// The model a file of predictions names by its name: `resnet50.csv.gz` holds `resnet50`.
pub fn model_from_file_name(file: &Path) -> String {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem.to_string(),
        _ => name.to_string(),
    }
}

#[derive(Clone, Debug)]
pub struct PredictionOptions {
    pub top_k: u32,
    /// The model name for files that have no model column or field.
    pub model: Option<String>,
    pub progress: bool,
}

impl Default for PredictionOptions {
    fn default() -> Self {
        PredictionOptions {
            top_k: 5,
            model: None,
            progress: false,
        }
    }
}

/// Resolves labels (key or index) to keys once per distinct spelling, and numbers the keys
/// (a row holds its label's number until it is written).
pub(super) struct Labels<'v> {
    vocab: &'v Vocab,
    cache: HashMap<String, u32>,
    numbers: HashMap<String, u32>,
    keys: Vec<String>,
}

impl<'v> Labels<'v> {
    fn new(vocab: &'v Vocab) -> Self {
        Labels {
            vocab,
            cache: HashMap::new(),
            numbers: HashMap::new(),
            keys: Vec::new(),
        }
    }

    /// The number of the class key a label names.
    pub(super) fn key(&mut self, label: &str) -> Option<u32> {
        if let Some(&n) = self.cache.get(label) {
            return Some(n);
        }
        let key = &self.vocab.resolve(label)?.key;
        let n = match self.numbers.get(key) {
            Some(&n) => n,
            None => {
                let n = self.keys.len() as u32;
                self.keys.push(key.clone());
                self.numbers.insert(key.clone(), n);
                n
            }
        };
        self.cache.insert(label.to_string(), n);
        Some(n)
    }
}

pub fn import_predictions(
    store: &mut Store,
    files: &[PathBuf],
    opts: &PredictionOptions,
) -> Result<PredictionImport> {
    if opts.top_k == 0 {
        return Err(Error::msg("--top-k must be at least 1"));
    }
    let vocab = store.vocab()?;
    // Images by their position in id order, which is the order the rows are written in.
    let images = store.image_ids()?;
    let mut ids: Vec<i64> = images.values().copied().collect();
    ids.sort_unstable();
    let images: HashMap<String, u32> = images
        .into_iter()
        .map(|(key, id)| (key, ids.binary_search(&id).expect("listed above") as u32))
        .collect();
    let spill_dir = match store.path().parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let total_bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    let bar = super::images::progress_bar(total_bytes, "predictions", opts.progress);
    // The pages the candidates' label index is filled at (one per class) stay in memory.
    store.set_cache_mib(64)?;
    // Every reference a row makes is checked here before it is added: its image is one of the
    // project's, its label a class of the project's vocabulary (read from `classes`), its model
    // registered in this transaction; candidates come from those rows and from answers joined
    // with `images` and `classes`. SQLite's own check of the three foreign keys of each of
    // tens of millions of rows, and of each candidate, is left out, which also lets the old
    // candidates be cleared at once instead of row by row.
    //
    // Every import writes the candidates table whole, and a first import (or one of every model
    // again) the predictions table too: mostly new pages, written once through a rollback
    // journal when the import has the file to itself instead of to the WAL and again at the
    // checkpoint (see `Store::with_rollback_journal`).
    let write = |tx: &rusqlite::Transaction<'_>| -> Result<PredictionImport> {
        let mut writer = SortedPredictions::new(tx, ids, &spill_dir);
        let mut labels = Labels::new(&vocab);
        let mut report = PredictionImport::default();
        for file in files {
            let source = file.display().to_string();
            let ctx = Ctx {
                file,
                source: &source,
                images: &images,
                opts,
                last_image: Default::default(),
                last_model: Default::default(),
            };
            if super::parquet_predictions::is_parquet(file)? {
                super::parquet_predictions::import(&ctx, &mut writer, &mut labels, &mut report)?;
            } else {
                let (reader, format) = table::open_detect(file)?;
                match format {
                    Format::Csv => import_csv(&ctx, reader, &mut writer, &mut labels, &mut report)?,
                    Format::Jsonl => {
                        import_jsonl(&ctx, reader, &mut writer, &mut labels, &mut report)?
                    }
                    Format::Binary => {
                        return Err(Error::msg(format!(
                            "{}: not a predictions file labelvet reads; the formats read are \
                             Parquet, CSV and JSON lines (CSV and JSON lines optionally gzipped)",
                            file.display()
                        )));
                    }
                }
            }
            report.files += 1;
            bar.inc(std::fs::metadata(file).map(|m| m.len()).unwrap_or(0));
        }
        report.models = writer.models_seen();
        // The candidates too.
        report.rows = writer.finish(&labels.keys)?;
        Ok(report)
    };
    let report =
        store.with_rollback_journal(|store| store.transaction_without_foreign_keys(write))?;
    bar.finish_and_clear();
    Ok(report)
}

pub(super) struct Ctx<'a> {
    pub(super) file: &'a Path,
    source: &'a str,
    images: &'a HashMap<String, u32>,
    pub(super) opts: &'a PredictionOptions,
    /// The last image key looked up and its position: rows come in runs of one image.
    last_image: std::cell::RefCell<(String, u32)>,
    /// The last model name that passed its checks and its number: files hold one model.
    last_model: std::cell::RefCell<Option<(String, u32)>>,
}

/// Where in a file a prediction came from, for messages: a line of a text file, or a row of a
/// Parquet row group.
#[derive(Clone, Copy, Debug)]
pub(super) enum At {
    Line(u64),
    /// Row group and row within it, from 0; said from 1.
    Row {
        group: usize,
        groups: usize,
        row: usize,
    },
}

impl Ctx<'_> {
    pub(super) fn err(&self, at: At, msg: impl Into<String>) -> Error {
        match at {
            At::Line(line) => Error::input(self.file, line, msg),
            At::Row { group, groups, row } => Error::msg(format!(
                "{}: row group {} of {groups}, row {}: {}",
                self.file.display(),
                group + 1,
                row + 1,
                msg.into()
            )),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn add(
        &self,
        writer: &mut SortedPredictions<'_>,
        labels: &mut Labels<'_>,
        report: &mut PredictionImport,
        at: At,
        image: &str,
        model: &str,
        rank: u32,
        label: &str,
        score: Option<f64>,
    ) -> Result<()> {
        let image_at = {
            let mut last = self.last_image.borrow_mut();
            if last.0 != image || last.0.is_empty() {
                let at =
                    self.images.get(image).copied().ok_or_else(|| {
                        self.err(at, format!("image {image} is not in the project"))
                    })?;
                last.0.clear();
                last.0.push_str(image);
                last.1 = at;
            }
            last.1
        };
        if rank > self.opts.top_k {
            report.beyond_top_k += 1;
            return Ok(());
        }
        let checked = self
            .last_model
            .borrow()
            .as_ref()
            .and_then(|(name, n)| (name == model).then_some(*n));
        let model_n = match checked {
            Some(n) => Some(n),
            None => {
                if model.is_empty() {
                    return Err(self.err(at, "empty model name"));
                }
                // Every format (CSV, JSON lines, Parquet, a name from the file name) comes
                // through here.
                crate::text::check_field("model name", model).map_err(|why| self.err(at, why))?;
                None
            }
        };
        if let Some(s) = score
            && !s.is_finite()
        {
            return Err(self.err(at, format!("score {s} is not a number")));
        }
        let key = labels
            .key(label)
            .ok_or_else(|| self.err(at, format!("unknown class `{label}`")))?;
        let model_n = match model_n {
            Some(n) => n,
            None => {
                let n = writer.model(model, self.source)?;
                *self.last_model.borrow_mut() = Some((model.to_string(), n));
                n
            }
        };
        if !writer.add(image_at, model_n, rank, key, score)? {
            return Err(self.err(
                at,
                format!("image {image}, model {model}: rank {rank} given twice"),
            ));
        }
        Ok(())
    }
}

fn import_csv(
    ctx: &Ctx<'_>,
    reader: Box<dyn BufRead + Send>,
    writer: &mut SortedPredictions<'_>,
    labels: &mut Labels<'_>,
    report: &mut PredictionImport,
) -> Result<()> {
    let file = ctx.file;
    let mut rdr = table::csv_reader(reader);
    let headers = rdr
        .headers()
        .map_err(|e| Error::input(file, 1, e.to_string()))?
        .clone();
    let img = table::need_col(file, &headers, IMAGE_COLS, "image")?;
    let model_col = table::find_col(&headers, &["model", "model_name"]);
    let from_name;
    let fallback_model = match (&ctx.opts.model, model_col) {
        (Some(m), _) => m.as_str(),
        (None, Some(_)) => "",
        (None, None) => {
            from_name = model_from_file_name(file);
            report
                .models_from_file_names
                .push((file.display().to_string(), from_name.clone()));
            from_name.as_str()
        }
    };
    let rank_col = table::need_col(file, &headers, &["rank"], "rank")?;
    // A `label` column is read as key-or-index; `wnid` before `label_index` because a key
    // needs no lookup by position.
    let label_col = table::need_col(
        file,
        &headers,
        &["label", "wnid", "class", "label_index", "class_index"],
        "label",
    )?;
    let score_col = table::find_col(&headers, &["score", "prob", "probability", "confidence"]);
    let mut rec = csv::StringRecord::new();
    while let Some(line) = table::next_record(&mut rdr, &mut rec, file)? {
        let field = |c: usize| rec.get(c).unwrap_or("");
        let model = model_col
            .map(field)
            .filter(|m| !m.is_empty())
            .unwrap_or(fallback_model);
        let rank: u32 = field(rank_col)
            .parse()
            .ok()
            .filter(|r| *r >= 1)
            .ok_or_else(|| {
                Error::input(
                    file,
                    line,
                    format!("rank `{}` is not a whole number from 1", field(rank_col)),
                )
            })?;
        let score =
            match score_col.map(field).unwrap_or("") {
                "" => None,
                s => Some(s.parse::<f64>().map_err(|_| {
                    Error::input(file, line, format!("score `{s}` is not a number"))
                })?),
            };
        ctx.add(
            writer,
            labels,
            report,
            At::Line(line),
            field(img),
            model,
            rank,
            field(label_col),
            score,
        )?;
    }
    Ok(())
}

#[derive(Deserialize)]
struct JsonPrediction {
    image: String,
    model: Option<String>,
    topk: Vec<JsonLabel>,
}

#[derive(Deserialize)]
struct JsonLabel {
    label: serde_json::Value,
    score: Option<f64>,
}

fn import_jsonl(
    ctx: &Ctx<'_>,
    reader: Box<dyn BufRead + Send>,
    writer: &mut SortedPredictions<'_>,
    labels: &mut Labels<'_>,
    report: &mut PredictionImport,
) -> Result<()> {
    let file = ctx.file;
    // A file none of whose records names a model holds the model its name says; once a record
    // has named one, a record without is a mistake.
    let from_name = model_from_file_name(file);
    let mut named = false;
    let mut used_name = false;
    table::for_each_json_line(
        reader,
        file,
        "a prediction record",
        |n, p: &JsonPrediction| {
            named |= p.model.is_some();
            let model = match (p.model.as_deref(), ctx.opts.model.as_deref()) {
                (Some(m), _) | (None, Some(m)) => m,
                (None, None) if !named => {
                    if !used_name {
                        used_name = true;
                        report
                            .models_from_file_names
                            .push((file.display().to_string(), from_name.clone()));
                    }
                    from_name.as_str()
                }
                (None, None) => {
                    return Err(Error::input(
                        file,
                        n,
                        "no `model` field, while earlier records name one; name it with --model",
                    ));
                }
            };
            for (r, l) in p.topk.iter().enumerate() {
                let label: std::borrow::Cow<'_, str> = match &l.label {
                    serde_json::Value::String(s) => s.into(),
                    serde_json::Value::Number(x) => x.to_string().into(),
                    other => {
                        return Err(Error::input(
                            file,
                            n,
                            format!("label {other} is neither a class key nor an index"),
                        ));
                    }
                };
                ctx.add(
                    writer,
                    labels,
                    report,
                    At::Line(n),
                    &p.image,
                    model,
                    r as u32 + 1,
                    &label,
                    l.score,
                )?;
            }
            Ok(())
        },
    )
}
