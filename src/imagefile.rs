//! Reading an image file safely, and saying in plain words what is wrong with one that cannot be
//! read.
//!
//! `init` probes every file's header and the annotation screen decodes the pixels; both must
//! refuse the same files for the same reasons, so the size limits that stop a decompression bomb
//! (a small file declaring billions of pixels) and the wording of every failure live here once.
//! The format is told by the file's content, never by its name: a text file named `.jpg` is
//! reported as text, not as a broken JPEG.
//!
//! Pictures on a terminal are mostly much smaller than their files (a grid thumbnail of 20x18
//! half-block pixels, a 500x375 photo in 118x110), so a JPEG can be decoded at 1/2, 1/4 or 1/8
//! of its size by a scaled inverse DCT, as libjpeg does (`Opened::decode_to_fit`): most of the
//! decode's work is skipped and the resize that follows has fewer pixels to read.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat};

/// Images with a longer side than this are refused before any pixel is decoded.
pub const MAX_SIDE: u32 = 20_000;
/// The most a decoder may allocate for one image.
pub const MAX_DECODE_BYTES: u64 = 384 * 1024 * 1024;

/// The most bytes read from one image file: no image within [`MAX_DECODE_BYTES`] comes from a
/// larger file, so a larger one (a sparse file of gigabytes) is refused without being read.
pub const MAX_FILE_BYTES: u64 = MAX_DECODE_BYTES;

/// The bytes of an image file, read only from a regular file of at most [`MAX_FILE_BYTES`].
///
/// An image key names a path that anyone who wrote a manifest or a merged file chose: it may
/// lead (through a link) to a FIFO, which would block a plain read forever, or to a device such
/// as /dev/zero, which never ends. The file is opened without blocking, the opened file itself
/// (not the name, which could change in between) must be a regular file, and no more than its
/// size, within the cap, is read. `NotFound` stays `NotFound` so that callers can say missing.
pub fn read_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind, Read};
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let file = opts.open(path)?;
    let md = file.metadata()?;
    if !md.is_file() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "not a regular file (a FIFO, device or folder is never read as an image)",
        ));
    }
    if md.len() > MAX_FILE_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "a file of {} MiB, over the {} MiB limit",
                md.len().div_ceil(1024 * 1024),
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        ));
    }
    let mut data = Vec::with_capacity(md.len() as usize);
    // The file may grow after the size was read; the cap holds all the same.
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut data)?;
    if data.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "grew past the {} MiB limit while read",
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        ));
    }
    Ok(data)
}

/// The formats labelvet reads (the `image` crate's features in Cargo.toml), for messages.
const READ_FORMATS: &str = "JPEG, PNG, GIF, WebP, BMP or TIFF";

/// The decoder limits matching [`MAX_SIDE`] and [`MAX_DECODE_BYTES`].
pub fn limits() -> image::Limits {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    limits
}

/// An image whose header was read and whose declared size is within the limits.
pub struct Opened<'a> {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    data: &'a [u8],
    decoder: Box<dyn ImageDecoder + 'a>,
}

impl std::fmt::Debug for Opened<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("format", &self.format)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("bytes", &self.data.len())
            .finish_non_exhaustive()
    }
}

/// Reads the header of an image held in memory: its format (from the content), and its declared
/// size, checked against the limits. No pixel is decoded. The error is a sentence for a person.
pub fn open(data: &[u8]) -> Result<Opened<'_>, String> {
    if data.is_empty() {
        return Err("empty file (0 bytes)".into());
    }
    let mut reader = image::ImageReader::new(Cursor::new(data))
        .with_guessed_format()
        .expect("reading from memory cannot fail");
    let format = match reader.format() {
        Some(f) if readable(f) => f,
        guessed => return Err(not_an_image(data, guessed)),
    };
    // Sides are checked below, with the declared numbers in the message; the allocation limit
    // already applies while the header is parsed (a PNG's metadata chunks, for one).
    let mut header_limits = limits();
    header_limits.max_image_width = None;
    header_limits.max_image_height = None;
    reader.limits(header_limits);
    let decoder = reader
        .into_decoder()
        .map_err(|e| explain(data, format, &e, Stage::Header))?;
    let (width, height) = decoder.dimensions();
    check_size(width, height, decoder.total_bytes())?;
    check_complete(data, format)?;
    Ok(Opened {
        format,
        width,
        height,
        data,
        decoder: Box::new(decoder),
    })
}

