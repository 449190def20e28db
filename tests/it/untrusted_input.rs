//! Issue 14, "untrusted input, round two": each reproduction through the real binary. Text that
//! would command a terminal is refused at the door (importers, `init`, `merge`) with the file and
//! line or row, and escaped on the way out (files made before the door was closed); paths stay
//! inside the image folder; FIFOs, devices and endless lines are refused within a time and
//! memory ceiling; look-alike and foreign annotator names are refused; outputs never replace
//! inputs.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::merge_support::{
    self, checkout_of, checksum, copy_db, copy_with_answer_in_log, fails, labelvet, ok, s,
    small_project, with_suffix,
};
use labelvet::store::{Answer, Store};
use rusqlite::Connection;

/// No byte of `out` is ESC or BEL, and no C1 CSI: nothing that a terminal would obey.
fn no_control(what: &str, out: &[u8]) {
    let text = String::from_utf8_lossy(out);
    assert!(
        !out.contains(&0x1b) && !out.contains(&0x07) && !text.contains('\u{9b}'),
        "{what} holds a raw control character:\n{text:?}"
    );
}

struct Fixture {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    target: PathBuf,
    /// alice's checkout with one answer of hers.
    alice: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let target = small_project(&d.join("project.db"), 6);
    Store::open(&target)
        .unwrap()
        .append_answer("img0", "cat", Answer::Yes, "lead", "s0", None)
        .unwrap();
    let alice = checkout_of(&target, "alice", &d.join("alice.db"));
    Store::open(&alice)
        .unwrap()
        .append_answer("img2", "fox", Answer::Yes, "alice", "s1", Some(800))
        .unwrap();
    Fixture {
        _dir: dir,
        dir: d,
        target,
        alice,
    }
}

/// A copy of alice's file changed by `sql`, as an attacker would.
fn variant(f: &Fixture, name: &str, sql: &str) -> PathBuf {
    let p = copy_db(&f.alice, &f.dir.join(name));
    let conn = Connection::open(&p).unwrap();
    conn.execute_batch(&format!("PRAGMA ignore_check_constraints = ON; {sql}"))
        .unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    p
}

/// Merges `source`, expects a refusal holding every one of `expect` and no raw control
/// character, and the target byte for byte as it was.
fn merge_refused(f: &Fixture, source: &Path, args: &[&str], expect: &[&str]) -> String {
    let before = checksum(&f.target);
    let mut all = vec!["merge", s(&f.target), s(source)];
    all.extend(args);
    let out = labelvet(&all);
    assert!(!out.status.success(), "merge of {source:?} should fail");
    no_control("merge's message", &out.stderr);
    no_control("merge's output", &out.stdout);
    let err = String::from_utf8(out.stderr).unwrap();
    for e in expect {
        assert!(err.contains(e), "expected {e:?} in: {err}");
    }
    assert_eq!(checksum(&f.target), before, "target changed: {err}");
    err
}

#[test]
fn a_merged_file_cannot_bring_control_characters_in_any_text() {
    let f = fixture();
    let name = variant(
        &f,
        "name.db",
        "UPDATE judgments SET annotator = 'alice' || char(27) || ']0;pwned' || char(7) \
         WHERE label = 'fox';",
    );
    merge_refused(
        &f,
        &name,
        &[],
        &["column annotator", "ESC (U+001B)", "\\x1b]0;pwned\\x07"],
    );
    let session = variant(
        &f,
        "session.db",
        "UPDATE judgments SET session = char(27) || '[2J' WHERE label = 'fox';",
    );
    merge_refused(&f, &session, &[], &["column session", "\\x1b[2J"]);
    let note = variant(
        &f,
        "note.db",
        "INSERT INTO flags VALUES ('0190aaaa-0000-7000-8000-000000000001', 'img2', 'broken', \
         'fine' || char(10) || 'img2  ok  forged line', 'alice', 's', 1);",
    );
    merge_refused(&f, &note, &[], &["column note", "LF (U+000A)"]);
    let bidi = variant(
        &f,
        "bidi.db",
        "UPDATE judgments SET session = 'abc' || char(8238) || 'fed' WHERE label = 'fox';",
    );
    merge_refused(&f, &bidi, &[], &["bidirectional override (U+202E)"]);
    let model = variant(
        &f,
        "model.db",
        "INSERT INTO models(name, source, imported_at) VALUES ('m' || char(27) || '[31m', NULL, 'x');",
    );
    merge_refused(&f, &model, &[], &["model name", "\\x1b[31m"]);
}

