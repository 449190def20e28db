//! Images by key. The key is the path below the image root (or the name a manifest gives); the
//! SHA-256 and size are recorded when the file was there, so a merge can tell when two machines
//! hold different bytes under one key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::Store;
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "lowercase")]
pub enum ImageStatus {
    /// The file was read and its header understood.
    Ok,
    /// Listed (by a manifest) but no file was found.
    Missing,
    /// A file is there but is not an image we can read (empty, truncated header, not an image).
    Unreadable,
}

impl ImageStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// A status read back from the file; anything unknown counts as unreadable.
    fn parse(s: &str) -> ImageStatus {
        s.parse().unwrap_or(ImageStatus::Unreadable)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ImageRecord {
    pub key: String,
    /// The relative path as raw bytes, only when it is not valid UTF-8.
    pub raw_path: Option<Vec<u8>>,
    pub original_label: Option<String>,
    pub sha256: Option<String>,
    pub bytes: Option<u64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub status: ImageStatus,
    pub error: Option<String>,
}

impl ImageRecord {
    pub fn missing(key: String, original_label: Option<String>) -> Self {
        ImageRecord {
            key,
            raw_path: None,
            original_label,
            sha256: None,
            bytes: None,
            width: None,
            height: None,
            status: ImageStatus::Missing,
            error: None,
        }
    }

    /// Where the file is below `root`, for what opens it: refused when the key (or raw path)
    /// breaks [`check_image_key`]'s rule, which a project made before the rule may hold
    /// (`../SECRET.txt` would have `show` print the first bytes of a file outside the folder).
    pub fn file_under(&self, root: &Path) -> std::result::Result<PathBuf, String> {
        check_image_key(&self.key)?;
        if let Some(raw) = &self.raw_path {
            check_raw_path(raw)?;
        }
        Ok(self.path_under(root))
    }

    /// Where the file is below `root`.
    pub fn path_under(&self, root: &Path) -> PathBuf {
        match &self.raw_path {
            #[cfg(unix)]
            Some(raw) => {
                use std::os::unix::ffi::OsStrExt;
                root.join(std::ffi::OsStr::from_bytes(raw))
            }
            _ => root.join(&self.key),
        }
    }
}

/// The longest image key accepted (bytes), from any source: longer than any path a file system
/// takes, so only a crafted file meets it.
pub const MAX_KEY_BYTES: usize = 4096;

/// The rule every image key follows, whatever brought it (a folder scan, a manifest, a merged
/// file): a relative `/`-separated path with no empty, `.` or `..` component and no control
/// character or bidirectional override ([`crate::text::is_unsafe`]). A key is joined to the
/// image folder to find the file, so a key that climbs out of it (`../SECRET.txt`, `/etc/x`)
/// would make `show`, the screen or `predict` read a file outside it. Returns why not.
pub fn check_image_key(key: &str) -> std::result::Result<(), String> {
    let shown = || crate::text::display(&crate::text::clip(key, 80)).into_owned();
    if key.is_empty() {
        return Err("an empty image key".into());
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(format!(
            "image key \"{}\" is {} bytes long, over the limit of {MAX_KEY_BYTES}",
            shown(),
            key.len()
        ));
    }
    if let Err(u) = crate::text::check(key, false) {
        return Err(format!("image key \"{}\" {u}", shown()));
    }
    if key.starts_with('/') || key.split('/').any(|c| matches!(c, "" | "." | "..")) {
        return Err(format!(
            "image key \"{}\" must be a relative path inside the image folder (no leading /, \
             no empty, `.` or `..` part)",
            shown()
        ));
    }
    Ok(())
}

/// [`check_image_key`]'s rule for the raw bytes of a name that is not UTF-8 (kept beside its
/// lossy key so that the file can be found again).
pub fn check_raw_path(raw: &[u8]) -> std::result::Result<(), String> {
    let bad = raw.is_empty()
        || raw.len() > MAX_KEY_BYTES
        || raw[0] == b'/'
        || raw.iter().any(|&b| b < 0x20 || b == 0x7f)
        || raw
            .split(|&b| b == b'/')
            .any(|c| matches!(c, b"" | b"." | b".."));
    if bad {
        return Err(format!(
            "the raw path {} is not a relative path inside the image folder",
            crate::text::display(&String::from_utf8_lossy(&raw[..raw.len().min(80)]))
        ));
    }
    Ok(())
}

#[derive(Clone, Debug, PartialEq)]
pub struct ImageRow {
    pub id: i64,
    pub rec: ImageRecord,
}

pub(crate) const COLUMNS: &str =
    "id, key, raw_path, original_label, sha256, bytes, width, height, status, error";

pub(crate) fn from_row(r: &Row<'_>) -> rusqlite::Result<ImageRow> {
    let status: String = r.get(8)?;
    Ok(ImageRow {
        id: r.get(0)?,
        rec: ImageRecord {
            key: r.get(1)?,
            raw_path: r.get(2)?,
            original_label: r.get(3)?,
            sha256: r.get(4)?,
            bytes: r.get(5)?,
            width: r.get(6)?,
            height: r.get(7)?,
            status: ImageStatus::parse(&status),
            error: r.get(9)?,
        },
    })
}

/// Inserts images; a key already in the project is an error naming it.
pub fn insert_images(conn: &Connection, images: &[ImageRecord]) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO images(key, raw_path, original_label, sha256, bytes, width, height, status, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for im in images {
        stmt.execute(params![
            im.key,
            im.raw_path,
            im.original_label,
            im.sha256,
            im.bytes,
            im.width,
            im.height,
            im.status.as_str(),
            im.error
        ])
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Error::msg(format!(
                    "image {}: already in the project, or its label {} is not in the vocabulary",
                    im.key,
                    im.original_label.as_deref().unwrap_or("-")
                ))
            }
            e => e.into(),
        })?;
    }
    Ok(())
}

