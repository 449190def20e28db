//! `judgments import`, `report` (text, JSON, figures) and `export` (every format) run as a user
//! runs them: the real binary, on a project of the 20 labelled ImageNet photos in
//! ../shared/data/photos with the three real models' top-5 predictions, and answers of three
//! annotators written out below, so that every figure can be checked against them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::cli_support;
use cli_support::{fails, ok, s};

const PHOTOS: &str = "../shared/data/photos";
const PREDICTIONS: &str = "../shared/data/photos/predictions.csv";
const MODELS: [&str; 3] = [
    "efficientnet_lite0",
    "efficientnet_lite1",
    "efficientnet_lite2",
];

/// The project and what the test wrote into it.
struct Project {
    _dir: tempfile::TempDir,
    db: PathBuf,
    dir: PathBuf,
    /// Image key -> original label index.
    original: BTreeMap<String, u32>,
    /// (image, label index) -> answers of ana, ben, cai.
    answers: BTreeMap<(String, u32), [&'static str; 3]>,
}

/// Builds the project with the binary: `init` from a manifest of the 20 photos (the original
/// label is the number at the end of each file name), `predictions import`, and
/// `judgments import` of the answers:
/// - the original label: yes from all three, except on the fourth photo, where only ana says yes;
/// - lite0's second guess on the first five photos: yes from ana and cai, no from ben
///   (selection frequency 2/3: valid at 0.5, not at 0.8), so those photos are multi-label;
/// - every other candidate in the three models' top-2: no from ana and cai, maybe from ben.
fn project() -> Project {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let mut original = BTreeMap::new();
    let mut manifest = String::from("image,label_index\n");
    let mut names: Vec<String> = std::fs::read_dir(Path::new(PHOTOS).join("imagenet_labeled"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 20);
    for n in &names {
        let idx: u32 = n
            .trim_end_matches(".jpg")
            .rsplit('_')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let key = format!("imagenet_labeled/{n}");
        manifest.push_str(&format!("{key},{idx}\n"));
        original.insert(key, idx);
    }
    std::fs::write(root.join("manifest.csv"), manifest).unwrap();
    let db = root.join("photos.db");
    ok(&[
        "init",
        s(&db),
        "--manifest",
        s(&root.join("manifest.csv")),
        "--images",
        PHOTOS,
    ]);

    // Real predictions of the three models, for these 20 photos only.
    let text = std::fs::read_to_string(PREDICTIONS).unwrap();
    let mut lines = text.lines();
    let mut preds = String::from(lines.next().unwrap());
    preds.push('\n');
    // (image, model, rank) -> label index
    let mut top: BTreeMap<(String, String, u32), u32> = BTreeMap::new();
    for line in lines.filter(|l| l.starts_with("imagenet_labeled/")) {
        preds.push_str(line);
        preds.push('\n');
        let f: Vec<&str> = line.split(',').collect();
        top.insert(
            (f[0].to_string(), f[1].to_string(), f[2].parse().unwrap()),
            f[3].parse().unwrap(),
        );
    }
    std::fs::write(root.join("preds.csv"), preds).unwrap();
    ok(&["predictions", "import", s(&db), s(&root.join("preds.csv"))]);

    let mut answers: BTreeMap<(String, u32), [&str; 3]> = BTreeMap::new();
    for (i, (key, &orig)) in original.iter().enumerate() {
        for m in MODELS {
            for rank in 1..=2 {
                let l = top[&(key.clone(), m.to_string(), rank)];
                answers.insert((key.clone(), l), ["no", "maybe", "no"]);
            }
        }
        if i < 5 {
            let second = top[&(key.clone(), MODELS[0].to_string(), 2)];
            answers.insert((key.clone(), second), ["yes", "no", "yes"]);
        }
        let said = if i == 3 {
            ["yes", "no", "no"]
        } else {
            ["yes", "yes", "yes"]
        };
        answers.insert((key.clone(), orig), said);
    }
    let mut csv = String::from("image,label,annotator,answer\n");
    for ((key, label), said) in &answers {
        for (who, a) in ["ana", "ben", "cai"].iter().zip(said) {
            csv.push_str(&format!("{key},{label},{who},{a}\n"));
        }
    }
    std::fs::write(root.join("answers.csv"), csv).unwrap();
    let out = ok(&["judgments", "import", s(&db), s(&root.join("answers.csv"))]);
    assert!(
        out.contains(&format!(
            "read {} answers (csv) by 3 annotators",
            answers.len() * 3
        )),
        "{out}"
    );
    Project {
        _dir: dir,
        db,
        dir: root,
        original,
        answers,
    }
}

impl Project {
    /// The valid labels of each image at `threshold`, from the answers as written.
    fn expected_sets(&self, threshold: f64) -> BTreeMap<String, BTreeSet<u32>> {
        let mut sets: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
        for ((key, label), said) in &self.answers {
            let yes = said.iter().filter(|a| **a == "yes").count() as f64;
            let no = said.iter().filter(|a| **a == "no").count() as f64;
            let entry = sets.entry(key.clone()).or_default();
            if yes + no > 0.0 && yes / (yes + no) >= threshold {
                entry.insert(*label);
            }
        }
        sets
    }
}

#[test]
fn report_text_and_json_agree_with_the_answers() {
    let p = project();
    let sets = p.expected_sets(0.5);
    let multi = sets.values().filter(|s| s.len() >= 2).count();
    let empty = sets.values().filter(|s| s.is_empty()).count();
    assert!(multi >= 4, "the fixture makes multi-label photos: {multi}");

    let text = ok(&["report", s(&p.db)]);
    for want in [
        "Progress",
        &format!("questions answered   {} of ", p.answers.len()),
        "images with answers  20 of 20 (100.0%)",
        "Label sets (20 reviewed images)",
        &format!("2+ valid labels          {multi} of 20"),
        "original label not valid 1 of 20 (5.0%)",
        "Labels most often valid together",
        "Krippendorff's alpha",
        "Fleiss' kappa",
        "Gwet's AC1",
        "Model top-1 accuracy",
        "efficientnet_lite2",
        "multi-label images",
    ] {
        assert!(text.contains(want), "missing `{want}` in:\n{text}");
    }

    let json: serde_json::Value =
        serde_json::from_str(&ok(&["report", s(&p.db), "--json"])).unwrap();
    assert_eq!(json["method"], "frequency");
    assert_eq!(json["labels"]["reviewed_images"], 20);
    assert_eq!(json["labels"]["multi_label"], multi);
    assert_eq!(json["labels"]["with_no_valid_label"], empty);
    assert_eq!(json["progress"]["answers"], p.answers.len() * 3);
    assert_eq!(json["progress"]["annotators"][0]["annotator"], "ana");
    // Every question was answered by all three: Fleiss' kappa is defined.
    assert!(json["agreement"]["fleiss_kappa"].is_number());
    let models = json["models"].as_array().unwrap();
    assert_eq!(models.len(), 3);
    for m in models {
        assert_eq!(m["original"]["images"], 20);
        assert_eq!(m["label_sets"]["images"], 20 - empty);
        let single = m["single_label"]["images"].as_u64().unwrap();
        let multi_n = m["multi_label"]["images"].as_u64().unwrap();
        assert_eq!(single + multi_n, (20 - empty) as u64);
    }
    // The rejected original is named, not only keyed.
    let rejected = &json["most_rejected_originals"][0]["class"];
    assert!(rejected["name"].as_str().unwrap().len() > 1);

    // Dawid-Skene says how it ran.
    let ds: serde_json::Value = serde_json::from_str(&ok(&[
        "report",
        s(&p.db),
        "--method",
        "dawid-skene",
        "--json",
    ]))
    .unwrap();
    assert_eq!(ds["method"], "dawid-skene");
    assert!(ds["dawid_skene"]["converged"].is_boolean());
    assert!(ds["dawid_skene"]["iterations"].as_u64().unwrap() >= 1);
}

#[test]
fn every_export_format_holds_the_same_label_sets() {
    let p = project();
    let sets = p.expected_sets(0.5);
    let out = |format: &str| -> String {
        let file = p.dir.join(format!("export.{format}"));
        ok(&["export", s(&p.db), "--format", format, "-o", s(&file)]);
        std::fs::read_to_string(file).unwrap()
    };

    // real-json: one list per image in key order, ascending indices.
    let real: Vec<Vec<u32>> = serde_json::from_str(&out("real-json")).unwrap();
    let expected: Vec<Vec<u32>> = sets.values().map(|s| s.iter().copied().collect()).collect();
    assert_eq!(real, expected);

    // jsonl: one object per image, label keys and provenance.
    let jsonl = out("jsonl");
    let lines: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 20);
    for (line, (key, set)) in lines.iter().zip(&sets) {
        assert_eq!(line["image"], key.as_str());
        assert_eq!(line["reviewed"], true);
        assert_eq!(line["labels"].as_array().unwrap().len(), set.len());
        assert_eq!(line["multi_label"], set.len() >= 2);
        let cands = line["candidates"].as_array().unwrap();
        let original = cands.iter().find(|c| c["original"] == true).unwrap();
        assert_eq!(original["index"], p.original[key]);
        assert!(cands.iter().any(|c| {
            c["models"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["model"] == MODELS[0])
        }));
    }

    // csv: one row per answered question.
    let csv = out("csv");
    let mut rows = csv.lines();
    assert_eq!(
        rows.next().unwrap(),
        "image,label,label_index,name,yes,no,maybe,frequency,score,valid,original,adjudicated"
    );
    let rows: Vec<&str> = rows.collect();
    assert_eq!(rows.len(), p.answers.len());
    let valid_rows = rows
        .iter()
        .filter(|r| r.split(',').nth(9) == Some("1"))
        .count();
    assert_eq!(valid_rows, sets.values().map(BTreeSet::len).sum::<usize>());

    // prodigy: one line per current answer.
    let prodigy = out("prodigy");
    assert_eq!(prodigy.lines().count(), p.answers.len() * 3);
    assert!(prodigy.contains("\"answer\":\"accept\"") && prodigy.contains("\"answer\":\"ignore\""));

    // Standard output when no -o is given; a stricter threshold empties the 2/3 labels.
    let stdout = ok(&[
        "export",
        s(&p.db),
        "--format",
        "real-json",
        "--threshold",
        "0.8",
    ]);
    let strict: Vec<Vec<u32>> = serde_json::from_str(&stdout).unwrap();
    let expected: Vec<Vec<u32>> = p
        .expected_sets(0.8)
        .values()
        .map(|s| s.iter().copied().collect())
        .collect();
    assert_eq!(strict, expected);
    assert!(strict.iter().all(|s| s.len() <= 1));
}

#[test]
fn plots_are_real_svg_and_png() {
    let p = project();
    let figs = p.dir.join("figures");
    let out = ok(&["report", s(&p.db), "--plots", s(&figs)]);
    assert!(out.contains("wrote 8 figure files"), "{out}");
    for name in [
        "selection_frequency",
        "labels_per_image",
        "accuracy_by_model",
        "annotator_agreement",
    ] {
        let svg = std::fs::read_to_string(figs.join(format!("{name}.svg"))).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{name}.svg: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert!(
            doc.descendants().any(|n| n.has_tag_name("text")),
            "{name}.svg has no text"
        );
        let png = image::open(figs.join(format!("{name}.png")))
            .unwrap_or_else(|e| panic!("{name}.png: {e}"))
            .to_rgb8();
        assert!(png.width() >= 600 && png.height() >= 400, "{name}.png size");
        // Drawn, with text: far more than the white background and one bar colour.
        let colours: BTreeSet<[u8; 3]> = png.pixels().map(|p| p.0).collect();
        assert!(
            colours.len() > 20,
            "{name}.png has {} colours",
            colours.len()
        );
    }
    // The scores figure comes with methods other than the selection frequency.
    let ds_figs = p.dir.join("ds-figures");
    ok(&[
        "report",
        s(&p.db),
        "--method",
        "dawid-skene",
        "--json",
        "--plots",
        s(&ds_figs),
    ]);
    assert!(ds_figs.join("scores.svg").is_file() && ds_figs.join("scores.png").is_file());
}

#[test]
fn scores_from_a_file_and_their_errors() {
    let p = project();
    // Scores for two labels of the first photo only: every other answered question has none.
    let (first, orig) = p.original.iter().next().unwrap();
    let scores = p.dir.join("scores.csv");
    std::fs::write(
        &scores,
        format!("image,label,score,extra\n{first},{orig},0.9,x\n{first},n01440764,0.95,y\n"),
    )
    .unwrap();
    let real = ok(&[
        "export",
        s(&p.db),
        "--format",
        "real-json",
        "--scores",
        s(&scores),
        "--threshold",
        "0.8",
    ]);
    let real: Vec<Vec<u32>> = serde_json::from_str(&real).unwrap();
    assert_eq!(real[0], vec![0, *orig]);
    assert!(real[1..].iter().all(Vec::is_empty));

    let err = fails(&[
        "report",
        s(&p.db),
        "--scores",
        s(&scores),
        "--method",
        "dawid-skene",
    ]);
    assert!(err.contains("cannot be used with"), "{err}");

    let bad = p.dir.join("bad-scores.csv");
    std::fs::write(
        &bad,
        format!("image,label,score\n{first},{orig},0.9\nnot-here.jpg,1,0.5\n"),
    )
    .unwrap();
    let err = fails(&["report", s(&p.db), "--scores", s(&bad)]);
    assert!(
        err.contains("bad-scores.csv:3: image not-here.jpg is not in the project"),
        "{err}"
    );
}

#[test]
fn a_bad_answers_file_names_the_line_and_changes_nothing() {
    let p = project();
    let before = ok(&["report", s(&p.db), "--json"]);
    let (first, orig) = p.original.iter().next().unwrap();
    let bad = p.dir.join("bad.csv");
    std::fs::write(
        &bad,
        format!("image,label,annotator,answer\n{first},{orig},dee,yes\n{first},{orig},dee,sure\n"),
    )
    .unwrap();
    let err = fails(&["judgments", "import", s(&p.db), s(&bad)]);
    assert!(
        err.contains("bad.csv:3: answer `sure` is not yes, no or maybe"),
        "{err}"
    );
    assert_eq!(ok(&["report", s(&p.db), "--json"]), before);

    // The same answers again add nothing.
    let out = ok(&[
        "judgments",
        "import",
        s(&p.db),
        s(&p.dir.join("answers.csv")),
    ]);
    assert!(out.contains("added 0 new;"), "{out}");
    assert_eq!(ok(&["report", s(&p.db), "--json"]), before);
}
