//! Everything SQLite. A project is one file: vocabulary, images, predictions, candidates and every
//! answer ever given. This module opens, creates and migrates that file and is the only place
//! that writes SQL; the other modules call the typed functions of its submodules.
//!
//! Settings chosen for the annotator's safety: WAL (readers never block the writer), foreign keys
//! on, `synchronous = NORMAL` (in WAL mode a committed transaction survives the process being
//! killed; only a power cut can lose the last few), and a busy timeout so that two processes on
//! one file wait for each other instead of failing at once.

pub mod answer;
pub mod carried;
pub mod checkout;
mod classes;
pub mod classify;
pub mod events;
pub mod flags;
pub mod images;
pub mod judgments;
pub mod merge;
pub mod pack;
mod pack_read;
mod partial;
pub mod predictions;
pub mod quality;
pub mod queue;
pub mod reference;
pub mod schema;
mod tally;
pub mod untrusted;
pub mod wal;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

pub use answer::Answer;
pub use classify::{ClassifyAnswer, ClassifyCounts, ClassifyEvent, CurrentClassify};
pub use flags::{Flag, FlagKind};
pub use images::{ImageRecord, ImageRow, ImageStatus};
pub use judgments::{
    AnnotatorCounts, CurrentAnswer, CurrentAnswerTable, CurrentRow, JudgmentEvent, new_event_id,
    now_ms,
};
pub use partial::PartialFile;
pub use predictions::{Candidate, ModelInfo, PredictionSource};
pub use quality::{GoldEvent, VerdictEvent};
pub use queue::{QueueFilter, QueueImage};
pub use reference::ReferenceImage;

use crate::error::{Error, Result};
use crate::vocab::Vocab;
use schema::{APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION};

/// How long a writer waits for another process's lock before giving up with a clear message.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Inside [`Store::with_rollback_journal`] with the file to itself: no second connection
    /// may be opened (it would wait for this one's lock).
    exclusive: bool,
    /// The questions of the last queue selection made on this store
    /// ([`Store::select_queue`]), kept for the session's look-ups.
    selection: std::cell::RefCell<queue::Selection>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Meta {
    pub project_uuid: String,
    pub schema_version: i64,
    pub created_at: String,
    pub vocab_name: String,
    pub vocab_digest: String,
    /// Where the image files were when the project was made (absolute), if from a folder.
    pub image_root: Option<String>,
}

/// The page size of a new project file, in bytes: SQLite's default is 4096. A project's bulk
/// writes (a merge of a team's answers, imports) add hundreds of megabytes of rows and index
/// entries; with pages four times as large SQLite does a quarter of the per-page work (B-tree
/// descents, cell moves in balancing, calls to write, WAL frames). The sqlite3 shell writing
/// the million answers of 100 packs and building their indexes, through a rollback journal,
/// took 2.2-2.5 s with 4 KiB pages, 1.9-2.0 s with 16 KiB or 32 KiB and 2.2-2.4 s with 64 KiB
/// (BENCHMARKS.md, *Issue 18, twenty-second session*). The cost: a small commit (one answer)
/// writes each page it changes whole, four times the bytes, and the WAL grows to 16 MB between
/// checkpoints instead of 4 MB; the time from a key to the next frame did not change. A file
/// made earlier keeps its pages; `VACUUM` in rollback mode changes them (the README says how).
pub const PAGE_SIZE: i64 = 16 * 1024;

/// The page size of an annotator's file that carries its images (`checkout --with-images`):
/// SQLite's 4 KiB. An image is a BLOB spread over whole pages, and its last page is on average
/// half empty: with 16 KiB pages 1,000 ImageNet-sized photos took 76.7 MB instead of 74.2 MB.
/// Such a file is a merge's source, never the target of a team's bulk writes.
pub const BLOB_PAGE_SIZE: i64 = 4 * 1024;

impl Store {
    /// Creates a new project file holding `vocab`, with pages of [`PAGE_SIZE`]. Refuses to
    /// overwrite an existing file.
    pub fn create(path: &Path, vocab: &Vocab) -> Result<Store> {
        Store::create_with_pages(path, vocab, PAGE_SIZE)
    }

