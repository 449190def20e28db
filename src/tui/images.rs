//! Images for the screen: decode, resize and encode on worker threads (one a core), ahead of the
//! annotator.
//!
//! An annotator answers in well under a second per question, and a JPEG takes milliseconds to
//! decode, so the screen must never decode on a key press. The worker takes requests in priority
//! order (the current image first, then the next few of the queue), keeps a few decoded images so
//! that zoom or a resized window only resizes again, and hands back ready-to-draw protocols. The
//! screen asks again for whatever the layout needs on every frame; requests already queued,
//! running or delivered are not repeated.
//!
//! Decoding refuses decompression bombs (dimension and allocation limits), and every failure is
//! a sentence naming the file, for the placeholder the screen draws instead of the image.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use fast_image_resize as fr;
use image::{DynamicImage, RgbImage};
use ratatui::layout::{Rect, Size};
use ratatui_image::protocol::Protocol;
use ratatui_image::protocol::iterm2::Iterm2;
use ratatui_image::protocol::kitty::Kitty;
use ratatui_image::protocol::sixel::Sixel;

use super::detect::{Detection, Graphics};
use super::kitty::KittyImage;

use crate::imagefile;

/// Decoded images the worker keeps for re-encoding at another size.
const DECODED_KEPT: usize = 4;

/// Where an image's bytes are: a file below the image folder, or carried inside the
/// annotator's file (`checkout --with-images`), read and checked by `store::carried`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    File(PathBuf),
    Carried { file: PathBuf, key: String },
}

impl Source {
    /// The bytes, within the size limit; the error is a sentence naming the image.
    pub fn read(&self) -> Result<Vec<u8>, String> {
        match self {
            Source::File(path) => imagefile::read_file(path)
                .map_err(|e| format!("{}: cannot read the file: {e}", path.display())),
            Source::Carried { file, key } => crate::annotate::read_carried(file, key),
        }
    }

    /// What a decoding error names.
    pub fn name(&self) -> String {
        match self {
            Source::File(path) => path.display().to_string(),
            Source::Carried { file, key } => format!(
                "{key} (carried in {})",
                file.file_name().unwrap_or_default().to_string_lossy()
            ),
        }
    }
}

impl From<PathBuf> for Source {
    fn from(path: PathBuf) -> Source {
        Source::File(path)
    }
}

/// An image to load, the cell area to fit it in, and the part of it to show.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Request {
    pub id: i64,
    /// Where the image is, or why there is none to read (no image folder known).
    pub path: Result<Source, String>,
    pub area: Rect,
    pub view: View,
}

impl Request {
    /// The whole image, fitted to `area`.
    pub fn fit(id: i64, path: Result<Source, String>, area: Rect) -> Request {
        Request {
            id,
            path,
            area,
            view: View::FIT,
        }
    }

    pub fn slot(&self) -> Slot {
        (self.id, self.area, self.view)
    }
}

/// What a loaded image is cached under: the image, the area it was fitted to and the view.
pub type Slot = (i64, Rect, View);

/// The magnifier: how much of the image is shown, and where. At zoom 1 the whole image fits the
/// area; at zoom 2, 4 or 8 a region of the full-resolution decode, centred at (`cx`, `cy`)
/// (thousandths of the image's width and height), fills it at that many times the fitted scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct View {
    pub zoom: u8,
    pub cx: u16,
    pub cy: u16,
}

impl Default for View {
    fn default() -> View {
        View::FIT
    }
}

impl View {
    pub const FIT: View = View {
        zoom: 1,
        cx: 500,
        cy: 500,
    };
    /// The zoom steps `+` and `-` go through.
    pub const STEPS: [u8; 4] = [1, 2, 4, 8];

    pub fn zoom_in(self) -> View {
        let z = View::STEPS
            .iter()
            .copied()
            .find(|z| *z > self.zoom)
            .unwrap_or(self.zoom);
        View { zoom: z, ..self }
    }

    pub fn zoom_out(self) -> View {
        match View::STEPS.iter().copied().rev().find(|z| *z < self.zoom) {
            Some(1) | None => View::FIT,
            Some(z) => View { zoom: z, ..self },
        }
    }

