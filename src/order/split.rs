//! Volume splitting: which slices of a series can share one video, and why the others were
//! split off. Pure code over [`InstanceHeader`]s.
//!
//! Rules, applied in this order (each only splits when its values differ within a group):
//! 1. every multi-frame file is its own volume (V7 Darwin: a file with more than one volume gets
//!    its own slot), split further by StackID and TemporalPositionIndex of its frames;
//! 2. single-frame files split by image size, then orientation (localizers), then echo number,
//!    then complex component (GE's magnitude, phase, real and imaginary images), then
//!    TemporalPositionIdentifier; multi-frame files also by their frames' echo time and
//!    complex component;
//! 3. Siemens mosaics go through rule 2 as files of tiles; then each mosaic file of a group is a
//!    time point of its own (one file holds one time point's slices);
//! 4. any other group whose positions repeat is split into time points by occurrence, in Darwin
//!    order (the way dcm2niix detects 4D series).

mod mosaic;

use std::collections::BTreeMap;

use crate::order::geometry::{same_orientation, slice_normal};
use crate::order::{Rule, SliceKey, SliceRef, order_slices};
use crate::scan::InstanceHeader;
use mosaic::split_mosaic_files;

/// Orientation cosines closer than this are the same plane.
const ORIENTATION_TOLERANCE: f64 = 1e-3;
/// Positions are compared after rounding to this many steps per mm (0.01 mm).
const POSITION_STEPS_PER_MM: f64 = 100.0;

/// One ordered volume of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    /// Stable and unique within the series: `0` when the series is a single volume, else the
    /// labels of the splits that made it (e.g. `mf1`, `512x512-o2`, `e2-v3`).
    pub id: String,
    /// Why the volume was split from the rest of its series; `None` when it was not.
    pub split_reason: Option<String>,
    /// Unit normal of the slice plane, when the orientation is known.
    pub normal: Option<[f64; 3]>,
    /// Slices in order.
    pub slices: Vec<SliceRef>,
}

/// A group of slices on its way to becoming a volume.
#[derive(Debug, Clone, Default)]
struct Draft {
    labels: Vec<String>,
    reasons: Vec<String>,
    slices: Vec<SliceRef>,
}

/// Splits the instances `members` of one series into ordered volumes, ordered by `rule`.
pub fn split_series(instances: &[InstanceHeader], members: &[usize], rule: Rule) -> Vec<Volume> {
    let (multi, single): (Vec<usize>, Vec<usize>) = members
        .iter()
        .partition(|&&i| instances[i].number_of_frames > 1 && instances[i].mosaic.is_none());

    let mut drafts = multi_frame_drafts(instances, multi);
    if !single.is_empty() {
        // A mosaic's tiles, like the slices of single-frame files, share its file's values.
        let slices = single
            .iter()
            .flat_map(|&instance| {
                let frames = match instances[instance].mosaic {
                    Some(_) => instances[instance].number_of_frames,
                    None => 1,
                };
                (0..frames).map(move |frame| SliceRef { instance, frame })
            })
            .collect();
        let mut group = vec![Draft {
            slices,
            ..Draft::default()
        }];
        group = split_by(
            group,
            |s| instances[s.instance].size(),
            |size| match size {
                Some((r, c)) => (format!("{r}x{c}"), format!("image size {r}x{c}")),
                None => ("nosize".into(), "no Rows/Columns".into()),
            },
        );
        let (clusters, orientations) = orientation_clusters(instances, &single);
        group = split_by(
            group,
            |s| clusters[&s.instance],
            |cluster| match cluster {
                Some(k) => (
                    format!("o{}", k + 1),
                    describe_orientation(&orientations[*k]),
                ),
                None => ("onone".into(), "no ImageOrientationPatient".into()),
            },
        );
        group = split_by(
            group,
            |s| instances[s.instance].echo_number,
            |echo| match echo {
                Some(e) => (format!("e{e}"), format!("echo {e}")),
                None => ("enone".into(), "no EchoNumbers".into()),
            },
        );
        group = split_by(
            group,
            |s| instances[s.instance].complex_component.clone(),
            describe_component,
        );
        group = split_by(
            group,
            |s| instances[s.instance].temporal_position_identifier,
            |t| match t {
                Some(t) => (format!("t{t}"), format!("temporal position {t}")),
                None => ("tnone".into(), "no TemporalPositionIdentifier".into()),
            },
        );
        drafts.extend(
            group
                .into_iter()
                .flat_map(|d| split_mosaic_files(instances, d)),
        );
    }
    let drafts: Vec<Draft> = drafts
        .into_iter()
        .flat_map(|d| split_repeated_positions(instances, d))
        .collect();

    let single_volume = drafts.len() == 1;
    let mut volumes: Vec<Volume> = drafts
        .into_iter()
        .map(|mut draft| {
            let normal = draft
                .slices
                .iter()
                .find_map(|s| instances[s.instance].frame_orientation(s.frame))
                .and_then(|o| slice_normal(&o));
            order_slices(&mut draft.slices, instances, normal, rule);
            let (id, split_reason) = if single_volume || draft.labels.is_empty() {
                ("0".to_string(), None)
            } else {
                (draft.labels.join("-"), Some(draft.reasons.join("; ")))
            };
            Volume {
                id,
                split_reason,
                normal,
                slices: draft.slices,
            }
        })
        .collect();
    volumes.sort_by(|a, b| {
        let first = |v: &Volume| {
            v.slices
                .first()
                .map(|&s| SliceKey::of(s, instances, v.normal))
        };
        match (first(a), first(b)) {
            (Some(x), Some(y)) => x.compare(&y, rule),
            _ => std::cmp::Ordering::Equal,
        }
        .then_with(|| a.id.cmp(&b.id))
    });
    volumes
}

