//! The annotation screen on ratatui's test backend, driven by key presses as a person would, with
//! half-block images. Snapshots are the screen's text; the picture's cells (true-colour half
//! blocks, whose exact characters depend on the JPEG decoder's arithmetic) are shown as `▒` so
//! that the snapshots hold on any CPU, and tests check separately that the picture is drawn.

use crate::annotate_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use annotate_support::{Project, project, project_in, truncated_jpeg};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use labelvet::annotate::{
    ClassifySession, GridOptions, GridSession, ManualClock, Mark, Session, SessionOptions,
};
use labelvet::store::{Answer, FlagKind, Store};
use labelvet::tui::app::Mode;
use labelvet::tui::classify::ClassifyMode;
use labelvet::tui::grid::GridMode;
use labelvet::tui::{App, AppOptions, ClassifyApp, Encoder, GridApp, Keymap, Screen as _};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;

struct Screen {
    app: App,
    term: Terminal<TestBackend>,
    clock: ManualClock,
}

impl Screen {
    fn new(p: &Project, w: u16, h: u16) -> Screen {
        Screen::with(p, w, h, false, Some(p.root.clone()), Keymap::default())
    }

    fn with(
        p: &Project,
        w: u16,
        h: u16,
        show_sources: bool,
        image_root: Option<PathBuf>,
        keymap: Keymap,
    ) -> Screen {
        let clock = ManualClock::new();
        let session = Session::open_with_clock(
            p.open(),
            SessionOptions {
                annotator: "alice".into(),
                show_sources,
                queue: Default::default(),
            },
            Box::new(clock.clone()),
        )
        .unwrap();
        let app = App::new(
            session,
            keymap,
            Encoder::halfblocks(),
            AppOptions {
                project_name: "project.db".into(),
                image_root,
                carried: None,
            },
            Box::new(|| {}),
        );
        Screen {
            app,
            term: Terminal::new(TestBackend::new(w, h)).unwrap(),
            clock,
        }
    }

    /// Draws, waits for the images the frame asked for, and draws again.
    fn settle(&mut self) -> &Buffer {
        let app = &mut self.app;
        self.term.draw(|f| app.draw(f)).unwrap();
        assert!(app.settle(Duration::from_secs(20)), "images did not load");
        self.term.draw(|f| app.draw(f)).unwrap();
        self.term.backend().buffer()
    }

