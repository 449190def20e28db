//! The command line, as clap definitions only: nothing here does any work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "labelvet",
    version,
    about = "Re-check image labels offline, from the terminal",
    long_about = "labelvet builds a labeling project (images, a class vocabulary, model \
                  predictions) in one SQLite file, asks annotators label by label \"is there a \
                  <label> in this image?\", merges their files and turns the answers into label \
                  sets, agreement figures and re-scored model accuracy.",
    after_help = "Start with `labelvet demo`, or:\n  \
                  labelvet init project.db --images photos/\n  \
                  labelvet predictions import project.db preds.csv\n  \
                  labelvet info project.db"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Make a new project file from a folder of images or a manifest
    #[command(after_help = "Examples:\n  \
        labelvet init val.db --images imagenet/val            # <wnid>/<file> gives the label\n  \
        labelvet init pets.db --images photos --labels labels.csv --vocab pets.tsv\n  \
        labelvet init val.db --manifest original_labels.csv   # files may be elsewhere")]
    Init(InitArgs),
    /// Model predictions: import top-k labels that become candidates
    #[command(subcommand)]
    Predictions(PredictionsCommand),
    /// What a project file holds: classes, images, models, candidates, judgments
    #[command(after_help = "Example:\n  labelvet info val.db")]
    Info(InfoArgs),
    /// Make (or reopen) the bundled demo project and open it
    #[command(
        after_help = "Example:\n  labelvet demo              # then answer with y / n / m\n  \
        labelvet demo --info       # only print what the demo project holds"
    )]
    Demo(DemoArgs),
    /// What this terminal can draw: protocol, cell size, colours, tmux, and why
    #[command(after_help = "Example:\n  labelvet doctor")]
    Doctor(DoctorArgs),
    /// Answers made elsewhere (CSV, JSON lines, Prodigy): import them as judgments
    #[command(subcommand)]
    Judgments(JudgmentsCommand),
    /// Gold questions: experts' answers whose majority scores the annotators
    #[command(subcommand)]
    Gold(GoldCommand),
    /// Experts' verdicts made elsewhere: import them (`annotate --review` gives them here)
    #[command(subcommand)]
    Verdicts(VerdictsCommand),
    /// Results: progress, label sets, agreement, model accuracy re-scored, figures
    #[command(after_help = "Examples:\n  \
        labelvet report val.db\n  \
        labelvet report val.db --method dawid-skene --threshold 0.8 --plots figures/\n  \
        labelvet report val.db --scores scores.csv.gz --threshold 0.8 --json > report.json\n  \
        labelvet report val.db --html report.html")]
    Report(ReportArgs),
    /// Export label sets and answers: JSON lines, CSV, Parquet, ReaL's real.json and raters.npz,
    /// Prodigy, cleanlab, FiftyOne
    #[command(after_help = "Formats:\n  \
        jsonl      one object per image: label set, counts and scores per label, provenance\n  \
        csv        one row per (image, label): image,label,label_index,name,yes,no,maybe,\n             \
        frequency,score,valid,original,adjudicated\n  \
        parquet    -o DIR: answers.parquet, labels.parquet, images.parquet (pandas, polars,\n             \
        DuckDB, Spark, Hugging Face datasets)\n  \
        real-json  ImageNet-ReaL's real.json: a list of label-index lists in image-key order\n  \
        real-npz   -o FILE: ImageNet-ReaL's raters.npz (tensor, info, ids) of every answer\n  \
        prodigy    one Prodigy-style object per current answer (accept / reject / ignore)\n  \
        cleanlab   cleanlab's multi-annotator long format: task,annotator,label (1 yes, 0 no)\n  \
        fiftyone   -o DIR: a FiftyOneImageClassificationDataset (labels.json, data.json)\n\n\
        Examples:\n  \
        labelvet export val.db --format real-json --threshold 0.8 -o real.json\n  \
        labelvet export val.db --format csv --method dawid-skene -o labels.csv\n  \
        labelvet export val.db --format parquet -o results/")]
    Export(ExportArgs),
    /// Replay a project's complete answers under a stopping rule: answers it would have needed,
    /// and how often the label sets agree with all the answers
    #[command(after_help = "Rules (--until):\n  \
        margin:K      stop once |yes - no| >= K\n  \
        posterior:P   stop once the posterior puts at least P on one side of the threshold\n                \
        (priors and annotator reliabilities learned from the other fold of questions)\n  \
        max:N         stop after N answers\n  \
        margin:2,max:5   settled as soon as one part is\n  \
        recommended   the rule the README recommends\n\n\
        Examples:\n  \
        labelvet simulate val.db --until margin:2 --repeats 5\n  \
        labelvet simulate val.db --until recommended --threshold 0.8 --json\n  \
        labelvet simulate val.db --sweep figures/")]
    Simulate(SimulateArgs),
    /// Make an annotator's file from the project: everything but other annotators' answers
    #[command(after_help = "Example:\n  \
        labelvet checkout val.db --annotator alice -o alice.db\n  \
        # alice annotates alice.db, then:\n  \
        labelvet merge val.db alice.db\n  \
        labelvet checkout val.db --annotator dave -o dave.db --subtree terrier   # only terriers\n  \
        labelvet checkout val.db --annotator erin -o erin.db --with-images --max-side 1024\n  \
        # erin.db carries its images: erin annotates it with no image folder, then\n  \
        labelvet pack erin.db -o erin.lvpack   # the small file to send back")]
    Checkout(CheckoutArgs),
    /// Split the images among annotators, K annotators per image, and make each one's file
    #[command(after_help = "Example:\n  \
        labelvet assign val.db --annotators alice,bob,carol --overlap 2 -o handout --seed 7\n  \
        # makes handout/alice.db, handout/bob.db and handout/carol.db; each image is in two\n  \
        # of them and each file holds the same number of images, give or take one\n  \
        labelvet assign val.db --annotators alice,bob --overlap 2 -o dogs --subtree dog --disputed")]
    Assign(AssignArgs),
    /// Write the small file an annotator sends back: their answers, without the images
    #[command(
        after_help = "A pack holds the project's identity, the annotator's events of every \
        kind (answers, flags, classify answers, gold answers, verdicts) and the keys and content \
        hashes of the images and classes they name; `merge` takes it like the full file.\n\n\
        Example:\n  \
        labelvet pack alice.db -o alice.lvpack\n  \
        # send alice.lvpack back; the coordinator runs:\n  \
        labelvet merge val.db alice.lvpack"
    )]
    Pack(PackArgs),
    /// Merge annotators' files into a project: the union of their answers, in any order
    #[command(
        after_help = "Sources are opened read-only and checked (integrity, exact schema, no \
        triggers or views) before anything is read; the whole merge is one transaction.\n\n\
        Examples:\n  \
        labelvet merge val.db handout/*.db --dry-run   # what would come in\n  \
        labelvet merge val.db handout/*.db"
    )]
    Merge(MergeArgs),
    /// Run your own ONNX image classifiers on the project's images; their top-k become candidates
    #[command(after_help = "Needs a labelvet built with `--features predict`.\n\n\
        Examples:\n  \
        labelvet predict val.db --model effnet_lite0=efficientnet_lite0.onnx --scale-127\n  \
        labelvet predict val.db --model resnet50=resnet50.onnx --model vit=vit_b16.onnx \\\n      \
        --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --top-k 5\n\n\
        Output i of a model is the vocabulary's class with index i. Re-running skips images the \
        model has already predicted (--force recomputes them); Ctrl-C keeps what is done.")]
    Predict(PredictArgs),
    /// Answer "is there a <label> in this image?" for each candidate, one key per answer
    #[command(
        after_help = "Keys: y/a yes, n/x no, m/space maybe, u/Backspace undo, j/k or arrows move, \
        1-9 jump, ]/[ next/previous image, f flag, g go to image, z zoom, ? help, q quit.\n\n\
        Examples:\n  \
        labelvet annotate val.db --annotator alice\n  \
        labelvet annotate val.db --images /mnt/imagenet/val --graphics halfblocks   # over SSH/tmux\n  \
        labelvet annotate val.db --subtree terrier          # every terrier question\n  \
        labelvet annotate val.db --class n02085620 --disputed\n  \
        labelvet annotate val.db --sample 200 --seed 7 --order random   # a spot-check sample\n  \
        labelvet annotate val.db --grid --label 'Norfolk terrier'   # one label, a page at a time\n\n\
        Grid keys: arrows/hjkl move, space contains, m maybe, x leave open, a all/none, \
        enter save the page, u undo the last page, z zoom, ? help, q quit.\n\n\
        labelvet annotate val.db --classify --threshold 0.8   # main object, number of objects\n  \
        labelvet annotate val.db --review --annotator expert1  # verdicts on disputed questions\n  \
        labelvet annotate alice.db --gold-rate 0.1 --seed 7    # gold questions mixed in, blind\n\n\
        Classify keys: j/k or 1-9 move, space present as a separate object, m main object, \
        +/- number of objects, enter save, u undo, ]/[ image, z zoom, ? help, q quit."
    )]
    Annotate(AnnotateArgs),
    /// Print one image with its candidates and the answers so far, then exit
    #[command(after_help = "Example:\n  labelvet show val.db ILSVRC2012_val_00000001.JPEG")]
    Show(ShowArgs),
    /// Print a shell completion script
    #[command(after_help = "Examples:\n  \
        labelvet completions bash > ~/.local/share/bash-completion/completions/labelvet\n  \
        labelvet completions zsh > ~/.zfunc/_labelvet\n  \
        labelvet completions fish > ~/.config/fish/completions/labelvet.fish")]
    Completions(CompletionsArgs),
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// The project file to create
    pub project: PathBuf,
    /// A folder tree of images; keys are paths relative to it. In ImageNet layout
    /// (<wnid>/<file>) the folder gives the original label.
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
    /// A CSV listing images by key (`image` column) with an optional original label
    /// (`label`, `wnid` or `label_index`); with --images, files are looked for there
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// A CSV `image,label` of original labels, for a folder not in ImageNet layout
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// `imagenet1k` (bundled) or a TSV/CSV vocabulary file
    #[arg(long, default_value = "imagenet1k", value_name = "imagenet1k|FILE")]
    pub vocab: String,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    pub project: PathBuf,
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
    /// List every annotator (default: the 20 with the most events, and how many more)
    #[arg(long)]
    pub all: bool,
    /// Also count the questions this stopping rule settles and the answers it still expects
    /// (margin:K, posterior:P, max:N, several comma-separated, or recommended)
    #[arg(long, value_name = "RULE")]
    pub until: Option<String>,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Only print what the demo project holds, do not open the annotation screen
    #[arg(long)]
    pub info: bool,
    /// Who is answering (default: your login name)
    #[arg(long, value_name = "NAME")]
    pub annotator: Option<String>,
    /// How to draw images: ask the terminal (auto), or force one protocol
    #[arg(
        long,
        default_value = "auto",
        value_name = "auto|kitty|sixel|iterm2|halfblocks|chafa"
    )]
    pub graphics: String,
    /// Colours for a light or dark terminal; auto asks the terminal for its background
    #[arg(long, default_value = "auto", value_name = "auto|light|dark")]
    pub theme: String,
}

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Force a protocol, as `annotate --graphics` does, to see what would be drawn
    #[arg(
        long,
        default_value = "auto",
        value_name = "auto|kitty|sixel|iterm2|halfblocks|chafa"
    )]
    pub graphics: String,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    pub project: PathBuf,
    #[command(flatten)]
    pub results: ResultsArgs,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
    /// Also count the questions this stopping rule settles and the answers it still expects
    /// (margin:K, posterior:P, max:N, several comma-separated, or recommended)
    #[arg(long, value_name = "RULE")]
    pub until: Option<String>,
    /// Also draw the figures (SVG and PNG) into this folder
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,
    /// Also write the report as one self-contained HTML page (figures inline, sortable
    /// tables, nothing loaded from the network)
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Replace an existing --html file, or draw into a --plots folder that already holds files
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    pub project: PathBuf,
    #[arg(long, value_enum)]
    pub format: ExportFormatArg,
    /// Write here instead of to standard output (a folder for parquet and fiftyone)
    #[arg(short, long, value_name = "FILE|DIR")]
    pub output: Option<PathBuf>,
    /// Replace an existing -o file, or write into an output folder that already holds files
    /// (those of the export's names are replaced). Never over the project or another input
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub results: ResultsArgs,
}

