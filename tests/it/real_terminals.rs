//! What the expert sees, in real terminals: the real binary on a photo in xterm (VT340 mode,
//! sixel, its light background), kitty 0.26 (Debian 12's: graphics without unicode
//! placeholders) and tmux inside xterm, each on its own X server (Xvfb). Each screen is
//! captured with ImageMagick's `import` and the picture's area compared with the photo resized
//! to that area (SSIM on luminance, and normalized cross-correlation), and the header is read
//! back by OCR (tesseract) where it sits on xterm's white. Skipped, with a notice, when a tool
//! is missing; failing under `CI=true` (see `tools`). The scores are printed (`--nocapture`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use image::{GrayImage, RgbImage, imageops};
use labelvet::tui::{Encoder, Graphics};
use ratatui::layout::Rect;

const BIN: &str = env!("CARGO_BIN_EXE_labelvet");
const PHOTO: &str = "../shared/data/photos/imagenet_labeled/imagenet_00_243.jpg";
/// The photo's class, so that it has a candidate to ask about.
const WNID: &str = "n02093256";
/// Terminal size in cells; the image panel's inside is then at column 1, row 2, 118x56 cells
/// (the layout the TestBackend snapshots show at 200x60).
const COLS: u16 = 200;
const ROWS: u16 = 60;
const PANEL: Rect = Rect::new(1, 2, 118, 56);

