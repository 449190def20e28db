//! Colours that read on the terminal they are drawn on.
//!
//! xterm's default background is white, most others' black; a palette made for one is pale or
//! invisible on the other (grey hints on white, a black header band whose text is the terminal's
//! own black). So text never paints a background without its own foreground, and its colours come
//! from a palette chosen for the background: `--theme light|dark`, or `auto`, which asks the
//! terminal for its background (OSC 11) and, when it does not answer, uses colours that read on
//! both white and black. `NO_COLOR` leaves the text in the terminal's own colours, set apart by
//! bold and reverse video; pictures stay in colour.
//!
//! Screens name what a piece of text is ([`Role`]) through the [`Themed`] methods, never a colour;
//! the palette of the screen being drawn is installed for the draw by [`with`]. Colours are
//! indices of the 256-colour palette past the first 16, whose values every terminal shares (the
//! first 16 are what users and themes redefine), so their contrast can be computed (tests check
//! WCAG's 4.5:1 for every role on every palette).

use std::cell::Cell;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style, Styled};

use crate::error::{Error, Result};

/// `--theme`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ThemeChoice {
    #[default]
    Auto,
    Light,
    Dark,
}

impl FromStr for ThemeChoice {
    type Err = Error;

    fn from_str(s: &str) -> Result<ThemeChoice> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(ThemeChoice::Auto),
            "light" => Ok(ThemeChoice::Light),
            "dark" => Ok(ThemeChoice::Dark),
            other => Err(Error::msg(format!(
                "unknown theme `{other}`; one of auto, light, dark"
            ))),
        }
    }
}

/// What a piece of text is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Secondary text: hints, keys' descriptions, class keys, borders.
    Muted,
    /// Keys, the hierarchy, the current row's marker, titles of the active panel.
    Accent,
    Yes,
    No,
    Maybe,
    /// Something to notice: a message, a guideline, the original label.
    Warn,
    /// Something wrong: an error, a flag, a broken image.
    Error,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Muted,
        Role::Accent,
        Role::Yes,
        Role::No,
        Role::Maybe,
        Role::Warn,
        Role::Error,
    ];
}

/// A palette.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    pub name: &'static str,
    /// The background the palette is made for, what contrast is computed against; `None` for
    /// the palette that must read on both white and black.
    pub background: Option<[u8; 3]>,
    /// `None`: no colour at all (NO_COLOR).
    colors: Option<[u8; 7]>,
    /// The band behind the question's label name: (foreground, background).
    band: Option<(u8, u8)>,
}

impl Theme {
    /// For white and light backgrounds.
    pub const LIGHT: Theme = Theme {
        name: "light",
        background: Some([255, 255, 255]),
        //       muted accent yes  no  maybe warn error
        colors: Some([240, 25, 28, 124, 130, 130, 124]),
        band: Some((231, 25)),
    };

    /// For black and dark backgrounds.
    pub const DARK: Theme = Theme {
        name: "dark",
        background: Some([0, 0, 0]),
        colors: Some([245, 81, 78, 203, 221, 221, 203]),
        band: Some((231, 24)),
    };

    /// When the background is unknown: colours of mid luminance, at least 4.5:1 on white and on
    /// black alike.
    pub const EITHER: Theme = Theme {
        name: "light or dark",
        background: None,
        colors: Some([243, 63, 29, 131, 98, 163, 131]),
        band: Some((231, 24)),
    };

    /// NO_COLOR: the terminal's own colours; emphasis by bold and reverse video.
    pub const PLAIN: Theme = Theme {
        name: "no colour",
        background: None,
        colors: None,
        band: None,
    };

    /// The palette for `choice`, the terminal's background (when it answered) and NO_COLOR.
    pub fn pick(choice: ThemeChoice, background: Option<[u8; 3]>, no_color: bool) -> Theme {
        if no_color {
            return Theme::PLAIN;
        }
        match choice {
            ThemeChoice::Light => Theme::LIGHT,
            ThemeChoice::Dark => Theme::DARK,
            ThemeChoice::Auto => match background {
                Some(bg) if is_light(bg) => Theme::LIGHT,
                Some(_) => Theme::DARK,
                None => Theme::EITHER,
            },
        }
    }

    /// The palette index of `role`'s colour, `None` without colour.
    pub fn index(&self, role: Role) -> Option<u8> {
        let i = Role::ALL
            .iter()
            .position(|r| *r == role)
            .expect("every role");
        self.colors.map(|c| c[i])
    }

    pub fn style(&self, role: Role) -> Style {
        match self.index(role) {
            Some(i) => Style::new().fg(Color::Indexed(i)),
            None => match role {
                Role::Muted => Style::new(),
                Role::Accent | Role::Yes | Role::No | Role::Maybe | Role::Warn | Role::Error => {
                    Style::new().add_modifier(Modifier::BOLD)
                }
            },
        }
    }

    /// The band behind a label's name: a foreground and a background, always both.
    pub fn band(&self) -> Style {
        match self.band {
            Some((fg, bg)) => Style::new()
                .fg(Color::Indexed(fg))
                .bg(Color::Indexed(bg))
                .add_modifier(Modifier::BOLD),
            None => Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
        }
    }

    /// The band's colours as palette indices, for the contrast check.
    pub fn band_indices(&self) -> Option<(u8, u8)> {
        self.band
    }