    /// Moves the centre by a quarter of the shown region, `dx` and `dy` in -1..=1. The centre is
    /// kept where the region stays inside the image, for an image whose proportions are
    /// (`iw`, `ih`) shown in a box of (`bw`, `bh`) (any unit).
    pub fn pan(self, dx: i32, dy: i32, (iw, ih): (u32, u32), (bw, bh): (u32, u32)) -> View {
        if self.zoom <= 1 {
            return self;
        }
        let (x, y, w, h) = self.region(iw.max(1), ih.max(1), bw.max(1), bh.max(1));
        let cx =
            (f64::from(x) + f64::from(w) * (0.5 + f64::from(dx) * 0.25)) / f64::from(iw.max(1));
        let cy =
            (f64::from(y) + f64::from(h) * (0.5 + f64::from(dy) * 0.25)) / f64::from(ih.max(1));
        let moved = View {
            cx: (cx * 1000.0).round().clamp(0.0, 1000.0) as u16,
            cy: (cy * 1000.0).round().clamp(0.0, 1000.0) as u16,
            ..self
        };
        // Pull the centre back to where the region is inside the image.
        let (x, y, w, h) = moved.region(iw.max(1), ih.max(1), bw.max(1), bh.max(1));
        View {
            cx: (((f64::from(x) + f64::from(w) / 2.0) / f64::from(iw.max(1))) * 1000.0).round()
                as u16,
            cy: (((f64::from(y) + f64::from(h) / 2.0) / f64::from(ih.max(1))) * 1000.0).round()
                as u16,
            ..moved
        }
    }

    /// The region of an `iw` x `ih` image shown in a `bw` x `bh` box: (x, y, w, h) in image
    /// pixels, inside the image.
    pub fn region(self, iw: u32, ih: u32, bw: u32, bh: u32) -> (u32, u32, u32, u32) {
        let fit = (f64::from(bw) / f64::from(iw)).min(f64::from(bh) / f64::from(ih));
        let scale = fit * f64::from(self.zoom.max(1));
        let w = ((f64::from(bw) / scale).round() as u32).clamp(1, iw);
        let h = ((f64::from(bh) / scale).round() as u32).clamp(1, ih);
        let cx = f64::from(iw) * f64::from(self.cx.min(1000)) / 1000.0;
        let cy = f64::from(ih) * f64::from(self.cy.min(1000)) / 1000.0;
        let x = ((cx - f64::from(w) / 2.0).round().max(0.0) as u32).min(iw - w);
        let y = ((cy - f64::from(h) / 2.0).round().max(0.0) as u32).min(ih - h);
        (x, y, w, h)
    }
}

/// A finished request: a picture ready to draw, or the reason it cannot be.
pub struct Done {
    pub slot: Slot,
    pub result: Result<Picture, String>,
}

/// An image encoded for the terminal.
#[derive(Clone)]
pub enum Picture {
    /// Half-blocks: `▀` in each cell, the upper pixel as foreground, the lower as background.
    Halfblocks(HalfblockImage),
    /// Drawn through ratatui's cells: half-blocks or chafa symbols, kitty placeholders, sixel,
    /// iTerm2.
    Cells(Protocol),
    /// Kitty graphics placed directly, after the frame (see `kitty`).
    Kitty(Arc<KittyImage>),
    /// Symbols chosen by libchafa, each with its colours (see `chafa`).
    Symbols(SymbolImage),
}

impl Picture {
    /// The cells it covers.
    pub fn size(&self) -> Size {
        match self {
            Picture::Halfblocks(h) => h.size,
            Picture::Cells(p) => p.size(),
            Picture::Kitty(k) => k.size,
            Picture::Symbols(s) => s.size,
        }
    }
}

/// Half-block cells: (upper, lower) pixel colours, row by row.
#[derive(Clone, Debug)]
pub struct HalfblockImage {
    pub size: Size,
    cells: Vec<([u8; 3], [u8; 3])>,
}

impl HalfblockImage {
    /// From an RGB image of exactly `size.width` x `2 * size.height` pixels.
    fn new(img: &RgbImage, size: Size) -> HalfblockImage {
        let (w, h) = (usize::from(size.width), usize::from(size.height));
        let raw = img.as_raw();
        let stride = img.width() as usize * 3;
        let px = |x: usize, y: usize| {
            let i = y * stride + x * 3;
            [raw[i], raw[i + 1], raw[i + 2]]
        };
        let mut cells = Vec::with_capacity(w * h);
        for row in 0..h {
            for x in 0..w {
                cells.push((px(x, 2 * row), px(x, 2 * row + 1)));
            }
        }
        HalfblockImage { size, cells }
    }

    /// Draws into `area` (clipped to it).
    pub fn render(&self, area: Rect, buf: &mut ratatui::buffer::Buffer) {
        use ratatui::style::Color;
        let w = usize::from(self.size.width);
        for (i, (up, down)) in self.cells.iter().enumerate() {
            let (x, y) = ((i % w) as u16, (i / w) as u16);
            if x >= area.width || y >= area.height {
                continue;
            }
            if let Some(cell) = buf.cell_mut((area.x + x, area.y + y)) {
                cell.set_char('▀')
                    .set_fg(Color::Rgb(up[0], up[1], up[2]))
                    .set_bg(Color::Rgb(down[0], down[1], down[2]));
            }
        }
    }
}