    fn keys(&mut self, keys: &str) {
        for c in keys.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    fn key(&mut self, code: KeyCode) {
        self.app.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
    }

    fn text(&mut self) -> String {
        screen_text(self.settle())
    }
}

/// The screen as text, picture cells (true-colour) as `▒`.
fn screen_text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            let cell = &buf[(x, y)];
            if is_picture(cell) {
                line.push('▒');
            } else {
                line.push_str(cell.symbol());
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn is_picture(cell: &ratatui::buffer::Cell) -> bool {
    matches!(cell.fg, Color::Rgb(..)) || matches!(cell.bg, Color::Rgb(..))
}

fn picture_cells(buf: &Buffer) -> usize {
    buf.content().iter().filter(|c| is_picture(c)).count()
}

/// A relative image folder, so that paths on screen are the same on every machine.
fn fixed_root(name: &str) -> PathBuf {
    Path::new("target").join("tui-screen-tests").join(name)
}

#[test]
fn an_image_with_its_candidates() {
    let p = project(3);
    let mut s = Screen::new(&p, 200, 60);
    s.clock.advance(Duration::from_secs(8));
    s.keys("y");
    s.clock.advance(Duration::from_secs(4));
    s.keys("n");
    let buf = s.settle();
    // 512x512 photo in a 118 x 110 half-block pixel box: 110 x 110 pixels, 110 x 55 cells.
    assert_eq!(picture_cells(buf), 110 * 55);
    insta::assert_snapshot!("image_with_candidates", screen_text(buf));
}

#[test]
fn sources_shown_on_request() {
    let p = project(3);
    let mut s = Screen::with(&p, 200, 60, true, Some(p.root.clone()), Keymap::default());
    insta::assert_snapshot!("image_with_sources", s.text());
}

#[test]
fn help_lists_every_key() {
    let p = project(2);
    let mut s = Screen::new(&p, 200, 60);
    s.keys("?");
    assert_eq!(s.app.mode(), &Mode::Help);
    insta::assert_snapshot!("help", s.text());
    s.key(KeyCode::Esc);
    assert_eq!(s.app.mode(), &Mode::Normal);
}

#[test]
fn zoom_shows_the_image_alone() {
    let p = project(2);
    let mut s = Screen::new(&p, 200, 60);
    let normal = picture_cells(s.settle());
    s.keys("z");
    let text = s.text();
    let zoomed = picture_cells(s.term.backend().buffer());
    // The square photo is bound by the height: 59 rows instead of 55.
    assert_eq!((normal, zoomed), (110 * 55, 118 * 59));
    insta::assert_snapshot!("zoom", text);
    s.keys("z");
    assert_eq!(s.app.mode(), &Mode::Normal);
    assert_eq!(picture_cells(s.settle()), normal);
}

/// The magnifier: fit, then 4x panned right; the picture is the region of the full photo the
/// view selects, cell for cell, and the answer keys still answer.
#[test]
fn the_magnifier_cuts_a_region_of_the_full_photo() {
    use labelvet::tui::images::View;
    let p = project(2);
    let mut s = Screen::new(&p, 200, 60);
    s.keys("z");
    insta::assert_snapshot!("magnifier_fit", s.text());
    s.keys("++l");
    let text = s.text();
    insta::assert_snapshot!("magnifier_4x_pan", text);
    let buf = s.term.backend().buffer().clone();
    let area = ratatui::layout::Rect::new(0, 0, 200, 59);
    let enc = Encoder::halfblocks();
    let view = View {
        zoom: 4,
        cx: 500,
        cy: 500,
    }
    .pan(1, 0, (512, 512), enc.area_box(area));
    assert!(view.cx > 500, "panned right: {view:?}");
    let photo = image::open(p.root.join(&p.keys[0])).unwrap();
    let want = enc.fit_view(&photo, area, view).unwrap();
    let mut expected = Buffer::empty(area);
    let size = want.size();
    let at = ratatui::layout::Rect::new(
        (area.width - size.width) / 2,
        (area.height - size.height) / 2,
        size.width,
        size.height,
    );
    match &want {
        labelvet::tui::images::Picture::Halfblocks(h) => h.render(at, &mut expected),
        _ => panic!("half-blocks expected"),
    }
    for y in at.top()..at.bottom() {
        for x in at.left()..at.right() {
            assert_eq!(
                (buf[(x, y)].fg, buf[(x, y)].bg),
                (expected[(x, y)].fg, expected[(x, y)].bg),
                "cell {x},{y}"
            );
        }
    }
    // The whole photo fitted differs: the view is a region.
    let fit = enc.fit(&photo, area).unwrap();
    assert_ne!(fit.size(), size);
    // Answers work in zoom, which stays.
    s.keys("y");
    assert_eq!(s.app.mode(), &Mode::Zoom);
    assert_eq!(s.app.session().progress().session_answers, 1);
    s.keys("0");
    assert!(s.text().contains("zoom fit"));
}

#[test]
fn a_flagged_image() {
    let p = project(2);
    let mut s = Screen::new(&p, 200, 60);
    s.keys("f");
    insta::assert_snapshot!("flag_prompt", s.text());
    s.keys("a");
    s.keys("two dogs, one half out of frame");
    s.key(KeyCode::Enter);
    let flags = p.open().flags_for_image(&p.keys[0]).unwrap();
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0].kind, FlagKind::Ambiguous);
    assert_eq!(flags[0].note, "two dogs, one half out of frame");
    insta::assert_snapshot!("flagged_image", s.text());
    // `c` lifts the annotator's flags at once, without asking for a note.
    s.keys("fc");
    assert_eq!(s.app.mode(), &Mode::Normal);
    assert!(p.open().flags_for_image(&p.keys[0]).unwrap().is_empty());
    assert!(!s.text().contains("⚑ flagged"));
}

