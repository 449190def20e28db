//! End to end: the real binary in a real terminal (tmux), driven by key presses, checked on screen
//! and in the SQLite file. Each test runs its own tmux server on a socket in its temporary
//! directory, so nothing touches the user's sessions. Skipped, with a notice, only when tmux is
//! not installed, and then failing under `CI=true` (see `tools`).

use crate::annotate_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use labelvet::annotate::{Session, SessionOptions};
use labelvet::store::{Answer, Store};
use labelvet::vocab::Vocab;

const BIN: &str = env!("CARGO_BIN_EXE_labelvet");

fn tmux_installed() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    crate::tools::available("tmux", ok)
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A project made the way a user makes one: `labelvet init` over a folder of the 20 labelled
/// photos with a labels file, then `labelvet predictions import` of their real predictions.
struct Fixture {
    dir: tempfile::TempDir,
    db: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    let vocab = Vocab::imagenet1k();
    let photos = annotate_support::labelled_photos(&vocab);
    let mut labels = String::from("image,label\n");
    let mut keys = Vec::new();
    for (key, path, wnid) in &photos {
        let to = images.join(key);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(path, &to).unwrap();
        labels.push_str(&format!("{key},{wnid}\n"));
        keys.push(key.clone());
    }
    let labels_csv = dir.path().join("labels.csv");
    std::fs::write(&labels_csv, labels).unwrap();
    // The shared predictions cover 81 photos; keep the rows of these 20.
    let all =
        std::fs::read_to_string(annotate_support::photos_dir().join("predictions.csv")).unwrap();
    let mut preds = String::new();
    for (i, line) in all.lines().enumerate() {
        let image = line.split(',').next().unwrap();
        if i == 0 || keys.iter().any(|k| k == image) {
            preds.push_str(line);
            preds.push('\n');
        }
    }
    let preds_csv = dir.path().join("predictions.csv");
    std::fs::write(&preds_csv, preds).unwrap();

    let db = dir.path().join("p.db");
    run(Command::new(BIN)
        .arg("init")
        .arg(&db)
        .arg("--images")
        .arg(&images)
        .arg("--labels")
        .arg(&labels_csv));
    run(Command::new(BIN)
        .args(["predictions", "import"])
        .arg(&db)
        .arg(&preds_csv));
    Fixture { dir, db }
}

