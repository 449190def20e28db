//! Flags on whole images (broken, ambiguous, needs an expert), with an optional note: one kind
//! of the event log (`store::events`). A flag has no retraction: an event of kind `clear` lifts
//! every earlier flag of its annotator on the image, and every flag since stands.

use rusqlite::Row;
use rusqlite::types::ToSqlOutput;

use super::events::{self, Checkout, Column, Event, Kind, Log, OnUndo, Role, Ty, Undo};
use super::{Store, new_event_id, now_ms};
use crate::error::Result;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagKind {
    Broken,
    Ambiguous,
    Expert,
    /// Lifts the annotator's earlier flags on the image.
    Clear,
}

impl FlagKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FlagKind::Broken => "broken",
            FlagKind::Ambiguous => "ambiguous",
            FlagKind::Expert => "expert",
            FlagKind::Clear => "clear",
        }
    }

    pub fn parse(s: &str) -> Option<FlagKind> {
        Some(match s {
            "broken" => FlagKind::Broken,
            "ambiguous" => FlagKind::Ambiguous,
            "expert" => FlagKind::Expert,
            "clear" => FlagKind::Clear,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Flag {
    pub id: String,
    pub image: String,
    pub kind: FlagKind,
    pub note: String,
    pub annotator: String,
    pub session: String,
    pub created_at: i64,
}

/// The flags' declaration in the event log: a question is an image; a `clear` lifts.
pub(crate) static FLAGS: Kind = Kind {
    table: "flags",
    noun: "flag",
    plural: "flags",
    answer_noun: "a flag",
    question_noun: "image",
    columns: &[
        Column::new("id", Ty::Text, Role::Id),
        Column::new("image", Ty::Text, Role::Image),
        Column::new("kind", Ty::Text, Role::Payload(OnUndo::Value("clear"))),
        Column::new("note", Ty::Text, Role::Payload(OnUndo::Value(""))),
        Column::new("annotator", Ty::NonEmpty, Role::Annotator),
        Column::new("session", Ty::Text, Role::Session),
        Column::new("created_at", Ty::Int, Role::CreatedAt),
    ],
    undo: Undo::Clears,
    by_question: "flags_by_image",
    candidate: None,
    check: |row, _| {
        let kind = row.text(2)?;
        match FlagKind::parse(kind) {
            Some(_) => Ok(()),
            None => Err(row.refuse(format!(
                "kind `{kind}` is not broken, ambiguous, expert or clear"
            ))),
        }
    },
    log: Log {
        new: "new_flags",
        duplicate: None,
        answers: false,
    },
    checkout: Checkout::Own,
};

impl Event for Flag {
    const KIND: &'static Kind = &FLAGS;

    fn values(&self) -> Vec<ToSqlOutput<'_>> {
        vec![
            self.id.as_str().into(),
            self.image.as_str().into(),
            self.kind.as_str().into(),
            self.note.as_str().into(),
            self.annotator.as_str().into(),
            self.session.as_str().into(),
            self.created_at.into(),
        ]
    }

    fn id(&self) -> &str {
        &self.id
    }

    fn from_row(r: &Row<'_>) -> rusqlite::Result<Flag> {
        let kind: String = r.get(2)?;
        Ok(Flag {
            id: r.get(0)?,
            image: r.get(1)?,
            kind: FlagKind::parse(&kind).unwrap_or(FlagKind::Ambiguous),
            note: r.get(3)?,
            annotator: r.get(4)?,
            session: r.get(5)?,
            created_at: r.get(6)?,
        })
    }
}

/// The annotator has a flag standing on the image (not lifted by a later `clear` of theirs).
pub(crate) const FLAGGED_BY: &str = "EXISTS (
    SELECT 1 FROM flags f WHERE f.image = i.key AND f.annotator = ?1 AND f.kind <> 'clear'
      AND NOT EXISTS (
        SELECT 1 FROM flags k WHERE k.image = f.image AND k.annotator = f.annotator
          AND k.kind = 'clear' AND (k.created_at, k.id) > (f.created_at, f.id)))";

impl Store {
    pub fn append_flag(
        &self,
        image: &str,
        kind: FlagKind,
        note: &str,
        annotator: &str,
        session: &str,
    ) -> Result<Flag> {
        self.named(|| {
            let f = Flag {
                id: new_event_id(),
                image: image.to_string(),
                kind,
                note: note.to_string(),
                annotator: annotator.to_string(),
                session: session.to_string(),
                created_at: now_ms(),
            };
            events::append(self, std::slice::from_ref(&f))?;
            Ok(f)
        })
    }

    /// Flags standing on an image: each annotator's flags since their last `clear`.
    pub fn flags_for_image(&self, image: &str) -> Result<Vec<Flag>> {
        self.named(|| {
            let all: Vec<Flag> = events::select(&self.conn, "image = ?1", [image])?;
            Ok(events::standing(
                &all,
                |f| f.annotator.clone(),
                |f| (f.kind == FlagKind::Clear).then_some(None),
                |f| &f.id,
            ))
        })
    }

    pub fn flag_count(&self) -> Result<u64> {
        self.named(|| {
            Ok(self.conn.query_row(
                "SELECT count(DISTINCT image) FROM flags WHERE kind <> 'clear'",
                [],
                |r| r.get(0),
            )?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_store;

    #[test]
    fn flags_stand_until_cleared() {
        let (_d, s) = test_store(&["a", "b"]);
        s.append_flag("img", FlagKind::Broken, "truncated", "ann", "s")
            .unwrap();
        s.append_flag("img", FlagKind::Expert, "", "bob", "s")
            .unwrap();
        assert_eq!(s.flags_for_image("img").unwrap().len(), 2);
        s.append_flag("img", FlagKind::Clear, "", "ann", "s")
            .unwrap();
        let left = s.flags_for_image("img").unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].annotator, "bob");
    }
}
