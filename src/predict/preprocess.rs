//! From an image file to the tensor a classifier expects: decode to RGB, resize the shorter
//! side (bilinear), centre-crop a square, scale the channel values.
//!
//! Image classifiers are sensitive to the exact pixels they get: a mean difference of a tenth
//! of a grey level moves an EfficientNet-Lite top-1 score by about 0.01. Most reference
//! pipelines (torchvision, timm) decode with PIL, that is libjpeg-turbo, and resize with PIL,
//! so both steps follow PIL here. JPEG goes through libjpeg-turbo itself (mozjpeg's build of
//! it), so the pixels are PIL's: byte-identical on all the shared photos, where the pure-Rust
//! decoders are off by 0.09 (`jpeg-decoder`) and 0.15 (`image`) of a level on average and move
//! the bundled models' top-1 scores by up to 0.015. The resize is Pillow's separable bilinear
//! convolution (`Resample.c`: the horizontal pass, rounded to 8 bits, then the vertical one, in
//! 22-bit fixed point). On 40 random images resized and
//! cropped as `predict` does, 38 came out byte-identical to Pillow 13's `Image.resize(size,
//! BILINEAR)` and 2 within one level (for some sizes Pillow runs the vertical pass first).

use std::path::Path;

/// How channel values (0..=255) become model inputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Normalize {
    /// `(x - 127) / 128`, as TensorFlow-trained EfficientNet-Lite and MobileNets expect.
    Scale127,
    /// `(x / 255 - mean) / std` per channel, RGB order (torchvision's convention).
    MeanStd { mean: [f32; 3], std: [f32; 3] },
}

impl Normalize {
    /// The ImageNet statistics almost every torchvision and timm model was trained with.
    pub const IMAGENET: Normalize = Normalize::MeanStd {
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
    };

    /// `x -> x * a[c] + b[c]` for channel `c`.
    fn affine(&self) -> ([f32; 3], [f32; 3]) {
        match *self {
            Normalize::Scale127 => ([1.0 / 128.0; 3], [-127.0 / 128.0; 3]),
            Normalize::MeanStd { mean, std } => {
                let mut a = [0.0; 3];
                let mut b = [0.0; 3];
                for c in 0..3 {
                    a[c] = 1.0 / (255.0 * std[c]);
                    b[c] = -mean[c] / std[c];
                }
                (a, b)
            }
        }
    }
}

impl std::fmt::Display for Normalize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Normalize::Scale127 => write!(f, "(x-127)/128"),
            Normalize::MeanStd { mean, std } => write!(
                f,
                "(x/255-mean)/std, mean {},{},{}, std {},{},{}",
                mean[0], mean[1], mean[2], std[0], std[1], std[2]
            ),
        }
    }
}

/// Where the channel axis is in the model's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `[batch, 3, size, size]` (PyTorch exports).
    Nchw,
    /// `[batch, size, size, 3]` (TensorFlow exports).
    Nhwc,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Preprocess {
    /// The square crop fed to the model, in pixels.
    pub input_size: u32,
    /// The shorter side is resized to this before the centre crop.
    pub resize_shorter: u32,
    pub normalize: Normalize,
    pub layout: Layout,
}

/// A decoded image: RGB, 8 bits per channel, rows top to bottom.
#[derive(Clone, Debug)]
pub struct Rgb {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// The usual resize for a crop of `input_size`: the crop covers 87.5% of the shorter side.
pub fn default_resize_shorter(input_size: u32) -> u32 {
    (f64::from(input_size) / 0.875).round() as u32
}

impl Preprocess {
    /// Values per image: `3 * input_size^2`.
    pub fn len(&self) -> usize {
        3 * (self.input_size as usize).pow(2)
    }

    pub fn is_empty(&self) -> bool {
        self.input_size == 0
    }

    /// Reads, decodes and prepares one file; the error is the reason to show next to its name.
    pub fn load(&self, path: &Path) -> Result<Vec<f32>, String> {
        let rgb = decode_file(path)?;
        let mut out = vec![0.0; self.len()];
        self.prepare(&rgb, &mut out)?;
        Ok(out)
    }

