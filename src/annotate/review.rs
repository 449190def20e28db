//! The expert's review (`annotate --review`) as plain logic: the disputed questions (or those
//! the usual filters choose), one at a time, with the annotators' yes / no / maybe counts (their
//! names only when asked for), and the expert's y / n / m as a verdict event that decides the
//! question in the report and every export (`store::quality`). Like the other sessions, each
//! verdict is committed before the next question comes up, and undo appends a retraction.

use std::collections::HashMap;
use std::time::Duration;

use super::progress::{Clock, SystemClock};
use super::queue::QueueSpec;
use crate::error::{Error, Result};
use crate::store::{Answer, ImageRow, Store, VerdictEvent, new_event_id};
use crate::vocab::Vocab;

/// One question under review.
#[derive(Clone, Debug, PartialEq)]
pub struct ReviewQuestion {
    pub image_id: i64,
    pub image: String,
    pub label: String,
    pub yes: u32,
    pub no: u32,
    pub maybe: u32,
    /// Each annotator's current answer, by name.
    pub answers: Vec<(String, Answer)>,
    /// The expert's own current verdict.
    pub verdict: Option<Answer>,
}

pub struct ReviewSession {
    store: Store,
    vocab: Vocab,
    expert: String,
    session_id: String,
    questions: Vec<ReviewQuestion>,
    pos: usize,
    undo: Vec<VerdictEvent>,
    clock: Box<dyn Clock>,
    shown_at: Duration,
}

impl ReviewSession {
    /// Opens the review of the questions `spec` selects (every annotator's answers count; with
    /// no filter, the disputed questions: a yes and a no among the current answers), at the
    /// first one the expert has given no verdict on.
    pub fn open(store: Store, expert: &str, spec: &QueueSpec) -> Result<ReviewSession> {
        Self::open_with_clock(store, expert, spec, Box::new(SystemClock::new()))
    }

