//! Answers made elsewhere (another tool, a crowd platform, a published study such as
//! ImageNet-ReaL) brought into a project as judgment events, so that they are aggregated,
//! merged and exported exactly like answers given in labelvet.
//!
//! Three layouts, optionally gzipped:
//! - CSV `image,label,annotator,answer[,time]`; `rater` is accepted for `annotator` and
//!   `wnid`/`label_index` for `label` (the layout of ReaL's `raters.csv.gz`); extra columns are
//!   ignored.
//! - JSON lines with the same fields.
//! - Prodigy-style JSON lines: `answer` is accept / reject / ignore (read as yes / no / maybe), the
//!   image is `image`, `meta.image` or `path`, the annotator `_annotator_id` or `_session_id`,
//!   the time `_timestamp` (seconds).
//!
//! Labels are class keys or class indices; answers yes / no / maybe; times integer milliseconds
//! since the Unix epoch or RFC 3339 in UTC.
//!
//! **Stable ids.** An imported answer's event id is a UUIDv8 made from the SHA-256 of
//! (image, class key, annotator, answer, time in ms or nothing, and how many times that same
//! tuple occurred earlier in the file). Neither the file's name nor the line number enters it, so
//! the same answers imported again, from a renamed copy or from a file split in two, get the same
//! ids and add nothing. Its first 32 bits are instead the start of the SHA-256 of the image key
//! alone, the way a UUIDv7 starts with the time: an image's answers then have neighbouring ids,
//! so inserting in id order also fills the (image, label, annotator) index image by image, which
//! makes a million-row import about a fifth cheaper; the other 90 bits still come from the
//! whole answer. An answer without a time is dated at the epoch plus k ms, k counting the
//! annotator's earlier untimed answers to the same question in the file: older than any answer
//! given in labelvet, and within a file the later line wins, as it would have in the source.
//!
//! The whole file is read and checked before anything is written, and written in one
//! transaction: a bad line (unknown class, image not in the project, bad answer, malformed line)
//! names the file and line and leaves the project as it was.

use std::io::BufRead;
use std::path::Path;
use std::sync::mpsc;

// Looked up for every line (the interned strings) and every answer (the stable ids' count of
// repeats): hashbrown's default hasher costs less than SipHash, and the keys are not chosen
// by an adversary who could profit from collisions beyond a slower import.
use hashbrown::HashMap;

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::table::{self, Format, IMAGE_COLS, LABEL_COLS};
use crate::error::{Error, Result};
use crate::store::events::with_indexes_rebuilt;
use crate::store::judgments::JUDGMENTS;
use crate::store::predictions::add_candidates;
use crate::store::{
    Answer, GoldEvent, JudgmentEvent, Store, VerdictEvent, judgments::insert_events,
};
use crate::vocab::Vocab;

#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum JudgmentFormat {
    Csv,
    Jsonl,
    Prodigy,
}

impl JudgmentFormat {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[derive(Clone, Debug, Default)]
pub struct JudgmentImportOptions {
    /// The layout; found from the content when `None`.
    pub format: Option<JudgmentFormat>,
    /// The annotator of rows that name none.
    pub annotator: Option<String>,
    /// Which kind of event the answers become.
    pub into: ImportInto,
}

/// What imported answers are: annotators' judgments, or experts' gold answers
/// (`labelvet gold import`, see `store::quality`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ImportInto {
    #[default]
    Judgments,
    /// Gold answers: two lines of one expert on one question must agree (a repeat is read
    /// once), and their ids come from another domain than judgments'.
    Gold,
    /// Experts' verdicts (`labelvet verdicts import`), under the same rules as gold answers.
    Verdicts,
}

#[derive(Clone, Debug, PartialEq)]
pub struct JudgmentImport {
    pub format: JudgmentFormat,
    /// Answers read from the file.
    pub rows: u64,
    /// Events new to the project.
    pub added: u64,
    /// Answers the project already held (same stable id).
    pub already: u64,
    pub annotators: usize,
    pub images: usize,
    /// Distinct (image, label) questions answered in the file.
    pub questions: usize,
}

/// Column and field names accepted for the annotator, in order of preference.
const ANNOTATOR_COLS: &[&str] = &[
    "annotator",
    "rater",
    "annotator_id",
    "_annotator_id",
    "user",
    "worker",
    "expert",
];
const TIME_COLS: &[&str] = &["time", "timestamp", "created_at"];

/// One answer as read, with strings interned to small ids: 32 bytes, so that five million
/// answers take 160 MB.
#[derive(Clone, Copy)]
struct Row {
    /// The time the line gives, in ms (0 when `timed` is false).
    time: i64,
    image: u32,
    label: u32,
    annotator: u32,
    /// Index into [`Reader::given`] when the line carries its event's own id, else [`NOT_GIVEN`].
    given: u32,
    /// The row's place in the file (lines read in order).
    seq: u32,
    answer: Answer,
    timed: bool,
}

