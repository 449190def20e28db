//! `labelvet checkout`: an annotator's own file, made from the project.

use anyhow::{Context, Result};

use labelvet::store::Store;
use labelvet::store::checkout::{CheckoutOptions, checkout};

use super::{select_spec, selected_images};
use crate::cli::CheckoutArgs;

pub fn run(args: CheckoutArgs) -> Result<()> {
    let CheckoutArgs {
        project,
        annotator,
        output,
        with_answers,
        carry,
        select,
    } = args;
    let (project, output, annotator) = (project.as_path(), output.as_path(), annotator.as_str());
    let select = select_spec(select)?;
    let store = Store::open(project)?;
    let reader = super::image_reader(&store, carry)?;
    let read = |rec: &labelvet::store::ImageRecord| reader.as_ref().expect("with images").read(rec);
    let selected = selected_images(&store, &select)?;
    // With --until, the file asks only the questions the rule leaves open.
    let settled = select.settled_questions(&store)?;
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
            leave_out: settled.as_deref(),
            with_images: reader
                .as_ref()
                .map(|_| labelvet::store::carried::Carrier(&read)),
        },
    )
    .with_context(|| format!("making {}", output.display()));
    busy.finish_and_clear();
    let r = r?;
    let work = match r.assigned {
        Some(n) => format!("{n} of {} images assigned to {annotator}", r.images),
        None => format!("all {} images", r.images),
    };
    outln!(
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
    if let Some(c) = &r.carried {
        outln!("  {}", super::carried_line(c));
    }
    let pack = output.with_extension("lvpack");
    outln!(
        "next: {annotator} annotates {}; when done, `labelvet pack {} -o {}` makes the small \
         file to send back; then `labelvet merge {} {}`",
        output.display(),
        output.display(),
        pack.display(),
        project.display(),
        pack.display()
    );
    Ok(())
}
