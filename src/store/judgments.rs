//! Judgment events and image flags: append-only, each with a global id.
//!
//! Because rows are only ever added and every row carries its own UUID, merging two files is a
//! union by id, whatever the order. Undo appends a retraction naming the event it undoes; an
//! annotator's current answer for (image, label) is their latest answer event that no retraction
//! names, "latest" meaning the greatest (created_at, id).

use std::collections::HashSet;

use rusqlite::{Connection, Row, params};

use super::Store;
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagKind {
    Broken,
    Ambiguous,
    Expert,
    /// Lifts the annotator's earlier flags on the image.
    Clear,
}

impl FlagKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FlagKind::Broken => "broken",
            FlagKind::Ambiguous => "ambiguous",
            FlagKind::Expert => "expert",
            FlagKind::Clear => "clear",
        }
    }

    pub fn parse(s: &str) -> Option<FlagKind> {
        Some(match s {
            "broken" => FlagKind::Broken,
            "ambiguous" => FlagKind::Ambiguous,
            "expert" => FlagKind::Expert,
            "clear" => FlagKind::Clear,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Flag {
    pub id: String,
    pub image: String,
    pub kind: FlagKind,
    pub note: String,
    pub annotator: String,
    pub session: String,
    pub created_at: i64,
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

const EVENT_COLUMNS: &str =
    "id, image, label, answer, retracts, annotator, session, created_at, elapsed_ms, origin";

fn event_from_row(r: &Row<'_>) -> rusqlite::Result<JudgmentEvent> {
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

/// Inserts events that are not there yet (by id). Returns how many were new.
pub fn insert_events<'a>(
    conn: &Connection,
    events: impl IntoIterator<Item = &'a JudgmentEvent>,
) -> Result<u64> {
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT OR IGNORE INTO judgments({EVENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    ))?;
    let mut added = 0;
    for e in events {
        added += stmt.execute(params![
            e.id,
            e.image,
            e.label,
            e.answer.map(Answer::as_str).unwrap_or("retract"),
            e.retracts,
            e.annotator,
            e.session,
            e.created_at,
            e.elapsed_ms,
            e.origin
        ])? as u64;
    }
    Ok(added)
}

/// Every annotator's current answer to every question, ordered by (image, label, annotator).
/// Streams the events in index order, so memory holds only the retracted ids and the result.
pub fn current_answers(conn: &Connection) -> Result<Vec<CurrentAnswer>> {
    let retracted: HashSet<String> = conn
        .prepare("SELECT retracts FROM judgments WHERE retracts IS NOT NULL")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt = conn.prepare(
        "SELECT id, image, label, annotator, answer FROM judgments INDEXED BY judgments_by_item
         WHERE answer <> 'retract' ORDER BY image, label, annotator, created_at, id",
    )?;
    let mut rows = stmt.query([])?;
    let mut out: Vec<CurrentAnswer> = Vec::new();
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        if retracted.contains(&id) {
            continue;
        }
        let image: String = r.get(1)?;
        let label: String = r.get(2)?;
        let annotator: String = r.get(3)?;
        let answer = Answer::parse(&r.get::<_, String>(4)?)
            .ok_or_else(|| Error::msg(format!("event {id}: unknown answer")))?;
        // Rows come oldest first within a question, so a later row replaces the earlier one.
        if let Some(last) = out.last_mut()
            && last.image == image
            && last.label == label
            && last.annotator == annotator
        {
            last.answer = answer;
            last.event_id = id;
            continue;
        }
        out.push(CurrentAnswer {
            image,
            label,
            annotator,
            answer,
            event_id: id,
        });
    }
    Ok(out)
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
        insert_events(&self.conn, [&e]).map_err(|err| match err {
            Error::Sqlite(s) => self.locked_or(s),
            e => e,
        })?;
        Ok(e)
    }

    /// Appends a retraction of `target` (an answer event) and commits it.
    pub fn append_retraction(
        &self,
        target: &JudgmentEvent,
        session: &str,
    ) -> Result<JudgmentEvent> {
        let e = JudgmentEvent {
            id: new_event_id(),
            image: target.image.clone(),
            label: target.label.clone(),
            answer: None,
            retracts: Some(target.id.clone()),
            annotator: target.annotator.clone(),
            session: session.to_string(),
            created_at: now_ms().max(target.created_at),
            elapsed_ms: None,
            origin: "annotate".into(),
        };
        insert_events(&self.conn, [&e]).map_err(|err| match err {
            Error::Sqlite(s) => self.locked_or(s),
            e => e,
        })?;
        Ok(e)
    }

    pub fn insert_events<'a>(
        &self,
        events: impl IntoIterator<Item = &'a JudgmentEvent>,
    ) -> Result<u64> {
        insert_events(&self.conn, events)
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
        self.insert_all(&events)?;
        Ok(events)
    }

    /// Appends a retraction of each of `targets` in one transaction and commits them.
    pub fn append_retractions(
        &self,
        targets: &[JudgmentEvent],
        session: &str,
    ) -> Result<Vec<JudgmentEvent>> {
        let now = now_ms();
        let events: Vec<JudgmentEvent> = targets
            .iter()
            .map(|t| JudgmentEvent {
                id: new_event_id(),
                image: t.image.clone(),
                label: t.label.clone(),
                answer: None,
                retracts: Some(t.id.clone()),
                annotator: t.annotator.clone(),
                session: session.to_string(),
                created_at: now.max(t.created_at),
                elapsed_ms: None,
                origin: t.origin.clone(),
            })
            .collect();
        self.insert_all(&events)?;
        Ok(events)
    }

    fn insert_all(&self, events: &[JudgmentEvent]) -> Result<()> {
        let locked = |err: Error| match err {
            Error::Sqlite(s) => self.locked_or(s),
            e => e,
        };
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )
        .map_err(|e| self.locked_or(e))?;
        insert_events(&tx, events).map_err(locked)?;
        tx.commit().map_err(|e| self.locked_or(e))?;
        Ok(())
    }

    /// Every event, oldest first.
    pub fn events(&self) -> Result<Vec<JudgmentEvent>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {EVENT_COLUMNS} FROM judgments ORDER BY created_at, id"
        ))?;
        let rows = stmt
            .query_map([], event_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The events of one image, oldest first.
    pub fn events_for_image(&self, image: &str) -> Result<Vec<JudgmentEvent>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM judgments WHERE image = ?1 ORDER BY created_at, id"
        ))?;
        let rows = stmt
            .query_map([image], event_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn current_answers(&self) -> Result<Vec<CurrentAnswer>> {
        current_answers(&self.conn)
    }

    /// One annotator's current answers for one image, with the events that gave them.
    pub fn current_for_image(&self, image: &str, annotator: &str) -> Result<Vec<JudgmentEvent>> {
        let events = self.events_for_image(image)?;
        let retracted: HashSet<&str> = events
            .iter()
            .filter_map(|e| e.retracts.as_deref())
            .collect();
        let mut current: Vec<JudgmentEvent> = Vec::new();
        for e in &events {
            if e.annotator != annotator || e.answer.is_none() || retracted.contains(e.id.as_str()) {
                continue;
            }
            match current.iter_mut().find(|c| c.label == e.label) {
                Some(c) => *c = e.clone(),
                None => current.push(e.clone()),
            }
        }
        Ok(current)
    }

    pub fn counts_by_annotator(&self) -> Result<Vec<AnnotatorCounts>> {
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
    }

    pub fn append_flag(
        &self,
        image: &str,
        kind: FlagKind,
        note: &str,
        annotator: &str,
        session: &str,
    ) -> Result<Flag> {
        let f = Flag {
            id: new_event_id(),
            image: image.to_string(),
            kind,
            note: note.to_string(),
            annotator: annotator.to_string(),
            session: session.to_string(),
            created_at: now_ms(),
        };
        self.conn
            .execute(
                "INSERT INTO flags(id, image, kind, note, annotator, session, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    f.id,
                    f.image,
                    f.kind.as_str(),
                    f.note,
                    f.annotator,
                    f.session,
                    f.created_at
                ],
            )
            .map_err(|e| self.locked_or(e))?;
        Ok(f)
    }

    /// Flags standing on an image: each annotator's flags since their last `clear`.
    pub fn flags_for_image(&self, image: &str) -> Result<Vec<Flag>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, image, kind, note, annotator, session, created_at FROM flags
             WHERE image = ?1 ORDER BY created_at, id",
        )?;
        let all: Vec<Flag> = stmt
            .query_map([image], |r| {
                let kind: String = r.get(2)?;
                Ok(Flag {
                    id: r.get(0)?,
                    image: r.get(1)?,
                    kind: FlagKind::parse(&kind).unwrap_or(FlagKind::Ambiguous),
                    note: r.get(3)?,
                    annotator: r.get(4)?,
                    session: r.get(5)?,
                    created_at: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut standing: Vec<Flag> = Vec::new();
        for f in all {
            if f.kind == FlagKind::Clear {
                standing.retain(|s| s.annotator != f.annotator);
            } else {
                standing.push(f);
            }
        }
        Ok(standing)
    }

    pub fn flag_count(&self) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT count(DISTINCT image) FROM flags WHERE kind <> 'clear'",
            [],
            |r| r.get(0),
        )?)
    }
}

