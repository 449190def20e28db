//! Judgment events: yes / no / maybe to "is there a <label> in this image?", one kind of the
//! event log (`store::events`), and the queue queries that read them.
//!
//! Because rows are only ever added and every row carries its own UUID, merging two files is a
//! union by id, whatever the order. Undo appends a retraction naming the event it undoes; an
//! annotator's current answer for (image, label) is their latest answer event that no retraction
//! names, "latest" meaning the greatest (created_at, id).

use std::hash::BuildHasher;

use rusqlite::types::ToSqlOutput;
use rusqlite::{Connection, Row, params};

use super::Store;
use super::events::{
    self, Checkout, Column, Event, Kind, Log, OnUndo, Role, Ty, Undo, answer_kind_columns, opt,
    str_at,
};
use super::flags::FLAGGED_BY;
use super::untrusted::SourceRow;
use crate::error::{Error, Result};

pub use super::answer::Answer;

#[derive(Clone, Debug, PartialEq)]
pub struct JudgmentEvent {
    pub id: String,
    pub image: String,
    pub label: String,
    /// `None` for a retraction.
    pub answer: Option<Answer>,
    pub retracts: Option<String>,
    pub annotator: String,
    pub session: String,
    /// Milliseconds since the Unix epoch, UTC.
    pub created_at: i64,
    pub elapsed_ms: Option<i64>,
    pub origin: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CurrentAnswer {
    pub image: String,
    pub label: String,
    pub annotator: String,
    pub answer: Answer,
    pub event_id: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AnnotatorCounts {
    pub annotator: String,
    pub events: u64,
    pub current: u64,
}

/// Every current answer with what the exports show of its event, folded in memory from one read
/// of the table in its stored (id) order ([`Store::current_answer_table`]). Texts are kept once
/// each, in byte order, and the rows name them by position, so an answer costs 40 bytes here
/// whatever its strings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CurrentAnswerTable {
    /// The image keys, labels, annotators and origins of the answers, each list sorted (byte
    /// order, as SQLite's `ORDER BY`) and without repeats.
    pub images: Vec<String>,
    pub labels: Vec<String>,
    pub annotators: Vec<String>,
    pub origins: Vec<String>,
    /// One per current answer, in (image, label, annotator) order: the order of
    /// [`Store::for_each_current_event`].
    pub rows: Vec<CurrentRow>,
}

/// One current answer of a [`CurrentAnswerTable`]: positions in its lists, and the event's time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CurrentRow {
    /// Milliseconds since the Unix epoch, UTC.
    pub created_at: i64,
    elapsed_ms: i64,
    pub image: u32,
    pub label: u32,
    pub annotator: u32,
    pub origin: u32,
    /// The row's place in id order, which breaks ties of `created_at` as the id does.
    seq: u32,
    /// `None` for a text the store's check would refuse (never written by labelvet).
    pub answer: Option<Answer>,
    has_elapsed: bool,
}

impl CurrentRow {
    /// The time the screen recorded for the answer; `None` for imported answers.
    pub fn elapsed_ms(&self) -> Option<i64> {
        self.has_elapsed.then_some(self.elapsed_ms)
    }
}

/// Texts as dense numbers while reading, then renumbered in byte order. Each text is held once,
/// in `names`; the table finds an id by its text's hash and compares with `names`. A
/// `HashMap<String, u32>` held every text twice: 1.28 M image keys took 210 MB that way.
#[derive(Default)]
struct Texts {
    ids: hashbrown::HashTable<u32>,
    hasher: hashbrown::DefaultHashBuilder,
    names: Vec<String>,
    /// The id given last: rows in stored order come in runs of one annotator, origin and
    /// (imported or answered on one screen) image, so most texts are the last one again, and
    /// comparing with it costs less than hashing.
    last: Option<u32>,
}