impl Opened<'_> {
    /// Decodes the pixels for a picture that fits `fit_box` (pixels; proportions kept): a
    /// JPEG at the smallest IDCT scale (1/8, 1/4, 1/2) that is still at least the fitted size on
    /// both sides, any other image, or a JPEG needing every pixel, whole. The second value is
    /// true when the image was decoded whole. A JPEG the scaled decoder cannot read (CMYK, 16-bit,
    /// or anything it refuses) is decoded whole, so the picture and its error messages are the
    /// same as without scaling.
    pub fn decode_to_fit(self, fit_box: (u32, u32)) -> Result<(DynamicImage, bool), String> {
        if self.format == ImageFormat::Jpeg {
            let eighths = jpeg_scale(self.width, self.height, fit_box);
            if eighths < 8
                && let Some(img) = decode_jpeg_scaled(self.data, eighths)
            {
                return Ok((img, false));
            }
        }
        self.decode().map(|img| (img, true))
    }

    /// Decodes the pixels within the limits.
    pub fn decode(self) -> Result<DynamicImage, String> {
        let Opened {
            format,
            data,
            mut decoder,
            ..
        } = self;
        let fail = |e: ImageError| explain(data, format, &e, Stage::Pixels);
        let mut limits = limits();
        limits.reserve(decoder.total_bytes()).map_err(fail)?;
        decoder.set_limits(limits).map_err(fail)?;
        DynamicImage::from_decoder(decoder).map_err(fail)
    }
}

/// The IDCT scale, in eighths (1, 2, 4 or 8), at which a `width`x`height` JPEG decodes to the
/// smallest size that still covers the picture it makes when fitted into `fit_box`.
pub fn jpeg_scale(width: u32, height: u32, (box_w, box_h): (u32, u32)) -> u32 {
    let (w, h) = (f64::from(width.max(1)), f64::from(height.max(1)));
    let fit = (f64::from(box_w) / w).min(f64::from(box_h) / h);
    if fit >= 1.0 {
        return 8;
    }
    let need = ((w * fit).ceil() as u32, (h * fit).ceil() as u32);
    [1, 2, 4]
        .into_iter()
        .find(|&e| scaled(width, e) >= need.0 && scaled(height, e) >= need.1)
        .unwrap_or(8)
}

/// A side of `len` pixels at `eighths`/8, rounded up as the IDCT's output is.
fn scaled(len: u32, eighths: u32) -> u32 {
    (len * eighths).div_ceil(8)
}

/// A JPEG decoded by `jpeg-decoder` at `eighths`/8 of its size; `None` when that decoder cannot
/// give RGB or grey pixels for it.
fn decode_jpeg_scaled(data: &[u8], eighths: u32) -> Option<DynamicImage> {
    use jpeg_decoder::{Decoder, PixelFormat};
    // At 1/8 each 8x8 block becomes one pixel, its DC coefficient: a progressive JPEG's AC
    // scans (most of its entropy-coded bytes and of its decode) change nothing, so they are
    // left out before decoding. The pixels are the same (a test checks it).
    let dc_only = if eighths == 1 {
        progressive_dc_only(data)
    } else {
        None
    };
    let data = dc_only.as_deref().unwrap_or(data);
    let mut decoder = Decoder::new(Cursor::new(data));
    decoder.set_max_decoding_buffer_size(usize::try_from(MAX_DECODE_BYTES).ok()?);
    decoder.read_info().ok()?;
    let info = decoder.info()?;
    if !matches!(info.pixel_format, PixelFormat::RGB24 | PixelFormat::L8) {
        return None;
    }
    let side = |len: u16| u16::try_from(scaled(u32::from(len), eighths)).ok();
    // Asking for exactly the scaled size makes the decoder pick this scale and no smaller one.
    let (w, h) = decoder.scale(side(info.width)?, side(info.height)?).ok()?;
    let pixels = decoder.decode().ok()?;
    let (w, h) = (u32::from(w), u32::from(h));
    match info.pixel_format {
        PixelFormat::L8 => image::GrayImage::from_raw(w, h, pixels).map(DynamicImage::ImageLuma8),
        _ => image::RgbImage::from_raw(w, h, pixels).map(DynamicImage::ImageRgb8),
    }
}

