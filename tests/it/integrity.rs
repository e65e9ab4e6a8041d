//! The manifest and every payload name only keys that exist, with their recorded sizes (issue
//! 14), and a video's window shows the whole volume.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;
use dicomprep::contract::manifest::{ItemKind, Manifest};
use dicomprep::contract::run_report::{RunReport, Stage};
use serde_json::Value;

use crate::util::{data, dicomprep};

/// Writes `count` slices of one series made from `template` into `dir` (`00.dcm`, `01.dcm`...):
/// their own SOP Instance UID, InstanceNumber and position 2 mm apart; `edit` changes each.
fn write_series(
    template: &Path,
    dir: &Path,
    count: usize,
    mut edit: impl FnMut(usize, &mut DefaultDicomObject),
) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let original = dicom_object::open_file(template).unwrap();
    let text = |tag, vr, value: String| DataElement::new(tag, vr, PrimitiveValue::from(value));
    (0..count)
        .map(|i| {
            let mut object = original.clone();
            let sop = format!("1.2.826.0.1.3680043.10.1447.{}", 1000 + i);
            object.put(text(
                tags::SERIES_INSTANCE_UID,
                VR::UI,
                "1.2.826.0.1.3680043.10.1447.1".into(),
            ));
            object.put(text(tags::SOP_INSTANCE_UID, VR::UI, sop.clone()));
            object.put(text(tags::INSTANCE_NUMBER, VR::IS, (i + 1).to_string()));
            let z = 2.0 * i as f64;
            object.put(text(
                tags::IMAGE_POSITION_PATIENT,
                VR::DS,
                format!("0\\0\\{z}"),
            ));
            object.put(text(
                tags::IMAGE_ORIENTATION_PATIENT,
                VR::DS,
                "1\\0\\0\\0\\1\\0".into(),
            ));
            object.put(text(tags::SLICE_LOCATION, VR::DS, format!("{z}")));
            object.update_meta(|meta| meta.media_storage_sop_instance_uid = sop);
            edit(i, &mut object);
            let path = dir.join(format!("{i:02}.dcm"));
            object.write_to_file(&path).unwrap();
            path
        })
        .collect()
}

/// Runs `dicomprep convert SRC --dest DEST -q <extra>`; returns the manifest and the exit code.
fn convert(src: &Path, dest: &Path, extra: &[&str]) -> (Manifest, Option<i32>) {
    let out = dicomprep()
        .args([
            "convert",
            src.to_str().unwrap(),
            "--dest",
            dest.to_str().unwrap(),
            "-q",
        ])
        .args(extra)
        .output()
        .unwrap();
    let manifest = std::fs::read(dest.join("manifest.json"))
        .unwrap_or_else(|e| panic!("no manifest: {e}; {}", String::from_utf8_lossy(&out.stderr)));
    (
        serde_json::from_slice(&manifest).unwrap(),
        out.status.code(),
    )
}

/// Every key the manifest names is a file under `dest` with the size the manifest records.
pub fn assert_manifest_keys_exist(dest: &Path, manifest: &Manifest) {
    for item in &manifest.items {
        for named in item.named_keys() {
            let path = dest.join(named.key);
            let meta = std::fs::metadata(&path)
                .unwrap_or_else(|e| panic!("{} names {}: {e}", item.name, named.key));
            if let Some(size) = named.size {
                assert_eq!(meta.len(), size, "{}: recorded size", named.key);
            }
        }
    }
}

/// Every string of a payload that names an output or a source file (by its extension), with
/// `prefixes` (URL or bucket prefixes) removed, is a file under `dest` or `src`.
fn assert_payload_names_exist(
    payload: &Value,
    prefixes: &[&str],
    dest: &Path,
    src: &Path,
) -> usize {
    const EXTENSIONS: [&str; 7] = [".png", ".jpg", ".mp4", ".m3u8", ".ts", ".txt", ".dcm"];
    fn strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::String(s) => out.push(s),
            Value::Array(values) => values.iter().for_each(|v| strings(v, out)),
            Value::Object(map) => map.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    strings(payload, &mut all);
    let mut checked = 0;
    for name in all
        .into_iter()
        .filter(|s| EXTENSIONS.iter().any(|e| s.ends_with(e)))
    {
        // File names of slots are checked through their keys.
        if !name.contains('/') {
            continue;
        }
        let key = prefixes
            .iter()
            .find_map(|p| name.strip_prefix(p))
            .unwrap_or(name)
            .trim_start_matches('/');
        let root = if key.ends_with(".dcm") { src } else { dest };
        assert!(
            root.join(key).is_file(),
            "payload names {name}, missing under {root:?}"
        );
        checked += 1;
    }
    checked
}

