//! The questions a filtered annotation queue asks (`labelvet annotate --class`, `--subtree`,
//! `--disputed`, ...).
//!
//! A selection is computed once and kept in memory on the store, as its (image id, label)
//! pairs: the annotator's progress, resume point and open counts are read against it, and only
//! the selected images come back to the session.
//! Answer-based filters need every question's current answers across annotators: without a
//! class they read the project's tally of them (`store::tally`, one row per answered question,
//! in the candidates' order), which the selection rebuilds first when it is stale (the only
//! write to the project file a selection makes); with `--class`/`--subtree` they fold the
//! answers to those classes in memory by the event log's rule.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::{Mutex, mpsc};

use rusqlite::params;
use rusqlite::types::ValueRef;

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

/// The answered questions with their current answers counted (the event log's fold, or the
/// tally read into memory), with their lists of image keys and labels.
struct Folded {
    images: Vec<String>,
    labels: Vec<String>,
    stats: Vec<QuestionStat>,
}

impl Folded {
    /// The project's tally (`store::tally`) as a fold: its rows are already in (image key,
    /// label) order, each question once.
    fn read_tally(conn: &rusqlite::Connection) -> Result<Folded> {
        let mut folded = Folded {
            images: Vec::new(),
            labels: Vec::new(),
            stats: Vec::new(),
        };
        // The selection's interner numbers the labels; its rows stay empty.
        let mut labels = Selection::default();
        let mut stmt = conn.prepare(
            "SELECT image, label, yes, no, maybe FROM answer_tally ORDER BY image, label",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let image = r.get_ref(0)?.as_bytes().map_err(rusqlite::Error::from)?;
            if folded.images.last().map(String::as_bytes) != Some(image) {
                folded.images.push(str_at(r, 0)?.to_string());
            }
            folded.stats.push(QuestionStat {
                image: folded.images.len() as u32 - 1,
                label: labels.intern(r.get_ref(1)?)?,
                tally: Tally {
                    yes: r.get(2)?,
                    no: r.get(3)?,
                    maybe: r.get(4)?,
                },
            });
        }
        folded.labels = labels.labels;
        Ok(folded)
    }

    fn question(&self, s: &QuestionStat) -> (&str, &str) {
        (
            self.images[s.image as usize].as_str(),
            self.labels[s.label as usize].as_str(),
        )
    }

    /// The answers of question (`image`, `label`) if it has any. Asked in increasing order, so
    /// each is a comparison with the next folded question, not a look-up: `next` is where the
    /// search goes on from, and is left there.
    fn find(&self, image: &str, label: &str, next: &mut usize) -> Option<Tally> {
        while *next < self.stats.len() && self.question(&self.stats[*next]) < (image, label) {
            *next += 1;
        }
        let s = self.stats.get(*next)?;
        (self.question(s) == (image, label)).then_some(s.tally)
    }

    /// Where the questions of the image keyed `image`, or of those after it, begin.
    fn start_of(&self, image: &str) -> usize {
        self.stats
            .partition_point(|s| self.images[s.image as usize].as_str() < image)
    }
}

/// The annotator has a standing answer to question (`i.key`, `q.label`).
const ANSWERED: &str = "EXISTS (
    SELECT 1 FROM judgments j INDEXED BY judgments_by_item
    WHERE j.image = i.key AND j.label = q.label AND j.annotator = ?1 AND j.answer <> 'retract'
      AND NOT EXISTS (SELECT 1 FROM judgments r WHERE r.retracts = j.id))";

/// The questions of a selection: (image id, label) pairs, sorted by image id and then label,
/// the labels interned. Held in memory on the store rather than in a temporary table: a
/// `--needs` selection has a million questions, and writing each to a table took a third of
/// its time (1.18 M questions, 2.6 M answers); the session only ever asks for one image's
/// questions, or whether the selection holds one question.
#[derive(Debug, Default)]
pub(crate) struct Selection {
    /// In text order once sealed (labels interned since are appended), so that the rows sort
    /// as pairs of numbers.
    labels: Vec<String>,
    /// By bytes: a walk interns every candidate it reads, and checks a label as UTF-8 only
    /// the first time it sees it.
    index: hashbrown::HashMap<Box<[u8]>, u32>,
    rows: Vec<(i64, u32)>,
}

impl Selection {
    /// The number of the text `label`, interned on first sight.
    fn intern(&mut self, label: ValueRef<'_>) -> Result<u32> {
        let bytes = label.as_bytes().map_err(rusqlite::Error::from)?;
        match self.index.get(bytes) {
            Some(&l) => Ok(l),
            None => Ok(self.add(label.as_str().map_err(rusqlite::Error::from)?)),
        }
    }

    /// Numbers a label not seen before.
    fn add(&mut self, label: &str) -> u32 {
        let l = self.labels.len() as u32;
        self.labels.push(label.to_string());
        self.index.insert(label.as_bytes().into(), l);
        l
    }

    /// The number of `label`, numbered on first sight.
    fn number(&mut self, label: &str) -> u32 {
        match self.index.get(label.as_bytes()) {
            Some(&l) => l,
            None => self.add(label),
        }
    }

