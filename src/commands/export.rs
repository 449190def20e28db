//! `labelvet export`: label sets and answers in the formats other tools read.

use std::io::Write;

use anyhow::{Context, Result, bail};

use super::{StdoutPipe, aggregate_loaded, aggregate_project};
use crate::cli::{ExportArgs, ExportFormatArg, MethodArg};
use labelvet::analysis::project::ProjectData;
use labelvet::export::fiftyone::write_fiftyone;
use labelvet::export::npz::real_npz;
use labelvet::export::parquet::write_parquet_with;
use labelvet::export::{
    ExportFormat, check_output_file, export, prepare_output_dir, write_file_atomically,
};
use labelvet::store::Store;

pub fn run(args: ExportArgs) -> Result<()> {
    let ExportArgs {
        project,
        format,
        output,
        force,
        results,
    } = args;
    let output = output.as_deref();
    let store = Store::open(&project)?;
    // Formats that write a folder or a binary file need -o, checked before the (possibly long)
    // aggregation.
    let needs = match format {
        ExportFormatArg::Parquet => Some("--format parquet writes a folder: -o DIR"),
        ExportFormatArg::Fiftyone => Some("--format fiftyone writes a folder: -o DIR"),
        ExportFormatArg::RealNpz => Some("--format real-npz writes a file: -o raters.npz"),
        _ => None,
    };
    if let (Some(what), None) = (needs, output) {
        bail!("{what}");
    }
    match (format, output) {
        (ExportFormatArg::Parquet | ExportFormatArg::Fiftyone, Some(dir)) => {
            prepare_output_dir(dir, force)?
        }
        // Before the aggregation: an export never replaces its inputs, nor a file unasked.
        (_, Some(file)) => {
            let mut inputs = vec![project.as_path()];
            inputs.extend(results.scores.as_deref());
            check_output_file(file, &inputs, force)?
        }
        (_, None) => {}
    }
    // Parquet's answers.parquet holds every current answer: read once, for the results and it.
    let mut table = None;
    let (data, res, quality) = if matches!(format, ExportFormatArg::Parquet) {
        aggregate_loaded(&store, &results, false, |s| {
            let (data, t) = ProjectData::load_with_answers(s)?;
            table = Some(t);
            Ok(data)
        })?
    } else {
        aggregate_project(&store, &results, false)?
    };
    super::say_left_out(&quality);
    if let Some(ds) = res.ds
        && !ds.converged
    {
        eprintln!(
            "warning: Dawid-Skene stopped at its cap of {} iterations before converging",
            ds.max_iter
        );
    }
    if res.unscored_questions > 0 {
        eprintln!(
            "warning: {} answered questions have no score in the scores file; exported as not valid",
            res.unscored_questions
        );
    }
    let format = match format {
        ExportFormatArg::Jsonl => ExportFormat::Jsonl,
        ExportFormatArg::Csv => ExportFormat::Csv,
        ExportFormatArg::RealJson => ExportFormat::RealJson,
        ExportFormatArg::Prodigy => ExportFormat::Prodigy,
        ExportFormatArg::ClassifyJsonl => ExportFormat::ClassifyJsonl,
        ExportFormatArg::Cleanlab => ExportFormat::Cleanlab,
        ExportFormatArg::Parquet => {
            let dir = output.expect("checked above");
            let table = table.take().expect("read with the data");
            let s = write_parquet_with(&table, &data, &res, dir)
                .with_context(|| format!("exporting to {}", dir.display()))?;
            eprintln!(
                "wrote {} answers, {} questions and {} images (parquet) to {}",
                s.answers,
                s.labels,
                s.images,
                files(&s.files)
            );
            return Ok(());
        }
        ExportFormatArg::Fiftyone => {
            let dir = output.expect("checked above");
            let root = store.meta()?.image_root.map(std::path::PathBuf::from);
            let s = write_fiftyone(&data, &res, dir, root.as_deref())
                .with_context(|| format!("exporting to {}", dir.display()))?;
            eprintln!(
                "wrote {} images, {} with a label set (fiftyone) to {}",
                s.images,
                s.labelled,
                files(&s.files)
            );
            match &s.image_root {
                Some(root) => eprintln!("data.json points at the images in {}", root.display()),
                None => eprintln!(
                    "the project has no image folder: give it to FiftyOne as data_path=\"/path/to/images\""
                ),
            }
            return Ok(());
        }
        ExportFormatArg::RealNpz => {
            let path = output.expect("checked above");
            let mut summary = None;
            write_file_atomically(path, |w| {
                let s = real_npz(&data, w)?;
                let n = s.answers as u64;
                summary = Some(s);
                Ok(n)
            })?;
            let s = summary.expect("written");
            eprintln!(
                "wrote {} answers of {} raters to {} questions (real-npz) to {}",
                s.answers,
                s.raters,
                s.questions,
                path.display()
            );
            return Ok(());
        }
    };
    if format == ExportFormat::RealJson {
        // A real.json made with another rule than ReaL's looks just like one made with it.
        let method = match (&results.scores, results.method) {
            (Some(f), _) => format!("the scores in {}", f.display()),
            (None, MethodArg::Frequency) => "selection frequency".into(),
            (None, MethodArg::DawidSkene) => "dawid-skene".into(),
        };
        eprintln!(
            "real-json: a label is valid when its score by {method} is >= {}",
            results.threshold
        );
        if results.scores.is_none() && results.method == MethodArg::Frequency {
            eprintln!(
                "  (ImageNet-ReaL's rule is Dawid-Skene >= 0.8: --method dawid-skene \
                 --threshold 0.8, or --scores with its published scores)"
            );
        }
    }
    let what = match format {
        ExportFormat::Jsonl | ExportFormat::RealJson => "images",
        ExportFormat::Csv => "questions",
        ExportFormat::Prodigy => "answers",
        ExportFormat::ClassifyJsonl => "classify answers",
        ExportFormat::Cleanlab => "yes/no answers",
    };
    match output {
        Some(path) => {
            let n = write_file_atomically(path, |w| export(&store, &data, &res, format, w))?;
            eprintln!(
                "wrote {n} {what} ({}) to {}",
                format.as_str(),
                path.display()
            );
        }
        None => {
            let mut w = std::io::BufWriter::new(StdoutPipe::default());
            export(&store, &data, &res, format, &mut w)?;
            w.flush()?;
        }
    }
    Ok(())
}

fn files(paths: &[std::path::PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
