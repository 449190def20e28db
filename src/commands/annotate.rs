//! `labelvet annotate`'s queue flags and task, turned into a [`QueueSpec`] and a [`Task`] and
//! checked against the project's vocabulary before the screen takes the terminal, so that a
//! misspelt class fails with the vocabulary's message and a non-zero exit, whether or not a
//! terminal is attached.

use std::path::Path;

use anyhow::{Result, bail};
use labelvet::analysis::classify::classify_queue;
use labelvet::annotate::login_name;
use labelvet::annotate::{QueueSpec, select_classify};
use labelvet::store::Store;
use labelvet::tui::{AnnotateOptions, GoldMixing, Task};

use super::{aggregate_project, queue_spec};
use crate::cli::{AnnotateArgs, MethodArg, ResultsArgs};

pub fn run(args: AnnotateArgs) -> Result<()> {
    let AnnotateArgs {
        project,
        annotator,
        images,
        graphics,
        theme,
        show_sources,
        keys,
        grid,
        label,
        classify,
        review,
        show_annotators,
        gold_rate,
        gold_feedback,
        force,
        queue,
        results,
    } = args;
    check_annotator(&project, annotator.as_deref(), force)?;
    let seed = queue.select.seed;
    let queue = queue_spec(queue, &project)?;
    let gold = gold_mixing(&project, gold_rate, seed, gold_feedback)?;
    if review && (gold.rate > 0.0 && gold_rate.is_some() || gold_feedback) {
        bail!("--gold-rate and --gold-feedback are for annotators' sessions, not --review");
    }
    let task = if review {
        Task::Review { show_annotators }
    } else {
        task(
            TaskArgs {
                grid,
                label,
                classify,
                results,
            },
            annotator.as_deref(),
            &queue,
            &project,
        )?
    };
    labelvet::tui::annotate(AnnotateOptions {
        project,
        annotator,
        images,
        graphics: graphics.parse()?,
        theme: theme.parse()?,
        show_sources,
        keys,
        queue,
        task,
        gold,
    })?;
    Ok(())
}

/// `--gold-rate` (default 0.05 when the project has gold questions, else 0) and
/// `--gold-feedback`, checked before the screen opens.
fn gold_mixing(project: &Path, rate: Option<f64>, seed: u64, feedback: bool) -> Result<GoldMixing> {
    if let Some(r) = rate
        && !(0.0..=1.0).contains(&r)
    {
        bail!("--gold-rate {r} is not between 0 and 1 (0 mixes in no gold question)");
    }
    let rate = match rate {
        Some(r) => r,
        None if !Store::open(project)?.current_gold()?.is_empty() => DEFAULT_GOLD_RATE,
        None => 0.0,
    };
    Ok(GoldMixing {
        rate,
        seed,
        feedback,
    })
}

/// The share of an annotator's queue that carries a gold question when the project has some.
const DEFAULT_GOLD_RATE: f64 = 0.05;

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
    // Both names are said below; the owner's came with the file.
    let (owner, given) = (
        labelvet::text::display(&owner),
        labelvet::text::display(given),
    );
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

/// The flags that choose the screen's task.
struct TaskArgs {
    grid: bool,
    label: Option<String>,
    classify: bool,
    results: ResultsArgs,
}

/// The screen's task. A grid's label is looked up now, so that a misspelt one fails here; the
/// classify queue is computed now, as `report` would aggregate the answers.
fn task(args: TaskArgs, annotator: Option<&str>, spec: &QueueSpec, project: &Path) -> Result<Task> {
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
        let (data, res, _) = aggregate_project(&store, &args.results, false)?;
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
