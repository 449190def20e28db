//! The exports other tools read, read back by those tools: the Parquet files by pyarrow and
//! DuckDB, ReaL's `raters.npz` by NumPy (as ReaL's own code loads it), the cleanlab export by
//! cleanlab (the README's call), the FiftyOne dataset by FiftyOne's importer, the HTML report by
//! Chromium; and Parquet predictions, which must give the same candidates as the same
//! predictions in CSV.
//!
//! The Python tools live in a virtual environment that `.ci/run` makes (pinned pyarrow, duckdb,
//! numpy, cleanlab, fiftyone) and names in `LABELVET_PYTHON`; Chromium is Debian's `chromium`.
//! Without them these tests say they are skipped, except under `CI=true`, where a missing tool
//! is a failure (`tools::available`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use crate::cli_support::{fails, labelvet, ok, s};
use crate::tools::available;
use arrow_array::builder::{
    Float32Builder, Int64Builder, ListBuilder, StringBuilder, StringDictionaryBuilder,
    StructBuilder,
};
use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Fields, Schema};
use labelvet::store::Store;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

const PHOTOS: &str = "../shared/data/photos";
const PREDICTIONS: &str = "../shared/data/photos/predictions.csv";
const MANIFEST: &str = "../shared/data/imagenet_val/original_labels.csv";
const RATERS: &str = "../shared/data/real/raters.csv.gz";

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("exports")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// The venv's Python (`LABELVET_PYTHON`), or `None` when this machine has none.
fn python() -> Option<PathBuf> {
    let found = std::env::var_os("LABELVET_PYTHON").map(PathBuf::from);
    available(
        "LABELVET_PYTHON (a Python with pyarrow, duckdb and numpy; .ci/run makes one)",
        found.is_some(),
    )
    .then(|| found.unwrap())
}

/// Debian's Chromium (or `LABELVET_CHROMIUM`), or `None` when it is not installed.
fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("LABELVET_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| {
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
                .into_iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
        });
    available("chromium", found.is_some()).then(|| found.unwrap())
}

/// Runs a Python script with `args`; its standard output, or a failure with everything it said.
fn run_python(python: &Path, script: &str, args: &[&str]) -> String {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The 81 photos (the 20 ImageNet ones with their original label) with three models' top-5 and
/// answers of four annotators to every candidate (yes, no and maybe), made once.
struct Photos {
    db: PathBuf,
}

fn photos() -> &'static Photos {
    static P: OnceLock<Photos> = OnceLock::new();
    P.get_or_init(|| {
        let dir = tmp("photos");
        let db = dir.join("p.db");
        // The 20 ImageNet photos carry their original label's index at the end of the name.
        let mut labels = String::from("image,label\n");
        for e in fs::read_dir(Path::new(PHOTOS).join("imagenet_labeled")).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            let index = name.trim_end_matches(".jpg").rsplit('_').next().unwrap();
            labels.push_str(&format!("imagenet_labeled/{name},{index}\n"));
        }
        fs::write(dir.join("labels.csv"), labels).unwrap();
        ok(&[
            "init",
            s(&db),
            "--images",
            PHOTOS,
            "--labels",
            s(&dir.join("labels.csv")),
        ]);
        ok(&["predictions", "import", s(&db), PREDICTIONS]);
        // Answers: every candidate of every image, by four annotators, deterministically mixed.
        let store = Store::open(&db).unwrap();
        let mut csv = String::from("image,label,annotator,answer,time\n");
        let mut t = 1_700_000_000_000i64;
        for (n, im) in store.images().unwrap().iter().enumerate() {
            for (k, c) in store.candidates(im.id).unwrap().iter().enumerate() {
                for (a, who) in ["ann", "bob", "r12", "zoe"].iter().enumerate() {
                    let answer = match (n + 2 * k + a) % 5 {
                        0 | 1 => "yes",
                        2 | 3 => "no",
                        _ => "maybe",
                    };
                    t += 1500;
                    csv.push_str(&format!("{},{},{who},{answer},{t}\n", im.rec.key, c.label));
                }
            }
        }
        drop(store);
        let answers = dir.join("answers.csv");
        fs::write(&answers, csv).unwrap();
        ok(&["judgments", "import", s(&db), s(&answers)]);
        Photos { db }
    })
}

/// The 50,000-image validation project with ReaL's 924,810 answers, made once.
fn real_project() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let dir = tmp("real");
        let db = dir.join("val.db");
        ok(&["init", s(&db), "--manifest", MANIFEST]);
        ok(&["judgments", "import", s(&db), RATERS]);
        db
    })
}