#[test]
fn a_merged_image_key_cannot_climb_out_of_the_image_folder() {
    let f = fixture();
    for (i, key) in ["../SECRET.txt", "/etc/passwd", "a//b.jpg", "a/./b.jpg"]
        .iter()
        .enumerate()
    {
        let p = variant(
            &f,
            &format!("key{i}.db"),
            &format!("INSERT INTO images(key, status) VALUES ('{key}', 'missing');"),
        );
        merge_refused(
            &f,
            &p,
            &[],
            &["must be a relative path inside the image folder"],
        );
    }
    let raw = variant(
        &f,
        "raw.db",
        "INSERT INTO images(key, raw_path, status) VALUES ('x.jpg', X'2E2E2F782E6A7067', 'missing');",
    );
    merge_refused(&f, &raw, &[], &["raw path", "not a relative path"]);
}

#[test]
fn huge_text_in_a_merged_row_is_refused() {
    let f = fixture();
    let big = variant(
        &f,
        "big.db",
        "INSERT INTO flags VALUES ('0190aaaa-0000-7000-8000-000000000001', 'img2', 'broken', \
         printf('%.*c', 1000000, 'x'), 'alice', 's', 1);",
    );
    merge_refused(
        &f,
        &big,
        &[],
        &["column note is 1000000 bytes long, over the limit of 16384"],
    );
    let session = variant(
        &f,
        "session.db",
        "UPDATE judgments SET session = printf('%.*c', 5000, 's') WHERE label = 'fox';",
    );
    merge_refused(&f, &session, &[], &["over the limit of 1024"]);
}

#[test]
fn a_checkout_brings_only_its_annotators_new_answers() {
    let f = fixture();
    let mallory = variant(
        &f,
        "mallory.db",
        "UPDATE judgments SET annotator = 'mallory' WHERE label = 'fox';",
    );
    merge_refused(
        &f,
        &mallory,
        &[],
        &[
            "made for alice",
            "is by mallory",
            "--allow-other-annotators",
        ],
    );
    // Look-alikes of a name the target has are refused even when others are allowed, both
    // spellings shown with the odd character written out.
    for (i, (name, shown)) in [
        ("le\u{200b}ad", "le\\u{200b}ad"),
        ("le\u{430}d", "le\\u{430}d"),
        ("\u{217c}ead", "\\u{217c}ead"),
        ("Jose\u{301}", "NFC"),
    ]
    .iter()
    .enumerate()
    {
        let p = variant(
            &f,
            &format!("look{i}.db"),
            &format!("UPDATE judgments SET annotator = '{name}' WHERE label = 'fox';"),
        );
        let err = merge_refused(&f, &p, &["--allow-other-annotators"], &[shown]);
        assert!(
            err.contains("\"lead\"") || err.contains("NFC"),
            "both spellings or the form: {err}"
        );
    }
    let out = ok(&[
        "merge",
        s(&f.target),
        s(&mallory),
        "--allow-other-annotators",
    ]);
    assert!(out.contains("mallory"), "{out}");
}

/// A sparse file of `len` bytes, all zeros.
fn sparse(path: &Path, len: u64) {
    std::fs::File::create(path).unwrap().set_len(len).unwrap();
}

