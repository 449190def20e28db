//! The classify screen (`labelvet annotate --classify`): the image large, its valid labels
//! beside it; the annotator keeps the labels that are separate objects, picks the main one and
//! says how many objects there are. The logic is in [`ClassifySession`]; this draws it and maps
//! keys, the keymap's `[classify]` table ([`ClassifyAction`]).

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::images::Encoder;
use super::images::Source;
use super::keymap::{Bindable as _, ClassifyAction, Keymap, Keys};
use super::screen::{AppOptions, Message, Screen, ScreenBase, separator};
use super::theme::{self, Role, Themed as _};
use super::widgets::{
    MIN_HEIGHT, MIN_WIDTH, class_lines, draw_picture, images_progress, keys_popup, safe,
    screen_rows, status_line, too_small,
};
use crate::annotate::ClassifySession;

/// Images loaded ahead of the current one.
const PREFETCH: usize = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassifyMode {
    Normal,
    Help,
    Zoom,
}

pub struct ClassifyApp {
    base: ScreenBase,
    session: ClassifySession,
    mode: ClassifyMode,
}

impl ClassifyApp {
    /// A classify screen over `session`, with the keymap's `[classify]` keys. `wake` is called
    /// from the image thread when an image is ready.
    pub fn new(
        session: ClassifySession,
        keys: Keymap,
        encoder: Encoder,
        opts: AppOptions,
        wake: Box<dyn Fn() + Send>,
    ) -> ClassifyApp {
        ClassifyApp {
            base: ScreenBase::new(keys, encoder, opts, wake, 8),
            session,
            mode: ClassifyMode::Normal,
        }
    }

    pub fn session(&self) -> &ClassifySession {
        &self.session
    }

    pub fn mode(&self) -> ClassifyMode {
        self.mode
    }

    pub fn message(&self) -> Option<&Message> {
        self.base.message.as_ref()
    }

    pub fn settle(&mut self, timeout: Duration) -> bool {
        self.base.settle(timeout)
    }

    fn keys(&self) -> &Keys<ClassifyAction> {
        &self.base.keys.classify
    }

    fn path(&self, id: i64) -> Result<Source, String> {
        let known = self
            .session
            .image()
            .filter(|cur| cur.image.id == id)
            .map(|cur| &cur.image.rec);
        self.base.path(id, known, |id| self.session.image_by_id(id))
    }

    fn act(&mut self, action: ClassifyAction) {
        use ClassifyAction::*;
        let s = &mut self.session;
        match action {
            NextLabel => s.next_choice(),
            PrevLabel => s.prev_choice(),
            Label(n) => s.select(usize::from(n) - 1),
            Present => s.toggle_present(),
            Main => s.set_main(),
            MoreObjects => s.adjust_objects(1),
            FewerObjects => s.adjust_objects(-1),
            ObjectsFromLabels => s.reset_objects(),
            Save => match s.save() {
                Ok((e, done)) => {
                    let main = e
                        .answer
                        .as_ref()
                        .map(|a| self.name(&a.main))
                        .unwrap_or_default();
                    let mut text = format!("saved {}: main object {main}", e.image);
                    if done {
                        text.push_str(" · every image of the queue is answered; q quits");
                    }
                    self.base.say(text);
                }
                Err(e) => self.base.fail(e.to_string()),
            },
            Undo => match s.undo() {
                Ok(Some(e)) => self.base.say(format!(
                    "undone: your answer on {}; change it and press enter",
                    e.image
                )),
                Ok(None) => self.base.say("nothing to undo in this session"),
                Err(e) => self.base.fail(e.to_string()),
            },
            NextImage => match s.next_image() {
                Ok(true) => {}
                Ok(false) => self.base.say("this is the last image"),
                Err(e) => self.base.fail(e.to_string()),
            },
            PrevImage => match s.prev_image() {
                Ok(true) => {}
                Ok(false) => self.base.say("this is the first image"),
                Err(e) => self.base.fail(e.to_string()),
            },
            Zoom => {
                if s.image().is_some() {
                    self.mode = ClassifyMode::Zoom;
                }
            }
            Help => self.mode = ClassifyMode::Help,
            Quit => self.base.quit = true,
        }
    }

    fn name(&self, key: &str) -> String {
        let name = self
            .session
            .vocab()
            .get(key)
            .map_or(key, |c| c.name.as_str());
        crate::text::display(name).into_owned()
    }

