//! The event log: every kind of answer a person gives (judgments, flags, classify answers, gold
//! answers, expert verdicts) is an append-only table of events, each with a global UUID,
//! declared once as a [`Kind`]. From that declaration alone every kind gets, through one code path:
//! append ([`insert`]), undo ([`retract`]), the current-answer fold ([`current`], [`standing`]),
//! reading back ([`select`]), what a checkout carries ([`copy_to_checkout`]), the merge's union
//! by id with the checks of an untrusted source (`store::merge::events`) and the merge log's
//! counts. Nothing here is written twice per kind, so the rules that make merging safe (a union
//! by id, an id on both sides with different content refused, a retraction only of the same
//! annotator's answer to the same question) hold for every kind alike.
//!
//! # Declaring a kind
//!
//! A new kind is its table (a migration in `schema.rs`), one `Kind` and its validation. For
//! example expert verdicts on (image, label) questions, with an answer `valid`/`invalid` (the
//! verdicts `store::quality` declares take the judgments' shape instead, yes/no/maybe):
//!
//! ```ignore
//! pub(crate) static VERDICTS: Kind = Kind {
//!     table: "verdicts",
//!     noun: "verdict",
//!     plural: "verdicts",
//!     answer_noun: "a verdict",
//!     question_noun: "image and label",
//!     columns: &[
//!         Column::new("id", Ty::Text, Role::Id),
//!         Column::new("image", Ty::Text, Role::Image),
//!         Column::new("label", Ty::Text, Role::Question),
//!         // the payload; a retraction holds NULL here
//!         Column::new("verdict", Ty::OptText, Role::Payload(OnUndo::Null)),
//!         Column::new("note", Ty::OptText, Role::Payload(OnUndo::Null)),
//!         Column::new("retracts", Ty::OptText, Role::Retracts),
//!         Column::new("annotator", Ty::NonEmpty, Role::Annotator),
//!         Column::new("session", Ty::Text, Role::Session),
//!         Column::new("created_at", Ty::Int, Role::CreatedAt),
//!     ],
//!     undo: Undo::Retracts,
//!     by_question: "verdicts_by_item",
//!     candidate: Some("label"),
//!     // an answer's checks (a retraction's shape is checked for every kind alike)
//!     check: |row, _classes| match row.text(3)? {
//!         "valid" | "invalid" => Ok(()),
//!         v => Err(row.refuse(format!("verdict `{v}` is not valid or invalid"))),
//!     },
//!     log: Log { new: "new_verdicts", duplicate: Some("duplicate_verdicts"), answers: false },
//!     checkout: Checkout::Own,
//! };
//! ```
//!
//! then adding it to [`KINDS`] (the merge report counts it by its table, the merge log in the
//! columns `log` names). A typed view of its events
//! implements [`Event`] (its values in column order, and back); `insert`, `retract`, `select`,
//! `current` and `standing` then serve it as they serve the judgments.

use std::collections::HashSet;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, Row, Transaction, params_from_iter};

use super::classify::CLASSIFY;
use super::flags::FLAGS;
use super::judgments::JUDGMENTS;
use super::quality::{GOLD, VERDICTS};
use super::untrusted::SourceRow;
use super::{Store, new_event_id, now_ms};
use crate::error::{Error, Result};

/// The columns of a kind that is answered and retracted like the judgments: its id and image,
/// then `payload` (the question and the answer), then the columns every answer kind has (what it
/// retracts, who, in which session, when, how long it took, where it came from). One list, so a
/// new answer kind declares only what is its own.
macro_rules! answer_kind_columns {
    ($($payload:expr),+ $(,)?) => {
        &[
            Column::new("id", Ty::Text, Role::Id),
            Column::new("image", Ty::Text, Role::Image),
            $($payload,)+
            Column::new("retracts", Ty::OptText, Role::Retracts),
            Column::new("annotator", Ty::NonEmpty, Role::Annotator),
            Column::new("session", Ty::Text, Role::Session),
            Column::new("created_at", Ty::Int, Role::CreatedAt),
            Column::new("elapsed_ms", Ty::OptInt, Role::Elapsed),
            Column::new("origin", Ty::Text, Role::Origin),
        ]
    };
}
pub(crate) use answer_kind_columns;

