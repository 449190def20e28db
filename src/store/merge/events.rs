//! The one event union: every kind of `store::events::KINDS` merges through [`merge_kind`], by
//! id, under the same rules. Each source row is checked against its column types and its kind's
//! validation; an event must name an image the target has after the merge (and, for a kind
//! whose answers make candidates, a class of the target's vocabulary); a retraction must undo an
//! answer of the same annotator to the same question; an id both sides hold must have the same
//! content on both.

use hashbrown::{HashMap, HashSet};
use std::ops::Range;
use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Statement, Transaction};

use super::pending::{Field, Pending, internal, uuid_bytes};
use super::{AnnotatorMerge, Counts, SourceReport, TargetState};
use crate::error::{Error, Result};
use crate::store::events::{Kind, OnUndo, Role, Ty, Undo};
use crate::store::untrusted::{
    MAX_NAME_BYTES, MAX_NOTE_BYTES, SourceFile, SourceRow, describe, refused,
};

/// Where a kind's columns of note are, found once from its declaration.
struct Shape {
    image: usize,
    annotator: usize,
    retracts: Option<usize>,
    candidate: Option<usize>,
    /// The question's columns besides the image.
    question: Vec<usize>,
    payload: Vec<(usize, OnUndo)>,
}

impl Shape {
    fn of(k: &Kind) -> Shape {
        let find = |role: Role| k.columns.iter().position(|c| c.role == role);
        Shape {
            image: find(Role::Image).expect("every kind names an image"),
            annotator: find(Role::Annotator).expect("every kind names an annotator"),
            retracts: find(Role::Retracts),
            candidate: k.candidate.map(|c| k.index_of(c)),
            question: (0..k.columns.len())
                .filter(|&i| k.columns[i].role == Role::Question)
                .collect(),
            payload: k
                .columns
                .iter()
                .enumerate()
                .filter_map(|(i, c)| match c.role {
                    Role::Payload(u) => Some((i, u)),
                    _ => None,
                })
                .collect(),
        }
    }
}

/// A new retraction, checked once every event of the source is in (the answer it undoes may
/// come later in the same file): its id, the id it undoes, its question and its annotator.
struct Retraction {
    id: String,
    target: String,
    question: Vec<String>,
    annotator: String,
}

/// Merges one source's events of kind `k` into the target, filling in `r`'s counts. A full
/// file's rows are read through SQLite; a pack's were read when it was opened
/// (`store::pack_read`). Both go through [`KindMerge::row`]: the same checks, the same batches.
pub(super) fn merge_kind(
    tx: &Transaction<'_>,
    state: &mut TargetState,
    src: &SourceFile,
    k: &'static Kind,
    target_path: &Path,
    conflicted: &HashSet<String>,
    r: &mut SourceReport,
) -> Result<()> {
    let path = src.path.as_path();
    let mut m = KindMerge {
        tx: tx as &Connection,
        src,
        k,
        target_path,
        conflicted,
        shape: Shape::of(k),
        existing: tx.prepare_cached(&format!(
            "SELECT {} FROM {} WHERE id = ?1",
            k.column_list(),
            k.table
        ))?,
        per_annotator: HashMap::new(),
        retractions: Vec::new(),
        batch: EventBatch::new(k),
        admitted: None,
    };
    if let Some(pack) = &src.pack {
        let ki = crate::store::events::KINDS
            .iter()
            .position(|x| x.table == k.table)
            .expect("a kind of KINDS");
        let rows = &pack.events[ki];
        let names = crate::store::pack_read::column_names(k);
        for i in 0..rows.len() {
            let mut id = [0u8; 36];
            crate::store::pack_read::uuid_text(&rows.ids[i], &mut id);
            let row = rows.row(i);
            let mut values = [(ValueRef::Null, None); 16];
            // The id's text is canonical UUID text, ASCII.
            values[0] = (ValueRef::Text(&id), std::str::from_utf8(&id).ok());
            let mut door = 0u32;
            for (i, (v, c)) in values[1..].iter_mut().zip(&row[1..]).enumerate() {
                *v = pack.value(c);
                if pack.door(c) {
                    door |= 1 << (i + 1);
                }
            }
            let v = SourceRow::from_values(path, k.noun, &names, &values[..row.len()])
                .with_door_checked(door);
            m.row(state, &v, r)?;
        }
    } else {
        let sq = |e: rusqlite::Error| refused(path, describe(&e));
        let mut stmt = src
            .conn
            .prepare(&format!("SELECT {} FROM {}", k.column_list(), k.table))
            .map_err(sq)?;
        let mut rows = stmt.query([]).map_err(sq)?;
        while let Some(row) = rows.next().map_err(sq)? {
            let v = SourceRow::new(path, row, k.noun);
            m.row(state, &v, r)?;
        }
    }
    m.flush(state, r)?;
    m.finish(state, r)
}

