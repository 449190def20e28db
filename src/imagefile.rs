//! Reading an image file safely: one set of size limits for `init`'s probe and the screen.
//!
//! `init` probes every file's header and the annotation screen decodes the pixels; both must
//! refuse the same files for the same reasons, so the size limits that stop a decompression bomb
//! (a small file declaring billions of pixels) live here once. The format is told by the file's
//! content, never by its name.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat};

/// Images with a longer side than this are refused before any pixel is decoded.
pub const MAX_SIDE: u32 = 20_000;
/// The most a decoder may allocate for one image.
pub const MAX_DECODE_BYTES: u64 = 384 * 1024 * 1024;

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
        return Err("empty file".into());
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
    Ok(Opened {
        format,
        width,
        height,
        data,
        decoder: Box::new(decoder),
    })
}

impl Opened<'_> {
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

fn not_an_image(_data: &[u8], guessed: Option<ImageFormat>) -> String {
    match guessed {
        Some(f) => format!("{f:?} images are not read (labelvet reads {READ_FORMATS})"),
        None => "not a recognised image format".into(),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Stage {
    Header,
    Pixels,
}

fn explain(_data: &[u8], _format: ImageFormat, err: &ImageError, stage: Stage) -> String {
    match stage {
        Stage::Header => format!("bad header: {err}"),
        Stage::Pixels => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // Within the limits but with no pixel data: the decode says the data ends.
        assert!(ok.decode().is_err());
    }
}