/// One tmux server with one 200x60 window running a shell command. Its socket is in the test's
/// own temporary directory, so it goes away with it.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(f: &Fixture, name: &str, script: &str) -> Tmux {
        Tmux::start_in(f.dir.path(), name, script)
    }

    /// A server whose socket is in `dir`.
    fn start_in(dir: &Path, name: &str, script: &str) -> Tmux {
        let socket = dir.join(format!("tmux-{name}"));
        let t = Tmux {
            socket: socket.to_str().unwrap().to_string(),
        };
        run(Command::new("tmux")
            .args(["-S", &t.socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-s", "t", "-x", "200", "-y", "60"])
            .arg(script));
        t
    }

    fn send(&self, keys: &[&str]) {
        run(Command::new("tmux")
            .args(["-S", &self.socket, "send-keys", "-t", "t"])
            .args(keys));
    }

    fn capture(&self) -> String {
        let out =
            run(Command::new("tmux").args(["-S", &self.socket, "capture-pane", "-p", "-t", "t"]));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen holds `needle`; returns the screen.
    fn wait_for(&self, needle: &str) -> String {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.capture();
            if screen.contains(needle) {
                return screen;
            }
            if Instant::now() > end {
                panic!("waited 30 s for {needle:?}; the screen is:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-S", &self.socket, "kill-server"])
            .output();
    }
}

/// The command line of the screen. The inner shell records its pid and becomes the program
/// (`exec`), so the pid is the program's; the outer one prints the exit status and the terminal's
/// line mode (`icanon echo` once raw mode is off), and stays, so the pane can still be read.
fn annotate_script(f: &Fixture, pidfile: &Path) -> String {
    annotate_script_with(f, pidfile, "halfblocks")
}

fn annotate_script_with(f: &Fixture, pidfile: &Path, graphics: &str) -> String {
    annotate_script_args(f, pidfile, &format!("--graphics {graphics}"))
}

fn annotate_script_args(f: &Fixture, pidfile: &Path, args: &str) -> String {
    format!(
        "XDG_CONFIG_HOME=\"{config}\" sh -c 'echo $$ > \"{pid}\"; exec \"{bin}\" annotate \"{db}\" \
         --annotator alice {args}'; echo EXIT=$?; \
         stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; \
         echo; sleep 600",
        config = f.dir.path().join("config").display(),
        pid = pidfile.display(),
        bin = BIN,
        db = f.db.display()
    )
}

/// The candidates of the image at `index` (key order) in the blind order alice sees them in.
fn order(db: &Path, index: usize) -> (String, Vec<String>) {
    let store = Store::open(db).unwrap();
    let key = store.images().unwrap()[index].rec.key.clone();
    // Opening a session writes nothing; it only reads what alice would see.
    let mut s = Session::open(
        store,
        SessionOptions {
            annotator: "alice".into(),
            show_sources: false,
            queue: Default::default(),
        },
    )
    .unwrap();
    s.go_to(&key).unwrap();
    let labels = s
        .image()
        .unwrap()
        .items
        .iter()
        .map(|i| i.label.clone())
        .collect();
    (key, labels)
}

fn total_questions(db: &Path) -> u64 {
    Store::open(db)
        .unwrap()
        .queue_candidate_count("alice")
        .unwrap()
}

fn answer_of(c: char) -> Answer {
    match c {
        'y' => Answer::Yes,
        'n' => Answer::No,
        _ => Answer::Maybe,
    }
}

#[test]
fn answer_undo_quit_reopen_resume() {
    if !tmux_installed() {
        return;
    }
    let f = fixture();
    let total = total_questions(&f.db);
    let (img0, order0) = order(&f.db, 0);
    let (img1, order1) = order(&f.db, 1);
    let pid = f.dir.path().join("pid");
    let t = Tmux::start(&f, "resume", &annotate_script(&f, &pid));
    t.wait_for(&format!("0/{total} answered"));
    t.wait_for(&img0);

    // All of the first image, cycling y / n / m, then two on the second, waiting each time
    // until the screen shows the answer taken.
    let mut keys: Vec<char> = (0..order0.len()).map(|i| ['y', 'n', 'm'][i % 3]).collect();
    keys.extend(['y', 'n']);
    for (i, k) in keys.iter().enumerate() {
        t.send(&[&k.to_string()]);
        t.wait_for(&format!("{}/{total} answered", i + 1));
    }
    let screen = t.wait_for(&img1);
    assert!(screen.contains("image 2/20"), "{screen}");
    // Undo the last answer (the `n` on the second image's second candidate).
    t.send(&["u"]);
    let undone_name = Vocab::imagenet1k().get(&order1[1]).unwrap().name.clone();
    t.wait_for(&format!("undone: no for {undone_name}"));
    t.wait_for(&format!("{}/{total} answered", keys.len() - 1));
    t.send(&["q"]);
    t.wait_for("EXIT=0");

    // The file holds exactly these events, in this order.
    let events = Store::open(&f.db).unwrap().events().unwrap();
    assert_eq!(events.len(), keys.len() + 1);
    let mut expected: Vec<(String, String, Option<Answer>)> = order0
        .iter()
        .zip(&keys)
        .map(|(l, k)| (img0.clone(), l.clone(), Some(answer_of(*k))))
        .collect();
    expected.push((img1.clone(), order1[0].clone(), Some(Answer::Yes)));
    expected.push((img1.clone(), order1[1].clone(), Some(Answer::No)));
    expected.push((img1.clone(), order1[1].clone(), None));
    let got: Vec<_> = events
        .iter()
        .map(|e| (e.image.clone(), e.label.clone(), e.answer))
        .collect();
    assert_eq!(got, expected);
    let last = events.last().unwrap();
    assert_eq!(
        last.retracts.as_deref(),
        Some(events[events.len() - 2].id.as_str())
    );
    assert!(events.iter().all(|e| e.annotator == "alice"));
    assert!(events.iter().all(|e| e.session == events[0].session));

    // Reopened, the screen resumes on the second image, on the undone candidate.
    drop(t);
    let t = Tmux::start(&f, "resume2", &annotate_script(&f, &pid));
    let screen = t.wait_for(&format!("{}/{total} answered", keys.len() - 1));
    let screen = if screen.contains(&img1) {
        screen
    } else {
        t.wait_for(&img1)
    };
    assert!(screen.contains("image 2/20"), "{screen}");
    let cursor = screen
        .lines()
        .find(|l| l.contains("│> "))
        .unwrap_or_else(|| panic!("no cursor on screen:\n{screen}"));
    assert!(cursor.contains("2  open"), "{cursor}");
    assert!(cursor.contains(&undone_name), "{cursor}");
    assert!(screen.contains(&undone_name), "{screen}");
    t.send(&["q"]);
    t.wait_for("EXIT=0");
}

#[test]
fn kill_9_loses_no_answer_the_screen_showed() {
    if !tmux_installed() {
        return;
    }
    let f = fixture();
    let total = total_questions(&f.db);
    let pidfile = f.dir.path().join("pid");
    let t = Tmux::start(&f, "kill", &annotate_script(&f, &pidfile));
    t.wait_for(&format!("0/{total} answered"));
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    // A burst of answers across images, as fast as keys come, then one screen read.
    let keys = "ynmyynmnyymnnyym";
    for k in keys.chars() {
        t.send(&[&k.to_string()]);
    }
    let screen = t.wait_for(&format!("{}/{total} answered", keys.len()));
    run(Command::new("kill").args(["-9", &pid.to_string()]));
    t.wait_for("EXIT=137");

    // Every answer shown on the last screen is in the file, as shown.
    let vocab = Vocab::imagenet1k();
    let store = Store::open(&f.db).unwrap();
    let standing = store.current_answers().unwrap();
    assert_eq!(standing.len(), keys.len());
    let image_line = screen
        .lines()
        .find(|l| l.contains("image ") && l.contains("annotator alice"))
        .unwrap();
    let key = image_line.split_whitespace().last().unwrap();
    let mut shown = 0;
    for line in screen.lines() {
        for (word, answer) in [
            ("yes", Answer::Yes),
            ("no", Answer::No),
            ("maybe", Answer::Maybe),
        ] {
            let Some(at) = line.find(&format!("  {word} ")) else {
                continue;
            };
            let name = line[at + word.len() + 2..]
                .trim()
                .trim_end_matches('│')
                .trim();
            let class = vocab
                .classes()
                .iter()
                .find(|c| c.name == name)
                .unwrap_or_else(|| panic!("no class named {name:?} in line {line:?}"));
            assert!(
                standing
                    .iter()
                    .any(|a| a.image == key && a.label == class.key && a.answer == answer),
                "shown {word} for {name} on {key}, not in the file"
            );
            shown += 1;
        }
    }
    assert!(shown > 0, "no answer on the last screen:\n{screen}");
    // The file is whole after the kill.
    let ok: String = store
        .conn_for_tests()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}

fn pid_of(pidfile: &Path) -> String {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(s) = std::fs::read_to_string(pidfile)
            && !s.trim().is_empty()
        {
            return s.trim().to_string();
        }
        assert!(Instant::now() < end, "no pid in {}", pidfile.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_and_sighup_give_the_terminal_back() {
    if !tmux_installed() {
        return;
    }
    let f = fixture();
    let total = total_questions(&f.db);
    for (n, sig) in ["TERM", "HUP"].into_iter().enumerate() {
        let pidfile = f.dir.path().join(format!("pid{n}"));
        let t = Tmux::start(&f, &format!("sig{n}"), &annotate_script(&f, &pidfile));
        t.wait_for(&format!("{n}/{total} answered"));
        t.send(&["y"]);
        t.wait_for(&format!("{}/{total} answered", n + 1));
        run(Command::new("kill").args([&format!("-{sig}"), &pid_of(&pidfile)]));
        let screen = t.wait_for("EXIT=1");
        assert!(
            screen.contains(&format!(
                "stopped by signal SIG{sig}; every answer shown as taken is saved"
            )),
            "{screen}"
        );
        // The alternate screen is left (the shell's lines are visible, the frame is gone) and
        // raw mode is off.
        let screen = t.wait_for("icanon");
        assert!(!screen.contains("answered ("), "{screen}");
        assert!(
            screen.contains("icanon echo") && !screen.contains("-icanon"),
            "{screen}"
        );
    }
    assert_eq!(Store::open(&f.db).unwrap().events().unwrap().len(), 2);
}

/// The tmux server killed under a running screen (as when an SSH link drops): the hang-up
/// signal goes to the shell that started labelvet, not to labelvet, which must see the closed
/// terminal itself and end, rather than poll it forever holding the project file.
#[test]
fn a_closed_terminal_ends_the_screen_and_keeps_the_answers() {
    if !tmux_installed() {
        return;
    }
    let f = fixture();
    let total = total_questions(&f.db);
    let pidfile = f.dir.path().join("pid");
    let t = Tmux::start(&f, "hangup", &annotate_script(&f, &pidfile));
    t.wait_for(&format!("0/{total} answered"));
    t.send(&["y"]);
    t.wait_for(&format!("1/{total} answered"));
    let pid = pid_of(&pidfile);
    drop(t);
    let alive = || {
        Command::new("kill")
            .args(["-0", &pid])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let end = Instant::now() + Duration::from_secs(20);
    while alive() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    if alive() {
        let _ = Command::new("kill").args(["-9", &pid]).status();
        panic!("labelvet (pid {pid}) still runs 20 s after its terminal was closed");
    }
    assert_eq!(Store::open(&f.db).unwrap().events().unwrap().len(), 1);
}

#[test]
fn a_small_window_says_so_and_recovers() {
    if !tmux_installed() {
        return;
    }
    let f = fixture();
    let total = total_questions(&f.db);
    let pidfile = f.dir.path().join("pid");
    let t = Tmux::start(&f, "small", &annotate_script(&f, &pidfile));
    t.wait_for(&format!("0/{total} answered"));
    let resize = |w: &str, h: &str| {
        run(Command::new("tmux").args([
            "-S",
            &t.socket,
            "resize-window",
            "-t",
            "t",
            "-x",
            w,
            "-y",
            h,
        ]));
    };
    resize("50", "12");
    t.wait_for("50×12");
    resize("200", "60");
    t.wait_for(&format!("0/{total} answered"));
    t.send(&["y"]);
    t.wait_for(&format!("1/{total} answered"));
    t.send(&["q"]);
    t.wait_for("EXIT=0");
}

#[test]
fn auto_graphics_without_an_answer_from_the_terminal_keeps_the_keys() {
    if !tmux_installed() {
        return;
    }
    // A detached tmux session forwards the graphics query to no terminal, so nothing answers it:
    // the screen must fall back to half-blocks and still get every key.
    let f = fixture();
    let total = total_questions(&f.db);
    let pidfile = f.dir.path().join("pid");
    let t = Tmux::start(&f, "auto", &annotate_script_with(&f, &pidfile, "auto"));
    t.wait_for(&format!("0/{total} answered"));
    t.send(&["y"]);
    t.wait_for(&format!("1/{total} answered"));
    t.send(&["n"]);
    t.wait_for(&format!("2/{total} answered"));
    t.send(&["q"]);
    t.wait_for("EXIT=0");
    assert_eq!(Store::open(&f.db).unwrap().events().unwrap().len(), 2);
}

#[test]
fn a_grid_page_marked_and_saved_lands_as_yes_and_no_answers() {
    if !tmux_installed() {
        return;
    }
    let f = fixture();
    let patio = "n03899768";
    let images = annotate_support::candidate_images(&f.db, patio);
    assert_eq!(images.len(), 3);
    let pidfile = f.dir.path().join("pid");
    let t = Tmux::start(
        &f,
        "grid",
        &annotate_script_args(&f, &pidfile, "--graphics halfblocks --grid --label patio"),
    );
    let screen = t.wait_for("grid: patio (n03899768)");
    assert!(screen.contains("page 1/1"), "{screen}");
    assert!(screen.contains("usually paved outdoor area"), "{screen}");
    // The second image contains the label; m makes the third a maybe.
    t.send(&["Right", "Space", "Right", "m"]);
    t.wait_for("1 yes · 1 no");
    t.send(&["Enter"]);
    let screen = t.wait_for("saved: 1 yes, 1 no, 1 maybe");
    assert!(screen.contains("grid done"), "{screen}");
    t.send(&["q"]);
    let screen = t.wait_for("EXIT=");
    assert!(screen.contains("EXIT=0"), "{screen}");

    let store = Store::open(&f.db).unwrap();
    let mut got: Vec<(String, Answer)> = store
        .current_answers()
        .unwrap()
        .into_iter()
        .filter(|a| a.annotator == "alice" && a.label == patio)
        .map(|a| (a.image, a.answer))
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            (images[0].clone(), Answer::No),
            (images[1].clone(), Answer::Yes),
            (images[2].clone(), Answer::Maybe),
        ]
    );
    assert!(
        store.events().unwrap().iter().all(|e| e.origin == "grid"),
        "grid answers say where they come from"
    );
}

#[test]
fn a_classify_answer_lands_in_the_project_file() {
    if !tmux_installed() {
        return;
    }
    let f = fixture();
    // Two raters confirm two candidates of the first image: its valid set has two labels.
    let store = Store::open(&f.db).unwrap();
    let first = store.images().unwrap()[0].clone();
    let cands = store.candidates(first.id).unwrap();
    let (a, b) = (cands[0].label.clone(), cands[1].label.clone());
    let mut csv = String::from("image,label,annotator,answer\n");
    for who in ["bob", "carol"] {
        for l in [&a, &b] {
            csv.push_str(&format!("{},{l},{who},yes\n", first.rec.key));
        }
    }
    drop(store);
    let answers = f.dir.path().join("answers.csv");
    std::fs::write(&answers, csv).unwrap();
    run(Command::new(BIN)
        .args(["judgments", "import"])
        .arg(&f.db)
        .arg(&answers));

    let pidfile = f.dir.path().join("pid");
    let t = Tmux::start(
        &f,
        "classify",
        &annotate_script_args(&f, &pidfile, "--graphics halfblocks --classify"),
    );
    let screen = t.wait_for("Which are in the image?");
    assert!(
        screen.contains("1 image with 2+ labels at frequency ≥ 0.5"),
        "{screen}"
    );
    // Without a main object, enter says what is missing and saves nothing.
    t.send(&["Enter"]);
    t.wait_for("choose the main object first");
    // The second label is the main object; there are three objects.
    t.send(&["2", "m", "+"]);
    t.wait_for("★ main object");
    t.send(&["Enter"]);
    let screen = t.wait_for("saved");
    assert!(
        screen.contains("every image of the queue is answered"),
        "{screen}"
    );
    t.send(&["q"]);
    let screen = t.wait_for("EXIT=");
    assert!(screen.contains("EXIT=0"), "{screen}");

    let store = Store::open(&f.db).unwrap();
    let event = store
        .current_classify(&first.rec.key, "alice")
        .unwrap()
        .expect("the answer is in the file");
    let answer = event.answer.unwrap();
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(answer.present, both);
    assert_eq!(answer.objects, 3);
    // The label shown second is the main object: labels come in vocabulary order.
    let vocab = store.vocab().unwrap();
    let mut shown = [a, b];
    shown.sort_by_key(|k| vocab.get(k).and_then(|c| c.index));
    assert_eq!(answer.main, shown[1]);
}

#[test]
fn quitting_the_demo_says_what_happened_and_what_comes_next() {
    if !tmux_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // $USER and $LOGNAME unset, as under some cron jobs and containers: the annotator is still
    // the login name, never the placeholder `annotator`.
    let script = format!(
        "env -u USER -u LOGNAME LABELVET_DATA_DIR=\"{data}\" XDG_CONFIG_HOME=\"{config}\" \
         \"{bin}\" demo --graphics halfblocks; echo EXIT=$?; sleep 600",
        data = data.display(),
        config = dir.path().join("config").display(),
        bin = BIN,
    );
    let t = Tmux::start_in(dir.path(), "demo", &script);
    let screen = t.wait_for("0 this session");
    let login = labelvet::annotate::login_name();
    assert_ne!(login, "annotator", "the test machine has a login name");
    assert!(screen.contains(&format!("annotator {login}")), "{screen}");
    assert!(!screen.contains("annotator annotator"), "{screen}");

    t.send(&["y"]);
    t.wait_for("1 this session");
    t.send(&["n"]);
    t.wait_for("2 this session");
    t.send(&["u"]);
    t.wait_for("1 this session");
    t.send(&["q"]);
    let screen = t.wait_for("EXIT=0");
    let db = data.join("demo").join("demo.db");
    let db_text = db.display().to_string();
    assert!(
        screen.contains(&format!(
            "labelvet demo: 1 answer this session by {login}, saved in {db_text}"
        )),
        "{screen}"
    );
    for next in [
        format!("labelvet report {db_text}"),
        format!("labelvet checkout {db_text} --annotator bob -o bob.db"),
        format!("labelvet merge {db_text} bob.db"),
    ] {
        assert!(screen.contains(&next), "{next} is not in:\n{screen}");
    }
    // The file named holds the answer that stands.
    let answers = Store::open(&db).unwrap().current_answers().unwrap();
    assert_eq!(answers.len(), 1, "{answers:?}");
}

/// The screen on `db` as `annotator` with `args`, like [`annotate_script_args`] for another file.
fn script_on(f: &Fixture, db: &Path, annotator: &str, args: &str) -> String {
    format!(
        "XDG_CONFIG_HOME=\"{config}\" \"{bin}\" annotate \"{db}\" --annotator {annotator} \
         --graphics halfblocks {args}; echo EXIT=$?; sleep 600",
        config = f.dir.path().join("config").display(),
        bin = BIN,
        db = db.display()
    )
}

fn labelvet_ok(args: &[&str]) -> String {
    let out = run(Command::new(BIN).args(args));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The project's images in key order with their original labels.
fn originals(db: &Path) -> Vec<(String, String)> {
    Store::open(db)
        .unwrap()
        .images()
        .unwrap()
        .into_iter()
        .map(|r| (r.rec.key, r.rec.original_label.unwrap()))
        .collect()
}

#[test]
fn gold_rate_mixes_gold_images_into_the_queue_and_report_counts_the_answers() {
    if !tmux_installed() {
        return;
    }
    let f = fixture();
    let images = originals(&f.db);
    // Gold on the original label of the last 6 images; alice's file holds the first 4.
    let mut gold = String::from("image,label,answer,annotator\n");
    for (key, label) in &images[14..] {
        gold.push_str(&format!("{key},{label},yes,e1\n{key},{label},yes,e2\n"));
    }
    let gold_csv = f.dir.path().join("gold.csv");
    std::fs::write(&gold_csv, gold).unwrap();
    labelvet_ok(&["gold", "import", p(&f.db), p(&gold_csv)]);
    let alice = f.dir.path().join("alice.db");
    {
        let project = Store::open(&f.db).unwrap();
        let mine: Vec<String> = images[..4].iter().map(|(k, _)| k.clone()).collect();
        let opts = labelvet::store::checkout::CheckoutOptions {
            annotator: "alice",
            with_answers: false,
            assignment: Some(&mine),
            assignment_note: None,
            leave_out: None,
            with_images: None,
        };
        labelvet::store::checkout::checkout(&project, &alice, &opts).unwrap();
    }

    // --gold-rate outside 0..1 is refused before the screen opens, and nothing is written.
    let out = Command::new(BIN)
        .args(["annotate", p(&alice), "--gold-rate", "1.5"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--gold-rate 1.5 is not between 0 and 1")
    );

    let t = Tmux::start(
        &f,
        "gold",
        &script_on(&f, &alice, "alice", "--gold-rate 0.5 --seed 1"),
    );
    // Rate 0.5: as many images with a gold question (from outside her 4) as without.
    t.wait_for("image 1/8");
    // The status line may come in a later write than the header on a busy machine.
    t.wait_for("answered");
    // Answer every question yes, one key at a time as the screen takes them.
    for _ in 0..200 {
        if t.capture()
            .contains("every question of your queue is answered")
        {
            break;
        }
        t.send(&["y"]);
        std::thread::sleep(Duration::from_millis(30));
    }
    t.wait_for("every question of your queue is answered");
    t.send(&["q"]);
    t.wait_for("EXIT=0");

    let r: serde_json::Value =
        serde_json::from_str(&labelvet_ok(&["report", p(&alice), "--json"])).unwrap();
    let a = &r["annotators"][0];
    assert_eq!(a["annotator"], "alice");
    // One gold question on each of the 4 gold images mixed in, all answered yes: the truth.
    assert_eq!(a["gold_answers"], 4);
    assert_eq!(a["gold_accuracy"], 1.0);
    // The screen timed every answer.
    assert_eq!(a["untimed_answers"], 0);
}

#[test]
fn review_verdicts_decide_exports_and_differing_merged_verdicts_are_a_conflict() {
    if !tmux_installed() {
        return;
    }
    let f = fixture();
    let images = originals(&f.db);
    let vocab = Vocab::imagenet1k();
    // One disputed question: the first image's original label, yes from ann, no from bob.
    let (key, label) = &images[0];
    let answers = f.dir.path().join("answers.csv");
    std::fs::write(
        &answers,
        format!("image,label,annotator,answer\n{key},{label},ann,yes\n{key},{label},bob,no\n"),
    )
    .unwrap();
    labelvet_ok(&["judgments", "import", p(&f.db), p(&answers)]);
    let file = |who: &str| {
        let out = f.dir.path().join(format!("{who}.db"));
        labelvet_ok(&[
            "checkout",
            p(&f.db),
            "--annotator",
            who,
            "-o",
            p(&out),
            "--with-answers",
        ]);
        out
    };
    let (x1, x2) = (file("x1"), file("x2"));
    let name = vocab.get(label).unwrap().name.clone();
    let index = vocab.get(label).unwrap().index.unwrap();

    // x1 says no, in the review screen of their file.
    let t = Tmux::start(&f, "review1", &script_on(&f, &x1, "x1", "--review"));
    let screen = t.wait_for("annotators: 1 yes · 1 no · 0 maybe");
    assert!(
        screen.contains(&format!("is there a {name} in this image?")),
        "{screen}"
    );
    assert!(screen.contains("question 1/1"), "{screen}");
    // Names only with --show-annotators.
    assert!(!screen.contains("bob: no"), "{screen}");
    t.send(&["n"]);
    t.wait_for("verdict no saved");
    t.send(&["q"]);
    t.wait_for("EXIT=0");
    labelvet_ok(&["merge", p(&f.db), p(&x1)]);

    // The verdict decides the question in csv (score 0, adjudicated) and real-json.
    let csv = labelvet_ok(&["export", p(&f.db), "--format", "csv"]);
    let row = csv
        .lines()
        .find(|l| l.starts_with(&format!("{key},{label},")))
        .unwrap();
    assert!(row.ends_with(",1,1,0,0.5,0,0,1,1"), "{row}");
    let real: Vec<Vec<u32>> =
        serde_json::from_str(&labelvet_ok(&["export", p(&f.db), "--format", "real-json"])).unwrap();
    // (Without the verdict, 1 yes of 2 would be valid at 0.5.)
    assert!(!real[0].contains(&index), "{:?}", real[0]);

    // x2, with the names shown, says yes; merged, the two verdicts conflict and neither decides.
    let t = Tmux::start(
        &f,
        "review2",
        &script_on(&f, &x2, "x2", "--review --show-annotators"),
    );
    let screen = t.wait_for("bob: no");
    assert!(screen.contains("ann: yes"), "{screen}");
    t.send(&["y"]);
    t.wait_for("verdict yes saved");
    t.send(&["q"]);
    t.wait_for("EXIT=0");
    labelvet_ok(&["merge", p(&f.db), p(&x2)]);
    let text = labelvet_ok(&["report", p(&f.db)]);
    assert!(
        text.contains("conflicting verdicts (none of them decides):"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{key}  {name} ({label}): x1 no, x2 yes")),
        "{text}"
    );
    let real: Vec<Vec<u32>> =
        serde_json::from_str(&labelvet_ok(&["export", p(&f.db), "--format", "real-json"])).unwrap();
    assert!(real[0].contains(&index), "{:?}", real[0]);
}

#[test]
fn speed_figures_of_a_session_driven_with_known_pauses() {
    if !tmux_installed() {
        return;
    }
    let f = fixture();
    let total = total_questions(&f.db);
    let t = Tmux::start(&f, "speed", &script_on(&f, &f.db, "alice", ""));
    t.wait_for(&format!("0/{total} answered"));
    // Each answer comes at least 1.2 s after the question showed: the time recorded is no less.
    for i in 1..=3 {
        std::thread::sleep(Duration::from_millis(1200));
        t.send(&["y"]);
        t.wait_for(&format!("{i}/{total} answered"));
    }
    t.send(&["q"]);
    t.wait_for("EXIT=0");
    let r: serde_json::Value =
        serde_json::from_str(&labelvet_ok(&["report", p(&f.db), "--json"])).unwrap();
    let a = &r["annotators"][0];
    assert_eq!(
        (a["timed_answers"].as_u64(), a["untimed_answers"].as_u64()),
        (Some(3), Some(0))
    );
    assert!(a["median_seconds"].as_f64().unwrap() >= 1.2, "{a}");
    assert_eq!(a["share_under_400ms"], 0.0);
    let bins: u64 = r["speed"]["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["answers"].as_u64().unwrap())
        .sum();
    assert_eq!(bins, 3);
    let text = labelvet_ok(&["report", p(&f.db)]);
    assert!(
        text.contains("Speed (3 timed answers; 0 without a time left out)"),
        "{text}"
    );
}

/// Issue 14: a project holding text that would command a terminal (as a file made before
/// labelvet refused it at the door, or edited by hand): the vocabulary's guideline writing the
/// clipboard (OSC 52), a definition clearing the screen, a model name retitling the window, a
/// flag's note and annotator with colours and a line break. On the annotation screen every one
/// is shown as a visible escape: `capture-pane -e` holds no escape sequence but the colours and
/// attributes (SGR) of labelvet's own styling.
#[test]
fn hostile_text_in_the_project_reaches_the_screen_escaped() {
    if !tmux_installed() {
        return;
    }
    let f = fixture();
    {
        let conn = rusqlite::Connection::open(&f.db).unwrap();
        conn.execute_batch(
            "UPDATE classes SET
                 guideline = 'look ' || char(27) || ']52;c;aGk=' || char(7) || ' here',
                 definition = char(27) || '[2J' || char(27) || '[H wiped';
             UPDATE models SET name = name || char(27) || ']0;title' || char(7);
             INSERT INTO flags SELECT printf('0190aaaa-0000-7000-8000-%012d', id), key, 'broken',
                 'see' || char(10) || char(27) || '[31mred', 'ev' || char(27) || '[5mil', 's', 1
                 FROM images;",
        )
        .unwrap();
    }
    let pidfile = f.dir.path().join("pid");
    let t = Tmux::start(
        &f,
        "hostile",
        &annotate_script_args(&f, &pidfile, "--graphics halfblocks --show-sources"),
    );
    let screen = t.wait_for("Guideline");
    for shown in [
        "\\x1b]52;c;aGk=\\x07",
        "\\x1b[2J\\x1b[H wiped",
        "\\x1b]0;title",
    ] {
        assert!(screen.contains(shown), "{shown:?} not on screen:\n{screen}");
    }
    assert!(
        screen.contains("see\\x0a\\x1b[31mred"),
        "the note:\n{screen}"
    );
    let out =
        run(Command::new("tmux").args(["-S", &t.socket, "capture-pane", "-e", "-p", "-t", "t"]));
    let raw = String::from_utf8_lossy(&out.stdout);
    let mut rest = raw.as_ref();
    while let Some(i) = rest.find('\x1b') {
        let seq = &rest[i + 1..];
        let params = seq
            .strip_prefix('[')
            .map(|s| s.trim_start_matches(|c: char| c.is_ascii_digit() || c == ';' || c == ':'));
        assert!(
            params.is_some_and(|p| p.starts_with('m')),
            "an escape sequence other than SGR on screen: {:?}",
            &seq[..seq.len().min(20)]
        );
        rest = seq;
    }
    assert!(!raw.contains('\x07'), "a BEL on screen");
    t.send(&["q"]);
    t.wait_for("EXIT=0");
}

/// With no `--annotator` and no `$USER` or `$LOGNAME` (cron, `env -i`, some SSH setups), the
/// annotator is the account's login name from the user database, on the screen and in the
/// events, never the fallback word `annotator`.
#[test]
fn the_login_name_is_the_annotator_when_user_is_unset() {
    if !tmux_installed() {
        return;
    }
    let f = fixture();
    let total = total_questions(&f.db);
    let login = String::from_utf8(run(Command::new("id").arg("-un")).stdout)
        .unwrap()
        .trim()
        .to_string();
    assert!(!login.is_empty() && login != "annotator", "{login}");
    let script = format!(
        "XDG_CONFIG_HOME=\"{config}\" env -u USER -u LOGNAME \"{bin}\" annotate \"{db}\" \
         --graphics halfblocks; echo EXIT=$?; sleep 600",
        config = f.dir.path().join("config").display(),
        bin = BIN,
        db = f.db.display()
    );
    let t = Tmux::start(&f, "login", &script);
    let screen = t.wait_for(&format!("annotator {login}"));
    assert!(!screen.contains("annotator annotator"), "{screen}");
    t.wait_for(&format!("0/{total} answered"));
    t.send(&["y"]);
    t.wait_for(&format!("1/{total} answered"));
    t.send(&["q"]);
    t.wait_for("EXIT=0");
    let events = Store::open(&f.db).unwrap().events().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].annotator, login);
}

#[test]
fn until_margin2_skips_a_question_two_merged_answers_settled_and_asks_one_they_left_open() {
    if !tmux_installed() {
        return;
    }
    let f = fixture();
    let (key, labels) = order(&f.db, 0);
    let settled = originals(&f.db)[0].1.clone();
    let open = labels.iter().find(|l| **l != settled).unwrap().clone();
    // bob and carol answer in their own files; both say yes to the original label (settled
    // under margin:2), and split on another candidate (left open).
    for (who, on_open) in [("bob", "yes"), ("carol", "no")] {
        let file = f.dir.path().join(format!("{who}.db"));
        labelvet_ok(&["checkout", p(&f.db), "--annotator", who, "-o", p(&file)]);
        let csv = f.dir.path().join(format!("{who}.csv"));
        std::fs::write(
            &csv,
            format!(
                "image,label,annotator,answer\n{key},{settled},{who},yes\n{key},{open},{who},{on_open}\n"
            ),
        )
        .unwrap();
        labelvet_ok(&["judgments", "import", p(&file), p(&csv)]);
        labelvet_ok(&["merge", p(&f.db), p(&file)]);
    }
    let info = labelvet_ok(&["info", p(&f.db), "--until", "margin:2"]);
    assert!(info.contains("settled     1 of"), "{info}");
    // --needs says when a question has enough answers too: one or the other.
    let out = Command::new(BIN)
        .args(["annotate", p(&f.db), "--until", "margin:2", "--needs", "3"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--until margin:2 and --needs 3"), "{err}");

    let total = total_questions(&f.db) - 1;
    let on_first = labels.len() - 1;
    let t = Tmux::start(
        &f,
        "until",
        &script_on(&f, &f.db, "alice", "--until margin:2"),
    );
    t.wait_for(&format!("0/{total} answered"));
    t.wait_for(&key);
    for i in 1..=on_first {
        t.send(&["y"]);
        t.wait_for(&format!("{i}/{total} answered"));
    }
    t.wait_for("image 2/");
    t.send(&["q"]);
    t.wait_for("EXIT=0");
    let asked: Vec<String> = Store::open(&f.db)
        .unwrap()
        .events()
        .unwrap()
        .into_iter()
        .filter(|e| e.annotator == "alice")
        .map(|e| {
            assert_eq!(e.image, key);
            e.label
        })
        .collect();
    assert_eq!(asked.len(), on_first, "{asked:?}");
    assert!(asked.contains(&open), "{asked:?}");
    assert!(!asked.contains(&settled), "{asked:?}");

    // The next round's file asks only the open questions too.
    let handout = f.dir.path().join("handout");
    labelvet_ok(&[
        "assign",
        p(&f.db),
        "--annotators",
        "dave",
        "--overlap",
        "1",
        "--until",
        "margin:2",
        "-o",
        p(&handout),
    ]);
    let dave = Store::open(&handout.join("dave.db")).unwrap();
    let has = |label: &str| -> i64 {
        dave.conn_for_tests()
            .query_row(
                "SELECT count(*) FROM candidates c JOIN images i ON i.id = c.image_id
                 WHERE i.key = ?1 AND c.label = ?2",
                [&key, label],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!((has(&settled), has(&open)), (0, 1));
}

/// The screen of an annotator's file made with `--with-images`, with no image folder on the
/// machine: the pictures come from the file, and one whose bytes were altered in the file is
/// shown as broken, with the reason, and never decoded.
#[test]
fn a_file_carrying_its_images_annotates_with_no_image_folder() {
    if !tmux_installed() {
        return;
    }
    let f = fixture();
    let alice = f.dir.path().join("alice.db");
    let out = labelvet_ok(&[
        "checkout",
        p(&f.db),
        "--annotator",
        "alice",
        "-o",
        p(&alice),
        "--with-images",
        "--max-side",
        "300",
    ]);
    assert!(out.contains("carries 20 images"), "{out}");
    assert!(out.contains("re-encoded smaller"), "{out}");
    assert!(out.contains("labelvet pack"), "{out}");
    // No image folder on this machine any more: the project's is gone.
    std::fs::rename(f.dir.path().join("images"), f.dir.path().join("elsewhere")).unwrap();
    let (img0, _) = order(&alice, 0);
    let (img1, _) = order(&alice, 1);
    // The second image's carried bytes replaced by another photo's: a valid JPEG, which a
    // decoder would draw without a word.
    let other = std::fs::read(f.dir.path().join("elsewhere").join(&img0)).unwrap();
    rusqlite::Connection::open(&alice)
        .unwrap()
        .execute(
            "UPDATE image_blobs SET data = ?1 WHERE image = ?2",
            rusqlite::params![other, img1],
        )
        .unwrap();
    let total = total_questions(&alice);
    let t = Tmux::start(&f, "carried", &script_on(&f, &alice, "alice", ""));
    t.wait_for(&format!("0/{total} answered"));
    t.wait_for(&img0);
    // The first picture is drawn (half-blocks), from the file.
    let screen = t.wait_for("▀");
    assert!(!screen.contains("cannot show"), "{screen}");
    assert!(!screen.contains("--images"), "{screen}");
    t.send(&["y"]);
    t.wait_for(&format!("1/{total} answered"));
    t.send(&["]"]);
    t.wait_for(&img1);
    let screen = t.wait_for("cannot show");
    let flat: String = screen
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '│')
        .collect();
    assert!(
        flat.contains("broken:thecarriedbytesdonotmatchtheirSHA-256"),
        "{screen}"
    );
    assert!(flat.contains("notdecoded"), "{screen}");
    // Flagged broken, then quit: the file holds the answer and the flag.
    t.send(&["f"]);
    t.send(&["b"]);
    t.send(&["Enter"]);
    t.wait_for("flagged");
    t.send(&["q"]);
    let screen = t.wait_for("EXIT=");
    assert!(screen.contains("EXIT=0"), "{screen}");
    let store = Store::open(&alice).unwrap();
    let events = store.events().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].image, img0);
    assert_eq!(events[0].answer, Some(Answer::Yes));
    let flags = store.flags_for_image(&img1).unwrap();
    assert_eq!(flags.len(), 1, "{flags:?}");
}