const NOT_GIVEN: u32 = u32::MAX;

impl Row {
    fn time(&self) -> Option<i64> {
        self.timed.then_some(self.time)
    }

    fn given(&self) -> Option<u32> {
        (self.given != NOT_GIVEN).then_some(self.given)
    }
}

/// An answer exported by labelvet (`export --format prodigy`) carries its event's id, session,
/// origin and time: importing it makes that same event again, so a re-import adds nothing and a
/// later merge with the exporting project finds the same content under the same id.
struct GivenEvent {
    id: uuid::Uuid,
    session: Option<String>,
    origin: Option<String>,
    elapsed_ms: Option<i64>,
}

/// Strings to dense ids, so that a million rows hold a few thousand strings.
#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(s.to_string());
        self.ids.insert(s.to_string(), id);
        id
    }
}

/// Everything a line is checked against, and what the lines read so far hold.
struct Reader<'a> {
    file: &'a Path,
    vocab: &'a Vocab,
    /// The project's row id of an image key, if it holds one (asked once per key the file
    /// names).
    image_id: &'a dyn Fn(&str) -> Result<Option<i64>>,
    fallback_annotator: Option<&'a str>,
    /// The project's annotator names and the file's so far.
    names: crate::text::NameSet,
    /// Spelling in the file (key or index) to class key id.
    labels: HashMap<String, u32>,
    images: Interner,
    /// The project's row id of each interned image.
    image_ids: Vec<i64>,
    classes: Interner,
    annotators: Interner,
    rows: Vec<Row>,
    given: Vec<GivenEvent>,
    /// Each row's line, kept where an error after the reading names lines (gold answers and
    /// verdicts: two lines that disagree).
    lines: Option<Vec<u64>>,
}

impl<'a> Reader<'a> {
    /// Whether the key names a project image: one the file named before, or one the project
    /// holds.
    fn is_image(&self, key: &str) -> Result<bool> {
        Ok(self.images.ids.contains_key(key) || (self.image_id)(key)?.is_some())
    }

    fn image(&mut self, line: u64, key: &str) -> Result<u32> {
        if key.is_empty() {
            return Err(Error::input(self.file, line, "empty image name"));
        }
        if let Some(&id) = self.images.ids.get(key) {
            return Ok(id);
        }
        let Some(row_id) = (self.image_id)(key)? else {
            return Err(Error::input(
                self.file,
                line,
                format!("image {key} is not in the project"),
            ));
        };
        self.image_ids.push(row_id);
        Ok(self.images.id(key))
    }

    fn label(&mut self, line: u64, label: &str) -> Result<u32> {
        if let Some(&id) = self.labels.get(label) {
            return Ok(id);
        }
        let key = &self
            .vocab
            .resolve(label)
            .ok_or_else(|| Error::input(self.file, line, format!("unknown class `{label}`")))?
            .key;
        let id = self.classes.id(key);
        self.labels.insert(label.to_string(), id);
        Ok(id)
    }

