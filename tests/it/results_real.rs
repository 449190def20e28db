//! The results path on ImageNet-ReaL's published data (../shared/data/real): the 924,810 raw
//! answers imported into a project made from the 50,000-image validation manifest must count
//! exactly as the file does, reproduce `real.json` from the published scores, and let our
//! Dawid-Skene land close to the authors' posteriors. Bad input on a small project must name the
//! line and leave the project as it was.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use labelvet::analysis::Answer;
use labelvet::analysis::project::{Method, Options, ProjectData, Results, Scores, aggregate};
use labelvet::export::{ExportFormat, export};
use labelvet::ingest::judgments::{
    JudgmentFormat, JudgmentImport, JudgmentImportOptions, import_judgments,
};
use labelvet::ingest::scores::read_scores;
use labelvet::ingest::{InitOptions, init_project};
use labelvet::store::Store;

const MANIFEST: &str = "../shared/data/imagenet_val/original_labels.csv";
const RATERS: &str = "../shared/data/real/raters.csv.gz";
const SCORES: &str = "../shared/data/real/scores.csv.gz";
const REAL_JSON: &str = "../shared/data/real/real.json";

/// The 50,000-image project without answers, and with every ReaL answer; made once per run.
struct Fixture {
    answered: PathBuf,
    import: JudgmentImport,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("results_real");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let base = dir.join("base.db");
        init_project(
            &base,
            &InitOptions {
                manifest: Some(MANIFEST.into()),
                vocab: "imagenet1k".into(),
                ..InitOptions::default()
            },
        )
        .unwrap();
        let answered = dir.join("answered.db");
        std::fs::copy(&base, &answered).unwrap();
        let mut store = Store::open(&answered).unwrap();
        let import = import_judgments(
            &mut store,
            Path::new(RATERS),
            &JudgmentImportOptions::default(),
        )
        .unwrap();
        Fixture { answered, import }
    })
}

fn open_lines(path: &str) -> Box<dyn BufRead> {
    let file = std::fs::File::open(path).unwrap();
    Box::new(std::io::BufReader::new(flate2::read::GzDecoder::new(file)))
}

fn results(store: &Store, method: Method, threshold: f64, scores: bool) -> (ProjectData, Results) {
    let data = ProjectData::load(store).unwrap();
    let res = aggregate_as(store, &data, method, threshold, scores);
    (data, res)
}

fn aggregate_as(
    store: &Store,
    data: &ProjectData,
    method: Method,
    threshold: f64,
    scores: bool,
) -> Results {
    let scores = scores.then(|| Scores::from(read_scores(store, Path::new(SCORES)).unwrap()));
    let opts = Options {
        method,
        threshold,
        ..Options::default()
    };
    aggregate(data, &opts, scores.as_ref()).unwrap()
}

#[test]
fn import_reads_every_answer_and_counts_match_the_file() {
    let f = fixture();
    let r = &f.import;
    assert_eq!(r.format, JudgmentFormat::Csv);
    assert_eq!((r.rows, r.added, r.already), (924_810, 924_810, 0));
    assert_eq!(r.annotators, 85);
    assert_eq!(r.questions, 184_962);
    assert_eq!(r.images, 24_889);

    // Counts straight from the file, by (image, wnid).
    let mut expected: HashMap<(String, String), [u32; 3]> = HashMap::new();
    let mut lines = open_lines(RATERS).lines();
    assert_eq!(
        lines.next().unwrap().unwrap(),
        "image,label_index,wnid,rater,answer"
    );
    for line in lines {
        let line = line.unwrap();
        let f: Vec<&str> = line.split(',').collect();
        let a = Answer::parse(f[4]).unwrap();
        expected
            .entry((f[0].to_string(), f[2].to_string()))
            .or_default()[a.index()] += 1;
    }
    assert_eq!(expected.len(), 184_962);

    let store = Store::open(&f.answered).unwrap();
    let (data, res) = results(&store, Method::Frequency, 0.5, false);
    assert_eq!(res.questions.len(), expected.len());
    for q in &res.questions {
        let key = (
            data.images[q.image as usize].key.clone(),
            data.classes[q.class as usize].key.clone(),
        );
        assert_eq!(
            Some(&q.counts.as_array()),
            expected.get(&key),
            "counts of {key:?}"
        );
    }
    // Answered labels became candidates: the original label plus every rated label.
    let (_, min, max) = store.candidate_stats().unwrap();
    assert!(min >= 1 && max > 5, "candidates per image {min}..{max}");
}

