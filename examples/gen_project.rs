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
//!
//! With `--files DIR` it writes the inputs instead of a project, streaming, so that the imports
//! themselves can be timed at ImageNet-train scale (scripts/scale.sh): `manifest.csv` (`image,label`),
//! one `model<m>.jsonl.gz` per model (one line per image with its top-5), and `answers.csv.gz`
//! (`image,label,annotator,answer`) for the first `--answer-images` images, `--answer-labels`
//! candidates each. `--names train` names images as ImageNet's training set does
//! (`n01440764/n01440764_10026.JPEG`, the folder being the original label), `--names val` as
//! its validation set (`ILSVRC2012_val_00000001.JPEG`).
//!
//! ```text
//! cargo run --release --example gen_project -- --images 1281167 --models 10 --annotators 5 \
//!     --names train --answer-images 200000 --answer-labels 5 --files /tmp/scale
//! ```

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use flate2::Compression;
use flate2::write::GzEncoder;

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
    /// The project to write; with `files`, the folder for the input files instead.
    pub out: PathBuf,
    /// Write the input files (manifest, predictions, answers) into `out` instead of a project.
    pub files: bool,
    pub names: Names,
    /// Images with answers (files mode; default all).
    pub answer_images: Option<usize>,
    /// Candidates answered per image (files mode; default all).
    pub answer_labels: Option<usize>,
}

/// How image keys look.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Names {
    /// `ILSVRC2012_val_00000001.JPEG`
    Val,
    /// `n01440764/n01440764_10026.JPEG`: grouped by class folder, as the training set is.
    Train,
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
        files: false,
        names: Names::Val,
        answer_images: None,
        answer_labels: None,
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
            "--answer-images" => opts.answer_images = Some(number("--answer-images")?),
            "--answer-labels" => opts.answer_labels = Some(number("--answer-labels")?),
            "--files" => {
                opts.files = true;
                out = Some(PathBuf::from(it.next().ok_or("--files takes a folder")?));
            }
            "--names" => {
                opts.names = match it.next().map(String::as_str) {
                    Some("val") => Names::Val,
                    Some("train") => Names::Train,
                    _ => return Err("--names takes `val` or `train`".into()),
                }
            }
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            s => out = Some(PathBuf::from(s)),
        }
    }
    opts.out = out.ok_or(
        "usage: gen_project [--images N] [--models M] [--annotators K] [--seed S] \
         [--names val|train] (OUT.db | --files DIR [--answer-images N] [--answer-labels L])",
    )?;
    if opts.images == 0 {
        return Err("--images must be at least 1".into());
    }
    Ok(opts)
}

/// One generated image: its key, the class really in it, and the dataset's label for it.
struct Drawn {
    key: String,
    truth: usize,
    original: usize,
}

/// Image `i` of `n`. Its original label is wrong one time in ten, as in the dataset audits that
/// motivate the tool. Training-set names put the original label in the folder, so there the
/// folder is drawn first and the truth differs from it; validation names draw the truth first.
fn draw_image(names: Names, i: usize, n: usize, classes: &[&str], rng: &mut Rng) -> Drawn {
    match names {
        Names::Val => {
            let truth = rng.below(classes.len());
            let original = if rng.chance(0.1) {
                rng.below(classes.len())
            } else {
                truth
            };
            Drawn {
                key: format!("ILSVRC2012_val_{:08}.JPEG", i + 1),
                truth,
                original,
            }
        }
        Names::Train => {
            // Contiguous blocks per class, as a sorted listing of the training set is; file
            // numbers rise with gaps, as ImageNet's do.
            let original = i * classes.len() / n;
            let first = (original * n).div_ceil(classes.len());
            let number = (i - first) * 8 + 1 + rng.below(8);
            let truth = if rng.chance(0.1) {
                rng.below(classes.len())
            } else {
                original
            };
            let wnid = classes[original];
            Drawn {
                key: format!("{wnid}/{wnid}_{number}.JPEG"),
                truth,
                original,
            }
        }
    }
}

