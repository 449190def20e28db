//! The annotation session as plain logic: the queue of (image, candidate) questions, the current
//! one, answer, undo, skip, moving about, flags and progress.
//!
//! Nothing here knows about a terminal, so tests drive a session directly and the screen is a thin
//! view over it. Two rules keep the annotator's work safe: every answer is committed to the project
//! file before the session moves on (so whatever the screen showed as taken survives `kill -9`),
//! and nothing is ever changed in place (undo appends a retraction).
//!
//! The queue holds only image ids, in key order unless a [`QueueSpec`] filters or reorders it; an
//! image's candidates and the annotator's answers are read when the image comes up, so a project
//! of a million images opens at once.

pub mod classify;
mod describe;
pub mod gold;
pub mod grid;
mod order;
mod progress;
mod project;
mod queue;
pub mod review;

use std::time::Duration;

/// Images carried inside an annotator's file, read and checked for the screens (which hold no
/// store).
pub use crate::store::carried::read_carried;
pub use classify::{Choice, ClassifyImage, ClassifySession, select as select_classify};
pub use describe::describe;
pub use gold::{GoldFeedback, GoldMix};
pub use grid::{Cell, GridOptions, GridSession, Mark, PageCommit};
pub use order::{blind_sort, stable_hash};
pub use progress::{Clock, MAX_COUNTED_PER_ANSWER, ManualClock, Progress, SystemClock};
pub use project::Project;
pub use queue::{QueueOrder, QueueSpec, parse_range};
pub use review::{ReviewQuestion, ReviewSession};

use crate::error::{Error, Result};
use crate::store::{
    Answer, Flag, FlagKind, ImageRecord, ImageRow, JudgmentEvent, PredictionSource, ReferenceImage,
    Store, new_event_id,
};
use crate::vocab::{Class, Vocab};
use progress::Tally;

/// How a session shows candidates.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    pub annotator: String,
    /// Show the original label and model ranks and keep the store's order (original first, then
    /// by best rank) instead of the blind per-annotator order.
    pub show_sources: bool,
    /// Which questions to ask and in which order (default: all, in file order).
    pub queue: QueueSpec,
}

/// A filtered queue as it was selected when the session opened.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueInfo {
    pub spec: QueueSpec,
    /// Selected questions, answered or not.
    pub questions: u64,
    pub images: usize,
}

impl std::fmt::Display for QueueInfo {
    /// `subtree terrier · 312 questions on 120 images`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} · {} question{} on {} image{}",
            self.spec,
            self.questions,
            if self.questions == 1 { "" } else { "s" },
            self.images,
            if self.images == 1 { "" } else { "s" }
        )
    }
}

/// One candidate of the current image, with the annotator's standing answer to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub label: String,
    pub is_original: bool,
    pub sources: Vec<PredictionSource>,
    pub answer: Option<Answer>,
}

/// The current image: its record, its candidates in display order, and the flags standing on it.
#[derive(Clone, Debug)]
pub struct ImageItems {
    pub id: i64,
    pub record: ImageRecord,
    pub items: Vec<Item>,
    pub flags: Vec<Flag>,
}

impl ImageItems {
    pub fn key(&self) -> &str {
        &self.record.key
    }

    pub fn open_count(&self) -> usize {
        self.items.iter().filter(|i| i.answer.is_none()).count()
    }

    fn first_open_from(&self, from: usize) -> Option<usize> {
        (from..self.items.len()).find(|&i| self.items[i].answer.is_none())
    }
}

/// Where the session went after an answer or a skip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advance {
    /// The next open candidate of the same image.
    Candidate,
    /// The first open candidate of another image.
    Image,
    /// No open candidate is left anywhere; the session stays where it was.
    Finished,
}

pub struct Session {
    store: Store,
    vocab: Vocab,
    annotator: String,
    session_id: String,
    show_sources: bool,
    /// Set when the spec filters or reorders: the store then holds the selected questions.
    queue: Option<QueueInfo>,
    ids: Vec<i64>,
    pos: usize,
    current: Option<ImageItems>,
    cursor: usize,
    /// This session's answers not undone yet, oldest first.
    undo: Vec<JudgmentEvent>,
    tally: Tally,
    clock: Box<dyn Clock>,
    /// When the current question came up, on `clock`.
    shown_at: Duration,
    finished: bool,
    /// Set when the annotator moves on their own (image, candidate, go-to) after the queue was
    /// done: an answer then changes the one under the cursor. Right where the queue ended, an
    /// answer key would only repeat the last answer.
    reviewing: bool,
    /// The gold truth answers are checked against (`mix_gold` with feedback).
    gold: Option<gold::GoldState>,
}

