//! Packs: the light file an annotator sends back.
//!
//! An annotator's file carries the project's images, predictions and candidates (55 MB for
//! 50,000 images and 3 models): right for working offline, wasteful on the way back (mail, a USB
//! stick, a hundred annotators). A pack holds only what a merge needs of it: the project's
//! identity (its meta), the annotator's events of every kind of `store::events::KINDS`, and the
//! keys and content hashes of the images and classes those events name.
//!
//! Why a format of its own rather than a trimmed project file: a project file's event tables
//! repeat every image key, annotator, session and origin as text and index each table two or
//! three times, about 300 bytes an answer. In a pack every text is stored once (`pack_strings`)
//! and named by its number, an event id is its 16 bytes, and nothing but the strings is indexed:
//! about 50 bytes an answer. The tables are made from the kinds' declarations, so a new kind
//! travels in packs with nothing written here.
//!
//! Why merging one is as safe as merging a full file: `store::untrusted` opens a pack with the
//! checks any source gets (read-only and immutable, triggers and views off, the exact schema this
//! module makes, `quick_check` of every table), then `store::pack_read` reads its rows as the
//! project rows they stand for (what [`expand`] makes of them) and the merge puts them through
//! every row check a full file gets.
//! A pack also records the SHA-256 of its content (`content_sha256`, over the expanded rows): a
//! pack altered after it was written (an event, a hash or the project's UUID edited) no longer
//! matches it and is refused. That guards against damage and casual edits, not against forgery:
//! whoever rewrites the file can rewrite the sum, and then the merge's own checks stand alone.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OptionalExtension, params_from_iter};
use sha2::{Digest, Sha256};

use super::events::{KINDS, Role, Ty};
use super::schema::{MIGRATIONS, SCHEMA_VERSION};
use super::{PartialFile, Store};
use crate::error::{Error, Result};

/// `LVPK` in ASCII: a pack, told from a project file (`LBVT`) by its first 100 bytes.
pub const PACK_APPLICATION_ID: i32 = 0x4C56_504B;

/// A pack's `user_version`: the project schema whose event tables it mirrors. A pack is read by
/// the labelvet version that wrote it or one whose event tables are the same. Schema 7 only
/// dropped an index of predictions and schema 8 added only the derived answer tally, neither of
/// which a pack carries, so packs stay at version 6 and read the same on every side of them.
pub const PACK_VERSION: i64 = 6;
// A later migration that changes an event table makes its schema the pack version.
const _: () = assert!(
    SCHEMA_VERSION == 8,
    "does the new migration change an event table?"
);

/// The meta key of the content's SHA-256 (hex), the one meta row not part of the sum.
pub(crate) const CONTENT_KEY: &str = "content_sha256";

/// The pack's schema: made from [`KINDS`], so it changes only with the project schema.
pub fn schema_sql() -> String {
    let mut sql = String::from(
        "CREATE TABLE pack_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE pack_strings (id INTEGER PRIMARY KEY, s TEXT NOT NULL);
CREATE TABLE pack_classes (key INTEGER PRIMARY KEY, sha256 BLOB NOT NULL);
CREATE TABLE pack_images (key INTEGER PRIMARY KEY, raw_path BLOB, original_label INTEGER,
    sha256 BLOB, bytes INTEGER, width INTEGER, height INTEGER, status INTEGER NOT NULL,
    error INTEGER);
",
    );
    for k in KINDS {
        let cols: Vec<String> = k
            .columns
            .iter()
            .map(|c| match c.role {
                Role::Id => format!("{} BLOB NOT NULL", c.name),
                _ => format!("{} INTEGER", c.name),
            })
            .collect();
        sql.push_str(&format!(
            "CREATE TABLE pack_{} ({});\n",
            k.table,
            cols.join(", ")
        ));
    }
    sql
}

