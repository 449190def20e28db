//! Command handlers: each turns parsed arguments into library calls and prints the outcome.
//! What several commands share lives here: reading a project's results the same way
//! (`aggregate_project`), the image selection flags (`select_spec`, `queue_spec`,
//! `selected_images`), standard output into a pipe (`StdoutPipe`), and the exit code an error
//! maps to (`exit_code`).

/// `println!` for what a command prints on standard output, through [`StdoutPipe`]: a reader
/// that closed the pipe early (`labelvet merge ... | head -1`) has seen enough, and what the
/// line reports is saved already, so the rest is dropped instead of the command panicking.
macro_rules! outln {
    () => {
        $crate::commands::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::commands::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` through [`StdoutPipe`], as [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::commands::write_out(format_args!($($arg)*))
    };
}

pub mod annotate;
pub mod assign;
pub mod checkout;
pub mod completions;
pub mod demo;
pub mod doctor;
pub mod export;
pub mod gold;
pub mod info;
pub mod init;
pub mod judgments;
pub mod merge;
pub mod pack;
pub mod predict;
pub mod predictions;
pub mod report;
pub mod show;
pub mod simulate;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use labelvet::analysis::project::{Method, Options, ProjectData, Results, Scores, aggregate};
use labelvet::analysis::reliability::{Reliability, ReliabilityOptions, reliability};
use labelvet::analysis::report::LeftOut;
use labelvet::annotate::{QueueOrder, QueueSpec, parse_range};
use labelvet::ingest::scores::read_scores;
use labelvet::store::Store;

use crate::cli::{MethodArg, QueueArgs, QueueFilterArgs, ResultsArgs};

/// The exit code when the project file stays locked by another process: sysexits.h's
/// `EX_TEMPFAIL`, "try again later", since nothing was written and a rerun may succeed.
pub const EXIT_LOCKED: u8 = 75;

/// The exit code of a failed command (the README's table): [`EXIT_LOCKED`] when the project file
/// stayed locked, else 1 (bad input, a refusal). Usage errors exit with 2 from clap, before this.
pub fn exit_code(e: &anyhow::Error) -> ExitCode {
    let locked = e.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<labelvet::Error>(),
            Some(labelvet::Error::Locked { .. })
        )
    });
    if locked {
        ExitCode::from(EXIT_LOCKED)
    } else {
        ExitCode::FAILURE
    }
}

/// The reader of image files for `--with-images` (`None` without it): from `images`, else the
/// folder the project was made from.
pub fn image_reader(
    store: &Store,
    carry: crate::cli::CarryArgs,
) -> Result<Option<labelvet::ingest::carry::Reader>> {
    let crate::cli::CarryArgs {
        with_images,
        max_side,
        images,
    } = carry;
    if !with_images {
        return Ok(None);
    }
    let root = match images {
        Some(dir) => dir,
        None => match store.meta()?.image_root {
            Some(root) => root.into(),
            None => bail!(
                "{}: the project has no image folder to carry images from; pass --images DIR",
                store.path().display()
            ),
        },
    };
    if !root.is_dir() {
        bail!(
            "{}: no such image folder (--with-images reads the files from it)",
            root.display()
        );
    }
    Ok(Some(labelvet::ingest::carry::Reader { root, max_side }))
}

/// What `--with-images` carried into a file, as a line of `checkout` and `assign`.
pub fn carried_line(c: &labelvet::store::carried::Carried) -> String {
    let mut line = format!(
        "carries {} ({:.1} MB) inside the file: no image folder needed to annotate it",
        labelvet::words::count(c.images, "image"),
        c.bytes as f64 / 1e6
    );
    if c.resized > 0 {
        line.push_str(&format!("; {} re-encoded smaller", c.resized));
    }
    if c.skipped > 0 {
        line.push_str(&format!(
            "; {} missing or unreadable at init, not carried",
            labelvet::words::count(c.skipped, "image")
        ));
    }
    line
}

/// Progress bars only where a person watches them.
pub fn progress_wanted() -> bool {
    std::io::stderr().is_terminal()
}

pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Reads the project and aggregates its answers as `args` say; shared with `export` so that the
/// two always agree. The reliability figures are computed on every answer (when `figures`
/// asks for them, or `--drop-flagged` needs them: they may fit Dawid-Skene); then the answers of
/// the annotators `--exclude-annotators` names, and with `--drop-flagged` of the flagged ones,
/// are left out of the data and results returned, and the third value says who and why.
pub fn aggregate_project(
    store: &Store,
    args: &ResultsArgs,
    figures: bool,
) -> Result<(ProjectData, Results, Quality)> {
    aggregate_loaded(store, args, figures, ProjectData::load)
}

/// [`aggregate_project`] with the project read by `load` (`export --format parquet` keeps the
/// current answers it reads, to write them without reading them again).
pub fn aggregate_loaded(
    store: &Store,
    args: &ResultsArgs,
    figures: bool,
    load: impl FnOnce(&Store) -> labelvet::Result<ProjectData>,
) -> Result<(ProjectData, Results, Quality)> {
    if !(0.0..=1.0).contains(&args.min_gold_accuracy) {
        bail!(
            "--min-gold-accuracy {} is not between 0 and 1",
            args.min_gold_accuracy
        );
    }
    let scores = match &args.scores {
        Some(file) => Some(Scores::from(read_scores(store, file)?)),
        None => None,
    };
    let method = match (&scores, args.method) {
        (Some(_), _) => Method::Given,
        (None, MethodArg::Frequency) => Method::Frequency,
        (None, MethodArg::DawidSkene) => Method::DawidSkene,
    };
    let data = load(store).with_context(|| format!("reading {}", store.path().display()))?;
    let mut drop: Vec<(u32, String)> = Vec::new();
    for name in &args.exclude_annotators {
        let Some(id) = data.annotator_id(name) else {
            let known = if data.annotators.len() <= 20 {
                format!("its annotators are: {}", data.annotators.join(", "))
            } else {
                "labelvet info --all lists its annotators".to_string()
            };
            bail!(
                "--exclude-annotators: {} has no answers by `{name}`; {known}",
                store.path().display()
            );
        };
        if !drop.iter().any(|d| d.0 == id) {
            drop.push((id, "excluded with --exclude-annotators".into()));
        }
    }
    let opts = Options {
        method,
        threshold: args.threshold,
        ..Options::default()
    };
    let res = aggregate(&data, &opts, scores.as_ref())?;
    let reliability = (figures || args.drop_flagged).then(|| {
        reliability(
            &data,
            res.confusion.as_deref(),
            &ReliabilityOptions {
                min_gold_accuracy: args.min_gold_accuracy,
            },
        )
    });
    if let (true, Some(r)) = (args.drop_flagged, &reliability) {
        for (i, a) in r.annotators.iter().enumerate() {
            if let Some(why) = &a.flag_reason
                && !drop.iter().any(|d| d.0 == i as u32)
            {
                drop.push((i as u32, format!("flagged: {why}")));
            }
        }
    }
    if drop.is_empty() {
        let quality = Quality {
            reliability,
            left_out: Vec::new(),
        };
        return Ok((data, res, quality));
    }
    drop.sort();
    let ids: Vec<u32> = drop.iter().map(|d| d.0).collect();
    let mut per = vec![0usize; data.annotators.len()];
    for a in &data.answers {
        per[a.annotator as usize] += 1;
    }
    let left_out = drop
        .into_iter()
        .map(|(id, why)| LeftOut {
            annotator: data.annotators[id as usize].clone(),
            answers: per[id as usize],
            why,
        })
        .collect();
    let kept = data.without_annotators(&ids);
    let res = aggregate(&kept, &opts, scores.as_ref())?;
    Ok((
        kept,
        res,
        Quality {
            reliability,
            left_out,
        },
    ))
}

/// The reliability figures of every annotator (when asked for), and who was left out of the
/// results.
pub struct Quality {
    pub reliability: Option<Reliability>,
    pub left_out: Vec<LeftOut>,
}

/// Says on standard error whose answers were left out (for commands whose standard output is
/// the data).
pub fn say_left_out(q: &Quality) {
    for l in &q.left_out {
        eprintln!(
            "left out {} answers of {}: {}",
            l.answers, l.annotator, l.why
        );
    }
}

/// `annotate`'s queue flags as a spec, its class names checked against the project's vocabulary.
pub fn queue_spec(args: QueueArgs, project: &Path) -> Result<QueueSpec> {
    let spec = QueueSpec {
        order: args.order.parse()?,
        ..select_spec(args.select)?
    };
    if !spec.is_all() {
        let store = Store::open(project)?;
        spec.filter(&store.vocab()?)?;
    }
    Ok(spec)
}

/// The image-selecting flags as a spec in file order (shared with `checkout` and `assign`).
pub fn select_spec(args: QueueFilterArgs) -> Result<QueueSpec> {
    if let (Some(rule), Some(k)) = (&args.until, args.needs) {
        bail!(
            "--until {rule} and --needs {k} both say when a question has enough answers; give \
             one of them (--until max:{k} is --needs {k} as a rule)"
        );
    }
    Ok(QueueSpec {
        class: args.class,
        subtree: args.subtree,
        original_label: args.original_label,
        disputed: args.disputed,
        uncertain: args.uncertain.as_deref().map(parse_range).transpose()?,
        needs: args.needs,
        until: args.until.as_deref().map(str::parse).transpose()?,
        sample: args.sample,
        seed: args.seed,
        order: QueueOrder::File,
    })
}

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

/// Writes to standard output as `print!` does, except that a closed pipe ends the output
/// quietly (see [`StdoutPipe`]). Any other failure still panics, as `print!` would.
pub fn write_out(args: std::fmt::Arguments<'_>) {
    if let Err(e) = StdoutPipe::default().write_fmt(args) {
        panic!("failed printing to stdout: {e}");
    }
}

/// Standard output that treats a closed pipe (`labelvet export ... | head`) as the reader having
/// seen enough: the rest is dropped quietly instead of failing the command.
#[derive(Default)]
pub struct StdoutPipe {
    closed: bool,
}

impl Write for StdoutPipe {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match std::io::stdout().lock().write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(buf.len())
            }
            r => r,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match std::io::stdout().lock().flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            r => r,
        }
    }
}
