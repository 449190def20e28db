//! Answer quality through the binary on a project small enough to check by hand: `gold import`
//! and `gold list` (truth, ties, bad lines), the reliability figures and flag of `report`,
//! `--exclude-annotators` and `--drop-flagged`, verdicts deciding their question in `export`
//! and conflicting verdicts from two merged files, and the speed figures of timed answers.

use std::path::{Path, PathBuf};

use crate::cli_support::{fails, ok, s};
use labelvet::store::checkout::{CheckoutOptions, checkout};
use labelvet::store::{Answer, Store};

const TENCH: &str = "n01440764";
const GOLDFISH: &str = "n01443537";
const SHARK: &str = "n01484850";

/// Answers of ann, bob and eve. Against the gold below, ann is right on 2 of 3 gold questions,
/// bob on 3 of 3, eve on none.
const ANSWERS: &str = "image,label,annotator,answer
a.jpg,n01440764,ann,yes
a.jpg,n01440764,bob,yes
a.jpg,n01440764,eve,no
a.jpg,n01443537,ann,no
a.jpg,n01443537,bob,no
a.jpg,n01443537,eve,yes
b.jpg,n01443537,ann,yes
b.jpg,n01443537,bob,yes
b.jpg,n01443537,eve,no
b.jpg,n01440764,ann,no
b.jpg,n01440764,bob,maybe
b.jpg,n01440764,eve,yes
c.jpg,n01484850,ann,yes
c.jpg,n01484850,bob,no
c.jpg,n01484850,eve,yes
";

/// a/tench: yes 2-1; a/goldfish: no; b/goldfish: a tie (not gold); b/tench: only maybe (not
/// gold); c/shark: no (maybe does not vote).
const GOLD: &str = "image,label,answer,annotator
a.jpg,n01440764,yes,e1
a.jpg,n01440764,yes,e2
a.jpg,n01440764,no,e3
a.jpg,n01443537,no,e1
a.jpg,n01443537,no,e2
a.jpg,n01443537,no,e2
b.jpg,n01443537,yes,e1
b.jpg,n01443537,no,e2
b.jpg,n01440764,maybe,e1
c.jpg,n01484850,no,e1
c.jpg,n01484850,no,e2
c.jpg,n01484850,maybe,e3
";

struct Project {
    dir: tempfile::TempDir,
    db: PathBuf,
}

impl Project {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

fn project() -> Project {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("manifest.csv");
    std::fs::write(
        &manifest,
        format!("image,wnid\na.jpg,{TENCH}\nb.jpg,{GOLDFISH}\nc.jpg,{SHARK}\nd.jpg,{TENCH}\n"),
    )
    .unwrap();
    let db = dir.path().join("p.db");
    ok(&["init", s(&db), "--manifest", s(&manifest)]);
    let p = Project { dir, db };
    let answers = p.write("answers.csv", ANSWERS);
    ok(&["judgments", "import", s(&p.db), s(&answers)]);
    p
}

fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(args)).unwrap()
}

fn gold_lines(db: &Path) -> usize {
    ok(&["gold", "list", s(db), "--json"]).lines().count()
}

