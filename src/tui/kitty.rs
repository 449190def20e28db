//! Kitty graphics placed directly at the cursor, for terminals that speak kitty's protocol but
//! not its unicode placeholders: kitty before 0.28 (Debian 12 ships 0.26), Konsole.
//!
//! Sent to such a terminal, the placeholder form shows boxes where the photo should be. The
//! direct form puts the image on a layer above the text, where it stays until deleted, whatever
//! the text under it does. So a frame only marks the picture's cells ([`place`]) and, once the
//! frame is on the terminal, [`Placements::after_draw`] puts new pictures in place and deletes
//! those that left the screen, moved, or were covered by something drawn over them (a popup).

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use image::DynamicImage;
use ratatui::buffer::Buffer;
use ratatui::layout::{Rect, Size};
use ratatui::style::Color;

/// One encoded picture: the transmit-and-display command, less the cursor move.
pub struct KittyImage {
    pub id: u32,
    pub size: Size,
    command: String,
}

impl std::fmt::Debug for KittyImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KittyImage")
            .field("id", &self.id)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// An image id no other picture of this process uses: a per-process base (so two labelvet
/// processes in two windows of one kitty do not delete each other's images) plus a counter.
fn next_id() -> u32 {
    let base = (std::process::id().wrapping_mul(2_654_435_761) & 0x00ff_0000) | 0x0100_0000;
    base | ((NEXT_ID.fetch_add(1, Ordering::Relaxed) % 0xffff) + 1)
}

impl KittyImage {
    /// Encodes `img` (already at its on-screen pixel size) to cover `size` cells.
    pub fn new(img: &DynamicImage, size: Size) -> KittyImage {
        let id = next_id();
        let rgb = img.to_rgb8();
        let (w, h) = rgb.dimensions();
        // Chunks of at most 4096 base64 characters, as the protocol asks.
        const RAW_CHUNK: usize = 4096 / 4 * 3;
        let raw = rgb.as_raw();
        let chunks: Vec<&[u8]> = raw.chunks(RAW_CHUNK).collect();
        let mut command = String::with_capacity(raw.len() * 4 / 3 + chunks.len() * 16 + 80);
        for (i, chunk) in chunks.iter().enumerate() {
            let more = u8::from(i + 1 < chunks.len());
            if i == 0 {
                // a=T: transmit and display, at the image's own pixel size (it was fitted to
                // the cells); f=24: RGB; C=1: leave the cursor where it is; q=2: no replies
                // (they would arrive as key presses).
                let _ = write!(
                    command,
                    "\x1b_Ga=T,f=24,s={w},v={h},i={id},p=1,C=1,q=2,m={more};"
                );
            } else {
                let _ = write!(command, "\x1b_Gm={more};");
            }
            base64_simd::STANDARD.encode_append(chunk, &mut command);
            command.push_str("\x1b\\");
        }
        KittyImage { id, size, command }
    }
}

/// The cells under a directly placed picture carry this colour on a blank, so that
/// [`Placements::after_draw`] can tell whether anything was drawn over them.
const MARK: Color = Color::Rgb(1, 2, 3);

thread_local! {
    static FRAME: RefCell<Vec<(Rect, Arc<KittyImage>)>> = const { RefCell::new(Vec::new()) };
}

/// Draws `img` in `area` for this frame: blanks the cells (clearing any text the image will
/// cover) and records the placement for [`Placements::after_draw`].
pub fn place(img: &Arc<KittyImage>, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            if let Some(cell) = buf.cell_mut((x, y)) {
                cell.reset();
                cell.set_symbol(" ").set_fg(MARK);
            }
        }
    }
    FRAME.with(|f| f.borrow_mut().push((area, img.clone())));
}

/// The pictures on the terminal, between frames.
#[derive(Default)]
pub struct Placements {
    shown: Vec<(Rect, Arc<KittyImage>)>,
}

