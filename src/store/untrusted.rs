//! Opening a project file that came from somewhere else, without trusting it.
//!
//! A file handed over by another annotator may be damaged, half-copied, made by a newer labelvet,
//! or crafted. SQLite runs SQL stored in a file's schema (triggers, views, generated columns,
//! index expressions) when that file is written to or read through it, so before a single row is
//! read the file must prove it holds exactly the schema labelvet writes. The checks, in order:
//!
//! 1. The first 100 bytes: the SQLite magic, a sane page size, the labelvet application id, and a
//!    file at least as long as its header says (a truncated copy is caught here, by name).
//! 2. A sidecar `-wal` (or `-journal`) beside it is never applied to the file itself: answers an
//!    annotator saved just before their labelvet was killed live there, so it is copied with the
//!    file into a private temporary folder, SQLite recovers it there, and the checks go on with
//!    that copy. Its frames are checksummed by SQLite and the result is checked like any file.
//! 3. The file (or the recovered copy) is opened read-only with `immutable=1`: no locks, no -shm,
//!    no -wal read or written, so nothing beside it is created or trusted. Triggers and views are
//!    switched off for the connection (`SQLITE_DBCONFIG_ENABLE_TRIGGER`/`_VIEW`), the schema is
//!    untrusted (`trusted_schema = OFF`, `SQLITE_DBCONFIG_TRUSTED_SCHEMA`), defensive mode is on
//!    and the connection is `query_only`.
//! 4. `application_id` and `user_version`: a newer schema is refused, an older one is accepted.
//! 5. `sqlite_schema` must equal, object for object and statement for statement, the schema that
//!    labelvet's own migrations make for that version. Any trigger, view, extra table, index or
//!    column, or a changed constraint, is refused with its name. This also rules out generated
//!    columns and index expressions, the only schema SQL a read could run.
//! 6. `PRAGMA quick_check` must answer `ok` for every table a merge reads from each source
//!    (meta, classes, images, models, and every event kind's table) and their indexes. The largest
//!    tables of an annotator's file are the predictions, read only for a model the target lacks,
//!    and the derived candidates, never read: the first is checked before it is first read
//!    ([`SourceFile::check_table`]), the second not at all. A merge of a hundred checkouts of a
//!    50,000-image project spent most of its time checking pages it never read.
//!
//! Only then are rows read, through this connection only: the target is written through its own
//! connection, so no SQL of the source's ever runs with the target's trust. A source of an older
//! schema is copied into an in-memory database and migrated there, so it reads like a current one.
//! A pack (`store::pack`, application id `LVPK`) goes through steps 1 to 3 like any file, then its
//! exact pack schema and `quick_check` of every table; its rows are then read as the project rows
//! they stand for (`store::pack_read`), which the merge checks as it checks a full file's.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, Row};

use super::schema::{APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION};
use crate::error::{Error, Result};

/// A verified, read-only source file. `conn` reads a database with exactly the current schema.
pub struct SourceFile {
    pub path: PathBuf,
    pub(crate) conn: Connection,
    /// The schema version the file was written with (it is read as the current one).
    pub schema_version: i64,
    pub meta: BTreeMap<String, String>,
    /// What was recovered from beside the file, as a sentence, when anything was.
    pub recovered: Option<String>,
    /// Holds the private copy alive while `conn` reads it.
    _copy: Option<tempfile::TempDir>,
    /// Tables checked by [`SourceFile::check_table`] so far.
    checked: std::cell::RefCell<Vec<String>>,
    /// For a pack (`store::pack`), the SHA-256 of each class its events name, as the
    /// annotator's file held it; `None` for a project file.
    pub pack_classes: Option<Vec<(String, [u8; 32])>>,
    /// For a pack, its content as the merge reads it (`conn` is then the pack's own file, whose
    /// tables are not the project's).
    pub(crate) pack: Option<super::pack_read::PackContent>,
}

/// The tables besides the event log's that a merge reads from every source, checked when the
/// file is opened (with every kind's table of `events::KINDS`).
const ALWAYS_READ: &[&str] = &["meta", "classes", "images", "models"];

