//! The question screen's state and what keys do to it, apart from drawing (`view`) and from the
//! terminal (`mod.rs`), so that tests and benchmarks drive it on a test backend exactly as a
//! person does. What it shares with the grid and classify screens is in [`ScreenBase`].

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;

use super::images::Source;
use super::images::{Encoder, Picture, Request, View};
use super::keymap::{Action, Keymap, Keys};
pub use super::screen::{AppOptions, Message};
use super::screen::{Screen, ScreenBase};
use crate::annotate::{Advance, Session};
use crate::store::{Answer, FlagKind, ReferenceImage};

/// Images loaded ahead of the current one.
pub const PREFETCH: usize = 3;
/// Loaded images kept on the screen side (current, a few ahead, a few behind).
const CACHE_SLOTS: usize = 12;

/// What the screen shows over the annotation view.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    Normal,
    Help,
    Zoom,
    /// The flag prompt, waiting for the kind.
    FlagKind,
    /// The flag prompt, typing the optional note.
    FlagNote(FlagKind, String),
    /// The go-to prompt, typing an image key.
    GoTo(String),
    /// Other images of the current candidate's class, beside the image.
    Reference(Reference),
}

/// What the reference panel shows: images whose original label is `label`, judged valid by
/// annotators, or (when none is yet) images with that original label nobody has judged.
#[derive(Clone, Debug, PartialEq)]
pub struct Reference {
    pub label: String,
    pub images: Vec<ReferenceImage>,
    pub confirmed: bool,
}

/// Reference images looked up at most.
pub const REFERENCE_IMAGES: usize = 6;

pub struct App {
    pub(super) base: ScreenBase,
    pub(super) session: Session,
    pub(super) mode: Mode,
    /// Where the current image was last drawn, the size to load the next ones at.
    image_area: Option<Rect>,
}

impl App {
    /// A screen over `session`. `wake` is called from the image thread when an image is ready.
    pub fn new(
        session: Session,
        keymap: Keymap,
        encoder: Encoder,
        opts: AppOptions,
        wake: Box<dyn Fn() + Send>,
    ) -> App {
        App {
            base: ScreenBase::new(keymap, encoder, opts, wake, CACHE_SLOTS),
            session,
            mode: Mode::Normal,
            image_area: None,
        }
    }