#[test]
fn a_broken_image_shows_why_and_can_be_flagged() {
    let root = fixed_root("broken");
    // Cut inside the frame header: the decoder cannot even learn the image's size.
    let bytes = truncated_jpeg(160);
    let p = project_in(2, &[("broken/truncated.jpg", Some(&bytes))], Some(&root));
    let mut s = Screen::with(&p, 200, 60, false, Some(root.clone()), Keymap::default());
    s.keys("g");
    s.keys("broken/truncated.jpg");
    s.key(KeyCode::Enter);
    let text = s.text();
    assert_eq!(picture_cells(s.term.backend().buffer()), 0);
    assert!(
        text.contains("target/tui-screen-tests/broken/broken/truncated.jpg"),
        "{text}"
    );
    insta::assert_snapshot!("broken_image", text);
    // It has no candidates: answering says so, flagging works, then the annotator goes on.
    s.keys("y");
    assert!(s.app.message().unwrap().text.contains("no candidate label"));
    s.keys("fb");
    s.key(KeyCode::Enter);
    assert_eq!(
        p.open().flags_for_image("broken/truncated.jpg").unwrap()[0].kind,
        FlagKind::Broken
    );
    s.keys("]");
    assert_eq!(s.app.session().image().unwrap().key(), p.keys[1]);
}

#[test]
fn a_missing_file_and_a_project_without_image_folder() {
    let p = project(2);
    std::fs::remove_file(p.root.join(&p.keys[0])).unwrap();
    let mut s = Screen::new(&p, 120, 40);
    let text = s.text();
    assert!(text.contains("cannot show this image"), "{text}");
    assert!(text.contains("(os error 2)"), "{text}");

    let mut s = Screen::with(&p, 120, 40, false, None, Keymap::default());
    let text = s.text();
    assert!(text.contains("the project has no image folder"), "{text}");
}

#[test]
fn a_tiny_terminal_says_so_and_recovers() {
    let p = project(2);
    let mut s = Screen::new(&p, 50, 12);
    let text = s.text();
    insta::assert_snapshot!("tiny", text);
    s.term.backend_mut().resize(100, 30);
    let text = s.text();
    assert!(!text.contains("Enlarge"), "{text}");
    assert!(text.contains("candidates"), "{text}");
    assert!(picture_cells(s.term.backend().buffer()) > 0);
}

#[test]
fn keys_answer_undo_move_and_jump() {
    let p = project(4);
    let mut s = Screen::new(&p, 160, 48);
    s.settle();
    s.keys("ym ");
    let saved = |who: &str| -> Vec<Answer> {
        let store = Store::open(&p.db).unwrap();
        let mut v: Vec<_> = store
            .current_answers()
            .unwrap()
            .into_iter()
            .filter(|a| a.annotator == who)
            .map(|a| a.answer)
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        saved("alice"),
        vec![Answer::Maybe, Answer::Maybe, Answer::Yes]
    );
    s.key(KeyCode::Backspace);
    s.keys("u");
    assert_eq!(saved("alice"), vec![Answer::Yes]);
    assert_eq!(s.app.session().cursor(), 1);
    assert!(
        s.app
            .message()
            .unwrap()
            .text
            .starts_with("undone: maybe for")
    );
    s.keys("4");
    assert_eq!(s.app.session().cursor(), 3);
    s.keys("k");
    s.key(KeyCode::Up);
    assert_eq!(s.app.session().cursor(), 1);
    s.keys("j");
    s.key(KeyCode::Down);
    assert_eq!(s.app.session().cursor(), 3);
    s.keys("s");
    assert_eq!(s.app.session().cursor(), 4, "skip leaves 4 open");
    s.keys("]]");
    assert_eq!(s.app.session().image().unwrap().key(), p.keys[2]);
    s.keys("[");
    assert_eq!(s.app.session().image().unwrap().key(), p.keys[1]);
    s.keys("g");
    s.keys(&p.keys[3]);
    s.key(KeyCode::Enter);
    assert_eq!(s.app.session().image().unwrap().key(), p.keys[3]);
    s.keys("g");
    s.keys("nope.jpg");
    s.key(KeyCode::Enter);
    let m = s.app.message().unwrap();
    assert!(m.error && m.text.contains("no image `nope.jpg`"), "{m:?}");
    s.keys("g");
    s.keys("x");
    s.key(KeyCode::Esc);
    assert_eq!(s.app.mode(), &Mode::Normal);
    assert_eq!(s.app.session().image().unwrap().key(), p.keys[3]);
    assert!(!s.app.should_quit());
    s.keys("q");
    assert!(s.app.should_quit());
}

