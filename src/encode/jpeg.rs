//! Baseline JPEG with the libjpeg(-turbo) settings ImageMagick uses (LQ frames, thumbnails).

use std::panic::{AssertUnwindSafe, catch_unwind};

use mozjpeg::{ColorSpace, Compress};

use crate::encode::png::{EncodeError, check_layout};
use crate::render::image::{Channels, Image8};

/// Encodes `image` as a baseline JPEG at `quality` (clamped to 1..=100).
///
/// Grey becomes a 1-component JPEG; RGB becomes YCbCr with 4:2:0 chroma below quality 90 and
/// 4:4:4 from 90 up (what ImageMagick's `-quality` does when no `-sampling-factor` is given).
///
/// The settings reproduce what ImageMagick 6/7 asks of libjpeg-turbo in `WriteJPEGImage`,
/// so our files match `convert x.png -quality Q x.jpg`:
///
/// - `set_fastest_defaults()` switches mozjpeg from its own `JCP_MAX_COMPRESSION` profile
///   (what `Compress::new` selects: progressive scans, trellis quantisation, deringing and
///   the "ImageMagick" quantisation tables of index 3) back to plain libjpeg v6 behaviour:
///   baseline sequential, no trellis, and the standard IJG (JPEG Annex K) tables. It must come
///   **before** `set_quality`, since it re-runs `jpeg_set_defaults`, which resets quality to 75.
/// - `set_quality(q)` is libjpeg's `jpeg_set_quality(q, force_baseline = FALSE)`: Annex K
///   tables scaled by `5000/q` (q < 50) or `200 - 2q` percent, as IM does (IM forces baseline
///   too, which only clamps entries above 255, i.e. matters below quality 25 or so).
/// - `set_optimize_coding(true)`: IM computes optimal Huffman tables whenever memory allows.
///   Lossless, about 10% smaller files for about 20% more time (see `benches/encode.rs`).
///
/// One difference remains: IM uses `JDCT_FLOAT` and the mozjpeg crate offers no setter for the
/// compressor's `dct_method`, so we use libjpeg's default `JDCT_ISLOW`. Both are accurate
/// DCTs; the decoded pixels differ by at most a level here and there.
///
/// mozjpeg reports libjpeg errors (e.g. a side above 65500 pixels) by unwinding through the C
/// code with `resume_unwind` (no panic message is printed); any unwind is caught here and
/// returned as an [`EncodeError`] carrying libjpeg's message.
pub fn encode_jpeg(image: &Image8, quality: u8) -> Result<Vec<u8>, EncodeError> {
    check_layout(image, "JPEG")?;
    let quality = quality.clamp(1, 100);
    let result = catch_unwind(AssertUnwindSafe(|| compress(image, quality)));
    match result {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(EncodeError(format!("JPEG: {e}"))),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("libjpeg error");
            Err(EncodeError(format!("JPEG: {message}")))
        }
    }
}