impl SourceFile {
    /// Runs every check of the module docs and returns the file ready to be read, or an error
    /// naming the file and the problem.
    pub fn open(path: &Path) -> Result<SourceFile> {
        let refuse = |why: String| refused(path, why);
        let md = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if !md.is_file() {
            return Err(refuse("not a regular file".into()));
        }
        let sidecars = sidecars(path);
        let (copy, read_from, recovered) = if sidecars.is_empty() {
            (None, path.to_path_buf(), None)
        } else {
            // The main file's header may be stale until the log is applied; check it after.
            let (dir, copied, note) = recover_copy(path, &sidecars)?;
            (Some(dir), copied, Some(note))
        };
        check_header(&read_from).map_err(refuse)?;

        let conn = open_immutable(&read_from)
            .map_err(|e| refuse(format!("cannot open it: {}", describe(&e))))?;
        harden(&conn).map_err(|e| refuse(format!("cannot lock it down: {e}")))?;
        conn.pragma_update(None, "query_only", "ON")
            .map_err(|e| refuse(e.to_string()))?;

        let app_id: i32 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(|e| refuse(describe(&e)))?;
        if app_id == super::pack::PACK_APPLICATION_ID {
            return open_pack(path, conn, copy, recovered);
        }
        if app_id != APPLICATION_ID {
            return Err(refuse(
                "an SQLite database, but not a labelvet project (no labelvet application_id)"
                    .into(),
            ));
        }
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| refuse(describe(&e)))?;
        if version > SCHEMA_VERSION {
            return Err(Error::NewerSchema {
                path: path.to_path_buf(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version < 1 {
            return Err(refuse("it has no labelvet schema (user_version 0)".into()));
        }
        check_schema(&conn, version).map_err(refuse)?;
        let kinds = super::events::KINDS.iter().map(|k| k.table);
        for table in ALWAYS_READ.iter().copied().chain(kinds) {
            if has_table(&conn, table).map_err(|e| refuse(describe(&e)))? {
                quick_check(&conn, table).map_err(refuse)?;
            }
        }

        let conn = if version < SCHEMA_VERSION {
            migrate_in_memory(&conn, version)
                .map_err(|e| refuse(format!("cannot read schema {version}: {e}")))?
        } else {
            conn
        };
        let meta = read_meta(&conn).map_err(refuse)?;
        for key in ["project_uuid", "vocab_digest"] {
            if !meta.contains_key(key) {
                return Err(refuse(format!("its meta table has no {key}")));
            }
        }
        Ok(SourceFile {
            path: path.to_path_buf(),
            conn,
            schema_version: version,
            meta,
            recovered,
            _copy: copy,
            checked: std::cell::RefCell::new(Vec::new()),
            pack_classes: None,
            pack: None,
        })
    }

    pub fn project_uuid(&self) -> &str {
        &self.meta["project_uuid"]
    }

    pub fn vocab_digest(&self) -> &str {
        &self.meta["vocab_digest"]
    }

    /// Runs `quick_check` on `table` (a table of the current schema) and its indexes, once:
    /// for a table that only some merges read.
    pub fn check_table(&self, table: &str) -> Result<()> {
        let mut checked = self.checked.borrow_mut();
        if !checked.iter().any(|t| t == table) {
            quick_check(&self.conn, table).map_err(|e| refused(&self.path, e))?;
            checked.push(table.to_string());
        }
        Ok(())
    }

    /// How many events of the kind the file holds.
    pub fn count(&self, kind: &super::events::Kind) -> Result<u64> {
        if let Some(pack) = &self.pack {
            let i = super::events::KINDS
                .iter()
                .position(|k| k.table == kind.table)
                .expect("a kind of KINDS");
            return Ok(pack.events[i].len() as u64);
        }
        super::events::count(&self.conn, kind).map_err(|e| refused(&self.path, describe(&e)))
    }
}

/// Typed access to one row of a source: each value must have the type labelvet writes (SQLite
/// does not enforce declared types, so a crafted file could hold anything), and a wrong one is
/// refused naming the file, the row and the column.
pub struct SourceRow<'a, 'r> {
    pub path: &'a Path,
    /// The SQLite row read, or `None` for a row whose values were read already (a pack's).
    row: Option<&'a Row<'r>>,
    /// The columns' names, for a row without `row`.
    names: &'a [&'a str],
    /// What a row is called in messages: its table, or an event kind's noun.
    pub noun: &'a str,
    /// The first `cached` columns' values, read from SQLite once: the checks look at a value
    /// several times (its type, its length and characters, then its meaning), and each read of
    /// a column is three calls into SQLite (a merge reads a million rows).
    values: [ValueRef<'a>; CACHED_COLUMNS],
    /// Each cached text value as `str`, checked as UTF-8 once (`None`: not text, or not UTF-8).
    strs: [Option<&'a str>; CACHED_COLUMNS],
    cached: usize,
    /// Bit `i` set: column `i`'s text already passed [`SourceRow::door_text`]'s checks for a
    /// name, which are also a note's (a pack's strings are checked once each, not once a cell).
    door_checked: u32,
}

/// More than any table a merge reads has columns.
const CACHED_COLUMNS: usize = 16;

impl<'a, 'r> SourceRow<'a, 'r> {
    pub fn new(path: &'a Path, row: &'a Row<'r>, noun: &'a str) -> Self {
        let mut values = [ValueRef::Null; CACHED_COLUMNS];
        let mut strs = [None; CACHED_COLUMNS];
        let mut cached = 0;
        for i in 0..row.as_ref().column_count().min(CACHED_COLUMNS) {
            // A column that cannot be read is left to `get`, which reports it.
            let Ok(v) = row.get_ref(i) else { break };
            values[i] = v;
            if let ValueRef::Text(t) = v {
                strs[i] = std::str::from_utf8(t).ok();
            }
            cached = i + 1;
        }
        SourceRow {
            path,
            row: Some(row),
            names: &[],
            noun,
            values,
            strs,
            cached,
            door_checked: 0,
        }
    }

    /// A row whose values were read already: `values` in column order (at most
    /// [`CACHED_COLUMNS`]), each text's `str` when it is UTF-8, and the columns' `names`.
    pub fn from_values(
        path: &'a Path,
        noun: &'a str,
        names: &'a [&'a str],
        values: &[(ValueRef<'a>, Option<&'a str>)],
    ) -> Self {
        let mut vs = [ValueRef::Null; CACHED_COLUMNS];
        let mut strs = [None; CACHED_COLUMNS];
        let cached = values.len().min(CACHED_COLUMNS);
        for (i, &(v, s)) in values.iter().take(cached).enumerate() {
            vs[i] = v;
            strs[i] = s;
        }
        SourceRow {
            path,
            row: None,
            names,
            noun,
            values: vs,
            strs,
            cached,
            door_checked: 0,
        }
    }

    /// Marks the columns (bit `i`, column `i`) whose text passed the door's checks for a name
    /// before the row was made.
    pub fn with_door_checked(mut self, columns: u32) -> Self {
        self.door_checked = columns;
        self
    }

    pub fn get(&self, i: usize) -> Result<ValueRef<'a>> {
        if i < self.cached {
            return Ok(self.values[i]);
        }
        match self.row {
            Some(row) => row.get_ref(i).map_err(|e| refused(self.path, describe(&e))),
            None => Err(refused(
                self.path,
                format!("{} row {}: it has no column {i}", self.noun, self.id()),
            )),
        }
    }

    fn id(&self) -> String {
        let first = match self.row {
            Some(row) => row.get_ref(0),
            None if self.cached > 0 => Ok(self.values[0]),
            None => Ok(ValueRef::Null),
        };
        match first {
            Ok(ValueRef::Text(t)) => String::from_utf8_lossy(t).into_owned(),
            Ok(ValueRef::Integer(n)) => n.to_string(),
            _ => "?".into(),
        }
    }

    /// A refusal of column `i`'s value: `what` is wrong with it.
    pub fn bad(&self, i: usize, what: &str) -> Error {
        let column = match self.row {
            Some(row) => row.as_ref().column_name(i).unwrap_or("?"),
            None => self.names.get(i).copied().unwrap_or("?"),
        }
        .to_string();
        refused(
            self.path,
            format!("{} row {}: column {column} {what}", self.noun, self.id()),
        )
    }

    /// A refusal of the whole row, as `<noun> <id>: why`.
    pub fn refuse(&self, why: impl std::fmt::Display) -> Error {
        refused(self.path, format!("{} {}: {why}", self.noun, self.id()))
    }

    pub fn text(&self, i: usize) -> Result<&'a str> {
        if let Some(t) = self.strs.get(i).copied().flatten() {
            return Ok(t);
        }
        match self.get(i)? {
            ValueRef::Text(t) => {
                std::str::from_utf8(t).map_err(|_| self.bad(i, "is not valid UTF-8"))
            }
            _ => Err(self.bad(i, "is not text")),
        }
    }

    pub fn nonempty_text(&self, i: usize) -> Result<&'a str> {
        let t = self.text(i)?;
        if t.trim().is_empty() {
            return Err(self.bad(i, "is empty"));
        }
        Ok(t)
    }

