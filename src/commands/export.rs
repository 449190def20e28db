//! `labelvet export`: label sets and answers in the formats other tools read.

use std::io::Write;
use std::path::Path;

use anyhow::Result;

use crate::cli::{ExportFormatArg, MethodArg, ResultsArgs};
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
        ExportFormatArg::ClassifyJsonl => ExportFormat::ClassifyJsonl,
    };
    if format == ExportFormat::RealJson {
        // A real.json made with another rule than ReaL's looks just like one made with it.
        let method = match (&args.scores, args.method) {
            (Some(f), _) => format!("the scores in {}", f.display()),
            (None, MethodArg::Frequency) => "selection frequency".into(),
            (None, MethodArg::DawidSkene) => "dawid-skene".into(),
        };
        eprintln!(
            "real-json: a label is valid when its score by {method} is >= {}",
            args.threshold
        );
        if args.scores.is_none() && args.method == MethodArg::Frequency {
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

/// Standard output that treats a closed pipe (`labelvet export ... | head`) as the reader having
/// seen enough: the rest is dropped quietly instead of failing the command.
#[derive(Default)]
pub struct StdoutPipe {
    closed: bool,
}

impl Write for StdoutPipe {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match std::io::stdout().lock().write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(buf.len())
            }
            r => r,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match std::io::stdout().lock().flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            r => r,
        }
    }
}