    fn annotator(&mut self, line: u64, given: Option<&str>) -> Result<u32> {
        match given.filter(|a| !a.is_empty()).or(self.fallback_annotator) {
            Some(a) => {
                if let Some(&id) = self.annotators.ids.get(a) {
                    return Ok(id);
                }
                // Stored in NFC, and never a look-alike of a name the project or file has.
                let name = crate::text::nfc(a);
                crate::text::check_field("annotator", &name)
                    .and_then(|()| self.names.admit(&name))
                    .map_err(|why| Error::input(self.file, line, why))?;
                let id = self.annotators.id(&name);
                self.annotators.ids.insert(a.to_string(), id);
                Ok(id)
            }
            None => Err(Error::input(
                self.file,
                line,
                "no annotator; give one per row or name it with --annotator",
            )),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        line: u64,
        image: &str,
        label: &str,
        annotator: Option<&str>,
        answer: Answer,
        time: Option<i64>,
        given: Option<GivenEvent>,
    ) -> Result<()> {
        let row = Row {
            time: time.unwrap_or(0),
            image: self.image(line, image)?,
            label: self.label(line, label)?,
            annotator: self.annotator(line, annotator)?,
            given: match given {
                Some(g) => {
                    self.given.push(g);
                    self.given.len() as u32 - 1
                }
                None => NOT_GIVEN,
            },
            seq: u32::try_from(self.rows.len())
                .map_err(|_| Error::input(self.file, line, "more than 4 billion answers"))?,
            answer,
            timed: time.is_some(),
        };
        self.rows.push(row);
        if let Some(lines) = &mut self.lines {
            lines.push(line);
        }
        Ok(())
    }
}

/// Imports one file of answers into the project (see the module docs).
pub fn import_judgments(
    store: &mut Store,
    file: &Path,
    opts: &JudgmentImportOptions,
) -> Result<JudgmentImport> {
    let vocab = store.vocab()?;
    let (reader, detected) = table::open_detect(file)?;
    let format = match (opts.format, detected) {
        (Some(JudgmentFormat::Csv), Format::Jsonl) => {
            return Err(Error::input(
                file,
                1,
                "starts with `{`: JSON lines, not CSV (use --format jsonl or prodigy)",
            ));
        }
        (_, Format::Binary) => {
            return Err(Error::msg(format!(
                "{}: not an answers file labelvet reads; the formats read are CSV, JSON lines \
                 and Prodigy JSON lines (optionally gzipped)",
                file.display()
            )));
        }
        (Some(f), _) => f,
        (None, Format::Csv) => JudgmentFormat::Csv,
        (None, Format::Jsonl) => JudgmentFormat::Jsonl,
    };
    // Image keys are looked up in the project as the file names them, once each, rather than
    // every key of the project held in memory (1.28 M of them in an ImageNet-train project).
    let image_id = |key: &str| store.image_id(key);
    let mut r = Reader {
        file,
        vocab: &vocab,
        image_id: &image_id,
        fallback_annotator: opts.annotator.as_deref(),
        names: crate::text::NameSet::new(store.annotator_names()?.iter().map(String::as_str)),
        labels: HashMap::new(),
        images: Interner::default(),
        image_ids: Vec::new(),
        classes: Interner::default(),
        annotators: Interner::default(),
        rows: Vec::new(),
        given: Vec::new(),
        lines: (opts.into != ImportInto::Judgments).then(Vec::new),
    };
    let format = match format {
        JudgmentFormat::Csv => {
            read_csv(&mut r, reader)?;
            format
        }
        JudgmentFormat::Jsonl | JudgmentFormat::Prodigy => read_jsonl(&mut r, reader, opts.format)?,
    };
    if opts.into != ImportInto::Judgments {
        one_answer_per_question(&mut r)?;
    }
    let Reader {
        images,
        image_ids,
        classes,
        annotators,
        mut rows,
        given,
        ..
    } = r;
    let read = Parsed {
        images: images.names,
        classes: classes.names,
        annotators: annotators.names,
        given,
    };
    let n_rows = rows.len() as u64;
    // The first 32 bits of each image's ids (see [`stable_id`]), hashed once per image.
    let prefix: Vec<u32> = read.images.iter().map(|k| id_prefix(k)).collect();
    in_question_order(&mut rows, &prefix);
    // The (image, label) questions the file answers, by image row id and class key: the
    // candidates' primary-key order, in which they are made candidates.
    let mut asked: Vec<(i64, u32)> = rows
        .chunk_by(|a, b| (a.image, a.label) == (b.image, b.label))
        .map(|run| (image_ids[run[0].image as usize], run[0].label))
        .collect();
    asked.sort_unstable_by(|a, b| {
        (a.0, &read.classes[a.1 as usize]).cmp(&(b.0, &read.classes[b.1 as usize]))
    });
    let questions = asked.len();
    let origin = format!("import:{}", file_name(file));
    let added = match opts.into {
        ImportInto::Judgments => {
            // Many answers into few: the judgments' indexes are dropped and built again from
            // sorted rows at the end, which costs less than inserting each answer into them at
            // a random place, and needs only a small page cache. The sorter's runs are as
            // large as the cache, and with one helper thread sorting runs while the main one
            // reads the table, ReaL's two index builds took 5.9 -> 4.4 s at 8 MiB (32 MiB
            // alone: 5.9 s; 8 MiB alone: 5.1 s). Few answers into many: the indexes stay, and
            // the cache holds the pages the inserts touch (about 400 bytes of table and index
            // pages per answer, within 64 MiB .. 1 GiB).
            let rebuild = n_rows > store.judgment_count()?;
            let cache_mib = if rebuild {
                8
            } else {
                (rows.len() * 400 / (1 << 20)).clamp(64, 1024) as u32
            };
            store.set_cache_mib(cache_mib)?;
            // The candidates' references are checked here (project images, vocabulary
            // classes), and SQLite's own check costs a look-up per row.
            let write = |store: &mut Store| {
                store.transaction_without_foreign_keys(|tx| {
                    let added = with_indexes_rebuilt(tx, &JUDGMENTS, rebuild, 1, || {
                        let added = insert_made_alongside(tx, &rows, &read, &prefix, &origin)?;
                        // Written: their memory is given back before the indexes are built.
                        drop(rows);
                        Ok(added)
                    })?;
                    // Answers only add candidates: the questions asked here, beside those
                    // there already, rather than every candidate of the project written again.
                    add_candidates(tx, questions_asked(&asked, &read))?;
                    Ok(added)
                })
            };
            // Many answers are mostly new pages, written once through a rollback journal.
            if rebuild {
                store.with_rollback_journal(write)?
            } else {
                write(store)?
            }
        }
        ImportInto::Gold => {
            let gold: Vec<GoldEvent> = stable_keys(&rows, &read, &prefix, opts.into)
                .map(|k| GoldEvent(event(&read, &k, &origin)))
                .collect();
            store
                .insert_with_questions(&gold, &questions_asked(&asked, &read).collect::<Vec<_>>())?
        }
        ImportInto::Verdicts => {
            let verdicts: Vec<VerdictEvent> = stable_keys(&rows, &read, &prefix, opts.into)
                .map(|k| VerdictEvent(event(&read, &k, &origin)))
                .collect();
            store.insert_with_questions(
                &verdicts,
                &questions_asked(&asked, &read).collect::<Vec<_>>(),
            )?
        }
    };
    Ok(JudgmentImport {
        format,
        rows: n_rows,
        added,
        already: n_rows - added,
        annotators: read.annotators.len(),
        images: read.images.len(),
        questions,
    })
}

/// The file's questions as (image row id, class key), in the order of `asked`.
fn questions_asked<'r>(
    asked: &'r [(i64, u32)],
    read: &'r Parsed,
) -> impl ExactSizeIterator<Item = (i64, &'r str)> + 'r {
    asked
        .iter()
        .map(|&(image, label)| (image, read.classes[label as usize].as_str()))
}

/// What the reading gave, once the lines are read: the interned names and the given events.
struct Parsed {
    images: Vec<String>,
    classes: Vec<String>,
    annotators: Vec<String>,
    given: Vec<GivenEvent>,
}

/// Gold answers and verdicts: an expert has one answer to a question. Lines repeating it are
/// read once; a line that contradicts an earlier one is refused, naming both lines.
fn one_answer_per_question(r: &mut Reader<'_>) -> Result<()> {
    let lines = r
        .lines
        .as_ref()
        .expect("kept for gold answers and verdicts");
    let mut order: Vec<u32> = (0..r.rows.len() as u32).collect();
    order.sort_unstable_by_key(|&i| {
        let x = &r.rows[i as usize];
        (x.image, x.label, x.annotator, x.seq)
    });
    let mut keep = vec![true; r.rows.len()];
    for pair in order.windows(2) {
        let (a, b) = (&r.rows[pair[0] as usize], &r.rows[pair[1] as usize]);
        if (a.image, a.label, a.annotator) != (b.image, b.label, b.annotator) {
            continue;
        }
        if a.answer != b.answer {
            return Err(Error::input(
                r.file,
                lines[pair[1] as usize],
                format!(
                    "{} answers `{}` to image {} and label {} here but `{}` on line {}; \
                     a gold or verdicts file gives each expert one answer per question",
                    r.annotators.names[b.annotator as usize],
                    b.answer.as_str(),
                    r.images.names[b.image as usize],
                    r.classes.names[b.label as usize],
                    a.answer.as_str(),
                    lines[pair[0] as usize]
                ),
            ));
        }
        keep[pair[1] as usize] = false;
    }
    let mut i = 0;
    r.rows.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    Ok(())
}

fn file_name(file: &Path) -> String {
    file.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.display().to_string())
}

