//! `labelvet show`: one image and its answers, printed, then exit.

use anyhow::Result;

use crate::cli::ShowArgs;

pub fn run(args: ShowArgs) -> Result<()> {
    labelvet::tui::show(
        &args.project,
        &args.image,
        args.images.as_deref(),
        args.annotator.as_deref(),
    )?;
    Ok(())
}
