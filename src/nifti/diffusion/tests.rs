//! Gradients of real files against the .bval/.bvec dcm2niix wrote for their series.

use super::*;
use crate::scan::reader::HeaderTree;

const XA30: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/test-data/dcm2niix-qa/dcm_qa_xa30"
);

/// Volumes (1-based, file name prefix) of series 10 kept in test-data.
const VOLUMES: [usize; 3] = [1, 2, 4];

fn open_volume(n: usize) -> HeaderTree {
    let dir = format!("{XA30}/In/10_DWI_dir80_PA");
    let prefix = format!("{n:04}_");
    let name = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|f| f.starts_with(&prefix))
        .unwrap();
    let bytes = std::fs::read(format!("{dir}/{name}")).unwrap();
    HeaderTree::parse(bytes.into()).unwrap()
}

fn ref_columns(ext: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(format!("{XA30}/Ref/10_DWI_dir80_PA.{ext}"))
        .unwrap()
        .lines()
        .map(|l| l.split(' ').map(str::to_string).collect())
        .collect()
}

fn orientation(obj: &Dataset<'_>) -> [f64; 6] {
    let frame = values::first_item(obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE).unwrap();
    let plane = values::first_item(&frame, tags::PLANE_ORIENTATION_SEQUENCE).unwrap();
    values::floats(&plane, tags::IMAGE_ORIENTATION_PATIENT)
        .try_into()
        .unwrap()
}

#[test]
fn xa30_enhanced_dwi_matches_dcm2niix_bval_and_bvec() {
    let bval = ref_columns("bval");
    let bvec = ref_columns("bvec");
    let mut gradients = Vec::new();
    let mut orient = None;
    for n in VOLUMES {
        let tree = open_volume(n);
        let obj = tree.root();
        let frame = values::first_item(&obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE).unwrap();
        let g = gradient_for_frame(&obj, &frame).expect("diffusion tags");
        assert_eq!(g.frame, GradientFrame::Patient);
        assert_eq!(
            gradient(&obj),
            Some(g),
            "whole-object reading agrees with frame 1"
        );
        gradients.push(g);
        orient = Some(orientation(&obj));
    }
    assert_eq!(
        bvals_to_write(&gradients, Vendor::Siemens),
        Some(vec![0.0, 2500.0, 2500.0])
    );
    let bvecs = bvecs_in_voxel_frame(&gradients, orient.unwrap(), false);
    let (bval_text, bvec_text) = bval_bvec_text(&gradients, &bvecs);
    assert!(bval_text.ends_with('\n') && !bval_text.contains('\t'));
    let ours_b: Vec<&str> = bval_text.trim_end().split(' ').collect();
    let ours_v: Vec<Vec<&str>> = bvec_text.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(ours_v.len(), 3);
    for (k, n) in VOLUMES.iter().enumerate() {
        assert_eq!(ours_b[k], bval[0][n - 1], "bval of volume {n}");
        for axis in 0..3 {
            // The same text as dcm2niix's, so the same sign too.
            let theirs: f64 = bvec[axis][n - 1].parse().unwrap();
            let ours: f64 = ours_v[axis][k].parse().unwrap();
            assert!(
                (ours - theirs).abs() < 2e-6,
                "volume {n} axis {axis}: {ours} vs {theirs}"
            );
        }
    }
}

#[test]
fn flipped_slices_negate_y_as_for_sagittal_mosaics() {
    let g = [patient(1000.0, Some([0.6, 0.8, 0.0]))];
    let iop = [0.0, 1.0, 0.0, 0.0, 0.0, -1.0];
    let plain = bvecs_in_voxel_frame(&g, iop, false)[0];
    let flipped = bvecs_in_voxel_frame(&g, iop, true)[0];
    assert_eq!([plain[0], -plain[1], plain[2]], flipped);
}

