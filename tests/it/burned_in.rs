//! `--burned-in crop|skip|keep` on pydicom's real ultrasound files, copies of which carry a
//! planted magenta text band outside their regions (`scripts/burned_in_cases.py`, pydicom):
//! the band is in no picture, frame of a video, thumbnail or contact sheet unless kept, the
//! cropped frames are pydicom's pixels of the crop, and images that declare burned-in text
//! without regions are skipped with the reason.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::scale_out::{assert_same, expect, tree};
use crate::util::{data, run_script};

/// The planted cases under `dir/cases`, and each ultrasound case's crop by file name.
fn cases(dir: &Path) -> (std::path::PathBuf, Value) {
    let cases = dir.join("cases");
    let output = run_script(
        "burned_in_cases.py",
        &[OsStr::new("make"), data("").as_os_str(), cases.as_os_str()],
    );
    (cases, serde_json::from_slice(&output.stdout).unwrap())
}

/// Converts `src` into `dest` with `extra` flags; returns stderr.
fn convert(src: &Path, dest: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "convert",
        src.to_str().unwrap(),
        "--dest",
        dest.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    expect(&args, 0)
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Every video's frames decoded by the ffmpeg CLI into PNGs beside it (`video-frames/`), so
/// that the oracle looks at them too.
fn decode_videos(dest: &Path, manifest: &Value) -> usize {
    let mut videos = 0;
    for item in manifest["items"].as_array().unwrap() {
        if item["kind"] != "video" || item["video"].is_null() {
            continue;
        }
        let video = dest.join(item["storage_key"].as_str().unwrap());
        let out = video.with_file_name("video-frames");
        std::fs::create_dir_all(&out).unwrap();
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&video)
            .arg(out.join("f%05d.png"))
            .status()
            .expect("ffmpeg runs (scripts/setup.sh installs it)");
        assert!(status.success());
        videos += 1;
    }
    videos
}

