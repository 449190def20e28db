//! The grid screen (`labelvet annotate --grid --label KEY`): a page of thumbnails, one label, one
//! key per image. State and keys here, drawing below; the logic lives in
//! [`GridSession`], so tests drive it without a terminal. The keys are the keymap's `[grid]`
//! table ([`GridAction`]), so a remapped key is what the side panel, status line and help show.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph, Wrap};

use super::images::Encoder;
use super::images::Source;
use super::keymap::{GridAction, Keymap, Keys};
use super::screen::{AppOptions, Message, Screen, ScreenBase, separator};
use super::theme::{self, Role, Themed as _};
use super::widgets::{
    MIN_HEIGHT, MIN_WIDTH, class_lines, draw_picture, images_progress, keys_popup, name_band, safe,
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
    base: ScreenBase,
    session: GridSession,
    mode: GridMode,
    /// Columns of the last drawn page, for up and down.
    columns: usize,
    /// Index in [`CELL_SIZES`].
    size: usize,
}

impl GridApp {
    /// A grid over `session`, with the keymap's `[grid]` keys. `wake` is called from the image
    /// thread when a thumbnail is ready.
    pub fn new(
        session: GridSession,
        keys: Keymap,
        encoder: Encoder,
        opts: AppOptions,
        wake: Box<dyn Fn() + Send>,
    ) -> GridApp {
        GridApp {
            base: ScreenBase::new(keys, encoder, opts, wake, 128),
            session,
            mode: GridMode::Normal,
            columns: 1,
            size: 0,
        }
    }

    pub fn session(&self) -> &GridSession {
        &self.session
    }

    pub fn mode(&self) -> GridMode {
        self.mode
    }

    pub fn message(&self) -> Option<&Message> {
        self.base.message.as_ref()
    }

    /// Waits until every requested thumbnail is loaded (or `timeout`).
    pub fn settle(&mut self, timeout: Duration) -> bool {
        self.base.settle(timeout)
    }

    fn keys(&self) -> &Keys<GridAction> {
        &self.base.keys.grid
    }

    fn path(&self, id: i64) -> Result<Source, String> {
        let known = self
            .session
            .page()
            .iter()
            .find(|c| c.image.id == id)
            .map(|c| &c.image.rec);
        self.base.path(id, known, |id| self.session.image_by_id(id))
    }

    fn act(&mut self, action: GridAction) {
        let cols = self.columns;
        let s = &mut self.session;
        match action {
            GridAction::Left => s.move_cursor(-1, 0, cols),
            GridAction::Right => s.move_cursor(1, 0, cols),
            GridAction::Up => s.move_cursor(0, -1, cols),
            GridAction::Down => s.move_cursor(0, 1, cols),
            GridAction::Contains => s.toggle(),
            GridAction::Maybe => s.toggle_mark(Mark::Maybe),
            GridAction::LeaveOpen => s.toggle_mark(Mark::Skip),
            GridAction::MarkAll => {
                let all_yes = s.page().iter().all(|c| c.mark == Mark::Yes);
                s.mark_all(if all_yes { Mark::No } else { Mark::Yes });
            }
            GridAction::SavePage => self.commit(),
            GridAction::UndoPage => match s.undo_page() {
                Ok(Some(n)) => self.base.say(format!(
                    "undone: the last page's {n} answer{}; its marks are back",
                    if n == 1 { "" } else { "s" }
                )),
                Ok(None) => self.base.say("no committed page to undo in this session"),
                Err(e) => self.base.fail(e.to_string()),
            },
            GridAction::Larger => self.size = (self.size + 1).min(CELL_SIZES.len() - 1),
            GridAction::Smaller => self.size = self.size.saturating_sub(1),
            GridAction::Zoom => {
                if !s.page().is_empty() {
                    self.mode = GridMode::Zoom;
                }
            }
            GridAction::Help => self.mode = GridMode::Help,
            GridAction::Quit => {
                if s.page().iter().any(|c| c.mark != Mark::No) {
                    self.mode = GridMode::ConfirmQuit;
                } else {
                    self.base.quit = true;
                }
            }
        }
    }

