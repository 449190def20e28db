//! Gold questions in an annotator's session (`annotate --gold-rate R`, `--gold-feedback`).
//!
//! Images with a gold question (one whose experts' majority gives a truth, see
//! `analysis::reliability`) are mixed into the queue blind: they come with all their candidates,
//! in the same blind order as any other image, and their answers are ordinary judgments, which
//! `report` later scores against the truth. Mixing adds gold images from outside the queue until
//! about R of the queue's images carry a gold question (those already in the queue count), each
//! at a place drawn from the seed, so the same seed gives the same queue on every machine.
//! With feedback on (for training), a yes or no that differs from a gold question's truth is
//! reported after the answer is saved, with the truth.

use std::collections::{HashMap, HashSet};

use super::order::stable_hash;
use super::queue::QueueSpec;
use super::{QueueInfo, Session};
use crate::analysis::Counts;
use crate::analysis::reliability::gold_truth;
use crate::error::{Error, Result};
use crate::store::Answer;

/// What mixing did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GoldMix {
    /// Images of the queue with a gold question before mixing.
    pub in_queue: usize,
    /// Gold images added from outside the queue.
    pub added: usize,
    /// Images in the queue after mixing.
    pub images: usize,
}

/// The truth shown after a wrong answer to a gold question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoldFeedback {
    pub image: String,
    pub label: String,
    pub answer: Answer,
    /// The experts' majority: `true` for yes.
    pub truth: bool,
}

/// The gold truth a session checks answers against.
#[derive(Clone, Debug, Default)]
pub(super) struct GoldState {
    truth: HashMap<(String, String), bool>,
    feedback: bool,
    pub(super) last: Option<GoldFeedback>,
}

/// The project's gold questions with a truth.
fn gold_truths(store: &crate::store::Store) -> Result<HashMap<(String, String), bool>> {
    let mut counts: HashMap<(String, String), Counts> = HashMap::new();
    for g in store.current_gold()? {
        counts.entry((g.image, g.label)).or_default().add(g.answer);
    }
    Ok(counts
        .into_iter()
        .filter_map(|(k, c)| gold_truth(&c).map(|t| (k, t)))
        .collect())
}

impl Session {
    /// Mixes gold images into the queue at `rate` (0..=1; 0 does nothing), placed by `seed`, and
    /// with `feedback` reports wrong answers to gold questions ([`Session::gold_feedback`]).
    /// The session then resumes at the first open question of the mixed queue.
    pub fn mix_gold(&mut self, rate: f64, seed: u64, feedback: bool) -> Result<GoldMix> {
        if !(0.0..=1.0).contains(&rate) {
            return Err(Error::msg(format!(
                "--gold-rate {rate} is not between 0 and 1"
            )));
        }
        let truth = gold_truths(&self.store)?;
        let mut mix = GoldMix {
            images: self.ids.len(),
            ..GoldMix::default()
        };
        if feedback {
            self.gold = Some(GoldState {
                truth: truth.clone(),
                feedback,
                last: None,
            });
        }
        if rate == 0.0 || truth.is_empty() {
            return Ok(mix);
        }
        let mut gold_images: Vec<(i64, String)> = Vec::new();
        let keys: HashSet<&str> = truth.keys().map(|k| k.0.as_str()).collect();
        for key in keys {
            if let Some(row) = self.store.image(key)? {
                gold_images.push((row.id, row.rec.key));
            }
        }
        let queued: HashSet<i64> = self.ids.iter().copied().collect();
        mix.in_queue = gold_images
            .iter()
            .filter(|(id, _)| queued.contains(id))
            .count();
        let seed = seed.to_string();
        let mut outside: Vec<(i64, String)> = gold_images
            .into_iter()
            .filter(|(id, _)| !queued.contains(id))
            .collect();
        outside.sort_by_key(|(_, key)| (stable_hash(&["gold", &seed, key]), key.clone()));
        let others = self.ids.len() - mix.in_queue;
        let wanted = if rate >= 1.0 {
            outside.len() + mix.in_queue
        } else {
            (rate * others as f64 / (1.0 - rate)).round() as usize
        };
        let add = wanted.saturating_sub(mix.in_queue).min(outside.len());
        if add == 0 {
            return Ok(mix);
        }
        outside.truncate(add);
        if self.queue.is_none() {
            // The plain queue walks the project's key index; a mixed one is an explicit
            // selection of every candidate of the queue's images, as a filtered queue is.
            let spec = QueueSpec::default();
            let selected = spec.select(&self.store, &self.annotator, &self.vocab)?;
            self.ids = selected.iter().map(|im| im.id).collect();
            self.queue = Some(QueueInfo {
                spec,
                questions: 0,
                images: 0,
            });
        }
        let ids: Vec<i64> = outside.iter().map(|o| o.0).collect();
        self.store.add_to_selection(&ids)?;
        for (id, key) in &outside {
            let at =
                (stable_hash(&["gold place", &seed, key]) % (self.ids.len() as u64 + 1)) as usize;
            self.ids.insert(at, *id);
        }
        let (total, answered) = self.store.selection_counts(&self.annotator)?;
        self.tally.total = total;
        self.tally.answered = answered;
        if let Some(q) = self.queue.as_mut() {
            q.questions = total;
            q.images = self.ids.len();
        }
        mix.added = add;
        mix.images = self.ids.len();
        self.finished = false;
        match self.first_open_from(0)? {
            Some(id) => {
                let pos = self.position_of(id)?;
                self.go_to_pos(pos)?;
            }
            None => {
                self.finished = true;
                self.go_to_pos(0)?;
            }
        }
        Ok(mix)
    }

    /// After an answer: the truth, when the answer was a yes or no that differs from the gold
    /// truth of its question and feedback is on; cleared by the next answer.
    pub fn gold_feedback(&self) -> Option<&GoldFeedback> {
        self.gold.as_ref().and_then(|g| g.last.as_ref())
    }

    /// Checks a saved answer against the gold truth (see [`Session::gold_feedback`]).
    pub(super) fn check_gold(&mut self, image: &str, label: &str, answer: Answer) {
        let Some(g) = self.gold.as_mut() else {
            return;
        };
        g.last = None;
        if !g.feedback || answer == Answer::Maybe {
            return;
        }
        if let Some(&truth) = g.truth.get(&(image.to_string(), label.to_string()))
            && truth != (answer == Answer::Yes)
        {
            g.last = Some(GoldFeedback {
                image: image.to_string(),
                label: label.to_string(),
                answer,
                truth,
            });
        }
    }
}
