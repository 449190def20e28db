//! The questions a filtered annotation queue asks (`labelvet annotate --class`, `--subtree`,
//! `--disputed`, ...).
//!
//! A selection is computed once into a temporary table of (image id, label) on the
//! session's own connection: nothing is written to the project file, the annotator's progress,
//! resume point and open counts are read against it with index probes, and only the selected
//! image ids come back to the session. Answer-based filters need every question's current answers
//! across annotators, which are computed from the judgments alone (their number grows with the
//! work done, not with the project), folded in memory by the event log's rule.

use std::collections::HashSet;

use rusqlite::params;

use super::events::str_at;
use super::flags::FLAGGED_BY;
use super::judgments::CurrentAnswerTable;
use super::judgments::{IN_QUEUE, STANDING_OF_ANNOTATOR};
use super::{Answer, Store};
use crate::error::Result;

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
/// image and label lists, whether it passes the answer filters, and its current answers.
struct QuestionStat {
    image: u32,
    label: u32,
    pass: bool,
    answers: u64,
}

/// The annotator has a standing answer to question (`i.key`, `q.label`).
const ANSWERED: &str = "EXISTS (
    SELECT 1 FROM judgments j INDEXED BY judgments_by_item
    WHERE j.image = i.key AND j.label = q.label AND j.annotator = ?1 AND j.answer <> 'retract'
      AND NOT EXISTS (SELECT 1 FROM judgments r WHERE r.retracts = j.id))";

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
        // (`--disputed`, `--uncertain`): only the passing answered questions, which
        // `fill_answer_stats` writes (a few thousand rows), can be selected, and the selection
        // starts from them instead of from every candidate of the project.
        let from = if f.reads_answers() {
            self.fill_answer_stats(f)?;
            "temp.lv_stats s CROSS JOIN images i ON i.key = s.image
             CROSS JOIN candidates c ON c.image_id = i.id AND c.label = s.label"
        } else {
            "candidates c JOIN images i ON i.id = c.image_id"
        };
        let sql = format!(
            "INSERT INTO temp.lv_queue(image_id, label)
             SELECT c.image_id, c.label FROM {from} WHERE {}",
            conds.join(" AND ")
        );
        match annotator {
            Some(a) => self.conn.execute(&sql, [a])?,
            None => self.conn.execute(&sql, [])?,
        };
        let mut stmt = self.conn.prepare(
            "SELECT q.image_id, i.key, count(*), coalesce(sum(s.total), 0)
             FROM temp.lv_queue q JOIN images i ON i.id = q.image_id
             LEFT JOIN temp.lv_stats s ON s.image = i.key AND s.label = q.label
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
        let (table, stats) = self.question_stats(f)?;
        let question = |s: &QuestionStat| {
            (
                table.images[s.image as usize].as_str(),
                table.labels[s.label as usize].as_str(),
            )
        };
        let tx = self.conn.unchecked_transaction()?;
        let mut insert =
            tx.prepare("INSERT INTO temp.lv_queue(image_id, label) VALUES (?1, ?2)")?;
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
        let mut next = 0usize;
        while let Some(r) = rows.next()? {
            let (id, key, label): (i64, &str, &str) = (r.get(0)?, str_at(r, 1)?, str_at(r, 2)?);
            while next < stats.len() && question(&stats[next]) < (key, label) {
                next += 1;
            }
            let (pass, answers) = match stats.get(next) {
                Some(s) if question(s) == (key, label) => (s.pass, s.answers),
                _ => (true, 0),
            };
            if !pass {
                continue;
            }
            insert.execute(params![id, label])?;
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
        drop(insert);
        tx.commit()?;
        Ok(out)
    }

    /// Each answered question's answers, from the event log's one fold of the current answers
    /// ([`Store::current_answer_table`], narrowed to `f.labels`), in (image key, label) order.
    fn question_stats(&self, f: &QueueFilter) -> Result<(CurrentAnswerTable, Vec<QuestionStat>)> {
        let only: Option<HashSet<&str>> = f
            .labels
            .as_ref()
            .map(|l| l.iter().map(String::as_str).collect());
        let mut table = self.answer_table(only.as_ref())?;
        // The table's rows are sorted by (image, label, annotator): a question's answers are
        // one run, and the runs come in key order.
        let stats = table
            .rows
            .chunk_by(|a, b| (a.image, a.label) == (b.image, b.label))
            .map(|run| {
                let count = |x: Answer| run.iter().filter(|r| r.answer == Some(x)).count() as i64;
                let total = run.len() as i64;
                QuestionStat {
                    image: run[0].image,
                    label: run[0].label,
                    pass: f.passes(count(Answer::Yes), count(Answer::No), total),
                    answers: total as u64,
                }
            })
            .collect();
        // Only the lists of texts are read from here on; the rows (40 bytes an answer) go.
        table.rows = Vec::new();
        Ok((table, stats))
    }

    /// Fills `temp.lv_stats` with the answered questions that pass the answer filters, each
    /// with its number of current answers (all annotators together), in key order, one
    /// transaction for all. For filters an unanswered question cannot pass.
    fn fill_answer_stats(&self, f: &QueueFilter) -> Result<()> {
        let (table, stats) = self.question_stats(f)?;
        // One transaction for all the rows: on its own, each insert would be a transaction
        // of its own, most of the time of the queue's build.
        let tx = self.conn.unchecked_transaction()?;
        let mut insert =
            tx.prepare("INSERT INTO temp.lv_stats(image, label, total) VALUES (?1, ?2, ?3)")?;
        for s in stats.iter().filter(|s| s.pass) {
            insert.execute(params![
                table.images[s.image as usize],
                table.labels[s.label as usize],
                s.answers
            ])?;
        }
        drop(insert);
        tx.commit()?;
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
