//! The events a merge brings, held until every source is in and then written in id order.
//!
//! Event ids are UUIDs, random after their first bytes, and every source spans the whole range
//! of them: written source by source, each event goes to a random place of the target's table
//! (a B-tree by id), a page read, split and written again for nearly every event. Kept here
//! instead, all sources' new events are written at the end in one pass sorted by id: each page
//! of the table is then filled once, in order. Nothing is decided later than before: whether an
//! event is new or already present (in the target, or among the events of a source merged
//! before) is known as each source is merged, from the target and this set, so every count,
//! check and refusal is made at the same point of the same source as when each source was
//! written at once; the rows written are the same, so the tables are too.

use hashbrown::HashMap;
use hashbrown::hash_map::Entry;

use rusqlite::Connection;
use rusqlite::types::{ToSqlOutput, ValueRef};

use crate::error::{Error, Result};
use crate::store::events::{Kind, Ty};

/// The new events of one kind, from every source merged so far.
pub(super) struct Pending {
    kind: &'static Kind,
    width: usize,
    /// Whether column `c` holds text (by its declaration; the merge's row checks hold every
    /// value to it).
    text: Vec<bool>,
    /// Per event, its id's 16 bytes.
    ids: Vec<[u8; 16]>,
    /// Per event, `width - 1` values (columns 1..): a string's number in `strings`, or an
    /// integer.
    slots: Vec<u64>,
    /// Per event, bit `c` set when column `c` is NULL.
    nulls: Vec<u32>,
    strings: Strings,
    /// id -> the event's number.
    index: HashMap<[u8; 16], u32>,
}

impl Pending {
    pub(super) fn new(kind: &'static Kind) -> Pending {
        let width = kind.columns.len();
        assert!(width <= 32, "a kind has at most 32 columns");
        Pending {
            kind,
            width,
            text: kind
                .columns
                .iter()
                .map(|c| !matches!(c.ty, Ty::Int | Ty::OptInt))
                .collect(),
            ids: Vec::new(),
            slots: Vec::new(),
            nulls: Vec::new(),
            strings: Strings::new(width),
            index: HashMap::new(),
        }
    }

    /// How many new events are held.
    pub(super) fn len(&self) -> usize {
        self.ids.len()
    }

    /// The number of the pending event with this id (canonical UUID text), if any.
    pub(super) fn find(&self, id: &str) -> Option<u32> {
        uuid_bytes(id).and_then(|b| self.get(&b))
    }

    /// The number of the pending event with this id, if any.
    pub(super) fn get(&self, id: &[u8; 16]) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// The number of the pending event with id `bytes`, if there is one; else adds the event,
    /// `values(c)` its value of column `c` (1..width) as the merge's row checks passed it, and
    /// returns `None`. One lookup of the id serves both: with a million events held, each
    /// lookup is a miss of the processor's caches.
    pub(super) fn get_or_push<'v>(
        &mut self,
        bytes: [u8; 16],
        mut values: impl FnMut(usize) -> Field<'v>,
    ) -> Result<Option<u32>> {
        let Pending {
            kind,
            width: _,
            text,
            ids,
            slots,
            nulls,
            strings,
            index,
        } = self;
        let place = match index.entry(bytes) {
            Entry::Occupied(o) => return Ok(Some(*o.get())),
            Entry::Vacant(v) => v,
        };
        let e = u32::try_from(ids.len())
            .map_err(|_| internal(kind, "more than 4 billion new events"))?;
        let start = slots.len();
        let mut null_bits = 0u32;
        for (c, &is_text) in text.iter().enumerate().skip(1) {
            let slot = match (values(c), is_text) {
                (Field::Null, _) => {
                    null_bits |= 1 << c;
                    0
                }
                (Field::Int(n), false) => n as u64,
                (Field::Text(t), true) => u64::from(strings.intern(c, t)),
                _ => {
                    slots.truncate(start);
                    return Err(internal(kind, "a value of another type than its column"));
                }
            };
            slots.push(slot);
        }
        nulls.push(null_bits);
        ids.push(bytes);
        place.insert(e);
        Ok(None)
    }

    /// Event `e`'s value of column `c` (1..width).
    pub(super) fn value(&self, e: u32, c: usize) -> ValueRef<'_> {
        let e = e as usize;
        if self.nulls[e] & (1 << c) != 0 {
            return ValueRef::Null;
        }
        let slot = self.slots[e * (self.width - 1) + c - 1];
        if self.text[c] {
            ValueRef::Text(self.strings.get(slot as u32).as_bytes())
        } else {
            ValueRef::Integer(slot as i64)
        }
    }

    /// Event `e`'s text of column `c` (1..width), or `None` for NULL.
    pub(super) fn str(&self, e: u32, c: usize) -> Option<&str> {
        match self.value(e, c) {
            // Interned from `str`.
            ValueRef::Text(t) => std::str::from_utf8(t).ok(),
            _ => None,
        }
    }

    /// Writes every event into the target, in id order, a hundred to a statement: the
    /// judgments table's `CHECK (answer IN (...))` makes SQLite build a small temporary index
    /// each time an INSERT statement runs, which written one event per statement took more time
    /// than the inserts themselves.
    pub(super) fn write(&self, tx: &Connection) -> Result<()> {
        const SIZE: usize = 100;
        // Sorted as (id, event) pairs, the id as two integers in its byte order: sorting the
        // event numbers by an id looked up for each comparison took 0.2 s of a merge of a
        // million events, most of it waiting on memory.
        let mut sorted: Vec<(u64, u64, u32)> = self
            .ids
            .iter()
            .enumerate()
            .map(|(e, id)| {
                let (hi, lo) = id.split_at(8);
                let half = |h: &[u8]| u64::from_be_bytes(h.try_into().expect("8 bytes"));
                (half(hi), half(lo), e as u32)
            })
            .collect();
        sorted.sort_unstable();
        let mut full = None;
        for chunk in sorted.chunks(SIZE) {
            let mut part;
            let insert = if chunk.len() == SIZE {
                if full.is_none() {
                    full = Some(tx.prepare(&self.kind.insert_sql(SIZE))?);
                }
                full.as_mut().expect("prepared above")
            } else {
                part = tx.prepare(&self.kind.insert_sql(chunk.len()))?;
                &mut part
            };
            let mut id = [0u8; 36];
            for (i, &(_, _, e)) in chunk.iter().enumerate() {
                crate::store::pack_read::uuid_text(&self.ids[e as usize], &mut id);
                let at = i * self.width;
                insert.raw_bind_parameter(at + 1, ToSqlOutput::Borrowed(ValueRef::Text(&id)))?;
                for c in 1..self.width {
                    insert
                        .raw_bind_parameter(at + c + 1, ToSqlOutput::Borrowed(self.value(e, c)))?;
                }
            }
            let written = insert.raw_execute()?;
            if written != chunk.len() {
                return Err(Error::msg(format!(
                    "merge: {} events were missing from the target but {written} were written",
                    chunk.len()
                )));
            }
        }
        Ok(())
    }
}

