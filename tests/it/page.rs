//! `index.html` and contact sheets: the page of a converted test-data folder opened in a real
//! browser (Debian's headless Chromium, driven over the DevTools protocol by
//! `tests/browser/check_page.mjs` with Node's own fetch and WebSocket).

use std::path::{Path, PathBuf};
use std::process::Command;

use dicomprep::contract::manifest::{ItemKind, Manifest};
use serde_json::Value;

use crate::util::{data, run};

fn convert(src: &Path, dest: &Path, extra: &[&str]) -> (Manifest, Option<i32>) {
    let mut args = vec!["convert", src.to_str().unwrap(), "--dest"];
    args.push(dest.to_str().unwrap());
    args.push("-q");
    args.extend_from_slice(extra);
    let output = run(&args);
    let manifest = std::fs::read(dest.join("manifest.json"))
        .unwrap_or_else(|_| panic!("no manifest: {}", String::from_utf8_lossy(&output.stderr)));
    (
        serde_json::from_slice(&manifest).unwrap(),
        output.status.code(),
    )
}

/// Where test artifacts (screenshots) go: `target/test-artifacts/`.
fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_video_item_has_a_contact_sheet_of_evenly_spaced_frames() {
    let dest = tempfile::tempdir().unwrap();
    let (manifest, code) = convert(&data("dcm_qa_nih"), dest.path(), &["--no-html"]);
    assert_eq!(code, Some(0));
    assert!(!dest.path().join("index.html").exists(), "--no-html");
    let videos: Vec<_> = manifest
        .items
        .iter()
        .filter(|i| i.kind == ItemKind::Video)
        .collect();
    assert!(!videos.is_empty());
    for item in videos {
        let sheet = item.contact_sheet.as_ref().expect("a contact sheet");
        let bytes = std::fs::read(dest.path().join(&sheet.key)).unwrap();
        assert_eq!(bytes.len() as u64, sheet.bytes);
        assert!(item.named_keys().iter().any(|k| k.key == sheet.key));
        let decoded = mozjpeg::Decompress::new_mem(&bytes).unwrap();
        assert_eq!(
            decoded.size(),
            (sheet.width as usize, sheet.height as usize)
        );
        if item.modality.as_deref() == Some("MR") && item.frames[0].width == 72 {
            // A Siemens mosaic: 5 tiles of 72 x 72 on a 3 x 2 grid, 2 px apart.
            assert_eq!(item.frames.len(), 5);
            assert_eq!(sheet.frames, (0..5).collect::<Vec<u32>>());
            assert_eq!((sheet.columns, sheet.rows), (3, 2));
            assert_eq!((sheet.width, sheet.height), (3 * 72 + 4, 2 * 72 + 2));
            continue;
        }
        // 15 slices of 64 x 64: all 15 on a 4 x 4 grid of 64 px tiles, 2 px apart.
        assert_eq!(item.frames.len(), 15);
        assert_eq!(sheet.frames, (0..15).collect::<Vec<u32>>());
        assert_eq!((sheet.columns, sheet.rows), (4, 4));
        assert_eq!((sheet.width, sheet.height), (4 * 64 + 6, 4 * 64 + 6));
    }
    // Every Siemens mosaic file of dcm_qa_nih (4 series x 2) is a video of its tiles.
    let mosaics = manifest.items.iter().filter(|i| i.kind == ItemKind::Video);
    assert_eq!(mosaics.filter(|i| i.frames.len() == 5).count(), 8);
}