/// Events are built and inserted this many at a time, so memory holds the compact rows plus a
/// few chunks of full events.
const CHUNK: usize = 4096;

/// Inserts the rows' judgment events (rows sorted by [`in_question_order`]), made CHUNK at a
/// time on a second thread while this one inserts the previous chunk: their ids' hashes and
/// strings were a third of the inserting thread's time on ReaL's answers. Each chunk goes back
/// to the making thread once written, to be emptied there: strings freed on the thread that
/// allocated them do not contend for the allocator's other arena. Returns how many were new.
fn insert_made_alongside(
    tx: &rusqlite::Transaction<'_>,
    rows: &[Row],
    read: &Parsed,
    prefix: &[u32],
    origin: &str,
) -> Result<u64> {
    let (made, to_write) = mpsc::sync_channel::<Vec<JudgmentEvent>>(2);
    let (written, to_reuse) = mpsc::channel::<Vec<JudgmentEvent>>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut keyed = stable_keys(rows, read, prefix, ImportInto::Judgments);
            loop {
                let mut events = to_reuse
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
                events.clear();
                events.extend(keyed.by_ref().take(CHUNK).map(|k| event(read, &k, origin)));
                // An empty chunk: all made. A send refused: the writer stopped on an error.
                if events.is_empty() || made.send(events).is_err() {
                    break;
                }
            }
        });
        // Ends by dropping `to_write` and `written`, which stops the maker, error or not.
        without_check_constraints(tx, || {
            let mut added = 0;
            for events in to_write {
                added += insert_events(tx, &events)?;
                let _ = written.send(events);
            }
            Ok(added)
        })
    })
}

/// Runs `f` with the tables' `CHECK` constraints not evaluated, for inserts whose every value
/// meets them by construction: an imported answer's `answer` comes from [`Answer`] and it
/// retracts nothing, which is all the judgments' checks ask. Evaluating them took a third of
/// SQLite's time inserting ReaL's answers (in the `sqlite3` shell, 3.0-3.6 s -> 2.1-2.2 s).
/// Turning the setting on or off expires every prepared statement, so none made meanwhile
/// runs unchecked afterwards.
fn without_check_constraints<T>(
    conn: &rusqlite::Connection,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    conn.pragma_update(None, "ignore_check_constraints", true)?;
    let out = f();
    let checked = conn.pragma_update(None, "ignore_check_constraints", false);
    let out = out?;
    checked?;
    Ok(out)
}

