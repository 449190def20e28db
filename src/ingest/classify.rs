//! Classify answers made elsewhere (another tool, a re-run of Tsipras et al.'s CLASSIFY task)
//! brought into a project as classify events, so that the report and merges treat them like
//! answers given on labelvet's classify screen.
//!
//! JSON lines, optionally gzipped, one answer a line:
//! `{"image": "...", "annotator": "...", "present": [label, ...], "main": label}` with each label
//! a class key or a class index of the project's vocabulary. Optional: `objects` (a count of at
//! least 1; defaults to the number of labels present), `time` or `created_at` (milliseconds
//! since the Unix epoch or RFC 3339 in UTC, as for judgments), `session`. `rater` is accepted for
//! `annotator`, and `--annotator` names the annotator of lines that name none. A label given
//! twice in `present`, a `main` not in `present`, an empty `present`, an unknown class or an image
//! not in the project is an error naming the file and line; nothing is written then.
//!
//! `labelvet judgments import` reads this format with `--format classify-jsonl`, and without a
//! format when the first record has a `present` field (no judgment record has one).
//!
//! **Stable ids**, as for imported judgments: a UUIDv8 made from the SHA-256 of (image,
//! annotator, the sorted present keys, main key, objects, time or nothing, and how many times the
//! same tuple occurred earlier in the file); its first 32 bits are the start of the SHA-256 of the
//! image key alone. The same answers imported again, from any copy of the file, add nothing. An
//! answer without a time is dated at the epoch plus k ms, k its position among the file's
//! answers: within a file the later line wins, and the CLASSIFY summary's first-given tie rule
//! (`analysis::classify`) can follow the order of lines.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::judgments::parse_time;
use super::table;
use crate::error::{Error, Result};
use crate::store::classify::insert_classify_events;
use crate::store::{ClassifyAnswer, ClassifyEvent, Store};