    /// [`Store::create`] with pages of `page_size` bytes ([`PAGE_SIZE`] or [`BLOB_PAGE_SIZE`]).
    pub(crate) fn create_with_pages(path: &Path, vocab: &Vocab, page_size: i64) -> Result<Store> {
        if path.exists() {
            return Err(Error::msg(format!(
                "{} already exists; choose another name or remove it first",
                path.display()
            )));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| Error::msg(format!("{}: cannot create: {e}", path.display())))?;
        // Before the first write, which fixes it for the file's life.
        conn.pragma_update(None, "page_size", page_size)?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            exclusive: false,
            selection: Default::default(),
        };
        store.configure()?;
        store
            .conn
            .pragma_update(None, "application_id", APPLICATION_ID)?;
        store.migrate_from(0)?;
        let tx = store.conn.transaction()?;
        let uuid = uuid::Uuid::now_v7().to_string();
        for (k, v) in [
            ("project_uuid", uuid.as_str()),
            ("created_at", &now_rfc3339()),
            ("vocab_name", &vocab.name),
            ("vocab_digest", &vocab.digest()),
            ("labelvet_version", env!("CARGO_PKG_VERSION")),
        ] {
            tx.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
                params![k, v],
            )?;
        }
        classes::insert_vocab(&tx, vocab)?;
        tx.commit()?;
        Ok(store)
    }

    /// Opens an existing project for reading and writing, migrating an older schema forward.
    pub fn open(path: &Path) -> Result<Store> {
        if !path.is_file() {
            return Err(Error::msg(format!(
                "{}: no such project file (make one with `labelvet init`)",
                path.display()
            )));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| Error::msg(format!("{}: cannot open: {e}", path.display())))?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            exclusive: false,
            selection: Default::default(),
        };
        let version = store.check_identity()?;
        store.configure().map_err(|e| locked_or(path, e))?;
        if version < SCHEMA_VERSION {
            store
                .migrate_from(version)
                .map_err(|e| locked_or(path, e))?;
        }
        Ok(store)
    }

    /// Another connection to this project's file, for a reader on a second thread (a connection
    /// is not shared between threads). `None` while this connection is inside a transaction:
    /// the other would not see what this one has written and not yet committed.
    pub fn second_reader(&self) -> Result<Option<Store>> {
        if !self.conn.is_autocommit() || self.exclusive {
            return Ok(None);
        }
        Store::open(&self.path).map(Some)
    }

    /// Reads the application id and schema version without touching anything else, so that a
    /// foreign file is refused before any of its content is trusted.
    fn check_identity(&self) -> Result<i64> {
        let not_project = |reason: String| Error::NotAProject {
            path: self.path.clone(),
            reason,
        };
        self.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| not_project(e.to_string()))?;
        let app_id: i32 = self
            .conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(|e| not_project(describe_open_error(&e)))?;
        if app_id == pack::PACK_APPLICATION_ID {
            return Err(not_project(
                "a pack of an annotator's answers; merge it into the project with `labelvet \
                 merge PROJECT FILE`"
                    .into(),
            ));
        }
        if app_id != APPLICATION_ID {
            return Err(not_project(
                "an SQLite database, but not one made by labelvet".into(),
            ));
        }
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(Error::NewerSchema {
                path: self.path.clone(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version < 1 {
            return Err(not_project("it has no labelvet schema".into()));
        }
        Ok(version)
    }

    fn configure(&self) -> Result<()> {
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = self
            .conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::msg(format!(
                "{}: cannot switch to WAL mode (got {mode}); is the file on a network drive?",
                self.path.display()
            )));
        }
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(())
    }

    fn migrate_from(&mut self, from: i64) -> Result<()> {
        let tx = self.conn.transaction()?;
        for sql in &MIGRATIONS[from as usize..] {
            tx.execute_batch(sql)?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?1)",
            params![SCHEMA_VERSION.to_string()],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// For the store's unit tests; SQL stays in the store, the rest of the program calls typed
    /// functions.
    #[cfg(test)]
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The raw connection, for integration tests only: they count rows, hold a lock or damage
    /// a file in ways no user can. Not part of the API.
    #[doc(hidden)]
    pub fn conn_for_tests(&self) -> &Connection {
        &self.conn
    }

    /// Runs `f` in one transaction: all of it lands, or none of it.
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| locked_or(&path, e))?;
        let out = f(&tx).map_err(|e| locked_or(&path, e))?;
        tx.commit().map_err(|e| locked_or(&path, e))?;
        Ok(out)
    }

    /// Runs `f` in one transaction, as [`Store::transaction`], with SQLite's foreign-key checks
    /// off: for bulk writes whose every reference the caller has checked itself, where a
    /// parent lookup per row costs more than the row's insert, and where clearing a table
    /// with references (`DELETE FROM t`) then happens at once instead of row by row. The checks
    /// are on again afterwards, whatever `f` returned. (SQLite ignores the setting inside a
    /// transaction, hence a method of its own.)
    pub fn transaction_without_foreign_keys<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        self.named(|| Ok(self.conn.pragma_update(None, "foreign_keys", "OFF")?))?;
        let out = self.transaction(f);
        let on = self.named(|| Ok(self.conn.pragma_update(None, "foreign_keys", "ON")?));
        let out = out?;
        on?;
        Ok(out)
    }

    /// Runs `f` with this file written through a rollback journal instead of the WAL, when
    /// this is the only connection to it; otherwise runs `f` as it is, in WAL mode.
    ///
    /// In WAL mode every page a transaction writes goes to the log and then, at the checkpoint,
    /// into the file a second time. A bulk write (ten models' predictions, a merge of a million
    /// answers) adds gigabytes of new pages. A rollback journal keeps only the old content of
    /// the pages a transaction changes; pages added past the end of the file are written once.
    ///
    /// The price is that nobody else can read the file while `f` runs, where WAL would let them
    /// read the state before the write. So the switch is made only when no other connection has
    /// the file open (SQLite refuses to leave WAL otherwise), and the file is then locked for
    /// this connection alone until `f` returns: another process waits up to the busy timeout
    /// and is told the file is locked, and cannot make this write fail halfway by holding a
    /// read lock. A process killed inside `f` leaves a hot journal, which SQLite rolls back at
    /// the next open, so the file is as it was before `f`'s transaction. `synchronous` is
    /// `FULL` meanwhile, as SQLite advises for rollback journals. Afterwards the file is in WAL
    /// mode again (or, if another process got in first, at its next `open`).
    ///
    /// `f` must not open another connection to the file; [`Store::second_reader`] gives `None`.
    pub fn with_rollback_journal<T>(
        &mut self,
        f: impl FnOnce(&mut Store) -> Result<T>,
    ) -> Result<T> {
        let switched = self.leave_wal()?;
        self.exclusive = switched;
        let out = f(self);
        if switched {
            self.exclusive = false;
            self.back_to_wal();
        }
        out
    }

    /// Whether this file's writes go through a rollback journal, with the file locked for this
    /// connection (see [`Store::with_rollback_journal`]).
    pub fn is_exclusive(&self) -> bool {
        self.exclusive
    }

    /// Switches to a rollback journal with an exclusive lock held, if no other connection has
    /// the file; `false` (still WAL, nothing held) if one does or this one is in a transaction.
    fn leave_wal(&self) -> Result<bool> {
        if !self.conn.is_autocommit() {
            return Ok(false);
        }
        // No waiting: another connection means the answer is WAL, not a pause of 10 s.
        self.named(|| Ok(self.conn.busy_timeout(Duration::ZERO)?))?;
        let mode = self
            .conn
            .pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get::<_, String>(0));
        let switched = match mode {
            Ok(m) => m.eq_ignore_ascii_case("delete"),
            Err(e) if is_busy(&e) => false,
            Err(e) => {
                self.conn.busy_timeout(BUSY_TIMEOUT)?;
                return Err(self.locked_or(e));
            }
        };
        // The lock is taken now, before anyone else opens the file in rollback mode and takes
        // a read lock that this write would have to wait for.
        let locked = switched
            && self
                .conn
                .execute_batch(
                    "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT; \
                     PRAGMA synchronous = FULL;",
                )
                .is_ok();
        self.named(|| Ok(self.conn.busy_timeout(BUSY_TIMEOUT)?))?;
        if switched && !locked {
            self.back_to_wal();
        }
        Ok(locked)
    }

    /// Back to WAL and normal locking. The write before is committed or rolled back already;
    /// a failure here (another process opened the file meanwhile and holds it) changes
    /// nothing that was written, and the next `open` sets WAL again.
    fn back_to_wal(&self) {
        let _ = self.conn.execute_batch(
            "PRAGMA locking_mode = NORMAL; PRAGMA synchronous = NORMAL; \
             PRAGMA journal_mode = WAL;",
        );
    }

    /// Lets a bulk import keep the pages it touches in memory. SQLite's default page cache is
    /// 2 MB; an import of a million rows into indexed tables then spills dirty pages to the WAL
    /// and reads them back, several times slower. The setting lasts as long as this `Store`.
    pub fn set_cache_mib(&self, mib: u32) -> Result<()> {
        self.named(|| {
            self.conn
                .pragma_update(None, "cache_size", -(i64::from(mib) * 1024))?;
            Ok(())
        })
    }

    /// Runs `f`, naming this file in any SQLite error it returns (and turning a lock held too
    /// long into [`Error::Locked`]). Every public method of the store that reads or writes runs
    /// its body through here, so that no SQLite error leaves the store without its file.
    fn named<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        f().map_err(|e| self.locked_or(e))
    }

    /// Turns SQLite's "database is locked" into [`Error::Locked`], and names this file in any
    /// other SQLite error.
    pub fn locked_or(&self, e: impl Into<Error>) -> Error {
        locked_or(&self.path, e)
    }

    pub fn meta(&self) -> Result<Meta> {
        self.named(|| {
            let get = |k: &str| -> Result<Option<String>> {
                Ok(self
                    .conn
                    .query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
                    .optional()?)
            };
            let need = |k: &str| -> Result<String> {
                get(k)?.ok_or_else(|| Error::NotAProject {
                    path: self.path.clone(),
                    reason: format!("meta has no {k}"),
                })
            };
            Ok(Meta {
                project_uuid: need("project_uuid")?,
                schema_version: need("schema_version")?.parse().unwrap_or(0),
                created_at: need("created_at")?,
                vocab_name: need("vocab_name")?,
                vocab_digest: need("vocab_digest")?,
                image_root: get("image_root")?,
            })
        })
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.named(|| set_meta_in(&self.conn, key, value))
    }

    /// The project's vocabulary, as stored in it.
    pub fn vocab(&self) -> Result<Vocab> {
        self.named(|| {
            let name = self.meta()?.vocab_name;
            classes::load_vocab(&self.conn, &name)
        })
    }
}

