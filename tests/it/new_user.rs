//! What a new user hit on one walk through the README (issue 19), each as it was met: the real
//! binary on projects made from the shared data (ImageNet validation labels, ReaL's raters, the
//! labelled photos and their real predictions), the screens on ratatui's test backend.

use crate::{annotate_support, cli_support};

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use annotate_support::{Project, project, truncated_jpeg};
use cli_support::{fails, labelvet, ok, s};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use labelvet::annotate::{
    GridOptions, GridSession, ManualClock, Mark, QueueSpec, Session, SessionOptions,
};
use labelvet::store::{Answer, Store};
use labelvet::tui::{App, AppOptions, Encoder, GridApp, Keymap, Screen as _};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const VAL_LABELS: &str = "../shared/data/imagenet_val/original_labels.csv";
const RATERS: &str = "../shared/data/real/raters.csv.gz";
const PHOTOS: &str = "../shared/data/photos";

/// A project of the first `n` ImageNet validation images (a manifest, no files), with ReaL's
/// raters' answers on them when `answers`.
fn val_project(dir: &Path, n: usize, answers: bool) -> PathBuf {
    let manifest = dir.join("val.csv");
    let text = std::fs::read_to_string(VAL_LABELS).unwrap();
    let kept: Vec<&str> = text.lines().take(n + 1).collect();
    std::fs::write(&manifest, kept.join("\n") + "\n").unwrap();
    let db = dir.join("val.db");
    ok(&["init", s(&db), "--manifest", s(&manifest)]);
    if answers {
        let images: std::collections::HashSet<&str> = kept[1..]
            .iter()
            .map(|l| l.split(',').next().unwrap())
            .collect();
        let raters = dir.join("raters.csv");
        let mut out = std::io::BufWriter::new(std::fs::File::create(&raters).unwrap());
        let gz = flate2::read::GzDecoder::new(std::fs::File::open(RATERS).unwrap());
        for (i, line) in std::io::BufReader::new(gz).lines().enumerate() {
            let line = line.unwrap();
            if i == 0 || images.contains(line.split(',').next().unwrap()) {
                writeln!(out, "{line}").unwrap();
            }
        }
        out.flush().unwrap();
        drop(out);
        ok(&["judgments", "import", s(&db), s(&raters)]);
    }
    db
}

fn session(p: &Project, annotator: &str, queue: QueueSpec) -> Session {
    session_with(p, annotator, queue, false)
}

fn session_with(p: &Project, annotator: &str, queue: QueueSpec, show_sources: bool) -> Session {
    Session::open_with_clock(
        p.open(),
        SessionOptions {
            annotator: annotator.into(),
            show_sources,
            queue,
        },
        Box::new(ManualClock::new()),
    )
    .unwrap()
}

/// The one-question screen over `session`, with half-block pictures.
fn screen(p: &Project, session: Session) -> App {
    App::new(
        session,
        Keymap::default(),
        Encoder::halfblocks(),
        AppOptions {
            project_name: "project.db".into(),
            image_root: Some(p.root.clone()),
            carried: None,
        },
        Box::new(|| {}),
    )
}

fn events(db: &Path) -> usize {
    Store::open(db).unwrap().events().unwrap().len()
}

// 1. An ambiguous name stops every flag that names a class, with the candidates' keys and paths.
#[test]
fn an_ambiguous_name_stops_every_class_flag_with_keys_and_paths() {
    let dir = tempfile::tempdir().unwrap();
    let db = val_project(dir.path(), 2000, false);
    let both = |err: &str| {
        assert!(
            err.contains("n02012849") && err.contains("n03126707"),
            "{err}"
        );
        assert!(err.contains("wading bird > crane"), "{err}");
    };
    for flags in [
        &["--subtree", "crane"][..],
        &["--class", "crane"],
        &["--original-label", "crane"],
        &["--grid", "--label", "crane"],
    ] {
        let mut args = vec!["annotate", s(&db)];
        args.extend_from_slice(flags);
        let err = fails(&args);
        both(&err);
        assert!(!err.contains("needs a terminal"), "{flags:?}: {err}");
    }
    let out = dir.path().join("c.db");
    both(&fails(&[
        "checkout",
        s(&db),
        "--annotator",
        "dave",
        "-o",
        s(&out),
        "--subtree",
        "crane",
    ]));
    assert!(!out.exists());
    // A path tail tells the two apart: only the bird's images are handed out.
    let said = ok(&[
        "checkout",
        s(&db),
        "--annotator",
        "dave",
        "-o",
        s(&out),
        "--subtree",
        "wading bird > crane",
    ]);
    let store = Store::open(&out).unwrap();
    let assigned = store.assigned_images("dave").unwrap().unwrap();
    assert!(!assigned.is_empty(), "{said}");
    let text = std::fs::read_to_string(VAL_LABELS).unwrap();
    for key in &assigned {
        let line = text.lines().find(|l| l.starts_with(key.as_str())).unwrap();
        assert!(line.ends_with(",n02012849"), "{line}");
    }
}

