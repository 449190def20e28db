//! `labelvet init`: a new project file from a folder of images or a manifest.

use anyhow::Result;
use labelvet::ingest::{self, InitOptions, InitReport};

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
    println!("created {}", store.path().display());
    println!(
        "next: labelvet predictions import {} PREDICTIONS.csv",
        store.path().display()
    );
    Ok(())
}

/// Long lists (unreadable files, groups of duplicates) stop after this many lines.
const SHOWN: usize = 20;

fn print_report(r: &InitReport) {
    println!(
        "images: {} ({} read, {} missing, {} unreadable); {} with an original label",
        r.images,
        r.ok,
        r.missing,
        r.unreadable.len(),
        r.labelled
    );
    for (key, why) in r.unreadable.iter().take(SHOWN) {
        println!("  unreadable: {key}: {why}");
    }
    if r.unreadable.len() > SHOWN {
        println!("  ... and {} more unreadable", r.unreadable.len() - SHOWN);
    }
    if r.ignored > 0 {
        println!(
            "skipped {} files that are not images by their names",
            r.ignored
        );
    }
    for w in &r.warnings {
        println!("warning: {w}");
    }
    for group in r.duplicates.iter().take(SHOWN) {
        println!("same content: {}", group.join(", "));
    }
    if r.duplicates.len() > SHOWN {
        println!(
            "... and {} more groups with the same content",
            r.duplicates.len() - SHOWN
        );
    }
}