#[test]
fn parquet_files_hold_the_csv_exports_rows_with_native_types() {
    let p = photos();
    let dir = tmp("parquet_vs_csv");
    let out = dir.join("results");
    let csv = dir.join("labels.csv");
    ok(&["export", s(&p.db), "--format", "csv", "-o", s(&csv)]);
    let said = labelvet(&["export", s(&p.db), "--format", "parquet", "-o", s(&out)]);
    assert!(said.status.success());
    let said = String::from_utf8_lossy(&said.stderr);
    assert!(said.contains("(parquet) to"), "{said}");
    for f in ["answers.parquet", "labels.parquet", "images.parquet"] {
        assert!(fs::read(out.join(f)).unwrap().starts_with(b"PAR1"), "{f}");
    }
    let Some(py) = python() else { return };
    let script = r#"
import csv, json, sys
import pyarrow as pa, pyarrow.parquet as pq
out, csv_path = sys.argv[1], sys.argv[2]
labels = pq.read_table(out + "/labels.parquet")
answers = pq.read_table(out + "/answers.parquet")
images = pq.read_table(out + "/images.parquet")
meta = pq.ParquetFile(out + "/answers.parquet").metadata
types = {t: {f.name: str(f.type) for f in tab.schema} for t, tab in
         [("labels", labels), ("answers", answers), ("images", images)]}
codecs = sorted({meta.row_group(g).column(c).compression
                 for g in range(meta.num_row_groups) for c in range(meta.num_columns)})
rows = list(csv.DictReader(open(csv_path)))
def num(x):
    return None if x == "" else float(x)
want = [(r["image"], r["label"], int(r["label_index"]), r["name"], int(r["yes"]), int(r["no"]),
         int(r["maybe"]), num(r["frequency"]), num(r["score"]), r["valid"] == "1",
         r["original"] == "1") for r in rows]
d = labels.to_pydict()
got = list(zip(d["image"], d["label"], d["label_index"], d["name"], d["yes"], d["no"],
               d["maybe"], d["frequency"], d["score"], d["valid"], d["original"]))
def close(a, b):
    return all((x is None and y is None) or (x is not None and y is not None and
               (abs(x - y) < 1e-12 if isinstance(x, float) else x == y)) for x, y in zip(a, b))
same = len(got) == len(want) and all(close(g, w) for g, w in zip(got, want))
im = images.to_pydict()
sets = {k: v for k, v in zip(im["image"], im["labels"])}
valid = {}
for w in want:
    if w[9]:
        valid.setdefault(w[0], []).append(w[1])
sets_agree = all(sorted(sets[k] or []) == sorted(valid.get(k, [])) for k in sets)
print(json.dumps({"types": types, "codecs": codecs, "rows": len(got), "same": same,
                  "sets_agree": sets_agree, "answers": answers.num_rows,
                  "methods": sorted(set(d["method"]))}))
"#;
    let got: serde_json::Value =
        serde_json::from_str(&run_python(&py, script, &[s(&out), s(&csv)])).unwrap();
    let csv_rows = fs::read_to_string(&csv).unwrap().lines().count() - 1;
    assert_eq!(got["rows"], csv_rows, "{got}");
    assert_eq!(
        got["same"], true,
        "labels.parquet differs from the CSV: {got}"
    );
    assert_eq!(got["sets_agree"], true, "{got}");
    assert_eq!(got["methods"], serde_json::json!(["frequency"]));
    assert_eq!(got["codecs"], serde_json::json!(["SNAPPY"]));
    let t = &got["types"];
    assert_eq!(
        t["answers"]["image"],
        "dictionary<values=string, indices=int32, ordered=0>"
    );
    assert_eq!(t["answers"]["time"], "timestamp[ms, tz=UTC]");
    assert_eq!(t["answers"]["seconds"], "double");
    assert_eq!(t["images"]["labels"], "list<item: string not null>");
    assert_eq!(t["images"]["label_indices"], "list<item: int32>");
    assert_eq!(t["labels"]["valid"], "bool");
    let store = Store::open(&p.db).unwrap();
    assert_eq!(got["answers"], store.current_answers().unwrap().len());
}

#[test]
fn duckdb_counts_over_answers_parquet_equal_the_reports_per_annotator_counts() {
    let db = real_project();
    let dir = tmp("duckdb_real");
    let out = dir.join("results");
    ok(&["export", s(db), "--format", "parquet", "-o", s(&out)]);
    let report: serde_json::Value =
        serde_json::from_str(&ok(&["report", s(db), "--json"])).unwrap();
    let mut want = BTreeMap::new();
    for a in report["progress"]["annotators"].as_array().unwrap() {
        want.insert(
            a["annotator"].as_str().unwrap().to_string(),
            [
                &a["answers"],
                &a["yes"],
                &a["no"],
                &a["maybe"],
                &a["images"],
            ]
            .map(|v| v.as_u64().unwrap()),
        );
    }
    assert_eq!(want.len(), 85);
    let Some(py) = python() else { return };
    let script = r#"
import json, sys, duckdb
rows = duckdb.sql(f"""
  SELECT annotator::VARCHAR, count(*), count(*) FILTER (answer = 'yes'),
         count(*) FILTER (answer = 'no'), count(*) FILTER (answer = 'maybe'),
         count(DISTINCT image)
  FROM read_parquet('{sys.argv[1]}/answers.parquet') GROUP BY ALL ORDER BY 1""").fetchall()
total = duckdb.sql(f"SELECT count(*) FROM '{sys.argv[1]}/answers.parquet'").fetchall()[0][0]
print(json.dumps({"rows": [list(r) for r in rows], "total": total}))
"#;
    let got: serde_json::Value =
        serde_json::from_str(&run_python(&py, script, &[s(&out)])).unwrap();
    assert_eq!(got["total"], 924_810);
    let got: BTreeMap<String, [u64; 5]> = got["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let r = r.as_array().unwrap();
            (
                r[0].as_str().unwrap().to_string(),
                [1, 2, 3, 4, 5].map(|i| r[i].as_u64().unwrap()),
            )
        })
        .collect();
    assert_eq!(got, want);
}

