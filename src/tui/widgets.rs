//! The drawing pieces the three screens share: the four rows every screen has, the picture in
//! an area (or why it cannot be shown), a label's meaning, progress lines, key popups. Each
//! screen's own layout lives with the screen (`view` for the question screen, `grid`,
//! `classify`); what two screens draw alike is drawn here once.

use super::images::Picture;
use super::theme::{self, Role, Themed as _};
use crate::vocab::Class;
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui_image::Image;

/// Below this the layout cannot show an image and a readable label side by side.
pub const MIN_WIDTH: u16 = 60;

pub const MIN_HEIGHT: u16 = 16;

pub fn too_small(frame: &mut Frame<'_>, area: Rect) {
    let text = format!(
        "labelvet needs a terminal of at least {MIN_WIDTH}×{MIN_HEIGHT}; this one is {}×{}. \
         Enlarge it to go on (q quits).",
        area.width, area.height
    );
    let h = 4.min(area.height);
    let y = area.y + area.height.saturating_sub(h) / 2;
    frame.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true })
            .warn(),
        Rect::new(area.x, y, area.width, h),
    );
}

pub fn centered_text(frame: &mut Frame<'_>, area: Rect, lines: Vec<Line<'_>>) {
    let inner_w = area.width.saturating_sub(4).max(1);
    let h: u16 = lines
        .iter()
        .map(|l| (l.width() as u16).div_ceil(inner_w).max(1))
        .sum::<u16>()
        .min(area.height);
    let y = area.y + (area.height - h) / 2;
    frame.render_widget(
        Paragraph::new(lines)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: false }),
        Rect::new(area.x + 2, y, inner_w, h),
    );
}

/// Text from the project (a vocabulary, a merged file) as the screens draw it: every character
/// a terminal would obey written as a visible escape (`crate::text::display`), so that an
/// `ESC ] 52` in a guideline cannot write the clipboard nor `ESC [ 2 J` clear the panel.
pub fn safe(s: &str) -> String {
    crate::text::display(s).into_owned()
}

/// What a class means: synonyms, its place in the hierarchy, key, definition and guideline.
pub fn class_lines(c: &Class) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if !c.synonyms.is_empty() {
        lines.push(Line::from(vec![
            Span::raw("also: ").muted(),
            Span::raw(safe(&c.synonyms.join(", "))),
        ]));
    }
    if !c.path.is_empty() {
        lines.push(Line::from(safe(&c.short_path(4))).accent());
    }
    lines.push(Line::from(Span::raw(safe(&c.key)).muted()));
    if !c.definition.is_empty() {
        lines.push(Line::default());
        lines.push(Line::from(safe(&c.definition)).italic());
    }
    if !c.guideline.is_empty() {
        lines.push(Line::default());
        lines.push(Line::from(vec![
            Span::raw("Guideline: ").warn().bold(),
            Span::raw(safe(&c.guideline)),
        ]));
    }
    lines
}

/// Rows `lines` take when word-wrapped to `width` (an upper bound: words are not split).
pub fn wrapped_height(lines: &[Line<'_>], width: u16) -> u16 {
    let width = usize::from(width.max(1));
    lines
        .iter()
        .map(|l| {
            let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            let mut rows = 1;
            let mut used = 0;
            for word in text.split(' ') {
                let w = word.chars().count();
                let need = if used == 0 { w } else { used + 1 + w };
                if need <= width {
                    used = need;
                } else {
                    rows += 1 + w.saturating_sub(1) / width;
                    used = w % width;
                }
            }
            rows as u16
        })
        .sum()
}

/// A loaded picture centred in `area`; a placeholder while it loads or when it cannot be shown.
/// A thumbnail (`hint` `None`) says why in two short lines; a full-size image says it in full,
/// with `hint` on what to do.
pub fn draw_picture(
    picture: Option<&Result<Picture, String>>,
    frame: &mut Frame<'_>,
    area: Rect,
    hint: Option<String>,
) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    match picture {
        None => centered_text(frame, area, vec![Line::from("loading...").muted()]),
        Some(Ok(picture)) => {
            let size = picture.size();
            let w = size.width.min(area.width);
            let h = size.height.min(area.height);
            let at = Rect::new(
                area.x + (area.width - w) / 2,
                area.y + (area.height - h) / 2,
                w,
                h,
            );
            match picture {
                Picture::Halfblocks(h) => h.render(at, frame.buffer_mut()),
                Picture::Symbols(s) => s.render(at, frame.buffer_mut()),
                Picture::Cells(p) => frame.render_widget(Image::new(p), at),
                Picture::Kitty(k) => super::kitty::place(k, at, frame.buffer_mut()),
            }
        }
        Some(Err(reason)) => match hint {
            None => centered_text(
                frame,
                area,
                vec![
                    Line::from("⚠ cannot show").error().bold(),
                    Line::from(reason.clone()).muted(),
                ],
            ),
            Some(hint) => centered_text(
                frame,
                area,
                vec![
                    Line::from("⚠ cannot show this image").error().bold(),
                    Line::default(),
                    Line::from(reason.clone()),
                    Line::default(),
                    Line::from(hint).muted(),
                ],
            ),
        },
    }
}