#[derive(Args, Debug)]
pub struct SimulateArgs {
    pub project: PathBuf,
    /// The stopping rule: margin:K, posterior:P, max:N, several comma-separated, or recommended
    #[arg(long, value_name = "RULE", required_unless_present = "sweep")]
    pub until: Option<String>,
    /// Replay a range of rules (margin:K, max:N, posterior:P) and draw answers used against
    /// validity agreement into DIR/sweep.svg and DIR/sweep.png
    #[arg(long, value_name = "DIR", conflicts_with = "until")]
    pub sweep: Option<PathBuf>,
    /// Draw into a --sweep folder that already holds files
    #[arg(long, requires = "sweep")]
    pub force: bool,
    /// Seed of the order in which each question's answers come in
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub seed: u64,
    /// Replays with seeds S, S+1, ...; the figures are their medians
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub repeats: usize,
    /// Dawid-Skene's validity threshold (the frequency figures use 0.5)
    #[arg(long, default_value_t = 0.5, value_name = "T")]
    pub threshold: f64,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct CheckoutArgs {
    pub project: PathBuf,
    /// Whose file it is
    #[arg(long, value_name = "NAME")]
    pub annotator: String,
    /// The file to make
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Copy every annotator's answers too (by default only NAME's own)
    #[arg(long)]
    pub with_answers: bool,
    #[command(flatten)]
    pub carry: CarryArgs,
    // NAME is assigned only the images these filters select.
    #[command(flatten)]
    pub select: QueueFilterArgs,
}

