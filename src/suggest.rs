//! "Did you mean": the nearest of a set of names to one a person typed.
//!
//! A misspelt class name or image key is the most common way a command fails for a new user, and
//! a list of every class or image is no help. One ranking serves every place a person types a
//! name (class flags, `--subtree`, the screen's go-to prompt): case-insensitive containment first
//! (`chelsea` finds `curated/skimage__chelsea.png`), then edit distance within about a third of
//! the name's length (`Norfolk terier` finds `Norfolk terrier`).

/// Up to `n` of `candidates` nearest to `query`, best first; none when nothing is near.
pub fn nearest<'a>(
    query: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    n: usize,
) -> Vec<&'a str> {
    let q = query.trim().to_lowercase();
    if q.is_empty() || n == 0 {
        return Vec::new();
    }
    let qlen = q.chars().count();
    let max_distance = (qlen / 3).clamp(1, 4);
    let mut scored: Vec<(usize, usize, &'a str)> = Vec::new();
    for c in candidates {
        let lower = c.to_lowercase();
        let clen = lower.chars().count();
        let score = if lower.contains(&q) || (clen >= 3 && q.contains(&lower)) {
            // Containment ranks before any typo, the closest in length first.
            Some(clen.abs_diff(qlen))
        } else if clen.abs_diff(qlen) <= max_distance {
            let d = levenshtein(&q, &lower);
            (d <= max_distance).then_some(1000 + d)
        } else {
            None
        };
        if let Some(s) = score {
            scored.push((s, clen, c));
        }
    }
    scored.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    let mut out: Vec<&'a str> = Vec::new();
    for (_, _, c) in scored {
        if !out.contains(&c) {
            out.push(c);
            if out.len() == n {
                break;
            }
        }
    }
    out
}

/// Edit distance (insertions, deletions, substitutions) between two strings, by characters.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// `; did you mean a, b or c?`, or nothing when there is no suggestion.
pub fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!("; did you mean {one}?"),
        [init @ .., last] => format!("; did you mean {} or {last}?", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(levenshtein("terier", "terrier"), 1);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }

    #[test]
    fn containment_then_typos() {
        let keys = [
            "curated/skimage__chelsea.png",
            "curated/coffee.png",
            "a/b.jpg",
        ];
        assert_eq!(
            nearest("chelsea", keys, 3),
            vec!["curated/skimage__chelsea.png"]
        );
        let names = ["Norfolk terrier", "Norwich terrier", "Yorkshire terrier"];
        assert_eq!(nearest("norfolk terier", names, 1), vec!["Norfolk terrier"]);
        assert!(nearest("zebu", names, 3).is_empty());
        assert_eq!(
            did_you_mean(&["a".into(), "b".into(), "c".into()]),
            "; did you mean a, b or c?"
        );
    }
}
