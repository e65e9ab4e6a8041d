//! `convert --outputs nifti` against dcm2niix: the same folders converted by Debian's dcm2niix
//! (the reference every neuroimaging pipeline is tested against) and by dicomprep, both read
//! back with nibabel and paired by content by `scripts/nifti_conformance.py`: equal
//! dimensions, equal values after scaling, affines within 1e-3 mm, equal .bval/.bvec.

use std::path::Path;
use std::process::Command;

use dicomprep::contract::manifest::{ItemKind, Manifest};
use serde_json::Value;

use crate::util::{data, python, run};

fn convert_nifti(src: &Path, dest: &Path, extra: &[&str]) -> Manifest {
    convert_outputs(src, dest, "nifti", extra)
}

fn convert_outputs(src: &Path, dest: &Path, outputs: &str, extra: &[&str]) -> Manifest {
    let mut args = vec![
        "convert",
        src.to_str().unwrap(),
        "--dest",
        dest.to_str().unwrap(),
        "--outputs",
        outputs,
        "-q",
    ];
    args.extend_from_slice(extra);
    let output = run(&args);
    assert!(
        matches!(output.status.code(), Some(0 | 3)),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&std::fs::read(dest.join("manifest.json")).unwrap()).unwrap()
}

/// dcm2niix's files for `src` (BIDS sidecars, no compression, as its regression suites run).
fn dcm2niix(src: &Path, out: &Path) {
    std::fs::create_dir_all(out).unwrap();
    let status = Command::new("dcm2niix")
        .args(["-b", "y", "-z", "n", "-f", "%p_%s", "-o"])
        .arg(out)
        .arg(src)
        .output()
        .expect("dcm2niix runs (scripts/setup.sh --test installs it)");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );
}

/// The conformance report of our outputs in `ours` against dcm2niix's in `peer`.
fn conformance(peer: &Path, ours: &Path) -> Value {
    let report = ours.join("conformance.json");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/nifti_conformance.py");
    let output = Command::new(python())
        .arg(script)
        .arg(peer)
        .arg(ours)
        .arg("--json")
        .arg(&report)
        .output()
        .expect("run the conformance checker");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap()
}

/// Converts `folder` both ways and requires every dcm2niix file reproduced exactly.
fn equal_to_dcm2niix(folder: &str) -> Value {
    let work = tempfile::tempdir().unwrap();
    let peer = work.path().join("peer");
    dcm2niix(&data(folder), &peer);
    equal_to_references(folder, &peer)
}

