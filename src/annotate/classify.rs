//! The classify task, the second pass of Tsipras et al. (2020): for an image whose valid label
//! set has two or more labels, which of them are there as separate objects, which one is the
//! main object, and how many objects the image shows.
//!
//! The queue comes from the results (the images whose label set at the report's threshold has
//! two or more labels, `analysis::classify`); this session walks it, holds the answer being put
//! together, and commits each answer as a classify event before moving on. Undo appends a
//! retraction, as for judgments. No terminal code here: tests drive it directly.

use std::time::Duration;

use super::progress::{Clock, MAX_COUNTED_PER_ANSWER, SystemClock};
use super::queue::{QueueOrder, QueueSpec};
use crate::analysis::classify::ClassifyItem;
use crate::error::{Error, Result};
use crate::store::{ClassifyEvent, ImageRow, QueueImage, Store, new_event_id};
use crate::vocab::{Class, Vocab};

/// Narrows a classify queue by the queue flags that make sense for it: `--class` and
/// `--subtree` keep the images with such a label in their valid set, `--original-label` the
/// images with that original label; `--sample`, `--seed` and `--order` work as for questions.
/// The answer filters (`--disputed`, `--uncertain`, `--needs`, `--until`) are about yes/no
/// questions and are refused.
pub fn select(
    items: Vec<ClassifyItem>,
    spec: &QueueSpec,
    vocab: &Vocab,
) -> Result<Vec<ClassifyItem>> {
    if spec.disputed || spec.uncertain.is_some() || spec.needs.is_some() || spec.until.is_some() {
        return Err(Error::msg(
            "--disputed, --uncertain, --needs and --until select yes/no questions; with --classify use \
             --class, --subtree, --original-label, --sample or --order",
        ));
    }
    if spec.order == QueueOrder::FewestAnswers {
        return Err(Error::msg(
            "--order fewest-answers orders yes/no questions; with --classify use file or random",
        ));
    }
    let filter = spec.filter(vocab)?;
    let items: Vec<ClassifyItem> = items
        .into_iter()
        .filter(|it| {
            filter
                .labels
                .as_ref()
                .is_none_or(|ls| it.labels.iter().any(|l| ls.contains(&l.key)))
                && filter
                    .original_labels
                    .as_ref()
                    .is_none_or(|os| it.original.as_ref().is_some_and(|o| os.contains(o)))
        })
        .collect();
    let images: Vec<QueueImage> = items
        .iter()
        .map(|it| QueueImage {
            id: it.image_id,
            key: it.image.clone(),
            questions: 1,
            answers: 0,
        })
        .collect();
    let order: Vec<i64> = spec
        .ordered(spec.sampled(images))
        .into_iter()
        .map(|im| im.id)
        .collect();
    let mut by_id: std::collections::HashMap<i64, ClassifyItem> =
        items.into_iter().map(|it| (it.image_id, it)).collect();
    Ok(order
        .into_iter()
        .filter_map(|id| by_id.remove(&id))
        .collect())
}

/// One valid label of the current image and what the annotator says of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    pub key: String,
    pub name: String,
    /// There as a separate object.
    pub present: bool,
}

/// The current image and the answer being put together for it.
#[derive(Clone, Debug)]
pub struct ClassifyImage {
    pub image: ImageRow,
    pub choices: Vec<Choice>,
    /// Index in `choices` of the main object.
    pub main: Option<usize>,
    /// The number of objects when set by the annotator; otherwise the labels present.
    pub objects: Option<u32>,
    /// The annotator's standing answer for this image, if any.
    pub saved: Option<ClassifyEvent>,
}

impl ClassifyImage {
    pub fn key(&self) -> &str {
        &self.image.rec.key
    }

    pub fn present_count(&self) -> u32 {
        self.choices.iter().filter(|c| c.present).count() as u32
    }

    /// The number of objects the answer will record.
    pub fn objects(&self) -> u32 {
        self.objects.unwrap_or_else(|| self.present_count().max(1))
    }
}

pub struct ClassifySession {
    store: Store,
    vocab: Vocab,
    annotator: String,
    session_id: String,
    /// How the queue was chosen (`frequency ≥ 0.5`), for the header.
    describe: String,
    items: Vec<ClassifyItem>,
    pos: usize,
    current: Option<ClassifyImage>,
    cursor: usize,
    /// This session's answers not undone yet, oldest first.
    undo: Vec<ClassifyEvent>,
    answered: usize,
    session_answers: u64,
    clock: Box<dyn Clock>,
    shown_at: Duration,
    worked: Duration,
}

