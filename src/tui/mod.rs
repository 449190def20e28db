//! The terminal: `labelvet annotate` (a full-screen session) and `labelvet show` (print and exit).
//!
//! This module owns what touches the real terminal: raw mode and the alternate screen, restored
//! on every way out (return, error, panic, SIGTERM, SIGHUP); the graphics protocol query; and the
//! event loop, which blocks on one channel fed by the key reader, the image worker and the signal
//! handler, so a key is handled the moment it arrives and an image is drawn the moment it is
//! ready. The question screen's logic is in `app`, its drawing in `view`; the grid and classify
//! screens are `grid` and `classify`; what the three share is in `screen` (their common state)
//! and `widgets` (their common drawing pieces); image loading is in `images`.

pub mod app;
pub mod chafa;
pub mod classify;
pub mod detect;
pub mod grid;
pub mod images;
pub mod keymap;
pub mod kitty;
pub mod magnifier;
pub mod review;
pub mod screen;
mod show;
pub mod theme;
pub mod view;
pub mod widgets;

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossterm::event::{self, Event};
use crossterm::{cursor, execute, terminal};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub use app::App;
pub use classify::ClassifyApp;
pub use detect::{Detection, Graphics};
pub use grid::GridApp;
pub use images::Encoder;
pub use keymap::Keymap;
pub use review::ReviewApp;
pub use screen::{AppOptions, Screen};
pub use show::show;
pub use theme::{Theme, ThemeChoice};

use crate::analysis::classify::ClassifyItem;
use crate::annotate::{
    ClassifySession, GridOptions, GridSession, Project, QueueSpec, ReviewSession, Session,
    SessionOptions,
};
use crate::error::{Error, Result};

/// How images reach the terminal (`--graphics`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphicsMode {
    /// Ask the terminal; text cells when it does not answer.
    Auto,
    Kitty,
    Sixel,
    Iterm2,
    Halfblocks,
    /// libchafa's symbols (builds with the `chafa` feature).
    Chafa,
}

impl FromStr for GraphicsMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<GraphicsMode> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "auto" => GraphicsMode::Auto,
            "kitty" => GraphicsMode::Kitty,
            "sixel" => GraphicsMode::Sixel,
            "iterm2" => GraphicsMode::Iterm2,
            "halfblocks" => GraphicsMode::Halfblocks,
            "chafa" => GraphicsMode::Chafa,
            other => {
                return Err(Error::msg(format!(
                    "unknown graphics mode `{other}`; one of auto, kitty, sixel, iterm2, halfblocks, chafa"
                )));
            }
        })
    }
}

/// What the annotation screen asks.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Task {
    /// One candidate at a time: "is there a <label>?" (the default).
    #[default]
    Questions,
    /// One label over a page of thumbnails (`--grid --label KEY`).
    Grid { label: String },
    /// The main object and the number of objects, on the images of `items`: those whose valid
    /// set has two or more labels (`--classify`), as `describe` says.
    Classify {
        items: Vec<ClassifyItem>,
        describe: String,
    },
    /// An expert's verdicts on the disputed questions, or those the queue filters choose
    /// (`--review`); the annotators' names shown with `show_annotators`.
    Review { show_annotators: bool },
}

/// Gold questions mixed into the question screen's queue (`--gold-rate`, `--gold-feedback`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GoldMixing {
    /// Share of the queue's images that carry a gold question; 0 mixes none.
    pub rate: f64,
    pub seed: u64,
    /// Show the truth after a wrong answer to a gold question.
    pub feedback: bool,
}

#[derive(Clone, Debug)]
pub struct AnnotateOptions {
    pub project: PathBuf,
    /// Default: the annotator a checkout was made for, else the login name, else `annotator`.
    pub annotator: Option<String>,
    /// Overrides the project's image folder.
    pub images: Option<PathBuf>,
    pub graphics: GraphicsMode,
    /// The palette: from the terminal's background, or forced.
    pub theme: ThemeChoice,
    /// Show the original label and model ranks, and keep the store's candidate order.
    pub show_sources: bool,
    /// A keymap file; default `<config dir>/labelvet/keys.toml` when it exists.
    pub keys: Option<PathBuf>,
    /// Which questions to ask, in which order.
    pub queue: QueueSpec,
    pub task: Task,
    pub gold: GoldMixing,
}

/// What a session did, for the message after the screen closes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub annotator: String,
    /// Answers given this session that still stand (undone ones not counted); on the grid, the
    /// images of the saved pages.
    pub answers: u64,
}

