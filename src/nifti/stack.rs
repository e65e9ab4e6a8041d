//! Which slices make one NIfTI file, and in which order they are stored. Pure code over the
//! scanned headers and the volumes `order` made.
//!
//! The volumes of a series that differ only by time point (split off as repeated positions
//! or by temporal position) are the volumes of one 4D file, in acquisition order, as dcm2niix
//! writes them. Other splits (size, orientation, echo, stack) give files of their own.
//! Within a time point, slices are stored in ascending position along the slice normal
//! (row × column direction): dcm2niix sorts by InstanceNumber and then reverses a descending
//! stack (its "flipZ"). A Siemens mosaic is one time point whose slices are its tiles.

use std::collections::BTreeMap;

use crate::order::SliceRef;
use crate::order::geometry::slice_normal;
use crate::order::split::{Volume, echo_time_label};
use crate::scan::InstanceHeader;

/// One NIfTI file to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    /// The volume id of the file (the ids of its volumes with their time-point labels left
    /// out; `0` when nothing is left), unique within the series.
    pub id: String,
    /// The ids of the volumes it holds, in time order.
    pub volumes: Vec<String>,
    /// Each time point's slices in storage order; for mosaics, the one mosaic file.
    pub time_points: Vec<Vec<SliceRef>>,
    /// Every time point is a Siemens mosaic file (ImageType MOSAIC).
    pub mosaic: bool,
}

/// Whether an instance is a Siemens mosaic (the scan presents its tiles as frames).
pub fn is_mosaic(header: &InstanceHeader) -> bool {
    header.mosaic.is_some()
}

/// Groups the volumes of one series into NIfTI files.
pub fn plan_stacks(instances: &[InstanceHeader], volumes: &[Volume]) -> Vec<Stack> {
    // dcm2niix keeps apart what differs in SeriesNumber (within one SeriesInstanceUID), echo
    // and complex component (magnitude, phase, real, imaginary): those parts of the id are
    // added where the series' volumes differ in them.
    let traits: Vec<[String; 3]> = volumes
        .iter()
        .map(|v| volume_traits(instances, v))
        .collect();
    let varies: Vec<bool> = (0..3)
        .map(|k| traits.iter().any(|t| t[k] != traits[0][k]))
        .collect();
    let mut groups: BTreeMap<String, Vec<&Volume>> = BTreeMap::new();
    for (volume, traits) in volumes.iter().zip(&traits) {
        let mut id = stack_id(&volume.id);
        for (k, label) in traits.iter().enumerate() {
            if varies[k] && !id.split('-').any(|part| part == label) {
                id = format!("{id}-{label}");
            }
        }
        groups.entry(id).or_default().push(volume);
    }
    let mut stacks = Vec::new();
    for (id, mut members) in groups {
        members.sort_by_key(|v| acquisition_key(instances, v));
        let mosaic = members
            .iter()
            .all(|v| v.slices.iter().all(|s| is_mosaic(&instances[s.instance])));
        if mosaic {
            // Each mosaic file is a time point, whatever volume holds it.
            let mut files: Vec<SliceRef> = members
                .iter()
                .flat_map(|v| v.slices.iter().filter(|s| s.frame == 0).copied())
                .collect();
            files.sort_by_key(|s| slice_acquisition_key(instances, *s));
            stacks.push(Stack {
                id,
                volumes: members.iter().map(|v| v.id.clone()).collect(),
                time_points: files.into_iter().map(|s| vec![s]).collect(),
                mosaic: true,
            });
            continue;
        }
        let time_points: Vec<Vec<SliceRef>> = members
            .iter()
            .map(|v| spatial_order(instances, v))
            .collect();
        let footprint = |slices: &[SliceRef]| footprint(instances, slices);
        let same_geometry = time_points
            .iter()
            .all(|t| footprint(t) == footprint(&time_points[0]));
        if same_geometry {
            stacks.push(Stack {
                id,
                volumes: members.iter().map(|v| v.id.clone()).collect(),
                time_points,
                mosaic: false,
            });
        } else {
            stacks.extend(members.iter().zip(time_points).map(|(v, t)| Stack {
                id: v.id.clone(),
                volumes: vec![v.id.clone()],
                time_points: vec![t],
                mosaic: false,
            }));
        }
    }
    stacks
}

/// One slice's size and place: rows and columns, then position (0.01 mm) and orientation
/// (0.001) as integers.
type SliceFootprint = (Option<(u16, u16)>, Option<[i64; 9]>);

/// What must be equal for volumes to be time points of one file: size, and the positions
/// and orientations of their slices in storage order (to 0.01 mm and 0.001).
fn footprint(instances: &[InstanceHeader], slices: &[SliceRef]) -> Vec<SliceFootprint> {
    slices
        .iter()
        .map(|s| {
            let h = &instances[s.instance];
            let place = h
                .frame_position(s.frame)
                .zip(h.frame_orientation(s.frame))
                .map(|(p, o)| {
                    let mut key = [0i64; 9];
                    for (k, v) in p.iter().enumerate() {
                        key[k] = (v * 100.0).round() as i64;
                    }
                    for (k, v) in o.iter().enumerate() {
                        key[3 + k] = (v * 1000.0).round() as i64;
                    }
                    key
                });
            (h.size(), place)
        })
        .collect()
}