    fn unzoom(&mut self) {
        self.mode = GridMode::Normal;
        self.base.magnifier.reset();
    }

    fn commit(&mut self) {
        if self.session.is_finished() {
            self.base.say(match self.session.left_open() {
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
                self.base.say(text);
            }
            Err(e) => self.base.fail(e.to_string()),
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
            self.base.fail(e.to_string());
        }
        if self.session.is_finished() {
            let (_, total) = self.session.images_position();
            let text = if total == 0 {
                format!(
                    "No open image has {} as a candidate in your queue.",
                    safe(&self.session.class().name)
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
            let short = safe(&short_name(&key, 17));
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
            let path = self.path(id);
            draw_picture(self.base.fit(id, path, thumb), frame, thumb, None);
        }
        // The next page, at the size of a cell, so that turning the page shows it at once.
        if let Some(area) = thumb_area {
            for id in self.session.next_page_ids() {
                let path = self.path(id);
                self.base.fit(id, path, area);
            }
        }
    }

    fn draw_side(&self, frame: &mut Frame<'_>, area: Rect) {
        let class = self.session.class();
        let block = Block::bordered()
            .title(Line::from(" Does the image contain a ... ? ").bold())
            .border_style(theme::style(Role::Accent));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        if inner.height < 3 {
            return;
        }
        let [band, details] =
            Layout::vertical([Constraint::Length(3), Constraint::Min(0)]).areas(inner);
        name_band(frame, band, safe(&class.name));
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
        let k = self.keys();
        let zoom_help_quit = format!(
            "zoom · {} help · {} quit",
            k.first(GridAction::Help),
            k.first(GridAction::Quit)
        );
        for (keys, what) in [
            (k.first(GridAction::Contains), "contains / not"),
            (k.first(GridAction::Maybe), "maybe"),
            (k.first(GridAction::LeaveOpen), "leave open"),
            (k.first(GridAction::MarkAll), "mark all / none"),
            (
                k.joined(&[GridAction::Larger, GridAction::Smaller]),
                "larger / smaller thumbnails",
            ),
            (
                k.first(GridAction::SavePage),
                "save the page: marked yes, others no",
            ),
            (k.first(GridAction::UndoPage), "undo the last saved page"),
            (k.first(GridAction::Zoom), zoom_help_quit.as_str()),
        ] {
            lines.push(Line::from(vec![
                Span::raw(format!("{keys:>6} ")).bold().accent(),
                Span::raw(what.to_string()),
            ]));
        }
        frame.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: true }),
            details.inner(ratatui::layout::Margin::new(1, 1)),
        );
    }

    fn draw_header(&self, frame: &mut Frame<'_>, area: Rect) {
        let s = &self.session;
        let sep = separator;
        let (page, pages) = s.page_position();
        let mut spans = self.base.header(s.annotator());
        spans.extend([
            sep(),
            Span::raw("grid: "),
            Span::raw(format!(
                "{} ({})",
                safe(&s.class().name),
                safe(&s.class().key)
            ))
            .bold(),
        ]);
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
        let k = self.keys();
        let line = if self.mode == GridMode::ConfirmQuit {
            Line::from(format!(
                " this page is not saved: {} saves it, {} again quits without it, esc goes back",
                k.first(GridAction::SavePage),
                k.first(GridAction::Quit)
            ))
            .warn()
            .bold()
        } else {
            use GridAction::*;
            let hints = [
                (k.joined(&[Left, Down, Up, Right]), "move"),
                (k.first(Contains), "contains"),
                (k.first(Maybe), "maybe"),
                (k.first(LeaveOpen), "open"),
                (k.first(SavePage), "save page"),
                (k.first(UndoPage), "undo page"),
                (k.first(Zoom), "zoom"),
                (k.first(Help), "help"),
                (k.first(Quit), "quit"),
            ]
            .map(|(key, what)| format!("{key} {what}"))
            .join(" · ");
            status_line(self.base.status_message(), &hints)
        };
        frame.render_widget(Paragraph::new(line), area);
    }

