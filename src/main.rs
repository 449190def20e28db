//! The binary: parse the command line, hand it to the command's handler in `commands`, and turn
//! an error into one message and an exit code a script can act on.

mod cli;
mod commands;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, GoldCommand, JudgmentsCommand, PredictionsCommand, VerdictsCommand};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The one place every error reaches the terminal; the variants escape their own text too.
            // writeln!, not eprintln!: a closed terminal (an SSH link gone) must not turn the
            // error into a panic.
            let _ = writeln!(
                std::io::stderr(),
                "error: {}",
                labelvet::text::display_lines(&format!("{e:#}"))
            );
            commands::exit_code(&e)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Init(args) => commands::init::run(args),
        Command::Predictions(PredictionsCommand::Import(args)) => commands::predictions::run(args),
        Command::Info(args) => commands::info::run(args),
        Command::Demo(args) => commands::demo::run(args),
        Command::Doctor(args) => commands::doctor::run(args),
        Command::Annotate(args) => commands::annotate::run(args),
        Command::Show(args) => commands::show::run(args),
        Command::Judgments(JudgmentsCommand::Import(args)) => commands::judgments::run(args),
        Command::Gold(GoldCommand::Import(args)) => commands::gold::import(args),
        Command::Gold(GoldCommand::List(args)) => commands::gold::list(args),
        Command::Verdicts(VerdictsCommand::Import(args)) => commands::gold::import_verdicts(args),
        Command::Report(args) => commands::report::run(args),
        Command::Export(args) => commands::export::run(args),
        Command::Simulate(args) => commands::simulate::run(args),
        Command::Checkout(args) => commands::checkout::run(args),
        Command::Assign(args) => commands::assign::run(args),
        Command::Merge(args) => commands::merge::run(args),
        Command::Pack(args) => commands::pack::run(args),
        Command::Predict(args) => commands::predict::run(args),
        Command::Completions(args) => commands::completions::run(args),
    }
}