#[test]
fn a_log_beside_a_source_is_checked_before_it_is_copied() {
    let f = fixture();
    // A sparse 2 GB "-wal": not a log at all, refused at once without copying a byte.
    let p = copy_db(&f.alice, &f.dir.join("sparse.db"));
    sparse(&with_suffix(&p, "-wal"), 2 << 30);
    let err = merge_refused(&f, &p, &[], &["-wal beside it", "not a write-ahead log"]);
    assert!(!err.contains("recovered"), "{err}");

    // A real log followed by a sparse tail: its committed frames come in, the tail does not.
    let logged = copy_with_answer_in_log(&f.alice, &f.dir.join("logged.db"));
    let wal = with_suffix(&logged, "-wal");
    let real_len = std::fs::metadata(&wal).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .unwrap()
        .set_len(real_len + (1 << 30))
        .unwrap();
    let out = ok(&["merge", s(&f.target), s(&logged)]);
    assert!(out.contains("2 new events"), "{out}");
    assert!(
        out.contains(&format!("{} bytes of", 1u64 << 30)) && out.contains("left out"),
        "{out}"
    );
}

#[test]
fn an_older_file_holding_control_characters_is_shown_escaped() {
    // A project written before the door was closed, holding every kind of hostile text.
    let f = fixture();
    let p = &f.target;
    {
        let conn = Connection::open(p).unwrap();
        conn.execute_batch(
            "INSERT INTO images(key, status, error) VALUES
                 ('q' || char(27) || '[2J.jpg', 'unreadable', 'starts with ' || char(27) || ']52;c;aGk=' || char(7));
             INSERT INTO models(name, source, imported_at) VALUES ('m' || char(27) || ']0;title' || char(7), NULL, 'x');
             INSERT INTO flags VALUES ('0190aaaa-0000-7000-8000-000000000009', 'img0', 'broken',
                 'x' || char(10) || 'img0  forged', 'ev' || char(27) || '[31mil', 's', 1);",
        )
        .unwrap();
    }
    Store::open(p)
        .unwrap()
        .append_answer(
            "img0",
            "dog",
            Answer::No,
            "ev\u{1b}[31mil\u{202e}",
            "s",
            None,
        )
        .unwrap();
    for args in [
        vec!["info", s(p)],
        vec!["info", s(p), "--all"],
        vec!["report", s(p)],
        vec!["show", s(p), "img0"],
        vec!["show", s(p), "q\u{1b}[2J.jpg"],
    ] {
        let out = labelvet(&args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        no_control(&format!("{args:?}"), &out.stdout);
        no_control(&format!("{args:?} (stderr)"), &out.stderr);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("\\x1b"), "{args:?} shows the escape: {text}");
    }
    let show = ok(&["show", s(p), "img0"]);
    assert!(
        show.contains("x\\x0aimg0  forged"),
        "no forged line: {show}"
    );
    // An error quoting the key escapes it too.
    let err = labelvet(&["show", s(p), "nothing\u{1b}[2J"]);
    no_control("show's error", &err.stderr);
    // Exports write the data as stored: they are data for other programs.
    let csv = ok(&["export", s(p), "--format", "prodigy"]);
    assert!(
        csv.contains("\\u001b[31mil"),
        "JSON escapes it its own way: {csv}"
    );
}