/// The stable id of an imported answer: see the module docs. The text fields are separated by
/// NUL, which none of them can hold, and the time and occurrence follow as fixed-width integers,
/// so different tuples cannot run together into the same bytes. Bytes 0..4 are the image's own
/// hash, for locality.
pub fn stable_event_id(
    image: &str,
    label_key: &str,
    annotator: &str,
    answer: Answer,
    time_ms: Option<i64>,
    occurrence: u32,
) -> uuid::Uuid {
    stable_id(
        b"labelvet judgment v1\0",
        None,
        image,
        label_key,
        annotator,
        answer,
        time_ms,
        occurrence,
    )
}

/// [`stable_event_id`] within a domain, so that a gold answer and a judgment of the same
/// content have different ids; `prefix` is the image's [`id_prefix`] when already known.
#[allow(clippy::too_many_arguments)]
fn stable_id(
    domain: &[u8],
    prefix: Option<u32>,
    image: &str,
    label_key: &str,
    annotator: &str,
    answer: Answer,
    time_ms: Option<i64>,
    occurrence: u32,
) -> uuid::Uuid {
    let mut h = Sha256::new();
    h.update(domain);
    for part in [image, label_key, annotator, answer.as_str()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.update([u8::from(time_ms.is_some())]);
    h.update(time_ms.unwrap_or(0).to_le_bytes());
    h.update(occurrence.to_le_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[..4].copy_from_slice(&prefix.unwrap_or_else(|| id_prefix(image)).to_be_bytes());
    uuid::Uuid::new_v8(bytes)
}

/// A row's stable id and its time in the store.
struct Keyed {
    id: uuid::Uuid,
    row: Row,
    created_at: i64,
}

/// Sorts the rows in place by (their image's id prefix, as `prefix` gives it by image, image,
/// label, annotator, line). One order
/// serves twice: a question's answers by one annotator come together in line order, as the
/// stable ids count them (see [`stable_keys`]); and an image's answers come together, in the
/// order of their ids' first 32 bits, so that the inserts walk the table's primary key image
/// by image.
fn in_question_order(rows: &mut [Row], prefix: &[u32]) {
    rows.sort_unstable_by_key(|x| {
        (
            prefix[x.image as usize],
            x.image,
            x.label,
            x.annotator,
            x.seq,
        )
    });
}

/// The first 32 bits of the stable ids of an image's answers (see [`stable_id`]).
fn id_prefix(image: &str) -> u32 {
    let h = Sha256::digest(image.as_bytes());
    u32::from_be_bytes([h[0], h[1], h[2], h[3]])
}

/// Every row's stable id and time, in the rows' order (sorted by [`in_question_order`]):
/// within a question and annotator, the earlier rows with the same (answer, time) give the
/// occurrence in the id, and the earlier untimed rows the time of an untimed one.
fn stable_keys<'r>(
    rows: &'r [Row],
    read: &'r Parsed,
    prefix: &'r [u32],
    into: ImportInto,
) -> impl Iterator<Item = Keyed> + 'r {
    let domain: &'static [u8] = match into {
        ImportInto::Judgments => b"labelvet judgment v1\0",
        ImportInto::Gold => b"labelvet gold v1\0",
        ImportInto::Verdicts => b"labelvet verdict v1\0",
    };
    // Earlier rows of the group per (answer, time): a count looked up, not a scan of the group,
    // so that a file repeating one line 300,000 times imports in linear time.
    let mut seen: HashMap<(Answer, Option<i64>), u32> = HashMap::new();
    let mut untimed = 0i64;
    let mut group = None;
    rows.iter().map(move |x| {
        if group != Some((x.image, x.label, x.annotator)) {
            group = Some((x.image, x.label, x.annotator));
            seen.clear();
            untimed = 0;
        }
        let seen_before = seen.entry((x.answer, x.time())).or_insert(0);
        let occurrence = *seen_before;
        *seen_before += 1;
        let created_at = match x.time() {
            Some(t) => t,
            None => {
                untimed += 1;
                untimed - 1
            }
        };
        // A gold answer's id is always its own: an id given on the line is a judgment's.
        let given = x.given().filter(|_| into == ImportInto::Judgments);
        let id = match given {
            Some(g) => read.given[g as usize].id,
            None => stable_id(
                domain,
                Some(prefix[x.image as usize]),
                &read.images[x.image as usize],
                &read.classes[x.label as usize],
                &read.annotators[x.annotator as usize],
                x.answer,
                x.time(),
                occurrence,
            ),
        };
        Keyed {
            id,
            row: *x,
            created_at,
        }
    })
}

