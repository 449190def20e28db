//! Drawing the question screen: the image as large as the layout allows, the current candidate
//! big with everything that says what the label means, the other candidates with their state,
//! progress, and the keys. Every key name on screen comes from the keymap, so a remapped key is
//! shown as it is.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Padding, Paragraph, Wrap};

use super::app::{App, Mode, Reference};
use super::keymap::{Action, Bindable as _};
use super::screen::separator;
use super::theme::{self, Role, Themed as _};
use super::widgets::{
    MIN_HEIGHT, MIN_WIDTH, centered_text, class_lines, draw_picture, fit_words, keys_popup,
    name_band, popup, progress_bar, safe, screen_rows, short_duration, too_small, wrapped_height,
};
use crate::annotate::{ImageItems, Item, Progress};
use crate::store::{Answer, FlagKind};

pub fn draw(app: &mut App, frame: &mut Frame<'_>) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area);
        return;
    }
    if app.mode == Mode::Zoom {
        zoom(app, frame, area);
        return;
    }
    let [header_area, body, progress_area, status_area] = screen_rows(area);
    let side_w = (area.width * 2 / 5).clamp(46, 84);
    let [image_area, side] =
        Layout::horizontal([Constraint::Min(10), Constraint::Length(side_w)]).areas(body);

    header(app, frame, header_area);
    image_panel(app, frame, image_area);
    if let Mode::Reference(panel) = &app.mode {
        let panel = panel.clone();
        reference_panel(app, &panel, frame, side);
    } else {
        side_panel(app, frame, side);
    }
    progress(&app.session.progress(), frame, progress_area);
    status(app, frame, status_area);

    match &app.mode {
        Mode::Help => help(app, frame, area),
        Mode::FlagKind | Mode::FlagNote(..) | Mode::GoTo(_) => prompt(app, frame, area),
        Mode::Normal | Mode::Zoom | Mode::Reference(_) => {}
    }
}

