//! `labelvet info`: what a project file holds, as text or JSON.

use anyhow::Result;
use labelvet::info::ProjectInfo;
use labelvet::store::Store;

use crate::cli::InfoArgs;

pub fn run(args: InfoArgs) -> Result<()> {
    let store = Store::open(&args.project)?;
    let mut info = ProjectInfo::gather(&store)?;
    info.all_annotators = args.all;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        print!("{info}");
    }
    Ok(())
}
