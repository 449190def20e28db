//! The magnifier of the zoom view, one for the three screens.
//!
//! Terriers of 24 breeds differ in an ear or a coat; at 118x110 half-block pixels they look
//! alike. In zoom, `+` and `-` step through fit, 2x, 4x and 8x, `h`/`j`/`k`/`l` or the arrows
//! move a quarter of the view, `0` fits again. The picture is cut from the full-resolution
//! decode (see [`View`]), so 4x shows four times the detail, not bigger pixels. The screens keep
//! their answer keys in zoom; only these keys are the magnifier's.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Stylize as _;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::images::View;
use super::theme::Themed as _;

/// The view of one image, reset when the image changes.
#[derive(Clone, Debug, Default)]
pub struct Magnifier {
    view: View,
    image: Option<i64>,
    /// The last zoom area's proportions, in the encoder's pixel unit (see `Encoder::area_box`).
    area_box: (u32, u32),
}

impl Magnifier {
    /// The view for image `id` drawn in an area of `area_box` proportions: fit again when the
    /// image is another than last time.
    pub fn view_for(&mut self, id: i64, area_box: (u32, u32)) -> View {
        if self.image != Some(id) {
            self.image = Some(id);
            self.view = View::FIT;
        }
        self.area_box = area_box;
        self.view
    }

    pub fn view(&self) -> View {
        self.view
    }

    /// Back to fit (leaving zoom).
    pub fn reset(&mut self) {
        self.view = View::FIT;
    }

    /// A magnifier key: true when it was one. `dims` are the image's width and height when
    /// known (panning keeps the view inside the image); else the area's proportions stand in.
    pub fn key(&mut self, key: &KeyEvent, dims: Option<(u32, u32)>) -> bool {
        let dims = dims.unwrap_or(self.area_box);
        let pan = |v: View, dx, dy| v.pan(dx, dy, dims, self.area_box);
        self.view = match key.code {
            KeyCode::Char('+') | KeyCode::Char('=') => self.view.zoom_in(),
            KeyCode::Char('-') => self.view.zoom_out(),
            KeyCode::Char('0') => View::FIT,
            KeyCode::Left | KeyCode::Char('h') => pan(self.view, -1, 0),
            KeyCode::Right | KeyCode::Char('l') => pan(self.view, 1, 0),
            KeyCode::Up | KeyCode::Char('k') => pan(self.view, 0, -1),
            KeyCode::Down | KeyCode::Char('j') => pan(self.view, 0, 1),
            _ => return false,
        };
        true
    }

    /// `fit`, `2x`, ...
    pub fn level(&self) -> String {
        if self.view.zoom <= 1 {
            "fit".into()
        } else {
            format!("{}x", self.view.zoom)
        }
    }

    /// The zoom view's bottom line: the image, the level, the screen's own keys in zoom
    /// (`answers`), and the magnifier's.
    pub fn hint(&self, frame: &mut Frame<'_>, area: Rect, key: &str, answers: &[(&str, &str)]) {
        let mut spans = vec![
            Span::raw(format!(" zoom {} ", self.level()))
                .bold()
                .accent(),
            Span::raw(format!(" {key}  ")),
        ];
        for (k, what) in answers.iter().chain(&[
            ("+/-", "zoom"),
            ("hjkl", "pan"),
            ("0", "fit"),
            ("z/esc", "back"),
        ]) {
            spans.push(Span::raw(*k).bold().accent());
            spans.push(Span::raw(format!(" {what}  ")).muted());
        }
        frame.render_widget(Paragraph::new(Line::from(spans)), area);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn press(m: &mut Magnifier, c: char) -> bool {
        m.key(
            &KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE),
            Some((512, 512)),
        )
    }

    #[test]
    fn plus_and_minus_step_through_fit_2_4_8() {
        let mut m = Magnifier::default();
        m.view_for(1, (118, 110));
        let mut seen = vec![m.level()];
        for _ in 0..4 {
            press(&mut m, '+');
            seen.push(m.level());
        }
        assert_eq!(seen, ["fit", "2x", "4x", "8x", "8x"]);
        press(&mut m, '-');
        assert_eq!(m.level(), "4x");
        press(&mut m, '0');
        assert_eq!(m.view(), View::FIT);
        assert!(!press(&mut m, 'y'), "answer keys are not the magnifier's");
    }

    #[test]
    fn panning_stays_inside_the_image_and_another_image_fits_again() {
        let mut m = Magnifier::default();
        m.view_for(1, (110, 110));
        press(&mut m, '+');
        press(&mut m, '+');
        // At 4x a quarter of the image is shown: its centre can go from 0.125 to 0.875.
        for _ in 0..10 {
            press(&mut m, 'l');
            press(&mut m, 'k');
        }
        let v = m.view();
        assert_eq!((v.cx, v.cy), (875, 125));
        let (x, y, w, h) = v.region(512, 512, 110, 110);
        assert_eq!((x, y, w, h), (384, 0, 128, 128));
        assert_eq!(m.view_for(2, (110, 110)), View::FIT);
    }
}
