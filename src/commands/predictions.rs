//! `labelvet predictions import`: models' top-k labels into a project, as candidates.

use anyhow::Result;
use labelvet::ingest::predictions::{PredictionOptions, import_predictions};
use labelvet::store::Store;
use labelvet::text::display;

use super::{plural, progress_wanted};
use crate::cli::PredictionsImportArgs;

pub fn run(args: PredictionsImportArgs) -> Result<()> {
    let PredictionsImportArgs {
        project,
        files,
        top_k,
        model,
    } = args;
    let mut store = Store::open(&project)?;
    let r = import_predictions(
        &mut store,
        &files,
        &PredictionOptions {
            top_k,
            model,
            progress: progress_wanted(),
        },
    )?;
    outln!(
        "imported {} predictions of {} model{} ({}) from {} file{}",
        r.rows,
        r.models.len(),
        plural(r.models.len()),
        display(&r.models.join(", ")),
        r.files,
        plural(r.files)
    );
    for (file, model) in &r.models_from_file_names {
        outln!(
            "{} names no model: its predictions are model `{}`, from the file name (--model \
             NAME names it otherwise)",
            display(file),
            display(model)
        );
    }
    if r.beyond_top_k > 0 {
        outln!(
            "skipped {} rows ranked beyond the top {top_k}",
            r.beyond_top_k
        );
    }
    let (mean, min, max) = store.candidate_stats()?;
    outln!("candidates per image: mean {mean:.1}, min {min}, max {max}");
    Ok(())
}