/// One draft per multi-frame file (numbered in Darwin order), split by stack and time point.
fn multi_frame_drafts(instances: &[InstanceHeader], mut files: Vec<usize>) -> Vec<Draft> {
    files.sort_by(|&a, &b| {
        let key = |i| {
            SliceKey::of(
                SliceRef {
                    instance: i,
                    frame: 0,
                },
                instances,
                None,
            )
        };
        key(a).compare(&key(b), Rule::Darwin)
    });
    let mut drafts = Vec::new();
    for (k, &instance) in files.iter().enumerate() {
        let header = &instances[instance];
        let slices = (0..header.number_of_frames)
            .map(|frame| SliceRef { instance, frame })
            .collect();
        let draft = Draft {
            labels: vec![format!("mf{}", k + 1)],
            reasons: vec![format!(
                "multi-frame file ({} frames)",
                header.number_of_frames
            )],
            slices,
        };
        let frame = |s: SliceRef| header.frames.get(s.frame as usize);
        let split = split_by(
            vec![draft],
            |s| frame(s).and_then(|f| f.stack_id.clone()),
            |stack| match stack {
                Some(id) => (format!("s{}", label_safe(id)), format!("stack {id}")),
                None => ("snone".into(), "no StackID".into()),
            },
        );
        let split = split_by(
            split,
            |s| frame(s).and_then(|f| f.temporal_position_index),
            |t| match t {
                Some(t) => (format!("t{t}"), format!("temporal position index {t}")),
                None => ("tnone".into(), "no TemporalPositionIndex".into()),
            },
        );
        let split = split_by(
            split,
            |s| frame(s).and_then(|f| f.echo_time).map(echo_key),
            |te| describe_echo_time(*te),
        );
        let split = split_by(
            split,
            |s| frame(s).and_then(|f| f.complex_component.clone()),
            describe_component,
        );
        drafts.extend(split);
    }
    drafts
}

/// An echo time (ms) as an exact key: whole microseconds.
fn echo_key(ms: f64) -> i64 {
    (ms * 1000.0).round() as i64
}

/// The id label of an echo time (ms), e.g. `te12.46`.
pub(crate) fn echo_time_label(ms: f64) -> String {
    let ms = echo_key(ms) as f64 / 1000.0;
    format!("te{}", label_safe(&ms.to_string()))
}

