//! `labelvet export`: label sets and answers in the formats other tools read.

use std::io::Write;
use std::path::Path;

use anyhow::Result;

use crate::cli::{ExportFormatArg, ResultsArgs};
use labelvet::export::{ExportFormat, export, write_file_atomically};
use labelvet::store::Store;

pub fn run(
    project: &Path,
    format: ExportFormatArg,
    output: Option<&Path>,
    args: &ResultsArgs,
) -> Result<()> {
    let store = Store::open(project)?;
    let (data, res) = super::report::aggregate_project(&store, args)?;
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
    };
    let what = match format {
        ExportFormat::Jsonl | ExportFormat::RealJson => "images",
        ExportFormat::Csv => "questions",
        ExportFormat::Prodigy => "answers",
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
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            export(&store, &data, &res, format, &mut w)?;
            w.flush()?;
        }
    }
    Ok(())
}