    /// The question screen's keys (the keymap's `[keys]` table).
    pub(super) fn keys(&self) -> &Keys<Action> {
        &self.base.keys.questions
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    pub fn message(&self) -> Option<&Message> {
        self.base.message.as_ref()
    }

    pub fn should_quit(&self) -> bool {
        self.base.quit
    }

    pub fn draw(&mut self, frame: &mut Frame<'_>) {
        super::view::draw(self, frame);
        // After what is on screen: the next few images, then the one before, where `[` and an
        // undo of the previous image's last answer go.
        if let Some(area) = self.image_area {
            let mut ids = self.session.upcoming(PREFETCH);
            ids.extend(self.session.previous());
            for id in ids {
                let path = self.path_of(id);
                self.base.fit(id, path, area);
            }
        }
        self.base.pictures.send();
    }

    /// Takes the images the worker has finished. Returns true when any arrived.
    pub fn take_images(&mut self) -> bool {
        self.base.pictures.take()
    }

    /// Waits until every requested image is loaded (or `timeout`). Returns false on timeout.
    pub fn settle(&mut self, timeout: Duration) -> bool {
        self.base.settle(timeout)
    }

    /// The picture of the current image for `area`: `None` while it loads.
    /// In zoom, the magnifier's view of it.
    pub(super) fn image_for(&mut self, area: Rect) -> Option<&Result<Picture, String>> {
        let id = self.session.image().map(|i| i.id)?;
        self.image_area = Some(area);
        let path = self.path_of(id);
        let view = if self.mode == Mode::Zoom {
            let area_box = self.base.pictures.encoder().area_box(area);
            self.base.magnifier.view_for(id, area_box)
        } else {
            View::FIT
        };
        self.base.pictures.want(Request {
            id,
            path,
            area,
            view,
        })
    }

    /// A picture of any image of the project (reference thumbnails) for `area`.
    pub(super) fn picture_for(&mut self, id: i64, area: Rect) -> Option<&Result<Picture, String>> {
        let path = self.path_of(id);
        self.base.fit(id, path, area)
    }

    fn path_of(&self, id: i64) -> Result<Source, String> {
        let known = self
            .session
            .image()
            .filter(|cur| cur.id == id)
            .map(|cur| &cur.record);
        self.base.path(id, known, |id| self.session.image_by_id(id))
    }

    fn say(&mut self, text: impl Into<String>) {
        self.base.say(text);
    }

    fn fail(&mut self, text: impl Into<String>) {
        self.base.fail(text);
    }

    /// One key press.
    pub fn handle_key(&mut self, key: KeyEvent) {
        if !self.base.press(&key) {
            return;
        }
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Normal => self.normal_key(key),
            Mode::Help => match self.keys().action(&key) {
                Some(Action::Quit) => self.base.quit = true,
                Some(Action::Help) | None => {}
                Some(_) => self.mode = Mode::Help,
            },
            Mode::Zoom => self.zoom_key(key),
            Mode::FlagKind => match key.code {
                KeyCode::Char('b') => self.mode = Mode::FlagNote(FlagKind::Broken, String::new()),
                KeyCode::Char('a') => {
                    self.mode = Mode::FlagNote(FlagKind::Ambiguous, String::new());
                }
                KeyCode::Char('e') => self.mode = Mode::FlagNote(FlagKind::Expert, String::new()),
                // Lifting flags needs no note.
                KeyCode::Char('c') => self.save_flag(FlagKind::Clear, ""),
                KeyCode::Esc => {}
                _ => self.mode = Mode::FlagKind,
            },
            Mode::FlagNote(kind, mut note) => match key.code {
                KeyCode::Enter => self.save_flag(kind, &note),
                KeyCode::Esc => {}
                _ => {
                    edit(&mut note, &key);
                    self.mode = Mode::FlagNote(kind, note);
                }
            },
            Mode::Reference(panel) => match self.keys().action(&key) {
                Some(Action::Reference) => {}
                _ if key.code == KeyCode::Esc => {}
                Some(
                    a @ (Action::Yes
                    | Action::No
                    | Action::Maybe
                    | Action::Undo
                    | Action::Help
                    | Action::Quit),
                ) => self.act(a),
                _ => self.mode = Mode::Reference(panel),
            },
            Mode::GoTo(mut text) => match key.code {
                KeyCode::Enter if text.trim().is_empty() => {}
                KeyCode::Enter => {
                    if let Err(e) = self.session.go_to(&text) {
                        self.fail(e.to_string());
                    }
                }
                KeyCode::Esc => {}
                _ => {
                    edit(&mut text, &key);
                    self.mode = Mode::GoTo(text);
                }
            },
        }
    }

    /// In zoom: the magnifier's keys, then the answers, undo, skip and the image keys, which
    /// keep the zoom; the zoom key or Esc leaves it.
    fn zoom_key(&mut self, key: KeyEvent) {
        self.mode = Mode::Zoom;
        let dims = self
            .session
            .image()
            .and_then(|i| Some((i.record.width?, i.record.height?)));
        if self.base.magnifier.key(&key, dims) {
            return;
        }
        match self.keys().action(&key) {
            Some(Action::Zoom) => self.unzoom(),
            Some(
                a @ (Action::Yes
                | Action::No
                | Action::Maybe
                | Action::Undo
                | Action::Skip
                | Action::NextImage
                | Action::PrevImage
                | Action::Help
                | Action::Quit),
            ) => self.act(a),
            _ if key.code == KeyCode::Esc => self.unzoom(),
            _ => {}
        }
    }

    fn unzoom(&mut self) {
        self.mode = Mode::Normal;
        self.base.magnifier.reset();
    }