// 2. The count printed is the count selected.
#[test]
fn assign_prints_the_number_of_images_it_selected() {
    let dir = tempfile::tempdir().unwrap();
    let db = val_project(dir.path(), 3000, false);
    let out = ok(&[
        "assign",
        s(&db),
        "--annotators",
        "alice,bob",
        "--overlap",
        "2",
        "-o",
        s(&dir.path().join("terriers")),
        "--subtree",
        "terrier",
    ]);
    let store = Store::open(&dir.path().join("terriers/alice.db")).unwrap();
    let n = store.assigned_images("alice").unwrap().unwrap().len();
    assert!(n > 10 && n < 3000, "{n}");
    assert!(
        out.contains(&format!("images selected by subtree terrier: {n}\n")),
        "{out}"
    );
    assert!(out.contains(&format!("{n} of {n} images")), "{out}");
}

// 3. Re-importing our own exports adds nothing; the events are the same, so merges agree too.
#[test]
fn reimporting_our_own_answer_exports_adds_nothing() {
    let p = project(6);
    let mut s1 = session(&p, "alice", QueueSpec::default());
    for a in [Answer::Yes, Answer::No, Answer::Maybe, Answer::Yes] {
        s1.answer(a).unwrap();
    }
    s1.undo().unwrap();
    s1.answer(Answer::No).unwrap();
    drop(s1);
    let store = p.open();
    let id = store.image(&p.keys[0]).unwrap().unwrap().id;
    let present: Vec<String> = store
        .candidates(id)
        .unwrap()
        .into_iter()
        .take(2)
        .map(|c| c.label)
        .collect();
    store
        .append_classify(
            &p.keys[0],
            "alice",
            "sess-1",
            &present,
            &present[1],
            2,
            Some(1234),
        )
        .unwrap();
    drop(store);
    let before_events = events(&p.db);
    let before_classify = p.open().classify_events().unwrap().len();
    let copy = p.dir.path().join("copy.db");
    ok(&["checkout", s(&p.db), "--annotator", "zed", "-o", s(&copy)]);

    let prodigy = p.dir.path().join("answers.jsonl");
    ok(&["export", s(&p.db), "--format", "prodigy", "-o", s(&prodigy)]);
    let said = ok(&["judgments", "import", s(&p.db), s(&prodigy)]);
    assert!(said.contains("added 0 new; 4 were already"), "{said}");
    assert_eq!(events(&p.db), before_events);

    let classify = p.dir.path().join("classify.jsonl");
    ok(&[
        "export",
        s(&p.db),
        "--format",
        "classify-jsonl",
        "-o",
        s(&classify),
    ]);
    let said = ok(&["judgments", "import", s(&p.db), s(&classify)]);
    assert!(said.contains("added 0 new; 1 were already"), "{said}");
    assert_eq!(p.open().classify_events().unwrap().len(), before_classify);

    // Into another file of the project, the same events come in under the same ids and with
    // the same content: merging that file back adds nothing and finds no altered event.
    ok(&["judgments", "import", s(&copy), s(&prodigy)]);
    ok(&["judgments", "import", s(&copy), s(&classify)]);
    let merged = ok(&["merge", s(&p.db), s(&copy)]);
    assert_eq!(events(&p.db), before_events, "{merged}");
    assert_eq!(p.open().classify_events().unwrap().len(), before_classify);
}

