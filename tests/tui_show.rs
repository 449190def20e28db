//! `labelvet show`: the text part (candidates, provenance, every annotator's answers, flags).

mod annotate_support;

use annotate_support::project;
use labelvet::store::{Answer, FlagKind};
use labelvet::tui::describe;

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
