//! Labels in: real SEG and RTSTRUCT objects (dcmqi, highdicom, rt-utils) and cases made with
//! highdicom (overlaps, 874-bit frames, label maps, fractional maps, missing references), each
//! converted like a user's folder. `scripts/labels_oracle.py` reads the Darwin files with
//! darwin-py's importer and the Encord label rows with the Encord SDK, and compares every
//! mask with highdicom's `get_pixels_by_source_instance` (SEG) or an independent even-odd fill
//! of the contour points (RTSTRUCT).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use dicomprep::contract::manifest::Manifest;
use dicomprep::contract::run_report::RunReport;
use serde_json::Value;

use crate::util::{data, run, run_script};

/// The cases of `scripts/make_label_cases.py`, made once per test run.
fn cases() -> &'static Path {
    static CASES: OnceLock<tempfile::TempDir> = OnceLock::new();
    CASES
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let labels = data("labels");
            run_script(
                "make_label_cases.py",
                &[labels.as_os_str(), dir.path().as_os_str()],
            );
            dir
        })
        .path()
}

/// A folder holding copies of `files` (files or folders, relative to test-data/labels).
fn folder(files: &[&str]) -> tempfile::TempDir {
    fn copy_tree(from: &Path, to: &Path) {
        if from.is_dir() {
            for entry in std::fs::read_dir(from).unwrap() {
                let entry = entry.unwrap();
                copy_tree(&entry.path(), &to.join(entry.file_name()));
            }
        } else {
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(from, to).unwrap();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    for file in files {
        copy_tree(&data("labels").join(file), &dir.path().join(file));
    }
    dir
}

struct Converted {
    manifest: Manifest,
    report: RunReport,
    code: Option<i32>,
}

fn convert(src: &Path, dest: &Path, extra: &[&str]) -> Converted {
    let mut args = vec![
        "convert",
        src.to_str().unwrap(),
        "--dest",
        dest.to_str().unwrap(),
        "-q",
        "--no-mp4",
    ];
    args.extend_from_slice(extra);
    let output = run(&args);
    let read = |name: &str| std::fs::read(dest.join(name)).unwrap();
    Converted {
        manifest: serde_json::from_slice(&read("manifest.json")).unwrap(),
        report: serde_json::from_slice(&read("report.json")).unwrap(),
        code: output.status.code(),
    }
}

/// Runs the oracle over a conversion; returns pixels by (class, item frame).
fn oracle(src: &Path, dest: &Path, extra: &[&str]) -> BTreeMap<(String, u64), u64> {
    let mut args = vec![src.as_os_str(), dest.as_os_str()];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let output = run_script("labels_oracle.py", &args);
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    summary["checked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                (
                    c["class"].as_str().unwrap().to_string(),
                    c["frame"].as_u64().unwrap(),
                ),
                c["pixels"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Converts `src` and checks it against the oracle; every label object must be placed.
fn checked(src: &Path, extra: &[&str]) -> (Converted, BTreeMap<(String, u64), u64>) {
    let dest = tempfile::tempdir().unwrap();
    let converted = convert(src, dest.path(), extra);
    assert_eq!(converted.code, Some(0), "{}", src.display());
    assert!(!converted.report.labels.is_empty());
    assert!(converted.report.labels.iter().all(|l| l.items > 0));
    let threshold: Vec<&str> = extra
        .windows(2)
        .filter(|w| w[0] == "--seg-threshold")
        .flat_map(|w| ["--threshold", w[1]])
        .collect();
    let pixels = oracle(src, dest.path(), &threshold);
    assert!(!pixels.is_empty(), "{}: nothing checked", src.display());
    (converted, pixels)
}

fn total(pixels: &BTreeMap<(String, u64), u64>, class: &str) -> u64 {
    pixels
        .iter()
        .filter(|((c, _), _)| c == class)
        .map(|(_, p)| p)
        .sum()
}

#[test]
fn real_segs_and_a_structure_set_equal_the_oracles_as_darwin_py_and_encord_read_them() {
    // dcmqi's liver SEG: frames stored in the reverse of the images' order.
    let dcmqi = folder(&["dcmqi/liver.dcm", "dcmqi/ct-3slice"]);
    let (converted, pixels) = checked(dcmqi.path(), &[]);
    assert_eq!(converted.manifest.items.len(), 1, "a SEG is never an item");
    assert_eq!(pixels.len(), 3);
    let entry = &converted.manifest.items[0].labels[0];
    assert_eq!(
        (entry.kind.as_str(), entry.segments[0].name.as_str()),
        ("seg", "Liver")
    );
    assert!(entry.darwin_key.is_some() && entry.encord_key.is_some());

    // highdicom's binary SEG: the fourth image has no frame.
    for seg in [
        "seg_image_ct_binary.dcm",
        "seg_image_ct_binary_fractional.dcm",
    ] {
        let src = folder(&[&format!("highdicom/{seg}"), "highdicom/source"]);
        let (_, pixels) = checked(src.path(), &[]);
        assert_eq!(pixels.len(), 3, "{seg}");
    }
    // A true fractional SEG: 127 pixels of 17136 at >= 0.5, 149 at >= 0.25.
    let src = folder(&[
        "highdicom/seg_image_ct_true_fractional.dcm",
        "highdicom/source",
    ]);
    let (_, half) = checked(src.path(), &[]);
    let (_, quarter) = checked(src.path(), &["--seg-threshold", "0.25"]);
    assert_eq!(half[&("first segment".to_string(), 1)], 127);
    assert_eq!(quarter[&("first segment".to_string(), 1)], 149);

    // rt-utils: a square with a hole, 2401 - 958 pixel centres; its Frame of Reference
    // differs from its images', so it is placed through its image references with a warning.
    let rt = folder(&["rt-utils"]);
    let (converted, pixels) = checked(rt.path(), &[]);
    assert_eq!(total(&pixels, "ROI-1"), 1443);
    assert_eq!(converted.report.labels[0].warnings.len(), 1);
}

#[test]
fn made_cases_overlaps_odd_frames_label_maps_and_fractions_equal_highdicom() {
    let case = |name: &str| -> PathBuf { cases().join(name) };
    let (converted, pixels) = checked(&case("overlap"), &[]);
    // The overlapping segment's frames become polygons in Darwin: still pixel for pixel.
    let darwin = converted.manifest.items[0].labels[0]
        .darwin_key
        .clone()
        .unwrap();
    assert!(darwin.ends_with(".darwin.json"));
    assert_eq!(total(&pixels, "Tumour"), 2 * 8 * 8);
    assert_eq!(total(&pixels, "Spleen"), 4 * 7);
    let (_, pixels) = checked(&case("odd-size"), &[]);
    assert_eq!(total(&pixels, "Body"), 3 * 17 * 25);
    assert_eq!(total(&pixels, "Marker"), 5 * 6);
    let (converted, pixels) = checked(&case("labelmap"), &[]);
    assert_eq!(converted.manifest.items[0].labels[0].segments.len(), 3);
    assert_eq!(total(&pixels, "C"), 64);
    // A label map shown through a palette: its values are still the segment numbers.
    let (_, shown) = checked(&case("labelmap-palette"), &[]);
    assert_eq!(shown, pixels);
    checked(&case("fractional"), &[]);
    checked(&case("no-references"), &[]);
    let (_, pixels) = checked(&case("rt-shapes"), &[]);
    assert_eq!(total(&pixels, "ROI-1"), 1443);
    // No Contour Image Sequence: by Frame of Reference and plane, the same pixels.
    let (converted, pixels) = checked(&case("rt-plane"), &[]);
    assert_eq!(total(&pixels, "ROI-1"), 1443);
    assert!(converted.report.labels[0].warnings.is_empty());
}

/// The report entry of the only label object of a conversion.
fn only_label(converted: &Converted) -> &dicomprep::contract::run_report::LabelReport {
    assert_eq!(converted.report.labels.len(), 1);
    &converted.report.labels[0]
}

#[test]
fn bad_label_objects_say_why_and_nothing_wrong_is_placed() {
    let dest = tempfile::tempdir().unwrap();
    let at = |name: &str| {
        let out = dest.path().join(name);
        (convert(&cases().join(name), &out, &[]), out)
    };

    // Parts that cannot be placed are listed; the rest is placed and checked.
    let (dangling, out) = at("dangling");
    let label = only_label(&dangling);
    assert_eq!((label.items, label.frames), (1, 3));
    assert!(
        label.not_placed[0]
            .reason
            .contains("not among the converted images")
    );
    oracle(&cases().join("dangling"), &out, &[]);

    let (bad, out) = at("bad-segment");
    let label = only_label(&bad);
    assert_eq!(label.not_placed.len(), 1);
    assert!(
        label.not_placed[0]
            .reason
            .contains("segment 7, which the SegmentSequence does not list"),
        "{label:?}"
    );
    oracle(&cases().join("bad-segment"), &out, &[]);

    let (other, _) = at("other-series");
    let label = only_label(&other);
    assert!(label.not_placed[0].reason.contains("series"), "{label:?}");

    let (shapes, _) = at("rt-shapes");
    let reasons: Vec<&str> = only_label(&shapes)
        .not_placed
        .iter()
        .map(|p| p.reason.as_str())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("2 points")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("NaN")), "{reasons:?}");

    // Placed nowhere: the object fails the run (exit 3) and nothing names it.
    let (mismatch, _) = at("for-mismatch");
    assert_eq!(mismatch.code, Some(3));
    let label = only_label(&mismatch);
    assert_eq!(label.items, 0);
    assert!(
        label
            .reason
            .as_deref()
            .unwrap()
            .contains("Frame of Reference")
    );
    assert!(mismatch.manifest.items.iter().all(|i| i.labels.is_empty()));
    assert!(mismatch.manifest.failed.iter().any(|f| f.path == "seg.dcm"));

    // A truncated SEG fails at the scan, with its reason.
    let (truncated, _) = at("truncated");
    assert_eq!(truncated.code, Some(3));
    let entry = truncated
        .report
        .inputs
        .iter()
        .find(|i| i.path == "seg.dcm")
        .unwrap();
    assert!(entry.reason.as_deref().unwrap().contains("truncated"));
}

#[test]
fn labels_off_leaves_label_objects_aside_and_order_accounts_for_them() {
    let src = folder(&["dcmqi/liver.dcm", "dcmqi/ct-3slice"]);
    let dest = tempfile::tempdir().unwrap();
    let converted = convert(src.path(), dest.path(), &["--labels", "off"]);
    assert_eq!(converted.code, Some(0));
    assert_eq!(converted.manifest.items.len(), 1);
    assert!(converted.manifest.items[0].labels.is_empty());
    assert!(converted.report.labels.is_empty());
    let (order, _) = crate::util::order(src.path(), &[]);
    let skipped = order
        .skipped
        .iter()
        .find(|s| s.path == "dcmqi/liver.dcm")
        .unwrap();
    assert!(skipped.reason.contains("label object"));
}

#[test]
fn nifti_label_maps_sit_on_the_voxels_that_show_the_labelled_pixels() {
    // dcmqi's SEG on a NIfTI-only volume (its slices stacked the other way round).
    let dcmqi = folder(&["dcmqi/liver.dcm", "dcmqi/ct-3slice"]);
    let (converted, _) = checked(dcmqi.path(), &["--outputs", "nifti"]);
    let label = &converted.manifest.items[0].labels[0];
    assert!(
        label
            .nifti_key
            .as_deref()
            .unwrap()
            .ends_with("volume.labels1.nii.gz")
    );
    assert!(
        label.darwin_key.is_none(),
        "no pictures: no annotation files"
    );
    // Overlapping segments: one binary file per segment; a label map otherwise.
    let (converted, _) = checked(&cases().join("overlap"), &["--outputs", "render,nifti"]);
    let label = &converted.manifest.items[0].labels[0];
    assert_eq!(
        (label.nifti_key.as_ref(), label.nifti_segments.len()),
        (None, 3)
    );
    let (converted, _) = checked(&cases().join("labelmap"), &["--outputs", "render,nifti"]);
    assert!(converted.manifest.items[0].labels[0].nifti_key.is_some());
    checked(&cases().join("odd-size"), &["--outputs", "render,nifti"]);
    checked(&cases().join("rt-shapes"), &["--outputs", "nifti"]);
}

/// Darwin's API as the import needs it: datasets, classes (a class created is listed after),
/// annotation types, item lookup, import; registration answered too.
fn darwin_api() -> crate::register_server::Server {
    use std::sync::atomic::{AtomicBool, Ordering};
    let created = std::sync::Arc::new(AtomicBool::new(false));
    crate::register_server::Server::start(move |request, _| {
        let json = |value: Value| (200, vec![], serde_json::to_vec(&value).unwrap());
        let path = request.path.split('?').next().unwrap_or_default();
        match (request.method.as_str(), path) {
            ("POST", "/api/v2/teams/team/items/register_existing_readonly") => {
                let body: Value = serde_json::from_slice(&request.body).unwrap();
                let items: Vec<Value> = body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| serde_json::json!({"name": i["name"], "id": "item-1"}))
                    .collect();
                json(serde_json::json!({"items": items, "blocked_items": []}))
            }
            ("GET", "/api/datasets") => {
                json(serde_json::json!([{"id": 7, "slug": "ds", "name": "ds"}]))
            }
            ("GET", "/api/teams/team/annotation_classes") => {
                let mut classes = vec![
                    serde_json::json!({"id": 1, "name": "__raster_layer__", "annotation_types": ["raster_layer"], "datasets": []}),
                ];
                if created.load(Ordering::SeqCst) {
                    classes.push(serde_json::json!({"id": 2, "name": "Liver", "annotation_types": ["mask"], "datasets": [{"id": 7}]}));
                }
                json(serde_json::json!({"annotation_classes": classes}))
            }
            ("GET", "/api/annotation_types") => json(serde_json::json!([
                {"id": 10, "name": "mask"}, {"id": 11, "name": "polygon"}, {"id": 12, "name": "raster_layer"}
            ])),
            ("POST", "/api/annotation_classes") => {
                created.store(true, Ordering::SeqCst);
                json(serde_json::json!({"id": 2}))
            }
            ("GET", "/api/v2/teams/team/items") => {
                let name = request
                    .path
                    .split("item_names[]=")
                    .nth(1)
                    .unwrap_or_default();
                let name = name.split('&').next().unwrap_or_default();
                let name = percent_encoding::percent_decode_str(name)
                    .decode_utf8_lossy()
                    .to_string();
                json(
                    serde_json::json!({"items": [{"id": "item-1", "name": name, "path": "/"}], "page": {"next": null}}),
                )
            }
            ("POST", "/api/v2/teams/team/items/item-1/import") => json(serde_json::json!({})),
            _ => (404, vec![], b"unknown".to_vec()),
        }
    })
}

#[test]
fn register_darwin_annotations_imports_the_label_files_into_the_registered_items() {
    let src = folder(&["dcmqi/liver.dcm", "dcmqi/ct-3slice"]);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out");
    let output = run(&[
        "convert",
        src.path().to_str().unwrap(),
        "--dest",
        dest.to_str().unwrap(),
        "-q",
        "--payload",
        "darwin-readonly",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(dest.join("manifest.json")).unwrap()).unwrap();
    let payload = std::fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("darwin-readonly")
        })
        .expect("the payload beside the manifest");
    let server = darwin_api();
    let result = dir.path().join("result.json");
    let manifest_path = dest.join("manifest.json");
    let args = [
        "darwin",
        "--payload",
        payload.to_str().unwrap(),
        "--team",
        "team",
        "--api-url",
        &server.url,
        "--dataset-slug",
        "ds",
        "--storage-slug",
        "st",
        "--annotations",
        manifest_path.to_str().unwrap(),
        "--result",
        result.to_str().unwrap(),
    ];
    let key = [("DARWIN_API_KEY", "sk-labels-never-print")];
    let out = crate::register_server::run_register(&args, &key);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let received = server.received();
    let create = received
        .iter()
        .find(|r| r.method == "POST" && r.path == "/api/annotation_classes")
        .expect("the Liver mask class created");
    let class: Value = serde_json::from_slice(&create.body).unwrap();
    let colour = &manifest.items[0].labels[0].segments[0].color;
    let rgb: Vec<u8> = (0..3)
        .map(|i| u8::from_str_radix(&colour[1 + 2 * i..3 + 2 * i], 16).unwrap())
        .collect();
    assert_eq!(class["name"], "Liver");
    assert_eq!(class["annotation_type_ids"], serde_json::json!([10]));
    assert_eq!(
        class["metadata"]["_color"],
        format!("rgba({},{},{},1.0)", rgb[0], rgb[1], rgb[2])
    );
    let import = received
        .iter()
        .find(|r| r.path == "/api/v2/teams/team/items/item-1/import")
        .expect("one import");
    assert_eq!(
        import.header("authorization"),
        Some("ApiKey sk-labels-never-print")
    );
    let body: Value = serde_json::from_slice(&import.body).unwrap();
    assert_eq!(body["overwrite"], "true");
    let annotations = body["annotations"].as_array().unwrap();
    let classes: Vec<&Value> = annotations
        .iter()
        .map(|a| &a["annotation_class_id"])
        .collect();
    assert_eq!(classes, [&serde_json::json!(2), &serde_json::json!(1)]);
    // The file's annotations, frame for frame: three keyframes of the mask, the raster layer.
    let darwin_key = manifest.items[0].labels[0].darwin_key.clone().unwrap();
    let file: Value =
        serde_json::from_slice(&std::fs::read(dest.join(darwin_key)).unwrap()).unwrap();
    for (sent, written) in annotations
        .iter()
        .zip(file["annotations"].as_array().unwrap())
    {
        assert_eq!(sent["id"], written["id"]);
        assert_eq!(sent["data"]["segments"], written["ranges"]);
        assert_eq!(
            sent["data"]["frames"].as_object().unwrap().len(),
            written["frames"].as_object().unwrap().len()
        );
    }
    // A re-run with the result file imports nothing again.
    let before = server.received().len();
    let out = crate::register_server::run_register(&args, &key);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        server.received()[before..]
            .iter()
            .all(|r| !r.path.ends_with("/import"))
    );
}