    /// The highlighted row of a list (the cursor): reverse video, which keeps every colour's
    /// contrast whatever the palette.
    pub fn cursor_row(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
}

/// Whether a background is light (relative luminance above the middle grey's).
pub fn is_light(rgb: [u8; 3]) -> bool {
    luminance(rgb) > 0.2
}

/// WCAG relative luminance.
pub fn luminance([r, g, b]: [u8; 3]) -> f64 {
    let lin = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

/// WCAG contrast ratio, 1 to 21.
pub fn contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The colour of entry `i` of the 256-colour palette, for entries 16 to 255 (the 6x6x6 cube and
/// the grey ramp, the same in every terminal); `None` for the 16 a theme may redefine.
pub fn indexed_rgb(i: u8) -> Option<[u8; 3]> {
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    match i {
        0..=15 => None,
        16..=231 => {
            let n = usize::from(i - 16);
            Some([LEVELS[n / 36], LEVELS[(n / 6) % 6], LEVELS[n % 6]])
        }
        232..=255 => {
            let v = 8 + 10 * (i - 232);
            Some([v, v, v])
        }
    }
}

thread_local! {
    static CURRENT: Cell<Theme> = const { Cell::new(Theme::EITHER) };
}

/// Runs `draw` with `theme` as the palette of the text it styles.
pub fn with<R>(theme: Theme, draw: impl FnOnce() -> R) -> R {
    let before = CURRENT.with(|c| c.replace(theme));
    let out = draw();
    CURRENT.with(|c| c.set(before));
    out
}

/// The palette of the screen being drawn.
pub fn current() -> Theme {
    CURRENT.with(Cell::get)
}

/// `role`'s style in the palette of the screen being drawn (for borders and whole lines).
pub fn style(role: Role) -> Style {
    current().style(role)
}

/// Styles text by what it is, in the palette of the screen being drawn.
pub trait Themed: Sized {
    type Out;
    fn role(self, role: Role) -> Self::Out;

    fn muted(self) -> Self::Out {
        self.role(Role::Muted)
    }
    fn accent(self) -> Self::Out {
        self.role(Role::Accent)
    }
    fn yes(self) -> Self::Out {
        self.role(Role::Yes)
    }
    fn no(self) -> Self::Out {
        self.role(Role::No)
    }
    fn maybe(self) -> Self::Out {
        self.role(Role::Maybe)
    }
    fn warn(self) -> Self::Out {
        self.role(Role::Warn)
    }
    fn error(self) -> Self::Out {
        self.role(Role::Error)
    }
}

impl<T: Styled> Themed for T {
    type Out = T::Item;

    fn role(self, role: Role) -> T::Item {
        let style = self.style().patch(current().style(role));
        self.set_style(style)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHITE: [u8; 3] = [255, 255, 255];
    const BLACK: [u8; 3] = [0, 0, 0];

    /// Every text colour of every palette against the background it is drawn on: WCAG AA for
    /// normal text, 4.5:1. The palette for an unknown background must reach it on both.
    #[test]
    fn every_text_colour_reads_on_its_background() {
        for theme in [Theme::LIGHT, Theme::DARK, Theme::EITHER] {
            let backgrounds = match theme.background {
                Some(bg) => vec![bg],
                None => vec![WHITE, BLACK],
            };
            for role in Role::ALL {
                let i = theme.index(role).expect("a coloured palette");
                let fg = indexed_rgb(i).expect("a colour every terminal shares");
                for bg in &backgrounds {
                    let c = contrast(fg, *bg);
                    assert!(
                        c >= 4.5,
                        "{} palette: {role:?} (colour {i}) on {bg:?} has contrast {c:.2}",
                        theme.name
                    );
                }
            }
            let (fg, bg) = theme.band_indices().expect("a band");
            let c = contrast(indexed_rgb(fg).unwrap(), indexed_rgb(bg).unwrap());
            assert!(
                c >= 4.5,
                "{} palette: the band has contrast {c:.2}",
                theme.name
            );
        }
    }

    #[test]
    fn contrast_matches_wcag_figures() {
        assert!((contrast(WHITE, BLACK) - 21.0).abs() < 1e-9);
        // #767676 on white is the classic 4.54:1.
        assert!((contrast([118, 118, 118], WHITE) - 4.54).abs() < 0.01);
        assert_eq!(indexed_rgb(243), Some([118, 118, 118]));
        assert_eq!(indexed_rgb(25), Some([0, 95, 175]));
        assert_eq!(indexed_rgb(7), None);
    }

    #[test]
    fn the_background_picks_the_palette() {
        assert_eq!(
            Theme::pick(ThemeChoice::Auto, Some(WHITE), false),
            Theme::LIGHT
        );
        assert_eq!(
            Theme::pick(ThemeChoice::Auto, Some([30, 30, 46]), false),
            Theme::DARK
        );
        assert_eq!(Theme::pick(ThemeChoice::Auto, None, false), Theme::EITHER);
        assert_eq!(
            Theme::pick(ThemeChoice::Dark, Some(WHITE), false),
            Theme::DARK
        );
        assert_eq!(Theme::pick(ThemeChoice::Light, None, true), Theme::PLAIN);
        assert!("sepia".parse::<ThemeChoice>().is_err());
        assert_eq!("Light".parse::<ThemeChoice>().unwrap(), ThemeChoice::Light);
    }

    #[test]
    fn no_color_keeps_emphasis_without_colour() {
        let s = Theme::PLAIN.style(Role::Yes);
        assert_eq!(s.fg, None);
        assert!(s.add_modifier.contains(Modifier::BOLD));
        assert_eq!(Theme::PLAIN.band().bg, None);
    }
}