#[test]
fn published_scores_at_0_8_reproduce_real_json() {
    let f = fixture();
    let store = Store::open(&f.answered).unwrap();
    let (data, res) = results(&store, Method::Given, 0.8, true);
    assert_eq!(res.unscored_questions, 0);
    let mut out = Vec::new();
    let n = export(&store, &data, &res, ExportFormat::RealJson, &mut out).unwrap();
    assert_eq!(n, 50_000);
    let ours: Vec<Vec<u32>> = serde_json::from_slice(&out).unwrap();
    let published: Vec<Vec<u32>> =
        serde_json::from_str(&std::fs::read_to_string(REAL_JSON).unwrap()).unwrap();
    assert_eq!(ours.len(), 50_000);
    assert_eq!(published.len(), 50_000);
    // Within an image, real.json's order follows neither index, score, nor the original label
    // (e.g. image 2 is [970, 795]), so each image's list is compared as the set it is; ours is
    // in ascending index order.
    for (i, (a, b)) in ours.iter().zip(&published).enumerate() {
        assert!(a.windows(2).all(|w| w[0] < w[1]), "image {}: {a:?}", i + 1);
        let mut b = b.clone();
        b.sort_unstable();
        assert_eq!(a, &b, "image {}", i + 1);
    }
    // ReaL's own figures (Beyer et al. 2020): 3,163 images with no valid label (46,837 keep at
    // least one), and 7,443 with more than one.
    assert_eq!(ours.iter().filter(|set| set.is_empty()).count(), 3_163);
    assert_eq!(ours.iter().filter(|set| set.len() > 1).count(), 7_443);
    // The byte layout is the published file's: `[[], [795, 970], ...`.
    assert!(out.starts_with(b"[[], [795, 970], [230, 231], "));
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    sxy / (sxx * syy).sqrt()
}

#[test]
fn dawid_skene_through_the_project_matches_the_published_posteriors() {
    let f = fixture();
    let store = Store::open(&f.answered).unwrap();
    let (data, ds) = results(&store, Method::DawidSkene, 0.8, false);
    let run = ds.ds.unwrap();
    assert!(run.converged, "{run:?}");
    let given = aggregate_as(&store, &data, Method::Given, 0.8, true);
    assert_eq!(ds.questions.len(), given.questions.len());
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut agree = 0usize;
    for (a, b) in ds.questions.iter().zip(&given.questions) {
        assert_eq!((a.image, a.class), (b.image, b.class));
        ours.push(a.score.unwrap());
        theirs.push(b.score.unwrap());
        agree += usize::from(a.valid == b.valid);
    }
    let r = pearson(&ours, &theirs);
    let share = agree as f64 / ours.len() as f64;
    eprintln!(
        "Dawid-Skene vs published: Pearson {r:.5}, validity agreement at 0.8 {:.3}% ({} iterations)",
        100.0 * share,
        run.iterations
    );
    assert!(r >= 0.98, "Pearson {r}");
    assert!(share >= 0.98, "agreement {share}");
    // Deterministic: a second run gives the same bits.
    let again = aggregate_as(&store, &data, Method::DawidSkene, 0.8, false);
    assert!(
        ds.questions
            .iter()
            .zip(&again.questions)
            .all(|(a, b)| a.score.unwrap().to_bits() == b.score.unwrap().to_bits())
    );
    assert_eq!(data.annotators.len(), 85);
}

