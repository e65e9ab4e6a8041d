//! Rendering fidelity against DCMTK, the reference renderer (installed by scripts/setup.sh).

use std::path::Path;
use std::process::Command;

use dicomprep::contract::manifest::Manifest;

use crate::util::{data, run};

/// A decoded 8-bit PNG: width, height, samples per pixel, samples.
type Png = (u32, u32, usize, Vec<u8>);

fn decode_png(path: &Path) -> Png {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.bit_depth, png::BitDepth::Eight, "{}", path.display());
    buf.truncate(info.buffer_size());
    (info.width, info.height, info.color_type.samples(), buf)
}

/// dicomprep's image of frame 0 of `file` under `window`.
fn ours(file: &str, window: &str) -> Png {
    ours_with(file, window, &[])
}

/// Same, with extra `convert` flags.
fn ours_with(file: &str, window: &str, extra: &[&str]) -> Png {
    let dest = tempfile::tempdir().unwrap();
    let output = run(&[
        "convert",
        data(file).to_str().unwrap(),
        "--dest",
        dest.path().to_str().unwrap(),
        "--as",
        "images",
        "--window",
        window,
        // DCMTK shows whole frames: ultrasound is not cut to its regions here.
        "--burned-in",
        "keep",
        "-q",
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .collect::<Vec<_>>());
    assert_eq!(
        output.status.code(),
        Some(0),
        "{file}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(dest.path().join("manifest.json")).unwrap()).unwrap();
    let item = manifest
        .items
        .iter()
        .find(|i| i.frames[0].frame == 0)
        .expect("frame 0 rendered");
    decode_png(&dest.path().join(&item.storage_key))
}

/// DCMTK's 8-bit PNG of frame 0 of `file` with the given VOI option (`+Wi 1` or `+Wm`),
/// overlays off (`-O`).
fn dcmtk(file: &str, voi: &[&str]) -> Png {
    dcmtk_with(file, &[&["-O"], voi].concat())
}

/// DCMTK's 8-bit PNG of frame 0 of `file` with the given options.
fn dcmtk_with(file: &str, options: &[&str]) -> Png {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dcmtk.png");
    // dcmj2pnm decodes JPEG and RLE; dcml2pnm decodes JPEG-LS.
    for tool in ["dcmj2pnm", "dcml2pnm"] {
        let status = Command::new(tool)
            .arg("+on")
            .args(options)
            .arg(data(file))
            .arg(&out)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap_or_else(|e| {
                panic!("{tool} not runnable ({e}): run scripts/setup.sh, which installs dcmtk")
            });
        if status.success() {
            return decode_png(&out);
        }
    }
    panic!("DCMTK cannot render {file}")
}

/// Width and height of tile 0 of a Siemens mosaic (which dicomprep renders as frame 0), as
/// `dicomprep scan` reads them; `None` for other files.
fn mosaic_tile(file: &str) -> Option<[String; 2]> {
    let output = run(&["scan", data(file).to_str().unwrap(), "-q"]);
    let header: dicomprep::scan::InstanceHeader = serde_json::from_slice(&output.stdout).unwrap();
    let mosaic = header.mosaic?;
    Some([mosaic.tile_columns, mosaic.tile_rows].map(|v| v.to_string()))
}

/// DCMTK's rendering of what dicomprep shows as frame 0 of `file`: of a mosaic, tile 0 (at the
/// top left), clipped from the grid; `min_max` computes the window over that tile alone.
fn dcmtk_frame0(file: &str, voi: &[&str], min_max: bool) -> Png {
    match mosaic_tile(file) {
        Some([w, h]) => {
            let tile = ["0", "0", w.as_str(), h.as_str()];
            let window: Vec<&str> = if min_max {
                [&["+Wr"][..], &tile].concat()
            } else {
                voi.to_vec()
            };
            dcmtk(file, &[&window[..], &["+C"], &tile].concat())
        }
        None => dcmtk(file, voi),
    }
}

/// Fails unless the images have the same geometry and ≥ 99.9% of samples within 1 grey level.
fn assert_close(file: &str, window: &str, ours: &Png, reference: &Png) {
    assert_eq!(
        (ours.0, ours.1, ours.2),
        (reference.0, reference.1, reference.2),
        "{file} {window}: geometry"
    );
    let close = ours
        .3
        .iter()
        .zip(&reference.3)
        .filter(|(a, b)| a.abs_diff(**b) <= 1)
        .count();
    let share = close as f64 / ours.3.len() as f64;
    let worst = ours
        .3
        .iter()
        .zip(&reference.3)
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap_or(0);
    assert!(
        share >= 0.999,
        "{file} --window {window}: {:.4}% within 1 level (worst {worst})",
        share * 100.0
    );
}

/// Files DCMTK decodes, one per transfer syntax, photometric interpretation and bit depth
/// that the test data holds; `true` when the header has a window.
const CASES: &[(&str, bool)] = &[
    ("pydicom/CT_small.dcm", false),
    ("pydicom/MR_small.dcm", true),
    ("pydicom/MR_small_implicit.dcm", true),
    ("pydicom/MR_small_bigendian.dcm", true),
    ("pydicom/MR_small_RLE.dcm", true),
    ("pydicom/MR_small_jpeg_ls_lossless.dcm", true),
    ("pydicom/JPEGLSNearLossless_16.dcm", false),
    ("pydicom/image_dfl.dcm", false),
    ("pydicom/examples_overlay.dcm", true),
    ("pydicom/rtdose_1frame.dcm", false),
    ("pydicom/dicomdirtests/77654033/CR1/6154", true),
    ("pydicom/SC_rgb_jpeg_gdcm.dcm", false),
    ("pydicom/SC_rgb_rle.dcm", false),
    ("pydicom/SC_rgb_rle_16bit.dcm", false),
    ("pydicom/SC_rgb_rle_32bit.dcm", false),
    ("pydicom/rtdose_rle_1frame.dcm", false),
    ("pydicom/SC_rgb_dcmtk_+eb+cy+s2.dcm", false),
    ("pydicom/SC_ybr_full_422_uncompressed.dcm", false),
    ("pydicom/SC_rgb_small_odd_big_endian.dcm", false),
    ("pydicom/examples_palette.dcm", false),
    ("pydicom/examples_rgb_color.dcm", false),
    ("pydicom/examples_ybr_color.dcm", false),
    (
        "dicom2nifti/failing/gantrytilting/001/IM-0001-0001.dcm",
        false,
    ),
    ("dicom2nifti/ge/anatomical/001/IM-0001-0112-0001.dcm", false),
    ("dcm_qa_ts/In/1.dcm", true),
    ("dcm_qa_ts/In/2.dcm", true),
    ("dcm_qa_ts/In/3.dcm", true),
    ("dcm_qa_ts/In/4.dcm", true),
    ("dcm_qa_ts/In/5.dcm", true),
    ("dcm_qa_ts/In/6.dcm", true),
    ("dcm_qa_ts/In/7.dcm", true),
    ("dcm_qa_ts/In/8.dcm", true),
];

#[test]
fn min_max_window_matches_dcmtk() {
    let mut failures = Vec::new();
    for (file, _) in CASES {
        let result = std::panic::catch_unwind(|| {
            assert_close(
                file,
                "minmax",
                &ours(file, "minmax"),
                &dcmtk_frame0(file, &["+Wm"], true),
            )
        });
        if let Err(e) = result {
            failures.push(e.downcast_ref::<String>().cloned().unwrap_or_default());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn header_window_matches_dcmtk() {
    let mut failures = Vec::new();
    for (file, _) in CASES.iter().filter(|(_, windowed)| *windowed) {
        let result = std::panic::catch_unwind(|| {
            assert_close(
                file,
                "header",
                &ours(file, "header"),
                &dcmtk_frame0(file, &["+Wi", "1"], false),
            )
        });
        if let Err(e) = result {
            failures.push(e.downcast_ref::<String>().cloned().unwrap_or_default());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// DCMTK 3.6.7 renders the big-endian copy of this 32-bit dose differently from the little-endian
/// one although their values are equal (pydicom reads both as 1249000, 1249000, 1250000, …), so
/// the big-endian file is checked against the little-endian rendering instead.
#[test]
fn big_endian_32_bit_dose_renders_like_its_little_endian_twin() {
    let little = ours("pydicom/rtdose_1frame.dcm", "minmax");
    let big = ours("pydicom/rtdose_expb_1frame.dcm", "minmax");
    assert_eq!(little, big);
    assert_close(
        "pydicom/rtdose_1frame.dcm",
        "minmax",
        &little,
        &dcmtk("pydicom/rtdose_1frame.dcm", &["+Wm"]),
    );
}

/// `--overlays` burns the 60xx planes in as DCMTK shows them by default (without `-O`), and
/// without it the image equals DCMTK's `-O` rendering (checked above).
#[test]
fn overlays_burn_in_like_dcmtk() {
    let file = "pydicom/examples_overlay.dcm";
    let with = ours_with(file, "header", &["--overlays"]);
    assert_close(
        file,
        "header --overlays",
        &with,
        &dcmtk_with(file, &["+Wi", "1"]),
    );
    assert_ne!(with, ours(file, "header"), "the overlay changes pixels");
}

/// Issue 14: 12-bit JPEG Extended (1.2.840.10008.1.2.4.51) decodes through libjpeg-turbo and
/// renders within 1 grey level of DCMTK everywhere. Neither file has a header window, so the
/// min-max window and two fixed windows stand in for it.
#[test]
fn twelve_bit_jpeg_extended_matches_dcmtk() {
    for file in ["pydicom/JPEG-lossy.dcm", "pydicom/JPGExtended.dcm"] {
        let windows: [(&str, &[&str]); 3] = [
            ("minmax", &["+Wm"]),
            ("2000,4000", &["+Ww", "2000", "4000"]),
            ("600,1200", &["+Ww", "600", "1200"]),
        ];
        for (window, voi) in windows {
            let (ours, reference) = (ours(file, window), dcmtk(file, voi));
            assert_eq!((ours.0, ours.1, ours.2), (256, 1024, 1), "{file}");
            assert_eq!(
                (reference.0, reference.1, reference.2),
                (256, 1024, 1),
                "{file}"
            );
            let worst = ours.3.iter().zip(&reference.3).map(|(a, b)| a.abs_diff(*b));
            assert!(worst.max() <= Some(1), "{file} --window {window}");
        }
    }
}

/// Issue 14: files whose dataset is in the other VR mode than their file meta declares render
/// like DCMTK reading them with `-td` (VR mode detected from the data set), header window 1,
/// within 1 grey level on every pixel.
#[test]
fn vr_mode_mismatch_renders_like_dcmtk_detecting_it() {
    for file in [
        "vr_mismatch/implicit_under_explicit_meta.dcm",
        "vr_mismatch/explicit_under_implicit_meta.dcm",
    ] {
        let ours = ours(file, "header");
        let reference = dcmtk_with(file, &["-td", "-O", "+Wi", "1"]);
        assert_eq!((ours.0, ours.1, ours.2), (64, 64, 1), "{file}");
        assert_eq!(
            (reference.0, reference.1, reference.2),
            (64, 64, 1),
            "{file}"
        );
        let worst = ours.3.iter().zip(&reference.3).map(|(a, b)| a.abs_diff(*b));
        assert!(worst.max() <= Some(1), "{file}");
    }
}

/// SC_rgb_jpeg.dcm declares JPEG Baseline and writes its dataset in implicit VR. DCMTK cannot
/// read it either way (with `-td` it loses the encapsulation), so the oracle is its JPEG
/// codestream (RGB, Adobe marker without colour transform) decoded by ImageMagick.
#[test]
fn implicit_dataset_under_jpeg_baseline_renders_its_codestream() {
    let file = "pydicom/SC_rgb_jpeg.dcm";
    let ours = ours(file, "header");
    assert_eq!((ours.0, ours.1, ours.2), (256, 256, 3));
    let bytes = std::fs::read(data(file)).unwrap();
    let start = bytes
        .windows(3)
        .position(|w| w == [0xFF, 0xD8, 0xFF])
        .unwrap();
    let end = bytes.windows(2).rposition(|w| w == [0xFF, 0xD9]).unwrap() + 2;
    let dir = tempfile::tempdir().unwrap();
    let jpeg = dir.path().join("frame.jpg");
    std::fs::write(&jpeg, &bytes[start..end]).unwrap();
    let magick = Command::new("convert")
        .arg(&jpeg)
        .args(["-depth", "8", "rgb:-"])
        .output()
        .expect("ImageMagick's convert (scripts/setup.sh installs it)");
    assert!(magick.status.success());
    assert_eq!(magick.stdout.len(), ours.3.len());
    let worst = ours
        .3
        .iter()
        .zip(&magick.stdout)
        .map(|(a, b)| a.abs_diff(*b));
    assert!(worst.max() <= Some(2));
}

/// Issue 14: pydicom's zipMR.gz (gzip-compressed MR_small.dcm) converts, and renders like DCMTK
/// on the inflated file (header window 1), within 1 grey level on every pixel; the gzip bomb
/// fails with the bound as its reason, when scanned and when decoded.
#[test]
fn gzip_compressed_dicom_renders_like_dcmtk_on_the_inflated_file() {
    let ours = ours("pydicom/zipMR.gz", "header");
    let reference = dcmtk("pydicom/MR_small.dcm", &["+Wi", "1"]);
    assert_eq!((ours.0, ours.1, ours.2), (64, 64, 1));
    assert_eq!(
        (ours.0, ours.1, ours.2),
        (reference.0, reference.1, reference.2)
    );
    let worst = ours.3.iter().zip(&reference.3).map(|(a, b)| a.abs_diff(*b));
    assert!(worst.max() <= Some(1));

    let bomb = std::fs::read(data("gzip/inflates_past_bound.dcm")).unwrap();
    let started = std::time::Instant::now();
    let err = dicomprep::render::decode::DicomImage::from_bytes(&bomb)
        .err()
        .expect("the bomb must not decode");
    assert!(err.to_string().contains("inflates beyond 64 MiB"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