/// The tables of a pack, for `quick_check`.
pub fn tables() -> Vec<String> {
    let mut t: Vec<String> = ["pack_meta", "pack_strings", "pack_classes", "pack_images"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    t.extend(KINDS.iter().map(|k| format!("pack_{}", k.table)));
    t
}

/// Columns holding a number of `pack_strings` (table, column, may be NULL).
pub(crate) fn string_columns() -> Vec<(String, &'static str, bool)> {
    let mut out = vec![
        ("pack_classes".to_string(), "key", false),
        ("pack_images".to_string(), "key", false),
        ("pack_images".to_string(), "original_label", true),
        ("pack_images".to_string(), "status", false),
        ("pack_images".to_string(), "error", true),
    ];
    for k in KINDS {
        for c in k.columns {
            if c.role != Role::Id && matches!(c.ty, Ty::Text | Ty::NonEmpty | Ty::OptText) {
                out.push((format!("pack_{}", k.table), c.name, true));
            }
        }
    }
    out
}

pub(crate) fn is_text(ty: Ty) -> bool {
    matches!(ty, Ty::Text | Ty::NonEmpty | Ty::OptText)
}

#[derive(Clone, Debug, PartialEq)]
pub struct PackReport {
    pub path: PathBuf,
    /// The annotator a checkout was made for, whose events were packed (`None`: everyone's).
    pub annotator: Option<String>,
    /// Events packed per kind: (the kind's plural, count), in `KINDS` order.
    pub events: Vec<(&'static str, u64)>,
    pub images: u64,
    pub classes: u64,
    pub bytes: u64,
}

/// Writes the pack of the annotator's file `store` to `out`. An existing `out` is replaced
/// only with `force`, and only when it is a pack; the file is built beside `out` and moved into
/// place at the end, so a failure leaves no pack behind and any earlier one as it was.
pub fn pack(store: &Store, out: &Path, force: bool) -> Result<PackReport> {
    let input = store.path();
    if out.exists() {
        if same_file(input, out) {
            return Err(Error::msg(format!(
                "{}: this is the annotator's file itself; write the pack to another file",
                out.display()
            )));
        }
        if !force {
            return Err(Error::msg(format!(
                "{} already exists; pack with --force to replace it, or choose another name",
                out.display()
            )));
        }
        if !is_pack(out) {
            return Err(Error::msg(format!(
                "{} exists and is not a pack; not replaced, even with --force",
                out.display()
            )));
        }
    }
    let annotator = store.checkout_annotator()?;
    let counts = store.named(|| {
        let mut counts = Vec::new();
        for k in KINDS {
            let (filter, n) = mine(k, annotator.as_deref());
            let c: u64 = store.conn.query_row(
                &format!("SELECT count(*) FROM {} WHERE {filter}", k.table),
                params_from_iter(n.iter()),
                |r| r.get(0),
            )?;
            counts.push((k.plural, c));
        }
        Ok(counts)
    })?;
    if counts.iter().all(|c| c.1 == 0) {
        let whose = match &annotator {
            Some(a) => format!(" of {}", crate::text::display(a)),
            None => String::new(),
        };
        return Err(Error::msg(format!(
            "{}: holds no answers{whose} (no judgment, flag, classify answer, gold answer or \
             verdict); nothing to pack, no file written",
            input.display()
        )));
    }
    let partial = PartialFile::beside(out)?;
    let (images, classes) = {
        let mut conn = Connection::open(partial.path())
            .map_err(|e| Error::msg(format!("{}: cannot create: {e}", out.display())))?;
        conn.pragma_update(None, "synchronous", "OFF")?;
        conn.pragma_update(None, "application_id", PACK_APPLICATION_ID)?;
        conn.pragma_update(None, "user_version", PACK_VERSION)?;
        let tx = conn.transaction()?;
        tx.execute_batch(&schema_sql())?;
        let made = store.named(|| fill(&tx, store, annotator.as_deref()))?;
        tx.commit()?;
        let (mem, class_sums) = expand(&conn).map_err(|why| {
            Error::msg(format!(
                "{}: the pack just written does not read back: {why}",
                out.display()
            ))
        })?;
        let sum = content_sha256(&mem, &class_sums)?;
        conn.execute(
            "INSERT INTO pack_meta(key, value) VALUES (?1, ?2)",
            [CONTENT_KEY, sum.as_str()],
        )?;
        conn.execute_batch("VACUUM")?;
        made
    };
    let bytes = std::fs::metadata(partial.path())
        .map_err(|e| Error::io(partial.path(), e))?
        .len();
    if force && out.exists() {
        std::fs::remove_file(out).map_err(|e| Error::io(out, e))?;
    }
    partial.finish()?;
    Ok(PackReport {
        path: out.to_path_buf(),
        annotator,
        events: counts,
        images,
        classes,
        bytes,
    })
}

/// The condition selecting the events a pack carries: the checkout's annotator's, or all.
fn mine(k: &super::events::Kind, annotator: Option<&str>) -> (String, Vec<String>) {
    match annotator {
        Some(a) => (format!("{} = ?1", k.annotator()), vec![a.to_string()]),
        None => ("1".to_string(), Vec::new()),
    }
}

/// Every text of the pack, once, by number.
struct Strings<'c> {
    ids: HashMap<String, i64>,
    insert: rusqlite::Statement<'c>,
}

impl Strings<'_> {
    fn id(&mut self, s: &str) -> rusqlite::Result<i64> {
        if let Some(&id) = self.ids.get(s) {
            return Ok(id);
        }
        let id = self.ids.len() as i64 + 1;
        self.insert.execute(rusqlite::params![id, s])?;
        self.ids.insert(s.to_string(), id);
        Ok(id)
    }
}

