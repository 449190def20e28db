//! `labelvet annotate`'s queue flags and task, turned into a [`QueueSpec`] and a [`Task`] and
//! checked against the project's vocabulary before the screen takes the terminal, so that a
//! misspelt class fails with the vocabulary's message and a non-zero exit, whether or not a
//! terminal is attached.

use std::path::Path;

use anyhow::{Result, bail};
use labelvet::analysis::classify::classify_queue;
use labelvet::annotate::{QueueOrder, QueueSpec, parse_range, select_classify};
use labelvet::store::Store;
use labelvet::tui::{Task, login_name};

use crate::cli::{MethodArg, QueueArgs, ResultsArgs, SelectArgs};
use crate::commands::report::aggregate_project;

pub fn queue_spec(args: QueueArgs, project: &Path) -> Result<QueueSpec> {
    let spec = QueueSpec {
        order: args.order.parse()?,
        ..select_spec(args.select, args.seed)?
    };
    if !spec.is_all() {
        let store = Store::open(project)?;
        spec.filter(&store.vocab()?)?;
    }
    Ok(spec)
}

/// An annotator's file (made by `checkout` or `assign`) is for its annotator: its queue is
/// their assignment, so someone else opening it would answer every image of the project under
/// the wrong file. Another name needs `--force`, and is told what it gets.
pub fn check_annotator(project: &Path, annotator: Option<&str>, force: bool) -> Result<()> {
    let Some(given) = annotator.map(str::trim) else {
        return Ok(());
    };
    let store = Store::open(project)?;
    let Some(owner) = store.checkout_annotator()? else {
        return Ok(());
    };
    if owner == given {
        return Ok(());
    }
    let assigned = store.assigned_images(&owner)?.map(|a| a.len());
    let holds = match assigned {
        Some(n) => format!("its queue is the {n} images assigned to {owner}"),
        None => format!("it holds {owner}'s answers"),
    };
    if !force {
        bail!(
            "{} was made for {owner} ({holds}); open it as {owner} (leave out --annotator), \
             give {given} a file of their own (labelvet checkout PROJECT --annotator {given} -o \
             {given}.db), or add --force to answer in it as {given} anyway",
            project.display()
        );
    }
    eprintln!(
        "note: {} was made for {owner}; answering as {given} because of --force. {owner}'s \
         assignment is not {given}'s: the queue is every image of the file",
        project.display()
    );
    Ok(())
}

/// The image-selecting flags as a spec in file order (shared with `checkout` and `assign`).
pub fn select_spec(args: SelectArgs, seed: u64) -> Result<QueueSpec> {
    Ok(QueueSpec {
        class: args.class,
        subtree: args.subtree,
        original_label: args.original_label,
        disputed: args.disputed,
        uncertain: args.uncertain.as_deref().map(parse_range).transpose()?,
        needs: args.needs,
        sample: args.sample,
        seed,
        order: QueueOrder::File,
    })
}

/// The flags that choose the screen's task.
pub struct TaskArgs {
    pub grid: bool,
    pub label: Option<String>,
    pub classify: bool,
    pub results: ResultsArgs,
}

/// The screen's task. A grid's label is looked up now, so that a misspelt one fails here; the
/// classify queue is computed now, as `report` would aggregate the answers.
pub fn task(
    args: TaskArgs,
    annotator: Option<&str>,
    spec: &QueueSpec,
    project: &Path,
) -> Result<Task> {
    let results_given = args.results.scores.is_some()
        || args.results.method != MethodArg::Frequency
        || args.results.threshold != 0.5;
    if args.classify {
        let busy = labelvet::ingest::images::spinner(
            "finding the images with two or more valid labels",
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
        );
        let store = Store::open(project)?;
        let who = match annotator {
            Some(a) => a.to_string(),
            None => store.checkout_annotator()?.unwrap_or_else(login_name),
        };
        let (data, res) = aggregate_project(&store, &args.results)?;
        let items = classify_queue(&store, &data, &res, &who)?;
        let items = select_classify(items, spec, &store.vocab()?)?;
        busy.finish_and_clear();
        if items.is_empty() {
            bail!(
                "no image of {} has two or more valid labels at {} >= {}{}: answer more \
                 questions first (labelvet annotate), or lower --threshold",
                project.display(),
                match (&args.results.scores, args.results.method) {
                    (Some(_), _) => "the given scores",
                    (None, MethodArg::Frequency) => "frequency",
                    (None, MethodArg::DawidSkene) => "dawid-skene",
                },
                args.results.threshold,
                if spec.is_all() {
                    String::new()
                } else {
                    format!(" in the queue {spec}")
                }
            );
        }
        let method = if args.results.scores.is_some() {
            "given scores"
        } else {
            match args.results.method {
                MethodArg::Frequency => "frequency",
                MethodArg::DawidSkene => "dawid-skene",
            }
        };
        let mut describe = format!(
            "{} image{} with 2+ labels at {method} ≥ {}",
            items.len(),
            if items.len() == 1 { "" } else { "s" },
            args.results.threshold
        );
        if !spec.is_all() {
            describe.push_str(&format!(" · {spec}"));
        }
        return Ok(Task::Classify { items, describe });
    }
    if results_given {
        bail!("--method, --threshold and --scores choose the classify queue; add --classify");
    }
    match (args.grid, args.label) {
        (true, Some(label)) => {
            let store = Store::open(project)?;
            let key = store.vocab()?.lookup(&label)?.key.clone();
            Ok(Task::Grid { label: key })
        }
        _ => Ok(Task::Questions),
    }
}
