//! Which questions a session asks, and in which order its images come.
//!
//! A spot-check rarely wants the whole project: one fine-grained class, every terrier, the
//! questions annotators disagree on, a random sample to estimate an error rate. [`QueueSpec`] is
//! that choice as plain data (the CLI parses it, tests build it); the session resolves its names
//! through the vocabulary, so a typo fails before the screen opens, and the store selects the
//! questions in SQL.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use super::order::stable_hash;
use crate::analysis::project::ProjectData;
use crate::analysis::stopping::{Rule, Settlement};
use crate::error::{Error, Result};
use crate::store::{QueueFilter, QueueImage, Store};
use crate::vocab::Vocab;

/// The order images come in.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[strum(serialize_all = "kebab-case")]
pub enum QueueOrder {
    /// Key order (the file order of the image folder or manifest).
    #[default]
    File,
    /// Shuffled by the seed: the same seed gives the same order on every machine.
    Random,
    /// Images whose selected questions have the fewest answers per question (all annotators
    /// together) first, then by key.
    FewestAnswers,
}

impl FromStr for QueueOrder {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        use strum::{IntoEnumIterator, VariantNames};
        let s = s.trim();
        QueueOrder::iter()
            .find(|o| <&str>::from(*o) == s)
            .ok_or_else(|| {
                Error::msg(format!(
                    "unknown order `{s}`; use {}",
                    QueueOrder::VARIANTS.join(", ")
                ))
            })
    }
}

/// Which questions a session asks. The default asks every candidate of every image in file order.
/// Filters combine: a question is asked when it passes all of them, and an image none of whose
/// questions pass is not in the queue.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueueSpec {
    /// Only questions about this class (key, index, name or synonym).
    pub class: Option<String>,
    /// Only questions about classes under this hierarchy node (`terrier`, `dog`, a key).
    pub subtree: Option<String>,
    /// Only images whose original label is this class.
    pub original_label: Option<String>,
    /// Only questions whose current answers across annotators include both a yes and a no.
    pub disputed: bool,
    /// Only questions whose selection frequency yes/(yes+no) is within [lo, hi].
    pub uncertain: Option<(f64, f64)>,
    /// Only questions with fewer than this many answers from all annotators together.
    pub needs: Option<u32>,
    /// Only questions this stopping rule does not yet settle, given everyone's current answers;
    /// images nearest to settling come first (see [`QueueSpec::ordered`]).
    pub until: Option<Rule>,
    /// Keep this many images of the filtered queue, drawn by `seed`.
    pub sample: Option<usize>,
    /// Seeds `sample` and the random order.
    pub seed: u64,
    pub order: QueueOrder,
}

/// Parses `LO..HI` (both in [0, 1], LO <= HI), as `--uncertain` takes it.
pub fn parse_range(s: &str) -> Result<(f64, f64)> {
    let bad = || {
        Error::msg(format!(
            "`{s}` is not a range of selection frequencies; write LO..HI, e.g. 0.3..0.7"
        ))
    };
    let (lo, hi) = s.trim().split_once("..").ok_or_else(bad)?;
    let lo: f64 = lo.trim().parse().map_err(|_| bad())?;
    let hi: f64 = hi.trim().parse().map_err(|_| bad())?;
    if !(0.0..=1.0).contains(&lo) || !(0.0..=1.0).contains(&hi) || lo > hi {
        return Err(bad());
    }
    Ok((lo, hi))
}

impl QueueSpec {
    /// True when the spec asks every question in file order: the session then keeps the plain
    /// queue, which opens a project of a million images without selecting anything.
    pub fn is_all(&self) -> bool {
        *self
            == QueueSpec {
                seed: self.seed,
                ..QueueSpec::default()
            }
    }

    /// The store's filter, with class names resolved to keys.
    pub fn filter(&self, vocab: &Vocab) -> Result<QueueFilter> {
        let class = match &self.class {
            Some(c) => Some(vocab.lookup(c)?.key.clone()),
            None => None,
        };
        let subtree: Option<Vec<String>> = match &self.subtree {
            Some(n) => Some(
                vocab
                    .subtree(n)?
                    .into_iter()
                    .map(|c| c.key.clone())
                    .collect(),
            ),
            None => None,
        };
        let labels = match (class, subtree) {
            (Some(c), Some(sub)) => Some(if sub.contains(&c) {
                vec![c]
            } else {
                Vec::new()
            }),
            (Some(c), None) => Some(vec![c]),
            (None, sub) => sub,
        };
        let original_labels = match &self.original_label {
            Some(c) => Some(vec![vocab.lookup(c)?.key.clone()]),
            None => None,
        };
        Ok(QueueFilter {
            labels,
            original_labels,
            disputed: self.disputed,
            uncertain: self.uncertain,
            needs: self.needs,
            count_answers: self.order == QueueOrder::FewestAnswers,
            settled: None,
        })
    }

