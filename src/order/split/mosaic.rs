//! Rule 3 of [`super`]: each Siemens mosaic file of a group is a time point of its own.

use std::collections::BTreeMap;

use super::{Draft, split_by};
use crate::order::{Rule, SliceKey, SliceRef};
use crate::scan::InstanceHeader;

/// Splits a draft holding the tiles of several mosaic files into one time point per file,
/// numbered in Darwin order of the files; slices of other files (if any) stay together.
pub(super) fn split_mosaic_files(instances: &[InstanceHeader], draft: Draft) -> Vec<Draft> {
    let mut files: Vec<usize> = draft
        .slices
        .iter()
        .filter(|s| instances[s.instance].mosaic.is_some())
        .map(|s| s.instance)
        .collect();
    files.sort_unstable();
    files.dedup();
    if files.len() <= 1 {
        return vec![draft];
    }
    let key = |instance| SliceKey::of(SliceRef { instance, frame: 0 }, instances, None);
    files.sort_by(|&a, &b| key(a).compare(&key(b), Rule::Darwin));
    let count = files.len();
    let rank: BTreeMap<usize, usize> = files.iter().enumerate().map(|(k, &i)| (i, k)).collect();
    split_by(
        vec![draft],
        |s| rank.get(&s.instance).copied(),
        |k| match k {
            Some(k) => (
                format!("v{}", k + 1),
                format!(
                    "Siemens mosaic: time point {} of {count} (one file each)",
                    k + 1
                ),
            ),
            None => ("vnone".into(), "not a Siemens mosaic".into()),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::super::split_series;
    use crate::order::Rule;
    use crate::scan::{FrameHeader, InstanceHeader, Mosaic};

    #[test]
    fn each_mosaic_file_is_a_time_point_of_its_tiles() {
        // Two mosaic files of 3 tiles at the same positions (as the scan presents them).
        let mosaic = |path: &str, n: i64| InstanceHeader {
            number_of_frames: 3,
            frames: (0..3)
                .map(|k| FrameHeader {
                    image_position_patient: Some([0.0, 0.0, f64::from(k)]),
                    ..FrameHeader::default()
                })
                .collect(),
            mosaic: Some(Mosaic {
                tiles: 3,
                grid: 2,
                rows: 4,
                columns: 4,
                tile_rows: 2,
                tile_columns: 2,
                slice_normal: None,
                reversed: false,
            }),
            path: path.into(),
            instance_number: Some(n),
            image_orientation_patient: Some([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
            rows: Some(2),
            columns: Some(2),
            ..InstanceHeader::default()
        };
        let instances = [mosaic("t2", 2), mosaic("t1", 1)];
        let volumes = split_series(&instances, &[0, 1], Rule::Darwin);
        let ids: Vec<&str> = volumes.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, ["v1", "v2"]);
        assert!(volumes[0].slices.iter().all(|s| s.instance == 1));
        let frames: Vec<u32> = volumes[1].slices.iter().map(|s| s.frame).collect();
        assert_eq!(frames, [0, 1, 2]);
        assert!(
            volumes[1]
                .split_reason
                .as_deref()
                .unwrap()
                .contains("time point 2 of 2")
        );
    }
}