/// ReaL's own loading code, from its README, then every (image, label, rater) answer against
/// the CSV that was imported.
const READ_NPZ: &str = r#"
import csv, gzip, json, sys
import numpy as np
data = np.load(sys.argv[1])
tensor, info, ids = data['tensor'], data['info'], data['ids']
r, q, k = np.nonzero(tensor)
assert np.all(tensor.sum(axis=2) <= 1), "more than one answer in a cell"
names = ["no", "maybe", "yes"]
rater = (lambda i: "r%d" % ids[i]) if ids.dtype.kind == "i" else (lambda i: str(ids[i]))
got = {(str(info[n][0]), str(info[n][1]), rater(i)): names[a] for i, n, a in zip(r, q, k)}
want = {}
with (gzip.open if sys.argv[2].endswith(".gz") else open)(sys.argv[2], "rt") as f:
    for row in csv.DictReader(f):
        want[(row["image"], row["label_index"], row["rater"])] = row["answer"]
print(json.dumps({"tensor": [str(tensor.dtype), list(tensor.shape)], "info": str(info.dtype),
                  "ids": [str(ids.dtype), len(ids)], "answers": len(got),
                  "same": got == want, "missing": len(set(want) - set(got)),
                  "extra": len(set(got) - set(want))}))
"#;

#[test]
fn raters_npz_read_with_numpy_as_real_does_gives_back_every_real_answer() {
    let db = real_project();
    let dir = tmp("npz_real");
    let npz = dir.join("raters.npz");
    let said = labelvet(&["export", s(db), "--format", "real-npz", "-o", s(&npz)]);
    assert!(
        said.status.success(),
        "{}",
        String::from_utf8_lossy(&said.stderr)
    );
    assert!(
        String::from_utf8_lossy(&said.stderr)
            .contains("wrote 924810 answers of 85 raters to 184962 questions")
    );
    let Some(py) = python() else { return };
    let got: serde_json::Value =
        serde_json::from_str(&run_python(&py, READ_NPZ, &[s(&npz), RATERS])).unwrap();
    assert_eq!(
        got["tensor"],
        serde_json::json!(["float64", [85, 184962, 3]])
    );
    assert_eq!(got["info"], "<U28");
    assert_eq!(got["ids"], serde_json::json!(["int64", 85]));
    assert_eq!(got["answers"], 924_810, "{got}");
    assert_eq!(got["same"], true, "{got}");
}

#[test]
fn raters_npz_with_named_annotators_and_zip64_records_reads_back_the_same() {
    let p = photos();
    let dir = tmp("npz_zip64");
    let store = Store::open(&p.db).unwrap();
    let data = labelvet::analysis::project::ProjectData::load(&store).unwrap();
    // The answers as the CSV the script compares with (the class index is the label).
    let mut csv = String::from("image,label_index,rater,answer\n");
    for a in &data.answers {
        csv.push_str(&format!(
            "{},{},{},{}\n",
            data.images[a.image as usize].key,
            data.classes[a.class as usize].index.unwrap(),
            data.annotators[a.annotator as usize],
            a.answer.as_str()
        ));
    }
    let answers = dir.join("answers.csv");
    fs::write(&answers, csv).unwrap();
    let plain = dir.join("plain.npz");
    let zip64 = dir.join("zip64.npz");
    let mut f = fs::File::create(&plain).unwrap();
    labelvet::export::npz::real_npz(&data, &mut f).unwrap();
    let mut f = fs::File::create(&zip64).unwrap();
    labelvet::export::npz::real_npz_with(&data, &mut f, 0).unwrap();
    f.flush().unwrap();
    let Some(py) = python() else { return };
    for npz in [&plain, &zip64] {
        let got: serde_json::Value =
            serde_json::from_str(&run_python(&py, READ_NPZ, &[s(npz), s(&answers)])).unwrap();
        assert_eq!(got["same"], true, "{}: {got}", npz.display());
        // "r12" alone is r<digits>; the others are not, so ids are strings.
        assert_eq!(got["ids"][0], "<U3", "{got}");
        assert_eq!(got["answers"], data.answers.len());
    }
}