    pub fn opt_text(&self, i: usize) -> Result<Option<&'a str>> {
        match self.get(i)? {
            ValueRef::Null => Ok(None),
            _ => self.text(i).map(Some),
        }
    }

    pub fn int(&self, i: usize) -> Result<i64> {
        match self.get(i)? {
            ValueRef::Integer(n) => Ok(n),
            _ => Err(self.bad(i, "is not an integer")),
        }
    }

    pub fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match self.get(i)? {
            ValueRef::Null => Ok(None),
            _ => self.int(i).map(Some),
        }
    }

    pub fn opt_count(&self, i: usize) -> Result<Option<i64>> {
        match self.opt_int(i)? {
            Some(n) if n < 0 => Err(self.bad(i, "is negative")),
            n => Ok(n),
        }
    }

    /// Text of column `i` (NULL passes) that a target takes from a source: at most `max`
    /// bytes, and no control character or bidirectional override ([`crate::text::check`]), so
    /// that a merged name, note or key can neither flood the target nor command a terminal.
    pub fn door_text(&self, i: usize, max: usize) -> Result<Option<&'a str>> {
        if i < 32
            && self.door_checked & (1 << i) != 0
            && max >= MAX_NAME_BYTES
            && let Some(t) = self.strs.get(i).copied().flatten()
        {
            return Ok(Some(t));
        }
        let Some(t) = self.opt_text(i)? else {
            return Ok(None);
        };
        if t.len() > max {
            return Err(self.bad(
                i,
                &format!(
                    "is {} bytes long, over the limit of {max} for merged text",
                    t.len()
                ),
            ));
        }
        crate::text::check(t, false).map_err(|u| {
            self.bad(
                i,
                &format!(
                    "\"{}\" {u}",
                    crate::text::display(&crate::text::clip(t, 80))
                ),
            )
        })?;
        Ok(Some(t))
    }

    /// An event id: a UUID in its canonical lowercase hyphenated form, so one event cannot
    /// come in twice under two spellings of its id.
    pub fn event_id(&self, i: usize) -> Result<&'a str> {
        let id = self.text(i)?;
        if !is_canonical_uuid(id) {
            return Err(self.bad(i, "is not a lowercase hyphenated UUID"));
        }
        Ok(id)
    }

    /// Checks the value of column `i` against its declared type.
    pub fn typed(&self, i: usize, ty: super::events::Ty) -> Result<ValueRef<'a>> {
        use super::events::Ty;
        match ty {
            Ty::Text => self.text(i).map(|_| ()),
            Ty::NonEmpty => self.nonempty_text(i).map(|_| ()),
            Ty::OptText => self.opt_text(i).map(|_| ()),
            Ty::Int => self.int(i).map(|_| ()),
            Ty::OptInt => self.opt_int(i).map(|_| ()),
        }?;
        self.get(i)
    }
}