    pub fn open_with_clock(
        store: Store,
        expert: &str,
        spec: &QueueSpec,
        clock: Box<dyn Clock>,
    ) -> Result<ReviewSession> {
        let expert = expert.trim().to_string();
        if expert.is_empty() {
            return Err(Error::msg(
                "the expert's name is empty; pass --annotator NAME",
            ));
        }
        let spec = if spec.is_all() {
            QueueSpec {
                disputed: true,
                ..spec.clone()
            }
        } else {
            spec.clone()
        };
        let vocab = store.vocab()?;
        let filter = spec.filter(&vocab)?;
        let images = store.select_images(&filter)?;
        let mut selected: Vec<(i64, String, Vec<String>)> = Vec::new();
        for im in spec.sampled(images) {
            let labels = store.selection_labels(im.id)?;
            selected.push((im.id, im.key, labels));
        }
        let mut answers: HashMap<(String, String), Vec<(String, Answer)>> = HashMap::new();
        for a in store.current_answers()? {
            answers
                .entry((a.image, a.label))
                .or_default()
                .push((a.annotator, a.answer));
        }
        let mut verdicts: HashMap<(String, String), Answer> = HashMap::new();
        for v in store.current_verdicts()? {
            if v.annotator == expert {
                verdicts.insert((v.image, v.label), v.answer);
            }
        }
        let mut questions = Vec::new();
        for (image_id, image, labels) in selected {
            for label in labels {
                let key = (image.clone(), label);
                let given = answers.remove(&key).unwrap_or_default();
                let count = |x: Answer| given.iter().filter(|a| a.1 == x).count() as u32;
                questions.push(ReviewQuestion {
                    image_id,
                    yes: count(Answer::Yes),
                    no: count(Answer::No),
                    maybe: count(Answer::Maybe),
                    verdict: verdicts.get(&key).copied(),
                    answers: given,
                    image: key.0,
                    label: key.1,
                });
            }
        }
        let pos = questions
            .iter()
            .position(|q| q.verdict.is_none())
            .unwrap_or(0);
        let mut s = ReviewSession {
            store,
            vocab,
            expert,
            session_id: new_event_id(),
            questions,
            pos,
            undo: Vec::new(),
            clock,
            shown_at: Duration::ZERO,
        };
        s.shown_at = s.clock.elapsed();
        Ok(s)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    pub fn image_by_id(&self, id: i64) -> Result<Option<ImageRow>> {
        self.store.image_by_id(id)
    }

    /// Ids of the images of the next `n` questions, to load ahead.
    pub fn upcoming(&self, n: usize) -> Vec<i64> {
        self.questions
            .iter()
            .skip(self.pos + 1)
            .map(|q| q.image_id)
            .take(n)
            .collect()
    }

    /// Verdicts given this session that still stand.
    pub fn session_verdicts(&self) -> u64 {
        self.undo.len() as u64
    }

    pub fn expert(&self) -> &str {
        &self.expert
    }

    pub fn questions(&self) -> &[ReviewQuestion] {
        &self.questions
    }

    /// The question on screen, or `None` when nothing was selected.
    pub fn current(&self) -> Option<&ReviewQuestion> {
        self.questions.get(self.pos)
    }

    /// (index of the current question, number of questions).
    pub fn position(&self) -> (usize, usize) {
        (self.pos, self.questions.len())
    }

    /// Questions with a verdict of the expert's.
    pub fn decided(&self) -> usize {
        self.questions
            .iter()
            .filter(|q| q.verdict.is_some())
            .count()
    }

    /// True once every question has the expert's verdict.
    pub fn is_finished(&self) -> bool {
        self.questions.iter().all(|q| q.verdict.is_some())
    }

    /// Records the expert's verdict on the current question, commits it, and moves to the next
    /// question without one (or stays, when none is left). Returns whether it moved.
    pub fn verdict(&mut self, verdict: Answer) -> Result<bool> {
        let Some(q) = self.questions.get(self.pos) else {
            return Err(Error::msg("nothing to review"));
        };
        let spent = self.clock.elapsed().saturating_sub(self.shown_at);
        let e = self.store.append_verdict(
            &q.image,
            &q.label,
            verdict,
            &self.expert,
            &self.session_id,
            Some(spent.as_millis() as i64),
        )?;
        // Committed: only now does the state move.
        self.questions[self.pos].verdict = Some(verdict);
        self.undo.push(e);
        let next = (self.pos + 1..self.questions.len())
            .chain(0..self.pos)
            .find(|&i| self.questions[i].verdict.is_none());
        let moved = match next {
            Some(i) => {
                self.pos = i;
                true
            }
            None => false,
        };
        self.shown_at = self.clock.elapsed();
        Ok(moved)
    }

    /// Takes back this session's latest verdict (a retraction) and brings its question back.
    /// `Ok(false)` when there is nothing left to undo.
    pub fn undo(&mut self) -> Result<bool> {
        let Some(last) = self.undo.last().cloned() else {
            return Ok(false);
        };
        self.store.retract_verdict(&last, &self.session_id)?;
        self.undo.pop();
        let still = self
            .store
            .current_verdicts()?
            .into_iter()
            .find(|v| {
                v.annotator == self.expert && v.image == last.0.image && v.label == last.0.label
            })
            .map(|v| v.answer);
        if let Some(i) = self
            .questions
            .iter()
            .position(|q| q.image == last.0.image && q.label == last.0.label)
        {
            self.questions[i].verdict = still;
            self.pos = i;
        }
        self.shown_at = self.clock.elapsed();
        Ok(true)
    }

    /// Moves to the next (`true`) or previous question, wrapping.
    pub fn step(&mut self, forward: bool) {
        let n = self.questions.len();
        if n == 0 {
            return;
        }
        self.pos = if forward {
            (self.pos + 1) % n
        } else {
            (self.pos + n - 1) % n
        };
        self.shown_at = self.clock.elapsed();
    }
}
