//! The sources, opened on helper threads while the merge goes on.
//!
//! Opening a source (`SourceFile::open`: its integrity, its schema, a pack's rows read and
//! checked) costs about as much as merging it, so the two overlap: helper threads open the
//! sources in the order given, and the merge takes each as it comes. What a user sees stays as
//! when every source was opened and checked before the target was touched; `merge_files` sees
//! to that (the first source that fails to open or its checks is the one refused, whatever the
//! merge of a source before it did, and no source is announced as merged before every source
//! has passed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Condvar, Mutex};

use super::FileId;
use crate::error::Result;
use crate::store::untrusted::{SourceFile, refused};

/// What the helpers share.
#[derive(Default)]
pub(super) struct Shared {
    /// The next source a helper will open.
    next: AtomicUsize,
    /// Which sources the helpers may open now, and whether the merge is done with them.
    gate: Mutex<Gate>,
    /// Signalled when `gate` changes.
    moved: Condvar,
    /// Sources opened so far (or found not to open).
    #[cfg(test)]
    opened: AtomicUsize,
}

/// What bounds the helpers: an opened pack holds its rows and every opened source a connection
/// with its page cache, so only a few sources past the one being merged are opened ahead.
#[derive(Default)]
struct Gate {
    /// Sources before this index may be opened.
    limit: usize,
    /// Set when the merge is done with the sources, one way or another.
    stop: bool,
}

impl Shared {
    fn gate(&self) -> std::sync::MutexGuard<'_, Gate> {
        // A helper that panics holds no lock (it panics outside of it): the gate is sound.
        self.gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until source `i` may be opened; false when the merge is done with the sources.
    fn wait_for(&self, i: usize) -> bool {
        let mut gate = self.gate();
        while !gate.stop && i >= gate.limit {
            gate = self.moved.wait(gate).unwrap_or_else(|e| e.into_inner());
        }
        !gate.stop
    }

    fn stop(&self) {
        self.gate().stop = true;
        self.moved.notify_all();
    }
}

/// Ends the other helpers when one panics, so that the merge, waiting for the source that
/// helper took, sees every helper gone (and panics too) instead of waiting for ever.
struct StopOnPanic<'a>(&'a Shared);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.stop();
        }
    }
}

/// The merge's side: the sources in order, as they are opened.
pub(super) struct Sources<'a> {
    shared: &'a Shared,
    rx: Receiver<(usize, Result<SourceFile>)>,
    /// How many sources past those merged may be opened (or be opening) at once.
    ahead: usize,
    /// Opened sources not yet taken.
    opened: BTreeMap<usize, Result<SourceFile>>,
    paths: &'a [PathBuf],
}

impl<'a> Sources<'a> {
    /// Starts the helpers in `scope`; they open `paths` in order, refusing the target's own
    /// file (`target`).
    pub(super) fn start<'scope>(
        scope: &'scope std::thread::Scope<'scope, '_>,
        shared: &'a Shared,
        paths: &'a [PathBuf],
        target: &'a FileId,
    ) -> Sources<'a>
    where
        'a: 'scope,
    {
        let (tx, rx) = channel();
        let helpers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, paths.len().max(1));
        // Each helper may have one source open and waiting while it opens the next.
        let ahead = 2 * helpers;
        shared.gate().limit = ahead;
        for _ in 0..helpers {
            let tx = tx.clone();
            scope.spawn(move || open_in_turn(shared, paths, target, tx));
        }
        Sources {
            shared,
            rx,
            ahead,
            opened: BTreeMap::new(),
            paths,
        }
    }

    /// How many sources there are.
    pub(super) fn len(&self) -> usize {
        self.paths.len()
    }

    /// Lets the helpers open the sources after the first `merged` up to the read-ahead, or
    /// every source when `all` (once the merge stopped, every source is still opened and
    /// checked, each dropped as soon as it is). Called before each `take`, so the source waited
    /// for is always one the helpers may open.
    pub(super) fn allow(&self, merged: usize, all: bool) {
        let limit = if all {
            self.paths.len()
        } else {
            merged + self.ahead
        };
        let mut gate = self.shared.gate();
        if limit > gate.limit {
            gate.limit = limit;
            drop(gate);
            self.shared.moved.notify_all();
        }
    }

    /// Source `i`, opened (or why it could not be), waiting for it when `wait` (else `None`
    /// while it is not open yet).
    pub(super) fn take(&mut self, i: usize, wait: bool) -> Option<(&'a Path, Result<SourceFile>)> {
        loop {
            if let Some(r) = self.opened.remove(&i) {
                return Some((&self.paths[i], r));
            }
            let (j, r) = if wait {
                self.rx.recv().map_err(|_| TryRecvError::Disconnected)
            } else {
                self.rx.try_recv()
            }
            .map_or_else(
                |e| match e {
                    TryRecvError::Empty => None,
                    // Every helper ended without sending it: one panicked.
                    TryRecvError::Disconnected => panic!("a merge helper opening sources stopped"),
                },
                Some,
            )?;
            self.opened.insert(j, r);
        }
    }
}