#[derive(Clone, Debug, Default)]
pub struct ClassifyImportOptions {
    /// The annotator of lines that name none.
    pub annotator: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassifyImport {
    /// Answers read from the file.
    pub rows: u64,
    /// Events new to the project.
    pub added: u64,
    /// Answers the project already held (same stable id).
    pub already: u64,
    pub annotators: usize,
    pub images: usize,
}

#[derive(Deserialize)]
struct Line {
    image: Option<Value>,
    annotator: Option<Value>,
    rater: Option<Value>,
    present: Option<Value>,
    main: Option<Value>,
    objects: Option<Value>,
    time: Option<Value>,
    created_at: Option<Value>,
    session: Option<Value>,
    /// Written by `labelvet export --format classify-jsonl`, with `origin` and `elapsed_ms`:
    /// the line is then that event again, under its own id.
    event_id: Option<String>,
    origin: Option<String>,
    elapsed_ms: Option<i64>,
}

/// A JSON string or number as text; `None` for anything else.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One answer as read.
struct Read {
    image: String,
    annotator: String,
    session: Option<String>,
    answer: ClassifyAnswer,
    time: Option<i64>,
    /// The event's own id, origin and time spent, when the line carries them.
    given: Option<(uuid::Uuid, Option<String>, Option<i64>)>,
}

/// Whether the file's first record is a classify answer (a JSON object with a `present`
/// field). Anything unreadable says no, and is then reported by the importer that reads it.
pub fn looks_like_classify(file: &Path) -> Result<bool> {
    let reader = table::open(file)?;
    for line in reader.lines() {
        let Ok(line) = line else {
            return Ok(false);
        };
        if line.trim().is_empty() {
            continue;
        }
        return Ok(serde_json::from_str::<Value>(&line)
            .ok()
            .and_then(|v| v.as_object().map(|o| o.contains_key("present")))
            .unwrap_or(false));
    }
    Ok(false)
}

/// Imports one file of classify answers into the project (see the module docs).
pub fn import_classify(
    store: &mut Store,
    file: &Path,
    opts: &ClassifyImportOptions,
) -> Result<ClassifyImport> {
    let vocab = store.vocab()?;
    let images = store.image_ids()?;
    let reader = table::open(file)?;
    let mut names = crate::text::NameSet::new(store.annotator_names()?.iter().map(String::as_str));
    let mut read: Vec<Read> = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let n = i as u64 + 1;
        let bad = |msg: String| Error::input(file, n, msg);
        let line = line.map_err(|e| bad(e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        table::check_json_text(file, n, &line)?;
        let l: Line =
            serde_json::from_str(&line).map_err(|e| bad(format!("not a classify record: {e}")))?;
        let image = l
            .image
            .as_ref()
            .and_then(text)
            .ok_or_else(|| bad("no `image` field".into()))?;
        if !images.contains_key(&image) {
            return Err(bad(format!("image {image} is not in the project")));
        }
        let annotator = [l.annotator.as_ref(), l.rater.as_ref()]
            .into_iter()
            .flatten()
            .find_map(text)
            .filter(|a| !a.trim().is_empty())
            .or_else(|| opts.annotator.clone())
            .ok_or_else(|| {
                bad("no annotator; give one per line or name it with --annotator".into())
            })?;
        // Stored in NFC, and never a look-alike of a name the project or file has.
        let annotator = crate::text::nfc(&annotator).into_owned();
        crate::text::check_field("annotator", &annotator)
            .and_then(|()| names.admit(&annotator))
            .map_err(bad)?;
        let resolve = |v: &Value, what: &str| -> Result<String> {
            let t =
                text(v).ok_or_else(|| bad(format!("{what} {v} is not a class key or index")))?;
            vocab
                .resolve(&t)
                .map(|c| c.key.clone())
                .ok_or_else(|| bad(format!("unknown class `{t}` in {what}")))
        };
        let present_values = match &l.present {
            Some(Value::Array(a)) => a,
            Some(other) => return Err(bad(format!("`present` {other} is not a list of labels"))),
            None => return Err(bad("no `present` field".into())),
        };
        let mut present = Vec::with_capacity(present_values.len());
        for v in present_values {
            let key = resolve(v, "present")?;
            if present.contains(&key) {
                return Err(bad(format!("`present` names class {key} twice")));
            }
            present.push(key);
        }
        if present.is_empty() {
            return Err(bad("`present` is empty: name at least one label".into()));
        }
        let main = resolve(
            l.main
                .as_ref()
                .ok_or_else(|| bad("no `main` field".into()))?,
            "main",
        )?;
        if !present.contains(&main) {
            return Err(bad(format!(
                "the main label {main} is not among the labels present"
            )));
        }
        let objects = match &l.objects {
            None | Some(Value::Null) => present.len() as u32,
            Some(v) => v
                .as_u64()
                .filter(|&k| k >= 1)
                .and_then(|k| u32::try_from(k).ok())
                .ok_or_else(|| bad(format!("`objects` {v} is not a count of at least 1")))?,
        };
        let time = match l.time.as_ref().or(l.created_at.as_ref()) {
            None | Some(Value::Null) => None,
            Some(t) => Some(text(t).and_then(|s| parse_time(&s)).ok_or_else(|| {
                bad(format!(
                    "time {t} is neither milliseconds since 1970 nor RFC 3339"
                ))
            })?),
        };
        let session = l.session.as_ref().and_then(text);
        let given = match &l.event_id {
            Some(id) => Some((
                uuid::Uuid::parse_str(id)
                    .map_err(|_| bad(format!("event id `{id}` is not a UUID")))?,
                l.origin.clone(),
                l.elapsed_ms,
            )),
            None => None,
        };
        let answer =
            ClassifyAnswer::new(&present, &main, objects).map_err(|e| bad(e.to_string()))?;
        read.push(Read {
            image,
            annotator,
            session,
            answer,
            time,
            given,
        });
    }

    let origin = format!(
        "import:{}",
        file.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| file.display().to_string())
    );
    let events = events(&read, &origin);
    let added = store.transaction(|tx| insert_classify_events(tx, &events))?;
    let distinct = |f: fn(&Read) -> &str| {
        let mut v: Vec<&str> = read.iter().map(f).collect();
        v.sort_unstable();
        v.dedup();
        v.len()
    };
    Ok(ClassifyImport {
        rows: read.len() as u64,
        added,
        already: read.len() as u64 - added,
        annotators: distinct(|r| r.annotator.as_str()),
        images: distinct(|r| r.image.as_str()),
    })
}

/// The events of the answers read, with their stable ids and times, sorted by id.
fn events(read: &[Read], origin: &str) -> Vec<ClassifyEvent> {
    let mut order: Vec<usize> = (0..read.len()).collect();
    order.sort_by(|&a, &b| {
        (&read[a].image, &read[a].annotator, a).cmp(&(&read[b].image, &read[b].annotator, b))
    });
    let mut out = Vec::with_capacity(read.len());
    let mut seen: HashMap<(&ClassifyAnswer, Option<i64>), u32> = HashMap::new();
    let mut group: Option<(&str, &str)> = None;
    for &i in &order {
        let r = &read[i];
        if group != Some((&r.image, &r.annotator)) {
            group = Some((&r.image, &r.annotator));
            seen.clear();
        }
        let occurrence = seen.entry((&r.answer, r.time)).or_default();
        let id = match &r.given {
            Some((id, _, _)) => *id,
            None => stable_classify_id(&r.image, &r.annotator, &r.answer, r.time, *occurrence),
        };
        *occurrence += 1;
        let created_at = r.time.unwrap_or(i as i64);
        out.push(ClassifyEvent {
            id: id.to_string(),
            image: r.image.clone(),
            answer: Some(r.answer.clone()),
            retracts: None,
            annotator: r.annotator.clone(),
            session: r.session.clone().unwrap_or_else(|| origin.to_string()),
            created_at,
            elapsed_ms: r.given.as_ref().and_then(|g| g.2),
            origin: r
                .given
                .as_ref()
                .and_then(|g| g.1.clone())
                .unwrap_or_else(|| origin.to_string()),
        });
    }
    out.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    out
}

/// The stable id of an imported classify answer (see the module docs). Text fields are
/// separated by NUL, which none of them can hold, and the numbers follow at fixed width, so
/// different answers cannot run together into the same bytes.
pub fn stable_classify_id(
    image: &str,
    annotator: &str,
    answer: &ClassifyAnswer,
    time_ms: Option<i64>,
    occurrence: u32,
) -> uuid::Uuid {
    let mut h = Sha256::new();
    h.update(b"labelvet classify v1\0");
    for part in [image, annotator, &answer.present_json(), &answer.main] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.update(answer.objects.to_le_bytes());
    h.update([u8::from(time_ms.is_some())]);
    h.update(time_ms.unwrap_or(0).to_le_bytes());
    h.update(occurrence.to_le_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[..4].copy_from_slice(&Sha256::digest(image.as_bytes())[..4]);
    uuid::Uuid::new_v8(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(present: &[&str], main: &str, objects: u32) -> ClassifyAnswer {
        let p: Vec<String> = present.iter().map(|s| s.to_string()).collect();
        ClassifyAnswer::new(&p, main, objects).unwrap()
    }

    #[test]
    fn stable_ids_depend_on_every_part_of_the_answer() {
        let a = answer(&["n1", "n2"], "n1", 2);
        let id = stable_classify_id("x.jpg", "ann", &a, None, 0);
        assert_eq!(id, stable_classify_id("x.jpg", "ann", &a, None, 0));
        // The order labels were given in does not matter: `present` has one spelling.
        assert_eq!(
            id,
            stable_classify_id("x.jpg", "ann", &answer(&["n2", "n1"], "n1", 2), None, 0)
        );
        let others = [
            stable_classify_id("x.jpg", "ann", &answer(&["n1", "n2"], "n2", 2), None, 0),
            stable_classify_id("x.jpg", "ann", &answer(&["n1", "n2"], "n1", 3), None, 0),
            stable_classify_id("x.jpg", "ann", &answer(&["n1"], "n1", 2), None, 0),
            stable_classify_id("x.jpg", "bob", &a, None, 0),
            stable_classify_id("x.jpg", "ann", &a, Some(0), 0),
            stable_classify_id("x.jpg", "ann", &a, None, 1),
            stable_classify_id("y.jpg", "ann", &a, None, 0),
        ];
        for o in &others {
            assert_ne!(&id, o);
        }
        assert_eq!(id.get_version_num(), 8);
        assert_eq!(id.as_bytes()[..4], others[0].as_bytes()[..4]);
        assert_ne!(id.as_bytes()[..4], others[6].as_bytes()[..4]);
    }
}
