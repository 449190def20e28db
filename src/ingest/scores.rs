//! Scores computed elsewhere (e.g. ImageNet-ReaL's Dawid-Skene posteriors), read from a file so
//! that `analysis` can aggregate with them instead of its own estimate. Reading a file is an
//! import concern; what the scores mean is `analysis::Scores`'.

use std::collections::HashMap;
use std::path::Path;

use super::table::{self, IMAGE_COLS, LABEL_COLS};
use crate::error::{Error, Result};
use crate::store::Store;

/// (image key, class key) to score.
pub type ScoresByPair = HashMap<(String, String), f64>;

/// Reads a CSV `image,label,score` (label as class key or index; ReaL's `scores.csv.gz` layout
/// `image,label_index,wnid,score` works; extra columns are ignored; gzip is read directly).
/// Every image must be in the project and every label in its vocabulary; a pair given twice is
/// an error, since either value would be a silent guess.
pub fn read_scores(store: &Store, file: &Path) -> Result<ScoresByPair> {
    let vocab = store.vocab()?;
    let images = store.image_ids()?;
    let mut rdr = table::csv_reader(table::open(file)?);
    let headers = rdr
        .headers()
        .map_err(|e| Error::input(file, 1, e.to_string()))?
        .clone();
    let img = table::need_col(file, &headers, IMAGE_COLS, "image")?;
    let lab = table::need_col(file, &headers, LABEL_COLS, "label")?;
    let sc = table::need_col(
        file,
        &headers,
        &["score", "probability", "posterior"],
        "score",
    )?;
    let mut labels: HashMap<String, String> = HashMap::new();
    let mut out = ScoresByPair::new();
    let mut rec = csv::StringRecord::new();
    while let Some(line) = table::next_record(&mut rdr, &mut rec, file)? {
        let field = |c: usize| rec.get(c).unwrap_or("");
        let image = field(img);
        if !images.contains_key(image) {
            return Err(Error::input(
                file,
                line,
                format!("image {image} is not in the project"),
            ));
        }
        let label = field(lab);
        if !labels.contains_key(label) {
            let key = vocab
                .resolve(label)
                .ok_or_else(|| Error::input(file, line, format!("unknown class `{label}`")))?
                .key
                .clone();
            labels.insert(label.to_string(), key);
        }
        let s = field(sc);
        let score: f64 = s
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite())
            .ok_or_else(|| Error::input(file, line, format!("score `{s}` is not a number")))?;
        let key = (image.to_string(), labels[label].clone());
        if out.insert(key, score).is_some() {
            return Err(Error::input(
                file,
                line,
                format!("image {image}, label {label}: score given twice"),
            ));
        }
    }
    Ok(out)
}
