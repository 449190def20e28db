//! One error type for the library, so that every failure the binary reports names the file,
//! line or image it came from instead of a bare SQLite or I/O message.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: not a labelvet project ({reason})", path.display())]
    NotAProject { path: PathBuf, reason: String },

    #[error(
        "{}: schema version {found} is newer than this labelvet understands (up to {supported}); \
         upgrade labelvet to open it",
        path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    /// Bad outside input at a known place: `file:line: message`.
    #[error("{}:{line}: {msg}", file.display())]
    Input {
        file: PathBuf,
        line: u64,
        msg: String,
    },

    /// The I/O error is part of the message, not a separate cause: a cause would print its
    /// words a second time after them (`{:#}` prints the chain).
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },

    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),

    #[error("{0}")]
    Msg(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            error: source,
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
}