/// Whether `id` is a UUID written as `Uuid::hyphenated().encode_lower` writes it: 36 bytes,
/// hyphens at 8, 13, 18 and 23, lowercase hex digits elsewhere. Checked byte by byte, because a
/// merge checks a million ids and parsing each to print it again cost a few percent of it.
pub(crate) fn is_canonical_uuid(id: &str) -> bool {
    id.len() == uuid::fmt::Hyphenated::LENGTH
        && id.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

/// The longest name a merged row may hold (annotator, session, model, origin, class key), in
/// bytes: far above any real one, far below what would bloat the target.
pub const MAX_NAME_BYTES: usize = 1024;
/// The longest free text (a flag's note, an image's error) a merged row may hold, in bytes.
pub const MAX_NOTE_BYTES: usize = 16 * 1024;

/// Whether `t` passes the door's checks for a name ([`SourceRow::door_text`] with
/// [`MAX_NAME_BYTES`]), and so for any text a merge takes: for a value checked once and used in
/// many rows.
pub(crate) fn passes_name_door(t: &str) -> bool {
    t.len() <= MAX_NAME_BYTES && crate::text::check(t, false).is_ok()
}

/// [`SourceRow::door_text`] for a value read outside a row: `what` names it in the refusal.
pub(crate) fn door_str(path: &Path, what: &str, t: &str, max: usize) -> Result<()> {
    if t.len() > max {
        return Err(refused(
            path,
            format!(
                "{what} is {} bytes long, over the limit of {max} for merged text",
                t.len()
            ),
        ));
    }
    crate::text::check_field(what, t).map_err(|why| refused(path, why))
}

pub(crate) fn refused(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::MergeRefused {
        path: path.to_path_buf(),
        reason: why.to_string(),
    }
}

/// Sidecar files SQLite would apply to the database: a non-empty `-wal` or `-journal`.
fn sidecars(path: &Path) -> Vec<PathBuf> {
    ["-wal", "-journal"]
        .iter()
        .map(|s| with_suffix(path, s))
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() > 0))
        .collect()
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Copies the file and its sidecars into a private folder and lets SQLite recover them there,
/// with everything that could run SQL from the file switched off. The original is not touched.
fn recover_copy(path: &Path, sidecars: &[PathBuf]) -> Result<(tempfile::TempDir, PathBuf, String)> {
    let dir = super::partial::private_dir("labelvet-merge-", &std::env::temp_dir())?;
    let copy = dir.path().join("source.db");
    std::fs::copy(path, &copy).map_err(|e| Error::io(path, e))?;
    let mut names = Vec::new();
    let mut bytes = 0;
    let mut left_out = Vec::new();
    for side in sidecars {
        let name = side.file_name().unwrap_or_default().to_string_lossy();
        if name.ends_with("-wal") {
            // Checked before it is copied, and only what SQLite would read of it is copied.
            let mut f = File::open(side).map_err(|e| Error::io(side, e))?;
            let len = f.metadata().map_err(|e| Error::io(side, e))?.len();
            let wal = super::wal::check_wal(std::io::BufReader::new(&mut f), len)
                .map_err(|why| refused(path, format!("{} beside it: {why}", side.display())))?;
            if wal.ignored_bytes > 0 {
                left_out.push(format!(
                    "{} bytes of {} after its last committed frame",
                    wal.ignored_bytes,
                    side.display()
                ));
            }
            if wal.committed_frames == 0 {
                continue;
            }
            use std::io::Seek;
            f.rewind().map_err(|e| Error::io(side, e))?;
            let mut out =
                File::create(with_suffix(&copy, "-wal")).map_err(|e| Error::io(&copy, e))?;
            bytes += std::io::copy(&mut f.take(wal.committed_bytes), &mut out)
                .map_err(|e| Error::io(side, e))?;
        } else {
            bytes += std::fs::copy(side, with_suffix(&copy, "-journal"))
                .map_err(|e| Error::io(side, e))?;
        }
        names.push(side.display().to_string());
    }
    if names.is_empty() {
        // Nothing SQLite would apply: the file is read as it is.
        return Ok((
            dir,
            copy,
            format!("left out, as SQLite would: {}", left_out.join("; ")),
        ));
    }
    let recover = || -> rusqlite::Result<()> {
        let conn = Connection::open_with_flags(
            &copy,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        harden(&conn)?;
        // Reading the schema makes SQLite replay the log (or roll back a hot journal); the
        // checkpoint folds a log into the copy so that it can be opened immutable.
        conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        conn.close().map_err(|(_, e)| e)
    };
    recover().map_err(|e| {
        refused(
            path,
            format!(
                "cannot recover {} beside it: {}",
                names.join(" and "),
                describe(&e)
            ),
        )
    })?;
    let mut note = format!(
        "recovered {} ({bytes} bytes) into a private copy; the file itself was not changed",
        names.join(" and ")
    );
    if !left_out.is_empty() {
        note += &format!(" (left out, as SQLite would: {})", left_out.join("; "));
    }
    Ok((dir, copy, note))
}

/// The header checks, on raw bytes: nothing of SQLite has looked at the file yet.
fn check_header(path: &Path) -> std::result::Result<(), String> {
    let mut f = File::open(path).map_err(|e| e.to_string())?;
    let len = f.metadata().map_err(|e| e.to_string())?.len();
    if len == 0 {
        return Err("an empty file, not an SQLite database".into());
    }
    let mut h = [0u8; 100];
    if len < 100 || f.read_exact(&mut h).is_err() {
        return Err(format!(
            "not an SQLite database (only {len} bytes, shorter than an SQLite header)"
        ));
    }
    if &h[..16] != b"SQLite format 3\0" {
        return Err("not an SQLite database".into());
    }
    let page_size = match u16::from_be_bytes([h[16], h[17]]) {
        1 => 65536u64,
        n => u64::from(n),
    };
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(format!("a damaged SQLite header (page size {page_size})"));
    }
    let be32 = |o: usize| u32::from_be_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
    let pages = u64::from(be32(28));
    // The page count in the header is only meaningful when the change counter matches.
    if pages > 0 && be32(24) == be32(92) && len < pages * page_size {
        return Err(format!(
            "truncated: its header says {} bytes ({pages} pages of {page_size}) but the file has \
             {len}; copy it again",
            pages * page_size
        ));
    }
    let app_id = be32(68) as i32;
    if app_id != APPLICATION_ID && app_id != super::pack::PACK_APPLICATION_ID {
        return Err(
            "an SQLite database, but not a labelvet project (no labelvet application_id)".into(),
        );
    }
    Ok(())
}