/// What keeps volumes of a series in different files, as id labels: series number, echo
/// (echo time of an enhanced frame, else EchoNumbers) and complex component.
fn volume_traits(instances: &[InstanceHeader], volume: &Volume) -> [String; 3] {
    let Some(&s) = volume.slices.first() else {
        return Default::default();
    };
    let h = &instances[s.instance];
    let frame = h.frames.get(s.frame as usize);
    let number = h.series_number.map_or("none".into(), |n| n.to_string());
    let echo = match (frame.and_then(|f| f.echo_time), h.echo_number) {
        (Some(te), _) => echo_time_label(te),
        (None, Some(e)) => format!("e{e}"),
        (None, None) => "enone".into(),
    };
    let component = frame
        .and_then(|f| f.complex_component.clone())
        .or_else(|| h.complex_component.clone())
        .map_or("cnone".into(), |c| format!("c{}", c.to_lowercase()));
    [format!("n{number}"), echo, component]
}

/// A volume id without its time-point labels (`v3`, `t2`) and multi-frame file numbers
/// (`mf2`): the id of its 4D file.
fn stack_id(volume_id: &str) -> String {
    let kept: Vec<&str> = volume_id
        .split('-')
        .filter(|label| !is_time_label(label) && !is_file_label(label))
        .collect();
    if kept.is_empty() || kept == ["0"] {
        "0".to_string()
    } else {
        kept.join("-")
    }
}

fn is_file_label(label: &str) -> bool {
    label
        .strip_prefix("mf")
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

fn is_time_label(label: &str) -> bool {
    let mut chars = label.chars();
    matches!(chars.next(), Some('v' | 't'))
        && (chars.as_str() == "none"
            || (!chars.as_str().is_empty() && chars.all(|c| c.is_ascii_digit())))
}

/// Acquisition order of a volume: its first InstanceNumber, then AcquisitionNumber.
fn acquisition_key(instances: &[InstanceHeader], volume: &Volume) -> (i64, i64, String) {
    let first = volume
        .slices
        .iter()
        .map(|&s| slice_acquisition_key(instances, s))
        .min()
        .unwrap_or((i64::MAX, i64::MAX, 0, 0));
    (first.0, first.1, volume.id.clone())
}

fn slice_acquisition_key(instances: &[InstanceHeader], s: SliceRef) -> (i64, i64, usize, u32) {
    let h = &instances[s.instance];
    (
        h.instance_number.unwrap_or(i64::MAX),
        h.acquisition_number.unwrap_or(i64::MAX),
        s.instance,
        s.frame,
    )
}

/// The slices of a volume ascending along the slice normal; slices without a position keep
/// the volume's order (after those with one).
fn spatial_order(instances: &[InstanceHeader], volume: &Volume) -> Vec<SliceRef> {
    let normal = volume.normal.or_else(|| {
        volume
            .slices
            .iter()
            .find_map(|s| instances[s.instance].frame_orientation(s.frame))
            .and_then(|o| slice_normal(&o))
    });
    let mut slices = volume.slices.clone();
    let Some(normal) = normal else {
        return slices;
    };
    let distance = |s: &SliceRef| {
        instances[s.instance]
            .frame_position(s.frame)
            .map(|p| p[0] * normal[0] + p[1] * normal[1] + p[2] * normal[2])
    };
    // Stable: equal positions keep acquisition order.
    slices.sort_by_key(|s| slice_acquisition_key(instances, *s));
    slices.sort_by(|a, b| match (distance(a), distance(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    slices
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(z: f64, instance_number: i64) -> InstanceHeader {
        InstanceHeader {
            instance_number: Some(instance_number),
            image_position_patient: Some([0.0, 0.0, z]),
            image_orientation_patient: Some([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
            number_of_frames: 1,
            ..InstanceHeader::default()
        }
    }

    fn volume(id: &str, slices: &[usize]) -> Volume {
        Volume {
            id: id.into(),
            split_reason: None,
            normal: Some([0.0, 0.0, 1.0]),
            slices: slices
                .iter()
                .map(|&instance| SliceRef { instance, frame: 0 })
                .collect(),
        }
    }

    #[test]
    fn time_points_of_a_series_become_one_4d_file_in_acquisition_order() {
        // Two time points of three slices, acquired descending (instance 1 at the top).
        let instances: Vec<_> = [(8.0, 1), (4.0, 2), (0.0, 3), (8.0, 4), (4.0, 5), (0.0, 6)]
            .into_iter()
            .map(|(z, n)| slice(z, n))
            .collect();
        let volumes = [volume("v2", &[3, 4, 5]), volume("v1", &[0, 1, 2])];
        let stacks = plan_stacks(&instances, &volumes);
        assert_eq!(stacks.len(), 1);
        assert_eq!(stacks[0].id, "0");
        assert_eq!(stacks[0].volumes, ["v1", "v2"]);
        let order: Vec<Vec<usize>> = stacks[0]
            .time_points
            .iter()
            .map(|t| t.iter().map(|s| s.instance).collect())
            .collect();
        assert_eq!(order, [[2, 1, 0], [5, 4, 3]]);
    }

    #[test]
    fn echoes_stay_apart_and_time_labels_are_dropped() {
        assert_eq!(stack_id("e1-v2"), "e1");
        assert_eq!(stack_id("mf1-s1-t3"), "s1");
        assert_eq!(stack_id("mf12"), "0");
        assert_eq!(stack_id("0"), "0");
        assert_eq!(stack_id("v12"), "0");
        assert_eq!(stack_id("512x512-o2"), "512x512-o2");
    }
}
