//! Model predictions and the candidate labels they give.
//!
//! Candidates for an image = its original label ∪ each model's top-k ∪ any label already
//! answered for it. The `candidates` table is derived from those and rebuilt after each import;
//! provenance (original or not, which model at which rank with which score) is read back from
//! `images` and `predictions`, so it can never disagree with them.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, Statement, params};

use super::Store;
use crate::error::Result;

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
        let id: i64 = self.conn.query_row(
            "INSERT INTO models(name, source, imported_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET source = excluded.source,
                                             imported_at = excluded.imported_at
             RETURNING id",
            params![name, source, super::now_rfc3339()],
            |r| r.get(0),
        )?;
        if clear {
            self.conn
                .execute("DELETE FROM predictions WHERE model_id = ?1", [id])?;
        }
        self.models.insert(name.to_string(), id);
        Ok(id)
    }
}

/// Recomputes the candidate table from original labels, predictions and answered labels (a
/// gold question or a verdict makes its label a candidate too, so that it can be asked).
/// Retractions need no filter: one names the same (image, label) as the answer it undoes, and
/// reading only those two columns lets SQLite walk the covering `judgments_by_item` index.
pub fn rebuild_candidates(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "DELETE FROM candidates;
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
           JOIN classes c ON c.key = j.label;",
    )?;
    Ok(())
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

    pub fn models(&self) -> Result<Vec<ModelInfo>> {
        self.named(|| {
            let mut stmt = self.conn.prepare(
                "SELECT m.name, m.source, m.imported_at,
                        (SELECT count(*) FROM predictions p WHERE p.model_id = m.id),
                        (SELECT count(DISTINCT image_id) FROM predictions p WHERE p.model_id = m.id)
                 FROM models m ORDER BY m.name",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(ModelInfo {
                        name: r.get(0)?,
                        source: r.get(1)?,
                        imported_at: r.get(2)?,
                        predictions: r.get(3)?,
                        images: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Mean, min and max number of candidates per image, over all images (0 for none).
    pub fn candidate_stats(&self) -> Result<(f64, u64, u64)> {
        self.named(|| {
            Ok(self.conn.query_row(
                "SELECT coalesce(avg(n), 0.0), coalesce(min(n), 0), coalesce(max(n), 0) FROM
                   (SELECT (SELECT count(*) FROM candidates c WHERE c.image_id = i.id) AS n
                    FROM images i)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?)
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
    /// once: going model by model through `predictions_by_model` costs a key search per row
    /// (22 s for 10 models on 1.28 M images, against 3.5 s for this pass).
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
