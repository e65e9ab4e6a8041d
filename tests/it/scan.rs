use std::time::{Duration, Instant};

use dicomprep::scan::source::SourceFile;
use dicomprep::scan::{InstanceHeader, ScanOutcome, scan_file};

use crate::util::{data, run};

/// Scans one bundled file through the library.
fn scan_one(relative: &str) -> ScanOutcome {
    let file = SourceFile {
        path: data(relative),
        relative: relative.into(),
    };
    scan_file(&file, &mut Vec::new(), &mut Vec::new())
}

fn instance(relative: &str) -> InstanceHeader {
    match scan_one(relative) {
        ScanOutcome::Instance(header) => *header,
        other => panic!("{relative}: {other:?}"),
    }
}

fn reason(outcome: ScanOutcome) -> (&'static str, String) {
    match outcome {
        ScanOutcome::Instance(h) => panic!("{} scanned as an instance", h.path),
        ScanOutcome::Skipped(issue) => ("skipped", issue.reason),
        ScanOutcome::Failed(issue) => ("failed", issue.reason),
    }
}

// Expected values below were read with pydicom 3.0.2 (dcmread, stop_before_pixels).

#[test]
fn explicit_little_endian_ct() {
    let h = instance("pydicom/CT_small.dcm");
    assert_eq!((h.rows, h.columns), (Some(128), Some(128)));
    assert_eq!(h.modality.as_deref(), Some("CT"));
    assert_eq!((h.bits_stored, h.pixel_representation), (Some(16), Some(1)));
    assert_eq!(
        h.image_position_patient,
        Some([-158.135803, -179.035797, -75.699997])
    );
    assert_eq!((h.instance_number, h.series_number), (Some(1), Some(1)));
    assert_eq!(h.rescale_intercept, Some(-1024.0));
    assert_eq!(h.transfer_syntax, "1.2.840.10008.1.2.1");
    assert_eq!(h.number_of_frames, 1);
}

#[test]
fn big_endian_mr() {
    let h = instance("pydicom/MR_small_bigendian.dcm");
    assert_eq!((h.rows, h.columns), (Some(64), Some(64)));
    assert_eq!(h.image_position_patient, Some([-83.9063, -91.2, 6.6406]));
    assert_eq!(h.window_center, vec![600.0]);
    assert_eq!(h.transfer_syntax, "1.2.840.10008.1.2.2");
}

#[test]
fn deflated_dataset() {
    let h = instance("pydicom/image_dfl.dcm");
    assert_eq!(
        (h.rows, h.columns, h.bits_stored),
        (Some(512), Some(512), Some(8))
    );
    assert_eq!(h.modality.as_deref(), Some("OT"));
}

#[test]
fn implicit_dataset_under_an_explicit_transfer_syntax() {
    // SC_rgb_jpeg.dcm declares JPEG Baseline but writes its dataset in implicit VR.
    let h = instance("pydicom/SC_rgb_jpeg.dcm");
    assert_eq!((h.rows, h.columns), (Some(256), Some(256)));
    assert_eq!(h.photometric_interpretation.as_deref(), Some("RGB"));
    assert_eq!(h.samples_per_pixel, Some(3));
}

#[test]
fn enhanced_multi_frame_per_frame_groups() {
    let h = instance("dcm_qa_enh/In/Philips/IM_0027_fMAP.dcm");
    assert_eq!(h.number_of_frames, 64);
    assert_eq!(h.frames.len(), 64);
    assert_eq!(h.series_description.as_deref(), Some("B0 NS"));
    assert_eq!(
        h.frames[0].image_position_patient,
        Some([-127.24297738075, -119.7766046524, -38.35459083526])
    );
    assert_eq!(
        h.frames[63].image_position_patient,
        Some([-127.24638080596, -119.7766046524, 85.6454091647392])
    );
    assert_eq!(h.frames[1].in_stack_position, Some(2));
    assert_eq!(h.frames[63].in_stack_position, Some(32));
    assert_eq!(h.frames[0].stack_id.as_deref(), Some("1"));
    assert_eq!(h.frames[0].temporal_position_index, Some(1));
    assert!(
        h.frames
            .iter()
            .all(|f| f.image_orientation_patient.is_some())
    );
}

#[test]
fn broken_files_fail_with_a_reason() {
    let cases = [
        ("pydicom/MR_truncated.dcm", "failed", "truncated"),
        (
            "pydicom/rtplan_truncated.dcm",
            "failed",
            "beyond the end of the file",
        ),
        ("pydicom/badVR.dcm", "failed", "NumberOfFrames"),
        (
            "gzip/inflates_past_bound.dcm",
            "failed",
            "inflates beyond 64 MiB",
        ),
        ("pydicom/dicomdirtests/DICOMDIR", "skipped", "DICOMDIR"),
        ("pydicom/rtplan.dcm", "skipped", "without pixel data"),
        ("pydicom/UN_sequence.dcm", "skipped", "without pixel data"),
        ("pydicom/README.txt", "skipped", "not a DICOM file"),
        (
            "pydicom/dicomdirtests/TINY_ALPHA/PT000000/ST000000/SE000000/IM000001",
            "skipped",
            "without pixel data",
        ),
    ];
    for (file, status, words) in cases {
        let (got, why) = reason(scan_one(file));
        assert_eq!(got, status, "{file}: {why}");
        assert!(
            why.contains(words),
            "{file}: {why:?} should mention {words:?}"
        );
    }
}

