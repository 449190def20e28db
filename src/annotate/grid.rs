//! The grid task: one label judged over a page of images at a glance (the CONTAINS task of
//! Tsipras et al. 2020). For a fine-grained class an expert sees twenty thumbnails at once,
//! marks the ones that show the class, and commits the page: marked images answer yes, the
//! others no, as ordinary judgment events that aggregate and merge like any other answer.
//!
//! Like [`Session`](super::Session) this holds no terminal code. A page is committed in one
//! transaction before the next page shows, and undo takes back a whole page (a retraction for
//! each of its answers) and brings it back with its marks, so a page is the unit of work both
//! ways. The queue is the images on which the label is a candidate and this annotator has not
//! answered it (nor flagged the image), so reopening resumes where the last commit left off.

use std::time::Duration;

use super::progress::{Clock, MAX_COUNTED_PER_ANSWER, SystemClock};
use super::queue::QueueSpec;
use crate::error::{Error, Result};
use crate::store::{Answer, ImageRow, JudgmentEvent, Store, new_event_id};
use crate::vocab::{Class, Vocab};

/// What the annotator says of one image on the page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mark {
    /// Not marked: the label is not in the image (answers no on commit).
    #[default]
    No,
    /// Marked: the image contains the label (answers yes).
    Yes,
    /// Cannot tell (answers maybe).
    Maybe,
    /// Left out of this page's answers, open for later (a broken or unclear thumbnail).
    Skip,
}

impl Mark {
    /// The answer a commit records, `None` for a skipped image.
    pub fn answer(self) -> Option<Answer> {
        match self {
            Mark::No => Some(Answer::No),
            Mark::Yes => Some(Answer::Yes),
            Mark::Maybe => Some(Answer::Maybe),
            Mark::Skip => None,
        }
    }
}

/// One image on the page.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub image: ImageRow,
    pub mark: Mark,
}

#[derive(Clone, Debug)]
pub struct GridOptions {
    pub annotator: String,
    /// The label judged on every image: class key, index, name or synonym.
    pub label: String,
    /// Further filters (original label, subtree, disputed, sample, order...). Its `class` must
    /// be unset: the grid's label is the class.
    pub queue: QueueSpec,
}

/// A committed page, kept for undo.
#[derive(Clone, Debug)]
struct Committed {
    offset: usize,
    marks: Vec<Mark>,
    events: Vec<JudgmentEvent>,
}

/// What a commit did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageCommit {
    pub yes: usize,
    pub no: usize,
    pub maybe: usize,
    pub skipped: usize,
    /// No page is left after this one.
    pub finished: bool,
}

pub struct GridSession {
    store: Store,
    vocab: Vocab,
    annotator: String,
    session_id: String,
    class: Class,
    /// The filters besides the label, as the header names them (empty when none).
    filters: String,
    /// The images of the queue, open when the session began, in queue order.
    ids: Vec<i64>,
    offset: usize,
    page_size: usize,
    cells: Vec<Cell>,
    cursor: usize,
    committed: Vec<Committed>,
    answered: u64,
    clock: Box<dyn Clock>,
    shown_at: Duration,
    worked: Duration,
}

impl GridSession {
    pub fn open(store: Store, opts: GridOptions) -> Result<GridSession> {
        Self::open_with_clock(store, opts, Box::new(SystemClock::new()))
    }

    pub fn open_with_clock(
        store: Store,
        opts: GridOptions,
        clock: Box<dyn Clock>,
    ) -> Result<GridSession> {
        let annotator = opts.annotator.trim().to_string();
        if annotator.is_empty() {
            return Err(Error::msg(
                "the annotator name is empty; pass --annotator NAME",
            ));
        }
        if opts.queue.class.is_some() {
            return Err(Error::msg(
                "the grid judges the class given by --label; leave out --class",
            ));
        }
        let vocab = store.vocab()?;
        let class = vocab.lookup(&opts.label)?.clone();
        let filters = opts.queue.to_string();
        let filters = if opts.queue.is_all() {
            String::new()
        } else {
            filters
        };
        let spec = QueueSpec {
            class: Some(class.key.clone()),
            ..opts.queue
        };
        let mut ids = Vec::new();
        for im in spec.select(&store, &annotator, &vocab)? {
            if store.selection_is_open(&annotator, im.id)? {
                ids.push(im.id);
            }
        }
        let mut s = GridSession {
            store,
            vocab,
            annotator,
            session_id: new_event_id(),
            class,
            filters,
            ids,
            offset: 0,
            page_size: 1,
            cells: Vec::new(),
            cursor: 0,
            committed: Vec::new(),
            answered: 0,
            clock,
            shown_at: Duration::ZERO,
            worked: Duration::ZERO,
        };
        s.load_page(None)?;
        Ok(s)
    }

