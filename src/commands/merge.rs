//! `labelvet merge`: annotators' files into a project, printing what came from each.

use anyhow::{Context, Result, bail};

use labelvet::store::Store;
use labelvet::store::merge::{KindCounts, MergeOptions, SourceReport};
use labelvet::text::{display, display_path};

use crate::cli::MergeArgs;

pub fn run(args: MergeArgs) -> Result<()> {
    let MergeArgs {
        target,
        sources,
        dry_run,
        keep_target,
        allow_other_project,
        allow_other_annotators,
    } = args;
    let opts = MergeOptions {
        dry_run,
        keep_target,
        allow_other_project,
        allow_other_annotators,
        ..MergeOptions::default()
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
                "[{done}/{n}] {}: {}",
                display_path(&r.path),
                summary(&r.events)
            );
        })
        .with_context(|| format!("nothing was merged into {}", target.display()))?;

    if opts.dry_run {
        outln!(
            "dry run: nothing was written to {}; merging would bring:",
            display_path(target)
        );
    } else {
        outln!(
            "merged {} file{} into {}: {}",
            n,
            if n == 1 { "" } else { "s" },
            display_path(target),
            summary(&report.events())
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

/// "3 new events, 0 already present", then each other kind that came: "; flags: 1 new, 0
/// already present".
fn summary(events: &KindCounts) -> String {
    let mut parts = Vec::new();
    for (i, (kind, c)) in events.by_kind().enumerate() {
        if i == 0 {
            parts.push(format!(
                "{} new {}, {} already present",
                c.new, kind.plural, c.duplicate
            ));
        } else if c.new + c.duplicate > 0 {
            parts.push(format!(
                "{}: {} new, {} already present",
                kind.plural, c.new, c.duplicate
            ));
        }
    }
    parts.join("; ")
}

fn print_source(r: &SourceReport, kept: bool) {
    outln!(
        "{}: {}, {} {}{}",
        display_path(&r.path),
        if r.same_project {
            "same project".to_string()
        } else {
            format!("another project ({})", display(&r.project_uuid))
        },
        if r.pack { "a pack of schema" } else { "schema" },
        r.schema_version,
        if r.vocab_differs {
            ", a different vocabulary (every class it uses is in the target)"
        } else {
            ""
        }
    );
    if let Some(note) = &r.recovered {
        outln!("  {}", display(note));
    }
    // Every kind the source holds, each by its declaration's name; the answers always.
    for (i, (kind, c)) in r.events.by_kind().enumerate() {
        if i == 0 || c.new + c.duplicate > 0 {
            outln!(
                "  {}: {} new, {} already present",
                kind.plural,
                c.new,
                c.duplicate
            );
        }
    }
    for a in &r.annotators {
        let all = a.events.total();
        let kinds: Vec<_> = a
            .events
            .by_kind()
            .filter(|(_, c)| c.new + c.duplicate > 0)
            .collect();
        let detail = if kinds.len() > 1 {
            let parts: Vec<String> = kinds
                .iter()
                .map(|(k, c)| format!("{} {}", c.new + c.duplicate, k.plural))
                .collect();
            format!(" ({})", parts.join(", "))
        } else {
            String::new()
        };
        outln!(
            "    {:<24} {} new, {} already present{detail}",
            display(&a.annotator),
            all.new,
            all.duplicate
        );
    }
    outln!("  images: {} new", r.new_images);
    if !r.new_models.is_empty() {
        outln!("  new models: {}", display(&r.new_models.join(", ")));
    }
    if !r.differing_models.is_empty() {
        outln!(
            "  models imported differently on the two sides (kept the target's rows, added \
             the rest): {}",
            display(&r.differing_models.join(", "))
        );
    }
    if r.new_predictions > 0 {
        outln!("  predictions: {} new", r.new_predictions);
    }
    if !r.conflicts.is_empty() {
        outln!(
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
            outln!(
                "    {}  target {}  source {}",
                display(&c.key),
                display(&c.target_sha256),
                display(&c.source_sha256)
            );
        }
        if r.conflicts.len() > 20 {
            outln!("    ... and {} more", r.conflicts.len() - 20);
        }
        if r.events_on_conflicts > 0 {
            outln!(
                "  {} new events are about those images",
                r.events_on_conflicts
            );
        }
    }
}