    /// Resizes, crops and normalizes `img` into `out` (`self.len()` values).
    pub fn prepare(&self, img: &Rgb, out: &mut [f32]) -> Result<(), String> {
        let r = self.input_size;
        let s = self.resize_shorter;
        if img.width == 0 || img.height == 0 {
            return Err("the image has no pixels".into());
        }
        // torchvision's Resize(int): the shorter side becomes `s`, the longer one keeps the
        // aspect ratio, truncated.
        let (w, h) = (img.width, img.height);
        let (nw, nh) = if w <= h {
            (s, (f64::from(s) * f64::from(h) / f64::from(w)) as u32)
        } else {
            ((f64::from(s) * f64::from(w) / f64::from(h)) as u32, s)
        };
        if nw < r || nh < r {
            return Err(format!(
                "resized to {nw}x{nh}, smaller than the {r}x{r} crop"
            ));
        }
        // torchvision's CenterCrop: offsets rounded half to even, as Python's round().
        let top = (f64::from(nh - r) / 2.0).round_ties_even() as u32;
        let left = (f64::from(nw - r) / 2.0).round_ties_even() as u32;
        let crop = resize_crop(img, nw, nh, left, top, r, r);
        let (a, b) = self.normalize.affine();
        let n = (r * r) as usize;
        debug_assert_eq!(out.len(), 3 * n);
        match self.layout {
            Layout::Nchw => {
                // The three planes as slices of their own: no index arithmetic or bounds check
                // per value (this loop was 3% of `predict`'s time written with `c * n + i`).
                let (red, rest) = out.split_at_mut(n);
                let (green, blue) = rest.split_at_mut(n);
                for (((px, r), g), bl) in crop.chunks_exact(3).zip(red).zip(green).zip(blue) {
                    *r = f32::from(px[0]) * a[0] + b[0];
                    *g = f32::from(px[1]) * a[1] + b[1];
                    *bl = f32::from(px[2]) * a[2] + b[2];
                }
            }
            Layout::Nhwc => {
                for (i, v) in crop.iter().enumerate() {
                    let c = i % 3;
                    out[i] = f32::from(*v) * a[c] + b[c];
                }
            }
        }
        Ok(())
    }
}

/// Decodes a file to RGB. JPEG through libjpeg-turbo (see the module doc), anything else
/// through `image`. Alpha is dropped and grey is repeated over the three channels, as PIL's
/// `convert("RGB")` does.
pub fn decode_file(path: &Path) -> Result<Rgb, String> {
    let data = crate::imagefile::read_file(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        _ => format!("cannot read: {e}"),
    })?;
    decode_bytes(&data)
}

pub fn decode_bytes(data: &[u8]) -> Result<Rgb, String> {
    // The header first, with the limits `init` and the screen apply: a decompression bomb or a
    // file that is no image is refused here, in the same words, before any pixel is decoded.
    let opened = crate::imagefile::open(data)?;
    if opened.format == image::ImageFormat::Jpeg
        && let Some(rgb) = jpeg::decode(data)?
    {
        return Ok(rgb);
    }
    let rgb = opened.decode()?.to_rgb8();
    Ok(Rgb {
        width: rgb.width(),
        height: rgb.height(),
        pixels: rgb.into_raw(),
    })
}

/// libjpeg-turbo behind a safe call. libjpeg reports a fatal error by calling `error_exit`,
/// which must not return: mozjpeg's handler unwinds (without the panic hook, so nothing is
/// printed) and the unwind is caught here and becomes the reason. Warnings go to
/// `emit_message`; the one for data that ends early is an error here, as PIL's "image file is
/// truncated" is (libjpeg would pad the picture with grey), and the others (stray bytes before
/// a marker, say) are let pass, as PIL lets them.
mod jpeg {
    use super::Rgb;
    use mozjpeg_sys::{J_COLOR_SPACE, JWRN_JPEG_EOF, jpeg_common_struct, jpeg_error_mgr};
    use std::ffi::c_int;
    use std::panic::{catch_unwind, resume_unwind};

    /// Why decoding stopped, carried by the unwind.
    struct Stop(String);

