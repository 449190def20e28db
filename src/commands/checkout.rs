//! `labelvet checkout`: an annotator's own file, made from the project.

use std::path::Path;

use anyhow::{Context, Result, bail};

use labelvet::annotate::QueueSpec;
use labelvet::store::Store;
use labelvet::store::checkout::{CheckoutOptions, checkout};

/// The keys of the images `select` picks from the project, or `None` when it has no filter at
/// all (every image). An empty selection is an error: handing out nothing is never meant.
pub fn selected_images(store: &Store, select: &QueueSpec) -> Result<Option<Vec<String>>> {
    if select.is_all() {
        return Ok(None);
    }
    let keys = select.select_images(store)?;
    if keys.is_empty() {
        bail!("{}", select.explain_empty(store, None)?);
    }
    Ok(Some(keys))
}

pub fn run(
    project: &Path,
    annotator: &str,
    output: &Path,
    with_answers: bool,
    select: &QueueSpec,
) -> Result<()> {
    let store = Store::open(project)?;
    let selected = selected_images(&store, select)?;
    let note = selected
        .as_ref()
        .map(|keys| format!("{} images selected by {select}", keys.len()));
    let busy = labelvet::ingest::images::spinner(
        &format!("making {} from {}", output.display(), project.display()),
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
    );
    let r = checkout(
        &store,
        output,
        &CheckoutOptions {
            annotator,
            with_answers,
            assignment: selected.as_deref(),
            assignment_note: note.as_deref(),
        },
    )
    .with_context(|| format!("making {}", output.display()));
    busy.finish_and_clear();
    let r = r?;
    let work = match r.assigned {
        Some(n) => format!("{n} of {} images assigned to {annotator}", r.images),
        None => format!("all {} images", r.images),
    };
    println!(
        "made {} for {annotator}: {work}; {} and {} {}",
        r.path.display(),
        labelvet::words::count(r.events, "earlier event"),
        labelvet::words::count(r.flags, "flag"),
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