/// A progressive JPEG with only its DC scans (spectral selection starting at 0: the first DC
/// scan and any DC refinement), every other segment kept as it is; `None` for any other JPEG
/// (baseline, whose scans interleave DC and AC, or lossless, arithmetic, hierarchical) and for
/// anything that does not parse as a whole file, which is then decoded as it is.
///
/// Scan data is skipped by looking for the next marker: inside it a `FF` byte is always
/// followed by `00` (a stuffed byte) or a restart marker `D0`..`D7` (ISO/IEC 10918-1 B.1.1.5).
pub fn progressive_dc_only(data: &[u8]) -> Option<Vec<u8>> {
    if data.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() / 4);
    out.extend_from_slice(&data[..2]);
    let mut pos = 2;
    let mut progressive = false;
    loop {
        // A marker, after any fill bytes (FF).
        if *data.get(pos)? != 0xFF {
            return None;
        }
        while *data.get(pos + 1)? == 0xFF {
            pos += 1;
        }
        let marker = data[pos + 1];
        match marker {
            0xD9 => {
                out.extend_from_slice(&[0xFF, 0xD9]);
                return progressive.then_some(out);
            }
            // Standalone markers (TEM, RSTn) never come between segments.
            0x01 | 0xD0..=0xD8 => return None,
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([
            *data.get(pos + 2)?,
            *data.get(pos + 3)?,
        ]));
        let end = pos + 2 + len;
        let segment = data.get(pos..end)?;
        match marker {
            // Progressive DCT, Huffman coding: the one this is for.
            0xC2 => progressive = true,
            // Every other frame type.
            0xC0 | 0xC1 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return None,
            _ => {}
        }
        if marker != 0xDA {
            out.extend_from_slice(segment);
            pos = end;
            continue;
        }
        // A scan: its header (components, then Ss, Se, Ah/Al), then entropy-coded data up to
        // the next marker.
        if !progressive || len < 6 {
            return None;
        }
        let components = usize::from(segment[4]);
        let spectral_start = *segment.get(5 + 2 * components)?;
        let mut next = end;
        loop {
            let at = next + data.get(next..)?.iter().position(|&b| b == 0xFF)?;
            match *data.get(at + 1)? {
                0x00 | 0xD0..=0xD7 => next = at + 2,
                // Fill bytes before a marker.
                0xFF => next = at + 1,
                _ => {
                    next = at;
                    break;
                }
            }
        }
        if spectral_start == 0 {
            out.extend_from_slice(&data[pos..next]);
        }
        pos = next;
    }
}

/// Refuses a declared size of zero, a side over [`MAX_SIDE`] or pixels needing more than
/// [`MAX_DECODE_BYTES`].
pub fn check_size(width: u32, height: u32, decoded_bytes: u64) -> Result<(), String> {
    if width == 0 || height == 0 {
        return Err(format!("declared {width}x{height} pixels: an empty image"));
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!(
            "declared {width}x{height} pixels, over the {MAX_SIDE}-pixel limit"
        ));
    }
    if decoded_bytes > MAX_DECODE_BYTES {
        return Err(format!(
            "declared {width}x{height} pixels ({} MiB decoded), over the {} MiB limit",
            decoded_bytes.div_ceil(1024 * 1024),
            MAX_DECODE_BYTES / (1024 * 1024)
        ));
    }
    Ok(())
}

/// Refuses a file whose image data stops early although its header is whole: a JPEG with no
/// end-of-image marker after its last scan, a PNG with no `IEND` chunk. Decoders fill what is
/// missing with grey without a word, so without this an image cut in transfer would be read at
/// `init` and shown as a grey picture. Scan data never holds the bytes `FF DA` or `FF D9` (a
/// `FF` there is always followed by `00` or a restart marker), so the last `FF DA` starts the
/// last scan, after any thumbnail, and the marker must follow it.
pub fn check_complete(data: &[u8], format: ImageFormat) -> Result<(), String> {
    let complete = match format {
        ImageFormat::Jpeg => {
            let last_scan = data.windows(2).rposition(|w| w == [0xFF, 0xDA]);
            last_scan.is_some_and(|at| data[at..].windows(2).any(|w| w == [0xFF, 0xD9]))
        }
        ImageFormat::Png => data.windows(4).rev().take(64).any(|w| w == b"IEND"),
        _ => true,
    };
    if complete {
        Ok(())
    } else {
        Err(format!(
            "truncated {}: data ends after {} bytes, before the end-of-image marker",
            name(format),
            data.len()
        ))
    }
}

fn readable(format: ImageFormat) -> bool {
    matches!(
        format,
        ImageFormat::Jpeg
            | ImageFormat::Png
            | ImageFormat::Gif
            | ImageFormat::WebP
            | ImageFormat::Bmp
            | ImageFormat::Tiff
    )
}

/// The format's usual name, as a labeler knows it.
fn name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Png => "PNG",
        ImageFormat::Gif => "GIF",
        ImageFormat::WebP => "WebP",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::Ico => "ICO",
        ImageFormat::Pnm => "PNM",
        ImageFormat::Hdr => "Radiance HDR",
        ImageFormat::OpenExr => "OpenEXR",
        ImageFormat::Avif => "AVIF",
        ImageFormat::Dds => "DDS",
        ImageFormat::Qoi => "QOI",
        ImageFormat::Farbfeld => "farbfeld",
        ImageFormat::Tga => "TGA",
        _ => "other",
    }
}