    fn push(&mut self, image_id: i64, label: &str) {
        let l = self.number(label);
        self.rows.push((image_id, l));
    }

    /// Puts the questions in (image id, label) order and drops repeats; called once they are
    /// all in. The labels are put in text order first and the rows renumbered, so that the
    /// sort compares numbers, not texts.
    fn seal(&mut self) {
        let mut order: Vec<u32> = (0..self.labels.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| self.labels[a as usize].cmp(&self.labels[b as usize]));
        let mut rank = vec![0u32; order.len()];
        for (r, &l) in order.iter().enumerate() {
            rank[l as usize] = r as u32;
        }
        let mut unsorted = std::mem::take(&mut self.labels);
        self.labels = order
            .iter()
            .map(|&l| std::mem::take(&mut unsorted[l as usize]))
            .collect();
        for l in self.index.values_mut() {
            *l = rank[*l as usize];
        }
        for row in &mut self.rows {
            row.1 = rank[row.1 as usize];
        }
        match placed_by_image(&self.rows) {
            Some(placed) => self.rows = placed,
            None => {
                self.rows.sort_unstable();
                self.rows.dedup();
            }
        }
    }

    /// The selected labels of one image, in label order.
    fn labels_of(&self, image_id: i64) -> impl Iterator<Item = &str> {
        let start = self.rows.partition_point(|r| r.0 < image_id);
        let len = self.rows[start..].partition_point(|r| r.0 == image_id);
        self.rows[start..start + len]
            .iter()
            .map(|r| self.labels[r.1 as usize].as_str())
    }

    fn contains(&self, image_id: i64, label: &str) -> bool {
        self.labels_of(image_id).any(|l| l == label)
    }
}

/// `rows` in (image id, label) order without a sort, when they come as every selection makes
/// them: each image's questions together, in label order, with no repeat, and image ids dense
/// enough for a table by id. Each image's run is then copied to its place by id. The ids follow
/// key order but for a few images (3,913 of 1.28 M on the scale project), so the sort this
/// replaces was most of the seal (2.46 M questions). `None` when the rows are not so.
fn placed_by_image(rows: &[(i64, u32)]) -> Option<Vec<(i64, u32)>> {
    let (first, last) = rows.iter().fold((i64::MAX, i64::MIN), |(lo, hi), r| {
        (lo.min(r.0), hi.max(r.0))
    });
    let span = u64::try_from(last.checked_sub(first)?).ok()?;
    if span >= 2 * rows.len() as u64 + 1024 {
        return None;
    }
    // Each image's place: first its count of questions, then where its run goes.
    let mut at = vec![0usize; span as usize + 2];
    for run in rows.chunk_by(|a, b| a.0 == b.0) {
        let slot = &mut at[(run[0].0 - first) as usize + 1];
        if *slot > 0 || !run.is_sorted_by(|a, b| a.1 < b.1) {
            return None;
        }
        *slot = run.len();
    }
    for i in 1..at.len() {
        at[i] += at[i - 1];
    }
    let mut placed = vec![(0, 0); rows.len()];
    for run in rows.chunk_by(|a, b| a.0 == b.0) {
        let start = at[(run[0].0 - first) as usize];
        placed[start..start + run.len()].copy_from_slice(run);
    }
    Some(placed)
}

/// A selection as its questions come in, in key order with each image's questions together:
/// the questions, and each image's questions and answers counted.
#[derive(Default)]
struct Picked {
    selection: Selection,
    images: Vec<QueueImage>,
}

impl Picked {
    fn push(&mut self, id: i64, key: &str, label: &str, answers: u64) {
        self.selection.push(id, label);
        self.count(id, key, answers);
    }

    fn count(&mut self, id: i64, key: &str, answers: u64) {
        match self.images.last_mut() {
            Some(last) if last.id == id => {
                last.questions += 1;
                last.answers += answers;
            }
            _ => self.images.push(QueueImage {
                id,
                key: key.to_string(),
                questions: 1,
                answers,
            }),
        }
    }
}

/// The candidates of a selection's walk, held by image id and read in one pass over the
/// table's primary key. The walk goes through the images in key order and finds each one's
/// candidates here, rather than joining the two tables in SQL: a probe of the candidates'
/// primary key for every image took a third of a `--needs` selection (1.28 M images). Image ids
/// mostly follow key order, so the look-up is first tried where the last one ended.
struct CandidatesByImage {
    /// The images with a candidate, in increasing order.
    ids: Vec<i64>,
    /// Where each image's labels start in `labels`, and then their end.
    starts: Vec<usize>,
    /// Each image's labels in text order, as numbers of `names`.
    labels: Vec<u32>,
    /// The labels' interner, which becomes the selection's.
    names: Selection,
}

/// The image ids whose candidates are still to be read, when two threads read them from the
/// two ends: the one going up takes the next span from the start, the one going down from the
/// end. `None` until the first reader sets it from the table.
type Unread = Mutex<Option<Unclaimed>>;

struct Unclaimed {
    /// Wider than the ids, so that no bound of any id overflows.
    ids: Range<i128>,
    /// The ids a reader takes at a time: a 64th of the table's, so that the two threads end
    /// within a span's reading of each other, each span one seek down the primary key.
    span: i128,
}

