//! `labelvet info`: what a project file holds, as text or JSON.

use std::io::Write;

use anyhow::Result;
use labelvet::analysis::project::ProjectData;
use labelvet::analysis::stopping::{Rule, Settlement};
use labelvet::info::ProjectInfo;
use labelvet::store::Store;

use super::StdoutPipe;
use crate::cli::InfoArgs;

pub fn run(args: InfoArgs) -> Result<()> {
    let store = Store::open(&args.project)?;
    let mut info = ProjectInfo::gather(&store)?;
    info.all_annotators = args.all;
    let until = match &args.until {
        Some(rule) => {
            let rule: Rule = rule.parse()?;
            let data = ProjectData::load(&store)?;
            Some(Settlement::of(&data, &rule).summary(&rule, data.candidate_questions))
        }
        None => None,
    };
    // `labelvet info | head` is a reader who has seen enough, not an error.
    let mut out = StdoutPipe::default();
    if args.json {
        let mut v = serde_json::to_value(&info)?;
        if let (Some(u), Some(o)) = (&until, v.as_object_mut()) {
            o.insert("until".into(), serde_json::to_value(u)?);
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        write!(out, "{info}")?;
        if let Some(u) = &until {
            write!(out, "{u}")?;
        }
    }
    out.flush()?;
    Ok(())
}
