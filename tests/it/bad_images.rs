//! Hostile and unusual image files (tests/data/bad_images/, made once by a throwaway generator
//! with the `image` and `jpeg-encoder` crates): `init` names the unreadable ones and goes on, and
//! the annotation screen's loader turns every one into either a picture or a sentence naming the
//! file, without panicking and without decoding a decompression bomb.

use std::path::{Path, PathBuf};
use std::process::Command;

use labelvet::imagefile::MAX_SIDE;
use labelvet::store::Store;
use labelvet::tui::images::{Encoder, decode};
use ratatui::layout::Rect;

const DIR: &str = "tests/data/bad_images";

/// Files that hold a whole picture in a format the screen draws.
const DRAWABLE: &[&str] = &[
    "cmyk.jpg",
    "grayscale.jpg",
    "one_pixel.png",
    "rgba.png",
    "sixteen_bit.png",
];
/// Files the screen must refuse, with a word its message must hold (lower case).
const REFUSED: &[(&str, &str)] = &[
    ("empty.jpg", "empty file (0 bytes)"),
    ("text.jpg", "not an image: starts with text"),
    ("truncated.jpg", "truncated jpeg: data ends after 536 bytes"),
    (
        "truncated_scan.jpg",
        "truncated jpeg: data ends after 14284 bytes",
    ),
    ("bomb.png", "limit"),
];
/// What `init` tells without decoding the pixels: the files with no readable header at all, a
/// JPEG cut inside its scan data (a whole header, but no end-of-image marker: decoders would
/// fill the rest with grey without a word), and the decompression bomb, whose declared size is
/// over the limits the screen decodes with.
const UNREADABLE_AT_INIT: &[(&str, &str)] = &[
    ("empty.jpg", "empty file (0 bytes)"),
    (
        "text.jpg",
        "not an image: starts with text (\"This is not an image, on…\")",
    ),
    (
        "truncated.jpg",
        "truncated JPEG: data ends after 536 bytes (Not enough bytes",
    ),
    (
        "truncated_scan.jpg",
        "truncated JPEG: data ends after 14284 bytes, before the end-of-image marker",
    ),
    (
        "bomb.png",
        "declared 100000x100000 pixels, over the 20000-pixel limit",
    ),
];

fn all_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(DIR)
        .expect("the bad-image corpus")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

fn name(p: &Path) -> &str {
    p.file_name().unwrap().to_str().unwrap()
}

#[test]
fn the_corpus_is_what_the_tests_expect() {
    let mut listed: Vec<&str> = DRAWABLE
        .iter()
        .copied()
        .chain(REFUSED.iter().map(|(n, _)| *n))
        .collect();
    listed.sort_unstable();
    let files = all_files();
    let found: Vec<&str> = files.iter().map(|p| name(p)).collect();
    assert_eq!(found, listed);
    let total: u64 = files
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert!(total < 200 * 1024, "the corpus holds {total} bytes");
}

#[test]
fn init_lists_the_unreadable_files_with_reasons_and_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("bad.db");
    let out = Command::new(env!("CARGO_BIN_EXE_labelvet"))
        .args(["init", db.to_str().unwrap(), "--images", DIR])
        .env("LABELVET_DATA_DIR", tmp.path())
        .output()
        .expect("run labelvet");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "init failed:\n{stdout}\n{stderr}");
    let total = all_files().len();
    let unreadable = UNREADABLE_AT_INIT.len();
    assert!(
        stdout.contains(&format!(
            "images: {total} ({} read, 0 missing, {unreadable} unreadable)",
            total - unreadable
        )),
        "{stdout}"
    );
    for (file, why) in UNREADABLE_AT_INIT {
        assert!(
            stdout.contains(&format!("unreadable: {file}: {why}")),
            "{file}: {stdout}"
        );
    }
    // Every file is in the project, readable or not, so the screen can say what is wrong.
    let store = Store::open(&db).unwrap();
    for p in all_files() {
        assert!(store.image(name(&p)).unwrap().is_some(), "{}", p.display());
    }
}

#[test]
fn the_screen_draws_every_file_or_says_what_is_wrong_with_it() {
    let encoder = Encoder::halfblocks();
    let area = Rect::new(0, 0, 40, 20);
    for p in all_files() {
        let file = name(&p);
        let got = encoder.load(&p, area);
        if DRAWABLE.contains(&file) {
            let protocol = got.unwrap_or_else(|e| panic!("{file}: {e}"));
            let drawn = protocol.size();
            assert!(
                drawn.width >= 1 && drawn.height >= 1 && drawn.width <= 40 && drawn.height <= 20,
                "{file}: drawn in {drawn:?}"
            );
        } else {
            let (_, word) = REFUSED.iter().find(|(n, _)| *n == file).unwrap();
            let err = match got {
                Ok(_) => panic!("{file} was drawn"),
                Err(e) => e,
            };
            assert!(
                err.contains(file),
                "{file}: the message names no file: {err}"
            );
            assert!(
                err.to_lowercase().contains(word),
                "{file}: expected `{word}` in: {err}"
            );
        }
    }
}

#[test]
fn the_decompression_bomb_is_refused_before_decoding() {
    let bomb = Path::new(DIR).join("bomb.png");
    // The header claims far more than the limits allow (the file is 84 bytes): `init` records it
    // as unreadable, with the declared size, and the screen refuses it in the same words.
    let probe = labelvet::ingest::images::probe_file(&bomb);
    assert_eq!(probe.status, labelvet::store::ImageStatus::Unreadable);
    assert_eq!((probe.width, probe.height), (None, None));
    let why = format!("declared 100000x100000 pixels, over the {MAX_SIDE}-pixel limit");
    assert_eq!(probe.error.as_deref(), Some(why.as_str()));
    let err = match decode(&bomb) {
        Ok(img) => panic!("decoded a {}x{} bomb", img.width(), img.height()),
        Err(e) => e,
    };
    assert_eq!(err, format!("{}: {why}", bomb.display()));
}

#[test]
fn init_and_the_screen_give_the_same_reason_in_plain_words() {
    for (file, why) in UNREADABLE_AT_INIT {
        let path = Path::new(DIR).join(file);
        let probe = labelvet::ingest::images::probe_file(&path);
        let said = probe.error.unwrap_or_else(|| panic!("{file}: no reason"));
        assert!(said.starts_with(why), "{file}: {said}");
        // No decoder jargon in front: the decoder's words, if any, come after, in brackets.
        assert!(!said.contains("Format error"), "{file}: {said}");
        let err = match decode(&path) {
            Ok(_) => panic!("{file} was decoded"),
            Err(e) => e,
        };
        assert_eq!(err, format!("{}: {said}", path.display()));
    }
}
