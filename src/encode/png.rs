//! Lossless 8-bit PNG (the HQ output and the input of thumbnails).
//!
//! Also home of [`EncodeError`], shared by both encoders.

use std::fmt;

use png::{BitDepth, ColorType, Compression, DeflateCompression, Encoder, Filter};

use crate::render::image::{Channels, Image8};

/// Why an image could not be encoded: the encoder's own message, prefixed with the format.
///
/// Encoding an [`Image8`] whose `data` has the right length only fails on internal encoder
/// errors, so callers usually report this and move on to the next image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError(pub String);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EncodeError {}

/// Checks that `image.data` holds exactly `width * height * channels` bytes and is not empty.
pub(crate) fn check_layout(image: &Image8, format: &str) -> Result<(), EncodeError> {
    let expected = image.width as usize * image.height as usize * image.channels.count();
    if image.width == 0 || image.height == 0 {
        return Err(EncodeError(format!(
            "{format}: cannot encode an empty {}x{} image",
            image.width, image.height
        )));
    }
    if image.data.len() != expected {
        return Err(EncodeError(format!(
            "{format}: {}x{} {:?} image needs {expected} bytes, has {}",
            image.width,
            image.height,
            image.channels,
            image.data.len()
        )));
    }
    Ok(())
}

/// Encodes `image` as an 8-bit greyscale or RGB PNG, losslessly, without ancillary chunks.
///
/// Compression settings, chosen by measurement (png 0.18, release, one thread; sizes and
/// times of the `test-data/thumbnails/` fixtures):
///
/// | setting | CT head 512x512 grey | MR overlay 484x300 grey | US 640x480 RGB | US 320x240 RGB |
/// |---|---|---|---|---|
/// | `Compression::Fastest` (fdeflate, Up filter) | 27.4 KB 0.12 ms | 73.1 KB 0.17 ms | 370 KB 0.99 ms | 118 KB 0.21 ms |
/// | `Compression::Fast` (fdeflate, adaptive) | **23.0 KB 0.23 ms** | **60.1 KB 0.24 ms** | 292 KB 1.0 ms | 97.0 KB 0.29 ms |
/// | zlib level 1, adaptive | 25.1 KB 0.74 ms | 63.3 KB 1.4 ms | **181 KB 3.1 ms** | **61.9 KB 0.95 ms** |
/// | zlib level 3, adaptive | 21.2 KB 1.5 ms | 62.7 KB 3.0 ms | 154 KB 8.3 ms | 55.7 KB 2.6 ms |
/// | `Compression::Balanced` (zlib 6, the default) | 20.2 KB 2.8 ms | 61.3 KB 7.3 ms | 156 KB 25 ms | 54.7 KB 7.3 ms |
///
/// - Grey: `Fast` with the Paeth filter on every row. fdeflate's PNG-tuned compressor is as
///   small as zlib at any level up to 3 (smaller on MR) for a tenth of the time; `Fastest`
///   saves 0.1 ms for 19% more bytes, `Balanced` saves 12% for 12x the time. The adaptive
///   filter choice (five filters tried per row) picks Paeth almost everywhere on these
///   images: Paeth alone was 0.1-1.3% larger and 25% faster on the fixtures (CT head 23,184
///   instead of 22,979 bytes, 0.23 instead of 0.31 ms on a loaded machine; Sub, Up and Avg
///   alone are 15-38% larger).
/// - RGB (ultrasound, secondary captures: flat backgrounds, text, colour overlays): zlib
///   level 1. fdeflate's matching is too short for these, so `Fast` files are 1.6x larger;
///   level 1 costs about 2 ms more per 640x480 frame, levels above it save little for much
///   more time.
pub fn encode_png(image: &Image8) -> Result<Vec<u8>, EncodeError> {
    check_layout(image, "PNG")?;
    // zlib-ish streams of filtered rows are typically a third to a half of the raw size.
    let mut out = Vec::with_capacity(image.data.len() / 2 + 1024);
    let mut writer = configured(&mut out, (image.width, image.height), image.channels)
        .write_header()
        .map_err(png_error)?;
    writer.write_image_data(&image.data).map_err(png_error)?;
    writer.finish().map_err(png_error)?;
    Ok(out)
}

fn png_error(e: png::EncodingError) -> EncodeError {
    EncodeError(format!("PNG: {e}"))
}

/// A PNG written a band of rows at a time, with [`encode_png`]'s settings: a picture too large
/// to hold whole (a whole slide) is never held.
pub struct PngRows {
    writer: png::StreamWriter<'static, SharedBytes>,
    out: SharedBytes,
}