/// A value of an event as the merge's row checks passed it: text is already known to be UTF-8.
#[derive(Clone, Copy)]
pub(super) enum Field<'v> {
    Null,
    Int(i64),
    Text(&'v str),
}

impl<'v> From<Field<'v>> for ValueRef<'v> {
    fn from(f: Field<'v>) -> ValueRef<'v> {
        match f {
            Field::Null => ValueRef::Null,
            Field::Int(n) => ValueRef::Integer(n),
            Field::Text(t) => ValueRef::Text(t.as_bytes()),
        }
    }
}

pub(super) fn internal(k: &Kind, what: &str) -> Error {
    Error::msg(format!(
        "merge: a new {} with {what} passed the checks",
        k.noun
    ))
}

/// Each distinct string once, by number: most of an event's text (its image, label, answer,
/// annotator, session) is one of few values.
struct Strings {
    all: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
    /// Per column, the last string it held: a source's events mostly repeat their annotator,
    /// session and origin.
    last: Vec<Option<u32>>,
}

impl Strings {
    fn new(width: usize) -> Strings {
        Strings {
            all: Vec::new(),
            index: HashMap::new(),
            last: vec![None; width],
        }
    }

    fn get(&self, n: u32) -> &str {
        &self.all[n as usize]
    }

    fn intern(&mut self, column: usize, s: &str) -> u32 {
        if let Some(n) = self.last[column]
            && *self.all[n as usize] == *s
        {
            return n;
        }
        let n = match self.index.get(s) {
            Some(&n) => n,
            None => {
                let n = self.all.len() as u32;
                self.all.push(s.into());
                self.index.insert(s.into(), n);
                n
            }
        };
        self.last[column] = Some(n);
        n
    }
}

/// The 16 bytes of a UUID in canonical lowercase hyphenated text, or `None` for other text.
/// Their order is the text's (hex digits in lowercase sort as their values).
pub(super) fn uuid_bytes(id: &str) -> Option<[u8; 16]> {
    if !crate::store::untrusted::is_canonical_uuid(id) {
        return None;
    }
    let hex = |b: u8| match b {
        b'0'..=b'9' => b - b'0',
        _ => b - b'a' + 10,
    };
    let mut out = [0u8; 16];
    let mut digits = id.bytes().filter(|&b| b != b'-');
    for o in &mut out {
        let (hi, lo) = (digits.next()?, digits.next()?);
        *o = hex(hi) << 4 | hex(lo);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_bytes_round_trip_and_keep_the_text_order() {
        let a = "0015ee85-3a43-8ec7-8bd2-6b29deb014d5";
        let b = "ff2b770a-cf38-8e12-b356-719724dd016a";
        let (ba, bb) = (uuid_bytes(a).unwrap(), uuid_bytes(b).unwrap());
        let mut t = [0u8; 36];
        crate::store::pack_read::uuid_text(&ba, &mut t);
        assert_eq!(std::str::from_utf8(&t).unwrap(), a);
        assert!(ba < bb && a < b);
        assert_eq!(uuid_bytes("0015EE85-3a43-8ec7-8bd2-6b29deb014d5"), None);
        assert_eq!(uuid_bytes("0015ee853a438ec78bd26b29deb014d5"), None);
    }
}
