//! A new project file is made under a temporary name and moved into place only once complete, so
//! that a failure (bad input, a full disk, Ctrl-C) never leaves a half-made project under the
//! name the user asked for.
//!
//! The temporary database lives in a private folder (mode 0700) beside the final name: on the
//! same file system, so the final move is an atomic rename, and with its `-wal`, `-shm` and
//! `-journal` files inside it, so that dropping the folder removes every trace at once.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub struct PartialFile {
    /// Held for its `Drop`, which removes the folder and whatever is left in it.
    _dir: tempfile::TempDir,
    file: PathBuf,
    target: PathBuf,
}

impl PartialFile {
    /// A place for a database that will become `target`.
    pub fn beside(target: &Path) -> Result<PartialFile> {
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "project.db".into());
        let dir = private_dir(&format!(".{name}.partial-"), parent)?;
        let file = dir.path().join(&name);
        Ok(PartialFile {
            _dir: dir,
            file,
            target: target.to_path_buf(),
        })
    }

    /// Where to make the database. Close every connection to it before [`PartialFile::finish`].
    pub fn path(&self) -> &Path {
        &self.file
    }

    /// Moves the finished database to its final name, unless something appeared under that
    /// name meanwhile; the private folder goes with `self`. The file is synced before the move
    /// and its folder after, so the new name survives a crash (where folders can be synced).
    pub fn finish(self) -> Result<()> {
        std::fs::File::open(&self.file)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(&self.file, e))?;
        if self.target.exists() {
            return Err(Error::msg(format!(
                "{} appeared while it was being made; left it alone",
                self.target.display()
            )));
        }
        std::fs::rename(&self.file, &self.target).map_err(|e| Error::io(&self.target, e))?;
        if let Some(dir) = self.target.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// A new folder only this user can enter (0700; tempfile's default follows the umask, often
/// 0755), named `prefix` and random letters, inside `parent`; removed when dropped.
pub(crate) fn private_dir(prefix: &str, parent: &Path) -> Result<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    builder.tempdir_in(parent).map_err(|e| Error::io(parent, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_leaves_nothing_and_finished_leaves_only_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("p.db");
        let partial = PartialFile::beside(&target).unwrap();
        std::fs::write(partial.path(), b"x").unwrap();
        std::fs::write(dir.path().join("other"), b"y").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let folder = partial.path().parent().unwrap();
            let mode = std::fs::metadata(folder).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "the temporary folder is private");
        }
        drop(partial);
        let names = |d: &Path| -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(names(dir.path()), ["other"]);

        let partial = PartialFile::beside(&target).unwrap();
        std::fs::write(partial.path(), b"done").unwrap();
        std::fs::write(format!("{}-wal", partial.path().display()), b"w").unwrap();
        partial.finish().unwrap();
        assert_eq!(names(dir.path()), ["other", "p.db"]);
        assert_eq!(std::fs::read(&target).unwrap(), b"done");
    }
}
