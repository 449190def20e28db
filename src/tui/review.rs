//! The expert's review screen (`labelvet annotate --review`): one disputed question at a time,
//! the image beside the label and the annotators' yes / no / maybe counts (their names only with
//! `--show-annotators`), and the expert's y / n / m as a verdict. The logic is in
//! [`ReviewSession`]; this draws it and maps the question screen's keys: the answer keys give
//! the verdict, undo takes the last one back, the candidate and image keys move between
//! questions.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::images::Encoder;
use super::images::Source;
use super::keymap::{Action, Keymap, Keys};
use super::screen::{AppOptions, Message, Screen, ScreenBase, separator};
use super::theme::{self, Role, Themed as _};
use super::widgets::{
    MIN_HEIGHT, MIN_WIDTH, class_lines, draw_picture, safe, screen_rows, status_line, too_small,
};
use crate::annotate::ReviewSession;
use crate::store::Answer;

/// Images loaded ahead of the current one.
const PREFETCH: usize = 2;

pub struct ReviewApp {
    base: ScreenBase,
    session: ReviewSession,
    show_annotators: bool,
    zoom: bool,
}

impl ReviewApp {
    pub fn new(
        session: ReviewSession,
        show_annotators: bool,
        keys: Keymap,
        encoder: Encoder,
        opts: AppOptions,
        wake: Box<dyn Fn() + Send>,
    ) -> ReviewApp {
        ReviewApp {
            base: ScreenBase::new(keys, encoder, opts, wake, 6),
            session,
            show_annotators,
            zoom: false,
        }
    }

    pub fn session(&self) -> &ReviewSession {
        &self.session
    }

    pub fn message(&self) -> Option<&Message> {
        self.base.message.as_ref()
    }

    /// Waits until every requested picture is loaded (or `timeout`). False on timeout.
    pub fn settle(&mut self, timeout: std::time::Duration) -> bool {
        self.base.settle(timeout)
    }

    fn keys(&self) -> &Keys<Action> {
        &self.base.keys.questions
    }

    fn path(&self, id: i64) -> Result<Source, String> {
        self.base.path(id, None, |id| self.session.image_by_id(id))
    }

    fn name(&self, key: &str) -> String {
        let name = self
            .session
            .vocab()
            .get(key)
            .map_or(key, |c| c.name.as_str());
        crate::text::display(name).into_owned()
    }

