use std::collections::BTreeSet;

use crate::util::{all_files, data, expected, order, series, volume_paths};

/// Checks a case under every rule against the pydicom-derived expectations: each series' volumes
/// hold exactly its files, and each volume lists them in the expected order of its series.
fn matches_expected_orders(case: &str) {
    let expected = expected(case);
    let expected_series = expected["series"].as_object().unwrap();
    for rule in ["darwin", "spatial", "instance"] {
        let (report, _) = order(&data(case), &["--rule", rule]);
        assert_eq!(
            report.series.len(),
            expected_series.len(),
            "{case}: series count"
        );
        for (uid, want) in expected_series {
            let order: Vec<String> = want[rule]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_string())
                .collect();
            // A mosaic's tiles (or a multi-frame file's frames) are one file's run of slices.
            let mut volumes = volume_paths(series(&report, uid));
            volumes.iter_mut().for_each(|v| v.dedup());
            let members: BTreeSet<&String> = volumes.iter().flatten().collect();
            assert_eq!(
                members,
                order.iter().collect(),
                "{case} {uid}: volume members"
            );
            assert_eq!(
                members.len(),
                volumes.iter().map(Vec::len).sum::<usize>(),
                "{case}: a file twice"
            );
            for volume in &volumes {
                let restricted: Vec<&String> =
                    order.iter().filter(|p| volume.contains(p)).collect();
                assert_eq!(
                    volume.iter().collect::<Vec<_>>(),
                    restricted,
                    "{case} {uid} --rule {rule}"
                );
            }
        }
    }
}

#[test]
fn siemens_mr_reversed_instance_order() {
    matches_expected_orders("dicom2nifti/siemens/anatomical");
}

#[test]
fn hitachi_mr_reversed_instance_order() {
    matches_expected_orders("dicom2nifti/hitachi/anatomical");
}

#[test]
fn ge_ct_with_duplicated_slice() {
    matches_expected_orders("dicom2nifti/ge/anatomical");
}

#[test]
fn generic_explicit_and_implicit_series() {
    matches_expected_orders("dicom2nifti/generic/anatomical");
}

#[test]
fn gantry_tilted_ct() {
    matches_expected_orders("dicom2nifti/failing/gantrytilting");
}

#[test]
fn ct_with_missing_slices() {
    matches_expected_orders("dicom2nifti/failing/sliceincrement");
}

#[test]
fn ct_slices_at_one_position() {
    matches_expected_orders("dicom2nifti/failing/notavolume");
}

#[test]
fn series_mixing_two_orientations() {
    matches_expected_orders("dicom2nifti/failing/sliceorientation");
}

#[test]
fn two_slice_series() {
    matches_expected_orders("dicom2nifti/failing/slicecount");
}

#[test]
fn ge_fmri_time_series() {
    matches_expected_orders("dcm_qa_nih/In/20180918GE/mr_0004");
}

#[test]
fn siemens_multi_series_study() {
    matches_expected_orders("dcm_qa_nih/In/20180918Si");
}

#[test]
fn dicomdir_tree_of_small_series() {
    matches_expected_orders("pydicom/dicomdirtests");
}

#[test]
fn instance_numbers_run_against_space_in_siemens_mr() {
    // Expectation from the headers alone: InstanceNumber ascending = position descending.
    let (darwin, _) = order(&data("dicom2nifti/siemens/anatomical"), &[]);
    let (spatial, _) = order(
        &data("dicom2nifti/siemens/anatomical"),
        &["--rule", "spatial"],
    );
    for (d, s) in darwin.volumes().zip(spatial.volumes()) {
        let positions: Vec<f64> = d.slices.iter().map(|s| s.position.unwrap()).collect();
        assert!(
            positions.windows(2).all(|w| w[0] > w[1]),
            "darwin follows InstanceNumber: {positions:?}"
        );
        let numbers: Vec<i64> = d
            .slices
            .iter()
            .map(|s| s.instance_number.unwrap())
            .collect();
        assert!(numbers.windows(2).all(|w| w[0] < w[1]));
        let positions: Vec<f64> = s.slices.iter().map(|s| s.position.unwrap()).collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "spatial ascends: {positions:?}"
        );
    }
}