/// Copies the events, then the images and classes they name. Returns (images, classes).
fn fill(tx: &Connection, store: &Store, annotator: Option<&str>) -> Result<(u64, u64)> {
    let src = &store.conn;
    // The file's meta (project UUID, vocabulary digest, whose checkout it is), and when it was
    // packed.
    let meta: Vec<(String, String)> = src
        .prepare("SELECT key, value FROM meta ORDER BY key")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut put = tx.prepare("INSERT OR REPLACE INTO pack_meta(key, value) VALUES (?1, ?2)")?;
    for (k, v) in &meta {
        put.execute([k, v])?;
    }
    put.execute(["packed_at", super::now_rfc3339().as_str()])?;
    let mut strings = Strings {
        ids: HashMap::new(),
        insert: tx.prepare("INSERT INTO pack_strings(id, s) VALUES (?1, ?2)")?,
    };
    let mut image_keys: BTreeSet<String> = BTreeSet::new();
    for k in KINDS {
        let (filter, n) = mine(k, annotator);
        let mut read = src.prepare(&format!(
            "SELECT {} FROM {} WHERE {filter} ORDER BY id",
            k.column_list(),
            k.table
        ))?;
        let mut write = tx.prepare(&format!(
            "INSERT INTO pack_{}({}) VALUES ({})",
            k.table,
            k.column_list(),
            vec!["?"; k.columns.len()].join(",")
        ))?;
        let mut rows = read.query(params_from_iter(n.iter()))?;
        let image = k.index_of(
            k.columns
                .iter()
                .find(|c| c.role == Role::Image)
                .unwrap()
                .name,
        );
        while let Some(row) = rows.next()? {
            let mut values: Vec<Value> = Vec::with_capacity(k.columns.len());
            for (i, c) in k.columns.iter().enumerate() {
                let v = row.get_ref(i)?;
                values.push(match (c.role, v) {
                    (Role::Id, ValueRef::Text(t)) => {
                        let text = String::from_utf8_lossy(t);
                        let id = uuid::Uuid::try_parse(&text).map_err(|_| {
                            Error::msg(format!(
                                "{}: {} id {text} is not a UUID",
                                store.path().display(),
                                k.noun
                            ))
                        })?;
                        Value::Blob(id.as_bytes().to_vec())
                    }
                    (_, ValueRef::Null) => Value::Null,
                    (_, ValueRef::Text(t)) if is_text(c.ty) => {
                        let text = String::from_utf8_lossy(t);
                        if i == image {
                            image_keys.insert(text.to_string());
                        }
                        Value::Integer(strings.id(&text)?)
                    }
                    (_, ValueRef::Integer(x)) if !is_text(c.ty) => Value::Integer(x),
                    _ => {
                        return Err(Error::msg(format!(
                            "{}: {} column {} holds a value of the wrong type",
                            store.path().display(),
                            k.noun,
                            c.name
                        )));
                    }
                });
            }
            write.execute(params_from_iter(values))?;
        }
    }
    // The images the events name, with their content hashes.
    let mut read = src.prepare(
        "SELECT raw_path, original_label, sha256, bytes, width, height, status, error
         FROM images WHERE key = ?1",
    )?;
    let mut write = tx.prepare(
        "INSERT INTO pack_images(key, raw_path, original_label, sha256, bytes, width, height,
                                 status, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut images = 0;
    for key in &image_keys {
        let row = read
            .query_row([key], |r| {
                Ok((
                    r.get::<_, Option<Vec<u8>>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, Option<String>>(7)?,
                ))
            })
            .optional()?;
        // An event naming an image the file lacks travels as it is: the merge refuses it, as
        // it refuses it from the full file.
        let Some((raw, label, sha, bytes, width, height, status, error)) = row else {
            continue;
        };
        let sha =
            match sha {
                Some(s) => Some(hex::decode(&s).ok().filter(|b| b.len() == 32).ok_or_else(
                    || {
                        Error::msg(format!(
                            "{}: image {key} has a SHA-256 that is not 64 hex digits",
                            store.path().display()
                        ))
                    },
                )?),
                None => None,
            };
        let key_id = strings.id(key)?;
        let label = label.map(|l| strings.id(&l)).transpose()?;
        let status = strings.id(&status)?;
        let error = error.map(|e| strings.id(&e)).transpose()?;
        write.execute(rusqlite::params![
            key_id, raw, label, sha, bytes, width, height, status, error
        ])?;
        images += 1;
    }
    // The classes named: every text that is a class key, and the keys a JSON list names (a
    // classify answer's `present`).
    let class_keys: HashSet<String> = src
        .prepare("SELECT key FROM classes")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut named: BTreeSet<String> = BTreeSet::new();
    for s in strings.ids.keys() {
        if class_keys.contains(s) {
            named.insert(s.clone());
        } else if s.starts_with('[')
            && let Ok(list) = serde_json::from_str::<Vec<String>>(s)
        {
            named.extend(list.into_iter().filter(|k| class_keys.contains(k)));
        }
    }
    let mut write = tx.prepare("INSERT INTO pack_classes(key, sha256) VALUES (?1, ?2)")?;
    for key in &named {
        let sum = class_sha256(src, key)?.expect("a class of the file");
        write.execute(rusqlite::params![strings.id(key)?, sum.to_vec()])?;
    }
    Ok((images, named.len() as u64))
}

/// The SHA-256 of a class as `conn`'s `classes` table holds it (every column), or `None` when it
/// has no such class.
pub(crate) fn class_sha256(conn: &Connection, key: &str) -> rusqlite::Result<Option<[u8; 32]>> {
    conn.prepare_cached(
        "SELECT key, idx, name, synonyms, definition, parent, path, guideline
         FROM classes WHERE key = ?1",
    )?
    .query_row([key], |r| {
        let mut h = Summer::new();
        for i in 0..8 {
            h.feed(r.get_ref(i)?);
        }
        Ok(h.finish())
    })
    .optional()
}

/// A SHA-256 fed value by value ([`Summer::feed`]) through a buffer: a pack's sum takes about
/// ten values an event, most of them a few bytes, and handing each to the hasher on its own (a
/// call for its type, one for its length, one for its bytes, each then copied to a 64-byte
/// block) cost about as much as the hashing itself. The bytes hashed are the same.
pub(crate) struct Summer {
    h: Sha256,
    buf: Vec<u8>,
}

impl Summer {
    /// Bytes gathered before they go to the hasher.
    const BUF: usize = 64 * 1024;

    pub(crate) fn new() -> Summer {
        Summer {
            h: Sha256::new(),
            // Grown as it fills: a class's sum is eight values, a pack's a few MB.
            buf: Vec::new(),
        }
    }

    /// Raw bytes into the sum (a prefix, a table's end mark).
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= Self::BUF {
            self.h.update(&self.buf);
            self.buf.clear();
        }
    }

    /// One value into the sum, with its type and length, so that no two rows hash alike.
    pub(crate) fn feed(&mut self, v: ValueRef<'_>) {
        match v {
            ValueRef::Null => self.bytes(&[0u8]),
            ValueRef::Integer(i) => {
                self.bytes(&[1u8]);
                self.bytes(&i.to_le_bytes());
            }
            ValueRef::Real(x) => {
                self.bytes(&[2u8]);
                self.bytes(&x.to_le_bytes());
            }
            ValueRef::Text(t) => {
                self.bytes(&[3u8]);
                self.bytes(&(t.len() as u64).to_le_bytes());
                self.bytes(t);
            }
            ValueRef::Blob(b) => {
                self.bytes(&[4u8]);
                self.bytes(&(b.len() as u64).to_le_bytes());
                self.bytes(b);
            }
        }
    }

    pub(crate) fn finish(mut self) -> [u8; 32] {
        self.h.update(&self.buf);
        self.h.finalize().into()
    }
}

