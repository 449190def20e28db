//! `labelvet report`: the results of a project in the terminal, as JSON, and as figures.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::cli::{MethodArg, ResultsArgs};
use labelvet::analysis::classify::ClassifySummary;
use labelvet::analysis::project::Scores;
use labelvet::analysis::project::{Method, Options, ProjectData, Results, aggregate};
use labelvet::analysis::report::Report;
use labelvet::export::plots::write_plots;
use labelvet::ingest::scores::read_scores;
use labelvet::store::Store;

/// Reads the project and aggregates its answers as `args` say; shared with `export` so that the
/// two always agree.
pub fn aggregate_project(store: &Store, args: &ResultsArgs) -> Result<(ProjectData, Results)> {
    let scores = match &args.scores {
        Some(file) => Some(Scores::from(read_scores(store, file)?)),
        None => None,
    };
    let method = match (&scores, args.method) {
        (Some(_), _) => Method::Given,
        (None, MethodArg::Frequency) => Method::Frequency,
        (None, MethodArg::DawidSkene) => Method::DawidSkene,
    };
    let data =
        ProjectData::load(store).with_context(|| format!("reading {}", store.path().display()))?;
    let opts = Options {
        method,
        threshold: args.threshold,
        ..Options::default()
    };
    let res = aggregate(&data, &opts, scores.as_ref())?;
    Ok((data, res))
}

pub fn run(project: &Path, args: &ResultsArgs, json: bool, plots: Option<&Path>) -> Result<()> {
    let store = Store::open(project)?;
    let (data, res) = aggregate_project(&store, args)?;
    let mut report = Report::build(&data, &res);
    report.classify = ClassifySummary::load(&store, &data)?;
    report.scores_file = args.scores.as_ref().map(|p| p.display().to_string());
    let made = match plots {
        Some(dir) => Some(
            write_plots(&report, dir)
                .with_context(|| format!("drawing the figures into {}", dir.display()))?,
        ),
        None => None,
    };
    let mut out = super::export::StdoutPipe::default();
    if json {
        // stdout stays pure JSON; what else there is to say goes to stderr.
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
        let mut json = serde_json::to_string_pretty(&report)?;
        json.push('\n');
        out.write_all(json.as_bytes())?;
    } else {
        write!(out, "{report}")?;
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