/// Text cells of any symbol: (symbol, foreground, background), row by row.
#[derive(Clone, Debug)]
pub struct SymbolImage {
    pub size: Size,
    cells: Vec<super::chafa::SymbolCell>,
}

impl SymbolImage {
    /// Draws into `area` (clipped to it).
    pub fn render(&self, area: Rect, buf: &mut ratatui::buffer::Buffer) {
        use ratatui::style::Color;
        let w = usize::from(self.size.width);
        for (i, (ch, fg, bg)) in self.cells.iter().enumerate() {
            let (x, y) = ((i % w) as u16, (i / w) as u16);
            if x >= area.width || y >= area.height {
                continue;
            }
            if let Some(cell) = buf.cell_mut((area.x + x, area.y + y)) {
                cell.set_char(*ch)
                    .set_fg(Color::Rgb(fg[0], fg[1], fg[2]))
                    .set_bg(Color::Rgb(bg[0], bg[1], bg[2]));
            }
        }
    }
}

/// Decodes, fits and encodes images for one way of drawing them.
#[derive(Clone, Debug)]
pub struct Encoder {
    graphics: Graphics,
    /// Cell size in pixels (for the pixel protocols).
    cell_px: (u16, u16),
    /// Sixel colours.
    registers: u16,
    /// Inside tmux: escape sequences go through its passthrough.
    tmux: bool,
}

impl Encoder {
    /// The encoder for what `detect` found.
    pub fn new(d: &Detection) -> Encoder {
        Encoder {
            graphics: d.graphics,
            cell_px: d.cell_px.unwrap_or((10, 20)),
            registers: d.color_registers,
            tmux: d.tmux.is_some(),
        }
    }

    /// `graphics` at a cell size of `cell_px` (benchmarks, tests).
    pub fn with(graphics: Graphics, cell_px: (u16, u16)) -> Encoder {
        Encoder {
            graphics,
            cell_px,
            registers: 256,
            tmux: false,
        }
    }

    /// Half-blocks, which every terminal draws and which tests can compare cell by cell.
    pub fn halfblocks() -> Encoder {
        Encoder::with(Graphics::Halfblocks, (10, 20))
    }

    pub fn graphics(&self) -> Graphics {
        self.graphics
    }

    /// Decodes and fits the file in one go (the cold path the benchmark measures), decoding
    /// no more pixels than the picture needs.
    pub fn load(&self, path: &Path, area: Rect) -> Result<Picture, String> {
        let (img, _) = decode_to_fit(path, self.decode_box(area, View::FIT))?;
        self.fit(&img, area)
    }

    /// The pixel box the decode must cover for `view` of an image in `area`: the area's pixels,
    /// times the zoom (the view shows 1/zoom of the image at the area's size), times the extra
    /// detail libchafa is given.
    pub fn decode_box(&self, area: Rect, view: View) -> (u32, u32) {
        let (w, h) = self.area_box(area);
        let k = u32::from(view.zoom.max(1));
        if self.graphics == Graphics::Chafa && cfg!(feature = "chafa") {
            // libchafa's 8x8 pixels a cell, where a half-block cell has 1x2.
            let px = super::chafa::CELL_PX;
            (w * k * px, h * k * px / 2)
        } else {
            (w * k, h * k)
        }
    }

    /// Resizes `img` to the largest size that fits `area` (keeping its proportions) and encodes
    /// it. The picture's size is the cells the image covers, at most `area`.
    pub fn fit(&self, img: &DynamicImage, area: Rect) -> Result<Picture, String> {
        self.fit_view(img, area, View::FIT)
    }

    /// The pixel box one cell of `area` stands for: half-block pixels (1x2 a cell) for text
    /// cells, the cell's pixels for the graphics protocols.
    fn cell_box(&self) -> (u32, u32) {
        match self.graphics {
            Graphics::Halfblocks | Graphics::Chafa => (1, 2),
            _ => (
                u32::from(self.cell_px.0.max(1)),
                u32::from(self.cell_px.1.max(1)),
            ),
        }
    }

    /// The proportions of `area` in the unit [`View::pan`] and [`View::region`] take.
    pub fn area_box(&self, area: Rect) -> (u32, u32) {
        let (cw, ch) = self.cell_box();
        (u32::from(area.width) * cw, u32::from(area.height) * ch)
    }

