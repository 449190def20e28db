//! Answer quality in the event log: gold answers and expert verdicts, two kinds declared in
//! `store::events` with the judgments' shape (a question is (image, label); an answer is yes,
//! no or maybe; a retraction names the event it undoes), so that they fold, undo, merge and
//! travel in checkouts through the same code as every other kind.
//!
//! - **Gold answers** are experts' answers to questions used to score annotators (ImageNet-ReaL's
//!   "golden" questions). A question's truth is the experts' majority of yes against no
//!   (`analysis::reliability`). Every checkout carries them whole: an annotator's session mixes
//!   gold questions into its queue and may show the truth after a wrong answer.
//! - **Verdicts** are an expert's decision of a question (`annotate --review`); a current yes or
//!   no verdict decides its question in the report and every export, unless another expert's
//!   current verdict differs (a conflict, listed by `report`). A checkout carries the
//!   annotator's own, like answers.

use rusqlite::Row;
use rusqlite::types::ToSqlOutput;

use super::events::{
    self, Checkout, Column, Event, Kind, Log, OnUndo, Role, Ty, Undo, answer_kind_columns,
};
use super::judgments::{CurrentAnswer, JudgmentEvent, check_answer, current_of};
use super::{Answer, Store, new_event_id, now_ms};
use crate::error::Result;

/// The columns of a kind shaped like the judgments, with `answer` named as given.
macro_rules! answer_columns {
    ($answer:literal) => {
        answer_kind_columns![
            Column::new("label", Ty::Text, Role::Question),
            Column::new($answer, Ty::Text, Role::Payload(OnUndo::Value("retract"))),
        ]
    };
}

/// The gold answers' declaration: experts' answers, carried by every checkout.
pub(crate) static GOLD: Kind = Kind {
    table: "gold",
    noun: "gold answer",
    plural: "gold answers",
    answer_noun: "a gold answer",
    question_noun: "image and label",
    columns: answer_columns!("answer"),
    undo: Undo::Retracts,
    by_question: "gold_by_item",
    candidate: Some("label"),
    check: check_answer,
    log: Log {
        new: "new_gold",
        duplicate: Some("duplicate_gold"),
        answers: false,
    },
    checkout: Checkout::Everyone,
};

/// The verdicts' declaration: an expert's yes, no or maybe on a question.
pub(crate) static VERDICTS: Kind = Kind {
    table: "verdicts",
    noun: "verdict",
    plural: "verdicts",
    answer_noun: "a verdict",
    question_noun: "image and label",
    columns: answer_columns!("verdict"),
    undo: Undo::Retracts,
    by_question: "verdicts_by_item",
    candidate: Some("label"),
    check: check_answer,
    log: Log {
        new: "new_verdicts",
        duplicate: Some("duplicate_verdicts"),
        answers: false,
    },
    checkout: Checkout::Own,
};

/// One gold event: a judgment's fields under the gold kind.
#[derive(Clone, Debug, PartialEq)]
pub struct GoldEvent(pub JudgmentEvent);

impl AsRef<JudgmentEvent> for GoldEvent {
    fn as_ref(&self) -> &JudgmentEvent {
        &self.0
    }
}

/// One verdict event: a judgment's fields under the verdict kind (`answer` is the verdict).
#[derive(Clone, Debug, PartialEq)]
pub struct VerdictEvent(pub JudgmentEvent);

impl AsRef<JudgmentEvent> for VerdictEvent {
    fn as_ref(&self) -> &JudgmentEvent {
        &self.0
    }
}

impl Event for GoldEvent {
    const KIND: &'static Kind = &GOLD;

    fn values(&self) -> Vec<ToSqlOutput<'_>> {
        self.0.values()
    }

    fn id(&self) -> &str {
        &self.0.id
    }

    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        JudgmentEvent::from_row(r).map(GoldEvent)
    }
}

impl Event for VerdictEvent {
    const KIND: &'static Kind = &VERDICTS;

    fn values(&self) -> Vec<ToSqlOutput<'_>> {
        self.0.values()
    }

    fn id(&self) -> &str {
        &self.0.id
    }

    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        JudgmentEvent::from_row(r).map(VerdictEvent)
    }
}

impl Store {
    /// Inserts gold events (or verdicts) not there yet (by id) and makes their questions
    /// candidates, in one transaction. Returns how many were new. Only the events' own
    /// questions are added, where the project has the image and the class (as a rebuild of
    /// every candidate would find them): ReaL's 5,675 golden answers took 3.1 s when every
    /// candidate of the project was written again.
    pub fn insert_with_candidates<E: Event + AsRef<JudgmentEvent>>(
        &mut self,
        events: &[E],
    ) -> Result<u64> {
        let mut asked: Vec<(&str, &str)> = events
            .iter()
            .map(|e| (e.as_ref().image.as_str(), e.as_ref().label.as_str()))
            .collect();
        asked.sort_unstable();
        asked.dedup();
        let mut known = Vec::with_capacity(asked.len());
        for (key, label) in asked {
            if let Some(id) = self.image_id(key)?
                && self.named(|| self.is_class(label))?
            {
                known.push((id, label));
            }
        }
        known.sort_unstable();
        self.insert_with_questions(events, &known)
    }

