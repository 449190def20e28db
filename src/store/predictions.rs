//! Model predictions and the candidate labels they give.
//!
//! Candidates for an image = its original label ∪ each model's top-k ∪ any label already
//! answered for it. The `candidates` table is derived from those and rebuilt after each import;
//! provenance (original or not, which model at which rank with which score) is read back from
//! `images` and `predictions`, so it can never disagree with them.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, Statement, params};

use super::Store;
use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct PredictionSource {
    pub model: String,
    pub rank: u32,
    pub score: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub label: String,
    pub is_original: bool,
    /// Models that predicted this label, best rank first.
    pub sources: Vec<PredictionSource>,
}

/// A model's rows and images, counted by [`Store::models`].
#[derive(Clone, Copy, Default)]
struct ModelCount {
    predictions: u64,
    images: u64,
    last_image: Option<i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ModelInfo {
    pub name: String,
    pub source: Option<String>,
    pub imported_at: String,
    pub predictions: u64,
    pub images: u64,
}

/// Writes predictions inside a caller's transaction. The first time a model is seen, its old
/// predictions are removed, so re-importing a model replaces it and never duplicates it.
pub struct PredictionWriter<'c> {
    conn: &'c Connection,
    models: HashMap<String, i64>,
    insert: Statement<'c>,
    pub rows: u64,
}

