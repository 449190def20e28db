//! One error type for the library, so that every failure the binary reports names the file,
//! line or image it came from instead of a bare SQLite or I/O message.
//!
//! A variant wrapping an I/O or SQLite error shows that error in its own message, so it does not
//! also hand it out as `source()`: the binary prints the whole chain (`{:#}`), which would say the
//! cause twice. Callers that need the cause match the variant's `error` field.
//!
//! Every message quotes text from files (keys, names, paths, lines), so each variant shows its
//! text through [`crate::text::display`]: a control character in a file reaches the terminal as
//! a visible escape, never as a command.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::text::{display, display_path as shown};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: not a labelvet project ({})", shown(path), display(reason))]
    NotAProject { path: PathBuf, reason: String },

    #[error(
        "{}: schema version {found} is newer than this labelvet understands (up to {supported}); \
         upgrade labelvet to open it",
        shown(path)
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    /// Bad outside input at a known place: `file:line: message`.
    #[error("{}:{line}: {}", shown(file), display(msg))]
    Input {
        file: PathBuf,
        line: u64,
        msg: String,
    },

    #[error("{}: {}", shown(path), display(&error.to_string()))]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },

    /// The project file stayed locked by another process (another labelvet writing to it)
    /// past the busy timeout. Nothing was written; the same command may succeed later.
    #[error(
        "{}: still locked by another process after {} s; close the other labelvet using this \
         file and try again",
        shown(path),
        waited.as_secs()
    )]
    Locked { path: PathBuf, waited: Duration },

    /// A file offered to `merge` was refused (damaged, foreign, altered, another project...)
    /// before anything in it reached the target, which is left as it was.
    #[error("{}: refused: {}", shown(path), display(reason))]
    MergeRefused { path: PathBuf, reason: String },

    /// An SQLite error, with the file it happened on. `path` is `None` only until the store
    /// function that knows the file passes the error on (see [`Error::in_file`]).
    #[error("{}{}", path.as_ref().map(|p| format!("{}: ", shown(p))).unwrap_or_default(), display(&error.to_string()))]
    Sqlite {
        path: Option<PathBuf>,
        error: rusqlite::Error,
    },

    #[error("{}", display(.0))]
    Msg(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: &Path, error: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            error,
        }
    }

    pub fn input(file: &Path, line: u64, msg: impl Into<String>) -> Self {
        Error::Input {
            file: file.to_path_buf(),
            line,
            msg: msg.into(),
        }
    }

    pub fn msg(msg: impl Into<String>) -> Self {
        Error::Msg(msg.into())
    }

    /// Names `path` as the file of an SQLite error that names none yet.
    pub fn in_file(self, path: &Path) -> Self {
        match self {
            Error::Sqlite { path: None, error } => Error::Sqlite {
                path: Some(path.to_path_buf()),
                error,
            },
            e => e,
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(error: rusqlite::Error) -> Self {
        Error::Sqlite { path: None, error }
    }
}