/// Model `m`'s top-5 for an image of class `truth`. Better models put the true class first more
/// often; the other guesses come mostly from the classes next to it in the vocabulary's order
/// (ImageNet's order keeps look-alikes together: dog breeds, snakes, ...), so that models agree
/// as real ones do and the candidates per image stay near the ten-odd real ensembles give.
fn top5(m: usize, models: usize, truth: usize, n_classes: usize, rng: &mut Rng) -> Vec<usize> {
    let accuracy = 0.6 + 0.3 * (m as f64 + 1.0) / (models as f64 + 1.0);
    let mut top: Vec<usize> = Vec::with_capacity(TOP_K);
    if rng.chance(accuracy) {
        top.push(truth);
    }
    let block = truth - truth % 16;
    while top.len() < TOP_K {
        let c = if rng.chance(0.3) {
            truth
        } else if rng.chance(0.8) {
            (block + rng.below(16)) % n_classes
        } else {
            rng.below(n_classes)
        };
        if !top.contains(&c) {
            top.push(c);
        }
    }
    top
}

/// An annotator's answer to "is `c` in an image of class `truth`?": mostly right, some
/// "maybe", a few mistakes; later annotators are a little more careful.
fn answer(a: usize, annotators: usize, c: usize, truth: usize, rng: &mut Rng) -> &'static str {
    let care = 0.85 + 0.1 * (a as f64 / annotators as f64);
    if rng.chance(0.05) {
        "maybe"
    } else if rng.chance(care) == (c == truth) {
        "yes"
    } else {
        "no"
    }
}