#[derive(Args, Debug)]
pub struct AssignArgs {
    pub project: PathBuf,
    /// Comma-separated annotator names (each names a file)
    #[arg(long, value_delimiter = ',', required = true, value_name = "A,B,...")]
    pub annotators: Vec<String>,
    /// How many annotators see each image
    #[arg(long, value_name = "K")]
    pub overlap: usize,
    /// The folder to write <annotator>.db files into
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// Copy every annotator's answers into each file too
    #[arg(long)]
    pub with_answers: bool,
    #[command(flatten)]
    pub carry: CarryArgs,
    // Only the images these filters select are distributed; --seed also draws the split.
    #[command(flatten)]
    pub select: QueueFilterArgs,
}

/// The images `checkout` and `assign` put inside the annotator's file.
#[derive(Args, Debug)]
pub struct CarryArgs {
    /// Carry the annotator's images inside the file, so that it is all they need (no image
    /// folder on their machine); each file's SHA-256 is checked against the project's record
    #[arg(long)]
    pub with_images: bool,
    /// With --with-images: re-encode images larger than N pixels on the long side down to N
    /// (default: carried as they are)
    #[arg(long, value_name = "N", requires = "with_images",
          value_parser = clap::value_parser!(u32).range(16..))]
    pub max_side: Option<u32>,
    /// With --with-images: where the image files are, if not where the project was made
    #[arg(long, value_name = "DIR", requires = "with_images")]
    pub images: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct PackArgs {
    /// The annotator's file (made by checkout or assign)
    pub file: PathBuf,
    /// The pack to write
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Replace an existing pack (never any other file)
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The project to merge into
    pub target: PathBuf,
    /// Annotators' files (checkouts of the same project) or their packs
    #[arg(required = true)]
    pub sources: Vec<PathBuf>,
    /// Print what would change and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// When an image key has different bytes on the two sides, keep the target's image
    #[arg(long)]
    pub keep_target: bool,
    /// Accept files of another project (a different project UUID)
    #[arg(long)]
    pub allow_other_project: bool,
    /// Accept, from a file made by checkout or assign, new answers by annotators other than
    /// the one it was made for
    #[arg(long)]
    pub allow_other_annotators: bool,
}

