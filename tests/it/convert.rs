//! `dicomprep convert`: layout, manifest contract, accounting, resume and determinism.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use dicomprep::contract::manifest::{ItemKind, Manifest};
use dicomprep::contract::run_report::{RunReport, Status};

use crate::util::{all_files, data, order, run};

fn convert(src: &Path, dest: &Path, extra: &[&str]) -> (Manifest, String) {
    let mut args = vec![
        "convert",
        src.to_str().unwrap(),
        "--dest",
        dest.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = run(&args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(matches!(output.status.code(), Some(0 | 3)), "{stderr}");
    let manifest =
        serde_json::from_slice(&std::fs::read(dest.join("manifest.json")).unwrap()).unwrap();
    (manifest, stderr)
}

/// Every file under `dir`, with its bytes (but the run report, which holds timings).
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    all_files(dir)
        .into_iter()
        .filter(|f| f != "report.json")
        .map(|f| (f.clone(), std::fs::read(dir.join(&f)).unwrap()))
        .collect()
}

#[test]
fn manifest_lists_every_output_with_its_size_and_accounts_for_every_input() {
    let src = data("dicom2nifti");
    let dest = tempfile::tempdir().unwrap();
    let (manifest, _) = convert(&src, dest.path(), &["-q"]);
    assert_eq!(manifest.version, 1);
    let mut expected_keys =
        BTreeSet::from(["manifest.json", "report.json", "index.html"].map(String::from));
    let mut converted = BTreeSet::new();
    for item in &manifest.items {
        assert!(item.width > 0 && item.height > 0);
        assert!(!item.storage_key.starts_with('/') && !item.storage_key.contains(".."));
        expected_keys.insert(item.thumbnail_key.clone());
        if let Some(sheet) = &item.contact_sheet {
            let size = std::fs::metadata(dest.path().join(&sheet.key))
                .unwrap()
                .len();
            assert_eq!(size, sheet.bytes, "{}", sheet.key);
            expected_keys.insert(sheet.key.clone());
        }
        assert_eq!(
            item.contact_sheet.is_some(),
            item.kind == ItemKind::Video,
            "a contact sheet for every video item"
        );
        match item.kind {
            ItemKind::Image => {
                assert_eq!(item.frames.len(), 1);
                assert_eq!(item.storage_key, item.frames[0].hq_key);
                assert!(item.storage_key.ends_with(".png") && item.frames[0].lq_key.is_none());
            }
            ItemKind::Video => {
                assert!(
                    item.frames.len() > 1,
                    "auto mode: one-slice volumes are images"
                );
                assert!(item.storage_key.ends_with("/video.mp4"));
                let video = item.video.as_ref().expect("a video item has its video");
                assert_eq!(video.frame_count, item.frames.len() as u64);
                let size = std::fs::metadata(dest.path().join(&item.storage_key))
                    .unwrap()
                    .len();
                assert_eq!(video.file_size, size);
                expected_keys.insert(item.storage_key.clone());
            }
            ItemKind::Volume => panic!("a NIfTI volume item without --outputs nifti"),
            ItemKind::Slide => panic!("dicom2nifti holds no slide"),
        }
        for frame in &item.frames {
            converted.insert(frame.path.clone());
            let size = std::fs::metadata(dest.path().join(&frame.hq_key))
                .unwrap()
                .len();
            assert_eq!(size, frame.hq_bytes, "{}", frame.hq_key);
            expected_keys.insert(frame.hq_key.clone());
            if let (Some(key), Some(bytes)) = (&frame.lq_key, frame.lq_bytes) {
                assert_eq!(
                    std::fs::metadata(dest.path().join(key)).unwrap().len(),
                    bytes
                );
                expected_keys.insert(key.clone());
            }
        }
    }
    // Exactly the manifest's keys exist: nothing half-written, nothing unlisted.
    let written: BTreeSet<String> = all_files(dest.path()).into_iter().collect();
    let unlisted: Vec<_> = written.difference(&expected_keys).collect();
    let missing: Vec<_> = expected_keys.difference(&written).collect();
    assert!(
        unlisted.is_empty() && missing.is_empty(),
        "unlisted {unlisted:?}, missing {missing:?}"
    );
    // Every input: converted, skipped or failed.
    let skipped: BTreeSet<String> = manifest.skipped.iter().map(|i| i.path.clone()).collect();
    let failed: BTreeSet<String> = manifest.failed.iter().map(|i| i.path.clone()).collect();
    let accounted: BTreeSet<String> = converted
        .iter()
        .chain(&skipped)
        .chain(&failed)
        .cloned()
        .collect();
    assert_eq!(
        accounted,
        all_files(&src).into_iter().collect::<BTreeSet<_>>()
    );

    // report.json: every input exactly once, with the status and stage the manifest implies.
    let report: RunReport =
        serde_json::from_slice(&std::fs::read(dest.path().join("report.json")).unwrap()).unwrap();
    let paths: Vec<&str> = report.inputs.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths.len(), accounted.len());
    assert!(
        paths
            .iter()
            .copied()
            .eq(accounted.iter().map(String::as_str))
    );
    for entry in &report.inputs {
        let expected = if failed.contains(&entry.path) {
            Status::Failed
        } else if skipped.contains(&entry.path) {
            Status::Skipped
        } else {
            Status::Converted
        };
        assert_eq!(entry.status, expected, "{}", entry.path);
        assert_eq!(entry.reason.is_some(), expected != Status::Converted);
        assert_eq!(entry.stage.is_some(), expected != Status::Converted);
    }
    assert_eq!(report.totals.inputs, accounted.len());
    assert_eq!(report.totals.items, manifest.items.len());
    assert!(report.totals.bytes_written > 0 && report.totals.seconds > 0.0);
}

