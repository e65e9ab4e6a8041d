//! Baseline JPEG with the libjpeg(-turbo) settings ImageMagick uses (LQ frames, thumbnails).

use std::panic::{AssertUnwindSafe, catch_unwind};

use mozjpeg::{ColorSpace, Compress, qtable};

use crate::encode::png::{EncodeError, check_layout};
use crate::render::image::{Channels, Image8};

/// Huffman tables of a JPEG: same pixels either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Huffman {
    /// Optimal tables from a first pass over the coefficients, as ImageMagick writes them:
    /// 5-9% smaller files for about twice the encoding time.
    Optimized,
    /// The standard tables of JPEG Annex K: one pass, for files made in bulk (LQ frames).
    Standard,
}

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
///   tables scaled by `5000/q` (q < 50) or `200 - 2q` percent, as IM does. IM passes
///   `force_baseline = TRUE`, which clamps entries to 255; that only matters below quality
///   24, where we set the same clamped tables explicitly (a baseline SOF0 file, like IM's,
///   instead of libjpeg's 16-bit-table SOF1).
/// - `set_optimize_coding(true)`: IM computes optimal Huffman tables whenever memory allows.
///   Lossless (same pixels); measured with `benches/encode.rs` at q50: a 512x512 CT head
///   11.2 KB in 0.54 ms instead of 12.3 KB in 0.28 ms, a 640x480 RGB 36.6 KB in 1.5 ms
///   instead of 37.7 KB in 0.63 ms, their thumbnails 6% and 5% smaller for +0.08 and +0.24 ms.
///   We keep it, as IM does: these files are downloaded far more often than they are made,
///   and with it our sizes are within 0.5% of `mogrify`'s.
///
/// One difference remains, the forward DCT. We use libjpeg's default, the accurate integer
/// `JDCT_ISLOW`: the mozjpeg crate has no setter for the compressor's `dct_method`. IM's
/// source sets `JDCT_FLOAT`, but ImageMagick 6.9.11-60 (Debian 12) measurably writes files
/// byte-identical to `-define jpeg:dct-method=ifast` for quality <= 90 and to `islow` above.
/// The less accurate `JDCT_IFAST` moves some coefficients across a quantisation step: on the
/// unresized 64x64 MR fixture our JPEG is 44 dB from `mogrify`'s, while against
/// `convert -quality 50 -define jpeg:dct-method=islow` the decoded pixels of every fixture
/// are identical (`tests/it/thumbnail.rs`), so everything else matches libjpeg-turbo as IM
/// drives it.
///
/// mozjpeg reports libjpeg errors (e.g. a side above 65500 pixels) by unwinding through the C
/// code with `resume_unwind` (no panic message is printed); any unwind is caught here and
/// returned as an [`EncodeError`] carrying libjpeg's message.
pub fn encode_jpeg(image: &Image8, quality: u8, huffman: Huffman) -> Result<Vec<u8>, EncodeError> {
    check_layout(image, "JPEG")?;
    let quality = quality.clamp(1, 100);
    unwound(|| compress(image, quality, huffman))
}

/// From this quality up, libjpeg's scaled Annex K tables fit in 8 bits (largest entry 121,
/// `121 * (5000 / 23) / 100 > 255`), so `set_quality` alone gives a baseline JPEG.
const BASELINE_QUALITY: u8 = 24;

/// The "quality" to give [`qtable::QTable::scaled`] so that it multiplies by libjpeg's
/// `jpeg_quality_scaling(quality) / 100` (`scale_factor = 5000 / quality`, integer division,
/// for quality < 50) and rounds like libjpeg's `(entry * scale_factor + 50) / 100`.
///
/// `scaled` multiplies by `50 / x` in f32 and rounds, so x = 5000 / scale_factor, nudged by
/// 0.001 on the scale factor: exact halves (e.g. 10 * 555 / 100 = 55.5 at quality 9) must
/// round up as in libjpeg, and f32 would otherwise land just below some of them. The nudge
/// adds at most 121 * 0.00001 = 0.0012 to an entry whose fraction is a multiple of 0.01, so
/// nothing else moves. The unit test `tables_are_libjpegs_at_every_quality` checks them all.
fn baseline_scale(quality: u8) -> f32 {
    debug_assert!(quality > 0 && quality < 50);
    (5000.0 / (f64::from(5000 / u32::from(quality)) + 0.001)) as f32
}

