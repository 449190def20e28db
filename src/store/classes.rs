//! The vocabulary as stored in a project, so that a project file carries the meaning of its
//! labels with it and needs nothing else to be annotated or merged.

use rusqlite::{Connection, params};

use crate::error::Result;
use crate::vocab::{Class, PATH_SEP, Vocab};

pub(super) fn insert_vocab(conn: &Connection, vocab: &Vocab) -> Result<()> {
    let mut stmt = conn.prepare(
        "INSERT INTO classes(key, idx, name, synonyms, definition, parent, path, guideline)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for c in vocab.classes() {
        stmt.execute(params![
            c.key,
            c.index,
            c.name,
            c.synonyms.join("; "),
            c.definition,
            c.parent,
            c.path.join(PATH_SEP),
            c.guideline
        ])?;
    }
    Ok(())
}

pub(super) fn load_vocab(conn: &Connection, name: &str) -> Result<Vocab> {
    // Row order is index order where there is one, so the vocabulary reads back as it was made.
    let mut stmt = conn.prepare(
        "SELECT key, idx, name, synonyms, definition, parent, path, guideline
         FROM classes ORDER BY idx IS NULL, idx, key",
    )?;
    let classes = stmt
        .query_map([], class_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Vocab::from_classes(name, classes)
}

/// A class from a row of `key, idx, name, synonyms, definition, parent, path, guideline`.
fn class_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Class> {
    let synonyms: String = r.get(3)?;
    let path: String = r.get(6)?;
    Ok(Class {
        key: r.get(0)?,
        index: r.get(1)?,
        name: r.get(2)?,
        synonyms: synonyms
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        definition: r.get(4)?,
        parent: r.get(5)?,
        path: path
            .split(PATH_SEP)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        guideline: r.get(7)?,
    })
}

impl super::Store {
    /// One class of the project's vocabulary, without loading the rest (`show` names a few).
    pub fn class(&self, key: &str) -> Result<Option<Class>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .query_row(
                "SELECT key, idx, name, synonyms, definition, parent, path, guideline
                 FROM classes WHERE key = ?1",
                [key],
                class_from_row,
            )
            .optional()?)
    }

    /// Whether `key` is a class of the project's vocabulary.
    pub(crate) fn is_class(&self, key: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM classes WHERE key = ?1")?
            .exists([key])?)
    }

    /// How many classes the project's vocabulary holds, without loading it.
    pub fn class_count(&self) -> Result<usize> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM classes", [], |r| r.get(0))?)
    }
}