/// One kind's union from one source, as its rows come.
struct KindMerge<'t, 's> {
    tx: &'t Connection,
    src: &'s SourceFile,
    k: &'static Kind,
    target_path: &'s Path,
    conflicted: &'s HashSet<String>,
    shape: Shape,
    existing: rusqlite::CachedStatement<'t>,
    /// Hashed while events come in (a lookup per event); put in name order once, at the end.
    per_annotator: HashMap<String, (u64, u64)>,
    retractions: Vec<Retraction>,
    batch: EventBatch<'t>,
    /// A file's events are nearly all one annotator's: admitting the same name again is a hash
    /// of it per event for nothing.
    admitted: Option<String>,
}

impl<'t> KindMerge<'t, '_> {
    /// Checks one source row and queues it; a full batch is written.
    fn row(
        &mut self,
        state: &mut TargetState,
        v: &SourceRow<'_, '_>,
        r: &mut SourceReport,
    ) -> Result<()> {
        let checked = check_row(v, self.k, &self.shape, state, self.target_path)?;
        let annotator = v.text(self.shape.annotator)?;
        if self.admitted.as_deref() != Some(annotator) {
            state.names.admit(annotator).map_err(|why| v.refuse(why))?;
            self.admitted = Some(annotator.to_owned());
        }
        self.batch.push(v, checked)?;
        if self.batch.is_full() {
            self.flush(state, r)?;
        }
        Ok(())
    }

    /// Writes the queued events and counts them.
    fn flush(&mut self, state: &mut TargetState, r: &mut SourceReport) -> Result<()> {
        let (tx, k, path, target_path) =
            (self.tx, self.k, self.src.path.as_path(), self.target_path);
        let batch = &mut self.batch;
        let shape = &self.shape;
        let ki = kind_index(k);
        batch.resolve(tx, &mut state.pending[ki], state.target_has[ki])?;
        for (i, &seen) in batch.seen.iter().enumerate() {
            let annotator = batch.str(i, shape.annotator);
            let counts = match self.per_annotator.get_mut(annotator) {
                Some(counts) => counts,
                None => self.per_annotator.entry(annotator.to_string()).or_default(),
            };
            match seen {
                Seen::New => {}
                Seen::Target => {
                    counts.1 += 1;
                    same_as_target(&mut self.existing, batch, i, k, path, target_path)?;
                    continue;
                }
                Seen::Pending(e) => {
                    counts.1 += 1;
                    let pending = &state.pending[ki];
                    let same = (1..batch.width).all(|c| pending.value(e, c) == batch.value(i, c));
                    if !same {
                        return Err(different_content(batch.str(i, 0), k, path, target_path));
                    }
                    continue;
                }
            }
            counts.0 += 1;
            // A checkout carries its annotator's new answers; anyone else's (the others' come
            // with --with-answers, but are already in the target) is not theirs to bring.
            if let Some(owner) = self.src.meta.get("checkout_annotator")
                && owner != annotator
                && !state.allow_other_annotators
            {
                return Err(refused(
                    path,
                    format!(
                        "it was made for {}, but {} {} is by {}, which is new to {}; merge \
                         with --allow-other-annotators if that is meant",
                        crate::text::display(owner),
                        k.noun,
                        batch.str(i, 0),
                        crate::text::display(annotator),
                        target_path.display()
                    ),
                ));
            }
            let image = batch.str(i, shape.image);
            let (image_id, class) = batch.checked[i];
            if let Some(t) = shape.retracts.and_then(|c| batch.opt_str(i, c)) {
                self.retractions.push(Retraction {
                    id: batch.str(i, 0).to_string(),
                    target: t.to_string(),
                    question: shape
                        .question
                        .iter()
                        .map(|&c| batch.str(i, c).to_string())
                        .collect(),
                    annotator: annotator.to_string(),
                });
            } else if let (Some(_), Some(class)) = (shape.candidate, class) {
                state.candidate(image_id, class, false);
            }
            if k.log.answers && self.conflicted.contains(image) {
                r.events_on_conflicts += 1;
            }
        }
        batch.clear();
        Ok(())
    }

    /// Checks the new retractions and puts the counts in `r`.
    fn finish(self, state: &TargetState, r: &mut SourceReport) -> Result<()> {
        let k = self.k;
        check_retractions(
            self.tx,
            &state.pending[kind_index(k)],
            k,
            &self.shape,
            &self.src.path,
            &self.retractions,
        )?;
        let mut all = Counts::default();
        for (annotator, (new, duplicate)) in self.per_annotator {
            let c = Counts { new, duplicate };
            all += c;
            match r
                .annotators
                .binary_search_by(|a| a.annotator.cmp(&annotator))
            {
                Ok(i) => r.annotators[i].events.add(k, c),
                Err(i) => {
                    let mut a = AnnotatorMerge {
                        annotator,
                        ..AnnotatorMerge::default()
                    };
                    a.events.add(k, c);
                    r.annotators.insert(i, a);
                }
            }
        }
        r.events.add(k, all);
        Ok(())
    }
}

