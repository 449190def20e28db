//! The binary: parse the command line, call the library, and turn errors into one clear message
//! and a non-zero exit.

mod cli;
mod commands;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};

use cli::{Cli, Command, JudgmentsCommand, PredictionsCommand};
use labelvet::info::ProjectInfo;
use labelvet::ingest::{self, InitOptions};
use labelvet::store::Store;
use labelvet::tui::AnnotateOptions;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn progress_wanted() -> bool {
    std::io::stderr().is_terminal()
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Init {
            project,
            images,
            manifest,
            labels,
            vocab,
        } => {
            let (store, report) = ingest::init_project(
                &project,
                &InitOptions {
                    images,
                    manifest,
                    labels,
                    vocab,
                    progress: progress_wanted(),
                },
            )?;
            print_init_report(&report);
            println!("created {}", store.path().display());
            println!(
                "next: labelvet predictions import {} PREDICTIONS.csv",
                store.path().display()
            );
        }
        Command::Predictions(PredictionsCommand::Import {
            project,
            files,
            top_k,
            model,
        }) => {
            let mut store = Store::open(&project)?;
            let r = ingest::predictions::import_predictions(
                &mut store,
                &files,
                &ingest::predictions::PredictionOptions {
                    top_k,
                    model,
                    progress: progress_wanted(),
                },
            )?;
            println!(
                "imported {} predictions of {} model{} ({}) from {} file{}",
                r.rows,
                r.models.len(),
                plural(r.models.len()),
                r.models.join(", "),
                r.files,
                plural(r.files)
            );
            for (file, model) in &r.models_from_file_names {
                println!(
                    "{file} names no model: its predictions are model `{model}`, from the file \
                     name (--model NAME names it otherwise)"
                );
            }
            if r.beyond_top_k > 0 {
                println!(
                    "skipped {} rows ranked beyond the top {top_k}",
                    r.beyond_top_k
                );
            }
            let (mean, min, max) = store.candidate_stats()?;
            println!("candidates per image: mean {mean:.1}, min {min}, max {max}");
        }
        Command::Info { project, json, all } => {
            let store = Store::open(&project)?;
            let mut info = ProjectInfo::gather(&store)?;
            info.all_annotators = all;
            if json {
                println!("{}", serde_json::to_string_pretty(&info_json(&info))?);
            } else {
                print!("{info}");
            }
        }
        Command::Doctor { graphics } => print!("{}", labelvet::tui::doctor(graphics.parse()?)?),
        Command::Demo {
            info,
            annotator,
            graphics,
            theme,
        } => {
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
            if info || !interactive {
                print!("{}", ProjectInfo::gather(&store)?);
                if !info {
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
                annotator,
                images: None,
                graphics: graphics.parse()?,
                theme: theme.parse()?,
                show_sources: false,
                keys: None,
                queue: Default::default(),
                task: Default::default(),
            })?;
        }
        Command::Annotate {
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
            force,
            queue,
            results,
        } => {
            commands::annotate::check_annotator(&project, annotator.as_deref(), force)?;
            let queue = commands::annotate::queue_spec(queue, &project)?;
            let task = commands::annotate::task(
                commands::annotate::TaskArgs {
                    grid,
                    label,
                    classify,
                    results,
                },
                annotator.as_deref(),
                &queue,
                &project,
            )?;
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
            })?
        }
        Command::Show {
            project,
            image,
            images,
            annotator,
        } => labelvet::tui::show(&project, &image, images.as_deref(), annotator.as_deref())?,
        Command::Judgments(JudgmentsCommand::Import {
            project,
            file,
            format,
            annotator,
        }) => commands::judgments::import(&project, &file, format, annotator)?,
        Command::Report {
            project,
            results,
            json,
            plots,
        } => commands::report::run(&project, &results, json, plots.as_deref())?,
        Command::Export {
            project,
            format,
            output,
            results,
        } => commands::export::run(&project, format, output.as_deref(), &results)?,
        Command::Checkout {
            project,
            annotator,
            output,
            with_answers,
            select,
            seed,
        } => {
            let select = commands::annotate::select_spec(select, seed)?;
            commands::checkout::run(&project, &annotator, &output, with_answers, &select)?
        }
        Command::Assign {
            project,
            annotators,
            overlap,
            output,
            seed,
            with_answers,
            select,
        } => {
            let select = commands::annotate::select_spec(select, seed)?;
            commands::assign::run(
                &project,
                &annotators,
                overlap,
                &output,
                seed,
                with_answers,
                &select,
            )?
        }
        Command::Merge {
            target,
            sources,
            dry_run,
            keep_target,
            allow_other_project,
        } => commands::merge::run(
            &target,
            &sources,
            labelvet::store::merge::MergeOptions {
                dry_run,
                keep_target,
                allow_other_project,
            },
        )?,
        Command::Predict(args) => commands::predict::run(args, progress_wanted())?,
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "labelvet",
                &mut std::io::stdout(),
            );
        }
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn print_init_report(r: &ingest::InitReport) {
    println!(
        "images: {} ({} read, {} missing, {} unreadable); {} with an original label",
        r.images,
        r.ok,
        r.missing,
        r.unreadable.len(),
        r.labelled
    );
    const SHOWN: usize = 20;
    for (key, why) in r.unreadable.iter().take(SHOWN) {
        println!("  unreadable: {key}: {why}");
    }
    if r.unreadable.len() > SHOWN {
        println!("  ... and {} more unreadable", r.unreadable.len() - SHOWN);
    }
    if r.ignored > 0 {
        println!(
            "skipped {} files that are not images by their names",
            r.ignored
        );
    }
    for w in &r.warnings {
        println!("warning: {w}");
    }
    for group in r.duplicates.iter().take(SHOWN) {
        println!("same content: {}", group.join(", "));
    }
    if r.duplicates.len() > SHOWN {
        println!(
            "... and {} more groups with the same content",
            r.duplicates.len() - SHOWN
        );
    }
}