fn event(read: &Parsed, k: &Keyed, origin: &str) -> JudgmentEvent {
    let x = &k.row;
    let given = x.given().map(|g| &read.given[g as usize]);
    JudgmentEvent {
        id: k.id.to_string(),
        image: read.images[x.image as usize].clone(),
        label: read.classes[x.label as usize].clone(),
        answer: Some(x.answer),
        retracts: None,
        annotator: read.annotators[x.annotator as usize].clone(),
        session: given
            .and_then(|g| g.session.clone())
            .unwrap_or_else(|| origin.to_string()),
        created_at: k.created_at,
        elapsed_ms: given.and_then(|g| g.elapsed_ms),
        origin: given
            .and_then(|g| g.origin.clone())
            .unwrap_or_else(|| origin.to_string()),
    }
}

/// A time as integer milliseconds since the epoch or RFC 3339 (UTC).
pub(crate) fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    let t = humantime::parse_rfc3339_weak(s).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}

fn read_csv(r: &mut Reader<'_>, reader: Box<dyn BufRead + Send>) -> Result<()> {
    let file = r.file;
    let mut rdr = table::csv_reader_untrimmed_fields(reader);
    let headers = rdr
        .headers()
        .map_err(|e| Error::input(file, 1, e.to_string()))?
        .clone();
    let img = table::need_col(file, &headers, IMAGE_COLS, "image")?;
    let lab = table::need_col(file, &headers, LABEL_COLS, "label")?;
    let ans = table::need_col(file, &headers, &["answer"], "answer")?;
    let ann = table::find_col(&headers, ANNOTATOR_COLS);
    if ann.is_none() && r.fallback_annotator.is_none() {
        return Err(Error::input(
            file,
            1,
            format!(
                "no annotator column (expected one of: {}); name the annotator with --annotator",
                ANNOTATOR_COLS.join(", ")
            ),
        ));
    }
    let time_col = table::find_col(&headers, TIME_COLS);
    table::for_each_csv_record(rdr, file, |line, rec| {
        let field = |c: usize| rec.get(c).unwrap_or("");
        let answer_text = field(ans);
        let answer = Answer::parse(answer_text).ok_or_else(|| {
            Error::input(
                file,
                line,
                format!("answer `{answer_text}` is not yes, no or maybe"),
            )
        })?;
        let time = match time_col.map(field).unwrap_or("") {
            "" => None,
            t => Some(parse_time(t).ok_or_else(|| {
                Error::input(
                    file,
                    line,
                    format!("time `{t}` is neither milliseconds since 1970 nor RFC 3339"),
                )
            })?),
        };
        r.push(
            line,
            field(img),
            field(lab),
            ann.map(field),
            answer,
            time,
            None,
        )
    })
}

#[derive(Deserialize, Default)]
struct JsonMeta {
    image: Option<Value>,
    /// Written by `labelvet export --format prodigy`, with the event's origin and time spent.
    event_id: Option<String>,
    origin: Option<String>,
    elapsed_ms: Option<i64>,
}

/// One JSON line: our own fields and Prodigy's, all optional so that each missing one is
/// reported by name.
#[derive(Deserialize)]
struct JsonAnswer {
    image: Option<Value>,
    path: Option<Value>,
    meta: Option<JsonMeta>,
    label: Option<Value>,
    wnid: Option<Value>,
    label_index: Option<Value>,
    annotator: Option<Value>,
    rater: Option<Value>,
    #[serde(rename = "_annotator_id")]
    annotator_id: Option<Value>,
    #[serde(rename = "_session_id")]
    session_id: Option<Value>,
    answer: Option<String>,
    time: Option<Value>,
    #[serde(rename = "_timestamp")]
    timestamp: Option<Value>,
    event_id: Option<String>,
}

/// A JSON string or number as text; `None` for anything else.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn prodigy_answer(s: &str) -> Option<Answer> {
    match s.trim().to_ascii_lowercase().as_str() {
        "accept" => Some(Answer::Yes),
        "reject" => Some(Answer::No),
        "ignore" => Some(Answer::Maybe),
        _ => None,
    }
}