fn describe_echo_time(key: Option<i64>) -> (String, String) {
    match key {
        Some(us) => {
            let ms = us as f64 / 1000.0;
            (echo_time_label(ms), format!("echo time {ms} ms"))
        }
        None => ("tenone".into(), "no EffectiveEchoTime".into()),
    }
}

fn describe_component(component: &Option<String>) -> (String, String) {
    match component {
        Some(c) => (
            format!("c{}", label_safe(&c.to_lowercase())),
            format!("{} images", c.to_lowercase()),
        ),
        None => ("cnone".into(), "no complex image component".into()),
    }
}

/// Splits every draft whose slices have more than one value of `key`, labelling each part.
fn split_by<K: Ord>(
    drafts: Vec<Draft>,
    key: impl Fn(SliceRef) -> K,
    describe: impl Fn(&K) -> (String, String),
) -> Vec<Draft> {
    let mut out = Vec::with_capacity(drafts.len());
    for draft in drafts {
        let mut groups: BTreeMap<K, Vec<SliceRef>> = BTreeMap::new();
        for &slice in &draft.slices {
            groups.entry(key(slice)).or_default().push(slice);
        }
        if groups.len() <= 1 {
            out.push(draft);
            continue;
        }
        for (value, slices) in groups {
            let (label, reason) = describe(&value);
            let mut part = Draft {
                slices,
                ..draft.clone()
            };
            part.labels.push(label);
            part.reasons.push(reason);
            out.push(part);
        }
    }
    out
}

/// Clusters the instances' orientations (tolerance [`ORIENTATION_TOLERANCE`]) in path order:
/// each instance's cluster number (`None` without orientation), and each cluster's orientation.
fn orientation_clusters(
    instances: &[InstanceHeader],
    members: &[usize],
) -> (BTreeMap<usize, Option<usize>>, Vec<[f64; 6]>) {
    let mut representatives: Vec<[f64; 6]> = Vec::new();
    let mut clusters = BTreeMap::new();
    for &i in members {
        let cluster = instances[i].image_orientation_patient.map(|o| {
            representatives
                .iter()
                .position(|r| same_orientation(r, &o, ORIENTATION_TOLERANCE))
                .unwrap_or_else(|| {
                    representatives.push(o);
                    representatives.len() - 1
                })
        });
        clusters.insert(i, cluster);
    }
    (clusters, representatives)
}

/// "orientation: axial plane (normal 0.00, 0.00, 1.00)", naming the nearest anatomical plane.
fn describe_orientation(orientation: &[f64; 6]) -> String {
    let Some(n) = slice_normal(orientation) else {
        return "degenerate ImageOrientationPatient".into();
    };
    let axis = (0..3)
        .max_by(|&a, &b| n[a].abs().total_cmp(&n[b].abs()))
        .unwrap_or(2);
    let plane = if n[axis].abs() < 0.9 {
        "oblique"
    } else {
        ["sagittal", "coronal", "axial"][axis]
    };
    format!(
        "orientation: {plane} plane (normal {:.2}, {:.2}, {:.2})",
        n[0], n[1], n[2]
    )
}

/// Splits a draft whose positions repeat into time points: the k-th slice at a position (in
/// Darwin order) goes to time point k. Slices without a position stay in the first.
fn split_repeated_positions(instances: &[InstanceHeader], mut draft: Draft) -> Vec<Draft> {
    order_slices(&mut draft.slices, instances, None, Rule::Darwin);
    let mut seen: BTreeMap<[i64; 3], usize> = BTreeMap::new();
    let occurrence: Vec<usize> = draft
        .slices
        .iter()
        .map(|s| match own_position(&instances[s.instance], s.frame) {
            Some(p) => {
                let key = p.map(|v| (v * POSITION_STEPS_PER_MM).round() as i64);
                let count = seen.entry(key).or_insert(0);
                *count += 1;
                *count - 1
            }
            None => 0,
        })
        .collect();
    let time_points = seen.values().copied().max().unwrap_or(0);
    if time_points <= 1 {
        return vec![draft];
    }
    let even = seen.values().all(|&c| c == time_points);
    let mut parts: Vec<Draft> = (0..time_points)
        .map(|k| {
            let mut part = Draft { slices: Vec::new(), ..draft.clone() };
            part.labels.push(format!("v{}", k + 1));
            part.reasons.push(if even {
                format!("repeated positions: time point {} of {time_points}", k + 1)
            } else {
                format!(
                    "repeated positions: time point {} of {time_points} (positions repeat unevenly: slices may be missing or duplicated)",
                    k + 1
                )
            });
            part
        })
        .collect();
    for (slice, k) in draft.slices.iter().zip(occurrence) {
        parts[k].slices.push(*slice);
    }
    parts
}