fn info_json(i: &ProjectInfo) -> serde_json::Value {
    serde_json::json!({
        "path": i.path,
        "project_uuid": i.meta.project_uuid,
        "schema_version": i.meta.schema_version,
        "created_at": i.meta.created_at,
        "vocabulary": {"name": i.meta.vocab_name, "digest": i.meta.vocab_digest, "classes": i.classes},
        "image_root": i.meta.image_root,
        "images": {"total": i.images, "present": i.present, "missing": i.missing, "unreadable": i.unreadable},
        "duplicate_content_groups": i.duplicate_groups,
        "models": i.models.iter().map(|m| serde_json::json!({
            "name": m.name, "predictions": m.predictions, "images": m.images, "source": m.source,
            "imported_at": m.imported_at})).collect::<Vec<_>>(),
        "candidates_per_image": {"mean": i.candidates_mean, "min": i.candidates_min, "max": i.candidates_max},
        "annotators": i.annotators.iter().map(|a| serde_json::json!({
            "annotator": a.annotator, "events": a.events, "current_answers": a.current})).collect::<Vec<_>>(),
        "flagged_images": i.flagged_images,
        "classify": {"events": i.classify.events, "current_answers": i.classify.current,
            "images": i.classify.images, "annotators": i.classify.annotators},
        "merges": i.merges.iter().map(|m| serde_json::json!({
            "merged_at": m.merged_at, "source_file": m.source_file, "source_uuid": m.source_uuid,
            "source_schema": m.source_schema,
            "annotators": m.annotators.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            "new_events": m.new_events, "duplicate_events": m.duplicate_events,
            "new_flags": m.new_flags, "new_images": m.new_images, "new_models": m.new_models,
            "new_predictions": m.new_predictions, "new_classify": m.new_classify,
            "conflicts_kept": m.conflicts_kept})).collect::<Vec<_>>(),
    })
}