/// Key to row id for every image: what importers need to map outside rows onto images.
pub fn image_ids(conn: &Connection) -> Result<HashMap<String, i64>> {
    let mut stmt = conn.prepare("SELECT key, id FROM images")?;
    let map = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<HashMap<String, i64>>>()?;
    Ok(map)
}

impl Store {
    pub fn insert_images(&self, images: &[ImageRecord]) -> Result<()> {
        self.named(|| insert_images(&self.conn, images))
    }

    pub fn image(&self, key: &str) -> Result<Option<ImageRow>> {
        self.named(|| {
            Ok(self
                .conn
                .query_row(
                    &format!("SELECT {COLUMNS} FROM images WHERE key = ?1"),
                    [key],
                    from_row,
                )
                .optional()?)
        })
    }

    pub fn image_by_id(&self, id: i64) -> Result<Option<ImageRow>> {
        self.named(|| {
            Ok(self
                .conn
                .query_row(
                    &format!("SELECT {COLUMNS} FROM images WHERE id = ?1"),
                    [id],
                    from_row,
                )
                .optional()?)
        })
    }

    /// All images in key order.
    pub fn images(&self) -> Result<Vec<ImageRow>> {
        self.named(|| {
            let mut stmt = self
                .conn
                .prepare(&format!("SELECT {COLUMNS} FROM images ORDER BY key"))?;
            let rows = stmt
                .query_map([], from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Calls `f` with every image's row id, key and original label, in key order: what the
    /// statistics need of the images, without the rest of their records (an ImageNet-train
    /// project's 1.28 M whole records take a few hundred MB).
    pub fn for_each_image_label(&self, mut f: impl FnMut(i64, &str, Option<&str>)) -> Result<()> {
        self.named(|| {
            let mut stmt = self
                .conn
                .prepare("SELECT id, key, original_label FROM images ORDER BY key")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let key = r.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
                let label = r
                    .get_ref(2)?
                    .as_str_or_null()
                    .map_err(rusqlite::Error::from)?;
                f(r.get(0)?, key, label);
            }
            Ok(())
        })
    }

    /// The row id of the project's image under `key`, if it holds one.
    pub fn image_id(&self, key: &str) -> Result<Option<i64>> {
        self.named(|| {
            Ok(self
                .conn
                .prepare_cached("SELECT id FROM images WHERE key = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()?)
        })
    }

    pub fn image_ids(&self) -> Result<HashMap<String, i64>> {
        self.named(|| image_ids(&self.conn))
    }

    pub fn image_count_by_status(&self) -> Result<Vec<(ImageStatus, u64)>> {
        self.named(|| {
            let mut stmt = self
                .conn
                .prepare("SELECT status, count(*) FROM images GROUP BY status ORDER BY status")?;
            let rows = stmt
                .query_map([], |r| {
                    let s: String = r.get(0)?;
                    Ok((ImageStatus::parse(&s), r.get(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Groups of keys whose files have the same content.
    pub fn duplicate_content(&self) -> Result<Vec<Vec<String>>> {
        self.named(|| {
            let mut stmt = self.conn.prepare(
                "SELECT group_concat(key, char(10)) FROM
                   (SELECT key, sha256 FROM images WHERE sha256 IS NOT NULL ORDER BY key)
                 GROUP BY sha256 HAVING count(*) > 1 ORDER BY min(key)",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    let s: String = r.get(0)?;
                    Ok(s.split('\n').map(String::from).collect())
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }
}

/// Queries for the annotation queue, which must open a project of a million images in well under
/// a second: it holds image ids only and reads each image when it comes up.
impl Store {
    /// True when the file assigns the annotator a set of images (a checkout made by `assign`).
    pub fn has_assignment(&self, annotator: &str) -> Result<bool> {
        self.named(|| {
            Ok(self
                .conn
                .prepare_cached("SELECT 1 FROM assignments WHERE annotator = ?1 LIMIT 1")?
                .exists([annotator])?)
        })
    }

    /// The ids of the images in the annotator's queue, in key order: the images assigned to them,
    /// or every image when the file assigns them nothing.
    pub fn queue_image_ids(&self, annotator: &str) -> Result<Vec<i64>> {
        self.named(|| {
            let ids = if self.has_assignment(annotator)? {
                self.conn
                    .prepare(
                        "SELECT i.id FROM assignments a JOIN images i ON i.key = a.image
                         WHERE a.annotator = ?1 ORDER BY i.key",
                    )?
                    .query_map([annotator], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<i64>>>()?
            } else {
                // A covering scan of the UNIQUE index on `key`.
                self.conn
                    .prepare("SELECT id FROM images ORDER BY key")?
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<i64>>>()?
            };
            Ok(ids)
        })
    }
}