fn header(app: &App, frame: &mut Frame<'_>, area: Rect) {
    let s = &app.session;
    let sep = separator;
    let mut spans = app.base.header(s.annotator());
    if let Some(img) = s.image() {
        let (pos, n) = s.position();
        spans.extend([
            sep(),
            Span::raw(format!("image {}/{n} ", pos + 1)),
            Span::raw(safe(img.key())).bold(),
        ]);
        if s.show_sources() {
            let orig = img
                .record
                .original_label
                .as_deref()
                .map_or_else(|| "none".to_string(), |l| app.display_name(l));
            spans.extend([sep(), Span::raw("original label: "), Span::raw(orig).warn()]);
        }
    }
    if let Some(q) = s.queue() {
        spans.extend([sep(), Span::raw(format!("queue: {q}"))]);
    }
    if s.is_finished() {
        spans.extend([sep(), Span::raw("queue done").yes().bold()]);
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn image_panel(app: &mut App, frame: &mut Frame<'_>, area: Rect) {
    let mut block = Block::bordered().border_style(theme::style(Role::Muted));
    let flags_line = app.session.image().map(flags_line);
    if let Some(img) = app.session.image() {
        let dims = match (img.record.width, img.record.height) {
            (Some(w), Some(h)) => format!(" · {w}×{h}"),
            _ => String::new(),
        };
        block = block.title(Line::from(format!(" {}{dims} ", safe(img.key()))).muted());
    }
    if let Some(Some(line)) = flags_line {
        block = block.title_bottom(line);
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    draw_image(app, frame, inner);
}

/// The standing flags of an image, for the bottom of its frame.
fn flags_line(img: &ImageItems) -> Option<Line<'static>> {
    if img.flags.is_empty() {
        return None;
    }
    let text = img
        .flags
        .iter()
        .map(|f| {
            let kind = match f.kind {
                FlagKind::Expert => "needs an expert",
                k => k.as_str(),
            };
            if f.note.is_empty() {
                format!("{kind} ({})", safe(&f.annotator))
            } else {
                format!("{kind} ({}): {}", safe(&f.annotator), safe(&f.note))
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    Some(Line::from(format!(" ⚑ flagged {text} ")).error().bold())
}

fn draw_image(app: &mut App, frame: &mut Frame<'_>, area: Rect) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    if app.session.image().is_none() {
        centered_text(
            frame,
            area,
            vec![Line::from("The project has no images.").muted()],
        );
        return;
    }
    let hint = format!(
        "{} flags it (then b: broken) · {} goes to the next image",
        app.keys().label(Action::Flag),
        app.keys().label(Action::NextImage)
    );
    let picture = app.image_for(area);
    draw_picture(picture, frame, area, Some(hint));
}

fn side_panel(app: &App, frame: &mut Frame<'_>, area: Rect) {
    let s = &app.session;
    let Some(img) = s.image() else {
        let p = Paragraph::new("Nothing to annotate: the project has no images.")
            .block(Block::bordered());
        frame.render_widget(p, area);
        return;
    };
    let lines = question_lines(app);
    let text_w = area.width.saturating_sub(4).max(1);
    // Borders, the name band and a margin above and below the text.
    let wanted = 2 + 3 + 2 + wrapped_height(&lines, text_w);
    let list_min = (img.items.len().min(9) as u16 + 2).min(area.height / 2);
    let q_h = wanted.min(area.height.saturating_sub(list_min)).max(6);
    let [q_area, list_area] =
        Layout::vertical([Constraint::Length(q_h), Constraint::Min(3)]).areas(area);
    question(app, lines, frame, q_area);
    candidates(app, img, frame, list_area);
}

/// What the current candidate means: synonyms, hierarchy, key, definition, guideline, the
/// provenance when shown, and the answer keys.
fn question_lines(app: &App) -> Vec<Line<'static>> {
    let s = &app.session;
    let Some(item) = s.current_item() else {
        return vec![
            Line::from("This image has no candidate labels.").bold(),
            Line::default(),
            Line::from(format!(
                "{} goes to the next image · {} flags this one",
                app.keys().label(Action::NextImage),
                app.keys().label(Action::Flag)
            ))
            .muted(),
        ];
    };
    let mut lines: Vec<Line<'static>> = Vec::new();
    match s.vocab().get(&item.label) {
        Some(c) => lines.extend(class_lines(c)),
        None => {
            lines.push(
                Line::from(format!(
                    "{} is not in the project's vocabulary",
                    safe(&item.label)
                ))
                .error(),
            );
        }
    }
    if s.show_sources() {
        lines.push(Line::default());
        lines.push(sources_line(item));
    }
    lines.push(Line::default());
    let mut keys = vec![
        Span::raw(app.keys().label(Action::Yes)).yes().bold(),
        Span::raw(" yes   "),
        Span::raw(app.keys().label(Action::No)).error().bold(),
        Span::raw(" no   "),
        Span::raw(app.keys().label(Action::Maybe)).warn().bold(),
        Span::raw(" maybe"),
    ];
    if let Some(a) = item.answer {
        keys.push(Span::raw("   your answer: ").muted());
        keys.push(answer_span(Some(a)));
    }
    lines.push(Line::from(keys));
    lines
}

fn question(app: &App, lines: Vec<Line<'static>>, frame: &mut Frame<'_>, area: Rect) {
    let s = &app.session;
    let Some(item) = s.current_item() else {
        frame.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: true }).block(
                Block::bordered()
                    .title(" question ")
                    .padding(Padding::horizontal(1)),
            ),
            area,
        );
        return;
    };
    let name = app.display_name(&item.label);
    // The question as ReaL's raters read it, with the class in it; when the panel is too
    // narrow for that, the class stands alone in the band below.
    let asked = format!(" Is there {} {name} in this image? ", article(&name));
    let title = if asked.chars().count() + 2 <= usize::from(area.width) {
        asked
    } else {
        " Is there a ... in this image? ".to_string()
    };
    let block = Block::bordered()
        .title(Line::from(title).bold())
        .border_style(theme::style(Role::Accent));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 3 {
        return;
    }
    let [band, details] =
        Layout::vertical([Constraint::Length(3), Constraint::Min(0)]).areas(inner);
    name_band(frame, band, name);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }),
        details.inner(ratatui::layout::Margin::new(1, 1)),
    );
}

