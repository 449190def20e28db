//! Reading the project's image files for an annotator's file made with `--with-images`
//! (`store::carried` stores them): each file is read from the image folder, its bytes checked
//! against the SHA-256 `init` recorded, and, with `--max-side N`, an image larger than N pixels
//! on its long side re-encoded down to N (JPEG at quality 90, PNG when it has transparency), so
//! that a laptop's file holds what the screen can show and not the camera's full resolution.

use std::path::PathBuf;

use image::DynamicImage;

use crate::error::{Error, Result};
use crate::imagefile;
use crate::store::ImageRecord;
use crate::store::carried::{CarriedImage, sha256_hex};

/// Reads image files below `root` for carrying, re-encoding those larger than `max_side`.
pub struct Reader {
    pub root: PathBuf,
    pub max_side: Option<u32>,
}

impl Reader {
    /// The bytes to carry for `rec`: the file as it is, or re-encoded smaller. An error names
    /// the file and why (unreadable, changed since `init`, not decodable for re-encoding).
    pub fn read(&self, rec: &ImageRecord) -> Result<CarriedImage> {
        let path = rec
            .file_under(&self.root)
            .map_err(|why| Error::msg(format!("image {}: {why}", rec.key)))?;
        let data = imagefile::read_file(&path).map_err(|e| Error::io(&path, e))?;
        let sha = sha256_hex(&data);
        let recorded = rec.sha256.as_deref().unwrap_or_default();
        if sha != recorded {
            return Err(Error::msg(format!(
                "{}: its bytes (SHA-256 {}) are not the ones the project recorded ({}); the file \
                 changed since `labelvet init`, so it is not carried",
                path.display(),
                &sha[..12],
                &recorded[..recorded.len().min(12)]
            )));
        }
        let Some(max) = self.max_side else {
            return Ok(CarriedImage {
                data,
                resized_from: None,
                max_side: None,
            });
        };
        let fail = |e: String| Error::msg(format!("{}: {e}", path.display()));
        let long_side = imagefile::open(&data)
            .map(|o| o.width.max(o.height))
            .map_err(fail)?;
        if long_side <= max {
            return Ok(CarriedImage {
                data,
                resized_from: None,
                max_side: None,
            });
        }
        let img = imagefile::open(&data)
            .and_then(|o| o.decode())
            .map_err(fail)?;
        let smaller = shrink(&img, max);
        let encoded = encode(&smaller)
            .map_err(|e| Error::msg(format!("{}: cannot re-encode it: {e}", path.display())))?;
        Ok(CarriedImage {
            data: encoded,
            resized_from: Some(sha),
            max_side: Some(max),
        })
    }
}

/// `img` with its long side `max` pixels, proportions kept.
fn shrink(img: &DynamicImage, max: u32) -> DynamicImage {
    let (w, h) = (img.width(), img.height());
    let scale = f64::from(max) / f64::from(w.max(h));
    let nw = ((f64::from(w) * scale).round() as u32).clamp(1, max);
    let nh = ((f64::from(h) * scale).round() as u32).clamp(1, max);
    img.resize_exact(nw, nh, image::imageops::FilterType::Triangle)
}

fn encode(img: &DynamicImage) -> image::ImageResult<Vec<u8>> {
    let mut out = Vec::new();
    if img.color().has_alpha() {
        img.write_with_encoder(image::codecs::png::PngEncoder::new(&mut out))?;
    } else {
        let rgb = DynamicImage::ImageRgb8(img.to_rgb8());
        rgb.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
            &mut out, 90,
        ))?;
    }
    Ok(out)
}