/// The position that belongs to this very slice: a classic multi-frame file's single
/// ImagePositionPatient describes its first frame only, so its frames count as unplaced. A
/// mosaic's tiles count as unplaced too: each mosaic file is a time point already.
fn own_position(header: &InstanceHeader, frame: u32) -> Option<[f64; 3]> {
    if header.mosaic.is_some() {
        None
    } else if header.number_of_frames > 1 {
        header.frames.get(frame as usize)?.image_position_patient
    } else {
        header.image_position_patient
    }
}

/// Keeps letters, digits, `.` and `_` of a header value used in an id.
fn label_safe(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::FrameHeader;

    const AXIAL: [f64; 6] = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
    const CORONAL: [f64; 6] = [1.0, 0.0, 0.0, 0.0, 0.0, -1.0];

    fn slice(path: &str, instance_number: i64, z: f64) -> InstanceHeader {
        InstanceHeader {
            path: path.into(),
            instance_number: Some(instance_number),
            image_position_patient: Some([0.0, 0.0, z]),
            image_orientation_patient: Some(AXIAL),
            rows: Some(512),
            columns: Some(512),
            number_of_frames: 1,
            ..Default::default()
        }
    }

    fn split(instances: &[InstanceHeader]) -> Vec<Volume> {
        let members: Vec<usize> = (0..instances.len()).collect();
        split_series(instances, &members, Rule::Darwin)
    }

    fn paths<'a>(instances: &'a [InstanceHeader], volume: &Volume) -> Vec<&'a str> {
        volume
            .slices
            .iter()
            .map(|s| instances[s.instance].path.as_str())
            .collect()
    }

    #[test]
    fn a_plain_series_is_one_volume_with_id_0_and_no_reason() {
        let instances = [slice("b", 2, 1.0), slice("a", 1, 0.0)];
        let volumes = split(&instances);
        assert_eq!(volumes.len(), 1);
        assert_eq!(volumes[0].id, "0");
        assert_eq!(volumes[0].split_reason, None);
        assert_eq!(paths(&instances, &volumes[0]), ["a", "b"]);
    }

    #[test]
    fn different_image_sizes_split() {
        let small = InstanceHeader {
            rows: Some(256),
            columns: Some(256),
            ..slice("c", 3, 2.0)
        };
        let instances = [slice("a", 1, 0.0), slice("b", 2, 1.0), small];
        let volumes = split(&instances);
        assert_eq!(volumes.len(), 2);
        assert_eq!(volumes[0].id, "512x512");
        assert_eq!(volumes[1].id, "256x256");
        assert_eq!(
            volumes[1].split_reason.as_deref(),
            Some("image size 256x256")
        );
    }

    #[test]
    fn a_localizer_in_another_plane_splits_off() {
        let localizer = InstanceHeader {
            image_orientation_patient: Some(CORONAL),
            ..slice("loc", 1, 0.0)
        };
        let instances = [localizer, slice("a", 2, 0.0), slice("b", 3, 1.0)];
        let volumes = split(&instances);
        assert_eq!(volumes.len(), 2);
        assert_eq!(paths(&instances, &volumes[0]), ["loc"]);
        assert!(
            volumes[0]
                .split_reason
                .as_deref()
                .unwrap()
                .contains("coronal")
        );
        assert_eq!(paths(&instances, &volumes[1]), ["a", "b"]);
        assert_eq!(volumes[1].normal, Some([0.0, 0.0, 1.0]));
    }

    #[test]
    fn echoes_split() {
        let mut instances = vec![];
        for (i, echo) in [1, 2, 1, 2].into_iter().enumerate() {
            let z = (i / 2) as f64;
            instances.push(InstanceHeader {
                echo_number: Some(echo),
                ..slice(&format!("s{i}"), i as i64, z)
            });
        }
        let volumes = split(&instances);
        assert_eq!(
            volumes.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
            ["e1", "e2"]
        );
        assert_eq!(paths(&instances, &volumes[1]), ["s1", "s3"]);
        assert_eq!(volumes[1].split_reason.as_deref(), Some("echo 2"));
    }

    #[test]
    fn temporal_position_identifier_splits() {
        let instances = [
            InstanceHeader {
                temporal_position_identifier: Some(1),
                ..slice("a", 1, 0.0)
            },
            InstanceHeader {
                temporal_position_identifier: Some(2),
                ..slice("b", 2, 0.0)
            },
        ];
        let volumes = split(&instances);
        assert_eq!(
            volumes.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
            ["t1", "t2"]
        );
    }

    #[test]
    fn repeated_positions_split_into_time_points_by_occurrence() {
        // 3 positions x 2 time points, acquired time-major (instance numbers 1..6).
        let instances: Vec<_> = (0..6)
            .map(|i| slice(&format!("f{i}"), i + 1, (i % 3) as f64))
            .collect();
        let volumes = split(&instances);
        assert_eq!(volumes.len(), 2);
        assert_eq!(paths(&instances, &volumes[0]), ["f0", "f1", "f2"]);
        assert_eq!(paths(&instances, &volumes[1]), ["f3", "f4", "f5"]);
        assert_eq!(
            volumes[1].split_reason.as_deref(),
            Some("repeated positions: time point 2 of 2")
        );
    }

    #[test]
    fn uneven_repeats_are_flagged() {
        let instances = [slice("a", 1, 0.0), slice("b", 2, 1.0), slice("c", 3, 1.0)];
        let volumes = split(&instances);
        assert_eq!(volumes.len(), 2);
        assert!(
            volumes[1]
                .split_reason
                .as_deref()
                .unwrap()
                .contains("unevenly")
        );
    }

    #[test]
    fn each_multi_frame_file_is_its_own_volume_beside_single_frames() {
        let multi = InstanceHeader {
            number_of_frames: 3,
            ..slice("mf", 10, 0.0)
        };
        let instances = [
            slice("a", 1, 0.0),
            slice("b", 2, 1.0),
            multi.clone(),
            InstanceHeader {
                path: "mf2".into(),
                instance_number: Some(11),
                ..multi
            },
        ];
        let volumes = split(&instances);
        let ids: Vec<_> = volumes.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, ["0", "mf1", "mf2"]);
        assert_eq!(volumes[1].slices.len(), 3);
        assert_eq!(
            volumes[1].split_reason.as_deref(),
            Some("multi-frame file (3 frames)")
        );
    }

    #[test]
    fn enhanced_stacks_and_temporal_indices_split_and_frames_follow_in_stack_order() {
        let frame = |stack: &str, pos: u32, t: u32| FrameHeader {
            stack_id: Some(stack.into()),
            in_stack_position: Some(pos),
            temporal_position_index: Some(t),
            image_position_patient: Some([0.0, 0.0, f64::from(pos)]),
            ..Default::default()
        };
        let frames = vec![
            frame("1", 2, 1),
            frame("1", 1, 1),
            frame("1", 2, 2),
            frame("1", 1, 2),
            frame("2", 1, 1),
        ];
        let instances = [InstanceHeader {
            number_of_frames: 5,
            frames,
            ..slice("enh", 1, 0.0)
        }];
        let volumes = split(&instances);
        let ids: Vec<_> = volumes.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, ["mf1-s1-t1", "mf1-s1-t2", "mf1-s2"]);
        assert_eq!(
            volumes[0]
                .slices
                .iter()
                .map(|s| s.frame)
                .collect::<Vec<_>>(),
            [1, 0]
        );
        assert_eq!(
            volumes[1]
                .slices
                .iter()
                .map(|s| s.frame)
                .collect::<Vec<_>>(),
            [3, 2]
        );
    }
}