fn open_immutable(path: &Path) -> rusqlite::Result<Connection> {
    Connection::open_with_flags(
        format!("{}?immutable=1", file_uri(path)),
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

/// A `file:` URI for `path`, every byte outside the unreserved set percent-encoded, so that `?`,
/// `#` and `%` in a file name cannot be read as URI syntax.
fn file_uri(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut uri = String::from("file:");
    for &b in abs.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

/// Switches off everything through which a file's schema could run SQL on this connection.
pub(crate) fn harden(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_VIEW, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
    conn.pragma_update(None, "trusted_schema", "OFF")?;
    conn.pragma_update(None, "cell_size_check", "ON")?;
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct SchemaObject {
    kind: String,
    name: String,
    table: String,
    sql: Option<String>,
}

fn schema_objects(conn: &Connection) -> rusqlite::Result<Vec<SchemaObject>> {
    let mut stmt = conn.prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema")?;
    let mut out = stmt
        .query_map([], |r| {
            Ok(SchemaObject {
                kind: r.get(0)?,
                name: r.get(1)?,
                table: r.get(2)?,
                sql: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    out.sort();
    Ok(out)
}

/// The schema labelvet's migrations make at `version`, built fresh in memory.
fn expected_connection(version: i64) -> rusqlite::Result<Connection> {
    let conn = Connection::open_in_memory()?;
    for sql in &MIGRATIONS[..version as usize] {
        conn.execute_batch(sql)?;
    }
    Ok(conn)
}

/// Column facts from `pragma_table_xinfo`: name, declared type, not null, default, pk, hidden.
type ColumnInfo = (String, String, i64, Option<String>, i64, i64);

fn columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<ColumnInfo>> {
    let mut stmt = conn.prepare(
        "SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1)",
    )?;
    stmt.query_map([table], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
        ))
    })?
    .collect()
}

/// Compares the file's schema with labelvet's, object by object; the error lists every
/// difference by name.
fn check_schema(conn: &Connection, version: i64) -> std::result::Result<(), String> {
    let reference = expected_connection(version).map_err(|e| e.to_string())?;
    check_schema_against(
        conn,
        &reference,
        &format!("its schema is not labelvet's schema {version}"),
    )
}

/// Compares the file's schema with `reference`'s; `what` starts the error.
fn check_schema_against(
    conn: &Connection,
    reference: &Connection,
    what: &str,
) -> std::result::Result<(), String> {
    let actual =
        schema_objects(conn).map_err(|e| format!("cannot read its schema: {}", describe(&e)))?;
    let expected = schema_objects(reference).map_err(|e| e.to_string())?;
    if actual == expected {
        return Ok(());
    }
    let mut problems = Vec::new();
    for a in &actual {
        match expected.iter().find(|e| e.name == a.name) {
            None => problems.push(match a.kind.as_str() {
                "trigger" => format!(
                    "it holds a trigger `{}` on `{}` (a labelvet project has none, and it was \
                     not run)",
                    a.name, a.table
                ),
                "view" => format!(
                    "it holds a view `{}` (a labelvet project has none, and it was not read)",
                    a.name
                ),
                "index" => format!("it holds an unexpected index `{}` on `{}`", a.name, a.table),
                kind => format!("it holds an unexpected {kind} `{}`", a.name),
            }),
            Some(e) if e.kind != a.kind => problems.push(format!(
                "`{}` is a {} where labelvet has a {}",
                a.name, a.kind, e.kind
            )),
            Some(e) if e == a => {}
            Some(e) if a.kind == "table" => {
                let (have, want) = match (columns(conn, &a.name), columns(reference, &e.name)) {
                    (Ok(h), Ok(w)) => (h, w),
                    (Err(err), _) | (_, Err(err)) => {
                        problems.push(format!("table `{}`: {}", a.name, describe(&err)));
                        continue;
                    }
                };
                let mut found = false;
                for c in &have {
                    match want.iter().find(|w| w.0 == c.0) {
                        None => {
                            found = true;
                            problems
                                .push(format!("table `{}` has an extra column `{}`", a.name, c.0));
                        }
                        Some(w) if w != c => {
                            found = true;
                            problems.push(format!(
                                "column `{}.{}` is declared differently",
                                a.name, c.0
                            ));
                        }
                        Some(_) => {}
                    }
                }
                for w in &want {
                    if !have.iter().any(|c| c.0 == w.0) {
                        found = true;
                        problems.push(format!("table `{}` lacks column `{}`", a.name, w.0));
                    }
                }
                if !found {
                    problems.push(format!(
                        "table `{}` is defined differently from labelvet's (its constraints differ)",
                        a.name
                    ));
                }
            }
            Some(_) => problems.push(format!(
                "{} `{}` is defined differently from labelvet's",
                a.kind, a.name
            )),
        }
    }
    for e in &expected {
        if !actual.iter().any(|a| a.name == e.name) {
            problems.push(format!("it lacks the {} `{}`", e.kind, e.name));
        }
    }
    Err(format!("{what}: {}", problems.join("; ")))
}

/// The rest of [`SourceFile::open`] for a pack: its version, its exact schema, `quick_check`
/// of every table, then its content read and checked as the project rows it stands for
/// ([`super::pack_read::read`], which also checks the pack's content sum).
fn open_pack(
    path: &Path,
    conn: Connection,
    copy: Option<tempfile::TempDir>,
    recovered: Option<String>,
) -> Result<SourceFile> {
    let refuse = |why: String| refused(path, why);
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| refuse(describe(&e)))?;
    if version != super::pack::PACK_VERSION {
        return Err(refuse(format!(
            "a pack of version {version}, and this labelvet reads packs of version {}; pack \
             the annotator's file again with this labelvet",
            super::pack::PACK_VERSION
        )));
    }
    let reference = super::pack::expected_connection().map_err(|e| refuse(e.to_string()))?;
    check_schema_against(&conn, &reference, "its schema is not a labelvet pack's")
        .map_err(refuse)?;
    for table in super::pack::tables() {
        quick_check(&conn, &table).map_err(refuse)?;
    }
    let content = super::pack_read::read(&conn).map_err(refuse)?;
    let meta = content.meta.clone();
    for key in ["project_uuid", "vocab_digest"] {
        if !meta.contains_key(key) {
            return Err(refuse(format!("its meta table has no {key}")));
        }
    }
    Ok(SourceFile {
        path: path.to_path_buf(),
        conn,
        schema_version: SCHEMA_VERSION,
        meta,
        recovered,
        _copy: copy,
        checked: std::cell::RefCell::new(Vec::new()),
        pack_classes: Some(content.classes.clone()),
        pack: Some(content),
    })
}

fn has_table(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    conn.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1")?
        .exists([table])
}

/// `quick_check` of one table and its indexes (table names come from this module's constants,
/// never from the file).
fn quick_check(conn: &Connection, table: &str) -> std::result::Result<(), String> {
    let run = || -> rusqlite::Result<Vec<String>> {
        let mut stmt = conn.prepare(&format!("PRAGMA quick_check(\"{table}\")"))?;
        stmt.query_map([], |r| r.get::<_, String>(0))?
            .take(5)
            .collect()
    };
    match run() {
        Ok(rows) if rows == ["ok"] => Ok(()),
        Ok(rows) => Err(format!(
            "the file is damaged (quick_check of {table}: {})",
            rows.join("; ")
        )),
        Err(e) => Err(format!(
            "the file is damaged (checking {table}: {})",
            describe(&e)
        )),
    }
}

/// Copies an older-schema source into memory and applies the later migrations there, so that
/// the merge reads every source through the current schema.
fn migrate_in_memory(conn: &Connection, version: i64) -> rusqlite::Result<Connection> {
    let mut mem = Connection::open_in_memory()?;
    {
        let backup = rusqlite::backup::Backup::new(conn, &mut mem)?;
        backup.run_to_completion(1024, Duration::ZERO, None)?;
    }
    harden(&mem)?;
    let tx = mem.transaction()?;
    for sql in &MIGRATIONS[version as usize..] {
        tx.execute_batch(sql)?;
    }
    tx.commit()?;
    mem.pragma_update(None, "query_only", "ON")?;
    Ok(mem)
}

fn read_meta(conn: &Connection) -> std::result::Result<BTreeMap<String, String>, String> {
    let run = || -> rusqlite::Result<BTreeMap<String, String>> {
        let mut stmt = conn.prepare("SELECT key, value FROM meta")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    };
    run().map_err(|e| format!("its meta table cannot be read: {}", describe(&e)))
}

pub(crate) fn describe(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => {
            "not an SQLite database".into()
        }
        rusqlite::Error::SqliteFailure(f, m) if f.code == rusqlite::ErrorCode::DatabaseCorrupt => {
            format!(
                "the file is damaged ({})",
                m.as_deref().unwrap_or("database disk image is malformed")
            )
        }
        e => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_escape_what_sqlite_would_parse() {
        let uri = file_uri(Path::new("/tmp/a b?c#d%e.db"));
        assert_eq!(uri, "file:/tmp/a%20b%3Fc%23d%25e.db");
    }

    #[test]
    fn expected_schema_of_each_version_builds() {
        for v in 1..=SCHEMA_VERSION {
            let c = expected_connection(v).unwrap();
            assert!(!schema_objects(&c).unwrap().is_empty());
        }
    }

    /// The byte check accepts exactly what parsing and printing again accepted.
    #[test]
    fn canonical_uuids_are_what_uuid_prints() {
        let by_uuid = |id: &str| {
            uuid::Uuid::try_parse(id).is_ok_and(|u| {
                let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
                u.hyphenated().encode_lower(&mut buf) == id
            })
        };
        let mut ids: Vec<String> = Vec::new();
        let mut x: u128 = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
        for _ in 0..200 {
            x = x
                .wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
                .wrapping_add(1);
            let u = uuid::Uuid::from_u128(x);
            ids.push(u.hyphenated().to_string());
            ids.push(u.hyphenated().to_string().to_uppercase());
            ids.push(u.simple().to_string());
            ids.push(u.braced().to_string());
            ids.push(u.urn().to_string());
        }
        let good = ids[0].clone();
        for i in 0..good.len() {
            for b in [b'-', b'0', b'9', b'a', b'f', b'g', b'A', b'F', b' ', b'{'] {
                let mut v = good.clone().into_bytes();
                v[i] = b;
                ids.push(String::from_utf8(v).unwrap());
            }
        }
        ids.extend(
            [
                "",
                "-",
                &good[..35],
                &format!("{good}0"),
                &format!(" {good}"),
            ]
            .map(String::from),
        );
        ids.push(good.replacen('-', "\u{e9}", 1));
        for id in &ids {
            assert_eq!(is_canonical_uuid(id), by_uuid(id), "{id}");
        }
        assert!(is_canonical_uuid(&good));
    }
}