impl CandidatesByImage {
    /// All the candidates that meet `conds`.
    fn read(tx: &rusqlite::Connection, conds: &[String]) -> Result<CandidatesByImage> {
        Self::read_from_end(tx, conds, &Mutex::new(None), true)
    }

    /// The candidates that meet `conds`, span by span of image ids, taking each span from
    /// `unread` until none is left: going up (ids and labels increasing) or down (both
    /// decreasing; [`CandidatesByImage::then_down`] turns them). Two threads, each on its own
    /// connection, read the table from its two ends this way and meet where their other work
    /// lets them, however the rest of the selection's reading is shared between them.
    fn read_from_end(
        tx: &rusqlite::Connection,
        conds: &[String],
        unread: &Unread,
        up: bool,
    ) -> Result<CandidatesByImage> {
        let mut c = CandidatesByImage {
            ids: Vec::new(),
            starts: Vec::new(),
            labels: Vec::new(),
            names: Selection::default(),
        };
        let (first, last): (Option<i64>, Option<i64>) = tx.query_row(
            // Each in its own statement, so that each is one step down the primary key:
            // SQLite scans the table for a `min` and a `max` asked together.
            "SELECT (SELECT min(image_id) FROM candidates), (SELECT max(image_id) FROM candidates)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let order = if up { "" } else { "DESC" };
        let mut stmt = tx.prepare(&format!(
            "SELECT c.image_id, c.label FROM candidates c
             WHERE c.image_id >= ?1 AND c.image_id <= ?2 AND {}
             ORDER BY c.image_id {order}, c.label {order}",
            conds.join(" AND ")
        ))?;
        if let Some((first, last)) = first.zip(last) {
            let (first, last) = (i128::from(first), i128::from(last));
            loop {
                let taken = {
                    let mut unread = unread.lock().unwrap_or_else(|e| e.into_inner());
                    let Unclaimed { ids, span } = unread.get_or_insert(Unclaimed {
                        ids: first..last + 1,
                        span: ((last - first) / 64).max(256),
                    });
                    let n = (*span).min(ids.end - ids.start);
                    if n <= 0 {
                        break;
                    }
                    if up {
                        ids.start += n;
                        ids.start - n..ids.start
                    } else {
                        ids.end -= n;
                        ids.end..ids.end + n
                    }
                };
                // Both bounds are ids of the table's range, so they fit.
                let bounds = [taken.start as i64, (taken.end - 1) as i64];
                let mut rows = stmt.query(bounds)?;
                while let Some(r) = rows.next()? {
                    let id: i64 = r.get(0)?;
                    let l = c.names.intern(r.get_ref(1)?)?;
                    if c.ids.last() != Some(&id) {
                        c.ids.push(id);
                        c.starts.push(c.labels.len());
                    }
                    c.labels.push(l);
                }
            }
        }
        c.starts.push(c.labels.len());
        Ok(c)
    }

    /// These candidates (read going up) followed by `down`'s (read going down, on another
    /// connection, so with labels numbered by its own interner), all in increasing order.
    fn then_down(mut self, down: CandidatesByImage) -> CandidatesByImage {
        let renumber: Vec<u32> = down
            .names
            .labels
            .iter()
            .map(|l| self.names.number(l))
            .collect();
        self.starts.pop();
        for (k, &id) in down.ids.iter().enumerate().rev() {
            self.ids.push(id);
            self.starts.push(self.labels.len());
            let labels = &down.labels[down.starts[k]..down.starts[k + 1]];
            self.labels
                .extend(labels.iter().rev().map(|&l| renumber[l as usize]));
        }
        self.starts.push(self.labels.len());
        self
    }

    /// Where the labels of image `id` are in `labels` (empty if it has no candidate); `hint`
    /// is where the look-up tries first, and is left after the image found.
    fn of(&self, id: i64, hint: &mut usize) -> Range<usize> {
        let at = match self.ids.get(*hint) {
            Some(&next) if next == id => *hint,
            _ => match self.ids.binary_search(&id) {
                Ok(at) => at,
                Err(_) => return 0..0,
            },
        };
        *hint = at + 1;
        self.starts[at]..self.starts[at + 1]
    }
}

/// The images a walk goes through, in key order, with no question counted yet. They are read
/// before the walk (while another thread reads the candidates), as the images the selection
/// returns: the walk counts each one's questions, and those with none are dropped after it.
fn images_in_key_order(
    tx: &rusqlite::Connection,
    annotator: Option<&str>,
    conds: &[String],
) -> Result<Vec<QueueImage>> {
    // `conds` do not hold the queue's condition (`IN_QUEUE`): it is added only for an
    // annotator with assignments. One with none has the whole project as queue, and testing
    // so on every image was, in the sqlite3 shell, up to a third of this read of 1.28 M images.
    let assigned = match annotator {
        Some(a) => tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM assignments WHERE annotator = ?1)",
            [a],
            |r| r.get::<_, bool>(0),
        )?,
        None => false,
    };
    let annotator = annotator.filter(|_| assigned);
    let mut conds = conds.to_vec();
    if annotator.is_some() {
        conds.push(IN_QUEUE.to_string());
    }
    let mut stmt = tx.prepare(&format!(
        "SELECT i.id, i.key FROM images i WHERE {} ORDER BY i.key",
        conds.join(" AND ")
    ))?;
    let mut rows = match annotator {
        Some(a) => stmt.query([a])?,
        None => stmt.query([])?,
    };
    let mut images = Vec::new();
    while let Some(r) = rows.next()? {
        images.push(QueueImage {
            id: r.get(0)?,
            key: str_at(r, 1)?.to_string(),
            questions: 0,
            answers: 0,
        });
    }
    Ok(images)
}

