//! Sidecars of real series against the JSON dcm2niix wrote for them (test-data/dcm2niix-qa/
//! <suite>/Ref): each listed key must be present with an equal value (numbers within 1e-4
//! relative, as the conformance comparison), and no patient identifier may appear.

use super::*;
use crate::nifti::values;
use crate::scan::reader::HeaderTree;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/test-data");

/// The header of a test file (kept for the test's lifetime).
fn open(path: &str) -> Dataset<'static> {
    let bytes = std::fs::read(format!("{DATA}/{path}")).unwrap();
    let tree = HeaderTree::parse(bytes.into()).unwrap();
    Box::leak(Box::new(tree)).root()
}

fn reference(path: &str) -> Map<String, Value> {
    let text = std::fs::read_to_string(format!("{DATA}/dcm2niix-qa/{path}")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-4 * x.abs().max(y.abs()) + 1e-12
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        _ => a == b,
    }
}

/// Every key of `keys` equal to the reference's; returns the share of all reference keys
/// (but the conversion software's) that we write with an equal value.
fn check(ours: &Sidecar, theirs: &Map<String, Value>, keys: &[&str]) -> f64 {
    for key in keys {
        let t = theirs
            .get(*key)
            .unwrap_or_else(|| panic!("{key} missing from Ref"));
        let o = ours
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing, Ref has {t}"));
        assert!(same(o, t), "{key}: ours {o}, Ref {t}");
    }
    let relevant: Vec<_> = theirs
        .keys()
        .filter(|k| !k.starts_with("ConversionSoftware"))
        .collect();
    let equal = relevant
        .iter()
        .filter(|k| ours.get(k).is_some_and(|o| same(o, &theirs[k.as_str()])))
        .count();
    let differ: Vec<_> = relevant
        .iter()
        .filter(|k| !ours.get(k).is_some_and(|o| same(o, &theirs[k.as_str()])))
        .collect();
    eprintln!("differ from Ref or missing: {differ:?}");
    equal as f64 / relevant.len() as f64
}

/// The order of our keys is the order dcm2niix writes them in.
fn assert_reference_order(ours: &Sidecar, theirs: &Map<String, Value>) {
    let text = std::fs::read_to_string(format!(
        "{DATA}/dcm2niix-qa/dcm_qa_nih/Ref/EPI_PE=AP_3.json"
    ))
    .unwrap();
    let _ = theirs;
    let position = |k: &str| text.find(&format!("\"{k}\":"));
    let shared: Vec<usize> = ours.keys().filter_map(position).collect();
    assert!(
        shared.windows(2).all(|w| w[0] < w[1]),
        "keys out of dcm2niix's order"
    );
}

fn assert_no_patient_identifiers(ours: &Sidecar, source: &Dataset<'_>) {
    for key in ours.keys() {
        assert!(
            key == "PatientPosition" || !key.starts_with("Patient"),
            "patient key {key}"
        );
        assert!(
            ![
                "AccessionNumber",
                "StudyID",
                "ReferringPhysicianName",
                "AcquisitionDateTime",
                "SeriesInstanceUID",
                "StudyInstanceUID"
            ]
            .contains(&key),
            "identifying key {key}"
        );
    }
    let json = ours.to_json_string();
    for tag in [
        tags::PATIENT_NAME,
        tags::PATIENT_ID,
        tags::PATIENT_BIRTH_DATE,
    ] {
        if let Some(v) = values::text(source, tag).filter(|v| v.len() > 2) {
            assert!(!json.contains(&v), "{tag} value leaked");
        }
    }
}

/// Keys every MR sidecar Ref checks: scanner and series.
const SCANNER: &[&str] = &[
    "Modality",
    "MagneticFieldStrength",
    "ImagingFrequency",
    "Manufacturer",
    "ManufacturersModelName",
    "SeriesDescription",
    "ProtocolName",
];

/// Keys of the acquisition that classic (non-enhanced) Refs check.
const SEQUENCE: &[&str] = &[
    "ScanningSequence",
    "SequenceVariant",
    "ScanOptions",
    "ImageType",
    "SeriesNumber",
    "AcquisitionTime",
    "AcquisitionNumber",
    "SliceThickness",
    "SpacingBetweenSlices",
    "EchoTime",
    "RepetitionTime",
    "FlipAngle",
];

