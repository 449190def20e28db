//! Images carried inside an annotator's file.
//!
//! An expert working offline gets an annotator's file from `checkout` or `assign`; without the
//! pictures it names, they would have to copy the right files by hand and pass `--images`. With
//! `--with-images` the images given to the annotator travel in the file itself, in
//! `image_blobs`, so that the one file is all they need. The bytes are checked against the
//! project's record of each image (its SHA-256 from `init`) on the way in, and against their own
//! recorded SHA-256 on every read: a carried image damaged or altered on the way is shown as
//! broken, with the reason, and never handed to a decoder.
//!
//! The carried images are not merged back: the project has the files, and a copy (perhaps
//! re-encoded smaller with `--max-side`) adds nothing to the record a merge gathers. A merge's
//! source is checked schema for schema, `image_blobs` included, and the table is never read.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{ImageRecord, Store};
use crate::error::{Error, Result};

/// An image to store in an annotator's file, as the function that reads the file made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CarriedImage {
    pub data: Vec<u8>,
    /// `None` when `data` is the file as recorded; else the recorded SHA-256 of the file it was
    /// re-encoded from.
    pub resized_from: Option<String>,
    /// The long side `data` was re-encoded down to, when it was.
    pub max_side: Option<u32>,
}

/// Reads an image of the project for carrying (`ingest::carry` makes one from the image
/// folder); an error stops the checkout.
#[derive(Clone, Copy)]
pub struct Carrier<'a>(pub &'a (dyn Fn(&ImageRecord) -> Result<CarriedImage> + Sync));

impl std::fmt::Debug for Carrier<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Carrier")
    }
}

/// What carrying the images did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Carried {
    pub images: u64,
    pub bytes: u64,
    /// Images recorded as missing or unreadable at `init`: nothing to carry.
    pub skipped: u64,
    /// Images re-encoded smaller.
    pub resized: u64,
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Stores the images of `records` in `image_blobs` of the connection's main database, reading
/// each through `carrier`, a few at a time on every core.
pub(crate) fn carry(
    tx: &Connection,
    records: &[ImageRecord],
    carrier: &Carrier<'_>,
) -> Result<Carried> {
    use rayon::prelude::*;
    let mut out = Carried::default();
    let mut insert = tx.prepare(
        "INSERT INTO main.image_blobs(image, sha256, resized_from, max_side, data)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let ok: Vec<&ImageRecord> = records
        .iter()
        .filter(|r| r.status == super::ImageStatus::Ok && r.sha256.is_some())
        .collect();
    out.skipped = (records.len() - ok.len()) as u64;
    // A chunk's worth of images in memory at a time.
    for chunk in ok.chunks(32) {
        let made: Vec<Result<CarriedImage>> = chunk.par_iter().map(|r| (carrier.0)(r)).collect();
        for (rec, c) in chunk.iter().zip(made) {
            let c = c?;
            let sha = sha256_hex(&c.data);
            let recorded = rec.sha256.as_deref().unwrap_or_default();
            let from = c.resized_from.as_deref().unwrap_or(&sha);
            if from != recorded {
                return Err(Error::msg(format!(
                    "image {}: the bytes to carry are not the ones the project recorded (SHA-256 \
                     {}, recorded {})",
                    crate::text::display(&rec.key),
                    &from[..from.len().min(12)],
                    &recorded[..recorded.len().min(12)]
                )));
            }
            insert.execute(params![rec.key, sha, c.resized_from, c.max_side, c.data])?;
            out.images += 1;
            out.bytes += c.data.len() as u64;
            out.resized += u64::from(c.resized_from.is_some());
        }
    }
    Ok(out)
}

/// What a file made with `--with-images` carries: how many images, their bytes, and how many
/// were re-encoded smaller (`--max-side`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CarriedSummary {
    pub images: u64,
    pub bytes: u64,
    pub resized: u64,
}

impl Store {
    /// The images this file carries; all zero for a project that reads its image folder.
    pub fn carried_summary(&self) -> Result<CarriedSummary> {
        self.named(|| {
            Ok(self.conn.query_row(
                "SELECT count(*), coalesce(sum(length(data)), 0), count(resized_from)
                 FROM image_blobs",
                [],
                |r| {
                    Ok(CarriedSummary {
                        images: r.get(0)?,
                        bytes: r.get(1)?,
                        resized: r.get(2)?,
                    })
                },
            )?)
        })
    }

    /// Whether this file carries images (made with `--with-images`).
    pub fn holds_images(&self) -> Result<bool> {
        self.named(|| {
            Ok(self
                .conn
                .query_row("SELECT EXISTS (SELECT 1 FROM image_blobs)", [], |r| {
                    r.get(0)
                })?)
        })
    }
}

/// Reads the image `key` carried in the file `db` and checks its bytes: against their own
/// recorded SHA-256, and that against the project's record of the image. The error is the
/// sentence shown in the image's place; bytes that fail a check are never returned, so never
/// decoded.
pub fn read_carried(db: &Path, key: &str) -> std::result::Result<Vec<u8>, String> {
    let name = db.file_name().map_or_else(
        || db.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let fail = |why: String| format!("{key} (carried in {name}): {why}");
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| fail(format!("cannot open the file: {e}")))?;
    let _ = conn.busy_timeout(super::BUSY_TIMEOUT);
    type Row = (String, Option<String>, Option<String>, i64);
    let row: Option<Row> = conn
        .query_row(
            "SELECT b.sha256, b.resized_from, i.sha256, length(b.data)
             FROM image_blobs b LEFT JOIN images i ON i.key = b.image WHERE b.image = ?1",
            [key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()
        .map_err(|e| fail(e.to_string()))?;
    let Some((recorded, resized_from, project, len)) = row else {
        return Err(fail(
            "not carried in this file (only the images given to its annotator are); pass \
             --images DIR to read it from a folder"
                .into(),
        ));
    };
    if len as u64 > crate::imagefile::MAX_FILE_BYTES {
        return Err(fail(format!(
            "{len} bytes, over the limit of {} for an image file; not read",
            crate::imagefile::MAX_FILE_BYTES
        )));
    }
    let data: Vec<u8> = conn
        .query_row(
            "SELECT data FROM image_blobs WHERE image = ?1",
            [key],
            |r| r.get(0),
        )
        .map_err(|e| fail(e.to_string()))?;
    let actual = sha256_hex(&data);
    let short = |s: &str| s[..s.len().min(12)].to_string();
    if actual != recorded {
        return Err(fail(format!(
            "broken: the carried bytes do not match their SHA-256 (recorded {}, found {}); \
             not decoded. The file was damaged or altered after it was made",
            short(&recorded),
            short(&actual)
        )));
    }
    let source = resized_from.as_deref().unwrap_or(&recorded);
    if project.as_deref() != Some(source) {
        return Err(fail(format!(
            "broken: the carried bytes are not the image the project recorded (SHA-256 {}, \
             the project's record {}); not decoded",
            short(source),
            project.as_deref().map_or("none".into(), short)
        )));
    }
    Ok(data)
}