/// What an answer key says when the queue is done and the annotator has not moved.
pub const QUEUE_DONE: &str = "the queue is done: nothing was saved. [ and ] (or g) to review and \
                              change an answer, u undoes your last one, q quits";

impl Session {
    /// Opens a session on the project at the annotator's resume point: the first image (in key
    /// order) with a candidate they have not answered.
    pub fn open(store: Store, opts: SessionOptions) -> Result<Session> {
        Self::open_with_clock(store, opts, Box::new(SystemClock::new()))
    }

    pub fn open_with_clock(
        store: Store,
        opts: SessionOptions,
        clock: Box<dyn Clock>,
    ) -> Result<Session> {
        let annotator = opts.annotator.trim().to_string();
        if annotator.is_empty() {
            return Err(Error::msg(
                "the annotator name is empty; pass --annotator NAME",
            ));
        }
        let vocab = store.vocab()?;
        let (ids, tally, queue) = if opts.queue.is_all() {
            let tally = Tally {
                answered: store.answered_count(&annotator)?,
                total: store.queue_candidate_count(&annotator)?,
                ..Tally::default()
            };
            (store.queue_image_ids(&annotator)?, tally, None)
        } else {
            let selected = opts.queue.select(&store, &annotator, &vocab)?;
            let (total, answered) = store.selection_counts(&annotator)?;
            let info = QueueInfo {
                spec: opts.queue.clone(),
                questions: total,
                images: selected.len(),
            };
            let tally = Tally {
                answered,
                total,
                ..Tally::default()
            };
            (selected.iter().map(|im| im.id).collect(), tally, Some(info))
        };
        let mut s = Session {
            store,
            vocab,
            annotator,
            session_id: new_event_id(),
            show_sources: opts.show_sources,
            queue,
            ids,
            pos: 0,
            current: None,
            cursor: 0,
            undo: Vec::new(),
            tally,
            clock,
            shown_at: Duration::ZERO,
            finished: false,
            reviewing: false,
            gold: None,
        };
        match s.first_open_from(0)? {
            Some(id) => {
                let pos = s.position_of(id)?;
                s.go_to_pos(pos)?;
            }
            None => {
                s.finished = true;
                if !s.ids.is_empty() {
                    s.go_to_pos(0)?;
                }
            }
        }
        Ok(s)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Why the session has no question to ask, when it has none: a filter that selects nothing
    /// (naming it), a project with no images, or images with no candidate labels (and how to
    /// add some). `None` when there is something to ask, answered or not.
    pub fn nothing_to_ask(&self) -> Result<Option<String>> {
        let path = self.store.path().display().to_string();
        if self.tally.total > 0 {
            return Ok(None);
        }
        if let Some(q) = &self.queue
            && self.ids.is_empty()
        {
            return Ok(Some(
                q.spec.explain_empty(&self.store, Some(&self.annotator))?,
            ));
        }
        if self.ids.is_empty() {
            return Ok(Some(format!(
                "nothing to annotate: {path} has no images for {} (labelvet init adds them)",
                self.annotator
            )));
        }
        Ok(Some(format!(
            "nothing to ask: the {} image{} of {path} in {}'s queue have no candidate labels. \
             Candidates are the original label and the models' top-k: give labels at init \
             (--labels, or a manifest with labels) or import predictions (labelvet predictions \
             import {path} PREDICTIONS.csv)",
            self.ids.len(),
            if self.ids.len() == 1 { "" } else { "s" },
            self.annotator
        )))
    }

    /// Image `id`'s record, for a screen showing an image other than the current one.
    pub fn image_by_id(&self, id: i64) -> Result<Option<ImageRow>> {
        self.store.image_by_id(id)
    }

    /// Up to `limit` other images whose original label is `label`, to compare the current image
    /// with: those annotators confirmed, or, when none is confirmed yet, unjudged ones. The flag
    /// says which (`true`: confirmed).
    pub fn reference_images(
        &self,
        label: &str,
        exclude: &str,
        limit: usize,
    ) -> Result<(Vec<ReferenceImage>, bool)> {
        let confirmed = self.store.reference_images(label, exclude, limit, false)?;
        if confirmed.is_empty() {
            Ok((
                self.store.reference_images(label, exclude, limit, true)?,
                false,
            ))
        } else {
            Ok((confirmed, true))
        }
    }

    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    pub fn annotator(&self) -> &str {
        &self.annotator
    }

    /// This session's id, written on each of its events.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    pub fn show_sources(&self) -> bool {
        self.show_sources
    }

