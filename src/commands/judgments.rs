//! `labelvet judgments import`: answers made elsewhere into a project.

use std::path::Path;

use anyhow::Result;

use crate::cli::JudgmentFormatArg;
use labelvet::ingest::classify::{ClassifyImportOptions, import_classify, looks_like_classify};
use labelvet::ingest::judgments::{JudgmentFormat, JudgmentImportOptions, import_judgments};
use labelvet::store::Store;

pub fn import(
    project: &Path,
    file: &Path,
    format: Option<JudgmentFormatArg>,
    annotator: Option<String>,
) -> Result<()> {
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
    let r = import_judgments(
        &mut store,
        file,
        &JudgmentImportOptions { format, annotator },
    )?;
    println!(
        "read {} answers ({}) by {} annotator{} to {} questions on {} images",
        r.rows,
        r.format.as_str(),
        r.annotators,
        if r.annotators == 1 { "" } else { "s" },
        r.questions,
        r.images
    );
    println!(
        "added {} new; {} were already in the project",
        r.added, r.already
    );
    let (mean, min, max) = store.candidate_stats()?;
    println!("candidates per image: mean {mean:.1}, min {min}, max {max}");
    println!("next: labelvet report {}", project.display());
    Ok(())
}

/// The classify-jsonl half of `judgments import` (see `ingest::classify`).
fn import_classify_answers(
    store: &mut Store,
    project: &Path,
    file: &Path,
    annotator: Option<String>,
) -> Result<()> {
    let r = import_classify(store, file, &ClassifyImportOptions { annotator })?;
    println!(
        "read {} classify answers by {} annotator{} on {} images",
        r.rows,
        r.annotators,
        if r.annotators == 1 { "" } else { "s" },
        r.images
    );
    println!(
        "added {} new; {} were already in the project",
        r.added, r.already
    );
    println!("next: labelvet report {}", project.display());
    Ok(())
}
