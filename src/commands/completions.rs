//! `labelvet completions`: a shell completion script, from the clap definitions.

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

pub fn run(args: CompletionsArgs) -> Result<()> {
    clap_complete::generate(
        args.shell,
        &mut Cli::command(),
        "labelvet",
        &mut std::io::stdout(),
    );
    Ok(())
}
