//! The order stage: instances grouped into series ([`group`]), series split into volumes
//! ([`split`]), slices ordered by a rule (this module: the sort keys of each rule and a total,
//! deterministic order over them), ordering diagnostics ([`explain`]), and the whole for
//! `order` and `convert` ([`plan`]).
//!
//! Pure code: it sees [`InstanceHeader`]s, never files.

pub mod explain;
pub mod geometry;
pub mod group;
pub mod natural;
pub mod plan;
pub mod slide;
pub mod split;

use std::cmp::Ordering;

use rayon::slice::ParallelSliceMut;

use crate::scan::InstanceHeader;
use geometry::distance_along;
use natural::natural_cmp;

/// Which keys decide the order of slices within a volume.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Rule {
    /// V7 Darwin's documented rule: SeriesNumber, InstanceNumber, SliceLocation,
    /// ImagePositionPatient, file name.
    #[default]
    Darwin,
    /// Position along the slice normal, then InstanceNumber, then file name.
    Spatial,
    /// InstanceNumber, then file name.
    Instance,
}

/// One slice of a volume: a frame (0-based) of a scanned instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SliceRef {
    /// Index into the scanned instances.
    pub instance: usize,
    pub frame: u32,
}

/// Where a slice lies, as far as it can be compared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Position {
    /// Signed distance along the volume's slice normal.
    Along(f64),
    /// ImagePositionPatient when no orientation is known: compared coordinate by coordinate.
    Coordinates([f64; 3]),
    /// No ImagePositionPatient.
    Unknown,
}

impl Position {
    /// The signed distance along the normal, when known.
    pub fn distance(&self) -> Option<f64> {
        match self {
            Position::Along(d) => Some(*d),
            _ => None,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Position::Along(_) => 0,
            Position::Coordinates(_) => 1,
            Position::Unknown => 2,
        }
    }

