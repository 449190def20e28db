//! The questions a filtered annotation queue asks (`labelvet annotate --class`, `--subtree`,
//! `--disputed`, ...).
//!
//! A selection is computed once into a temporary table of (image id, label) on the
//! session's own connection: the annotator's progress, resume point and open counts are read
//! against it with index probes, and only the selected image ids come back to the session.
//! Answer-based filters need every question's current answers across annotators: without a
//! class they read the project's tally of them (`store::tally`, one row per answered question,
//! in the candidates' order), which the selection rebuilds first when it is stale (the only
//! write to the project file a selection makes); with `--class`/`--subtree` they fold the
//! answers to those classes in memory by the event log's rule.

use std::collections::HashSet;

use rusqlite::params;

use super::events::{self, str_at};
use super::flags::FLAGGED_BY;
use super::judgments::{IN_QUEUE, JUDGMENTS, STANDING_OF_ANNOTATOR};
use super::tally::{self, Tally};
use super::{Answer, Store};
use crate::error::Result;

/// SQLite could not write the file just now: another process holds its lock, the file is
/// read-only to this user, or the disk is full.
fn cannot_write_now(e: &rusqlite::Error) -> bool {
    super::is_busy(e)
        || matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::DiskFull)
        )
}

/// Which candidate questions of the annotator's queue a session asks. Every filter given must
/// hold; `None`/`false` filters nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueueFilter {
    /// Only questions about one of these class keys.
    pub labels: Option<Vec<String>>,
    /// Only images whose original label is one of these class keys.
    pub original_labels: Option<Vec<String>>,
    /// Only questions whose current answers include both a yes and a no.
    pub disputed: bool,
    /// Only questions with a yes or a no whose selection frequency yes/(yes+no) is in [lo, hi].
    pub uncertain: Option<(f64, f64)>,
    /// Only questions with fewer than this many current answers (yes, no or maybe) overall.
    pub needs: Option<u32>,
    /// Count each image's current answers (for ordering by fewest answers) even when no filter
    /// reads them.
    pub count_answers: bool,
    /// Leave out these (image key, class key) questions: those a stopping rule (`--until`)
    /// settles, decided above the store from everyone's answers.
    pub settled: Option<Vec<(String, String)>>,
}

impl QueueFilter {
    fn reads_answers(&self) -> bool {
        self.disputed || self.uncertain.is_some() || self.needs.is_some() || self.count_answers
    }

    /// Whether a question with these current answers (yes, no, and all) passes the answer
    /// filters: `--disputed` wants a yes and a no, `--uncertain LO..HI` a yes or a no and
    /// yes / (yes + no) within [LO, HI], `--needs K` fewer than K answers.
    fn passes(&self, yes: i64, no: i64, total: i64) -> bool {
        (!self.disputed || yes > 0 && no > 0)
            && self.uncertain.is_none_or(|(lo, hi)| {
                yes + no > 0 && (lo..=hi).contains(&(yes as f64 / (yes + no) as f64))
            })
            && self.needs.is_none_or(|k| total < i64::from(k))
    }

    /// Whether a question nobody has answered passes the answer filters.
    fn unanswered_pass(&self) -> bool {
        self.passes(0, 0, 0)
    }
}

/// One image of a selection, in key order.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueImage {
    pub id: i64,
    pub key: String,
    /// Selected questions on the image.
    pub questions: u64,
    /// Current answers, all annotators together, to those questions (0 unless counted).
    pub answers: u64,
}

/// One answered question of the fold of the current answers: its positions in the table's
/// image and label lists, and its current answers counted.
struct QuestionStat {
    image: u32,
    label: u32,
    tally: Tally,
}

/// Where a selection finds each answered question's current answers, in (image key, label)
/// order.
enum Answers {
    /// The event log's fold, made for this selection: when `--class` narrows it to a few
    /// classes, or when the tally was stale (and has been rebuilt from it).
    Folded(Folded),
    /// The project's current tally (`store::tally`).
    Tally,
}

/// The fold's answered questions, counted, with its lists of image keys and labels.
struct Folded {
    images: Vec<String>,
    labels: Vec<String>,
    stats: Vec<QuestionStat>,
    /// Where [`Folded::find`] goes on from.
    next: usize,
}

