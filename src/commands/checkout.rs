//! `labelvet checkout`: an annotator's own file, made from the project.

use std::path::Path;

use anyhow::{Context, Result};

use labelvet::store::Store;
use labelvet::store::checkout::{CheckoutOptions, checkout};

pub fn run(project: &Path, annotator: &str, output: &Path, with_answers: bool) -> Result<()> {
    let store = Store::open(project)?;
    let r = checkout(
        &store,
        output,
        &CheckoutOptions {
            annotator,
            with_answers,
            assignment: None,
            assignment_note: None,
        },
    )
    .with_context(|| format!("making {}", output.display()))?;
    let work = match r.assigned {
        Some(n) => format!("{n} of {} images assigned to {annotator}", r.images),
        None => format!("all {} images", r.images),
    };
    println!(
        "made {} for {annotator}: {work}; {} earlier events and {} flags {}",
        r.path.display(),
        r.events,
        r.flags,
        if with_answers {
            "of every annotator"
        } else {
            "of theirs"
        }
    );
    println!(
        "next: {annotator} annotates {}; then `labelvet merge {} {}`",
        output.display(),
        project.display(),
        output.display()
    );
    Ok(())
}