impl ClassifySession {
    /// Opens the queue `items` at the first image the annotator has not answered.
    pub fn open(
        store: Store,
        annotator: &str,
        items: Vec<ClassifyItem>,
        describe: &str,
    ) -> Result<ClassifySession> {
        Self::open_with_clock(
            store,
            annotator,
            items,
            describe,
            Box::new(SystemClock::new()),
        )
    }

    pub fn open_with_clock(
        store: Store,
        annotator: &str,
        items: Vec<ClassifyItem>,
        describe: &str,
        clock: Box<dyn Clock>,
    ) -> Result<ClassifySession> {
        let annotator = annotator.trim().to_string();
        if annotator.is_empty() {
            return Err(Error::msg(
                "the annotator name is empty; pass --annotator NAME",
            ));
        }
        let vocab = store.vocab()?;
        let answered = items.iter().filter(|i| i.answered).count();
        let first = items.iter().position(|i| !i.answered).unwrap_or(0);
        let mut s = ClassifySession {
            store,
            vocab,
            annotator,
            session_id: new_event_id(),
            describe: describe.to_string(),
            items,
            pos: first,
            current: None,
            cursor: 0,
            undo: Vec::new(),
            answered,
            session_answers: 0,
            clock,
            shown_at: Duration::ZERO,
            worked: Duration::ZERO,
        };
        s.load()?;
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

    pub fn describe(&self) -> &str {
        &self.describe
    }

    pub fn image(&self) -> Option<&ClassifyImage> {
        self.current.as_ref()
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// The class under the cursor.
    pub fn current_class(&self) -> Option<&Class> {
        let c = self.current.as_ref()?.choices.get(self.cursor)?;
        self.vocab.get(&c.key)
    }

    /// (index of the current image, images in the queue).
    pub fn position(&self) -> (usize, usize) {
        (self.pos, self.items.len())
    }

    /// (images with a standing answer of this annotator, images in the queue).
    pub fn progress(&self) -> (usize, usize) {
        (self.answered, self.items.len())
    }

    pub fn session_answers(&self) -> u64 {
        self.session_answers
    }

    /// Answers per hour over the time spent on answered images.
    pub fn per_hour(&self) -> Option<f64> {
        let secs = self.worked.as_secs_f64();
        (self.session_answers > 0 && secs > 0.0)
            .then(|| self.session_answers as f64 * 3600.0 / secs)
    }

    pub fn is_finished(&self) -> bool {
        self.answered == self.items.len()
    }

    pub fn undo_depth(&self) -> usize {
        self.undo.len()
    }

    /// Ids of the next `n` images, to load ahead.
    pub fn upcoming(&self, n: usize) -> Vec<i64> {
        self.items
            .iter()
            .skip(self.pos + 1)
            .take(n)
            .map(|i| i.image_id)
            .collect()
    }

    pub fn select(&mut self, index: usize) {
        if let Some(cur) = &self.current
            && index < cur.choices.len()
        {
            self.cursor = index;
        }
    }

    pub fn next_choice(&mut self) {
        self.select(self.cursor + 1);
    }

    pub fn prev_choice(&mut self) {
        self.select(self.cursor.saturating_sub(1));
    }

    /// Toggles "there as a separate object" on the label under the cursor. A label that stops
    /// being present stops being the main object.
    pub fn toggle_present(&mut self) {
        let cursor = self.cursor;
        if let Some(cur) = self.current.as_mut()
            && let Some(c) = cur.choices.get_mut(cursor)
        {
            c.present = !c.present;
            if !c.present && cur.main == Some(cursor) {
                cur.main = None;
            }
        }
    }

    /// Makes the label under the cursor the main object (and so present).
    pub fn set_main(&mut self) {
        let cursor = self.cursor;
        if let Some(cur) = self.current.as_mut()
            && let Some(c) = cur.choices.get_mut(cursor)
        {
            c.present = true;
            cur.main = Some(cursor);
        }
    }

    /// Changes the number of objects by `by` (at least 1). Until changed it follows the number
    /// of labels present.
    pub fn adjust_objects(&mut self, by: i32) {
        if let Some(cur) = self.current.as_mut() {
            let n = cur.objects().saturating_add_signed(by).max(1);
            cur.objects = Some(n);
        }
    }

    /// Lets the number of objects follow the labels present again.
    pub fn reset_objects(&mut self) {
        if let Some(cur) = self.current.as_mut() {
            cur.objects = None;
        }
    }

    /// Commits the answer on the current image, then moves to the next image without one.
    /// Refused, with nothing written, when no main object is chosen. Returns the event and
    /// whether the queue is now done.
    pub fn save(&mut self) -> Result<(ClassifyEvent, bool)> {
        let Some(cur) = self.current.as_ref() else {
            return Err(Error::msg("no image to classify"));
        };
        let Some(main) = cur.main else {
            return Err(Error::msg(
                "choose the main object first (the label under the cursor: m)",
            ));
        };
        let present: Vec<String> = cur
            .choices
            .iter()
            .filter(|c| c.present)
            .map(|c| c.key.clone())
            .collect();
        let spent = self.clock.elapsed().saturating_sub(self.shown_at);
        let event = self.store.append_classify(
            cur.key(),
            &self.annotator,
            &self.session_id,
            &present,
            &cur.choices[main].key,
            cur.objects(),
            Some(spent.as_millis() as i64),
        )?;
        // Committed: only now does the state move.
        if !self.items[self.pos].answered {
            self.items[self.pos].answered = true;
            self.answered += 1;
        }
        self.session_answers += 1;
        self.worked += spent.min(MAX_COUNTED_PER_ANSWER);
        self.undo.push(event.clone());
        let done = self.is_finished();
        let next = (self.pos + 1..self.items.len())
            .chain(0..self.pos)
            .find(|&i| !self.items[i].answered);
        match next {
            Some(i) => self.go(i)?,
            None => self.load()?,
        }
        Ok((event, done))
    }

    /// Takes back this session's latest answer not undone yet (a retraction is appended) and
    /// returns to that image with the answer on screen, to be changed. `Ok(None)` when there is
    /// nothing left to undo.
    pub fn undo(&mut self) -> Result<Option<ClassifyEvent>> {
        let Some(last) = self.undo.last().cloned() else {
            return Ok(None);
        };
        let Some(pos) = self.items.iter().position(|i| i.image == last.image) else {
            return Err(Error::msg(format!(
                "image {} is no longer in the classify queue",
                last.image
            )));
        };
        // Retract exactly the event this session made, even if it is no longer the latest.
        let current = self.store.current_classify(&last.image, &self.annotator)?;
        if current.as_ref().map(|e| e.id.as_str()) == Some(last.id.as_str()) {
            self.store
                .retract_classify(&last.image, &self.annotator, &self.session_id)?;
        }
        self.undo.pop();
        self.session_answers = self.session_answers.saturating_sub(1);
        self.go(pos)?;
        let still = self.current.as_ref().is_some_and(|c| c.saved.is_some());
        if !still && self.items[pos].answered {
            self.items[pos].answered = false;
            self.answered -= 1;
        }
        // Show the undone answer, ready to be changed and saved again.
        if let (Some(cur), Some(a)) = (self.current.as_mut(), last.answer.as_ref()) {
            apply(cur, a);
        }
        Ok(Some(last))
    }

    /// The next image in the queue, whatever its state. `Ok(false)` at the last.
    pub fn next_image(&mut self) -> Result<bool> {
        if self.pos + 1 >= self.items.len() {
            return Ok(false);
        }
        self.go(self.pos + 1)?;
        Ok(true)
    }

    pub fn prev_image(&mut self) -> Result<bool> {
        if self.pos == 0 || self.items.is_empty() {
            return Ok(false);
        }
        self.go(self.pos - 1)?;
        Ok(true)
    }

    fn go(&mut self, pos: usize) -> Result<()> {
        self.pos = pos;
        self.load()
    }

    fn load(&mut self) -> Result<()> {
        self.cursor = 0;
        self.shown_at = self.clock.elapsed();
        let Some(item) = self.items.get(self.pos) else {
            self.current = None;
            return Ok(());
        };
        let image = self.store.image_by_id(item.image_id)?.ok_or_else(|| {
            Error::msg(format!("image {} is no longer in the project", item.image))
        })?;
        let saved = self.store.current_classify(&item.image, &self.annotator)?;
        // Every valid label starts as present: the annotator takes away the ones that are not
        // separate objects (a suit and the groom wearing it).
        let mut cur = ClassifyImage {
            image,
            choices: item
                .labels
                .iter()
                .map(|l| Choice {
                    key: l.key.clone(),
                    name: l.name.clone(),
                    present: true,
                })
                .collect(),
            main: None,
            objects: None,
            saved: saved.clone(),
        };
        if let Some(a) = saved.as_ref().and_then(|e| e.answer.as_ref()) {
            apply(&mut cur, a);
        }
        self.current = Some(cur);
        Ok(())
    }
}

/// Puts a recorded answer on screen.
fn apply(cur: &mut ClassifyImage, a: &crate::store::ClassifyAnswer) {
    for c in &mut cur.choices {
        c.present = a.present.contains(&c.key);
    }
    cur.main = cur.choices.iter().position(|c| c.key == a.main);
    cur.objects = (a.objects != cur.present_count().max(1)).then_some(a.objects);
}
