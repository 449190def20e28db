//! `labelvet annotate`'s queue flags, turned into a [`QueueSpec`] and checked against the
//! project's vocabulary before the screen takes the terminal, so that a misspelt class fails with
//! the vocabulary's message and a non-zero exit, whether or not a terminal is attached.

use std::path::Path;

use anyhow::Result;
use labelvet::annotate::{QueueSpec, parse_range};
use labelvet::store::Store;

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
