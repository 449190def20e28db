//! The command line, as clap definitions only: nothing here does any work.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
    Init {
        /// The project file to create
        project: PathBuf,
        /// A folder tree of images; keys are paths relative to it. In ImageNet layout
        /// (<wnid>/<file>) the folder gives the original label.
        #[arg(long, value_name = "DIR")]
        images: Option<PathBuf>,
        /// A CSV listing images by key (`image` column) with an optional original label
        /// (`label`, `wnid` or `label_index`); with --images, files are looked for there
        #[arg(long, value_name = "FILE")]
        manifest: Option<PathBuf>,
        /// A CSV `image,label` of original labels, for a folder not in ImageNet layout
        #[arg(long, value_name = "FILE")]
        labels: Option<PathBuf>,
        /// `imagenet1k` (bundled) or a TSV/CSV vocabulary file
        #[arg(long, default_value = "imagenet1k", value_name = "imagenet1k|FILE")]
        vocab: String,
    },
    /// Model predictions: import top-k labels that become candidates
    #[command(subcommand)]
    Predictions(PredictionsCommand),
    /// What a project file holds: classes, images, models, candidates, judgments
    #[command(after_help = "Example:\n  labelvet info val.db")]
    Info {
        project: PathBuf,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Make (or reopen) the bundled demo project and open it
    #[command(
        after_help = "Example:\n  labelvet demo              # then answer with y / n / m\n  \
        labelvet demo --info       # only print what the demo project holds"
    )]
    Demo {
        /// Only print what the demo project holds, do not open the annotation screen
        #[arg(long)]
        info: bool,
    },
    /// Print a shell completion script
    #[command(after_help = "Examples:\n  \
        labelvet completions bash > ~/.local/share/bash-completion/completions/labelvet\n  \
        labelvet completions zsh > ~/.zfunc/_labelvet\n  \
        labelvet completions fish > ~/.config/fish/completions/labelvet.fish")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand, Debug)]
pub enum PredictionsCommand {
    /// Import predictions from long CSV or JSON lines files (gzip is read directly)
    #[command(after_help = "Formats:\n  \
        CSV:   image,model,rank,label,score     (label = class key or class index)\n  \
        JSONL: {\"image\":\"a.jpg\",\"model\":\"vit\",\"topk\":[{\"label\":\"n02094114\",\"score\":0.71},...]}\n\
        Re-importing a model replaces its rows.\n\n\
        Example:\n  labelvet predictions import val.db resnet50.csv vit.jsonl.gz --top-k 5")]
    Import {
        project: PathBuf,
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Keep each model's k best labels per image
        #[arg(long, default_value_t = 5, value_name = "K")]
        top_k: u32,
        /// The model's name, for files without a `model` column or field
        #[arg(long, value_name = "NAME")]
        model: Option<String>,
    },
}