    /// Like [`Encoder::fit`], showing the region of the image `view` selects, cut from the full
    /// decode.
    pub fn fit_view(&self, img: &DynamicImage, area: Rect, view: View) -> Result<Picture, String> {
        if area.width == 0 || area.height == 0 {
            return Err("no room on screen for the image".into());
        }
        let (cell_w, cell_h) = self.cell_box();
        let (box_w, box_h) = self.area_box(area);
        let (rx, ry, rw, rh) = view.region(img.width().max(1), img.height().max(1), box_w, box_h);
        let (w, h) = fit_size(
            rw,
            rh,
            box_w,
            box_h,
            if self.graphics.text_cells() {
                cell_h
            } else {
                1
            },
        );
        let cells = Size::new(
            (w.div_ceil(cell_w) as u16).clamp(1, area.width),
            (h.div_ceil(cell_h) as u16).clamp(1, area.height),
        );
        let encode_err = |e: &dyn std::fmt::Display| format!("cannot encode the image: {e}");
        match self.graphics {
            Graphics::Halfblocks => {
                // Exactly two pixel rows per cell.
                let small = crop_resize(img, (rx, ry, rw, rh), w, h)?;
                let rgb = small.as_rgb8().expect("crop_resize makes RGB");
                Ok(Picture::Halfblocks(HalfblockImage::new(rgb, cells)))
            }
            Graphics::Chafa => {
                // libchafa picks a symbol and two colours per cell from the cell's pixels.
                let px = super::chafa::CELL_PX;
                let small = crop_resize(
                    img,
                    (rx, ry, rw, rh),
                    u32::from(cells.width) * px,
                    u32::from(cells.height) * px,
                )?;
                let rgb = small.as_rgb8().expect("crop_resize makes RGB");
                match super::chafa::encode(rgb, cells.width, cells.height) {
                    Some(symbols) => Ok(Picture::Symbols(SymbolImage {
                        size: cells,
                        cells: symbols,
                    })),
                    // A build without libchafa: half-blocks (`doctor` says so).
                    None => {
                        let small = crop_resize(img, (rx, ry, rw, rh), w, h)?;
                        let rgb = small.as_rgb8().expect("crop_resize makes RGB");
                        Ok(Picture::Halfblocks(HalfblockImage::new(rgb, cells)))
                    }
                }
            }
            Graphics::KittyDirect => {
                let small = crop_resize(img, (rx, ry, rw, rh), w, h)?;
                Ok(Picture::Kitty(Arc::new(KittyImage::new(&small, cells))))
            }
            Graphics::KittyPlaceholders => {
                let small = crop_resize(img, (rx, ry, rw, rh), w, h)?;
                Kitty::new(small, cells, kitty_id(), self.tmux, false)
                    .map(|p| Picture::Cells(Protocol::Kitty(p)))
                    .map_err(|e| encode_err(&e))
            }
            Graphics::Iterm2 => {
                let small = crop_resize(img, (rx, ry, rw, rh), w, h)?;
                Iterm2::new(small, cells, self.tmux)
                    .map(|p| Picture::Cells(Protocol::ITerm2(p)))
                    .map_err(|e| encode_err(&e))
            }
            Graphics::Sixel => {
                let small = crop_resize(img, (rx, ry, rw, rh), w, h)?;
                let data = sixel(&small, cells, self.registers, self.tmux)?;
                Ok(Picture::Cells(Protocol::Sixel(Sixel {
                    data,
                    size: cells,
                    is_tmux: self.tmux,
                })))
            }
        }
    }
}

/// An id for a kitty image with placeholders: its low 24 bits travel as the placeholder's
/// foreground colour, so they must not be 0.
fn kitty_id() -> u32 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    ((std::process::id() & 0xff) << 24) | (n & 0x00ff_ffff).max(1)
}

/// Sixel for `img`, quantized to `registers` colours (Wu's quantizer with Floyd-Steinberg
/// dithering, which keeps a photo's gradients from banding), after erasing the cells it covers
/// (a sixel with transparent edges would leave old text showing).
fn sixel(img: &DynamicImage, cells: Size, registers: u16, tmux: bool) -> Result<String, String> {
    let rgba = img.to_rgba8();
    let opts = icy_sixel::EncodeOptions {
        max_colors: registers.clamp(2, 256),
        ..icy_sixel::EncodeOptions::default()
    };
    let six = icy_sixel::sixel_encode(
        rgba.as_raw(),
        rgba.width() as usize,
        rgba.height() as usize,
        &opts,
    )
    .map_err(|e| format!("cannot encode the image as sixel: {e}"))?;
    let (start, esc, end) = if tmux {
        ("\x1bPtmux;", "\x1b\x1b", "\x1b\\")
    } else {
        ("", "\x1b", "")
    };
    let mut data = String::with_capacity(six.len() + 16 * usize::from(cells.height) + 32);
    data.push_str(start);
    for _ in 0..cells.height {
        data.push_str(&format!("{esc}[{}X{esc}[1B", cells.width));
    }
    data.push_str(&format!("{esc}[{}A", cells.height));
    if tmux {
        data.push_str(&six.replace('\x1b', "\x1b\x1b"));
    } else {
        data.push_str(&six);
    }
    data.push_str(end);
    Ok(data)
}

