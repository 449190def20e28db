//! Reading a pack straight into the merge.
//!
//! A pack used to be rebuilt in memory as the project file it stands for (its `pack_*` tables
//! expanded by SQL joins into a project schema with every index, then summed row by row), and
//! the merge read that copy like a full file. For 100 packs of 10,000 answers that rebuild was
//! about half of the merge's CPU time and most of its memory. Here a pack's tables are read once,
//! into plain rows whose text is a number into the pack's own string table; the same checks the
//! rebuild made are made on those rows, in the same order and with the same words, and the
//! content sum is computed over exactly the values the rebuilt project held (ids as UUID text,
//! strings as their text, hashes as hex), so a pack's sum is checked as before
//! (`store::pack::content_sha256` stays the definition, used when a pack is written). The merge
//! then checks every row as it checks a full file's (`store::merge::events`), through
//! [`PackRows`]: only the place the values come from differs.

use std::collections::BTreeMap;

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OptionalExtension};

use super::events::{KINDS, Kind, Role, Ty};
use super::pack::{CONTENT_KEY, Summer, is_text, string_columns};
use super::untrusted::{describe, passes_name_door};

/// One value of a pack's row, as the merge reads it.
#[derive(Clone, Debug)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    /// A string of the pack, by its place in [`PackContent::strings`].
    Str(u32),
    /// Anything else the file holds where a number or bytes belong (a real, a blob, text),
    /// kept as it is so that the merge refuses it as it would from a full file.
    Other(Box<Value>),
}

/// A string of the pack: UTF-8 text, checked once when the pack is read (each string stands
/// in many cells, and checking it again at each use was a few percent of a merge of packs), or
/// bytes that are not.
pub(crate) enum PackString {
    /// `door`: the text passes what a merge asks of any name it takes from a source
    /// ([`passes_name_door`]), checked here once for all its cells.
    Text {
        text: Box<str>,
        door: bool,
    },
    Bytes(Box<[u8]>),
}

impl PackString {
    fn new(bytes: &[u8]) -> PackString {
        match std::str::from_utf8(bytes) {
            Ok(t) => PackString::Text {
                text: t.into(),
                door: passes_name_door(t),
            },
            Err(_) => PackString::Bytes(bytes.into()),
        }
    }

    pub(crate) fn str(&self) -> Option<&str> {
        match self {
            PackString::Text { text, .. } => Some(text),
            PackString::Bytes(_) => None,
        }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            PackString::Text { text, .. } => text.as_bytes(),
            PackString::Bytes(b) => b,
        }
    }

    /// Whether the string passed the door's checks for a name (see [`PackString::Text`]).
    pub(crate) fn door(&self) -> bool {
        matches!(self, PackString::Text { door: true, .. })
    }
}

/// Rows of one table of a pack: `width` cells each; for an event kind, the rows are in id
/// order (the order the rebuilt project was read in) and `ids` holds each row's 16 bytes.
#[derive(Default)]
pub(crate) struct PackRows {
    pub width: usize,
    pub cells: Vec<Cell>,
    pub ids: Vec<[u8; 16]>,
}

impl PackRows {
    pub(crate) fn len(&self) -> usize {
        self.cells.len().checked_div(self.width).unwrap_or(0)
    }

    pub(crate) fn row(&self, i: usize) -> &[Cell] {
        &self.cells[i * self.width..(i + 1) * self.width]
    }
}

/// A checked pack, read: what a merge takes from it.
pub(crate) struct PackContent {
    /// The meta rows but the content sum, as the rebuilt project's `meta` held them.
    pub meta: BTreeMap<String, String>,
    /// Each class the pack names, with the SHA-256 of its row in the annotator's file, by key.
    pub classes: Vec<(String, [u8; 32])>,
    pub strings: Vec<PackString>,
    /// The images, as the rebuilt project's `images` held them, in its row order: id, key,
    /// raw_path, original_label, sha256 (hex text), bytes, width, height, status, error.
    pub images: PackRows,
    /// Each kind of [`KINDS`], in order; column 0 (the id) is in `ids`.
    pub events: Vec<PackRows>,
}

