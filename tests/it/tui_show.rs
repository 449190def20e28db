//! `labelvet show`: the text part (candidates, provenance, every annotator's answers, flags).

use crate::annotate_support;

use annotate_support::project;
use labelvet::annotate::describe;
use labelvet::store::{Answer, FlagKind};

#[test]
fn the_text_names_candidates_provenance_answers_and_flags() {
    let p = project(2);
    let store = p.open();
    let key = &p.keys[0];
    store
        .append_answer(key, "n02108422", Answer::Yes, "alice", "s1", None)
        .unwrap();
    let wrong = store
        .append_answer(key, "n02108089", Answer::Yes, "alice", "s1", None)
        .unwrap();
    store.append_retraction(&wrong, "s1").unwrap();
    store
        .append_answer(key, "n02108089", Answer::No, "alice", "s1", None)
        .unwrap();
    store
        .append_answer(key, "n02108422", Answer::Maybe, "bob", "s2", None)
        .unwrap();
    store
        .append_flag(
            key,
            FlagKind::Expert,
            "mastiff or boxer cross?",
            "bob",
            "s2",
        )
        .unwrap();

    let text = describe(&store, key, Some("bob")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "{key}  512×512  {} bytes  ok",
            std::fs::metadata(p.root.join(key)).unwrap().len()
        )
    );
    assert_eq!(lines[1], "original label: bull mastiff (n02108422)");
    assert!(text.contains("\ncandidates (6):\n"), "{text}");
    // The original label leads, with every model's rank and score.
    assert!(
        lines[4].starts_with("  n02108422  bull mastiff ")
            && lines[4].ends_with(
                "original, efficientnet_lite0 #1 0.678, efficientnet_lite1 #1 0.499, \
                 efficientnet_lite2 #1 0.454"
            ),
        "{}",
        lines[4]
    );
    assert_eq!(lines[5], "      canine > dog > working dog > bull mastiff");
    // Standing answers of everyone, the asking annotator first; alice's retracted yes is gone.
    assert_eq!(lines[6], "      answers: bob (you) maybe, alice yes");
    assert!(text.contains("  n02108089  boxer "), "{text}");
    assert!(text.contains("      answers: alice no\n"), "{text}");
    assert!(!text.contains("alice yes, alice"), "{text}");
    assert!(
        text.ends_with("\nflags:\n  needs an expert by bob: mastiff or boxer cross?\n"),
        "{text}"
    );

    let none = describe(&store, &p.keys[1], None).unwrap();
    assert!(none.ends_with("\nflags: none\n"), "{none}");
    assert!(!none.contains("answers:"), "{none}");

    let err = describe(&store, "nope.jpg", None).unwrap_err().to_string();
    assert!(err.starts_with("no image `nope.jpg` in "), "{err}");
}

fn show_bin(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_labelvet"))
        .arg("show")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn show_through_a_pipe_draws_half_blocks_then_the_text() {
    let p = project(2);
    let out = show_bin(&[p.db.as_os_str(), p.keys[0].as_ref()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let text_at = stdout.find(&format!("{}  512×512", p.keys[0])).unwrap();
    let (picture, text) = stdout.split_at(text_at);
    // Not a terminal: viuer's half-blocks with colour escapes, never a graphics protocol.
    assert!(
        picture.contains('▄') && picture.contains("\u{1b}["),
        "{picture:?}"
    );
    assert!(picture.lines().count() >= 10, "{picture:?}");
    assert!(
        !picture.contains("\u{1b}_G"),
        "no kitty graphics through a pipe"
    );
    assert!(text.contains("\ncandidates (6):\n"), "{text}");
    assert!(text.ends_with("flags: none\n"), "{text}");
}

/// `labelvet show ... | head`: the reader is gone (here before the first byte, so every write
/// fails); show ends quietly and successfully, as ripgrep and cat do, without "Broken pipe".
#[test]
fn show_into_a_closed_pipe_ends_quietly() {
    use std::os::fd::FromRawFd;
    let p = project(2);
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills two descriptors; the read end is closed at once, the write end
    // is owned by the child's stdout.
    let writer = unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        libc::close(fds[0]);
        std::os::fd::OwnedFd::from_raw_fd(fds[1])
    };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_labelvet"))
        .arg("show")
        .arg(&p.db)
        .arg(&p.keys[0])
        .stdout(std::process::Stdio::from(writer))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn show_prints_the_text_and_the_reason_when_the_picture_cannot_be_drawn() {
    let p = project(2);
    let file = p.root.join(&p.keys[1]);
    std::fs::write(&file, b"\xff\xd8\xff\xe0 not a whole JPEG").unwrap();
    let out = show_bin(&[p.db.as_os_str(), p.keys[1].as_ref()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let first = stdout.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("(image not drawn: {}: ", file.display())),
        "{first}"
    );
    assert!(stdout.contains(&format!("\n{}  ", p.keys[1])), "{stdout}");
    assert!(stdout.contains("candidates ("), "{stdout}");

    std::fs::remove_file(&file).unwrap();
    let out = show_bin(&[p.db.as_os_str(), p.keys[1].as_ref()]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("(image not drawn: "), "{stdout}");
    assert!(
        stdout.lines().next().unwrap().contains("(os error 2)"),
        "{stdout}"
    );

    let out = show_bin(&[p.db.as_os_str(), "no/such.jpg".as_ref()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no image `no/such.jpg`"), "{stderr}");
}