impl Placements {
    /// After a frame is on the terminal: deletes the placements it no longer shows (or shows
    /// covered), and places the new ones. `buf` is the frame as drawn.
    pub fn after_draw(&mut self, buf: &Buffer, out: &mut impl Write) -> io::Result<()> {
        let drawn = FRAME.with(|f| std::mem::take(&mut *f.borrow_mut()));
        let wanted: Vec<(Rect, Arc<KittyImage>)> = drawn
            .into_iter()
            .filter(|(area, _)| uncovered(buf, *area))
            .collect();
        let same = |a: &(Rect, Arc<KittyImage>), b: &(Rect, Arc<KittyImage>)| {
            a.0 == b.0 && a.1.id == b.1.id
        };
        let mut s = String::new();
        for old in &self.shown {
            if !wanted.iter().any(|w| same(w, old)) {
                let _ = write!(s, "\x1b_Ga=d,d=I,i={},q=2\x1b\\", old.1.id);
            }
        }
        for new in &wanted {
            if !self.shown.iter().any(|o| same(o, new)) {
                let _ = write!(s, "\x1b[{};{}H", new.0.y + 1, new.0.x + 1);
                s.push_str(&new.1.command);
            }
        }
        self.shown = wanted;
        if !s.is_empty() {
            out.write_all(s.as_bytes())?;
            out.flush()?;
        }
        Ok(())
    }

    /// Deletes every picture this process placed (on resize, and when the screen closes).
    pub fn clear(&mut self, out: &mut impl Write) -> io::Result<()> {
        let mut s = String::new();
        for (_, img) in self.shown.drain(..) {
            let _ = write!(s, "\x1b_Ga=d,d=I,i={},q=2\x1b\\", img.id);
        }
        if !s.is_empty() {
            out.write_all(s.as_bytes())?;
            out.flush()?;
        }
        Ok(())
    }
}

/// Whether every cell of `area` is still the blank [`place`] left there.
fn uncovered(buf: &Buffer, area: Rect) -> bool {
    (area.top()..area.bottom()).all(|y| {
        (area.left()..area.right()).all(|x| {
            buf.cell((x, y))
                .is_some_and(|c| c.fg == MARK && c.symbol() == " ")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::RgbImage;

    fn image() -> Arc<KittyImage> {
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(40, 30, image::Rgb([200, 10, 10])));
        Arc::new(KittyImage::new(&img, Size::new(4, 3)))
    }

    #[test]
    fn the_command_transmits_in_chunks_without_placeholders() {
        let big = DynamicImage::ImageRgb8(RgbImage::new(100, 100));
        let k = KittyImage::new(&big, Size::new(10, 5));
        // 30000 bytes of RGB: 10 chunks of 3072.
        assert_eq!(k.command.matches("\x1b_G").count(), 10);
        assert!(k.command.starts_with(&format!(
            "\x1b_Ga=T,f=24,s=100,v=100,i={},p=1,C=1,q=2,m=1;",
            k.id
        )));
        assert!(k.command.ends_with("\x1b\\"));
        // No unicode-placeholder key: kitty 0.26 refuses the whole command for `U`.
        assert!(!k.command.contains("U=1"));
    }

    #[test]
    fn placements_follow_the_frames() {
        let img = image();
        let area = Rect::new(2, 1, 4, 3);
        let mut buf = Buffer::empty(Rect::new(0, 0, 20, 10));
        let mut p = Placements::default();
        let mut out = Vec::new();

        place(&img, area, &mut buf);
        p.after_draw(&buf, &mut out).unwrap();
        let sent = String::from_utf8(out.clone()).unwrap();
        assert!(sent.starts_with("\x1b[2;3H\x1b_Ga=T"), "{sent:?}");

        // The same frame again: nothing to send.
        out.clear();
        place(&img, area, &mut buf);
        p.after_draw(&buf, &mut out).unwrap();
        assert!(out.is_empty());

        // A popup drawn over a corner: the placement goes.
        place(&img, area, &mut buf);
        buf[(3, 2)].reset();
        buf[(3, 2)].set_symbol("x");
        p.after_draw(&buf, &mut out).unwrap();
        let sent = String::from_utf8(std::mem::take(&mut out)).unwrap();
        assert_eq!(sent, format!("\x1b_Ga=d,d=I,i={},q=2\x1b\\", img.id));

        // Back uncovered: placed again; then a frame without it deletes it.
        let mut buf = Buffer::empty(Rect::new(0, 0, 20, 10));
        place(&img, area, &mut buf);
        p.after_draw(&buf, &mut out).unwrap();
        assert!(
            String::from_utf8(std::mem::take(&mut out))
                .unwrap()
                .contains("a=T")
        );
        p.after_draw(&Buffer::empty(Rect::new(0, 0, 20, 10)), &mut out)
            .unwrap();
        assert!(
            String::from_utf8(std::mem::take(&mut out))
                .unwrap()
                .contains("a=d")
        );
    }
}