/// Runs the annotation screen until the annotator quits.
pub fn annotate(opts: AnnotateOptions) -> Result<Summary> {
    // Everything that can fail on bad input fails here, before the screen takes the terminal,
    // and before the terminal itself is checked, so that a wrong argument is never hidden
    // behind "needs a terminal".
    let keymap = Keymap::load(opts.keys.as_deref())?;
    let project = Project::open(&opts.project)?;
    let annotator = project.annotator(opts.annotator)?;
    let image_root = project.image_root(opts.images.as_deref());
    let carried = project.carried_images(opts.images.as_deref())?;
    if let Some(root) = &opts.images
        && !root.is_dir()
    {
        return Err(Error::msg(format!(
            "{}: no such image folder",
            root.display()
        )));
    }
    let project_name = opts.project.file_name().map_or_else(
        || opts.project.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    // The session is opened (and its queue selected) before the screen takes the terminal, so
    // that an unknown label or a bad filter is a plain error message. A filtered queue over a
    // large project can take a moment: say so meanwhile.
    let busy = crate::ingest::images::spinner(
        &format!("opening {project_name}: selecting the queue"),
        !opts.queue.is_all() && io::stderr().is_terminal(),
    );
    enum Opened {
        Questions(Box<Session>),
        Grid(Box<GridSession>),
        Classify(Box<ClassifySession>),
        Review(Box<ReviewSession>, bool),
    }
    let opened = match opts.task {
        Task::Questions => {
            let mut session = project.questions(SessionOptions {
                annotator,
                show_sources: opts.show_sources,
                queue: opts.queue,
            })?;
            session.mix_gold(opts.gold.rate, opts.gold.seed, opts.gold.feedback)?;
            if let Some(why) = session.nothing_to_ask()? {
                return Err(Error::msg(why));
            }
            Opened::Questions(Box::new(session))
        }
        Task::Grid { label } => {
            let grid = project.grid(GridOptions {
                annotator,
                label,
                queue: opts.queue,
            })?;
            if grid.images_position().1 == 0 {
                return Err(Error::msg(format!(
                    "no image left for {} to judge for {} ({}): none has it as a candidate{}, \
                     or every one is answered",
                    grid.annotator(),
                    grid.class().name,
                    grid.class().key,
                    if grid.filters().is_empty() {
                        String::new()
                    } else {
                        format!(" in the queue {}", grid.filters())
                    }
                )));
            }
            Opened::Grid(Box::new(grid))
        }
        Task::Classify { items, describe } => {
            Opened::Classify(Box::new(project.classify(&annotator, items, &describe)?))
        }
        Task::Review { show_annotators } => {
            let review = project.review(&annotator, &opts.queue)?;
            if review.questions().is_empty() {
                return Err(Error::msg(if opts.queue.is_all() {
                    "nothing to review: no question is disputed (a yes and a no among its \
                     answers); choose others with --class, --subtree, --uncertain or --needs"
                        .to_string()
                } else {
                    format!(
                        "nothing to review: the queue {} selects no question",
                        opts.queue
                    )
                }));
            }
            Opened::Review(Box::new(review), show_annotators)
        }
    };

    busy.finish_and_clear();
    if !io::stdin().is_terminal() || !io::stdout().is_terminal() {
        return Err(Error::msg(
            "labelvet annotate needs a terminal (stdin and stdout); to print one image, use \
             `labelvet show`",
        ));
    }
    let guard = TerminalGuard::enter()?;
    let detection = detect_terminal(opts.graphics);
    if let Some(n) = detection.raise_registers_to {
        // XTSMGRAPHICS: as many sixel colour registers as the terminal allows (up to 256).
        let _ = write!(io::stdout(), "\x1b[?1;3;{n}S");
    }
    let theme = Theme::pick(opts.theme, detection.background, detection.no_color);
    let encoder = || Encoder::new(&detection);
    let (tx, rx) = mpsc::channel::<AppEvent>();
    let signals = SignalThread::start(tx.clone())?;
    let input = InputThread::start(tx.clone());
    let hangup = HangupWatch::start(tx.clone());
    let wake_tx = Mutex::new(tx);
    let wake: Box<dyn Fn() + Send> = Box::new(move || {
        if let Ok(tx) = wake_tx.lock() {
            let _ = tx.send(AppEvent::ImageReady);
        }
    });
    let options = AppOptions {
        project_name,
        image_root,
        carried,
    };
    let annotator = match &opened {
        Opened::Questions(s) => s.annotator().to_string(),
        Opened::Grid(s) => s.annotator().to_string(),
        Opened::Classify(s) => s.annotator().to_string(),
        Opened::Review(s, _) => s.expert().to_string(),
    };
    let result = match opened {
        Opened::Questions(session) => run(
            App::new(*session, keymap, encoder(), options, wake),
            &rx,
            theme,
        ),
        Opened::Grid(session) => run(
            GridApp::new(*session, keymap, encoder(), options, wake),
            &rx,
            theme,
        ),
        Opened::Classify(session) => run(
            ClassifyApp::new(*session, keymap, encoder(), options, wake),
            &rx,
            theme,
        ),
        Opened::Review(session, names) => run(
            ReviewApp::new(*session, names, keymap, encoder(), options, wake),
            &rx,
            theme,
        ),
    };
    signals.stop();
    hangup.stop();
    input.stop();
    drop(guard);
    result.map(|answers| Summary { annotator, answers })
}

enum AppEvent {
    Term(Event),
    InputFailed(io::Error),
    ImageReady,
    Signal(i32),
}

/// Runs `app` until it quits; the answers it gave this session.
fn run(mut app: impl Screen, rx: &Receiver<AppEvent>, theme: Theme) -> Result<u64> {
    let backend = CrosstermBackend::new(io::stdout());
    let mut terminal = Terminal::new(backend).map_err(|e| Error::msg(format!("terminal: {e}")))?;
    let mut placements = kitty::Placements::default();
    let result = run_loop(&mut app, rx, theme, &mut terminal, &mut placements);
    let _ = placements.clear(&mut io::stdout());
    result.map(|()| app.session_answers())
}

fn run_loop(
    app: &mut impl Screen,
    rx: &Receiver<AppEvent>,
    theme: Theme,
    terminal: &mut Terminal<CrosstermBackend<io::Stdout>>,
    placements: &mut kitty::Placements,
) -> Result<()> {
    let drawing = |e: io::Error| Error::msg(format!("drawing the screen: {e}"));
    loop {
        app.take_images();
        let frame = terminal
            .draw(|f| theme::with(theme, || app.draw(f)))
            .map_err(drawing)?;
        placements
            .after_draw(frame.buffer, &mut io::stdout())
            .map_err(drawing)?;
        let first = rx
            .recv()
            .map_err(|_| Error::msg("the terminal input stopped"))?;
        // Handle everything already waiting (a held key, a burst of typing) before drawing again.
        for ev in std::iter::once(first).chain(rx.try_iter()) {
            match ev {
                AppEvent::Term(Event::Key(k)) => app.handle_key(k),
                AppEvent::Term(Event::Resize(..)) => {
                    placements.clear(&mut io::stdout()).map_err(drawing)?;
                    terminal
                        .autoresize()
                        .map_err(|e| Error::msg(format!("terminal: {e}")))?;
                }
                AppEvent::Term(_) | AppEvent::ImageReady => {}
                AppEvent::InputFailed(e) => {
                    return Err(Error::msg(format!("reading the keyboard: {e}")));
                }
                AppEvent::Signal(sig) => {
                    return Err(Error::msg(format!(
                        "stopped by signal {}; every answer shown as taken is saved",
                        signal_name(sig)
                    )));
                }
            }
            if app.should_quit() {
                return Ok(());
            }
        }
    }
}

fn signal_name(sig: i32) -> String {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    match sig {
        SIGTERM => "SIGTERM".into(),
        SIGHUP => "SIGHUP".into(),
        SIGINT => "SIGINT".into(),
        SIGQUIT => "SIGQUIT".into(),
        n => format!("{n}"),
    }
}

/// Asks the terminal what it can draw (stdin and stdout are the terminal, in raw mode) and
/// decides; `mode` forces a protocol, and `halfblocks` skips the question.
fn detect_terminal(mode: GraphicsMode) -> Detection {
    let env = detect::Env::from_process();
    let forced = match mode {
        GraphicsMode::Auto => None,
        GraphicsMode::Kitty => Some(Graphics::KittyPlaceholders),
        GraphicsMode::Sixel => Some(Graphics::Sixel),
        GraphicsMode::Iterm2 => Some(Graphics::Iterm2),
        GraphicsMode::Halfblocks => Some(Graphics::Halfblocks),
        GraphicsMode::Chafa => Some(Graphics::Chafa),
    };
    let answers = if mode == GraphicsMode::Halfblocks {
        detect::Answers::default()
    } else {
        detect::ask(env.tmux, query_timeout()).unwrap_or_default()
    };
    detect::decide(&env, &answers, forced)
}

/// How long to wait for the terminal's answers: long enough for a slow SSH link, short enough
/// that a terminal that answers nothing does not hold the screen up. A link slower still (or a
/// terminal starting on a busy machine) can be given more with `LABELVET_QUERY_TIMEOUT_MS`.
fn query_timeout() -> Duration {
    const DEFAULT_MS: u64 = 1000;
    let ms = std::env::var("LABELVET_QUERY_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(DEFAULT_MS)
        .clamp(50, 30_000);
    Duration::from_millis(ms)
}

/// `labelvet doctor`: what the terminal answered, what labelvet draws there and why.
pub fn doctor(mode: GraphicsMode) -> Result<String> {
    if std::fs::File::open("/dev/tty").is_err() {
        let env = detect::Env::from_process();
        let d = detect::decide(&env, &detect::Answers::default(), None);
        return Ok(format!("(no terminal to ask: no /dev/tty)\n{}", d.report()));
    }
    terminal::enable_raw_mode()
        .map_err(|e| Error::msg(format!("cannot put the terminal in raw mode: {e}")))?;
    let d = detect_terminal(mode);
    let _ = terminal::disable_raw_mode();
    Ok(d.report())
}

/// Set while the screen holds the terminal, so the restore runs once whoever gets there first.
static TERMINAL_TAKEN: AtomicBool = AtomicBool::new(false);

/// Gives the terminal back: raw mode off, alternate screen left, cursor shown.
pub fn restore_terminal() {
    if TERMINAL_TAKEN.swap(false, Ordering::SeqCst) {
        let _ = terminal::disable_raw_mode();
        let _ = execute!(io::stdout(), terminal::LeaveAlternateScreen, cursor::Show);
        let _ = io::stdout().flush();
    }
}

type PanicHook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Holds the terminal for the screen and restores it on drop and on panic.
struct TerminalGuard {
    previous_hook: Arc<PanicHook>,
}

impl TerminalGuard {
    fn enter() -> Result<TerminalGuard> {
        let previous_hook: Arc<PanicHook> = Arc::new(std::panic::take_hook());
        let hook = previous_hook.clone();
        std::panic::set_hook(Box::new(move |info| {
            // Restore first, so the panic message lands on the normal screen, readable.
            restore_terminal();
            hook(info);
        }));
        let guard = TerminalGuard { previous_hook };
        terminal::enable_raw_mode()
            .map_err(|e| Error::msg(format!("cannot put the terminal in raw mode: {e}")))?;
        TERMINAL_TAKEN.store(true, Ordering::SeqCst);
        execute!(io::stdout(), terminal::EnterAlternateScreen, cursor::Hide)
            .map_err(|e| Error::msg(format!("cannot open the full screen: {e}")))?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
        let previous = self.previous_hook.clone();
        let _ = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| previous(info)));
    }
}