    /// The store's filter, with the questions `until` settles worked out from the project's
    /// current answers; and, per image key, how near its open questions are to settling.
    fn store_filter(&self, store: &Store, vocab: &Vocab) -> Result<(QueueFilter, Nearness)> {
        let mut filter = self.filter(vocab)?;
        let Some(rule) = &self.until else {
            return Ok((filter, Nearness::default()));
        };
        let data = ProjectData::load(store)?;
        let settlement = Settlement::of(&data, rule);
        let mut settled = Vec::new();
        let mut near = Nearness {
            unanswered: settlement.unanswered_to_settle(rule).unwrap_or(u32::MAX),
            ..Nearness::default()
        };
        for q in &settlement.questions {
            let image = &data.images[q.image as usize].key;
            if q.settled {
                settled.push((image.clone(), data.classes[q.class as usize].key.clone()));
            } else {
                let e = near.answered.entry(image.clone()).or_insert((u32::MAX, 0));
                e.0 = e.0.min(q.to_settle.unwrap_or(u32::MAX));
                e.1 += 1;
            }
        }
        filter.settled = Some(settled);
        Ok((filter, near))
    }

    /// The questions `until` settles, as (image key, class key), from every current answer of
    /// the project; `None` without `until`. What `assign` and `checkout` leave out of the files
    /// they make, so that their annotators are asked only the open questions.
    pub fn settled_questions(&self, store: &Store) -> Result<Option<Vec<(String, String)>>> {
        if self.until.is_none() {
            return Ok(None);
        }
        let (filter, _) = self.store_filter(store, &store.vocab()?)?;
        Ok(filter.settled)
    }

    /// The keys of the project's images the spec selects (an image with at least one question
    /// passing the filters, then the sample), in key order, whoever they are assigned to: the
    /// images `checkout` and `assign` hand out when given a selection.
    pub fn select_images(&self, store: &Store) -> Result<Vec<String>> {
        let (filter, _) = self.store_filter(store, &store.vocab()?)?;
        let images = store.select_images(&filter)?;
        Ok(self.sampled(images).into_iter().map(|im| im.key).collect())
    }

    /// Selects the annotator's queue in the store (see [`Store::select_queue`]), keeps the
    /// sample, and returns its images in the spec's order. The selection stays on the store,
    /// narrowed to the sample, for the session's per-image look-ups.
    pub(crate) fn select(
        &self,
        store: &Store,
        annotator: &str,
        vocab: &Vocab,
    ) -> Result<Vec<QueueImage>> {
        let (filter, near) = self.store_filter(store, vocab)?;
        let selected = store.select_queue(annotator, &filter)?;
        let all = selected.len();
        let selected = self.sampled(selected);
        if selected.len() < all {
            let keep: Vec<i64> = selected.iter().map(|im| im.id).collect();
            store.restrict_selection(&keep)?;
        }
        let selected = self.ordered(selected);
        Ok(if self.until.is_some() {
            near.ordered(selected)
        } else {
            selected
        })
    }

    /// Why the spec selects nothing, filter by filter: how many images each filter keeps on
    /// its own (in the annotator's queue, or the whole project for `None`), so that the message
    /// names the filter that left nothing. Replaces the store's current selection.
    pub fn explain_empty(&self, store: &Store, annotator: Option<&str>) -> Result<String> {
        let vocab = store.vocab()?;
        let alone = QueueSpec {
            seed: self.seed,
            ..QueueSpec::default()
        };
        let mut parts: Vec<QueueSpec> = Vec::new();
        if self.class.is_some() {
            parts.push(QueueSpec {
                class: self.class.clone(),
                ..alone.clone()
            });
        }
        if self.subtree.is_some() {
            parts.push(QueueSpec {
                subtree: self.subtree.clone(),
                ..alone.clone()
            });
        }
        if self.original_label.is_some() {
            parts.push(QueueSpec {
                original_label: self.original_label.clone(),
                ..alone.clone()
            });
        }
        if self.disputed {
            parts.push(QueueSpec {
                disputed: true,
                ..alone.clone()
            });
        }
        if self.uncertain.is_some() {
            parts.push(QueueSpec {
                uncertain: self.uncertain,
                ..alone.clone()
            });
        }
        if self.needs.is_some() {
            parts.push(QueueSpec {
                needs: self.needs,
                ..alone.clone()
            });
        }
        if self.until.is_some() {
            parts.push(QueueSpec {
                until: self.until.clone(),
                ..alone.clone()
            });
        }
        let whose = match annotator {
            Some(a) => format!("{a}'s queue in {}", store.path().display()),
            None => store.path().display().to_string(),
        };
        let mut counts = Vec::new();
        for part in &parts {
            let (f, _) = part.store_filter(store, &vocab)?;
            let n = match annotator {
                Some(a) => store.select_queue(a, &f)?.len(),
                None => store.select_images(&f)?.len(),
            };
            counts.push(format!(
                "{part}: {n} image{}",
                if n == 1 { "" } else { "s" }
            ));
        }
        Ok(if parts.len() > 1 {
            format!(
                "no image of {whose} matches the selection ({self}): each filter alone keeps {}",
                counts.join(", ")
            )
        } else {
            format!("no image of {whose} matches the selection ({self})")
        })
    }