/// Why bytes whose format labelvet does not read are no image for it.
fn not_an_image(data: &[u8], guessed: Option<ImageFormat>) -> String {
    match guessed {
        Some(f) => format!(
            "a {} file, which labelvet does not read (it reads {READ_FORMATS})",
            name(f)
        ),
        None => match text_start(data) {
            Some(text) => format!("not an image: starts with text (\"{text}\")"),
            None => format!(
                "not a {READ_FORMATS} file (unknown format; first bytes {})",
                hex_start(data)
            ),
        },
    }
}

/// The first characters when `data` begins as readable text (UTF-8 without control characters
/// other than white space), shortened with an ellipsis.
fn text_start(data: &[u8]) -> Option<String> {
    const SHOWN: usize = 24;
    let head = &data[..data.len().min(4 * SHOWN)];
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        // A character cut by the window's end is still text.
        Err(e) if e.error_len().is_none() && e.valid_up_to() > 0 => {
            std::str::from_utf8(&head[..e.valid_up_to()]).expect("valid up to here")
        }
        Err(_) => return None,
    };
    if valid.is_empty()
        || valid
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return None;
    }
    let shown: String = valid
        .chars()
        .take(SHOWN)
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    let more = valid.chars().count() > SHOWN || data.len() > head.len();
    Some(if more { format!("{shown}…") } else { shown })
}

fn hex_start(data: &[u8]) -> String {
    data.iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Clone, Copy, PartialEq)]
enum Stage {
    Header,
    Pixels,
}

/// Turns a decoder's error into a sentence, keeping the decoder's words as a detail.
fn explain(data: &[u8], format: ImageFormat, err: &ImageError, stage: Stage) -> String {
    let detail = detail(err);
    let fmt = name(format);
    if let ImageError::Limits(_) = err {
        return format!(
            "{fmt} over the decoding limits ({MAX_SIDE} pixels a side, {} MiB): {detail}",
            MAX_DECODE_BYTES / (1024 * 1024)
        );
    }
    if stage == Stage::Header
        && let Some(text) = text_start(data)
    {
        return format!("not an image: starts with text (\"{text}\")");
    }
    if is_truncation(err) {
        return format!(
            "truncated {fmt}: data ends after {} bytes ({detail})",
            data.len()
        );
    }
    match stage {
        Stage::Header => format!("not a valid {fmt} file: {detail}"),
        Stage::Pixels => format!("damaged {fmt} data: {detail}"),
    }
}

/// The decoder's own reason, without the wrapper's "Format error decoding X:" prefix.
fn detail(err: &ImageError) -> String {
    let text = match err {
        ImageError::Decoding(d) => match std::error::Error::source(d) {
            Some(inner) => inner.to_string(),
            None => d.to_string(),
        },
        other => other.to_string(),
    };
    let text = text.trim();
    text.strip_prefix("I/O errors ").unwrap_or(text).to_string()
}

