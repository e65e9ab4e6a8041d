//! Keys and names against malicious headers: a real CT slice rewritten with hostile UIDs and
//! planted patient data, under hostile file names. Every output stays inside the destination,
//! every key follows the layout grammar, and no planted patient value reaches keys, names,
//! `manifest.json`, `order`/`scan` output or stderr.

use std::path::Path;

use dicom_core::VR;
use dicom_dictionary_std::tags;
use dicomprep::contract::manifest::Manifest;
use dicomprep::contract::order_report::OrderReport;

use crate::util::{all_files, run, write_variant};

/// Patient values planted in every file; none may appear in any output.
const SECRETS: &[&str] = &[
    "ZZSECRETPATIENT",
    "ZZSECRETID",
    "18881111",
    "ZZSECRETACCESSION",
];

/// Study/Series Instance UIDs a hostile or broken header may carry.
const HOSTILE_UIDS: &[&str] = &[
    "../../etc",
    "/abs",
    "a/b",
    "..",
    "1.2\n3",
    "1.2\u{1b}[31m3",
    "1.2.3\\..\\4",
    "%2e%2e%2f",
    "",
    "1..2",
    ".1.2",
    "C:",
];

/// A series description that would run a script or break out of an attribute if unescaped.
const HOSTILE_DESCRIPTION: &str = "<script>alert(1)</script>\" onerror='x' <img src=x>";

/// Writes one slice per hostile UID (study and series) into `dir`, under hostile file names.
fn write_hostile_study(dir: &Path) {
    let long_uid = format!("1.{}", "9".repeat(70));
    let uids = HOSTILE_UIDS.iter().copied().chain([long_uid.as_str()]);
    for (i, uid) in uids.enumerate() {
        // The user's own file names may be odd too; they are never part of a key.
        let name = match i % 3 {
            0 => format!("a..b{i}.dcm"),
            1 => format!("new\nline{i}.dcm"),
            _ => format!("..{i}"),
        };
        let series_uid = format!("{uid}{i}");
        let sop_uid = format!("1.2.3.{i}");
        write_variant(
            "pydicom/CT_small.dcm",
            &dir.join(name),
            &[
                (tags::STUDY_INSTANCE_UID, VR::UI, uid),
                (tags::SERIES_INSTANCE_UID, VR::UI, &series_uid),
                (tags::SOP_INSTANCE_UID, VR::UI, &sop_uid),
                (tags::PATIENT_NAME, VR::PN, "ZZSECRETPATIENT^JOHN"),
                (tags::PATIENT_ID, VR::LO, "ZZSECRETID"),
                (tags::PATIENT_BIRTH_DATE, VR::DA, "18881111"),
                (tags::ACCESSION_NUMBER, VR::SH, "ZZSECRETACCESSION"),
                // Shown on index.html: markup must stay text.
                (tags::SERIES_DESCRIPTION, VR::LO, HOSTILE_DESCRIPTION),
            ],
        );
    }
}

/// A key segment made from a UID: a valid UID, `x` + 16 hex digits, or `unknown`.
fn is_uid_segment(segment: &str) -> bool {
    let uid = !segment.is_empty()
        && segment.len() <= 64
        && segment.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && !segment.starts_with('.')
        && !segment.ends_with('.')
        && !segment.contains("..");
    uid || is_hash(segment) || segment == "unknown"
}

