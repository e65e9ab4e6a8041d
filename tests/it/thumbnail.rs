//! Thumbnails against the real ImageMagick: for every 8-bit PNG under
//! `test-data/thumbnails/` (rendered from real DICOM files with DCMTK, see its README.md), our
//! `encode_thumbnail` must give what `mogrify -resize "356x200>" -format jpg -quality 50` gives
//! for the PNG our `encode_png` writes: the same size, the same number of components, the same
//! quantisation tables and sampling factors, and pixels within PSNR 35 dB.
//!
//! ImageMagick is required (the test fails without it); CI installs it.

use std::path::{Path, PathBuf};
use std::process::Command;

use dicomprep::encode::jpeg::{Huffman, encode_jpeg};
use dicomprep::encode::png::encode_png;
use dicomprep::encode::thumbnail::encode_thumbnail;
use dicomprep::render::thumbnail::{make_thumbnail, thumbnail_size};
use dicomprep::render::{Channels, Image8};

use crate::util::data;

/// The fixture PNGs, sorted by name.
fn fixtures() -> Vec<PathBuf> {
    let dir = data("thumbnails");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "png"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 8,
        "expected at least 8 fixtures in {}",
        dir.display()
    );
    paths
}

/// Decodes any PNG to 8-bit grey or RGB: palettes and low bit depths are expanded, 16-bit is
/// stripped to 8, and an alpha channel is dropped.
fn decode_png(bytes: &[u8]) -> Image8 {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("PNG size")];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    buf.truncate(info.buffer_size());
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let (channels, data) = match info.color_type {
        png::ColorType::Grayscale => (Channels::Gray, buf),
        png::ColorType::Rgb => (Channels::Rgb, buf),
        png::ColorType::GrayscaleAlpha => {
            (Channels::Gray, buf.iter().step_by(2).copied().collect())
        }
        png::ColorType::Rgba => (
            Channels::Rgb,
            buf.chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect(),
        ),
        png::ColorType::Indexed => unreachable!("EXPAND turns palettes into RGB"),
    };
    Image8 {
        width: info.width,
        height: info.height,
        channels,
        data,
    }
}

/// A decoded JPEG: size, number of components in the file, interleaved samples.
struct Jpeg {
    width: usize,
    height: usize,
    components: usize,
    data: Vec<u8>,
}

fn decode_jpeg(bytes: &[u8]) -> Jpeg {
    let decompress = mozjpeg::Decompress::new_mem(bytes).expect("JPEG header");
    let (width, height) = decompress.size();
    let components = decompress.components().len();
    let data = match decompress.image().expect("JPEG start") {
        mozjpeg::Format::Gray(mut s) | mozjpeg::Format::RGB(mut s) => {
            let data = s.read_scanlines::<u8>().expect("JPEG data");
            s.finish().expect("JPEG end");
            data
        }
        mozjpeg::Format::CMYK(_) => panic!("unexpected CMYK JPEG"),
    };
    Jpeg {
        width,
        height,
        components,
        data,
    }
}

/// The payloads of the DQT segments and the component specs of the SOF0 segment.
fn tables(jpeg: &[u8]) -> (Vec<Vec<u8>>, Vec<u8>) {
    let (mut dqt, mut sof) = (Vec::new(), Vec::new());
    let mut i = 2;
    while i + 4 <= jpeg.len() && jpeg[i] == 0xFF {
        let marker = jpeg[i + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        let payload = &jpeg[i + 4..i + 2 + len];
        match marker {
            0xDB => dqt.push(payload.to_vec()),
            0xC0 => sof = payload[6..].to_vec(),
            0xC1..=0xCF if marker != 0xC4 && marker != 0xC8 && marker != 0xCC => {
                panic!("not a baseline JPEG: SOF marker {marker:#04x}")
            }
            0xDA => break,
            _ => {}
        }
        i += 2 + len;
    }
    (dqt, sof)
}

/// Peak signal-to-noise ratio in dB over all samples (infinite when identical).
fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let sum: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    let mse = sum / a.len() as f64;
    10.0 * (255.0 * 255.0 / mse).log10()
}

