//! Ordering diagnostics for `--explain`: does InstanceNumber follow space, do positions repeat,
//! and where do gaps in slice spacing suggest missing slices. Pure code.

use crate::contract::order_report::{Diagnostics, DuplicatePosition, Gap};

/// Tolerance (mm) when judging whether positions move monotonically (dcm2niix uses 0.2 mm).
const MONOTONIC_TOLERANCE: f64 = 0.2;
/// A step this many times the median spacing is reported as a gap.
const GAP_FACTOR: f64 = 1.5;

/// Diagnoses a volume from its slices' (InstanceNumber, position along the normal).
pub fn diagnose(slices: &[(Option<i64>, Option<f64>)]) -> Diagnostics {
    let round = |p: f64| (p * 100.0).round() / 100.0;
    let mut positions: Vec<f64> = slices.iter().filter_map(|s| s.1).map(round).collect();
    positions.sort_by(f64::total_cmp);

    let mut distinct: Vec<(f64, usize)> = Vec::new();
    for p in positions {
        match distinct.last_mut() {
            Some((last, count)) if *last == p => *count += 1,
            _ => distinct.push((p, 1)),
        }
    }
    let duplicate_positions = distinct
        .iter()
        .filter(|(_, count)| *count > 1)
        .map(|&(position, count)| DuplicatePosition { position, count })
        .collect();

    let steps: Vec<f64> = distinct.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let slice_spacing = median(&steps);
    let gaps = match slice_spacing {
        Some(spacing) if spacing > 0.0 => distinct
            .windows(2)
            .filter(|w| w[1].0 - w[0].0 > GAP_FACTOR * spacing)
            .map(|w| {
                let step = w[1].0 - w[0].0;
                Gap {
                    from_position: w[0].0,
                    to_position: w[1].0,
                    step: round(step),
                    missing_slices: ((step / spacing).round() as u32).saturating_sub(1),
                }
            })
            .collect(),
        _ => Vec::new(),
    };

    let (matches, direction) = instance_direction(slices);
    Diagnostics {
        instance_order_matches_spatial: matches,
        instance_direction: direction,
        duplicate_positions,
        slice_spacing: slice_spacing.map(round),
        gaps,
        slices_without_position: slices.iter().filter(|s| s.1.is_none()).count(),
    }
}

/// Whether positions are monotonic in InstanceNumber order, and in which direction.
fn instance_direction(slices: &[(Option<i64>, Option<f64>)]) -> (Option<bool>, Option<String>) {
    let mut known: Vec<(i64, f64)> = slices.iter().filter_map(|&(n, p)| Some((n?, p?))).collect();
    if known.len() < 2 {
        return (None, None);
    }
    known.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let steps: Vec<f64> = known.windows(2).map(|w| w[1].1 - w[0].1).collect();
    let ascending = steps.iter().all(|&d| d >= -MONOTONIC_TOLERANCE);
    let descending = steps.iter().all(|&d| d <= MONOTONIC_TOLERANCE);
    let net = known[known.len() - 1].1 - known[0].1;
    match (ascending, descending) {
        (true, true) if net == 0.0 => (Some(true), None),
        (true, _) if net >= 0.0 => (Some(true), Some("ascending".into())),
        (_, true) => (Some(true), Some("descending".into())),
        _ => (Some(false), None),
    }
}

fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slices(values: &[(i64, f64)]) -> Vec<(Option<i64>, Option<f64>)> {
        values.iter().map(|&(n, p)| (Some(n), Some(p))).collect()
    }

    #[test]
    fn regular_descending_volume() {
        let d = diagnose(&slices(&[(1, 10.0), (2, 5.0), (3, 0.0)]));
        assert_eq!(d.instance_order_matches_spatial, Some(true));
        assert_eq!(d.instance_direction.as_deref(), Some("descending"));
        assert_eq!(d.slice_spacing, Some(5.0));
        assert!(d.gaps.is_empty());
        assert!(d.duplicate_positions.is_empty());
    }

    #[test]
    fn a_missing_slice_shows_as_a_gap() {
        // Like dicom2nifti's sliceincrement case: steps 5, 5, 10.
        let d = diagnose(&slices(&[(7, 0.0), (8, 5.0), (9, 10.0), (10, 20.0)]));
        assert_eq!(
            d.gaps,
            vec![Gap {
                from_position: 10.0,
                to_position: 20.0,
                step: 10.0,
                missing_slices: 1
            }]
        );
    }

    #[test]
    fn shuffled_instance_numbers_do_not_match_space() {
        let d = diagnose(&slices(&[(1, 0.0), (2, 10.0), (3, 5.0)]));
        assert_eq!(d.instance_order_matches_spatial, Some(false));
        assert_eq!(d.instance_direction, None);
    }

    #[test]
    fn duplicates_and_unknown_positions_are_counted() {
        let mut s = slices(&[(1, 61.5), (2, 61.5), (3, 61.5)]);
        s.push((Some(4), None));
        let d = diagnose(&s);
        assert_eq!(
            d.duplicate_positions,
            vec![DuplicatePosition {
                position: 61.5,
                count: 3
            }]
        );
        assert_eq!(d.slices_without_position, 1);
        assert_eq!(d.slice_spacing, None);
    }

    #[test]
    fn too_little_to_judge_gives_null() {
        assert_eq!(
            diagnose(&[(None, Some(1.0)), (Some(2), None)]).instance_order_matches_spatial,
            None
        );
        assert_eq!(median(&[1.0, 3.0]), Some(2.0));
    }
}