/// Checks one source row: every column's type, the id's spelling, an answer's validation or a
/// retraction's shape, and the image and class it names. Returns the target's image id and the
/// class an answer makes a candidate of.
fn check_row(
    v: &SourceRow<'_, '_>,
    k: &Kind,
    shape: &Shape,
    state: &TargetState,
    target_path: &Path,
) -> Result<(i64, Option<u32>)> {
    let refuse = |why: String| Err(refused(v.path, why));
    for (i, c) in k.columns.iter().enumerate() {
        let max = match c.role {
            Role::Payload(_) => MAX_NOTE_BYTES,
            _ => MAX_NAME_BYTES,
        };
        // Text is read once: the door's checks (UTF-8, length, characters), then its type's.
        match c.ty {
            Ty::Int | Ty::OptInt => {
                v.typed(i, c.ty)?;
            }
            Ty::OptText => {
                v.door_text(i, max)?;
            }
            Ty::Text | Ty::NonEmpty => match v.door_text(i, max)? {
                None => return Err(v.bad(i, "is not text")),
                Some(t) if c.ty == Ty::NonEmpty && t.trim().is_empty() => {
                    return Err(v.bad(i, "is empty"));
                }
                Some(_) => {}
            },
        }
    }
    let id = v.event_id(0)?;
    // The image key is not checked here: it must name an image of the target's map below,
    // whose keys were all checked on their way in (the source's in `assets::merge_images`).
    let image = v.text(shape.image)?;
    let retraction = match shape.retracts {
        Some(c) => v.opt_text(c)?.is_some(),
        None => false,
    };
    if k.undo == Undo::Retracts {
        for &(i, undo) in &shape.payload {
            let as_undone = match (undo, v.get(i)?) {
                (OnUndo::Null, ValueRef::Null) => true,
                (OnUndo::Value(u), ValueRef::Text(t)) => t == u.as_bytes(),
                _ => false,
            };
            if as_undone != retraction {
                return refuse(format!(
                    "{} {id}: a retraction must name the event it undoes and hold no answer, \
                     and only a retraction may",
                    k.noun
                ));
            }
        }
    }
    if !retraction {
        (k.check)(v, &state.classes)?;
    }
    let Some(&(image_id, _)) = state.images.get(image) else {
        return refuse(format!(
            "{} {id} names image `{}`, which is neither in {} nor in the source's images",
            k.noun,
            crate::text::display(&crate::text::clip(image, 80)),
            target_path.display()
        ));
    };
    let class = match shape.candidate {
        Some(c) => {
            let label = v.text(c)?;
            match state.class(label) {
                Some(class) => Some(class),
                None => {
                    return refuse(format!(
                        "{} {id} (image {image}) names label `{label}`, not a class of the \
                         target's vocabulary",
                        k.noun
                    ));
                }
            }
        }
        None => None,
    };
    Ok((image_id, class))
}

/// Refuses an event the target holds with other content than the source's.
fn same_as_target(
    existing: &mut Statement<'_>,
    batch: &EventBatch<'_>,
    i: usize,
    k: &Kind,
    path: &Path,
    target_path: &Path,
) -> Result<()> {
    let id = batch.str(i, 0);
    let same = existing.query_row([id], |t| {
        for c in 1..batch.width {
            if t.get_ref(c)? != batch.value(i, c) {
                return Ok(false);
            }
        }
        Ok(true)
    })?;
    if same {
        return Ok(());
    }
    Err(different_content(id, k, path, target_path))
}

