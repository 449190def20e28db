//! The blind order of an image's candidates.
//!
//! Showing candidates in the store's order (original label first, then by model rank) would tell
//! the annotator which label the dataset or the models favour. Each annotator instead sees an
//! image's candidates in an order of their own, fixed per (image, annotator) so that reopening a
//! project shows the same screen, and different between annotators so that position biases do not
//! line up across them. The order comes from a fixed hash (FNV-1a, then a SplitMix64 finaliser)
//! rather than `std`'s `RandomState`, whose keys change with every process.

/// A 64-bit hash of the parts, stable across processes, platforms and releases.
pub fn stable_hash(parts: &[&str]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for part in parts {
        for &b in part.as_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
        // A separator byte that UTF-8 text never holds, so ("ab", "c") and ("a", "bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(PRIME);
    }
    splitmix64(h)
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Sorts `items` into the blind order of `image` for `annotator`. Each label gets its own hash, so
/// a candidate added later (a new model imported) slots in without reshuffling the others.
pub fn blind_sort<T>(items: &mut [T], image: &str, annotator: &str, label: impl Fn(&T) -> &str) {
    items.sort_by_cached_key(|it| {
        let l = label(it);
        (stable_hash(&[image, annotator, l]), l.to_string())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_fixed_across_releases() {
        // Pinned, each value computed by an independent Python FNV-1a + SplitMix64: changing the
        // hash would silently reshuffle every annotator's screen.
        assert_eq!(stable_hash(&[]), 0xc381_7c01_6ba4_ff30);
        // The separator keeps part boundaries apart.
        assert_eq!(stable_hash(&["a", "bc"]), 0xc759_ca85_f43a_a8c1);
        assert_eq!(stable_hash(&["ab", "c"]), 0x2f98_a392_c69b_efec);
        // Non-ASCII text hashes its UTF-8 bytes.
        assert_eq!(stable_hash(&["é"]), 0x975d_7cf5_66bf_5842);
        assert_eq!(
            stable_hash(&["img.jpg", "alice", "n01440764"]),
            0x9f8d_1da8_1b39_90ce
        );
    }

    #[test]
    fn adding_a_label_keeps_the_others_in_their_order() {
        let mut three = vec!["n1", "n2", "n3"];
        blind_sort(&mut three, "img", "ann", |s| s);
        let mut four = vec!["n4", "n3", "n2", "n1"];
        blind_sort(&mut four, "img", "ann", |s| s);
        four.retain(|l| *l != "n4");
        assert_eq!(three, four);
    }
}