/// The file's bytes, shared between the stream that writes them and [`PngRows::finish`].
#[derive(Clone, Default)]
struct SharedBytes(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl std::io::Write for SharedBytes {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl PngRows {
    pub fn new((width, height): (u32, u32), channels: Channels) -> Result<PngRows, EncodeError> {
        let out = SharedBytes::default();
        let writer = configured(out.clone(), (width, height), channels)
            .write_header()
            .map_err(png_error)?
            .into_stream_writer()
            .map_err(png_error)?;
        Ok(PngRows { writer, out })
    }

    /// The next rows, top to bottom.
    pub fn push(&mut self, band: &Image8) -> Result<(), EncodeError> {
        use std::io::Write;
        self.writer
            .write_all(&band.data)
            .map_err(|e| EncodeError(format!("PNG: {e}")))
    }

    /// The file (every row must have been pushed).
    pub fn finish(self) -> Result<Vec<u8>, EncodeError> {
        self.writer.finish().map_err(png_error)?;
        Ok(self.out.0.take())
    }
}

/// An encoder of `size` with the settings of [`encode_png`] for `channels`.
fn configured<W: std::io::Write>(
    out: W,
    (width, height): (u32, u32),
    channels: Channels,
) -> Encoder<'static, W> {
    let mut encoder = Encoder::new(out, width, height);
    encoder.set_depth(BitDepth::Eight);
    match channels {
        Channels::Gray => {
            encoder.set_color(ColorType::Grayscale);
            encoder.set_compression(Compression::Fast);
            encoder.set_filter(Filter::Paeth);
        }
        Channels::Rgb => {
            encoder.set_color(ColorType::Rgb);
            encoder.set_deflate_compression(DeflateCompression::Level(1));
            encoder.set_filter(Filter::Adaptive);
        }
    }
    encoder
}

/// Decodes an 8-bit grey or RGB PNG (as [`encode_png`] writes them) back into an image.
pub fn decode_png(bytes: &[u8]) -> Result<Image8, EncodeError> {
    let error = |e: png::DecodingError| EncodeError(format!("PNG: {e}"));
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .map_err(error)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| EncodeError("PNG: image too large".into()))?;
    let mut data = vec![0; size];
    let info = reader.next_frame(&mut data).map_err(error)?;
    data.truncate(info.buffer_size());
    let channels = match (info.color_type, info.bit_depth) {
        (png::ColorType::Grayscale, png::BitDepth::Eight) => Channels::Gray,
        (png::ColorType::Rgb, png::BitDepth::Eight) => Channels::Rgb,
        other => {
            return Err(EncodeError(format!(
                "PNG: expected 8-bit grey or RGB, found {other:?}"
            )));
        }
    };
    Ok(Image8 {
        width: info.width,
        height: info.height,
        channels,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info, buf)
    }

    fn gradient(width: u32, height: u32, channels: Channels) -> Image8 {
        Image8::gradient(width, height, channels, (7, 3, 50))
    }

    #[test]
    fn grey_and_rgb_round_trip() {
        for channels in [Channels::Gray, Channels::Rgb] {
            let image = gradient(37, 19, channels);
            let (info, data) = decode(&encode_png(&image).unwrap());
            assert_eq!((info.width, info.height), (37, 19));
            assert_eq!(info.bit_depth, BitDepth::Eight);
            let expected = match channels {
                Channels::Gray => ColorType::Grayscale,
                Channels::Rgb => ColorType::Rgb,
            };
            assert_eq!(info.color_type, expected);
            assert_eq!(data, image.data);
        }
    }

    #[test]
    fn rows_written_in_bands_decode_to_the_whole_image() {
        let whole = gradient(30, 21, Channels::Rgb);
        let mut rows = PngRows::new((30, 21), Channels::Rgb).unwrap();
        for band in [0..7u32, 7..21] {
            rows.push(&whole.cropped(0, band.start, 30, band.len() as u32).unwrap())
                .unwrap();
        }
        let out = rows.finish().unwrap();
        assert_eq!(decode(&out).1, whole.data);
    }

    #[test]
    fn rejects_bad_layout() {
        let mut image = Image8::filled(4, 4, Channels::Rgb, 9);
        image.data.pop();
        let err = encode_png(&image).unwrap_err();
        assert!(err.0.contains("needs 48 bytes, has 47"), "{err}");
        assert!(encode_png(&Image8::filled(0, 3, Channels::Gray, 0)).is_err());
    }
}