#[test]
fn init_refuses_control_characters_in_keys_and_vocabulary_text() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let manifest = d.join("manifest.csv");
    std::fs::write(
        &manifest,
        "image,label\na.jpg,n01440764\nq\x1b[2J.jpg,n01440764\n",
    )
    .unwrap();
    let out = labelvet(&["init", s(&d.join("p.db")), "--manifest", s(&manifest)]);
    assert!(!out.status.success());
    no_control("init's error", &out.stderr);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("manifest.csv:3:"), "{err}");
    assert!(err.contains("ESC (U+001B)"), "{err}");
    assert!(!d.join("p.db").exists());

    for (i, key) in ["../x.jpg", "a//b.jpg", "/etc/passwd"].iter().enumerate() {
        std::fs::write(&manifest, format!("image\n{key}\n")).unwrap();
        let err = fails(&[
            "init",
            s(&d.join(format!("k{i}.db"))),
            "--manifest",
            s(&manifest),
        ]);
        assert!(
            err.contains("relative path inside the image folder"),
            "{err}"
        );
    }

    // A vocabulary whose guideline writes the clipboard (OSC 52) or clears the screen.
    let vocab = d.join("vocab.csv");
    std::fs::write(
        &vocab,
        "key,name,guideline\ncat,Cat,ok\ndog,Dog,\"look \x1b]52;c;aGk=\x07 here\"\n",
    )
    .unwrap();
    std::fs::write(&manifest, "image,label\na.jpg,cat\n").unwrap();
    let out = labelvet(&[
        "init",
        s(&d.join("v.db")),
        "--manifest",
        s(&manifest),
        "--vocab",
        s(&vocab),
    ]);
    assert!(!out.status.success());
    no_control("init's error", &out.stderr);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("vocab.csv:3:") && err.contains("column `guideline`"),
        "{err}"
    );

    // One name in NFC and in NFD: two classes that look the same.
    std::fs::write(&vocab, "key,name\na,Caf\u{e9}\nb,Cafe\u{301}\n").unwrap();
    let err = fails(&[
        "init",
        s(&d.join("n.db")),
        "--manifest",
        s(&manifest),
        "--vocab",
        s(&vocab),
    ]);
    assert!(
        err.contains("two Unicode forms") && err.contains("\\u{301}"),
        "{err}"
    );
}

#[test]
fn importers_refuse_control_characters_with_file_and_line() {
    let f = fixture();
    let csv = f.dir.join("answers.csv");
    std::fs::write(
        &csv,
        "image,label,annotator,answer\nimg1,dog,bob,yes\nimg1,cat,\x1b]0;x\x07bob,no\n",
    )
    .unwrap();
    let before = checksum(&f.target);
    let out = labelvet(&["judgments", "import", s(&f.target), s(&csv)]);
    assert!(!out.status.success());
    no_control("import's error", &out.stderr);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("answers.csv:3:") && err.contains("\\x1b]0;x\\x07bob"),
        "{err}"
    );
    assert_eq!(checksum(&f.target), before);

    // In JSON lines the control character hides behind an escape.
    let jsonl = f.dir.join("answers.jsonl");
    std::fs::write(
        &jsonl,
        "{\"image\":\"img1\",\"label\":\"dog\",\"annotator\":\"bob\",\"answer\":\"yes\"}\n\
         {\"image\":\"img1\",\"label\":\"cat\",\"annotator\":\"b\\u001b[2Jb\",\"answer\":\"no\"}\n",
    )
    .unwrap();
    let err = fails(&["judgments", "import", s(&f.target), s(&jsonl)]);
    assert!(
        err.contains("answers.jsonl:2:") && err.contains("field `annotator`"),
        "{err}"
    );

    // A look-alike of a name the project has, and an NFD name stored as NFC.
    std::fs::write(
        &csv,
        "image,label,annotator,answer\nimg1,dog,le\u{430}d,yes\n",
    )
    .unwrap();
    let err = fails(&["judgments", "import", s(&f.target), s(&csv)]);
    assert!(
        err.contains("looks the same as \"lead\"") && err.contains("le\\u{430}d"),
        "{err}"
    );
    std::fs::write(
        &csv,
        "image,label,annotator,answer\nimg1,dog,Jose\u{301},yes\n",
    )
    .unwrap();
    ok(&["judgments", "import", s(&f.target), s(&csv)]);
    let names = Store::open(&f.target).unwrap().annotator_names().unwrap();
    assert!(names.contains(&"Jos\u{e9}".to_string()), "{names:?}");
}