    /// [`Store::insert_with_candidates`] for a caller that already holds the events'
    /// questions, (image row id, class key) of the project's images and classes, in the
    /// candidates' key order.
    pub(crate) fn insert_with_questions<E: Event>(
        &mut self,
        events: &[E],
        questions: &[(i64, &str)],
    ) -> Result<u64> {
        self.transaction(|tx| {
            let added = events::insert(tx, events)?;
            super::predictions::add_candidates(tx, questions.iter().copied())?;
            Ok(added)
        })
    }

    /// Every expert's current gold answer, by (image, label, annotator).
    pub fn current_gold(&self) -> Result<Vec<CurrentAnswer>> {
        self.named(|| current_of(&self.conn, &GOLD))
    }

    pub fn gold_events(&self) -> Result<Vec<GoldEvent>> {
        self.named(|| events::select(&self.conn, "1", []))
    }

    /// Appends an expert's verdict on (image, label) and commits it before returning.
    pub fn append_verdict(
        &self,
        image: &str,
        label: &str,
        verdict: Answer,
        annotator: &str,
        session: &str,
        elapsed_ms: Option<i64>,
    ) -> Result<VerdictEvent> {
        self.named(|| {
            let e = VerdictEvent(JudgmentEvent {
                id: new_event_id(),
                image: image.to_string(),
                label: label.to_string(),
                answer: Some(verdict),
                retracts: None,
                annotator: annotator.to_string(),
                session: session.to_string(),
                created_at: now_ms(),
                elapsed_ms,
                origin: "review".into(),
            });
            events::append(self, std::slice::from_ref(&e))?;
            Ok(e)
        })
    }

    /// Appends a retraction of a verdict and commits it.
    pub fn retract_verdict(&self, target: &VerdictEvent, session: &str) -> Result<VerdictEvent> {
        self.named(|| {
            let mut undo = events::retract(self, &[(&target.0.id, "review")], session)?;
            Ok(undo.remove(0))
        })
    }

    /// Every expert's current verdict, by (image, label, annotator).
    pub fn current_verdicts(&self) -> Result<Vec<CurrentAnswer>> {
        self.named(|| current_of(&self.conn, &VERDICTS))
    }

    pub fn verdict_events(&self) -> Result<Vec<VerdictEvent>> {
        self.named(|| events::select(&self.conn, "1", []))
    }

    /// (questions, experts, events) of the gold answers and of the verdicts, for `info`.
    pub fn quality_counts(&self) -> Result<[(u64, u64, u64); 2]> {
        let counts = |current: Vec<CurrentAnswer>, events: u64| {
            let mut questions: Vec<(&str, &str)> = current
                .iter()
                .map(|c| (c.image.as_str(), c.label.as_str()))
                .collect();
            questions.dedup();
            let mut experts: Vec<&str> = current.iter().map(|c| c.annotator.as_str()).collect();
            experts.sort_unstable();
            experts.dedup();
            (questions.len() as u64, experts.len() as u64, events)
        };
        Ok([
            counts(self.current_gold()?, events::count(&self.conn, &GOLD)?),
            counts(
                self.current_verdicts()?,
                events::count(&self.conn, &VERDICTS)?,
            ),
        ])
    }

    /// Inserts verdict events not there yet (by id); for tests and imports.
    pub fn insert_verdicts(&self, verdicts: &[VerdictEvent]) -> Result<u64> {
        self.named(|| events::insert(&self.conn, verdicts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_store;

    #[test]
    fn a_retracted_verdict_gives_way_to_the_one_before() {
        let (_d, s) = test_store(&["a", "b"]);
        let first = s
            .append_verdict("img", "a", Answer::Yes, "expert", "s", Some(1200))
            .unwrap();
        let second = s
            .append_verdict("img", "a", Answer::No, "expert", "s", None)
            .unwrap();
        let cur = s.current_verdicts().unwrap();
        assert_eq!((cur.len(), cur[0].answer), (1, Answer::No));
        s.retract_verdict(&second, "s").unwrap();
        let cur = s.current_verdicts().unwrap();
        assert_eq!(cur[0].event_id, first.0.id);
        assert_eq!(s.verdict_events().unwrap().len(), 3);
        // Verdicts are not judgments.
        assert!(s.current_answers().unwrap().is_empty());
    }
}