impl PackContent {
    /// The value of `cell` as the rebuilt project held it; an id is the caller's (it needs a
    /// buffer for its text).
    pub(crate) fn value<'a>(&'a self, cell: &'a Cell) -> (ValueRef<'a>, Option<&'a str>) {
        match cell {
            Cell::Null => (ValueRef::Null, None),
            Cell::Int(n) => (ValueRef::Integer(*n), None),
            Cell::Str(s) => {
                let s = &self.strings[*s as usize];
                (ValueRef::Text(s.bytes()), s.str())
            }
            Cell::Other(v) => {
                let v = ValueRef::from(&**v);
                let s = match v {
                    ValueRef::Text(t) => std::str::from_utf8(t).ok(),
                    _ => None,
                };
                (v, s)
            }
        }
    }

    /// Whether `cell` is a string of the pack that passed the door's checks for a name.
    pub(crate) fn door(&self, cell: &Cell) -> bool {
        matches!(cell, Cell::Str(s) if self.strings[*s as usize].door())
    }

    /// The strings of `kind`'s column `column` (text columns only), each once: for the checks
    /// of a source whose vocabulary differs.
    pub(crate) fn column_strings(&self, kind: usize, column: usize) -> Vec<ValueRef<'_>> {
        let rows = &self.events[kind];
        (0..rows.len())
            .map(|i| self.value(&rows.row(i)[column]).0)
            .collect()
    }
}

/// An event id's 16 bytes as a UUID's lowercase hyphenated text, as the rebuild wrote it.
pub(crate) fn uuid_text(id: &[u8; 16], out: &mut [u8; 36]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut o = 0;
    for (i, b) in id.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out[o] = b'-';
            o += 1;
        }
        out[o] = HEX[(b >> 4) as usize];
        out[o + 1] = HEX[(b & 15) as usize];
        o += 2;
    }
}