/// Runs labelvet with `args` under a deadline and returns (exit success, stdout, stderr, peak
/// RSS in KiB). The peak is GNU time's (`/usr/bin/time -f %M`), measured on labelvet's own
/// process: the test binary's rusage of its children would count its own memory, which a
/// forked child starts with.
fn bounded(args: &[&str], deadline: Duration) -> (bool, String, String, u64) {
    let dir = tempfile::tempdir().unwrap();
    let rss_file = dir.path().join("rss");
    let mut child = Command::new("/usr/bin/time")
        .args([
            "-f",
            "%M",
            "-o",
            s(&rss_file),
            env!("CARGO_BIN_EXE_labelvet"),
        ])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("GNU time at /usr/bin/time (apt-get install time)");
    let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let read_all = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            r.read_to_string(&mut s).ok();
            s
        })
    };
    let readers = [read_all(Box::new(out)), read_all(Box::new(err))];
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > deadline {
            // time and labelvet both: they are the only members of their process group.
            // SAFETY: kill(2) on the group our own child leads.
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            child.wait().ok();
            panic!("labelvet {args:?} still running after {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let [o, e] = readers.map(|t| t.join().unwrap());
    let rss = std::fs::read_to_string(&rss_file).unwrap();
    // A failing command makes time write "Command exited with non-zero status N" first.
    let rss: u64 = rss.lines().last().unwrap().trim().parse().unwrap();
    (status.success(), o, e, rss)
}

/// 300 MB is well above what these small commands need and far below what reading /dev/zero or
/// a 4 GB line would take.
const RSS_CEILING_KIB: u64 = 300 * 1024;

#[test]
fn fifos_devices_and_links_out_of_the_folder_are_never_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let images = d.join("images");
    std::fs::create_dir_all(images.join("n01440764")).unwrap();
    let fifo = images.join("n01440764/fifo.jpg");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a plain mkfifo(3) on a path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    std::os::unix::fs::symlink("/dev/zero", images.join("n01440764/zero.jpg")).unwrap();
    std::os::unix::fs::symlink("/etc", images.join("etc")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", images.join("n01440764/passwd.jpg")).unwrap();
    sparse(&images.join("n01440764/sparse.jpg"), 3 << 30);

    // The folder: links out of it are skipped and counted, the FIFO is not a file.
    let (okay, out, err, rss) = bounded(
        &["init", s(&d.join("scan.db")), "--images", s(&images)],
        Duration::from_secs(60),
    );
    assert!(okay, "{out}\n{err}");
    assert!(
        out.contains("skipped 3 links leading out of the image folder"),
        "{out}"
    );
    assert!(rss < RSS_CEILING_KIB, "peak RSS {rss} KiB");
    let store = Store::open(&d.join("scan.db")).unwrap();
    let keys: Vec<String> = store
        .images()
        .unwrap()
        .into_iter()
        .map(|r| r.rec.key)
        .collect();
    assert_eq!(keys, ["n01440764/sparse.jpg"], "only the regular file");
    let sparse_row = store.image("n01440764/sparse.jpg").unwrap().unwrap();
    assert!(
        sparse_row
            .rec
            .error
            .as_deref()
            .unwrap_or("")
            .contains("over the 384 MiB limit"),
        "{sparse_row:?}"
    );

    // A manifest naming each: opened only as regular files, within the cap.
    let manifest = d.join("m.csv");
    std::fs::write(
        &manifest,
        "image\nn01440764/fifo.jpg\nn01440764/zero.jpg\nn01440764/sparse.jpg\n",
    )
    .unwrap();
    let (okay, out, err, rss) = bounded(
        &[
            "init",
            s(&d.join("m.db")),
            "--manifest",
            s(&manifest),
            "--images",
            s(&images),
        ],
        Duration::from_secs(60),
    );
    assert!(okay, "{out}\n{err}");
    assert!(rss < RSS_CEILING_KIB, "peak RSS {rss} KiB");
    assert!(out.contains("not a regular file"), "{out}");
    // `show` of each, under the same ceilings.
    for key in [
        "n01440764/fifo.jpg",
        "n01440764/zero.jpg",
        "n01440764/sparse.jpg",
    ] {
        let (okay, out, err, rss) =
            bounded(&["show", s(&d.join("m.db")), key], Duration::from_secs(30));
        assert!(okay, "{out}\n{err}");
        assert!(out.contains("image not drawn"), "{out}");
        assert!(rss < RSS_CEILING_KIB, "show {key}: peak RSS {rss} KiB");
    }
}

#[test]
fn show_never_reads_a_file_outside_the_image_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let images = d.join("images");
    std::fs::create_dir_all(&images).unwrap();
    std::fs::write(d.join("SECRET.txt"), "root:x:0:0:the secret").unwrap();
    let manifest = d.join("m.csv");
    std::fs::write(&manifest, "image\na.jpg\n").unwrap();
    let db = d.join("p.db");
    ok(&[
        "init",
        s(&db),
        "--manifest",
        s(&manifest),
        "--images",
        s(&images),
    ]);
    // As a project merged before keys were checked would hold it.
    Connection::open(&db)
        .unwrap()
        .execute_batch("INSERT INTO images(key, status) VALUES ('../SECRET.txt', 'missing');")
        .unwrap();
    let out = ok(&["show", s(&db), "../SECRET.txt"]);
    assert!(out.contains("image not drawn"), "{out}");
    assert!(
        out.contains("must be a relative path inside the image folder"),
        "{out}"
    );
    assert!(!out.contains("root:x") && !out.contains("secret"), "{out}");
}

