//! The binary: parse the command line, hand it to the command's handler in `commands`, and turn
//! an error into one message and an exit code a script can act on.

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, JudgmentsCommand, PredictionsCommand};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
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
        Command::Report(args) => commands::report::run(args),
        Command::Export(args) => commands::export::run(args),
        Command::Checkout(args) => commands::checkout::run(args),
        Command::Assign(args) => commands::assign::run(args),
        Command::Merge(args) => commands::merge::run(args),
        Command::Predict(args) => commands::predict::run(args),
        Command::Completions(args) => commands::completions::run(args),
    }
}
