//! `labelvet merge`: annotators' files into a project, printing what came from each.

use anyhow::{Context, Result, bail};

use labelvet::store::Store;
use labelvet::store::merge::{MergeOptions, SourceReport};

use crate::cli::MergeArgs;

pub fn run(args: MergeArgs) -> Result<()> {
    let MergeArgs {
        target,
        sources,
        dry_run,
        keep_target,
        allow_other_project,
    } = args;
    let opts = MergeOptions {
        dry_run,
        keep_target,
        allow_other_project,
    };
    let (target, sources) = (target.as_path(), &sources[..]);
    let mut store = Store::open(target)?;
    let n = sources.len();
    let mut done = 0;
    // Progress goes to stderr as each source is merged; the summary waits for the commit.
    let report = store
        .merge(sources, &opts, &mut |r| {
            done += 1;
            eprintln!(
                "[{done}/{n}] {}: {} new events, {} already present",
                r.path.display(),
                r.new_events,
                r.duplicate_events
            );
        })
        .with_context(|| format!("nothing was merged into {}", target.display()))?;

    if opts.dry_run {
        println!(
            "dry run: nothing was written to {}; merging would bring:",
            target.display()
        );
    } else {
        println!(
            "merged {} file{} into {}: {} new events, {} already present",
            n,
            if n == 1 { "" } else { "s" },
            target.display(),
            report.new_events(),
            report.duplicate_events()
        );
    }
    for r in &report.sources {
        print_source(r, opts.keep_target || !opts.dry_run);
    }
    if report.would_stop() {
        bail!(
            "a merge would stop: {} image{} have different bytes under the same key; \
             merge with --keep-target to keep the target's images",
            report.conflicts(),
            if report.conflicts() == 1 { "" } else { "s" }
        );
    }
    Ok(())
}

fn print_source(r: &SourceReport, kept: bool) {
    println!(
        "{}: {}, schema {}{}",
        r.path.display(),
        if r.same_project {
            "same project".to_string()
        } else {
            format!("another project ({})", r.project_uuid)
        },
        r.schema_version,
        if r.vocab_differs {
            ", a different vocabulary (every class it uses is in the target)"
        } else {
            ""
        }
    );
    if let Some(note) = &r.recovered {
        println!("  {note}");
    }
    println!(
        "  events: {} new, {} already present",
        r.new_events, r.duplicate_events
    );
    for a in &r.annotators {
        println!(
            "    {:<24} {} new, {} already present",
            a.annotator, a.new_events, a.duplicate_events
        );
    }
    if r.new_flags + r.duplicate_flags > 0 {
        println!(
            "  flags: {} new, {} already present",
            r.new_flags, r.duplicate_flags
        );
    }
    if r.new_classify + r.duplicate_classify > 0 {
        println!(
            "  classify answers: {} new, {} already present",
            r.new_classify, r.duplicate_classify
        );
    }
    println!("  images: {} new", r.new_images);
    if !r.new_models.is_empty() {
        println!("  new models: {}", r.new_models.join(", "));
    }
    if !r.differing_models.is_empty() {
        println!(
            "  models imported differently on the two sides (kept the target's rows, added \
             the rest): {}",
            r.differing_models.join(", ")
        );
    }
    if r.new_predictions > 0 {
        println!("  predictions: {} new", r.new_predictions);
    }
    if !r.conflicts.is_empty() {
        println!(
            "  conflicts: {} image{} with different bytes under the same key{}",
            r.conflicts.len(),
            if r.conflicts.len() == 1 { "" } else { "s" },
            if kept {
                "; the target's image records are kept"
            } else {
                ""
            }
        );
        for c in r.conflicts.iter().take(20) {
            println!(
                "    {}  target {}  source {}",
                c.key, c.target_sha256, c.source_sha256
            );
        }
        if r.conflicts.len() > 20 {
            println!("    ... and {} more", r.conflicts.len() - 20);
        }
        if r.events_on_conflicts > 0 {
            println!(
                "  {} new events are about those images",
                r.events_on_conflicts
            );
        }
    }
}