/// Sets a `meta` value inside a caller's transaction.
pub fn set_meta_in(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
        params![key, value],
    )?;
    Ok(())
}

/// SQLite's "database is busy" or "locked": another connection holds what this one asked for.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _) if matches!(
            f.code,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
        )
    )
}

fn locked_or(path: &Path, e: impl Into<Error>) -> Error {
    match e.into() {
        Error::Sqlite {
            error: rusqlite::Error::SqliteFailure(f, _),
            ..
        } if matches!(
            f.code,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
        ) =>
        {
            Error::Locked {
                path: path.to_path_buf(),
                waited: BUSY_TIMEOUT,
            }
        }
        e => e.in_file(path),
    }
}

fn describe_open_error(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => {
            "not an SQLite database".into()
        }
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseCorrupt => {
            "the SQLite file is damaged".into()
        }
        e => e.to_string(),
    }
}

/// A new project in a temporary folder whose vocabulary has one class per key, for the store's
/// unit tests.
#[cfg(test)]
pub(crate) fn test_store(keys: &[&str]) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("key,name\n");
    for k in keys {
        csv.push_str(&format!("{k},{}\n", k.to_uppercase()));
    }
    let v = Vocab::from_reader("t", Path::new("t"), csv.as_bytes()).unwrap();
    let s = Store::create(&dir.path().join("p.db"), &v).unwrap();
    (dir, s)
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_vocab() -> Vocab {
        Vocab::from_reader("t", Path::new("t.csv"), "key,name\na,A\nb,B\n".as_bytes()).unwrap()
    }

    #[test]
    fn create_then_open_keeps_meta_and_vocab() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.db");
        let v = tiny_vocab();
        let uuid = Store::create(&p, &v).unwrap().meta().unwrap().project_uuid;
        let s = Store::open(&p).unwrap();
        let m = s.meta().unwrap();
        assert_eq!(m.project_uuid, uuid);
        assert_eq!(m.schema_version, SCHEMA_VERSION);
        assert_eq!(m.vocab_digest, v.digest());
        assert_eq!(s.vocab().unwrap().digest(), v.digest());
        let mode: String = s
            .conn()
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = s
            .conn()
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        let page: i64 = s
            .conn()
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .unwrap();
        assert_eq!(page, PAGE_SIZE);
        assert!(Store::create(&p, &v).is_err(), "create must not overwrite");
    }

    #[test]
    fn foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.db");
        std::fs::write(&text, "hello, this is not a database at all........").unwrap();
        let err = Store::open(&text).err().unwrap().to_string();
        assert!(err.contains("not a labelvet project"), "{err}");
        assert!(err.contains("not an SQLite database"), "{err}");

        let other = dir.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t(x)")
            .unwrap();
        let err = Store::open(&other).err().unwrap().to_string();
        assert!(err.contains("not one made by labelvet"), "{err}");

        let missing = dir.path().join("missing.db");
        let err = Store::open(&missing).err().unwrap().to_string();
        assert!(err.contains("no such project file"), "{err}");
        assert!(!missing.exists(), "open must not create a file");
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.db");
        drop(Store::create(&p, &tiny_vocab()).unwrap());
        Connection::open(&p)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = Store::open(&p).err().unwrap();
        assert!(matches!(err, Error::NewerSchema { .. }), "{err}");
        assert!(err.to_string().contains("upgrade labelvet"));
    }

    /// A read that fails after the file opened (a damaged page, a table a crafted header
    /// promised) names the file, whichever method read it.
    #[test]
    fn read_failures_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.db");
        let s = Store::create(&p, &tiny_vocab()).unwrap();
        s.append_answer("img", "a", Answer::Yes, "ann", "s", None)
            .unwrap();
        let (page_size, root): (u64, u64) = (
            s.conn()
                .pragma_query_value(None, "page_size", |r| r.get(0))
                .unwrap(),
            s.conn()
                .query_row(
                    "SELECT rootpage FROM sqlite_schema WHERE name = 'judgments'",
                    [],
                    |r| r.get(0),
                )
                .unwrap(),
        );
        drop(s); // the last connection's close checkpoints the log into the file
        let mut bytes = std::fs::read(&p).unwrap();
        let at = ((root - 1) * page_size) as usize;
        bytes[at..at + page_size as usize].fill(0xA5);
        std::fs::write(&p, bytes).unwrap();
        let s = Store::open(&p).unwrap();
        let err = s.events().unwrap_err();
        assert!(
            matches!(&err, Error::Sqlite { path: Some(q), .. } if q == &p),
            "{err:?}"
        );
        assert!(
            err.to_string().starts_with(&format!("{}: ", p.display())),
            "{err}"
        );
        let err = s.current_answers().unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}: ", p.display())), "{err}");

        // A file that says it is a current labelvet project and holds no tables.
        let fake = dir.path().join("fake.db");
        let c = Connection::open(&fake).unwrap();
        c.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        c.pragma_update(None, "user_version", SCHEMA_VERSION)
            .unwrap();
        c.execute_batch("CREATE TABLE t(x)").unwrap();
        drop(c);
        let s = Store::open(&fake).unwrap();
        for err in [
            s.images().unwrap_err(),
            s.merge_log().unwrap_err(),
            s.flag_count().unwrap_err(),
        ] {
            let text = err.to_string();
            assert!(text.starts_with(&format!("{}: ", fake.display())), "{text}");
            assert!(text.contains("no such table"), "{text}");
        }
    }

    fn mode_of(c: &Connection) -> String {
        c.pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap()
    }

    fn count_t(c: &Connection) -> i64 {
        c.query_row(
            "SELECT count(*) FROM meta WHERE key LIKE 'bulk%'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    }

    /// Alone on the file: the write goes through a rollback journal, nobody else can read
    /// meanwhile, and afterwards the file is in WAL mode and open to others again.
    #[test]
    fn rollback_journal_when_alone_then_wal_again() {
        let (dir, mut s) = test_store(&["a"]);
        let p = dir.path().join("p.db");
        let seen = s
            .with_rollback_journal(|s| {
                assert!(s.is_exclusive());
                assert!(s.second_reader().unwrap().is_none());
                let mode = mode_of(&s.conn);
                s.transaction(|tx| {
                    for i in 0..1000 {
                        set_meta_in(tx, &format!("bulk{i}"), &"x".repeat(500))?;
                    }
                    // Spilled or not, another connection can take no lock at all.
                    let other = Connection::open(&p).unwrap();
                    other.busy_timeout(Duration::ZERO).unwrap();
                    let read =
                        other.query_row("SELECT count(*) FROM meta", [], |r| r.get::<_, i64>(0));
                    assert!(read.as_ref().is_err_and(is_busy), "{read:?}");
                    Ok(())
                })?;
                Ok(mode)
            })
            .unwrap();
        assert_eq!(seen, "delete");
        assert!(!s.is_exclusive());
        assert_eq!(mode_of(&s.conn), "wal");
        assert!(!dir.path().join("p.db-journal").exists());
        // Others read and write beside it again, as with any WAL file.
        let other = Store::open(&p).unwrap();
        assert_eq!(count_t(&other.conn), 1000);
        other.set_meta("after", "1").unwrap();
        assert_eq!(
            s.meta().unwrap().project_uuid,
            other.meta().unwrap().project_uuid
        );
        assert!(s.second_reader().unwrap().is_some());
    }

    /// Another connection open: nothing changes, the write goes through the WAL as always,
    /// and the other connection keeps reading.
    #[test]
    fn wal_kept_when_another_connection_has_the_file() {
        let (dir, mut s) = test_store(&["a"]);
        let other = Store::open(&dir.path().join("p.db")).unwrap();
        let started = std::time::Instant::now();
        s.with_rollback_journal(|s| {
            assert!(!s.is_exclusive());
            assert_eq!(mode_of(&s.conn), "wal");
            s.transaction(|tx| set_meta_in(tx, "bulk", "1"))
        })
        .unwrap();
        // The refusal comes at once, not after the busy timeout.
        assert!(started.elapsed() < BUSY_TIMEOUT / 2);
        assert_eq!(count_t(&other.conn), 1);
        assert_eq!(mode_of(&s.conn), "wal");
    }

    /// A failed write is rolled back and the file is back in WAL mode, with no journal left.
    #[test]
    fn failed_bulk_write_rolls_back_and_returns_to_wal() {
        let (dir, mut s) = test_store(&["a"]);
        let err = s
            .with_rollback_journal(|s| {
                s.transaction(|tx| {
                    set_meta_in(tx, "bulk", "1")?;
                    Err::<(), _>(Error::msg("stop"))
                })
            })
            .unwrap_err();
        assert_eq!(err.to_string(), "stop");
        assert_eq!(count_t(&s.conn), 0);
        assert_eq!(mode_of(&s.conn), "wal");
        assert!(!dir.path().join("p.db-journal").exists());
    }

    /// Inside a transaction the mode cannot change: the write stays in it, in WAL mode.
    #[test]
    fn no_switch_inside_a_transaction() {
        let (_dir, mut s) = test_store(&["a"]);
        s.conn.execute_batch("BEGIN").unwrap();
        s.with_rollback_journal(|s| {
            assert!(!s.is_exclusive());
            set_meta_in(&s.conn, "bulk", "1")
        })
        .unwrap();
        s.conn.execute_batch("ROLLBACK").unwrap();
        assert_eq!(count_t(&s.conn), 0);
        assert_eq!(mode_of(&s.conn), "wal");
    }
}