impl Folded {
    fn question(&self, s: &QuestionStat) -> (&str, &str) {
        (
            self.images[s.image as usize].as_str(),
            self.labels[s.label as usize].as_str(),
        )
    }

    /// The answers of question (`image`, `label`) if it has any; asked in increasing order, so
    /// each is a comparison with the next folded question, not a look-up.
    fn find(&mut self, image: &str, label: &str) -> Option<Tally> {
        while self.next < self.stats.len() && self.question(&self.stats[self.next]) < (image, label)
        {
            self.next += 1;
        }
        let s = self.stats.get(self.next)?;
        (self.question(s) == (image, label)).then_some(s.tally)
    }
}

/// The answers a walk over the candidates meets, in the candidates' (image key, label) order.
enum Walk<'s> {
    Tally(TallyCursor<'s>),
    Folded(Folded),
}

impl Walk<'_> {
    fn find(&mut self, image: &str, label: &str) -> Result<Option<Tally>> {
        match self {
            Walk::Tally(c) => c.find(image, label),
            Walk::Folded(f) => Ok(f.find(image, label)),
        }
    }
}

/// The tally's rows, read in (image, label) order as the candidates are walked in that order.
struct TallyCursor<'s> {
    rows: rusqlite::Rows<'s>,
    image: String,
    label: String,
    tally: Tally,
    done: bool,
}

impl<'s> TallyCursor<'s> {
    fn new(rows: rusqlite::Rows<'s>) -> Result<TallyCursor<'s>> {
        let mut c = TallyCursor {
            rows,
            image: String::new(),
            label: String::new(),
            tally: Tally::default(),
            done: false,
        };
        c.advance()?;
        Ok(c)
    }

    fn advance(&mut self) -> Result<()> {
        match self.rows.next()? {
            Some(r) => {
                self.image.clear();
                self.image.push_str(str_at(r, 0)?);
                self.label.clear();
                self.label.push_str(str_at(r, 1)?);
                self.tally = Tally {
                    yes: r.get(2)?,
                    no: r.get(3)?,
                    maybe: r.get(4)?,
                };
            }
            None => self.done = true,
        }
        Ok(())
    }

    /// The tally of question (`image`, `label`) if it has answers; asked in increasing order.
    fn find(&mut self, image: &str, label: &str) -> Result<Option<Tally>> {
        while !self.done && (self.image.as_str(), self.label.as_str()) < (image, label) {
            self.advance()?;
        }
        Ok((!self.done && self.image == image && self.label == label).then_some(self.tally))
    }
}

/// The tally's rows, in key order.
const TALLY_ROWS: &str =
    "SELECT image, label, yes, no, maybe FROM answer_tally ORDER BY image, label";

/// The annotator has a standing answer to question (`i.key`, `q.label`).
const ANSWERED: &str = "EXISTS (
    SELECT 1 FROM judgments j INDEXED BY judgments_by_item
    WHERE j.image = i.key AND j.label = q.label AND j.annotator = ?1 AND j.answer <> 'retract'
      AND NOT EXISTS (SELECT 1 FROM judgments r WHERE r.retracts = j.id))";

/// Selected questions to `temp.lv_queue`, [`SelectionWriter::ROWS`] to a statement: a
/// `--needs` selection writes a million of them, and a statement each took about a tenth of
/// its time more (1.18 M questions, 2.6 M answers).
struct SelectionWriter<'c> {
    full: rusqlite::Statement<'c>,
    conn: &'c rusqlite::Connection,
    batch: Vec<rusqlite::types::Value>,
}

impl<'c> SelectionWriter<'c> {
    const ROWS: usize = 64;

    fn new(conn: &'c rusqlite::Connection) -> Result<Self> {
        Ok(SelectionWriter {
            full: conn.prepare(&Self::sql(Self::ROWS))?,
            conn,
            batch: Vec::with_capacity(3 * Self::ROWS),
        })
    }

    fn sql(rows: usize) -> String {
        format!(
            "INSERT INTO temp.lv_queue(image_id, label, total) VALUES {}",
            vec!["(?, ?, ?)"; rows].join(", ")
        )
    }

