//! `labelvet doctor`: what this terminal can draw, and why.

use anyhow::Result;

use crate::cli::DoctorArgs;

pub fn run(args: DoctorArgs) -> Result<()> {
    out!("{}", labelvet::tui::doctor(args.graphics.parse()?)?);
    Ok(())
}