#[derive(Args, Debug)]
pub struct AnnotateArgs {
    pub project: PathBuf,
    /// Who is answering (default: the checkout's annotator, else your login name)
    #[arg(long, value_name = "NAME")]
    pub annotator: Option<String>,
    /// Where the image files are on this machine, if not where the project was made
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
    /// How to draw images: ask the terminal (auto), or force one protocol
    #[arg(
        long,
        default_value = "auto",
        value_name = "auto|kitty|sixel|iterm2|halfblocks|chafa"
    )]
    pub graphics: String,
    /// Colours for a light or dark terminal; auto asks the terminal for its background
    #[arg(long, default_value = "auto", value_name = "auto|light|dark")]
    pub theme: String,
    /// Show the original label and the models' ranks and scores (off: blind)
    #[arg(long)]
    pub show_sources: bool,
    /// A keymap file (default: <config dir>/labelvet/keys.toml when it exists)
    #[arg(long, value_name = "FILE")]
    pub keys: Option<PathBuf>,
    /// Grid mode: judge one label (--label) over a page of thumbnails; space marks the images
    /// that contain it, enter saves the page (marked yes, the others no)
    #[arg(long, requires = "label")]
    pub grid: bool,
    /// The label the grid judges: class key, index, name or synonym
    #[arg(long, value_name = "KEY|NAME", requires = "grid")]
    pub label: Option<String>,
    /// Classify mode: on images whose valid set has two or more labels, mark the labels that
    /// are separate objects, the main object and the number of objects (the valid set as
    /// `report` computes it: --method, --threshold, --scores)
    #[arg(long, conflicts_with = "grid")]
    pub classify: bool,
    /// Review: an expert's verdicts (y / n / m) on the disputed questions, or those the queue
    /// filters choose; the screen shows the annotators' yes / no / maybe counts, and a verdict
    /// decides its question in report and every export
    #[arg(long, conflicts_with_all = ["grid", "classify"])]
    pub review: bool,
    /// With --review: show who answered what
    #[arg(long, requires = "review")]
    pub show_annotators: bool,
    /// Mix gold questions into the queue, blind, so that about R of its images carry one
    /// (placed by --seed) [default: 0.05 when the project has gold questions; 0 mixes none]
    #[arg(long, value_name = "R")]
    pub gold_rate: Option<f64>,
    /// After a wrong answer to a gold question, show the experts' truth (for training)
    #[arg(long)]
    pub gold_feedback: bool,
    /// Open an annotator's file (from checkout or assign) under another --annotator name
    #[arg(long, requires = "annotator")]
    pub force: bool,
    #[command(flatten)]
    pub queue: QueueArgs,
    #[command(flatten)]
    pub results: ResultsArgs,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    pub project: PathBuf,
    /// The image's key
    pub image: String,
    /// Where the image files are on this machine, if not where the project was made
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
    /// Mark this annotator's answers
    #[arg(long, value_name = "NAME")]
    pub annotator: Option<String>,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Subcommand, Debug)]