fn is_hash(segment: &str) -> bool {
    segment.len() == 17
        && segment.starts_with('x')
        && segment[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_volume_segment(segment: &str) -> bool {
    let label = !segment.is_empty()
        && segment.len() <= 64
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !segment.starts_with('.')
        && !segment.contains("..");
    label || is_hash(segment)
}

/// `NNNNN.ext`: a five-digit index.
fn is_indexed(name: &str, ext: &str) -> bool {
    is_numbered(name, ext, 5)
}

/// `name` is `digits` decimal digits and `ext` (darwin-py's sections and segments have 9).
fn is_numbered(name: &str, ext: &str, digits: usize) -> bool {
    name.strip_suffix(ext)
        .is_some_and(|n| n.len() == digits && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The layout of `contract::keys`: `manifest.json`, `report.json`, or
/// `<study>/<series>/<volume>/<file>`.
fn is_valid_key(key: &str) -> bool {
    if key == "manifest.json" || key == "report.json" || key == "index.html" {
        return true;
    }
    let parts: Vec<&str> = key.split('/').collect();
    let [study, series, volume, rest @ ..] = parts.as_slice() else {
        return false;
    };
    let file_ok = match rest {
        ["images", name] | ["frames", "hq", name] => is_indexed(name, ".png"),
        ["thumbnails", name] | ["frames", "lq", name] => is_indexed(name, ".jpg"),
        ["sections", "high", name] => is_numbered(name, ".png", 9),
        ["sections", "low", name] => is_numbered(name, ".jpg", 9),
        ["segments", "high" | "low", name] => *name == "index.m3u8" || is_numbered(name, ".ts", 9),
        ["thumbnail.jpg"] | ["video.mp4"] | ["frames_manifest.txt"] | ["contact_sheet.jpg"] => true,
        _ => false,
    };
    file_ok && is_uid_segment(study) && is_uid_segment(series) && is_volume_segment(volume)
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} leaked into {what}");
    }
}

#[test]
fn hostile_headers_cannot_escape_the_destination_or_leak_patient_data() {
    let src = tempfile::tempdir().unwrap();
    write_hostile_study(src.path());
    // Outputs go to a folder inside a parent, so an escape would land beside it.
    let parent = tempfile::tempdir().unwrap();
    let dest = parent.path().join("dest");
    let (src_arg, dest_arg) = (src.path().to_str().unwrap(), dest.to_str().unwrap());

    let converted = run(&["convert", src_arg, "--dest", dest_arg, "-q"]);
    let order = run(&["order", src_arg, "-q"]);
    let scan = run(&["scan", src_arg, "-v"]);
    for (command, output) in [("convert", &converted), ("order", &order), ("scan", &scan)] {
        assert_eq!(
            output.status.code(),
            Some(0),
            "{command}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_no_secret(command, &String::from_utf8_lossy(&output.stdout));
        assert_no_secret(command, &String::from_utf8_lossy(&output.stderr));
    }

    // Nothing was written beside the destination.
    assert_eq!(
        std::fs::read_dir(parent.path()).unwrap().count(),
        1,
        "outputs escaped"
    );
    let keys = all_files(&dest);
    for key in &keys {
        assert!(is_valid_key(key), "{key:?} breaks the key grammar");
        let path = dest.join(key).canonicalize().unwrap();
        assert!(path.starts_with(dest.canonicalize().unwrap()), "{key}");
    }

    let manifest_text = std::fs::read_to_string(dest.join("manifest.json")).unwrap();
    assert_no_secret("manifest.json", &manifest_text);
    let report_text = std::fs::read_to_string(dest.join("report.json")).unwrap();
    assert_no_secret("report.json", &report_text);
    // The page shows the hostile description as text, and hostile file names as text.
    let page = std::fs::read_to_string(dest.join("index.html")).unwrap();
    assert_no_secret("index.html", &page);
    assert!(
        !page.contains("<script") && !page.contains("<img src=x"),
        "{page}"
    );
    assert!(
        !page.contains("\" onerror") && !page.contains("'x'"),
        "{page}"
    );
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot; onerror=&#39;x&#39;"));
    let manifest: Manifest = serde_json::from_str(&manifest_text).unwrap();
    // One item per hostile UID, each under its own key.
    assert_eq!(manifest.items.len(), HOSTILE_UIDS.len() + 1);
    assert!(manifest.failed.is_empty() && manifest.skipped.is_empty());
    for item in &manifest.items {
        for key in [&item.storage_key, &item.thumbnail_key] {
            assert!(is_valid_key(key) && keys.contains(key), "{key:?}");
        }
        for frame in &item.frames {
            assert!(is_valid_key(&frame.hq_key) && keys.contains(&frame.hq_key));
        }
    }
    // Names (the default --name template) show the cleaned description, never a UID or a
    // secret; the equal names of the one-slice series are numbered by series.
    let mut names: Vec<&str> = manifest.items.iter().map(|i| i.name.as_str()).collect();
    names.sort();
    let stem = "CT_1_script_alert_1_script_onerror_x_img_src_x_0";
    let mut expected: Vec<String> = (1..=manifest.items.len())
        .map(|n| match n {
            1 => format!("{stem}.png"),
            n => format!("{stem}-{n}.png"),
        })
        .collect();
    expected.sort();
    assert_eq!(names, expected);

    // The order report carries the user's file names, never patient data.
    let report: OrderReport = serde_json::from_slice(&order.stdout).unwrap();
    assert_eq!(report.slice_count(), HOSTILE_UIDS.len() + 1);
}