/// The oracle's view of `dest`: pictures showing the band, HQ frames equal to pydicom's.
fn check(cases: &Path, dest: &Path) -> Value {
    let output = run_script(
        "burned_in_cases.py",
        &[OsStr::new("check"), cases.as_os_str(), dest.as_os_str()],
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn item_of<'a>(manifest: &'a Value, path: &str) -> &'a Value {
    manifest["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["frames"][0]["path"] == path)
        .unwrap_or_else(|| panic!("no item of {path}: {manifest}"))
}

fn skipped(dest: &Path) -> Vec<(String, String)> {
    let report = json(&dest.join("report.json"));
    report["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "skipped")
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                e["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn ultrasound_is_cut_to_its_regions_and_declared_text_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let (cases, crops) = cases(dir.path());
    let dest = dir.path().join("crop");
    convert(&cases, &dest, &[]);
    let manifest = json(&dest.join("manifest.json"));
    for (path, crop) in crops.as_object().unwrap() {
        let item = item_of(&manifest, path);
        let want: Vec<u64> = crop
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        let got = &item["crop"];
        assert_eq!(
            [&got["x"], &got["y"], &got["width"], &got["height"]].map(|v| v.as_u64().unwrap()),
            [want[0], want[1], want[2], want[3]],
            "{path}"
        );
        assert_eq!(item["burned_in"], "cropped");
        assert_eq!(
            [&item["width"], &item["height"]],
            [&got["width"], &got["height"]]
        );
        for frame in item["frames"].as_array().unwrap() {
            assert_eq!(frame["width"], got["width"], "{path}");
        }
    }
    assert_eq!(
        item_of(&manifest, "sc_undeclared.dcm")["burned_in"],
        "undeclared"
    );
    assert_eq!(
        skipped(&dest),
        [(
            "declared_ct.dcm".to_string(),
            "burned-in annotation".to_string()
        )]
    );

    // The videos are the crop's size (H.264 pads an odd height by one row).
    let item = item_of(&manifest, "us_rgb.dcm");
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=width,height",
            "-of",
            "json",
        ])
        .arg(dest.join(item["storage_key"].as_str().unwrap()))
        .output()
        .unwrap();
    let probe: Value = serde_json::from_slice(&probe.stdout).unwrap();
    assert_eq!(probe["streams"][0]["width"], 236);
    assert!(matches!(
        probe["streams"][0]["height"].as_u64(),
        Some(209 | 210)
    ));

    assert_eq!(decode_videos(&dest, &manifest), 2);
    let seen = check(&cases, &dest);
    assert!(seen["pictures"].as_u64().unwrap() > 120, "{seen}");
    assert_eq!(seen["with_band"], serde_json::json!([]), "the band shows");
    assert_eq!(seen["frames_compared"], 30);
    assert_eq!(
        seen["frames_equal"], 30,
        "HQ frames are pydicom's pixels of the crop"
    );

    let page = std::fs::read_to_string(dest.join("index.html")).unwrap();
    assert!(page.contains("may contain burned-in text (not declared)"));
    assert!(page.contains("cropped to the ultrasound regions: 680 x 290 from (120, 60)"));
}

#[test]
fn keep_shows_the_band_and_counts_declarations_while_skip_leaves_out_every_declaration() {
    let dir = tempfile::tempdir().unwrap();
    let (cases, _) = cases(dir.path());
    let kept = dir.path().join("keep");
    let stderr = convert(&cases, &kept, &["--burned-in", "keep"]);
    assert!(
        stderr.contains("2 images that declare burned-in annotation"),
        "{stderr}"
    );
    let manifest = json(&kept.join("manifest.json"));
    assert!(
        manifest["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["crop"].is_null())
    );
    assert_eq!(item_of(&manifest, "declared_ct.dcm")["burned_in"], "kept");
    assert_eq!(manifest["settings"]["burned_in"], "keep");
    assert!(skipped(&kept).is_empty());
    decode_videos(&kept, &manifest);
    // The control: the planted band is there to be found when nothing is cut.
    let seen = check(&cases, &kept);
    let shown: Vec<&str> = seen["with_band"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for kind in [
        "/frames/hq/",
        "/frames/lq/",
        "/video-frames/",
        "/thumbnail.jpg",
        "/contact_sheet.jpg",
        "/images/",
        "/thumbnails/",
    ] {
        assert!(
            shown.iter().any(|p| p.contains(kind)),
            "no {kind} shows the band: {shown:?}"
        );
    }

    let skip = dir.path().join("skip");
    convert(&cases, &skip, &["--burned-in", "skip", "--no-mp4"]);
    let reasons = skipped(&skip);
    let paths: Vec<&str> = reasons.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["declared_ct.dcm", "declared_us.dcm"]);
    assert!(reasons.iter().all(|(_, r)| r == "burned-in annotation"));
    let manifest = json(&skip.join("manifest.json"));
    assert!(item_of(&manifest, "us_rgb.dcm")["crop"].is_object());

    // A re-run with another choice rewrites the outputs: crop replaces what keep wrote.
    let stderr = convert(&cases, &kept, &["--no-mp4"]);
    assert!(stderr.contains("settings differ"), "{stderr}");
    let manifest = json(&kept.join("manifest.json"));
    assert!(item_of(&manifest, "us_rgb.dcm")["crop"].is_object());
}

#[test]
fn shards_leave_out_and_cut_what_one_run_does() {
    let dir = tempfile::tempdir().unwrap();
    let (cases, _) = cases(dir.path());
    let src = cases.to_str().unwrap();
    let dest = dir.path().join("dest");
    let dest_text = dest.to_str().unwrap();
    expect(&["convert", src, "--dest", dest_text, "-q", "--no-mp4"], 0);
    let single = tree(&dest);
    std::fs::remove_dir_all(&dest).unwrap();
    expect(
        &[
            "plan", src, "--dest", dest_text, "--shards", "3", "-q", "--no-mp4",
        ],
        0,
    );
    for shard in ["0", "1", "2"] {
        expect(&["convert", "--plan", dest_text, "--shard", shard, "-q"], 0);
    }
    expect(&["merge", dest_text, "-q"], 0);
    let merged = tree(&dest);
    assert_same(&single, &merged);
}

#[test]
fn a_cut_nifti_volume_keeps_its_voxels_place_in_the_patient() {
    // A real MR series given an ultrasound region: the NIfTI file holds the region's voxels,
    // each where it lies in the whole volume (nibabel maps one into the other by the affines).
    let dir = tempfile::tempdir().unwrap();
    let series = dir.path().join("series");
    run_script(
        "burned_in_cases.py",
        &[
            OsStr::new("volume"),
            data("dicom2nifti/siemens/anatomical/001").as_os_str(),
            series.as_os_str(),
        ],
    );
    let nifti = |dest: &Path, extra: &[&str]| {
        let mut args = vec!["--outputs", "nifti", "-q"];
        args.extend_from_slice(extra);
        convert(&series, dest, &args);
        let manifest = json(&dest.join("manifest.json"));
        let item = manifest["items"][0].clone();
        (dest.join(item["nifti"]["image"].as_str().unwrap()), item)
    };
    let (whole, item) = nifti(&dir.path().join("keep"), &["--burned-in", "keep"]);
    assert!(item["crop"].is_null());
    let (cut, item) = nifti(&dir.path().join("crop"), &[]);
    assert_eq!(
        item["crop"],
        serde_json::json!({"x": 10, "y": 20, "width": 90, "height": 100})
    );
    let output = run_script(
        "burned_in_cases.py",
        &[
            OsStr::new("nifti-check"),
            whole.as_os_str(),
            cut.as_os_str(),
        ],
    );
    let seen: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(seen["voxels"], 4 * 90 * 100, "{seen}");
    assert_eq!(seen["equal"], true, "{seen}");
    assert!(seen["max_index_error"].as_f64().unwrap() < 1e-3, "{seen}");
}
