//! Results as Parquet, the format pandas, polars, DuckDB, Spark and Hugging Face `datasets` all
//! read, so that analysis past one machine goes to an engine that exists rather than to code of
//! ours.
//!
//! Three files, with native types rather than text: strings that repeat (image keys within an
//! image's rows, labels, annotators, answers) dictionary-encoded, times as `timestamp[ms, UTC]`,
//! label sets as list columns; Snappy-compressed. Rows go out in batches of [`BATCH`] and row
//! groups of [`ROW_GROUP`], and the current answers come from the store's compact fold (texts
//! once each, 40 bytes per answer), so memory holds that fold, one batch and one row group's
//! encoded pages, not the project's answers as text.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int32Builder, ListBuilder, StringBuilder,
    StringDictionaryBuilder, TimestampMillisecondBuilder,
};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::write_file_atomically;
use crate::analysis::project::{ProjectData, Results};
use crate::error::{Error, Result};
use crate::store::{CurrentAnswerTable, Store};

/// Rows per Arrow batch handed to the writer.
pub const BATCH: usize = 64 * 1024;
/// Rows per Parquet row group: the unit a reader can skip or read in parallel.
pub const ROW_GROUP: usize = 256 * 1024;

/// What `write_parquet` wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParquetSummary {
    pub answers: u64,
    pub labels: u64,
    pub images: u64,
    pub files: Vec<PathBuf>,
}

fn err(file: &str) -> impl Fn(parquet::errors::ParquetError) -> Error + '_ {
    move |e| Error::msg(format!("writing {file}: {e}"))
}

fn arrow_err(file: &str) -> impl Fn(arrow_schema::ArrowError) -> Error + '_ {
    move |e| Error::msg(format!("writing {file}: {e}"))
}

fn dict() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

fn properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP))
        .set_created_by(format!("labelvet {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Writes `answers.parquet`, `labels.parquet` and `images.parquet` into `dir` (which must
/// exist), each through a temporary file renamed when complete. Reads the current answers from
/// `store` again; [`write_parquet_with`] takes those [`ProjectData::load_with_answers`] read.
pub fn write_parquet(
    store: &Store,
    data: &ProjectData,
    res: &Results,
    dir: &Path,
) -> Result<ParquetSummary> {
    write_parquet_with(&store.current_answer_table()?, data, res, dir)
}

/// [`write_parquet`] from the current answers `data` was made from (the same project's
/// [`CurrentAnswerTable`]), without reading the store again.
pub fn write_parquet_with(
    table: &CurrentAnswerTable,
    data: &ProjectData,
    res: &Results,
    dir: &Path,
) -> Result<ParquetSummary> {
    let mut out = ParquetSummary::default();
    let path = dir.join("answers.parquet");
    out.answers = write_file_atomically(&path, |w| answers(table, data, w))?;
    out.files.push(path);
    let path = dir.join("labels.parquet");
    out.labels = write_file_atomically(&path, |w| labels(data, res, w))?;
    out.files.push(path);
    let path = dir.join("images.parquet");
    out.images = write_file_atomically(&path, |w| images(data, res, w))?;
    out.files.push(path);
    Ok(out)
}

/// The columns of `answers.parquet`, filled one batch at a time.
struct AnswerColumns {
    image: StringDictionaryBuilder<Int32Type>,
    label: StringDictionaryBuilder<Int32Type>,
    label_index: Int32Builder,
    annotator: StringDictionaryBuilder<Int32Type>,
    answer: StringDictionaryBuilder<Int32Type>,
    time: TimestampMillisecondBuilder,
    seconds: Float64Builder,
    origin: StringDictionaryBuilder<Int32Type>,
    rows: usize,
}

impl AnswerColumns {
    fn new() -> Self {
        AnswerColumns {
            image: StringDictionaryBuilder::new(),
            label: StringDictionaryBuilder::new(),
            label_index: Int32Builder::with_capacity(BATCH),
            annotator: StringDictionaryBuilder::new(),
            answer: StringDictionaryBuilder::new(),
            time: TimestampMillisecondBuilder::with_capacity(BATCH).with_timezone("UTC"),
            seconds: Float64Builder::with_capacity(BATCH),
            origin: StringDictionaryBuilder::new(),
            rows: 0,
        }
    }

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("image", dict(), false),
            Field::new("label", dict(), false),
            Field::new("label_index", DataType::Int32, true),
            Field::new("annotator", dict(), false),
            Field::new("answer", dict(), false),
            Field::new(
                "time",
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                false,
            ),
            Field::new("seconds", DataType::Float64, true),
            Field::new("origin", dict(), false),
        ]))
    }

    fn finish(&mut self, schema: &SchemaRef) -> std::result::Result<RecordBatch, String> {
        self.rows = 0;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.image.finish()),
            Arc::new(self.label.finish()),
            Arc::new(self.label_index.finish()),
            Arc::new(self.annotator.finish()),
            Arc::new(self.answer.finish()),
            Arc::new(self.time.finish()),
            Arc::new(self.seconds.finish()),
            Arc::new(self.origin.finish()),
        ];
        RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())
    }
}