/// The largest (w, h) within the box keeping the proportions of (iw, ih); h a multiple of
/// `h_step` so that whole cells are filled.
fn fit_size(iw: u32, ih: u32, box_w: u32, box_h: u32, h_step: u32) -> (u32, u32) {
    let scale =
        (f64::from(box_w) / f64::from(iw.max(1))).min(f64::from(box_h) / f64::from(ih.max(1)));
    let w = ((f64::from(iw) * scale).round() as u32).clamp(1, box_w);
    let h = ((f64::from(ih) * scale).round() as u32).clamp(1, box_h);
    let h = (h / h_step).max(1) * h_step;
    (w, h)
}

/// Reads an image file with the limits that refuse decompression bombs (the ones `init` checks
/// the header against), its format told by its content.
pub fn decode(path: &Path) -> Result<DynamicImage, String> {
    read_then(&Source::File(path.to_path_buf()), |opened| opened.decode())
}

/// Like [`decode`], for a picture that fits `fit_box` pixels: a JPEG much larger than that is
/// decoded at 1/2, 1/4 or 1/8 of its size ([`imagefile::Opened::decode_to_fit`]). True with
/// the image when it was decoded whole.
pub fn decode_to_fit(path: &Path, fit_box: (u32, u32)) -> Result<(DynamicImage, bool), String> {
    decode_source_to_fit(&Source::File(path.to_path_buf()), fit_box)
}

/// [`decode_to_fit`] of an image wherever it is (a file, or carried in the annotator's file).
pub fn decode_source_to_fit(
    source: &Source,
    fit_box: (u32, u32),
) -> Result<(DynamicImage, bool), String> {
    read_then(source, |opened| opened.decode_to_fit(fit_box))
}

/// Reads the image at `source` (within the size limit; a carried one only when its bytes pass
/// their checks), opens its header and hands it to `decode`; every error names the image.
pub(super) fn read_then<T>(
    source: &Source,
    decode: impl FnOnce(imagefile::Opened<'_>) -> Result<T, String>,
) -> Result<T, String> {
    // Only a regular file (a FIFO would hang, /dev/zero never end), within the size limit.
    let data = source.read()?;
    imagefile::open(&data)
        .and_then(decode)
        .map_err(|e| format!("{}: {e}", source.name()))
}

/// Cuts `region` (x, y, w, h) out of `img` and resizes it to exactly (w, h) RGB with
/// fast_image_resize; transparency is laid over black, the screen's background.
fn crop_resize(
    img: &DynamicImage,
    (x, y, rw, rh): (u32, u32, u32, u32),
    w: u32,
    h: u32,
) -> Result<DynamicImage, String> {
    let rgb = if img.color().has_alpha() {
        let rgba = img.to_rgba8();
        let mut out = RgbImage::new(rgba.width(), rgba.height());
        for (o, p) in out.pixels_mut().zip(rgba.pixels()) {
            let a = u16::from(p[3]);
            for c in 0..3 {
                o[c] = (u16::from(p[c]) * a / 255) as u8;
            }
        }
        std::borrow::Cow::Owned(DynamicImage::ImageRgb8(out))
    } else if let DynamicImage::ImageRgb8(_) = img {
        std::borrow::Cow::Borrowed(img)
    } else {
        std::borrow::Cow::Owned(DynamicImage::ImageRgb8(img.to_rgb8()))
    };
    let whole = (x, y, rw, rh) == (0, 0, rgb.width(), rgb.height());
    if whole && (rgb.width(), rgb.height()) == (w, h) {
        return Ok(rgb.into_owned());
    }
    let mut dst = DynamicImage::new(w, h, image::ColorType::Rgb8);
    let mut opts =
        fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear));
    if !whole {
        opts = opts.crop(f64::from(x), f64::from(y), f64::from(rw), f64::from(rh));
    }
    fr::Resizer::new()
        .resize(rgb.as_ref(), &mut dst, &opts)
        .map_err(|e| format!("cannot resize the image: {e}"))?;
    Ok(dst)
}

#[derive(Default)]
struct Queue {
    wanted: VecDeque<Request>,
    /// What the workers are loading now.
    running: Vec<Slot>,
    /// Sent back but not yet taken by the screen: not to be done again meanwhile.
    delivered: HashSet<Slot>,
    quit: bool,
}

type Shared = Arc<(Mutex<Queue>, Condvar)>;

/// The worker threads and their queue.
pub struct Loader {
    shared: Shared,
    results: Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
}