impl Drop for Sources<'_> {
    fn drop(&mut self) {
        self.shared.stop();
    }
}

/// A helper: opens the next source not yet taken by another, until none is left or the merge
/// is done.
fn open_in_turn(
    shared: &Shared,
    paths: &[PathBuf],
    target: &FileId,
    tx: Sender<(usize, Result<SourceFile>)>,
) {
    let _guard = StopOnPanic(shared);
    loop {
        let i = shared.next.fetch_add(1, Ordering::SeqCst);
        let Some(path) = paths.get(i) else {
            return;
        };
        if !shared.wait_for(i) {
            return;
        }
        let opened = if FileId::of(path).is_ok_and(|id| id == *target) {
            Err(refused(path, "it is the target file itself"))
        } else {
            SourceFile::open(path)
        };
        #[cfg(test)]
        shared.opened.fetch_add(1, Ordering::SeqCst);
        if tx.send((i, opened)).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// Waits up to a few seconds for the helpers to have opened `n` sources.
    fn opened(shared: &Shared, n: usize) -> usize {
        let end = Instant::now() + Duration::from_secs(5);
        while shared.opened.load(Ordering::SeqCst) < n && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(50));
        shared.opened.load(Ordering::SeqCst)
    }

    /// Only a few sources past those merged are opened, however fast they open: an opened pack
    /// holds its rows. Once the merge stops, every source is opened (to be checked) and nothing
    /// waits.
    #[test]
    fn the_helpers_open_only_a_few_sources_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.db");
        std::fs::write(&target, b"t").unwrap();
        let target = FileId::of(&target).unwrap();
        // Files that are not SQLite: each fails to open at once.
        let paths: Vec<PathBuf> = (0..40)
            .map(|i| {
                let p = dir.path().join(format!("s{i}.db"));
                std::fs::write(&p, b"not a database, not a pack").unwrap();
                p
            })
            .collect();
        let shared = Shared::default();
        std::thread::scope(|scope| {
            let mut files = Sources::start(scope, &shared, &paths, &target);
            let ahead = files.ahead;
            assert!(ahead < paths.len());
            assert_eq!(opened(&shared, ahead + 1), ahead);
            files.allow(0, false);
            assert!(files.take(0, true).unwrap().1.is_err());
            // One merged: one more may be opened.
            files.allow(1, false);
            assert_eq!(opened(&shared, ahead + 2), ahead + 1);
            // The merge stopped: every source is opened and checked, in order.
            files.allow(1, true);
            for i in 1..paths.len() {
                assert!(files.take(i, true).unwrap().1.is_err());
            }
            assert_eq!(shared.opened.load(Ordering::SeqCst), paths.len());
        });
    }

    /// Dropping the sources (the merge returned, whatever it returned) ends the helpers
    /// waiting for their turn: the scope ends.
    #[test]
    fn the_helpers_end_when_the_merge_is_done_with_the_sources() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.db");
        std::fs::write(&target, b"t").unwrap();
        let target = FileId::of(&target).unwrap();
        let paths: Vec<PathBuf> = (0..40).map(|_| dir.path().join("target.db")).collect();
        let shared = Shared::default();
        std::thread::scope(|scope| {
            let mut files = Sources::start(scope, &shared, &paths, &target);
            let (_, first) = files.take(0, true).unwrap();
            assert!(format!("{}", first.err().unwrap()).contains("target file itself"));
        });
        assert!(shared.opened.load(Ordering::SeqCst) < paths.len());
    }
}