#[test]
fn the_page_shows_every_volume_and_plays_in_a_real_browser() {
    let dest = tempfile::tempdir().unwrap();
    // All of test-data: clean studies and the deliberately broken files.
    let (manifest, code) = convert(&data(""), dest.path(), &[]);
    assert_eq!(code, Some(3), "test-data holds broken files");
    let page = std::fs::read_to_string(dest.path().join("index.html")).unwrap();
    assert!(page.contains(&format!("Failed inputs ({})", manifest.failed.len())));
    assert!(page.contains(&format!("Skipped inputs ({})", manifest.skipped.len())));
    for issue in &manifest.failed {
        assert!(
            page.contains(&dicomprep::page::escape(&issue.path)),
            "{}",
            issue.path
        );
    }
    let videos = manifest.items.iter().filter(|i| i.video.is_some()).count();
    assert_eq!(
        page.matches("<video controls preload=\"metadata\"").count(),
        videos
    );
    assert_eq!(
        page.matches("contact_sheet.jpg\" loading=\"lazy\"").count(),
        videos
    );
    // test-data/labels: each labelled item shows its label sheet (checked loaded below).
    let labelled = manifest
        .items
        .iter()
        .filter(|i| i.label_sheet.is_some())
        .count();
    assert!(labelled >= 3, "{labelled} label sheets");
    assert_eq!(page.matches("alt=\"label outlines\"").count(), labelled);

    let shot = artifacts().join("page.png");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/check_page.mjs");
    let output = Command::new("node")
        .arg("--experimental-websocket")
        .arg(&script)
        .arg(dest.path().join("index.html"))
        .arg(&shot)
        .output()
        .expect("node runs (scripts/setup.sh --test installs it and chromium)");
    assert!(
        output.status.success(),
        "browser check failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        seen["errors"],
        Value::Array(Vec::new()),
        "the page logged errors"
    );
    let images = seen["images"].as_array().unwrap();
    assert_eq!(images.len(), page.matches("<img ").count());
    for image in images {
        assert!(
            image["naturalWidth"].as_u64().unwrap() > 0,
            "not loaded: {image}"
        );
    }
    // test-data/slides: each slide in a Deep Zoom viewer that draws its tiles.
    let slides = manifest.items.iter().filter(|i| i.slide.is_some()).count();
    let viewers = seen["viewers"].as_array().unwrap();
    assert!(slides >= 3, "{slides} slides");
    assert_eq!(viewers.len(), slides);
    for viewer in viewers {
        assert!(
            viewer["tiles"].as_u64().unwrap() > 0,
            "no tile drawn: {viewer}"
        );
    }
    let played = seen["videos"].as_array().unwrap();
    assert_eq!(played.len(), videos);
    // Debian's chromium plays H.264 (it answers "probably"); a build without the codec would
    // answer "" and leave durations unknown, so durations are only compared where it plays.
    let plays_h264 = !seen["h264"].as_str().unwrap().is_empty();
    eprintln!(
        "chromium plays H.264: {plays_h264}; screenshot: {}",
        shot.display()
    );
    if plays_h264 {
        for video in played {
            let key = video["src"].as_str().unwrap().trim_start_matches("./");
            let item = manifest
                .items
                .iter()
                .find(|i| i.storage_key == key)
                .unwrap();
            let expected = item.video.as_ref().unwrap().duration;
            let duration = video["duration"].as_f64().unwrap_or(f64::NAN);
            assert!(
                (duration - expected).abs() < 1e-3,
                "{key}: {duration} s, not {expected}"
            );
        }
    }
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a screenshot"
    );
}

#[test]
fn order_html_writes_diagnostics_and_plots_without_rendering() {
    let out = tempfile::tempdir().unwrap();
    let html = out.path().join("order.html");
    let src = data("dicom2nifti/failing/sliceincrement");
    let output = run(&[
        "order",
        src.to_str().unwrap(),
        "-q",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0));
    // The JSON is as without --html: no diagnostics unless --explain.
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let volumes: Vec<&Value> = json["series"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["volumes"].as_array().unwrap())
        .collect();
    assert!(volumes.iter().all(|v| v.get("diagnostics").is_none()));
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(
        page.matches("<article class=\"volume\">").count(),
        volumes.len()
    );
    // 001: z steps of 5, 5 and 10 mm; 002: InstanceNumber 1, 2, 3, 5.
    assert!(page.contains("Probable gap"), "{page}");
    assert!(page.contains("<svg") && !page.contains("<img"));
}