#[test]
fn frames_follow_the_order_of_dicomprep_order() {
    let src = data("dicom2nifti/siemens");
    let dest = tempfile::tempdir().unwrap();
    let (manifest, _) = convert(&src, dest.path(), &["-q", "--as", "video"]);
    let (report, _) = order(&src, &[]);
    let ordered: Vec<Vec<String>> = report
        .volumes()
        .map(|v| v.slices.iter().map(|s| s.path.clone()).collect())
        .collect();
    let converted: Vec<Vec<String>> = manifest
        .items
        .iter()
        .map(|i| i.frames.iter().map(|f| f.path.clone()).collect())
        .collect();
    assert_eq!(converted, ordered);
    assert!(
        manifest.items.iter().all(|i| i.window.is_some()),
        "each grey video records its one window"
    );
    let keys: Vec<&str> = manifest.items[0]
        .frames
        .iter()
        .map(|f| f.hq_key.as_str())
        .collect();
    assert!(keys[0].ends_with("/frames/hq/00000.png") && keys[1].ends_with("/frames/hq/00001.png"));
}

#[test]
fn images_mode_makes_one_item_and_thumbnail_per_slice() {
    let src = data("dicom2nifti/hitachi");
    let dest = tempfile::tempdir().unwrap();
    let (manifest, _) = convert(&src, dest.path(), &["-q", "--as", "images"]);
    assert_eq!(manifest.items.len(), 8);
    for item in &manifest.items {
        assert_eq!(item.kind, ItemKind::Image);
        assert!(item.thumbnail_key.contains("/thumbnails/"));
        assert!(dest.path().join(&item.thumbnail_key).exists());
    }
}

#[test]
fn a_rerun_resumes_and_reproduces_the_same_bytes() {
    let src = data("dicom2nifti/failing");
    let dest = tempfile::tempdir().unwrap();
    let (first, stderr) = convert(&src, dest.path(), &[]);
    assert!(stderr.contains("0 kept from an earlier run"), "{stderr}");
    let before = snapshot(dest.path());

    // Nothing missing: nothing rewritten.
    let (again, stderr) = convert(&src, dest.path(), &[]);
    assert!(stderr.contains(" 0 files written"), "{stderr}");
    assert_eq!(again, first);

    // Lose some outputs, as an interrupted run would: exactly those are made again, identical.
    let lost: Vec<String> = before
        .keys()
        .filter(|k| k.ends_with("00001.png") || k.ends_with("thumbnail.jpg"))
        .cloned()
        .collect();
    assert!(!lost.is_empty());
    for key in &lost {
        std::fs::remove_file(dest.path().join(key)).unwrap();
    }
    std::fs::remove_file(dest.path().join("manifest.json")).unwrap();
    let (resumed, _) = convert(&src, dest.path(), &["-q"]);
    assert_eq!(resumed, first);
    assert_eq!(snapshot(dest.path()), before);
}

#[test]
fn other_settings_rewrite_the_outputs() {
    let src = data("dicom2nifti/hitachi");
    let dest = tempfile::tempdir().unwrap();
    convert(&src, dest.path(), &["-q"]);
    let (manifest, stderr) = convert(&src, dest.path(), &["--window", "brain"]);
    assert!(stderr.contains("settings differ"), "{stderr}");
    assert_eq!(manifest.settings.window, "40,80");
    assert!(manifest.items.iter().all(|i| {
        i.window
            .as_ref()
            .is_some_and(|w| w.center == 40.0 && w.width == 80.0)
    }));
}

#[test]
fn a_bad_window_is_refused_with_the_choices() {
    let output = run(&["convert", "x", "--dest", "y", "--window", "lungs"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("lung") && stderr.contains("CENTER,WIDTH"),
        "{stderr}"
    );
}