/// The libjpeg calls; may panic (see [`encode_jpeg`]).
fn compress(image: &Image8, quality: u8, huffman: Huffman) -> std::io::Result<Vec<u8>> {
    let comp = configured(
        (image.width, image.height),
        image.channels,
        quality,
        huffman,
    );
    // At quality 50 a thumbnail is about 1/20 of its raw size; start with room for 1/8.
    let capacity = image.data.len() / 8 + 1024;
    let mut started = comp.start_compress(Vec::with_capacity(capacity))?;
    started.write_scanlines(&image.data)?;
    started.finish()
}

/// A compressor set up as [`encode_jpeg`] sets it up.
fn configured(
    (width, height): (u32, u32),
    channels: Channels,
    quality: u8,
    huffman: Huffman,
) -> Compress {
    let color_space = match channels {
        Channels::Gray => ColorSpace::JCS_GRAYSCALE,
        Channels::Rgb => ColorSpace::JCS_RGB,
    };
    let mut comp = Compress::new(color_space);
    comp.set_fastest_defaults();
    comp.set_size(width as usize, height as usize);
    comp.set_quality(f32::from(quality));
    if quality < BASELINE_QUALITY {
        // jpeg_set_quality(q, FALSE) left entries above 255 (16-bit tables, SOF1); IM clamps
        // them to 255 (force_baseline = TRUE). The crate exposes force_baseline only through
        // custom tables: Annex K scaled by scale_factor / 100 (see `baseline_scale`), which
        // `jpeg_add_quant_table(.., 100, TRUE)` then clamps.
        let scale = baseline_scale(quality);
        comp.set_luma_qtable(&qtable::AnnexK_Luma.scaled(scale, scale));
        comp.set_chroma_qtable(&qtable::AnnexK_Chroma.scaled(scale, scale));
    }
    comp.set_optimize_coding(huffman == Huffman::Optimized);
    if channels == Channels::Rgb {
        // jpeg_set_defaults already selects YCbCr 2x2,1x1,1x1 (4:2:0); IM switches to 1x1
        // for every component at quality >= 90.
        if quality >= 90 {
            comp.set_chroma_sampling_pixel_sizes((1, 1), (1, 1));
        } else {
            comp.set_chroma_sampling_pixel_sizes((2, 2), (2, 2));
        }
    }
    comp
}

/// A JPEG written a band of rows at a time, the bytes [`encode_jpeg`] makes of the whole
/// image: a picture too large to hold whole (a whole slide) is never held.
pub struct JpegRows {
    started: mozjpeg::compress::CompressStarted<Vec<u8>>,
    channels: Channels,
    width: u32,
}

impl JpegRows {
    pub fn new(
        (width, height): (u32, u32),
        channels: Channels,
        quality: u8,
        huffman: Huffman,
    ) -> Result<JpegRows, EncodeError> {
        let quality = quality.clamp(1, 100);
        let started = unwound(|| {
            configured((width, height), channels, quality, huffman).start_compress(Vec::new())
        })?;
        Ok(JpegRows {
            started,
            channels,
            width,
        })
    }

    /// The next rows, top to bottom.
    pub fn push(&mut self, band: &Image8) -> Result<(), EncodeError> {
        if band.channels != self.channels || band.width != self.width {
            return Err(EncodeError("JPEG: a band of another width or kind".into()));
        }
        let started = &mut self.started;
        unwound(|| started.write_scanlines(&band.data))
    }

    pub fn finish(self) -> Result<Vec<u8>, EncodeError> {
        let started = self.started;
        unwound(|| started.finish())
    }
}