/// Whether the decoder ran out of bytes: each codec says so in its own words.
fn is_truncation(err: &ImageError) -> bool {
    if let ImageError::IoError(e) = err
        && e.kind() == std::io::ErrorKind::UnexpectedEof
    {
        return true;
    }
    let text = format!("{err} {}", detail(err)).to_lowercase();
    [
        "not enough bytes",
        "unexpected end of file",
        "unexpected eof",
        "unexpectedeof",
        "failed to fill whole buffer",
    ]
    .iter()
    .any(|w| text.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHOTO: &str = "../shared/data/photos/imagenet_labeled/imagenet_00_243.jpg";

    /// A PNG declaring `w` x `h` RGBA pixels, with an empty zlib stream for its data.
    fn png_header(w: u32, h: u32) -> Vec<u8> {
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&w.to_be_bytes());
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        for (kind, body) in [
            (&b"IHDR"[..], &ihdr[..]),
            (b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]),
            (b"IEND", &[]),
        ] {
            let mut chunk = kind.to_vec();
            chunk.extend_from_slice(body);
            png.extend_from_slice(&(body.len() as u32).to_be_bytes());
            png.extend_from_slice(&chunk);
            png.extend_from_slice(&crc32(&chunk).to_be_bytes());
        }
        png
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn declared_sizes_over_the_limits_are_refused_with_the_numbers() {
        let e = open(&png_header(100_000, 100_000)).unwrap_err();
        assert_eq!(
            e,
            "declared 100000x100000 pixels, over the 20000-pixel limit"
        );
        let e = open(&png_header(20_000, 20_000)).unwrap_err();
        assert_eq!(
            e,
            "declared 20000x20000 pixels (1526 MiB decoded), over the 384 MiB limit"
        );
        let header = png_header(5_000, 5_000);
        let ok = open(&header).unwrap();
        assert_eq!((ok.width, ok.height), (5_000, 5_000));
        // Within the limits, whole, but with no pixels in its data: damaged, in the decoder's words.
        let e = ok.decode().unwrap_err();
        assert!(e.starts_with("damaged PNG data: IDAT"), "{e}");
        // The same file cut short: truncated, with its length.
        let e = open(&header[..40]).unwrap_err();
        assert!(
            e.starts_with("truncated PNG: data ends after 40 bytes"),
            "{e}"
        );
    }

    /// jpeg-decoder at 1/8, without the DC-only shortcut.
    fn eighth_in_full(data: &[u8]) -> Vec<u8> {
        let mut d = jpeg_decoder::Decoder::new(Cursor::new(data));
        d.read_info().unwrap();
        let info = d.info().unwrap();
        let side = |l: u16| u16::try_from(scaled(u32::from(l), 1)).unwrap();
        d.scale(side(info.width), side(info.height)).unwrap();
        d.decode().unwrap()
    }

    #[test]
    fn a_progressive_jpeg_at_one_eighth_is_the_same_from_its_dc_scans_alone() {
        let dir = std::path::Path::new(PHOTO).parent().unwrap();
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            let dc =
                progressive_dc_only(&data).expect("the shared ImageNet photos are progressive");
            assert!(
                dc.len() * 3 < data.len(),
                "{} of {} bytes",
                dc.len(),
                data.len()
            );
            let img = decode_jpeg_scaled(&data, 1).unwrap();
            assert_eq!(img.as_bytes(), eighth_in_full(&data), "pixels differ");
            checked += 1;
        }
        assert_eq!(checked, 20);
        // Baseline JPEGs interleave DC and AC in one scan: nothing to leave out.
        let baseline =
            std::fs::read("../shared/data/photos/curated/opencv__butterfly.jpg").unwrap();
        assert!(progressive_dc_only(&baseline).is_none());
        let img = decode_jpeg_scaled(&baseline, 1).unwrap();
        assert_eq!(img.as_bytes(), eighth_in_full(&baseline));
        // Cut or damaged files are left to the decoder, which says what is wrong.
        let progressive = std::fs::read(PHOTO).unwrap();
        for cut in [3, 100, 1000, progressive.len() / 2, progressive.len() - 1] {
            assert!(
                progressive_dc_only(&progressive[..cut]).is_none(),
                "cut at {cut}"
            );
        }
        assert!(progressive_dc_only(b"").is_none());
        assert!(progressive_dc_only(b"\xFF\xD8\xFF").is_none());
    }

    #[test]
    fn failures_are_said_in_plain_words() {
        assert_eq!(open(b"").unwrap_err(), "empty file (0 bytes)");
        assert_eq!(
            open(b"hello world, these are my notes").unwrap_err(),
            "not an image: starts with text (\"hello world, these are m…\")"
        );
        assert_eq!(
            open(b"short\nnote").unwrap_err(),
            "not an image: starts with text (\"short note\")"
        );
        assert_eq!(
            open(&[0, 1, 2, 3, 0xfe, 0xff, 7, 8, 9]).unwrap_err(),
            "not a JPEG, PNG, GIF, WebP, BMP or TIFF file (unknown format; first bytes \
             00 01 02 03 fe ff 07 08)"
        );
        assert_eq!(
            open(b"qoif\0\0\0\x01").unwrap_err(),
            "a QOI file, which labelvet does not read (it reads JPEG, PNG, GIF, WebP, BMP or TIFF)"
        );
        // Text that happens to start like a BMP ("BM") is still called text.
        let e = open(b"BMW service notes, 2019").unwrap_err();
        assert!(e.starts_with("not an image: starts with text"), "{e}");

        let photo = std::fs::read(PHOTO).unwrap();
        let e = open(&photo[..160]).unwrap_err();
        assert!(
            e.starts_with("truncated JPEG: data ends after 160 bytes (Not enough bytes"),
            "{e}"
        );
        let whole = open(&photo).unwrap();
        assert_eq!((whole.format, whole.width), (ImageFormat::Jpeg, 512));
        assert_eq!(whole.decode().unwrap().height(), 512);
    }
}