    /// The images kept by `sample`, in their original order.
    pub(crate) fn sampled(&self, images: Vec<QueueImage>) -> Vec<QueueImage> {
        let Some(n) = self.sample else {
            return images;
        };
        if n >= images.len() {
            return images;
        }
        // Each image draws its own number, so the sample of a seed does not depend on the order
        // rows come in, nor on images added later outside the filter.
        let seed = self.seed.to_string();
        let mut draws: Vec<(u64, i64)> = images
            .iter()
            .map(|im| (stable_hash(&["sample", &seed, &im.key]), im.id))
            .collect();
        draws.sort_unstable();
        let keep: HashSet<i64> = draws.into_iter().take(n).map(|(_, id)| id).collect();
        images
            .into_iter()
            .filter(|im| keep.contains(&im.id))
            .collect()
    }

    /// Puts the images in the spec's order.
    pub(crate) fn ordered(&self, mut images: Vec<QueueImage>) -> Vec<QueueImage> {
        match self.order {
            QueueOrder::File => images.sort_by(|a, b| a.key.cmp(&b.key)),
            QueueOrder::Random => {
                let seed = self.seed.to_string();
                images.sort_by_cached_key(|im| (stable_hash(&["order", &seed, &im.key]), im.id));
            }
            QueueOrder::FewestAnswers => images.sort_by(|a, b| {
                // Compare answers/questions without division: a/b < c/d iff a*d < c*b.
                (a.answers * b.questions)
                    .cmp(&(b.answers * a.questions))
                    .then_with(|| a.key.cmp(&b.key))
            }),
        }
        images
    }
}

/// How near each image's open questions are to settling under `--until`.
#[derive(Debug, Default)]
struct Nearness {
    /// Per image key with answered, unsettled questions: the fewest answers that settle one of
    /// them, and how many there are.
    answered: HashMap<String, (u32, u64)>,
    /// What a question nobody has answered needs.
    unanswered: u32,
}

impl Nearness {
    /// Images whose nearest open question needs the fewest answers first (a question one answer
    /// from settled is done with one more), keeping the order they come in among equals. An
    /// image's unanswered selected questions count as [`Nearness::unanswered`] each.
    fn ordered(&self, mut images: Vec<QueueImage>) -> Vec<QueueImage> {
        images.sort_by_cached_key(|im| match self.answered.get(&im.key) {
            Some(&(near, open)) if open >= im.questions => near,
            Some(&(near, _)) => near.min(self.unanswered),
            None => self.unanswered,
        });
        images
    }
}

impl fmt::Display for QueueSpec {
    /// What the screen's header calls the queue, e.g. `subtree terrier, disputed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(c) = &self.class {
            parts.push(format!("class {c}"));
        }
        if let Some(n) = &self.subtree {
            parts.push(format!("subtree {n}"));
        }
        if let Some(c) = &self.original_label {
            parts.push(format!("original label {c}"));
        }
        if self.disputed {
            parts.push("disputed".into());
        }
        if let Some((lo, hi)) = self.uncertain {
            parts.push(format!("uncertain {lo}..{hi}"));
        }
        if let Some(k) = self.needs {
            parts.push(format!("needs {k}"));
        }
        if let Some(r) = &self.until {
            parts.push(format!("until {r}"));
        }
        if let Some(n) = self.sample {
            parts.push(format!("sample {n} (seed {})", self.seed));
        }
        match self.order {
            QueueOrder::File => {}
            QueueOrder::Random => parts.push(format!("random order (seed {})", self.seed)),
            QueueOrder::FewestAnswers => parts.push("fewest answers first".into()),
        }
        if parts.is_empty() {
            f.write_str("all")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_range("0.3..0.7").unwrap(), (0.3, 0.7));
        assert_eq!(parse_range(" 0 .. 1 ").unwrap(), (0.0, 1.0));
        for bad in ["0.7..0.3", "0.5", "-1..0.5", "0..2", "a..b"] {
            assert!(parse_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn orders_parse() {
        assert_eq!(
            "fewest-answers".parse::<QueueOrder>().unwrap(),
            QueueOrder::FewestAnswers
        );
        assert!("shuffled".parse::<QueueOrder>().is_err());
    }

    #[test]
    fn only_filters_and_orders_leave_the_plain_queue() {
        let spec = QueueSpec {
            seed: 9,
            ..QueueSpec::default()
        };
        assert!(spec.is_all());
        assert_eq!(spec.to_string(), "all");
        let spec = QueueSpec {
            subtree: Some("terrier".into()),
            disputed: true,
            ..QueueSpec::default()
        };
        assert!(!spec.is_all());
        assert_eq!(spec.to_string(), "subtree terrier, disputed");
    }
}
