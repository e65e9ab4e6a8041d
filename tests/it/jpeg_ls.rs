//! dicomprep's JPEG-LS decoder against DCMTK's (`dcmdjpls`, built on CharLS), sample for
//! sample, on every JPEG-LS file of the test data: lossless and near-lossless, 8 and 16 bits,
//! grey and RGB, line- and sample-interleaved, single- and multi-frame.

use std::path::Path;
use std::process::Command;

use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, open_file};

use crate::util::data;

const FILES: &[&str] = &[
    "pydicom/JPEGLSNearLossless_08.dcm",
    "pydicom/JPEGLSNearLossless_16.dcm",
    "pydicom/SC_rgb_jls_lossy_sample.dcm",
    "pydicom/SC_rgb_jls_lossy_line.dcm",
    "pydicom/MR_small_jpeg_ls_lossless.dcm",
    "slides/highdicom/sm_image_jpegls.dcm",
    "dicom2nifti/generic/compressed_jpegls/001/IM-0001-0002-0001.dcm",
    "dcm_qa_ts/In/7.dcm",
    "dcm_qa_ts/In/8.dcm",
];

fn uint(object: &DefaultDicomObject, tag: dicom_core::Tag) -> usize {
    object.element(tag).unwrap().to_int::<usize>().unwrap()
}

/// DCMTK's decompression of `file`: its native pixel data, interleaved.
fn dcmtk_native(file: &Path) -> (DefaultDicomObject, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("native.dcm");
    let status = Command::new("dcmdjpls")
        .arg(file)
        .arg(&out)
        .status()
        .expect("dcmdjpls runnable: run scripts/setup.sh --test, which installs dcmtk");
    assert!(status.success(), "dcmdjpls {}", file.display());
    let native = open_file(&out).unwrap();
    let mut bytes = native
        .element(tags::PIXEL_DATA)
        .unwrap()
        .to_bytes()
        .unwrap()
        .into_owned();
    let planar = native
        .element_opt(tags::PLANAR_CONFIGURATION)
        .unwrap()
        .map_or(0, |e| e.to_int::<u8>().unwrap());
    let samples = uint(&native, tags::SAMPLES_PER_PIXEL);
    if planar == 1 && samples > 1 {
        let frame = uint(&native, tags::ROWS) * uint(&native, tags::COLUMNS);
        let size = uint(&native, tags::BITS_ALLOCATED) / 8;
        let planes = bytes.clone();
        for (i, chunk) in bytes.chunks_mut(size).enumerate() {
            let (f, within) = (i / (frame * samples), i % (frame * samples));
            let (pixel, c) = (within / samples, within % samples);
            let from = f * frame * samples + c * frame + pixel;
            chunk.copy_from_slice(&planes[from * size..(from + 1) * size]);
        }
    }
    (native, bytes)
}

/// Fails unless every frame of the JPEG-LS file `path` decodes to DCMTK's samples.
fn assert_decodes_as_dcmtk(path: &Path) {
    let name = path.display();
    let (native, expected) = dcmtk_native(path);
    let object = open_file(path).unwrap();
    let pixel_data = object.element(tags::PIXEL_DATA).unwrap();
    let fragments = pixel_data.value().fragments().unwrap();
    let size = uint(&native, tags::BITS_ALLOCATED) / 8;
    let mut ours = Vec::new();
    for fragment in fragments {
        let decoded =
            dicomprep::render::jpeg_ls::decode(fragment).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            (decoded.width, decoded.height, decoded.components),
            (
                uint(&native, tags::COLUMNS),
                uint(&native, tags::ROWS),
                uint(&native, tags::SAMPLES_PER_PIXEL)
            ),
            "{name}: geometry"
        );
        for v in decoded.samples {
            ours.extend_from_slice(&v.to_le_bytes()[..size]);
        }
    }
    assert_eq!(ours.len(), expected.len(), "{name}: sample count");
    let differ = ours.iter().zip(&expected).filter(|(a, b)| a != b).count();
    assert_eq!(differ, 0, "{name}: {differ} bytes differ from DCMTK's");
}

#[test]
fn jpeg_ls_frames_decode_to_dcmtks_samples() {
    for file in FILES {
        assert_decodes_as_dcmtk(&data(file));
    }
}

/// What the files above lack, made with DCMTK's encoder (`dcmcjpls`) from native files: each
/// interleave mode of an RGB image (uninterleaved: one scan per component), preset coding
/// parameters (an LSE segment), and near-lossless 16-bit data.
#[test]
fn dcmtk_encoded_variants_decode_to_dcmtks_samples() {
    let dir = tempfile::tempdir().unwrap();
    // dcm_qa_ts/In/1.dcm: 12 bits in 16, unsigned (DCMTK codes signed data lossless only).
    let cases: &[(&str, &[&str])] = &[
        ("pydicom/examples_rgb_color.dcm", &["+in"]),
        ("pydicom/examples_rgb_color.dcm", &["+is"]),
        (
            "pydicom/examples_rgb_color.dcm",
            &["+il", "+en", "+md", "3"],
        ),
        (
            "pydicom/examples_rgb_color.dcm",
            &["+in", "+en", "+md", "1"],
        ),
        (
            "dcm_qa_ts/In/1.dcm",
            &[
                "+en", "+md", "2", "+t1", "9", "+t2", "40", "+t3", "200", "+rs", "40",
            ],
        ),
        ("dcm_qa_ts/In/1.dcm", &["+en", "+md", "5"]),
        ("pydicom/CT_small.dcm", &[]),
    ];

    for (i, (file, options)) in cases.iter().enumerate() {
        let encoded = dir.path().join(format!("{i}.dcm"));
        let status = Command::new("dcmcjpls")
            .args(*options)
            .arg(data(file))
            .arg(&encoded)
            .status()
            .expect("dcmcjpls runnable: run scripts/setup.sh --test, which installs dcmtk");
        assert!(status.success(), "dcmcjpls {options:?} {file}");
        assert_decodes_as_dcmtk(&encoded);
    }
}

#[test]
fn corrupt_jpeg_ls_gives_an_error_not_a_panic() {
    let object = open_file(data("pydicom/MR_small_jpeg_ls_lossless.dcm")).unwrap();
    let pixel_data = object.element(tags::PIXEL_DATA).unwrap();
    let stream = pixel_data.value().fragments().unwrap()[0].clone();
    // Cut short, and with bytes of the scan overwritten, at many places.
    for cut in (0..stream.len()).step_by(97) {
        let _ = dicomprep::render::jpeg_ls::decode(&stream[..cut]);
        let mut damaged = stream.clone();
        for b in damaged.iter_mut().skip(cut).step_by(13).take(8) {
            *b ^= 0x5A;
        }
        let _ = dicomprep::render::jpeg_ls::decode(&damaged);
    }
    assert!(dicomprep::render::jpeg_ls::decode(&stream[..stream.len() / 2]).is_err());
}