/// Reads terminal events into the loop's channel; polls so that it can be told to stop.
struct InputThread {
    stop: Arc<AtomicBool>,
    /// Disconnected when the thread ends.
    done: Receiver<()>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl InputThread {
    fn start(tx: Sender<AppEvent>) -> InputThread {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let (done_tx, done) = mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name("labelvet-input".into())
            .spawn(move || {
                let _done = done_tx;
                while !flag.load(Ordering::SeqCst) {
                    let ev = match event::poll(Duration::from_millis(50)) {
                        Ok(false) => continue,
                        Ok(true) => event::read(),
                        Err(e) => Err(e),
                    };
                    let msg = match ev {
                        Ok(ev) => AppEvent::Term(ev),
                        Err(e) => AppEvent::InputFailed(e),
                    };
                    let failed = matches!(msg, AppEvent::InputFailed(_));
                    if tx.send(msg).is_err() || failed {
                        return;
                    }
                }
            })
            .ok();
        InputThread { stop, done, handle }
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // A terminal that hangs up while the session ends (q pressed as the link drops) leaves
        // the thread in crossterm's endless read of the closed terminal, which no flag reaches:
        // it is waited for a moment, then left to end with the process.
        if HUNG_UP.load(Ordering::SeqCst)
            || self.done.recv_timeout(Duration::from_secs(1)) == Err(RecvTimeoutError::Timeout)
        {
            return;
        }
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Set once the terminal is gone; the input thread is then left behind, not joined.
static HUNG_UP: AtomicBool = AtomicBool::new(false);

/// Watches the terminal for a hang-up. When its other end goes (an SSH link drops, the tmux
/// server is killed) and the signal goes to the shell that started labelvet rather than to
/// labelvet, crossterm reads the end of input again and again inside `event::poll`, never
/// returning: the process would spin for ever holding the project file. Every answer shown is
/// already saved, so the session ends through the loop and, if the loop cannot finish (the
/// input thread cannot be joined), the process exits.
struct HangupWatch {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl HangupWatch {
    fn start(tx: Sender<AppEvent>) -> HangupWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::fs::File::open("/dev/tty").ok().and_then(|tty| {
            std::thread::Builder::new()
                .name("labelvet-hangup".into())
                .spawn(move || {
                    while !flag.load(Ordering::SeqCst) {
                        if !hung_up(&tty, 200) {
                            continue;
                        }
                        HUNG_UP.store(true, Ordering::SeqCst);
                        let _ = tx.send(AppEvent::InputFailed(io::Error::new(
                            io::ErrorKind::BrokenPipe,
                            "the terminal was closed",
                        )));
                        std::thread::sleep(Duration::from_secs(2));
                        std::process::exit(1);
                    }
                })
                .ok()
        });
        HangupWatch { stop, handle }
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take()
            && !HUNG_UP.load(Ordering::SeqCst)
        {
            let _ = h.join();
        }
    }
}

/// Waits up to `ms` for `tty` to hang up.
#[cfg(unix)]
fn hung_up(tty: &std::fs::File, ms: i32) -> bool {
    use std::os::fd::AsRawFd;
    // No events asked for: a hang-up (and an invalid descriptor) is reported regardless.
    let mut p = libc::pollfd {
        fd: tty.as_raw_fd(),
        events: 0,
        revents: 0,
    };
    // SAFETY: one pollfd.
    let n = unsafe { libc::poll(&mut p, 1, ms) };
    n > 0 && p.revents & (libc::POLLHUP | libc::POLLNVAL) != 0
}

#[cfg(not(unix))]
fn hung_up(_tty: &std::fs::File, ms: i32) -> bool {
    std::thread::sleep(Duration::from_millis(ms as u64));
    false
}

/// SIGTERM, SIGHUP (the terminal closed), SIGINT and SIGQUIT end the session through the loop,
/// which restores the terminal; if the loop is stuck (say, waiting on a locked project file), the
/// terminal is restored here and the process exits, since every shown answer is already saved.
struct SignalThread {
    handle: signal_hook::iterator::Handle,
}

impl SignalThread {
    fn start(tx: Sender<AppEvent>) -> Result<SignalThread> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT, SIGQUIT])
            .map_err(|e| Error::msg(format!("cannot watch for signals: {e}")))?;
        let handle = signals.handle();
        std::thread::Builder::new()
            .name("labelvet-signals".into())
            .spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    let _ = tx.send(AppEvent::Signal(sig));
                    std::thread::sleep(Duration::from_secs(2));
                    restore_terminal();
                    // Not eprintln!: with the terminal gone it would panic this thread before
                    // the exit below, and leave the process running.
                    let _ = writeln!(
                        io::stderr(),
                        "labelvet: stopped by signal {}; every answer shown as taken is saved",
                        signal_name(sig)
                    );
                    std::process::exit(128 + sig);
                }
            })
            .map_err(|e| Error::msg(format!("cannot watch for signals: {e}")))?;
        Ok(SignalThread { handle })
    }

    fn stop(self) {
        self.handle.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphics_modes_parse() {
        assert_eq!("auto".parse::<GraphicsMode>().unwrap(), GraphicsMode::Auto);
        assert_eq!(
            "Kitty".parse::<GraphicsMode>().unwrap(),
            GraphicsMode::Kitty
        );
        assert_eq!(
            "sixel".parse::<GraphicsMode>().unwrap(),
            GraphicsMode::Sixel
        );
        assert_eq!(
            "iterm2".parse::<GraphicsMode>().unwrap(),
            GraphicsMode::Iterm2
        );
        assert_eq!(
            "halfblocks".parse::<GraphicsMode>().unwrap(),
            GraphicsMode::Halfblocks
        );
        let e = "ascii".parse::<GraphicsMode>().unwrap_err().to_string();
        assert!(e.contains("unknown graphics mode `ascii`"), "{e}");
    }

    #[test]
    fn halfblocks_are_forced_without_asking_the_terminal() {
        assert_eq!(
            detect_terminal(GraphicsMode::Halfblocks).graphics,
            Graphics::Halfblocks
        );
    }
}