#[test]
fn gold_import_majority_ties_and_the_flag() {
    let p = project();
    let gold = p.write("gold.csv", GOLD);
    let said = ok(&["gold", "import", s(&p.db), s(&gold)]);
    // The repeated line of e2 is read once.
    assert!(said.contains("added 11 new"), "{said}");
    assert!(said.contains("3 questions with a truth"), "{said}");
    assert!(said.contains("1 question where yes and no tie"), "{said}");
    assert!(said.contains("b.jpg  n01443537  1 yes, 1 no"), "{said}");
    assert!(
        said.contains("1 question that the experts answered only maybe"),
        "{said}"
    );
    // Importing again adds nothing.
    let again = ok(&["gold", "import", s(&p.db), s(&gold)]);
    assert!(again.contains("added 0 new; 11 were already"), "{again}");
    let info = ok(&["info", s(&p.db)]);
    assert!(
        info.contains("gold        5 questions by 3 experts (11 events)"),
        "{info}"
    );
    let ties = ok(&["gold", "list", s(&p.db), "--ties"]);
    assert_eq!(ties.lines().count(), 2, "{ties}");
    assert!(
        ties.contains("b.jpg\tn01443537\ttie\t1\t1\t0\te1:yes e2:no"),
        "{ties}"
    );
    let list: Vec<serde_json::Value> = ok(&["gold", "list", s(&p.db), "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(list.len(), 5);
    let a_tench = list
        .iter()
        .find(|q| q["image"] == "a.jpg" && q["label"] == TENCH)
        .unwrap();
    assert_eq!(
        (a_tench["truth"].as_str(), a_tench["yes"].as_u64()),
        (Some("yes"), Some(2))
    );

    let r = json(&["report", s(&p.db), "--json"]);
    assert_eq!(r["gold"]["questions"], 5);
    assert_eq!(r["gold"]["with_truth"], 3);
    assert_eq!(
        (r["gold"]["ties"].as_u64(), r["gold"]["no_vote"].as_u64()),
        (Some(1), Some(1))
    );
    let who = |name: &str| {
        r["annotators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["annotator"] == name)
            .unwrap()
            .clone()
    };
    let (ann, bob, eve) = (who("ann"), who("bob"), who("eve"));
    for (a, answers, correct) in [(&ann, 3, 2), (&bob, 3, 3), (&eve, 3, 0)] {
        assert_eq!(a["gold_answers"], answers);
        assert_eq!(a["gold_maybe"], 0);
        assert_eq!(a["gold_correct"], correct);
        for field in [
            "annotator",
            "gold_answers",
            "gold_maybe",
            "gold_accuracy",
            "gold_ci_low",
            "gold_ci_high",
            "flagged",
        ] {
            assert!(a.get(field).is_some(), "{field} missing in {a}");
        }
    }
    // 0 of 3: Wilson's interval is 0 to z²/(3 + z²) = 0.5615, below 0.7: flagged.
    let hi = eve["gold_ci_high"].as_f64().unwrap();
    let z2 = 1.959_963_984_540_054_f64.powi(2);
    assert!((hi - z2 / (3.0 + z2)).abs() < 1e-12, "{hi}");
    assert_eq!(eve["flagged"], true);
    // 2 of 3 reaches up to 0.94: not flagged, nor is bob.
    assert_eq!(
        (ann["flagged"].as_bool(), bob["flagged"].as_bool()),
        (Some(false), Some(false))
    );
    let text = ok(&["report", s(&p.db)]);
    assert!(
        text.contains(
            "Annotator reliability (5 gold questions: 3 with a truth, 1 tied, 1 only maybe)"
        ),
        "{text}"
    );
    assert!(text.contains("FLAGGED"), "{text}");
    assert!(text.contains("1 annotator flagged"), "{text}");
    let figures = p.path("figures");
    ok(&["report", s(&p.db), "--plots", s(&figures)]);
    for f in ["gold_accuracy.svg", "gold_accuracy.png"] {
        assert!(figures.join(f).is_file(), "{f}");
    }
    // Imported answers have no time: no speed figure, and the report says why.
    assert!(!figures.join("answer_speed.svg").exists());
    // A stricter bar flags ann too; 0..1 only.
    let strict = json(&["report", s(&p.db), "--json", "--min-gold-accuracy", "0.95"]);
    let flagged = strict["annotators"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["flagged"] == true)
        .count();
    assert_eq!(flagged, 2);
    assert!(fails(&["report", s(&p.db), "--min-gold-accuracy", "1.5"]).contains("between 0 and 1"));

    // --drop-flagged and --exclude-annotators leave answers out of every figure, and say so.
    let dropped = json(&["report", s(&p.db), "--json", "--drop-flagged"]);
    assert_eq!(dropped["progress"]["answers"], 10);
    assert_eq!(dropped["left_out"][0]["annotator"], "eve");
    assert_eq!(dropped["left_out"][0]["answers"], 5);
    assert!(
        dropped["left_out"][0]["why"]
            .as_str()
            .unwrap()
            .starts_with("flagged")
    );
    let names: Vec<&str> = dropped["progress"]["annotators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["annotator"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ann", "bob"]);
    // The reliability figures still show everyone, computed before leaving anyone out.
    assert_eq!(dropped["annotators"].as_array().unwrap().len(), 3);
    let text = ok(&["report", s(&p.db), "--exclude-annotators", "eve,bob"]);
    assert!(
        text.contains("left out 5 answers of bob: excluded"),
        "{text}"
    );
    let csv = ok(&[
        "export",
        s(&p.db),
        "--format",
        "csv",
        "--exclude-annotators",
        "eve",
    ]);
    let c_shark = csv.lines().find(|l| l.starts_with("c.jpg")).unwrap();
    // ann yes, bob no: 1 yes, 1 no.
    assert!(c_shark.contains(",1,1,0,0.5,"), "{c_shark}");
    let err = fails(&["report", s(&p.db), "--exclude-annotators", "ann,zoe"]);
    assert!(
        err.contains("no answers by `zoe`") && err.contains("ann, bob, eve"),
        "{err}"
    );
}

#[test]
fn bad_gold_files_name_the_line_and_write_nothing() {
    let p = project();
    let conflict = p.write(
        "conflict.csv",
        "image,label,answer,expert\na.jpg,n01440764,yes,e1\nb.jpg,n01440764,no,e1\na.jpg,n01440764,no,e1\n",
    );
    let err = fails(&["gold", "import", s(&p.db), s(&conflict)]);
    assert!(
        err.contains(&format!("{}:4:", conflict.display()))
            && err.contains("e1 answers `no`")
            && err.contains("`yes` on line 2"),
        "{err}"
    );
    assert_eq!(gold_lines(&p.db), 0);
    let unknown = p.write(
        "unknown.csv",
        "image,label,answer\na.jpg,n01440764,yes\nzz.jpg,n01440764,no\n",
    );
    let err = fails(&["gold", "import", s(&p.db), s(&unknown)]);
    assert!(
        err.contains(":3:") && err.contains("image zz.jpg is not in the project"),
        "{err}"
    );
    let class = p.write(
        "class.jsonl",
        "{\"image\":\"a.jpg\",\"label\":\"n99999999\",\"answer\":\"yes\"}\n",
    );
    let err = fails(&["gold", "import", s(&p.db), s(&class)]);
    assert!(
        err.contains(":1:") && err.contains("unknown class `n99999999`"),
        "{err}"
    );
    assert_eq!(gold_lines(&p.db), 0);
    // Without an annotator column, every line is one expert's ("gold"): a repeat must agree.
    let plain = p.write(
        "plain.jsonl",
        "{\"image\":\"d.jpg\",\"label\":\"n01484850\",\"answer\":\"yes\"}\n",
    );
    ok(&["gold", "import", s(&p.db), s(&plain)]);
    let list = ok(&["gold", "list", s(&p.db)]);
    assert!(
        list.contains("d.jpg\tn01484850\tyes\t1\t0\t0\tgold:yes"),
        "{list}"
    );
}

#[test]
fn verdicts_decide_their_question_and_conflicts_decide_nothing() {
    let p = project();
    // An expert's file: a checkout, where they give verdicts (as `annotate --review` does).
    let project = Store::open(&p.db).unwrap();
    let file = |who: &str| {
        let out = p.path(&format!("{who}.db"));
        let opts = CheckoutOptions {
            annotator: who,
            with_answers: false,
            assignment: None,
            assignment_note: None,
            leave_out: None,
            with_images: None,
        };
        checkout(&project, &out, &opts).unwrap();
        out
    };
    let (x1, x2) = (file("x1"), file("x2"));
    drop(project);
    {
        let s1 = Store::open(&x1).unwrap();
        // Overrules the 2 yes / 1 no of a/tench; decides b/tench (1 yes, 1 no, 1 maybe).
        s1.append_verdict("a.jpg", TENCH, Answer::No, "x1", "s", Some(4000))
            .unwrap();
        s1.append_verdict("b.jpg", TENCH, Answer::Yes, "x1", "s", Some(3000))
            .unwrap();
        // A verdict on a question nobody answered makes it a question, decided.
        s1.append_verdict("d.jpg", SHARK, Answer::Yes, "x1", "s", None)
            .unwrap();
        let s2 = Store::open(&x2).unwrap();
        // Agrees on a/tench, and differs from x1 on b/tench.
        s2.append_verdict("a.jpg", TENCH, Answer::No, "x2", "s", None)
            .unwrap();
        s2.append_verdict("b.jpg", TENCH, Answer::No, "x2", "s", None)
            .unwrap();
        // A maybe verdict decides nothing.
        s2.append_verdict("c.jpg", SHARK, Answer::Maybe, "x2", "s", None)
            .unwrap();
    }
    let merged = ok(&["merge", s(&p.db), s(&x1), s(&x2)]);
    assert!(
        merged.contains("verdicts: 3 new, 0 already present"),
        "{merged}"
    );

    let info = ok(&["info", s(&p.db)]);
    assert!(
        info.contains("verdicts    4 questions by 2 experts (6 events)"),
        "{info}"
    );
    let csv = ok(&["export", s(&p.db), "--format", "csv"]);
    let header = csv.lines().next().unwrap();
    assert!(header.ends_with(",valid,original,adjudicated"), "{header}");
    let row = |image: &str, label: &str| {
        csv.lines()
            .find(|l| l.starts_with(&format!("{image},{label},")))
            .unwrap_or_else(|| panic!("no row {image} {label} in\n{csv}"))
            .to_string()
    };
    // a/tench: 2 yes, 1 no by the annotators, but the verdicts say no: score 0, not valid.
    assert!(
        row("a.jpg", TENCH).ends_with(",2,1,0,0.6666666666666666,0,0,1,1"),
        "{}",
        row("a.jpg", TENCH)
    );
    assert!(
        row("d.jpg", SHARK).ends_with(",0,0,0,,1,1,0,1"),
        "{}",
        row("d.jpg", SHARK)
    );
    // b/tench: x1 yes, x2 no: a conflict, the answers decide (1 yes, 1 no: 0.5, valid).
    assert!(
        row("b.jpg", TENCH).ends_with(",1,1,1,0.5,0.5,1,0,0"),
        "{}",
        row("b.jpg", TENCH)
    );
    // c/shark: only a maybe verdict: the answers decide (2 yes, 1 no).
    let c = row("c.jpg", SHARK);
    assert!(
        c.ends_with(",2,1,0,0.6666666666666666,0.6666666666666666,1,1,0"),
        "{c}"
    );

    // real-json: a.jpg loses tench (index 0), d.jpg gains the shark (index 2).
    let real: Vec<Vec<u32>> =
        serde_json::from_str(&ok(&["export", s(&p.db), "--format", "real-json"])).unwrap();
    assert_eq!(real[0], Vec::<u32>::new());
    assert_eq!(real[3], vec![2]);

    let r = json(&["report", s(&p.db), "--json"]);
    assert_eq!(r["verdicts"]["verdicts"], 6);
    assert_eq!(r["verdicts"]["experts"], 2);
    assert_eq!(r["verdicts"]["adjudicated"], 2);
    let conflicts = r["verdicts"]["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0]["image"], "b.jpg");
    assert_eq!(conflicts[0]["label"]["key"], TENCH);
    let text = ok(&["report", s(&p.db)]);
    assert!(
        text.contains("conflicting verdicts (none of them decides):"),
        "{text}"
    );
    assert!(
        text.contains("b.jpg  tench (n01440764): x1 yes, x2 no"),
        "{text}"
    );

    // Undo: x2 takes back the conflicting verdict; x1's now decides b/tench.
    {
        let s2 = Store::open(&x2).unwrap();
        let v = s2
            .verdict_events()
            .unwrap()
            .into_iter()
            .find(|v| v.0.image == "b.jpg")
            .unwrap();
        s2.retract_verdict(&v, "s").unwrap();
    }
    ok(&["merge", s(&p.db), s(&x2)]);
    let r = json(&["report", s(&p.db), "--json"]);
    assert_eq!(r["verdicts"]["conflicts"].as_array().unwrap().len(), 0);
    assert_eq!(r["verdicts"]["adjudicated"], 3);
    // The parquet labels table says which questions were adjudicated, checked in `exports`.
}

#[test]
fn speed_of_timed_answers() {
    let p = project();
    {
        let store = Store::open(&p.db).unwrap();
        for (label, ms) in [(TENCH, 300), (GOLDFISH, 500), (SHARK, 1000)] {
            store
                .append_answer("d.jpg", label, Answer::Yes, "zed", "s", Some(ms))
                .unwrap();
        }
        store
            .append_answer("a.jpg", SHARK, Answer::No, "zed", "s", Some(2500))
            .unwrap();
    }
    let r = json(&["report", s(&p.db), "--json"]);
    let zed = r["annotators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["annotator"] == "zed")
        .unwrap()
        .clone();
    assert_eq!(
        (
            zed["timed_answers"].as_u64(),
            zed["untimed_answers"].as_u64()
        ),
        (Some(4), Some(0))
    );
    assert_eq!(zed["median_seconds"], 0.75);
    assert_eq!(zed["share_under_400ms"], 0.25);
    let sp = &r["speed"];
    assert_eq!(
        (sp["timed_answers"].as_u64(), sp["untimed_answers"].as_u64()),
        (Some(4), Some(15))
    );
    let bins: Vec<u64> = sp["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["answers"].as_u64().unwrap())
        .collect();
    // [0, 0.4) [0.4, 1) [1, 2) [2, 3) ...
    assert_eq!(&bins[..5], &[1, 1, 1, 1, 0]);
    let text = ok(&["report", s(&p.db)]);
    assert!(
        text.contains("Speed (4 timed answers; 15 without a time left out)"),
        "{text}"
    );
    assert!(
        text.contains("median 0.75 s per answer; 25.0% under 400 ms"),
        "{text}"
    );
}

#[test]
fn a_review_session_gives_verdicts_on_the_disputed_questions() {
    use labelvet::annotate::{ManualClock, QueueSpec, ReviewSession};
    let p = project();
    let clock = ManualClock::new();
    let store = Store::open(&p.db).unwrap();
    let mut r =
        ReviewSession::open_with_clock(store, "x1", &QueueSpec::default(), Box::new(clock.clone()))
            .unwrap();
    // Disputed (a yes and a no): a/tench, a/goldfish, b/goldfish, b/tench, c/shark.
    let keys: Vec<(String, String)> = r
        .questions()
        .iter()
        .map(|q| (q.image.clone(), q.label.clone()))
        .collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
    let q = r.current().unwrap().clone();
    assert_eq!((q.image.as_str(), q.label.as_str()), ("a.jpg", TENCH));
    assert_eq!((q.yes, q.no, q.maybe), (2, 1, 0));
    clock.advance(std::time::Duration::from_millis(1500));
    assert!(r.verdict(Answer::No).unwrap());
    assert_eq!(r.current().unwrap().label, GOLDFISH);
    r.verdict(Answer::Yes).unwrap();
    assert_eq!(r.decided(), 2);
    assert!(r.undo().unwrap());
    assert_eq!(r.decided(), 1);
    assert_eq!(r.current().unwrap().label, GOLDFISH);
    drop(r);
    let store = Store::open(&p.db).unwrap();
    let v = store.current_verdicts().unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!((v[0].label.as_str(), v[0].answer), (TENCH, Answer::No));
    assert_eq!(store.verdict_events().unwrap()[0].0.elapsed_ms, Some(1500));
    // Reopened, it resumes at the first question without the expert's verdict.
    let r = ReviewSession::open(store, "x1", &QueueSpec::default()).unwrap();
    assert_eq!(r.current().unwrap().label, GOLDFISH);
}

#[test]
fn gold_images_are_mixed_blind_into_a_checkout_at_the_rate() {
    use labelvet::annotate::{QueueSpec, Session, SessionOptions};
    let p = project();
    // Gold on b.jpg and c.jpg only.
    let gold = p.write(
        "gold.csv",
        "image,label,answer\nb.jpg,n01443537,yes\nc.jpg,n01484850,no\n",
    );
    ok(&["gold", "import", s(&p.db), s(&gold)]);
    // zed's file is assigned a.jpg and d.jpg: no gold image; every checkout carries the gold.
    let file = p.path("zed.db");
    {
        let project = Store::open(&p.db).unwrap();
        let keys = ["a.jpg".to_string(), "d.jpg".to_string()];
        checkout(
            &project,
            &file,
            &CheckoutOptions {
                annotator: "zed",
                with_answers: false,
                assignment: Some(&keys),
                assignment_note: None,
                leave_out: None,
                with_images: None,
            },
        )
        .unwrap();
    }
    assert_eq!(Store::open(&file).unwrap().current_gold().unwrap().len(), 2);
    let open = || {
        Session::open(
            Store::open(&file).unwrap(),
            SessionOptions {
                annotator: "zed".into(),
                show_sources: false,
                queue: QueueSpec::default(),
            },
        )
        .unwrap()
    };
    // Rate 0.5 over 2 images without gold: 2 gold images join, at places the seed draws.
    let mut s1 = open();
    let mix = s1.mix_gold(0.5, 1, true).unwrap();
    assert_eq!((mix.in_queue, mix.added, mix.images), (0, 2, 4));
    let order = |s: &Session| {
        let mut keys = vec![s.image().unwrap().key().to_string()];
        keys.extend(
            s.upcoming(10)
                .iter()
                .map(|&id| s.image_by_id(id).unwrap().unwrap().rec.key),
        );
        keys
    };
    let first = order(&s1);
    let mut sorted = first.clone();
    sorted.sort();
    assert_eq!(sorted, ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]);
    // The same seed gives the same queue; the progress counts the gold images' questions.
    let mut s2 = open();
    s2.mix_gold(0.5, 1, false).unwrap();
    assert_eq!(order(&s2), first);
    assert_eq!(s1.progress().total, 4 + 2);
    // A wrong answer to a gold question brings the truth, with feedback on; a right one not.
    while s1.image().unwrap().key() != "c.jpg" {
        s1.next_image().unwrap();
    }
    let item = s1.current_item().unwrap().label.clone();
    assert_eq!(item, SHARK);
    s1.answer(Answer::Yes).unwrap();
    let f = s1.gold_feedback().unwrap();
    assert_eq!(
        (f.image.as_str(), f.label.as_str(), f.truth),
        ("c.jpg", SHARK, false)
    );
    // Rate 0 adds nothing; a rate outside 0..1 is refused.
    let mut s3 = open();
    assert_eq!(s3.mix_gold(0.0, 1, false).unwrap().added, 0);
    assert!(s3.mix_gold(1.5, 1, false).is_err());
}

#[test]
fn verdicts_made_elsewhere_import_like_gold_and_decide() {
    let p = project();
    let bad = p.write(
        "bad.csv",
        "image,label,answer,annotator\na.jpg,n01440764,no,x1\nb.jpg,goldfishy,yes,x1\n",
    );
    let err = fails(&["verdicts", "import", s(&p.db), s(&bad)]);
    assert!(
        err.contains(":3:") && err.contains("unknown class `goldfishy`"),
        "{err}"
    );
    let conflict = p.write(
        "conflict.csv",
        "image,label,answer,annotator\na.jpg,n01440764,no,x1\na.jpg,n01440764,yes,x1\n",
    );
    let err = fails(&["verdicts", "import", s(&p.db), s(&conflict)]);
    assert!(
        err.contains(":3:") && err.contains("`no` on line 2"),
        "{err}"
    );
    assert_eq!(
        Store::open(&p.db).unwrap().verdict_events().unwrap().len(),
        0
    );
    let good = p.write("good.csv", "image,label,answer\na.jpg,n01440764,no\n");
    let said = ok(&["verdicts", "import", s(&p.db), s(&good)]);
    assert!(said.contains("read 1 verdict by 1 expert"), "{said}");
    let again = ok(&["verdicts", "import", s(&p.db), s(&good)]);
    assert!(again.contains("added 0 new; 1 were already"), "{again}");
    let v = Store::open(&p.db).unwrap().current_verdicts().unwrap();
    assert_eq!(
        (v[0].annotator.as_str(), v[0].answer),
        ("expert", Answer::No)
    );
    let csv = ok(&["export", s(&p.db), "--format", "csv"]);
    let row = csv
        .lines()
        .find(|l| l.starts_with("a.jpg,n01440764,"))
        .unwrap();
    assert!(row.ends_with(",0,0,1,1"), "{row}");
}

/// A lone annotator (the demo's first answers) shares no question with anyone: Dawid-Skene has
/// nothing to learn their reliability from, so its prior's 50% must not flag them.
#[test]
fn a_lone_annotator_is_not_flagged_on_dawid_skene_alone() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("manifest.csv");
    std::fs::write(
        &manifest,
        format!("image,wnid\na.jpg,{TENCH}\nb.jpg,{GOLDFISH}\nc.jpg,{SHARK}\n"),
    )
    .unwrap();
    let db = dir.path().join("p.db");
    ok(&["init", s(&db), "--manifest", s(&manifest)]);
    let p = Project { dir, db };
    let answers = p.write(
        "lone.csv",
        "image,label,annotator,answer\na.jpg,n01440764,ann,yes\na.jpg,n01443537,ann,no\n",
    );
    ok(&["judgments", "import", s(&p.db), s(&answers)]);
    let json = ok(&["report", s(&p.db), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let ann = &v["annotators"][0];
    assert_eq!(ann["annotator"], "ann", "{json}");
    assert_eq!(ann["flagged"], false, "{json}");
    let text = ok(&["report", s(&p.db)]);
    assert!(!text.contains("FLAGGED"), "{text}");

    // With others on the same questions, the fit can judge ann, and inverted answers flag.
    let others = p.write(
        "others.csv",
        "image,label,annotator,answer
a.jpg,n01440764,bob,no
a.jpg,n01440764,cat,no
a.jpg,n01443537,bob,yes
a.jpg,n01443537,cat,yes
b.jpg,n01443537,ann,no
b.jpg,n01443537,bob,yes
b.jpg,n01443537,cat,yes
c.jpg,n01484850,ann,no
c.jpg,n01484850,bob,yes
c.jpg,n01484850,cat,yes
",
    );
    ok(&["judgments", "import", s(&p.db), s(&others)]);
    let json = ok(&["report", s(&p.db), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let ann = v["annotators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["annotator"] == "ann")
        .unwrap();
    assert_eq!(ann["flagged"], true, "{json}");
}
