//! `labelvet show`: one image and everything known about it, printed into the ordinary terminal
//! scrollback (viuer) so that it can be scrolled back to, piped, or pasted into a discussion.
//!
//! The text part never depends on the picture: when stdout is not a terminal, or the file is
//! missing or corrupt, the text is printed all the same with a line saying why no image is drawn.

use std::io::{IsTerminal, Write};
use std::path::Path;

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
    let drawn = match project.image_root(images) {
        None => Err(Some(
            "the project has no image folder; pass --images DIR".to_string(),
        )),
        Some(root) => draw(&row.rec.path_under(&root)),
    };
    let mut out = std::io::stdout().lock();
    let written = match drawn {
        // The reader went away (`labelvet show ... | head`): nothing more to say, as
        // ripgrep and cat do.
        Err(None) => return Ok(()),
        Err(Some(why)) => writeln!(out, "(image not drawn: {why})"),
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
fn draw(path: &Path) -> Result<(), Option<String>> {
    let img = super::images::decode(path).map_err(Some)?;
    let tty = std::io::stdout().is_terminal();
    let (cols, rows) = if tty {
        crossterm::terminal::size().unwrap_or((80, 24))
    } else {
        (80, 24)
    };
    let width = u32::from(cols.clamp(20, 100));
    // At most two thirds of the screen, so the text below is in view with the picture.
    let max_rows = u32::from(rows.max(12)) * 2 / 3;
    let aspect = f64::from(img.height()) / f64::from(img.width().max(1));
    let mut w = width;
    let mut h = ((f64::from(w) * aspect) / 2.0).ceil() as u32;
    if h > max_rows {
        h = max_rows;
        w = ((f64::from(h) * 2.0 / aspect).round() as u32).clamp(1, width);
    }
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
        Err(e) => Err(Some(format!("{}: {e}", path.display()))),
    }
}
