//! `labelvet gold import` and `gold list`: experts' answers to gold questions, whose majority
//! scores the annotators in `report`; and `labelvet verdicts import`, experts' verdicts made
//! elsewhere, read the same way.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::Result;

use super::StdoutPipe;
use crate::cli::{GoldImportArgs, GoldListArgs};
use labelvet::analysis::reliability::{GoldListed, gold_list};
use labelvet::ingest::images::spinner;
use labelvet::ingest::judgments::{ImportInto, JudgmentImportOptions, import_judgments};
use labelvet::store::Store;
use labelvet::text::display;
use labelvet::words::count;

pub fn import(args: GoldImportArgs) -> Result<()> {
    let GoldImportArgs {
        project,
        file,
        annotator,
    } = args;
    let mut store = Store::open(&project)?;
    let annotator = annotator.unwrap_or_else(|| "gold".into());
    import_answers(
        &mut store,
        &file,
        annotator,
        ImportInto::Gold,
        "gold answer",
    )?;
    let gold = gold_list(&store)?;
    let truth = gold.iter().filter(|q| q.truth.is_some()).count();
    let ties: Vec<&GoldListed> = gold
        .iter()
        .filter(|q| q.truth.is_none() && q.yes > 0)
        .collect();
    let maybe_only = gold.len() - truth - ties.len();
    outln!(
        "the project's gold: {} with a truth (the experts' majority of yes against no)",
        count(truth as u64, "question")
    );
    if !ties.is_empty() {
        outln!(
            "not gold: {} where yes and no tie (labelvet gold list {} --ties):",
            count(ties.len() as u64, "question"),
            project.display()
        );
        for q in ties.iter().take(10) {
            outln!(
                "  {}  {}  {} yes, {} no",
                display(&q.image),
                display(&q.label),
                q.yes,
                q.no
            );
        }
        if ties.len() > 10 {
            outln!("  ... and {} more", ties.len() - 10);
        }
    }
    if maybe_only > 0 {
        outln!(
            "not gold: {} that the experts answered only maybe",
            count(maybe_only as u64, "question")
        );
    }
    Ok(())
}

/// `labelvet verdicts import`: experts' verdicts made elsewhere.
pub fn import_verdicts(args: GoldImportArgs) -> Result<()> {
    let mut store = Store::open(&args.project)?;
    let annotator = args.annotator.unwrap_or_else(|| "expert".into());
    import_answers(
        &mut store,
        &args.file,
        annotator,
        ImportInto::Verdicts,
        "verdict",
    )?;
    outln!("next: labelvet report {}", args.project.display());
    Ok(())
}

/// Imports `file` as gold answers or verdicts and says what came in.
fn import_answers(
    store: &mut Store,
    file: &Path,
    annotator: String,
    into: ImportInto,
    noun: &str,
) -> Result<()> {
    let busy = spinner(
        &format!("importing the {noun}s of {}", file.display()),
        std::io::stderr().is_terminal(),
    );
    let r = import_judgments(
        store,
        file,
        &JudgmentImportOptions {
            format: None,
            annotator: Some(annotator),
            into,
        },
    );
    busy.finish_and_clear();
    let r = r?;
    outln!(
        "read {} by {} to {} on {}",
        count(r.rows, noun),
        count(r.annotators as u64, "expert"),
        count(r.questions as u64, "question"),
        count(r.images as u64, "image")
    );
    outln!(
        "added {} new; {} were already in the project",
        r.added,
        r.already
    );
    Ok(())
}

pub fn list(args: GoldListArgs) -> Result<()> {
    let store = Store::open(&args.project)?;
    let gold = gold_list(&store)?;
    let mut out = StdoutPipe::default();
    let shown = gold
        .iter()
        .filter(|q| !args.ties || (q.truth.is_none() && q.yes > 0));
    if args.json {
        for q in shown {
            let mut line = serde_json::to_string(q)?;
            line.push('\n');
            out.write_all(line.as_bytes())?;
        }
        return Ok(());
    }
    if gold.is_empty() {
        writeln!(
            out,
            "{} has no gold questions: labelvet gold import {} FILE",
            args.project.display(),
            args.project.display()
        )?;
        return Ok(());
    }
    writeln!(out, "image\tlabel\ttruth\tyes\tno\tmaybe\texperts")?;
    for q in shown {
        let experts: Vec<String> = q
            .experts
            .iter()
            .map(|(e, a)| format!("{}:{a}", display(e)))
            .collect();
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            display(&q.image),
            display(&q.label),
            q.truth
                .unwrap_or(if q.yes > 0 { "tie" } else { "maybe-only" }),
            q.yes,
            q.no,
            q.maybe,
            experts.join(" ")
        )?;
    }
    Ok(())
}