#[test]
fn a_where_selection_keeps_the_labels_of_the_series_it_selects() {
    let src = folder(&["dcmqi", "rt-utils"]);
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("index.sqlite");
    let indexed = run(&[
        "index",
        src.path().to_str().unwrap(),
        "--db",
        index.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(indexed.status.code(), Some(0));
    // dcmqi's CT series: its SEG comes along, rt-utils' series and RTSTRUCT do not.
    let condition =
        "series_instance_uid = '1.2.392.200103.20080913.113635.1.2009.6.22.21.43.10.23430.1'";
    for with_index in [false, true] {
        let dest = dir.path().join(format!("out-{with_index}"));
        let mut extra = vec!["--where", condition];
        if with_index {
            extra.extend(["--index", index.to_str().unwrap()]);
        }
        let converted = convert(src.path(), &dest, &extra);
        assert_eq!(converted.code, Some(0));
        assert_eq!(converted.manifest.items.len(), 1);
        let sources: Vec<&str> = converted
            .report
            .labels
            .iter()
            .map(|l| l.path.as_str())
            .collect();
        assert_eq!(sources, ["dcmqi/liver.dcm"], "index: {with_index}");
        assert_eq!(converted.manifest.items[0].labels.len(), 1);
    }
}

#[test]
fn labels_of_a_dicomweb_study_are_placed_as_from_disk() {
    let orthanc = crate::orthanc::Orthanc::start(None);
    let mut files = crate::orthanc::dicom_files("labels/dcmqi");
    files.extend(crate::orthanc::dicom_files("labels/rt-utils"));
    orthanc.load(&files);
    let dest = tempfile::tempdir().unwrap();
    // The copies (`--copy-dicom`) are the files the oracle reads.
    let converted = convert(
        &PathBuf::from(orthanc.url()),
        dest.path(),
        &["--copy-dicom"],
    );
    assert_eq!(converted.code, Some(0));
    let kinds: Vec<&str> = converted
        .report
        .labels
        .iter()
        .map(|l| l.kind.as_str())
        .collect();
    assert_eq!(kinds, ["seg", "rtstruct"]);
    assert!(converted.report.labels.iter().all(|l| l.items == 1));
    let pixels = oracle(&dest.path().join("dicom"), dest.path(), &[]);
    assert_eq!(total(&pixels, "ROI-1"), 1443);
    assert_eq!(pixels.keys().filter(|(c, _)| c == "Liver").count(), 3);
}

#[test]
fn damaged_label_objects_fail_with_a_reason_and_never_panic() {
    // Truncations and byte flips of a real SEG and a real RTSTRUCT, beside their images.
    let src = folder(&["dcmqi/ct-3slice", "rt-utils/ct_1.dcm", "rt-utils/ct_2.dcm"]);
    let originals = [
        std::fs::read(data("labels/dcmqi/liver.dcm")).unwrap(),
        std::fs::read(data("labels/rt-utils/rt.dcm")).unwrap(),
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut names = Vec::new();
    for (o, original) in originals.iter().enumerate() {
        for variant in 0..12 {
            let mut bytes = original.clone();
            if variant % 2 == 0 {
                bytes.truncate(132 + (next() as usize) % (bytes.len() - 132));
            } else {
                for _ in 0..8 {
                    let at = 132 + (next() as usize) % (bytes.len() - 132);
                    bytes[at] = next() as u8;
                }
            }
            let name = format!("damaged-{o}-{variant}.dcm");
            std::fs::write(src.path().join(&name), bytes).unwrap();
            names.push(name);
        }
    }
    let dest = tempfile::tempdir().unwrap();
    let mut args = vec![
        "convert",
        src.path().to_str().unwrap(),
        "--dest",
        dest.path().to_str().unwrap(),
        "-q",
        "--no-mp4",
    ];
    args.push("--no-html");
    let output = run(&args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(matches!(output.status.code(), Some(0 | 3)), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report: RunReport =
        serde_json::from_slice(&std::fs::read(dest.path().join("report.json")).unwrap()).unwrap();
    let mut failed = 0;
    for name in &names {
        let entry = report.inputs.iter().find(|i| &i.path == name);
        let entry = entry.unwrap_or_else(|| panic!("{name} not accounted for"));
        // Placed when the damage missed what matters (pixel bytes flipped are still a mask).
        if let Some(reason) = &entry.reason {
            assert!(!reason.is_empty());
            failed += 1;
        }
    }
    eprintln!(
        "{failed} of {} damaged objects failed with a reason",
        names.len()
    );
    assert!(failed >= names.len() / 3, "{failed} failed");
}

#[test]
fn labels_of_a_cropped_item_are_cut_as_its_pictures_are() {
    // Real SEG and RTSTRUCT objects on their images given an ultrasound region that cuts
    // through the labels (`--burned-in crop`): the Darwin and Encord files, and the NIfTI
    // label maps of the cut volume, equal the oracles' masks cut the same way.
    let cut = |series: &str, label: Option<&str>, corners: &str| {
        let dir = tempfile::tempdir().unwrap();
        run_script(
            "burned_in_cases.py",
            &[
                std::ffi::OsStr::new("volume"),
                data("labels").join(series).as_os_str(),
                dir.path().as_os_str(),
                std::ffi::OsStr::new(corners),
            ],
        );
        if let Some(label) = label {
            let from = data("labels").join(label);
            std::fs::copy(&from, dir.path().join(from.file_name().unwrap())).unwrap();
        }
        dir
    };
    let seg = cut(
        "highdicom/source",
        Some("highdicom/seg_image_ct_binary.dcm"),
        "3,2,12,13",
    );
    let whole = folder(&["highdicom/seg_image_ct_binary.dcm", "highdicom/source"]);
    let rt = cut("rt-utils", None, "170,100,400,400");
    for (src, whole, crop) in [
        (seg.path(), whole.path(), [3, 2, 10, 12]),
        (rt.path(), &*data("labels/rt-utils"), [170, 100, 231, 301]),
    ] {
        let nifti = ["--outputs", "render,nifti"];
        let (converted, pixels) = checked(src, &nifti);
        let item = &converted.manifest.items[0];
        let c = item.crop.expect("the item is cut");
        assert_eq!([c.x, c.y, c.width, c.height], crop);
        assert!(item.labels[0].nifti_key.is_some() || !item.labels[0].nifti_segments.is_empty());
        let (_, uncut) = checked(whole, &nifti);
        let sum = |p: &BTreeMap<(String, u64), u64>| p.values().sum::<u64>();
        assert!(
            0 < sum(&pixels) && sum(&pixels) < sum(&uncut),
            "{}: the crop leaves part of the labels ({pixels:?} of {uncut:?})",
            src.display()
        );
    }
}