/// Keys of the sidecar that Siemens EPI Refs check, beside [`SCANNER`] and [`SEQUENCE`].
const SIEMENS_EPI_ONLY: &[&str] = &[
    "PartialFourier",
    "SliceTiming",
    "PhaseEncodingDirection",
    "EffectiveEchoSpacing",
    "TotalReadoutTime",
    "ImageOrientationPatientDICOM",
    "BandwidthPerPixelPhaseEncode",
    "PixelBandwidth",
    "AcquisitionMatrixPE",
    "ReconMatrixPE",
    "DerivedVendorReportedEchoSpacing",
    "MRAcquisitionType",
    "InPlanePhaseEncodingDirectionDICOM",
    "DwellTime",
    "BaseResolution",
    "PercentPhaseFOV",
    "PercentSampling",
    "EchoTrainLength",
    "PhaseEncodingSteps",
];

/// The keys of several groups, in order.
fn keys(groups: &[&[&'static str]]) -> Vec<&'static str> {
    groups.concat()
}

#[test]
fn siemens_mosaic_matches_dcm2niix() {
    // Both volumes: mr_0004's first volume reports its last slice 2.5 ms early, and dcm2niix
    // (so we) take the second volume's times then.
    for (series, reference_json) in [
        ("mr_0003/epi_pe_ap", "EPI_PE=AP_3.json"),
        ("mr_0004/epi_pe_pa", "EPI_PE=PA_4.json"),
        ("mr_0005/epi_pe_rl", "EPI_PE=RL_5.json"),
    ] {
        let first = open(&format!("dcm_qa_nih/In/20180918Si/{series}-00001.dcm"));
        let second = open(&format!("dcm_qa_nih/In/20180918Si/{series}-00002.dcm"));
        let input = SidecarInput {
            first: Some(first),
            slice_headers: vec![first],
            second_slice_headers: vec![second],
            mosaic_slices: Some(5),
            dims: [72, 72, 5, 2],
            ..SidecarInput::default()
        };
        let ours = sidecar(&input);
        let theirs = reference(&format!("dcm_qa_nih/Ref/{reference_json}"));
        let mut keys = keys(&[SCANNER, SEQUENCE, SIEMENS_EPI_ONLY]);
        keys.extend([
            "SequenceName",
            "StationName",
            "SoftwareVersions",
            "MatrixCoilMode",
        ]);
        let share = check(&ours, &theirs, &keys);
        assert!(
            share > 0.6,
            "{reference_json}: only {share:.2} of Ref keys equal"
        );
        assert_reference_order(&ours, &theirs);
        assert_no_patient_identifiers(&ours, &first);
    }
}

/// The file name of volume `n` of XA30 series 10 (names start with the 4-digit volume).
fn file_of(n: usize) -> String {
    let dir = format!("{DATA}/dcm2niix-qa/dcm_qa_xa30/In/10_DWI_dir80_PA");
    let prefix = format!("{n:04}_");
    std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|f| f.starts_with(&prefix))
        .unwrap()
}

#[test]
fn siemens_xa30_enhanced_dwi_matches_dcm2niix() {
    let first = open(&format!(
        "dcm2niix-qa/dcm_qa_xa30/In/10_DWI_dir80_PA/{}",
        file_of(1)
    ));
    let frames = first
        .items(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .collect::<Vec<_>>();
    let second = open(&format!(
        "dcm2niix-qa/dcm_qa_xa30/In/10_DWI_dir80_PA/{}",
        file_of(2)
    ));
    let second_frames = second
        .items(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .collect::<Vec<_>>();
    let input = SidecarInput {
        first: Some(first),
        first_frame: Some(frames[0]),
        slice_headers: frames.clone(),
        second_slice_headers: second_frames.clone(),
        dims: [72, 72, 39, 21],
        ..SidecarInput::default()
    };
    let ours = sidecar(&input);
    let theirs = reference("dcm_qa_xa30/Ref/10_DWI_dir80_PA.json");
    let keys: Vec<&str> = keys(&[SCANNER, SEQUENCE, SIEMENS_EPI_ONLY])
        .into_iter()
        .filter(|k| !["BaseResolution", "SequenceName"].contains(k))
        .chain([
            "PulseSequenceName",
            "MultibandAccelerationFactor",
            "MTState",
            "PartialFourierDirection",
            "FrequencyEncodingSteps",
        ])
        .collect();
    let share = check(&ours, &theirs, &keys);
    assert!(share > 0.5, "only {share:.2} of Ref keys equal");
    assert_no_patient_identifiers(&ours, &first);
}

#[test]
fn ge_and_philips_standard_keys_match_dcm2niix() {
    let ge = open("dcm_qa_nih/In/20180918GE/mr_0004/axial_epi_fmri_interleaved_i_to_s-00001.dcm");
    let input = SidecarInput {
        first: Some(ge),
        slice_headers: vec![ge],
        dims: [64, 64, 15, 10],
        ..SidecarInput::default()
    };
    let ours = sidecar(&input);
    let theirs = reference("dcm_qa_nih/Ref/DCM2NIIX_regression_test_4.json");
    let mut ge_keys = keys(&[SCANNER, SEQUENCE]);
    ge_keys.extend([
        "ImageOrientationPatientDICOM",
        "PixelBandwidth",
        "AcquisitionMatrixPE",
        "ReconMatrixPE",
        "MRAcquisitionType",
        "InPlanePhaseEncodingDirectionDICOM",
        "PercentPhaseFOV",
        "PercentSampling",
        "EffectiveEchoSpacing",
        "TotalReadoutTime",
        // From GE's binary header (0043,102A) and its Protocol Data Block (0025,101B).
        "PhaseEncodingDirection",
        "SliceTiming",
    ]);
    check(&ours, &theirs, &ge_keys);
    assert_no_patient_identifiers(&ours, &ge);

    let ph = open("dcm_qa_enh/In/Philips/IM_0027_fMAP.dcm");
    let frames = ph
        .items(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .collect::<Vec<_>>();
    let input = SidecarInput {
        first: Some(ph),
        first_frame: Some(frames[0]),
        dims: [64, 64, 32, 1],
        ..SidecarInput::default()
    };
    let ours = sidecar(&input);
    let theirs = reference("dcm_qa_fmap/Ref/Ph_801_WIP_B0_NS_e1.json");
    // Philips: no AcquisitionTime (this Ref comes from a 2026 dcm2niix, which zero-pads the
    // seconds) and no ScanningSequence ("RM" is not derived yet).
    let mut philips_keys = keys(&[SCANNER]);
    philips_keys.extend([
        "SeriesNumber",
        "SliceThickness",
        "SpacingBetweenSlices",
        "EchoTime",
        "RepetitionTime",
        "FlipAngle",
        "ImageOrientationPatientDICOM",
        "MRAcquisitionType",
        "InPlanePhaseEncodingDirectionDICOM",
        "AcquisitionMatrixPE",
        "ReconMatrixPE",
        "PixelBandwidth",
        "PercentSampling",
    ]);
    check(&ours, &theirs, &philips_keys);
    assert_no_patient_identifiers(&ours, &ph);
}

#[test]
fn json_text_keeps_the_order_and_parses() {
    let first = open("dcm_qa_nih/In/20180918Si/mr_0003/epi_pe_ap-00001.dcm");
    let input = SidecarInput {
        first: Some(first),
        mosaic_slices: Some(5),
        dims: [72, 72, 5, 2],
        ..SidecarInput::default()
    };
    let ours = sidecar(&input);
    let text = ours.to_json_string();
    assert!(text.starts_with("{\n\t\"Modality\": \"MR\",\n"));
    let parsed: Map<String, Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed, ours.to_map());
    assert_eq!(sidecar(&SidecarInput::default()), Sidecar::default());
}

#[test]
fn echoes_of_one_file_are_numbered_as_they_first_appear() {
    // Philips' B0 map: magnitude at 1.52 ms, then the Hz map at 0 ms: echoes 1 and 2.
    let times = [Some(1.52), Some(1.52), Some(0.0), Some(0.0)];
    assert_eq!(echo_in_file(&times, 0), Some(1));
    assert_eq!(echo_in_file(&times, 3), Some(2));
    assert_eq!(echo_in_file(&[Some(10.0), Some(10.0)], 1), None);
    assert_eq!(echo_in_file(&[None, None], 0), None);
}
