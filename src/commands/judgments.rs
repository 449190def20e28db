//! `labelvet judgments import`: answers made elsewhere into a project.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Result;

use crate::cli::{JudgmentFormatArg, JudgmentsImportArgs};
use labelvet::ingest::classify::{ClassifyImportOptions, import_classify, looks_like_classify};
use labelvet::ingest::images::spinner;
use labelvet::ingest::judgments::{JudgmentFormat, JudgmentImportOptions, import_judgments};
use labelvet::store::Store;
use labelvet::words::count;

pub fn run(args: JudgmentsImportArgs) -> Result<()> {
    let JudgmentsImportArgs {
        project,
        file,
        format,
        annotator,
    } = args;
    let (project, file) = (project.as_path(), file.as_path());
    let mut store = Store::open(project)?;
    let classify = match format {
        Some(f) => matches!(f, JudgmentFormatArg::ClassifyJsonl),
        None => looks_like_classify(file)?,
    };
    if classify {
        return import_classify_answers(&mut store, project, file, annotator);
    }
    let format = format.map(|f| match f {
        JudgmentFormatArg::Csv => JudgmentFormat::Csv,
        JudgmentFormatArg::Jsonl => JudgmentFormat::Jsonl,
        JudgmentFormatArg::Prodigy => JudgmentFormat::Prodigy,
        JudgmentFormatArg::ClassifyJsonl => unreachable!("classify answers are read above"),
    });
    let busy = spinner(
        &format!("importing the answers of {}", file.display()),
        std::io::stderr().is_terminal(),
    );
    let r = import_judgments(
        &mut store,
        file,
        &JudgmentImportOptions {
            format,
            annotator,
            ..Default::default()
        },
    );
    busy.finish_and_clear();
    let r = r?;
    outln!(
        "read {} ({}) by {} to {} on {}",
        count(r.rows, "answer"),
        r.format.as_str(),
        count(r.annotators as u64, "annotator"),
        count(r.questions as u64, "question"),
        count(r.images as u64, "image")
    );
    outln!(
        "added {} new; {} were already in the project",
        r.added,
        r.already
    );
    let (mean, min, max) = store.candidate_stats()?;
    outln!("candidates per image: mean {mean:.1}, min {min}, max {max}");
    outln!("next: labelvet report {}", project.display());
    Ok(())
}

/// The classify-jsonl half of `judgments import` (see `ingest::classify`).
fn import_classify_answers(
    store: &mut Store,
    project: &Path,
    file: &Path,
    annotator: Option<String>,
) -> Result<()> {
    let busy = spinner(
        &format!("importing the classify answers of {}", file.display()),
        std::io::stderr().is_terminal(),
    );
    let r = import_classify(store, file, &ClassifyImportOptions { annotator });
    busy.finish_and_clear();
    let r = r?;
    outln!(
        "read {} by {} on {}",
        count(r.rows, "classify answer"),
        count(r.annotators as u64, "annotator"),
        count(r.images as u64, "image")
    );
    outln!(
        "added {} new; {} were already in the project",
        r.added,
        r.already
    );
    outln!("next: labelvet report {}", project.display());
    Ok(())
}