#[test]
fn fmri_splits_into_ten_time_points_of_fifteen_slices() {
    let case = "dcm_qa_nih/In/20180918GE/mr_0004";
    let expected = expected(case);
    let (uid, want) = expected["series"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    let positions = want["positions"].as_array().unwrap();
    let repeats = positions[0][1].as_u64().unwrap() as usize;
    assert!(
        positions
            .iter()
            .all(|p| p[1].as_u64().unwrap() as usize == repeats)
    );

    let (report, _) = order(&data(case), &[]);
    let volumes = &series(&report, uid).volumes;
    assert_eq!(volumes.len(), repeats);
    for (k, volume) in volumes.iter().enumerate() {
        assert_eq!(volume.slices.len(), positions.len());
        assert_eq!(volume.id, format!("v{}", k + 1));
        let reason = volume.split_reason.as_deref().unwrap();
        assert!(
            reason.starts_with(&format!(
                "repeated positions: time point {} of {repeats}",
                k + 1
            )),
            "{reason}"
        );
        let distinct: BTreeSet<i64> = volume
            .slices
            .iter()
            .map(|s| (s.position.unwrap() * 100.0).round() as i64)
            .collect();
        assert_eq!(
            distinct.len(),
            positions.len(),
            "each time point covers every position once"
        );
    }
}

#[test]
fn localizer_like_orientations_split_into_two_volumes() {
    let (report, _) = order(&data("dicom2nifti/failing/sliceorientation"), &[]);
    let volumes: Vec<_> = report.volumes().collect();
    assert_eq!(volumes.len(), 2);
    assert_ne!(volumes[0].normal, volumes[1].normal);
    for volume in volumes {
        assert_eq!(volume.slices.len(), 2);
        assert!(
            volume
                .split_reason
                .as_deref()
                .unwrap()
                .starts_with("orientation: ")
        );
    }
}

#[test]
fn explain_reports_missing_slices_and_direction() {
    let (report, _) = order(&data("dicom2nifti/failing/sliceincrement"), &["--explain"]);
    for volume in report.volumes() {
        let diagnostics = volume.diagnostics.as_ref().unwrap();
        assert_eq!(diagnostics.gaps.len(), 1, "{volume:?}");
        assert_eq!(diagnostics.gaps[0].missing_slices, 1);
        assert_eq!(diagnostics.instance_order_matches_spatial, Some(true));
    }
    let (report, _) = order(&data("dicom2nifti/failing/notavolume"), &[]);
    assert!(
        report.volumes().all(|v| v.diagnostics.is_none()),
        "diagnostics only with --explain"
    );
    assert_eq!(
        report.volumes().count(),
        4,
        "four slices at one position are four time points"
    );
}

#[test]
fn enhanced_philips_fieldmap_splits_by_repeated_positions_in_stack_order() {
    let (report, _) = order(&data("dcm_qa_enh/In/Philips"), &[]);
    let volumes: Vec<_> = report.volumes().collect();
    assert_eq!(volumes.len(), 2, "64 frames = 32 positions x 2 images");
    for volume in volumes {
        assert_eq!(volume.slices.len(), 32);
        let positions: Vec<f64> = volume.slices.iter().map(|s| s.position.unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[1] > w[0]), "{positions:?}");
        let frames: BTreeSet<u32> = volume.slices.iter().map(|s| s.frame).collect();
        assert_eq!(frames.len(), 32);
    }
}

#[test]
fn enhanced_siemens_files_are_one_volume_each() {
    let (report, _) = order(&data("dcm_qa_enh/In/Siemens/XA10"), &[]);
    let volumes: Vec<_> = report.volumes().collect();
    assert_eq!(volumes.len(), 4);
    for volume in volumes {
        assert_eq!(volume.slices.len(), 6);
        assert!(volume.id.starts_with("mf"));
        let files: BTreeSet<&str> = volume.slices.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(files.len(), 1, "one file per volume");
        let positions: Vec<f64> = volume.slices.iter().map(|s| s.position.unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[1] != w[0]), "{positions:?}");
    }
}

#[test]
fn multi_frame_ultrasound_keeps_frame_order() {
    let (report, _) = order(&data("pydicom/examples_ybr_color.dcm"), &[]);
    let volume = report.volumes().next().unwrap();
    let frames: Vec<u32> = volume.slices.iter().map(|s| s.frame).collect();
    assert_eq!(frames, (0..30).collect::<Vec<_>>());
}

#[test]
fn every_file_under_test_data_is_accounted_for_exactly_once() {
    let root = data("");
    let (report, _) = order(&root, &[]);
    let mut in_volumes: BTreeSet<String> = BTreeSet::new();
    let mut frames: BTreeSet<(String, u32)> = BTreeSet::new();
    for volume in report.volumes() {
        for slice in &volume.slices {
            in_volumes.insert(slice.path.clone());
            assert!(
                frames.insert((slice.path.clone(), slice.frame)),
                "{} frame {} twice",
                slice.path,
                slice.frame
            );
        }
    }
    let skipped: BTreeSet<String> = report.skipped.iter().map(|i| i.path.clone()).collect();
    let failed: BTreeSet<String> = report.failed.iter().map(|i| i.path.clone()).collect();
    assert_eq!(skipped.len(), report.skipped.len(), "a file skipped twice");
    assert_eq!(failed.len(), report.failed.len(), "a file failed twice");
    assert!(
        in_volumes.is_disjoint(&skipped)
            && in_volumes.is_disjoint(&failed)
            && skipped.is_disjoint(&failed)
    );
    let accounted: BTreeSet<String> = in_volumes
        .iter()
        .chain(&skipped)
        .chain(&failed)
        .cloned()
        .collect();
    let files: BTreeSet<String> = all_files(&root).into_iter().collect();
    assert_eq!(accounted, files);
    assert!(
        report
            .skipped
            .iter()
            .chain(&report.failed)
            .all(|i| !i.reason.is_empty())
    );
}