/// One candidate of one image is open for an annotator while they have no standing answer to it.
/// Written as correlated subqueries so that each probe is an index lookup
/// (`judgments_by_item`, `judgments_retracts`, `flags_by_image`).
const OPEN_CANDIDATE: &str = "EXISTS (
    SELECT 1 FROM candidates c WHERE c.image_id = i.id AND NOT EXISTS (
        SELECT 1 FROM judgments j INDEXED BY judgments_by_item
        WHERE j.image = i.key AND j.label = c.label AND j.annotator = ?1
          AND j.answer <> 'retract'
          AND NOT EXISTS (SELECT 1 FROM judgments r WHERE r.retracts = j.id)))";

/// The annotator has a flag standing on the image (not lifted by a later `clear` of theirs).
pub(super) const FLAGGED_BY: &str = "EXISTS (
    SELECT 1 FROM flags f WHERE f.image = i.key AND f.annotator = ?1 AND f.kind <> 'clear'
      AND NOT EXISTS (
        SELECT 1 FROM flags k WHERE k.image = f.image AND k.annotator = f.annotator
          AND k.kind = 'clear' AND (k.created_at, k.id) > (f.created_at, f.id)))";

/// The image is in the annotator's queue: assigned to them, or the file assigns them nothing
/// (then every image is theirs). The first test is uncorrelated, so SQLite runs it once.
pub(super) const IN_QUEUE: &str = "(NOT EXISTS (SELECT 1 FROM assignments WHERE annotator = ?1)
    OR EXISTS (SELECT 1 FROM assignments a WHERE a.annotator = ?1 AND a.image = i.key))";