#[test]
fn a_remapped_key_is_what_the_screen_names() {
    let p = project(2);
    let keymap = Keymap::from_toml(
        Path::new("keys.toml"),
        "[keys]\n\"l\" = \"next-image\"\n\"]\" = \"none\"\n\"ctrl-z\" = \"undo\"\n",
    )
    .unwrap();
    let mut s = Screen::with(&p, 200, 60, false, Some(p.root.clone()), keymap);
    let text = s.text();
    let status = text.lines().last().unwrap();
    assert!(status.contains("l/[ image"), "{status}");
    assert!(status.contains("u/backspace/ctrl-z undo"), "{status}");
    s.keys("]");
    assert_eq!(s.app.session().image().unwrap().key(), p.keys[0]);
    s.keys("l");
    assert_eq!(s.app.session().image().unwrap().key(), p.keys[1]);
}

#[test]
fn the_next_images_are_loaded_ahead() {
    let p = project(6);
    let mut s = Screen::new(&p, 200, 60);
    s.settle();
    // The next image is ready before the annotator gets there: the very first frame after `]`
    // draws it.
    s.keys("]");
    let app = &mut s.app;
    s.term.draw(|f| app.draw(f)).unwrap();
    assert!(picture_cells(s.term.backend().buffer()) > 1000);
    // And the one behind: jump to the last image, far from anything loaded, then step back.
    s.keys("g");
    s.keys(&p.keys[5]);
    s.key(KeyCode::Enter);
    s.settle();
    s.keys("[");
    let app = &mut s.app;
    s.term.draw(|f| app.draw(f)).unwrap();
    assert_eq!(s.app.session().image().unwrap().key(), p.keys[4]);
    assert!(picture_cells(s.term.backend().buffer()) > 1000);
}

#[test]
fn a_locked_project_says_so_on_the_status_line_and_keeps_the_question() {
    let p = project(2);
    let mut s = Screen::new(&p, 200, 60);
    s.settle();
    s.app
        .session()
        .store()
        .conn_for_tests()
        .busy_timeout(Duration::from_millis(100))
        .unwrap();
    let other = rusqlite::Connection::open(&p.db).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    s.keys("y");
    let text = s.text();
    let status = text.lines().last().unwrap();
    assert!(
        status.contains("still locked by another process") && status.contains("project.db"),
        "{status}"
    );
    assert_eq!(s.app.session().cursor(), 0);
    assert!(text.contains("0/13 answered"), "{text}");
    other.execute_batch("ROLLBACK").unwrap();
    s.keys("y");
    assert!(s.text().contains("1/13 answered"));
}

/// The grid screen on the test backend, as a person drives it.
struct GridScreen {
    app: GridApp,
    term: Terminal<TestBackend>,
}

impl GridScreen {
    fn new(p: &Project, label: &str, w: u16, h: u16) -> GridScreen {
        GridScreen::with_keys(p, label, w, h, Keymap::default())
    }