/// Runs libjpeg calls, turning an error or an unwind (see [`encode_jpeg`]) into an error.
fn unwound<T>(f: impl FnOnce() -> std::io::Result<T>) -> Result<T, EncodeError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Ok(value),
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
        Image8::gradient(width, height, channels, (2, 1, 60))
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
    fn rows_written_in_bands_make_the_bytes_of_the_whole_image() {
        let whole = image(40, 33, Channels::Rgb);
        let mut rows = JpegRows::new((40, 33), Channels::Rgb, 75, Huffman::Standard).unwrap();
        for band in [0..10u32, 10..11, 11..33] {
            rows.push(&whole.cropped(0, band.start, 40, band.len() as u32).unwrap())
                .unwrap();
        }
        let banded = rows.finish().unwrap();
        assert_eq!(banded, encode_jpeg(&whole, 75, Huffman::Standard).unwrap());
    }

    #[test]
    fn grey_is_one_component_baseline_with_scaled_annex_k_table() {
        let bytes = encode_jpeg(&image(40, 24, Channels::Gray), 50, Huffman::Optimized).unwrap();
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
            let bytes =
                encode_jpeg(&image(33, 17, Channels::Rgb), quality, Huffman::Optimized).unwrap();
            let (w, h, components, _) = decode(&bytes);
            assert_eq!((w, h, components), (33, 17, 3));
            let segments = markers(&bytes);
            let sof = &segments.iter().find(|(m, _)| *m == 0xC0).expect("SOF0").1;
            // Component specs start at byte 6: id, sampling (h<<4|v), table.
            assert_eq!(sof[7], luma_sampling, "quality {quality}");
            assert_eq!((sof[10], sof[13]), (0x11, 0x11));
        }
    }

    /// Natural (row-major) index of the n-th zigzag coefficient, as DQT stores them.
    const ZIGZAG: [usize; 64] = [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27,
        20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
        58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
    ];
    const ANNEX_K_LUMA: [u32; 64] = [
        16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69,
        56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81,
        104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
    ];
    const ANNEX_K_CHROMA: [u32; 64] = [
        17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99,
        99, 47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
        99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    ];

    /// libjpeg's `jpeg_set_quality(quality, force_baseline = TRUE)` table, in zigzag order.
    fn libjpeg_table(basic: &[u32; 64], quality: u32) -> Vec<u8> {
        let scale = if quality < 50 {
            5000 / quality
        } else {
            200 - quality * 2
        };
        ZIGZAG
            .iter()
            .map(|&i| ((basic[i] * scale + 50) / 100).clamp(1, 255) as u8)
            .collect()
    }

    #[test]
    fn tables_are_libjpegs_at_every_quality() {
        for quality in 1..=100u8 {
            let bytes =
                encode_jpeg(&image(16, 16, Channels::Rgb), quality, Huffman::Optimized).unwrap();
            let segments = markers(&bytes);
            assert!(
                segments.iter().any(|(m, _)| *m == 0xC0),
                "quality {quality}: not baseline"
            );
            // One DQT segment per table: precision/id byte, then 64 bytes.
            let dqt: Vec<&Vec<u8>> = segments
                .iter()
                .filter(|(m, _)| *m == 0xDB)
                .map(|(_, payload)| payload)
                .collect();
            assert_eq!(dqt.len(), 2, "quality {quality}");
            assert_eq!(
                (dqt[0][0], dqt[1][0]),
                (0, 1),
                "quality {quality}: 8-bit, ids 0, 1"
            );
            let q = u32::from(quality);
            assert_eq!(
                dqt[0][1..],
                libjpeg_table(&ANNEX_K_LUMA, q),
                "luma, quality {q}"
            );
            assert_eq!(
                dqt[1][1..],
                libjpeg_table(&ANNEX_K_CHROMA, q),
                "chroma, quality {q}"
            );
        }
    }

    #[test]
    fn errors_are_returned_not_panicked() {
        let mut bad = image(8, 8, Channels::Rgb);
        bad.data.truncate(10);
        let err = encode_jpeg(&bad, 50, Huffman::Optimized).unwrap_err();
        assert!(err.0.contains("needs 192 bytes, has 10"), "{err}");
        // Caught from libjpeg's error_exit (JERR_IMAGE_TOO_BIG).
        let err = encode_jpeg(
            &Image8::filled(70_000, 1, Channels::Gray, 0),
            50,
            Huffman::Optimized,
        )
        .unwrap_err();
        assert!(
            err.0.contains("libjpeg") && err.0.contains("65500"),
            "{err}"
        );
    }
}