    /// The filtered queue this session walks, or `None` for the whole project in file order.
    pub fn queue(&self) -> Option<&QueueInfo> {
        self.queue.as_ref()
    }

    /// The current image, or `None` when the project has no images.
    pub fn image(&self) -> Option<&ImageItems> {
        self.current.as_ref()
    }

    /// Index of the current candidate in [`ImageItems::items`].
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn current_item(&self) -> Option<&Item> {
        self.current.as_ref().and_then(|c| c.items.get(self.cursor))
    }

    pub fn current_class(&self) -> Option<&Class> {
        self.current_item().and_then(|i| self.vocab.get(&i.label))
    }

    /// (index of the current image, number of images).
    pub fn position(&self) -> (usize, usize) {
        (self.pos, self.ids.len())
    }

    /// True once no open candidate is left anywhere (the annotator may still review and change).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// False once the queue is done, until the annotator moves to review: an answer key then
    /// saves nothing ([`QUEUE_DONE`]).
    pub fn takes_answers(&self) -> bool {
        !self.finished || self.reviewing
    }

    pub fn progress(&self) -> Progress {
        self.tally.progress()
    }

    /// How many answers `undo` can still take back.
    pub fn undo_depth(&self) -> usize {
        self.undo.len()
    }

    /// Ids of the next `n` images in queue order after the current one: what to load ahead.
    pub fn upcoming(&self, n: usize) -> Vec<i64> {
        self.ids
            .iter()
            .skip(self.pos + 1)
            .take(n)
            .copied()
            .collect()
    }

    /// Id of the image before the current one, where `[` and an undo across images go.
    pub fn previous(&self) -> Option<i64> {
        self.pos
            .checked_sub(1)
            .and_then(|p| self.ids.get(p))
            .copied()
    }

    /// Answers the current question, commits the answer, then moves to the next open question.
    pub fn answer(&mut self, answer: Answer) -> Result<Advance> {
        if !self.takes_answers() {
            return Err(Error::msg(QUEUE_DONE));
        }
        let Some(cur) = self.current.as_ref() else {
            return Err(Error::msg("the project has no images to answer"));
        };
        let Some(item) = cur.items.get(self.cursor) else {
            return Err(Error::msg(format!(
                "image {} has no candidate labels to answer",
                cur.key()
            )));
        };
        let now = self.clock.elapsed();
        let spent = now.saturating_sub(self.shown_at);
        let event = self.store.append_answer(
            cur.key(),
            &item.label,
            answer,
            &self.annotator,
            &self.session_id,
            Some(spent.as_millis() as i64),
        )?;
        // Committed: only now does the state move.
        let was_open = item.answer.is_none();
        let (image, label) = (cur.key().to_string(), item.label.clone());
        self.check_gold(&image, &label, answer);
        if let Some(cur) = self.current.as_mut() {
            cur.items[self.cursor].answer = Some(answer);
        }
        if was_open {
            self.tally.answered += 1;
        }
        self.tally.session_answers += 1;
        self.tally.worked += spent.min(MAX_COUNTED_PER_ANSWER);
        self.undo.push(event);
        self.advance()
    }

    /// Leaves the current question open and moves to the next open one.
    pub fn skip(&mut self) -> Result<Advance> {
        self.advance()
    }