impl<'c> PredictionWriter<'c> {
    pub fn new(conn: &'c Connection) -> Result<Self> {
        Ok(PredictionWriter {
            conn,
            models: HashMap::new(),
            insert: conn.prepare(
                "INSERT INTO predictions(image_id, model_id, rank, label, score)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?,
            rows: 0,
        })
    }

    /// The model's id, registering it (and clearing its old rows) on first sight.
    pub fn model_id(&mut self, name: &str, source: &str) -> Result<i64> {
        self.register(name, source, true)
    }

    /// Inserts one row. Returns `Ok(false)` when (image, model, rank) is already taken in this
    /// import, which the caller reports with the file's line.
    pub fn add(
        &mut self,
        image_id: i64,
        model_id: i64,
        rank: u32,
        label: &str,
        score: Option<f64>,
    ) -> Result<bool> {
        match self
            .insert
            .execute(params![image_id, model_id, rank, label, score])
        {
            Ok(_) => {
                self.rows += 1;
                Ok(true)
            }
            Err(rusqlite::Error::SqliteFailure(f, _))
                if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
            {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    pub fn models_seen(&self) -> Vec<String> {
        let mut v: Vec<String> = self.models.keys().cloned().collect();
        v.sort();
        v
    }

    /// The model's id, registering it on first sight but keeping its rows: for runs that add to
    /// a model's predictions in several transactions (`labelvet predict` resuming after Ctrl-C),
    /// where clearing would throw away the chunks already done.
    pub fn model_id_keep(&mut self, name: &str, source: &str) -> Result<i64> {
        self.register(name, source, false)
    }

    fn register(&mut self, name: &str, source: &str, clear: bool) -> Result<i64> {
        if let Some(&id) = self.models.get(name) {
            return Ok(id);
        }
        let id = register_model(self.conn, name, source, clear)?;
        self.models.insert(name.to_string(), id);
        Ok(id)
    }
}

/// Registers a model by name (a known name keeps its id and takes the new source and import
/// time) and returns its id; `clear` removes its old predictions.
fn register_model(conn: &Connection, name: &str, source: &str, clear: bool) -> Result<i64> {
    let id: i64 = conn.query_row(
        "INSERT INTO models(name, source, imported_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(name) DO UPDATE SET source = excluded.source,
                                         imported_at = excluded.imported_at
         RETURNING id",
        params![name, source, super::now_rfc3339()],
        |r| r.get(0),
    )?;
    if clear {
        conn.execute("DELETE FROM predictions WHERE model_id = ?1", [id])?;
    }
    Ok(id)
}

/// How many rows [`SortedPredictions`] holds before it sorts them and moves them to its run
/// file: 2 Mi rows of 24 bytes, 48 MiB.
const RUN_ROWS: usize = 1 << 21;
/// Predictions written at once from which SQLite's sorter gets a helper thread for the index
/// builds: 10 models' top-5 for ImageNet-train (64 M) gain from it, 10 models' top-5 for
/// ImageNet-val (2.5 M) do not (about 0.5 s more CPU).
const SORTER_HELPER_ROWS: u64 = 1 << 24;
/// Rows to an `INSERT` statement when the sorted rows are written.
const INSERT_ROWS: usize = 64;

/// One prediction as [`SortedPredictions`] holds it: the image by its position in id order, the
/// model by the order it was first seen in, the label by its position in the caller's label
/// table, the score NaN when there is none (scores are checked finite before they get here).
#[derive(Clone, Copy, Debug)]
struct Row {
    image: u32,
    model: u32,
    rank: u32,
    label: u32,
    score: f64,
}

impl Row {
    const BYTES: usize = 24;

    fn write(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let mut b = [0u8; Self::BYTES];
        b[0..4].copy_from_slice(&self.image.to_le_bytes());
        b[4..8].copy_from_slice(&self.model.to_le_bytes());
        b[8..12].copy_from_slice(&self.rank.to_le_bytes());
        b[12..16].copy_from_slice(&self.label.to_le_bytes());
        b[16..24].copy_from_slice(&self.score.to_le_bytes());
        out.write_all(&b)
    }

    fn read(inp: &mut impl std::io::Read) -> std::io::Result<Row> {
        let mut b = [0u8; Self::BYTES];
        inp.read_exact(&mut b)?;
        let u = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        Ok(Row {
            image: u(0),
            model: u(4),
            rank: u(8),
            label: u(12),
            score: f64::from_le_bytes(b[16..24].try_into().expect("8 bytes")),
        })
    }
}

/// Writes a bulk import's predictions in the table's primary-key order, (image, model, rank),
/// whatever order the files give them in. Files come model by model, each over every image:
/// inserted as read, every model's rows land all over the table, so each file rewrites every
/// page of it (10 models of ImageNet-train: the table's 2 GB about five times over, through a
/// WAL that cannot be checkpointed inside the transaction). Held as 24-byte rows, sorted in runs
/// of [`RUN_ROWS`] that go to a temporary file beside the project, and merged on the way in, so
/// the table is written once, front to back, in bounded memory.
///
/// As [`PredictionWriter`], inside a caller's transaction, and a model's old predictions are
/// removed the first time it is seen. A rank given twice for one image and model is found as
/// the row is added (one bit per image, model and rank), so the caller names that line.
pub struct SortedPredictions<'c> {
    conn: &'c Connection,
    /// Image ids in ascending order: a row's `image` is a position in here.
    image_ids: Vec<i64>,
    spill_dir: std::path::PathBuf,
    models: HashMap<String, u32>,
    /// Each model's id, by the order it was first seen in.
    model_ids: Vec<i64>,
    /// Per model, per rank (from 1), one bit per image position: taken in this import.
    taken: Vec<Vec<Vec<u64>>>,
    rows: Vec<Row>,
    spill: Option<std::io::BufWriter<std::fs::File>>,
    runs: Vec<u64>,
    /// Rows held before a run is sorted and moved to the file ([`RUN_ROWS`]; tests set less).
    run_rows: usize,
    pub added: u64,
}

impl<'c> SortedPredictions<'c> {
    /// `image_ids`: every image id of the project, ascending (positions are what `add` takes).
    /// Runs that do not fit in memory go to a temporary file in `spill_dir`.
    pub fn new(conn: &'c Connection, image_ids: Vec<i64>, spill_dir: &std::path::Path) -> Self {
        debug_assert!(image_ids.windows(2).all(|w| w[0] < w[1]));
        SortedPredictions {
            conn,
            image_ids,
            spill_dir: spill_dir.to_path_buf(),
            models: HashMap::new(),
            model_ids: Vec::new(),
            taken: Vec::new(),
            rows: Vec::new(),
            spill: None,
            runs: Vec::new(),
            run_rows: RUN_ROWS,
            added: 0,
        }
    }

    /// The model's number in this import, registering it on first sight. Its old rows are
    /// removed by [`SortedPredictions::finish`], with those of every other model of the import,
    /// in one pass over the table: there is no index by model to find one model's rows.
    pub fn model(&mut self, name: &str, source: &str) -> Result<u32> {
        if let Some(&m) = self.models.get(name) {
            return Ok(m);
        }
        let id = register_model(self.conn, name, source, false)?;
        let m = self.model_ids.len() as u32;
        self.model_ids.push(id);
        self.taken.push(Vec::new());
        self.models.insert(name.to_string(), m);
        Ok(m)
    }

    pub fn models_seen(&self) -> Vec<String> {
        let mut v: Vec<String> = self.models.keys().cloned().collect();
        v.sort();
        v
    }

    /// Adds one row: `image` is a position in the ids given to `new`, `label` a position in the
    /// label keys given to `finish`. Returns `Ok(false)` when (image, model, rank) was already
    /// given in this import, which the caller reports with the file's line.
    pub fn add(
        &mut self,
        image: u32,
        model: u32,
        rank: u32,
        label: u32,
        score: Option<f64>,
    ) -> Result<bool> {
        debug_assert!(rank >= 1);
        let ranks = &mut self.taken[model as usize];
        if ranks.len() < rank as usize {
            ranks.resize_with(rank as usize, Vec::new);
        }
        let bits = &mut ranks[rank as usize - 1];
        if bits.is_empty() {
            bits.resize(self.image_ids.len().div_ceil(64), 0);
        }
        let (word, bit) = (image as usize / 64, 1u64 << (image % 64));
        if bits[word] & bit != 0 {
            return Ok(false);
        }
        bits[word] |= bit;
        self.rows.push(Row {
            image,
            model,
            rank,
            label,
            score: score.unwrap_or(f64::NAN),
        });
        self.added += 1;
        if self.rows.len() >= self.run_rows {
            self.spill_run()?;
        }
        Ok(true)
    }

    fn sort_rows(&mut self) {
        let ids = &self.model_ids;
        self.rows
            .sort_unstable_by_key(|r| (r.image, ids[r.model as usize], r.rank));
    }

    fn spill_run(&mut self) -> Result<()> {
        self.sort_rows();
        if self.spill.is_none() {
            let file = tempfile::tempfile_in(&self.spill_dir)
                .map_err(|e| Error::io(&self.spill_dir, e))?;
            self.spill = Some(std::io::BufWriter::with_capacity(1 << 20, file));
        }
        let out = self.spill.as_mut().expect("made above");
        for r in &self.rows {
            r.write(out).map_err(|e| Error::io(&self.spill_dir, e))?;
        }
        self.runs.push(self.rows.len() as u64);
        self.rows.clear();
        Ok(())
    }

    /// Writes every row, in primary-key order, then the candidates (as [`rebuild_candidates`]
    /// makes them); `labels` are the label keys the rows' `label` positions name. Returns how
    /// many rows were written.
    ///
    /// When the table holds no other model's rows (a first import, or every model imported
    /// again), which is when it is written whole: its secondary index is built once from
    /// sorted rows at the end instead of taking each image's rows at one place per model, and
    /// each image's candidates are written as its rows go by instead of being read back from
    /// the table afterwards. Otherwise the rows go in beside the others and the candidates are
    /// rebuilt from the table.
    pub fn finish(mut self, labels: &[String]) -> Result<u64> {
        clear_models(self.conn, &self.model_ids)?;
        let mut rows = self.sorted_rows()?;
        let empty: bool =
            self.conn
                .query_row("SELECT NOT EXISTS (SELECT 1 FROM predictions)", [], |r| {
                    r.get(0)
                })?;
        if !empty {
            let mut insert = Inserter::new(self.conn, &self.image_ids, &self.model_ids, labels)?;
            while let Some(r) = rows.next()? {
                insert.push(r)?;
            }
            insert.flush()?;
            rebuild_candidates(self.conn)?;
            return Ok(self.added);
        }
        let indexes = super::events::drop_table_indexes(self.conn, "predictions")?;
        let candidate_indexes = clear_candidates(self.conn)?;
        let mut insert = Inserter::new(self.conn, &self.image_ids, &self.model_ids, labels)?;
        let mut images = self
            .conn
            .prepare("SELECT id, original_label FROM images ORDER BY id")?;
        let mut images = images.query([])?;
        let mut out = CandidateWriter::new(self.conn)?;
        let mut image_labels = ImageLabels::default();
        let mut original: Option<Vec<u8>> = None;
        let mut row = rows.next()?;
        for (at, &id) in self.image_ids.iter().enumerate() {
            // The ids given to `new` are the images table's, read in the same transaction.
            if next_image(&mut images, &mut original)? != Some(id) {
                return Err(Error::msg(format!(
                    "image {id} is no longer in the project's images"
                )));
            }
            image_labels.clear();
            if let Some(o) = &original {
                image_labels.push(o, true);
            }
            while let Some(r) = row.filter(|r| r.image as usize == at) {
                insert.push(r)?;
                image_labels.push(labels[r.label as usize].as_bytes(), false);
                row = rows.next()?;
            }
            image_labels.write(id, &mut out)?;
        }
        if next_image(&mut images, &mut original)?.is_some() || row.is_some() {
            return Err(Error::msg(
                "the project's images changed while predictions were written",
            ));
        }
        drop(images);
        insert.flush()?;
        out.flush()?;
        add_answered_candidates(self.conn)?;
        // The index by label over 30 M candidates of 10 models was a third of the writing, and
        // the sorter's helpers take part of it. Below [`SORTER_HELPER_ROWS`] they cost more than
        // they save.
        let helpers = if self.added >= SORTER_HELPER_ROWS {
            2
        } else {
            0
        };
        // The sorter's runs are as large as the page cache, and the import's 64 MiB, which the
        // inserts want, only holds memory here: in the `sqlite3` shell the index by label over
        // 30 M candidates took 19-30 s at 8 MiB (38 MB RSS), 23-33 s at 64 MiB (270 MB). The
        // whole 10-model import's peak RSS went 451 -> 267 MB, in the same time within noise.
        let cache: i64 = self
            .conn
            .pragma_query_value(None, "cache_size", |r| r.get(0))?;
        self.conn.pragma_update(None, "cache_size", -8192)?;
        super::events::build_indexes(self.conn, &indexes, helpers)?;
        super::events::build_indexes(self.conn, &candidate_indexes, helpers)?;
        self.conn.pragma_update(None, "cache_size", cache)?;
        Ok(self.added)
    }

    /// Every row in primary-key order: sorted in memory when they all fit, else merged from
    /// the sorted runs of the spill file.
    fn sorted_rows(&mut self) -> Result<SortedRows> {
        if self.spill.is_none() {
            self.sort_rows();
            return Ok(SortedRows::Memory(
                std::mem::take(&mut self.rows).into_iter(),
            ));
        }
        if !self.rows.is_empty() {
            self.spill_run()?;
        }
        self.rows = Vec::new();
        let dir = self.spill_dir.clone();
        let io = |e| Error::io(&dir, e);
        let file = self
            .spill
            .take()
            .expect("spilled")
            .into_inner()
            .map_err(|e| io(e.into_error()))?;
        let mut runs = Vec::with_capacity(self.runs.len());
        let mut at = 0u64;
        for &n in &self.runs {
            runs.push(RunReader {
                file: file.try_clone().map_err(io)?,
                at: at * Row::BYTES as u64,
                left: n,
                buf: Vec::new(),
                pos: 0,
            });
            at += n;
        }
        Ok(SortedRows::Merged(Merged::start(
            dir,
            runs,
            self.model_ids.clone(),
        )))
    }
}

/// Removes every prediction of the models `ids`, in one pass over the table (a `DELETE ...
/// WHERE model_id = ?` per model would be a pass each). When they are all the table holds (every
/// model imported again), the table is emptied whole, which SQLite does by freeing its pages
/// instead of deleting 64 M rows one by one.
fn clear_models(conn: &Connection, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let others: bool = conn.query_row(
        &format!("SELECT EXISTS (SELECT 1 FROM predictions WHERE model_id NOT IN ({list}))"),
        [],
        |r| r.get(0),
    )?;
    if others {
        conn.execute(
            &format!("DELETE FROM predictions WHERE model_id IN ({list})"),
            [],
        )?;
    } else {
        conn.execute("DELETE FROM predictions", [])?;
    }
    Ok(())
}

/// A row's place in primary-key order: image, model id, rank.
fn merge_key(r: &Row, model_ids: &[i64]) -> (u32, i64, u32) {
    (r.image, model_ids[r.model as usize], r.rank)
}

type MergeHeap = std::collections::BinaryHeap<std::cmp::Reverse<((u32, i64, u32), usize, RowOrd)>>;

/// [`SortedPredictions`]' rows in primary-key order.
enum SortedRows {
    Memory(std::vec::IntoIter<Row>),
    Merged(Merged),
}

impl SortedRows {
    fn next(&mut self) -> Result<Option<Row>> {
        match self {
            SortedRows::Memory(rows) => Ok(rows.next()),
            SortedRows::Merged(m) => m.next(),
        }
    }
}

/// Rows handed from the merging thread to the writing one at a time.
const MERGED_BATCH: usize = 1 << 13;

/// The spill file's runs merged into primary-key order on a thread of their own, which hands
/// the rows over in batches. Writing them is SQLite's work on one thread, with the second core
/// idle; merging 64 M rows from 32 runs (reading the file, the heap) is about a tenth of the
/// writing (a 10-model import of ImageNet-train: about 13 s of 130).
struct Merged {
    rows: std::vec::IntoIter<Row>,
    batches: std::sync::mpsc::Receiver<Result<Vec<Row>>>,
    /// Taken when the merge has handed over its last batch (or failed), to hear how it ended.
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Merged {
    fn start(dir: std::path::PathBuf, mut runs: Vec<RunReader>, model_ids: Vec<i64>) -> Merged {
        // Two batches in flight: the merge stays ahead of the writer without holding more.
        let (send, batches) = std::sync::mpsc::sync_channel(2);
        let thread = std::thread::spawn(move || {
            let io = |e| Error::io(dir.as_path(), e);
            let mut merge = |send: &std::sync::mpsc::SyncSender<Result<Vec<Row>>>| -> Result<()> {
                let mut heap = MergeHeap::new();
                for (i, run) in runs.iter_mut().enumerate() {
                    if let Some(r) = run.next().map_err(io)? {
                        heap.push(std::cmp::Reverse((merge_key(&r, &model_ids), i, RowOrd(r))));
                    }
                }
                let mut batch = Vec::with_capacity(MERGED_BATCH);
                while let Some(std::cmp::Reverse((_, i, RowOrd(r)))) = heap.pop() {
                    if let Some(next) = runs[i].next().map_err(io)? {
                        heap.push(std::cmp::Reverse((
                            merge_key(&next, &model_ids),
                            i,
                            RowOrd(next),
                        )));
                    }
                    batch.push(r);
                    if batch.len() == MERGED_BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(MERGED_BATCH));
                        if send.send(Ok(full)).is_err() {
                            // The writer stopped (an error of its own): nothing left to do.
                            return Ok(());
                        }
                    }
                }
                if !batch.is_empty() {
                    let _ = send.send(Ok(batch));
                }
                Ok(())
            };
            if let Err(e) = merge(&send) {
                let _ = send.send(Err(e));
            }
        });
        Merged {
            rows: Vec::new().into_iter(),
            batches,
            thread: Some(thread),
        }
    }

    fn next(&mut self) -> Result<Option<Row>> {
        loop {
            if let Some(r) = self.rows.next() {
                return Ok(Some(r));
            }
            match self.batches.recv() {
                Ok(batch) => self.rows = batch?.into_iter(),
                // The merge is over: every batch was handed over, or it panicked.
                Err(_) => {
                    if let Some(t) = self.thread.take()
                        && t.join().is_err()
                    {
                        return Err(Error::msg("merging the sorted predictions failed"));
                    }
                    return Ok(None);
                }
            }
        }
    }
}

/// A row in the merge's heap, which orders by the key beside it.
struct RowOrd(Row);

impl PartialEq for RowOrd {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for RowOrd {}
impl PartialOrd for RowOrd {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for RowOrd {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

/// One sorted run of the spill file, read a block at a time at its own offset.
struct RunReader {
    file: std::fs::File,
    at: u64,
    left: u64,
    buf: Vec<u8>,
    pos: usize,
}

impl RunReader {
    fn next(&mut self) -> std::io::Result<Option<Row>> {
        if self.pos == self.buf.len() {
            if self.left == 0 {
                return Ok(None);
            }
            let n = self.left.min(1 << 12);
            self.buf.resize(n as usize * Row::BYTES, 0);
            std::os::unix::fs::FileExt::read_exact_at(&self.file, &mut self.buf, self.at)?;
            self.at += self.buf.len() as u64;
            self.left -= n;
            self.pos = 0;
        }
        let row = Row::read(&mut &self.buf[self.pos..self.pos + Row::BYTES])?;
        self.pos += Row::BYTES;
        Ok(Some(row))
    }
}

/// Inserts rows [`INSERT_ROWS`] to a statement.
struct Inserter<'a> {
    conn: &'a Connection,
    full: Statement<'a>,
    image_ids: &'a [i64],
    model_ids: &'a [i64],
    labels: &'a [String],
    batch: Vec<Row>,
}

impl<'a> Inserter<'a> {
    fn new(
        conn: &'a Connection,
        image_ids: &'a [i64],
        model_ids: &'a [i64],
        labels: &'a [String],
    ) -> Result<Self> {
        Ok(Inserter {
            conn,
            full: conn.prepare(&insert_sql(INSERT_ROWS))?,
            image_ids,
            model_ids,
            labels,
            batch: Vec::with_capacity(INSERT_ROWS),
        })
    }

    fn push(&mut self, r: Row) -> Result<()> {
        self.batch.push(r);
        if self.batch.len() == INSERT_ROWS {
            bind_rows(
                &mut self.full,
                &self.batch,
                self.image_ids,
                self.model_ids,
                self.labels,
            )?;
            self.full.raw_execute()?;
            self.batch.clear();
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let mut stmt = self.conn.prepare(&insert_sql(self.batch.len()))?;
        bind_rows(
            &mut stmt,
            &self.batch,
            self.image_ids,
            self.model_ids,
            self.labels,
        )?;
        stmt.raw_execute()?;
        self.batch.clear();
        Ok(())
    }
}

/// `OR FAIL`: a statement of many rows that may abort halfway makes SQLite copy each page it
/// touches to a statement journal first, so that it can undo the statement alone. Nothing here
/// is undone alone: the rows are checked before they get here, and any error rolls the whole
/// import back.
fn insert_sql(rows: usize) -> String {
    format!(
        "INSERT OR FAIL INTO predictions(image_id, model_id, rank, label, score) VALUES {}",
        vec!["(?,?,?,?,?)"; rows].join(",")
    )
}

fn bind_rows(
    stmt: &mut Statement<'_>,
    rows: &[Row],
    image_ids: &[i64],
    model_ids: &[i64],
    labels: &[String],
) -> Result<()> {
    let mut i = 0;
    for r in rows {
        stmt.raw_bind_parameter(i + 1, image_ids[r.image as usize])?;
        stmt.raw_bind_parameter(i + 2, model_ids[r.model as usize])?;
        stmt.raw_bind_parameter(i + 3, r.rank)?;
        stmt.raw_bind_parameter(i + 4, labels[r.label as usize].as_str())?;
        let score = (!r.score.is_nan()).then_some(r.score);
        stmt.raw_bind_parameter(i + 5, score)?;
        i += 5;
    }
    Ok(())
}

/// Recomputes the candidate table from original labels, predictions and answered labels (a
/// gold question or a verdict makes its label a candidate too, so that it can be asked).
///
/// Originals and predictions, nearly all of the rows, are read image by image (both tables in
/// id order) and each image's labels written sorted and once, so that the table is written
/// front to back: one `INSERT OR IGNORE ... SELECT` from the predictions tried every prediction
/// against the table (64 M of them for 10 models' top-5 on ImageNet-train, for 30 M
/// candidates). An original label is the one candidate with `is_original` set.
/// Answered labels follow in SQL. Retractions need no filter: one names the same
/// (image, label) as the answer it undoes, and reading only those two columns lets SQLite walk
/// the covering `judgments_by_item` index.
///
/// The table's secondary index (`candidates_by_label`) is dropped meanwhile and built again
/// from its own statement at the end: built once from sorted rows it costs less than taking
/// each image's labels at about as many places as there are classes (30 M candidates of 10
/// models on ImageNet-train: about 20 s less).
pub fn rebuild_candidates(conn: &Connection) -> Result<()> {
    let indexes = clear_candidates(conn)?;
    write_predicted_candidates(conn)?;
    add_answered_candidates(conn)?;
    for (_, sql) in &indexes {
        conn.execute_batch(sql)?;
    }
    Ok(())
}

/// Empties the candidates and drops their secondary indexes; returns the indexes' statements,
/// to be run once the table is filled again.
fn clear_candidates(conn: &Connection) -> Result<Vec<(String, String)>> {
    conn.execute_batch("DELETE FROM candidates;")?;
    super::events::drop_table_indexes(conn, "candidates")
}

/// Makes each (image row id, class key) a candidate that is not one yet, as an answer to it
/// does; the questions come in the candidates' primary-key order. When they outnumber the
/// candidates there already (a first import of answers), the index by label is dropped and
/// built again afterwards: for ReaL's 185,000 questions into 50,000 candidates, 0.6 s of
/// inserts into the index became 0.2 s of inserts and 0.2 s of building it.
pub(crate) fn add_candidates<'a>(
    conn: &Connection,
    questions: impl ExactSizeIterator<Item = (i64, &'a str)>,
) -> Result<()> {
    let n = questions.len();
    // Counted only up to `n`: a project may hold 30 M candidates.
    let held: usize = conn.query_row(
        "SELECT count(*) FROM (SELECT 1 FROM candidates LIMIT ?1)",
        [n as i64],
        |r| r.get(0),
    )?;
    let dropped = if n > held {
        super::events::drop_table_indexes(conn, "candidates")?
    } else {
        Vec::new()
    };
    let mut stmt = conn.prepare_cached(INSERT_CANDIDATE)?;
    for (image, label) in questions {
        stmt.execute(params![image, label, false])?;
    }
    super::events::build_indexes(conn, &dropped, 0)
}

/// One candidate, unless it is one already (then its `is_original` stays).
pub(crate) const INSERT_CANDIDATE: &str =
    "INSERT OR IGNORE INTO candidates(image_id, label, is_original) VALUES (?1, ?2, ?3)";

/// Answered labels as candidates, beside those of originals and predictions.
fn add_answered_candidates(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "INSERT OR IGNORE INTO candidates(image_id, label, is_original)
           SELECT i.id, j.label, 0
           FROM (SELECT DISTINCT image, label FROM judgments) j
           JOIN images i ON i.key = j.image
           JOIN classes c ON c.key = j.label;
         INSERT OR IGNORE INTO candidates(image_id, label, is_original)
           SELECT i.id, j.label, 0
           FROM (SELECT DISTINCT image, label FROM gold
                 UNION SELECT DISTINCT image, label FROM verdicts) j
           JOIN images i ON i.key = j.image
           JOIN classes c ON c.key = j.label;",
    )?;
    Ok(())
}

/// Rows to an `INSERT` statement when candidates are written.
const CANDIDATE_ROWS: usize = 100;

/// The candidates of originals and predictions, image by image into an empty table.
fn write_predicted_candidates(conn: &Connection) -> Result<()> {
    let mut images = conn.prepare("SELECT id, original_label FROM images ORDER BY id")?;
    let mut preds = conn.prepare("SELECT image_id, label FROM predictions ORDER BY image_id")?;
    let mut images = images.query([])?;
    let mut preds = preds.query([])?;
    let mut out = CandidateWriter::new(conn)?;
    let mut labels = ImageLabels::default();
    let mut original: Option<Vec<u8>> = None;
    let mut predicted: Vec<u8> = Vec::new();
    let mut image = next_image(&mut images, &mut original)?;
    let mut pred = next_prediction(&mut preds, &mut predicted)?;
    loop {
        let id = match (image, pred) {
            (None, None) => break,
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
        };
        labels.clear();
        if image == Some(id) {
            if let Some(o) = &original {
                labels.push(o, true);
            }
            image = next_image(&mut images, &mut original)?;
        }
        while pred == Some(id) {
            labels.push(&predicted, false);
            pred = next_prediction(&mut preds, &mut predicted)?;
        }
        labels.write(id, &mut out)?;
    }
    out.flush()
}

fn next_image(
    rows: &mut rusqlite::Rows<'_>,
    original: &mut Option<Vec<u8>>,
) -> Result<Option<i64>> {
    let Some(r) = rows.next()? else {
        return Ok(None);
    };
    *original = text_or_null(r.get_ref(1)?).map(<[u8]>::to_vec);
    Ok(Some(r.get(0)?))
}

fn next_prediction(rows: &mut rusqlite::Rows<'_>, label: &mut Vec<u8>) -> Result<Option<i64>> {
    let Some(r) = rows.next()? else {
        return Ok(None);
    };
    label.clear();
    label.extend_from_slice(text_or_null(r.get_ref(1)?).unwrap_or_default());
    Ok(Some(r.get(0)?))
}

/// A label column's bytes: TEXT columns whose values all come from class keys.
fn text_or_null(v: rusqlite::types::ValueRef<'_>) -> Option<&[u8]> {
    match v {
        rusqlite::types::ValueRef::Null => None,
        rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => Some(t),
        // Never stored (the column is TEXT, with a class key's affinity); kept as nothing.
        _ => None,
    }
}

/// One image's candidate labels: their bytes, and each one's span and whether it is original.
#[derive(Default)]
struct ImageLabels {
    text: Vec<u8>,
    spans: Vec<(usize, usize, bool)>,
}

impl ImageLabels {
    fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
    }

    fn push(&mut self, label: &[u8], original: bool) {
        let start = self.text.len();
        self.text.extend_from_slice(label);
        self.spans.push((start, self.text.len(), original));
    }

    /// Writes the labels in key order (SQLite's BINARY order is byte order), each once; the
    /// original sorts before a prediction of the same label, and is the one kept.
    fn write(&mut self, image: i64, out: &mut CandidateWriter<'_>) -> Result<()> {
        let text = &self.text;
        self.spans
            .sort_unstable_by(|a, b| text[a.0..a.1].cmp(&text[b.0..b.1]).then(b.2.cmp(&a.2)));
        let mut last: Option<&[u8]> = None;
        for &(s, e, original) in &self.spans {
            let label = &text[s..e];
            if last == Some(label) {
                continue;
            }
            last = Some(label);
            out.push(image, label, original)?;
        }
        Ok(())
    }
}

/// Inserts candidate rows [`CANDIDATE_ROWS`] to a statement.
struct CandidateWriter<'c> {
    conn: &'c Connection,
    full: Statement<'c>,
    text: Vec<u8>,
    rows: Vec<(i64, usize, usize, bool)>,
}

impl<'c> CandidateWriter<'c> {
    fn new(conn: &'c Connection) -> Result<Self> {
        Ok(CandidateWriter {
            conn,
            full: conn.prepare(&Self::sql(CANDIDATE_ROWS))?,
            text: Vec::new(),
            rows: Vec::with_capacity(CANDIDATE_ROWS),
        })
    }

    fn sql(rows: usize) -> String {
        format!(
            // `OR FAIL`: no statement journal (see `insert_sql`).
            "INSERT OR FAIL INTO candidates(image_id, label, is_original) VALUES {}",
            vec!["(?,?,?)"; rows].join(",")
        )
    }

    fn push(&mut self, image: i64, label: &[u8], original: bool) -> Result<()> {
        let start = self.text.len();
        self.text.extend_from_slice(label);
        self.rows.push((image, start, self.text.len(), original));
        if self.rows.len() == CANDIDATE_ROWS {
            Self::bind(&mut self.full, &self.text, &self.rows)?;
            self.full.raw_execute()?;
            self.rows.clear();
            self.text.clear();
        }
        Ok(())
    }

    fn bind(
        stmt: &mut Statement<'_>,
        text: &[u8],
        rows: &[(i64, usize, usize, bool)],
    ) -> Result<()> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        for (i, &(image, s, e, original)) in rows.iter().enumerate() {
            stmt.raw_bind_parameter(3 * i + 1, image)?;
            stmt.raw_bind_parameter(
                3 * i + 2,
                ToSqlOutput::Borrowed(ValueRef::Text(&text[s..e])),
            )?;
            stmt.raw_bind_parameter(3 * i + 3, original)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let mut stmt = self.conn.prepare(&Self::sql(self.rows.len()))?;
        Self::bind(&mut stmt, &self.text, &self.rows)?;
        stmt.raw_execute()?;
        self.rows.clear();
        self.text.clear();
        Ok(())
    }
}

impl Store {
    pub fn rebuild_candidates(&self) -> Result<()> {
        self.named(|| rebuild_candidates(&self.conn))
    }

    /// An image's candidates with provenance, in a stable order (original first, then by best
    /// rank, then key). The annotation screen shuffles this order itself when it runs blind.
    pub fn candidates(&self, image_id: i64) -> Result<Vec<Candidate>> {
        self.named(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT c.label, c.is_original, m.name, p.rank, p.score
                 FROM candidates c
                 LEFT JOIN predictions p ON p.image_id = c.image_id AND p.label = c.label
                 LEFT JOIN models m ON m.id = p.model_id
                 WHERE c.image_id = ?1
                 ORDER BY c.label, p.rank, m.name",
            )?;
            let mut out: Vec<Candidate> = Vec::new();
            let rows = stmt.query_map([image_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<u32>>(3)?,
                    r.get::<_, Option<f64>>(4)?,
                ))
            })?;
            for row in rows {
                let (label, is_original, model, rank, score) = row?;
                if out.last().is_none_or(|c| c.label != label) {
                    out.push(Candidate {
                        label,
                        is_original,
                        sources: Vec::new(),
                    });
                }
                if let (Some(model), Some(rank)) = (model, rank) {
                    out.last_mut()
                        .expect("pushed above")
                        .sources
                        .push(PredictionSource { model, rank, score });
                }
            }
            out.sort_by(|a, b| {
                let best =
                    |c: &Candidate| c.sources.iter().map(|s| s.rank).min().unwrap_or(u32::MAX);
                b.is_original
                    .cmp(&a.is_original)
                    .then(best(a).cmp(&best(b)))
                    .then(a.label.cmp(&b.label))
            });
            Ok(out)
        })
    }

    /// Every model, by name, with how many predictions it has and over how many images.
    pub fn models(&self) -> Result<Vec<ModelInfo>> {
        self.named(|| {
            // Counted in one pass over the primary key (image, model, rank): there is no index
            // by model (schema 7), and the pass reads each page once. A model's rows of one
            // image are consecutive among its rows, so its images are its changes of image.
            let mut counts: Vec<(i64, ModelCount)> = Vec::new();
            let mut stmt = self.conn.prepare(
                "SELECT image_id, model_id FROM predictions ORDER BY image_id, model_id",
            )?;
            let mut rows = stmt.query([])?;
            let mut at = 0;
            while let Some(r) = rows.next()? {
                let (image, model): (i64, i64) = (r.get(0)?, r.get(1)?);
                if counts.get(at).is_none_or(|c| c.0 != model) {
                    at = match counts.iter().position(|c| c.0 == model) {
                        Some(i) => i,
                        None => {
                            counts.push((model, ModelCount::default()));
                            counts.len() - 1
                        }
                    };
                }
                let c = &mut counts[at].1;
                c.predictions += 1;
                if c.last_image != Some(image) {
                    c.images += 1;
                    c.last_image = Some(image);
                }
            }
            let mut stmt = self
                .conn
                .prepare("SELECT id, name, source, imported_at FROM models ORDER BY name")?;
            let rows = stmt
                .query_map([], |r| {
                    let id: i64 = r.get(0)?;
                    let c = counts
                        .iter()
                        .find(|c| c.0 == id)
                        .map(|c| c.1)
                        .unwrap_or_default();
                    Ok(ModelInfo {
                        name: r.get(1)?,
                        source: r.get(2)?,
                        imported_at: r.get(3)?,
                        predictions: c.predictions,
                        images: c.images,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Mean, min and max number of candidates per image, over all images (0 for none).
    pub fn candidate_stats(&self) -> Result<(f64, u64, u64)> {
        self.named(|| {
            // One pass over the candidates in key order, a count per image that has any: a
            // count per image of `images` was a key search each, 5 s of CPU on 1.28 M images.
            // Every candidate names an image of the project (a foreign key), so the images
            // missing from the groups are those with none.
            let (images, groups, total, min, max): (u64, u64, u64, u64, u64) =
                self.conn.query_row(
                    "SELECT (SELECT count(*) FROM images), count(*), coalesce(sum(n), 0),
                            coalesce(min(n), 0), coalesce(max(n), 0)
                     FROM (SELECT count(*) AS n FROM candidates GROUP BY image_id)",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )?;
            if images == 0 {
                return Ok((0.0, 0, 0));
            }
            let min = if groups < images { 0 } else { min };
            Ok((total as f64 / images as f64, min, max))
        })
    }

    /// How many (image, label) questions the project asks: its candidates. SQLite counts a
    /// table's rows from its pages, without reading them (0.3 s for 30 M candidates, against
    /// 1.6 s for [`Store::candidate_stats`]).
    pub fn candidate_count(&self) -> Result<u64> {
        self.named(|| {
            Ok(self
                .conn
                .query_row("SELECT count(*) FROM candidates", [], |r| r.get(0))?)
        })
    }

    /// Ids of the images that already have predictions of `model` (none when it is unknown).
    pub fn images_predicted_by(&self, model: &str) -> Result<HashSet<i64>> {
        self.named(|| {
            let mut stmt = self.conn.prepare(
                "SELECT DISTINCT p.image_id FROM predictions p JOIN models m ON m.id = p.model_id
                 WHERE m.name = ?1",
            )?;
            let ids = stmt
                .query_map([model], |r| r.get(0))?
                .collect::<rusqlite::Result<HashSet<i64>>>()?;
            Ok(ids)
        })
    }

    /// Every model's id and name, by name: what listing the models costs without counting
    /// their rows (`models` counts them, seconds on tens of millions of predictions).
    pub fn model_names(&self) -> Result<Vec<(i64, String)>> {
        self.named(|| {
            let mut stmt = self
                .conn
                .prepare("SELECT id, name FROM models ORDER BY name")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Calls `f(image_id, model_id, label)` for every model's top-1 label, in one pass over the
    /// predictions in key order. The order makes SQLite walk the primary key, reading each page
    /// once: going model by model through an index by model cost a key search per row (22 s
    /// for 10 models on 1.28 M images, against 3.5 s for this pass; schema 7 has no such index).
    pub fn for_each_top1(&self, mut f: impl FnMut(i64, i64, &str)) -> Result<()> {
        self.named(|| {
            let mut stmt = self.conn.prepare(
                "SELECT image_id, model_id, label FROM predictions WHERE rank = 1
                 ORDER BY image_id, model_id",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let label = r.get_ref(2)?.as_str().map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        2,
                        rusqlite::types::Type::Text,
                        e.into(),
                    )
                })?;
                f(r.get(0)?, r.get(1)?, label);
            }
            Ok(())
        })
    }

    /// The model's top-1 label per image key.
    pub fn top1(&self, model: &str) -> Result<HashMap<String, String>> {
        self.named(|| {
            let mut stmt = self.conn.prepare(
                "SELECT i.key, p.label FROM predictions p
                 JOIN models m ON m.id = p.model_id JOIN images i ON i.id = p.image_id
                 WHERE m.name = ?1 AND p.rank = 1",
            )?;
            let rows = stmt
                .query_map([model], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<HashMap<String, String>>>()?;
            Ok(rows)
        })
    }
}

/// Queries for the annotation queue.
impl Store {
    /// How many (image, candidate label) questions the annotator's queue asks.
    pub fn queue_candidate_count(&self, annotator: &str) -> Result<u64> {
        self.named(|| {
            if self.has_assignment(annotator)? {
                Ok(self.conn.query_row(
                    "SELECT count(*) FROM assignments a JOIN images i ON i.key = a.image
                     JOIN candidates c ON c.image_id = i.id WHERE a.annotator = ?1",
                    [annotator],
                    |r| r.get(0),
                )?)
            } else {
                // SQLite counts a whole b-tree without decoding rows: ~50 ms for 10 M candidates.
                Ok(self
                    .conn
                    .query_row("SELECT count(*) FROM candidates", [], |r| r.get(0))?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::store::ImageRecord;
    use crate::vocab::Vocab;

    /// The candidates as the single `INSERT ... SELECT` statements made them before: the
    /// definition the image-by-image rebuild must keep to.
    const CANDIDATES_IN_SQL: &str = "DELETE FROM candidates;
         INSERT INTO candidates(image_id, label, is_original)
           SELECT id, original_label, 1 FROM images WHERE original_label IS NOT NULL;
         INSERT OR IGNORE INTO candidates(image_id, label, is_original)
           SELECT image_id, label, 0 FROM predictions;
         INSERT OR IGNORE INTO candidates(image_id, label, is_original)
           SELECT i.id, j.label, 0
           FROM (SELECT DISTINCT image, label FROM judgments) j
           JOIN images i ON i.key = j.image
           JOIN classes c ON c.key = j.label;
         INSERT OR IGNORE INTO candidates(image_id, label, is_original)
           SELECT i.id, j.label, 0
           FROM (SELECT DISTINCT image, label FROM gold
                 UNION SELECT DISTINCT image, label FROM verdicts) j
           JOIN images i ON i.key = j.image
           JOIN classes c ON c.key = j.label;";

    fn project(dir: &Path, name: &str) -> Store {
        let vocab = Vocab::from_reader(
            "t",
            Path::new("t.csv"),
            "key,name\na,A\nb,B\nc,C\nd,D\nab,AB\n".as_bytes(),
        )
        .unwrap();
        let s = Store::create(&dir.join(name), &vocab).unwrap();
        let images: Vec<ImageRecord> = (0..10)
            .map(|i| {
                let label = ["a", "b", "c"].get(i % 4).map(|l| l.to_string());
                ImageRecord::missing(format!("img{i}"), label)
            })
            .collect();
        s.insert_images(&images).unwrap();
        s
    }

    fn dump(s: &Store, sql: &str) -> Vec<String> {
        let mut stmt = s.conn().prepare(sql).unwrap();
        let n = stmt.column_count();
        stmt.query_map([], |r| {
            Ok((0..n)
                .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                .collect::<Vec<_>>()
                .join("|"))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
    }

    /// Rows given out of order, in runs of 3 through the spill file, land as the row-by-row
    /// writer puts them; the candidates are those the SQL definition gives.
    #[test]
    fn sorted_runs_write_what_row_by_row_writes() {
        let dir = tempfile::tempdir().unwrap();
        let labels: Vec<String> = ["b", "a", "ab", "d", "c"].map(String::from).to_vec();
        // (image position, model, rank, label number, score), model-major as files come.
        let mut rows = Vec::new();
        for (m, shift) in [("zeta", 0usize), ("alpha", 2)] {
            for image in (0..10u32).rev() {
                for rank in 1..=3u32 {
                    let label = (image as usize + rank as usize + shift) % labels.len();
                    let score = (rank != 2).then_some(1.0 / f64::from(rank + image));
                    rows.push((image, m, rank, label as u32, score));
                }
            }
        }
        // Into an empty table (candidates written as the rows go by), over old rows of a model
        // imported again (the table emptied whole), and beside another model's rows
        // (candidates read back from the table), with or without old rows of an imported one.
        let cases: [(bool, &[&str]); 7] = [
            (false, &[]),
            (true, &[]),
            (false, &["zeta"]),
            (true, &["alpha", "zeta"]),
            (false, &["other"]),
            (true, &["other"]),
            (false, &["alpha", "other"]),
        ];
        for (case, (spill, old)) in cases.into_iter().enumerate() {
            let mut by_row = project(dir.path(), &format!("row{case}.db"));
            let mut sorted = project(dir.path(), &format!("sorted{case}.db"));
            let ids: Vec<i64> = {
                let mut v: Vec<i64> = by_row.image_ids().unwrap().into_values().collect();
                v.sort_unstable();
                v
            };
            for s in [&mut by_row, &mut sorted] {
                s.transaction(|tx| {
                    let mut w = PredictionWriter::new(tx)?;
                    for name in old {
                        let m = w.model_id(name, "old")?;
                        for &id in &ids[2..7] {
                            w.add(id, m, 1, "d", None)?;
                            w.add(id, m, 2, "b", Some(0.25))?;
                        }
                    }
                    Ok(())
                })
                .unwrap();
            }
            by_row
                .transaction(|tx| {
                    let mut w = PredictionWriter::new(tx)?;
                    for &(image, m, rank, label, score) in &rows {
                        let id = w.model_id(m, "f")?;
                        let key = &labels[label as usize];
                        assert!(w.add(ids[image as usize], id, rank, key, score)?);
                    }
                    rebuild_candidates_in_sql(tx)
                })
                .unwrap();
            sorted
                .transaction_without_foreign_keys(|tx| {
                    let mut w = SortedPredictions::new(tx, ids.clone(), dir.path());
                    if spill {
                        w.run_rows = 3;
                    }
                    for &(image, m, rank, label, score) in &rows {
                        let n = w.model(m, "f")?;
                        assert!(w.add(image, n, rank, label, score)?);
                        assert!(!w.add(image, n, rank, label, score)?, "a rank given twice");
                    }
                    assert_eq!(w.runs.is_empty(), !spill);
                    assert_eq!(w.finish(&labels)?, rows.len() as u64);
                    Ok(())
                })
                .unwrap();
            for sql in [
                "SELECT * FROM predictions ORDER BY 1, 2, 3",
                "SELECT id, name, source FROM models ORDER BY id",
                "SELECT * FROM candidates ORDER BY 1, 2",
            ] {
                assert_eq!(dump(&by_row, sql), dump(&sorted, sql), "{sql}");
            }
            // `models` counts what the per-model SQL counts.
            let counted: Vec<String> = sorted
                .models()
                .unwrap()
                .iter()
                .map(|m| format!("{}|{}|{}", m.name, m.predictions, m.images))
                .collect();
            let in_sql: Vec<String> = sorted
                .conn()
                .prepare(
                    "SELECT m.name, (SELECT count(*) FROM predictions p WHERE p.model_id = m.id),
                            (SELECT count(DISTINCT image_id) FROM predictions p
                             WHERE p.model_id = m.id)
                     FROM models m ORDER BY m.name",
                )
                .unwrap()
                .query_map([], |r| {
                    Ok(format!(
                        "{}|{}|{}",
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?
                    ))
                })
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert_eq!(counted, in_sql);
            assert_eq!(
                dump(&sorted, "PRAGMA foreign_key_check"),
                Vec::<String>::new()
            );
            assert_eq!(
                dump(
                    &sorted,
                    "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name"
                ),
                dump(
                    &by_row,
                    "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name"
                ),
            );
        }
    }

    fn rebuild_candidates_in_sql(conn: &Connection) -> Result<()> {
        conn.execute_batch(CANDIDATES_IN_SQL)?;
        Ok(())
    }

    /// An answered label and an image with no original label come out as the SQL definition
    /// has them, after predictions from two models that share labels.
    #[test]
    fn candidates_match_their_sql_definition() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = project(dir.path(), "p.db");
        s.transaction(|tx| {
            let mut w = PredictionWriter::new(tx)?;
            let m1 = w.model_id("m1", "f")?;
            let m2 = w.model_id("m2", "f")?;
            for id in [1i64, 2, 4, 7] {
                w.add(id, m1, 1, "a", Some(0.5))?;
                w.add(id, m1, 2, "ab", None)?;
                w.add(id, m2, 1, "d", None)?;
                w.add(id, m2, 2, "a", None)?;
            }
            tx.execute_batch(
                "INSERT INTO judgments(id, image, label, answer, annotator, session, created_at)
                 VALUES ('j1', 'img3', 'd', 'yes', 'x', 's', 1),
                        ('j2', 'img1', 'c', 'no', 'x', 's', 2),
                        ('j3', 'nope', 'c', 'no', 'x', 's', 3);",
            )?;
            Ok(())
        })
        .unwrap();
        let all = "SELECT * FROM candidates ORDER BY 1, 2";
        s.conn().execute_batch(CANDIDATES_IN_SQL).unwrap();
        let want = dump(&s, all);
        s.rebuild_candidates().unwrap();
        assert_eq!(dump(&s, all), want);
        assert_eq!(want.len(), 20, "{want:?}");
    }

    /// The stats from one pass over the candidates are those of a count per image, with the
    /// images that have none (min 0) and without them; and the count is their total.
    #[test]
    fn candidate_stats_are_the_per_image_counts() {
        let dir = tempfile::tempdir().unwrap();
        let per_image = |s: &Store| -> (f64, u64, u64) {
            s.conn()
                .query_row(
                    "SELECT coalesce(avg(n), 0.0), coalesce(min(n), 0), coalesce(max(n), 0) FROM
                       (SELECT (SELECT count(*) FROM candidates c WHERE c.image_id = i.id) AS n
                        FROM images i)",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .unwrap()
        };
        let vocab = Vocab::from_reader("t", Path::new("t.csv"), "key,name\na,A\n".as_bytes());
        let empty = Store::create(&dir.path().join("e.db"), &vocab.unwrap()).unwrap();
        assert_eq!(empty.candidate_stats().unwrap(), (0.0, 0, 0));
        assert_eq!(empty.candidate_count().unwrap(), 0);

        let mut s = project(dir.path(), "p.db");
        s.rebuild_candidates().unwrap();
        // img3 and img7 have no original label, so no candidate yet.
        assert_eq!(s.candidate_stats().unwrap(), (0.8, 0, 1));
        assert_eq!(s.candidate_stats().unwrap(), per_image(&s));
        s.transaction(|tx| {
            let mut w = PredictionWriter::new(tx)?;
            let m = w.model_id("m", "f")?;
            for id in 1..=10i64 {
                for (rank, label) in ["d", "ab", "c"]
                    .iter()
                    .take(1 + id as usize % 3)
                    .enumerate()
                {
                    w.add(id, m, rank as u32 + 1, label, None)?;
                }
            }
            Ok(())
        })
        .unwrap();
        s.rebuild_candidates().unwrap();
        let (mean, min, max) = s.candidate_stats().unwrap();
        assert_eq!((mean, min, max), per_image(&s));
        assert!(min > 0, "every image has a candidate now");
        assert_eq!(s.candidate_count().unwrap() as f64, mean * 10.0);
    }
}