/// The SHA-256 (hex) of an expanded pack: its meta (but the sum itself), the classes' sums, the
/// images and every kind's events, each in key order.
pub(crate) fn content_sha256(mem: &Connection, classes: &[(String, [u8; 32])]) -> Result<String> {
    let mut h = Summer::new();
    h.bytes(b"labelvet pack\0");
    let table = |sql: &str, h: &mut Summer| -> rusqlite::Result<()> {
        let mut stmt = mem.prepare(sql)?;
        let n = stmt.column_count();
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            for i in 0..n {
                h.feed(r.get_ref(i)?);
            }
        }
        h.bytes(&[0xFF]);
        Ok(())
    };
    table(
        &format!("SELECT key, value FROM meta WHERE key <> '{CONTENT_KEY}' ORDER BY key"),
        &mut h,
    )?;
    for (key, sum) in classes {
        h.feed(ValueRef::Text(key.as_bytes()));
        h.feed(ValueRef::Blob(sum));
    }
    table(
        "SELECT key, raw_path, original_label, sha256, bytes, width, height, status, error
         FROM images ORDER BY key",
        &mut h,
    )?;
    for k in KINDS {
        table(
            &format!("SELECT {} FROM {} ORDER BY id", k.column_list(), k.table),
            &mut h,
        )?;
    }
    Ok(hex::encode(h.finish()))
}

