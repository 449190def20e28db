//! Classify events: the second pass of Tsipras et al. 2020 ("From ImageNet to Image
//! Classification"), kept apart from the yes/no/maybe judgments because one answer is about a
//! whole image, not one (image, label) question.
//!
//! For an image with two or more valid labels, an annotator says which of those labels are
//! present as separate objects (`present`), which one is the main object (`main`, one of
//! `present`) and how many objects the image holds (`objects`). `objects` is only required to be
//! at least 1: it is the annotator's own count, a separate question in the paper, so it is kept as
//! given even when it is below the number of labels ticked (the report reads it as given).
//!
//! It is one kind of the event log (`store::events`), so merging stays a union by id: events are only
//! appended, each with a global id (UUIDv7 from the screen, a stable UUIDv8 from an import);
//! undo appends a retraction naming the event it undoes; an annotator's current answer for an
//! image is their latest answer event that no retraction names, "latest" meaning the greatest
//! (created_at, id). `present` is stored as a JSON array of class keys, sorted and without
//! repeats, so that an answer has exactly one spelling in the file.

use std::collections::HashSet;

use rusqlite::types::ToSqlOutput;
use rusqlite::{Connection, Row};

use super::events::{
    self, Checkout, Column, Event, Kind, Log, OnUndo, Role, Ty, Undo, answer_kind_columns, opt,
};
use super::untrusted::SourceRow;
use super::{Store, new_event_id, now_ms};
use crate::error::{Error, Result};

/// One classify answer: the labels present as separate objects (class keys, sorted, no
/// repeats, never empty), the main object (one of them) and the number of objects (>= 1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClassifyAnswer {
    pub present: Vec<String>,
    pub main: String,
    pub objects: u32,
}

impl ClassifyAnswer {
    /// Puts `present` in its one spelling (sorted, without repeats) and checks the rules that do
    /// not need the vocabulary: `present` non-empty, `main` in it, `objects` at least 1.
    pub fn new(present: &[String], main: &str, objects: u32) -> Result<ClassifyAnswer> {
        let mut present: Vec<String> = present.to_vec();
        present.sort();
        present.dedup();
        if present.is_empty() {
            return Err(Error::msg(
                "a classify answer needs at least one label present",
            ));
        }
        if let Some(empty) = present.iter().find(|p| p.trim().is_empty()) {
            return Err(Error::msg(format!(
                "a classify answer names an empty label `{empty}`"
            )));
        }
        if !present.iter().any(|p| p == main) {
            return Err(Error::msg(format!(
                "the main label `{main}` is not among the labels present ({})",
                present.join(", ")
            )));
        }
        if objects < 1 {
            return Err(Error::msg("the number of objects must be at least 1"));
        }
        Ok(ClassifyAnswer {
            present,
            main: main.to_string(),
            objects,
        })
    }

    /// The stored spelling of `present`: a JSON array of the sorted keys.
    pub fn present_json(&self) -> String {
        present_json(&self.present)
    }
}

fn present_json(present: &[String]) -> String {
    serde_json::to_string(present).expect("a list of strings always serializes")
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClassifyEvent {
    pub id: String,
    pub image: String,
    /// `None` for a retraction.
    pub answer: Option<ClassifyAnswer>,
    pub retracts: Option<String>,
    pub annotator: String,
    pub session: String,
    /// Milliseconds since the Unix epoch, UTC (as judgments).
    pub created_at: i64,
    pub elapsed_ms: Option<i64>,
    pub origin: String,
}

/// How many classify events a project holds and what they amount to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassifyCounts {
    /// Answers and retractions.
    pub events: u64,
    /// Current answers: one per (image, annotator) at most.
    pub current: u64,
    pub images: u64,
    pub annotators: u64,
}

/// An annotator's current classify answer for an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentClassify {
    pub image: String,
    pub annotator: String,
    pub answer: ClassifyAnswer,
    pub event_id: String,
    pub created_at: i64,
}

