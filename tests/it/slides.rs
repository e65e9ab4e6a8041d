//! Whole-slide images, against OpenSlide 4 and wsidicom (`scripts/slides/oracle.py`): real
//! slides (highdicom's `sm_image*.dcm`) and slides generated from real microscopy pixels
//! (`scripts/slides/make_slide.py`: scikit-image's IHC picture, tiled) become a pyramid
//! (`slide.tif`) OpenSlide opens with the DICOM's levels and pixels, Deep Zoom tiles that
//! reassemble to the slide at every level, and pictures; never a video.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::scale_out::expect;
use crate::util::{all_files, data, run_script};

/// Converts `src` into `dest` with `extra` flags; returns the manifest and the run report.
pub(crate) fn convert(src: &Path, dest: &Path, extra: &[&str]) -> (Value, Value) {
    let mut args = vec![
        "convert",
        src.to_str().unwrap(),
        "--dest",
        dest.to_str().unwrap(),
        "-q",
    ];
    args.extend_from_slice(extra);
    expect(&args, 0);
    let read = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(dest.join(name)).unwrap()).unwrap()
    };
    (read("manifest.json"), read("report.json"))
}

/// `scripts/slides/oracle.py COMMAND ARGS` (it exits non-zero, naming the problem, when a
/// check fails); its JSON.
pub(crate) fn oracle(args: &[&OsStr]) -> Value {
    let output = run_script("slides/oracle.py", args);
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The one slide item of `manifest` (and no video).
pub(crate) fn slide_item(manifest: &Value) -> &Value {
    let items = manifest["items"].as_array().unwrap();
    assert!(
        items.iter().all(|i| i["kind"] != "video"),
        "a slide became a video"
    );
    let slides: Vec<&Value> = items.iter().filter(|i| i["kind"] == "slide").collect();
    assert_eq!(slides.len(), 1, "{manifest}");
    slides[0]
}

/// Checks the outputs of the slide in `src` converted into `dest` against the oracles:
/// OpenSlide opens `slide.tif` with the DICOM's levels, its pixels equal the DICOM's at random
/// regions (within `min_psnr` dB when tiles were encoded again), and the Deep Zoom tiles
/// reassemble to the slide at every level.
fn check_slide(src: &Path, dest: &Path, min_psnr: Option<&str>, region: &str) -> Value {
    let (manifest, _) = convert(src, dest, &[]);
    let item = slide_item(&manifest).clone();
    let slide = &item["slide"];
    let key = |name: &str| dest.join(slide[name].as_str().unwrap());
    let tiff = oracle(&[OsStr::new("tiff-info"), key("pyramid_key").as_os_str()]);
    let dicom = oracle(&[OsStr::new("dicom-info"), src.as_os_str()]);
    assert_eq!(
        tiff["openslide"]["level_dimensions"], dicom["openslide"]["level_dimensions"],
        "{tiff}"
    );
    assert_eq!(tiff["tifffile"]["bigtiff"], true);
    let pyramid = key("pyramid_key");
    let mut args = vec![
        OsStr::new("compare-regions"),
        src.as_os_str(),
        pyramid.as_os_str(),
        OsStr::new("--regions"),
        OsStr::new("12"),
        OsStr::new("--size"),
        OsStr::new(region),
        OsStr::new("--seed"),
        OsStr::new("5"),
    ];
    if let Some(psnr) = min_psnr {
        args.extend([OsStr::new("--min-psnr"), OsStr::new(psnr)]);
    }
    assert_eq!(oracle(&args)["pass"], true);
    let zoom = oracle(&[
        OsStr::new("dzi-check"),
        key("dzi_key").as_os_str(),
        src.as_os_str(),
    ]);
    assert_eq!(zoom["pass"], true, "{zoom}");
    let tiles: u64 = zoom["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["tiles"].as_u64().unwrap())
        .sum();
    assert_eq!(slide["dzi_tiles"].as_u64(), Some(tiles));
    item
}

/// A folder holding only `file` of test-data (highdicom's slides share UIDs between files).
fn alone(dir: &Path, file: &str) -> PathBuf {
    let folder = dir.join(file.replace('/', "_"));
    std::fs::create_dir_all(&folder).unwrap();
    let from = data(file);
    std::fs::copy(&from, folder.join(from.file_name().unwrap())).unwrap();
    folder
}

/// A slide made by `make_slide.py` with `flags` under `dir/name`; its JSON summary.
pub(crate) fn generated(dir: &Path, name: &str, flags: &[&str]) -> (PathBuf, Value) {
    let out = dir.join(name);
    let mut args = vec![out.as_os_str()];
    args.extend(flags.iter().map(OsStr::new));
    let output = run_script("slides/make_slide.py", &args);
    (out, serde_json::from_slice(&output.stdout).unwrap())
}

#[test]
fn highdicoms_slides_become_pyramids_deep_zoom_tiles_and_pictures() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["sm_image.dcm", "sm_image_dots.dcm"] {
        let src = alone(dir.path(), &format!("slides/highdicom/{file}"));
        // 10 x 10 native RGB tiles: the pyramid's are 16 x 16, encoded once.
        let item = check_slide(&src, &dir.path().join(file), Some("40"), "20");
        let slide = &item["slide"];
        assert_eq!(
            (slide["width"].as_u64(), slide["height"].as_u64()),
            (Some(50), Some(50))
        );
        assert_eq!(slide["levels"][0]["copied"], false);
        assert_eq!(slide["levels"][0]["tile_width"], 16);
        assert!((slide["mpp"].as_f64().unwrap() - 0.499).abs() < 1e-6);
        assert_eq!(
            item["frames"][0]["width"], 50,
            "the whole slide fits one picture"
        );
    }
}

#[test]
fn a_sparse_concatenated_jpeg_slide_keeps_its_tiles_and_fills_the_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (src, made) = generated(
        dir.path(),
        "sparse",
        &[
            "--width",
            "1500",
            "--height",
            "1000",
            "--levels",
            "3",
            "--organization",
            "sparse",
            "--drop-tiles",
            "3",
            "--concatenate",
            "2",
            "--label",
            "--overview",
            "--seed",
            "7",
        ],
    );
    let dest = dir.path().join("out");
    // JPEG tiles copied: the pyramid's pixels are the DICOM's, exactly.
    let item = check_slide(&src, &dest, None, "300");
    let slide = &item["slide"];
    assert_eq!(slide["missing_tiles"], 3, "{made}");
    let levels = slide["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 3);
    assert!(levels.iter().all(|l| l["copied"] == true));
    assert_eq!(levels[2]["width"], 375);
    // The label (the patient's name) is left out, with the reason; every input is accounted.
    let (manifest, report) = convert(&src, &dest, &[]);
    let skipped: Vec<(&str, &str)> = manifest["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["path"].as_str().unwrap(), s["reason"].as_str().unwrap()))
        .collect();
    assert!(
        skipped
            .iter()
            .any(|(p, r)| *p == "label.dcm" && r.starts_with("slide label")),
        "{skipped:?}"
    );
    let inputs = report["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), std::fs::read_dir(&src).unwrap().count());
    let converted = inputs.iter().filter(|e| e["status"] == "converted").count();
    assert_eq!(
        converted, 4,
        "two parts of level 0, levels 1 and 2: {report}"
    );
    // The re-run above kept everything; the tiles filled are counted.
    assert_eq!(report["totals"]["outputs_written"], 0, "{report}");
    assert_eq!(report["totals"]["missing_slide_tiles"], 3, "{report}");

    // Labels and declared overviews are written when asked.
    let kept = dir.path().join("kept");
    let (manifest, _) = convert(
        &src,
        &kept,
        &["--slide-label", "keep", "--burned-in", "keep"],
    );
    let kinds: Vec<&str> = slide_item(&manifest)["slide"]["associated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["label", "overview"]);
}

#[test]
fn jpeg_2000_tiles_of_odd_size_are_decoded_and_encoded_once() {
    let dir = tempfile::tempdir().unwrap();
    let (src, _) = generated(
        dir.path(),
        "j2k",
        &[
            "--width", "700", "--height", "500", "--levels", "2", "--tile", "240x200", "--codec",
            "jpeg2000", "--seed", "3",
        ],
    );
    let item = check_slide(&src, &dir.path().join("out"), Some("40"), "150");
    let levels = item["slide"]["levels"].as_array().unwrap();
    assert_eq!(levels[0]["copied"], false);
    assert_eq!(
        (
            levels[0]["tile_width"].as_u64(),
            levels[0]["tile_height"].as_u64()
        ),
        (Some(240), Some(208))
    );
}

#[test]
fn a_truncated_level_fails_its_slide_with_the_reason_and_nothing_of_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (src, _) = generated(
        dir.path(),
        "cut",
        &[
            "--width", "600", "--height", "400", "--levels", "2", "--seed", "9",
        ],
    );
    let level = src.join("level-0.dcm");
    let bytes = std::fs::read(&level).unwrap();
    std::fs::write(&level, &bytes[..bytes.len() - 4000]).unwrap();
    let failed = failed_slide(&src, &dir.path().join("out"));
    let paths: Vec<&str> = failed.iter().map(|f| f.0.as_str()).collect();
    assert!(
        paths.contains(&"level-0.dcm") && paths.contains(&"level-1.dcm"),
        "{failed:?}"
    );
}

/// Converts `src` into `dest` expecting its one slide to fail (exit code 3): no item, no
/// output of it left, every instance failed with a reason starting `slide: `; the failed
/// (path, reason) pairs.
fn failed_slide(src: &Path, dest: &Path) -> Vec<(String, String)> {
    let stderr = expect(
        &[
            "convert",
            src.to_str().unwrap(),
            "--dest",
            dest.to_str().unwrap(),
            "-q",
        ],
        3,
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dest.join("manifest.json")).unwrap()).unwrap();
    assert!(manifest["items"].as_array().unwrap().is_empty(), "{stderr}");
    let failed: Vec<(String, String)> = manifest["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let text = |key: &str| f[key].as_str().unwrap().to_string();
            (text("path"), text("reason"))
        })
        .collect();
    assert!(
        failed.iter().all(|(_, r)| r.starts_with("slide: ")),
        "{failed:?}"
    );
    let left: Vec<String> = all_files(dest)
        .into_iter()
        .filter(|f| f.contains("/slide/"))
        .collect();
    assert!(left.is_empty(), "a failed slide left outputs: {left:?}");
    failed
}

#[test]
fn every_optical_path_at_every_focal_plane_becomes_a_pyramid_of_its_own_when_asked() {
    // A generated sparse slide given a second optical path and a second focal plane
    // (scripts/slides/add_planes.py); wsidicom reads each pair, OpenSlide reads none.
    let dir = tempfile::tempdir().unwrap();
    let (one, _) = generated(
        dir.path(),
        "one",
        &[
            "--width",
            "600",
            "--height",
            "400",
            "--levels",
            "2",
            "--tile",
            "128",
            "--codec",
            "none",
            "--organization",
            "sparse",
            "--seed",
            "4",
        ],
    );
    let src = dir.path().join("planes");
    run_script("slides/add_planes.py", &[one.as_os_str(), src.as_os_str()]);
    let dest = dir.path().join("out");
    let (manifest, _) = convert(&src, &dest, &["--slide-planes", "all"]);
    let items = manifest["items"].as_array().unwrap();
    let volumes: Vec<&str> = items
        .iter()
        .map(|i| i["volume"].as_str().unwrap())
        .collect();
    assert_eq!(
        volumes,
        [
            "slide",
            "slide-path1-plane2",
            "slide-path2-plane1",
            "slide-path2-plane2"
        ]
    );
    for item in items {
        let slide = &item["slide"];
        let (path, z) = (
            slide["optical_path"].as_str().unwrap(),
            slide["z_offset"].to_string(),
        );
        let pyramid = dest.join(slide["pyramid_key"].as_str().unwrap());
        let seen = oracle(&[
            OsStr::new("compare-plane"),
            src.as_os_str(),
            pyramid.as_os_str(),
            OsStr::new("--z"),
            OsStr::new(&z),
            OsStr::new("--path"),
            OsStr::new(path),
        ]);
        assert_eq!(seen["pass"], true, "{seen}");
    }
    // By default, the first path at the first plane only.
    let (manifest, _) = convert(&src, &dir.path().join("first"), &[]);
    assert_eq!(manifest["items"].as_array().unwrap().len(), 1);
}

#[test]
fn a_slide_written_by_orthancs_dicomizer_is_read_as_it_is() {
    // OrthancWSIDicomizer (Debian's orthanc-wsi) writes no ImageType, no
    // DimensionOrganizationType and one-part concatenations: dicomprep reads its files as they
    // are; OpenSlide, the oracle, reads a copy fixed with pydicom (its pixels are the same).
    let dir = tempfile::tempdir().unwrap();
    let picture = dir.path().join("ihc.png");
    run_script(
        "slides/dicomizer_case.py",
        &[OsStr::new("picture"), picture.as_os_str()],
    );
    let written = dir.path().join("dicomized");
    std::fs::create_dir_all(&written).unwrap();
    let status = std::process::Command::new("OrthancWSIDicomizer")
        .args([
            "--threads=1",
            "--pyramid=1",
            "--levels=3",
            "--tile-width=256",
            "--tile-height=256",
            "--compression=jpeg",
        ])
        .arg(format!("--folder={}", written.display()))
        .arg(&picture)
        .output()
        .expect("OrthancWSIDicomizer runs (scripts/setup.sh --test installs orthanc-wsi)");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let fixed = dir.path().join("fixed");
    run_script(
        "slides/dicomizer_case.py",
        &[OsStr::new("fix"), written.as_os_str(), fixed.as_os_str()],
    );
    let dest = dir.path().join("out");
    let (manifest, _) = convert(&written, &dest, &[]);
    let slide = &slide_item(&manifest)["slide"];
    let levels: Vec<(u64, bool)> = slide["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["width"].as_u64().unwrap(), l["copied"] == true))
        .collect();
    assert_eq!(levels, [(1500, true), (750, true), (375, true)]);
    let pyramid = dest.join(slide["pyramid_key"].as_str().unwrap());
    let seen = oracle(&[
        OsStr::new("compare-regions"),
        fixed.as_os_str(),
        pyramid.as_os_str(),
        OsStr::new("--regions"),
        OsStr::new("8"),
        OsStr::new("--size"),
        OsStr::new("200"),
    ]);
    assert_eq!(seen["pass"], true, "the copied tiles are the dicomizer's");
    let dzi = dest.join(slide["dzi_key"].as_str().unwrap());
    let zoom = oracle(&[OsStr::new("dzi-check"), dzi.as_os_str(), fixed.as_os_str()]);
    assert_eq!(zoom["pass"], true, "{zoom}");
}

#[test]
fn without_deep_zoom_a_slide_is_its_pyramid_and_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let src = alone(dir.path(), "slides/highdicom/sm_image.dcm");
    let dest = dir.path().join("out");
    let (manifest, _) = convert(&src, &dest, &["--slide-deep-zoom", "no"]);
    let slide = &slide_item(&manifest)["slide"];
    assert!(
        slide["dzi_key"].is_null() && slide["dzi_tiles"] == 0,
        "{slide}"
    );
    let files = crate::util::all_files(&dest);
    assert!(files.iter().any(|f| f.ends_with("/slide/slide.tif")));
    assert!(
        files
            .iter()
            .all(|f| !f.contains("slide_files") && !f.ends_with(".dzi"))
    );
    assert!(
        files.iter().all(|f| !f.starts_with("assets/")),
        "no viewer without tiles"
    );
    let page = std::fs::read_to_string(dest.join("index.html")).unwrap();
    assert!(!page.contains("class=\"viewer\"") && page.contains("slide.tif"));
}

#[test]
fn a_sixteen_bit_grey_slide_uses_the_range_of_its_values() {
    // highdicom's sm_image_grayscale: 16-bit grey values 0-24 and no window. One mapping for
    // the whole slide, from the values of its smallest level: not black on 0-65535.
    let dir = tempfile::tempdir().unwrap();
    let src = alone(dir.path(), "slides/highdicom/sm_image_grayscale.dcm");
    let dest = dir.path().join("out");
    let (manifest, _) = convert(&src, &dest, &[]);
    let slide = &slide_item(&manifest)["slide"];
    let png = std::fs::read(dest.join(slide["hq_key"].as_str().unwrap())).unwrap();
    let picture = dicomprep::encode::png::decode_png(&png).unwrap();
    let (lo, hi) = (
        *picture.data.iter().min().unwrap(),
        *picture.data.iter().max().unwrap(),
    );
    assert_eq!((lo, hi), (0, 255), "the values' whole range");
}

#[test]
fn a_tile_found_corrupt_after_outputs_were_written_takes_them_all_away() {
    // A Huffman table made impossible in one tile of level 0: its frame header is fine, so the
    // pyramid copies it; decoding it for the Deep Zoom tiles fails. The slide fails with the
    // reason and what it had written (the pyramid, tiles) is removed.
    let dir = tempfile::tempdir().unwrap();
    let (src, _) = generated(
        dir.path(),
        "corrupt",
        &[
            "--width", "1200", "--height", "900", "--levels", "2", "--seed", "17",
        ],
    );
    let level = src.join("level-0.dcm");
    let mut bytes = std::fs::read(&level).unwrap();
    let find = |bytes: &[u8], from: usize, what: &[u8]| {
        bytes[from..]
            .windows(what.len())
            .position(|w| w == what)
            .map(|p| p + from)
            .unwrap()
    };
    let mut tile = 0;
    for _ in 0..12 {
        tile = find(&bytes, tile + 1, &[0xFF, 0xD8, 0xFF]);
    }
    let table = find(&bytes, tile, &[0xFF, 0xC4]);
    bytes[table + 5..table + 21].fill(0xFF);
    std::fs::write(&level, &bytes).unwrap();
    let failed = failed_slide(&src, &dir.path().join("out"));
    assert!(
        failed
            .iter()
            .all(|(_, r)| r.contains("level-0.dcm: frame 11")),
        "{failed:?}"
    );
}
