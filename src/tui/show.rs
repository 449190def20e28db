//! `labelvet show`: one image and everything known about it, printed into the ordinary terminal
//! scrollback (viuer) so that it can be scrolled back to, piped, or pasted into a discussion.
//!
//! The text part never depends on the picture: when stdout is not a terminal, or the file is
//! missing or corrupt, the text is printed all the same with a line saying why no image is drawn.

use std::io::{IsTerminal, Write};
use std::path::Path;

use super::images::Source;
use crate::annotate::Project;
use crate::error::{Error, Result};

/// Prints `image` of `project` (the picture, then its candidates, answers and flags).
pub fn show(
    project: &Path,
    image: &str,
    images: Option<&Path>,
    annotator: Option<&str>,
) -> Result<()> {
    let project = Project::open(project)?;
    let text = project.describe(image, annotator)?;
    let row = project.image(image.trim())?.expect("describe found it");
    let drawn = match (project.carried_images(images)?, project.image_root(images)) {
        (Some(file), _) => draw(&Source::Carried {
            file,
            key: row.rec.key.clone(),
        }),
        (None, None) => Err(Some(
            "the project has no image folder; pass --images DIR".to_string(),
        )),
        (None, Some(root)) => row
            .rec
            .file_under(&root)
            .map_err(Some)
            .and_then(|path| draw(&Source::File(path))),
    };
    let mut out = std::io::stdout().lock();
    let written = match drawn {
        // The reader went away (`labelvet show ... | head`): nothing more to say, as
        // ripgrep and cat do.
        Err(None) => return Ok(()),
        Err(Some(why)) => writeln!(out, "(image not drawn: {})", crate::text::display(&why)),
        Ok(()) => Ok(()),
    }
    .and_then(|()| out.write_all(text.as_bytes()))
    .and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::msg(format!("writing to stdout: {e}"))),
        Ok(()) => Ok(()),
    }
}

/// Prints the picture. The error is why it could not be, or `None` when stdout's reader is gone.
fn draw(source: &Source) -> Result<(), Option<String>> {
    let tty = std::io::stdout().is_terminal();
    let (cols, rows) = if tty {
        crossterm::terminal::size().unwrap_or((80, 24))
    } else {
        (80, 24)
    };
    // Graphics protocols send the file's pixels for the terminal to scale; half-blocks need only
    // two pixels a cell, so a JPEG is decoded no larger than that (DCT scaling).
    let graphics = tty
        && (viuer::get_kitty_support() != viuer::KittySupport::None || viuer::is_iterm_supported());
    let mut cells = (0, 0);
    let img = super::images::read_then(source, |opened| {
        cells = cells_for(opened.width, opened.height, cols, rows);
        if graphics {
            opened.decode()
        } else {
            opened
                .decode_to_fit((cells.0, cells.1 * 2))
                .map(|(img, _)| img)
        }
    })
    .map_err(Some)?;
    let (w, h) = cells;
    let config = viuer::Config {
        absolute_offset: false,
        width: Some(w),
        height: Some(h),
        // Graphics protocols query the terminal; through a pipe only half-blocks make sense.
        use_kitty: tty,
        use_iterm: tty,
        ..viuer::Config::default()
    };
    match viuer::print(&img, &config) {
        Ok(_) => Ok(()),
        Err(viuer::ViuError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(None),
        Err(e) => Err(Some(format!("{}: {e}", source.name()))),
    }
}

/// The cells a `width`x`height` image takes in a `cols`x`rows` terminal: at most 100 columns
/// wide and two thirds of the rows high, so the text below is in view with the picture.
fn cells_for(width: u32, height: u32, cols: u16, rows: u16) -> (u32, u32) {
    let max_w = u32::from(cols.clamp(20, 100));
    let max_rows = u32::from(rows.max(12)) * 2 / 3;
    let aspect = f64::from(height) / f64::from(width.max(1));
    let mut w = max_w;
    let mut h = ((f64::from(w) * aspect) / 2.0).ceil() as u32;
    if h > max_rows {
        h = max_rows;
        w = ((f64::from(h) * 2.0 / aspect).round() as u32).clamp(1, max_w);
    }
    (w, h)
}
