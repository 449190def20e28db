//! The grid screen (`labelvet annotate --grid --label KEY`): a page of thumbnails, one label, one
//! key per image. State and keys here, drawing below; the logic lives in
//! [`GridSession`], so tests drive it without a terminal.
//!
//! The keys are fixed rather than read from the keymap: the grid's keys (arrows, space, enter)
//! are the ones every grid widget uses, and the one-question keymap's letters mean other things.

use std::path::PathBuf;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Stylize};

use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph, Wrap};

use super::Screen;
use super::images::{Encoder, Pictures, Request, image_path};
use super::magnifier::Magnifier;
use super::theme::{self, Role, Themed as _};
use super::view::{
    MIN_HEIGHT, MIN_WIDTH, class_lines, draw_picture, images_progress, keys_popup, name_band,
    screen_rows, status_line, too_small,
};
use crate::annotate::{GridSession, Mark};

/// The smallest thumbnail cell of each size step (`+`/`-`), borders included; cells stretch to
/// fill the grid. The first is about 20×9 characters of picture.
const CELL_SIZES: [(u16, u16); 4] = [(22, 11), (30, 15), (42, 20), (60, 28)];
const CELL_W: u16 = CELL_SIZES[0].0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GridMode {
    Normal,
    Help,
    /// The image under the cursor, full screen.
    Zoom,
    /// `q` with marks on an uncommitted page: a second `q` quits without them.
    ConfirmQuit,
}

pub struct GridApp {
    session: GridSession,
    project_name: String,
    image_root: Option<PathBuf>,
    pictures: Pictures,
    magnifier: Magnifier,
    mode: GridMode,
    message: Option<(String, bool)>,
    /// Columns of the last drawn page, for up and down.
    columns: usize,
    /// Index in [`CELL_SIZES`].
    size: usize,
    quit: bool,
}

impl GridApp {
    pub fn new(
        session: GridSession,
        encoder: Encoder,
        project_name: String,
        image_root: Option<PathBuf>,
        wake: Box<dyn Fn() + Send>,
    ) -> GridApp {
        GridApp {
            session,
            project_name,
            image_root,
            pictures: Pictures::new(encoder, wake, 128),
            magnifier: Magnifier::default(),
            mode: GridMode::Normal,
            message: None,
            columns: 1,
            size: 0,
            quit: false,
        }
    }

    pub fn session(&self) -> &GridSession {
        &self.session
    }

    pub fn mode(&self) -> GridMode {
        self.mode
    }

    /// The status line's message, and whether it reports an error.
    pub fn message(&self) -> Option<(&str, bool)> {
        self.message.as_ref().map(|(m, e)| (m.as_str(), *e))
    }