// 4. A finished queue takes no answer key; moving to review lets an answer change.
#[test]
fn a_finished_queue_takes_no_answer_key() {
    let p = project(3);
    let mut s1 = session(&p, "alice", QueueSpec::default());
    while !s1.is_finished() {
        s1.answer(Answer::Yes).unwrap();
    }
    let n = events(&p.db);
    let mut app = screen(&p, s1);
    let mut term = Terminal::new(TestBackend::new(120, 30)).unwrap();
    for _ in 0..6 {
        app.handle_key(KeyEvent::new(KeyCode::Char('y'), KeyModifiers::NONE));
    }
    assert_eq!(
        events(&p.db),
        n,
        "answer keys after the queue was done saved answers"
    );
    term.draw(|f| app.draw(f)).unwrap();
    let text = buffer_text(term.backend().buffer());
    assert!(
        text.contains("the queue is done: nothing was saved"),
        "{text}"
    );
    // Reviewing: back one image, and an answer there changes it.
    app.handle_key(KeyEvent::new(KeyCode::Char('['), KeyModifiers::NONE));
    app.handle_key(KeyEvent::new(KeyCode::Char('n'), KeyModifiers::NONE));
    assert_eq!(events(&p.db), n + 1);
    app.handle_key(KeyEvent::new(KeyCode::Char('n'), KeyModifiers::NONE));
    assert_eq!(
        events(&p.db),
        n + 1,
        "the review ended where the queue ends"
    );
}

fn buffer_text(buf: &ratatui::buffer::Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

// 5. An image left open in the grid is not done.
#[test]
fn a_grid_image_left_open_is_not_done() {
    let p = project(20);
    let label = "n03899768"; // patio: a candidate of three photos
    let mut g = GridSession::open_with_clock(
        p.open(),
        GridOptions {
            annotator: "alice".into(),
            label: label.into(),
            queue: QueueSpec::default(),
        },
        Box::new(ManualClock::new()),
    )
    .unwrap();
    g.set_page_size(10).unwrap();
    g.toggle_mark(Mark::Skip);
    let mut app = GridApp::new(
        g,
        Keymap::default(),
        Encoder::halfblocks(),
        AppOptions {
            project_name: "project.db".into(),
            image_root: None,
            carried: None,
        },
        Box::new(|| {}),
    );
    let mut term = Terminal::new(TestBackend::new(120, 36)).unwrap();
    term.draw(|f| app.draw(f)).unwrap();
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    term.draw(|f| app.draw(f)).unwrap();
    let text = buffer_text(term.backend().buffer());
    assert!(text.contains("2/3 images done (67%)"), "{text}");
    assert!(
        !text.contains("Every image of this grid is answered"),
        "{text}"
    );
    assert!(text.contains("1 image left open"), "{text}");
}

// 6. A JPEG cut inside its data is unreadable at init, and the screen says it is truncated.
#[test]
fn init_finds_a_jpeg_cut_inside_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    let cut = images.join("cut.jpg");
    std::fs::write(&cut, truncated_jpeg(3000)).unwrap();
    // The header is whole: its size reads.
    assert!(image::image_dimensions(&cut).is_ok());
    let db = dir.path().join("p.db");
    let out = ok(&["init", s(&db), "--images", s(&images)]);
    assert!(out.contains("(0 read, 0 missing, 1 unreadable)"), "{out}");
    assert!(
        out.contains("unreadable: cut.jpg: truncated JPEG: data ends after 3000 bytes"),
        "{out}"
    );
    let err = match labelvet::tui::images::decode(&cut) {
        Ok(_) => panic!("decoded a cut JPEG"),
        Err(e) => e,
    };
    assert!(err.contains("truncated"), "{err}");
}