    fn draw_header(&self, frame: &mut Frame<'_>, area: Rect) {
        let s = &self.session;
        let sep = separator;
        let mut spans = self.base.header(s.annotator());
        spans.extend([sep(), Span::raw(format!("classify: {}", s.describe()))]);
        if let Some(img) = s.image() {
            let (pos, n) = s.position();
            spans.extend([
                sep(),
                Span::raw(format!("image {}/{n} ", pos + 1)),
                Span::raw(safe(img.key())).bold(),
            ]);
        }
        if s.is_finished() && s.position().1 > 0 {
            spans.extend([sep(), Span::raw("queue done").yes().bold()]);
        }
        frame.render_widget(Paragraph::new(Line::from(spans)), area);
    }

    fn draw_image(&mut self, frame: &mut Frame<'_>, area: Rect) {
        let Some(img) = self.session.image() else {
            frame.render_widget(
                Paragraph::new(
                    "No image to classify: none has two or more valid labels at this threshold. \
                     Answer more questions first, or lower --threshold.",
                )
                .wrap(Wrap { trim: true })
                .block(Block::bordered().border_style(theme::style(Role::Muted))),
                area,
            );
            return;
        };
        let id = img.image.id;
        let title = format!(" {} ", safe(img.key()));
        let block = Block::bordered()
            .title(Line::from(title).muted())
            .border_style(theme::style(Role::Muted));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let hint = format!(
            "{} goes to the next image",
            self.keys().label(ClassifyAction::NextImage)
        );
        let path = self.path(id);
        draw_picture(self.base.fit(id, path, inner), frame, inner, Some(hint));
        for id in self.session.upcoming(PREFETCH) {
            let path = self.path(id);
            self.base.fit(id, path, inner);
        }
    }

    fn draw_side(&self, frame: &mut Frame<'_>, area: Rect) {
        let s = &self.session;
        let Some(img) = s.image() else {
            return;
        };
        let rows = img.choices.len() as u16;
        let [list_area, objects_area, about_area] = Layout::vertical([
            Constraint::Length(rows + 4),
            Constraint::Length(3),
            Constraint::Min(3),
        ])
        .areas(area);

        let mut lines = vec![
            Line::from(format!(
                " keep the labels that are separate objects; {} marks the main one",
                self.keys().first(ClassifyAction::Main)
            ))
            .muted(),
            Line::default(),
        ];
        for (i, c) in img.choices.iter().enumerate() {
            let here = i == s.cursor();
            let is_main = img.main == Some(i);
            let mut spans = vec![
                Span::raw(if here { "> " } else { "  " }).accent().bold(),
                Span::raw(format!("{} ", i + 1)).muted(),
                if c.present {
                    Span::raw("[x] ").yes().bold()
                } else {
                    Span::raw("[ ] ").muted()
                },
                Span::raw(safe(&c.name)),
            ];
            if is_main {
                spans.push(Span::raw("  ★ main object").warn().bold());
            }
            let line = Line::from(spans);
            lines.push(if here {
                line.style(theme::current().cursor_row())
            } else {
                line
            });
        }
        frame.render_widget(
            Paragraph::new(lines).block(
                Block::bordered()
                    .title(Line::from(" Which are in the image? Which is the main object? ").bold())
                    .border_style(theme::style(Role::Accent)),
            ),
            list_area,
        );

        let k = self.keys();
        let auto = if img.objects.is_some() {
            Span::raw(format!(
                "  (set; {} follows the labels again)",
                k.first(ClassifyAction::ObjectsFromLabels)
            ))
            .muted()
        } else {
            Span::raw(format!(
                "  (the labels present; {} to change)",
                k.joined(&[ClassifyAction::MoreObjects, ClassifyAction::FewerObjects])
            ))
            .muted()
        };
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::raw(" objects in the image: "),
                Span::raw(img.objects().to_string()).bold().accent(),
                auto,
            ]))
            .block(Block::bordered().border_style(theme::style(Role::Muted))),
            objects_area,
        );

        let mut about = Vec::new();
        if let Some(c) = s.current_class() {
            about.push(Line::from(safe(&c.name)).bold());
            about.extend(class_lines(c));
        }
        about.push(Line::default());
        // The original label is not shown: the report compares the main object with it, and
        // seeing it would pull answers towards it.
        if img.saved.is_some() {
            about.push(Line::from("you have answered this image; enter replaces it").yes());
        }
        frame.render_widget(
            Paragraph::new(about).wrap(Wrap { trim: true }).block(
                Block::bordered()
                    .title(" the label under the cursor ")
                    .border_style(theme::style(Role::Muted)),
            ),
            about_area,
        );
    }

    fn draw_progress(&self, frame: &mut Frame<'_>, area: Rect) {
        let s = &self.session;
        images_progress(
            frame,
            area,
            s.progress(),
            "classified",
            s.session_answers(),
            s.per_hour(),
        );
    }

    fn draw_status(&self, frame: &mut Frame<'_>, area: Rect) {
        use ClassifyAction::*;
        let k = self.keys();
        let hints = [
            (k.joined(&[NextLabel, PrevLabel]), "move"),
            (k.first(Present), "present"),
            (k.first(Main), "main"),
            (k.joined(&[MoreObjects, FewerObjects]), "objects"),
            (k.first(Save), "save"),
            (k.first(Undo), "undo"),
            (k.joined(&[NextImage, PrevImage]), "image"),
            (k.first(Zoom), "zoom"),
            (k.first(Help), "help"),
            (k.first(Quit), "quit"),
        ]
        .map(|(key, what)| format!("{key} {what}"))
        .join(" · ");
        let line = status_line(self.base.status_message(), &hints);
        frame.render_widget(Paragraph::new(line), area);
    }

    fn draw_help(&self, frame: &mut Frame<'_>, area: Rect) {
        let k = self.keys();
        let mut rows: Vec<(String, String)> = Vec::new();
        for (action, row) in ClassifyAction::all().into_iter().zip(k.help_rows()) {
            match action {
                // The nine numbered labels read as one row.
                ClassifyAction::Label(1) => rows.push((
                    k.numbered(ClassifyAction::Label),
                    "go to label 1..9 of the list".into(),
                )),
                ClassifyAction::Label(_) => {}
                _ => rows.push(row),
            }
        }
        let closing = format!("{} or esc closes this help", k.first(ClassifyAction::Help));
        keys_popup(
            frame,
            area,
            "classify keys",
            &rows,
            &[
                "The labels are the image's valid set. A label that is part of another object",
                "(a suit on the groom) is not a separate object: take it away with space.",
            ],
            &closing,
            84,
        );
    }
}

