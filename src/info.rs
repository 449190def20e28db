//! `labelvet info`: what a project file holds, at a glance, so that a coordinator can check a
//! file before annotating or merging it.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::error::Result;
use crate::store::carried::CarriedSummary;
use crate::store::merge::KindCounts;
use crate::store::{ImageStatus, Store};
use crate::text::display;
use crate::words::count;

/// What `labelvet info` prints; `--json` is this, serialized.
#[derive(Clone, Debug, Serialize)]
pub struct ProjectInfo {
    pub path: String,
    pub project_uuid: String,
    pub schema_version: i64,
    pub created_at: String,
    pub vocabulary: VocabularyInfo,
    /// Where the image files were when the project was made (absolute), if from a folder.
    pub image_root: Option<String>,
    /// The annotator whose file this is, when `checkout` or `assign` made it.
    pub checkout_annotator: Option<String>,
    /// The images the file carries inside it (`--with-images`).
    pub carried: CarriedSummary,
    pub images: ImageCounts,
    /// Groups of image keys whose files have the same bytes.
    pub duplicate_content_groups: usize,
    pub models: Vec<ModelInfo>,
    pub candidates_per_image: CandidateStats,
    pub annotators: Vec<AnnotatorInfo>,
    pub flagged_images: u64,
    /// Classify answers (main object, number of objects).
    pub classify: ClassifyInfo,
    /// Experts' gold answers and verdicts (`labelvet gold import`, `annotate --review`).
    pub gold: ExpertInfo,
    pub verdicts: ExpertInfo,
    /// Files merged into this one, oldest first.
    pub merges: Vec<MergeInfo>,
    /// List every annotator (`info --all`), not only the [`ANNOTATORS_SHOWN`] with the most
    /// events. How to print, not what the project holds: not in the JSON.
    #[serde(skip)]
    pub all_annotators: bool,
}

/// Annotators `info` lists by default, as `report` does: a project with ReaL's answers has 88.
pub const ANNOTATORS_SHOWN: usize = 20;

