//! `labelvet simulate`: replay a project's complete answers under a stopping rule, or a range
//! of rules (`--sweep`) drawn as one figure.

use std::io::Write;

use anyhow::{Context, Result};
use labelvet::analysis::project::ProjectData;
use labelvet::analysis::simulate::{Figures, SWEEP, SimOptions, Simulation, simulate};
use labelvet::analysis::stopping::Rule;
use labelvet::export::plots::{SweepPoint, SweepSeries, write_sweep};
use labelvet::export::prepare_output_dir;
use labelvet::store::Store;

use crate::cli::SimulateArgs;

pub fn run(args: SimulateArgs) -> Result<()> {
    // The rule first: a typo is reported before a large project is read.
    let rule: Option<Rule> = args.until.as_deref().map(str::parse).transpose()?;
    if let Some(dir) = &args.sweep {
        prepare_output_dir(dir, args.force)?;
    }
    let store = Store::open(&args.project)?;
    let data = ProjectData::load(&store)?;
    let opts = |rule: Rule| SimOptions {
        rule,
        seed: args.seed,
        repeats: args.repeats,
        threshold: args.threshold,
    };
    let mut out = super::StdoutPipe::default();
    if let Some(rule) = rule {
        let sim = simulate(&data, &opts(rule))?;
        if args.json {
            let mut json = serde_json::to_string_pretty(&sim)?;
            json.push('\n');
            out.write_all(json.as_bytes())?;
        } else {
            out.write_all(text(&sim).as_bytes())?;
        }
        return Ok(());
    }
    let dir = args.sweep.as_deref().expect("clap: --until or --sweep");
    let mut series = Vec::new();
    let mut all = Vec::new();
    for (family, rules) in SWEEP {
        let mut points = Vec::new();
        for r in *rules {
            let sim = simulate(&data, &opts(r.parse()?))?;
            if !args.json {
                writeln!(
                    out,
                    "{:<22} {:>6.1}% of answers   validity {:>6.2}%   label sets {:>6.2}%   \
                     dawid-skene {} {:>6.2}%",
                    r,
                    100.0 * sim.frequency.share_used,
                    100.0 * sim.frequency.validity_agreement,
                    100.0 * sim.frequency.label_set_agreement,
                    sim.threshold,
                    100.0 * sim.dawid_skene.validity_agreement,
                )?;
            }
            points.push(SweepPoint {
                rule: r.to_string(),
                share_used: sim.frequency.share_used,
                agreement: sim.frequency.validity_agreement,
            });
            all.push(sim);
        }
        series.push(SweepSeries {
            name: family.to_string(),
            points,
        });
    }
    let title = format!(
        "Answers used against validity agreement (frequency >= 0.5), {} questions",
        all.first().map_or(0, |s| s.questions)
    );
    let made = write_sweep(&title, &series, dir)
        .with_context(|| format!("drawing the sweep into {}", dir.display()))?;
    let say = format!(
        "wrote {} ({} files)",
        made.files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        made.files.len()
    );
    if args.json {
        let mut json = serde_json::to_string_pretty(&all)?;
        json.push('\n');
        out.write_all(json.as_bytes())?;
        eprintln!("{say}");
    } else {
        writeln!(out, "{say}")?;
    }
    Ok(())
}

fn text(s: &Simulation) -> String {
    let mut t = String::new();
    let rule = if s.rule == s.rule_spelled {
        s.rule.clone()
    } else {
        format!("{} ({})", s.rule, s.rule_spelled)
    };
    let seeds = if s.repeats == 1 {
        format!("seed {}", s.seed)
    } else {
        format!(
            "median of {} replays, seeds {}..{}",
            s.repeats,
            s.seed,
            s.seed.wrapping_add(s.repeats as u64 - 1)
        )
    };
    t.push_str(&format!(
        "rule {rule}: {} questions on {} images, {seeds}\n",
        s.questions, s.images
    ));
    t.push_str(&format!(
        "answers used: {} of {} ({:.1}%)\n",
        s.frequency.answers_used,
        s.frequency.answers_total,
        100.0 * s.frequency.share_used
    ));
    t.push_str("agreement with all the answers:   validity   label sets\n");
    let row = |name: String, f: &Figures| {
        format!(
            "  {name:<31}{:>8.2}%{:>12.2}%\n",
            100.0 * f.validity_agreement,
            100.0 * f.label_set_agreement
        )
    };
    t.push_str(&row(
        format!("frequency >= {}", s.frequency_threshold),
        &s.frequency,
    ));
    t.push_str(&row(
        format!("dawid-skene >= {}", s.threshold),
        &s.dawid_skene,
    ));
    t.push_str(&format!("learned from: {}\n", s.learned_from));
    t
}