impl Screen for ClassifyApp {
    fn draw(&mut self, frame: &mut Frame<'_>) {
        let area = frame.area();
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            too_small(frame, area);
            return;
        }
        if self.mode == ClassifyMode::Zoom {
            let current = self
                .session
                .image()
                .map(|i| (i.image.id, i.image.rec.key.clone()));
            let current = current.map(|(id, key)| (id, key, self.path(id)));
            let k = self.keys();
            let (present, main) = (
                k.first(ClassifyAction::Present),
                k.first(ClassifyAction::Main),
            );
            self.base
                .zoom(frame, current, &[(&present, "present"), (&main, "main")]);
            self.base.pictures.send();
            return;
        }
        let [header, body, progress, status] = screen_rows(area);
        let side_w = (area.width * 2 / 5).clamp(46, 84);
        let [image_area, side] =
            Layout::horizontal([Constraint::Min(10), Constraint::Length(side_w)]).areas(body);
        self.draw_header(frame, header);
        self.draw_image(frame, image_area);
        self.draw_side(frame, side);
        self.draw_progress(frame, progress);
        self.draw_status(frame, status);
        if self.mode == ClassifyMode::Help {
            self.draw_help(frame, area);
        }
        self.base.pictures.send();
    }

    fn take_images(&mut self) -> bool {
        self.base.pictures.take()
    }

    fn handle_key(&mut self, key: KeyEvent) {
        if !self.base.press(&key) {
            return;
        }
        let action = self.keys().action(&key);
        match self.mode {
            ClassifyMode::Normal => {
                if let Some(a) = action {
                    self.act(a);
                }
            }
            ClassifyMode::Help => match action {
                Some(ClassifyAction::Help) => self.mode = ClassifyMode::Normal,
                Some(ClassifyAction::Quit) => self.base.quit = true,
                _ if key.code == KeyCode::Esc => self.mode = ClassifyMode::Normal,
                _ => {}
            },
            ClassifyMode::Zoom => {
                let dims = self
                    .session
                    .image()
                    .and_then(|i| Some((i.image.rec.width?, i.image.rec.height?)));
                if self.base.magnifier.key(&key, dims) {
                    return;
                }
                match action {
                    Some(ClassifyAction::Zoom) => {
                        self.mode = ClassifyMode::Normal;
                        self.base.magnifier.reset();
                    }
                    // The answer keys of the labels under the cursor stay; the magnifier has
                    // + - 0 and the arrows, so the cursor moves by the label keys and the count
                    // waits.
                    Some(
                        a @ (ClassifyAction::Present
                        | ClassifyAction::Main
                        | ClassifyAction::Label(_)
                        | ClassifyAction::Save
                        | ClassifyAction::Quit),
                    ) => self.act(a),
                    _ if key.code == KeyCode::Esc => {
                        self.mode = ClassifyMode::Normal;
                        self.base.magnifier.reset();
                    }
                    _ => {}
                }
            }
        }
    }

    fn should_quit(&self) -> bool {
        self.base.quit
    }

    fn session_answers(&self) -> u64 {
        self.session.session_answers()
    }
}
