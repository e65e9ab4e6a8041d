//! Which shard each series goes to: largest series first, each onto the least loaded shard
//! (the lowest-numbered among equals), series of equal size by their key. The same series and
//! sizes always give the same assignment. Pure code.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A series to place: its key (study and series UID) and its size in slices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesLoad<K> {
    pub key: K,
    pub slices: u64,
}

/// The shard of every series (in the order of `series`), for `shards` shards (at least one).
pub fn balance<K: Ord>(series: &[SeriesLoad<K>], shards: usize) -> Vec<usize> {
    let shards = shards.max(1);
    let mut order: Vec<usize> = (0..series.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&series[a], &series[b]);
        b.slices.cmp(&a.slices).then_with(|| a.key.cmp(&b.key))
    });
    let mut loads: BinaryHeap<Reverse<(u64, usize)>> =
        (0..shards).map(|shard| Reverse((0, shard))).collect();
    let mut assignment = vec![0; series.len()];
    for i in order {
        // The heap always holds every shard.
        let Some(Reverse((load, shard))) = loads.pop() else {
            break;
        };
        assignment[i] = shard;
        loads.push(Reverse((load + series[i].slices, shard)));
    }
    assignment
}

/// Slices per shard under `assignment`.
pub fn shard_loads<K>(series: &[SeriesLoad<K>], assignment: &[usize], shards: usize) -> Vec<u64> {
    let mut loads = vec![0; shards.max(1)];
    for (load, &shard) in series.iter().zip(assignment) {
        loads[shard] += load.slices;
    }
    loads
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loads(sizes: &[(&'static str, u64)]) -> Vec<SeriesLoad<&'static str>> {
        sizes
            .iter()
            .map(|&(key, slices)| SeriesLoad { key, slices })
            .collect()
    }

    #[test]
    fn largest_first_onto_the_least_loaded_shard() {
        let series = loads(&[("a", 1), ("b", 5), ("c", 3), ("d", 3), ("e", 2)]);
        // b (5) → 0; c (3, before d by key) → 1; d → 1 (3 < 5); e → 0 (5 < 6); a → 1 (6 < 7).
        let assignment = balance(&series, 2);
        assert_eq!(assignment, vec![1, 0, 1, 1, 0]);
        assert_eq!(shard_loads(&series, &assignment, 2), vec![7, 7]);
    }

    #[test]
    fn equal_sizes_go_by_key_whatever_the_input_order() {
        let forward = loads(&[("x", 4), ("y", 4), ("z", 4)]);
        let backward = loads(&[("z", 4), ("y", 4), ("x", 4)]);
        assert_eq!(balance(&forward, 3), vec![0, 1, 2]);
        assert_eq!(balance(&backward, 3), vec![2, 1, 0]);
    }

    #[test]
    fn more_shards_than_series_leaves_shards_empty() {
        let series = loads(&[("a", 2), ("b", 1)]);
        let assignment = balance(&series, 4);
        assert_eq!(shard_loads(&series, &assignment, 4), vec![2, 1, 0, 0]);
        assert_eq!(balance(&series, 0), vec![0, 0], "at least one shard");
    }
}