/// As many of `words` as fit in `width` columns, space-separated, then `+N` for the N left out
/// (within the width too, dropping words to make room for it).
pub fn fit_words(words: &[String], width: usize) -> String {
    let len = |ws: &[String]| ws.iter().map(|w| w.chars().count() + 1).sum::<usize>();
    if len(words).saturating_sub(1) <= width {
        return words.join(" ");
    }
    let mut n = words.len();
    while n > 0 {
        n -= 1;
        let more = format!("+{}", words.len() - n);
        if len(&words[..n]) + more.chars().count() <= width {
            let mut out = words[..n].to_vec();
            out.push(more);
            return out.join(" ");
        }
    }
    String::new()
}

/// A progress line: `label`, then a bar over the rest of the width, `fraction` of it done.
pub fn progress_bar(frame: &mut Frame<'_>, area: Rect, label: String, fraction: f64) {
    // Thick for done, thin for open: readable without colour too (tmux captures, screenshots).
    let bar_w = usize::from(area.width).saturating_sub(label.chars().count() + 1);
    let done = ((bar_w as f64) * fraction.clamp(0.0, 1.0)).round() as usize;
    let line = Line::from(vec![
        Span::raw(label),
        Span::raw("━".repeat(done)).yes(),
        Span::raw("─".repeat(bar_w - done)).muted(),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

/// The progress line of the grid and classify screens: `done` of `total` images, answers this
/// session, and the pace once there is one.
pub fn images_progress(
    frame: &mut Frame<'_>,
    area: Rect,
    (done, total): (usize, usize),
    what: &str,
    session_answers: u64,
    per_hour: Option<f64>,
) {
    let fraction = if total == 0 {
        1.0
    } else {
        done as f64 / total as f64
    };
    let mut label = format!(
        " {done}/{total} images {what} ({:.0}%) · {session_answers} answer{} this session",
        fraction * 100.0,
        if session_answers == 1 { "" } else { "s" }
    );
    if let Some(rate) = per_hour {
        let left = total.saturating_sub(done) as f64 / rate * 3600.0;
        label.push_str(&format!(
            " · {rate:.0}/h · {} left",
            short_duration(std::time::Duration::from_secs_f64(left))
        ));
    }
    label.push_str("  ");
    progress_bar(frame, area, label, fraction);
}

/// The four rows of every annotation screen: header, body, progress, status.
pub fn screen_rows(area: Rect) -> [Rect; 4] {
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// The label's name, large on a band, as the one-question and grid screens ask about it.
pub fn name_band(frame: &mut Frame<'_>, area: Rect, name: String) {
    frame.render_widget(
        Paragraph::new(vec![
            Line::default(),
            Line::from(name).centered(),
            Line::default(),
        ])
        .style(theme::current().band()),
        area,
    );
}

/// The status line of the grid and classify screens: the message, or the key hints.
pub fn status_line(message: Option<(&str, bool)>, hints: &str) -> Line<'static> {
    match message {
        Some((m, true)) => Line::from(format!(" {m}")).error().bold(),
        Some((m, false)) => Line::from(format!(" {m}")).warn(),
        None => Line::from(format!(" {hints}")).muted(),
    }
}

/// A key list over the screen, `width` columns at most: `rows` of (keys, what they do), then
/// `notes`, then `closing` (how to close it), dimmed.
pub fn keys_popup(
    frame: &mut Frame<'_>,
    area: Rect,
    title: &str,
    rows: &[(String, String)],
    notes: &[&str],
    closing: &str,
    width: u16,
) {
    let key_w = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(4);
    let mut lines: Vec<Line<'_>> = rows
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::raw(format!(" {k:>key_w$}  ")).bold().accent(),
                Span::raw(what.as_str()),
            ])
        })
        .collect();
    lines.push(Line::default());
    lines.extend(notes.iter().map(|n| Line::from(format!(" {n}"))));
    lines.push(Line::from(format!(" {closing}")).muted());
    let rect = popup(area, width, lines.len() as u16 + 2);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .title(Line::from(format!(" {title} ")).bold())
                .border_style(theme::style(Role::Accent)),
        ),
        rect,
    );
}

/// `2h 58m`, `14m`, `<1m`.
pub fn short_duration(d: std::time::Duration) -> String {
    let mins = d.as_secs() / 60;
    match (mins / 60, mins % 60) {
        (0, 0) => "<1m".into(),
        (0, m) => format!("{m}m"),
        (h, m) if h < 100 => format!("{h}h {m:02}m"),
        (h, _) => format!("{h}h"),
    }
}

/// A `w`×`h` rectangle centred in `area`, a margin inside it.
pub fn popup(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width.saturating_sub(2));
    let h = h.min(area.height.saturating_sub(2));
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations_read_short() {
        assert_eq!(short_duration(Duration::from_secs(30)), "<1m");
        assert_eq!(short_duration(Duration::from_secs(14 * 60 + 5)), "14m");
        assert_eq!(
            short_duration(Duration::from_secs(2 * 3600 + 58 * 60)),
            "2h 58m"
        );
        assert_eq!(short_duration(Duration::from_secs(250 * 3600)), "250h");
    }
}
