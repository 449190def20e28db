//! Writes a synthetic project of a chosen size, for trying labelvet (and its benchmarks) at
//! ImageNet scale without the images: a manifest of keys with original labels (no files), the
//! top-5 predictions of M models, and the yes/no/maybe answers of K annotators to every candidate.
//! Everything goes in through the library's real import paths (CSV files in a temp folder, then
//! `init_project`, `import_predictions` and `import_judgments`), so the result is exactly what a
//! user's imports would make. The same seed gives the same project.
//!
//! ```text
//! cargo run --release --example gen_project -- --images 50000 --models 3 --annotators 5 big.db
//! ```

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use labelvet::ingest::judgments::{JudgmentImportOptions, import_judgments};
use labelvet::ingest::predictions::{PredictionOptions, import_predictions};
use labelvet::ingest::{InitOptions, init_project};
use labelvet::vocab::{IMAGENET1K, Vocab};

const TOP_K: usize = 5;

#[derive(Clone, Debug, PartialEq)]
pub struct GenOptions {
    pub images: usize,
    pub models: usize,
    pub annotators: usize,
    pub seed: u64,
    pub out: PathBuf,
}

/// What was written, for the summary line and for tests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Generated {
    pub images: usize,
    pub prediction_rows: u64,
    pub answers: u64,
}

/// splitmix64: small, fast and the same on every platform, so a seed names one project.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

pub fn parse_args(args: &[String]) -> Result<GenOptions, String> {
    let mut opts = GenOptions {
        images: 1000,
        models: 2,
        annotators: 3,
        seed: 1,
        out: PathBuf::new(),
    };
    let mut out = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} takes a whole number"))
        };
        match a.as_str() {
            "--images" => opts.images = number("--images")?,
            "--models" => opts.models = number("--models")?,
            "--annotators" => opts.annotators = number("--annotators")?,
            "--seed" => opts.seed = number("--seed")? as u64,
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            s => out = Some(PathBuf::from(s)),
        }
    }
    opts.out = out
        .ok_or("usage: gen_project [--images N] [--models M] [--annotators K] [--seed S] OUT.db")?;
    if opts.images == 0 {
        return Err("--images must be at least 1".into());
    }
    Ok(opts)
}

/// Writes the project at `opts.out` (which must not exist yet).
pub fn generate(opts: &GenOptions) -> labelvet::Result<Generated> {
    let vocab = Vocab::imagenet1k();
    let classes: Vec<&str> = vocab.classes().iter().map(|c| c.key.as_str()).collect();
    let mut rng = Rng(opts.seed);
    let tmp = tempfile::tempdir().map_err(|e| labelvet::Error::io(Path::new("temp dir"), e))?;
    let write = |name: &str, text: &str| -> labelvet::Result<PathBuf> {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).map_err(|e| labelvet::Error::io(&p, e))?;
        Ok(p)
    };

    // Each image has a true class; its original label is wrong one time in ten, as in the
    // dataset audits that motivate the tool.
    let keys: Vec<String> = (1..=opts.images)
        .map(|i| format!("ILSVRC2012_val_{i:08}.JPEG"))
        .collect();
    let truth: Vec<usize> = keys.iter().map(|_| rng.below(classes.len())).collect();
    let mut manifest = String::from("image,label\n");
    let mut candidates: Vec<BTreeSet<usize>> = Vec::with_capacity(opts.images);
    for (key, &t) in keys.iter().zip(&truth) {
        let original = if rng.chance(0.1) {
            rng.below(classes.len())
        } else {
            t
        };
        writeln!(manifest, "{key},{}", classes[original]).unwrap();
        candidates.push(BTreeSet::from([original]));
    }
    let manifest = write("manifest.csv", &manifest)?;
    let init = InitOptions {
        manifest: Some(manifest),
        vocab: IMAGENET1K.into(),
        ..InitOptions::default()
    };
    let (mut store, _) = init_project(&opts.out, &init)?;

    let mut files = Vec::new();
    for m in 0..opts.models {
        // Better models put the true class first more often.
        let accuracy = 0.6 + 0.3 * (m as f64 + 1.0) / (opts.models as f64 + 1.0);
        let mut csv = String::from("image,model,rank,label,score\n");
        for (i, key) in keys.iter().enumerate() {
            let mut top: Vec<usize> = Vec::with_capacity(TOP_K);
            if rng.chance(accuracy) {
                top.push(truth[i]);
            }
            while top.len() < TOP_K {
                let c = if rng.chance(0.3) {
                    truth[i]
                } else {
                    rng.below(classes.len())
                };
                if !top.contains(&c) {
                    top.push(c);
                }
            }
            let mut left = 1.0;
            for (rank, &c) in top.iter().enumerate() {
                let score = if rank + 1 == TOP_K { left } else { left * 0.6 };
                left -= score;
                writeln!(csv, "{key},model{m},{},{},{score:.5}", rank + 1, classes[c]).unwrap();
                candidates[i].insert(c);
            }
        }
        files.push(write(&format!("model{m}.csv"), &csv)?);
    }
    let popts = PredictionOptions {
        top_k: TOP_K as u32,
        ..PredictionOptions::default()
    };
    let prediction_rows = if files.is_empty() {
        0
    } else {
        import_predictions(&mut store, &files, &popts)?.rows
    };

    // Annotators answer every candidate: mostly right, some "maybe", a few mistakes.
    let mut answers = 0;
    if opts.annotators > 0 {
        let mut csv = String::from("image,label,annotator,answer\n");
        for a in 0..opts.annotators {
            let care = 0.85 + 0.1 * (a as f64 / opts.annotators as f64);
            for (i, key) in keys.iter().enumerate() {
                for &c in &candidates[i] {
                    let right = c == truth[i];
                    let answer = if rng.chance(0.05) {
                        "maybe"
                    } else if rng.chance(care) == right {
                        "yes"
                    } else {
                        "no"
                    };
                    writeln!(csv, "{key},{},annotator{a},{answer}", classes[c]).unwrap();
                }
            }
        }
        let file = write("answers.csv", &csv)?;
        answers = import_judgments(&mut store, &file, &JudgmentImportOptions::default())?.rows;
    }
    Ok(Generated {
        images: opts.images,
        prediction_rows,
        answers,
    })
}

#[allow(dead_code)]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse_args(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let start = Instant::now();
    match generate(&opts) {
        Ok(g) => println!(
            "{}: {} images, {} prediction rows, {} answers in {:.1?}",
            opts.out.display(),
            g.images,
            g.prediction_rows,
            g.answers,
            start.elapsed()
        ),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
