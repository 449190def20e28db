//! The classify screen (`labelvet annotate --classify`): the image large, its valid labels
//! beside it; the annotator keeps the labels that are separate objects, picks the main one and
//! says how many objects there are. The logic is in [`ClassifySession`]; this draws it and maps
//! keys, which are fixed (see the help) since they mean other things on the one-question screen.

use std::path::PathBuf;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::Screen;
use super::images::{Encoder, Pictures, Request, image_path};
use super::magnifier::Magnifier;
use super::theme::{self, Role, Themed as _};
use super::view::{
    MIN_HEIGHT, MIN_WIDTH, class_lines, draw_picture, images_progress, keys_popup, screen_rows,
    status_line, too_small,
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
    session: ClassifySession,
    project_name: String,
    image_root: Option<PathBuf>,
    pictures: Pictures,
    magnifier: Magnifier,
    mode: ClassifyMode,
    message: Option<(String, bool)>,
    quit: bool,
}

impl ClassifyApp {
    pub fn new(
        session: ClassifySession,
        encoder: Encoder,
        project_name: String,
        image_root: Option<PathBuf>,
        wake: Box<dyn Fn() + Send>,
    ) -> ClassifyApp {
        ClassifyApp {
            session,
            project_name,
            image_root,
            pictures: Pictures::new(encoder, wake, 8),
            magnifier: Magnifier::default(),
            mode: ClassifyMode::Normal,
            message: None,
            quit: false,
        }
    }

    pub fn session(&self) -> &ClassifySession {
        &self.session
    }

    pub fn mode(&self) -> ClassifyMode {
        self.mode
    }

    /// The status line's message, and whether it reports an error.
    pub fn message(&self) -> Option<(&str, bool)> {
        self.message.as_ref().map(|(m, e)| (m.as_str(), *e))
    }

    pub fn settle(&mut self, timeout: Duration) -> bool {
        self.pictures.settle(timeout)
    }

    fn say(&mut self, text: impl Into<String>) {
        self.message = Some((text.into(), false));
    }

    fn fail(&mut self, text: impl Into<String>) {
        self.message = Some((text.into(), true));
    }

    fn request(&self, id: i64, area: Rect) -> Request {
        let known = self
            .session
            .image()
            .filter(|cur| cur.image.id == id)
            .map(|cur| &cur.image.rec);
        let path = image_path(self.image_root.as_deref(), id, known, |id| {
            self.session.image_by_id(id)
        });
        Request::fit(id, path, area)
    }