#[test]
fn importing_again_even_split_and_renamed_adds_nothing() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("again.db");
    std::fs::copy(&f.answered, &db).unwrap();
    let mut store = Store::open(&db).unwrap();
    let events_before: u64 = store
        .conn_for_tests()
        .query_row("SELECT count(*) FROM judgments", [], |r| r.get(0))
        .unwrap();

    let again = import_judgments(
        &mut store,
        Path::new(RATERS),
        &JudgmentImportOptions::default(),
    )
    .unwrap();
    assert_eq!(
        (again.rows, again.added, again.already),
        (924_810, 0, 924_810)
    );

    // The second half of the file, uncompressed, under another name, with the columns moved.
    let part = dir.path().join("second-half.csv");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&part).unwrap());
    writeln!(w, "answer,rater,wnid,image").unwrap();
    for (i, line) in open_lines(RATERS).lines().skip(1).enumerate() {
        if i >= 924_810 / 2 {
            let line = line.unwrap();
            let f: Vec<&str> = line.split(',').collect();
            writeln!(w, "{},{},{},{}", f[4], f[3], f[2], f[0]).unwrap();
        }
    }
    drop(w);
    let split = import_judgments(&mut store, &part, &JudgmentImportOptions::default()).unwrap();
    assert_eq!(split.added, 0);
    assert_eq!(split.already, 924_810 - 924_810 / 2);
    let events_after: u64 = store
        .conn_for_tests()
        .query_row("SELECT count(*) FROM judgments", [], |r| r.get(0))
        .unwrap();
    assert_eq!(events_before, events_after);
}

/// A 30-image project (the first 30 validation images), for the bad-input tests.
fn small_project(dir: &Path) -> PathBuf {
    let manifest = dir.join("manifest.csv");
    let text = std::fs::read_to_string(MANIFEST).unwrap();
    let head: Vec<&str> = text.lines().take(31).collect();
    std::fs::write(&manifest, head.join("\n") + "\n").unwrap();
    let db = dir.join("small.db");
    init_project(
        &db,
        &InitOptions {
            manifest: Some(manifest),
            vocab: "imagenet1k".into(),
            ..InitOptions::default()
        },
    )
    .unwrap();
    db
}

/// Everything an import may change, to check "left as it was".
fn dump(db: &Path) -> Vec<String> {
    let store = Store::open(db).unwrap();
    let mut out = Vec::new();
    for sql in [
        "SELECT id || image || label || answer || annotator || created_at FROM judgments ORDER BY id",
        "SELECT image_id || ' ' || label FROM candidates ORDER BY image_id, label",
    ] {
        let mut stmt = store.conn_for_tests().prepare(sql).unwrap();
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        out.extend(rows);
    }
    out
}

#[test]
fn bad_input_names_the_line_and_leaves_the_project_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let db = small_project(dir.path());
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        "image,label,annotator,answer,time\n\
         ILSVRC2012_val_00000001.JPEG,n01751748,ann,yes,1700000000000\n\
         ILSVRC2012_val_00000001.JPEG,52,bob,no,2023-11-14T22:13:20Z\n",
    )
    .unwrap();
    let mut store = Store::open(&db).unwrap();
    let r = import_judgments(&mut store, &good, &JudgmentImportOptions::default()).unwrap();
    assert_eq!(r.added, 2);
    drop(store);
    let before = dump(&db);

    let good_line = "ILSVRC2012_val_00000002.JPEG,n09193705,ann,yes\n";
    let cases: [(&str, String, &str); 6] = [
        (
            "unknown.csv",
            format!("image,label,annotator,answer\n{good_line}ILSVRC2012_val_00000002.JPEG,n99999999,ann,yes\n"),
            "unknown.csv:3: unknown class `n99999999`",
        ),
        (
            "stranger.csv",
            format!("image,label,annotator,answer\n{good_line}{good_line}ILSVRC2012_val_00049999.JPEG,n09193705,ann,no\n"),
            "stranger.csv:4: image ILSVRC2012_val_00049999.JPEG is not in the project",
        ),
        (
            "answer.csv",
            format!("image,label,annotator,answer\n{good_line}ILSVRC2012_val_00000002.JPEG,n09193705,bob,perhaps\n"),
            "answer.csv:3: answer `perhaps` is not yes, no or maybe",
        ),
        (
            "broken.jsonl",
            "{\"image\":\"ILSVRC2012_val_00000002.JPEG\",\"label\":970,\"annotator\":\"ann\",\"answer\":\"yes\"}\n\
             {\"image\":\"ILSVRC2012_val_00000003.JPEG\",\"label\":230,\"annotator\":\"ann\",\"answ\n"
                .to_string(),
            "broken.jsonl:2: not an answer record",
        ),
        (
            "prodigy.jsonl",
            "{\"image\":\"ILSVRC2012_val_00000002.JPEG\",\"label\":\"n09193705\",\"answer\":\"accept\",\"_annotator_id\":\"p\"}\n\
             {\"image\":\"ILSVRC2012_val_00000002.JPEG\",\"label\":\"n09193705\",\"answer\":\"yes\",\"_annotator_id\":\"p\"}\n"
                .to_string(),
            "prodigy.jsonl:2: answer `yes` is not accept, reject or ignore",
        ),
        (
            "nobody.csv",
            "image,label,answer\nILSVRC2012_val_00000002.JPEG,n09193705,yes\n".to_string(),
            "nobody.csv:1: no annotator column",
        ),
    ];
    for (name, text, want) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let mut store = Store::open(&db).unwrap();
        let err = import_judgments(&mut store, &file, &JudgmentImportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{name}: got `{err}`, want `{want}`");
        drop(store);
        assert_eq!(dump(&db), before, "{name} changed the project");
    }
}

