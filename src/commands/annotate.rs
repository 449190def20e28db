//! `labelvet annotate`'s queue flags and task, turned into a [`QueueSpec`] and a [`Task`] and
//! checked against the project's vocabulary before the screen takes the terminal, so that a
//! misspelt class fails with the vocabulary's message and a non-zero exit, whether or not a
//! terminal is attached.

use std::path::Path;

use anyhow::Result;
use labelvet::annotate::{QueueSpec, parse_range};
use labelvet::store::Store;
use labelvet::tui::Task;

use crate::cli::QueueArgs;

pub fn queue_spec(args: QueueArgs, project: &Path) -> Result<QueueSpec> {
    let spec = QueueSpec {
        class: args.class,
        subtree: args.subtree,
        original_label: args.original_label,
        disputed: args.disputed,
        uncertain: args.uncertain.as_deref().map(parse_range).transpose()?,
        needs: args.needs,
        sample: args.sample,
        seed: args.seed,
        order: args.order.parse()?,
    };
    if !spec.is_all() {
        let store = Store::open(project)?;
        spec.filter(&store.vocab()?)?;
    }
    Ok(spec)
}

/// The screen's task; a grid's label is looked up now, so that a misspelt one fails here.
pub fn task(grid: bool, label: Option<String>, project: &Path) -> Result<Task> {
    match (grid, label) {
        (true, Some(label)) => {
            let store = Store::open(project)?;
            let key = store.vocab()?.lookup(&label)?.key.clone();
            Ok(Task::Grid { label: key })
        }
        _ => Ok(Task::Questions),
    }
}