/// Images being loaded at once: one a core, up to 4. A grid page asks for 24 thumbnails in
/// one frame, and decoding is most of their time; on the question screen the current image and
/// the next ones load side by side.
fn worker_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

impl Loader {
    /// Starts the workers. `wake` is called after each result is sent, so an event loop blocked
    /// on other input can come and take it.
    pub fn new(encoder: Encoder, wake: Box<dyn Fn() + Send>) -> Loader {
        let shared: Shared = Arc::new((Mutex::new(Queue::default()), Condvar::new()));
        let (tx, results) = mpsc::channel();
        let wake = Arc::new(Mutex::new(wake));
        // Decoded images, shared: a zoom served by another worker than the first view's.
        let decoded = Arc::new(Mutex::new(VecDeque::new()));
        let workers = (0..worker_count())
            .map(|_| {
                let (shared, encoder, tx) = (shared.clone(), encoder.clone(), tx.clone());
                let (wake, decoded) = (wake.clone(), decoded.clone());
                std::thread::Builder::new()
                    .name("labelvet-images".into())
                    .spawn(move || {
                        let wake = || (wake.lock().unwrap_or_else(|e| e.into_inner()))();
                        work(&shared, &encoder, &decoded, &tx, &wake)
                    })
                    .expect("spawning an image thread")
            })
            .collect();
        Loader {
            shared,
            results,
            workers,
        }
    }

    /// Replaces the queue by `wanted`, in priority order, leaving out what is running or
    /// delivered. Returns the slots that were queued and are no longer wanted.
    pub fn want(&self, wanted: Vec<Request>) -> Vec<Slot> {
        let (lock, cv) = &*self.shared;
        let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
        let keep: Vec<Request> = wanted
            .into_iter()
            .filter(|r| !q.running.contains(&r.slot()) && !q.delivered.contains(&r.slot()))
            .collect();
        let dropped = q
            .wanted
            .iter()
            .map(Request::slot)
            .filter(|s| !keep.iter().any(|r| r.slot() == *s))
            .collect();
        q.wanted = keep.into();
        cv.notify_all();
        dropped
    }

    /// A finished request, if one is waiting.
    pub fn try_recv(&self) -> Option<Done> {
        let done = self.results.try_recv().ok()?;
        self.taken(&done);
        Some(done)
    }

    /// Waits up to `timeout` for a finished request.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Done> {
        let done = self.results.recv_timeout(timeout).ok()?;
        self.taken(&done);
        Some(done)
    }

    fn taken(&self, done: &Done) {
        let (lock, _) = &*self.shared;
        lock.lock()
            .unwrap_or_else(|e| e.into_inner())
            .delivered
            .remove(&done.slot);
    }
}

/// The file of image `id` below the image folder `root`: from `known` when it is the record at
/// hand (the current image, a page's cell), else read from the project. The error is what the
/// screen shows in the image's place.
///
/// With `carried` (the annotator's file, when it carries its images and no folder was given),
/// the image is read from that file instead.
pub fn image_path(
    root: Option<&Path>,
    carried: Option<&Path>,
    id: i64,
    known: Option<&crate::store::ImageRecord>,
    lookup: impl FnOnce(i64) -> crate::error::Result<Option<crate::store::ImageRow>>,
) -> Result<Source, String> {
    let at = |rec: &crate::store::ImageRecord| -> Result<Source, String> {
        match (carried, root) {
            (Some(file), _) => Ok(Source::Carried {
                file: file.to_path_buf(),
                key: rec.key.clone(),
            }),
            (None, Some(root)) => rec.file_under(root).map(Source::File),
            (None, None) => {
                Err("the project has no image folder; pass --images DIR to show images".into())
            }
        }
    };
    if carried.is_none() && root.is_none() {
        return Err("the project has no image folder; pass --images DIR to show images".into());
    }
    match known {
        Some(rec) => at(rec),
        None => match lookup(id) {
            Ok(Some(row)) => at(&row.rec),
            Ok(None) => Err(format!("image #{id} is no longer in the project")),
            Err(e) => Err(e.to_string()),
        },
    }
}

/// The screen's side of image loading: the pictures loaded so far, what is on its way, and the
/// requests of the frame being drawn. A frame asks for every picture it shows (and those worth
/// loading ahead) with [`Pictures::want`], then hands the whole list to the worker once with
/// [`Pictures::send`], so that pictures of one frame never cancel each other's requests.
pub struct Pictures {
    loader: Loader,
    encoder: Encoder,
    cache: HashMap<Slot, Result<Picture, String>>,
    pending: HashSet<Slot>,
    frame: Vec<Request>,
    /// Slots asked for by the current frame, loaded or not: what eviction keeps.
    asked: HashSet<Slot>,
    keep: usize,
}

