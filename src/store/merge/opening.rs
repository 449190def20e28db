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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};

use super::FileId;
use crate::error::Result;
use crate::store::untrusted::{SourceFile, refused};

/// What the helpers share.
#[derive(Default)]
pub(super) struct Shared {
    /// The next source a helper will open.
    next: AtomicUsize,
    /// Set when the merge is done with the sources, one way or another.
    stop: AtomicBool,
}

/// The merge's side: the sources in order, as they are opened.
pub(super) struct Sources<'a> {
    shared: &'a Shared,
    rx: Receiver<(usize, Result<SourceFile>)>,
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
        for _ in 0..helpers {
            let tx = tx.clone();
            scope.spawn(move || open_in_turn(shared, paths, target, tx));
        }
        Sources {
            shared,
            rx,
            opened: BTreeMap::new(),
            paths,
        }
    }

    /// How many sources there are.
    pub(super) fn len(&self) -> usize {
        self.paths.len()
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
        self.shared.stop.store(true, Ordering::SeqCst);
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
    while !shared.stop.load(Ordering::SeqCst) {
        let i = shared.next.fetch_add(1, Ordering::SeqCst);
        let Some(path) = paths.get(i) else {
            return;
        };
        let opened = if FileId::of(path).is_ok_and(|id| id == *target) {
            Err(refused(path, "it is the target file itself"))
        } else {
            SourceFile::open(path)
        };
        if tx.send((i, opened)).is_err() {
            return;
        }
    }
}