/// Every kind of event a project holds, in the order a merge reads them.
pub static KINDS: &[&Kind] = &[&JUDGMENTS, &FLAGS, &CLASSIFY, &GOLD, &VERDICTS];

/// The target's classes, key -> number, as a merge holds them (`store::merge` says why
/// hashbrown's).
pub type ClassNumbers = hashbrown::HashMap<String, u32>;

/// One kind of event: its table and what its columns mean.
pub struct Kind {
    pub table: &'static str,
    /// What one event is called in messages ("event", "flag", "classify event").
    pub noun: &'static str,
    /// What the merge report calls the kind's events ("events", "flags", "classify answers").
    pub plural: &'static str,
    /// What one answer is called when a retraction names something else ("an answer").
    pub answer_noun: &'static str,
    /// What a question is called ("image and label", "image").
    pub question_noun: &'static str,
    /// Every column, in the table's order; `id` first.
    pub columns: &'static [Column],
    pub undo: Undo,
    /// The index that reads the table in question order (question columns, then annotator).
    pub by_question: &'static str,
    /// The column naming a class that an answer makes a candidate of its image (and that must
    /// be a class of the target's vocabulary), if any.
    pub candidate: Option<&'static str>,
    /// The checks of one answer (not a retraction) from an untrusted source beyond its columns'
    /// types, against the target's classes (key -> number).
    pub check: fn(&SourceRow<'_, '_>, &ClassNumbers) -> Result<()>,
    pub log: Log,
    /// Whose events of this kind a checkout carries.
    pub checkout: Checkout,
}

/// How an event undoes another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Undo {
    /// A retraction names the event it undoes in its `Role::Retracts` column; the annotator's
    /// current answer to the question is then their latest answer that no retraction names.
    Retracts,
    /// An event whose payload is its `OnUndo::Value`s lifts every earlier event of the
    /// annotator on the question (a flag's `clear`); every event since stands.
    Clears,
}

/// Whose events a checkout copies into an annotator's file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checkout {
    /// The annotator's own (everyone's with `--with-answers`): answers are theirs to continue.
    Own,
    /// Everyone's, always: reference the annotator's session needs (the gold truth that
    /// `annotate --gold-rate` mixes in and `--gold-feedback` shows).
    Everyone,
}

/// The merge log's columns for a kind, and whether its events are the source's answers
/// (counted on images in conflict).
#[derive(Clone, Copy, Debug)]
pub struct Log {
    pub new: &'static str,
    pub duplicate: Option<&'static str>,
    pub answers: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub ty: Ty,
    pub role: Role,
}

impl Column {
    pub const fn new(name: &'static str, ty: Ty, role: Role) -> Column {
        Column { name, ty, role }
    }
}