    fn push(&mut self, image_id: i64, label: &str, total: u64) -> Result<()> {
        self.batch.extend([
            image_id.into(),
            label.to_string().into(),
            (total as i64).into(),
        ]);
        if self.batch.len() == 3 * Self::ROWS {
            self.full
                .execute(rusqlite::params_from_iter(self.batch.drain(..)))?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if !self.batch.is_empty() {
            self.conn
                .prepare(&Self::sql(self.batch.len() / 3))?
                .execute(rusqlite::params_from_iter(self.batch.drain(..)))?;
        }
        Ok(())
    }
}

/// [`QueueFilter::passes`] as a condition on the tally's row `t`, its bounds bound as the next
/// parameters: the selection from the tally is then one statement, with no row through Rust
/// (writing each passing question to a temporary table first, and joining it, was most of a
/// `--disputed` selection's time). The same arithmetic: yes / (yes + no) in doubles, and the
/// bounds inclusive.
fn passing_tally(f: &QueueFilter, params: &mut Vec<rusqlite::types::Value>) -> String {
    let mut bind = |v: rusqlite::types::Value| {
        params.push(v);
        format!("?{}", params.len())
    };
    let mut conds = vec!["1".to_string()];
    if f.disputed {
        conds.push("t.yes > 0 AND t.no > 0".into());
    }
    if let Some((lo, hi)) = f.uncertain {
        let (lo, hi) = (bind(lo.into()), bind(hi.into()));
        conds.push(format!(
            "t.yes + t.no > 0 AND CAST(t.yes AS REAL) / (t.yes + t.no) BETWEEN {lo} AND {hi}"
        ));
    }
    if let Some(k) = f.needs {
        let k = bind(i64::from(k).into());
        conds.push(format!("t.yes + t.no + t.maybe < {k}"));
    }
    format!("({})", conds.join(" AND "))
}

fn fill_keys(store: &Store, table: &str, keys: Option<&[String]>) -> Result<()> {
    store.conn.execute_batch(&format!(
        "DROP TABLE IF EXISTS temp.{table};
         CREATE TEMP TABLE {table}(key TEXT PRIMARY KEY) WITHOUT ROWID;"
    ))?;
    if let Some(keys) = keys {
        let mut stmt = store.conn.prepare(&format!(
            "INSERT OR IGNORE INTO temp.{table}(key) VALUES (?1)"
        ))?;
        for k in keys {
            stmt.execute([k])?;
        }
    }
    Ok(())
}

impl Store {
    /// Computes the selected questions of the annotator's queue (their assignment, else every
    /// image) and returns the images that have at least one, in key order. The selection stays on
    /// this connection for [`Store::selection_labels`], [`Store::selection_is_open`] and the
    /// counts, until the next call.
    pub fn select_queue(&self, annotator: &str, f: &QueueFilter) -> Result<Vec<QueueImage>> {
        self.named(|| self.select(Some(annotator), f))
    }

    /// The images of the whole project (whoever they are assigned to) with at least one question
    /// passing the filter, in key order: what `checkout` and `assign` hand out when asked for a
    /// selection. The selection stays on this connection as [`Store::select_queue`]'s does.
    pub fn select_images(&self, f: &QueueFilter) -> Result<Vec<QueueImage>> {
        self.named(|| self.select(None, f))
    }