/// "a" or "an" before a class name, by how it is said: a vowel letter makes "an", but not
/// a "u" or "eu" said "you" (unicycle, European) or an "o" said "w" (one-armed bandit), and a
/// silent "h" (hourglass) makes "an" too. Checked against ImageNet-1k's names.
fn article(name: &str) -> &'static str {
    let n = name.to_lowercase();
    let you = ["uni", "use", "usu", "ute", "u-", "eu", "ewe", "one", "once"];
    if you.iter().any(|p| n.starts_with(p)) {
        "a"
    } else if n.starts_with(['a', 'e', 'i', 'o', 'u'])
        || ["hour", "honest", "honor", "honour", "heir"]
            .iter()
            .any(|p| n.starts_with(p))
    {
        "an"
    } else {
        "a"
    }
}

/// Other images of the candidate's class, two to a row, each with the answers that confirm it:
/// what an expert compares against when two breeds look alike.
fn reference_panel(app: &mut App, panel: &Reference, frame: &mut Frame<'_>, area: Rect) {
    let name = app.display_name(&panel.label);
    let what = if panel.confirmed {
        "original label, confirmed by annotators"
    } else {
        "original label, not judged yet"
    };
    let key = app.keys().label(Action::Reference);
    let block = Block::bordered()
        .title(Line::from(format!(" Reference: {name} ")).bold())
        .title_bottom(Line::from(format!(" {key}/esc closes · y/n/m answer ")).muted())
        .border_style(theme::style(Role::Accent));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 4 {
        return;
    }
    let [caption, grid] =
        Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(inner);
    frame.render_widget(
        Paragraph::new(format!(
            "{} image{} · {what}",
            panel.images.len(),
            if panel.images.len() == 1 { "" } else { "s" }
        ))
        .wrap(Wrap { trim: true })
        .muted(),
        caption,
    );
    // One large picture when there is one, else two to a row.
    let cols = if panel.images.len() == 1 { 1 } else { 2 };
    let rows = panel.images.len().div_ceil(cols).max(1);
    let row_areas = Layout::vertical(vec![Constraint::Ratio(1, rows as u32); rows]).split(grid);
    for (i, r) in panel.images.iter().enumerate() {
        let cells = Layout::horizontal(vec![Constraint::Ratio(1, cols as u32); cols])
            .split(row_areas[i / cols]);
        let cell = cells[i % cols];
        let votes = if r.yes + r.no > 0 {
            format!(" ✓ {} yes · {} no ", r.yes, r.no)
        } else {
            " not judged ".to_string()
        };
        let b = Block::bordered()
            .title(Line::from(format!(" {} ", safe(&r.image.rec.key))).muted())
            .title_bottom(Line::from(votes).yes())
            .border_style(theme::style(Role::Muted));
        let thumb = b.inner(cell);
        frame.render_widget(b, cell);
        draw_picture(app.picture_for(r.image.id, thumb), frame, thumb, None);
    }
}

fn sources_line(item: &Item) -> Line<'static> {
    let mut spans = Vec::new();
    if item.is_original {
        spans.push(Span::raw("original label").warn().bold());
    }
    for src in &item.sources {
        if !spans.is_empty() {
            spans.push(Span::raw(" · ").muted());
        }
        let score = src.score.map(|s| format!(" {s:.2}")).unwrap_or_default();
        spans.push(Span::raw(format!(
            "{} #{}{score}",
            safe(&src.model),
            src.rank
        )));
    }
    if spans.is_empty() {
        spans.push(Span::raw("added by an earlier answer").muted());
    }
    Line::from(spans)
}

fn answer_span(a: Option<Answer>) -> Span<'static> {
    match a {
        Some(Answer::Yes) => Span::raw("yes").yes().bold(),
        Some(Answer::No) => Span::raw("no").no().bold(),
        Some(Answer::Maybe) => Span::raw("maybe").maybe().bold(),
        None => Span::raw("open").muted(),
    }
}