/// The walk itself, over `images`: each image's candidates in label order, each meeting its
/// question's answers in `answers`; the questions that pass `f`, and are not among its settled
/// ones, are counted on their image and returned, numbered by the candidates' labels. The two
/// halves of the images are walked on two threads (a tenth of a `--needs` selection's time on
/// 1.28 M images, run after all the reading).
fn walk(
    f: &QueueFilter,
    images: &mut [QueueImage],
    candidates: &CandidatesByImage,
    answers: &Folded,
) -> Vec<(i64, u32)> {
    let settled: HashSet<(&str, &str)> = f
        .settled
        .iter()
        .flatten()
        .map(|(i, l)| (i.as_str(), l.as_str()))
        .collect();
    let (low, high) = images.split_at_mut(images.len() / 2);
    let high_answers = high
        .first()
        .map_or(answers.stats.len(), |i| answers.start_of(&i.key));
    let walk_part = |images: &mut [QueueImage], mut next: usize| {
        let mut rows = Vec::new();
        let mut hint = 0;
        for image in images {
            for &l in &candidates.labels[candidates.of(image.id, &mut hint)] {
                let label = candidates.names.labels[l as usize].as_str();
                if !settled.is_empty() && settled.contains(&(image.key.as_str(), label)) {
                    continue;
                }
                let (pass, answers) = match answers.find(&image.key, label, &mut next) {
                    Some(t) => (f.passes(t.yes, t.no, t.total()), t.total() as u64),
                    None => (true, 0),
                };
                if pass {
                    rows.push((image.id, l));
                    image.questions += 1;
                    image.answers += answers;
                }
            }
        }
        rows
    };
    std::thread::scope(|s| {
        let high = s.spawn(|| walk_part(high, high_answers));
        let mut rows = walk_part(low, 0);
        rows.extend(
            high.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        );
        rows
    })
}