impl Texts {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(last) = self.last
            && self.names[last as usize] == s
        {
            return last;
        }
        let Texts {
            ids, hasher, names, ..
        } = self;
        let hasher: &hashbrown::DefaultHashBuilder = hasher;
        let text_of = |id: &u32| names[*id as usize].as_str();
        let id = match ids.entry(
            hasher.hash_one(s),
            |id| text_of(id) == s,
            |id| hasher.hash_one(text_of(id)),
        ) {
            hashbrown::hash_table::Entry::Occupied(e) => *e.get(),
            hashbrown::hash_table::Entry::Vacant(e) => {
                let id = names.len() as u32;
                e.insert(id);
                names.push(s.to_string());
                id
            }
        };
        self.last = Some(id);
        id
    }

    /// The names in byte order, and for each id as read its position among them.
    fn sorted(self) -> (Vec<String>, Vec<u32>) {
        drop(self.ids);
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| self.names[a as usize].cmp(&self.names[b as usize]));
        let mut rank = vec![0u32; order.len()];
        for (r, &id) in order.iter().enumerate() {
            rank[id as usize] = r as u32;
        }
        let mut names: Vec<Option<String>> = self.names.into_iter().map(Some).collect();
        let sorted = order
            .iter()
            .map(|&id| names[id as usize].take().expect("each id once"))
            .collect();
        (sorted, rank)
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A fresh time-ordered event id.
pub fn new_event_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The judgments' declaration in the event log: a question is (image, label); an answer is
/// yes, no or maybe; a retraction holds `retract` as its answer and names the event it undoes.
pub(crate) static JUDGMENTS: Kind = Kind {
    table: "judgments",
    noun: "event",
    plural: "events",
    answer_noun: "an answer",
    question_noun: "image and label",
    columns: answer_kind_columns![
        Column::new("label", Ty::Text, Role::Question),
        Column::new("answer", Ty::Text, Role::Payload(OnUndo::Value("retract"))),
    ],
    undo: Undo::Retracts,
    by_question: "judgments_by_item",
    candidate: Some("label"),
    check: check_answer,
    log: Log {
        new: "new_events",
        duplicate: Some("duplicate_events"),
        answers: true,
    },
    checkout: Checkout::Own,
};

/// An answer's check for every kind shaped like the judgments (their answer in column 3):
/// yes, no or maybe.
pub(crate) fn check_answer(
    row: &SourceRow<'_, '_>,
    _classes: &super::events::ClassNumbers,
) -> Result<()> {
    match row.text(3)? {
        "yes" | "no" | "maybe" => Ok(()),
        answer => Err(row.refuse(format!(
            "answer `{answer}` is not yes, no, maybe or retract"
        ))),
    }
}

impl Event for JudgmentEvent {
    const KIND: &'static Kind = &JUDGMENTS;

    fn values(&self) -> Vec<ToSqlOutput<'_>> {
        vec![
            self.id.as_str().into(),
            self.image.as_str().into(),
            self.label.as_str().into(),
            self.answer.map(Answer::as_str).unwrap_or("retract").into(),
            opt(self.retracts.as_deref()),
            self.annotator.as_str().into(),
            self.session.as_str().into(),
            self.created_at.into(),
            opt(self.elapsed_ms),
            self.origin.as_str().into(),
        ]
    }

    fn id(&self) -> &str {
        &self.id
    }

    fn from_row(r: &Row<'_>) -> rusqlite::Result<JudgmentEvent> {
        let answer: String = r.get(3)?;
        Ok(JudgmentEvent {
            id: r.get(0)?,
            image: r.get(1)?,
            label: r.get(2)?,
            answer: Answer::parse(&answer),
            retracts: r.get(4)?,
            annotator: r.get(5)?,
            session: r.get(6)?,
            created_at: r.get(7)?,
            elapsed_ms: r.get(8)?,
            origin: r.get(9)?,
        })
    }
}

/// Inserts events that are not there yet (by id). Returns how many were new.
pub use super::events::insert as insert_events;

/// Every annotator's current answer to every question, ordered by (image, label, annotator).
pub fn current_answers(conn: &Connection) -> Result<Vec<CurrentAnswer>> {
    current_of(conn, &JUDGMENTS)
}

/// [`current_answers`] of any kind shaped like the judgments (gold answers, verdicts): columns
/// id, image, label, answer, ..., annotator.
pub(crate) fn current_of(conn: &Connection, k: &Kind) -> Result<Vec<CurrentAnswer>> {
    events::current(
        conn,
        k,
        &format!("image, label, annotator, {}", k.columns[3].name),
        |r| {
            let id: String = r.get(0)?;
            let answer = Answer::parse(&r.get::<_, String>(4)?)
                .ok_or_else(|| Error::msg(format!("{} {id}: unknown answer", k.noun)))?;
            Ok(CurrentAnswer {
                image: r.get(1)?,
                label: r.get(2)?,
                annotator: r.get(3)?,
                answer,
                event_id: id,
            })
        },
        |a, b| a.image == b.image && a.label == b.label && a.annotator == b.annotator,
    )
}