fn owned(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Integer(n),
        ValueRef::Real(x) => Value::Real(x),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// A value read from a column that holds a number of `pack_strings` (or NULL): the string's
/// place, or `Err(())` when it names none.
fn string_cell(v: ValueRef<'_>, index: &StringIndex) -> std::result::Result<Cell, ()> {
    match v {
        ValueRef::Null => Ok(Cell::Null),
        ValueRef::Integer(n) => index.get(n).map(Cell::Str).ok_or(()),
        _ => Err(()),
    }
}

fn number_cell(v: ValueRef<'_>) -> Cell {
    match v {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(n) => Cell::Int(n),
        v => Cell::Other(Box::new(owned(v))),
    }
}

/// The place of each string id: direct when the ids are 1..=n, as `labelvet pack` writes them.
enum StringIndex {
    Dense(usize),
    Sparse(std::collections::HashMap<i64, u32>),
}

impl StringIndex {
    fn get(&self, id: i64) -> Option<u32> {
        match self {
            StringIndex::Dense(n) => (id >= 1 && (id as u64) <= *n as u64).then(|| (id - 1) as u32),
            StringIndex::Sparse(m) => m.get(&id).copied(),
        }
    }
}

/// A column's raw value while the shape checks run: a string column's value that names no
/// string is kept as `Bad`.
enum Raw {
    Ok(Cell),
    Bad,
}

/// Reads and checks a pack whose schema is already known to be `store::pack::schema_sql`'s
/// (`pack` is the hardened read-only connection `store::untrusted` opened): every check the
/// rebuild in memory made, in its order, then its content sum. The error says what is wrong,
/// in the rebuild's words.
pub(crate) fn read(pack: &Connection) -> std::result::Result<PackContent, String> {
    let sq = |e: rusqlite::Error| describe(&e);

    // The strings: text, each by its number.
    let mut strings = Vec::new();
    let mut string_ids = Vec::new();
    {
        let mut stmt = pack
            .prepare("SELECT id, s FROM pack_strings ORDER BY id")
            .map_err(sq)?;
        let mut rows = stmt.query([]).map_err(sq)?;
        while let Some(r) = rows.next().map_err(sq)? {
            let id: i64 = r.get(0).map_err(sq)?;
            let ValueRef::Text(t) = r.get_ref(1).map_err(sq)? else {
                return Err(format!("pack_strings row {id} is not text"));
            };
            strings.push(PackString::new(t));
            string_ids.push(id);
        }
    }
    let index = if string_ids
        .iter()
        .enumerate()
        .all(|(i, &id)| id == i as i64 + 1)
    {
        StringIndex::Dense(string_ids.len())
    } else {
        StringIndex::Sparse(
            string_ids
                .iter()
                .enumerate()
                .map(|(i, &id)| (id, i as u32))
                .collect(),
        )
    };

    // Every table's rows as the file holds them, with their rowids (for the messages).
    // pack_classes: key, sha256.
    let mut class_rows: Vec<(i64, Raw, Option<Vec<u8>>)> = Vec::new();
    {
        let mut stmt = pack
            .prepare("SELECT rowid, key, sha256 FROM pack_classes")
            .map_err(sq)?;
        let mut rows = stmt.query([]).map_err(sq)?;
        while let Some(r) = rows.next().map_err(sq)? {
            let rowid: i64 = r.get(0).map_err(sq)?;
            let key = match string_cell(r.get_ref(1).map_err(sq)?, &index) {
                Ok(Cell::Null) | Err(()) => Raw::Bad,
                Ok(c) => Raw::Ok(c),
            };
            let sha = match r.get_ref(2).map_err(sq)? {
                ValueRef::Blob(b) => Some(b.to_vec()),
                _ => None,
            };
            class_rows.push((rowid, key, sha));
        }
    }
    // pack_images: key, raw_path, original_label, sha256, bytes, width, height, status, error.
    struct ImageRow {
        rowid: i64,
        key: Raw,
        raw_path: Value,
        label: Raw,
        sha: Value,
        numbers: [Cell; 3],
        status: Raw,
        error: Raw,
    }
    let mut image_rows: Vec<ImageRow> = Vec::new();
    {
        let mut stmt = pack
            .prepare(
                "SELECT rowid, key, raw_path, original_label, sha256, bytes, width, height, status,
                        error FROM pack_images",
            )
            .map_err(sq)?;
        let mut rows = stmt.query([]).map_err(sq)?;
        while let Some(r) = rows.next().map_err(sq)? {
            let g = |i: usize| r.get_ref(i).map_err(sq);
            let s = |v: ValueRef<'_>, null: bool| match string_cell(v, &index) {
                Ok(Cell::Null) if !null => Raw::Bad,
                Ok(c) => Raw::Ok(c),
                Err(()) => Raw::Bad,
            };
            image_rows.push(ImageRow {
                rowid: r.get(0).map_err(sq)?,
                key: s(g(1)?, false),
                raw_path: owned(g(2)?),
                label: s(g(3)?, true),
                sha: owned(g(4)?),
                numbers: [number_cell(g(5)?), number_cell(g(6)?), number_cell(g(7)?)],
                status: s(g(8)?, false),
                error: s(g(9)?, true),
            });
        }
    }
    // Each kind's events: rowid, id, then the other columns.
    struct KindRows {
        rowids: Vec<i64>,
        ids: Vec<Value>,
        /// width - 1 cells a row (every column but the id)
        cells: Vec<Raw>,
    }
    let mut kinds: Vec<KindRows> = Vec::new();
    for k in KINDS {
        let mut kr = KindRows {
            rowids: Vec::new(),
            ids: Vec::new(),
            cells: Vec::new(),
        };
        let mut stmt = pack
            .prepare(&format!(
                "SELECT rowid, {} FROM pack_{}",
                k.column_list(),
                k.table
            ))
            .map_err(sq)?;
        let mut rows = stmt.query([]).map_err(sq)?;
        while let Some(r) = rows.next().map_err(sq)? {
            kr.rowids.push(r.get(0).map_err(sq)?);
            for (i, c) in k.columns.iter().enumerate() {
                let v = r.get_ref(i + 1).map_err(sq)?;
                if c.role == Role::Id {
                    kr.ids.push(owned(v));
                } else if is_text(c.ty) {
                    kr.cells.push(match string_cell(v, &index) {
                        Ok(c) => Raw::Ok(c),
                        Err(()) => Raw::Bad,
                    });
                } else {
                    kr.cells.push(Raw::Ok(number_cell(v)));
                }
            }
        }
        kinds.push(kr);
    }

    // The shape checks, in the rebuild's order: every column naming a string, then the ids,
    // then the hashes.
    for (table, column, _) in string_columns() {
        let bad = match (table.as_str(), column) {
            ("pack_classes", _) => class_rows
                .iter()
                .find(|r| matches!(r.1, Raw::Bad))
                .map(|r| r.0),
            ("pack_images", c) => image_rows
                .iter()
                .find(|r| {
                    matches!(
                        match c {
                            "key" => &r.key,
                            "original_label" => &r.label,
                            "status" => &r.status,
                            _ => &r.error,
                        },
                        Raw::Bad
                    )
                })
                .map(|r| r.rowid),
            (t, c) => {
                let (ki, k) = KINDS
                    .iter()
                    .enumerate()
                    .find(|(_, k)| t.strip_prefix("pack_") == Some(k.table))
                    .expect("a kind's table");
                let at = k.index_of(c) - 1;
                let w = k.columns.len() - 1;
                let kr = &kinds[ki];
                (0..kr.rowids.len())
                    .find(|&i| matches!(kr.cells[i * w + at], Raw::Bad))
                    .map(|i| kr.rowids[i])
            }
        };
        if let Some(row) = bad {
            return Err(format!(
                "{table} row {row}: column {column} names no string of the pack"
            ));
        }
    }
    let mut ids: Vec<Vec<[u8; 16]>> = Vec::new();
    for (k, kr) in KINDS.iter().zip(&kinds) {
        let mut v = Vec::with_capacity(kr.ids.len());
        for (i, id) in kr.ids.iter().enumerate() {
            match id {
                Value::Blob(b) if b.len() == 16 => v.push(<[u8; 16]>::try_from(&b[..]).unwrap()),
                _ => {
                    return Err(format!(
                        "pack_{} row {}: its id is not 16 bytes",
                        k.table, kr.rowids[i]
                    ));
                }
            }
        }
        ids.push(v);
    }
    if let Some(r) = image_rows.iter().find(|r| {
        !matches!(&r.sha, Value::Null) && !matches!(&r.sha, Value::Blob(b) if b.len() == 32)
    }) {
        return Err(format!(
            "pack_images row {}: its SHA-256 is not 32 bytes",
            r.rowid
        ));
    }
    if let Some(r) = class_rows
        .iter()
        .find(|r| !matches!(&r.2, Some(b) if b.len() == 32))
    {
        return Err(format!(
            "pack_classes row {}: its SHA-256 is not 32 bytes",
            r.0
        ));
    }
    let text = |c: &Raw| -> &[u8] {
        match c {
            Raw::Ok(Cell::Str(s)) => strings[*s as usize].bytes(),
            _ => b"",
        }
    };

    // What the rebuilt project's constraints refused: two classes or images under one key, an
    // image status it does not know, an event id twice, a value missing where one must be.
    let project =
        |why: String| format!("its meta, classes or images do not make a project's: {why}");
    let mut classes: Vec<(String, [u8; 32])> = Vec::with_capacity(class_rows.len());
    {
        let mut keys: Vec<&[u8]> = class_rows.iter().map(|r| text(&r.1)).collect();
        keys.sort_unstable();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return Err(project("UNIQUE constraint failed: classes.key".into()));
        }
        for r in &class_rows {
            let key = String::from_utf8(text(&r.1).to_vec())
                .map_err(|_| "a class key of the pack is not UTF-8 text".to_string())?;
            let sum = <[u8; 32]>::try_from(r.2.as_deref().unwrap_or(&[])).unwrap_or([0; 32]);
            classes.push((key, sum));
        }
        classes.sort_by(|a, b| a.0.cmp(&b.0));
    }
    {
        let mut keys: Vec<&[u8]> = image_rows.iter().map(|r| text(&r.key)).collect();
        keys.sort_unstable();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return Err(project("UNIQUE constraint failed: images.key".into()));
        }
        if image_rows
            .iter()
            .any(|r| !matches!(text(&r.status), b"ok" | b"missing" | b"unreadable"))
        {
            return Err(project(
                "CHECK constraint failed: status IN ('ok', 'missing', 'unreadable')".into(),
            ));
        }
    }
    let mut events = Vec::with_capacity(KINDS.len());
    for ((k, kr), ids) in KINDS.iter().zip(kinds).zip(ids) {
        let events_wrong = |why: String| {
            format!(
                "its {} do not make a project's (an id twice, or a value out of range): {why}",
                k.plural
            )
        };
        let w = k.columns.len() - 1;
        for (i, c) in k.columns[1..].iter().enumerate() {
            if !matches!(c.ty, Ty::OptText | Ty::OptInt)
                && kr
                    .cells
                    .chunks(w)
                    .any(|row| matches!(row[i], Raw::Ok(Cell::Null)))
            {
                return Err(events_wrong(format!(
                    "NOT NULL constraint failed: {}.{}",
                    k.table, c.name
                )));
            }
        }
        let mut order: Vec<u32> = (0..ids.len() as u32).collect();
        if !ids.is_sorted() {
            order.sort_by_key(|&i| ids[i as usize]);
        }
        if order
            .windows(2)
            .any(|w| ids[w[0] as usize] == ids[w[1] as usize])
        {
            return Err(events_wrong(format!(
                "UNIQUE constraint failed: {}.id",
                k.table
            )));
        }
        let mut rows = PackRows {
            width: k.columns.len(),
            cells: Vec::with_capacity(ids.len() * k.columns.len()),
            ids: Vec::with_capacity(ids.len()),
        };
        let mut cells: Vec<Option<Cell>> = kr
            .cells
            .into_iter()
            .map(|c| match c {
                Raw::Ok(c) => Some(c),
                Raw::Bad => None,
            })
            .collect();
        for &i in &order {
            let i = i as usize;
            rows.ids.push(ids[i]);
            rows.cells.push(Cell::Null);
            for c in &mut cells[i * w..(i + 1) * w] {
                rows.cells.push(c.take().unwrap_or(Cell::Null));
            }
        }
        events.push(rows);
    }

    // The images as the rebuilt project's rows, in its order (the pack's row order).
    let mut images = PackRows {
        width: 10,
        cells: Vec::with_capacity(image_rows.len() * 10),
        ids: Vec::new(),
    };
    let cell = |r: Raw| match r {
        Raw::Ok(c) => c,
        Raw::Bad => Cell::Null,
    };
    for (n, r) in image_rows.into_iter().enumerate() {
        let sha = match r.sha {
            Value::Blob(b) => Cell::Other(Box::new(Value::Text(hex::encode(b)))),
            _ => Cell::Null,
        };
        let raw_path = match r.raw_path {
            Value::Null => Cell::Null,
            v => Cell::Other(Box::new(v)),
        };
        let [bytes, width, height] = r.numbers;
        images.cells.extend([
            Cell::Int(n as i64 + 1),
            cell(r.key),
            raw_path,
            cell(r.label),
            sha,
            bytes,
            width,
            height,
            cell(r.status),
            cell(r.error),
        ]);
    }

    let meta: BTreeMap<String, String> = {
        let mut stmt = pack
            .prepare(&format!(
                "SELECT key, value FROM pack_meta WHERE key <> '{CONTENT_KEY}'"
            ))
            .map_err(sq)?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| format!("its meta table cannot be read: {}", describe(&e)))?
    };
    let content = PackContent {
        meta,
        classes,
        strings,
        images,
        events,
    };

    let recorded: Option<String> = pack
        .query_row(
            &format!("SELECT value FROM pack_meta WHERE key = '{CONTENT_KEY}'"),
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(sq)?;
    let Some(recorded) = recorded else {
        return Err("it records no content_sha256 (not written by `labelvet pack`)".into());
    };
    let actual = content_sha256(pack, &content).map_err(sq)?;
    if actual != recorded {
        return Err(format!(
            "its content does not match the SHA-256 it was written with (recorded {}, found \
             {}): the pack was altered or damaged after `labelvet pack` wrote it; pack the \
             annotator's file again",
            &recorded[..recorded.len().min(12)],
            &actual[..12]
        ));
    }
    Ok(content)
}

