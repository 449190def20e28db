//! Model predictions from Parquet, the format a GPU cluster (torch, Ray, Spark) usually writes
//! them in, read row group by row group so memory holds one batch whatever the file's size.
//!
//! Two layouts, as for the text formats:
//! - long: columns `image`, `model`, `rank`, `label`, `score` (the CSV's columns and aliases);
//! - one row per image (and model): `image`, `model`, and a list column `topk` of structs
//!   `{label, score}`, best first (the JSON lines layout).
//!
//! `label` is a class key (text) or a class index (any integer type); without a `model` column
//! the model is `--model`, else the file's name, as for CSV; only the columns needed are read. Every row then goes through the same checks
//! and messages as a CSV line, with the row group and row in place of the line; a column that
//! is missing or of the wrong type is named with the row group where it was met.

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_schema::DataType;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};

use super::predictions::{At, Ctx, Labels, PredictionImport};
use super::table::{IMAGE_COLS, LABEL_COLS};
use crate::error::{Error, Result};
use crate::store::predictions::SortedPredictions;

const MODEL_COLS: &[&str] = &["model", "model_name"];
const SCORE_COLS: &[&str] = &["score", "prob", "probability", "confidence"];
const TOPK_COLS: &[&str] = &["topk", "top_k", "predictions"];

/// Whether the file starts with Parquet's magic bytes.
pub(super) fn is_parquet(path: &Path) -> Result<bool> {
    let mut head = [0u8; 4];
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut got = 0;
    while got < 4 {
        match f.read(&mut head[got..]).map_err(|e| Error::io(path, e))? {
            0 => break,
            k => got += k,
        }
    }
    Ok(got == 4 && &head == b"PAR1")
}

type Get<'a, T> = Box<dyn Fn(usize) -> Option<T> + 'a>;

/// Row `i` of a text column (plain, large, view or dictionary-encoded), `None` when null.
fn text(a: &dyn Array) -> Option<Get<'_, Cow<'_, str>>> {
    if let Some(s) = a.as_string_opt::<i32>() {
        return Some(Box::new(move |i| s.is_valid(i).then(|| s.value(i).into())));
    }
    if let Some(s) = a.as_string_opt::<i64>() {
        return Some(Box::new(move |i| s.is_valid(i).then(|| s.value(i).into())));
    }
    if let Some(s) = a.as_string_view_opt() {
        return Some(Box::new(move |i| s.is_valid(i).then(|| s.value(i).into())));
    }
    if let Some(d) = a.as_any_dictionary_opt() {
        let keys = d.normalized_keys();
        let values = text(d.values().as_ref())?;
        return Some(Box::new(move |i| {
            if d.keys().is_valid(i) {
                values(keys[i])
            } else {
                None
            }
        }));
    }
    None
}

/// Row `i` of an integer column of any width or sign, `None` when null.
fn int(a: &dyn Array) -> Option<Get<'_, i64>> {
    macro_rules! prim {
        ($($t:ty),*) => {$(
            if let Some(p) = a.as_primitive_opt::<$t>() {
                return Some(Box::new(move |i| {
                    p.is_valid(i).then(|| i64::try_from(p.value(i)).unwrap_or(i64::MAX))
                }));
            }
        )*};
    }
    prim!(
        Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type
    );
    None
}

/// Row `i` of a float column, `None` when null.
fn float(a: &dyn Array) -> Option<Get<'_, f64>> {
    if let Some(p) = a.as_primitive_opt::<Float64Type>() {
        return Some(Box::new(move |i| p.is_valid(i).then(|| p.value(i))));
    }
    if let Some(p) = a.as_primitive_opt::<Float32Type>() {
        return Some(Box::new(move |i| p.is_valid(i).then(|| p.value(i) as f64)));
    }
    None
}

/// A label column: class keys as text, or class indices as integers.
fn label(a: &dyn Array) -> Option<Get<'_, Cow<'_, str>>> {
    if let Some(t) = text(a) {
        return Some(t);
    }
    let n = int(a)?;
    Some(Box::new(move |i| n(i).map(|x| Cow::Owned(x.to_string()))))
}

fn type_name(t: &DataType) -> String {
    match t {
        DataType::Dictionary(_, v) => format!("dictionary of {v}"),
        other => other.to_string(),
    }
}