/// The SQLite type a column must hold (a crafted file could hold anything in any column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Text,
    /// Text with something besides white space.
    NonEmpty,
    OptText,
    Int,
    OptInt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The event's UUID, in its canonical lowercase hyphenated form.
    Id,
    /// The image key; a merged event must name an image the target has after the merge.
    Image,
    /// Another column of the question (with the image and the annotator).
    Question,
    Annotator,
    /// What the event says; a retraction (or clear) holds the given value here.
    Payload(OnUndo),
    /// The id of the event a retraction undoes; NULL in an answer.
    Retracts,
    Session,
    CreatedAt,
    /// Time spent on the answer; NULL in a retraction.
    Elapsed,
    /// Where the event was made (`annotate`, `grid`, an import).
    Origin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnUndo {
    Null,
    Value(&'static str),
}

impl Kind {
    /// The column list, comma-separated, in table order.
    pub fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn index_of(&self, name: &str) -> usize {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .unwrap_or_else(|| panic!("{} has no column {name}", self.table))
    }

    fn named(&self, role: Role) -> &'static str {
        self.columns
            .iter()
            .find(|c| c.role == role)
            .map(|c| c.name)
            .unwrap_or_else(|| panic!("{} has no {role:?} column", self.table))
    }

    pub fn annotator(&self) -> &'static str {
        self.named(Role::Annotator)
    }

    pub fn created_at(&self) -> &'static str {
        self.named(Role::CreatedAt)
    }

    /// The question's columns (image first), without the annotator.
    pub fn question(&self) -> Vec<&'static str> {
        self.columns
            .iter()
            .filter(|c| matches!(c.role, Role::Image | Role::Question))
            .map(|c| c.name)
            .collect()
    }

    /// The SQL condition that an event is an answer, not a retraction or clear.
    pub fn is_answer_sql(&self) -> String {
        match self.undo {
            Undo::Retracts => format!("{} IS NULL", self.named(Role::Retracts)),
            Undo::Clears => self
                .columns
                .iter()
                .filter_map(|c| match c.role {
                    Role::Payload(OnUndo::Value(v)) if !v.is_empty() => {
                        Some(format!("{} <> '{v}'", c.name))
                    }
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(" AND "),
        }
    }

    /// `INSERT OR IGNORE` of `rows` events, their values in column order.
    pub(crate) fn insert_sql(&self, rows: usize) -> String {
        let one = format!("({})", vec!["?"; self.columns.len()].join(","));
        format!(
            "INSERT OR IGNORE INTO {}({}) VALUES {}",
            self.table,
            self.column_list(),
            vec![one; rows].join(",")
        )
    }
}

/// A typed view of one kind's events.
pub trait Event: Sized {
    const KIND: &'static Kind;
    /// The event's values, in the order of `KIND.columns`.
    fn values(&self) -> Vec<ToSqlOutput<'_>>;
    /// The event's id (its first column).
    fn id(&self) -> &str;
    /// An event read in the order of `KIND.columns`.
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self>;
}

/// An optional value to bind: NULL when absent.
pub(crate) fn opt<'a, T: Into<ToSqlOutput<'a>>>(v: Option<T>) -> ToSqlOutput<'a> {
    v.map_or(ToSqlOutput::Owned(rusqlite::types::Value::Null), Into::into)
}