pub enum PredictionsCommand {
    /// Import predictions from long CSV or JSON lines files (gzip is read directly)
    #[command(after_help = "Formats:\n  \
        CSV:   image,model,rank,label,score     (label = class key or class index)\n  \
        JSONL: {\"image\":\"a.jpg\",\"model\":\"vit\",\"topk\":[{\"label\":\"n02094114\",\"score\":0.71},...]}\n\
        Re-importing a model replaces its rows.\n\n\
        Example:\n  labelvet predictions import val.db resnet50.csv vit.jsonl.gz --top-k 5")]
    Import(PredictionsImportArgs),
}

#[derive(Args, Debug)]
pub struct PredictionsImportArgs {
    pub project: PathBuf,
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Keep each model's k best labels per image
    #[arg(long, default_value_t = 5, value_name = "K")]
    pub top_k: u32,
    /// The model's name, for files without a `model` column or field
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum JudgmentsCommand {
    /// Import answers from a CSV or JSON lines file (gzip is read directly)
    #[command(after_help = "Formats:\n  \
        CSV:     image,label,annotator,answer[,time]   (`rater` for annotator, `wnid` or\n           \
        `label_index` for label; answer yes/no/maybe; time in ms since 1970 or RFC 3339)\n  \
        JSONL:   {\"image\":\"a.jpg\",\"label\":\"n02094114\",\"annotator\":\"ann\",\"answer\":\"yes\"}\n  \
        Prodigy: {\"image\":\"a.jpg\",\"label\":\"n02094114\",\"answer\":\"accept\",\"_annotator_id\":\"ann\"}\n  \
        Classify answers (--format classify-jsonl, or found by their `present` field):\n           \
        {\"image\":\"a.jpg\",\"annotator\":\"ann\",\"present\":[\"n02094114\",\"n04409515\"],\"main\":\"n02094114\"}\n           \
        (labels as class keys or indices; optional \"objects\", default the number present)\n\
        Importing the same answers again adds nothing (each answer's id is derived from it).\n\n\
        Example:\n  labelvet judgments import val.db raters.csv.gz")]
    Import(JudgmentsImportArgs),
}