/// One row per current answer (an annotator's latest to a question, undo applied), in (image,
/// label, annotator) order, from the table the project's data was made from.
fn answers(
    table: &CurrentAnswerTable,
    data: &ProjectData,
    w: &mut (dyn Write + Send),
) -> Result<u64> {
    const FILE: &str = "answers.parquet";
    let index: HashMap<&str, Option<u32>> = data
        .classes
        .iter()
        .map(|c| (c.key.as_str(), c.index))
        .collect();
    // Per text of the table, once: the label's index, and whether the annotator is left out.
    let label_index: Vec<Option<i32>> = table
        .labels
        .iter()
        .map(|l| index.get(l.as_str()).copied().flatten().map(|i| i as i32))
        .collect();
    let left_out: Vec<bool> = table
        .annotators
        .iter()
        .map(|a| data.left_out.contains(a))
        .collect();
    let schema = AnswerColumns::schema();
    let mut writer =
        ArrowWriter::try_new(w, schema.clone(), Some(properties())).map_err(err(FILE))?;
    let mut cols = AnswerColumns::new();
    let mut n = 0u64;
    let a = arrow_err(FILE);
    for r in &table.rows {
        let Some(answer) = r.answer else {
            continue;
        };
        if left_out[r.annotator as usize] {
            continue;
        }
        cols.image
            .append(&table.images[r.image as usize])
            .map_err(&a)?;
        cols.label
            .append(&table.labels[r.label as usize])
            .map_err(&a)?;
        cols.label_index
            .append_option(label_index[r.label as usize]);
        cols.annotator
            .append(&table.annotators[r.annotator as usize])
            .map_err(&a)?;
        cols.answer.append(answer.as_str()).map_err(&a)?;
        cols.time.append_value(r.created_at);
        cols.seconds
            .append_option(r.elapsed_ms().map(|ms| ms as f64 / 1000.0));
        cols.origin
            .append(&table.origins[r.origin as usize])
            .map_err(&a)?;
        cols.rows += 1;
        n += 1;
        if cols.rows == BATCH {
            let batch = cols.finish(&schema).map_err(Error::msg)?;
            writer.write(&batch).map_err(err(FILE))?;
        }
    }
    if cols.rows > 0 {
        let batch = cols.finish(&schema).map_err(Error::msg)?;
        writer.write(&batch).map_err(err(FILE))?;
    }
    writer.close().map_err(err(FILE))?;
    Ok(n)
}

/// One row per (image, label) question with evidence: the rows of the CSV export, typed.
fn labels(data: &ProjectData, res: &Results, w: &mut (dyn Write + Send)) -> Result<u64> {
    const FILE: &str = "labels.parquet";
    let schema: SchemaRef = Arc::new(Schema::new(vec![
        Field::new("image", dict(), false),
        Field::new("label", dict(), false),
        Field::new("label_index", DataType::Int32, true),
        Field::new("name", dict(), false),
        Field::new("yes", DataType::Int32, false),
        Field::new("no", DataType::Int32, false),
        Field::new("maybe", DataType::Int32, false),
        Field::new("frequency", DataType::Float64, true),
        Field::new("score", DataType::Float64, true),
        Field::new("valid", DataType::Boolean, false),
        Field::new("original", DataType::Boolean, false),
        Field::new("method", dict(), false),
        // Decided by an expert's verdict (score 1 or 0 whatever the answers say).
        Field::new("adjudicated", DataType::Boolean, false),
    ]));
    let mut writer =
        ArrowWriter::try_new(w, schema.clone(), Some(properties())).map_err(err(FILE))?;
    let a = arrow_err(FILE);
    for chunk in res.questions.chunks(BATCH) {
        let mut image = StringDictionaryBuilder::<Int32Type>::new();
        let mut label = StringDictionaryBuilder::<Int32Type>::new();
        let mut label_index = Int32Builder::with_capacity(chunk.len());
        let mut name = StringDictionaryBuilder::<Int32Type>::new();
        let mut yes = Int32Builder::with_capacity(chunk.len());
        let mut no = Int32Builder::with_capacity(chunk.len());
        let mut maybe = Int32Builder::with_capacity(chunk.len());
        let mut frequency = Float64Builder::with_capacity(chunk.len());
        let mut score = Float64Builder::with_capacity(chunk.len());
        let mut valid = BooleanBuilder::with_capacity(chunk.len());
        let mut original = BooleanBuilder::with_capacity(chunk.len());
        let mut method = StringDictionaryBuilder::<Int32Type>::new();
        let mut adjudicated = BooleanBuilder::with_capacity(chunk.len());
        for q in chunk {
            let im = &data.images[q.image as usize];
            let class = &data.classes[q.class as usize];
            image.append(&im.key).map_err(&a)?;
            label.append(&class.key).map_err(&a)?;
            label_index.append_option(class.index.map(|i| i as i32));
            name.append(&class.name).map_err(&a)?;
            yes.append_value(q.counts.yes as i32);
            no.append_value(q.counts.no as i32);
            maybe.append_value(q.counts.maybe as i32);
            frequency.append_option(q.frequency());
            score.append_option(q.score);
            valid.append_value(q.valid);
            original.append_value(im.original == Some(q.class));
            method.append(res.method.as_str()).map_err(&a)?;
            adjudicated.append_value(q.adjudicated);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(image.finish()),
            Arc::new(label.finish()),
            Arc::new(label_index.finish()),
            Arc::new(name.finish()),
            Arc::new(yes.finish()),
            Arc::new(no.finish()),
            Arc::new(maybe.finish()),
            Arc::new(frequency.finish()),
            Arc::new(score.finish()),
            Arc::new(valid.finish()),
            Arc::new(original.finish()),
            Arc::new(method.finish()),
            Arc::new(adjudicated.finish()),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).map_err(&a)?;
        writer.write(&batch).map_err(err(FILE))?;
    }
    writer.close().map_err(err(FILE))?;
    Ok(res.questions.len() as u64)
}