impl Pictures {
    /// Keeps at least `keep` loaded pictures before evicting those the frame did not ask for.
    pub fn new(encoder: Encoder, wake: Box<dyn Fn() + Send>, keep: usize) -> Pictures {
        Pictures {
            loader: Loader::new(encoder.clone(), wake),
            encoder,
            cache: HashMap::new(),
            pending: HashSet::new(),
            frame: Vec::new(),
            asked: HashSet::new(),
            keep,
        }
    }

    /// Asks for a picture in this frame (earlier asks come first) and returns it if loaded.
    pub fn want(&mut self, request: Request) -> Option<&Result<Picture, String>> {
        let slot = request.slot();
        self.asked.insert(slot);
        if !self.cache.contains_key(&slot) && !self.frame.iter().any(|r| r.slot() == slot) {
            self.frame.push(request);
        }
        self.cache.get(&slot)
    }

    /// How pictures are encoded (their pixel geometry, for the magnifier).
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// A picture already loaded.
    pub fn get(&self, slot: &Slot) -> Option<&Result<Picture, String>> {
        self.cache.get(slot)
    }

    /// Hands this frame's requests to the worker (replacing older ones) and evicts pictures the
    /// frame did not ask for once more than `keep` are held.
    pub fn send(&mut self) {
        let wanted = std::mem::take(&mut self.frame);
        for slot in self.loader.want(wanted.clone()) {
            self.pending.remove(&slot);
        }
        self.pending.extend(wanted.iter().map(Request::slot));
        if self.cache.len() > self.keep {
            let asked = &self.asked;
            self.cache.retain(|slot, _| asked.contains(slot));
        }
        self.asked.clear();
    }

    /// Takes the pictures the worker has finished. Returns true when any arrived.
    pub fn take(&mut self) -> bool {
        let mut any = false;
        while let Some(done) = self.loader.try_recv() {
            self.store(done);
            any = true;
        }
        any
    }

    /// Waits until every requested picture is loaded (or `timeout`). Returns false on timeout.
    pub fn settle(&mut self, timeout: Duration) -> bool {
        let end = std::time::Instant::now() + timeout;
        while !self.pending.is_empty() {
            let left = end.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            if let Some(done) = self.loader.recv_timeout(left) {
                self.store(done);
            }
        }
        true
    }