#[derive(Args, Debug)]
pub struct JudgmentsImportArgs {
    pub project: PathBuf,
    pub file: PathBuf,
    /// The file's layout (found from its content when omitted)
    #[arg(long, value_enum)]
    pub format: Option<JudgmentFormatArg>,
    /// The annotator of rows that name none
    #[arg(long, value_name = "NAME")]
    pub annotator: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum GoldCommand {
    /// Import experts' answers to gold questions from CSV or JSON lines (gzip is read directly)
    #[command(after_help = "Formats:\n  \
        CSV:   image,label,answer[,annotator]   (`wnid` or `label_index` for label, `rater` or\n         \
        `expert` for annotator; answer yes/no/maybe)\n  \
        JSONL: {\"image\":\"a.jpg\",\"label\":\"n02094114\",\"answer\":\"yes\",\"annotator\":\"e1\"}\n\
        A question's truth is its experts' majority of yes against no (maybe does not vote); a\n\
        tie is not gold. Two lines of one expert on one question must agree. Importing the same\n\
        file again adds nothing.\n\n\
        Example:\n  labelvet gold import val.db golden.csv.gz")]
    Import(GoldImportArgs),
    /// List the gold questions: experts' answers and the truth they give
    #[command(after_help = "Example:\n  labelvet gold list val.db --ties")]
    List(GoldListArgs),
}

#[derive(Subcommand, Debug)]
pub enum VerdictsCommand {
    /// Import experts' verdicts from CSV or JSON lines (gzip is read directly)
    #[command(after_help = "Formats:\n  \
        CSV:   image,label,answer[,annotator]   (answer yes/no/maybe: the verdict)\n  \
        JSONL: {\"image\":\"a.jpg\",\"label\":\"n02094114\",\"answer\":\"no\",\"annotator\":\"e1\"}\n\
        A yes or no verdict decides its question in report and every export, unless another\n\
        expert's differs. Two lines of one expert on one question must agree.\n\n\
        Example:\n  labelvet verdicts import val.db verdicts.csv")]
    Import(GoldImportArgs),
}

#[derive(Args, Debug)]
pub struct GoldImportArgs {
    pub project: PathBuf,
    pub file: PathBuf,
    /// The expert of lines that name none [default: gold, or expert for verdicts]
    #[arg(long, value_name = "NAME")]
    pub annotator: Option<String>,
}