#[test]
fn b0_and_zero_vectors_are_kept_and_never_negative_zero() {
    let g = [patient(0.0, None), patient(5.0, Some([0.0, -0.0, 0.0]))];
    let v = bvecs_in_voxel_frame(&g, [1.0, 0.0, 0.0, 0.0, 1.0, 0.0], false);
    let (bval, bvec) = bval_bvec_text(&g, &v);
    assert_eq!(bval, "0 5\n");
    assert_eq!(bvec, "0 0\n0 0\n0 0\n");
}

#[test]
fn ge_vectors_follow_dcm2niix_for_axial_column_phase() {
    // Axial, COL phase: z flipped, then y by the row flip, then all negated.
    let g = Gradient {
        b_value: 1000.0,
        direction: Some([0.6, 0.8, 0.0]),
        frame: GradientFrame::GeImage {
            phase_is_column: Some(true),
        },
    };
    let v = bvecs_in_voxel_frame(&[g], [1.0, 0.0, 0.0, 0.0, 1.0, 0.0], false);
    assert_eq!(v[0], [-0.6, 0.8, 0.0]);
    // A short GE vector scales its b-value: b·|v|² rounded to 5.
    let (b, d) = ge_rescale(1000.0, Some([0.5, 0.0, 0.0]));
    assert_eq!(b, 250.0);
    assert!((norm(d.unwrap()) - 1.0).abs() < 1e-12);
}

#[test]
fn percent_g_formatting_matches_c() {
    for (v, s) in [
        (0.999_998_807_907_104_5, "0.999999"),
        (0.001_599_994_022_399_187, "0.00159999"),
        (-0.032_082_4, "-0.0320824"),
        (2500.0, "2500"),
        (1e-5, "1e-05"),
        (1234567.0, "1.23457e+06"),
        (0.000_499_996, "0.000499996"),
        (100000.0, "100000"),
    ] {
        assert_eq!(format_g(v), s, "{v}");
    }
}

#[test]
fn no_bval_files_for_a_single_b_value_without_gradients() {
    let b0 = patient(0.0, None);
    assert_eq!(bvals_to_write(&[b0], Vendor::Siemens), None);
    assert_eq!(bvals_to_write(&[b0, b0], Vendor::Siemens), None);
    // One b-value, varying vectors, some zero: the zero ones are b=0 volumes.
    let g = |d| patient(1000.0, Some(d));
    let series = [g([0.0, 0.0, 0.0]), g([1.0, 0.0, 0.0]), g([0.0, 1.0, 0.0])];
    assert_eq!(
        bvals_to_write(&series, Vendor::Ge),
        Some(vec![1000.0, 1000.0, 1000.0]),
        "every b above the threshold counts as varying"
    );
    let low = |d| patient(5.0, Some(d));
    let series = [low([0.0, 0.0, 0.0]), low([1.0, 0.0, 0.0])];
    assert_eq!(
        bvals_to_write(&series, Vendor::Siemens),
        Some(vec![0.0, 5.0])
    );
}

#[test]
fn the_scan_reads_each_enhanced_frame_s_gradient_as_the_header_tree_does() {
    for n in VOLUMES {
        let dir = format!("{XA30}/In/10_DWI_dir80_PA");
        let name = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|f| f.starts_with(&format!("{n:04}_")))
            .unwrap();
        let file = crate::scan::source::SourceFile {
            path: format!("{dir}/{name}").into(),
            relative: name,
        };
        let crate::scan::ScanOutcome::Instance(header) =
            crate::scan::scan_file(&file, &mut Vec::new(), &mut Vec::new())
        else {
            panic!("volume {n} scans");
        };
        let tree = open_volume(n);
        let obj = tree.root();
        let items: Vec<Dataset<'_>> = obj
            .items(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
            .collect();
        assert_eq!(header.frames.len(), items.len());
        for (frame, item) in header.frames.iter().zip(&items) {
            let scanned = frame.diffusion.as_ref().expect("read by the scan");
            assert_eq!(
                Some(frame_gradient(scanned)),
                gradient_for_frame(&obj, item)
            );
        }
    }
}