    fn with_keys(p: &Project, label: &str, w: u16, h: u16, keys: Keymap) -> GridScreen {
        let session = GridSession::open_with_clock(
            p.open(),
            GridOptions {
                annotator: "alice".into(),
                label: label.into(),
                queue: Default::default(),
            },
            Box::new(ManualClock::new()),
        )
        .unwrap();
        let app = GridApp::new(
            session,
            keys,
            Encoder::halfblocks(),
            AppOptions {
                project_name: "project.db".into(),
                image_root: Some(p.root.clone()),
                carried: None,
            },
            Box::new(|| {}),
        );
        GridScreen {
            app,
            term: Terminal::new(TestBackend::new(w, h)).unwrap(),
        }
    }

    fn settle(&mut self) -> &Buffer {
        let app = &mut self.app;
        self.term.draw(|f| app.draw(f)).unwrap();
        assert!(app.settle(Duration::from_secs(20)), "images did not load");
        self.term.draw(|f| app.draw(f)).unwrap();
        self.term.backend().buffer()
    }

    fn key(&mut self, code: KeyCode) {
        self.app.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
    }

    fn text(&mut self) -> String {
        screen_text(self.settle())
    }
}

#[test]
fn a_grid_page_of_thumbnails_for_one_label() {
    let p = project(20);
    let mut g = GridScreen::new(&p, "patio", 120, 40);
    let cells = picture_cells(g.settle());
    assert_eq!(
        g.app.session().page().len(),
        3,
        "the three patio candidates fit one page"
    );
    // Every thumbnail is drawn.
    assert!(cells > 3 * 100, "{cells}");
    g.key(KeyCode::Char(' '));
    g.key(KeyCode::Right);
    g.key(KeyCode::Char('m'));
    let text = g.text();
    assert!(
        text.contains("patio") && text.contains("usually paved outdoor area"),
        "the label and its definition stay on screen: {text}"
    );
    assert!(
        text.contains("1 yes · 1 no") && text.contains("1 maybe"),
        "{text}"
    );
    insta::assert_snapshot!("grid_page", text);

    g.key(KeyCode::Char('?'));
    assert_eq!(g.app.mode(), GridMode::Help);
    insta::assert_snapshot!("grid_help", g.text());
    g.key(KeyCode::Esc);

    g.key(KeyCode::Enter);
    let text = g.text();
    assert!(
        text.contains("saved: 1 yes, 1 no, 1 maybe · that was the last page"),
        "{text}"
    );
    assert!(text.contains("grid done"), "{text}");
    let answers = p.open().current_answers().unwrap();
    assert_eq!(answers.len(), 3);

    // Undo brings the page back with its marks.
    g.key(KeyCode::Char('u'));
    let text = g.text();
    assert!(text.contains("undone: the last page's 3 answers"), "{text}");
    assert!(
        text.contains("1 yes · 1 no") && text.contains("1 maybe"),
        "{text}"
    );
    assert!(p.open().current_answers().unwrap().is_empty());
}

#[test]
fn the_grid_keys_come_from_the_keymap() {
    let p = project(20);
    let keys = Keymap::from_toml(
        Path::new("keys.toml"),
        "[grid]\n\"y\" = \"contains\"\n\"space\" = \"none\"\n\"s\" = \"save-page\"\n",
    )
    .unwrap();
    let mut g = GridScreen::with_keys(&p, "patio", 120, 40, keys);
    let text = g.text();
    let status = text.lines().last().unwrap();
    assert!(status.contains("y contains"), "{status}");
    assert!(status.contains("s save page"), "{status}");
    g.key(KeyCode::Char(' '));
    assert!(
        g.app.session().page().iter().all(|c| c.mark == Mark::No),
        "space is unbound"
    );
    g.key(KeyCode::Char('y'));
    assert_eq!(g.app.session().page()[0].mark, Mark::Yes);
    g.key(KeyCode::Char('s'));
    assert_eq!(
        p.open().current_answers().unwrap().len(),
        3,
        "s saved the page"
    );
}