#[test]
fn prodigy_export_round_trips_through_import() {
    let dir = tempfile::tempdir().unwrap();
    let db = small_project(dir.path());
    let answers = dir.path().join("answers.jsonl");
    std::fs::write(
        &answers,
        "{\"image\":\"ILSVRC2012_val_00000001.JPEG\",\"label\":\"n01751748\",\"annotator\":\"ann\",\"answer\":\"yes\"}\n\
         {\"image\":\"ILSVRC2012_val_00000001.JPEG\",\"label\":\"n01751748\",\"annotator\":\"ann\",\"answer\":\"no\"}\n\
         {\"image\":\"ILSVRC2012_val_00000001.JPEG\",\"label\":65,\"rater\":\"bob\",\"answer\":\"maybe\",\"time\":1700000000000}\n\
         {\"image\":\"ILSVRC2012_val_00000002.JPEG\",\"wnid\":\"n09193705\",\"annotator\":\"bob\",\"answer\":\"yes\"}\n",
    )
    .unwrap();
    let mut store = Store::open(&db).unwrap();
    let r = import_judgments(&mut store, &answers, &JudgmentImportOptions::default()).unwrap();
    assert_eq!((r.format, r.added), (JudgmentFormat::Jsonl, 4));
    // Untimed answers by one annotator to one question: the later line is the current one.
    let current = store.current_answers().unwrap();
    assert_eq!(current.len(), 3);
    assert_eq!(
        (current[0].annotator.as_str(), current[0].answer),
        ("ann", Answer::No)
    );

    let data = ProjectData::load(&store).unwrap();
    let res = aggregate(&data, &Options::default(), None).unwrap();
    let mut out = Vec::new();
    assert_eq!(
        export(&store, &data, &res, ExportFormat::Prodigy, &mut out).unwrap(),
        3
    );
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("\"answer\":\"reject\""), "{text}");
    assert!(text.contains("\"answer\":\"ignore\""), "{text}");

    let exported = dir.path().join("exported.jsonl");
    std::fs::write(&exported, &text).unwrap();
    drop(store);
    // A project without the answers gets the same current answers back.
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = small_project(fresh_dir.path());
    let mut store = Store::open(&fresh).unwrap();
    let r = import_judgments(&mut store, &exported, &JudgmentImportOptions::default()).unwrap();
    assert_eq!((r.format, r.added), (JudgmentFormat::Prodigy, 3));
    let round: Vec<_> = store
        .current_answers()
        .unwrap()
        .into_iter()
        .map(|c| (c.image, c.label, c.annotator, c.answer))
        .collect();
    let orig: Vec<_> = current
        .into_iter()
        .map(|c| (c.image, c.label, c.annotator, c.answer))
        .collect();
    assert_eq!(round, orig);
}
