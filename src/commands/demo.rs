//! `labelvet demo`: make (or reopen) the bundled demo project and annotate it.

use std::io::IsTerminal;

use anyhow::{Context, Result};
use labelvet::info::ProjectInfo;
use labelvet::tui::AnnotateOptions;

use super::progress_wanted;
use crate::cli::DemoArgs;

pub fn run(args: DemoArgs) -> Result<()> {
    let dir = labelvet::demo::demo_dir()?;
    let (store, made) = labelvet::demo::open_or_create(&dir, progress_wanted())
        .with_context(|| format!("making the demo project in {}", dir.display()))?;
    if made {
        println!(
            "made the demo project in {} from {} bundled photos",
            dir.display(),
            labelvet::demo::photo_count()
        );
    }
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if args.info || !interactive {
        print!("{}", ProjectInfo::gather(&store)?);
        if !args.info {
            println!(
                "(not a terminal: run `labelvet demo` in a terminal to annotate, or \
                 `labelvet show {} KEY` to print one image)",
                store.path().display()
            );
        }
        return Ok(());
    }
    let project = store.path().to_path_buf();
    drop(store);
    labelvet::tui::annotate(AnnotateOptions {
        project,
        annotator: args.annotator,
        images: None,
        graphics: args.graphics.parse()?,
        theme: args.theme.parse()?,
        show_sources: false,
        keys: None,
        queue: Default::default(),
        task: Default::default(),
    })?;
    Ok(())
}