    /// libjpeg's `JMSG_LENGTH_MAX` (jpeglib.h): what `format_message` may write, NUL included.
    /// (The binding types the buffer as `&[u8; 80]`, as libjpeg's own comment once had it.)
    const JMSG_LENGTH_MAX: usize = 200;

    /// The message libjpeg has for its current code.
    ///
    /// # Safety
    /// `cinfo.err` points to a live error manager: libjpeg's callbacks are only called so.
    unsafe fn message(cinfo: &mut jpeg_common_struct) -> String {
        let mut buf = [0u8; JMSG_LENGTH_MAX];
        // SAFETY: `err` is live (the caller's promise); `format_message` writes at most
        // JMSG_LENGTH_MAX bytes, NUL-terminated, into a buffer it takes as `char *`. The
        // binding's `&[u8; 80]` is too short and immutable, so the function is called through
        // the C signature.
        unsafe {
            if let Some(format) = (*cinfo.err).format_message {
                let format: unsafe extern "C-unwind" fn(&mut jpeg_common_struct, *mut u8) =
                    std::mem::transmute(format);
                format(cinfo, buf.as_mut_ptr());
            }
        }
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    }

    /// # Safety
    /// Called by libjpeg with its error manager set, as every callback is.
    unsafe extern "C-unwind" fn error_exit(cinfo: &mut jpeg_common_struct) {
        // SAFETY: the function's own contract.
        let words = unsafe { message(cinfo) };
        resume_unwind(Box::new(Stop(words)));
    }

    /// # Safety
    /// As `error_exit`.
    unsafe extern "C-unwind" fn emit_message(cinfo: &mut jpeg_common_struct, level: c_int) {
        // SAFETY: the function's own contract.
        let code = unsafe { (*cinfo.err).msg_code };
        if level < 0 && code == JWRN_JPEG_EOF {
            resume_unwind(Box::new(Stop(
                "the data ends before the picture does".into(),
            )));
        }
    }

    /// The pixels, or `None` for a colour space left to `image` (CMYK, YCCK: rare, and
    /// `image` knows their colour handling).
    pub(super) fn decode(data: &[u8]) -> Result<Option<Rgb>, String> {
        let run = || -> std::io::Result<Option<Rgb>> {
            // SAFETY: a zeroed manager is what `jpeg_std_error` expects to fill in.
            let mut err: jpeg_error_mgr = unsafe { std::mem::zeroed() };
            unsafe { mozjpeg_sys::jpeg_std_error(&mut err) };
            err.error_exit = Some(error_exit);
            err.emit_message = Some(emit_message);
            let dec = mozjpeg::Decompress::with_err(err).from_mem(data)?;
            // Grey comes out as RGB too: libjpeg repeats the value over the three channels,
            // as PIL's `convert("RGB")` does.
            match dec.color_space() {
                J_COLOR_SPACE::JCS_GRAYSCALE
                | J_COLOR_SPACE::JCS_YCbCr
                | J_COLOR_SPACE::JCS_RGB => {}
                _ => return Ok(None),
            }
            let mut started = dec.rgb()?;
            let (width, height) = (started.width() as u32, started.height() as u32);
            let pixels: Vec<u8> = started.read_scanlines()?;
            started.finish()?;
            Ok(Some(Rgb {
                width,
                height,
                pixels,
            }))
        };
        // `run` holds only `data`, read and never left half-changed: nothing is looked at after
        // an unwind but its payload.
        match catch_unwind(run) {
            Ok(Ok(rgb)) => Ok(rgb),
            Ok(Err(e)) => Err(format!("not a readable JPEG: {e}")),
            Err(payload) => Err(match payload.downcast::<Stop>() {
                Ok(stop) => format!("not a readable JPEG: {}", stop.0),
                // Not libjpeg's: a bug of ours or of the binding, not the file's.
                Err(payload) => resume_unwind(payload),
            }),
        }
    }
}

/// PIL's fixed-point precision for 8-bit resampling.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// One output pixel's window on the input axis and its fixed-point weights.
struct Taps {
    start: usize,
    weights: Vec<i32>,
}

