//! `simulate` on ImageNet-ReaL's 924,810 answers (../shared/data/real): the margin:2 rule's
//! figures from issue 16, checked against a separate, straightforward computation on the CSV
//! file itself; the recommended rule's target; and the command's JSON and bad input.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use labelvet::analysis::project::ProjectData;
use labelvet::analysis::simulate::{SimOptions, Simulation, simulate};
use labelvet::ingest::judgments::{JudgmentImportOptions, import_judgments};
use labelvet::ingest::{InitOptions, init_project};
use labelvet::store::Store;

use crate::cli_support::{fails, ok, s};

const MANIFEST: &str = "../shared/data/imagenet_val/original_labels.csv";
const RATERS: &str = "../shared/data/real/raters.csv.gz";

struct Fixture {
    db: PathBuf,
    data: ProjectData,
}

/// The 50,000-image project with every ReaL answer, made once per run.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("simulate_real");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("real.db");
        init_project(
            &db,
            &InitOptions {
                manifest: Some(MANIFEST.into()),
                vocab: "imagenet1k".into(),
                ..InitOptions::default()
            },
        )
        .unwrap();
        let mut store = Store::open(&db).unwrap();
        import_judgments(
            &mut store,
            Path::new(RATERS),
            &JudgmentImportOptions::default(),
        )
        .unwrap();
        let data = ProjectData::load(&store).unwrap();
        Fixture { db, data }
    })
}

fn run(rule: &str, threshold: f64) -> Simulation {
    simulate(
        &fixture().data,
        &SimOptions {
            rule: rule.parse().unwrap(),
            seed: 0,
            repeats: 5,
            threshold,
        },
    )
    .unwrap()
}

/// The margin:2 replay written out plainly from the CSV: each question's five answers in a
/// random order (its own generator, not the library's), revealed until |yes - no| >= 2, and
/// the validity (yes / (yes + no) >= 0.5) of those compared with that of all five.
fn independent_margin2(seed: u64) -> (f64, f64) {
    let file = std::fs::File::open(RATERS).unwrap();
    let lines = std::io::BufReader::new(flate2::read::GzDecoder::new(file)).lines();
    let mut questions: HashMap<(String, String), Vec<u8>> = HashMap::new();
    for line in lines.skip(1) {
        let line = line.unwrap();
        let f: Vec<&str> = line.split(',').collect();
        let answer = match f[4] {
            "yes" => 2,
            "maybe" => 1,
            _ => 0,
        };
        questions
            .entry((f[0].to_string(), f[2].to_string()))
            .or_default()
            .push(answer);
    }
    let valid = |a: &[u8]| {
        let yes = a.iter().filter(|&&x| x == 2).count();
        let no = a.iter().filter(|&&x| x == 0).count();
        yes + no > 0 && 2 * yes >= yes + no
    };
    // A 64-bit linear congruential generator (Knuth's MMIX constants), high bits used.
    let mut state = seed
        .wrapping_mul(2_862_933_555_777_941_757)
        .wrapping_add(3_037_000_493);
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) % n as u64) as usize
    };
    let mut keys: Vec<_> = questions.keys().cloned().collect();
    keys.sort();
    let (mut total, mut used, mut same) = (0usize, 0usize, 0usize);
    for k in &keys {
        let mut a = questions[k].clone();
        for i in (1..a.len()).rev() {
            a.swap(i, next(i + 1));
        }
        let mut n = 0;
        let (mut yes, mut no) = (0i32, 0i32);
        for &x in &a {
            n += 1;
            yes += i32::from(x == 2);
            no += i32::from(x == 0);
            if (yes - no).abs() >= 2 {
                break;
            }
        }
        total += a.len();
        used += n;
        same += usize::from(valid(&a[..n]) == valid(&a));
    }
    (used as f64 / total as f64, same as f64 / keys.len() as f64)
}