/// Runs an ImageMagick tool, failing the test with a clear message when it is missing.
/// Returns what it printed on stdout and stderr.
fn imagemagick(tool: &str, args: &[&str], dir: &Path) -> String {
    let output = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{tool}` ({e}): install imagemagick (scripts/setup.sh does)")
        });
    assert!(
        output.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    text
}

#[test]
fn thumbnails_match_imagemagick_mogrify() {
    let tmp = tempfile::tempdir().unwrap();
    let mut report = Vec::new();
    for path in fixtures() {
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let image = decode_png(&std::fs::read(&path).unwrap());

        // ImageMagick reads the PNG we would have written, not DCMTK's.
        let png_name = format!("{name}.png");
        std::fs::write(tmp.path().join(&png_name), encode_png(&image).unwrap()).unwrap();
        imagemagick(
            "mogrify",
            &[
                "-resize", "356x200>", "-format", "jpg", "-quality", "50", &png_name,
            ],
            tmp.path(),
        );
        let theirs_bytes = std::fs::read(tmp.path().join(format!("{name}.jpg"))).unwrap();
        // The same with libjpeg's accurate integer DCT, which is what we use (see below).
        let islow_name = format!("{name}.islow.png");
        std::fs::copy(tmp.path().join(&png_name), tmp.path().join(&islow_name)).unwrap();
        imagemagick(
            "mogrify",
            &[
                "-resize",
                "356x200>",
                "-format",
                "jpg",
                "-quality",
                "50",
                "-define",
                "jpeg:dct-method=islow",
                &islow_name,
            ],
            tmp.path(),
        );
        let islow_bytes = std::fs::read(tmp.path().join(format!("{name}.islow.jpg"))).unwrap();
        let islow = decode_jpeg(&islow_bytes);
        let ours_bytes = encode_thumbnail(&image).unwrap();
        let (theirs, ours) = (decode_jpeg(&theirs_bytes), decode_jpeg(&ours_bytes));

        let size = thumbnail_size(image.width, image.height);
        assert_eq!(
            (ours.width, ours.height),
            (theirs.width, theirs.height),
            "{name}: size"
        );
        assert_eq!(
            (ours.width, ours.height),
            (size.0 as usize, size.1 as usize)
        );
        let components = image.channels.count();
        assert_eq!(ours.components, components, "{name}: our component count");
        assert_eq!(
            theirs.components, components,
            "{name}: mogrify's component count"
        );
        // Same libjpeg quality scaling and chroma subsampling.
        assert_eq!(
            tables(&ours_bytes),
            tables(&theirs_bytes),
            "{name}: DQT / SOF0"
        );

        let db = psnr(&ours.data, &theirs.data);
        assert!(
            db >= 35.0,
            "{name}: PSNR {db:.2} dB between our thumbnail and mogrify's (need >= 35)"
        );
        let db_islow = psnr(&ours.data, &islow.data);
        report.push(format!(
            "{name}: {}x{} -> {}x{}, PSNR {db:.2} dB (islow {db_islow:.2}), {} vs {} bytes (ours vs mogrify)",
            image.width,
            image.height,
            ours.width,
            ours.height,
            ours_bytes.len(),
            theirs_bytes.len()
        ));
    }
    eprintln!("{}", report.join("\n"));
}

/// The resampling alone, before JPEG: `make_thumbnail` against `convert -resize` to PNG, after
/// checking that ImageMagick picks the filter we emulate (`-define filter:verbose=1`). A wrong
/// filter or pass order shows here: Mitchell instead of Lanczos3 on the 640x480 RGB fixture
/// gives 34 dB, vertical-first instead of IM's horizontal-first 44 dB; right, 51-58 dB.
#[test]
fn resampling_matches_imagemagick_resize() {
    let tmp = tempfile::tempdir().unwrap();
    let mut report = Vec::new();
    for path in fixtures() {
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let image = decode_png(&std::fs::read(&path).unwrap());
        let png_name = format!("{name}.png");
        let out_name = format!("{name}.resized.png");
        std::fs::write(tmp.path().join(&png_name), encode_png(&image).unwrap()).unwrap();
        imagemagick(
            "convert",
            &[&png_name, "-resize", "356x200>", "-depth", "8", &out_name],
            tmp.path(),
        );
        let theirs = decode_png(&std::fs::read(tmp.path().join(&out_name)).unwrap());
        let ours = make_thumbnail(&image);

        // The filter ImageMagick picks for our PNG is the one make_thumbnail emulates.
        let verbose = imagemagick(
            "convert",
            &[
                &png_name,
                "-define",
                "filter:verbose=1",
                "-resize",
                "356x200>",
                "null:",
            ],
            tmp.path(),
        );
        let filter = verbose
            .lines()
            .find_map(|line| line.strip_prefix("# filter = "))
            .map(str::trim);
        let expected = if (ours.width, ours.height) == (image.width, image.height) {
            None // unchanged size: no resampling, nothing printed
        } else if image.channels == Channels::Gray {
            Some("Cubic") // with "# B,C = 0.333333,0.333333": Mitchell
        } else {
            Some("SincFast") // windowed by SincFast, support 3: Lanczos3
        };
        assert_eq!(filter, expected, "{name}: ImageMagick's filter\n{verbose}");
        if expected == Some("Cubic") {
            assert!(
                verbose.contains("# B,C = 0.333333,0.333333"),
                "{name}\n{verbose}"
            );
        }
        if expected == Some("SincFast") {
            assert!(
                verbose.contains("# window = SincFast") && verbose.contains("# support = 3"),
                "{name}\n{verbose}"
            );
        }

        assert_eq!(
            (ours.width, ours.height),
            (theirs.width, theirs.height),
            "{name}"
        );
        assert_eq!(ours.channels, theirs.channels, "{name}: channels");
        let db = psnr(&ours.data, &theirs.data);
        report.push((name, db));
    }
    let lines: Vec<String> = report
        .iter()
        .map(|(name, db)| format!("{name}: resampling PSNR {db:.2} dB"))
        .collect();
    eprintln!("{}", lines.join("\n"));
    assert!(
        report.iter().all(|(_, db)| *db >= 45.0),
        "resampling PSNR against convert -resize below 45 dB:\n{}",
        lines.join("\n")
    );
}

/// The JPEG encoder alone, at the fixtures' own size: `encode_jpeg(q)` against
/// `convert x.png -quality q -define jpeg:dct-method=islow x.jpg` for a low, the thumbnail, the
/// default LQ and a high quality (4:4:4 from 90). With the same DCT the two libjpeg runs must
/// agree exactly: tables, sampling factors, colour conversion, decoded pixels.
#[test]
fn jpeg_matches_imagemagick_with_the_same_dct() {
    let tmp = tempfile::tempdir().unwrap();
    for path in fixtures() {
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let image = decode_png(&std::fs::read(&path).unwrap());
        let png_name = format!("{name}.png");
        std::fs::write(tmp.path().join(&png_name), encode_png(&image).unwrap()).unwrap();
        for quality in [10u8, 50, 75, 95] {
            let jpg_name = format!("{name}.q{quality}.jpg");
            let q = quality.to_string();
            imagemagick(
                "convert",
                &[
                    &png_name,
                    "-quality",
                    &q,
                    "-define",
                    "jpeg:dct-method=islow",
                    &jpg_name,
                ],
                tmp.path(),
            );
            let theirs_bytes = std::fs::read(tmp.path().join(&jpg_name)).unwrap();
            let ours_bytes = encode_jpeg(&image, quality, Huffman::Optimized).unwrap();
            assert_eq!(
                tables(&ours_bytes),
                tables(&theirs_bytes),
                "{name} q{quality}: DQT / SOF0"
            );
            let (ours, theirs) = (decode_jpeg(&ours_bytes), decode_jpeg(&theirs_bytes));
            assert_eq!(ours.components, theirs.components, "{name} q{quality}");
            assert!(
                ours.data == theirs.data,
                "{name} q{quality}: pixels differ from ImageMagick's islow JPEG (PSNR {:.2} dB)",
                psnr(&ours.data, &theirs.data)
            );
        }
    }
}

/// `encode_png` is lossless on every fixture and keeps grey as grey.
#[test]
fn png_round_trips_fixtures() {
    for path in fixtures() {
        let image = decode_png(&std::fs::read(&path).unwrap());
        let back = decode_png(&encode_png(&image).unwrap());
        assert_eq!(back, image, "{}", path.display());
    }
}