// 7. An assigned file is for its annotator.
#[test]
fn an_annotators_file_opens_for_another_name_only_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let db = val_project(dir.path(), 300, false);
    let handout = dir.path().join("handout");
    ok(&[
        "assign",
        s(&db),
        "--annotators",
        "alice,bob",
        "--overlap",
        "1",
        "-o",
        s(&handout),
    ]);
    let alice = handout.join("alice.db");
    let err = fails(&["annotate", s(&alice), "--annotator", "bob"]);
    assert!(err.contains("was made for alice"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert!(!err.contains("needs a terminal"), "{err}");
    // Its own annotator, or --force, passes the check (and stops at the missing terminal).
    let err = fails(&["annotate", s(&alice), "--annotator", "alice"]);
    assert!(err.contains("needs a terminal"), "{err}");
    let out = labelvet(&["annotate", s(&alice), "--annotator", "bob", "--force"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("made for alice; answering as bob because of --force"),
        "{err}"
    );
}

// 8. A filtered queue with nothing in it names the filter that left nothing.
#[test]
fn an_empty_filtered_queue_names_the_filter() {
    let dir = tempfile::tempdir().unwrap();
    let db = val_project(dir.path(), 300, false);
    let err = fails(&[
        "annotate",
        s(&db),
        "--original-label",
        "n01751748",
        "--disputed",
    ]);
    assert!(!err.contains("has no images"), "{err}");
    assert!(
        err.contains("each filter alone keeps original label n01751748: "),
        "{err}"
    );
    assert!(!err.contains("n01751748: 0 images"), "{err}");
    assert!(err.contains("disputed: 0 images"), "{err}");
}

// 9. A missing file is named once, with its path.
#[test]
fn a_missing_file_is_named_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = val_project(dir.path(), 10, false);
    let missing = dir.path().join("nonexist.db");
    let err = fails(&["merge", s(&db), s(&missing)]);
    assert!(err.contains("nonexist.db"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    let err = fails(&[
        "annotate",
        s(&db),
        "--keys",
        s(&dir.path().join("nonexist.toml")),
    ]);
    assert!(err.contains("nonexist.toml"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

// 10. Outside a terminal, argument errors come first.
#[test]
fn argument_errors_come_before_needs_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let db = val_project(dir.path(), 10, false);
    let err = fails(&[
        "annotate",
        s(&db),
        "--grid",
        "--label",
        "tench",
        "--class",
        "tench",
    ]);
    assert!(err.contains("leave out --class"), "{err}");
    let keys = dir.path().join("keys.toml");
    std::fs::write(&keys, "yes = [\"y\"\n").unwrap();
    let err = fails(&["annotate", s(&db), "--keys", s(&keys)]);
    assert!(err.contains("keys.toml"), "{err}");
    assert!(!err.contains("needs a terminal"), "{err}");
}

// 11. Did you mean: the nearest names and keys.
#[test]
fn a_misspelt_class_or_image_key_gets_suggestions() {
    let dir = tempfile::tempdir().unwrap();
    let db = val_project(dir.path(), 10, false);
    let err = fails(&["annotate", s(&db), "--class", "Norfolk terier"]);
    assert!(
        err.contains("did you mean Norfolk terrier (n02094114"),
        "{err}"
    );
    let err = fails(&["annotate", s(&db), "--subtree", "terier"]);
    assert!(err.contains("did you mean `terrier`"), "{err}");

    let p = project(5);
    let mut s1 = session(&p, "alice", QueueSpec::default());
    let key = p.keys[3].clone();
    let name = key
        .rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches(".jpg")
        .to_string();
    let err = s1.go_to(&name).unwrap_err().to_string();
    assert!(err.contains(&format!("did you mean {key}")), "{err}");
}

// 12. CSV quoting errors and images not in the folder, in plain words.
#[test]
fn a_labels_file_with_an_unclosed_quote_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("labels.csv");
    std::fs::write(
        &labels,
        "image,label\ncurated/skimage__chelsea.png,281\n\"curated/opencv__orange.jpg,950\ncurated/skimage__coffee.png,967\n",
    )
    .unwrap();
    let db = dir.path().join("p.db");
    let err = fails(&["init", s(&db), "--images", PHOTOS, "--labels", s(&labels)]);
    assert!(err.contains("labels.csv:3: CSV quoting error"), "{err}");
    std::fs::write(&labels, "image,label\nnothere.jpg,281\n").unwrap();
    let err = fails(&["init", s(&db), "--images", PHOTOS, "--labels", s(&labels)]);
    assert!(
        err.contains("image nothere.jpg is not in the image folder"),
        "{err}"
    );
}

// 14. Steps that take seconds say so on a terminal (a pseudo-terminal from `script` here).
#[test]
fn a_long_import_shows_progress_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let db = val_project(dir.path(), 50, false);
    let raters = dir.path().join("r.csv");
    std::fs::write(
        &raters,
        "image,label,annotator,answer\nILSVRC2012_val_00000001.JPEG,65,r1,yes\n",
    )
    .unwrap();
    let cmd = format!(
        "{} judgments import {} {}",
        env!("CARGO_BIN_EXE_labelvet"),
        s(&db),
        s(&raters)
    );
    let out = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .env("LABELVET_DATA_DIR", dir.path())
        .output()
        .expect("run script(1)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("importing the answers of"), "{text}");
    // Not on a pipe.
    let out = labelvet(&["judgments", "import", s(&db), s(&raters)]);
    assert!(String::from_utf8_lossy(&out.stderr).is_empty());
}

// 15. real-json says which rule made it.
#[test]
fn real_json_says_which_method_it_used() {
    let dir = tempfile::tempdir().unwrap();
    let db = val_project(dir.path(), 40, true);
    let out = labelvet(&[
        "export",
        s(&db),
        "--format",
        "real-json",
        "--threshold",
        "0.8",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("valid when its score by selection frequency is >= 0.8"),
        "{err}"
    );
    assert!(err.contains("--method dawid-skene"), "{err}");
    let out = labelvet(&[
        "export",
        s(&db),
        "--format",
        "real-json",
        "--method",
        "dawid-skene",
        "--threshold",
        "0.8",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("by dawid-skene is >= 0.8"), "{err}");
    assert!(!err.contains("ReaL's rule"), "{err}");
}

// 16. A predictions CSV without a model column takes the file's name, and says so.
#[test]
fn predictions_without_a_model_take_the_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    ok(&["init", s(&db), "--images", PHOTOS]);
    let csv = dir.path().join("resnet50.csv");
    std::fs::write(
        &csv,
        "image,rank,label,score\ncurated/skimage__chelsea.png,1,n02123045,0.6\n",
    )
    .unwrap();
    let out = ok(&["predictions", "import", s(&db), s(&csv)]);
    assert!(
        out.contains("names no model: its predictions are model `resnet50`"),
        "{out}"
    );
    assert!(out.contains("of 1 model (resnet50)"), "{out}");
}

// 17. info lists the 20 busiest annotators and counts the rest.
#[test]
fn info_lists_twenty_annotators_unless_all() {
    let dir = tempfile::tempdir().unwrap();
    let db = val_project(dir.path(), 400, true);
    let listed = |text: &str| text.lines().filter(|l| l.starts_with("  r")).count();
    let out = ok(&["info", s(&db)]);
    let total: usize = out
        .lines()
        .find(|l| l.starts_with("judgments"))
        .and_then(|l| l.split(" by ").nth(1))
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(total > 20, "{out}");
    assert_eq!(listed(&out), 20, "{out}");
    assert!(
        out.contains(&format!("... and {} more", total - 20)),
        "{out}"
    );
    assert!(out.contains("--all lists every one"), "{out}");
    let all = ok(&["info", s(&db), "--all"]);
    assert_eq!(listed(&all), total, "{all}");
}

// 18. Plurals, a project with no candidates, and sources that fit.
#[test]
fn one_is_singular_and_no_candidates_says_how_to_add_some() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    ok(&["init", s(&db), "--images", PHOTOS]);
    let err = fails(&["annotate", s(&db)]);
    assert!(err.contains("have no candidate labels"), "{err}");
    assert!(err.contains("labelvet predictions import"), "{err}");
    assert!(!err.contains("needs a terminal"), "{err}");

    let answers = dir.path().join("a.csv");
    std::fs::write(
        &answers,
        "image,label,annotator,answer\ncurated/skimage__chelsea.png,281,ann,yes\n",
    )
    .unwrap();
    let out = ok(&["judgments", "import", s(&db), s(&answers)]);
    assert!(
        out.contains("read 1 answer (csv) by 1 annotator to 1 question on 1 image"),
        "{out}"
    );
    let info = ok(&["info", s(&db)]);
    assert!(
        info.contains("judgments   1 event by 1 annotator"),
        "{info}"
    );
    assert!(info.contains("1 event, 1 current answer"), "{info}");
}

#[test]
fn sources_are_never_cut_mid_word() {
    let p = project(4);
    let mut app = screen(&p, session_with(&p, "alice", QueueSpec::default(), true));
    let mut rows = 0;
    for width in (70..=130).step_by(6) {
        let mut term = Terminal::new(TestBackend::new(width, 40)).unwrap();
        term.draw(|f| app.draw(f)).unwrap();
        let _ = app.settle(Duration::from_secs(20));
        term.draw(|f| app.draw(f)).unwrap();
        let text = buffer_text(term.backend().buffer());
        for line in text.lines() {
            // Candidate rows: the sources after the name, in the list's box.
            let Some(at) = line.find("effnet_lite").or_else(|| line.find("+")) else {
                continue;
            };
            let tail = line[at..].trim_end_matches(|c: char| c == '│' || c.is_whitespace());
            for word in tail.split_whitespace() {
                let whole = word.starts_with('+')
                    || word == "orig"
                    || (word.starts_with("effnet_lite")
                        && word.contains('#')
                        && !word.ends_with('#'));
                assert!(whole, "`{word}` cut in: {line}");
            }
            rows += 1;
        }
    }
    assert!(rows > 0);
}

// 13. A model without a batch axis, in a sentence.
#[cfg(feature = "predict")]
#[test]
fn a_model_without_a_batch_axis_says_so_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    let first = std::fs::read_dir("../shared/data/photos/imagenet_labeled")
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    std::fs::copy(&first, images.join("a.jpg")).unwrap();
    ok(&["init", s(&db), "--images", s(&images)]);
    let out = ok(&[
        "predict",
        s(&db),
        "--model",
        "lite0=../shared/data/models/efficientnet_lite0.onnx",
        "--scale-127",
        "--batch",
        "4",
    ]);
    assert!(out.contains("the model has no batch axis"), "{out}");
    assert!(out.contains("ran one image at a time"), "{out}");
    assert!(out.contains("1 image predicted"), "{out}");
    for internals in ["TDim", "Shape", "#", "node"] {
        assert!(!out.contains(internals), "`{internals}` in: {out}");
    }
}

// 13. Rates on the progress bars are rounded.
#[test]
fn progress_rates_are_rounded() {
    assert_eq!(labelvet::ingest::images::rate(7.840_62), "7.8/s");
    assert_eq!(labelvet::ingest::images::rate(1234.4), "1234/s");
}

// 18. The accuracy figure's axis ends at 100%, labelled; the legend has a strip of its own.
#[test]
fn the_accuracy_figure_ends_at_one_hundred_percent() {
    let p = project(12);
    let store = p.open();
    for (i, key) in p.keys.iter().enumerate() {
        let id = store.image(key).unwrap().unwrap().id;
        for (j, c) in store.candidates(id).unwrap().iter().enumerate() {
            let answer = if (i + j) % 3 == 0 {
                Answer::Yes
            } else {
                Answer::No
            };
            store
                .append_answer(key, &c.label, answer, "ann", "s", None)
                .unwrap();
        }
    }
    drop(store);
    let figs = p.dir.path().join("figs");
    ok(&["report", s(&p.db), "--plots", s(&figs)]);
    let svg = std::fs::read_to_string(figs.join("accuracy_by_model.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let num = |n: &roxmltree::Node, a: &str| n.attribute(a).and_then(|v| v.parse::<f64>().ok());
    let percents: Vec<(f64, f64)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| {
            let t = n.text()?.trim().strip_suffix('%')?.parse::<f64>().ok()?;
            Some((t, num(&n, "y")?))
        })
        .collect();
    assert!(percents.iter().all(|(v, _)| *v <= 100.0), "{percents:?}");
    let top_label = percents
        .iter()
        .find(|(v, _)| *v == 100.0)
        .map(|(_, y)| *y)
        .expect("a 100% label");
    // The highest horizontal grid line is the 100% one: nothing is drawn above the scale.
    let top_line = doc
        .descendants()
        .filter(|n| n.has_tag_name("line"))
        .filter_map(|n| {
            let (x1, y1, x2, y2) = (
                num(&n, "x1")?,
                num(&n, "y1")?,
                num(&n, "x2")?,
                num(&n, "y2")?,
            );
            (y1 == y2 && (x2 - x1).abs() > 200.0).then_some(y1)
        })
        .fold(f64::INFINITY, f64::min);
    assert!(
        (top_line - top_label).abs() < 15.0,
        "top grid line at {top_line}, 100% at {top_label}"
    );
}