    /// Waits until every requested thumbnail is loaded (or `timeout`).
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
            .page()
            .iter()
            .find(|c| c.image.id == id)
            .map(|c| &c.image.rec);
        let path = image_path(self.image_root.as_deref(), id, known, |id| {
            self.session.image_by_id(id)
        });
        Request::fit(id, path, area)
    }

    fn normal_key(&mut self, key: KeyEvent) {
        let cols = self.columns as isize;
        let s = &mut self.session;
        match key.code {
            KeyCode::Left | KeyCode::Char('h') => s.move_cursor(-1, 0, cols as usize),
            KeyCode::Right | KeyCode::Char('l') => s.move_cursor(1, 0, cols as usize),
            KeyCode::Up | KeyCode::Char('k') => s.move_cursor(0, -1, cols as usize),
            KeyCode::Down | KeyCode::Char('j') => s.move_cursor(0, 1, cols as usize),
            KeyCode::Char(' ') => s.toggle(),
            KeyCode::Char('m') => s.toggle_mark(Mark::Maybe),
            KeyCode::Char('x') => s.toggle_mark(Mark::Skip),
            KeyCode::Char('a') => {
                let all_yes = s.page().iter().all(|c| c.mark == Mark::Yes);
                s.mark_all(if all_yes { Mark::No } else { Mark::Yes });
            }
            KeyCode::Enter => self.commit(),
            KeyCode::Char('u') | KeyCode::Backspace => match s.undo_page() {
                Ok(Some(n)) => self.say(format!(
                    "undone: the last page's {n} answer{}; its marks are back",
                    if n == 1 { "" } else { "s" }
                )),
                Ok(None) => self.say("no committed page to undo in this session"),
                Err(e) => self.fail(e.to_string()),
            },
            KeyCode::Char('+') | KeyCode::Char('=') => {
                self.size = (self.size + 1).min(CELL_SIZES.len() - 1);
            }
            KeyCode::Char('-') => self.size = self.size.saturating_sub(1),
            KeyCode::Char('z') if !s.page().is_empty() => self.mode = GridMode::Zoom,
            KeyCode::Char('?') => self.mode = GridMode::Help,
            KeyCode::Char('q') => {
                if s.page().iter().any(|c| c.mark != Mark::No) {
                    self.mode = GridMode::ConfirmQuit;
                } else {
                    self.quit = true;
                }
            }
            _ => {}
        }
    }

    fn commit(&mut self) {
        if self.session.is_finished() {
            self.say(match self.session.left_open() {
                0 => "every image of this grid is answered; q quits".to_string(),
                n => format!("every page is saved, {n} left open; q quits"),
            });
            return;
        }
        match self.session.commit_page() {
            Ok(c) => {
                let mut text = format!("saved: {} yes, {} no", c.yes, c.no);
                if c.maybe > 0 {
                    text.push_str(&format!(", {} maybe", c.maybe));
                }
                if c.skipped > 0 {
                    text.push_str(&format!(", {} left open", c.skipped));
                }
                if c.finished {
                    text.push_str(" · that was the last page; u undoes it, q quits");
                }
                self.say(text);
            }
            Err(e) => self.fail(e.to_string()),
        }
    }

    fn draw_grid(&mut self, frame: &mut Frame<'_>, area: Rect) {
        let block = Block::bordered().border_style(theme::style(Role::Muted));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let (cell_w, cell_h) = CELL_SIZES[self.size];
        let cols = usize::from((inner.width / cell_w).max(1));
        let rows = usize::from((inner.height / cell_h).max(1));
        self.columns = cols;
        if let Err(e) = self.session.set_page_size(cols * rows) {
            self.fail(e.to_string());
        }
        if self.session.is_finished() {
            let (_, total) = self.session.images_position();
            let text = if total == 0 {
                format!(
                    "No open image has {} as a candidate in your queue.",
                    self.session.class().name
                )
            } else {
                match self.session.left_open() {
                    0 => "Every image of this grid is answered. u undoes the last page, q quits."
                        .into(),
                    n => format!(
                        "Every page of this grid is saved, with {n} image{} left open (x): \
                         open the grid again to judge {}. u undoes the last page, q quits.",
                        if n == 1 { "" } else { "s" },
                        if n == 1 { "it" } else { "them" }
                    ),
                }
            };
            frame.render_widget(
                Paragraph::new(text).wrap(Wrap { trim: true }).muted(),
                inner.inner(ratatui::layout::Margin::new(2, 1)),
            );
            return;
        }
        // Cells share the whole grid, so a wide terminal gets larger thumbnails, not a margin.
        let row_areas =
            Layout::vertical(vec![Constraint::Ratio(1, rows as u32); rows]).split(inner);
        let mut thumb_area = None;
        let cells: Vec<(i64, String, Mark)> = self
            .session
            .page()
            .iter()
            .map(|c| (c.image.id, c.image.rec.key.clone(), c.mark))
            .collect();
        for (i, (id, key, mark)) in cells.into_iter().enumerate() {
            let row = row_areas[i / cols];
            let col_areas =
                Layout::horizontal(vec![Constraint::Ratio(1, cols as u32); cols]).split(row);
            let cell = col_areas[i % cols];
            let current = i == self.session.cursor();
            let (color, label) = match mark {
                Mark::Yes => (Role::Yes, "✓ yes"),
                Mark::Maybe => (Role::Maybe, "? maybe"),
                Mark::Skip => (Role::Muted, "– open"),
                Mark::No => (Role::Muted, ""),
            };
            let mut style = theme::style(color);
            if current {
                style = style.add_modifier(Modifier::BOLD);
            }
            let short = short_name(&key, 17);
            let mut b = Block::bordered()
                .border_type(if current {
                    BorderType::Thick
                } else if mark == Mark::Yes {
                    BorderType::Double
                } else {
                    BorderType::Plain
                })
                .border_style(if current {
                    style.patch(theme::style(if mark == Mark::No {
                        Role::Accent
                    } else {
                        color
                    }))
                } else {
                    style
                })
                .title(Line::from(format!("{}", i + 1)).bold())
                .title(Line::from(format!(" {short} ")).muted());
            if !label.is_empty() {
                b = b.title_bottom(Line::from(format!(" {label} ")).role(color).bold());
            }
            let thumb = b.inner(cell);
            frame.render_widget(b, cell);
            thumb_area.get_or_insert(thumb);
            let req = self.request(id, thumb);
            draw_picture(self.pictures.want(req), frame, thumb, None);
        }
        // The next page, at the size of a cell, so that turning the page shows it at once.
        if let Some(area) = thumb_area {
            for id in self.session.next_page_ids() {
                let req = self.request(id, area);
                self.pictures.want(req);
            }
        }
    }

    fn draw_side(&self, frame: &mut Frame<'_>, area: Rect) {
        let class = self.session.class();
        let block = Block::bordered()
            .title(Line::from(" Does the image contain a … ? ").bold())
            .border_style(theme::style(Role::Accent));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        if inner.height < 3 {
            return;
        }
        let [band, details] =
            Layout::vertical([Constraint::Length(3), Constraint::Min(0)]).areas(inner);
        name_band(frame, band, class.name.clone());
        let mut lines = class_lines(class);
        let page = self.session.page();
        let count = |m: Mark| page.iter().filter(|c| c.mark == m).count();
        lines.push(Line::default());
        lines.push(Line::from(vec![
            Span::raw("this page: ").muted(),
            Span::raw(format!("{} yes", count(Mark::Yes))).yes().bold(),
            Span::raw(" · "),
            Span::raw(format!("{} no", count(Mark::No))).error(),
            Span::raw(" · "),
            Span::raw(format!("{} maybe", count(Mark::Maybe))).warn(),
            Span::raw(" · "),
            Span::raw(format!("{} open", count(Mark::Skip))).muted(),
        ]));
        lines.push(Line::default());
        for (k, what) in [
            ("space", "contains / not"),
            ("m", "maybe"),
            ("x", "leave open"),
            ("a", "mark all / none"),
            ("+/-", "larger / smaller thumbnails"),
            ("enter", "save the page: marked yes, others no"),
            ("u", "undo the last saved page"),
            ("z", "zoom · ? help · q quit"),
        ] {
            lines.push(Line::from(vec![
                Span::raw(format!("{k:>6} ")).bold().accent(),
                Span::raw(what),
            ]));
        }
        frame.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: true }),
            details.inner(ratatui::layout::Margin::new(1, 1)),
        );
    }

    fn draw_header(&self, frame: &mut Frame<'_>, area: Rect) {
        let s = &self.session;
        let sep = || Span::raw(" │ ").muted();
        let (page, pages) = s.page_position();
        let mut spans = vec![
            Span::raw(" labelvet ").bold().accent(),
            sep(),
            Span::raw(self.project_name.clone()),
            sep(),
            Span::raw("annotator "),
            Span::raw(s.annotator().to_string()).bold(),
            sep(),
            Span::raw("grid: "),
            Span::raw(format!("{} ({})", s.class().name, s.class().key)).bold(),
        ];
        if !s.filters().is_empty() {
            spans.extend([sep(), Span::raw(format!("queue: {}", s.filters()))]);
        }
        if s.is_finished() {
            spans.extend([sep(), Span::raw("grid done").yes().bold()]);
        } else {
            spans.extend([sep(), Span::raw(format!("page {}/{pages}", page + 1))]);
        }
        frame.render_widget(Paragraph::new(Line::from(spans)), area);
    }

    fn draw_progress(&self, frame: &mut Frame<'_>, area: Rect) {
        let s = &self.session;
        images_progress(
            frame,
            area,
            s.images_done(),
            "done",
            s.answered(),
            s.per_hour(),
        );
    }

    fn draw_status(&self, frame: &mut Frame<'_>, area: Rect) {
        let line = if self.mode == GridMode::ConfirmQuit {
            Line::from(
                " this page is not saved: enter saves it, q again quits without it, esc goes back",
            )
            .warn()
            .bold()
        } else {
            status_line(
                self.message(),
                "←↓↑→/hjkl move · space contains · m maybe · x open · enter save page · \
                 u undo page · z zoom · ? help · q quit",
            )
        };
        frame.render_widget(Paragraph::new(line), area);
    }

    fn draw_zoom(&mut self, frame: &mut Frame<'_>, area: Rect) {
        let [image_area, hint_area] =
            Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
        let Some(cell) = self.session.page().get(self.session.cursor()) else {
            self.mode = GridMode::Normal;
            return;
        };
        let (id, key) = (cell.image.id, cell.image.rec.key.clone());
        let area_box = self.pictures.encoder().area_box(image_area);
        let mut req = self.request(id, image_area);
        req.view = self.magnifier.view_for(id, area_box);
        draw_picture(
            self.pictures.want(req),
            frame,
            image_area,
            Some(String::new()),
        );
        self.magnifier.hint(
            frame,
            hint_area,
            &key,
            &[("space", "contains"), ("m", "maybe")],
        );
    }

    fn draw_help(&self, frame: &mut Frame<'_>, area: Rect) {
        keys_popup(
            frame,
            area,
            "grid keys",
            &[
                ("←↓↑→ hjkl", "move between images"),
                (
                    "space",
                    "contains: the image shows the label (again: back to no)",
                ),
                ("m", "maybe: cannot tell"),
                ("x", "leave the image open: no answer now"),
                ("a", "mark every image of the page (again: none)"),
                (
                    "+ / -",
                    "larger / smaller thumbnails (fewer / more on a page)",
                ),
                ("enter", "save the page: marked images yes, unmarked no"),
                ("u", "undo the last saved page: its answers are retracted"),
                ("z", "zoom: the image under the cursor, full screen"),
                ("?", "this help"),
                ("q", "quit (saved pages stay saved)"),
            ],
            &["A page is saved whole, in one step; nothing on it is saved before enter."],
        );
    }
}