fn candidates(app: &App, img: &ImageItems, frame: &mut Frame<'_>, area: Rect) {
    let s = &app.session;
    let title = format!(
        " candidates · {} of {} open ",
        img.open_count(),
        img.items.len()
    );
    let block = Block::bordered()
        .title(title)
        .border_style(theme::style(Role::Muted));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let rows = usize::from(inner.height);
    let name_w = if s.show_sources() {
        img.items
            .iter()
            .map(|i| app.display_name(&i.label).chars().count())
            .max()
            .unwrap_or(0)
    } else {
        0
    };
    // Keep the cursor in view when there are more candidates than rows.
    let first = s.cursor().saturating_sub(rows.saturating_sub(1));
    let lines: Vec<Line<'_>> = img
        .items
        .iter()
        .enumerate()
        .skip(first)
        .take(rows)
        .map(|(i, item)| {
            let current = i == s.cursor();
            let number = if i < 9 {
                format!("{}", i + 1)
            } else {
                " ".into()
            };
            let state = answer_span(item.answer);
            let pad = " ".repeat(6 - state.content.chars().count());
            let mut spans = vec![
                // An ASCII marker: `▶` is drawn two cells wide by some terminals (kitty), over the
                // number, and is missing from some fonts.
                Span::raw(if current { "> " } else { "  " }).accent().bold(),
                Span::raw(format!("{number}  ")).muted(),
                state,
                Span::raw(pad),
                Span::raw(format!("{:<name_w$}", app.display_name(&item.label))),
            ];
            if s.show_sources() {
                let mut src = Vec::new();
                if item.is_original {
                    src.push("orig".to_string());
                }
                src.extend(
                    item.sources
                        .iter()
                        .map(|p| format!("{}#{}", safe(&p.model), p.rank)),
                );
                // Whole sources only, and a count of those left out, never one cut mid-word.
                let used: usize = spans.iter().map(|sp| sp.content.chars().count()).sum();
                let room = usize::from(inner.width).saturating_sub(used + 2);
                spans.push(Span::raw(format!("  {}", fit_words(&src, room))).muted());
            }
            let line = Line::from(spans);
            if current {
                line.style(theme::current().cursor_row())
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn progress(p: &Progress, frame: &mut Frame<'_>, area: Rect) {
    let pct = p.fraction() * 100.0;
    let mut label = format!(" {}/{} answered ({pct:.0}%)", p.answered, p.total);
    match (p.per_hour, p.time_left) {
        (Some(r), Some(left)) => {
            label.push_str(&format!(" · {r:.0}/h · {} left", short_duration(left)));
        }
        _ => label.push_str(" · pace after the first answer"),
    }
    label.push_str(&format!(" · {} this session  ", p.session_answers));
    progress_bar(frame, area, label, p.fraction());
}

fn status(app: &App, frame: &mut Frame<'_>, area: Rect) {
    let line = match &app.base.message {
        Some(m) if m.error => Line::from(format!(" {}", m.text)).error().bold(),
        Some(m) => Line::from(format!(" {}", m.text)).warn(),
        None => {
            let k = app.keys();
            let pick = candidate_keys(app);
            let hints = [
                (k.label(Action::Yes), "yes"),
                (k.label(Action::No), "no"),
                (k.label(Action::Maybe), "maybe"),
                (k.label(Action::Undo), "undo"),
                (k.label(Action::Skip), "skip"),
                (
                    format!(
                        "{}/{}",
                        first_key(app, Action::NextCandidate),
                        first_key(app, Action::PrevCandidate)
                    ),
                    "move",
                ),
                (pick, "pick"),
                (
                    format!(
                        "{}/{}",
                        first_key(app, Action::NextImage),
                        first_key(app, Action::PrevImage)
                    ),
                    "image",
                ),
                (k.label(Action::Flag), "flag"),
                (k.label(Action::GoTo), "go to"),
                (k.label(Action::Zoom), "zoom"),
                (k.label(Action::Help), "help"),
                (k.label(Action::Quit), "quit"),
            ];
            let mut spans = vec![Span::raw(" ")];
            for (key, what) in hints {
                spans.push(Span::raw(key).bold().accent());
                spans.push(Span::raw(format!(" {what}  ")).muted());
            }
            Line::from(spans)
        }
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn first_key(app: &App, action: Action) -> String {
    app.keys().first(action)
}

/// `1-9` for the default digits, else the keys of each candidate.
fn candidate_keys(app: &App) -> String {
    app.keys().numbered(Action::Candidate)
}

fn zoom(app: &mut App, frame: &mut Frame<'_>, area: Rect) {
    let [image_area, hint_area] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
    draw_image(app, frame, image_area);
    let key = app
        .session
        .image()
        .map(|i| safe(i.key()))
        .unwrap_or_default();
    let k = app.keys();
    let answers = [
        (k.label(Action::Yes), "yes"),
        (k.label(Action::No), "no"),
        (k.label(Action::Maybe), "maybe"),
        (k.label(Action::Undo), "undo"),
    ];
    let answers: Vec<(&str, &str)> = answers.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    app.base.magnifier.hint(frame, hint_area, &key, &answers);
}

fn help(app: &App, frame: &mut Frame<'_>, area: Rect) {
    let k = app.keys();
    let mut rows: Vec<(String, String)> = Vec::new();
    for action in Action::all() {
        match action {
            Action::Candidate(1) => rows.push((
                candidate_keys(app),
                "go to candidate 1..9 of the list".into(),
            )),
            Action::Candidate(_) => {}
            a => rows.push((k.label(a), a.describe())),
        }
    }
    keys_popup(
        frame,
        area,
        "keys",
        &rows,
        &[
            "In the flag prompt: b broken, a ambiguous, e needs an expert (then an optional note",
            "and enter), or c to lift your flags on the image. Esc cancels a prompt.",
            "Every answer is saved the moment it is given; candidates are in a blind order.",
            "",
        ],
        &format!(
            "{} or esc closes this help · keys can be remapped in keys.toml",
            k.label(Action::Help)
        ),
        92,
    );
}

fn prompt(app: &App, frame: &mut Frame<'_>, area: Rect) {
    let key = app
        .session
        .image()
        .map(|i| safe(i.key()))
        .unwrap_or_default();
    let (title, lines) = match &app.mode {
        Mode::FlagKind => (
            format!(" flag image {key} "),
            vec![
                Line::from(vec![
                    Span::raw(" b").bold().accent(),
                    Span::raw(" broken   "),
                    Span::raw("a").bold().accent(),
                    Span::raw(" ambiguous   "),
                    Span::raw("e").bold().accent(),
                    Span::raw(" needs an expert   "),
                    Span::raw("c").bold().accent(),
                    Span::raw(" clear my flags"),
                ]),
                Line::from(" esc cancels").muted(),
            ],
        ),
        Mode::FlagNote(kind, note) => (
            format!(" flag image {key}: {} ", kind.as_str()),
            vec![
                Line::from(vec![
                    Span::raw(" note (optional): "),
                    Span::raw(format!("{note}█")).bold(),
                ]),
                Line::from(" enter saves · esc cancels").muted(),
            ],
        ),
        Mode::GoTo(text) => (
            " go to image ".to_string(),
            vec![
                Line::from(vec![
                    Span::raw(" image key: "),
                    Span::raw(format!("{text}█")).bold(),
                ]),
                Line::from(" enter goes there · esc cancels").muted(),
            ],
        ),
        _ => return,
    };
    let rect = popup(area, 76, 4);
    let rect = Rect::new(
        rect.x,
        area.y + area.height.saturating_sub(8),
        rect.width,
        rect.height,
    );
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(Line::from(title).bold())
                .border_style(theme::style(Role::Warn)),
        ),
        rect,
    );
}

#[cfg(test)]
mod article_tests {
    use super::article;

    #[test]
    fn a_or_an_as_the_class_name_is_said() {
        for (name, want) in [
            ("suit", "a"),
            ("academic gown", "an"),
            ("iPod", "an"),
            ("oil filter", "an"),
            ("umbrella", "an"),
            ("upright", "an"),
            ("unicycle", "a"),
            ("European fire salamander", "a"),
            ("one-armed bandit", "a"),
            ("hourglass", "an"),
            ("honeycomb", "a"),
            ("U-boat", "a"),
            ("Eskimo dog", "an"),
        ] {
            assert_eq!(article(name), want, "{name}");
        }
    }
}