/// Each class a pack names, with the SHA-256 of its row in the annotator's file.
type ClassSums = Vec<(String, [u8; 32])>;

/// The first row (rowid) of `sql`, if any: for the shape checks below.
fn first(conn: &Connection, sql: &str) -> std::result::Result<Option<i64>, String> {
    conn.query_row(sql, [], |r| r.get(0))
        .optional()
        .map_err(|e| super::untrusted::describe(&e))
}

/// Copies the pack into memory, checks the shape of its values, and writes them out as project
/// rows there (ids as UUID text, numbers of strings as their text, hashes as hex).
fn expand(pack: &Connection) -> std::result::Result<(Connection, ClassSums), String> {
    let sq = |e: rusqlite::Error| super::untrusted::describe(&e);
    let mut mem = Connection::open_in_memory().map_err(sq)?;
    {
        let backup = rusqlite::backup::Backup::new(pack, &mut mem).map_err(sq)?;
        backup
            .run_to_completion(1024, Duration::ZERO, None)
            .map_err(sq)?;
    }
    super::untrusted::harden(&mem).map_err(sq)?;
    if let Some(id) = first(
        &mem,
        "SELECT id FROM pack_strings WHERE typeof(s) <> 'text' LIMIT 1",
    )? {
        return Err(format!("pack_strings row {id} is not text"));
    }
    for (table, column, null) in string_columns() {
        let sql = format!(
            "SELECT rowid FROM {table} t WHERE {n} (typeof(t.{column}) <> 'integer'
               OR NOT EXISTS (SELECT 1 FROM pack_strings s WHERE s.id = t.{column})) LIMIT 1",
            n = if null {
                format!("t.{column} IS NOT NULL AND")
            } else {
                String::new()
            }
        );
        if let Some(row) = first(&mem, &sql)? {
            return Err(format!(
                "{table} row {row}: column {column} names no string of the pack"
            ));
        }
    }
    for k in KINDS {
        if let Some(row) = first(
            &mem,
            &format!(
                "SELECT rowid FROM pack_{} WHERE typeof(id) <> 'blob' OR length(id) <> 16 LIMIT 1",
                k.table
            ),
        )? {
            return Err(format!(
                "pack_{} row {row}: its id is not 16 bytes",
                k.table
            ));
        }
    }
    for (table, null) in [("pack_images", true), ("pack_classes", false)] {
        let sql = format!(
            "SELECT rowid FROM {table} WHERE {} (typeof(sha256) <> 'blob' OR length(sha256) <> 32)
             LIMIT 1",
            if null { "sha256 IS NOT NULL AND" } else { "" }
        );
        if let Some(row) = first(&mem, &sql)? {
            return Err(format!("{table} row {row}: its SHA-256 is not 32 bytes"));
        }
    }

    let tx = mem.transaction().map_err(sq)?;
    for sql in MIGRATIONS {
        tx.execute_batch(sql).map_err(sq)?;
    }
    let hexed = |c: &str| format!("CASE WHEN {c} IS NULL THEN NULL ELSE lower(hex({c})) END");
    let uuid = "lower(substr(hex(t.id),1,8)||'-'||substr(hex(t.id),9,4)||'-'||\
                substr(hex(t.id),13,4)||'-'||substr(hex(t.id),17,4)||'-'||substr(hex(t.id),21,12))";
    let fill = format!(
        "INSERT INTO meta(key, value)
           SELECT key, value FROM pack_meta WHERE key <> '{CONTENT_KEY}';
         INSERT INTO classes(key, name)
           SELECT s.s, s.s FROM pack_classes c JOIN pack_strings s ON s.id = c.key;
         INSERT INTO images(key, raw_path, original_label, sha256, bytes, width, height, status,
                            error)
           SELECT k.s, i.raw_path, l.s, {}, i.bytes, i.width, i.height, st.s, e.s
           FROM pack_images i JOIN pack_strings k ON k.id = i.key
           LEFT JOIN pack_strings l ON l.id = i.original_label
           JOIN pack_strings st ON st.id = i.status
           LEFT JOIN pack_strings e ON e.id = i.error;",
        hexed("i.sha256")
    );
    tx.execute_batch(&fill).map_err(|e| {
        format!(
            "its meta, classes or images do not make a project's: {}",
            sq(e)
        )
    })?;
    for k in KINDS {
        let mut exprs = Vec::new();
        let mut joins = String::new();
        for (i, c) in k.columns.iter().enumerate() {
            if c.role == Role::Id {
                exprs.push(uuid.to_string());
            } else if is_text(c.ty) {
                exprs.push(format!("s{i}.s"));
                joins.push_str(&format!(
                    " LEFT JOIN pack_strings s{i} ON s{i}.id = t.{}",
                    c.name
                ));
            } else {
                exprs.push(format!("t.{}", c.name));
            }
        }
        tx.execute_batch(&format!(
            "INSERT INTO {table}({cols}) SELECT {exprs} FROM pack_{table} t{joins} ORDER BY t.rowid",
            table = k.table,
            cols = k.column_list(),
            exprs = exprs.join(", ")
        ))
        .map_err(|e| {
            format!(
                "its {} do not make a project's (an id twice, or a value out of range): {}",
                k.plural,
                sq(e)
            )
        })?;
    }
    let classes: Vec<(String, [u8; 32])> = {
        let mut stmt = tx
            .prepare(
                "SELECT s.s, c.sha256 FROM pack_classes c JOIN pack_strings s ON s.id = c.key
                 ORDER BY s.s",
            )
            .map_err(sq)?;
        stmt.query_map([], |r| {
            let sum: Vec<u8> = r.get(1)?;
            Ok((
                r.get(0)?,
                <[u8; 32]>::try_from(sum.as_slice()).unwrap_or([0; 32]),
            ))
        })
        .and_then(|rows| rows.collect())
        .map_err(sq)?
    };
    let mut drops = String::new();
    for t in tables() {
        drops.push_str(&format!("DROP TABLE {t};"));
    }
    tx.execute_batch(&drops).map_err(sq)?;
    tx.commit().map_err(sq)?;
    mem.pragma_update(None, "query_only", "ON").map_err(sq)?;
    Ok((mem, classes))
}

/// Whether `path` starts like a pack (its SQLite header's application id).
pub fn is_pack(path: &Path) -> bool {
    use std::io::Read;
    let mut h = [0u8; 100];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut h))
        .is_ok()
        && &h[..16] == b"SQLite format 3\0"
        && i32::from_be_bytes([h[68], h[69], h[70], h[71]]) == PACK_APPLICATION_ID
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// The reference connection holding a pack's schema, for `store::untrusted`'s exact comparison.
pub(crate) fn expected_connection() -> rusqlite::Result<Connection> {
    let conn = Connection::open_in_memory()?;
    conn.execute_batch(&schema_sql())?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_has_a_table_per_kind() {
        let c = expected_connection().unwrap();
        for t in tables() {
            let n: i64 = c
                .query_row(
                    "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                    [&t],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(n, 1, "{t}");
        }
    }
}