    fn normal_key(&mut self, key: KeyEvent) {
        if let Some(action) = self.keys().action(&key) {
            self.act(action);
        }
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Yes => self.answer(Answer::Yes),
            Action::No => self.answer(Answer::No),
            Action::Maybe => self.answer(Answer::Maybe),
            Action::Undo => match self.session.undo() {
                Ok(Some(e)) => {
                    let name = self.display_name(&e.label);
                    let was = e.answer.map(|a| a.as_str()).unwrap_or("?");
                    self.say(format!("undone: {was} for {name} on {}", e.image));
                }
                Ok(None) => self.say("nothing to undo in this session"),
                Err(e) => self.fail(e.to_string()),
            },
            Action::Skip => {
                let r = self.session.skip();
                self.moved(r);
            }
            Action::NextCandidate => self.session.next_candidate(),
            Action::PrevCandidate => self.session.prev_candidate(),
            Action::Candidate(n) => {
                let count = self.session.image().map_or(0, |i| i.items.len());
                if usize::from(n) <= count {
                    self.session.select(usize::from(n) - 1);
                }
            }
            Action::NextImage => match self.session.next_image() {
                Ok(true) => {}
                Ok(false) => self.say("this is the last image"),
                Err(e) => self.fail(e.to_string()),
            },
            Action::PrevImage => match self.session.prev_image() {
                Ok(true) => {}
                Ok(false) => self.say("this is the first image"),
                Err(e) => self.fail(e.to_string()),
            },
            Action::Flag => {
                if self.session.image().is_some() {
                    self.mode = Mode::FlagKind;
                }
            }
            Action::GoTo => self.mode = Mode::GoTo(String::new()),
            Action::Zoom => self.mode = Mode::Zoom,
            Action::Reference => self.open_reference(),
            Action::Help => self.mode = Mode::Help,
            Action::Quit => self.base.quit = true,
        }
    }

    fn open_reference(&mut self) {
        let (Some(item), Some(img)) = (self.session.current_item(), self.session.image()) else {
            self.say("no candidate label here to show references for");
            return;
        };
        let (label, exclude) = (item.label.clone(), img.key().to_string());
        let found = self
            .session
            .reference_images(&label, &exclude, REFERENCE_IMAGES);
        match found {
            Ok((images, _)) if images.is_empty() => {
                let name = self.display_name(&label);
                self.say(format!(
                    "no reference for {name}: no other readable image has it as its original \
                     label (or annotators said no to all of them)"
                ));
            }
            Ok((images, confirmed)) => {
                self.mode = Mode::Reference(Reference {
                    label,
                    images,
                    confirmed,
                });
            }
            Err(e) => self.fail(e.to_string()),
        }
    }

    fn save_flag(&mut self, kind: FlagKind, note: &str) {
        match self.session.flag(kind, note) {
            Ok(f) => match kind {
                FlagKind::Clear => self.say(format!("your flags on {} are lifted", f.image)),
                _ => self.say(format!("flagged {}: {}", f.image, kind.as_str())),
            },
            Err(e) => self.fail(e.to_string()),
        }
    }

    fn answer(&mut self, answer: Answer) {
        if !self.session.takes_answers() {
            self.say(crate::annotate::QUEUE_DONE);
            return;
        }
        if self.session.current_item().is_none() {
            self.say("no candidate label to answer on this image: ] goes on, f flags it");
            return;
        }
        let r = self.session.answer(answer);
        self.moved(r);
        // Training (`--gold-feedback`): the truth of a gold question answered wrong.
        if let Some(f) = self.session.gold_feedback() {
            let text = format!(
                "gold question: the experts say {} to {} on {} (you said {})",
                if f.truth { "yes" } else { "no" },
                self.display_name(&f.label),
                f.image,
                f.answer.as_str()
            );
            self.fail(text);
        }
    }

    fn moved(&mut self, r: crate::Result<Advance>) {
        match r {
            Ok(Advance::Finished) => {
                self.say("every question of your queue is answered; [ and ] to review, q to quit")
            }
            Ok(_) => {}
            Err(e) => self.fail(e.to_string()),
        }
    }

    pub(super) fn display_name(&self, label: &str) -> String {
        let name = self
            .session
            .vocab()
            .get(label)
            .map_or_else(|| label, |c| c.name.as_str());
        // Every name on the screens comes through here or `text::display`: no control
        // character from a vocabulary or a merged file reaches the terminal.
        crate::text::display(name).into_owned()
    }
}

/// Line editing for the prompts: type, backspace, ctrl-u to clear.
fn edit(text: &mut String, key: &KeyEvent) {
    match key.code {
        KeyCode::Backspace => {
            text.pop();
        }
        KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => text.clear(),
        KeyCode::Char(c)
            if !key.modifiers.contains(KeyModifiers::CONTROL) && text.chars().count() < 500 =>
        {
            text.push(c);
        }
        _ => {}
    }
}

impl Screen for App {
    fn draw(&mut self, frame: &mut Frame<'_>) {
        App::draw(self, frame);
    }

    fn take_images(&mut self) -> bool {
        App::take_images(self)
    }

    fn handle_key(&mut self, key: KeyEvent) {
        App::handle_key(self, key);
    }

    fn should_quit(&self) -> bool {
        App::should_quit(self)
    }

    fn session_answers(&self) -> u64 {
        self.session.progress().session_answers
    }
}