#[test]
fn an_endless_line_in_a_gzip_stream_is_refused_in_bounded_memory() {
    let f = fixture();
    // One CSV line of 200 MB of "a", gzipped to a few hundred KB.
    let gz = f.dir.join("preds.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(b"image,rank,label,score\n").unwrap();
    let chunk = vec![b'a'; 1 << 20];
    for _ in 0..200 {
        enc.write_all(&chunk).unwrap();
    }
    enc.finish().unwrap();
    let before = contents(&f.target);
    let (okay, _out, err, rss) = bounded(
        &[
            "predictions",
            "import",
            s(&f.target),
            s(&gz),
            "--model",
            "m",
        ],
        Duration::from_secs(120),
    );
    assert!(!okay);
    assert!(err.contains("a line longer than 64 MiB"), "{err}");
    assert!(err.contains("preds.csv.gz:2:"), "the file and line: {err}");
    assert!(rss < RSS_CEILING_KIB, "peak RSS {rss} KiB");
    assert_eq!(contents(&f.target), before);
}

/// Every table's rows and the schema, in a comparable form. A failed `predictions import` had
/// the file to itself and went through a rollback journal (`Store::with_rollback_journal`): the
/// journal mode's switch and back leave the file's header changed (its change counter), not its
/// contents, so the file's bytes are not the measure of "left as it was" there.
fn contents(path: &Path) -> String {
    let conn =
        Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut schema: Vec<(String, String, Option<String>)> = conn
        .prepare("SELECT type, name, sql FROM sqlite_schema ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    schema.sort();
    let mut out = format!("{schema:?}\n");
    for (ty, name, _) in &schema {
        if ty != "table" {
            continue;
        }
        let mut rows = merge_support::rows(&conn, &format!("SELECT * FROM \"{name}\""));
        rows.sort();
        out.push_str(&format!("{name}: {}\n", rows.join("\n")));
    }
    out
}

#[test]
fn an_output_never_replaces_an_input_or_an_existing_file_unasked() {
    let f = fixture();
    let p = &f.target;
    let before = checksum(p);
    let err = fails(&["export", s(p), "--format", "csv", "-o", s(p)]);
    assert!(err.contains("is an input of this command"), "{err}");
    let err = fails(&["export", s(p), "--format", "csv", "-o", s(p), "--force"]);
    assert!(err.contains("is an input of this command"), "{err}");
    // Another project file is refused too, --force or not.
    let err = fails(&[
        "export",
        s(p),
        "--format",
        "csv",
        "-o",
        s(&f.alice),
        "--force",
    ]);
    assert!(err.contains("SQLite database"), "{err}");
    let err = fails(&["report", s(p), "--html", s(p), "--force"]);
    assert!(err.contains("is an input of this command"), "{err}");
    assert_eq!(checksum(p), before);

    let csv = f.dir.join("labels.csv");
    ok(&["export", s(p), "--format", "csv", "-o", s(&csv)]);
    let err = fails(&["export", s(p), "--format", "csv", "-o", s(&csv)]);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    ok(&["export", s(p), "--format", "csv", "-o", s(&csv), "--force"]);

    let plots = f.dir.join("plots");
    ok(&["report", s(p), "--plots", s(&plots)]);
    let err = fails(&["report", s(p), "--plots", s(&plots)]);
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    ok(&["report", s(p), "--plots", s(&plots), "--force"]);
}

proptest::proptest! {
    /// The escaping's promises (`fuzz_support::display_text` asserts them) on text rich in what
    /// a terminal obeys: C0, DEL, C1, the bidirectional controls, next to ordinary letters.
    #[test]
    fn display_leaves_nothing_a_terminal_obeys(
        text in "[\\x00-\\x1f\\x7f-\\u{9f}\\u{2028}\\u{2029}\\u{202a}-\\u{202e}\\u{2066}-\\u{2069}a-zé名\\\\ ]{0,40}"
    ) {
        crate::fuzz_support::display_text(text.as_bytes()).unwrap();
    }

    /// A real log damaged anywhere, or cut anywhere, is read to a whole committed frame or
    /// refused by its header, never more than the file holds.
    #[test]
    fn a_damaged_or_cut_log_is_read_to_whole_frames(
        flips in proptest::collection::vec((0usize..16512, 1u8..=255), 0..6),
        cut in 0usize..17000,
    ) {
        let mut wal = std::fs::read("tests/data/fuzz/wal_check/real-log").unwrap();
        let whole = labelvet::store::wal::check_wal(&wal[..], wal.len() as u64).unwrap();
        for (at, x) in &flips {
            wal[*at] ^= x;
        }
        wal.truncate(cut);
        match crate::fuzz_support::wal_check(&wal) {
            Ok(()) => {
                let c = labelvet::store::wal::check_wal(&wal[..], wal.len() as u64).unwrap();
                proptest::prop_assert!(c.committed_frames <= whole.committed_frames);
                if flips.is_empty() && cut >= whole.committed_bytes as usize {
                    proptest::prop_assert_eq!(c.committed_frames, whole.committed_frames);
                }
            }
            Err(why) => proptest::prop_assert!(!why.is_empty()),
        }
    }
}

#[test]
fn names_given_on_the_command_line_pass_the_same_door() {
    let f = fixture();
    // A look-alike of a name the project has, before the screen takes the terminal.
    let err = fails(&["annotate", s(&f.target), "--annotator", "le\u{430}d"]);
    assert!(err.contains("looks the same as \"lead\""), "{err}");
    let err = fails(&["annotate", s(&f.target), "--annotator", "x\u{1b}[2J"]);
    assert!(
        err.contains("ESC (U+001B)") && !err.contains('\u{1b}'),
        "{err}"
    );
    let err = fails(&[
        "checkout",
        s(&f.target),
        "--annotator",
        "le\u{200b}ad",
        "-o",
        s(&f.dir.join("x.db")),
    ]);
    assert!(err.contains("le\\u{200b}ad"), "{err}");
    // A model named with a control character, by --model or by the file's name.
    let preds = f.dir.join("p.csv");
    std::fs::write(&preds, "image,rank,label,score\nimg1,1,dog,0.9\n").unwrap();
    let err = fails(&[
        "predictions",
        "import",
        s(&f.target),
        s(&preds),
        "--model",
        "m\u{1b}]0;t\u{7}",
    ]);
    assert!(
        err.contains("model name") && err.contains("p.csv:2:"),
        "{err}"
    );
}

#[test]
fn init_refuses_a_file_name_that_would_command_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    std::fs::copy(
        "../shared/data/photos/imagenet_labeled/imagenet_00_243.jpg",
        images.join("ok.jpg"),
    )
    .unwrap();
    std::fs::write(images.join("q\u{1b}]0;x\u{7}\nforged.jpg"), b"x").unwrap();
    let db = dir.path().join("p.db");
    let out = labelvet(&["init", s(&db), "--images", s(&images)]);
    assert!(!out.status.success());
    no_control("init's error", &out.stderr);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("q\\x1b]0;x\\x07\\x0aforged.jpg") && err.contains("rename it"),
        "{err}"
    );
    assert!(!db.exists());
}
