//! Counts in messages: "1 annotator", "2 annotators". A wrong plural is the first thing a reader
//! notices in a tool's output, and every message counts something.

/// `n` and the noun, plural unless `n` is 1: `count(1, "image")` is `1 image`.
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {}", plural(noun))
    }
}

/// The noun's plural: `-es` after s, x, z, ch and sh (`class`, `box`), `-s` otherwise. A phrase
/// takes the plural on its first word when it ends in a counted-noun phrase (`answer by`), so
/// only a noun or a noun phrase ending in the noun is given here.
pub fn plural(noun: &str) -> String {
    if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|e| noun.ends_with(e))
    {
        format!("{noun}es")
    } else {
        format!("{noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(count(1u64, "image"), "1 image");
        assert_eq!(count(0u64, "image"), "0 images");
        assert_eq!(count(2u64, "class"), "2 classes");
        assert_eq!(count(3u32, "classify answer"), "3 classify answers");
    }
}
