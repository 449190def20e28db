//! What each fuzz target does with its bytes, shared by the targets in fuzz/ (which include this
//! file by path) and by tests/it/fuzz_regressions.rs, so a saved crashing input is replayed through
//! exactly the code the fuzzer ran. Every function must return (Ok or a clean Err) and never
//! panic, whatever the bytes.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use labelvet::ingest::judgments::{JudgmentFormat, JudgmentImportOptions, import_judgments};
use labelvet::ingest::predictions::{PredictionOptions, import_predictions};
use labelvet::ingest::{InitOptions, init_project};
use labelvet::store::Store;
use labelvet::vocab::Vocab;

/// The image keys of the fuzz project, short so the fuzzer finds valid rows.
pub const IMAGES: &[&str] = &["a.jpg", "b.jpg", "c.jpg"];
/// The fuzz project's vocabulary: keys, indices 0..3, one parent link.
pub const VOCAB_TSV: &str = "key\tname\tindex\tparent\tdefinition\ncat\tcat\t0\tanimal\ta cat\ndog\tdog\t1\tanimal\ta dog\nanimal\tanimal\t2\t\tany animal\n";

struct Template {
    _dir: tempfile::TempDir,
    db: PathBuf,
}

/// A small project made once per process; each input gets a fresh copy, so one input's rows
/// never change what the next one sees.
fn template() -> &'static Template {
    static T: OnceLock<Template> = OnceLock::new();
    T.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let vocab = dir.path().join("vocab.tsv");
        std::fs::write(&vocab, VOCAB_TSV).unwrap();
        let manifest = dir.path().join("manifest.csv");
        std::fs::write(&manifest, "image,label\na.jpg,cat\nb.jpg,dog\nc.jpg,\n").unwrap();
        let db = dir.path().join("template.db");
        let opts = InitOptions {
            manifest: Some(manifest),
            vocab: vocab.to_string_lossy().into_owned(),
            ..InitOptions::default()
        };
        let (store, _) = init_project(&db, &opts).expect("make the fuzz project");
        drop(store);
        Template { _dir: dir, db }
    })
}

/// A fresh copy of the template project and a file holding `data` named `name`, in a temp dir.
fn workspace(data: &[u8], name: &str) -> (tempfile::TempDir, Store, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("p.db");
    std::fs::copy(&template().db, &db).unwrap();
    let store = Store::open(&db).expect("open the fuzz project");
    let input = dir.path().join(name);
    std::fs::write(&input, data).unwrap();
    (dir, store, input)
}

