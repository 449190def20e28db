//! Images for the screen: decode, resize and encode on a worker thread, ahead of the annotator.
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
use ratatui_image::Resize;
use ratatui_image::picker::{Picker, ProtocolType};
use ratatui_image::protocol::Protocol;
use ratatui_image::protocol::halfblocks::Halfblocks;

use crate::imagefile::{self, MAX_DECODE_BYTES};

/// Decoded images the worker keeps for re-encoding at another size.
const DECODED_KEPT: usize = 4;

/// An image to load and the cell area to fit it in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Request {
    pub id: i64,
    /// The file, or why there is none to read (no image folder known).
    pub path: Result<PathBuf, String>,
    pub area: Rect,
}

impl Request {
    pub fn slot(&self) -> Slot {
        (self.id, self.area)
    }
}

/// What a loaded image is cached under: the image and the area it was fitted to.
pub type Slot = (i64, Rect);

/// A finished request: an image ready to draw, or the reason it cannot be.
pub struct Done {
    pub slot: Slot,
    pub result: Result<Protocol, String>,
}

/// Decodes, fits and encodes images for one graphics protocol.
#[derive(Clone, Debug)]
pub struct Encoder {
    picker: Picker,
}

impl Encoder {
    pub fn new(picker: Picker) -> Encoder {
        Encoder { picker }
    }

    /// Half-blocks, which every terminal draws and which tests can compare cell by cell.
    pub fn halfblocks() -> Encoder {
        Encoder {
            picker: Picker::halfblocks(),
        }
    }

    pub fn protocol_type(&self) -> ProtocolType {
        self.picker.protocol_type()
    }

    /// Decodes and fits the file in one go (the cold path the benchmark measures).
    pub fn load(&self, path: &Path, area: Rect) -> Result<Protocol, String> {
        let img = decode(path)?;
        self.fit(&img, area)
    }

    /// Resizes `img` to the largest size that fits `area` (keeping its proportions) and encodes
    /// it. The protocol's own area is the cells the image covers, at most `area`.
    pub fn fit(&self, img: &DynamicImage, area: Rect) -> Result<Protocol, String> {
        if area.width == 0 || area.height == 0 {
            return Err("no room on screen for the image".into());
        }
        let halfblocks = self.picker.protocol_type() == ProtocolType::Halfblocks;
        // A half-block cell shows two square-ish pixels, one above the other.
        let (cell_w, cell_h) = if halfblocks {
            (1, 2)
        } else {
            let font = self.picker.font_size();
            (u32::from(font.width.max(1)), u32::from(font.height.max(1)))
        };
        let box_w = u32::from(area.width) * cell_w;
        let box_h = u32::from(area.height) * cell_h;
        let (w, h) = fit_size(img.width(), img.height(), box_w, box_h, cell_h);
        let small = resize(img, w, h)?;
        if halfblocks {
            // Exactly two pixel rows per cell, so the half-block encoder does not resample again.
            let cells = Size::new(w as u16, (h / 2) as u16);
            Halfblocks::new(small, cells)
                .map(Protocol::Halfblocks)
                .map_err(|e| format!("cannot encode the image: {e}"))
        } else {
            self.picker
                .new_protocol(small, area.as_size(), Resize::Fit(None))
                .map_err(|e| format!("cannot encode the image: {e}"))
        }
    }
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
    let fail = |what: &dyn std::fmt::Display| format!("{}: {what}", path.display());
    let cannot_read = |e: std::io::Error| fail(&format_args!("cannot read the file: {e}"));
    let size = std::fs::metadata(path).map_err(cannot_read)?.len();
    // No image within the allocation limit comes from a larger file; do not read it all.
    if size > MAX_DECODE_BYTES {
        return Err(fail(&format_args!(
            "a file of {} MiB, over the {} MiB limit",
            size.div_ceil(1024 * 1024),
            MAX_DECODE_BYTES / (1024 * 1024)
        )));
    }
    let data = std::fs::read(path).map_err(cannot_read)?;
    imagefile::open(&data)
        .and_then(imagefile::Opened::decode)
        .map_err(|e| fail(&e))
}

/// Resizes to exactly (w, h) RGB with fast_image_resize; transparency is laid over black, the
/// screen's background.
fn resize(img: &DynamicImage, w: u32, h: u32) -> Result<DynamicImage, String> {
    let rgb = if img.color().has_alpha() {
        let rgba = img.to_rgba8();
        let mut out = RgbImage::new(rgba.width(), rgba.height());
        for (o, p) in out.pixels_mut().zip(rgba.pixels()) {
            let a = u16::from(p[3]);
            for c in 0..3 {
                o[c] = (u16::from(p[c]) * a / 255) as u8;
            }
        }
        DynamicImage::ImageRgb8(out)
    } else if let DynamicImage::ImageRgb8(_) = img {
        img.clone()
    } else {
        DynamicImage::ImageRgb8(img.to_rgb8())
    };
    if (rgb.width(), rgb.height()) == (w, h) {
        return Ok(rgb);
    }
    let mut dst = DynamicImage::new(w, h, image::ColorType::Rgb8);
    let opts =
        fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear));
    fr::Resizer::new()
        .resize(&rgb, &mut dst, &opts)
        .map_err(|e| format!("cannot resize the image: {e}"))?;
    Ok(dst)
}