#[test]
fn margin2_gives_the_issues_figures_and_an_independent_replay_agrees() {
    let sim = run("margin:2", 0.5);
    let f = sim.frequency;
    eprintln!(
        "margin:2 (median of 5): {:.2}% of answers, validity {:.2}%, label sets {:.2}%; \
         dawid-skene 0.5: validity {:.2}%, label sets {:.2}%",
        100.0 * f.share_used,
        100.0 * f.validity_agreement,
        100.0 * f.label_set_agreement,
        100.0 * sim.dawid_skene.validity_agreement,
        100.0 * sim.dawid_skene.label_set_agreement
    );
    assert_eq!(f.answers_total, 924_810);
    assert_eq!(sim.questions, 184_962);
    // The issue: 99.4% of the questions at 49% of the answers, within a point.
    assert!((f.share_used - 0.491).abs() < 0.01, "{f:?}");
    assert!((f.validity_agreement - 0.994).abs() < 0.01, "{f:?}");
    let mut shares = Vec::new();
    let mut agreements = Vec::new();
    for seed in 0..5 {
        let (share, agreement) = independent_margin2(seed);
        shares.push(share);
        agreements.push(agreement);
    }
    shares.sort_by(f64::total_cmp);
    agreements.sort_by(f64::total_cmp);
    eprintln!(
        "independent margin:2 (median of 5): {:.2}% of answers, validity {:.2}%",
        100.0 * shares[2],
        100.0 * agreements[2]
    );
    // Different random orders: only sampling noise between the two, far below these bounds.
    assert!((f.share_used - shares[2]).abs() < 0.002, "{f:?} {shares:?}");
    assert!(
        (f.validity_agreement - agreements[2]).abs() < 0.001,
        "{f:?} {agreements:?}"
    );
}

#[test]
fn the_recommended_rule_keeps_99_percent_with_at_most_45_percent_of_the_answers() {
    let sim = run("recommended", 0.8);
    let f = sim.frequency;
    eprintln!(
        "recommended = {} (median of 5): {:.2}% of answers ({}), frequency 0.5: validity \
         {:.2}%, label sets {:.2}%; dawid-skene 0.8: validity {:.2}%, label sets {:.2}%",
        sim.rule_spelled,
        100.0 * f.share_used,
        f.answers_used,
        100.0 * f.validity_agreement,
        100.0 * f.label_set_agreement,
        100.0 * sim.dawid_skene.validity_agreement,
        100.0 * sim.dawid_skene.label_set_agreement
    );
    assert!(f.validity_agreement >= 0.99, "{f:?}");
    assert!(f.share_used <= 0.45, "{f:?}");
}

#[test]
fn the_command_prints_the_issues_json_keys_and_refuses_bad_input() {
    let db = s(&fixture().db).to_string();
    let out = ok(&["simulate", &db, "--until", "margin:2,max:5", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for key in [
        "answers_total",
        "answers_used",
        "share_used",
        "validity_agreement",
        "label_set_agreement",
    ] {
        assert!(v[key].is_number(), "{key}: {out}");
        assert!(
            v["dawid_skene"][key].is_number(),
            "dawid_skene.{key}: {out}"
        );
    }
    assert_eq!(v["answers_total"], 924_810);
    let text = ok(&["simulate", &db, "--until", "max:2"]);
    assert!(
        text.contains("answers used: 369924 of 924810 (40.0%)"),
        "{text}"
    );

    let err = fails(&["simulate", &db, "--until", "margins:2"]);
    assert!(
        err.contains("unknown part `margins`") && err.contains("margin:K") && err.contains("max:N"),
        "{err}"
    );
    let err = fails(&["simulate", &db, "--until", "posterior:1.5"]);
    assert!(err.contains("posterior:P"), "{err}");

    // One answer per question: nothing to leave out.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("simulate_one_answer");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let small = dir.join("small.db");
    ok(&["init", s(&small), "--manifest", MANIFEST]);
    let answers = dir.join("answers.csv");
    std::fs::write(
        &answers,
        "image,label,annotator,answer\n\
         ILSVRC2012_val_00000001.JPEG,n01751748,ann,yes\n\
         ILSVRC2012_val_00000002.JPEG,n09193705,ann,no\n",
    )
    .unwrap();
    ok(&["judgments", "import", s(&small), s(&answers)]);
    let err = fails(&["simulate", s(&small), "--until", "margin:2"]);
    assert!(err.contains("fewer than two per question"), "{err}");
}