/// Builds every payload kind from `dest/manifest.json` as if DEST had been copied to
/// s3://bucket/out and SRC to s3://bucket/in, and checks every name each one holds.
fn assert_every_payload_names_existing_keys(dest: &Path, src: &Path) {
    let manifest = dest.join("manifest.json");
    let kinds: [&[&str]; 4] = [
        &["darwin-readonly"],
        &["darwin-readwrite"],
        &[
            "encord",
            "--format",
            "json",
            "--integration-url-style",
            "protocol",
        ],
        &["bisque"],
    ];
    for kind in kinds {
        let out = dicomprep()
            .arg("payload")
            .args(kind)
            .args(["-m", manifest.to_str().unwrap()])
            .args([
                "--destination",
                "s3://bucket/out",
                "--source",
                "s3://bucket/in",
            ])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{kind:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let payload: Value = serde_json::from_slice(&out.stdout).unwrap();
        let prefixes = [
            "https://bucket.s3.us-east-1.amazonaws.com/out",
            "https://bucket.s3.us-east-1.amazonaws.com/in",
            "s3://bucket/out",
            "s3://bucket/in",
            "out",
            "in",
        ];
        let checked = assert_payload_names_exist(&payload, &prefixes, dest, src);
        assert!(checked > 0, "{kind:?} names no file: {payload}");
    }
}

/// A six-slice RLE series whose middle file is truncated: the other five still make one video
/// item, its thumbnail comes from a slice that rendered, and nothing names a missing key.
#[test]
fn truncated_middle_slice_leaves_an_item_whose_keys_all_exist() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("in");
    let paths = write_series(&data("pydicom/MR_small_RLE.dcm"), &src, 6, |_, _| {});
    let middle = &paths[3];
    let bytes = std::fs::read(middle).unwrap();
    std::fs::write(middle, &bytes[..bytes.len() - 3000]).unwrap();

    let dest = tmp.path().join("out");
    let (manifest, code) = convert(&src, &dest, &[]);
    assert_eq!(code, Some(3), "the truncated file fails the run");
    assert_eq!(manifest.items.len(), 1);
    let item = &manifest.items[0];
    assert_eq!(item.kind, ItemKind::Video);
    assert_eq!(item.frames.len(), 5);
    assert!(item.video.is_some() && item.thumbnail_bytes.is_some());
    assert!(item.frames.iter().all(|f| f.path != "03.dcm"));
    assert_eq!(manifest.failed.len(), 1);
    assert_eq!(manifest.failed[0].path, "03.dcm");
    // The header reads fine: the file fails when its pixels are decoded.
    let report: RunReport =
        serde_json::from_slice(&std::fs::read(dest.join("report.json")).unwrap()).unwrap();
    let entry = report.inputs.iter().find(|i| i.path == "03.dcm").unwrap();
    assert_eq!(entry.stage, Some(Stage::Render), "{entry:?}");
    assert_manifest_keys_exist(&dest, &manifest);
    assert_every_payload_names_existing_keys(&dest, &src);

    // The thumbnail is the middle one of the five that rendered (slice 04.dcm): the same image
    // as a conversion of those five alone.
    let five = tmp.path().join("five");
    std::fs::create_dir_all(&five).unwrap();
    for path in paths.iter().filter(|p| *p != middle) {
        std::fs::copy(path, five.join(path.file_name().unwrap())).unwrap();
    }
    let alone = tmp.path().join("alone");
    let (alone_manifest, code) = convert(&five, &alone, &["--no-mp4"]);
    assert_eq!(code, Some(0));
    let thumbnail = &alone_manifest.items[0].thumbnail_key;
    assert_eq!(
        std::fs::read(dest.join(&item.thumbnail_key)).unwrap(),
        std::fs::read(alone.join(thumbnail)).unwrap()
    );
}

