//! The first byte range a bucket header scan asks for, learned per folder (key prefix): the
//! files of a series sit under one prefix and have headers of about one length, so after the
//! first files of a prefix the range fits that length with a little room, and a typical file
//! still costs one ranged GET while reading about its header only (not a fixed 64 KiB).

use std::collections::HashMap;
use std::sync::Mutex;

/// Range asked for under a prefix not met yet: covers most headers (2-8 KB) in one GET.
pub const INITIAL_RANGE: u64 = 8 << 10;
/// A learned range never grows beyond this (longer headers take more GETs).
pub const MAX_RANGE: u64 = 1 << 20;
/// Ranges are whole multiples of this.
const GRANULE: u64 = 256;

/// Learned first ranges by key prefix; shared by the scan threads.
#[derive(Debug, Default)]
pub struct FirstRanges {
    learned: Mutex<HashMap<String, u64>>,
}

/// The folder part of `key` (`a/b` for `a/b/c.dcm`, empty for `c.dcm`).
fn prefix(key: &str) -> &str {
    key.rsplit_once('/').map_or("", |(folder, _)| folder)
}

/// The range that holds a header of `needed` bytes, with room for the variation between
/// files of a series (longer descriptions, an extra private tag): 1/16 more, plus 256 bytes.
pub fn range_for(needed: u64) -> u64 {
    (needed + needed / 16 + GRANULE)
        .next_multiple_of(GRANULE)
        .min(MAX_RANGE)
}

impl FirstRanges {
    /// Bytes to ask for first when reading the header of `key`.
    pub fn first(&self, key: &str) -> u64 {
        let learned = self.learned.lock().unwrap_or_else(|e| e.into_inner());
        learned.get(prefix(key)).copied().unwrap_or(INITIAL_RANGE)
    }

    /// Records that the header of `key` needed `needed` bytes: the first file of a prefix sets
    /// its range (smaller or larger than [`INITIAL_RANGE`]); later files only grow it.
    pub fn learn(&self, key: &str, needed: u64) {
        let wanted = range_for(needed);
        let mut learned = self.learned.lock().unwrap_or_else(|e| e.into_inner());
        learned
            .entry(prefix(key).to_string())
            .and_modify(|range| *range = (*range).max(wanted))
            .or_insert(wanted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_prefixes_start_at_the_initial_range() {
        let ranges = FirstRanges::default();
        assert_eq!(ranges.first("s1/a.dcm"), INITIAL_RANGE);
        assert_eq!(ranges.first("a.dcm"), INITIAL_RANGE);
    }

    #[test]
    fn a_prefix_learns_its_header_length_shrinking_then_only_growing() {
        let ranges = FirstRanges::default();
        ranges.learn("study/s1/a.dcm", 1226);
        let small = ranges.first("study/s1/b.dcm");
        assert!((1226..=2 * 1226).contains(&small), "{small}");
        assert_eq!(small % 256, 0);
        ranges.learn("study/s1/c.dcm", 1000);
        assert_eq!(ranges.first("study/s1/d.dcm"), small, "never shrinks again");
        ranges.learn("study/s1/e.dcm", 120_000);
        assert!(ranges.first("study/s1/f.dcm") >= 120_000);
        assert_eq!(
            ranges.first("study/s2/a.dcm"),
            INITIAL_RANGE,
            "other series"
        );
        ranges.learn("top.dcm", 300);
        assert_eq!(ranges.first("other.dcm"), range_for(300));
    }

    #[test]
    fn ranges_have_room_and_a_ceiling() {
        assert_eq!(range_for(0), 256);
        assert!(range_for(8000) >= 8500 && range_for(8000) <= 9216);
        assert_eq!(range_for(50 << 20), MAX_RANGE);
    }
}
