//! Reference images for fine-grained work: when an expert wonders whether this dog is a Norfolk
//! or a Norwich terrier, a few other photos whose original label is the class in question, and
//! that annotators confirmed, settle more than any definition.
//!
//! The pool is read from the front of the images with that original label (key order) and
//! ranked by the current answers on (image, class): confirmed ones first. Its size is bounded,
//! so the panel opens at once on a project of a million images.

use rusqlite::params;

use super::Store;
use super::images::ImageRow;
use crate::error::Result;

/// Images with the original label looked at for references.
const POOL: i64 = 2_000;

/// One reference image and the current answers (all annotators) on its original label.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferenceImage {
    pub image: ImageRow,
    pub yes: u32,
    pub no: u32,
}

impl ReferenceImage {
    /// Judged valid: at least one yes, and at least as many yes as no answers.
    pub fn confirmed(&self) -> bool {
        self.yes > 0 && self.yes >= self.no
    }
}

impl Store {
    /// Up to `limit` readable images whose original label is `label`, other than `exclude`:
    /// those judged valid first (most yes answers first), then, when `unconfirmed` is set, images
    /// nobody has answered about yet. Images judged not to show the class are never returned.
    pub fn reference_images(
        &self,
        label: &str,
        exclude: &str,
        limit: usize,
        unconfirmed: bool,
    ) -> Result<Vec<ReferenceImage>> {
        self.named(|| {
            // An annotator's current answer is their latest answer event that no retraction names,
            // as everywhere else.
            let mut stmt = self.conn.prepare_cached(
                "WITH pool AS (
                     SELECT id, key FROM images
                     WHERE original_label = ?1 AND key <> ?2 AND status = 'ok'
                     ORDER BY key LIMIT ?3),
                 cur AS (
                     SELECT j.image, j.answer, row_number() OVER (
                         PARTITION BY j.image, j.annotator ORDER BY j.created_at DESC, j.id DESC) AS rn
                     FROM pool p JOIN judgments j INDEXED BY judgments_by_item
                       ON j.image = p.key AND j.label = ?1
                     WHERE j.answer <> 'retract'
                       AND NOT EXISTS (SELECT 1 FROM judgments r WHERE r.retracts = j.id)),
                 stats AS (
                     SELECT image, sum(answer = 'yes') AS yes, sum(answer = 'no') AS no
                     FROM cur WHERE rn = 1 GROUP BY image)
                 SELECT p.id, coalesce(s.yes, 0), coalesce(s.no, 0) FROM pool p
                 LEFT JOIN stats s ON s.image = p.key
                 WHERE (coalesce(s.yes, 0) > 0 AND s.yes >= s.no)
                    OR (?4 AND coalesce(s.yes, 0) = 0 AND coalesce(s.no, 0) = 0)
                 ORDER BY coalesce(s.yes, 0) > 0 DESC, coalesce(s.yes, 0) DESC, p.key
                 LIMIT ?5",
            )?;
            let found = stmt
                .query_map(
                    params![label, exclude, POOL, unconfirmed, limit as i64],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, u32>(1)?,
                            r.get::<_, u32>(2)?,
                        ))
                    },
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut out = Vec::with_capacity(found.len());
            for (id, yes, no) in found {
                if let Some(image) = self.image_by_id(id)? {
                    out.push(ReferenceImage { image, yes, no });
                }
            }
            Ok(out)
        })
    }
}
