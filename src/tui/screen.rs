//! What the three screens (questions, grid, classify) share: the event loop's view of a screen
//! ([`Screen`]), and the state every screen holds ([`ScreenBase`]): the keys, the project's name
//! and image folder, the pictures loaded so far, the magnifier of the zoom view, the status
//! line's message and whether to quit. Each screen keeps only its own session and modes, so a
//! fix to how a message clears or a picture is requested is made once for the three.

use std::path::PathBuf;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize as _;
use ratatui::text::Span;

use super::images::{Encoder, Picture, Pictures, Request, Source, image_path};
use super::keymap::Keymap;
use super::magnifier::Magnifier;
use super::theme::Themed as _;
use super::widgets::{draw_picture, safe};
use crate::store::{ImageRecord, ImageRow};

/// A full-screen task as the event loop drives it: keys in, frames out.
pub trait Screen {
    fn draw(&mut self, frame: &mut Frame<'_>);
    /// Takes the images the worker has finished. Returns true when any arrived.
    fn take_images(&mut self) -> bool;
    fn handle_key(&mut self, key: KeyEvent);
    fn should_quit(&self) -> bool;
    /// Answers this session gave that still stand (undone ones not counted).
    fn session_answers(&self) -> u64;
}

/// The status line's message.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub text: String,
    pub error: bool,
}

pub struct AppOptions {
    /// The name shown in the header (the project file's name).
    pub project_name: String,
    /// Where image keys resolve to files; `None` when the project has no image folder.
    pub image_root: Option<PathBuf>,
    /// The annotator's file, when it carries its images (`checkout --with-images`) and no
    /// folder was given: images are read from it instead.
    pub carried: Option<PathBuf>,
}

/// The state every screen holds.
pub struct ScreenBase {
    pub keys: Keymap,
    pub project_name: String,
    pub image_root: Option<PathBuf>,
    pub carried: Option<PathBuf>,
    pub pictures: Pictures,
    pub magnifier: Magnifier,
    pub message: Option<Message>,
    pub quit: bool,
}

impl ScreenBase {
    /// `keep`: how many loaded pictures the screen keeps (a grid page's worth, or a few images
    /// around the current one). `wake` is called from the image thread when one is ready.
    pub fn new(
        keys: Keymap,
        encoder: Encoder,
        opts: AppOptions,
        wake: Box<dyn Fn() + Send>,
        keep: usize,
    ) -> ScreenBase {
        ScreenBase {
            keys,
            project_name: opts.project_name,
            image_root: opts.image_root,
            carried: opts.carried,
            pictures: Pictures::new(encoder, wake, keep),
            magnifier: Magnifier::default(),
            message: None,
            quit: false,
        }
    }

    /// What every screen does first with a key: releases are ignored, and ctrl-c always leaves
    /// (raw mode turns it into a key), whatever the screen's keys say; a key the screen gets
    /// clears the last message. True when the screen should handle the key.
    pub fn press(&mut self, key: &KeyEvent) -> bool {
        if key.kind != KeyEventKind::Press {
            return false;
        }
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            self.quit = true;
            return false;
        }
        self.message = None;
        true
    }

    // Messages quote keys, names and errors: escaped once, here, for every screen.
    pub fn say(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: safe(&text.into()),
            error: false,
        });
    }

    pub fn fail(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: safe(&text.into()),
            error: true,
        });
    }

    /// The status line's message as text and whether it reports an error.
    pub fn status_message(&self) -> Option<(&str, bool)> {
        self.message.as_ref().map(|m| (m.text.as_str(), m.error))
    }

    /// The file of image `id`: from `known` (the record the screen holds) or looked up.
    pub fn path(
        &self,
        id: i64,
        known: Option<&ImageRecord>,
        lookup: impl FnOnce(i64) -> crate::Result<Option<ImageRow>>,
    ) -> Result<Source, String> {
        image_path(
            self.image_root.as_deref(),
            self.carried.as_deref(),
            id,
            known,
            lookup,
        )
    }

    /// Waits until every requested picture is loaded (or `timeout`). False on timeout.
    pub fn settle(&mut self, timeout: Duration) -> bool {
        self.pictures.settle(timeout)
    }

    /// The header's start, the same on every screen: the tool, the project file, the annotator.
    pub fn header(&self, annotator: &str) -> Vec<Span<'static>> {
        vec![
            Span::raw(" labelvet ").bold().accent(),
            separator(),
            Span::raw(safe(&self.project_name)),
            separator(),
            Span::raw("annotator "),
            Span::raw(safe(annotator)).bold(),
        ]
    }

    /// The zoom view: the image `id` (`key`, file `path`) through the magnifier over the whole
    /// screen, its hint line below naming the screen's own keys in zoom, `answers`.
    pub fn zoom(
        &mut self,
        frame: &mut Frame<'_>,
        image: Option<(i64, String, Result<Source, String>)>,
        answers: &[(&str, &str)],
    ) {
        let [image_area, hint] =
            Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(frame.area());
        let key = match image {
            Some((id, key, path)) => {
                let area_box = self.pictures.encoder().area_box(image_area);
                let view = self.magnifier.view_for(id, area_box);
                let picture = self.pictures.want(Request {
                    id,
                    path,
                    area: image_area,
                    view,
                });
                draw_picture(picture, frame, image_area, Some(String::new()));
                key
            }
            None => String::new(),
        };
        self.magnifier.hint(frame, hint, &key, answers);
    }

    /// A picture of image `id` fitted to `area` (`None` while it loads).
    pub fn fit(
        &mut self,
        id: i64,
        path: Result<Source, String>,
        area: Rect,
    ) -> Option<&Result<Picture, String>> {
        self.pictures.want(Request::fit(id, path, area))
    }
}

/// The `│` between the header's fields.
pub fn separator() -> Span<'static> {
    Span::raw(" │ ").muted()
}
