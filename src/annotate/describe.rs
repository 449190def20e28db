//! The text of `labelvet show`: one image's record, each candidate with its meaning, provenance
//! and every annotator's standing answer, and the flags on the image. Plain text, so that it
//! prints into a pipe as well as a terminal, and tests read it directly.

use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::store::{FlagKind, Store};
use crate::text::{display, display_lines};
use crate::vocab::Class;

/// The text part of `show`: the image's record, each candidate with its meaning, provenance and
/// every annotator's standing answer, and the flags standing on the image.
pub fn describe(store: &Store, image: &str, annotator: Option<&str>) -> Result<String> {
    let key = image.trim();
    let row = store
        .image(key)?
        .ok_or_else(|| Error::msg(format!("no image `{key}` in {}", store.path().display())))?;
    let rec = &row.rec;
    let candidates = store.candidates(row.id)?;
    // The classes this text names, read one by one: a vocabulary holds a thousand or more,
    // and reading it whole was most of `show`'s time.
    let mut vocab = std::collections::HashMap::new();
    for label in rec
        .original_label
        .iter()
        .chain(candidates.iter().map(|c| &c.label))
    {
        if !vocab.contains_key(label.as_str())
            && let Some(class) = store.class(label)?
        {
            vocab.insert(label.as_str(), class);
        }
    }
    let mut s = String::new();
    let _ = write!(s, "{}", display(&rec.key));
    if let (Some(w), Some(h)) = (rec.width, rec.height) {
        let _ = write!(s, "  {w}×{h}");
    }
    if let Some(b) = rec.bytes {
        let _ = write!(s, "  {b} bytes");
    }
    let _ = write!(s, "  {}", rec.status.as_str());
    if let Some(e) = &rec.error {
        let _ = write!(s, " ({})", display(e));
    }
    s.push('\n');
    let name = |label: &str| {
        let name = vocab.get(label).map_or(label, |c: &Class| c.name.as_str());
        display(name).into_owned()
    };
    match &rec.original_label {
        Some(l) => {
            let _ = writeln!(s, "original label: {} ({})", name(l), display(l));
        }
        None => s.push_str("original label: none\n"),
    }

    // Every annotator's standing answer, by label.
    let events = store.events_for_image(&rec.key)?;
    let mut annotators: Vec<&str> = events.iter().map(|e| e.annotator.as_str()).collect();
    annotators.sort_unstable();
    annotators.dedup();
    if let Some(me) = annotator
        && let Some(i) = annotators.iter().position(|a| *a == me)
    {
        let me = annotators.remove(i);
        annotators.insert(0, me);
    }
    let mut standing: Vec<(String, String, &'static str)> = Vec::new();
    for who in &annotators {
        for e in store.current_for_image(&rec.key, who)? {
            if let Some(a) = e.answer {
                standing.push((e.label, who.to_string(), a.as_str()));
            }
        }
    }

    let _ = writeln!(s, "\ncandidates ({}):", candidates.len());
    let name_w = candidates
        .iter()
        .map(|c| name(&c.label).chars().count())
        .max()
        .unwrap_or(0);
    for c in &candidates {
        let mut prov: Vec<String> = Vec::new();
        if c.is_original {
            prov.push("original".into());
        }
        for p in &c.sources {
            match p.score {
                Some(sc) => prov.push(format!("{} #{} {sc:.3}", display(&p.model), p.rank)),
                None => prov.push(format!("{} #{}", display(&p.model), p.rank)),
            }
        }
        if prov.is_empty() {
            prov.push("answered".into());
        }
        let answers: Vec<String> = standing
            .iter()
            .filter(|(l, _, _)| *l == c.label)
            .map(|(_, who, a)| {
                if Some(who.as_str()) == annotator {
                    format!("{} (you) {a}", display(who))
                } else {
                    format!("{} {a}", display(who))
                }
            })
            .collect();
        let _ = writeln!(
            s,
            "  {}  {:<name_w$}  {}",
            display(&c.label),
            name(&c.label),
            prov.join(", ")
        );
        if let Some(cl) = vocab.get(c.label.as_str())
            && !cl.path.is_empty()
        {
            let _ = writeln!(s, "      {}", display(&cl.short_path(4)));
        }
        if !answers.is_empty() {
            let _ = writeln!(s, "      answers: {}", answers.join(", "));
        }
    }
    let flags = store.flags_for_image(&rec.key)?;
    if flags.is_empty() {
        s.push_str("\nflags: none\n");
    } else {
        s.push_str("\nflags:\n");
        for f in flags {
            let kind = match f.kind {
                FlagKind::Expert => "needs an expert",
                k => k.as_str(),
            };
            let note = if f.note.is_empty() {
                String::new()
            } else {
                format!(": {}", display(&f.note))
            };
            let _ = writeln!(s, "  {kind} by {}{note}", display(&f.annotator));
        }
    }
    // Each field from the project is escaped where it is written; this catches any missed.
    Ok(display_lines(&s).into_owned())
}