/// The fault corpus converted with videos: every key of the manifest and every name of every
/// payload kind exists; every input that is not in an item is reported.
#[test]
fn fault_corpus_manifest_and_payloads_name_only_existing_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("in");
    let templates = dicomprep::synth::faults::load_templates(&data("")).unwrap();
    let files = dicomprep::synth::faults::corpus(&templates, 14, 120);
    dicomprep::synth::faults::write_corpus(&src, &files).unwrap();
    let dest = tmp.path().join("out");
    let (manifest, code) = convert(&src, &dest, &[]);
    assert_eq!(code, Some(3));
    assert!(!manifest.items.is_empty());
    assert_manifest_keys_exist(&dest, &manifest);
    assert_every_payload_names_existing_keys(&dest, &src);
    let report: RunReport =
        serde_json::from_slice(&std::fs::read(dest.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        report.inputs.len(),
        files.len(),
        "every input is in the report"
    );
}

/// Stored value `v` of CT_small (signed 16-bit) scaled by `scale` around -1024 HU + intercept.
fn scaled(stored: i16, scale: f64) -> i16 {
    (f64::from(stored) * scale).round().clamp(-32768.0, 32767.0) as i16
}

/// A volume whose slices each carry their own min-max window, one of them with a bright
/// outlier pixel and a window many times wider: the video's window is chosen from all of them,
/// and every frame keeps most of its pixels between black and white.
#[test]
fn per_slice_windows_and_an_outlier_slice_give_a_window_that_shows_every_frame() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("in");
    let count = 9;
    let outlier = count / 2;
    let intercept = -1024.0;
    write_series(&data("pydicom/CT_small.dcm"), &src, count, |i, object| {
        let pixels = object.element(tags::PIXEL_DATA).unwrap();
        let bytes = pixels.value().to_bytes().unwrap();
        let scale = 1.0 + 0.03 * i as f64;
        let mut values: Vec<i16> = bytes
            .chunks_exact(2)
            .map(|b| scaled(i16::from_le_bytes([b[0], b[1]]), scale))
            .collect();
        if i == outlier {
            values[0] = 30000;
        }
        let (lo, hi) = values
            .iter()
            .fold((i16::MAX, i16::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let (lo, hi) = (f64::from(lo) + intercept, f64::from(hi) + intercept);
        let put = |object: &mut DefaultDicomObject, tag, value: f64| {
            object.put(DataElement::new(
                tag,
                VR::DS,
                PrimitiveValue::from(format!("{value}")),
            ));
        };
        put(object, tags::WINDOW_CENTER, (lo + hi) / 2.0);
        put(object, tags::WINDOW_WIDTH, hi - lo);
        let words: Vec<u16> = values.iter().map(|&v| v as u16).collect();
        object.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16(words.into()),
        ));
    });
    let dest = tmp.path().join("out");
    let (manifest, code) = convert(&src, &dest, &["--as", "video", "--no-mp4"]);
    assert_eq!(code, Some(0));
    let item = &manifest.items[0];
    let window = item.window.as_ref().unwrap();
    assert_eq!(window.source, "header");
    assert!(
        window.chosen_by.as_deref().unwrap().starts_with("median"),
        "{window:?}"
    );
    let mut fractions = BTreeMap::new();
    for (i, frame) in item.frames.iter().enumerate() {
        let image = image_png(&dest.join(&frame.hq_key));
        let inside = image.iter().filter(|&&v| v > 0 && v < 255).count();
        fractions.insert(i, inside as f64 / image.len() as f64);
    }
    // CT_small is a body slice: most of it is tissue, which a sensible window shows in grey.
    for (&i, &fraction) in &fractions {
        assert!(
            fraction > 0.5,
            "frame {i}: {:.0}% grey ({fractions:?})",
            100.0 * fraction
        );
    }
}

/// The grey samples of an 8-bit PNG (decoded here, independently of the code under test).
fn image_png(path: &Path) -> Vec<u8> {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    buffer.truncate(info.buffer_size());
    buffer
}