#[derive(Default)]
struct Queue {
    wanted: VecDeque<Request>,
    running: Option<Slot>,
    /// Sent back but not yet taken by the screen: not to be done again meanwhile.
    delivered: HashSet<Slot>,
    quit: bool,
}

type Shared = Arc<(Mutex<Queue>, Condvar)>;

/// The worker thread and its queue.
pub struct Loader {
    shared: Shared,
    results: Receiver<Done>,
    worker: Option<JoinHandle<()>>,
}

impl Loader {
    /// Starts the worker. `wake` is called after each result is sent, so an event loop blocked on
    /// other input can come and take it.
    pub fn new(encoder: Encoder, wake: Box<dyn Fn() + Send>) -> Loader {
        let shared: Shared = Arc::new((Mutex::new(Queue::default()), Condvar::new()));
        let (tx, results) = mpsc::channel();
        let worker = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("labelvet-images".into())
                .spawn(move || work(&shared, &encoder, &tx, wake.as_ref()))
                .expect("spawning the image thread")
        };
        Loader {
            shared,
            results,
            worker: Some(worker),
        }
    }

    /// Replaces the queue by `wanted`, in priority order, leaving out what is running or
    /// delivered. Returns the slots that were queued and are no longer wanted.
    pub fn want(&self, wanted: Vec<Request>) -> Vec<Slot> {
        let (lock, cv) = &*self.shared;
        let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
        let keep: Vec<Request> = wanted
            .into_iter()
            .filter(|r| q.running != Some(r.slot()) && !q.delivered.contains(&r.slot()))
            .collect();
        let dropped = q
            .wanted
            .iter()
            .map(Request::slot)
            .filter(|s| !keep.iter().any(|r| r.slot() == *s))
            .collect();
        q.wanted = keep.into();
        cv.notify_one();
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
pub fn image_path(
    root: Option<&Path>,
    store: &crate::store::Store,
    id: i64,
    known: Option<&crate::store::ImageRecord>,
) -> Result<PathBuf, String> {
    let Some(root) = root else {
        return Err("the project has no image folder; pass --images DIR to show images".into());
    };
    match known {
        Some(rec) => Ok(rec.path_under(root)),
        None => match store.image_by_id(id) {
            Ok(Some(row)) => Ok(row.rec.path_under(root)),
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
    cache: HashMap<Slot, Result<Protocol, String>>,
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
            loader: Loader::new(encoder, wake),
            cache: HashMap::new(),
            pending: HashSet::new(),
            frame: Vec::new(),
            asked: HashSet::new(),
            keep,
        }
    }

    /// Asks for a picture in this frame (earlier asks come first) and returns it if loaded.
    pub fn want(&mut self, request: Request) -> Option<&Result<Protocol, String>> {
        let slot = request.slot();
        self.asked.insert(slot);
        if !self.cache.contains_key(&slot) && !self.frame.iter().any(|r| r.slot() == slot) {
            self.frame.push(request);
        }
        self.cache.get(&slot)
    }

    /// A picture already loaded.
    pub fn get(&self, slot: &Slot) -> Option<&Result<Protocol, String>> {
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
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

fn work(shared: &Shared, encoder: &Encoder, tx: &Sender<Done>, wake: &(dyn Fn() + Send)) {
    let mut decoded: VecDeque<(PathBuf, Arc<DynamicImage>)> = VecDeque::new();
    loop {
        let req = {
            let (lock, cv) = &**shared;
            let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if q.quit {
                    return;
                }
                if let Some(r) = q.wanted.pop_front() {
                    q.running = Some(r.slot());
                    break r;
                }
                q = cv.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        let result = req.path.clone().and_then(|path| {
            let img = match decoded.iter().position(|(p, _)| *p == path) {
                Some(i) => {
                    let hit = decoded.remove(i).expect("found above");
                    decoded.push_back(hit.clone());
                    hit.1
                }
                None => {
                    let img = Arc::new(decode(&path)?);
                    if decoded.len() == DECODED_KEPT {
                        decoded.pop_front();
                    }
                    decoded.push_back((path, img.clone()));
                    img
                }
            };
            encoder.fit(&img, req.area)
        });
        {
            let (lock, _) = &**shared;
            let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
            q.running = None;
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

        // Cut inside the frame header: refused. (Cut later, in the pixel data, the decoder shows
        // what is there and fills the rest with grey, which the annotator sees and can flag.)
        let cut = dir.path().join("cut.jpg");
        let bytes = std::fs::read(PHOTO).unwrap();
        std::fs::write(&cut, &bytes[..160]).unwrap();
        let e = decode(&cut).unwrap_err();
        let truncated = format!(
            "{}: truncated JPEG: data ends after 160 bytes (Not enough bytes",
            cut.display()
        );
        assert!(e.starts_with(&truncated), "{e}");
        std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
        assert_eq!(decode(&cut).unwrap().width(), 512);
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
        let req = |id| Request {
            id,
            path: Ok(PathBuf::from(PHOTO)),
            area,
        };
        let none = Request {
            id: 9,
            path: Err("no image folder".into()),
            area,
        };
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