    /// Image `id`'s record, for a screen showing an image other than the current one.
    pub fn image_by_id(&self, id: i64) -> Result<Option<ImageRow>> {
        self.store.image_by_id(id)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    pub fn annotator(&self) -> &str {
        &self.annotator
    }

    /// The label judged on every image.
    pub fn class(&self) -> &Class {
        &self.class
    }

    /// The filters besides the label (`original label n02085620 · sample 50`), empty if none.
    pub fn filters(&self) -> &str {
        &self.filters
    }

    /// The images of the current page, in queue order.
    pub fn page(&self) -> &[Cell] {
        &self.cells
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// (index of the current page, number of pages), both counted from the session's start.
    pub fn page_position(&self) -> (usize, usize) {
        let size = self.page_size.max(1);
        (self.offset / size, self.ids.len().div_ceil(size).max(1))
    }

    /// Images of the queue: (before the current page, in the whole queue).
    pub fn images_position(&self) -> (usize, usize) {
        (self.offset, self.ids.len())
    }

    /// Images of the saved pages left open with `x` (undone pages not counted): not done,
    /// they come back when the grid is opened again.
    pub fn left_open(&self) -> usize {
        self.committed
            .iter()
            .map(|c| c.marks.iter().filter(|&&m| m == Mark::Skip).count())
            .sum()
    }

    /// Images of the queue: (answered on the saved pages, in the whole queue).
    pub fn images_done(&self) -> (usize, usize) {
        (self.offset - self.left_open(), self.ids.len())
    }

    /// Images answered by this session's commits (undone pages not counted).
    pub fn answered(&self) -> u64 {
        self.answered
    }

    /// Answers per hour over the time spent on committed pages.
    pub fn per_hour(&self) -> Option<f64> {
        let secs = self.worked.as_secs_f64();
        (self.answered > 0 && secs > 0.0).then(|| self.answered as f64 * 3600.0 / secs)
    }

    /// No page is left: every image of the queue was committed.
    pub fn is_finished(&self) -> bool {
        self.cells.is_empty()
    }

    /// Pages this session can still undo.
    pub fn undo_depth(&self) -> usize {
        self.committed.len()
    }

    /// The ids of the page after this one, to load ahead.
    pub fn next_page_ids(&self) -> Vec<i64> {
        self.ids
            .iter()
            .skip(self.offset + self.cells.len())
            .take(self.page_size)
            .copied()
            .collect()
    }

    /// Sets how many images a page holds (what the screen fits). The page is rebuilt from its
    /// first image, keeping the marks of images still on it.
    pub fn set_page_size(&mut self, size: usize) -> Result<()> {
        let size = size.max(1);
        if size == self.page_size {
            return Ok(());
        }
        self.page_size = size;
        let marks: Vec<(i64, Mark)> = self.cells.iter().map(|c| (c.image.id, c.mark)).collect();
        self.load_page(Some(&marks))?;
        self.cursor = self.cursor.min(self.cells.len().saturating_sub(1));
        Ok(())
    }

    /// Moves the cursor by (`dx`, `dy`) on a page laid out in `columns` columns, clamped.
    pub fn move_cursor(&mut self, dx: isize, dy: isize, columns: usize) {
        if self.cells.is_empty() {
            return;
        }
        let columns = columns.max(1) as isize;
        let last = self.cells.len() as isize - 1;
        let at = self.cursor as isize;
        let to = if dy != 0 {
            let to = at + dy * columns;
            if (0..=last).contains(&to) { to } else { at }
        } else {
            (at + dx).clamp(0, last)
        };
        self.cursor = to as usize;
    }

    pub fn select(&mut self, index: usize) {
        if index < self.cells.len() {
            self.cursor = index;
        }
    }

    /// Toggles "contains" on the image under the cursor (a maybe or a skip becomes a yes).
    pub fn toggle(&mut self) {
        self.toggle_mark(Mark::Yes);
    }

    /// Sets `mark` on the image under the cursor, or clears it back to no when it is already set.
    pub fn toggle_mark(&mut self, mark: Mark) {
        if let Some(c) = self.cells.get_mut(self.cursor) {
            c.mark = if c.mark == mark { Mark::No } else { mark };
        }
    }

    /// Sets every image of the page to `mark` (all yes, or back to all no).
    pub fn mark_all(&mut self, mark: Mark) {
        for c in &mut self.cells {
            c.mark = mark;
        }
    }

    /// Commits the page: marked images answer yes, unmarked ones no, maybes maybe, skipped ones
    /// nothing. All of it is on disk before the next page comes up.
    pub fn commit_page(&mut self) -> Result<PageCommit> {
        if self.cells.is_empty() {
            return Err(Error::msg("no page left to commit: the queue is done"));
        }
        let answers: Vec<(String, String, Answer)> = self
            .cells
            .iter()
            .filter_map(|c| {
                c.mark
                    .answer()
                    .map(|a| (c.image.rec.key.clone(), self.class.key.clone(), a))
            })
            .collect();
        let now = self.clock.elapsed();
        let spent = now.saturating_sub(self.shown_at);
        // The page's time, shared by its answers, so answers per hour compare with the
        // one-question screen.
        let each = (!answers.is_empty()).then(|| spent.as_millis() as i64 / answers.len() as i64);
        let events =
            self.store
                .append_answers(&answers, &self.annotator, &self.session_id, each)?;
        let count = |m: Mark| self.cells.iter().filter(|c| c.mark == m).count();
        let mut done = PageCommit {
            yes: count(Mark::Yes),
            no: count(Mark::No),
            maybe: count(Mark::Maybe),
            skipped: count(Mark::Skip),
            finished: false,
        };
        self.answered += events.len() as u64;
        self.worked += spent.min(MAX_COUNTED_PER_ANSWER * answers.len().max(1) as u32);
        self.committed.push(Committed {
            offset: self.offset,
            marks: self.cells.iter().map(|c| c.mark).collect(),
            events,
        });
        self.offset += self.cells.len();
        self.load_page(None)?;
        self.cursor = 0;
        done.finished = self.cells.is_empty();
        Ok(done)
    }

    /// Takes back this session's last committed page (a retraction for each of its answers) and
    /// shows it again with the marks it had. `Ok(None)` when no page is left to undo; otherwise
    /// the number of answers taken back.
    pub fn undo_page(&mut self) -> Result<Option<usize>> {
        let Some(last) = self.committed.last().cloned() else {
            return Ok(None);
        };
        self.store
            .append_retractions(&last.events, &self.session_id)?;
        self.committed.pop();
        self.answered = self.answered.saturating_sub(last.events.len() as u64);
        self.offset = last.offset;
        // The page as it was committed, even if the page size has changed since.
        let ids: Vec<i64> = self.ids[last.offset..last.offset + last.marks.len()].to_vec();
        let marks: Vec<(i64, Mark)> = ids.into_iter().zip(last.marks).collect();
        let size = self.page_size;
        self.page_size = marks.len();
        let loaded = self.load_page(Some(&marks));
        self.page_size = size;
        loaded?;
        self.cursor = 0;
        Ok(Some(last.events.len()))
    }

    fn load_page(&mut self, marks: Option<&[(i64, Mark)]>) -> Result<()> {
        let mut cells = Vec::new();
        for &id in self.ids.iter().skip(self.offset).take(self.page_size) {
            let Some(image) = self.store.image_by_id(id)? else {
                continue;
            };
            let mark = marks
                .and_then(|m| m.iter().find(|(i, _)| *i == id))
                .map_or(Mark::No, |(_, m)| *m);
            cells.push(Cell { image, mark });
        }
        self.cells = cells;
        self.shown_at = self.clock.elapsed();
        Ok(())
    }
}