/// One row per image, in key order: original label, whether it was reviewed, and its label set
/// (`null` when never reviewed, as in the JSON-lines export).
fn images(data: &ProjectData, res: &Results, w: &mut (dyn Write + Send)) -> Result<u64> {
    const FILE: &str = "images.parquet";
    let item = |t: DataType| Arc::new(Field::new("item", t.clone(), t == DataType::Int32));
    let schema: SchemaRef = Arc::new(Schema::new(vec![
        Field::new("image", DataType::Utf8, false),
        Field::new("original_label", dict(), true),
        Field::new("original_index", DataType::Int32, true),
        Field::new("reviewed", DataType::Boolean, false),
        Field::new("labels", DataType::List(item(DataType::Utf8)), true),
        Field::new("label_indices", DataType::List(item(DataType::Int32)), true),
        Field::new("multi_label", DataType::Boolean, false),
        Field::new("original_valid", DataType::Boolean, true),
    ]));
    let mut writer =
        ArrowWriter::try_new(w, schema.clone(), Some(properties())).map_err(err(FILE))?;
    let a = arrow_err(FILE);
    let n = data.images.len();
    let mut start = 0;
    while start < n {
        let end = (start + BATCH).min(n);
        let mut image = StringBuilder::new();
        let mut original_label = StringDictionaryBuilder::<Int32Type>::new();
        let mut original_index = Int32Builder::with_capacity(end - start);
        let mut reviewed = BooleanBuilder::with_capacity(end - start);
        let mut labels = ListBuilder::new(StringBuilder::new()).with_field(item(DataType::Utf8));
        let mut label_indices =
            ListBuilder::new(Int32Builder::new()).with_field(item(DataType::Int32));
        let mut multi_label = BooleanBuilder::with_capacity(end - start);
        let mut original_valid = BooleanBuilder::with_capacity(end - start);
        for (i, im) in data.images.iter().enumerate().take(end).skip(start) {
            image.append_value(&im.key);
            let original = im.original.map(|c| &data.classes[c as usize]);
            original_label.append_option(original.map(|c| c.key.as_str()));
            original_index.append_option(original.and_then(|c| c.index).map(|i| i as i32));
            let set = res.label_set(i);
            reviewed.append_value(set.is_some());
            match &set {
                Some(set) => {
                    for &c in set {
                        let class = &data.classes[c as usize];
                        labels.values().append_value(&class.key);
                        // A custom vocabulary may give no indices: the key still says it.
                        label_indices
                            .values()
                            .append_option(class.index.map(|x| x as i32));
                    }
                    labels.append(true);
                    label_indices.append(true);
                }
                None => {
                    labels.append(false);
                    label_indices.append(false);
                }
            }
            multi_label.append_value(set.as_ref().is_some_and(|s| s.len() >= 2));
            original_valid.append_option(im.original.and_then(|o| {
                res.image_questions(i)
                    .iter()
                    .find(|q| q.class == o)
                    .map(|q| q.valid)
            }));
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(image.finish()),
            Arc::new(original_label.finish()),
            Arc::new(original_index.finish()),
            Arc::new(reviewed.finish()),
            Arc::new(labels.finish()),
            Arc::new(label_indices.finish()),
            Arc::new(multi_label.finish()),
            Arc::new(original_valid.finish()),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).map_err(&a)?;
        writer.write(&batch).map_err(err(FILE))?;
        start = end;
    }
    writer.close().map_err(err(FILE))?;
    Ok(n as u64)
}