/// `store::pack::content_sha256` over the pack as read: the same values in the same order.
fn content_sha256(pack: &Connection, c: &PackContent) -> rusqlite::Result<String> {
    let mut h = Summer::new();
    h.bytes(b"labelvet pack\0");
    {
        let mut stmt = pack.prepare(&format!(
            "SELECT key, value FROM pack_meta WHERE key <> '{CONTENT_KEY}' ORDER BY key"
        ))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            h.feed(r.get_ref(0)?);
            h.feed(r.get_ref(1)?);
        }
        h.bytes(&[0xFF]);
    }
    for (key, sum) in &c.classes {
        h.feed(ValueRef::Text(key.as_bytes()));
        h.feed(ValueRef::Blob(sum));
    }
    // The images by key.
    let key_of = |i: usize| match &c.images.row(i)[1] {
        Cell::Str(s) => c.strings[*s as usize].bytes(),
        _ => b"",
    };
    let mut order: Vec<usize> = (0..c.images.len()).collect();
    order.sort_by(|&a, &b| key_of(a).cmp(key_of(b)));
    for i in order {
        for cell in &c.images.row(i)[1..] {
            h.feed(c.value(cell).0);
        }
    }
    h.bytes(&[0xFF]);
    let mut id = [0u8; 36];
    for rows in &c.events {
        for i in 0..rows.len() {
            uuid_text(&rows.ids[i], &mut id);
            h.feed(ValueRef::Text(&id));
            for cell in &rows.row(i)[1..] {
                h.feed(c.value(cell).0);
            }
        }
        h.bytes(&[0xFF]);
    }
    Ok(hex::encode(h.finish()))
}

/// The column names a pack's rows are read under, for the merge's messages: those of the
/// rebuilt project's tables.
pub(crate) const IMAGE_COLUMNS: &[&str] = &[
    "id",
    "key",
    "raw_path",
    "original_label",
    "sha256",
    "bytes",
    "width",
    "height",
    "status",
    "error",
];

/// A kind's column names, in order.
pub(crate) fn column_names(k: &Kind) -> Vec<&'static str> {
    k.columns.iter().map(|c| c.name).collect()
}