/// Reads JSON lines. With no format given, the first answer decides: accept / reject / ignore
/// means Prodigy, yes / no / maybe plain JSON lines.
fn read_jsonl(
    r: &mut Reader<'_>,
    reader: Box<dyn BufRead + Send>,
    format: Option<JudgmentFormat>,
) -> Result<JudgmentFormat> {
    let file = r.file;
    let mut format = format;
    for record in table::json_lines(reader, file, "an answer record") {
        let (n, a): (u64, JsonAnswer) = record?;
        let answer_text = a
            .answer
            .as_deref()
            .ok_or_else(|| Error::input(file, n, "no `answer` field"))?;
        let fmt = *format.get_or_insert(if prodigy_answer(answer_text).is_some() {
            JudgmentFormat::Prodigy
        } else {
            JudgmentFormat::Jsonl
        });
        let answer = match fmt {
            JudgmentFormat::Prodigy => prodigy_answer(answer_text).ok_or_else(|| {
                Error::input(
                    file,
                    n,
                    format!("answer `{answer_text}` is not accept, reject or ignore"),
                )
            })?,
            _ => Answer::parse(answer_text).ok_or_else(|| {
                Error::input(
                    file,
                    n,
                    format!("answer `{answer_text}` is not yes, no or maybe"),
                )
            })?,
        };
        // The first of image / meta.image / path that is a project image; else the first given,
        // so that the error names what the line said.
        let names: Vec<String> = [
            a.image.as_ref(),
            a.meta.as_ref().and_then(|m| m.image.as_ref()),
            a.path.as_ref(),
        ]
        .into_iter()
        .flatten()
        .filter_map(text)
        .collect();
        let image = names
            .iter()
            .map(|k| Ok((k, r.is_image(k)?)))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .find(|(_, known)| *known)
            .map(|(k, _)| k)
            .or(names.first())
            .cloned()
            .ok_or_else(|| Error::input(file, n, "no `image` field"))?;
        let label = [a.label.as_ref(), a.wnid.as_ref(), a.label_index.as_ref()]
            .into_iter()
            .flatten()
            .find_map(text)
            .ok_or_else(|| Error::input(file, n, "no `label` field"))?;
        let annotator = [
            a.annotator.as_ref(),
            a.rater.as_ref(),
            a.annotator_id.as_ref(),
            a.session_id.as_ref(),
        ]
        .into_iter()
        .flatten()
        .find_map(text);
        let time = match (&a.time, &a.timestamp) {
            (Some(t), _) => {
                let s = text(t).unwrap_or_default();
                Some(parse_time(&s).ok_or_else(|| {
                    Error::input(
                        file,
                        n,
                        format!("time {t} is neither milliseconds since 1970 nor RFC 3339"),
                    )
                })?)
            }
            (None, Some(t)) => Some(
                t.as_f64()
                    .filter(|s| s.is_finite())
                    .map(|s| (s * 1000.0).round() as i64)
                    .ok_or_else(|| {
                        Error::input(file, n, format!("_timestamp {t} is not seconds since 1970"))
                    })?,
            ),
            (None, None) => None,
        };
        let given = match a
            .meta
            .as_ref()
            .and_then(|m| m.event_id.as_deref())
            .or(a.event_id.as_deref())
        {
            Some(id) => Some(GivenEvent {
                id: uuid::Uuid::parse_str(id)
                    .map_err(|_| Error::input(file, n, format!("event id `{id}` is not a UUID")))?,
                session: a.session_id.as_ref().and_then(text),
                origin: a.meta.as_ref().and_then(|m| m.origin.clone()),
                elapsed_ms: a.meta.as_ref().and_then(|m| m.elapsed_ms),
            }),
            None => None,
        };
        r.push(n, &image, &label, annotator.as_deref(), answer, time, given)?;
    }
    Ok(format.unwrap_or(JudgmentFormat::Jsonl))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_ids_depend_on_the_answer_not_on_where_it_was_read() {
        let a = stable_event_id("x.jpg", "n1", "ann", Answer::Yes, None, 0);
        assert_eq!(
            a,
            stable_event_id("x.jpg", "n1", "ann", Answer::Yes, None, 0)
        );
        let others = [
            stable_event_id("x.jpg", "n1", "ann", Answer::No, None, 0),
            stable_event_id("x.jpg", "n1", "ann", Answer::Yes, None, 1),
            stable_event_id("x.jpg", "n1", "ann", Answer::Yes, Some(0), 0),
            stable_event_id("x.jpg", "n1", "bob", Answer::Yes, None, 0),
            stable_event_id("x.jpg", "n2", "ann", Answer::Yes, None, 0),
            // NUL separation: moving a character across a field boundary changes the id.
            stable_event_id("x.jp", "gn1", "ann", Answer::Yes, None, 0),
        ];
        for o in &others {
            assert_ne!(&a, o);
        }
        assert_eq!(a.get_version_num(), 8);
        // An image's answers share the first 32 bits; another image's do not.
        assert_eq!(a.as_bytes()[..4], others[0].as_bytes()[..4]);
        assert_ne!(a.as_bytes()[..4], others[5].as_bytes()[..4]);
        assert_ne!(a.as_bytes()[4..], others[0].as_bytes()[4..]);
    }

    #[test]
    fn times_in_ms_or_rfc3339() {
        assert_eq!(parse_time("1700000000123"), Some(1_700_000_000_123));
        assert_eq!(parse_time("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_time("2024-02-30"), None);
        assert_eq!(parse_time("soon"), None);
    }

    #[test]
    fn prodigy_answers_map_to_yes_no_maybe() {
        assert_eq!(prodigy_answer("accept"), Some(Answer::Yes));
        assert_eq!(prodigy_answer("REJECT"), Some(Answer::No));
        assert_eq!(prodigy_answer("ignore"), Some(Answer::Maybe));
        assert_eq!(prodigy_answer("yes"), None);
    }

    /// Every candidate, and the label index's entries, as text.
    fn candidates(s: &Store) -> (String, String) {
        let c = s.conn();
        let all = |sql: &str| -> String {
            c.prepare(sql)
                .unwrap()
                .query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .map(Result::unwrap)
                .collect::<Vec<_>>()
                .join(" ")
        };
        (
            all("SELECT image_id || label || is_original FROM candidates ORDER BY 1"),
            all("SELECT label || image_id FROM candidates INDEXED BY candidates_by_label"),
        )
    }

    #[test]
    fn an_import_makes_its_questions_candidates_as_a_rebuild_does() {
        use crate::store::ImageRecord;
        let labels = ["n1", "n2", "n3", "n4"];
        let (dir, mut s) = crate::store::test_store(&labels);
        let images: Vec<ImageRecord> = (0..6)
            .map(|i| ImageRecord::missing(format!("i{i}.jpg"), Some(labels[i % 2].into())))
            .collect();
        s.insert_images(&images).unwrap();
        crate::store::predictions::rebuild_candidates(s.conn()).unwrap();
        // First more questions than candidates (the label index is built again), then fewer
        // (it stays): each time, what a rebuild of every candidate would give, originals kept.
        let files = [
            "image,label,annotator,answer\n\
             i0.jpg,n1,a,yes\ni0.jpg,n3,a,no\ni0.jpg,n3,b,no\ni1.jpg,n4,a,yes\n\
             i2.jpg,n2,a,yes\ni2.jpg,n4,b,maybe\ni3.jpg,n1,a,no\ni3.jpg,n3,a,yes\n\
             i4.jpg,n2,a,no\ni4.jpg,n4,a,yes\ni5.jpg,n3,b,yes\n",
            "image,label,annotator,answer\ni5.jpg,n4,c,yes\ni0.jpg,n1,c,no\n",
        ];
        for (n, text) in files.iter().enumerate() {
            let file = dir.path().join(format!("a{n}.csv"));
            std::fs::write(&file, text).unwrap();
            import_judgments(&mut s, &file, &JudgmentImportOptions::default()).unwrap();
            let imported = candidates(&s);
            crate::store::predictions::rebuild_candidates(s.conn()).unwrap();
            assert_eq!(imported, candidates(&s), "after a{n}.csv");
        }
        // Gold answers and verdicts add their own questions the same way.
        for (n, into) in [(2, ImportInto::Gold), (3, ImportInto::Verdicts)] {
            let file = dir.path().join(format!("a{n}.csv"));
            let text = format!("image,label,annotator,answer\ni{n}.jpg,n{},e,yes\n", n + 1);
            std::fs::write(&file, text).unwrap();
            let opts = JudgmentImportOptions {
                into,
                ..Default::default()
            };
            import_judgments(&mut s, &file, &opts).unwrap();
            let imported = candidates(&s);
            assert!(
                imported.0.contains(&format!("{}n{}0", n + 1, n + 1)),
                "{into:?}"
            );
            crate::store::predictions::rebuild_candidates(s.conn()).unwrap();
            assert_eq!(imported, candidates(&s), "after a{n}.csv");
        }
        // i1.jpg is image 2: its answered n4, and its original n2, still marked original.
        assert!(candidates(&s).0.contains("2n40"));
        assert!(candidates(&s).0.contains("2n21"));
        let check: String = s
            .conn()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }

    #[test]
    fn the_judgments_checks_hold_again_after_an_import() {
        let (dir, mut s) = crate::store::test_store(&["n1"]);
        s.insert_images(&[crate::store::ImageRecord::missing("i.jpg".into(), None)])
            .unwrap();
        let file = dir.path().join("a.csv");
        std::fs::write(&file, "image,label,annotator,answer\ni.jpg,n1,a,yes\n").unwrap();
        import_judgments(&mut s, &file, &JudgmentImportOptions::default()).unwrap();
        // The import's own statement for one event, from the statement cache: `OR IGNORE`
        // leaves out a row that fails a check, where unchecked it would have written it.
        let bad = rusqlite::params![
            "x",
            "i.jpg",
            "n1",
            "perhaps",
            None::<String>,
            "a",
            "s",
            0,
            None::<i64>,
            "o"
        ];
        let cached = s
            .conn()
            .prepare_cached(&JUDGMENTS.insert_sql(1))
            .unwrap()
            .execute(bad)
            .unwrap();
        assert_eq!(cached, 0, "the cached insert checks again");
        // And a statement made afterwards.
        let fresh = s.conn().execute(
            "INSERT INTO judgments(id, image, label, answer, annotator, session, created_at)
             VALUES ('y', 'i.jpg', 'n1', 'retract', 'a', 's', 0)",
            [],
        );
        assert!(
            fresh
                .unwrap_err()
                .to_string()
                .contains("CHECK constraint failed")
        );
    }
}