    fn store(&mut self, done: Done) {
        self.pending.remove(&done.slot);
        self.cache.insert(done.slot, done.result);
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        let (lock, cv) = &*self.shared;
        lock.lock().unwrap_or_else(|e| e.into_inner()).quit = true;
        cv.notify_all();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// A decoded image the worker keeps: whole, or reduced by the JPEG's scaled IDCT.
struct Decoded {
    path: Source,
    img: Arc<DynamicImage>,
    whole: bool,
}

impl Decoded {
    /// Whether this decode has the detail a picture fitted to `fit_box` needs: it is whole, or
    /// at least as large as the fitted picture on its limiting side.
    fn serves(&self, fit_box: (u32, u32)) -> bool {
        self.whole || self.img.width() >= fit_box.0 || self.img.height() >= fit_box.1
    }
}

fn work(
    shared: &Shared,
    encoder: &Encoder,
    decoded: &Mutex<VecDeque<Decoded>>,
    tx: &Sender<Done>,
    wake: &dyn Fn(),
) {
    loop {
        let req = {
            let (lock, cv) = &**shared;
            let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if q.quit {
                    return;
                }
                if let Some(r) = q.wanted.pop_front() {
                    q.running.push(r.slot());
                    break r;
                }
                q = cv.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        let result = req.path.clone().and_then(|path| {
            let fit_box = encoder.decode_box(req.area, req.view);
            let kept = {
                let mut decoded = decoded.lock().unwrap_or_else(|e| e.into_inner());
                match decoded.iter().position(|d| d.path == path) {
                    Some(i) if decoded[i].serves(fit_box) => {
                        let hit = decoded.remove(i).expect("found above");
                        let img = hit.img.clone();
                        decoded.push_back(hit);
                        Some(img)
                    }
                    found => {
                        // Not decoded yet, or too small for this view (a thumbnail's decode,
                        // now zoomed): decoded again below at the scale this view needs.
                        if let Some(i) = found {
                            decoded.remove(i);
                        }
                        None
                    }
                }
            };
            let img = match kept {
                Some(img) => img,
                None => {
                    let (img, whole) = decode_source_to_fit(&path, fit_box)?;
                    let img = Arc::new(img);
                    let mut decoded = decoded.lock().unwrap_or_else(|e| e.into_inner());
                    if decoded.len() >= DECODED_KEPT {
                        decoded.pop_front();
                    }
                    decoded.push_back(Decoded {
                        path,
                        img: img.clone(),
                        whole,
                    });
                    img
                }
            };
            encoder.fit_view(&img, req.area, req.view)
        });
        {
            let (lock, _) = &**shared;
            let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
            q.running.retain(|s| *s != req.slot());
            q.delivered.insert(req.slot());
        }
        if tx
            .send(Done {
                slot: req.slot(),
                result,
            })
            .is_err()
        {
            return;
        }
        wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHOTO: &str = "../shared/data/photos/imagenet_labeled/imagenet_00_243.jpg";

    #[test]
    fn fit_keeps_proportions_in_whole_cells() {
        assert_eq!(fit_size(500, 375, 118, 110, 2), (118, 88));
        assert_eq!(fit_size(375, 500, 118, 110, 2), (83, 110));
        assert_eq!(fit_size(100, 100, 10, 7, 2), (7, 6));
        assert_eq!(fit_size(1, 10_000, 50, 40, 2), (1, 40));
        assert_eq!(fit_size(4000, 1, 50, 40, 2), (50, 2));
    }

    #[test]
    fn a_photo_fits_the_area_in_halfblocks() {
        let enc = Encoder::halfblocks();
        let p = enc.load(Path::new(PHOTO), Rect::new(0, 0, 80, 30)).unwrap();
        // 512x512 into 80 cells x 60 pixel rows: 60x60 pixels, 60 columns x 30 rows.
        assert_eq!(p.size(), Size::new(60, 30));
    }

    #[test]
    fn failures_name_the_file_and_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gone.jpg");
        let e = decode(&missing).unwrap_err();
        assert!(e.starts_with(&format!("{}: ", missing.display())), "{e}");
        assert!(e.contains("No such file"), "{e}");

        // Named like a JPEG: the format is told by the content, not the name.
        let named = dir.path().join("notes.jpg");
        std::fs::write(&named, "these are notes, not pixels").unwrap();
        let e = decode(&named).unwrap_err();
        assert_eq!(
            e,
            format!(
                "{}: not an image: starts with text (\"these are notes, not pix…\")",
                named.display()
            )
        );

        // Cut inside the header or inside the pixel data: refused, saying so. (A decoder would
        // fill the missing rows with grey without a word.)
        let cut = dir.path().join("cut.jpg");
        let bytes = std::fs::read(PHOTO).unwrap();
        for len in [160, bytes.len() / 3] {
            std::fs::write(&cut, &bytes[..len]).unwrap();
            let e = decode(&cut).unwrap_err();
            let truncated = format!(
                "{}: truncated JPEG: data ends after {len} bytes",
                cut.display()
            );
            assert!(e.starts_with(&truncated), "{e}");
        }
    }

    #[test]
    fn a_decompression_bomb_is_refused_before_decoding() {
        // A valid PNG announcing 100000 x 100000 pixels (40 GB as RGBA) in 84 bytes.
        let bomb = Path::new("tests/data/bad_images/bomb.png");
        let e = decode(bomb).unwrap_err();
        assert_eq!(
            e,
            format!(
                "{}: declared 100000x100000 pixels, over the 20000-pixel limit",
                bomb.display()
            )
        );
    }

    #[test]
    fn the_worker_serves_requests_once_each() {
        let loader = Loader::new(Encoder::halfblocks(), Box::new(|| {}));
        let area = Rect::new(0, 0, 40, 20);
        let req = |id| Request::fit(id, Ok(Source::File(PathBuf::from(PHOTO))), area);
        let none = Request::fit(9, Err("no image folder".into()), area);
        assert!(loader.want(vec![req(1), req(2), none.clone()]).is_empty());
        // Asking again while they run or wait does not queue them twice.
        loader.want(vec![req(1), req(2), none]);
        let mut got = Vec::new();
        while let Some(d) = loader.recv_timeout(Duration::from_secs(10)) {
            got.push((d.slot.0, d.result.map(|p| p.size())));
            if got.len() == 3 {
                break;
            }
        }
        assert_eq!(got.len(), 3);
        // The workers finish in any order.
        got.sort_by_key(|g| g.0);
        // 512x512 into 40 cells x 40 pixel rows: 40 columns x 20 rows.
        assert_eq!(got[0], (1, Ok(Size::new(40, 20))));
        assert_eq!(got[1].0, 2);
        assert_eq!(got[2], (9, Err("no image folder".into())));
        assert!(loader.recv_timeout(Duration::from_millis(200)).is_none());
        // Dropping a queued request reports it.
        let dropped = loader.want(vec![]);
        assert!(dropped.is_empty(), "nothing was left queued");
    }
}