/// The libjpeg calls; may panic (see [`encode_jpeg`]).
fn compress(image: &Image8, quality: u8) -> std::io::Result<Vec<u8>> {
    let color_space = match image.channels {
        Channels::Gray => ColorSpace::JCS_GRAYSCALE,
        Channels::Rgb => ColorSpace::JCS_RGB,
    };
    let mut comp = Compress::new(color_space);
    comp.set_fastest_defaults();
    comp.set_size(image.width as usize, image.height as usize);
    comp.set_quality(f32::from(quality));
    comp.set_optimize_coding(true);
    if image.channels == Channels::Rgb {
        // jpeg_set_defaults already selects YCbCr 2x2,1x1,1x1 (4:2:0); IM switches to 1x1
        // for every component at quality >= 90.
        if quality >= 90 {
            comp.set_chroma_sampling_pixel_sizes((1, 1), (1, 1));
        } else {
            comp.set_chroma_sampling_pixel_sizes((2, 2), (2, 2));
        }
    }
    // At quality 50 a thumbnail is about 1/20 of its raw size; start with room for 1/8.
    let capacity = image.data.len() / 8 + 1024;
    let mut started = comp.start_compress(Vec::with_capacity(capacity))?;
    started.write_scanlines(&image.data)?;
    started.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> (usize, usize, usize, Vec<u8>) {
        let d = mozjpeg::Decompress::new_mem(bytes).unwrap();
        let components = d.components().len();
        let (w, h) = d.size();
        let mut started = d.image().unwrap();
        let data = match &mut started {
            mozjpeg::Format::Gray(s) | mozjpeg::Format::RGB(s) => s.read_scanlines::<u8>().unwrap(),
            mozjpeg::Format::CMYK(_) => panic!("CMYK"),
        };
        (w, h, components, data)
    }

    fn image(width: u32, height: u32, channels: Channels) -> Image8 {
        let n = channels.count();
        let mut image = Image8::filled(width, height, channels, 0);
        for (i, v) in image.data.iter_mut().enumerate() {
            let (pixel, c) = (i / n, i % n);
            let (x, y) = (pixel as u32 % width, pixel as u32 / width);
            *v = (x * 2 + y + c as u32 * 60) as u8;
        }
        image
    }

    /// Marker segment lengths by marker code, in file order.
    fn markers(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        let mut i = 2;
        while i + 4 <= bytes.len() && bytes[i] == 0xFF {
            let marker = bytes[i + 1];
            let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
            out.push((marker, bytes[i + 4..i + 2 + len].to_vec()));
            if marker == 0xDA {
                break;
            }
            i += 2 + len;
        }
        out
    }

    #[test]
    fn grey_is_one_component_baseline_with_scaled_annex_k_table() {
        let bytes = encode_jpeg(&image(40, 24, Channels::Gray), 50).unwrap();
        let (w, h, components, data) = decode(&bytes);
        assert_eq!((w, h, components, data.len()), (40, 24, 1, 40 * 24));
        let segments = markers(&bytes);
        // SOF0 = baseline sequential; no SOF2 (progressive).
        let sof = &segments.iter().find(|(m, _)| *m == 0xC0).expect("SOF0").1;
        assert_eq!(sof[5], 1, "one component");
        // DQT table 0 at quality 50 is Annex K unscaled: 16, 11, 12, 14 in zigzag order.
        let dqt = &segments.iter().find(|(m, _)| *m == 0xDB).expect("DQT").1;
        assert_eq!(&dqt[..5], &[0, 16, 11, 12, 14]);
    }

    #[test]
    fn rgb_is_ycbcr_420_below_q90_and_444_from_q90() {
        for (quality, luma_sampling) in [(50, 0x22), (85, 0x22), (90, 0x11)] {
            let bytes = encode_jpeg(&image(33, 17, Channels::Rgb), quality).unwrap();
            let (w, h, components, _) = decode(&bytes);
            assert_eq!((w, h, components), (33, 17, 3));
            let segments = markers(&bytes);
            let sof = &segments.iter().find(|(m, _)| *m == 0xC0).expect("SOF0").1;
            // Component specs start at byte 6: id, sampling (h<<4|v), table.
            assert_eq!(sof[7], luma_sampling, "quality {quality}");
            assert_eq!((sof[10], sof[13]), (0x11, 0x11));
        }
    }

    #[test]
    fn quality_scales_the_table_like_libjpeg() {
        // q = 25 -> scale 200%; q = 75 -> 50%; first luma entry 16.
        for (quality, first) in [(25, 32), (75, 8), (100, 1)] {
            let bytes = encode_jpeg(&image(8, 8, Channels::Gray), quality).unwrap();
            let dqt = markers(&bytes)
                .into_iter()
                .find(|(m, _)| *m == 0xDB)
                .unwrap()
                .1;
            assert_eq!(dqt[1], first, "quality {quality}");
        }
    }

    #[test]
    fn errors_are_returned_not_panicked() {
        let mut bad = image(8, 8, Channels::Rgb);
        bad.data.truncate(10);
        let err = encode_jpeg(&bad, 50).unwrap_err();
        assert!(err.0.contains("needs 192 bytes, has 10"), "{err}");
        // Caught from libjpeg's error_exit (JERR_IMAGE_TOO_BIG).
        let err = encode_jpeg(&Image8::filled(70_000, 1, Channels::Gray, 0), 50).unwrap_err();
        assert!(
            err.0.contains("libjpeg") && err.0.contains("65500"),
            "{err}"
        );
    }
}