    /// Takes back this session's latest answer not yet undone (a retraction is appended) and
    /// brings that question back on screen. `Ok(None)` when there is nothing left to undo.
    pub fn undo(&mut self) -> Result<Option<JudgmentEvent>> {
        let Some(last) = self.undo.last().cloned() else {
            return Ok(None);
        };
        self.store.append_retraction(&last, &self.session_id)?;
        self.undo.pop();
        self.tally.session_answers = self.tally.session_answers.saturating_sub(1);
        let on_current = self.current.as_ref().is_some_and(|c| c.key() == last.image);
        if on_current {
            self.reload_answers()?;
        } else {
            match self.store.image(&last.image)? {
                Some(row) => {
                    let pos = self.position_of(row.id)?;
                    self.go_to_pos(pos)?;
                }
                None => {
                    return Err(Error::msg(format!(
                        "undid the answer on image {}, which is no longer in the project",
                        last.image
                    )));
                }
            }
        }
        let cur = self.current.as_ref().expect("an image is loaded");
        if let Some(i) = cur.items.iter().position(|it| it.label == last.label) {
            if cur.items[i].answer.is_none() {
                self.tally.answered = self.tally.answered.saturating_sub(1);
            }
            self.cursor = i;
        }
        self.finished = false;
        self.mark_shown();
        Ok(Some(last))
    }

    /// Moves to another candidate of the current image (clamped to the list).
    pub fn select(&mut self, index: usize) {
        if let Some(cur) = &self.current
            && !cur.items.is_empty()
        {
            let index = index.min(cur.items.len() - 1);
            if index != self.cursor {
                self.cursor = index;
                self.reviewing = true;
                self.mark_shown();
            }
        }
    }

    pub fn next_candidate(&mut self) {
        self.select(self.cursor + 1);
    }

    pub fn prev_candidate(&mut self) {
        self.select(self.cursor.saturating_sub(1));
    }

    /// The next image in queue order, whatever its state. `Ok(false)` at the last image.
    pub fn next_image(&mut self) -> Result<bool> {
        if self.pos + 1 >= self.ids.len() {
            return Ok(false);
        }
        self.go_to_pos(self.pos + 1)?;
        self.reviewing = true;
        Ok(true)
    }

    /// The previous image in queue order. `Ok(false)` at the first image.
    pub fn prev_image(&mut self) -> Result<bool> {
        if self.pos == 0 || self.ids.is_empty() {
            return Ok(false);
        }
        self.go_to_pos(self.pos - 1)?;
        self.reviewing = true;
        Ok(true)
    }

    /// Jumps to the image with this key.
    pub fn go_to(&mut self, key: &str) -> Result<()> {
        let key = key.trim();
        let Some(row) = self.store.image(key)? else {
            let keys = self.store.image_ids()?;
            let near: Vec<String> =
                crate::suggest::nearest(key, keys.keys().map(String::as_str), 3)
                    .into_iter()
                    .map(String::from)
                    .collect();
            return Err(Error::msg(format!(
                "no image `{key}` in {}{}",
                self.store.path().display(),
                crate::suggest::did_you_mean(&near)
            )));
        };
        let pos = self.position_of(row.id)?;
        self.go_to_pos(pos)?;
        self.reviewing = true;
        Ok(())
    }

    /// Flags the current image (broken, ambiguous, needs an expert; `Clear` lifts this
    /// annotator's flags). A flagged image is no longer a resume point for its annotator.
    pub fn flag(&mut self, kind: FlagKind, note: &str) -> Result<Flag> {
        let key = match &self.current {
            Some(c) => c.key().to_string(),
            None => return Err(Error::msg("the project has no images to flag")),
        };
        let flag =
            self.store
                .append_flag(&key, kind, note.trim(), &self.annotator, &self.session_id)?;
        let flags = self.store.flags_for_image(&key)?;
        if let Some(cur) = self.current.as_mut() {
            cur.flags = flags;
        }
        Ok(flag)
    }

    /// The next open question: later in this image, else the first open candidate of the next
    /// image with one (wrapping to the start of the queue), else finished.
    fn advance(&mut self) -> Result<Advance> {
        let Some(cur) = &self.current else {
            self.finished = true;
            self.reviewing = false;
            return Ok(Advance::Finished);
        };
        if let Some(i) = cur.first_open_from(self.cursor + 1) {
            self.cursor = i;
            self.mark_shown();
            return Ok(Advance::Candidate);
        }
        let next = match self.queue {
            Some(_) => match self.first_open_from(self.pos + 1)? {
                Some(id) => Some(id),
                None => self.first_open_from(0)?,
            },
            None => {
                let key = cur.key().to_string();
                match self.store.next_open_image(&self.annotator, Some(&key))? {
                    Some(id) => Some(id),
                    None => self.store.next_open_image(&self.annotator, None)?,
                }
            }
        };
        match next {
            Some(id) if id == self.ids[self.pos] => {
                // Only this image is left open (earlier candidates were skipped): go round it.
                self.reload_answers()?;
                let cur = self.current.as_ref().expect("loaded");
                match cur.first_open_from(0) {
                    Some(i) => {
                        self.cursor = i;
                        self.mark_shown();
                        Ok(Advance::Candidate)
                    }
                    None => {
                        self.finished = true;
                        self.reviewing = false;
                        Ok(Advance::Finished)
                    }
                }
            }
            Some(id) => {
                let pos = self.position_of(id)?;
                self.go_to_pos(pos)?;
                Ok(Advance::Image)
            }
            None => {
                self.finished = true;
                self.reviewing = false;
                Ok(Advance::Finished)
            }
        }
    }