/// PIL's `precompute_coeffs` + `normalize_coeffs_8bpc` for the bilinear (triangle) filter:
/// the filter widens with the downscale factor, which is what makes the resize antialiased.
fn taps(in_size: u32, out_size: u32, first: u32, count: u32) -> Vec<Taps> {
    let scale = f64::from(in_size) / f64::from(out_size);
    let filterscale = scale.max(1.0);
    let support = filterscale; // the triangle filter's support is 1
    let ss = 1.0 / filterscale;
    (first..first + count)
        .map(|xx| {
            let center = (f64::from(xx) + 0.5) * scale;
            let xmin = ((center - support + 0.5) as i64).max(0);
            let xmax = ((center + support + 0.5) as i64).min(i64::from(in_size)) - xmin;
            let mut w: Vec<f64> = (0..xmax)
                .map(|x| {
                    let t = (((x + xmin) as f64 - center + 0.5) * ss).abs();
                    if t < 1.0 { 1.0 - t } else { 0.0 }
                })
                .collect();
            let sum: f64 = w.iter().sum();
            if sum != 0.0 {
                for v in &mut w {
                    *v /= sum;
                }
            }
            let one = f64::from(1u32 << PRECISION_BITS);
            Taps {
                start: xmin as usize,
                weights: w
                    .iter()
                    .map(|&v| {
                        if v < 0.0 {
                            (-0.5 + v * one) as i32
                        } else {
                            (0.5 + v * one) as i32
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// The horizontal taps laid out for the row loop: every window as long as the longest one,
/// moved left where it would run past the row's end, with zero weights where the window had no
/// taps. Integer sums, so the extra zero terms change nothing.
struct RowTaps {
    /// Taps per output pixel.
    k: usize,
    /// Each output pixel's first input pixel.
    starts: Vec<usize>,
    /// `k` weights per output pixel, each repeated over four lanes for the vector path.
    weights: Vec<[i32; 4]>,
}

impl RowTaps {
    fn new(taps: &[Taps], in_width: usize) -> RowTaps {
        let k = taps
            .iter()
            .map(|t| t.weights.len())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut starts = Vec::with_capacity(taps.len());
        let mut weights = vec![[0; 4]; taps.len() * k];
        for (t, ws) in taps.iter().zip(weights.chunks_exact_mut(k)) {
            // A window is never longer than the row (it is clipped to it), so `k` fits.
            let s = t.start.min(in_width.saturating_sub(k));
            let off = t.start - s;
            for (d, &wt) in ws[off..].iter_mut().zip(&t.weights) {
                *d = [wt; 4];
            }
            starts.push(s);
        }
        RowTaps { k, starts, weights }
    }

    /// One row: `src` holds the input row's pixels, then at least one more byte; `dst` gets
    /// the output pixels (3 bytes each).
    fn run(&self, src: &[u8], dst: &mut [u8]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("sse4.1") {
            // SAFETY: the CPU has SSE4.1.
            unsafe { self.run_sse41(src, dst) };
            return;
        }
        self.run_scalar(src, dst);
    }

    fn run_scalar(&self, src: &[u8], dst: &mut [u8]) {
        let half = 1i32 << (PRECISION_BITS - 1);
        for ((&s, ws), d) in self
            .starts
            .iter()
            .zip(self.weights.chunks_exact(self.k))
            .zip(dst.chunks_exact_mut(3))
        {
            let mut acc = [half; 3];
            for (p, w) in src[s * 3..(s + self.k) * 3].chunks_exact(3).zip(ws) {
                for c in 0..3 {
                    acc[c] += i32::from(p[c]) * w[0];
                }
            }
            for c in 0..3 {
                d[c] = clip8(acc[c]);
            }
        }
    }

    /// The same sums, the three channels (and a fourth byte, ignored) of a pixel in one
    /// vector of 32-bit lanes; `packs`/`packus` saturate as `clip8` clamps.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "sse4.1")]
    unsafe fn run_sse41(&self, src: &[u8], dst: &mut [u8]) {
        use std::arch::x86_64::*;
        let k = self.k;
        let n = self.starts.len();
        assert!(dst.len() >= n * 3);
        if let Some(&last) = self.starts.iter().max() {
            assert!((last + k) * 3 < src.len());
        }
        let half = _mm_set1_epi32(1 << (PRECISION_BITS - 1));
        let mut out = [0u8; 4];
        for (x, (&s, ws)) in self
            .starts
            .iter()
            .zip(self.weights.chunks_exact(k))
            .enumerate()
        {
            let mut acc = half;
            for (j, w) in ws.iter().enumerate() {
                // SAFETY: bytes `(s + j) * 3 .. (s + j) * 3 + 4` are inside `src` (asserted
                // above), and `w` is four i32.
                let (v, w) = unsafe {
                    (
                        src.as_ptr().add((s + j) * 3).cast::<i32>().read_unaligned(),
                        _mm_loadu_si128(w.as_ptr().cast()),
                    )
                };
                let v = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(v));
                acc = _mm_add_epi32(acc, _mm_mullo_epi32(v, w));
            }
            let v = _mm_srai_epi32::<{ PRECISION_BITS as i32 }>(acc);
            let v = _mm_packus_epi16(_mm_packs_epi32(v, v), v);
            out.copy_from_slice(&_mm_cvtsi128_si32(v).to_le_bytes());
            dst[x * 3..x * 3 + 3].copy_from_slice(&out[..3]);
        }
    }
}

/// Resizes `img` to `nw` x `nh` and returns only the `cw` x `ch` window at (`left`, `top`), as
/// Pillow's `resize((nw, nh), BILINEAR).crop(...)`: horizontal pass first, rounded to 8 bits,
/// then the vertical pass, each skipped when its size does not change. Only the
/// window's pixels are computed, which is what makes the resize of a large photo cheap.
fn resize_crop(img: &Rgb, nw: u32, nh: u32, left: u32, top: u32, cw: u32, ch: u32) -> Vec<u8> {
    let (w, h) = (img.width as usize, img.height as usize);
    let half = 1i32 << (PRECISION_BITS - 1);
    let vert = (nh != img.height).then(|| taps(img.height, nh, top, ch));
    // The input rows the vertical pass reads (or the window's own rows when there is none).
    let (row0, rows) = match &vert {
        Some(v) => {
            let first = v.iter().map(|t| t.start).min().unwrap_or(0);
            let last = v
                .iter()
                .map(|t| t.start + t.weights.len())
                .max()
                .unwrap_or(0);
            (first, last - first)
        }
        None => (top as usize, ch as usize),
    };
    let cw_ = cw as usize;
    // Horizontal pass over the needed rows: `rows` x `cw` pixels.
    let mut mid = vec![0u8; rows * cw_ * 3];
    if nw != img.width {
        let hz = RowTaps::new(&taps(img.width, nw, left, cw), w);
        let row_bytes = w * 3;
        // The vector path reads 4 bytes per pixel; the image's very last pixel has no byte
        // after it, so the last row is read from a copy with one more.
        let mut last_row = Vec::new();
        for y in 0..rows {
            let r = row0 + y;
            let src = if (r + 1) * row_bytes < img.pixels.len() {
                &img.pixels[r * row_bytes..]
            } else {
                if last_row.is_empty() {
                    last_row.extend_from_slice(&img.pixels[r * row_bytes..(r + 1) * row_bytes]);
                    last_row.push(0);
                }
                &last_row[..]
            };
            hz.run(src, &mut mid[y * cw_ * 3..(y + 1) * cw_ * 3]);
        }
    } else {
        for y in 0..rows {
            let s = ((row0 + y) * w + left as usize) * 3;
            mid[y * cw_ * 3..(y + 1) * cw_ * 3].copy_from_slice(&img.pixels[s..s + cw_ * 3]);
        }
    }
    let Some(vert) = vert else {
        return mid;
    };
    debug_assert!(row0 + rows <= h);
    // Tap by tap over whole rows, so that the sums vectorize; integer sums, so the order of
    // the terms changes nothing.
    let row = cw_ * 3;
    let mut out = vec![0u8; ch as usize * row];
    let mut acc = vec![0i32; row];
    for (y, t) in vert.iter().enumerate() {
        acc.fill(half);
        for (k, &wt) in t.weights.iter().enumerate() {
            let src = &mid[(t.start - row0 + k) * row..][..row];
            for (a, &v) in acc.iter_mut().zip(src) {
                *a += i32::from(v) * wt;
            }
        }
        for (d, &a) in out[y * row..(y + 1) * row].iter_mut().zip(&acc) {
            *d = clip8(a);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32) -> Rgb {
        let mut pixels = Vec::new();
        for y in 0..h {
            for x in 0..w {
                pixels.extend_from_slice(&[(x * 7 % 256) as u8, (y * 5 % 256) as u8, 200]);
            }
        }
        Rgb {
            width: w,
            height: h,
            pixels,
        }
    }

    #[test]
    fn same_size_is_a_plain_crop() {
        let img = gradient(10, 8);
        let out = resize_crop(&img, 10, 8, 2, 1, 4, 3);
        for y in 0..3 {
            for x in 0..4 {
                let s = (((y + 1) * 10 + x + 2) * 3) as usize;
                let d = ((y * 4 + x) * 3) as usize;
                assert_eq!(&out[d..d + 3], &img.pixels[s..s + 3]);
            }
        }
    }

    #[test]
    fn a_flat_image_stays_flat_and_weights_sum_to_one() {
        let img = Rgb {
            width: 37,
            height: 23,
            pixels: [9u8, 130, 251].repeat(37 * 23),
        };
        let out = resize_crop(&img, 17, 11, 0, 0, 17, 11);
        assert!(out.chunks(3).all(|p| p == [9, 130, 251]));
        for t in taps(1000, 256, 0, 256) {
            let s: i64 = t.weights.iter().map(|&w| i64::from(w)).sum();
            assert!((s - (1 << PRECISION_BITS)).abs() <= t.weights.len() as i64);
        }
    }

    /// Expected bytes from PIL 13.0 (`Image.frombytes("RGB", size, data).resize(..,
    /// Image.BILINEAR)`, then `.crop(..)`), the reference our resize must equal.
    #[test]
    fn matches_pil() {
        let img = Rgb {
            width: 6,
            height: 4,
            pixels: (0..72).collect(),
        };
        assert_eq!(
            resize_crop(&img, 3, 2, 0, 0, 3, 2),
            [
                15, 16, 17, 21, 22, 23, 26, 27, 28, 43, 44, 45, 49, 50, 51, 54, 55, 56
            ]
        );
        // bytes((i * 37) % 256 for i in range(105)), 7x5
        let img = Rgb {
            width: 7,
            height: 5,
            pixels: (0..105u32).map(|i| (i * 37 % 256) as u8).collect(),
        };
        assert_eq!(
            resize_crop(&img, 4, 3, 0, 0, 4, 3),
            [
                62, 87, 124, 163, 67, 104, 132, 169, 73, 112, 149, 174, 76, 101, 138, 177, 81, 118,
                146, 183, 87, 126, 163, 188, 83, 115, 152, 115, 95, 132, 160, 121, 101, 140, 170,
                126
            ]
        );
        // Upscaled across, downscaled down, then cropped: `.resize((9, 5)).resize((9, 3))
        // .crop((2, 1, 6, 3))`, the two passes spelled out. (Pillow 13's one-call
        // `.resize((9, 3))` runs the vertical pass first here and differs by one level in two
        // values.)
        assert_eq!(
            resize_crop(&img, 9, 3, 2, 1, 4, 2),
            [
                178, 102, 139, 208, 46, 83, 95, 132, 169, 181, 218, 56, 128, 116, 153, 108, 60, 97,
                109, 146, 183, 195, 118, 70
            ]
        );
    }

    /// The row loop (both paths) against the plain sum over each window's own taps, on
    /// downscales, upscales and crops whose windows reach both ends of the row.
    #[test]
    fn row_taps_equal_the_plain_sums() {
        let mut seed = 7u32;
        for &(w, nw, left, cw) in &[
            (512u32, 256u32, 16u32, 224u32),
            (500, 256, 0, 256),
            (37, 11, 0, 11),
            (37, 11, 3, 8),
            (1000, 97, 40, 50),
            (7, 19, 0, 19),
            (9, 9, 0, 9),
            (3, 1, 0, 1),
        ] {
            let row: Vec<u8> = (0..w * 3 + 1)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (seed >> 16) as u8
                })
                .collect();
            let taps = taps(w, nw, left, cw);
            let half = 1i32 << (PRECISION_BITS - 1);
            let want: Vec<u8> = taps
                .iter()
                .flat_map(|t| {
                    let mut acc = [half; 3];
                    for (k, &wt) in t.weights.iter().enumerate() {
                        for c in 0..3 {
                            acc[c] += i32::from(row[(t.start + k) * 3 + c]) * wt;
                        }
                    }
                    acc.map(clip8)
                })
                .collect();
            let rt = RowTaps::new(&taps, w as usize);
            let mut got = vec![0u8; cw as usize * 3];
            rt.run_scalar(&row, &mut got);
            assert_eq!(got, want, "scalar, {w} -> {nw}");
            let mut got = vec![0u8; cw as usize * 3];
            rt.run(&row, &mut got);
            assert_eq!(got, want, "run, {w} -> {nw}");
        }
    }

    #[test]
    fn normalizations() {
        let img = Rgb {
            width: 2,
            height: 2,
            pixels: [255, 127, 0].repeat(4),
        };
        let mut p = Preprocess {
            input_size: 2,
            resize_shorter: 2,
            normalize: Normalize::Scale127,
            layout: Layout::Nchw,
        };
        let mut out = vec![0.0; p.len()];
        p.prepare(&img, &mut out).unwrap();
        assert_eq!(&out[..4], &[1.0; 4]);
        assert_eq!(&out[4..8], &[0.0; 4]);
        assert_eq!(&out[8..], &[-127.0 / 128.0; 4]);
        p.normalize = Normalize::IMAGENET;
        p.layout = Layout::Nhwc;
        p.prepare(&img, &mut out).unwrap();
        assert!((out[0] - (1.0 - 0.485) / 0.229).abs() < 1e-5);
        assert!((out[1] - (127.0 / 255.0 - 0.456) / 0.224).abs() < 1e-5);
        assert!((out[2] - (0.0 - 0.406) / 0.225).abs() < 1e-5);
    }

    /// Every shared photo decodes to PIL's pixels: tests/data/pil_rgb.csv holds the SHA-256 of
    /// `Image.open(p).convert("RGB").tobytes()` under Pillow 13.0.0 (libjpeg-turbo 3) for each.
    /// JPEGs go through libjpeg-turbo here, PNGs (grey, RGB, RGBA) through `image`.
    #[test]
    fn the_shared_photos_decode_to_pils_pixels() {
        use sha2::{Digest, Sha256};
        let root = Path::new("../shared/data/photos");
        let mut rdr = csv::Reader::from_path("tests/data/pil_rgb.csv").unwrap();
        let mut n = 0;
        for rec in rdr.records() {
            let rec = rec.unwrap();
            let rgb = decode_file(&root.join(&rec[0])).unwrap();
            assert_eq!(
                (rgb.width.to_string(), rgb.height.to_string()),
                (rec[3].to_string(), rec[4].to_string()),
                "{}",
                &rec[0]
            );
            assert_eq!(
                hex::encode(Sha256::digest(&rgb.pixels)),
                &rec[5],
                "{} ({} {}): not PIL's pixels",
                &rec[0],
                &rec[1],
                &rec[2]
            );
            n += 1;
        }
        assert_eq!(n, 81);
    }

    /// A grey JPEG comes out of libjpeg as RGB with three equal channels, its size kept; CMYK
    /// is left to `image`; a JPEG cut short or with a broken frame header is a reason, not a
    /// panic; a scan cut short before the end-of-image marker decodes as Pillow decodes it.
    #[test]
    fn grey_cut_and_garbled_jpegs() {
        let (w, h) = (37u32, 23u32);
        let grey = image::GrayImage::from_fn(w, h, |x, y| image::Luma([(x * 7 + y * 3) as u8]));
        let mut jpg = Vec::new();
        image::DynamicImage::ImageLuma8(grey)
            .write_to(
                &mut std::io::Cursor::new(&mut jpg),
                image::ImageFormat::Jpeg,
            )
            .unwrap();
        assert!(
            jpeg::decode(&jpg).unwrap().is_some(),
            "libjpeg decodes grey"
        );
        let rgb = decode_bytes(&jpg).unwrap();
        assert_eq!((rgb.width, rgb.height), (w, h));
        // Against the `image` crate's decoder of the same file (another IDCT: a level or two).
        let theirs = image::load_from_memory(&jpg).unwrap().to_luma8();
        for (px, g) in rgb.pixels.chunks_exact(3).zip(theirs.as_raw()) {
            assert!(px[0] == px[1] && px[1] == px[2]);
            assert!(px[0].abs_diff(*g) <= 2, "{} vs {g}", px[0]);
        }

        let photo = std::fs::read("../shared/data/photos/curated/opencv__butterfly.jpg").unwrap();
        // Cut in the middle of the scan with the end-of-image marker put back: libjpeg reaches
        // the marker early, warns, and fills the rest; PIL loads it so, and so does this (the
        // same pixels as Pillow 13's). Cut without the marker it is refused (the header check's
        // "truncated JPEG", or the warning that the data ended, made an error here).
        let mut cut = photo[..photo.len() / 2].to_vec();
        cut.extend_from_slice(&[0xFF, 0xD9]);
        {
            use sha2::{Digest, Sha256};
            let rgb = decode_bytes(&cut).unwrap();
            assert_eq!(
                hex::encode(Sha256::digest(&rgb.pixels)),
                "0658fc063177dc23f26c17ca0b901363f756414f871c84612b2e5e20b11b900f"
            );
        }
        let err = decode_bytes(&photo[..photo.len() / 2]).unwrap_err();
        assert!(err.starts_with("truncated JPEG"), "{err}");
        let err = jpeg::decode(&photo[..photo.len() / 2]).unwrap_err();
        assert_eq!(
            err,
            "not a readable JPEG: the data ends before the picture does"
        );
        // A frame header that says 0 lines: libjpeg's own fatal error, carried out as words.
        let sof = photo
            .windows(2)
            .position(|w| w == [0xFF, 0xC0] || w == [0xFF, 0xC2])
            .unwrap();
        let mut bad = photo.clone();
        bad[sof + 5] = 0;
        bad[sof + 6] = 0;
        let err = jpeg::decode(&bad).unwrap_err();
        assert_eq!(
            err,
            "not a readable JPEG: Empty JPEG image (DNL not supported)"
        );
        // Through the header check first, which names it before libjpeg sees it.
        let err = decode_bytes(&bad).unwrap_err();
        assert!(err.contains("width or height is set to zero"), "{err}");

        // CMYK (made by libjpeg's own encoder): libjpeg passes, `image` converts it.
        let mut c = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_CMYK);
        c.set_size(16, 8);
        let mut started = c.start_compress(Vec::new()).unwrap();
        started.write_scanlines(&[0u8; 16 * 8 * 4]).unwrap();
        let cmyk = started.finish().unwrap();
        assert!(jpeg::decode(&cmyk).unwrap().is_none());
        let rgb = decode_bytes(&cmyk).unwrap();
        assert_eq!(
            (rgb.width, rgb.height, rgb.pixels.len()),
            (16, 8, 16 * 8 * 3)
        );
    }

    #[test]
    fn too_small_and_broken_inputs_are_reasons() {
        let p = Preprocess {
            input_size: 8,
            resize_shorter: 4,
            normalize: Normalize::Scale127,
            layout: Layout::Nchw,
        };
        let mut out = vec![0.0; p.len()];
        assert!(p.prepare(&gradient(20, 20), &mut out).is_err());
        assert_eq!(decode_bytes(&[]).unwrap_err(), "empty file (0 bytes)");
        assert!(decode_bytes(b"\xFF\xD8 not really a jpeg").is_err());
        assert!(decode_bytes(b"hello").is_err());
        // A decompression bomb is refused from its header, before any pixel is decoded.
        let bomb = std::fs::read("tests/data/bad_images/bomb.png").unwrap();
        let err = decode_bytes(&bomb).unwrap_err();
        assert!(err.contains("over the 20000-pixel limit"), "{err}");
        assert_eq!(default_resize_shorter(224), 256);
        assert_eq!(default_resize_shorter(240), 274);
        assert_eq!(default_resize_shorter(260), 297);
    }
}
