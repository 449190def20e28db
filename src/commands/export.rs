//! `labelvet export`: label sets and answers in the formats other tools read.

use std::io::Write;

use anyhow::Result;

use super::{StdoutPipe, aggregate_project};
use crate::cli::{ExportArgs, ExportFormatArg, MethodArg};
use labelvet::export::{ExportFormat, export, write_file_atomically};
use labelvet::store::Store;

pub fn run(args: ExportArgs) -> Result<()> {
    let ExportArgs {
        project,
        format,
        output,
        results,
    } = args;
    let store = Store::open(&project)?;
    let (data, res) = aggregate_project(&store, &results)?;
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
    };
    match output.as_deref() {
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