fn tools() -> bool {
    let has = |prog: &str, arg: &str| {
        Command::new(prog)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    [
        ("Xvfb", has("Xvfb", "-help")),
        ("xterm", has("xterm", "-version")),
        ("kitty", has("kitty", "--version")),
        ("import (imagemagick)", has("import", "-version")),
        ("tmux", has("tmux", "-V")),
        ("tesseract", has("tesseract", "--version")),
    ]
    .into_iter()
    .all(|(tool, found)| crate::tools::available(tool, found))
}

/// An X server for one test, killed on drop.
struct Display {
    server: Child,
    name: String,
}

impl Display {
    fn start() -> Display {
        // A display number of our own. The tests of this file run in parallel in one process:
        // each takes the next number of the counter, or two of them could both find a number
        // free, start an Xvfb on it, and one test then draw on the other's display, which
        // goes away with that test (kitty: "X11: Failed to open display").
        static NEXT: AtomicU32 = AtomicU32::new(0);
        for _ in 0..40 {
            let num = 140 + (std::process::id() % 200) * 3 + NEXT.fetch_add(1, Ordering::Relaxed);
            if Path::new(&format!("/tmp/.X11-unix/X{num}")).exists()
                || Path::new(&format!("/tmp/.X{num}-lock")).exists()
            {
                continue;
            }
            let name = format!(":{num}");
            // Killed and waited for on drop.
            let mut display = Display {
                server: Command::new("Xvfb")
                    .args([&name, "-screen", "0", "1920x1200x24", "-nolisten", "tcp"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("Xvfb starts"),
                name,
            };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                // Another process's Xvfb may have taken the number meanwhile: ours then ends,
                // and the next number is tried.
                if let Ok(Some(_)) = display.server.try_wait() {
                    break;
                }
                if Path::new(&format!("/tmp/.X11-unix/X{num}")).exists() {
                    return display;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if start.elapsed() >= Duration::from_secs(10) {
                panic!("Xvfb {} did not start", display.name);
            }
        }
        panic!("no free X display");
    }

    fn screenshot(&self, to: &Path) -> RgbImage {
        let out = Command::new("import")
            .args(["-display", &self.name, "-window", "root"])
            .arg(to)
            .output()
            .expect("import runs");
        assert!(
            out.status.success(),
            "import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        image::open(to).expect("a screenshot").to_rgb8()
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// A child killed on drop (the terminal).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A project with the photo in ImageNet layout (its folder gives the label).
fn project(dir: &Path) -> PathBuf {
    let images = dir.join("images").join(WNID);
    std::fs::create_dir_all(&images).unwrap();
    std::fs::copy(PHOTO, images.join("photo.jpg")).unwrap();
    let db = dir.join("p.db");
    let out = Command::new(BIN)
        .arg("init")
        .arg(&db)
        .arg("--images")
        .arg(dir.join("images"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    db
}

/// The terminal's command line running `labelvet annotate` with `extra` arguments.
fn annotate_cmd(db: &Path, extra: &[&str]) -> Vec<String> {
    annotate_with(BIN, db, extra)
}

/// [`annotate_cmd`] with the binary `bin`.
fn annotate_with(bin: &str, db: &Path, extra: &[&str]) -> Vec<String> {
    let mut v = vec![
        bin.to_string(),
        "annotate".into(),
        db.display().to_string(),
        "--annotator".into(),
        "alice".into(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn xterm(display: &Display, run: &[String], dir: &Path) -> Running {
    xterm_with(display, &[], run, dir)
}

/// [`xterm`] with more of its options (a font).
fn xterm_with(display: &Display, options: &[&str], run: &[String], dir: &Path) -> Running {
    Running(
        Command::new("xterm")
            .args(["-display", &display.name, "-ti", "vt340", "-b", "0"])
            .args(options)
            .args(["-geometry", &format!("{COLS}x{ROWS}+0+0")])
            // 24-bit colour drawn as such (half-blocks and chafa through tmux).
            .args(["-xrm", "XTerm*directColor: true"])
            .arg("-e")
            .args(run)
            .current_dir(dir)
            .env("COLORTERM", "truecolor")
            // A terminal starting on a busy machine (CI, a parallel build) may answer late.
            .env("LABELVET_QUERY_TIMEOUT_MS", "8000")
            .env_remove("TMUX")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("xterm starts"),
    )
}

fn kitty(display: &Display, run: &[String], dir: &Path, socket: Option<&Path>) -> Running {
    let mut cmd = Command::new("kitty");
    if let Some(socket) = socket {
        cmd.arg("--listen-on")
            .arg(format!("unix:{}", socket.display()));
    }
    Running(
        cmd.args(["--config", "NONE"])
            .args(["-o", "font_size=9", "-o", "remember_window_size=no"])
            .args(["-o", &format!("initial_window_width={COLS}c")])
            .args(["-o", &format!("initial_window_height={ROWS}c")])
            .args([
                "-o",
                "window_padding_width=0",
                "-o",
                "allow_remote_control=yes",
            ])
            .args(run)
            .current_dir(dir)
            .env("DISPLAY", &display.name)
            // No GPU under Xvfb: Mesa's software OpenGL.
            .env("LIBGL_ALWAYS_SOFTWARE", "1")
            .env("LABELVET_QUERY_TIMEOUT_MS", "8000")
            .env_remove("TMUX")
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(dir.join("kitty.err"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .spawn()
            .expect("kitty starts"),
    )
}

/// The cell size in `doctor`'s output so far, `None` until its `cell size:` line is written;
/// a line without one fails the test.
fn doctor_cell_size(doctor_out: &Path) -> Option<(u16, u16)> {
    let text = std::fs::read_to_string(doctor_out).ok()?;
    let line = text.lines().find(|l| l.starts_with("cell size:"))?;
    let px = line.split_whitespace().nth(2).unwrap_or("");
    if let Some((w, h)) = px.split_once('x')
        && let (Ok(w), Ok(h)) = (w.parse(), h.parse())
    {
        return Some((w, h));
    }
    panic!("doctor gave no cell size:\n{text}");
}

/// The cell size the terminal reports to `labelvet doctor`, run in a kitty of its own. A kitty
/// that ends before `doctor` answers (seen beside the rest of the suite on 2 cores, never
/// alone) is started again, up to three times; what kitty said is in the message if none
/// answers.
fn kitty_cell_size(d: &Display, dir: &Path, doctor_out: &Path) -> (u16, u16) {
    let sh = format!("{BIN} doctor > {}", doctor_out.display());
    let mut said = String::new();
    for attempt in 1..=3 {
        let _ = std::fs::remove_file(doctor_out);
        let mut term = kitty(d, &["sh".into(), "-c".into(), sh.clone()], dir, None);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if let Some(cell) = doctor_cell_size(doctor_out) {
                return cell;
            }
            if let Ok(Some(status)) = term.0.try_wait() {
                said.push_str(&format!(
                    "attempt {attempt}: kitty ended ({status}) after {:.1} s: {}\n",
                    start.elapsed().as_secs_f64(),
                    std::fs::read_to_string(dir.join("kitty.err")).unwrap_or_default()
                ));
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if start.elapsed() >= Duration::from_secs(60) {
            said.push_str(&format!("attempt {attempt}: no answer in 60 s\n"));
        }
    }
    panic!("doctor did not answer in {}:\n{said}", doctor_out.display());
}

/// The cell size the terminal reports to `labelvet doctor`, run the same way. The first kitty
/// on a fresh machine builds its caches (fonts, Mesa's shaders) before it runs the command:
/// beside the rest of the suite on 2 cores that once took more than 30 s, hence 90.
fn cell_size(doctor_out: &Path) -> (u16, u16) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(90) {
        if let Some(cell) = doctor_cell_size(doctor_out) {
            return cell;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("doctor did not answer in {}", doctor_out.display());
}

fn luma(img: &RgbImage) -> GrayImage {
    imageops::grayscale(img)
}

/// Mean SSIM over 8x8 windows (stride 4) of two same-size grey images.
fn ssim(a: &GrayImage, b: &GrayImage) -> f64 {
    let (w, h) = a.dimensions();
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let mut sum = 0.0;
    let mut n = 0;
    for y in (0..h.saturating_sub(8)).step_by(4) {
        for x in (0..w.saturating_sub(8)).step_by(4) {
            let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for dy in 0..8 {
                for dx in 0..8 {
                    let pa = f64::from(a.get_pixel(x + dx, y + dy)[0]);
                    let pb = f64::from(b.get_pixel(x + dx, y + dy)[0]);
                    sa += pa;
                    sb += pb;
                    saa += pa * pa;
                    sbb += pb * pb;
                    sab += pa * pb;
                }
            }
            let k = 64.0;
            let (ma, mb) = (sa / k, sb / k);
            let va = saa / k - ma * ma;
            let vb = sbb / k - mb * mb;
            let cov = sab / k - ma * mb;
            sum += ((2.0 * ma * mb + c1) * (2.0 * cov + c2))
                / ((ma * ma + mb * mb + c1) * (va + vb + c2));
            n += 1;
        }
    }
    sum / f64::from(n.max(1))
}

/// Normalized cross-correlation of two same-size grey images.
fn ncc(a: &GrayImage, b: &GrayImage) -> f64 {
    let n = a.as_raw().len() as f64;
    let ma = a.as_raw().iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let mb = b.as_raw().iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let (mut num, mut da, mut db) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.as_raw().iter().zip(b.as_raw()) {
        let (x, y) = (f64::from(x) - ma, f64::from(y) - mb);
        num += x * y;
        da += x * x;
        db += y * y;
    }
    num / (da * db).sqrt().max(1e-9)
}

/// The scores of the best placement of `want` (the photo resized to the picture's pixels) in
/// `shot` near (`x`, `y`): terminals add a few pixels of border or padding. The placement is
/// found by correlation on a sparse grid; the scores are computed on every pixel.
fn best_match(shot: &RgbImage, want: &RgbImage, x: i64, y: i64) -> (f64, f64, (u32, u32)) {
    let shot_l = luma(shot);
    let want_l = luma(want);
    let (w, h) = want.dimensions();
    let samples: Vec<(u32, u32)> = (0..h)
        .step_by(5)
        .flat_map(|yy| (0..w).step_by(5).map(move |xx| (xx, yy)))
        .collect();
    let wv: Vec<f64> = samples
        .iter()
        .map(|&(xx, yy)| f64::from(want_l.get_pixel(xx, yy)[0]))
        .collect();
    let corr = |a: &[f64], b: &[f64]| {
        let n = a.len() as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
        let (mut num, mut da, mut db) = (0.0, 0.0, 0.0);
        for (x, y) in a.iter().zip(b) {
            let (x, y) = (x - ma, y - mb);
            num += x * y;
            da += x * x;
            db += y * y;
        }
        num / (da * db).sqrt().max(1e-9)
    };
    let mut best = (f64::MIN, (0, 0));
    for dy in -8..=8i64 {
        for dx in -8..=8i64 {
            let (px, py) = (x + dx, y + dy);
            if px < 0 || py < 0 || px as u32 + w > shot.width() || py as u32 + h > shot.height() {
                continue;
            }
            let sv: Vec<f64> = samples
                .iter()
                .map(|&(xx, yy)| f64::from(shot_l.get_pixel(px as u32 + xx, py as u32 + yy)[0]))
                .collect();
            let c = corr(&sv, &wv);
            if c > best.0 {
                best = (c, (px as u32, py as u32));
            }
        }
    }
    let (px, py) = best.1;
    let got = imageops::crop_imm(&shot_l, px, py, w, h).to_image();
    (ssim(&got, &want_l), ncc(&got, &want_l), best.1)
}

/// Where the picture of the whole photo sits in the image panel, in cells, for `graphics` at
/// `cell_px`: as the screen fits it (centred in the panel).
fn picture_cells(graphics: Graphics, cell_px: (u16, u16)) -> Rect {
    let size = Encoder::with(graphics, cell_px)
        .load(Path::new(PHOTO), PANEL)
        .unwrap()
        .size();
    Rect::new(
        PANEL.x + (PANEL.width - size.width) / 2,
        PANEL.y + (PANEL.height - size.height) / 2,
        size.width,
        size.height,
    )
}

/// The photo's pixels as drawn: for pixel protocols the fitted size (at most the cells), for
/// text cells the cells' pixels.
fn expected(region: Option<(u32, u32, u32, u32)>, w: u32, h: u32) -> RgbImage {
    let photo = image::open(PHOTO).unwrap().to_rgb8();
    let src = match region {
        Some((x, y, rw, rh)) => imageops::crop_imm(&photo, x, y, rw, rh).to_image(),
        None => photo,
    };
    imageops::resize(&src, w, h, imageops::FilterType::Triangle)
}

/// Takes screenshots until `score` of one reaches `at_least` or `wait` passes; the last one.
fn settle<T>(wait: Duration, mut shot: impl FnMut() -> (T, f64), at_least: f64) -> T {
    let start = Instant::now();
    loop {
        let (t, s) = shot();
        if s >= at_least || start.elapsed() > wait {
            return t;
        }
        std::thread::sleep(Duration::from_millis(700));
    }
}

fn ocr(img: &RgbImage, dir: &Path) -> String {
    let path = dir.join("ocr.png");
    let big = imageops::resize(
        img,
        img.width() * 3,
        img.height() * 3,
        imageops::FilterType::CatmullRom,
    );
    big.save(&path).unwrap();
    let out = Command::new("tesseract")
        .arg(&path)
        .arg("-")
        .args(["--psm", "7"])
        .output()
        .expect("tesseract runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn xterm_vt340_draws_sixel_and_a_readable_header_on_white() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = project(dir.path());
    let d = Display::start();
    let doctor = dir.path().join("doctor.txt");
    let sh = format!("{BIN} doctor > {}", doctor.display());
    let _doc = xterm(&d, &["sh".into(), "-c".into(), sh], dir.path());
    let cell = cell_size(&doctor);
    let report = std::fs::read_to_string(&doctor).unwrap();
    assert!(report.contains("pictures:   sixel"), "{report}");
    assert!(report.contains("light theme"), "{report}");
    drop(_doc);

    let _t = xterm(&d, &annotate_cmd(&db, &[]), dir.path());
    let pic = picture_cells(Graphics::Sixel, cell);
    // Sixel draws the fitted pixels from the picture's top-left cell.
    let (pw, ph) = {
        let b = Encoder::with(Graphics::Sixel, cell).area_box(PANEL);
        let s = (f64::from(b.0) / 512.0).min(f64::from(b.1) / 512.0);
        ((512.0 * s).round() as u32, (512.0 * s).round() as u32)
    };
    let want = expected(None, pw, ph);
    let shot_path = dir.path().join("xterm.png");
    let (shot, (ssim_s, ncc_s, at)) = settle(
        Duration::from_secs(60),
        || {
            let shot = d.screenshot(&shot_path);
            let m = best_match(
                &shot,
                &want,
                i64::from(pic.x * cell.0),
                i64::from(pic.y * cell.1),
            );
            let s = m.0;
            ((shot, m), s)
        },
        0.90,
    );
    let _ = shot.save("target/real-terminal-xterm-vt340.png");
    eprintln!(
        "xterm -ti vt340 (sixel, cell {}x{}): SSIM {ssim_s:.3}, NCC {ncc_s:.3} at {at:?}",
        cell.0, cell.1
    );
    assert!(
        ssim_s >= 0.90,
        "xterm sixel SSIM {ssim_s:.3} (NCC {ncc_s:.3})"
    );

    // The header, on xterm's white: read back by OCR.
    let header = imageops::crop_imm(
        &shot,
        0,
        0,
        u32::from(COLS / 2) * u32::from(cell.0),
        u32::from(cell.1) + 2,
    )
    .to_image();
    let text = ocr(&header, dir.path());
    for word in ["labelvet", "annotator", "alice", "p.db"] {
        assert!(
            text.contains(word),
            "the header reads {text:?}, without {word}"
        );
    }
}

#[test]
fn kitty_026_draws_directly_and_the_magnifier_cuts_from_the_full_photo() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = project(dir.path());
    let d = Display::start();
    let doctor = dir.path().join("doctor.txt");
    let socket = dir.path().join("kitty.sock");
    let cell = kitty_cell_size(&d, dir.path(), &doctor);
    let report = std::fs::read_to_string(&doctor).unwrap();
    assert!(
        report.contains("kitty graphics (placed directly)"),
        "{report}"
    );

    let _t = kitty(&d, &annotate_cmd(&db, &[]), dir.path(), Some(&socket));
    let pic = picture_cells(Graphics::KittyDirect, cell);
    let b = Encoder::with(Graphics::KittyDirect, cell).area_box(PANEL);
    let side = ((f64::from(b.0).min(f64::from(b.1))).round()) as u32;
    let want = expected(None, side, side);
    let shot_path = dir.path().join("kitty.png");
    let score = |want: &RgbImage, pic: Rect| {
        let shot = d.screenshot(&shot_path);
        let m = best_match(
            &shot,
            want,
            i64::from(pic.x * cell.0),
            i64::from(pic.y * cell.1),
        );
        let s = m.0;
        ((shot, m), s)
    };
    let (shot, (ssim_s, ncc_s, at)) = settle(Duration::from_secs(60), || score(&want, pic), 0.90);
    let _ = shot.save("target/real-terminal-kitty-0.26.png");
    eprintln!(
        "kitty 0.26 (direct placement, cell {}x{}): SSIM {ssim_s:.3}, NCC {ncc_s:.3} at {at:?}",
        cell.0, cell.1
    );
    assert!(ssim_s >= 0.90, "kitty SSIM {ssim_s:.3} (NCC {ncc_s:.3})");

    // Zoom, then 4x, then a pan right: the picture is the source region, cut from the photo.
    let send = |text: &str| {
        let out = Command::new("kitty")
            .args(["@", "--to"])
            .arg(format!("unix:{}", socket.display()))
            .args(["send-text", text])
            .env("DISPLAY", &d.name)
            .output()
            .expect("kitty @ runs");
        assert!(
            out.status.success(),
            "kitty @: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    send("z");
    std::thread::sleep(Duration::from_millis(500));
    send("++l");
    // Zoom: the image takes the screen but the bottom line.
    let zoom_area = Rect::new(0, 0, COLS, ROWS - 1);
    let enc = Encoder::with(Graphics::KittyDirect, cell);
    let zb = enc.area_box(zoom_area);
    let view = labelvet::tui::images::View {
        zoom: 4,
        cx: 500,
        cy: 500,
    }
    .pan(1, 0, (512, 512), zb);
    let region = view.region(512, 512, zb.0, zb.1);
    let zsize = Encoder::with(Graphics::KittyDirect, cell)
        .fit_view(&image::open(PHOTO).unwrap(), zoom_area, view)
        .unwrap()
        .size();
    let zpic = Rect::new(
        (zoom_area.width - zsize.width) / 2,
        (zoom_area.height - zsize.height) / 2,
        zsize.width,
        zsize.height,
    );
    let scale = (f64::from(zb.0) / f64::from(region.2)).min(f64::from(zb.1) / f64::from(region.3));
    let zwant = expected(
        Some(region),
        (f64::from(region.2) * scale).round() as u32,
        (f64::from(region.3) * scale).round() as u32,
    );
    let (zshot, (zssim, zncc, zat)) = settle(Duration::from_secs(60), || score(&zwant, zpic), 0.90);
    let _ = zshot.save("target/real-terminal-kitty-0.26-zoom4x.png");
    eprintln!(
        "kitty 0.26 zoom 4x panned right, region {region:?}: SSIM {zssim:.3}, NCC {zncc:.3} at {zat:?}"
    );
    assert!(zssim >= 0.90, "kitty 4x SSIM {zssim:.3} (NCC {zncc:.3})");
}

/// The labelvet that draws with libchafa: this one when built with the `chafa` feature, else
/// the one `$LABELVET_CHAFA_BIN` names (.ci/run builds it with `--features chafa`, beside the
/// test build without it). `None`, with a notice, when there is none; under `CI=true` a failure.
fn chafa_bin() -> Option<String> {
    if cfg!(feature = "chafa") {
        return Some(BIN.to_string());
    }
    let bin = std::env::var("LABELVET_CHAFA_BIN")
        .ok()
        .filter(|b| Path::new(b).is_file());
    crate::tools::available(
        "a labelvet built with `--features chafa` ($LABELVET_CHAFA_BIN)",
        bin.is_some(),
    )
    .then(|| bin.expect("available"))
}

/// The cells of the half-block picture on the screen of the tmux server at `socket`: the
/// bounding box of its `▀` cells, once the picture is drawn.
fn halfblock_cells(socket: &Path) -> Rect {
    let start = Instant::now();
    // The same rectangle on two captures in a row: a capture taken while the picture is being
    // drawn sees part of it, and a part's rectangle would score the whole photo against the
    // wrong place (seen once, on a loaded machine: NCC 0.33).
    let mut last: Option<Rect> = None;
    while start.elapsed() < Duration::from_secs(60) {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(socket)
            .args(["capture-pane", "-p"])
            .output()
            .expect("tmux runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let cells: Vec<(usize, usize)> = text
            .lines()
            .enumerate()
            .flat_map(|(y, line)| {
                line.chars()
                    .enumerate()
                    .filter(|(_, c)| *c == '▀')
                    .map(move |(x, _)| (x, y))
            })
            .collect();
        if cells.len() > 1000 {
            let x0 = cells.iter().map(|c| c.0).min().unwrap();
            let x1 = cells.iter().map(|c| c.0).max().unwrap();
            let y0 = cells.iter().map(|c| c.1).min().unwrap();
            let y1 = cells.iter().map(|c| c.1).max().unwrap();
            let n = |v: usize| u16::try_from(v).unwrap();
            let rect = Rect::new(n(x0), n(y0), n(x1 - x0 + 1), n(y1 - y0 + 1));
            if last == Some(rect) {
                return rect;
            }
            last = Some(rect);
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("no half-block picture in the tmux pane after 60 s");
}

/// xterm's font for the text-cell pictures: one with the Unicode block elements (`▀`, quadrants,
/// eighths) half-blocks and chafa draw with, as xterm users with Xft have (`-fa`). The X server's
/// built-in `fixed` font, all that Xvfb has without xfonts-*, is ISO 8859-1 only: in it xterm
/// draws every such symbol as an empty cell in the background colour, so neither picture is
/// what the user sees (half-blocks come out as one colour a cell). DejaVu Sans Mono: Debian's
/// fonts-dejavu-core (.ci/run installs it).
const BLOCK_FONT: [&str; 4] = ["-fa", "DejaVu Sans Mono", "-fs", "8"];

#[test]
fn tmux_inside_xterm_draws_text_cells_and_chafa_beats_half_blocks() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = project(dir.path());
    let conf = dir.path().join("tmux.conf");
    // 24-bit colour through tmux (its default downgrades to 256 colours), no status line.
    std::fs::write(
        &conf,
        "set -g default-terminal tmux-256color\nset -ga terminal-overrides ',xterm*:RGB'\n\
         set -g status off\n",
    )
    .unwrap();
    let socket = dir.path().join("tmux.sock");

    // The cell size with that font, as the doctor reports it outside tmux.
    let cell = {
        let d = Display::start();
        let doctor = dir.path().join("doctor.txt");
        let sh = format!("{BIN} doctor > {}", doctor.display());
        let _doc = xterm_with(&d, &BLOCK_FONT, &["sh".into(), "-c".into(), sh], dir.path());
        cell_size(&doctor)
    };

    let mut modes = vec![("halfblocks", BIN.to_string())];
    match chafa_bin() {
        Some(bin) => modes.push(("chafa", bin)),
        None => eprintln!("NOTICE: no labelvet with the `chafa` feature: only half-blocks scored"),
    }
    let mut scores = Vec::new();
    // Where the picture is, in cells: read from the half-blocks run's screen (the `▀` cells),
    // and the same for chafa's (the picture's size does not depend on the symbols).
    let mut pic: Option<Rect> = None;
    for (mode, bin) in &modes {
        let d = Display::start();
        let mut run = vec![
            "tmux".to_string(),
            "-S".into(),
            socket.display().to_string(),
            "-f".into(),
            conf.display().to_string(),
            "new-session".into(),
        ];
        run.push(annotate_with(bin, &db, &["--graphics", mode]).join(" "));
        let _t = xterm_with(&d, &BLOCK_FONT, &run, dir.path());
        let pic = *pic.get_or_insert_with(|| halfblock_cells(&socket));
        let want = expected(
            None,
            u32::from(pic.width * cell.0),
            u32::from(pic.height * cell.1),
        );
        let shot_path = dir.path().join(format!("tmux-{mode}.png"));
        let (shot, (s, c, at)) = settle(
            Duration::from_secs(60),
            || {
                let shot = d.screenshot(&shot_path);
                let m = best_match(
                    &shot,
                    &want,
                    i64::from(pic.x * cell.0),
                    i64::from(pic.y * cell.1),
                );
                let s = m.1;
                ((shot, m), s)
            },
            0.97,
        );
        let _ = shot.save(format!("target/real-terminal-tmux-{mode}.png"));
        eprintln!(
            "tmux in xterm (DejaVu Sans Mono 8, cell {}x{}), {mode}: SSIM {s:.3}, NCC {c:.3} at {at:?}",
            cell.0, cell.1
        );
        scores.push((*mode, s, c));
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .arg("kill-server")
            .output();
    }
    let (_, hb_ssim, hb_ncc) = scores[0];
    // Blocky, but the photo: an unrelated picture correlates near 0.
    assert!(
        hb_ncc >= 0.9,
        "half-blocks in tmux: NCC {hb_ncc:.3} (SSIM {hb_ssim:.3}): not the photo"
    );
    if let Some(&(_, ch_ssim, ch_ncc)) = scores.get(1) {
        assert!(
            ch_ssim > hb_ssim + 0.05,
            "chafa SSIM {ch_ssim:.3} (NCC {ch_ncc:.3}) is not clearly above half-blocks' \
             {hb_ssim:.3} (NCC {hb_ncc:.3})"
        );
    }
}