/// The index of the first field among `names` (case-insensitive), in the order of `names`.
fn find(fields: &[String], names: &[&str]) -> Option<usize> {
    names
        .iter()
        .find_map(|n| fields.iter().position(|f| f.eq_ignore_ascii_case(n)))
}

enum Layout {
    Long {
        rank: usize,
        label: usize,
        score: Option<usize>,
    },
    TopK {
        topk: usize,
    },
}

pub(super) fn import(
    ctx: &Ctx<'_>,
    writer: &mut SortedPredictions<'_>,
    labels: &mut Labels<'_>,
    report: &mut PredictionImport,
) -> Result<()> {
    let path = ctx.file;
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = ArrowReaderMetadata::load(&file, Default::default()).map_err(|e| {
        Error::msg(format!(
            "{}: starts like Parquet but cannot be read as Parquet: {e}",
            path.display()
        ))
    })?;
    let fields: Vec<String> = meta
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let missing = |what: &str, names: &[&str]| {
        Error::msg(format!(
            "{}: no {what} column (expected one of: {}; found: {})",
            path.display(),
            names.join(", "),
            fields.join(", ")
        ))
    };
    let image = find(&fields, IMAGE_COLS).ok_or_else(|| missing("image", IMAGE_COLS))?;
    let model = find(&fields, MODEL_COLS);
    // As for CSV: without a model column and --model, the file names the model.
    let from_name;
    let fallback_model = match (&ctx.opts.model, model) {
        (Some(m), _) => m.as_str(),
        (None, Some(_)) => "",
        (None, None) => {
            from_name = super::predictions::model_from_file_name(path);
            report
                .models_from_file_names
                .push((path.display().to_string(), from_name.clone()));
            from_name.as_str()
        }
    };
    let layout = if let Some(rank) = find(&fields, &["rank"]) {
        Layout::Long {
            rank,
            label: find(&fields, LABEL_COLS).ok_or_else(|| missing("label", LABEL_COLS))?,
            score: find(&fields, SCORE_COLS),
        }
    } else if let Some(topk) = find(&fields, TOPK_COLS) {
        Layout::TopK { topk }
    } else {
        return Err(Error::msg(format!(
            "{}: neither a `rank` column (long layout: image, model, rank, label, score) nor a \
             `topk` list column (one row per image: image, model, topk = list of {{label, \
             score}}); found: {}",
            path.display(),
            fields.join(", ")
        )));
    };
    let mut wanted = vec![image];
    wanted.extend(model);
    match layout {
        Layout::Long { rank, label, score } => {
            wanted.extend([rank, label]);
            wanted.extend(score);
        }
        Layout::TopK { topk } => wanted.push(topk),
    }
    let mask = ProjectionMask::roots(meta.parquet_schema(), wanted);
    let groups = meta.metadata().num_row_groups();
    for group in 0..groups {
        let here = |msg: String| {
            Error::msg(format!(
                "{}: row group {} of {groups}: {msg}",
                path.display(),
                group + 1
            ))
        };
        let file = file.try_clone().map_err(|e| Error::io(path, e))?;
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta.clone())
            .with_projection(mask.clone())
            .with_row_groups(vec![group])
            .with_batch_size(8192)
            .build()
            .map_err(|e| here(e.to_string()))?;
        let mut first_row = 0;
        for batch in reader {
            let batch = batch.map_err(|e| here(e.to_string()))?;
            let column = |i: usize| -> &dyn Array {
                batch
                    .column_by_name(&fields[i])
                    .expect("projected column")
                    .as_ref()
            };
            let mistyped = |i: usize, wanted: &str| {
                here(format!(
                    "column `{}` is {}, not {wanted}",
                    fields[i],
                    type_name(column(i).data_type())
                ))
            };
            let images = text(column(image)).ok_or_else(|| mistyped(image, "text"))?;
            let models: Option<Get<'_, Cow<'_, str>>> = match model {
                Some(m) => Some(text(column(m)).ok_or_else(|| mistyped(m, "text"))?),
                None => None,
            };
            let at = |i: usize| At::Row {
                group,
                groups,
                row: first_row + i,
            };
            let rows = batch.num_rows();
            match layout {
                Layout::Long {
                    rank,
                    label: l,
                    score,
                } => {
                    let ranks = int(column(rank)).ok_or_else(|| mistyped(rank, "an integer"))?;
                    let names =
                        label(column(l)).ok_or_else(|| mistyped(l, "text or an integer"))?;
                    let scores: Option<Get<'_, f64>> = match score {
                        Some(s) => Some(float(column(s)).ok_or_else(|| mistyped(s, "a float"))?),
                        None => None,
                    };
                    for i in 0..rows {
                        let Some(img) = images(i) else {
                            return Err(ctx.err(at(i), format!("no {}", fields[image])));
                        };
                        let m = models.as_ref().and_then(|m| m(i));
                        let m = m
                            .as_deref()
                            .filter(|m| !m.is_empty())
                            .unwrap_or(fallback_model);
                        let r = ranks(i)
                            .filter(|r| *r >= 1)
                            .and_then(|r| u32::try_from(r).ok())
                            .ok_or_else(|| {
                                ctx.err(
                                    at(i),
                                    format!(
                                        "rank `{}` is not a whole number from 1",
                                        ranks(i).map_or("null".into(), |r| r.to_string())
                                    ),
                                )
                            })?;
                        let Some(lab) = names(i) else {
                            return Err(ctx.err(at(i), format!("no {}", fields[l])));
                        };
                        let s = scores.as_ref().and_then(|s| s(i));
                        ctx.add(writer, labels, report, at(i), &img, m, r, &lab, s)?;
                    }
                }
                Layout::TopK { topk } => {
                    let col = column(topk);
                    let (offsets, items): (Vec<usize>, &dyn Array) =
                        if let Some(list) = col.as_list_opt::<i32>() {
                            (
                                list.value_offsets().iter().map(|&o| o as usize).collect(),
                                list.values().as_ref(),
                            )
                        } else if let Some(list) = col.as_list_opt::<i64>() {
                            (
                                list.value_offsets().iter().map(|&o| o as usize).collect(),
                                list.values().as_ref(),
                            )
                        } else {
                            return Err(mistyped(topk, "a list of {label, score} structs"));
                        };
                    let Some(structs) = items.as_struct_opt() else {
                        return Err(mistyped(topk, "a list of {label, score} structs"));
                    };
                    let names: Vec<String> =
                        structs.fields().iter().map(|f| f.name().clone()).collect();
                    let inner = |what: &str, aliases: &[&str]| {
                        here(format!(
                            "column `{}`: its structs have no {what} field (expected one of: \
                             {}; found: {})",
                            fields[topk],
                            aliases.join(", "),
                            names.join(", ")
                        ))
                    };
                    let li = find(&names, LABEL_COLS).ok_or_else(|| inner("label", LABEL_COLS))?;
                    let lab_col = structs.column(li).as_ref();
                    let item_labels = label(lab_col).ok_or_else(|| {
                        here(format!(
                            "field `{}` of column `{}` is {}, not text or an integer",
                            names[li],
                            fields[topk],
                            type_name(lab_col.data_type())
                        ))
                    })?;
                    let item_scores: Option<Get<'_, f64>> = match find(&names, SCORE_COLS) {
                        Some(si) => {
                            let c = structs.column(si).as_ref();
                            Some(float(c).ok_or_else(|| {
                                here(format!(
                                    "field `{}` of column `{}` is {}, not a float",
                                    names[si],
                                    fields[topk],
                                    type_name(c.data_type())
                                ))
                            })?)
                        }
                        None => None,
                    };
                    for i in 0..rows {
                        let Some(img) = images(i) else {
                            return Err(ctx.err(at(i), format!("no {}", fields[image])));
                        };
                        if col.is_null(i) {
                            return Err(ctx.err(at(i), format!("no {}", fields[topk])));
                        }
                        let m = models.as_ref().and_then(|m| m(i));
                        let m = m
                            .as_deref()
                            .filter(|m| !m.is_empty())
                            .unwrap_or(fallback_model);
                        for (r, j) in (offsets[i]..offsets[i + 1]).enumerate() {
                            let Some(lab) = item_labels(j) else {
                                return Err(ctx.err(
                                    at(i),
                                    format!("{} item {}: no label", fields[topk], r + 1),
                                ));
                            };
                            let s = item_scores.as_ref().and_then(|s| s(j));
                            ctx.add(
                                writer,
                                labels,
                                report,
                                at(i),
                                &img,
                                m,
                                r as u32 + 1,
                                &lab,
                                s,
                            )?;
                        }
                    }
                }
            }
            first_row += rows;
        }
    }
    Ok(())
}