impl Store {
    /// Appends one answer and commits it before returning.
    pub fn append_answer(
        &self,
        image: &str,
        label: &str,
        answer: Answer,
        annotator: &str,
        session: &str,
        elapsed_ms: Option<i64>,
    ) -> Result<JudgmentEvent> {
        self.named(|| {
            let e = JudgmentEvent {
                id: new_event_id(),
                image: image.to_string(),
                label: label.to_string(),
                answer: Some(answer),
                retracts: None,
                annotator: annotator.to_string(),
                session: session.to_string(),
                created_at: now_ms(),
                elapsed_ms,
                origin: "annotate".into(),
            };
            events::append(self, std::slice::from_ref(&e))?;
            Ok(e)
        })
    }

    /// Appends a retraction of `target` (an answer event) and commits it.
    pub fn append_retraction(
        &self,
        target: &JudgmentEvent,
        session: &str,
    ) -> Result<JudgmentEvent> {
        self.named(|| {
            let mut undo = events::retract(self, &[(&target.id, "annotate")], session)?;
            Ok(undo.remove(0))
        })
    }

    pub fn insert_events<'a>(
        &self,
        events: impl IntoIterator<Item = &'a JudgmentEvent>,
    ) -> Result<u64> {
        self.named(|| events::insert(&self.conn, events))
    }

    /// Appends several answers (image, label, answer) of one annotator in one transaction, so a
    /// grid page lands whole or not at all, and commits them before returning.
    pub fn append_answers(
        &self,
        answers: &[(String, String, Answer)],
        annotator: &str,
        session: &str,
        elapsed_ms: Option<i64>,
    ) -> Result<Vec<JudgmentEvent>> {
        self.named(|| {
            let now = now_ms();
            let events: Vec<JudgmentEvent> = answers
                .iter()
                .map(|(image, label, answer)| JudgmentEvent {
                    id: new_event_id(),
                    image: image.clone(),
                    label: label.clone(),
                    answer: Some(*answer),
                    retracts: None,
                    annotator: annotator.to_string(),
                    session: session.to_string(),
                    created_at: now,
                    elapsed_ms,
                    origin: "grid".into(),
                })
                .collect();
            events::append(self, &events)?;
            Ok(events)
        })
    }

    /// Appends a retraction of each of `targets` in one transaction and commits them.
    pub fn append_retractions(
        &self,
        targets: &[JudgmentEvent],
        session: &str,
    ) -> Result<Vec<JudgmentEvent>> {
        self.named(|| {
            let targets: Vec<(&str, &str)> = targets
                .iter()
                .map(|t| (t.id.as_str(), t.origin.as_str()))
                .collect();
            events::retract(self, &targets, session)
        })
    }

    /// Every event, oldest first.
    pub fn events(&self) -> Result<Vec<JudgmentEvent>> {
        self.named(|| events::select(&self.conn, "1", []))
    }

    /// The events of one image, oldest first.
    pub fn events_for_image(&self, image: &str) -> Result<Vec<JudgmentEvent>> {
        self.named(|| events::select(&self.conn, "image = ?1", [image]))
    }

    pub fn current_answers(&self) -> Result<Vec<CurrentAnswer>> {
        self.named(|| current_answers(&self.conn))
    }

    /// Calls `f` with the event behind every current answer (an annotator's latest answer to a
    /// question that no retraction names), in (image, label, annotator) order, one at a time,
    /// walking the question index: memory holds one event, but each row is a look-up in the
    /// table. The report and the exports read [`Store::current_answer_table`] instead (one
    /// read in stored order, 40 bytes per answer kept), which gives the same answers.
    pub fn for_each_current_event(
        &self,
        mut f: impl FnMut(&JudgmentEvent) -> Result<()>,
    ) -> Result<()> {
        self.named(|| {
            let k = &JUDGMENTS;
            let columns: Vec<&str> = k.columns.iter().skip(1).map(|c| c.name).collect();
            events::for_each_current(
                &self.conn,
                k,
                &columns.join(", "),
                |r| Ok(JudgmentEvent::from_row(r)?),
                |a: &JudgmentEvent, b| {
                    a.image == b.image && a.label == b.label && a.annotator == b.annotator
                },
                |e| f(&e),
            )
        })
    }

    /// Every current answer (the same as [`Store::for_each_current_event`] gives, in the same
    /// order) with the event's time, time taken and origin, from one read of the table in its
    /// stored order. Walking the question index instead looks up each row in the table: on
    /// ReaL's 924,810 answers that read is most of an export's time. Memory: the texts once
    /// each, and 40 bytes per answer (37 MB for ReaL), not a `String` copy of every answer.
    pub fn current_answer_table(&self) -> Result<CurrentAnswerTable> {
        self.named(|| self.answer_table(None))
    }

    /// [`Store::current_answer_table`] of the answers whose label is one of `labels` (all when
    /// `None`): the queue's answer filters read only the classes they select.
    pub(super) fn answer_table(
        &self,
        labels: Option<&std::collections::HashSet<&str>>,
    ) -> Result<CurrentAnswerTable> {
        let k = &JUDGMENTS;
        let retracted = events::retracted_ids(&self.conn, k)?;
        // The table's own order (its primary key): a later row of two made in the same
        // millisecond has the greater id and replaces the other, as (created_at, id) says.
        let mut stmt = self.conn.prepare(&format!(
            "SELECT id, image, label, answer, annotator, created_at, elapsed_ms, origin
             FROM {} NOT INDEXED WHERE {} ORDER BY id",
            k.table,
            k.is_answer_sql(),
        ))?;
        let mut rows = stmt.query([])?;
        let (mut images, mut label_ids, mut annotators, mut origins) = (
            Texts::default(),
            Texts::default(),
            Texts::default(),
            Texts::default(),
        );
        let mut out: Vec<CurrentRow> = Vec::new();
        while let Some(r) = rows.next()? {
            if !retracted.is_empty() && retracted.contains(str_at(r, 0)?) {
                continue;
            }
            let label = str_at(r, 2)?;
            if labels.is_some_and(|only| !only.contains(label)) {
                continue;
            }
            let elapsed: Option<i64> = r.get(6)?;
            out.push(CurrentRow {
                created_at: r.get(5)?,
                elapsed_ms: elapsed.unwrap_or(0),
                image: images.id(str_at(r, 1)?),
                label: label_ids.id(label),
                annotator: annotators.id(str_at(r, 4)?),
                origin: origins.id(str_at(r, 7)?),
                seq: u32::try_from(out.len())
                    .map_err(|_| Error::msg("more than 4 billion answers"))?,
                answer: Answer::parse(str_at(r, 3)?),
                has_elapsed: elapsed.is_some(),
            });
        }
        let (images, image_rank) = images.sorted();
        let (labels, label_rank) = label_ids.sorted();
        let (annotators, annotator_rank) = annotators.sorted();
        let (origins, origin_rank) = origins.sorted();
        for row in &mut out {
            row.image = image_rank[row.image as usize];
            row.label = label_rank[row.label as usize];
            row.annotator = annotator_rank[row.annotator as usize];
            row.origin = origin_rank[row.origin as usize];
        }
        // Oldest first within a question and annotator; the last of each run is current.
        out.sort_unstable_by_key(|r| (r.image, r.label, r.annotator, r.created_at, r.seq));
        let key = |r: &CurrentRow| (r.image, r.label, r.annotator);
        let mut kept = 0usize;
        for i in 0..out.len() {
            let row = out[i];
            if kept > 0 && key(&out[kept - 1]) == key(&row) {
                out[kept - 1] = row;
            } else {
                out[kept] = row;
                kept += 1;
            }
        }
        out.truncate(kept);
        Ok(CurrentAnswerTable {
            images,
            labels,
            annotators,
            origins,
            rows: out,
        })
    }

    /// One annotator's current answers for one image, with the events that gave them.
    pub fn current_for_image(&self, image: &str, annotator: &str) -> Result<Vec<JudgmentEvent>> {
        self.named(|| {
            let theirs: Vec<JudgmentEvent> = self
                .events_for_image(image)?
                .into_iter()
                .filter(|e| e.annotator == annotator)
                .collect();
            Ok(events::standing(
                &theirs,
                |e| e.label.clone(),
                |e| e.retracts.as_deref().map(Some),
                |e| &e.id,
            ))
        })
    }

    /// How many judgment events (answers and retractions) the project holds.
    pub fn judgment_count(&self) -> Result<u64> {
        self.named(|| Ok(events::count(&self.conn, &JUDGMENTS)?))
    }

    pub fn counts_by_annotator(&self) -> Result<Vec<AnnotatorCounts>> {
        self.named(|| {
            let mut per: Vec<AnnotatorCounts> = self
                .conn
                .prepare(
                    "SELECT annotator, count(*) FROM judgments GROUP BY annotator ORDER BY annotator",
                )?
                .query_map([], |r| {
                    Ok(AnnotatorCounts {
                        annotator: r.get(0)?,
                        events: r.get(1)?,
                        current: 0,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            for a in self.current_answers()? {
                if let Some(p) = per.iter_mut().find(|p| p.annotator == a.annotator) {
                    p.current += 1;
                }
            }
            Ok(per)
        })
    }
}

/// One candidate of one image is open for an annotator while they have no standing answer to it.
/// Written as correlated subqueries so that each probe is an index lookup
/// (`judgments_by_item`, `judgments_retracts`).
const OPEN_CANDIDATE: &str = "EXISTS (
    SELECT 1 FROM candidates c WHERE c.image_id = i.id AND NOT EXISTS (
        SELECT 1 FROM judgments j INDEXED BY judgments_by_item
        WHERE j.image = i.key AND j.label = c.label AND j.annotator = ?1
          AND j.answer <> 'retract'
          AND NOT EXISTS (SELECT 1 FROM judgments r WHERE r.retracts = j.id)))";

/// The image is in the annotator's queue: assigned to them, or the file assigns them nothing
/// (then every image is theirs). The first test is uncorrelated, so SQLite runs it once.
/// The (image, label) questions the annotator `?1` has a standing answer to, each once: their
/// answers through `judgments_by_annotator`, less those a retraction names.
pub(super) const STANDING_OF_ANNOTATOR: &str = "SELECT DISTINCT j.image, j.label
    FROM judgments j INDEXED BY judgments_by_annotator
    WHERE j.annotator = ?1 AND j.answer <> 'retract'
      AND NOT EXISTS (SELECT 1 FROM judgments r WHERE r.retracts = j.id)";

pub(super) const IN_QUEUE: &str = "(NOT EXISTS (SELECT 1 FROM assignments WHERE annotator = ?1)
    OR EXISTS (SELECT 1 FROM assignments a WHERE a.annotator = ?1 AND a.image = i.key))";

/// Queries for the annotation queue: where an annotator resumes, and how far they are.
impl Store {
    /// The id of the first image of the annotator's queue in key order, after `after_key` when
    /// given, that has a candidate they have not answered and that they have not flagged. It walks the key index and
    /// stops at the first hit, so its cost grows with the images already done, not with the
    /// project.
    pub fn next_open_image(&self, annotator: &str, after_key: Option<&str>) -> Result<Option<i64>> {
        self.named(|| {
            use rusqlite::OptionalExtension;
            let sql = format!(
                "SELECT i.id FROM images i
                 WHERE i.key > ?2 AND {IN_QUEUE} AND {OPEN_CANDIDATE} AND NOT {FLAGGED_BY}
                 ORDER BY i.key LIMIT 1"
            );
            let mut stmt = self.conn.prepare_cached(&sql)?;
            Ok(stmt
                // Keys are never empty, so "after ''" is "from the first".
                .query_row(params![annotator, after_key.unwrap_or("")], |r| r.get(0))
                .optional()?)
        })
    }

    /// How many candidate questions of the annotator's queue they have a standing answer to.
    /// Reads only the annotator's own events (`judgments_by_annotator`).
    pub fn answered_count(&self, annotator: &str) -> Result<u64> {
        self.named(|| {
            Ok(self.conn.query_row(
                &format!(
                    "SELECT count(*) FROM ({STANDING_OF_ANNOTATOR}) a
                 WHERE EXISTS (SELECT 1 FROM images i JOIN candidates c ON c.image_id = i.id
                               WHERE i.key = a.image AND c.label = a.label AND {IN_QUEUE})"
                ),
                [annotator],
                |r| r.get(0),
            )?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_store;

    #[test]
    fn latest_answer_wins_and_retraction_restores_the_previous_one() {
        let (_d, s) = test_store(&["a", "b"]);
        let first = s
            .append_answer("img", "a", Answer::Yes, "ann", "s1", Some(900))
            .unwrap();
        let second = s
            .append_answer("img", "a", Answer::No, "ann", "s1", None)
            .unwrap();
        s.append_answer("img", "b", Answer::Maybe, "other", "s2", None)
            .unwrap();
        let cur = s.current_answers().unwrap();
        assert_eq!(cur.len(), 2);
        assert_eq!(cur[0].answer, Answer::No);
        assert_eq!(cur[0].event_id, second.id);

        s.append_retraction(&second, "s1").unwrap();
        let cur = s.current_answers().unwrap();
        assert_eq!(cur[0].answer, Answer::Yes);
        assert_eq!(cur[0].event_id, first.id);
        assert_eq!(s.current_for_image("img", "ann").unwrap()[0].id, first.id);

        s.append_retraction(&first, "s1").unwrap();
        let cur = s.current_answers().unwrap();
        assert_eq!(cur.len(), 1, "both of ann's answers are undone");
        assert_eq!(s.events().unwrap().len(), 5, "nothing is ever deleted");
    }

    /// What an export shows of a current answer: (image, label, annotator, answer, time, time
    /// taken, origin).
    type Shown = (
        String,
        String,
        String,
        Option<Answer>,
        i64,
        Option<i64>,
        String,
    );

    fn walked(s: &Store) -> Vec<Shown> {
        let mut out = Vec::new();
        s.for_each_current_event(|e| {
            out.push((
                e.image.clone(),
                e.label.clone(),
                e.annotator.clone(),
                e.answer,
                e.created_at,
                e.elapsed_ms,
                e.origin.clone(),
            ));
            Ok(())
        })
        .unwrap();
        out
    }

    fn folded(s: &Store) -> Vec<Shown> {
        let t = s.current_answer_table().unwrap();
        t.rows
            .iter()
            .map(|r| {
                (
                    t.images[r.image as usize].clone(),
                    t.labels[r.label as usize].clone(),
                    t.annotators[r.annotator as usize].clone(),
                    r.answer,
                    r.created_at,
                    r.elapsed_ms(),
                    t.origins[r.origin as usize].clone(),
                )
            })
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// The fold in stored order gives what the walk of the question index gives, in the
        /// same order: answers changed (several in one millisecond, where the greater id wins),
        /// undone, and naming labels outside the vocabulary.
        #[test]
        fn the_fold_in_stored_order_gives_the_walks_answers(
            events in proptest::collection::vec(
                (0u8..3, 0u8..3, 0u8..3, 0u8..3, 0i64..4, proptest::option::of(0i64..5000),
                 0u8..2, 0u8..255),
                0..60,
            ),
            undo in proptest::collection::vec(0usize..60, 0..10),
        ) {
            let (_d, s) = test_store(&["a", "b"]);
            let mut made: Vec<JudgmentEvent> = Vec::new();
            for (i, &(image, label, who, answer, t, elapsed, origin, id)) in
                events.iter().enumerate()
            {
                made.push(JudgmentEvent {
                    // Ids in another order than the times, and apart from the insertion order.
                    id: format!("{id:03}-{i:03}"),
                    image: ["x.jpg", "y.jpg", "Z.jpg"][image as usize].into(),
                    label: ["a", "b", "zz"][label as usize].into(),
                    answer: Some(Answer::ALL[answer as usize]),
                    retracts: None,
                    annotator: ["ann", "bob", "Cy"][who as usize].into(),
                    session: "s".into(),
                    created_at: 1000 + t,
                    elapsed_ms: elapsed,
                    origin: ["import", "annotate"][origin as usize].into(),
                });
            }
            for (n, &u) in undo.iter().enumerate() {
                if let Some(target) = made[..events.len()].get(u).cloned() {
                    made.push(JudgmentEvent {
                        id: format!("u{n:03}"),
                        answer: None,
                        retracts: Some(target.id.clone()),
                        created_at: 2000,
                        ..target
                    });
                }
            }
            s.insert_events(&made).unwrap();
            proptest::prop_assert_eq!(folded(&s), walked(&s));
        }
    }

    #[test]
    fn inserting_the_same_events_twice_adds_nothing() {
        let (_d, s) = test_store(&["a", "b"]);
        s.append_answer("img", "a", Answer::Yes, "ann", "s1", None)
            .unwrap();
        let events = s.events().unwrap();
        assert_eq!(s.insert_events(&events).unwrap(), 0);
        assert_eq!(s.events().unwrap(), events);
    }
}