#[test]
fn files_without_meta_are_read_from_their_dataset() {
    let h = instance("pydicom/MR_small_implicit.dcm");
    assert_eq!(h.transfer_syntax, "1.2.840.10008.1.2");
    // RTPLAN without preamble or meta: recognised as DICOM (skipped for lack of pixels, not as non-DICOM).
    let (status, why) = reason(scan_one("pydicom/ExplVR_BigEndNoMeta.dcm"));
    assert_eq!(
        (status, why.contains("without pixel data")),
        ("skipped", true),
        "{why}"
    );
}

#[test]
fn truncation_at_any_offset_is_reported_never_a_panic() {
    let source = std::fs::read(data("pydicom/CT_small.dcm")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Pixel data (32768 bytes) starts after its 12-byte element header at 6288; trailing
    // elements after it are not part of what a header scan promises to check.
    let pixel_end = 6288 + 12 + 32768;
    assert!(source.len() >= pixel_end);
    for cut in (0..7000).step_by(13).chain([pixel_end - 1]) {
        let path = dir.path().join(format!("cut{cut}.dcm"));
        std::fs::write(&path, &source[..cut]).unwrap();
        let file = SourceFile {
            path,
            relative: format!("cut{cut}.dcm"),
        };
        match scan_file(&file, &mut Vec::new(), &mut Vec::new()) {
            ScanOutcome::Instance(h) => panic!("cut at {cut} accepted as complete: {h:?}"),
            ScanOutcome::Skipped(issue) | ScanOutcome::Failed(issue) => {
                assert!(!issue.reason.is_empty())
            }
        }
    }
}

#[test]
fn bogus_element_lengths_fail_fast() {
    // These took 27 s and 72 s in dicom-object; a header read must be bounded by the file size.
    let started = Instant::now();
    for file in ["pydicom/SC_rgb_jpeg.dcm", "pydicom/UN_sequence.dcm"] {
        let _ = scan_one(file);
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn scan_writes_one_json_record_per_instance() {
    let output = run(&["scan", data("dicom2nifti/siemens").to_str().unwrap(), "-q"]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    let records: Vec<InstanceHeader> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 8);
    assert!(
        records
            .iter()
            .all(|r| r.path.starts_with("anatomical/") && r.rows.is_some())
    );
    assert!(
        records
            .iter()
            .all(|r| r.pixel_data_offset > 0 && r.pixel_data_offset < r.file_size)
    );
}

/// Issue 14: a dataset written in the other VR mode than its file meta declares is read in the
/// mode of its bytes (as pydicom and DCMTK `-td` read it), and gives the header of the file it
/// was made from (test-data/vr_mismatch/make.py).
#[test]
fn vr_mode_mismatch_reads_like_the_original() {
    let pairs = [
        (
            "vr_mismatch/implicit_under_explicit_meta.dcm",
            "pydicom/MR_small_implicit.dcm",
        ),
        (
            "vr_mismatch/explicit_under_implicit_meta.dcm",
            "pydicom/MR_small.dcm",
        ),
    ];
    for (mismatched, original) in pairs {
        let (got, want) = (instance(mismatched), instance(original));
        assert!(
            got.vr_mode_corrected && !want.vr_mode_corrected,
            "{mismatched}"
        );
        assert_eq!(
            (got.rows, got.columns, got.bits_stored, got.instance_number),
            (
                want.rows,
                want.columns,
                want.bits_stored,
                want.instance_number
            ),
            "{mismatched}"
        );
        assert_eq!(got.sop_instance_uid, want.sop_instance_uid, "{mismatched}");
        assert_eq!(
            (got.image_position_patient, &got.window_center),
            (want.image_position_patient, &want.window_center),
            "{mismatched}"
        );
    }
}

/// Issue 14: a gzip-compressed DICOM file is recognised by its content and scanned header-only
/// (pydicom's zipMR.gz is MR_small.dcm gzipped), locally and from a `file://` bucket prefix
/// with ranged reads.
#[test]
fn gzip_compressed_dicom_scans_like_the_original() {
    let (got, want) = (
        instance("pydicom/zipMR.gz"),
        instance("pydicom/MR_small.dcm"),
    );
    assert_eq!(got.file_size, 6958, "the compressed size, as read");
    assert_eq!(
        (got.rows, got.columns, got.sop_instance_uid.clone()),
        (want.rows, want.columns, want.sop_instance_uid.clone())
    );
    assert_eq!(got.pixel_data_offset, want.pixel_data_offset);
    assert_eq!(got.window_center, want.window_center);

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(data("pydicom/zipMR.gz"), dir.path().join("zipMR.gz")).unwrap();
    std::fs::copy(
        data("gzip/inflates_past_bound.dcm"),
        dir.path().join("bomb.dcm"),
    )
    .unwrap();
    let url = format!("file://{}", dir.path().display());
    let output = run(&["scan", &url, "-v"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    let record: InstanceHeader =
        serde_json::from_slice(output.stdout.split(|&b| b == b'\n').next().unwrap()).unwrap();
    assert_eq!(
        (record.path.as_str(), record.sop_instance_uid),
        ("zipMR.gz", want.sop_instance_uid)
    );
    assert!(
        stderr.contains("bomb.dcm") && stderr.contains("inflates beyond 64 MiB"),
        "{stderr}"
    );
}
