//! `labelvet judgments import`: answers made elsewhere into a project.

use std::path::Path;

use anyhow::Result;

use crate::cli::JudgmentFormatArg;
use labelvet::ingest::judgments::{JudgmentFormat, JudgmentImportOptions, import_judgments};
use labelvet::store::Store;

pub fn import(
    project: &Path,
    file: &Path,
    format: Option<JudgmentFormatArg>,
    annotator: Option<String>,
) -> Result<()> {
    let mut store = Store::open(project)?;
    let format = format.map(|f| match f {
        JudgmentFormatArg::Csv => JudgmentFormat::Csv,
        JudgmentFormatArg::Jsonl => JudgmentFormat::Jsonl,
        JudgmentFormatArg::Prodigy => JudgmentFormat::Prodigy,
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