    /// Loads the image at `pos` and puts the cursor on its first open candidate.
    fn go_to_pos(&mut self, pos: usize) -> Result<()> {
        let id = self.ids[pos];
        let row = self.store.image_by_id(id)?.ok_or_else(|| {
            Error::msg(format!(
                "image #{id} left {} while it was open",
                self.store.path().display()
            ))
        })?;
        let mut candidates = self.store.candidates(id)?;
        if self.queue.is_some() {
            let selected = self.store.selection_labels(id)?;
            candidates.retain(|c| selected.binary_search(&c.label).is_ok());
        }
        let mut items: Vec<Item> = candidates
            .into_iter()
            .map(|c| Item {
                label: c.label,
                is_original: c.is_original,
                sources: c.sources,
                answer: None,
            })
            .collect();
        if !self.show_sources {
            blind_sort(&mut items, &row.rec.key, &self.annotator, |i| &i.label);
        }
        let flags = self.store.flags_for_image(&row.rec.key)?;
        self.current = Some(ImageItems {
            id,
            record: row.rec,
            items,
            flags,
        });
        self.pos = pos;
        self.reload_answers()?;
        let cur = self.current.as_ref().expect("just set");
        self.cursor = cur.first_open_from(0).unwrap_or(0);
        self.mark_shown();
        Ok(())
    }

    /// Re-reads the annotator's standing answers for the current image.
    fn reload_answers(&mut self) -> Result<()> {
        let Some(cur) = self.current.as_mut() else {
            return Ok(());
        };
        let standing = self
            .store
            .current_for_image(&cur.record.key, &self.annotator)?;
        for item in &mut cur.items {
            item.answer = standing
                .iter()
                .find(|e| e.label == item.label)
                .and_then(|e| e.answer);
        }
        Ok(())
    }

    /// The first image with an open question at or after `from` in queue order (not wrapping).
    fn first_open_from(&self, from: usize) -> Result<Option<i64>> {
        if self.queue.is_none() {
            // Queue order is key order: the store walks the key index itself.
            return match from {
                0 => self.store.next_open_image(&self.annotator, None),
                _ => match self.ids.get(from - 1) {
                    Some(&id) => match self.store.image_by_id(id)? {
                        Some(row) => self
                            .store
                            .next_open_image(&self.annotator, Some(&row.rec.key)),
                        None => Ok(None),
                    },
                    None => Ok(None),
                },
            };
        }
        for &id in self.ids.iter().skip(from) {
            if self.store.selection_is_open(&self.annotator, id)? {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    fn position_of(&self, id: i64) -> Result<usize> {
        // A linear scan of ids is about a millisecond for a million images, and only runs on
        // jumps; an id-to-position map would cost tens of megabytes for the whole session.
        let near = self.pos.min(self.ids.len());
        self.ids[near..]
            .iter()
            .position(|&x| x == id)
            .map(|p| p + near)
            .or_else(|| self.ids[..near].iter().position(|&x| x == id))
            .ok_or_else(|| match &self.queue {
                Some(q) => Error::msg(format!("image #{id} is not in this queue ({})", q.spec)),
                None => Error::msg(format!(
                    "image #{id} was added to {} after this session opened; reopen it",
                    self.store.path().display()
                )),
            })
    }

    fn mark_shown(&mut self) {
        self.shown_at = self.clock.elapsed();
    }
}

/// The annotator's name when none is given: the login name of the account (from the system's
/// user database, so it holds when `$USER` is unset, as under cron, `env -i` or some SSH setups).
pub fn login_name() -> String {
    whoami::fallible::username()
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "annotator".into())
}
