//! `labelvet report`: the results of a project in the terminal, as JSON, and as figures.

use std::io::Write;

use anyhow::{Context, Result};

use super::aggregate_project;
use crate::cli::{ClassifyTiesArg, ReportArgs};
use labelvet::analysis::classify::{ClassifySummary, ClassifyTies};
use labelvet::analysis::report::Report;
use labelvet::analysis::stopping::{Rule, Settlement};
use labelvet::export::html::report_html;
use labelvet::export::plots::write_plots;
use labelvet::export::{check_output_file, prepare_output_dir, write_file_atomically};
use labelvet::store::Store;

pub fn run(args: ReportArgs) -> Result<()> {
    let ReportArgs {
        project,
        results: args,
        json,
        until,
        plots,
        html,
        force,
    } = &args;
    // The rule first: a typo is reported before a large project is read.
    let until: Option<Rule> = until.as_deref().map(str::parse).transpose()?;
    let (json, plots, html) = (*json, plots.as_deref(), html.as_deref());
    let store = Store::open(project)?;
    // Checked before the work: the outputs never replace an input, nor a file unasked.
    let mut inputs = vec![project.as_path()];
    inputs.extend(args.scores.as_deref());
    if let Some(file) = html {
        check_output_file(file, &inputs, *force)?;
    }
    if let Some(dir) = plots {
        prepare_output_dir(dir, *force)?;
    }
    let (data, res, quality) = aggregate_project(&store, args, true)?;
    let mut report = Report::build(&data, &res);
    let until = until
        .as_ref()
        .map(|rule| Settlement::of(&data, rule).summary(rule, data.candidate_questions));
    if let Some(r) = quality.reliability {
        report.set_quality(r, quality.left_out);
    }
    let ties = match args.classify_ties {
        ClassifyTiesArg::FirstGiven => ClassifyTies::FirstGiven,
        ClassifyTiesArg::Original => ClassifyTies::Original,
    };
    report.classify = ClassifySummary::load_with(&store, &data, ties)?;
    report.scores_file = args.scores.as_ref().map(|p| p.display().to_string());
    let made = match plots {
        Some(dir) => Some(
            write_plots(&report, dir)
                .with_context(|| format!("drawing the figures into {}", dir.display()))?,
        ),
        None => None,
    };
    if let Some(file) = html {
        let page = report_html(&report, &data, &res)
            .with_context(|| format!("drawing the figures for {}", file.display()))?;
        write_file_atomically(file, |w| {
            w.write_all(page.as_bytes())
                .map_err(|e| labelvet::error::Error::io(file, e))?;
            Ok(page.len() as u64)
        })?;
    }
    let mut out = super::StdoutPipe::default();
    if json {
        // stdout stays pure JSON; what else there is to say goes to stderr.
        for w in &report.warnings {
            eprintln!("warning: {}", labelvet::text::display(w));
        }
        let mut v = serde_json::to_value(&report)?;
        if let (Some(u), Some(o)) = (&until, v.as_object_mut()) {
            o.insert("until".into(), serde_json::to_value(u)?);
        }
        let mut json = serde_json::to_string_pretty(&v)?;
        json.push('\n');
        out.write_all(json.as_bytes())?;
    } else {
        write!(out, "{report}")?;
        if let Some(u) = &until {
            write!(out, "\n{u}")?;
        }
    }
    if let Some(file) = html {
        let say = format!("wrote the report as HTML to {}", file.display());
        if json {
            eprintln!("{say}");
        } else {
            writeln!(out, "\n{say}")?;
        }
    }
    if let (Some(dir), Some(made)) = (plots, made) {
        let mut say = String::new();
        if made.files.is_empty() {
            say.push_str(&format!("drew no figures into {}", dir.display()));
        } else {
            say.push_str(&format!(
                "wrote {} figure files (SVG and PNG) to {}",
                made.files.len(),
                dir.display()
            ));
        }
        for s in &made.skipped {
            say.push_str(&format!("\n  not drawn: {s}"));
        }
        if json {
            eprintln!("{say}");
        } else {
            writeln!(out, "\n{say}")?;
        }
    }
    Ok(())
}