/// Converts `folder` and requires every NIfTI in `references` reproduced exactly.
fn equal_to_references(folder: &str, references: &Path) -> Value {
    let src = data(folder);
    let work = tempfile::tempdir().unwrap();
    let ours = work.path().join("ours");
    convert_nifti(&src, &ours, &["--nifti-gzip", "no"]);
    let report = conformance(references, &ours);
    // One suite: the references.
    let suite = report["suites"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    let refs = suite["refs"].as_array().unwrap().clone();
    assert!(!refs.is_empty(), "dcm2niix wrote nothing for {folder}");
    for r in &refs {
        assert_eq!(
            r["class"], "exact",
            "{folder}: {} is {} ({})",
            r["ref"], r["class"], r["detail"]
        );
        assert_eq!(r["bval_bvec_bad"], false, "{folder}: {}", r["bval_bvec"]);
        assert_eq!(
            r["our_sidecar"], true,
            "{folder}: {} has no sidecar",
            r["ref"]
        );
    }
    report
}

#[test]
fn siemens_mosaics_and_ge_fmri_equal_dcm2niix() {
    // Four EPI mosaic series (tiles as slices, 4D) and a GE fMRI of 15 slices x 10 volumes.
    let report = equal_to_dcm2niix("dcm_qa_nih");
    let core = &report["total"];
    let (equal, total) = (
        core["core_equal"].as_u64().unwrap(),
        core["core_total"].as_u64().unwrap(),
    );
    assert!(
        equal * 100 >= total * 85,
        "core sidecar keys equal to dcm2niix's: {equal} of {total}"
    );
}

#[test]
fn every_lossless_transfer_syntax_equals_dcm2niix() {
    // Against the suite's own references (dcm2niix with every codec; Debian's build lacks
    // JPEG-LS, so it cannot make 7 and 8 here).
    let report = equal_to_references("dcm_qa_ts/In", &data("dcm_qa_ts/Ref"));
    assert_eq!(report["total"]["exact"], 9);
}

#[test]
fn reversed_mosaics_equal_dcm2niix() {
    // ProtocolSliceNumber > 1: dcm2niix stores the tiles in reverse.
    equal_to_dcm2niix("dcm2niix-qa/dcm_qa_mosaic/In");
}

#[test]
fn enhanced_and_3d_volumes_equal_dcm2niix() {
    // Enhanced multi-frame (Siemens XA, Philips with its floating-point scaling), 3D sagittal
    // acquisitions reoriented as dcm2niix does, classic series of several vendors.
    for folder in [
        "dcm_qa_enh/In/Siemens",
        "dicom2nifti/philips_enhanced",
        "dicom2nifti/siemens",
        "dicom2nifti/ge",
        "dicom2nifti/hitachi",
        "dicom2nifti/siemens_multiframe",
        "dicom2nifti/hyperfine",
        "dcm_qa_enh/In/Philips",
        // A GE B0 fieldmap series: its Hz map and its magnitude are two files.
        "dcm2niix-qa/dcm_qa_fmap/In/GE",
        // Three enhanced DWI files of one series, a direction each: a 4D volume whose third
        // file is read for its frames alone and let go after the last.
        "dcm2niix-qa/dcm_qa_xa30/In/10_DWI_dir80_PA",
    ] {
        equal_to_dcm2niix(folder);
    }
}

#[test]
fn nifti_bytes_are_deterministic_and_a_rerun_keeps_them() {
    let src = data("dcm_qa_nih/In/20180918Si");
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = convert_nifti(&src, one.path(), &["--threads", "1"]);
    let second = convert_nifti(&src, two.path(), &["--threads", "2"]);
    assert_eq!(first.items.len(), 4);
    for (a, b) in first.items.iter().zip(&second.items) {
        assert_eq!(a.kind, ItemKind::Volume);
        let (na, nb) = (a.nifti.as_ref().unwrap(), b.nifti.as_ref().unwrap());
        assert!(na.image.ends_with("volume.nii.gz"), "{}", na.image);
        let bytes = |dir: &Path, key: &str| std::fs::read(dir.join(key)).unwrap();
        assert_eq!(bytes(one.path(), &na.image), bytes(two.path(), &nb.image));
        assert_eq!(
            bytes(one.path(), &na.image).len() as u64,
            na.image_bytes,
            "the manifest records the size written"
        );
        let sidecar = na.sidecar.as_ref().unwrap();
        let json: Value = serde_json::from_slice(&bytes(one.path(), sidecar)).unwrap();
        for identifier in ["PatientName", "PatientID", "PatientBirthDate", "PatientSex"] {
            assert!(json.get(identifier).is_none(), "{identifier} in {sidecar}");
        }
        assert!(a.frames.iter().all(|f| f.sop_instance_uid.is_some()));
    }
    // A re-run keeps every file.
    let output = run(&[
        "convert",
        src.to_str().unwrap(),
        "--dest",
        one.path().to_str().unwrap(),
        "--outputs",
        "nifti",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(" 0 files written"), "{stderr}");
}

#[test]
fn render_and_nifti_together_name_the_volume_from_every_item() {
    let src = data("dcm_qa_nih/In/20180918GE");
    let dest = tempfile::tempdir().unwrap();
    let manifest = convert_outputs(&src, dest.path(), "render,nifti", &["--no-mp4"]);
    // Ten time points of one fMRI: ten video items, one 4D NIfTI they all name.
    let videos: Vec<_> = manifest
        .items
        .iter()
        .filter(|i| i.kind == ItemKind::Video)
        .collect();
    assert_eq!(videos.len(), 10);
    let images: std::collections::BTreeSet<&str> = videos
        .iter()
        .map(|i| i.nifti.as_ref().unwrap().image.as_str())
        .collect();
    assert_eq!(images.len(), 1);
    let entry = videos[0].nifti.as_ref().unwrap();
    assert_eq!(entry.dims, [64, 64, 15, 10]);
    assert_eq!(entry.volumes.len(), 10);
}

#[test]
fn what_one_nifti_cannot_hold_is_noted_and_a_broken_file_fails_alone() {
    let dest = tempfile::tempdir().unwrap();
    let manifest = convert_nifti(&data("dicom2nifti/failing"), dest.path(), &[]);
    let notes: Vec<&str> = manifest
        .items
        .iter()
        .flat_map(|i| i.nifti.as_ref().unwrap().notes.iter().map(String::as_str))
        .collect();
    assert!(
        notes.iter().any(|n| n.starts_with("uneven slice spacing")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.starts_with("gantry tilt")),
        "{notes:?}"
    );
    // Four CT images at one position: one file of four volumes of one slice, as dcm2niix.
    assert!(
        manifest
            .items
            .iter()
            .any(|i| i.nifti.as_ref().unwrap().dims == [512, 512, 1, 4])
    );

    let broken = tempfile::tempdir().unwrap();
    let output = run(&[
        "convert",
        data("pydicom/MR_truncated.dcm").to_str().unwrap(),
        "--dest",
        broken.path().to_str().unwrap(),
        "--outputs",
        "nifti",
        "-q",
    ]);
    assert_eq!(output.status.code(), Some(3));
    let report: Value =
        serde_json::from_slice(&std::fs::read(broken.path().join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(report["failed"][0]["path"], "MR_truncated.dcm");
    assert_eq!(report["items"].as_array().unwrap().len(), 0);
}
