//! `labelvet assign`: split a project's images among annotators and make each one's file.

use anyhow::{Context, Result};

use labelvet::store::Store;
use labelvet::store::checkout::{AssignOptions, assign};

use super::{select_spec, selected_images};
use crate::cli::AssignArgs;

/// The selection flags narrow the images distributed (`--seed` also draws `--sample`).
pub fn run(args: AssignArgs) -> Result<()> {
    let AssignArgs {
        project,
        annotators,
        overlap,
        output,
        with_answers,
        carry,
        select,
    } = args;
    let (project, dir, annotators) = (project.as_path(), output.as_path(), &annotators[..]);
    let seed = select.seed;
    let select = select_spec(select)?;
    let store = Store::open(project)?;
    let reader = super::image_reader(&store, carry)?;
    let read = |rec: &labelvet::store::ImageRecord| reader.as_ref().expect("with images").read(rec);
    let selected = selected_images(&store, &select)?;
    let selection = selected.as_ref().map(|_| select.to_string());
    // With --until, the files ask only the questions the rule leaves open.
    let settled = select.settled_questions(&store)?;
    let reports = assign(
        &store,
        dir,
        &AssignOptions {
            annotators,
            overlap,
            seed,
            with_answers,
            images: selected.as_deref(),
            selection: selection.as_deref(),
            leave_out: settled.as_deref(),
            with_images: reader
                .as_ref()
                .map(|_| labelvet::store::carried::Carrier(&read)),
        },
    )
    .with_context(|| format!("assigning the images of {}", project.display()))?;
    // What is handed out: the selected images when a filter chose them, else every image.
    let total = match &selected {
        Some(keys) => keys.len(),
        None => reports.first().map(|r| r.images).unwrap_or_default() as usize,
    };
    outln!(
        "made {} files in {}: each image to {overlap} of {} annotators (seed {seed})",
        reports.len(),
        dir.display(),
        annotators.len()
    );
    if let Some(sel) = &selection {
        outln!("  images selected by {sel}: {total}");
    }
    for r in &reports {
        outln!(
            "  {:<32} {:>8} of {total} images",
            r.path.display().to_string(),
            r.assigned.unwrap_or(0)
        );
        if let Some(c) = &r.carried {
            outln!("    {}", super::carried_line(c));
        }
    }
    let packs: Vec<String> = reports
        .iter()
        .map(|r| r.path.with_extension("lvpack").display().to_string())
        .collect();
    outln!(
        "next: hand out the files; each annotator, when done, runs `labelvet pack FILE.db -o \
         FILE.lvpack` and sends the pack back; then: labelvet merge {} {}",
        project.display(),
        packs.join(" ")
    );
    Ok(())
}
