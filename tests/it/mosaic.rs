//! Siemens mosaics (issue 23): each tile is a slice with its own position, for `scan`,
//! `order`, rendering, videos and the index. Expectations come from pydicom and nibabel's
//! CSA reader (`scripts/expected-mosaic.py`, committed under `test-data/expected/`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use dicomprep::contract::manifest::{ItemKind, Manifest};
use dicomprep::render::decode::{DicomImage, Samples};
use dicomprep::scan::InstanceHeader;
use serde_json::Value;

use crate::util::{data, dicomprep, order, run};

const CASE: &str = "dcm_qa_nih/In/20180918Si";

/// `test-data/expected/mosaic__<case>.json`: path → what pydicom says of that mosaic file.
fn expected_files() -> BTreeMap<String, Value> {
    let name = format!("expected/mosaic__{}.json", CASE.replace('/', "__"));
    let text = std::fs::read_to_string(data(&name)).expect("expected mosaic file");
    let value: Value = serde_json::from_str(&text).unwrap();
    let files = value["files"].as_object().unwrap();
    assert_eq!(files.len(), 8, "4 series of 2 mosaic files");
    files.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn number(value: &Value) -> f64 {
    value.as_f64().unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(1.0)
}

/// The records of `dicomprep scan CASE`, by path.
fn scanned() -> BTreeMap<String, InstanceHeader> {
    let output = run(&["scan", data(CASE).to_str().unwrap(), "-q"]);
    assert_eq!(output.status.code(), Some(0));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<InstanceHeader>(l).unwrap())
        .map(|h| (h.path.clone(), h))
        .collect()
}

#[test]
fn scan_presents_each_mosaic_as_frames_of_tiles_at_their_own_positions() {
    let expected = expected_files();
    let records = scanned();
    assert_eq!(records.len(), expected.len());
    for (path, want) in &expected {
        let h = &records[path];
        let mosaic = h
            .mosaic
            .as_ref()
            .unwrap_or_else(|| panic!("{path}: no mosaic"));
        let tiles = want["tiles"].as_u64().unwrap() as u32;
        assert_eq!(
            (mosaic.tiles, mosaic.grid, mosaic.rows, mosaic.columns),
            (
                tiles,
                want["grid"].as_u64().unwrap() as u32,
                want["rows"].as_u64().unwrap() as u16,
                want["columns"].as_u64().unwrap() as u16
            ),
            "{path}"
        );
        assert_eq!(mosaic.reversed, want["reversed"].as_bool().unwrap());
        // The record describes tiles: their size, their count, one frame each.
        assert_eq!(h.number_of_frames, tiles);
        assert_eq!(
            (h.rows, h.columns),
            (
                Some(want["tile_rows"].as_u64().unwrap() as u16),
                Some(want["tile_columns"].as_u64().unwrap() as u16)
            )
        );
        assert_eq!(h.frames.len(), tiles as usize);
        for (k, position) in want["positions"].as_array().unwrap().iter().enumerate() {
            let got = h.frame_position(k as u32).unwrap();
            let want: Vec<f64> = position.as_array().unwrap().iter().map(number).collect();
            assert!(
                got.iter().zip(&want).all(|(a, b)| close(*a, *b)),
                "{path} tile {k}: {got:?} != {want:?}"
            );
        }
    }
}