/// The refusal of an event whose id the target holds (or a source merged before brought) with
/// other content.
fn different_content(id: &str, k: &Kind, path: &Path, target_path: &Path) -> Error {
    refused(
        path,
        format!(
            "{} {id} is also in {} with different content; one of the two files was altered",
            k.noun,
            target_path.display()
        ),
    )
}

/// The place of `k` in `KINDS`.
fn kind_index(k: &Kind) -> usize {
    crate::store::events::KINDS
        .iter()
        .position(|x| x.table == k.table)
        .expect("a kind of KINDS")
}

/// Each new retraction must undo an answer of the same annotator to the same question, in
/// either file.
fn check_retractions(
    tx: &Connection,
    pending: &Pending,
    k: &Kind,
    shape: &Shape,
    path: &Path,
    retractions: &[Retraction],
) -> Result<()> {
    let Some(retracts) = shape.retracts else {
        return Ok(());
    };
    let names = |cols: &[usize]| -> Vec<&str> { cols.iter().map(|&c| k.columns[c].name).collect() };
    let mut cols = names(&shape.question);
    cols.extend(names(&[shape.annotator, retracts]));
    let mut undone = tx.prepare_cached(&format!(
        "SELECT {} FROM {} WHERE id = ?1",
        cols.join(", "),
        k.table
    ))?;
    let n = shape.question.len();
    for t in retractions {
        // An event this merge brings is not in the target yet (see `pending`).
        let found: Option<(Vec<String>, String, Option<String>)> = match pending.find(&t.target) {
            Some(e) => {
                let text = |c: usize| pending.str(e, c).map(str::to_string);
                let question = shape.question.iter().map(|&c| text(c).unwrap_or_default());
                Some((
                    question.collect(),
                    text(shape.annotator).unwrap_or_default(),
                    text(retracts),
                ))
            }
            None => undone
                .query_row([&t.target], |r| {
                    let question = (0..n).map(|c| r.get(c)).collect::<rusqlite::Result<_>>()?;
                    Ok((question, r.get(n)?, r.get(n + 1)?))
                })
                .optional()?,
        };
        let (id, target, annotator) = (&t.id, &t.target, &t.annotator);
        match found {
            None => {
                return Err(refused(
                    path,
                    format!(
                        "{} {id} retracts event {target}, which is in neither file",
                        k.noun
                    ),
                ));
            }
            Some((q, a, None)) if q == t.question && a == *annotator => {}
            Some(_) => {
                return Err(refused(
                    path,
                    format!(
                        "{} {id} by {annotator} retracts event {target}, which is not {} of \
                         theirs to the same {}",
                        k.noun, k.answer_noun, k.question_noun
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Whether an event of a batch is new to the target, or already there: in the target's file,
/// or among the new events of a source merged before (see `pending`).
#[derive(Clone, Copy)]
enum Seen {
    New,
    Target,
    Pending(u32),
}

/// One value of a pending event: its text lives in the batch's buffer.
#[derive(Clone)]
enum Cell {
    Null,
    Int(i64),
    Text(Range<usize>),
}

/// Events read and checked, a hundred at a time: which of them the target already has is asked
/// of it in one statement (the new ones go to `pending`, written at the end).
struct EventBatch<'c> {
    kind: &'static Kind,
    width: usize,
    /// The events' text, end to end; each text cell is a range into it.
    text: String,
    /// `width` cells per event, in column order.
    cells: Vec<Cell>,
    /// Per event: the target's image id and the class it makes a candidate of.
    checked: Vec<(i64, Option<u32>)>,
    /// Where each event stands, filled in by [`EventBatch::resolve`].
    seen: Vec<Seen>,
    /// The ids of the batch the target already has, sorted.
    present: Vec<[u8; 36]>,
    /// The lookup of a full batch, prepared once.
    full: Option<Statement<'c>>,
}

impl<'c> EventBatch<'c> {
    /// Events per INSERT: 11 values each at most, far below SQLite's 32,766 parameters.
    const SIZE: usize = 100;

    fn new(kind: &'static Kind) -> Self {
        EventBatch {
            kind,
            width: kind.columns.len(),
            text: String::new(),
            cells: Vec::new(),
            checked: Vec::new(),
            seen: Vec::new(),
            present: Vec::new(),
            full: None,
        }
    }

    /// Copies a checked row's values into the batch, as the row's checks read them.
    fn push(&mut self, row: &SourceRow<'_, '_>, checked: (i64, Option<u32>)) -> Result<()> {
        for c in 0..self.width {
            let cell = match row.get(c)? {
                ValueRef::Integer(n) => Cell::Int(n),
                ValueRef::Text(_) => {
                    let start = self.text.len();
                    // Checked as UTF-8 text by the row's column types.
                    self.text.push_str(row.text(c)?);
                    Cell::Text(start..self.text.len())
                }
                _ => Cell::Null,
            };
            self.cells.push(cell);
        }
        self.checked.push(checked);
        Ok(())
    }

    fn len(&self) -> usize {
        self.checked.len()
    }

    fn is_full(&self) -> bool {
        self.len() >= Self::SIZE
    }

    fn clear(&mut self) {
        self.text.clear();
        self.cells.clear();
        self.checked.clear();
        self.seen.clear();
    }

    fn value(&self, event: usize, column: usize) -> ValueRef<'_> {
        self.field(event, column).into()
    }

    fn field(&self, event: usize, column: usize) -> Field<'_> {
        match &self.cells[event * self.width + column] {
            Cell::Null => Field::Null,
            Cell::Int(n) => Field::Int(*n),
            Cell::Text(r) => Field::Text(&self.text[r.clone()]),
        }
    }

    fn opt_str(&self, event: usize, column: usize) -> Option<&str> {
        match &self.cells[event * self.width + column] {
            Cell::Text(r) => Some(&self.text[r.clone()]),
            _ => None,
        }
    }

    fn str(&self, event: usize, column: usize) -> &str {
        self.opt_str(event, column).unwrap_or_default()
    }

    /// Finds which events the target already has (asking it only when it held events of the
    /// kind when the merge began: the new ones are not written until the end) and which a
    /// source merged before brought, fills in `seen`, and adds the new ones to `pending`.
    fn resolve(
        &mut self,
        tx: &'c Connection,
        pending: &mut Pending,
        target_has_events: bool,
    ) -> Result<()> {
        self.seen.clear();
        let n = self.len();
        if n == 0 {
            return Ok(());
        }
        self.present.clear();
        if target_has_events {
            self.find_present(tx)?;
        }
        for i in 0..n {
            let id = self.str(i, 0);
            let in_target = <&[u8; 36]>::try_from(id.as_bytes())
                .is_ok_and(|id| self.present.binary_search(id).is_ok());
            let seen = if in_target {
                Seen::Target
            } else {
                // The row's checks held the id to a canonical UUID.
                let bytes = uuid_bytes(id)
                    .ok_or_else(|| internal(self.kind, "an id that is not a UUID"))?;
                match pending.get_or_push(bytes, |c| self.field(i, c))? {
                    Some(e) => Seen::Pending(e),
                    None => Seen::New,
                }
            };
            self.seen.push(seen);
        }
        Ok(())
    }

    /// Puts the ids of the batch the target holds into `present`, sorted.
    fn find_present(&mut self, tx: &'c Connection) -> Result<()> {
        let n = self.len();
        // A full batch reuses its statement: preparing 100 parameters and clearing them again
        // each time cost as much as a tenth of the merge.
        let full = n == Self::SIZE;
        let mut present = match self.full.take() {
            Some(statement) if full => statement,
            kept => {
                self.full = kept;
                let marks = vec!["?"; n].join(",");
                // Asked first rather than with `RETURNING id`, which SQLite runs as a trigger,
                // once per row.
                tx.prepare(&format!(
                    "SELECT id FROM {} WHERE id IN ({marks})",
                    self.kind.table
                ))?
            }
        };
        for i in 0..n {
            present.raw_bind_parameter(i + 1, self.str(i, 0))?;
        }
        let mut rows = present.raw_query();
        while let Some(row) = rows.next()? {
            let id = match row.get_ref(0)? {
                ValueRef::Text(t) => <[u8; 36]>::try_from(t).ok(),
                _ => None,
            };
            self.present.push(id.ok_or_else(|| {
                Error::msg("the target holds an event id that is not a UUID".to_string())
            })?);
        }
        drop(rows);
        self.present.sort_unstable();
        if full {
            self.full = Some(present);
        }
        Ok(())
    }
}