/// The predictions CSV's rows, for writing them as Parquet.
struct PredRow {
    image: String,
    model: String,
    rank: i64,
    label_index: i64,
    wnid: String,
    score: f32,
}

fn prediction_rows() -> Vec<PredRow> {
    let mut rdr = csv::Reader::from_path(PREDICTIONS).unwrap();
    let h = rdr.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (i, m, r, li, w, sc) = (
        col("image"),
        col("model"),
        col("rank"),
        col("label_index"),
        col("wnid"),
        col("score"),
    );
    rdr.records()
        .map(|rec| {
            let rec = rec.unwrap();
            PredRow {
                image: rec[i].to_string(),
                model: rec[m].to_string(),
                rank: rec[r].parse().unwrap(),
                label_index: rec[li].parse().unwrap(),
                wnid: rec[w].to_string(),
                score: rec[sc].parse().unwrap(),
            }
        })
        .collect()
}

fn write_parquet(path: &Path, batch: RecordBatch, rows_per_group: usize) {
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(rows_per_group))
        .build();
    let mut w =
        ArrowWriter::try_new(fs::File::create(path).unwrap(), batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// Long layout: dictionary-encoded image and model, label as the class index (an integer),
/// float32 scores, in row groups of 50 rows.
fn long_parquet(path: &Path, rows: &[PredRow]) {
    let mut image = StringDictionaryBuilder::<Int32Type>::new();
    let mut model = StringDictionaryBuilder::<Int32Type>::new();
    let mut rank = Int64Builder::new();
    let mut label = Int64Builder::new();
    let mut score = Float32Builder::new();
    for r in rows {
        image.append_value(&r.image);
        model.append_value(&r.model);
        rank.append_value(r.rank);
        label.append_value(r.label_index);
        score.append_value(r.score);
    }
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let schema = Arc::new(Schema::new(vec![
        Field::new("image", dict.clone(), false),
        Field::new("model", dict, false),
        Field::new("rank", DataType::Int64, false),
        Field::new("label", DataType::Int64, false),
        Field::new("score", DataType::Float32, false),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(image.finish()),
        Arc::new(model.finish()),
        Arc::new(rank.finish()),
        Arc::new(label.finish()),
        Arc::new(score.finish()),
    ];
    write_parquet(path, RecordBatch::try_new(schema, cols).unwrap(), 50);
}

/// One row per (image, model): `topk` a list of {label: wnid, score} structs, best first.
fn topk_parquet(path: &Path, rows: &[PredRow]) {
    let mut groups: BTreeMap<(String, String), Vec<&PredRow>> = BTreeMap::new();
    for r in rows {
        groups
            .entry((r.image.clone(), r.model.clone()))
            .or_default()
            .push(r);
    }
    let item_fields = Fields::from(vec![
        Field::new("label", DataType::Utf8, true),
        Field::new("score", DataType::Float32, true),
    ]);
    let mut image = StringBuilder::new();
    let mut model = StringBuilder::new();
    let mut topk = ListBuilder::new(StructBuilder::from_fields(item_fields.clone(), 0));
    for ((im, m), mut rs) in groups {
        rs.sort_by_key(|r| r.rank);
        image.append_value(&im);
        model.append_value(&m);
        for r in rs {
            let st = topk.values();
            st.field_builder::<StringBuilder>(0)
                .unwrap()
                .append_value(&r.wnid);
            st.field_builder::<Float32Builder>(1)
                .unwrap()
                .append_value(r.score);
            st.append(true);
        }
        topk.append(true);
    }
    let topk = topk.finish();
    let schema = Arc::new(Schema::new(vec![
        Field::new("image", DataType::Utf8, false),
        Field::new("model", DataType::Utf8, false),
        Field::new("topk", topk.data_type().clone(), true),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(image.finish()),
        Arc::new(model.finish()),
        Arc::new(topk),
    ];
    write_parquet(path, RecordBatch::try_new(schema, cols).unwrap(), 16);
}

/// Every image's candidates with their sources, comparable across projects.
fn candidates(db: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let store = Store::open(db).unwrap();
    store
        .images()
        .unwrap()
        .iter()
        .map(|im| {
            let c = store.candidates(im.id).unwrap();
            let set = c
                .iter()
                .flat_map(|c| {
                    let label = c.label.clone();
                    c.sources
                        .iter()
                        .map(move |s| format!("{label} {} {} {:?}", s.model, s.rank, s.score))
                        .chain(std::iter::once(format!(
                            "{} original={}",
                            c.label, c.is_original
                        )))
                })
                .collect();
            (im.rec.key.clone(), set)
        })
        .collect()
}

#[test]
fn parquet_predictions_in_both_layouts_give_the_candidates_of_the_same_csv() {
    let dir = tmp("pred_roundtrip");
    let rows = prediction_rows();
    let long = dir.join("long.parquet");
    let topk = dir.join("topk.parquet");
    long_parquet(&long, &rows);
    topk_parquet(&topk, &rows);
    let mut seen = Vec::new();
    for (name, file) in [
        ("csv", Path::new(PREDICTIONS)),
        ("long", &long),
        ("topk", &topk),
    ] {
        let db = dir.join(format!("{name}.db"));
        ok(&["init", s(&db), "--images", PHOTOS]);
        let said = ok(&["predictions", "import", s(&db), s(file)]);
        assert!(
            said.contains(&format!("imported {} predictions of 3 models", rows.len())),
            "{said}"
        );
        seen.push((name, candidates(&db)));
    }
    assert!(seen[0].1.values().map(|c| c.len()).sum::<usize>() > 100);
    // Scores went through float32 in the Parquet files; compare them at that precision.
    let round = |m: &BTreeMap<String, BTreeSet<String>>| -> BTreeMap<String, BTreeSet<String>> {
        m.iter()
            .map(|(k, v)| {
                let v = v
                    .iter()
                    .map(|x| match x.rsplit_once(" Some(") {
                        Some((head, num)) => {
                            let f: f64 = num.trim_end_matches(')').parse().unwrap();
                            format!("{head} {:.6}", f as f32)
                        }
                        None => x.clone(),
                    })
                    .collect();
                (k.clone(), v)
            })
            .collect()
    };
    assert_eq!(round(&seen[1].1), round(&seen[0].1), "long Parquet != CSV");
    assert_eq!(round(&seen[2].1), round(&seen[0].1), "top-k Parquet != CSV");
}

#[test]
fn bad_parquet_predictions_name_the_column_and_the_row_group() {
    let dir = tmp("pred_bad");
    let db = dir.join("p.db");
    ok(&["init", s(&db), "--images", PHOTOS]);
    let before = candidates(&db);
    let rows = prediction_rows();

    // rank as text
    let schema = Arc::new(Schema::new(vec![
        Field::new("image", DataType::Utf8, false),
        Field::new("model", DataType::Utf8, false),
        Field::new("rank", DataType::Utf8, false),
        Field::new("label", DataType::Utf8, false),
    ]));
    let text = |f: &dyn Fn(&PredRow) -> String| -> ArrayRef {
        let mut b = StringBuilder::new();
        for r in &rows {
            b.append_value(f(r));
        }
        Arc::new(b.finish())
    };
    let batch = RecordBatch::try_new(
        schema,
        vec![
            text(&|r| r.image.clone()),
            text(&|r| r.model.clone()),
            text(&|r| r.rank.to_string()),
            text(&|r| r.wnid.clone()),
        ],
    )
    .unwrap();
    let mistyped = dir.join("mistyped.parquet");
    write_parquet(&mistyped, batch, 100);
    let e = fails(&["predictions", "import", s(&db), s(&mistyped)]);
    assert!(
        e.contains("mistyped.parquet: row group 1 of 13: column `rank` is Utf8, not an integer"),
        "{e}"
    );

    // no label column
    let mut image = StringBuilder::new();
    let mut rank = Int64Builder::new();
    for r in &rows {
        image.append_value(&r.image);
        rank.append_value(r.rank);
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("image", DataType::Utf8, false),
        Field::new("rank", DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![Arc::new(image.finish()), Arc::new(rank.finish())],
    )
    .unwrap();
    let no_label = dir.join("no_label.parquet");
    write_parquet(&no_label, batch, 100);
    let e = fails(&[
        "predictions",
        "import",
        s(&db),
        s(&no_label),
        "--model",
        "m",
    ]);
    assert!(
        e.contains("no_label.parquet: no label column (expected one of: label, wnid"),
        "{e}"
    );

    // an unknown image in the third row group: the row group and row are named, nothing stored
    let mut bad: Vec<PredRow> = prediction_rows();
    bad[230].image = "nowhere.jpg".into();
    let unknown = dir.join("unknown.parquet");
    long_parquet(&unknown, &bad);
    let e = fails(&["predictions", "import", s(&db), s(&unknown)]);
    assert!(
        e.contains(
            "unknown.parquet: row group 5 of 25, row 31: image nowhere.jpg is not in the project"
        ),
        "{e}"
    );

    // not Parquet, CSV or JSON lines
    let png = dir.join("looks_like.csv");
    fs::copy("../shared/data/photos/curated/skimage__chelsea.png", &png).unwrap();
    let e = fails(&["predictions", "import", s(&db), s(&png)]);
    assert!(
        e.contains("looks_like.csv: not a predictions file labelvet reads; the formats read are Parquet, CSV and JSON lines"),
        "{e}"
    );
    assert_eq!(
        candidates(&db),
        before,
        "a refused import changed the project"
    );
}

#[test]
fn folder_exports_refuse_a_non_empty_folder_without_force() {
    let p = photos();
    let dir = tmp("force");
    let out = dir.join("out");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("notes.txt"), "mine").unwrap();
    for format in ["parquet", "fiftyone"] {
        let e = fails(&["export", s(&p.db), "--format", format, "-o", s(&out)]);
        assert!(e.contains("exists and is not empty"), "{e}");
        assert!(e.contains("--force"), "{e}");
    }
    assert_eq!(fs::read_dir(&out).unwrap().count(), 1);
    ok(&[
        "export",
        s(&p.db),
        "--format",
        "parquet",
        "-o",
        s(&out),
        "--force",
    ]);
    assert_eq!(fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
    assert!(out.join("answers.parquet").exists());
    let e = fails(&["export", s(&p.db), "--format", "parquet"]);
    assert!(
        e.contains("--format parquet writes a folder: -o DIR"),
        "{e}"
    );
    let e = fails(&["export", s(&p.db), "--format", "real-npz"]);
    assert!(e.contains("--format real-npz writes a file"), "{e}");
    let file = dir.join("a-file");
    fs::write(&file, "x").unwrap();
    let e = fails(&[
        "export",
        s(&p.db),
        "--format",
        "parquet",
        "-o",
        s(&file),
        "--force",
    ]);
    assert!(e.contains("is a file"), "{e}");
}

#[test]
fn cleanlab_export_is_one_binary_task_per_question() {
    let p = photos();
    let text = ok(&["export", s(&p.db), "--format", "cleanlab"]);
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        rdr.headers().unwrap().iter().collect::<Vec<_>>(),
        ["task", "annotator", "label", "image", "class"]
    );
    let store = Store::open(&p.db).unwrap();
    let want: BTreeMap<(String, String, String), String> = store
        .current_answers()
        .unwrap()
        .into_iter()
        .filter(|a| a.answer.as_str() != "maybe")
        .map(|a| {
            let v = if a.answer.as_str() == "yes" { "1" } else { "0" };
            ((a.image, a.label, a.annotator), v.to_string())
        })
        .collect();
    let mut got = BTreeMap::new();
    let mut task_of: BTreeMap<(String, String), String> = BTreeMap::new();
    for rec in rdr.records() {
        let r = rec.unwrap();
        let q = (r[3].to_string(), r[4].to_string());
        let task = task_of.entry(q.clone()).or_insert_with(|| r[0].to_string());
        assert_eq!(task, &r[0], "one question, one task");
        got.insert((q.0, q.1, r[1].to_string()), r[2].to_string());
    }
    assert_eq!(got, want);
    let tasks: BTreeSet<&String> = task_of.values().collect();
    assert_eq!(tasks.len(), task_of.len(), "one task, one question");
}

/// The first ```python block of the README after `marker`, as written.
fn readme_python(marker: &str) -> String {
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let rest = &readme[readme.find(marker).expect(marker)..];
    let open = rest.find("```python\n").unwrap() + "```python\n".len();
    let close = rest[open..].find("```").unwrap();
    rest[open..open + close].to_string()
}

/// Whether `python` imports `module` (a package only some tests need); `available`'s rule
/// when it does not.
fn has_module(python: &Path, module: &str) -> bool {
    let found = Command::new(python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    available(
        &format!("{module} in LABELVET_PYTHON (.ci/run installs it)"),
        found,
    )
}

/// The README's cleanlab snippet, run as written in a folder holding the two exports it reads,
/// then its results checked: one row per task with as many annotations as the question has yes
/// and no answers, every annotator scored, consensus labels 0 or 1.
#[test]
fn cleanlab_reads_the_cleanlab_export_with_the_readmes_call() {
    let p = photos();
    let dir = tmp("cleanlab");
    ok(&[
        "export",
        s(&p.db),
        "--format",
        "cleanlab",
        "-o",
        s(&dir.join("cleanlab.csv")),
    ]);
    ok(&[
        "export",
        s(&p.db),
        "--format",
        "parquet",
        "--method",
        "dawid-skene",
        "-o",
        s(&dir.join("results")),
    ]);
    let Some(py) = python() else { return };
    if !has_module(&py, "cleanlab") {
        return;
    }
    let snippet = readme_python("**cleanlab**");
    assert!(snippet.contains("get_label_quality_multiannotator(wide, pred_probs)"));
    let check = r#"
import json
lq = res["label_quality"]
q = pd.read_parquet("results/labels.parquet").set_index(["image", "label"])
counts = (q.yes + q.no).reindex(list(zip(tasks.image, tasks["class"])))
valid = q.valid.reindex(list(zip(tasks.image, tasks["class"])))
print(json.dumps({
    "tasks": len(lq), "task_ids": int(long.task.nunique()), "last_task": int(long.task.max()),
    "wide": list(wide.shape), "annotators": sorted(res["annotator_stats"].index),
    "counts_agree": bool((lq.num_annotations.to_numpy() == counts.to_numpy()).all()),
    "consensus": sorted({int(x) for x in lq.consensus_label}),
    "agrees_with_valid": float((lq.consensus_label.to_numpy() == valid.to_numpy()).mean()),
}))
"#;
    let out = Command::new(&py)
        .arg("-c")
        .arg(format!("{snippet}\n{check}"))
        .current_dir(&dir)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the README's cleanlab snippet failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let tasks = got["task_ids"].as_u64().unwrap();
    assert!(tasks > 100, "{got}");
    assert_eq!(got["tasks"], tasks, "{got}");
    assert_eq!(got["last_task"], tasks - 1, "tasks numbered from 0: {got}");
    assert_eq!(got["wide"], serde_json::json!([tasks, 4]), "{got}");
    assert_eq!(
        got["annotators"],
        serde_json::json!(["ann", "bob", "r12", "zoe"])
    );
    assert_eq!(got["counts_agree"], true, "{got}");
    assert_eq!(got["consensus"], serde_json::json!([0, 1]), "{got}");
    // cleanlab's consensus weighs the answers with the model's probabilities (here our own
    // Dawid-Skene scores), so it mostly gives the label sets back.
    assert!(got["agrees_with_valid"].as_f64().unwrap() > 0.8, "{got}");
}

#[test]
fn fiftyone_labels_are_the_label_sets_and_point_at_the_photos() {
    let p = photos();
    let dir = tmp("fiftyone");
    let out = dir.join("ds");
    ok(&["export", s(&p.db), "--format", "fiftyone", "-o", s(&out)]);
    let labels: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("labels.json")).unwrap()).unwrap();
    let data: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("data.json")).unwrap()).unwrap();
    let classes = labels["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 1000);
    // ImageNet names two classes "crane": both keep their key.
    assert!(
        classes.iter().any(|c| c == "crane (n02012849)"),
        "{:?}",
        &classes[130..135]
    );
    let jsonl = ok(&["export", s(&p.db), "--format", "jsonl"]);
    let mut n = 0;
    for line in jsonl.lines() {
        let rec: serde_json::Value = serde_json::from_str(line).unwrap();
        let key = rec["image"].as_str().unwrap();
        let id = key.rsplit_once('.').unwrap().0;
        let path = data[id].as_str().unwrap();
        assert!(
            Path::new(path).is_absolute() && Path::new(path).exists(),
            "{path}"
        );
        let target = &labels["labels"][id];
        match rec["labels"].as_array() {
            None => assert!(target.is_null()),
            Some(set) => {
                let got: Vec<&str> = target
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| {
                        assert!(t["confidence"].is_number());
                        classes[t["label"].as_u64().unwrap() as usize]
                            .as_str()
                            .unwrap()
                    })
                    .collect();
                let want: Vec<String> = set
                    .iter()
                    .map(|k| {
                        let c = rec["candidates"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .find(|c| &c["label"] == k)
                            .unwrap();
                        c["name"].as_str().unwrap().to_string()
                    })
                    .collect();
                assert_eq!(got.len(), want.len());
                for (g, w) in got.iter().zip(&want) {
                    assert!(g.starts_with(w.as_str()), "{g} vs {w}");
                }
                n += 1;
            }
        }
    }
    assert_eq!(n, 81, "every photo was answered");
}

/// FiftyOne's own importer of a `FiftyOneImageClassificationDataset`, the one
/// `fo.Dataset.from_dir` runs before it stores the samples in MongoDB (the database server is
/// not needed to parse the export, and FiftyOne fetches its own at install time from outside
/// the package registries): every photo found at its path, each label set back as the class
/// names, an image never reviewed without a label.
#[test]
fn fiftyone_importer_reads_the_fiftyone_export() {
    let p = photos();
    let dir = tmp("fiftyone_importer");
    let out = dir.join("ds");
    ok(&["export", s(&p.db), "--format", "fiftyone", "-o", s(&out)]);
    let Some(py) = python() else { return };
    if !has_module(&py, "fiftyone") {
        return;
    }
    let script = r#"
import json, os, sys
import fiftyone as fo
import fiftyone.utils.data as foud
# As the README's `fo.Dataset.from_dir` call: data.json named (the default is a data/ folder).
importer = foud.FiftyOneImageClassificationDatasetImporter(dataset_dir=sys.argv[1],
                                                           data_path="data.json")
samples = {}
with importer:
    classes = importer.get_dataset_info()["classes"]
    for path, meta, label in importer:
        if label is None:
            samples[path] = None
        elif isinstance(label, fo.Classifications):
            samples[path] = sorted(c.label for c in label.classifications)
        else:
            samples[path] = [label.label]
print(json.dumps({"classes": len(classes), "samples": samples,
                  "files": all(os.path.isfile(p) for p in samples)}))
"#;
    let got: serde_json::Value =
        serde_json::from_str(&run_python(&py, script, &[s(&out)])).unwrap();
    assert_eq!(got["classes"], 1000);
    assert_eq!(got["files"], true);
    let root = fs::canonicalize(PHOTOS).unwrap();
    let samples = got["samples"].as_object().unwrap();
    let jsonl = ok(&["export", s(&p.db), "--format", "jsonl"]);
    let mut n = 0;
    for line in jsonl.lines() {
        let rec: serde_json::Value = serde_json::from_str(line).unwrap();
        let key = rec["image"].as_str().unwrap();
        let path = root.join(key);
        let label = &samples[path.to_str().unwrap()];
        let Some(set) = rec["labels"].as_array() else {
            assert!(label.is_null(), "{key}: {label}");
            continue;
        };
        let name = |k: &serde_json::Value| {
            let c = rec["candidates"].as_array().unwrap().iter();
            c.clone().find(|c| &c["label"] == k).unwrap()["name"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let mut want: Vec<String> = set.iter().map(name).collect();
        want.sort();
        // A name two classes share carries its key: "crane (n02012849)".
        let mut got: Vec<String> = label
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let l = l.as_str().unwrap();
                l.split_once(" (n").map_or(l, |(n, _)| n).to_string()
            })
            .collect();
        got.sort();
        assert_eq!(got, want, "{key}");
        n += 1;
    }
    assert_eq!(samples.len(), 81);
    assert_eq!(n, 81, "every photo was answered");
}

#[test]
fn html_report_opens_in_chromium_with_its_figures_and_sortable_tables_offline() {
    let p = photos();
    let dir = tmp("html");
    let page = dir.join("report.html");
    let said = ok(&[
        "report",
        s(&p.db),
        "--method",
        "dawid-skene",
        "--html",
        s(&page),
    ]);
    assert!(said.contains("wrote the report as HTML to"), "{said}");
    let html = fs::read_to_string(&page).unwrap();
    assert!(html.contains("content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\""));
    let lower = html.to_ascii_lowercase();
    for attr in ["src=", "href=", "url(", "@import"] {
        assert!(
            !lower.contains(attr),
            "the page has `{attr}`: it could load something"
        );
    }
    assert_eq!(html.matches("<svg").count(), 5, "five figures inline");
    let Some(chrome) = chromium() else { return };
    let profile = dir.join("profile");
    let base = |extra: &[String]| {
        let mut c = Command::new(&chrome);
        c.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            // Any lookup fails: had the page asked for anything, it could not have had it.
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra);
        c
    };
    let url = format!("file://{}", fs::canonicalize(&page).unwrap().display());
    // The DOM after the script ran, sorted by a link: annotators by yes answers, descending.
    let out = base(&[
        "--virtual-time-budget=2000".into(),
        "--dump-dom".into(),
        format!("{url}#sort=annotators:3:desc"),
    ])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        dom.matches("data-sortable=\"ready\"").count(),
        3,
        "the script ran"
    );
    assert_eq!(dom.matches("<svg").count(), 5);
    for id in [
        "progress",
        "label-sets",
        "per-class",
        "agreement",
        "models",
        "figures",
    ] {
        assert!(dom.contains(&format!("<section id=\"{id}\">")), "{id}");
    }
    let table = &dom[dom.find("id=\"annotators\"").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    assert!(table.contains("aria-sort=\"descending\""), "{table}");
    let yes: Vec<u64> = table
        .split("<tr>")
        .skip(2)
        .map(|row| {
            let cell = row.split("<td data-v=\"").nth(3).unwrap();
            cell[..cell.find('"').unwrap()].parse().unwrap()
        })
        .collect();
    assert_eq!(yes.len(), 4, "{table}");
    assert!(yes.windows(2).all(|w| w[0] >= w[1]), "not sorted: {yes:?}");
    let classes = &dom[dom.find("id=\"classes\"").unwrap()..];
    assert!(
        classes[..classes.find("</table>").unwrap()]
            .matches("<tr>")
            .count()
            > 20
    );

    // A screenshot: the page draws, in more than a few colours.
    let shot = dir.join("report.png");
    let out = base(&[
        "--virtual-time-budget=2000".into(),
        "--hide-scrollbars".into(),
        "--window-size=1280,2400".into(),
        format!("--screenshot={}", shot.display()),
        url,
    ])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = image::open(&shot).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (1280, 2400));
    let colours: BTreeSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    assert!(
        colours.len() > 50,
        "a blank page? {} colours",
        colours.len()
    );
    let dark = img
        .pixels()
        .filter(|p| p.0.iter().all(|&c| c < 100))
        .count();
    assert!(dark > 5_000, "hardly any text drawn: {dark} dark pixels");
}