#[test]
fn order_lists_every_tile_as_a_slice_and_each_mosaic_file_as_a_time_point() {
    let expected = expected_files();
    for rule in ["darwin", "spatial", "instance"] {
        let (report, _) = order(&data(CASE), &["--rule", rule, "--explain"]);
        assert_eq!(report.series.len(), 4);
        assert!(report.failed.is_empty() && report.skipped.len() == 5);
        for series in &report.series {
            // Two files per series, at the same positions: two time points, in file order.
            assert_eq!(series.volumes.len(), 2, "{}", series.series_instance_uid);
            for (k, volume) in series.volumes.iter().enumerate() {
                assert_eq!(volume.id, format!("v{}", k + 1));
                let reason = volume.split_reason.as_deref().unwrap();
                assert!(
                    reason.starts_with(&format!("Siemens mosaic: time point {} of 2", k + 1)),
                    "{reason}"
                );
                let path = &volume.slices[0].path;
                let want = &expected[path];
                assert!(path.ends_with(&format!("-0000{}.dcm", k + 1)), "{path}");
                assert_eq!(
                    want["series_instance_uid"].as_str().unwrap(),
                    series.series_instance_uid
                );
                assert_eq!(
                    (volume.rows, volume.columns),
                    (
                        Some(want["tile_rows"].as_u64().unwrap() as u16),
                        Some(want["tile_columns"].as_u64().unwrap() as u16)
                    )
                );
                // Every tile once, ascending along the normal, at pydicom's position.
                let tiles = want["tiles"].as_u64().unwrap() as usize;
                assert_eq!(volume.slices.len(), tiles);
                let projections = want["projections"].as_array().unwrap();
                let mut frames: Vec<u32> = volume.slices.iter().map(|s| s.frame).collect();
                for slice in &volume.slices {
                    assert_eq!(&slice.path, path, "one file per volume");
                    let position = slice.position.unwrap();
                    assert!(
                        close(position, number(&projections[slice.frame as usize])),
                        "{path} tile {}: {position}",
                        slice.frame
                    );
                }
                let positions: Vec<f64> =
                    volume.slices.iter().map(|s| s.position.unwrap()).collect();
                if rule != "instance" {
                    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
                }
                frames.sort_unstable();
                assert_eq!(frames, (0..tiles as u32).collect::<Vec<_>>());
                let normal = volume.normal.unwrap();
                let want_normal: Vec<f64> = want["normal"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(number)
                    .collect();
                assert!(normal.iter().zip(&want_normal).all(|(a, b)| close(*a, *b)));
                let diagnostics = volume.diagnostics.as_ref().unwrap();
                let spacing = number(&projections[1]) - number(&projections[0]);
                assert!(close(diagnostics.slice_spacing.unwrap(), spacing.abs()));
            }
        }
    }
}

#[test]
fn rendered_tiles_hold_the_pixels_pydicom_cuts() {
    let records = scanned();
    for (path, want) in expected_files() {
        let header = &records[&path];
        let image = DicomImage::open(&data(CASE).join(&path))
            .unwrap()
            .with_mosaic(header.mosaic.as_ref().unwrap())
            .unwrap();
        assert_eq!(image.frame_count(), header.number_of_frames);
        for (k, values) in want["tile_values"].as_array().unwrap().iter().enumerate() {
            let frame = image.frame(k as u32).unwrap();
            assert_eq!(
                (Some(frame.height as u16), Some(frame.width as u16)),
                (header.rows, header.columns)
            );
            let Samples::Grey(grey) = &frame.samples else {
                panic!("{path}: not grey")
            };
            let (lo, hi) = grey.min_max().unwrap();
            let mut sum = 0i64;
            grey.for_each(|v| sum += v);
            let want: Vec<i64> = values
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect();
            assert_eq!(vec![lo, hi, sum], want, "{path} tile {k}");
        }
        assert!(image.frame(header.number_of_frames).is_err());
    }
}

fn ffprobe_frames(video: &Path) -> (u64, u64, u64) {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_frames"])
        .args([
            "-of",
            "json",
            "-show_entries",
            "stream=width,height,nb_read_frames",
        ])
        .arg(video)
        .output()
        .expect("ffprobe runs (scripts/setup.sh installs ffmpeg)");
    assert!(output.status.success());
    let probe: Value = serde_json::from_slice(&output.stdout).unwrap();
    let stream = &probe["streams"][0];
    (
        stream["width"].as_u64().unwrap(),
        stream["height"].as_u64().unwrap(),
        stream["nb_read_frames"].as_str().unwrap().parse().unwrap(),
    )
}

#[test]
fn convert_makes_one_video_of_tile_sized_frames_per_mosaic_file() {
    let expected = expected_files();
    let dest = tempfile::tempdir().unwrap();
    let output = run(&[
        "convert",
        data(CASE).to_str().unwrap(),
        "--dest",
        dest.path().to_str().unwrap(),
        "-q",
        "--outputs",
        "render,nifti",
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(dest.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest.items.len(), 8, "one item per mosaic file");
    for item in &manifest.items {
        assert_eq!(item.kind, ItemKind::Video);
        let path = &item.frames[0].path;
        let want = &expected[path];
        let tiles = want["tiles"].as_u64().unwrap();
        let (width, height) = (
            want["tile_columns"].as_u64().unwrap(),
            want["tile_rows"].as_u64().unwrap(),
        );
        assert_eq!(item.frames.len() as u64, tiles);
        assert!(item.frames.iter().all(
            |f| &f.path == path && (u64::from(f.width), u64::from(f.height)) == (width, height)
        ));
        assert_eq!(
            (u64::from(item.width), u64::from(item.height)),
            (width, height)
        );
        let video = dest.path().join(&item.storage_key);
        assert_eq!(ffprobe_frames(&video), (width, height, tiles));
        // Both time points of the series make one 4D NIfTI of tiles.
        let nifti = item.nifti.as_ref().unwrap();
        assert_eq!(
            nifti.dims,
            [width as usize, height as usize, tiles as usize, 2]
        );
        assert_eq!(nifti.volumes, ["v1", "v2"]);
    }
    // The page shows each video as its tiles: 5 frames of 72 x 72, 40 frames in all.
    let page = std::fs::read_to_string(dest.path().join("index.html")).unwrap();
    assert_eq!(
        page.matches("5 frames at 10 fps, 0.5 s, 72 x 72").count(),
        8
    );
    assert!(
        page.contains("8 items (40 frames"),
        "the page counts tiles as frames"
    );
}

#[test]
fn the_index_frames_table_lists_every_tile_with_its_position() {
    let expected = expected_files();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("index.sqlite");
    let output = dicomprep()
        .arg("index")
        .arg(data(CASE))
        .arg("--db")
        .arg(&db)
        .arg("-q")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let query = |sql: &str| -> Value {
        let output = dicomprep()
            .args(["query", "--format", "json", "--db"])
            .arg(&db)
            .arg(sql)
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let frames =
        query("SELECT path, frame, image_position_patient FROM frames ORDER BY path, frame");
    let rows = frames.as_array().unwrap();
    let tiles: u64 = expected
        .values()
        .map(|f| f["tiles"].as_u64().unwrap())
        .sum();
    assert_eq!(rows.len() as u64, tiles);
    for row in rows {
        let path = row["path"].as_str().unwrap();
        let frame = row["frame"].as_u64().unwrap() as usize;
        let got: Vec<f64> =
            serde_json::from_str(row["image_position_patient"].as_str().unwrap()).unwrap();
        let want: Vec<f64> = expected[path]["positions"][frame]
            .as_array()
            .unwrap()
            .iter()
            .map(number)
            .collect();
        assert!(
            got.iter().zip(&want).all(|(a, b)| close(*a, *b)),
            "{path} tile {frame}: {got:?} != {want:?}"
        );
    }
    let instances = query("SELECT path, rows, columns, number_of_frames FROM instances");
    let instances = instances.as_array().unwrap();
    assert_eq!(instances.len(), expected.len());
    for row in instances {
        let want = &expected[row["path"].as_str().unwrap()];
        assert_eq!(row["rows"], want["tile_rows"]);
        assert_eq!(row["columns"], want["tile_columns"]);
        assert_eq!(row["number_of_frames"], want["tiles"]);
    }
    // `order --index` reads the tiles back from the index.
    let (from_index, _) = order(&data(CASE), &["--index", db.to_str().unwrap()]);
    let (from_scan, _) = order(&data(CASE), &[]);
    assert_eq!(from_index.series, from_scan.series);
}