    /// Total order: present before absent, then by value (`f64::total_cmp`).
    fn compare(&self, other: &Position) -> Ordering {
        match (self, other) {
            (Position::Along(a), Position::Along(b)) => a.total_cmp(b),
            (Position::Coordinates(a), Position::Coordinates(b)) => a
                .iter()
                .zip(b)
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

/// Every value any rule may sort a slice by.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceKey<'a> {
    pub series_number: Option<i64>,
    pub instance_number: Option<i64>,
    pub slice_location: Option<f64>,
    /// InStackPositionNumber of an enhanced object's frame.
    pub in_stack_position: Option<u32>,
    pub position: Position,
    /// Path relative to the source.
    pub path: &'a str,
    pub frame: u32,
}

impl<'a> SliceKey<'a> {
    /// The key of `slice`, measuring positions along `normal` when the volume has one.
    pub fn of(slice: SliceRef, instances: &'a [InstanceHeader], normal: Option<[f64; 3]>) -> Self {
        let header = &instances[slice.instance];
        let position = match (header.frame_position(slice.frame), normal) {
            (Some(p), Some(n)) => Position::Along(distance_along(&p, &n)),
            (Some(p), None) => Position::Coordinates(p),
            (None, _) => Position::Unknown,
        };
        SliceKey {
            series_number: header.series_number,
            instance_number: header.instance_number,
            slice_location: header.slice_location,
            in_stack_position: header
                .frames
                .get(slice.frame as usize)
                .and_then(|f| f.in_stack_position),
            position,
            path: &header.path,
            frame: slice.frame,
        }
    }

    /// Compares two keys under `rule`. Missing values sort after present ones at each level;
    /// the path (natural order) and frame number make the order total.
    pub fn compare(&self, other: &Self, rule: Rule) -> Ordering {
        let instance = || {
            option_cmp(&self.instance_number, &other.instance_number, Ord::cmp).then_with(|| {
                option_cmp(&self.in_stack_position, &other.in_stack_position, Ord::cmp)
            })
        };
        let position = || self.position.compare(&other.position);
        let path = || natural_cmp(self.path, other.path).then(self.frame.cmp(&other.frame));
        match rule {
            Rule::Darwin => option_cmp(&self.series_number, &other.series_number, Ord::cmp)
                .then_with(instance)
                .then_with(|| {
                    option_cmp(&self.slice_location, &other.slice_location, f64::total_cmp)
                })
                .then_with(position)
                .then_with(path),
            Rule::Spatial => position().then_with(instance).then_with(path),
            Rule::Instance => instance().then_with(path),
        }
    }
}

/// Compares optional values with every present value before every absent one.
fn option_cmp<T>(a: &Option<T>, b: &Option<T>, cmp: impl Fn(&T, &T) -> Ordering) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => cmp(a, b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Sorts `slices` by `rule`, measuring positions along `normal`. Large volumes sort in parallel.
pub fn order_slices(
    slices: &mut [SliceRef],
    instances: &[InstanceHeader],
    normal: Option<[f64; 3]>,
    rule: Rule,
) {
    let mut keyed: Vec<(SliceKey<'_>, SliceRef)> = slices
        .iter()
        .map(|&s| (SliceKey::of(s, instances, normal), s))
        .collect();
    let compare =
        |a: &(SliceKey<'_>, SliceRef), b: &(SliceKey<'_>, SliceRef)| a.0.compare(&b.0, rule);
    if keyed.len() > 4096 {
        keyed.par_sort_by(compare);
    } else {
        keyed.sort_by(compare);
    }
    for (slot, (_, slice)) in slices.iter_mut().zip(keyed) {
        *slot = slice;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::FrameHeader;

    fn header(path: &str) -> InstanceHeader {
        InstanceHeader {
            path: path.into(),
            number_of_frames: 1,
            ..Default::default()
        }
    }

    fn at(path: &str, z: f64) -> InstanceHeader {
        InstanceHeader {
            image_position_patient: Some([0.0, 0.0, z]),
            ..header(path)
        }
    }

    /// Orders the instances (one frame each) and returns their paths.
    fn ordered(instances: &[InstanceHeader], rule: Rule, normal: Option<[f64; 3]>) -> Vec<&str> {
        let mut slices: Vec<SliceRef> = (0..instances.len())
            .map(|i| SliceRef {
                instance: i,
                frame: 0,
            })
            .collect();
        order_slices(&mut slices, instances, normal, rule);
        slices
            .iter()
            .map(|s| instances[s.instance].path.as_str())
            .collect()
    }

    const UP: Option<[f64; 3]> = Some([0.0, 0.0, 1.0]);

    #[test]
    fn darwin_series_number_comes_first() {
        let a = InstanceHeader {
            series_number: Some(2),
            instance_number: Some(1),
            ..header("a")
        };
        let b = InstanceHeader {
            series_number: Some(1),
            instance_number: Some(9),
            ..header("b")
        };
        assert_eq!(ordered(&[a, b], Rule::Darwin, None), ["b", "a"]);
    }

    #[test]
    fn darwin_instance_number_before_slice_location() {
        let a = InstanceHeader {
            instance_number: Some(2),
            slice_location: Some(-5.0),
            ..header("a")
        };
        let b = InstanceHeader {
            instance_number: Some(1),
            slice_location: Some(5.0),
            ..header("b")
        };
        assert_eq!(ordered(&[a, b], Rule::Darwin, None), ["b", "a"]);
    }

    #[test]
    fn darwin_slice_location_before_position() {
        let a = InstanceHeader {
            slice_location: Some(2.0),
            ..at("a", -1.0)
        };
        let b = InstanceHeader {
            slice_location: Some(1.0),
            ..at("b", 1.0)
        };
        assert_eq!(ordered(&[a, b], Rule::Darwin, UP), ["b", "a"]);
    }

    #[test]
    fn darwin_position_projects_on_the_normal() {
        // Sagittal slices: the normal is -x, so larger x lies earlier along it.
        let sagittal_cosines = [0.0, 1.0, 0.0, 0.0, 0.0, -1.0];
        let sagittal = Some(sagittal_cosines);
        let a = InstanceHeader {
            image_position_patient: Some([10.0, 0.0, 0.0]),
            image_orientation_patient: sagittal,
            ..header("a")
        };
        let b = InstanceHeader {
            image_position_patient: Some([20.0, 0.0, 0.0]),
            ..a.clone()
        };
        let b = InstanceHeader {
            path: "b".into(),
            ..b
        };
        let normal = geometry::slice_normal(&sagittal_cosines);
        assert_eq!(ordered(&[a, b], Rule::Darwin, normal), ["b", "a"]);
    }

    #[test]
    fn without_orientation_coordinates_compare_lexicographically() {
        let a = InstanceHeader {
            image_position_patient: Some([1.0, 5.0, 0.0]),
            ..header("a")
        };
        let b = InstanceHeader {
            image_position_patient: Some([1.0, 2.0, 9.0]),
            ..header("b")
        };
        assert_eq!(ordered(&[a, b], Rule::Darwin, None), ["b", "a"]);
    }

    #[test]
    fn darwin_file_name_is_natural_last_resort() {
        let instances = [header("slice_10"), header("slice_2"), header("slice_1")];
        assert_eq!(
            ordered(&instances, Rule::Darwin, None),
            ["slice_1", "slice_2", "slice_10"]
        );
    }

    #[test]
    fn missing_values_sort_after_present_ones_at_each_level() {
        let missing = header("a");
        let numbered = InstanceHeader {
            instance_number: Some(100),
            ..header("z")
        };
        assert_eq!(
            ordered(&[missing.clone(), numbered], Rule::Darwin, None),
            ["z", "a"]
        );
        let placed = at("z", 50.0);
        assert_eq!(ordered(&[missing, placed], Rule::Spatial, UP), ["z", "a"]);
    }

    #[test]
    fn spatial_rule_puts_position_first() {
        let a = InstanceHeader {
            instance_number: Some(1),
            ..at("a", 10.0)
        };
        let b = InstanceHeader {
            instance_number: Some(2),
            ..at("b", -10.0)
        };
        assert_eq!(
            ordered(&[a.clone(), b.clone()], Rule::Spatial, UP),
            ["b", "a"]
        );
        assert_eq!(ordered(&[a, b], Rule::Darwin, UP), ["a", "b"]);
    }

    #[test]
    fn instance_rule_ignores_positions_and_locations() {
        let a = InstanceHeader {
            instance_number: Some(2),
            slice_location: Some(0.0),
            ..at("a", 0.0)
        };
        let b = InstanceHeader {
            instance_number: Some(3),
            slice_location: Some(-9.0),
            ..at("b", -9.0)
        };
        let c = InstanceHeader {
            slice_location: Some(-20.0),
            ..at("c", -20.0)
        };
        assert_eq!(ordered(&[c, b, a], Rule::Instance, UP), ["a", "b", "c"]);
    }

    #[test]
    fn frames_of_one_file_follow_in_stack_position_then_frame_number() {
        let frames = vec![
            FrameHeader {
                in_stack_position: Some(2),
                ..Default::default()
            },
            FrameHeader {
                in_stack_position: Some(1),
                ..Default::default()
            },
            FrameHeader::default(),
        ];
        let instances = [InstanceHeader {
            number_of_frames: 3,
            frames,
            ..header("mf")
        }];
        let mut slices: Vec<SliceRef> = (0..3)
            .map(|f| SliceRef {
                instance: 0,
                frame: f,
            })
            .collect();
        order_slices(&mut slices, &instances, None, Rule::Darwin);
        assert_eq!(
            slices.iter().map(|s| s.frame).collect::<Vec<_>>(),
            [1, 0, 2]
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Headers drawn from small value sets so that ties at every level are common.
        fn arb_header() -> impl Strategy<Value = InstanceHeader> {
            (
                proptest::option::of(0i64..3),
                proptest::option::of(0i64..4),
                proptest::option::of(prop_oneof![Just(-1.0f64), Just(0.0), Just(2.5)]),
                proptest::option::of([coordinate(), coordinate(), coordinate()]),
                // Leading zeros make natural-order ties that only the bytewise fallback breaks.
                "[ab]{0,2}0{0,2}[0-9]{0,2}",
            )
                .prop_map(|(series, instance, location, position, name)| {
                    InstanceHeader {
                        path: name,
                        series_number: series,
                        instance_number: instance,
                        slice_location: location,
                        image_position_patient: position,
                        number_of_frames: 1,
                        ..Default::default()
                    }
                })
        }

        /// Small coordinates tie often; huge ones make projections overflow to ±inf or NaN.
        fn coordinate() -> impl Strategy<Value = f64> {
            prop_oneof![
                (0i8..3).prop_map(f64::from),
                Just(f64::MAX),
                Just(-f64::MAX)
            ]
        }

        /// A normal of an oblique volume (or none): mixes coordinates in the projection.
        fn normal() -> impl Strategy<Value = Option<[f64; 3]>> {
            proptest::option::of(prop_oneof![Just([0.0, 0.0, 1.0]), Just([0.6, 0.0, 0.8])])
        }

        proptest! {
            /// The order depends only on the headers, never on the order they arrive in.
            #[test]
            fn order_is_the_same_for_any_input_permutation(
                (instances, shuffled) in proptest::collection::vec(arb_header(), 0..40)
                    .prop_map(|v| {
                        // Unique paths make the expected order fully determined.
                        v.into_iter().enumerate().map(|(i, mut h)| { h.path = format!("{}_{i}", h.path); h }).collect::<Vec<_>>()
                    })
                    .prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle())),
                rule in prop_oneof![Just(Rule::Darwin), Just(Rule::Spatial), Just(Rule::Instance)],
                normal in normal(),
            ) {
                prop_assert_eq!(ordered(&instances, rule, normal), ordered(&shuffled, rule, normal));
            }

            /// The comparison is a total order: antisymmetric and consistent with equality.
            #[test]
            fn comparison_is_antisymmetric(a in arb_header(), b in arb_header()) {
                let instances = [a, b];
                for rule in [Rule::Darwin, Rule::Spatial, Rule::Instance] {
                    let key = |i| SliceKey::of(SliceRef { instance: i, frame: 0 }, &instances, None);
                    prop_assert_eq!(key(0).compare(&key(1), rule), key(1).compare(&key(0), rule).reverse());
                }
            }

            /// The comparison is transitive, and only a slice with the same path and frame
            /// compares equal: no result can depend on the order the files were listed in.
            #[test]
            fn comparison_is_transitive_and_strict(
                a in arb_header(),
                b in arb_header(),
                c in arb_header(),
                normal in normal(),
            ) {
                let instances = [a, b, c];
                for rule in [Rule::Darwin, Rule::Spatial, Rule::Instance] {
                    let key = |i| SliceKey::of(SliceRef { instance: i, frame: 0 }, &instances, normal);
                    let keys = [key(0), key(1), key(2)];
                    let le = |x: usize, y: usize| keys[x].compare(&keys[y], rule).is_le();
                    for (x, y, z) in [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)] {
                        prop_assert!(!(le(x, y) && le(y, z)) || le(x, z), "{:?}", rule);
                        if keys[x].compare(&keys[y], rule).is_eq() {
                            prop_assert_eq!(keys[x].path, keys[y].path);
                        }
                    }
                }
            }
        }

        #[test]
        fn parallel_sort_of_a_large_volume_matches_one_thread() {
            let instances: Vec<InstanceHeader> = (0..20_000)
                .map(|i| InstanceHeader {
                    path: format!("f{}", (i * 7919) % 20_000),
                    instance_number: Some((i % 97) as i64),
                    image_position_patient: Some([0.0, 0.0, f64::from((i % 89) as u32)]),
                    number_of_frames: 1,
                    ..Default::default()
                })
                .collect();
            let run = |threads| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| ordered(&instances, Rule::Darwin, Some([0.0, 0.0, 1.0])).join("\n"))
            };
            assert_eq!(run(1), run(2));
        }
    }
}