    fn verdict(&mut self, v: Answer) {
        let Some(q) = self.session.current() else {
            self.base.say("nothing to review");
            return;
        };
        let what = format!("{} on {}", self.name(&q.label), q.image);
        match self.session.verdict(v) {
            Ok(moved) => {
                let mut text = format!("verdict {} saved: {what}", v.as_str());
                if !moved {
                    text.push_str(" · every question has your verdict; q quits");
                }
                self.base.say(text);
            }
            Err(e) => self.base.fail(e.to_string()),
        }
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Yes => self.verdict(Answer::Yes),
            Action::No => self.verdict(Answer::No),
            Action::Maybe => self.verdict(Answer::Maybe),
            Action::Undo => match self.session.undo() {
                Ok(true) => self.base.say("undone: your last verdict; give it again"),
                Ok(false) => self.base.say("nothing to undo in this session"),
                Err(e) => self.base.fail(e.to_string()),
            },
            Action::NextCandidate | Action::NextImage | Action::Skip => self.session.step(true),
            Action::PrevCandidate | Action::PrevImage => self.session.step(false),
            Action::Zoom => self.zoom = self.session.current().is_some(),
            Action::Quit => self.base.quit = true,
            _ => {}
        }
    }

    fn draw_header(&self, frame: &mut Frame<'_>, area: Rect) {
        let s = &self.session;
        let mut spans = self.base.header(s.expert());
        spans.extend([separator(), Span::raw("review").bold()]);
        if let Some(q) = s.current() {
            let (pos, n) = s.position();
            spans.extend([
                separator(),
                Span::raw(format!("question {}/{n} ", pos + 1)),
                Span::raw(q.image.clone()).bold(),
            ]);
        }
        frame.render_widget(Paragraph::new(Line::from(spans)), area);
    }

    fn draw_image(&mut self, frame: &mut Frame<'_>, area: Rect) {
        let Some(q) = self.session.current() else {
            frame.render_widget(
                Paragraph::new(
                    "Nothing to review: no question is disputed (a yes and a no among its \
                     answers). Choose others with --class, --subtree, --uncertain, --needs.",
                )
                .wrap(Wrap { trim: true })
                .block(Block::bordered().border_style(theme::style(Role::Muted))),
                area,
            );
            return;
        };
        let (id, title) = (q.image_id, format!(" {} ", q.image));
        let block = Block::bordered()
            .title(Line::from(title).muted())
            .border_style(theme::style(Role::Muted));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let path = self.path(id);
        draw_picture(self.base.fit(id, path, inner), frame, inner, None);
        for id in self.session.upcoming(PREFETCH) {
            let path = self.path(id);
            self.base.fit(id, path, inner);
        }
    }

    fn draw_side(&self, frame: &mut Frame<'_>, area: Rect) {
        let Some(q) = self.session.current() else {
            return;
        };
        let mut lines = Vec::new();
        match self.session.vocab().get(&q.label) {
            Some(c) => {
                lines.push(
                    Line::from(format!("is there a {} in this image?", safe(&c.name))).bold(),
                );
                lines.extend(class_lines(c));
            }
            None => lines.push(Line::from(format!("label {}", safe(&q.label))).bold()),
        }
        lines.push(Line::default());
        lines.push(Line::from(vec![
            Span::raw("annotators: "),
            Span::raw(format!("{} yes", q.yes)).yes().bold(),
            Span::raw(" · "),
            Span::raw(format!("{} no", q.no)).no().bold(),
            Span::raw(" · "),
            Span::raw(format!("{} maybe", q.maybe)).maybe().bold(),
        ]));
        if self.show_annotators {
            for (who, a) in &q.answers {
                lines.push(Line::from(format!("  {}: {}", safe(who), a.as_str())).muted());
            }
        }
        lines.push(Line::default());
        lines.push(match q.verdict {
            Some(v) => Line::from(format!("your verdict: {}", v.as_str())).yes(),
            None => {
                // The keys as the key bar names them: the user's keymap may differ from y/n/m.
                let k = self.keys();
                Line::from(format!(
                    "your verdict: none yet ({} yes, {} no, {} maybe)",
                    k.first(Action::Yes),
                    k.first(Action::No),
                    k.first(Action::Maybe)
                ))
                .muted()
            }
        });
        frame.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: true }).block(
                Block::bordered()
                    .title(Line::from(" Your verdict decides this question ").bold())
                    .border_style(theme::style(Role::Accent)),
            ),
            area,
        );
    }

    fn draw_status(&self, frame: &mut Frame<'_>, area: Rect) {
        let k = self.keys();
        let n = self.session.position().1;
        let hints = format!(
            "{} verdicts of {n} · {} yes · {} no · {} maybe · {} undo · {} next/previous · {} zoom · {} quit",
            self.session.decided(),
            k.first(Action::Yes),
            k.first(Action::No),
            k.first(Action::Maybe),
            k.first(Action::Undo),
            k.joined(&[Action::NextImage, Action::PrevImage]),
            k.first(Action::Zoom),
            k.first(Action::Quit),
        );
        frame.render_widget(
            Paragraph::new(status_line(self.base.status_message(), &hints)),
            area,
        );
    }
}

impl Screen for ReviewApp {
    fn draw(&mut self, frame: &mut Frame<'_>) {
        let area = frame.area();
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            too_small(frame, area);
            return;
        }
        if self.zoom {
            let current = self
                .session
                .current()
                .map(|q| (q.image_id, q.image.clone()));
            let current = current.map(|(id, key)| (id, key, self.path(id)));
            let k = self.keys();
            let (y, n) = (k.first(Action::Yes), k.first(Action::No));
            self.base
                .zoom(frame, current, &[(&y, "verdict yes"), (&n, "verdict no")]);
            self.base.pictures.send();
            return;
        }
        let [header, body, progress, status] = screen_rows(area);
        let side_w = (area.width * 2 / 5).clamp(40, 84);
        let [image_area, side] =
            Layout::horizontal([Constraint::Min(10), Constraint::Length(side_w)]).areas(body);
        self.draw_header(frame, header);
        self.draw_image(frame, image_area);
        self.draw_side(frame, side);
        let (_, n) = self.session.position();
        frame.render_widget(
            Paragraph::new(format!(
                " {} of {n} questions have your verdict; {} given this session",
                self.session.decided(),
                self.session.session_verdicts()
            ))
            .muted(),
            progress,
        );
        self.draw_status(frame, status);
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
        if self.zoom {
            if self.base.magnifier.key(&key, None) {
                return;
            }
            match action {
                Some(Action::Zoom) => {
                    self.zoom = false;
                    self.base.magnifier.reset();
                }
                Some(a @ (Action::Yes | Action::No | Action::Maybe | Action::Quit)) => self.act(a),
                _ if key.code == KeyCode::Esc => {
                    self.zoom = false;
                    self.base.magnifier.reset();
                }
                _ => {}
            }
            return;
        }
        if let Some(a) = action {
            self.act(a);
        }
    }

    fn should_quit(&self) -> bool {
        self.base.quit
    }

    fn session_answers(&self) -> u64 {
        self.session.session_verdicts()
    }
}