#[derive(Args, Debug)]
pub struct GoldListArgs {
    pub project: PathBuf,
    /// Only the questions whose experts tie (not gold)
    #[arg(long)]
    pub ties: bool,
    /// Print as JSON lines
    #[arg(long)]
    pub json: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum JudgmentFormatArg {
    Csv,
    Jsonl,
    Prodigy,
    /// Classify answers (main object, number of objects), one JSON object a line
    ClassifyJsonl,
}

/// How answers become label sets; shared by `report` and `export`.
#[derive(Args, Debug, Clone)]
pub struct ResultsArgs {
    /// How a label's score is computed: selection frequency yes / (yes + no), or the
    /// Dawid-Skene posterior that it is valid
    #[arg(long, value_enum, default_value_t = MethodArg::Frequency)]
    pub method: MethodArg,
    /// A label is valid when its score is at least this
    #[arg(long, default_value_t = 0.5, value_name = "T")]
    pub threshold: f64,
    /// Use per-(image, label) scores computed elsewhere: CSV `image,label,score`
    /// (label = class key or index; gzip is read directly)
    #[arg(long, value_name = "FILE", conflicts_with = "method")]
    pub scores: Option<PathBuf>,
    /// Leave these annotators' answers out of every figure (comma-separated names)
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    pub exclude_annotators: Vec<String>,
    /// Leave out the answers of flagged annotators (see --min-gold-accuracy)
    #[arg(long)]
    pub drop_flagged: bool,
    /// Flag an annotator when the upper end of the 95% interval of their gold accuracy is
    /// below this (without gold answers: when their Dawid-Skene balanced accuracy is below 0.6)
    #[arg(long, default_value_t = 0.7, value_name = "A")]
    pub min_gold_accuracy: f64,
    /// How the CLASSIFY summary breaks ties: the value given first (Tsipras et al.), or
    /// `original` (the main label to the original label, the number to the smaller)
    #[arg(long, value_enum, default_value_t = ClassifyTiesArg::FirstGiven)]
    pub classify_ties: ClassifyTiesArg,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassifyTiesArg {
    FirstGiven,
    Original,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodArg {
    Frequency,
    DawidSkene,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ExportFormatArg {
    Jsonl,
    Csv,
    RealJson,
    Prodigy,
    /// Every current classify answer, as `judgments import --format classify-jsonl` reads it
    ClassifyJsonl,
    /// answers.parquet, labels.parquet and images.parquet in the folder given by -o
    Parquet,
    /// ImageNet-ReaL's raters.npz: every answer as a raters x questions x no/maybe/yes tensor
    RealNpz,
    /// cleanlab's multi-annotator long format: task,annotator,label
    Cleanlab,
    /// A FiftyOne image classification dataset in the folder given by -o
    Fiftyone,
}

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// The project file
    pub project: PathBuf,
    /// A classifier to run, as NAME=FILE.onnx; repeat for several models
    #[arg(long = "model", required = true, value_name = "NAME=FILE.onnx")]
    pub models: Vec<String>,
    /// Where the image files are [default: the folder the project was made from]
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
    /// Side of the square model input, in pixels [default: read from the model]
    #[arg(long, value_name = "R")]
    pub input_size: Option<u32>,
    /// Resize the shorter side to S before the centre crop [default: round(R / 0.875)]
    #[arg(long, value_name = "S")]
    pub resize_shorter: Option<u32>,
    /// Per-channel (RGB) means on the 0..1 scale: input = (x/255 - mean) / std
    /// [default: ImageNet's 0.485,0.456,0.406 with std 0.229,0.224,0.225]
    #[arg(long, value_delimiter = ',', requires = "std", value_name = "M,M,M")]
    pub mean: Option<Vec<f32>>,
    /// Per-channel (RGB) standard deviations on the 0..1 scale, with --mean
    #[arg(long, value_delimiter = ',', requires = "mean", value_name = "S,S,S")]
    pub std: Option<Vec<f32>>,
    /// Scale channel values as (x - 127) / 128 instead (EfficientNet-Lite, TensorFlow MobileNets)
    #[arg(long, conflicts_with_all = ["mean", "std"])]
    pub scale_127: bool,
    /// Keep each model's k best labels per image
    #[arg(long, default_value_t = 5, value_name = "K")]
    pub top_k: u32,
    /// Images per inference call, for models with a batch axis; a model without one runs one
    /// image at a time on each core
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub batch: usize,
    /// Commit every N images, so that a crash loses at most that many (Ctrl-C loses none). On a
    /// large project, where each commit rebuilds many candidates, chunks grow so that
    /// committing stays under 5% of the time
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub commit_every: usize,
    /// Recompute the images a model has already predicted (its old predictions are replaced)
    #[arg(long)]
    pub force: bool,
}

/// Which questions `annotate` asks and in which order; filters combine.
#[derive(Args, Debug, Clone, Default)]
pub struct QueueArgs {
    #[command(flatten)]
    pub select: QueueFilterArgs,
    /// Image order
    #[arg(
        long,
        default_value = "file",
        value_name = "file|random|fewest-answers"
    )]
    pub order: String,
}

/// Which images (those with a question passing every filter) `annotate` asks about and
/// `checkout` / `assign` hand out: declared once, flattened into the three commands.
#[derive(Args, Debug, Clone, Default)]
pub struct QueueFilterArgs {
    /// Only questions about this class (key, index or name)
    #[arg(long, value_name = "KEY|NAME")]
    pub class: Option<String>,
    /// Only questions about classes under this WordNet node (e.g. terrier, dog)
    #[arg(long, value_name = "KEY|NAME")]
    pub subtree: Option<String>,
    /// Only images whose original label is this class
    #[arg(long, value_name = "KEY|NAME")]
    pub original_label: Option<String>,
    /// Only questions whose current answers include both a yes and a no
    #[arg(long)]
    pub disputed: bool,
    /// Only questions whose selection frequency yes/(yes+no) is within LO..HI
    #[arg(long, value_name = "LO..HI")]
    pub uncertain: Option<String>,
    /// Only questions with fewer than K answers from all annotators
    #[arg(long, value_name = "K")]
    pub needs: Option<u32>,
    /// Only questions a stopping rule does not yet settle, given every answer so far (margin:K,
    /// posterior:P, max:N, several comma-separated, or recommended); nearest to settling first
    #[arg(long, value_name = "RULE")]
    pub until: Option<String>,
    /// A reproducible random sample of N images of the filtered queue (see --seed)
    #[arg(long, value_name = "N")]
    pub sample: Option<usize>,
    /// The same seed draws the same --sample (and annotate's --order random, assign's split)
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub seed: u64,
}