/// Predictions, CSV or JSON lines (found from the content, as the importer does).
pub fn predictions(data: &[u8]) -> Result<(), String> {
    let (_dir, mut store, input) = workspace(data, "predictions.csv");
    let opts = PredictionOptions {
        top_k: 2,
        model: Some("m".into()),
        progress: false,
    };
    import_predictions(&mut store, &[input], &opts)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Judgments; the first byte picks the format option (found from content, CSV, JSON lines or
/// Prodigy) and whether a fallback annotator is given.
pub fn judgments(data: &[u8]) -> Result<(), String> {
    let Some((&sel, rest)) = data.split_first() else {
        return Ok(());
    };
    let format = match sel % 4 {
        0 => None,
        1 => Some(JudgmentFormat::Csv),
        2 => Some(JudgmentFormat::Jsonl),
        _ => Some(JudgmentFormat::Prodigy),
    };
    let annotator = (sel & 4 != 0).then(|| "fuzz".to_string());
    let (_dir, mut store, input) = workspace(rest, "answers.txt");
    let opts = JudgmentImportOptions {
        format,
        annotator,
        ..Default::default()
    };
    import_judgments(&mut store, &input, &opts)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Classify answers (JSON lines); an odd first byte gives a fallback annotator.
pub fn classify(data: &[u8]) -> Result<(), String> {
    let Some((&sel, rest)) = data.split_first() else {
        return Ok(());
    };
    let annotator = (sel % 2 == 1).then(|| "fuzz".to_string());
    let (_dir, mut store, input) = workspace(rest, "classify.jsonl");
    let opts = labelvet::ingest::classify::ClassifyImportOptions { annotator };
    labelvet::ingest::classify::import_classify(&mut store, &input, &opts)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// A vocabulary file.
pub fn vocab(data: &[u8]) -> Result<(), String> {
    let vocab =
        Vocab::from_reader("fuzz", Path::new("vocab.tsv"), data).map_err(|e| e.to_string())?;
    // The lookups the rest of the program makes on a loaded vocabulary.
    for c in vocab.classes() {
        let _ = vocab.subtree(&c.key);
        let _ = vocab.lookup(&c.name);
        let _ = c.short_path(3);
    }
    let _ = vocab.digest();
    Ok(())
}

/// A manifest (first byte even) or a labels file (odd), against the fuzz vocabulary.
pub fn manifest_or_labels(data: &[u8]) -> Result<(), String> {
    let Some((&sel, rest)) = data.split_first() else {
        return Ok(());
    };
    let vocab =
        Vocab::from_reader("fuzz", Path::new("vocab.tsv"), VOCAB_TSV.as_bytes()).expect("vocab");
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("table.csv");
    std::fs::write(&input, rest).unwrap();
    if sel % 2 == 0 {
        labelvet::ingest::images::read_manifest(&input, &vocab)
            .map(drop)
            .map_err(|e| e.to_string())
    } else {
        let known = IMAGES.iter().copied().collect();
        labelvet::ingest::images::read_labels(&input, &vocab, &known)
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// Arbitrary bytes offered to merge as an annotator's project file.
pub fn merge_source(data: &[u8]) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("source.db");
    std::fs::write(&input, data).unwrap();
    let src = labelvet::store::untrusted::SourceFile::open(&input).map_err(|e| e.to_string())?;
    for kind in labelvet::store::events::KINDS {
        src.count(kind).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The display escaping of text from files (`labelvet::text::display`), on the bytes read as
/// UTF-8 (lossily). Its promises are asserted, so a broken one is a crash: nothing a terminal
/// would obey is left, escaping twice changes nothing, text without such characters comes out
/// as it went in, and the door's check refuses exactly the text that needed escaping.
pub fn display_text(data: &[u8]) -> Result<(), String> {
    use labelvet::text::{check, display, display_lines, is_unsafe};
    let text = String::from_utf8_lossy(data);
    let shown = display(&text);
    assert!(
        !shown.chars().any(is_unsafe),
        "unsafe character left in {shown:?}"
    );
    assert_eq!(display(&shown), shown, "escaping is not idempotent");
    let needed = text.chars().any(is_unsafe);
    assert_eq!(
        needed,
        shown != text,
        "changed text that needed nothing, or the reverse"
    );
    assert_eq!(check(&text, false).is_err(), needed);
    let lines = display_lines(&text);
    assert!(
        !lines
            .chars()
            .any(|c| is_unsafe(c) && c != '\n' && c != '\t'),
        "unsafe character left in {lines:?}"
    );
    Ok(())
}

/// The check of a merge source's `-wal` (`labelvet::store::wal::check_wal`) on arbitrary bytes:
/// never a panic, and what it says SQLite would read is whole frames inside the file.
pub fn wal_check(data: &[u8]) -> Result<(), String> {
    let c = labelvet::store::wal::check_wal(data, data.len() as u64)?;
    let frame = 24 + u64::from(c.page_size);
    assert!(c.committed_bytes <= data.len() as u64, "{c:?}");
    assert_eq!((c.committed_bytes - 32) % frame, 0, "{c:?}");
    assert_eq!(
        (c.committed_bytes - 32) / frame,
        c.committed_frames,
        "{c:?}"
    );
    assert_eq!(
        c.committed_bytes + c.ignored_bytes,
        data.len() as u64,
        "{c:?}"
    );
    Ok(())
}

/// One target: bytes in, Ok or the error a user would read.
pub type Target = fn(&[u8]) -> Result<(), String>;

/// Every target by the name of its folder under tests/data/fuzz/ and its fuzz/ binary.
pub const TARGETS: &[(&str, Target)] = &[
    ("predictions", predictions),
    ("judgments", judgments),
    ("classify", classify),
    ("vocab", vocab),
    ("manifest_or_labels", manifest_or_labels),
    ("merge_source", merge_source),
    ("display_text", display_text),
    ("wal_check", wal_check),
];
