//! JPEGs decoded at 1/2, 1/4 or 1/8 of their size through the scaled IDCT when the picture is
//! much smaller than the file (thumbnails, half-blocks, `show`): the same picture as the whole
//! decode resized, on the shared ImageNet photos (progressive JPEGs) and the curated ones
//! (baseline), and the whole decode wherever the picture needs every pixel.

use std::path::Path;

use image::{DynamicImage, GenericImageView};
use labelvet::imagefile;
use labelvet::tui::images::decode_to_fit;

use crate::annotate_support::photos_dir;

/// Mean absolute difference per channel between two images of one size (0-255).
fn mean_diff(a: &DynamicImage, b: &DynamicImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let (a, b) = (a.to_rgb8(), b.to_rgb8());
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

/// `img` reduced by `k` in both directions, each pixel the mean of its `k`x`k` block (of the
/// part inside the image at the right and bottom edges): what an IDCT scaled by 1/k computes
/// from the block's low frequencies, up to the rounding of the coefficients.
fn block_mean(img: &DynamicImage, k: u32) -> DynamicImage {
    let rgb = img.to_rgb8();
    let (w, h) = rgb.dimensions();
    let out = image::RgbImage::from_fn(w.div_ceil(k), h.div_ceil(k), |x, y| {
        let mut sum = [0u32; 3];
        let mut n = 0;
        for yy in y * k..((y + 1) * k).min(h) {
            for xx in x * k..((x + 1) * k).min(w) {
                let p = rgb.get_pixel(xx, yy);
                for c in 0..3 {
                    sum[c] += u32::from(p[c]);
                }
                n += 1;
            }
        }
        image::Rgb(sum.map(|s| ((s + n / 2) / n) as u8))
    });
    DynamicImage::ImageRgb8(out)
}

fn jpegs(folder: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(photos_dir().join(folder))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"))
        })
        .collect();
    v.sort();
    v
}

fn is_progressive(path: &Path) -> bool {
    // A frame header SOF2 (FF C2): scan data never holds FF followed by C2.
    std::fs::read(path)
        .unwrap()
        .windows(2)
        .any(|w| w == [0xFF, 0xC2])
}

#[test]
fn a_scaled_decode_is_the_same_picture_as_the_whole_one_resized() {
    let imagenet = jpegs("imagenet_labeled");
    assert!(imagenet.len() >= 20, "{imagenet:?}");
    assert!(
        imagenet.iter().all(|p| is_progressive(p)),
        "the shared ImageNet photos are progressive JPEGs"
    );
    let curated = jpegs("curated");
    assert!(curated.iter().any(|p| !is_progressive(p)));
    let mut diffs = Vec::new();
    // A grid thumbnail (20x18 cells of half-blocks: 20x36 pixels), a half-block image area of a
    // 200x60 screen (118x110), and a box half the photo's size.
    for path in imagenet.iter().chain(&curated) {
        let whole = labelvet::tui::images::decode(path).unwrap();
        let (w, h) = whole.dimensions();
        let mut scales = Vec::new();
        for fit_box in [(20, 36), (118, 110), (w / 2, h / 2)] {
            let expected_eighths = imagefile::jpeg_scale(w, h, fit_box);
            scales.push(expected_eighths);
            if expected_eighths == 8 {
                continue;
            }
            let (scaled, was_whole) = decode_to_fit(path, fit_box).unwrap();
            assert!(!was_whole, "{}", path.display());
            let (sw, sh) = scaled.dimensions();
            assert_eq!(
                (sw, sh),
                (
                    (w * expected_eighths).div_ceil(8),
                    (h * expected_eighths).div_ceil(8)
                ),
                "{}",
                path.display()
            );
            // The scaled decode covers the fitted picture on both sides.
            let fit =
                (f64::from(fit_box.0) / f64::from(w)).min(f64::from(fit_box.1) / f64::from(h));
            assert!(
                f64::from(sw) >= (f64::from(w) * fit).floor(),
                "{}",
                path.display()
            );
            assert!(
                f64::from(sh) >= (f64::from(h) * fit).floor(),
                "{}",
                path.display()
            );
            // The same picture: compared with the whole decode averaged over the blocks each
            // scaled pixel stands for.
            let reference = block_mean(&whole, 8 / expected_eighths);
            let d = mean_diff(&scaled, &reference);
            diffs.push(d);
            // Up to 9.6 on these photos (the stained glass of imagenet_12_741, whose 4:2:0
            // colour is coarser than its block means); a wrong colour conversion or a shifted
            // picture gives several times that.
            assert!(
                d < 12.0,
                "{} at {expected_eighths}/8 differs from the whole decode resized by {d:.2}/255",
                path.display()
            );
        }
        if w >= 320 && h >= 320 {
            // A thumbnail at 1/8, the screen's image area at 1/4 or 1/2, half size at 1/2.
            assert_eq!(scales[0], 1, "{}", path.display());
            assert!(scales[1] <= 4, "{}: {scales:?}", path.display());
            assert_eq!(scales[2], 4, "{}", path.display());
        }
    }
    let mean = diffs.iter().sum::<f64>() / diffs.len() as f64;
    assert!(mean < 5.0, "{mean:.2} over {} decodes", diffs.len());
}

#[test]
fn a_picture_that_needs_every_pixel_decodes_whole() {
    let path = photos_dir().join("imagenet_labeled/imagenet_00_243.jpg");
    let whole = labelvet::tui::images::decode(&path).unwrap();
    let (w, h) = whole.dimensions();
    assert_eq!(imagefile::jpeg_scale(w, h, (w, h)), 8);
    // Fitted by its height to half the photo: 1/2; to a quarter (and a bit less): 1/4.
    assert_eq!(imagefile::jpeg_scale(w, h, (2 * w, h / 2)), 4);
    assert_eq!(imagefile::jpeg_scale(w, h, (w / 4 - 3, 2 * h)), 2);
    let (img, was_whole) = decode_to_fit(&path, (w, h)).unwrap();
    assert!(was_whole);
    assert_eq!(img.dimensions(), (w, h));
    // A PNG has no scaled decode: it decodes whole whatever the box.
    let png = photos_dir().join("curated/skimage__chelsea.png");
    let (img, was_whole) = decode_to_fit(&png, (8, 8)).unwrap();
    assert!(was_whole);
    assert!(img.width() > 8);
}

#[test]
fn a_grey_jpeg_decodes_scaled_as_grey() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grey.jpg");
    let grey = image::GrayImage::from_fn(256, 192, |x, y| image::Luma([((x + y) % 256) as u8]));
    DynamicImage::ImageLuma8(grey.clone()).save(&path).unwrap();
    let (img, was_whole) = decode_to_fit(&path, (32, 24)).unwrap();
    assert!(!was_whole);
    assert_eq!(img.dimensions(), (32, 24));
    assert!(matches!(img, DynamicImage::ImageLuma8(_)));
    let reference = block_mean(&DynamicImage::ImageLuma8(grey), 8);
    assert!(mean_diff(&img, &reference) < 6.0);
}