/// Writes the project at `opts.out` (which must not exist yet), or with `opts.files` the input
/// files into the folder `opts.out`.
pub fn generate(opts: &GenOptions) -> labelvet::Result<Generated> {
    if opts.files {
        return write_files(opts);
    }
    let vocab = Vocab::imagenet1k();
    let classes: Vec<&str> = vocab.classes().iter().map(|c| c.key.as_str()).collect();
    let mut rng = Rng(opts.seed);
    let tmp = tempfile::tempdir().map_err(|e| labelvet::Error::io(Path::new("temp dir"), e))?;
    let write = |name: &str, text: &str| -> labelvet::Result<PathBuf> {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).map_err(|e| labelvet::Error::io(&p, e))?;
        Ok(p)
    };

    let images: Vec<Drawn> = (0..opts.images)
        .map(|i| draw_image(opts.names, i, opts.images, &classes, &mut rng))
        .collect();
    let mut manifest = String::from("image,label\n");
    let mut candidates: Vec<BTreeSet<usize>> = Vec::with_capacity(opts.images);
    for im in &images {
        writeln!(manifest, "{},{}", im.key, classes[im.original]).unwrap();
        candidates.push(BTreeSet::from([im.original]));
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
        let mut csv = String::from("image,model,rank,label,score\n");
        for (i, im) in images.iter().enumerate() {
            let top = top5(m, opts.models, im.truth, classes.len(), &mut rng);
            for (rank, (c, score)) in top.iter().zip(scores()).enumerate() {
                writeln!(
                    csv,
                    "{},model{m},{},{},{score:.5}",
                    im.key,
                    rank + 1,
                    classes[*c]
                )
                .unwrap();
                candidates[i].insert(*c);
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

    // Annotators answer every candidate.
    let mut answers = 0;
    if opts.annotators > 0 {
        let mut csv = String::from("image,label,annotator,answer\n");
        for a in 0..opts.annotators {
            for (i, im) in images.iter().enumerate() {
                for &c in &candidates[i] {
                    let ans = answer(a, opts.annotators, c, im.truth, &mut rng);
                    writeln!(csv, "{},{},annotator{a},{ans}", im.key, classes[c]).unwrap();
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

/// Scores for ranks 1..5: each takes 60% of what is left, the last takes the rest.
fn scores() -> [f64; TOP_K] {
    let mut out = [0.0; TOP_K];
    let mut left = 1.0;
    for (rank, s) in out.iter_mut().enumerate() {
        *s = if rank + 1 == TOP_K { left } else { left * 0.6 };
        left -= *s;
    }
    out
}

type Gz = GzEncoder<BufWriter<File>>;

/// The files mode: one pass over the images, every output written as it goes, so that memory
/// stays flat at any size (1.28 million images make about 2.5 GB of uncompressed JSON).
fn write_files(opts: &GenOptions) -> labelvet::Result<Generated> {
    let dir = &opts.out;
    std::fs::create_dir_all(dir).map_err(|e| labelvet::Error::io(dir, e))?;
    let vocab = Vocab::imagenet1k();
    let classes: Vec<&str> = vocab.classes().iter().map(|c| c.key.as_str()).collect();
    let mut rng = Rng(opts.seed);
    let create = |name: &str| -> labelvet::Result<(PathBuf, BufWriter<File>)> {
        let p = dir.join(name);
        let f = File::create(&p).map_err(|e| labelvet::Error::io(&p, e))?;
        Ok((p, BufWriter::with_capacity(1 << 20, f)))
    };
    // Fast compression: the generator should cost less than the imports it feeds.
    let gz = |name: &str| -> labelvet::Result<(PathBuf, Gz)> {
        let (p, w) = create(name)?;
        Ok((p, GzEncoder::new(w, Compression::fast())))
    };
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e: std::io::Error| labelvet::Error::io(&p, e)
    };

    let (manifest_path, mut manifest) = create("manifest.csv")?;
    manifest
        .write_all(b"image,label\n")
        .map_err(io(&manifest_path))?;
    let mut models: Vec<(PathBuf, Gz)> = (0..opts.models)
        .map(|m| gz(&format!("model{m}.jsonl.gz")))
        .collect::<labelvet::Result<_>>()?;
    let mut answers: Option<(PathBuf, Gz)> = if opts.annotators > 0 {
        let (p, mut w) = gz("answers.csv.gz")?;
        w.write_all(b"image,label,annotator,answer\n")
            .map_err(io(&p))?;
        Some((p, w))
    } else {
        None
    };
    let answer_images = opts.answer_images.unwrap_or(opts.images);
    let answer_labels = opts.answer_labels.unwrap_or(usize::MAX);

    let mut out = Generated {
        images: opts.images,
        ..Generated::default()
    };
    let mut line = String::with_capacity(512);
    let mut candidates: Vec<usize> = Vec::with_capacity(1 + TOP_K * opts.models);
    for i in 0..opts.images {
        let im = draw_image(opts.names, i, opts.images, &classes, &mut rng);
        line.clear();
        writeln!(line, "{},{}", im.key, classes[im.original]).unwrap();
        manifest
            .write_all(line.as_bytes())
            .map_err(io(&manifest_path))?;
        candidates.clear();
        candidates.push(im.original);
        for (m, (path, w)) in models.iter_mut().enumerate() {
            let top = top5(m, opts.models, im.truth, classes.len(), &mut rng);
            line.clear();
            write!(
                line,
                r#"{{"image":"{}","model":"model{m}","topk":["#,
                im.key
            )
            .unwrap();
            for (rank, (c, score)) in top.iter().zip(scores()).enumerate() {
                let sep = if rank == 0 { "" } else { "," };
                write!(
                    line,
                    r#"{sep}{{"label":"{}","score":{score:.5}}}"#,
                    classes[*c]
                )
                .unwrap();
                if !candidates.contains(c) {
                    candidates.push(*c);
                }
            }
            line.push_str("]}\n");
            w.write_all(line.as_bytes()).map_err(io(path))?;
            out.prediction_rows += TOP_K as u64;
        }
        if let Some((path, w)) = answers.as_mut()
            && i < answer_images
        {
            for a in 0..opts.annotators {
                for &c in candidates.iter().take(answer_labels) {
                    let ans = answer(a, opts.annotators, c, im.truth, &mut rng);
                    line.clear();
                    writeln!(line, "{},{},annotator{a},{ans}", im.key, classes[c]).unwrap();
                    w.write_all(line.as_bytes()).map_err(io(path))?;
                    out.answers += 1;
                }
            }
        }
    }
    manifest.flush().map_err(io(&manifest_path))?;
    for (path, w) in models.into_iter().chain(answers) {
        w.finish().and_then(|mut b| b.flush()).map_err(io(&path))?;
    }
    Ok(out)
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
    let what = if opts.files { "written" } else { "imported" };
    match generate(&opts) {
        Ok(g) => println!(
            "{}: {} images, {} prediction rows, {} answers {what} in {:.1?}",
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