#[derive(Clone, Debug, Default, Serialize)]
pub struct ExpertInfo {
    /// Questions with a current answer of an expert.
    pub questions: u64,
    pub experts: u64,
    pub events: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct VocabularyInfo {
    pub name: String,
    pub digest: String,
    pub classes: usize,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ImageCounts {
    pub total: u64,
    pub present: u64,
    pub missing: u64,
    pub unreadable: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub predictions: u64,
    pub images: u64,
    /// The file its predictions were imported from.
    pub source: Option<String>,
    pub imported_at: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct CandidateStats {
    pub mean: f64,
    pub min: u64,
    pub max: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct AnnotatorInfo {
    pub annotator: String,
    /// Answers and retractions.
    pub events: u64,
    pub current_answers: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ClassifyInfo {
    /// Answers and retractions.
    pub events: u64,
    /// One per (image, annotator) at most.
    pub current_answers: u64,
    pub images: u64,
    pub annotators: u64,
}

/// One line of the project's merge log.
#[derive(Clone, Debug, Serialize)]
pub struct MergeInfo {
    pub merged_at: String,
    pub source_file: String,
    pub source_uuid: String,
    pub source_schema: i64,
    /// Annotator and how many of their events this merge added.
    pub annotators: BTreeMap<String, u64>,
    /// New and already present events of each kind, by table (`judgments`, `flags`,
    /// `classify`, ...).
    pub events: KindCounts,
    pub new_images: u64,
    pub new_models: u64,
    pub new_predictions: u64,
    /// Images whose bytes differed, for which the target's record was kept.
    pub conflicts_kept: u64,
}

impl ProjectInfo {
    pub fn gather(store: &Store) -> Result<ProjectInfo> {
        let meta = store.meta()?;
        let mut images = ImageCounts::default();
        for (status, n) in store.image_count_by_status()? {
            images.total += n;
            match status {
                ImageStatus::Ok => images.present = n,
                ImageStatus::Missing => images.missing = n,
                ImageStatus::Unreadable => images.unreadable = n,
            }
        }
        let (mean, min, max) = store.candidate_stats()?;
        let classify = store.classify_counts()?;
        let [gold, verdicts] =
            store
                .quality_counts()?
                .map(|(questions, experts, events)| ExpertInfo {
                    questions,
                    experts,
                    events,
                });
        Ok(ProjectInfo {
            path: store.path().display().to_string(),
            project_uuid: meta.project_uuid,
            schema_version: meta.schema_version,
            created_at: meta.created_at,
            vocabulary: VocabularyInfo {
                name: meta.vocab_name,
                digest: meta.vocab_digest,
                classes: store.class_count()?,
            },
            image_root: meta.image_root,
            checkout_annotator: store.checkout_annotator()?,
            carried: store.carried_summary()?,
            images,
            duplicate_content_groups: store.duplicate_content()?.len(),
            models: store
                .models()?
                .into_iter()
                .map(|m| ModelInfo {
                    name: m.name,
                    predictions: m.predictions,
                    images: m.images,
                    source: m.source,
                    imported_at: m.imported_at,
                })
                .collect(),
            candidates_per_image: CandidateStats { mean, min, max },
            annotators: store
                .counts_by_annotator()?
                .into_iter()
                .map(|a| AnnotatorInfo {
                    annotator: a.annotator,
                    events: a.events,
                    current_answers: a.current,
                })
                .collect(),
            flagged_images: store.flag_count()?,
            classify: ClassifyInfo {
                events: classify.events,
                current_answers: classify.current,
                images: classify.images,
                annotators: classify.annotators,
            },
            gold,
            verdicts,
            merges: store
                .merge_log()?
                .into_iter()
                .map(|m| MergeInfo {
                    merged_at: m.merged_at,
                    source_file: m.source_file,
                    source_uuid: m.source_uuid,
                    source_schema: m.source_schema,
                    annotators: m.annotators.into_iter().collect(),
                    events: m.events,
                    new_images: m.new_images,
                    new_models: m.new_models,
                    new_predictions: m.new_predictions,
                    conflicts_kept: m.conflicts_kept,
                })
                .collect(),
            all_annotators: false,
        })
    }
}

impl fmt::Display for ProjectInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = &self.vocabulary;
        writeln!(f, "project     {}", display(&self.path))?;
        writeln!(f, "uuid        {}", display(&self.project_uuid))?;
        writeln!(
            f,
            "created     {}  (schema {})",
            display(&self.created_at),
            self.schema_version
        )?;
        writeln!(
            f,
            "vocabulary  {}: {} classes (digest {})",
            display(&v.name),
            v.classes,
            display(v.digest.get(..12).unwrap_or(&v.digest))
        )?;
        if let Some(who) = &self.checkout_annotator {
            writeln!(
                f,
                "checkout    {}'s file: annotate it, then `labelvet pack` it to send the answers back",
                display(who)
            )?;
        }
        let c = &self.carried;
        if c.images > 0 {
            let resized = if c.resized > 0 {
                format!(", {} re-encoded smaller", c.resized)
            } else {
                String::new()
            };
            writeln!(
                f,
                "carries     {} inside the file ({:.1} MB{resized}): no image folder needed",
                count(c.images, "image"),
                c.bytes as f64 / 1e6
            )?;
        } else if let Some(root) = &self.image_root {
            writeln!(f, "image root  {}", display(root))?;
        }
        writeln!(
            f,
            "images      {} ({} present, {} missing, {} unreadable)",
            self.images.total, self.images.present, self.images.missing, self.images.unreadable
        )?;
        if self.duplicate_content_groups > 0 {
            writeln!(
                f,
                "            {} of keys share the same bytes",
                count(self.duplicate_content_groups as u64, "group")
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
                    display(&model.name),
                    model.predictions,
                    model.images
                )?;
            }
        }
        writeln!(
            f,
            "candidates  per image: mean {:.1}, min {}, max {}",
            self.candidates_per_image.mean,
            self.candidates_per_image.min,
            self.candidates_per_image.max
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
            let mut shown: Vec<&AnnotatorInfo> = self.annotators.iter().collect();
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
                    display(&a.annotator),
                    count(a.events, "event"),
                    count(a.current_answers, "current answer")
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
                count(c.current_answers, "current answer"),
                count(c.images, "image"),
                count(c.annotators, "annotator"),
                count(c.events, "event")
            )?;
        }
        for (what, e) in [("gold", &self.gold), ("verdicts", &self.verdicts)] {
            if e.events > 0 {
                writeln!(
                    f,
                    "{what:<11} {} by {} ({})",
                    count(e.questions, "question"),
                    count(e.experts, "expert"),
                    count(e.events, "event")
                )?;
            }
        }
        if self.flagged_images > 0 {
            writeln!(f, "flagged     {}", count(self.flagged_images, "image"))?;
        }
        if !self.merges.is_empty() {
            let mut merged: Vec<&str> = self
                .merges
                .iter()
                .flat_map(|m| m.annotators.keys().map(String::as_str))
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
                    display(&merged.join(", ")).into_owned()
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
                    display(&m.merged_at),
                    display(&m.source_file),
                    m.events.answers().new,
                    m.events.answers().duplicate,
                    m.new_images,
                    if m.conflicts_kept > 0 {
                        format!(", {} conflicts kept the target's image", m.conflicts_kept)
                    } else {
                        String::new()
                    },
                    if m.source_uuid != self.project_uuid {
                        format!(" (from project {})", display(&m.source_uuid))
                    } else {
                        String::new()
                    }
                )?;
            }
        }
        Ok(())
    }
}