/// Inserts events that are not there yet (by id). Returns how many were new. Events go
/// [`INSERT_BATCH`] to a statement: one statement per event spent as much time running the
/// statement as inserting the row (a million-answer import).
pub fn insert<'a, E: Event + 'a>(
    conn: &Connection,
    events: impl IntoIterator<Item = &'a E>,
) -> Result<u64> {
    let mut added = 0;
    let mut batch: Vec<&E> = Vec::with_capacity(INSERT_BATCH);
    let mut full = None;
    for e in events {
        batch.push(e);
        if batch.len() == INSERT_BATCH {
            let stmt = match &mut full {
                Some(stmt) => stmt,
                None => full.insert(conn.prepare_cached(&E::KIND.insert_sql(INSERT_BATCH))?),
            };
            let mut i = 0;
            for e in &batch {
                for v in e.values() {
                    i += 1;
                    stmt.raw_bind_parameter(i, v)?;
                }
            }
            added += stmt.raw_execute()? as u64;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        let mut stmt = conn.prepare_cached(&E::KIND.insert_sql(1))?;
        for e in batch {
            added += stmt.execute(params_from_iter(e.values()))? as u64;
        }
    }
    Ok(added)
}

/// Events written by one `INSERT` statement in [`insert`].
const INSERT_BATCH: usize = 50;

/// Appends `events` in one transaction and commits them before returning.
pub(crate) fn append<E: Event>(store: &Store, events: &[E]) -> Result<()> {
    committed(store, |tx| {
        let added = insert(tx, events)?;
        if std::ptr::eq(E::KIND, &JUDGMENTS) {
            let ids: Vec<String> = events.iter().map(|e| e.id().to_string()).collect();
            super::tally::after_write(tx, &ids, added)?;
        }
        Ok(())
    })
}

/// Runs `f` in one immediate transaction and commits it; a lock held too long by another
/// process is said in words.
fn committed(store: &Store, f: impl FnOnce(&Transaction<'_>) -> Result<()>) -> Result<()> {
    let tx = Transaction::new_unchecked(&store.conn, rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| store.locked_or(e))?;
    f(&tx).map_err(|e| store.locked_or(e))?;
    tx.commit().map_err(|e| store.locked_or(e))
}

/// The events matching `filter` (SQL over the kind's columns, `1` for all), oldest first.
pub fn select<E: Event>(
    conn: &Connection,
    filter: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<E>> {
    let k = E::KIND;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM {} WHERE {filter} ORDER BY {}, id",
        k.column_list(),
        k.table,
        k.created_at()
    ))?;
    let rows = stmt
        .query_map(params, E::from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Appends, in one transaction, an undo of each of `targets` (event ids, each with the origin
/// to record), made in `session`: for a kind with retractions, a retraction naming it; for a
/// kind with clears, a clear of the annotator's events on its question. An undo copies its
/// target's question and annotator, holds the kind's undo values in the payload, and is dated
/// no earlier than its target so that it sorts after it. Returns the undo events.
pub(crate) fn retract<E: Event>(
    store: &Store,
    targets: &[(&str, &str)],
    session: &str,
) -> Result<Vec<E>> {
    let k = E::KIND;
    let now = now_ms();
    let mut exprs = Vec::new();
    for c in k.columns {
        exprs.push(match c.role {
            Role::Id => "?1".to_string(),
            Role::Image | Role::Question | Role::Annotator => c.name.to_string(),
            Role::Payload(OnUndo::Null) | Role::Elapsed => "NULL".into(),
            Role::Payload(OnUndo::Value(v)) => format!("'{v}'"),
            Role::Retracts => "?2".into(),
            Role::Session => "?3".into(),
            Role::CreatedAt => format!("max(?4, {})", c.name),
            Role::Origin => "?5".into(),
        });
    }
    let sql = format!(
        "INSERT INTO {t}({cols}) SELECT {exprs} FROM {t} WHERE id = ?2",
        t = k.table,
        cols = k.column_list(),
        exprs = exprs.join(", ")
    );
    let ids: Vec<String> = targets.iter().map(|_| new_event_id()).collect();
    committed(store, |tx| {
        let mut stmt = tx.prepare_cached(&sql)?;
        for (id, (target, origin)) in ids.iter().zip(targets) {
            // Positional parameters a kind does not use are bound all the same.
            stmt.raw_bind_parameter(1, id)?;
            stmt.raw_bind_parameter(2, target)?;
            stmt.raw_bind_parameter(3, session)?;
            stmt.raw_bind_parameter(4, now)?;
            if stmt.parameter_count() >= 5 {
                stmt.raw_bind_parameter(5, origin)?;
            }
            if stmt.raw_execute()? != 1 {
                return Err(Error::msg(format!(
                    "cannot undo {} {target}: it is not in the project",
                    k.noun
                )));
            }
        }
        if std::ptr::eq(k, &JUDGMENTS) {
            super::tally::after_write(tx, &ids, ids.len() as u64)?;
        }
        Ok(())
    })?;
    let mut out = Vec::with_capacity(ids.len());
    for id in &ids {
        out.extend(select::<E>(&store.conn, "id = ?1", [id])?);
    }
    Ok(out)
}

/// Every annotator's current answer to every question of a kind with retractions, in
/// (question, annotator) order: their latest answer (greatest (created_at, id)) that no
/// retraction names. `columns` are read from each answer and handed to `map`; `same` tells
/// whether two mapped answers are to one question by one annotator, so the later one replaces
/// the earlier. Streams the table in index order, so memory holds only the retracted ids and
/// the result.
pub(crate) fn current<T>(
    conn: &Connection,
    k: &Kind,
    columns: &str,
    map: impl FnMut(&Row<'_>) -> Result<T>,
    same: impl Fn(&T, &T) -> bool,
) -> Result<Vec<T>> {
    let mut out: Vec<T> = Vec::new();
    for_each_current(conn, k, columns, map, same, |item| {
        out.push(item);
        Ok(())
    })?;
    Ok(out)
}

/// [`current`], handing each current item to `emit` as soon as it is known instead of
/// collecting them: memory holds the retracted ids and one item, whatever the number of
/// answers (the exports of millions of answers stream through this).
pub(crate) fn for_each_current<T>(
    conn: &Connection,
    k: &Kind,
    columns: &str,
    mut map: impl FnMut(&Row<'_>) -> Result<T>,
    same: impl Fn(&T, &T) -> bool,
    mut emit: impl FnMut(T) -> Result<()>,
) -> Result<()> {
    let retracted = retracted_ids(conn, k)?;
    let mut stmt = conn.prepare(&format!(
        "SELECT id, {columns} FROM {} INDEXED BY {} WHERE {} ORDER BY {}, {}, {}, id",
        k.table,
        k.by_question,
        k.is_answer_sql(),
        k.question().join(", "),
        k.annotator(),
        k.created_at(),
    ))?;
    let mut rows = stmt.query([])?;
    let mut last: Option<T> = None;
    while let Some(r) = rows.next()? {
        if let ValueRef::Text(id) = r.get_ref(0)?
            && retracted.contains(std::str::from_utf8(id).unwrap_or(""))
        {
            continue;
        }
        let item = map(r)?;
        // Rows come oldest first within a question, so a later row replaces the earlier one.
        match last.take() {
            Some(prev) if !same(&prev, &item) => emit(prev)?,
            _ => {}
        }
        last = Some(item);
    }
    if let Some(item) = last {
        emit(item)?;
    }
    Ok(())
}

/// The ids a kind's retractions name.
pub(crate) fn retracted_ids(conn: &Connection, k: &Kind) -> Result<HashSet<String>> {
    debug_assert_eq!(k.undo, Undo::Retracts);
    let retracts = k.named(Role::Retracts);
    Ok(conn
        .prepare(&format!(
            "SELECT {retracts} FROM {} WHERE {retracts} IS NOT NULL",
            k.table
        ))?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

/// A text column of the row, borrowed.
pub(crate) fn str_at<'r>(r: &'r Row<'_>, i: usize) -> Result<&'r str> {
    Ok(r.get_ref(i)?.as_str().map_err(rusqlite::Error::from)?)
}

/// The events that stand, oldest first, out of `events` (oldest first, all of kind `E`): for a
/// kind with retractions, each annotator's current answer per question, in the place of their
/// first answer to it; for a kind with clears, every event of an annotator on a question since
/// their last clear of it. `key` gives an event's (question, annotator), `undo` what it undoes
/// (`Some(Some(id))` a retraction of `id`, `Some(None)` a clear, `None` nothing: an answer).
pub(crate) fn standing<E: Event + Clone, K: PartialEq>(
    events: &[E],
    key: impl Fn(&E) -> K,
    undo: impl Fn(&E) -> Option<Option<&str>>,
    id: impl Fn(&E) -> &str,
) -> Vec<E> {
    let retracted: HashSet<&str> = events.iter().filter_map(|e| undo(e).flatten()).collect();
    let mut out: Vec<E> = Vec::new();
    for e in events {
        match (undo(e), E::KIND.undo) {
            (Some(_), Undo::Clears) => out.retain(|s| key(s) != key(e)),
            (Some(_), Undo::Retracts) => {}
            (None, _) if retracted.contains(id(e)) => {}
            (None, Undo::Clears) => out.push(e.clone()),
            (None, Undo::Retracts) => match out.iter_mut().find(|s| key(s) == key(e)) {
                Some(s) => *s = e.clone(),
                None => out.push(e.clone()),
            },
        }
    }
    out
}

/// Copies the project's events of every kind into a checkout being built (`main` is the new
/// file, `project` the attached project): every annotator's with `with_answers` or for a kind
/// every checkout carries whole, else the annotator's own. Returns how many events of each kind (by table) were copied.
pub(crate) fn copy_to_checkout(
    tx: &Transaction<'_>,
    with_answers: bool,
    annotator: &str,
) -> Result<Vec<(&'static str, u64)>> {
    KINDS
        .iter()
        .map(|k| {
            let cols = k.column_list();
            let copied = tx.execute(
                &format!(
                    "INSERT INTO main.{t}({cols}) SELECT {cols} FROM project.{t}
                     WHERE ?1 OR ?3 OR {a} = ?2",
                    t = k.table,
                    a = k.annotator()
                ),
                rusqlite::params![with_answers, annotator, k.checkout == Checkout::Everyone],
            )?;
            Ok((k.table, copied as u64))
        })
        .collect()
}

/// Runs `f` (which inserts events of kind `k`) with the kind's secondary indexes dropped when
/// `drop` is set, then builds them again from their own statements in the schema, so that
/// they stay statement for statement what they were. When many events come in against few
/// (a first import, a team's first merge), building an index once from sorted rows costs less
/// than inserting each event into it at a random place, and needs only a small page cache.
/// Only lookups by id (the primary key) may run meanwhile. `sorter_helpers` is as in
/// [`build_indexes`].
pub(crate) fn with_indexes_rebuilt<T>(
    tx: &Transaction<'_>,
    k: &Kind,
    drop: bool,
    sorter_helpers: u32,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let dropped = if drop {
        drop_secondary_indexes(tx, k)?
    } else {
        Vec::new()
    };
    let out = f()?;
    build_indexes(tx, &dropped, sorter_helpers)?;
    Ok(out)
}

/// Builds indexes dropped by [`drop_table_indexes`] again, from their statements. With
/// `sorter_helpers` above 0, SQLite's sorter may share each build's sorting with that many
/// helper threads (the index comes out the same). Each helper sorts a run of its own, so the
/// sorter holds up to one more run of `cache_size` bytes per helper at once.
pub(crate) fn build_indexes(
    conn: &Connection,
    indexes: &[(String, String)],
    sorter_helpers: u32,
) -> Result<()> {
    if indexes.is_empty() {
        return Ok(());
    }
    if sorter_helpers > 0 {
        conn.pragma_update(None, "threads", sorter_helpers)?;
    }
    let built = indexes
        .iter()
        .try_for_each(|(_, sql)| conn.execute_batch(sql));
    if sorter_helpers > 0 {
        conn.pragma_update(None, "threads", 0)?;
    }
    Ok(built?)
}

/// Drops the kind's secondary indexes; returns their names and statements.
pub(crate) fn drop_secondary_indexes(
    tx: &Transaction<'_>,
    k: &Kind,
) -> Result<Vec<(String, String)>> {
    drop_table_indexes(tx, k.table)
}

/// Drops a table's secondary indexes (those made by `CREATE INDEX`, not its keys); returns
/// their names and statements, to be run again once the table is filled.
pub(crate) fn drop_table_indexes(conn: &Connection, table: &str) -> Result<Vec<(String, String)>> {
    let indexes: Vec<(String, String)> = conn
        .prepare(
            "SELECT name, sql FROM sqlite_schema
             WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL",
        )?
        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (name, _) in &indexes {
        conn.execute_batch(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))?;
    }
    Ok(indexes)
}

/// How many events of the kind a connection's file holds.
pub(crate) fn count(conn: &Connection, k: &Kind) -> rusqlite::Result<u64> {
    conn.query_row(&format!("SELECT count(*) FROM {}", k.table), [], |r| {
        r.get(0)
    })
}

/// Every annotator name of a file's events of every kind, in name order, each kind's read
/// through its index on the annotator where it has one (one lookup per name, not a scan of
/// every event).
pub(crate) fn annotator_names(conn: &Connection) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for k in KINDS {
        let (t, a) = (k.table, k.annotator());
        let indexed: bool = conn.query_row(
            "SELECT count(*) > 0 FROM pragma_index_list(?1) l, pragma_index_info(l.name) i
             WHERE i.seqno = 0 AND i.name = ?2",
            [t, a],
            |r| r.get(0),
        )?;
        // Without such an index (flags, gold, verdicts: small tables) one scan is cheaper than
        // a scan per name.
        let sql = if indexed {
            format!(
                "WITH RECURSIVE n(name) AS (
                     SELECT min({a}) FROM {t}
                     UNION ALL SELECT (SELECT min({a}) FROM {t} WHERE {a} > name) FROM n
                     WHERE name IS NOT NULL)
                 SELECT name FROM n WHERE name IS NOT NULL"
            )
        } else {
            format!("SELECT DISTINCT {a} FROM {t}")
        };
        let mut stmt = conn.prepare(&sql)?;
        for name in stmt.query_map([], |r| r.get::<_, String>(0))? {
            names.push(name?);
        }
    }
    names.sort_unstable();
    names.dedup();
    Ok(names)
}

impl Store {
    /// Every annotator name in the project, of any kind of event.
    pub fn annotator_names(&self) -> Result<Vec<String>> {
        annotator_names(&self.conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::checkout::{CheckoutOptions, checkout};
    use crate::store::merge::MergeOptions;
    use std::path::Path;

    /// What `tests/zz_make_schema3.rs` (run on main before the event log) wrote beside the file.
    fn dump(s: &Store) -> String {
        let mut dump = format!("{:#?}\n", s.events().unwrap());
        dump += &format!("{:#?}\n", s.current_answers().unwrap());
        for i in 0..4 {
            let image = format!("img{i}");
            dump += &format!("{:#?}\n", s.flags_for_image(&image).unwrap());
            dump += &format!("{:#?}\n", s.current_for_image(&image, "ann").unwrap());
            dump += &format!("{:#?}\n", s.current_classify(&image, "ann").unwrap());
        }
        dump += &format!("{:#?}\n", s.classify_events().unwrap());
        dump += &format!("{:#?}\n", s.current_classify_answers().unwrap());
        dump += &format!("{:#?}\n", s.classify_counts().unwrap());
        dump += &format!("{:#?}\n", s.counts_by_annotator().unwrap());
        let log = s.merge_log().unwrap();
        let counts: Vec<_> = log
            .iter()
            .map(|e| {
                let counts = (
                    e.events.of(&JUDGMENTS).new,
                    e.events.of(&JUDGMENTS).duplicate,
                    e.events.of(&FLAGS).new,
                    e.events.of(&CLASSIFY).new,
                );
                (&e.annotators, counts.0, counts.1, counts.2, counts.3)
            })
            .collect();
        dump += &format!("{counts:#?}\n");
        dump
    }

    #[test]
    fn a_schema_3_file_made_before_the_event_log_reads_and_merges_the_same() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/schema3");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("project.db");
        std::fs::copy(data.join("project.db"), &p).unwrap();
        let expected = std::fs::read_to_string(data.join("expected.txt")).unwrap();
        let mut s = Store::open(&p).unwrap();
        assert_eq!(dump(&s), expected);

        // Every kind travels in a checkout with answers and merges back as already present.
        let copy = dir.path().join("copy.db");
        let opts = CheckoutOptions {
            annotator: "carol",
            with_answers: true,
            assignment: None,
            assignment_note: None,
            leave_out: None,
            with_images: None,
        };
        checkout(&s, &copy, &opts).unwrap();
        let r = s
            .merge(
                std::slice::from_ref(&copy),
                &MergeOptions::default(),
                &mut |_| {},
            )
            .unwrap();
        let r = &r.sources[0];
        let counts = |k| {
            let c = r.events.of(k);
            (c.new, c.duplicate)
        };
        assert_eq!(counts(&JUDGMENTS), (0, 9));
        assert_eq!(counts(&FLAGS), (0, 4));
        assert_eq!(counts(&CLASSIFY), (0, 4));
        // And the original file, untouched, merges into a fresh checkout of it whole.
        let empty = dir.path().join("empty.db");
        let opts = CheckoutOptions {
            with_answers: false,
            ..opts
        };
        checkout(&s, &empty, &opts).unwrap();
        let mut e = Store::open(&empty).unwrap();
        let r = e
            .merge(
                &[data.join("project.db")],
                &MergeOptions::default(),
                &mut |_| {},
            )
            .unwrap();
        assert_eq!(
            (
                r.sources[0].events.of(&JUDGMENTS).new,
                r.sources[0].events.of(&FLAGS).new,
                r.sources[0].events.of(&CLASSIFY).new
            ),
            (9, 4, 4)
        );
        assert_eq!(e.current_answers().unwrap(), s.current_answers().unwrap());
    }
}