impl Screen for GridApp {
    fn draw(&mut self, frame: &mut Frame<'_>) {
        let area = frame.area();
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            too_small(frame, area);
            return;
        }
        if self.mode == GridMode::Zoom {
            self.draw_zoom(frame, area);
            self.pictures.send();
            return;
        }
        let [header, body, progress, status] = screen_rows(area);
        let side_w = (area.width / 4).clamp(30, 48);
        let [grid, side] =
            Layout::horizontal([Constraint::Min(CELL_W), Constraint::Length(side_w)]).areas(body);
        self.draw_grid(frame, grid);
        self.draw_header(frame, header);
        self.draw_side(frame, side);
        self.draw_progress(frame, progress);
        self.draw_status(frame, status);
        if self.mode == GridMode::Help {
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
            GridMode::Normal => self.normal_key(key),
            GridMode::Help => {
                if !matches!(key.code, KeyCode::Char('?') | KeyCode::Esc) {
                    self.mode = GridMode::Help;
                    if key.code == KeyCode::Char('q') {
                        self.quit = true;
                    }
                } else {
                    self.mode = GridMode::Normal;
                }
            }
            GridMode::Zoom => {
                let dims = self
                    .session
                    .page()
                    .get(self.session.cursor())
                    .and_then(|c| Some((c.image.rec.width?, c.image.rec.height?)));
                if self.magnifier.key(&key, dims) {
                    return;
                }
                match key.code {
                    KeyCode::Char('z') | KeyCode::Esc => {
                        self.mode = GridMode::Normal;
                        self.magnifier.reset();
                    }
                    KeyCode::Char(' ') => self.session.toggle(),
                    KeyCode::Char('m') => self.session.toggle_mark(Mark::Maybe),
                    KeyCode::Char('x') => self.session.toggle_mark(Mark::Skip),
                    _ => {}
                }
            }
            GridMode::ConfirmQuit => {
                self.mode = GridMode::Normal;
                match key.code {
                    KeyCode::Char('q') => self.quit = true,
                    KeyCode::Enter => self.commit(),
                    _ => {}
                }
            }
        }
    }

    fn should_quit(&self) -> bool {
        self.quit
    }
}

/// The end of an image's file name, which tells images of one folder apart
/// (`…2012_val_00000001` for `val/ILSVRC2012_val_00000001.JPEG`).
fn short_name(key: &str, width: usize) -> String {
    let name = key.rsplit('/').next().unwrap_or(key);
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let n = stem.chars().count();
    if n <= width {
        stem.to_string()
    } else {
        let tail: String = stem.chars().skip(n - (width - 1)).collect();
        format!("…{tail}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_names_keep_the_end_of_the_file_name() {
        assert_eq!(super::short_name("a/b/dog.jpg", 17), "dog");
        assert_eq!(
            super::short_name("val/ILSVRC2012_val_00000001.JPEG", 17),
            "…012_val_00000001"
        );
        assert_eq!(super::short_name("noext", 3), "…xt");
    }
}
