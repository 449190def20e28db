//! How far the annotator is and how fast they go.
//!
//! The pace counts only the time spent on answers, each capped, so that a coffee break does not
//! make the estimate of the time left jump; the clock is injectable so that tests can state
//! exact rates.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Time spent on one answer beyond this counts as a pause, not as work.
pub const MAX_COUNTED_PER_ANSWER: Duration = Duration::from_secs(60);

/// Time since the session started.
pub trait Clock: Send {
    fn elapsed(&self) -> Duration;
}

/// The wall clock.
pub struct SystemClock(Instant);

impl SystemClock {
    pub fn new() -> Self {
        SystemClock(Instant::now())
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

/// A clock that moves only when told to; clones share the same time.
#[derive(Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn elapsed(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::SeqCst))
    }
}

/// A snapshot of the annotator's progress over the project's questions.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    /// Questions (image, candidate) the annotator has a standing answer to.
    pub answered: u64,
    /// Questions in the queue: every candidate of every image.
    pub total: u64,
    /// Answers given in this session (undone ones taken back out).
    pub session_answers: u64,
    /// Answers per hour of work in this session, once there is one.
    pub per_hour: Option<f64>,
    /// The time the open questions would take at that pace.
    pub time_left: Option<Duration>,
}

impl Progress {
    pub fn open(&self) -> u64 {
        self.total.saturating_sub(self.answered)
    }

    pub fn fraction(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            (self.answered as f64 / self.total as f64).clamp(0.0, 1.0)
        }
    }
}

/// Running counts behind [`Progress`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Tally {
    pub answered: u64,
    pub total: u64,
    pub session_answers: u64,
    pub worked: Duration,
}

impl Tally {
    pub fn progress(&self) -> Progress {
        let hours = self.worked.as_secs_f64() / 3600.0;
        let per_hour =
            (self.session_answers > 0 && hours > 0.0).then(|| self.session_answers as f64 / hours);
        let open = self.total.saturating_sub(self.answered);
        let time_left = per_hour.map(|r| Duration::from_secs_f64(open as f64 / r * 3600.0));
        Progress {
            answered: self.answered,
            total: self.total,
            session_answers: self.session_answers,
            per_hour,
            time_left,
        }
    }
}