    fn normal_key(&mut self, key: KeyEvent) {
        let s = &mut self.session;
        match key.code {
            KeyCode::Down | KeyCode::Char('j') => s.next_choice(),
            KeyCode::Up | KeyCode::Char('k') => s.prev_choice(),
            KeyCode::Char(c @ '1'..='9') => s.select(c as usize - '1' as usize),
            KeyCode::Char(' ') => s.toggle_present(),
            KeyCode::Char('m') => s.set_main(),
            KeyCode::Char('+') | KeyCode::Char('=') => s.adjust_objects(1),
            KeyCode::Char('-') => s.adjust_objects(-1),
            KeyCode::Char('0') => s.reset_objects(),
            KeyCode::Enter => match s.save() {
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
                    self.say(text);
                }
                Err(e) => self.fail(e.to_string()),
            },
            KeyCode::Char('u') | KeyCode::Backspace => match s.undo() {
                Ok(Some(e)) => self.say(format!(
                    "undone: your answer on {}; change it and press enter",
                    e.image
                )),
                Ok(None) => self.say("nothing to undo in this session"),
                Err(e) => self.fail(e.to_string()),
            },
            KeyCode::Char(']') | KeyCode::Right => match s.next_image() {
                Ok(true) => {}
                Ok(false) => self.say("this is the last image"),
                Err(e) => self.fail(e.to_string()),
            },
            KeyCode::Char('[') | KeyCode::Left => match s.prev_image() {
                Ok(true) => {}
                Ok(false) => self.say("this is the first image"),
                Err(e) => self.fail(e.to_string()),
            },
            KeyCode::Char('z') if s.image().is_some() => self.mode = ClassifyMode::Zoom,
            KeyCode::Char('?') => self.mode = ClassifyMode::Help,
            KeyCode::Char('q') => self.quit = true,
            _ => {}
        }
    }

    fn name(&self, key: &str) -> String {
        self.session
            .vocab()
            .get(key)
            .map_or_else(|| key.to_string(), |c| c.name.clone())
    }

    fn draw_header(&self, frame: &mut Frame<'_>, area: Rect) {
        let s = &self.session;
        let sep = || Span::raw(" │ ").muted();
        let mut spans = vec![
            Span::raw(" labelvet ").bold().accent(),
            sep(),
            Span::raw(self.project_name.clone()),
            sep(),
            Span::raw("annotator "),
            Span::raw(s.annotator().to_string()).bold(),
            sep(),
            Span::raw(format!("classify: {}", s.describe())),
        ];
        if let Some(img) = s.image() {
            let (pos, n) = s.position();
            spans.extend([
                sep(),
                Span::raw(format!("image {}/{n} ", pos + 1)),
                Span::raw(img.key().to_string()).bold(),
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
        let title = format!(" {} ", img.key());
        let block = Block::bordered()
            .title(Line::from(title).muted())
            .border_style(theme::style(Role::Muted));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let req = self.request(id, inner);
        draw_picture(
            self.pictures.want(req),
            frame,
            inner,
            Some("] goes to the next image".into()),
        );
        for id in self.session.upcoming(PREFETCH) {
            let req = self.request(id, inner);
            self.pictures.want(req);
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
            Line::from(" keep the labels that are separate objects; m marks the main one").muted(),
            Line::default(),
        ];
        for (i, c) in img.choices.iter().enumerate() {
            let here = i == s.cursor();
            let is_main = img.main == Some(i);
            let mut spans = vec![
                Span::raw(if here { "▶ " } else { "  " }).accent().bold(),
                Span::raw(format!("{} ", i + 1)).muted(),
                if c.present {
                    Span::raw("[x] ").yes().bold()
                } else {
                    Span::raw("[ ] ").muted()
                },
                Span::raw(c.name.clone()),
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

        let auto = if img.objects.is_some() {
            Span::raw("  (set; 0 follows the labels again)").muted()
        } else {
            Span::raw("  (the labels present; +/- to change)").muted()
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
            about.push(Line::from(c.name.clone()).bold());
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
        let line = status_line(
            self.message(),
            "j/k move · space present · m main · +/- objects · enter save · u undo · \
             ]/[ image · z zoom · ? help · q quit",
        );
        frame.render_widget(Paragraph::new(line), area);
    }

    fn draw_help(&self, frame: &mut Frame<'_>, area: Rect) {
        keys_popup(
            frame,
            area,
            "classify keys",
            &[
                ("j/k ↓↑ 1-9", "move between the labels"),
                ("space", "the label is / is not there as a separate object"),
                ("m", "the label under the cursor is the main object"),
                ("+ / -", "more / fewer objects in the image"),
                (
                    "0",
                    "the number of objects follows the labels present again",
                ),
                ("enter", "save the answer and go to the next image"),
                ("u", "undo this session's last answer"),
                ("] / [", "next / previous image without saving"),
                ("z", "zoom: the image alone, full screen"),
                ("?", "this help"),
                ("q", "quit (saved answers stay saved)"),
            ],
            &[
                "The labels are the image's valid set. A label that is part of another object",
                "(a suit on the groom) is not a separate object: take it away with space.",
            ],
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
            let [image_area, hint] =
                Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
            let current = self
                .session
                .image()
                .map(|i| (i.image.id, i.image.rec.key.clone()));
            if let Some((id, _)) = &current {
                let area_box = self.pictures.encoder().area_box(image_area);
                let mut req = self.request(*id, image_area);
                req.view = self.magnifier.view_for(*id, area_box);
                draw_picture(
                    self.pictures.want(req),
                    frame,
                    image_area,
                    Some(String::new()),
                );
            }
            let key = current.map(|(_, k)| k).unwrap_or_default();
            self.magnifier
                .hint(frame, hint, &key, &[("space", "present"), ("m", "main")]);
            self.pictures.send();
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
        self.pictures.send();
    }

    fn take_images(&mut self) -> bool {
        self.pictures.take()
    }

    fn handle_key(&mut self, key: KeyEvent) {
        if !super::screen_key(&key, &mut self.quit) {
            return;
        }
        self.message = None;
        match self.mode {
            ClassifyMode::Normal => self.normal_key(key),
            ClassifyMode::Help => match key.code {
                KeyCode::Char('?') | KeyCode::Esc => self.mode = ClassifyMode::Normal,
                KeyCode::Char('q') => self.quit = true,
                _ => {}
            },
            ClassifyMode::Zoom => {
                let dims = self
                    .session
                    .image()
                    .and_then(|i| Some((i.image.rec.width?, i.image.rec.height?)));
                if self.magnifier.key(&key, dims) {
                    return;
                }
                match key.code {
                    KeyCode::Char('z') | KeyCode::Esc => {
                        self.mode = ClassifyMode::Normal;
                        self.magnifier.reset();
                    }
                    // The answer keys of the labels under the cursor stay; the magnifier has
                    // + - 0 and the arrows, so the cursor moves by 1-9 and the count waits.
                    KeyCode::Char(' ' | 'm' | '1'..='9' | 'q') | KeyCode::Enter => {
                        self.normal_key(key);
                    }
                    _ => {}
                }
            }
        }
    }

    fn should_quit(&self) -> bool {
        self.quit
    }
}