    fn draw_zoom(&mut self, frame: &mut Frame<'_>) {
        let Some(cell) = self.session.page().get(self.session.cursor()) else {
            self.mode = GridMode::Normal;
            return;
        };
        let (id, key) = (cell.image.id, cell.image.rec.key.clone());
        let path = self.path(id);
        let k = self.keys();
        let (contains, maybe) = (k.first(GridAction::Contains), k.first(GridAction::Maybe));
        self.base.zoom(
            frame,
            Some((id, key, path)),
            &[(&contains, "contains"), (&maybe, "maybe")],
        );
    }

    fn draw_help(&self, frame: &mut Frame<'_>, area: Rect) {
        use GridAction::*;
        let k = self.keys();
        // The four moves read as one row.
        let mut rows = vec![(
            k.joined(&[Left, Down, Up, Right]),
            "move between images".to_string(),
        )];
        rows.extend(
            k.help_rows()
                .into_iter()
                .skip_while(|(_, what)| what.starts_with("move ")),
        );
        let note = format!(
            "A page is saved whole, in one step; nothing on it is saved before {}.",
            k.first(SavePage)
        );
        let closing = format!("{} or esc closes this help", k.first(Help));
        keys_popup(frame, area, "grid keys", &rows, &[&note], &closing, 84);
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
            self.draw_zoom(frame);
            self.base.pictures.send();
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
            GridMode::Normal => {
                if let Some(a) = action {
                    self.act(a);
                }
            }
            GridMode::Help => match action {
                Some(GridAction::Help) => self.mode = GridMode::Normal,
                Some(GridAction::Quit) => self.base.quit = true,
                _ if key.code == KeyCode::Esc => self.mode = GridMode::Normal,
                _ => {}
            },
            GridMode::Zoom => {
                let dims = self
                    .session
                    .page()
                    .get(self.session.cursor())
                    .and_then(|c| Some((c.image.rec.width?, c.image.rec.height?)));
                if self.base.magnifier.key(&key, dims) {
                    return;
                }
                match action {
                    Some(GridAction::Zoom) => self.unzoom(),
                    Some(
                        a @ (GridAction::Contains | GridAction::Maybe | GridAction::LeaveOpen),
                    ) => self.act(a),
                    _ if key.code == KeyCode::Esc => self.unzoom(),
                    _ => {}
                }
            }
            GridMode::ConfirmQuit => {
                self.mode = GridMode::Normal;
                match action {
                    Some(GridAction::Quit) => self.base.quit = true,
                    Some(GridAction::SavePage) => self.commit(),
                    _ => {}
                }
            }
        }
    }

    fn should_quit(&self) -> bool {
        self.base.quit
    }

    fn session_answers(&self) -> u64 {
        self.session.answered()
    }
}

/// The end of an image's file name, which tells images of one folder apart
/// (`...2_val_00000001` for `val/ILSVRC2012_val_00000001.JPEG`). Three dots, not `…`: the
/// fonts of some terminals (xterm's `fixed`) have no glyph for it.
fn short_name(key: &str, width: usize) -> String {
    let name = key.rsplit('/').next().unwrap_or(key);
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let n = stem.chars().count();
    if n <= width {
        stem.to_string()
    } else {
        let tail: String = stem.chars().skip(n - width.saturating_sub(3)).collect();
        format!("...{tail}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_names_keep_the_end_of_the_file_name() {
        assert_eq!(super::short_name("a/b/dog.jpg", 17), "dog");
        assert_eq!(
            super::short_name("val/ILSVRC2012_val_00000001.JPEG", 17),
            "...2_val_00000001"
        );
        assert_eq!(super::short_name("noext", 4), "...t");
    }
}
