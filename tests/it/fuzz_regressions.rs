//! Inputs the fuzz targets (fuzz/, see fuzz/README.md) once found troublesome, replayed through
//! the same code: each must give Ok or a clean error, never a panic. The folders under
//! tests/data/fuzz/ are named after the targets; a folder may be empty or absent.

use crate::fuzz_support;

use std::path::Path;

#[test]
fn every_saved_fuzz_input_gives_ok_or_a_clean_error() {
    let root = Path::new("tests/data/fuzz");
    let mut replayed = 0;
    for (target, run) in fuzz_support::TARGETS {
        let dir = root.join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(e)) => assert!(!e.is_empty(), "{}: an empty error", file.display()),
                Err(_) => panic!("{}: {target} panicked", file.display()),
            }
            replayed += 1;
        }
    }
    // Every folder present is a known target, so an input cannot sit unreplayed.
    for e in std::fs::read_dir(root).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            fuzz_support::TARGETS.iter().any(|(t, _)| *t == name),
            "tests/data/fuzz/{name} is no fuzz target"
        );
    }
    assert!(replayed > 0, "no saved inputs under {}", root.display());
}

/// The seeds that reach deep into each parser do what a user would expect of them, so the
/// harness is known to get past the front checks (a harness that failed every input early
/// would let the fuzzer find nothing).
#[test]
fn well_formed_inputs_pass_every_target() {
    let predictions =
        b"image,model,rank,label,score\na.jpg,m,1,cat,0.9\na.jpg,m,2,1,0.1\nb.jpg,m,1,dog,0.5\n";
    assert_eq!(fuzz_support::predictions(predictions), Ok(()));
    let jsonl = br#"{"image":"a.jpg","model":"m","topk":[{"label":"cat","score":0.9}]}"#;
    assert_eq!(fuzz_support::predictions(jsonl), Ok(()));
    let answers = b"\x00image,label,annotator,answer\na.jpg,cat,x,yes\nb.jpg,1,y,no\n";
    assert_eq!(fuzz_support::judgments(answers), Ok(()));
    let prodigy = b"\x03{\"image\":\"a.jpg\",\"label\":\"dog\",\"_annotator_id\":\"x\",\"answer\":\"accept\"}\n";
    assert_eq!(fuzz_support::judgments(prodigy), Ok(()));
    let classify = b"\x01{\"image\":\"a.jpg\",\"present\":[\"cat\",1],\"main\":0,\"objects\":3}\n";
    assert_eq!(fuzz_support::classify(classify), Ok(()));
    assert_eq!(
        fuzz_support::vocab(fuzz_support::VOCAB_TSV.as_bytes()),
        Ok(())
    );
    assert_eq!(
        fuzz_support::manifest_or_labels(b"\x00image,label\na.jpg,cat\nc.jpg,\n"),
        Ok(())
    );
    assert_eq!(
        fuzz_support::manifest_or_labels(b"\x01a.jpg,cat\nb.jpg,dog\n"),
        Ok(())
    );
    // A whole project file is a sound merge source.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    let vocab = labelvet::vocab::Vocab::from_reader(
        "fuzz",
        Path::new("vocab.tsv"),
        fuzz_support::VOCAB_TSV.as_bytes(),
    )
    .unwrap();
    drop(labelvet::store::Store::create(&db, &vocab).unwrap());
    assert_eq!(
        fuzz_support::merge_source(&std::fs::read(&db).unwrap()),
        Ok(())
    );
    // And the errors are the ones a user would see.
    let unknown = fuzz_support::predictions(b"image,model,rank,label,score\nz.jpg,m,1,cat,1\n");
    assert!(unknown.unwrap_err().contains("z.jpg"));
    assert!(fuzz_support::merge_source(b"not a database").is_err());
}

/// A vocabulary chaining thousands of classes by parent links once took a path per class as long
/// as the chain (time and memory growing with its square); paths now stop at a fixed depth, as
/// they stop at a cycle, and the hierarchy queries still see the whole chain.
#[test]
fn a_deep_parent_chain_is_read_with_bounded_paths() {
    let n = 3000;
    let mut text = String::from("key,name,parent\n");
    for i in 0..n {
        let parent = if i == 0 {
            String::new()
        } else {
            format!("k{}", i - 1)
        };
        text.push_str(&format!("k{i},name{i},{parent}\n"));
    }
    let vocab =
        labelvet::vocab::Vocab::from_reader("chain", Path::new("chain.csv"), text.as_bytes())
            .unwrap();
    let deepest = vocab.get(&format!("k{}", n - 1)).unwrap();
    assert_eq!(deepest.path.len(), labelvet::vocab::MAX_PATH_DEPTH);
    assert_eq!(deepest.path.last().unwrap(), &format!("name{}", n - 1));
    assert_eq!(vocab.get("k0").unwrap().path, ["name0"]);
    // The subtree query follows parent keys, not the capped path.
    assert_eq!(vocab.subtree("k0").unwrap().len(), n);
}