#[test]
fn quitting_a_grid_with_unsaved_marks_asks_first() {
    let p = project(20);
    let mut g = GridScreen::new(&p, "patio", 120, 40);
    g.settle();
    g.key(KeyCode::Char('q'));
    assert!(g.app.should_quit(), "nothing marked: quits at once");

    let mut g = GridScreen::new(&p, "patio", 120, 40);
    g.settle();
    g.key(KeyCode::Char(' '));
    g.key(KeyCode::Char('q'));
    assert!(!g.app.should_quit());
    assert_eq!(g.app.mode(), GridMode::ConfirmQuit);
    assert!(g.text().contains("this page is not saved"));
    g.key(KeyCode::Esc);
    assert_eq!(g.app.mode(), GridMode::Normal);
    g.key(KeyCode::Char('q'));
    g.key(KeyCode::Char('q'));
    assert!(g.app.should_quit());
    assert!(p.open().current_answers().unwrap().is_empty());
}

#[test]
fn the_reference_panel_shows_confirmed_images_of_the_candidate_class() {
    let root = fixed_root("reference");
    let p = project_in(2, &[], Some(&root));
    let store = p.open();
    let first = store.image(&p.keys[0]).unwrap().unwrap();
    let class = first.rec.original_label.clone().unwrap();
    // Another photo of the same class, confirmed by two annotators, and one rejected by them.
    let src = root.join(&p.keys[0]);
    for (key, answer) in [
        ("ref/same_class.jpg", Answer::Yes),
        ("ref/rejected.jpg", Answer::No),
    ] {
        std::fs::create_dir_all(root.join("ref")).unwrap();
        std::fs::copy(&src, root.join(key)).unwrap();
        let mut rec = first.rec.clone();
        rec.key = key.into();
        store.insert_images(&[rec]).unwrap();
        for who in ["bob", "carol"] {
            store
                .append_answer(key, &class, answer, who, "s", None)
                .unwrap();
        }
    }
    store.rebuild_candidates().unwrap();
    drop(store);

    let mut s = Screen::with(&p, 200, 60, false, Some(root.clone()), Keymap::default());
    let at = s
        .app
        .session()
        .image()
        .unwrap()
        .items
        .iter()
        .position(|i| i.label == class)
        .unwrap();
    s.keys(&format!("{}", at + 1));
    s.keys("r");
    let Mode::Reference(panel) = s.app.mode().clone() else {
        panic!("no reference panel: {:?}", s.app.message());
    };
    assert!(panel.confirmed);
    let keys: Vec<&str> = panel
        .images
        .iter()
        .map(|r| r.image.rec.key.as_str())
        .collect();
    assert_eq!(keys, vec!["ref/same_class.jpg"]);
    let text = s.text();
    assert!(text.contains("2 yes · 0 no"), "{text}");
    insta::assert_snapshot!("reference_panel", text);
    // Answering from the panel answers the question and closes it.
    s.keys("y");
    assert_eq!(s.app.mode(), &Mode::Normal);
    let answers = p.open().current_answers().unwrap();
    assert!(
        answers
            .iter()
            .any(|a| a.annotator == "alice" && a.label == class && a.answer == Answer::Yes)
    );
}