/// The classify answers' declaration in the event log: a question is an image; an answer is
/// (present, main, objects), all NULL in a retraction, which names the event it undoes.
pub(crate) static CLASSIFY: Kind = Kind {
    table: "classify",
    noun: "classify event",
    plural: "classify answers",
    answer_noun: "a classify answer",
    question_noun: "image",
    columns: answer_kind_columns![
        Column::new("present", Ty::OptText, Role::Payload(OnUndo::Null)),
        Column::new("main", Ty::OptText, Role::Payload(OnUndo::Null)),
        Column::new("objects", Ty::OptInt, Role::Payload(OnUndo::Null)),
    ],
    undo: Undo::Retracts,
    by_question: "classify_by_item",
    candidate: None,
    check: check_answer,
    log: Log {
        new: "new_classify",
        duplicate: Some("duplicate_classify"),
        answers: false,
    },
    checkout: Checkout::Own,
};

impl Event for ClassifyEvent {
    const KIND: &'static Kind = &CLASSIFY;

    fn values(&self) -> Vec<ToSqlOutput<'_>> {
        let a = self.answer.as_ref();
        vec![
            self.id.as_str().into(),
            self.image.as_str().into(),
            opt(a.map(ClassifyAnswer::present_json)),
            opt(a.map(|a| a.main.as_str())),
            opt(a.map(|a| i64::from(a.objects))),
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

    fn from_row(r: &Row<'_>) -> rusqlite::Result<ClassifyEvent> {
        let present: Option<String> = r.get(2)?;
        let main: Option<String> = r.get(3)?;
        let objects: Option<i64> = r.get(4)?;
        let answer = match (present, main, objects) {
            (Some(p), Some(main), Some(objects)) => Some(ClassifyAnswer {
                present: parse_present(&p).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        2,
                        rusqlite::types::Type::Text,
                        e.into(),
                    )
                })?,
                main,
                objects: u32::try_from(objects).unwrap_or(u32::MAX),
            }),
            _ => None,
        };
        Ok(ClassifyEvent {
            id: r.get(0)?,
            image: r.get(1)?,
            answer,
            retracts: r.get(5)?,
            annotator: r.get(6)?,
            session: r.get(7)?,
            created_at: r.get(8)?,
            elapsed_ms: r.get(9)?,
            origin: r.get(10)?,
        })
    }
}

fn parse_present(text: &str) -> std::result::Result<Vec<String>, String> {
    serde_json::from_str::<Vec<String>>(text)
        .map_err(|e| format!("present `{text}` is not a JSON list of class keys: {e}"))
}

/// Inserts events that are not there yet (by id). Returns how many were new.
pub use super::events::insert as insert_classify_events;

/// Every annotator's current classify answer, ordered by (image, annotator).
pub fn current_classify_answers(conn: &Connection) -> Result<Vec<CurrentClassify>> {
    events::current(
        conn,
        &CLASSIFY,
        "image, annotator, present, main, objects, created_at",
        |r| {
            let id: String = r.get(0)?;
            let present = parse_present(&r.get::<_, String>(3)?)
                .map_err(|e| Error::msg(format!("classify event {id}: {e}")))?;
            let objects: i64 = r.get(5)?;
            Ok(CurrentClassify {
                image: r.get(1)?,
                annotator: r.get(2)?,
                answer: ClassifyAnswer {
                    present,
                    main: r.get(4)?,
                    objects: u32::try_from(objects).unwrap_or(u32::MAX),
                },
                event_id: id,
                created_at: r.get(6)?,
            })
        },
        |a, b| a.image == b.image && a.annotator == b.annotator,
    )
}

