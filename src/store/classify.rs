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
//! The table follows the judgments' rules, so merging stays a union by id: events are only
//! appended, each with a global id (UUIDv7 from the screen, a stable UUIDv8 from an import);
//! undo appends a retraction naming the event it undoes; an annotator's current answer for an
//! image is their latest answer event that no retraction names, "latest" meaning the greatest
//! (created_at, id). `present` is stored as a JSON array of class keys, sorted and without
//! repeats, so that an answer has exactly one spelling in the file.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::merge::SourceReport;
use super::untrusted::{SourceFile, describe, refused};
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

const COLUMNS: &str = "id, image, present, main, objects, retracts, annotator, session, created_at, elapsed_ms, origin";

fn event_from_row(r: &Row<'_>) -> rusqlite::Result<ClassifyEvent> {
    let present: Option<String> = r.get(2)?;
    let main: Option<String> = r.get(3)?;
    let objects: Option<i64> = r.get(4)?;
    let answer = match (present, main, objects) {
        (Some(p), Some(main), Some(objects)) => Some(ClassifyAnswer {
            present: parse_present(&p).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, e.into())
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

fn parse_present(text: &str) -> std::result::Result<Vec<String>, String> {
    serde_json::from_str::<Vec<String>>(text)
        .map_err(|e| format!("present `{text}` is not a JSON list of class keys: {e}"))
}

/// Inserts events that are not there yet (by id). Returns how many were new.
pub fn insert_classify_events<'a>(
    conn: &Connection,
    events: impl IntoIterator<Item = &'a ClassifyEvent>,
) -> Result<u64> {
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT OR IGNORE INTO classify({COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?;
    let mut added = 0;
    for e in events {
        let (present, main, objects) = match &e.answer {
            Some(a) => (
                Some(a.present_json()),
                Some(a.main.as_str()),
                Some(a.objects),
            ),
            None => (None, None, None),
        };
        added += stmt.execute(params![
            e.id,
            e.image,
            present,
            main,
            objects,
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

/// Every annotator's current classify answer, ordered by (image, annotator).
pub fn current_classify_answers(conn: &Connection) -> Result<Vec<CurrentClassify>> {
    let retracted: HashSet<String> = conn
        .prepare("SELECT retracts FROM classify WHERE retracts IS NOT NULL")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt = conn.prepare(
        "SELECT id, image, annotator, present, main, objects, created_at FROM classify
         WHERE retracts IS NULL ORDER BY image, annotator, created_at, id",
    )?;
    let mut rows = stmt.query([])?;
    let mut out: Vec<CurrentClassify> = Vec::new();
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        if retracted.contains(&id) {
            continue;
        }
        let image: String = r.get(1)?;
        let annotator: String = r.get(2)?;
        let present = parse_present(&r.get::<_, String>(3)?)
            .map_err(|e| Error::msg(format!("classify event {id}: {e}")))?;
        let objects: i64 = r.get(5)?;
        let answer = ClassifyAnswer {
            present,
            main: r.get(4)?,
            objects: u32::try_from(objects).unwrap_or(u32::MAX),
        };
        let created_at: i64 = r.get(6)?;
        // Rows come oldest first within an (image, annotator), so a later row replaces.
        if let Some(last) = out.last_mut()
            && last.image == image
            && last.annotator == annotator
        {
            last.answer = answer;
            last.event_id = id;
            last.created_at = created_at;
            continue;
        }
        out.push(CurrentClassify {
            image,
            annotator,
            answer,
            event_id: id,
            created_at,
        });
    }
    Ok(out)
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
        let answer = ClassifyAnswer::new(present, main, objects)?;
        let mut known = self
            .conn
            .prepare_cached("SELECT 1 FROM classes WHERE key = ?1")?;
        for label in &answer.present {
            if !known.exists([label])? {
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
        insert_classify_events(&self.conn, [&e]).map_err(|err| match err {
            Error::Sqlite(s) => self.locked_or(s),
            e => e,
        })?;
        Ok(e)
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
        let Some(target) = self.current_classify(image, annotator)? else {
            return Ok(None);
        };
        let e = ClassifyEvent {
            id: new_event_id(),
            image: target.image.clone(),
            answer: None,
            retracts: Some(target.id.clone()),
            annotator: target.annotator.clone(),
            session: session.to_string(),
            created_at: now_ms().max(target.created_at),
            elapsed_ms: None,
            origin: "annotate".into(),
        };
        insert_classify_events(&self.conn, [&e]).map_err(|err| match err {
            Error::Sqlite(s) => self.locked_or(s),
            e => e,
        })?;
        Ok(Some(e))
    }

    /// The annotator's current classify answer for the image (the event that gave it).
    pub fn current_classify(&self, image: &str, annotator: &str) -> Result<Option<ClassifyEvent>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM classify c INDEXED BY classify_by_item
             WHERE c.image = ?1 AND c.annotator = ?2 AND c.retracts IS NULL
               AND NOT EXISTS (SELECT 1 FROM classify r WHERE r.retracts = c.id)
             ORDER BY c.created_at DESC, c.id DESC LIMIT 1"
        ))?;
        Ok(stmt
            .query_row(params![image, annotator], event_from_row)
            .optional()?)
    }

    /// Every annotator's current classify answer, ordered by (image, annotator).
    pub fn current_classify_answers(&self) -> Result<Vec<CurrentClassify>> {
        current_classify_answers(&self.conn)
    }

    /// The images the annotator has a current classify answer for.
    pub fn classify_answered_images(&self, annotator: &str) -> Result<HashSet<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT c.image FROM classify c INDEXED BY classify_by_annotator
             WHERE c.annotator = ?1 AND c.retracts IS NULL
               AND NOT EXISTS (SELECT 1 FROM classify r WHERE r.retracts = c.id)",
        )?;
        let rows = stmt
            .query_map([annotator], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    pub fn classify_counts(&self) -> Result<ClassifyCounts> {
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
    }

    /// Every classify event, answers and retractions, oldest first.
    pub fn classify_events(&self) -> Result<Vec<ClassifyEvent>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM classify ORDER BY created_at, id"
        ))?;
        let rows = stmt
            .query_map([], event_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn insert_classify_events<'a>(
        &self,
        events: impl IntoIterator<Item = &'a ClassifyEvent>,
    ) -> Result<u64> {
        insert_classify_events(&self.conn, events)
    }
}

/// Copies the project's classify events into a checkout being built (`main` is the new file,
/// `project` the attached project): every annotator's with `with_answers`, else the
/// annotator's own. Returns how many were copied.
pub(super) fn copy_to_checkout(
    tx: &Transaction<'_>,
    with_answers: bool,
    annotator: &str,
) -> Result<u64> {
    Ok(tx.execute(
        &format!(
            "INSERT INTO main.classify({COLUMNS}) SELECT {COLUMNS} FROM project.classify
             WHERE ?1 OR annotator = ?2"
        ),
        params![with_answers, annotator],
    )? as u64)
}

/// Merges one source's classify events into the target, by id, under the same rules as the
/// judgments (see `store::merge`): each must name an image the target has after the merge
/// (`images`) and only classes of the target (`classes`), with `present` in its one spelling,
/// `main` in `present` and `objects` at least 1; a retraction must undo a classify answer of
/// the same annotator on the same image; an id on both sides with different content is refused.
pub(super) fn merge_source(
    tx: &Transaction<'_>,
    src: &SourceFile,
    target_path: &Path,
    images: &HashMap<String, (i64, Option<String>)>,
    classes: &HashMap<String, u32>,
    r: &mut SourceReport,
) -> Result<()> {
    let path = src.path.as_path();
    let sq = |e: rusqlite::Error| refused(path, describe(&e));
    let mut stmt = src
        .conn
        .prepare(&format!("SELECT {COLUMNS} FROM classify"))
        .map_err(sq)?;
    let mut rows = stmt.query([]).map_err(sq)?;
    let mut insert = tx.prepare_cached(&format!(
        "INSERT OR IGNORE INTO classify({COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?;
    let mut existing =
        tx.prepare_cached(&format!("SELECT {COLUMNS} FROM classify WHERE id = ?1"))?;
    // (retraction id, retracted id, image, annotator), checked once every event is in.
    let mut retractions: Vec<[String; 4]> = Vec::new();
    while let Some(row) = rows.next().map_err(sq)? {
        let v = Values { path, row };
        let id = v.event_id(0)?;
        let image = v.text(1)?;
        let present = v.opt_text(2)?;
        let main = v.opt_text(3)?;
        let objects = v.opt_int(4)?;
        let retracts = v.opt_text(5)?;
        let annotator = v.text(6)?;
        if annotator.trim().is_empty() {
            return Err(v.bad(6, "is empty"));
        }
        v.text(7)?;
        v.int(8)?;
        v.opt_int(9)?;
        v.text(10)?;
        if !images.contains_key(image) {
            return Err(refused(
                path,
                format!(
                    "classify event {id} names image `{image}`, which is neither in {} nor in \
                     the source's images",
                    target_path.display()
                ),
            ));
        }
        match (present, main, objects, retracts) {
            (Some(present), Some(main), Some(objects), None) => {
                check_answer(path, id, image, present, main, objects, classes)?;
            }
            (None, None, None, Some(t)) => retractions.push([
                id.to_string(),
                t.to_string(),
                image.to_string(),
                annotator.to_string(),
            ]),
            _ => {
                return Err(refused(
                    path,
                    format!(
                        "classify event {id}: an answer has present, main and objects and no \
                         retracts; a retraction has only retracts"
                    ),
                ));
            }
        }
        let mut values = Vec::with_capacity(11);
        for i in 0..11 {
            values.push(row.get_ref(i).map_err(sq)?);
        }
        let params = values.iter().map(|v| ToSqlOutput::Borrowed(*v));
        if insert.execute(rusqlite::params_from_iter(params))? == 1 {
            r.new_classify += 1;
            continue;
        }
        r.duplicate_classify += 1;
        let same = existing.query_row([id], |t| {
            for (i, v) in values.iter().enumerate().skip(1) {
                if t.get_ref(i)? != *v {
                    return Ok(false);
                }
            }
            Ok(true)
        })?;
        if !same {
            return Err(refused(
                path,
                format!(
                    "classify event {id} is also in {} with different content; one of the two \
                     files was altered",
                    target_path.display()
                ),
            ));
        }
    }
    let mut undone =
        tx.prepare_cached("SELECT image, annotator, retracts FROM classify WHERE id = ?1")?;
    for [id, target, image, annotator] in &retractions {
        let found: Option<(String, String, Option<String>)> = undone
            .query_row([target], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        match found {
            None => {
                return Err(refused(
                    path,
                    format!(
                        "classify event {id} retracts event {target}, which is in neither file"
                    ),
                ));
            }
            Some((i, a, None)) if i == *image && a == *annotator => {}
            Some(_) => {
                return Err(refused(
                    path,
                    format!(
                        "classify event {id} by {annotator} retracts event {target}, which is \
                         not a classify answer of theirs to the same image"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The checks of one classify answer read from a source.
fn check_answer(
    path: &Path,
    id: &str,
    image: &str,
    present: &str,
    main: &str,
    objects: i64,
    classes: &HashMap<String, u32>,
) -> Result<()> {
    let bad = |why: String| refused(path, format!("classify event {id} (image {image}): {why}"));
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

/// Records a merged source's classify counts on its merge-log row (just written).
pub(super) fn log_merge(tx: &Transaction<'_>, r: &SourceReport) -> Result<()> {
    tx.execute(
        "UPDATE merge_log SET new_classify = ?1, duplicate_classify = ?2
         WHERE id = last_insert_rowid()",
        params![r.new_classify, r.duplicate_classify],
    )?;
    Ok(())
}

/// Typed access to one source row (SQLite does not enforce declared types, so a crafted file
/// could hold anything in any column); a wrong value is named with its column.
struct Values<'a, 'r> {
    path: &'a Path,
    row: &'a Row<'r>,
}

impl<'a> Values<'a, '_> {
    fn get(&self, i: usize) -> Result<ValueRef<'a>> {
        self.row
            .get_ref(i)
            .map_err(|e| refused(self.path, describe(&e)))
    }

    fn bad(&self, i: usize, what: &str) -> Error {
        let column = self.row.as_ref().column_name(i).unwrap_or("?").to_string();
        let id = match self.row.get_ref(0) {
            Ok(ValueRef::Text(t)) => String::from_utf8_lossy(t).into_owned(),
            _ => "?".into(),
        };
        refused(
            self.path,
            format!("classify row {id}: column {column} {what}"),
        )
    }

    fn text(&self, i: usize) -> Result<&'a str> {
        match self.get(i)? {
            ValueRef::Text(t) => {
                std::str::from_utf8(t).map_err(|_| self.bad(i, "is not valid UTF-8"))
            }
            _ => Err(self.bad(i, "is not text")),
        }
    }

    fn opt_text(&self, i: usize) -> Result<Option<&'a str>> {
        match self.get(i)? {
            ValueRef::Null => Ok(None),
            _ => self.text(i).map(Some),
        }
    }

    fn int(&self, i: usize) -> Result<i64> {
        match self.get(i)? {
            ValueRef::Integer(n) => Ok(n),
            _ => Err(self.bad(i, "is not an integer")),
        }
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match self.get(i)? {
            ValueRef::Null => Ok(None),
            _ => self.int(i).map(Some),
        }
    }

    /// A UUID in its canonical lowercase hyphenated form, so one event cannot come in twice
    /// under two spellings of its id.
    fn event_id(&self, i: usize) -> Result<&'a str> {
        let id = self.text(i)?;
        let canonical = uuid::Uuid::try_parse(id).is_ok_and(|u| {
            let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
            u.hyphenated().encode_lower(&mut buf) == id
        });
        if !canonical {
            return Err(self.bad(i, "is not a lowercase hyphenated UUID"));
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Vocab;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let v = Vocab::from_reader("t", Path::new("t"), "key,name\na,A\nb,B\nc,C\n".as_bytes())
            .unwrap();
        let s = Store::create(&dir.path().join("p.db"), &v).unwrap();
        (dir, s)
    }

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn latest_answer_is_current_and_retraction_restores_the_previous_one() {
        let (_d, s) = store();
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
        let (_d, s) = store();
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
        let (_d, s) = store();
        s.append_classify("img", "ann", "s", &keys(&["a", "b"]), "b", 2, None)
            .unwrap();
        s.retract_classify("img", "ann", "s").unwrap();
        let events = s.classify_events().unwrap();
        assert_eq!(s.insert_classify_events(&events).unwrap(), 0);
        assert_eq!(s.classify_events().unwrap(), events);
    }

    #[test]
    fn a_schema_2_project_opens_migrated_with_its_merge_log_kept() {
        let (dir, s) = store();
        let path = dir.path().join("p.db");
        drop(s);
        {
            // What labelvet's second schema wrote: no classify table, migration 2's merge log
            // (with one row in it).
            let m2 = super::super::schema::MIGRATIONS[1];
            let merge_log = &m2[m2.find("CREATE TABLE merge_log").unwrap()..];
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(&format!(
                "DROP TABLE classify; DROP TABLE merge_log; {merge_log}
                 INSERT INTO merge_log(merged_at, source_file, source_uuid, source_schema,
                     annotators, new_events, duplicate_events, new_flags, new_images, new_models,
                     new_predictions, conflicts_kept)
                   VALUES ('t', 'a.db', 'u', 2, '{{\"ann\":3}}', 3, 0, 0, 0, 0, 0, 0);
                 UPDATE meta SET value = '2' WHERE key = 'schema_version';
                 PRAGMA user_version = 2;"
            ))
            .unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.meta().unwrap().schema_version, 3);
        let log = s.merge_log().unwrap();
        assert_eq!((log[0].new_events, log[0].new_classify), (3, 0));
        s.append_classify("img", "ann", "s", &keys(&["a", "b"]), "a", 2, None)
            .unwrap();
        assert_eq!(s.current_classify_answers().unwrap().len(), 1);
    }

    #[test]
    fn the_schema_refuses_half_answers() {
        let (_d, s) = store();
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
