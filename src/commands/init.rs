//! `labelvet init`: a new project file from a folder of images or a manifest.

use anyhow::Result;
use labelvet::ingest::{self, InitOptions, InitReport};
use labelvet::text::display;

use super::progress_wanted;
use crate::cli::InitArgs;

pub fn run(args: InitArgs) -> Result<()> {
    let (store, report) = ingest::init_project(
        &args.project,
        &InitOptions {
            images: args.images,
            manifest: args.manifest,
            labels: args.labels,
            vocab: args.vocab,
            progress: progress_wanted(),
        },
    )?;
    print_report(&report);
    outln!("created {}", store.path().display());
    outln!(
        "next: labelvet predictions import {} PREDICTIONS.csv",
        store.path().display()
    );
    Ok(())
}

/// Long lists (unreadable files, groups of duplicates) stop after this many lines.
const SHOWN: usize = 20;

fn print_report(r: &InitReport) {
    outln!(
        "images: {} ({} read, {} missing, {} unreadable); {} with an original label",
        r.images,
        r.ok,
        r.missing,
        r.unreadable.len(),
        r.labelled
    );
    for (key, why) in r.unreadable.iter().take(SHOWN) {
        outln!("  unreadable: {}: {}", display(key), display(why));
    }
    if r.unreadable.len() > SHOWN {
        outln!("  ... and {} more unreadable", r.unreadable.len() - SHOWN);
    }
    if r.ignored > 0 {
        outln!(
            "skipped {} files that are not images by their names",
            r.ignored
        );
    }
    if r.links_outside > 0 {
        outln!(
            "skipped {} link{} leading out of the image folder (not followed)",
            r.links_outside,
            super::plural(r.links_outside)
        );
    }
    for w in &r.warnings {
        outln!("warning: {}", display(w));
    }
    for group in r.duplicates.iter().take(SHOWN) {
        outln!("same content: {}", display(&group.join(", ")));
    }
    if r.duplicates.len() > SHOWN {
        outln!(
            "... and {} more groups with the same content",
            r.duplicates.len() - SHOWN
        );
    }
}
