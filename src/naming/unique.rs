//! Deterministic collision resolution.

use std::collections::HashSet;

use super::clean::{NAME_MAX_BYTES, truncate_utf8};
use super::template::with_extension;

/// Unique names for `entries` (`(name, extension the name ends with, order)`), returned in
/// the entries' order. Names that are equal ignoring case (the same file on case-insensitive
/// file systems) are a collision: sorted by `order`, the first keeps its name and the others
/// get `-2`, `-3`… before the extension (skipping any name already in use), the name shortened
/// to stay within [`NAME_MAX_BYTES`]. The result depends on the entries and their `order`
/// only, never on the order they are passed in (when the `order`s are distinct).
pub fn deduplicate<K: Ord>(entries: &[(String, &str, K)]) -> Vec<String> {
    let folded: Vec<String> = entries
        .iter()
        .map(|(name, ..)| name.to_lowercase())
        .collect();
    let mut taken: HashSet<String> = folded.iter().cloned().collect();
    let mut sorted: Vec<usize> = (0..entries.len()).collect();
    sorted.sort_by(|&a, &b| {
        folded[a]
            .cmp(&folded[b])
            .then_with(|| entries[a].2.cmp(&entries[b].2))
    });
    let mut names: Vec<String> = entries.iter().map(|(name, ..)| name.clone()).collect();
    let mut next_suffix = 2;
    for pair in sorted.windows(2) {
        let (previous, index) = (pair[0], pair[1]);
        if folded[previous] != folded[index] {
            next_suffix = 2;
            continue;
        }
        let (name, extension, _) = &entries[index];
        let stem = name.strip_suffix(*extension).unwrap_or(name);
        loop {
            let suffix = format!("-{next_suffix}");
            next_suffix += 1;
            let room = NAME_MAX_BYTES.saturating_sub(suffix.len());
            let candidate = with_extension(
                &format!(
                    "{}{suffix}",
                    truncate_utf8(stem, room.saturating_sub(extension.len()))
                ),
                extension,
            );
            if taken.insert(candidate.to_lowercase()) {
                names[index] = candidate;
                break;
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(entries: &[(&str, u32)]) -> Vec<String> {
        let entries: Vec<(String, &str, u32)> = entries
            .iter()
            .map(|(name, order)| (format!("{name}.mp4"), ".mp4", *order))
            .collect();
        deduplicate(&entries)
    }

    #[test]
    fn colliding_names_get_suffixes_in_order() {
        assert_eq!(
            names(&[
                ("CT_2_Chest", 3),
                ("MR_1", 0),
                ("CT_2_Chest", 1),
                ("ct_2_chest", 2)
            ]),
            [
                "CT_2_Chest-3.mp4",
                "MR_1.mp4",
                "CT_2_Chest.mp4",
                "ct_2_chest-2.mp4"
            ]
        );
    }

    #[test]
    fn the_result_does_not_depend_on_the_input_order() {
        let entries = [("a", 5), ("a", 1), ("b", 2), ("a", 9), ("b", 0)];
        let forward = names(&entries);
        let mut reversed: Vec<(&str, u32)> = entries.to_vec();
        reversed.reverse();
        let mut backward = names(&reversed);
        backward.reverse();
        assert_eq!(forward, backward);
        assert_eq!(forward, ["a-2.mp4", "a.mp4", "b-2.mp4", "a-3.mp4", "b.mp4"]);
    }

    #[test]
    fn suffixes_skip_names_in_use() {
        assert_eq!(
            names(&[("a", 0), ("a", 1), ("a-2", 2)]),
            ["a.mp4", "a-3.mp4", "a-2.mp4"]
        );
    }

    #[test]
    fn suffixed_names_stay_within_the_bound() {
        let long = "é".repeat(62); // 124 bytes + ".mp4" = 128
        let out = names(&[(&long, 0), (&long, 1)]);
        assert_eq!(out[0].len(), NAME_MAX_BYTES);
        assert!(out[1].len() <= NAME_MAX_BYTES, "{}", out[1].len());
        assert!(out[1].ends_with("-2.mp4"), "{}", out[1]);
        assert_ne!(out[0], out[1]);
    }

    #[test]
    fn names_without_extension() {
        let entries = vec![
            ("CT_2".to_string(), "", "1.2.3"),
            ("CT_2".to_string(), "", "1.2.4"),
        ];
        assert_eq!(deduplicate(&entries), ["CT_2", "CT_2-2"]);
    }
}
