//! Readable item names (`convert --name`, issue 18): hostile series descriptions, collisions,
//! every payload and the page using the names, a rename that keeps every output, bad templates.

use std::collections::BTreeSet;
use std::path::Path;

use dicom_core::VR;
use dicom_dictionary_std::tags;
use dicomprep::contract::manifest::{ItemKind, Manifest};
use dicomprep::contract::run_report::RunReport;
use serde_json::Value;

use crate::util::{run, write_variant};

const STUDY: &str = "1.2.826.0.1.3680043.8.498.77";

/// Series descriptions a header may carry, with the series number each series gets.
fn hostile_series() -> Vec<(String, &'static str)> {
    vec![
        ("a/b\\c".into(), "1"),
        ("../../etc/passwd".into(), "2"),
        ("..".into(), "3"),
        ("nul\0ctl\u{1}\u{1b}[31m".into(), "4"),
        ("é".repeat(1000), "5"),
        ("脳 MRI 🧠 T2*".into(), "6"),
        // Two series with equal description and number: their names collide.
        ("Same".into(), "7"),
        ("Same".into(), "7"),
    ]
}

/// One slice of CT_small per hostile series (series UIDs `<STUDY>.<n>`, UTF-8 text), and a
/// three-slice series (a video item) with the description `Axial / 3 mm`.
fn write_study(dir: &Path) {
    let slice = |path: &str, series: &str, number: &str, description: &str, index: usize| {
        let sop = format!("{series}.{index}");
        let position = format!("0\\0\\{}", index * 5);
        let instance = (index + 1).to_string();
        write_variant(
            "pydicom/CT_small.dcm",
            &dir.join(path),
            &[
                (tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192"),
                (tags::STUDY_INSTANCE_UID, VR::UI, STUDY),
                (tags::SERIES_INSTANCE_UID, VR::UI, series),
                (tags::SOP_INSTANCE_UID, VR::UI, &sop),
                (tags::SERIES_NUMBER, VR::IS, number),
                (tags::SERIES_DESCRIPTION, VR::LO, description),
                (tags::INSTANCE_NUMBER, VR::IS, &instance),
                (tags::IMAGE_POSITION_PATIENT, VR::DS, &position),
            ],
        );
    };
    for (n, (description, number)) in hostile_series().iter().enumerate() {
        slice(
            &format!("s{n}.dcm"),
            &format!("{STUDY}.{n}"),
            number,
            description,
            0,
        );
    }
    for index in 0..3 {
        let series = format!("{STUDY}.99");
        slice(
            &format!("v{index}.dcm"),
            &series,
            "9",
            "Axial / 3 mm",
            index,
        );
    }
}

fn convert(src: &Path, dest: &Path, extra: &[&str]) -> Manifest {
    let mut args = vec!["convert", src.to_str().unwrap(), "--dest"];
    args.push(dest.to_str().unwrap());
    args.extend_from_slice(&["-q", "--fps", "1"]);
    args.extend_from_slice(extra);
    let output = run(&args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&std::fs::read(dest.join("manifest.json")).unwrap()).unwrap()
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn strings(values: &Value, field: &str) -> BTreeSet<String> {
    values
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[field].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn hostile_descriptions_and_collisions_make_safe_unique_names_in_every_payload() {
    let src = tempfile::tempdir().unwrap();
    write_study(src.path());
    let dest = tempfile::tempdir().unwrap();
    let payloads = "darwin-readonly,darwin-readwrite,encord,bisque";
    // Encord reads object URLs from a bucket: as if the folder were copied to one.
    let bucket = [
        "--payload-destination",
        "https://bucket.s3.eu-west-1.amazonaws.com/out",
    ];
    let manifest = convert(
        src.path(),
        dest.path(),
        &[&["--payload", payloads][..], &bucket].concat(),
    );
    assert_eq!(manifest.settings.name, dicomprep::naming::DEFAULT_TEMPLATE);

    let names: BTreeSet<&str> = manifest.items.iter().map(|i| i.name.as_str()).collect();
    let long = format!("CT_5_{}_0.png", "é".repeat(32)); // 64 bytes of description
    let expected: BTreeSet<&str> = [
        "CT_1_a_b_c_0.png",
        "CT_2_etc_passwd_0.png",
        "CT_3_unknown_0.png",
        "CT_4_nul_ctl_31m_0.png",
        long.as_str(),
        "CT_6_脳_MRI_T2_0.png",
        "CT_7_Same_0.png",
        "CT_7_Same_0-2.png",
        "CT_9_Axial_3_mm_0.mp4",
    ]
    .into();
    assert_eq!(names, expected);
    // The lower series UID keeps the plain name.
    let same = |n: usize| {
        let uid = format!("{STUDY}.{n}");
        let item = manifest.items.iter().find(|i| i.series_instance_uid == uid);
        item.unwrap().name.as_str()
    };
    assert_eq!((same(6), same(7)), ("CT_7_Same_0.png", "CT_7_Same_0-2.png"));
    for item in &manifest.items {
        let name = &item.name;
        assert!(name.len() <= dicomprep::naming::NAME_MAX_BYTES, "{name}");
        assert!(!name.starts_with('.') && !name.contains(".."), "{name}");
        assert!(
            name.chars()
                .all(|c| c.is_alphanumeric() || "-_.".contains(c)),
            "{name:?}"
        );
        // Names are titles only: keys stay made of UIDs.
        assert!(
            item.storage_key
                .starts_with(&format!("{STUDY}/{}/0/", item.series_instance_uid))
        );
    }
    let series_names: BTreeSet<&str> = manifest
        .items
        .iter()
        .map(|i| i.series_name.as_deref().unwrap())
        .collect();
    assert!(series_names.contains("CT_7_Same") && series_names.contains("CT_7_Same-2"));
    assert!(series_names.contains("CT_9_Axial_3_mm"));
    assert_eq!(series_names.len(), hostile_series().len() + 1);

    // Every payload uses the names.
    let dir = dest.path();
    let readonly = json(&dir.join("darwin-readonly.json"));
    let item_names: BTreeSet<String> = names.iter().map(|n| n.to_string()).collect();
    assert_eq!(strings(&readonly["items"], "name"), item_names);
    let readwrite = json(&dir.join("darwin-readwrite.json"));
    let series_names: BTreeSet<String> = series_names.iter().map(|n| n.to_string()).collect();
    assert_eq!(strings(&readwrite["items"], "name"), series_names);
    let encord = json(&dir.join("encord.json"));
    let mut titles = strings(&encord["images"], "title");
    titles.extend(strings(&encord["videos"], "title"));
    assert_eq!(titles, item_names);
    let bisque = json(&dir.join("bisque.json"));
    let files = strings(&bisque["images"], "file_name");
    let mut expected_files: BTreeSet<String> = item_names
        .iter()
        .filter(|n| n.ends_with(".png"))
        .cloned()
        .collect();
    expected_files.extend((1..=3).map(|i| format!("CT_9_Axial_3_mm_0_{i:05}.png")));
    assert_eq!(files, expected_files);

    // The page shows them.
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    for item in &manifest.items {
        assert!(page.contains(&item.name), "{} not on the page", item.name);
    }
    assert_eq!(
        manifest
            .items
            .iter()
            .filter(|i| i.kind == ItemKind::Video)
            .count(),
        1
    );
}

#[test]
fn another_template_renames_every_item_and_keeps_every_output() {
    let src = tempfile::tempdir().unwrap();
    write_study(src.path());
    let dest = tempfile::tempdir().unwrap();
    let first = convert(src.path(), dest.path(), &["--as", "images"]);
    let template = "{series_uid}-{slice}_{body_part}";
    let renamed = convert(
        src.path(),
        dest.path(),
        &["--as", "images", "--name", template],
    );
    assert_eq!(renamed.settings.name, template);
    let report: RunReport = serde_json::from_value(json(&dest.path().join("report.json"))).unwrap();
    assert_eq!(
        report.totals.outputs_written, 0,
        "a rename rewrites no output"
    );
    assert!(report.totals.outputs_kept > 0);
    assert_eq!(first.items.len(), renamed.items.len());
    for (before, after) in first.items.iter().zip(&renamed.items) {
        assert_eq!(
            before.storage_key, after.storage_key,
            "keys do not depend on names"
        );
        assert_eq!(before.frames, after.frames);
        // CT_small's BodyPartExamined is empty: the placeholder shows.
        let slice = before
            .storage_key
            .rsplit('/')
            .next()
            .unwrap()
            .replace(".png", "");
        let expected = format!("{}-{slice}_unknown.png", after.series_instance_uid);
        assert_eq!(after.name, expected);
    }
    // The three-slice series as images: the default template appends the slice.
    let slices: Vec<&str> = first
        .items
        .iter()
        .filter(|i| i.series_instance_uid.ends_with(".99"))
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(
        slices,
        [
            "CT_9_Axial_3_mm_0_00000.png",
            "CT_9_Axial_3_mm_0_00001.png",
            "CT_9_Axial_3_mm_0_00002.png"
        ]
    );
}

#[test]
fn a_bad_template_is_refused_with_the_fields() {
    for (template, reason) in [
        ("{patient_name}_{volume}", "unknown field {patient_name}"),
        ("{modality", "unbalanced brace"),
    ] {
        let output = run(&["convert", "x", "--dest", "y", "--name", template]);
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(reason), "{stderr}");
        assert!(
            stderr.contains("{series_description}") && stderr.contains("{series_uid}"),
            "{stderr}"
        );
    }
}