#[test]
fn the_classify_screen_lists_the_valid_labels_with_the_main_object() {
    let root = fixed_root("classify");
    let p = project_in(2, &[], Some(&root));
    let store = p.open();
    let first = store.image(&p.keys[0]).unwrap().unwrap();
    let cands = store.candidates(first.id).unwrap();
    for who in ["bob", "carol"] {
        for c in &cands[..2] {
            store
                .append_answer(&p.keys[0], &c.label, Answer::Yes, who, "s", None)
                .unwrap();
        }
    }
    let items = labelvet::analysis::classify::load_classify_queue(
        &store,
        &Default::default(),
        None,
        "alice",
    )
    .unwrap();
    assert_eq!(items.len(), 1);
    let session = ClassifySession::open_with_clock(
        store,
        "alice",
        items,
        "1 image with 2+ labels at frequency ≥ 0.5",
        Box::new(ManualClock::new()),
    )
    .unwrap();
    let mut app = ClassifyApp::new(
        session,
        Keymap::default(),
        Encoder::halfblocks(),
        AppOptions {
            project_name: "project.db".into(),
            image_root: Some(root.clone()),
            carried: None,
        },
        Box::new(|| {}),
    );
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let press = |app: &mut ClassifyApp, c: KeyCode| {
        app.handle_key(KeyEvent::new(c, KeyModifiers::NONE));
    };
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Char('m'));
    press(&mut app, KeyCode::Char('+'));
    term.draw(|f| app.draw(f)).unwrap();
    assert!(app.settle(Duration::from_secs(20)));
    term.draw(|f| app.draw(f)).unwrap();
    let buf = term.backend().buffer();
    assert!(picture_cells(buf) > 1000, "the photo is drawn");
    let text = screen_text(buf);
    assert!(text.contains("★ main object"), "{text}");
    assert!(text.contains("objects in the image: 3"), "{text}");
    insta::assert_snapshot!("classify", text);

    press(&mut app, KeyCode::Enter);
    let m = app.message().unwrap();
    let (msg, error) = (&m.text, m.error);
    assert!(!error, "{msg}");
    assert!(
        msg.contains("every image of the queue is answered"),
        "{msg}"
    );
    press(&mut app, KeyCode::Char('?'));
    assert_eq!(app.mode(), ClassifyMode::Help);
    term.draw(|f| app.draw(f)).unwrap();
    insta::assert_snapshot!("classify_help", screen_text(term.backend().buffer()));
}

#[test]
fn the_reference_panel_says_when_a_class_has_nothing_to_compare_with() {
    let p = project(2);
    let mut s = Screen::new(&p, 200, 60);
    s.keys("r");
    assert_eq!(s.app.mode(), &Mode::Normal);
    let msg = s.app.message().expect("a message").text.clone();
    assert!(msg.starts_with("no reference for "), "{msg}");
    assert!(s.text().contains("no reference for"));
}

#[test]
fn the_review_screen_shows_the_counts_and_takes_a_verdict() {
    use labelvet::annotate::{QueueSpec, ReviewSession};
    use labelvet::tui::ReviewApp;
    let root = fixed_root("review");
    let p = project_in(2, &[], Some(&root));
    let store = p.open();
    let first = store.image(&p.keys[0]).unwrap().unwrap();
    let label = store.candidates(first.id).unwrap()[0].label.clone();
    for (who, a) in [
        ("bob", Answer::Yes),
        ("carol", Answer::No),
        ("dan", Answer::Maybe),
    ] {
        store
            .append_answer(&p.keys[0], &label, a, who, "s", None)
            .unwrap();
    }
    let session = ReviewSession::open_with_clock(
        store,
        "expert",
        &QueueSpec::default(),
        Box::new(ManualClock::new()),
    )
    .unwrap();
    let open = |session, names| {
        ReviewApp::new(
            session,
            names,
            Keymap::default(),
            Encoder::halfblocks(),
            AppOptions {
                project_name: "project.db".into(),
                image_root: Some(root.clone()),
                carried: None,
            },
            Box::new(|| {}),
        )
    };
    let mut app = open(session, false);
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    term.draw(|f| app.draw(f)).unwrap();
    assert!(app.settle(Duration::from_secs(20)));
    term.draw(|f| app.draw(f)).unwrap();
    let buf = term.backend().buffer();
    assert!(picture_cells(buf) > 1000, "the photo is drawn");
    let text = screen_text(buf);
    assert!(
        text.contains("annotators: 1 yes · 1 no · 1 maybe"),
        "{text}"
    );
    assert!(
        !text.contains("carol"),
        "names only with --show-annotators: {text}"
    );
    insta::assert_snapshot!("review", text);

    app.handle_key(KeyEvent::new(KeyCode::Char('n'), KeyModifiers::NONE));
    let m = app.message().unwrap();
    assert!(
        !m.error && m.text.starts_with("verdict no saved"),
        "{}",
        m.text
    );
    assert_eq!(app.session().decided(), 1);
    let v = app.session().store().current_verdicts().unwrap();
    assert_eq!(
        (v[0].annotator.as_str(), v[0].answer),
        ("expert", Answer::No)
    );
}