/// Queries for the annotation queue: where an annotator resumes, and how far they are.
impl Store {
    /// The id of the first image of the annotator's queue in key order, after `after_key` when
    /// given, that has a candidate they have not answered and that they have not flagged. It walks the key index and
    /// stops at the first hit, so its cost grows with the images already done, not with the
    /// project.
    pub fn next_open_image(&self, annotator: &str, after_key: Option<&str>) -> Result<Option<i64>> {
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
    }

    /// How many candidate questions of the annotator's queue they have a standing answer to.
    /// Reads only the annotator's own events (`judgments_by_annotator`).
    pub fn answered_count(&self, annotator: &str) -> Result<u64> {
        Ok(self.conn.query_row(
            &format!(
                "SELECT count(*) FROM (
               SELECT DISTINCT j.image, j.label FROM judgments j INDEXED BY judgments_by_annotator
               WHERE j.annotator = ?1 AND j.answer <> 'retract'
                 AND NOT EXISTS (SELECT 1 FROM judgments r WHERE r.retracts = j.id)) a
             WHERE EXISTS (SELECT 1 FROM images i JOIN candidates c ON c.image_id = i.id
                           WHERE i.key = a.image AND c.label = a.label AND {IN_QUEUE})"
            ),
            [annotator],
            |r| r.get(0),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Vocab;
    use std::path::Path;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let v = Vocab::from_reader("t", Path::new("t"), "key,name\na,A\nb,B\n".as_bytes()).unwrap();
        let s = Store::create(&dir.path().join("p.db"), &v).unwrap();
        (dir, s)
    }

    #[test]
    fn latest_answer_wins_and_retraction_restores_the_previous_one() {
        let (_d, s) = store();
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

    #[test]
    fn inserting_the_same_events_twice_adds_nothing() {
        let (_d, s) = store();
        s.append_answer("img", "a", Answer::Yes, "ann", "s1", None)
            .unwrap();
        let events = s.events().unwrap();
        assert_eq!(s.insert_events(&events).unwrap(), 0);
        assert_eq!(s.events().unwrap(), events);
    }

    #[test]
    fn flags_stand_until_cleared() {
        let (_d, s) = store();
        s.append_flag("img", FlagKind::Broken, "truncated", "ann", "s")
            .unwrap();
        s.append_flag("img", FlagKind::Expert, "", "bob", "s")
            .unwrap();
        assert_eq!(s.flags_for_image("img").unwrap().len(), 2);
        s.append_flag("img", FlagKind::Clear, "", "ann", "s")
            .unwrap();
        let left = s.flags_for_image("img").unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].annotator, "bob");
    }
}