    fn select(&self, annotator: Option<&str>, f: &QueueFilter) -> Result<Vec<QueueImage>> {
        fill_keys(self, "lv_labels", f.labels.as_deref())?;
        fill_keys(self, "lv_orig", f.original_labels.as_deref())?;
        self.conn.execute_batch(
            "DROP TABLE IF EXISTS temp.lv_settled;
             CREATE TEMP TABLE lv_settled(image TEXT, label TEXT,
                                          PRIMARY KEY (image, label)) WITHOUT ROWID;",
        )?;
        if let Some(settled) = &f.settled {
            let tx = self.conn.unchecked_transaction()?;
            let mut stmt =
                tx.prepare("INSERT OR IGNORE INTO temp.lv_settled(image, label) VALUES (?1, ?2)")?;
            for (image, label) in settled {
                stmt.execute([image, label])?;
            }
            drop(stmt);
            tx.commit()?;
        }
        self.conn.execute_batch(
            "DROP TABLE IF EXISTS temp.lv_stats;
             CREATE TEMP TABLE lv_stats(image TEXT, label TEXT, total INTEGER,
                                        PRIMARY KEY (image, label)) WITHOUT ROWID;
             DROP TABLE IF EXISTS temp.lv_queue;
             CREATE TEMP TABLE lv_queue(image_id INTEGER, label TEXT,
                                        total INTEGER NOT NULL DEFAULT 0,
                                        PRIMARY KEY (image_id, label)) WITHOUT ROWID;",
        )?;
        let unanswered = f.unanswered_pass();
        let mut conds = vec!["1".to_string()];
        if annotator.is_some() {
            conds.push(IN_QUEUE.to_string());
        }
        if f.labels.is_some() {
            conds.push("c.label IN (SELECT key FROM temp.lv_labels)".into());
        }
        if f.original_labels.is_some() {
            conds.push("i.original_label IN (SELECT key FROM temp.lv_orig)".into());
        }
        if f.settled.is_some() {
            conds.push(
                "NOT EXISTS (SELECT 1 FROM temp.lv_settled z WHERE z.image = i.key AND z.label = c.label)"
                    .into(),
            );
        }
        if f.reads_answers() && unanswered {
            return self.select_walking_candidates(annotator, f, &conds);
        }
        // Otherwise, when an answer filter is given, an unanswered question cannot pass it
        // (`--disputed`, `--uncertain`): only the passing answered questions can be selected,
        // and the selection starts from them instead of from every candidate of the project:
        // from the tally, in one statement that tests them in SQL (`passing_tally`), or from
        // the ones `fill_answer_stats` writes.
        let mut params: Vec<rusqlite::types::Value> = vec![match annotator {
            Some(a) => a.to_string().into(),
            None => rusqlite::types::Value::Null,
        }];
        if annotator.is_none() {
            // `IN_QUEUE` is the only condition that names ?1, and the parameters are bound by
            // number.
            conds.push("?1 IS NULL".into());
        }
        let insert = |from: &str, total: &str, conds: &[String], params| -> Result<()> {
            let sql = format!(
                "INSERT INTO temp.lv_queue(image_id, label, total)
                 SELECT c.image_id, c.label, {total} FROM {from} WHERE {}",
                conds.join(" AND ")
            );
            self.conn
                .execute(&sql, rusqlite::params_from_iter(params))?;
            Ok(())
        };
        if !f.reads_answers() {
            insert(
                "candidates c JOIN images i ON i.id = c.image_id",
                "0",
                &conds,
                params,
            )?;
        } else {
            // The answers are read and the selection written in one transaction, so that the
            // tally found current is the tally read.
            let tx = self.conn.unchecked_transaction()?;
            match self.answers(f)? {
                Answers::Tally => {
                    conds.push(passing_tally(f, &mut params));
                    insert(
                        // `+c.label`: the candidate is found among its image's few by the
                        // primary key, not through the index by label, whose probes jump from
                        // class to class (20% slower on 221,028 questions).
                        "answer_tally t CROSS JOIN images i ON i.key = t.image
                         CROSS JOIN candidates c ON c.image_id = i.id AND +c.label = t.label",
                        "t.yes + t.no + t.maybe",
                        &conds,
                        params,
                    )?;
                }
                Answers::Folded(folded) => {
                    self.fill_answer_stats(f, &folded)?;
                    insert(
                        "temp.lv_stats s CROSS JOIN images i ON i.key = s.image
                         CROSS JOIN candidates c ON c.image_id = i.id AND c.label = s.label",
                        "s.total",
                        &conds,
                        params,
                    )?;
                }
            }
            tx.commit()?;
        }
        let mut stmt = self.conn.prepare(
            "SELECT q.image_id, i.key, count(*), sum(q.total)
             FROM temp.lv_queue q JOIN images i ON i.id = q.image_id
             GROUP BY q.image_id ORDER BY i.key",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(QueueImage {
                    id: r.get(0)?,
                    key: r.get(1)?,
                    questions: r.get(2)?,
                    answers: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The selection when a question nobody has answered passes the answer filters (`--needs`,
    /// or only counting answers for `--order fewest-answers`): most candidates then pass, and
    /// a failing answered question must be left out. The candidates that meet `conds` are read
    /// once in (image key, label) order, the order of the current answers' table, and the two
    /// are walked together: each candidate meets its question's answers, if any, by a
    /// comparison with the table's next run instead of a look-up, and only the passing
    /// questions are written to `temp.lv_queue`. Writing every answered question to a
    /// temporary table and joining it with the candidates, as the other filters do, took most
    /// of a `--needs` selection's time.
    fn select_walking_candidates(
        &self,
        annotator: Option<&str>,
        f: &QueueFilter,
        conds: &[String],
    ) -> Result<Vec<QueueImage>> {
        let tx = self.conn.unchecked_transaction()?;
        let mut tally_stmt = None;
        let mut walk = match self.answers(f)? {
            Answers::Tally => {
                let stmt = tally_stmt.insert(tx.prepare(TALLY_ROWS)?);
                Walk::Tally(TallyCursor::new(stmt.query([])?)?)
            }
            Answers::Folded(folded) => Walk::Folded(folded),
        };
        let mut insert = SelectionWriter::new(&tx)?;
        let mut stmt = tx.prepare(&format!(
            "SELECT i.id, i.key, c.label FROM images i JOIN candidates c ON c.image_id = i.id
             WHERE {} ORDER BY i.key, c.label",
            conds.join(" AND ")
        ))?;
        let mut rows = match annotator {
            Some(a) => stmt.query([a])?,
            None => stmt.query([])?,
        };
        let mut out: Vec<QueueImage> = Vec::new();
        while let Some(r) = rows.next()? {
            let (id, key, label): (i64, &str, &str) = (r.get(0)?, str_at(r, 1)?, str_at(r, 2)?);
            let (pass, answers) = match walk.find(key, label)? {
                Some(t) => (f.passes(t.yes, t.no, t.total()), t.total() as u64),
                None => (true, 0),
            };
            if !pass {
                continue;
            }
            insert.push(id, label, answers)?;
            match out.last_mut() {
                Some(last) if last.id == id => {
                    last.questions += 1;
                    last.answers += answers;
                }
                _ => out.push(QueueImage {
                    id,
                    key: key.to_string(),
                    questions: 1,
                    answers,
                }),
            }
        }
        drop(rows);
        drop(stmt);
        insert.flush()?;
        drop(insert);
        drop(walk);
        drop(tally_stmt);
        tx.commit()?;
        Ok(out)
    }

    /// Where this selection reads the current answers from (called inside its transaction):
    /// the project's tally when no class narrows the filters and the tally is current;
    /// otherwise the event log's fold, made now ([`Store::current_answer_table`], narrowed to
    /// `f.labels`). A fold of every class also replaces a stale tally, unless the file cannot be
    /// written just now (another process's lock, a read-only file, a full disk): then only this selection
    /// uses it.
    fn answers(&self, f: &QueueFilter) -> Result<Answers> {
        let whole = f.labels.is_none();
        if whole && tally::is_current(&self.conn)? {
            return Ok(Answers::Tally);
        }
        let judgments = whole
            .then(|| events::count(&self.conn, &JUDGMENTS))
            .transpose()?;
        let folded = self.question_stats(f)?;
        if let Some(judgments) = judgments {
            self.conn.execute_batch("SAVEPOINT lv_tally")?;
            let rows = folded.stats.iter().map(|s| {
                let (image, label) = folded.question(s);
                (image, label, s.tally)
            });
            match tally::replace(&self.conn, judgments, rows) {
                Ok(()) => self.conn.execute_batch("RELEASE lv_tally")?,
                // SQLite may end the whole transaction on a full disk: the selection then
                // goes on in a new one.
                Err(e) if cannot_write_now(&e) && self.conn.is_autocommit() => {
                    self.conn.execute_batch("BEGIN")?
                }
                Err(e) if cannot_write_now(&e) => self
                    .conn
                    .execute_batch("ROLLBACK TO lv_tally; RELEASE lv_tally")?,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Answers::Folded(folded))
    }

    /// Each answered question's answers counted, from the event log's one fold of the current
    /// answers ([`Store::current_answer_table`], narrowed to `f.labels`), in (image key, label)
    /// order, with the fold's lists of image keys and labels.
    fn question_stats(&self, f: &QueueFilter) -> Result<Folded> {
        let only: Option<HashSet<&str>> = f
            .labels
            .as_ref()
            .map(|l| l.iter().map(String::as_str).collect());
        let table = self.answer_table(only.as_ref())?;
        // The table's rows are sorted by (image, label, annotator): a question's answers are
        // one run, and the runs come in key order.
        let stats = table
            .rows
            .chunk_by(|a, b| (a.image, a.label) == (b.image, b.label))
            .map(|run| {
                let count = |x: Answer| run.iter().filter(|r| r.answer == Some(x)).count() as i64;
                QuestionStat {
                    image: run[0].image,
                    label: run[0].label,
                    tally: Tally {
                        yes: count(Answer::Yes),
                        no: count(Answer::No),
                        maybe: count(Answer::Maybe),
                    },
                }
            })
            .collect();
        Ok(Folded {
            images: table.images,
            labels: table.labels,
            stats,
            next: 0,
        })
    }

    /// Fills `temp.lv_stats` with the folded answered questions that pass the answer filters,
    /// each with its number of current answers (all annotators together), in key order: for
    /// filters an unanswered question cannot pass, when the answers are not the tally's. Inside
    /// the selection's transaction, as each insert would otherwise be a transaction of its own.
    fn fill_answer_stats(&self, f: &QueueFilter, folded: &Folded) -> Result<()> {
        let mut insert = self
            .conn
            .prepare("INSERT INTO temp.lv_stats(image, label, total) VALUES (?1, ?2, ?3)")?;
        for s in &folded.stats {
            let t = s.tally;
            if f.passes(t.yes, t.no, t.total()) {
                let (image, label) = folded.question(s);
                insert.execute(params![image, label, t.total()])?;
            }
        }
        Ok(())
    }

    /// Drops every image but `keep` from the selection (a sample of it).
    pub fn restrict_selection(&self, keep: &[i64]) -> Result<()> {
        self.named(|| {
            self.conn.execute_batch(
                "DROP TABLE IF EXISTS temp.lv_keep;
                 CREATE TEMP TABLE lv_keep(id INTEGER PRIMARY KEY);",
            )?;
            let mut stmt = self
                .conn
                .prepare("INSERT OR IGNORE INTO temp.lv_keep(id) VALUES (?1)")?;
            for id in keep {
                stmt.execute([id])?;
            }
            self.conn.execute_batch(
                "DELETE FROM temp.lv_queue WHERE image_id NOT IN (SELECT id FROM temp.lv_keep);
                 DROP TABLE temp.lv_keep;",
            )?;
            Ok(())
        })
    }

    /// The selected labels of one image.
    pub fn selection_labels(&self, image_id: i64) -> Result<Vec<String>> {
        self.named(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT label FROM temp.lv_queue WHERE image_id = ?1 ORDER BY label",
            )?;
            let rows = stmt
                .query_map([image_id], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(rows)
        })
    }

    /// True when the image has a selected question the annotator has not answered and they have
    /// not flagged it: where a filtered session stops.
    pub fn selection_is_open(&self, annotator: &str, image_id: i64) -> Result<bool> {
        self.named(|| {
            let sql = format!(
                "SELECT 1 FROM images i WHERE i.id = ?2
                   AND EXISTS (SELECT 1 FROM temp.lv_queue q WHERE q.image_id = i.id AND NOT {ANSWERED})
                   AND NOT {FLAGGED_BY}"
            );
            Ok(self
                .conn
                .prepare_cached(&sql)?
                .exists(params![annotator, image_id])?)
        })
    }

    /// Selected questions, and how many of them the annotator has a standing answer to. The
    /// second count starts from the annotator's own answers (`judgments_by_annotator`) and
    /// looks each up in the selection, so that it costs what they have answered, not a probe of
    /// the judgments for every selected question (most of the selection's time on 2.6 M answers
    /// when the annotator has answered a few).
    pub fn selection_counts(&self, annotator: &str) -> Result<(u64, u64)> {
        self.named(|| {
            let total: u64 =
                self.conn
                    .query_row("SELECT count(*) FROM temp.lv_queue", [], |r| r.get(0))?;
            let answered: u64 = self.conn.query_row(
                &format!(
                    "SELECT count(*) FROM ({STANDING_OF_ANNOTATOR}) a
                     JOIN images i ON i.key = a.image
                     JOIN temp.lv_queue q ON q.image_id = i.id AND q.label = a.label"
                ),
                [annotator],
                |r| r.get(0),
            )?;
            Ok((total, answered))
        })
    }
}
