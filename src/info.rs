//! `labelvet info`: what a project file holds, at a glance, so that a coordinator can check a
//! file before annotating or merging it.

use std::fmt;

use crate::error::Result;
use crate::store::merge::MergeLogEntry;
use crate::store::{AnnotatorCounts, ClassifyCounts, ImageStatus, Meta, ModelInfo, Store};
use crate::words::count;

#[derive(Clone, Debug)]
pub struct ProjectInfo {
    pub path: String,
    pub meta: Meta,
    pub classes: usize,
    pub images: u64,
    pub present: u64,
    pub missing: u64,
    pub unreadable: u64,
    pub models: Vec<ModelInfo>,
    pub candidates_mean: f64,
    pub candidates_min: u64,
    pub candidates_max: u64,
    pub annotators: Vec<AnnotatorCounts>,
    pub flagged_images: u64,
    /// Classify answers (main object, number of objects).
    pub classify: ClassifyCounts,
    pub duplicate_groups: usize,
    /// Files merged into this one, oldest first.
    pub merges: Vec<MergeLogEntry>,
    /// List every annotator (`info --all`), not only the [`ANNOTATORS_SHOWN`] with the most
    /// events.
    pub all_annotators: bool,
}

/// Annotators `info` lists by default, as `report` does: a project with ReaL's answers has 88.
pub const ANNOTATORS_SHOWN: usize = 20;

impl ProjectInfo {
    pub fn gather(store: &Store) -> Result<ProjectInfo> {
        let meta = store.meta()?;
        let classes: usize = store
            .conn()
            .query_row("SELECT count(*) FROM classes", [], |r| r.get(0))?;
        let mut info = ProjectInfo {
            path: store.path().display().to_string(),
            meta,
            classes,
            images: 0,
            present: 0,
            missing: 0,
            unreadable: 0,
            models: store.models()?,
            candidates_mean: 0.0,
            candidates_min: 0,
            candidates_max: 0,
            annotators: store.counts_by_annotator()?,
            flagged_images: store.flag_count()?,
            classify: store.classify_counts()?,
            duplicate_groups: store.duplicate_content()?.len(),
            merges: store.merge_log()?,
            all_annotators: false,
        };
        for (status, n) in store.image_count_by_status()? {
            info.images += n;
            match status {
                ImageStatus::Ok => info.present = n,
                ImageStatus::Missing => info.missing = n,
                ImageStatus::Unreadable => info.unreadable = n,
            }
        }
        (
            info.candidates_mean,
            info.candidates_min,
            info.candidates_max,
        ) = store.candidate_stats()?;
        Ok(info)
    }
}

impl fmt::Display for ProjectInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.meta;
        writeln!(f, "project     {}", self.path)?;
        writeln!(f, "uuid        {}", m.project_uuid)?;
        writeln!(
            f,
            "created     {}  (schema {})",
            m.created_at, m.schema_version
        )?;
        writeln!(
            f,
            "vocabulary  {}: {} classes (digest {})",
            m.vocab_name,
            self.classes,
            &m.vocab_digest[..12.min(m.vocab_digest.len())]
        )?;
        if let Some(root) = &m.image_root {
            writeln!(f, "image root  {root}")?;
        }
        writeln!(
            f,
            "images      {} ({} present, {} missing, {} unreadable)",
            self.images, self.present, self.missing, self.unreadable
        )?;
        if self.duplicate_groups > 0 {
            writeln!(
                f,
                "            {} of keys share the same bytes",
                count(self.duplicate_groups as u64, "group")
            )?;
        }
        if self.models.is_empty() {
            writeln!(
                f,
                "models      none (add with `labelvet predictions import`)"
            )?;
        } else {
            writeln!(f, "models      {}", self.models.len())?;
            for model in &self.models {
                writeln!(
                    f,
                    "  {:<24} {} predictions over {} images",
                    model.name, model.predictions, model.images
                )?;
            }
        }
        writeln!(
            f,
            "candidates  per image: mean {:.1}, min {}, max {}",
            self.candidates_mean, self.candidates_min, self.candidates_max
        )?;
        if self.annotators.is_empty() {
            writeln!(f, "judgments   none yet")?;
        } else {
            let events: u64 = self.annotators.iter().map(|a| a.events).sum();
            writeln!(
                f,
                "judgments   {} by {}",
                count(events, "event"),
                count(self.annotators.len() as u64, "annotator")
            )?;
            let mut shown: Vec<&AnnotatorCounts> = self.annotators.iter().collect();
            if !self.all_annotators && shown.len() > ANNOTATORS_SHOWN {
                // The busiest first; the others are counted, and `--all` lists them.
                shown.sort_by(|a, b| b.events.cmp(&a.events).then(a.annotator.cmp(&b.annotator)));
                shown.truncate(ANNOTATORS_SHOWN);
                shown.sort_by(|a, b| a.annotator.cmp(&b.annotator));
            }
            for a in &shown {
                writeln!(
                    f,
                    "  {:<24} {}, {}",
                    a.annotator,
                    count(a.events, "event"),
                    count(a.current, "current answer")
                )?;
            }
            if shown.len() < self.annotators.len() {
                writeln!(
                    f,
                    "  ... and {} more (the {ANNOTATORS_SHOWN} with the most events are listed; \
                     --all lists every one)",
                    self.annotators.len() - shown.len()
                )?;
            }
        }
        let c = &self.classify;
        if c.events > 0 {
            writeln!(
                f,
                "classify    {} on {} by {} ({})",
                count(c.current, "current answer"),
                count(c.images, "image"),
                count(c.annotators, "annotator"),
                count(c.events, "event")
            )?;
        }
        if self.flagged_images > 0 {
            writeln!(f, "flagged     {}", count(self.flagged_images, "image"))?;
        }
        if !self.merges.is_empty() {
            let mut merged: Vec<&str> = self
                .merges
                .iter()
                .flat_map(|m| m.annotators.iter().map(|(a, _)| a.as_str()))
                .collect();
            merged.sort_unstable();
            merged.dedup();
            writeln!(
                f,
                "merged      {} files; annotators merged in: {}",
                self.merges.len(),
                if merged.is_empty() {
                    "none".to_string()
                } else {
                    merged.join(", ")
                }
            )?;
            const SHOWN: usize = 10;
            let skip = self.merges.len().saturating_sub(SHOWN);
            if skip > 0 {
                writeln!(f, "  ... {skip} earlier merges")?;
            }
            for m in &self.merges[skip..] {
                writeln!(
                    f,
                    "  {}  {}  {} new events, {} already present, {} new images{}{}",
                    m.merged_at,
                    m.source_file,
                    m.new_events,
                    m.duplicate_events,
                    m.new_images,
                    if m.conflicts_kept > 0 {
                        format!(", {} conflicts kept the target's image", m.conflicts_kept)
                    } else {
                        String::new()
                    },
                    if m.source_uuid != self.meta.project_uuid {
                        format!(" (from project {})", m.source_uuid)
                    } else {
                        String::new()
                    }
                )?;
            }
        }
        Ok(())
    }
}