/// `PRAGMA data_version`: changes between two reads on one connection when another has
/// committed in between. Inside a transaction the read also takes its snapshot.
fn data_version(conn: &rusqlite::Connection) -> Result<i64> {
    Ok(conn.pragma_query_value(None, "data_version", |r| r.get(0))?)
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
    /// the store for [`Store::selection_labels`], [`Store::selection_is_open`] and the counts,
    /// until the next call.
    pub fn select_queue(&self, annotator: &str, f: &QueueFilter) -> Result<Vec<QueueImage>> {
        self.named(|| self.select(Some(annotator), f))
    }

    /// The images of the whole project (whoever they are assigned to) with at least one question
    /// passing the filter, in key order: what `checkout` and `assign` hand out when asked for a
    /// selection. The selection stays on the store as [`Store::select_queue`]'s does.
    pub fn select_images(&self, f: &QueueFilter) -> Result<Vec<QueueImage>> {
        self.named(|| self.select(None, f))
    }

    fn select(&self, annotator: Option<&str>, f: &QueueFilter) -> Result<Vec<QueueImage>> {
        // A selection that fails leaves none behind, not the one before.
        self.selection.take();
        fill_keys(self, "lv_labels", f.labels.as_deref())?;
        fill_keys(self, "lv_orig", f.original_labels.as_deref())?;
        let unanswered = f.unanswered_pass();
        // Conditions on the image `i`, and on the candidate `c`.
        // The condition that the image is in the annotator's queue (`IN_QUEUE`) is added by
        // each path: the walk leaves it out for an annotator with no assignment.
        let mut image_conds = vec!["1".to_string()];
        if f.original_labels.is_some() {
            image_conds.push("i.original_label IN (SELECT key FROM temp.lv_orig)".into());
        }
        let mut candidate_conds = vec!["1".to_string()];
        if f.labels.is_some() {
            candidate_conds.push("c.label IN (SELECT key FROM temp.lv_labels)".into());
        }
        if f.reads_answers() && unanswered {
            return self.select_walking_candidates(annotator, f, &image_conds, &candidate_conds);
        }
        if annotator.is_some() {
            image_conds.push(IN_QUEUE.to_string());
        }
        // The walk leaves settled questions out in Rust; the statements below join this table.
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
                                        PRIMARY KEY (image, label)) WITHOUT ROWID;",
        )?;
        let mut conds = image_conds;
        conds.extend(candidate_conds);
        if f.settled.is_some() {
            conds.push(
                "NOT EXISTS (SELECT 1 FROM temp.lv_settled z WHERE z.image = i.key AND z.label = c.label)"
                    .into(),
            );
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
        let mut picked = Picked::default();
        // Each image's questions come together, in key order; `order` is that order in terms
        // of the rows `from` walks first, so that SQLite sorts nothing it walks in order.
        let mut read = |from: &str, total: &str, order: &str, conds: &[String], params| {
            let sql = format!(
                "SELECT c.image_id, i.key, c.label, {total} FROM {from} WHERE {} ORDER BY {order}",
                conds.join(" AND ")
            );
            let mut stmt = self.conn.prepare(&sql)?;
            let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
            while let Some(r) = rows.next()? {
                let id: i64 = r.get(0)?;
                let total: i64 = r.get(3)?;
                picked.push(id, str_at(r, 1)?, str_at(r, 2)?, total as u64);
            }
            Ok::<(), crate::error::Error>(())
        };
        if !f.reads_answers() {
            read(
                "candidates c JOIN images i ON i.id = c.image_id",
                "0",
                "i.key, c.label",
                &conds,
                params,
            )?;
        } else {
            // The answers and the questions are read in one transaction, so that the tally
            // found current is the tally read.
            let tx = self.conn.unchecked_transaction()?;
            match self.answers(f)? {
                Answers::Tally => {
                    conds.push(passing_tally(f, &mut params));
                    read(
                        // `+c.label`: the candidate is found among its image's few by the
                        // primary key, not through the index by label, whose probes jump from
                        // class to class (20% slower on 221,028 questions).
                        "answer_tally t CROSS JOIN images i ON i.key = t.image
                         CROSS JOIN candidates c ON c.image_id = i.id AND +c.label = t.label",
                        "t.yes + t.no + t.maybe",
                        "t.image, t.label",
                        &conds,
                        params,
                    )?;
                }
                Answers::Folded(folded) => {
                    self.fill_answer_stats(f, &folded)?;
                    read(
                        "temp.lv_stats s CROSS JOIN images i ON i.key = s.image
                         CROSS JOIN candidates c ON c.image_id = i.id AND c.label = s.label",
                        "s.total",
                        "s.image, s.label",
                        &conds,
                        params,
                    )?;
                }
            }
            tx.commit()?;
        }
        Ok(self.keep(picked))
    }

    /// The selection when a question nobody has answered passes the answer filters (`--needs`,
    /// or only counting answers for `--order fewest-answers`): most candidates then pass, and
    /// a failing answered question must be left out. The images that meet `image_conds` are
    /// read in key order, the order of the current answers (the tally, or the fold, held in
    /// memory), with the candidates that meet `candidate_conds` (held by image id,
    /// [`CandidatesByImage`]), and the questions and the answers are walked together: each
    /// candidate meets its question's answers, if any, by a comparison with the next answered
    /// question instead of a look-up, and only the passing questions are kept. Writing every
    /// answered question to a temporary table and joining it with the candidates, as the other
    /// filters do, took most of a `--needs` selection's time.
    fn select_walking_candidates(
        &self,
        annotator: Option<&str>,
        f: &QueueFilter,
        image_conds: &[String],
        candidate_conds: &[String],
    ) -> Result<Vec<QueueImage>> {
        // Two threads, one connection each. The second reads the tally and then the candidates
        // from the lowest image id up, while this one reads the images and then the candidates
        // from the highest id down, until they meet: on 1.28 M images and 2.6 M answers each
        // share is then about half of what the selection reads, wherever the images' and the
        // tally's sizes put the meeting point. The second connection has none of this one's
        // temporary tables: a filter by class (`lv_labels`) reads the candidates here, and
        // folds the answers to its classes anyway (`Store::answers`).
        let reader = match f.labels {
            None => self.second_reader()?,
            Some(_) => None,
        };
        let before = data_version(&self.conn)?;
        let unread = Unread::default();
        std::thread::scope(|s| {
            let helper = reader.map(|reader| {
                let (began, snapshot) = mpsc::channel();
                let unread = &unread;
                let helper = s.spawn(move || -> Result<(Folded, CandidatesByImage)> {
                    let tx = reader.conn.unchecked_transaction()?;
                    // The snapshot is taken at the transaction's first read.
                    data_version(&tx)?;
                    let _ = began.send(());
                    // Read whether or not it is current: the other thread finds that out
                    // meanwhile, and a stale tally is rare (it is rebuilt when found).
                    let tally = Folded::read_tally(&tx)?;
                    let up = CandidatesByImage::read_from_end(&tx, candidate_conds, unread, true)?;
                    Ok((tally, up))
                });
                let _ = snapshot.recv();
                helper
            });
            // This connection's snapshot is taken after the helper's: if nobody committed
            // since `before`, which was read before both, they are the same.
            let tx = self.conn.unchecked_transaction()?;
            let same = data_version(&tx)? == before;
            let answers = self.answers(f)?;
            let mut images = images_in_key_order(&tx, annotator, image_conds)?;
            let read = match helper {
                Some(helper) => {
                    let down =
                        CandidatesByImage::read_from_end(&tx, candidate_conds, &unread, false)?;
                    let (tally, up) = helper
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
                    // Otherwise another process committed between the two snapshots.
                    same.then(|| (tally, up.then_down(down)))
                }
                None => None,
            };
            let (candidates, folded) = match (read, answers) {
                (Some((tally, candidates)), Answers::Tally) => (candidates, tally),
                (Some((_, candidates)), Answers::Folded(folded)) => (candidates, folded),
                (None, answers) => (
                    CandidatesByImage::read(&tx, candidate_conds)?,
                    match answers {
                        Answers::Tally => Folded::read_tally(&tx)?,
                        Answers::Folded(folded) => folded,
                    },
                ),
            };
            let rows = walk(f, &mut images, &candidates, &folded);
            tx.commit()?;
            images.retain(|i| i.questions > 0);
            let CandidatesByImage { names, .. } = candidates;
            let selection = Selection { rows, ..names };
            Ok(self.keep(Picked { selection, images }))
        })
    }

    /// Keeps the picked questions as the store's selection; returns its images.
    fn keep(&self, picked: Picked) -> Vec<QueueImage> {
        let Picked {
            mut selection,
            images,
        } = picked;
        selection.seal();
        *self.selection.borrow_mut() = selection;
        images
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
        let keep: HashSet<i64> = keep.iter().copied().collect();
        self.selection
            .borrow_mut()
            .rows
            .retain(|r| keep.contains(&r.0));
        Ok(())
    }

    /// Adds every candidate of `image_ids` to the selection: gold images mixed into a queue.
    pub fn add_to_selection(&self, image_ids: &[i64]) -> Result<()> {
        self.named(|| {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT label FROM candidates WHERE image_id = ?1")?;
            let mut selection = self.selection.borrow_mut();
            for &id in image_ids {
                let mut rows = stmt.query([id])?;
                while let Some(r) = rows.next()? {
                    selection.push(id, str_at(r, 0)?);
                }
            }
            selection.seal();
            Ok(())
        })
    }

    /// The selected labels of one image.
    pub fn selection_labels(&self, image_id: i64) -> Result<Vec<String>> {
        Ok(self
            .selection
            .borrow()
            .labels_of(image_id)
            .map(str::to_string)
            .collect())
    }

    /// True when the image has a selected question the annotator has not answered and they have
    /// not flagged it: where a filtered session stops.
    pub fn selection_is_open(&self, annotator: &str, image_id: i64) -> Result<bool> {
        let labels = self.selection_labels(image_id)?;
        if labels.is_empty() {
            return Ok(false);
        }
        self.named(|| {
            let answered = format!(
                "SELECT 1 FROM images i, (SELECT ?3 AS label) q WHERE i.id = ?2 AND {ANSWERED}"
            );
            let mut answered = self.conn.prepare_cached(&answered)?;
            for label in &labels {
                if !answered.exists(params![annotator, image_id, label])? {
                    // An open question: the image is open unless they flagged it.
                    let flagged =
                        format!("SELECT 1 FROM images i WHERE i.id = ?2 AND {FLAGGED_BY}");
                    return Ok(!self
                        .conn
                        .prepare_cached(&flagged)?
                        .exists(params![annotator, image_id])?);
                }
            }
            Ok(false)
        })
    }

    /// Selected questions, and how many of them the annotator has a standing answer to. The
    /// second count starts from the annotator's own answers (`judgments_by_annotator`) and
    /// looks each up in the selection, so that it costs what they have answered, not a probe of
    /// the judgments for every selected question (most of the selection's time on 2.6 M answers
    /// when the annotator has answered a few).
    pub fn selection_counts(&self, annotator: &str) -> Result<(u64, u64)> {
        self.named(|| {
            let selection = self.selection.borrow();
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT i.id, a.label FROM ({STANDING_OF_ANNOTATOR}) a
                 JOIN images i ON i.key = a.image"
            ))?;
            let mut rows = stmt.query([annotator])?;
            let mut answered = 0;
            while let Some(r) = rows.next()? {
                if selection.contains(r.get(0)?, str_at(r, 1)?) {
                    answered += 1;
                }
            }
            Ok((selection.rows.len() as u64, answered))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;
    use crate::store::{ImageRecord, test_store};

    /// Keys inserted in this order, so that image ids do not follow key order.
    const KEYS: [&str; 5] = ["k3", "k0", "k4", "k1", "k2"];
    const LABELS: [&str; 3] = ["a", "b", "c"];
    const WHO: [&str; 2] = ["ann", "bob"];

    fn filter(which: u8) -> QueueFilter {
        let f = QueueFilter::default();
        match which {
            0 => QueueFilter {
                needs: Some(2),
                ..f
            },
            1 => QueueFilter {
                disputed: true,
                ..f
            },
            2 => QueueFilter {
                uncertain: Some((0.3, 1.0)),
                ..f
            },
            3 => QueueFilter {
                labels: Some(vec!["b".into(), "c".into()]),
                needs: Some(2),
                ..f
            },
            4 => QueueFilter {
                labels: Some(vec!["a".into()]),
                ..f
            },
            5 => QueueFilter {
                original_labels: Some(vec!["b".into()]),
                count_answers: true,
                ..f
            },
            _ => QueueFilter {
                needs: Some(2),
                settled: Some(vec![
                    // Candidates (k0's original, k0's second, k3's original), and a
                    // question no image asks.
                    ("k0".into(), "b".into()),
                    ("k0".into(), "c".into()),
                    ("k3".into(), "a".into()),
                    ("k9".into(), "b".into()),
                ]),
                ..f
            },
        }
    }

    /// The selection `f` makes, by its definition: every candidate, its current answers
    /// counted from the event log's fold.
    fn expected(s: &Store, f: &QueueFilter) -> BTreeSet<(i64, String)> {
        let mut answers: BTreeMap<(String, String), (i64, i64, i64)> = BTreeMap::new();
        for a in s.current_answers().unwrap() {
            let t = answers.entry((a.image, a.label)).or_default();
            match a.answer {
                Answer::Yes => t.0 += 1,
                Answer::No => t.1 += 1,
                Answer::Maybe => t.2 += 1,
            }
        }
        let mut stmt = s
            .conn()
            .prepare(
                "SELECT i.id, i.key, c.label, i.original_label
                 FROM candidates c JOIN images i ON i.id = c.image_id",
            )
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<Vec<(i64, String, String, Option<String>)>>>()
            .unwrap();
        let has = |list: &Option<Vec<String>>, v: &str| {
            list.as_ref().is_none_or(|l| l.iter().any(|x| x == v))
        };
        rows.into_iter()
            .filter(|(_, key, label, original)| {
                let (yes, no, maybe) = answers
                    .get(&(key.clone(), label.clone()))
                    .copied()
                    .unwrap_or_default();
                let settled = f
                    .settled
                    .iter()
                    .flatten()
                    .any(|q| (&q.0, &q.1) == (key, label));
                has(&f.labels, label)
                    && has(&f.original_labels, original.as_deref().unwrap_or(""))
                    && !settled
                    && f.passes(yes, no, yes + no + maybe)
            })
            .map(|(id, _, label, _)| (id, label))
            .collect()
    }

    fn answered_by(s: &Store, who: &str) -> BTreeSet<(String, String)> {
        s.current_answers()
            .unwrap()
            .into_iter()
            .filter(|a| a.annotator == who)
            .map(|a| (a.image, a.label))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// The questions placed by image are the questions sorted, whenever they can be
        /// placed; and they can be whenever they come grouped by image in label order.
        #[test]
        fn questions_placed_by_image_are_sorted(
            runs in proptest::collection::vec((0i64..40, proptest::collection::btree_set(0u32..6, 1..4)), 0..30),
            unordered in proptest::collection::vec((0i64..40, proptest::collection::vec(0u32..6, 1..4)), 0..30),
            shuffled in proptest::collection::vec((0i64..8, 0u32..6), 0..12),
        ) {
            let sorted = |rows: &[(i64, u32)]| {
                let mut v = rows.to_vec();
                v.sort_unstable();
                v.dedup();
                v
            };
            let mut seen = BTreeSet::new();
            let grouped: Vec<(i64, u32)> = runs
                .iter()
                .filter(|(id, _)| seen.insert(*id))
                .flat_map(|(id, labels)| labels.iter().map(move |&l| (*id, l)))
                .collect();
            prop_assert_eq!(
                placed_by_image(&grouped),
                (!grouped.is_empty()).then(|| sorted(&grouped))
            );
            // Runs in any label order, or an image's questions apart.
            let unordered: Vec<(i64, u32)> = unordered
                .iter()
                .flat_map(|(id, labels)| labels.iter().map(move |&l| (*id, l)))
                .collect();
            for rows in [unordered, shuffled] {
                if let Some(placed) = placed_by_image(&rows) {
                    prop_assert_eq!(placed, sorted(&rows));
                }
            }
        }

        /// The candidates read from the two ends on two connections, wherever the two meet,
        /// are the candidates read in one pass: the same images, each with the same labels in
        /// the same order.
        #[test]
        fn candidates_read_from_both_ends_are_read_once(
            candidates in proptest::collection::btree_set((1i64..600, 0usize..3), 0..200),
            meet in 0i64..610,
        ) {
            let (_dir, s) = test_store(&LABELS);
            let images: Vec<ImageRecord> = (0..600)
                .map(|i| ImageRecord::missing(format!("i{i:03}"), None))
                .collect();
            s.insert_images(&images).unwrap();
            for &(id, l) in &candidates {
                s.conn()
                    .execute(
                        "INSERT INTO candidates(image_id, label, is_original) VALUES (?1, ?2, 0)",
                        params![id, LABELS[l]],
                    )
                    .unwrap();
            }
            let by_image = |c: &CandidatesByImage| -> Vec<(i64, Vec<String>)> {
                assert!(c.ids.is_sorted_by(|a, b| a < b));
                c.ids
                    .iter()
                    .enumerate()
                    .map(|(k, &id)| {
                        let labels = &c.labels[c.starts[k]..c.starts[k + 1]];
                        (id, labels.iter().map(|&l| c.names.labels[l as usize].clone()).collect())
                    })
                    .collect()
            };
            let conds = ["1".to_string()];
            let once = CandidatesByImage::read(s.conn(), &conds).unwrap();
            prop_assert_eq!(once.ids.len(), candidates.iter().map(|c| c.0).collect::<BTreeSet<_>>().len());
            // What is unread when the two readers meet at `meet` (the read going up has taken
            // the ids below it); then the two extremes, one reader taking every span.
            let (first, end) = (1, 600);
            let meet = meet.clamp(first, end);
            let other = s.second_reader().unwrap().unwrap();
            for (below, above) in [(first..meet, meet..end), (first..end, end..end), (first..first, first..end)] {
                let unread = |ids: Range<i64>| {
                    let ids = i128::from(ids.start)..i128::from(ids.end);
                    Unread::new(Some(Unclaimed { ids, span: 7 }))
                };
                let up = CandidatesByImage::read_from_end(other.conn(), &conds, &unread(below), true).unwrap();
                let down = CandidatesByImage::read_from_end(s.conn(), &conds, &unread(above), false).unwrap();
                prop_assert_eq!(by_image(&up.then_down(down)), by_image(&once));
            }
        }

        /// The selection held in memory answers the session's questions (an image's labels,
        /// whether it is open, the counts; after a sample and with gold images added) as the
        /// selection's definition does, whatever the order of the image ids.
        #[test]
        fn the_selection_answers_as_its_definition(
            answers in proptest::collection::vec((0usize..5, 0usize..3, 0usize..2, 0usize..3), 0..24),
            which in 0u8..7,
            keep in proptest::collection::vec(any::<bool>(), 5),
        ) {
            let (_dir, s) = test_store(&LABELS);
            let images: Vec<ImageRecord> = KEYS
                .iter()
                .enumerate()
                .map(|(i, k)| ImageRecord::missing(k.to_string(), Some(LABELS[i % 3].into())))
                .collect();
            s.insert_images(&images).unwrap();
            crate::store::predictions::rebuild_candidates(s.conn()).unwrap();
            // A second candidate on some images, beside the original.
            s.conn()
                .execute_batch(
                    "INSERT OR IGNORE INTO candidates(image_id, label, is_original)
                     SELECT id, 'c', 0 FROM images WHERE id % 2 = 0;",
                )
                .unwrap();
            for &(i, l, w, a) in &answers {
                s.append_answer(KEYS[i], LABELS[l], Answer::ALL[a], WHO[w], "s", None)
                    .unwrap();
            }
            let f = filter(which);
            let want = expected(&s, &f);
            let got = s.select_images(&f).unwrap();
            // The first selection folded the answers and kept the tally; the second reads it
            // (on a second connection, when no class narrows the filter).
            if f.labels.is_none() && f.reads_answers() {
                prop_assert!(crate::store::tally::is_current(s.conn()).unwrap());
            }
            let again = s.select_images(&f).unwrap();
            prop_assert_eq!(&again, &got);
            let mut keys: Vec<(String, i64)> =
                s.conn()
                    .prepare("SELECT key, id FROM images")
                    .unwrap()
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .unwrap()
                    .collect::<rusqlite::Result<_>>()
                    .unwrap();
            keys.sort();
            let images: Vec<(i64, String, u64)> = keys
                .iter()
                .filter_map(|(key, id)| {
                    let n = want.iter().filter(|(i, _)| i == id).count() as u64;
                    (n > 0).then(|| (*id, key.clone(), n))
                })
                .collect();
            prop_assert_eq!(
                got.iter().map(|q| (q.id, q.key.clone(), q.questions)).collect::<Vec<_>>(),
                images
            );
            let labels_of = |want: &BTreeSet<(i64, String)>, id: i64| -> Vec<String> {
                want.iter().filter(|(i, _)| *i == id).map(|(_, l)| l.clone()).collect()
            };
            let ann = answered_by(&s, "ann");
            for (key, id) in &keys {
                let labels = labels_of(&want, *id);
                prop_assert_eq!(s.selection_labels(*id).unwrap(), labels.clone());
                let open = labels.iter().any(|l| !ann.contains(&(key.clone(), l.clone())));
                prop_assert_eq!(s.selection_is_open("ann", *id).unwrap(), open);
            }
            let answered = want
                .iter()
                .filter(|(id, l)| {
                    let key = &keys.iter().find(|k| k.1 == *id).unwrap().0;
                    ann.contains(&(key.clone(), l.clone()))
                })
                .count() as u64;
            prop_assert_eq!(s.selection_counts("ann").unwrap(), (want.len() as u64, answered));

            // A sample of the images, then one image's every candidate added (a gold image).
            let kept: Vec<i64> = keys.iter().zip(&keep).filter(|(_, k)| **k).map(|(k, _)| k.1).collect();
            s.restrict_selection(&kept).unwrap();
            let mut want: BTreeSet<(i64, String)> =
                want.into_iter().filter(|(id, _)| kept.contains(id)).collect();
            let gold = keys[0].1;
            s.add_to_selection(&[gold]).unwrap();
            for l in s.candidates(gold).unwrap() {
                want.insert((gold, l.label));
            }
            for (_, id) in &keys {
                prop_assert_eq!(s.selection_labels(*id).unwrap(), labels_of(&want, *id));
            }
            prop_assert_eq!(s.selection_counts("bob").unwrap().0, want.len() as u64);
        }
    }
}