impl Store {
    /// Records one classify answer and commits it before returning. `present` and `main` are
    /// class keys of the project's vocabulary; `present` may come in any order (it is stored
    /// sorted, without repeats). Refused, with nothing written, when `present` is empty, a label
    /// is not a class of the project, `main` is not in `present`, or `objects` is 0.
    #[allow(clippy::too_many_arguments)]
    pub fn append_classify(
        &self,
        image: &str,
        annotator: &str,
        session: &str,
        present: &[String],
        main: &str,
        objects: u32,
        elapsed_ms: Option<i64>,
    ) -> Result<ClassifyEvent> {
        self.named(|| {
            let answer = ClassifyAnswer::new(present, main, objects)?;
            for label in &answer.present {
                if !self.is_class(label)? {
                    return Err(Error::msg(format!(
                        "`{label}` is not a class of the project's vocabulary"
                    )));
                }
            }
            if annotator.trim().is_empty() {
                return Err(Error::msg("a classify answer needs an annotator"));
            }
            let e = ClassifyEvent {
                id: new_event_id(),
                image: image.to_string(),
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

    /// Undoes the annotator's current classify answer on the image by appending a retraction
    /// of it (committed before returning); their answer before it, if any, becomes current
    /// again. Returns the retraction, or `None` when they have no current answer there.
    pub fn retract_classify(
        &self,
        image: &str,
        annotator: &str,
        session: &str,
    ) -> Result<Option<ClassifyEvent>> {
        self.named(|| {
            let Some(target) = self.current_classify(image, annotator)? else {
                return Ok(None);
            };
            let mut undo = events::retract(self, &[(&target.id, "annotate")], session)?;
            Ok(Some(undo.remove(0)))
        })
    }

    /// The annotator's current classify answer for the image (the event that gave it).
    pub fn current_classify(&self, image: &str, annotator: &str) -> Result<Option<ClassifyEvent>> {
        self.named(|| {
            let theirs: Vec<ClassifyEvent> = events::select(
                &self.conn,
                "image = ?1 AND annotator = ?2",
                [image, annotator],
            )?;
            Ok(events::standing(
                &theirs,
                |_| (),
                |e| e.retracts.as_deref().map(Some),
                |e| &e.id,
            )
            .pop())
        })
    }

    /// Every annotator's current classify answer, ordered by (image, annotator).
    pub fn current_classify_answers(&self) -> Result<Vec<CurrentClassify>> {
        self.named(|| current_classify_answers(&self.conn))
    }

    /// The images the annotator has a current classify answer for.
    pub fn classify_answered_images(&self, annotator: &str) -> Result<HashSet<String>> {
        self.named(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT DISTINCT c.image FROM classify c INDEXED BY classify_by_annotator
                 WHERE c.annotator = ?1 AND c.retracts IS NULL
                   AND NOT EXISTS (SELECT 1 FROM classify r WHERE r.retracts = c.id)",
            )?;
            let rows = stmt
                .query_map([annotator], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    pub fn classify_counts(&self) -> Result<ClassifyCounts> {
        self.named(|| {
            let events: u64 = self
                .conn
                .query_row("SELECT count(*) FROM classify", [], |r| r.get(0))?;
            if events == 0 {
                return Ok(ClassifyCounts::default());
            }
            let current = self.current_classify_answers()?;
            let count = |f: fn(&CurrentClassify) -> &str| {
                let mut v: Vec<&str> = current.iter().map(f).collect();
                v.sort_unstable();
                v.dedup();
                v.len() as u64
            };
            Ok(ClassifyCounts {
                events,
                current: current.len() as u64,
                images: count(|c| c.image.as_str()),
                annotators: count(|c| c.annotator.as_str()),
            })
        })
    }

    /// Every classify event, answers and retractions, oldest first.
    pub fn classify_events(&self) -> Result<Vec<ClassifyEvent>> {
        self.named(|| events::select(&self.conn, "1", []))
    }

    pub fn insert_classify_events<'a>(
        &self,
        events: impl IntoIterator<Item = &'a ClassifyEvent>,
    ) -> Result<u64> {
        self.named(|| events::insert(&self.conn, events))
    }
}

/// The checks of one classify answer read from a source: `present` in its one spelling, every
/// label a class of the target, `main` among them, `objects` at least 1.
fn check_answer(row: &SourceRow<'_, '_>, classes: &super::events::ClassNumbers) -> Result<()> {
    let (present, main, objects) = (row.text(2)?, row.text(3)?, row.int(4)?);
    let bad = |why: String| row.refuse(format!("(image {}): {why}", row.text(1).unwrap_or("?")));
    let labels = parse_present(present).map_err(bad)?;
    if labels.is_empty() {
        return Err(bad("no label is present".into()));
    }
    if labels.windows(2).any(|w| w[0] >= w[1]) || present_json(&labels) != present {
        return Err(bad(format!(
            "present `{present}` is not a sorted list of distinct class keys"
        )));
    }
    if let Some(l) = labels.iter().find(|l| !classes.contains_key(l.as_str())) {
        return Err(bad(format!(
            "label `{l}` is not a class of the target's vocabulary"
        )));
    }
    if !labels.iter().any(|l| l == main) {
        return Err(bad(format!(
            "the main label `{main}` is not among the labels present"
        )));
    }
    if objects < 1 || objects > i64::from(u32::MAX) {
        return Err(bad(format!(
            "{objects} objects is not a count of at least 1"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::merge::Counts;
    use crate::store::test_store;

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn latest_answer_is_current_and_retraction_restores_the_previous_one() {
        let (_d, s) = test_store(&["a", "b", "c"]);
        let first = s
            .append_classify("img", "ann", "s1", &keys(&["b", "a"]), "a", 2, Some(1200))
            .unwrap();
        assert_eq!(first.answer.as_ref().unwrap().present, keys(&["a", "b"]));
        let second = s
            .append_classify("img", "ann", "s1", &keys(&["c"]), "c", 1, None)
            .unwrap();
        s.append_classify("img", "bob", "s2", &keys(&["a"]), "a", 3, None)
            .unwrap();
        assert_eq!(
            s.current_classify("img", "ann").unwrap().unwrap().id,
            second.id
        );
        let cur = s.current_classify_answers().unwrap();
        assert_eq!(cur.len(), 2);
        assert_eq!(
            (cur[0].annotator.as_str(), cur[0].answer.objects),
            ("ann", 1)
        );

        let undo = s.retract_classify("img", "ann", "s1").unwrap().unwrap();
        assert_eq!(undo.retracts.as_deref(), Some(second.id.as_str()));
        assert_eq!(
            s.current_classify("img", "ann").unwrap().unwrap(),
            first,
            "the earlier answer is current again"
        );
        assert!(s.classify_answered_images("ann").unwrap().contains("img"));
        s.retract_classify("img", "ann", "s1").unwrap().unwrap();
        assert_eq!(s.current_classify("img", "ann").unwrap(), None);
        assert!(s.retract_classify("img", "ann", "s1").unwrap().is_none());
        assert!(s.classify_answered_images("ann").unwrap().is_empty());
        assert_eq!(s.current_classify_answers().unwrap().len(), 1);
        assert_eq!(s.classify_events().unwrap().len(), 5, "nothing is deleted");
        let counts = s.classify_counts().unwrap();
        assert_eq!(
            (
                counts.events,
                counts.current,
                counts.images,
                counts.annotators
            ),
            (5, 1, 1, 1)
        );
    }

    #[test]
    fn bad_answers_are_refused_and_write_nothing() {
        let (_d, s) = test_store(&["a", "b", "c"]);
        let cases: [(&[&str], &str, u32, &str); 4] = [
            (&[], "a", 1, "at least one label"),
            (&["a", "b"], "c", 2, "not among the labels present"),
            (&["a", "zzz"], "a", 2, "`zzz` is not a class"),
            (&["a"], "a", 0, "at least 1"),
        ];
        for (present, main, objects, msg) in cases {
            let err = s
                .append_classify("img", "ann", "s", &keys(present), main, objects, None)
                .unwrap_err()
                .to_string();
            assert!(err.contains(msg), "{err}");
        }
        assert!(s.classify_events().unwrap().is_empty());
    }

    #[test]
    fn inserting_the_same_events_twice_adds_nothing() {
        let (_d, s) = test_store(&["a", "b", "c"]);
        s.append_classify("img", "ann", "s", &keys(&["a", "b"]), "b", 2, None)
            .unwrap();
        s.retract_classify("img", "ann", "s").unwrap();
        let events = s.classify_events().unwrap();
        assert_eq!(s.insert_classify_events(&events).unwrap(), 0);
        assert_eq!(s.classify_events().unwrap(), events);
    }

    #[test]
    fn a_schema_2_project_opens_migrated_with_its_merge_log_kept() {
        let (dir, s) = test_store(&["a", "b", "c"]);
        let path = dir.path().join("p.db");
        drop(s);
        {
            // What labelvet's second schema wrote: no classify table, migration 2's merge log
            // (with one row in it).
            let m2 = super::super::schema::MIGRATIONS[1];
            let merge_log = &m2[m2.find("CREATE TABLE merge_log").unwrap()..];
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(&format!(
                "DROP TABLE classify; DROP TABLE gold; DROP TABLE verdicts;
                 DROP INDEX candidates_by_label; DROP TABLE image_blobs;
                 DROP TABLE answer_tally; DROP TABLE answer_tally_stamp;
                 DROP TABLE merge_log; {merge_log}
                 INSERT INTO merge_log(merged_at, source_file, source_uuid, source_schema,
                     annotators, new_events, duplicate_events, new_flags, new_images, new_models,
                     new_predictions, conflicts_kept)
                   VALUES ('t', 'a.db', 'u', 2, '{{\"ann\":3}}', 3, 0, 0, 0, 0, 0, 0);
                 CREATE INDEX predictions_by_model ON predictions(model_id);
                 UPDATE meta SET value = '2' WHERE key = 'schema_version';
                 PRAGMA user_version = 2;"
            ))
            .unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(
            s.meta().unwrap().schema_version,
            super::super::schema::SCHEMA_VERSION
        );
        let log = s.merge_log().unwrap();
        assert_eq!(
            (
                log[0].events.get("judgments"),
                log[0].events.get("classify").new
            ),
            (
                Counts {
                    new: 3,
                    duplicate: 0
                },
                0
            )
        );
        s.append_classify("img", "ann", "s", &keys(&["a", "b"]), "a", 2, None)
            .unwrap();
        assert_eq!(s.current_classify_answers().unwrap().len(), 1);
    }

    #[test]
    fn the_schema_refuses_half_answers() {
        let (_d, s) = test_store(&["a", "b", "c"]);
        let bad = [
            // an answer without a main label
            "INSERT INTO classify(id, image, present, objects, annotator, session, created_at)
             VALUES ('x', 'i', '[\"a\"]', 1, 'a', 's', 0)",
            // a retraction carrying an answer
            "INSERT INTO classify(id, image, present, main, objects, retracts, annotator,
                                  session, created_at)
             VALUES ('x', 'i', '[\"a\"]', 'a', 1, 'y', 'a', 's', 0)",
            // no objects
            "INSERT INTO classify(id, image, present, main, objects, annotator, session,
                                  created_at)
             VALUES ('x', 'i', '[\"a\"]', 'a', 0, 'a', 's', 0)",
            // present not a list
            "INSERT INTO classify(id, image, present, main, objects, annotator, session,
                                  created_at)
             VALUES ('x', 'i', 'a', 'a', 1, 'a', 's', 0)",
        ];
        for sql in bad {
            assert!(s.conn().execute(sql, []).is_err(), "{sql}");
        }
    }
}
