//! Decoding one frame of a DICOM file into stored sample values.
//!
//! Encapsulated (compressed) pixel data goes through dicom-pixeldata's codecs, one frame at a
//! time. Native pixel data is read by this module directly from the Pixel Data element, which
//! closes gaps of the crate as it comes: uncompressed YBR_FULL_422, 32-bit samples, 1-bit
//! samples, and PALETTE COLOR (applied here).

use std::borrow::Cow;
use std::ops::Range;
use std::path::Path;

use bytes::Bytes;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{DataDictionary, DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_pixeldata::{OverlayPlane, PixelDecoder};

use super::guard::catch_codec_panic;
use super::lut::{AffineLevels, LutTable, ModalityLut, Voi, VoiFunction, Window};
use super::rle;
use crate::scan::reader::{Input, check_elements, check_pixel_data, read_header};

/// Why a frame could not be decoded (one line, naming what to look at).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

/// Stored values of one frame, before any LUT.
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    /// Grey stored values.
    Grey(GreyValues),
    /// Interleaved 8-bit RGB (colour spaces already converted, palettes applied).
    Rgb(Vec<u8>),
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    pub samples: Samples,
}

/// LUT-related attributes read from the file (values that the scan does not keep).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LutAttributes {
    /// Modality LUT Sequence, when present (it replaces rescale).
    pub modality_table: Option<LutTable>,
    /// First VOI LUT Sequence item, when present.
    pub voi_table: Option<LutTable>,
    /// VOI LUT Function of the first window.
    pub voi_function: VoiFunction,
}

/// A DICOM file opened for rendering, pixels included.
pub struct DicomImage {
    object: DefaultDicomObject,
    transfer_syntax: String,
    rows: u32,
    columns: u32,
    frames: u32,
    samples_per_pixel: u16,
    bits_allocated: u16,
    bits_stored: u16,
    signed: bool,
    planar: bool,
    photometric: String,
    palette: Option<[LutTable; 3]>,
    pub luts: LutAttributes,
    /// Pixel Data of native little-endian files, read in place: `object` stops before it.
    native: Option<NativePixels>,
}

/// The Pixel Data value of a native little-endian file, left in the file's bytes (dicom-object
/// would zero-fill a buffer of its own and copy it there): frames of 8- and 16-bit samples are
/// shared slices of it, never copies.
struct NativePixels {
    file: Bytes,
    value: Range<usize>,
}

impl NativePixels {
    fn bytes(&self) -> &[u8] {
        &self.file[self.value.clone()]
    }

    /// Bytes `range` of the value, shared with the file (`range` is within the value).
    fn slice(&self, range: Range<usize>) -> Bytes {
        self.file
            .slice(self.value.start + range.start..self.value.start + range.end)
    }
}

/// Transfer syntaxes whose Pixel Data value is little-endian samples as stored in the file.
const LITTLE_ENDIAN_NATIVE: &[&str] = &["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"];

const NATIVE_SYNTAXES: &[&str] = &[
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.1.99",
];

impl DicomImage {
    /// Opens `path` whole (header and pixels).
    pub fn open(path: &Path) -> Result<Self, DecodeError> {
        let bytes = std::fs::read(path).map_err(|e| DecodeError(format!("cannot read: {e}")))?;
        Self::from_shared(bytes.into())
    }

    /// Parses a whole DICOM file held in memory, up to and including Pixel Data.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::from_shared(Bytes::copy_from_slice(bytes))
    }

    /// Parses a whole DICOM file held in memory, up to and including Pixel Data; the pixels of
    /// a native little-endian file stay where they are in `bytes`.
    ///
    /// The header is first walked by the bounded scan reader, which rejects lengths beyond the
    /// data and deep nesting: dicom-object trusts declared lengths and recurses into sequences,
    /// so a hostile file could otherwise exhaust memory or overflow the stack.
    pub fn from_shared(bytes: Bytes) -> Result<Self, DecodeError> {
        let bounds = check_bounds(&bytes).map_err(DecodeError)?;
        let options = OpenFileOptions::new();
        let options = if bounds.native_value.is_some() {
            options.read_until(tags::PIXEL_DATA)
        } else {
            options.read_to(tags::PIXEL_DATA)
        };
        let object = options
            .from_reader(&bytes[..bounds.end])
            .map_err(|e| DecodeError(format!("cannot open as DICOM: {}", error_chain(&e))))?;
        let transfer_syntax = object
            .meta()
            .transfer_syntax()
            .trim_end_matches('\0')
            .to_string();
        let uint = |tag| int_value(&object, tag);
        let (Some(rows), Some(columns)) = (uint(tags::ROWS), uint(tags::COLUMNS)) else {
            return Err(DecodeError("no Rows/Columns".into()));
        };
        let (Ok(rows), Ok(columns)) = (u16::try_from(rows), u16::try_from(columns)) else {
            return Err(DecodeError(format!(
                "Rows/Columns {rows}x{columns} are not image dimensions"
            )));
        };
        let bits_allocated = match uint(tags::BITS_ALLOCATED).unwrap_or(16) {
            bits @ (1 | 8 | 16 | 32) => bits as u16,
            other => {
                return Err(DecodeError(format!(
                    "BitsAllocated {other} is not supported"
                )));
            }
        };
        let samples_per_pixel = match uint(tags::SAMPLES_PER_PIXEL).unwrap_or(1) {
            samples @ (1 | 3) => samples as u16,
            other => {
                return Err(DecodeError(format!(
                    "SamplesPerPixel {other} is not supported (1 or 3)"
                )));
            }
        };
        let photometric = text_value(&object, tags::PHOTOMETRIC_INTERPRETATION)
            .unwrap_or_else(|| "MONOCHROME2".into());
        let palette = if photometric == "PALETTE COLOR" {
            Some(read_palette(&object)?)
        } else {
            None
        };
        let luts = LutAttributes {
            modality_table: first_item(&object, tags::MODALITY_LUT_SEQUENCE).and_then(read_lut),
            voi_table: first_item(&object, tags::VOILUT_SEQUENCE).and_then(read_lut),
            voi_function: text_value(&object, tags::VOILUT_FUNCTION)
                .map(|f| VoiFunction::from_code(&f))
                .unwrap_or_default(),
        };
        Ok(DicomImage {
            transfer_syntax,
            rows: u32::from(rows),
            columns: u32::from(columns),
            frames: uint(tags::NUMBER_OF_FRAMES)
                .map_or(1, |n| n.clamp(1, i64::from(u32::MAX)) as u32),
            samples_per_pixel,
            bits_allocated,
            bits_stored: uint(tags::BITS_STORED).map_or(bits_allocated, |b| b as u16),
            signed: uint(tags::PIXEL_REPRESENTATION) == Some(1),
            planar: uint(tags::PLANAR_CONFIGURATION) == Some(1),
            photometric,
            palette,
            luts,
            object,
            native: bounds
                .native_value
                .map(|value| NativePixels { file: bytes, value }),
        })
    }

    /// Number of frames (1 for single-frame files).
    pub fn frame_count(&self) -> u32 {
        self.frames
    }

    /// Transfer syntax UID of the file.
    pub fn transfer_syntax(&self) -> &str {
        &self.transfer_syntax
    }

    /// Whether low values are white.
    pub fn is_monochrome1(&self) -> bool {
        self.photometric == "MONOCHROME1"
    }

    /// Decodes frame `frame` (0-based).
    pub fn frame(&self, frame: u32) -> Result<Frame, DecodeError> {
        if frame >= self.frames {
            return Err(DecodeError(format!(
                "frame {frame} out of range ({} frames)",
                self.frames
            )));
        }
        let pixels = self.pixel_count();
        let samples = if NATIVE_SYNTAXES.contains(&self.transfer_syntax.as_str()) {
            self.native_frame(frame, pixels)?
        } else {
            self.encapsulated_frame(frame, pixels)?
        };
        Ok(Frame {
            width: self.columns,
            height: self.rows,
            samples,
        })
    }

    fn pixel_count(&self) -> usize {
        self.rows as usize * self.columns as usize
    }

    fn encapsulated_frame(&self, frame: u32, pixels: usize) -> Result<Samples, DecodeError> {
        if let Some(samples) = self.libjpeg_frame(frame, pixels) {
            return samples;
        }
        if self.transfer_syntax == "1.2.840.10008.1.2.5" {
            return self.rle_frame(frame, pixels);
        }
        let fail = |reason: String| {
            DecodeError(format!(
                "cannot decode pixel data of transfer syntax {} ({}): {reason}",
                self.transfer_syntax,
                transfer_syntax_name(&self.transfer_syntax),
            ))
        };
        if pixels.saturating_mul(usize::from(self.samples_per_pixel)) > MAX_DECODED_SAMPLES {
            return Err(fail(format!(
                "a frame of {} x {} x {} samples is over the {MAX_DECODED_SAMPLES}-sample limit",
                self.columns, self.rows, self.samples_per_pixel
            )));
        }
        if let Some((kind, size)) = self.oversized_codestream(frame) {
            return Err(fail(format!(
                "the {kind} codestream declares {} x {} with {} components, not the {} x {} x {} of the header",
                size.0, size.1, size.2, self.columns, self.rows, self.samples_per_pixel
            )));
        }
        let decoded = catch_codec_panic(|| self.object.decode_pixel_data_frame(frame))
            .map_err(|panic| fail(format!("the codec failed on corrupt data ({panic})")))?
            .map_err(|e| fail(error_chain(&e)))?;
        let data = decoded.data();
        if self.samples_per_pixel == 3 {
            // Codecs hand out interleaved RGB whatever the stored colour space.
            let bytes = self.bytes_per_sample();
            return rgb_from_interleaved(data, pixels, bytes, self.bits_stored);
        }
        self.grey_or_palette(Bytes::copy_from_slice(data), 0, pixels)
    }

    /// A JPEG 2000 SIZ or JPEG / JPEG-LS SOF marker, with the codestream's name, that declares
    /// a larger image than Rows x Columns x Samples (decoders allocate and decode from these,
    /// not from the header), among the fragments the codec may read for `frame`: its own when
    /// there is one fragment per frame, else every fragment (which fragments make which frame
    /// is then the codec's guess, not ours). `None` when all that parse fit, and for other
    /// transfer syntaxes.
    fn oversized_codestream(&self, frame: u32) -> Option<(&'static str, CodestreamSize)> {
        let syntax = self.transfer_syntax.as_str();
        let (kind, parse): (&'static str, SizeParser) = if J2K_SYNTAXES.contains(&syntax) {
            ("JPEG 2000", j2k_siz)
        } else if JPEG_SYNTAXES.contains(&syntax) {
            ("JPEG", jpeg_sof)
        } else {
            return None;
        };
        let fragments = self.pixel_data().ok()?.fragments()?;
        let candidates = match fragments.get(frame as usize) {
            Some(own) if fragments.len() == self.frames as usize => std::slice::from_ref(own),
            _ => fragments,
        };
        candidates
            .iter()
            .filter_map(|fragment| parse(fragment))
            .find(|&(width, height, components)| {
                width > self.columns
                    || height > self.rows
                    || components == 0
                    || components > self.samples_per_pixel
            })
            .map(|size| (kind, size))
    }

    /// JPEG Baseline frames in YCbCr or grey go through libjpeg (mozjpeg), the decoder DCMTK
    /// and most viewers share: its IDCT and fancy chroma upsampling match theirs, where
    /// jpeg-decoder differs by a few grey levels on some pixels. `None` means "not this path".
    fn libjpeg_frame(&self, frame: u32, pixels: usize) -> Option<Result<Samples, DecodeError>> {
        let ycbcr_or_grey = self.photometric.starts_with("YBR_FULL") || self.samples_per_pixel == 1;
        if self.transfer_syntax != "1.2.840.10008.1.2.4.50"
            || !ycbcr_or_grey
            || self.bits_allocated != 8
        {
            return None;
        }
        let fragments = self.pixel_data().ok()?.fragments()?;
        let bytes: Vec<u8> = if fragments.len() == self.frames as usize {
            fragments[frame as usize].clone()
        } else if self.frames == 1 {
            fragments.concat()
        } else {
            return None; // several fragments per frame: left to dicom-pixeldata
        };
        let grey = self.samples_per_pixel == 1;
        // libjpeg reports corrupt data by unwinding (mozjpeg's error handler panics).
        let decoded = catch_codec_panic(|| -> std::io::Result<(usize, usize, Vec<u8>)> {
            let decompress = mozjpeg::Decompress::new_mem(&bytes)?;
            let mut started = if grey {
                decompress.grayscale()?
            } else {
                decompress.rgb()?
            };
            let (width, height) = (started.width(), started.height());
            if width * height != pixels {
                // Checked before allocating: the JPEG header may claim 65535x65535.
                return Ok((width, height, Vec::new()));
            }
            let data = started.read_scanlines::<u8>()?;
            started.finish()?;
            Ok((width, height, data))
        });
        Some(match decoded {
            Ok(Ok((width, height, data))) if width * height == pixels => Ok(if grey {
                Samples::Grey(GreyValues::packed(data, false, 8, false))
            } else {
                Samples::Rgb(data)
            }),
            Ok(Ok((width, height, _))) => Err(DecodeError(format!(
                "JPEG frame {frame} is {width}x{height}, the header says {}x{}",
                self.columns, self.rows
            ))),
            Ok(Err(e)) => Err(DecodeError(format!(
                "JPEG Baseline frame {frame} does not decode: {e}"
            ))),
            Err(_) => Err(DecodeError(format!(
                "JPEG Baseline frame {frame} is corrupt (libjpeg error)"
            ))),
        })
    }

    fn native_frame(&self, frame: u32, pixels: usize) -> Result<Samples, DecodeError> {
        // 32-bit samples read as OW words from a big-endian file come out word-swapped.
        let mut words_swapped = false;
        let data = match &self.native {
            Some(native) => Cow::Borrowed(native.bytes()),
            None => {
                let Some(primitive) = self.pixel_data()?.primitive() else {
                    return Err(DecodeError(
                        "Pixel Data is encapsulated under a native transfer syntax".into(),
                    ));
                };
                words_swapped = self.transfer_syntax == "1.2.840.10008.1.2.2"
                    && self.bits_allocated == 32
                    && matches!(primitive, PrimitiveValue::U16(_));
                // Borrowed for 8/16-bit data: only this frame is copied, however many frames
                // the file has.
                primitive.to_bytes()
            }
        };
        // The bytes of `range` (within `data`), shared with the file when it was read in place.
        let frame_bytes = |range: Range<usize>| match &self.native {
            Some(native) => native.slice(range),
            None => Bytes::copy_from_slice(&data[range]),
        };
        let spp = self.samples_per_pixel as usize;
        if self.bits_allocated == 1 {
            // The bytes holding the frame's bits (frames need not start on a byte boundary).
            let first = frame as usize * pixels;
            let end = first.saturating_add(pixels).div_ceil(8).min(data.len());
            let start = (first / 8).min(end);
            return self.grey_or_palette(frame_bytes(start..end), first % 8, pixels);
        }
        let bytes = self.bytes_per_sample();
        let ybr422 = self.photometric == "YBR_FULL_422" && spp == 3;
        let frame_len = if ybr422 {
            pixels * 2 * bytes
        } else {
            pixels * spp * bytes
        };
        let start = (frame as usize).checked_mul(frame_len);
        let range = start
            .and_then(|s| Some(s..s.checked_add(frame_len)?))
            .filter(|range| range.end <= data.len());
        let Some(range) = range else {
            return Err(DecodeError(format!(
                "pixel data holds {} bytes, too few for frame {frame} of {frame_len} bytes",
                data.len(),
            )));
        };
        let frame_data = if words_swapped {
            let mut swapped = data[range].to_vec();
            for sample in swapped.chunks_exact_mut(4) {
                sample.rotate_left(2);
            }
            Bytes::from(swapped)
        } else {
            frame_bytes(range)
        };
        self.samples_from_native(frame_data, pixels, self.planar)
    }

    /// Samples of one frame laid out as native pixel data (little-endian samples).
    fn samples_from_native(
        &self,
        frame_data: Bytes,
        pixels: usize,
        planar: bool,
    ) -> Result<Samples, DecodeError> {
        let bytes = self.bytes_per_sample();
        match (self.samples_per_pixel, self.photometric.as_str()) {
            (1, _) => self.grey_or_palette(frame_data, 0, pixels),
            (3, "YBR_FULL_422") => Ok(Samples::Rgb(ybr_422_to_rgb(&frame_data, pixels))),
            (3, photometric) => {
                let interleaved = if planar {
                    Cow::Owned(interleave_planes(&frame_data, pixels, bytes))
                } else {
                    Cow::Borrowed(&frame_data[..])
                };
                let rgb = rgb_from_interleaved(&interleaved, pixels, bytes, self.bits_stored)?;
                match (photometric, rgb) {
                    ("YBR_FULL", Samples::Rgb(ybr)) => Ok(Samples::Rgb(ybr_to_rgb(&ybr))),
                    (_, rgb) => Ok(rgb),
                }
            }
            (n, photometric) => Err(DecodeError(format!(
                "{n} samples per pixel ({photometric}) are not supported"
            ))),
        }
    }

    /// RLE Lossless, decoded here for every bit depth (dicom-pixeldata's decoder stops at 16).
    fn rle_frame(&self, frame: u32, pixels: usize) -> Result<Samples, DecodeError> {
        let fragments = self
            .pixel_data()?
            .fragments()
            .ok_or_else(|| DecodeError("RLE Pixel Data is not encapsulated".into()))?;
        let fragment = fragments.get(frame as usize).ok_or_else(|| {
            DecodeError(format!(
                "RLE frame {frame} missing: {} fragments",
                fragments.len()
            ))
        })?;
        let native = rle::decode_frame(
            fragment,
            pixels,
            usize::from(self.samples_per_pixel),
            self.bytes_per_sample(),
        )
        .map_err(|e| DecodeError(format!("RLE frame {frame}: {e}")))?;
        // RLE segments come one per sample, so the result is planar only when asked to be interleaved.
        self.samples_from_native(native.into(), pixels, false)
    }

    /// The value of the Pixel Data element.
    fn pixel_data(&self) -> Result<&Value<InMemDicomObject>, DecodeError> {
        self.object
            .get(tags::PIXEL_DATA)
            .map(|element| element.value())
            .ok_or_else(|| DecodeError("no Pixel Data element".into()))
    }

    fn bytes_per_sample(&self) -> usize {
        usize::from(self.bits_allocated.div_ceil(8))
    }

    /// Grey samples starting at pixel `first` (bit-addressed for 1-bit data), or RGB through the palette.
    fn grey_or_palette(
        &self,
        data: Bytes,
        first: usize,
        pixels: usize,
    ) -> Result<Samples, DecodeError> {
        let grey = grey_values(
            data,
            first,
            pixels,
            self.bits_allocated,
            self.bits_stored,
            self.signed,
        )?;
        match &self.palette {
            None => Ok(Samples::Grey(grey)),
            Some([red, green, blue]) => {
                let to8 = |table: &LutTable, v: f64| {
                    (table.lookup(v) / table.max_output() * 255.0).round() as u8
                };
                let mut rgb = Vec::with_capacity(pixels * 3);
                for v in grey.to_vec() {
                    let v = v as f64;
                    rgb.extend_from_slice(&[to8(red, v), to8(green, v), to8(blue, v)]);
                }
                Ok(Samples::Rgb(rgb))
            }
        }
    }
}

impl DicomImage {
    /// The overlay planes (60xx) of the file.
    pub fn overlays(&self) -> Result<Vec<OverlayPlane>, DecodeError> {
        let with_pixels;
        let object = match &self.native {
            // Overlays may be embedded in the pixels' unused bits: the planes are read from an
            // object that holds them again.
            Some(native) => {
                let mut object = self.object.clone();
                object.put(DataElement::new(
                    tags::PIXEL_DATA,
                    if self.bits_allocated > 8 {
                        VR::OW
                    } else {
                        VR::OB
                    },
                    PrimitiveValue::U8(native.bytes().into()),
                ));
                with_pixels = object;
                &with_pixels
            }
            None => &self.object,
        };
        object
            .decode_overlays()
            .map_err(|e| DecodeError(format!("cannot read overlays: {}", error_chain(&e))))
    }

    /// The default modality LUT of this file given the scanned rescale values.
    pub fn modality_lut(&self, slope: Option<f64>, intercept: Option<f64>) -> ModalityLut {
        match &self.luts.modality_table {
            Some(table) => ModalityLut::Table(table.clone()),
            None => ModalityLut::Rescale {
                slope: slope.unwrap_or(1.0),
                intercept: intercept.unwrap_or(0.0),
            },
        }
    }

    /// The header's first VOI: a VOI LUT table wins over a window (as in dicom-rs).
    pub fn header_voi(&self, center: Option<f64>, width: Option<f64>) -> Option<Voi> {
        if let Some(table) = &self.luts.voi_table {
            return Some(Voi::Table(table.clone()));
        }
        let (center, width) = (center?, width?);
        Some(Voi::Window(Window {
            center,
            width,
            function: self.luts.voi_function,
        }))
    }
}

/// Walks `bytes` with the bounded header reader and checks Pixel Data against the data, so that
/// dicom-object, which allocates whatever length is declared, only sees lengths that fit.
/// Returns how much to parse: up to the end of Pixel Data (trailing elements are not needed and
/// not trusted), or all of a Deflated file once its trailing elements check out.
fn check_bounds(bytes: &[u8]) -> Result<Bounds, String> {
    let whole = Input {
        bytes,
        file_size: bytes.len() as u64,
    };
    let mut inflated = Vec::new();
    let (encoding, pixel, transfer_syntax) = {
        let header = read_header(whole, &mut inflated).map_err(|e| e.to_string())?;
        let syntax = header.transfer_syntax.clone().unwrap_or_default();
        if header.vr_mode_corrected {
            return Err(format!(
                "not rendered: the dataset is written in the other VR mode than transfer syntax {syntax} declares"
            ));
        }
        let pixel = header.pixel_data.ok_or("no Pixel Data element")?;
        (header.encoding, pixel, syntax)
    };
    if transfer_syntax != "1.2.840.10008.1.2.1.99" {
        let end = check_pixel_data(whole, encoding, pixel).map_err(|e| e.to_string())?;
        let native_value = match pixel.length {
            Some(length)
                if pixel.tag == tags::PIXEL_DATA
                    && LITTLE_ENDIAN_NATIVE.contains(&transfer_syntax.as_str()) =>
            {
                Some(end - length as usize..end)
            }
            _ => None,
        };
        return Ok(Bounds { end, native_value });
    }
    // Deflated files locate Pixel Data in the inflated stream, which dicom-object inflates
    // whole: everything in it is checked.
    let input = Input {
        bytes: &inflated,
        file_size: inflated.len() as u64,
    };
    let end = check_pixel_data(input, encoding, pixel).map_err(|e| e.to_string())?;
    check_elements(input, encoding, end).map_err(|e| e.to_string())?;
    Ok(Bounds {
        end: bytes.len(),
        native_value: None,
    })
}

/// What [`check_bounds`] found.
struct Bounds {
    /// Where dicom-object may stop reading: after Pixel Data (the whole file when deflated).
    end: usize,
    /// The Pixel Data value of native little-endian files.
    native_value: Option<Range<usize>>,
}

/// Grey stored values of one frame, with their range (computed when first asked for, once).
#[derive(Debug, Clone, PartialEq)]
pub struct GreyValues {
    storage: GreyStorage,
    range: std::sync::OnceLock<Option<(i64, i64)>>,
}

#[derive(Debug, Clone, PartialEq)]
enum GreyStorage {
    /// 8- or 16-bit samples as stored (little-endian), masked to BitsStored and sign-extended
    /// as they are read: no widened copy of the frame is made.
    Packed { bytes: Bytes, layout: PackedLayout },
    /// 1- and 32-bit samples, unpacked, masked and sign-extended.
    Unpacked(Vec<i64>),
}

/// How 8- or 16-bit samples are stored: the significant bits of each little-endian word and
/// whether they are two's complement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackedLayout {
    wide: bool,
    bits: u32,
    signed: bool,
}

impl PackedLayout {
    /// Number of distinct words (2^8 or 2^16).
    pub fn words(self) -> usize {
        if self.wide { 1 << 16 } else { 1 << 8 }
    }

    /// The value of stored word `word`: its low `bits` bits, sign-extended when signed.
    pub fn value(self, word: u16) -> i32 {
        Self::extend(word, self.mask(), self.sign_bit())
    }

    /// Smallest and largest value the layout can hold.
    pub fn domain(self) -> (i64, i64) {
        let half = 1i64 << (self.bits - 1);
        if self.signed {
            (-half, half - 1)
        } else {
            (0, 2 * half - 1)
        }
    }

    fn mask(self) -> u16 {
        ((1u32 << self.bits) - 1) as u16
    }

    /// The sign bit of signed layouts, 0 for unsigned ones.
    fn sign_bit(self) -> i32 {
        if self.signed { 1 << (self.bits - 1) } else { 0 }
    }

    /// `word` masked, then sign-extended from the sign bit `sign` (a power of two) without a
    /// variable shift, which keeps loops from vectorising: subtract twice the sign bit. A
    /// constant `sign` of 0 (unsigned) folds away.
    #[inline]
    fn extend(word: u16, mask: u16, sign: i32) -> i32 {
        let v = i32::from(word & mask);
        v - ((v & sign) << 1)
    }
}

/// How [`GreyValues::map_levels`] turns values into 8-bit levels.
#[derive(Debug, Clone, Copy)]
pub enum Levels<'a> {
    /// The level of value `v` is `entries[v - first]`.
    Table { entries: &'a [u8], first: i64 },
    /// Computed per value (vectorises, unlike a table lookup).
    Affine(AffineLevels),
}

/// Consumes the values of a frame, handed over as one concrete iterator per sample layout
/// (see [`GreyValues::visit`]).
trait SampleVisitor {
    type Output;
    fn visit<T: Sample>(self, samples: impl Iterator<Item = T>) -> Self::Output;
}

/// A sample as the visitor gets it: i32 for 8/16-bit data (so that min/max vectorise), i64
/// for the rest.
trait Sample: Copy + Ord + Into<i64> {
    const MIN: Self;
    const MAX: Self;
    /// The value as f64 (exact for i32; i64 values beyond 2^53 round).
    fn to_f64(self) -> f64;
}

impl Sample for i32 {
    const MIN: Self = i32::MIN;
    const MAX: Self = i32::MAX;
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Sample for i64 {
    const MIN: Self = i64::MIN;
    const MAX: Self = i64::MAX;
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl GreyValues {
    /// 8-bit (`wide` false) or 16-bit little-endian samples with `bits_stored` significant bits.
    pub fn packed(bytes: impl Into<Bytes>, wide: bool, bits_stored: u16, signed: bool) -> Self {
        let bits = u32::from(bits_stored).clamp(1, if wide { 16 } else { 8 });
        Self::new(GreyStorage::Packed {
            bytes: bytes.into(),
            layout: PackedLayout { wide, bits, signed },
        })
    }

    /// Values already widened.
    pub fn unpacked(values: Vec<i64>) -> Self {
        Self::new(GreyStorage::Unpacked(values))
    }

    fn new(storage: GreyStorage) -> Self {
        GreyValues {
            storage,
            range: std::sync::OnceLock::new(),
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        match &self.storage {
            GreyStorage::Packed { bytes, layout } => bytes.len() / if layout.wide { 2 } else { 1 },
            GreyStorage::Unpacked(values) => values.len(),
        }
    }

    /// Whether the frame has no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Smallest and largest value, or `None` for an empty frame.
    pub fn min_max(&self) -> Option<(i64, i64)> {
        *self.range.get_or_init(|| self.fold_range())
    }

    /// How the samples are stored, for 8- and 16-bit samples; `None` for the others.
    pub fn layout(&self) -> Option<PackedLayout> {
        match self.storage {
            GreyStorage::Packed { layout, .. } => Some(layout),
            GreyStorage::Unpacked(_) => None,
        }
    }

    /// The level of every value, looked up by the word as stored: `levels[word]` for each
    /// 8- or 16-bit sample, where `levels` has an entry for every word of the layout
    /// ([`PackedLayout::words`]) with masking and sign extension folded in, so that the loop
    /// is a load and a store per value. `None` for other layouts or a table of another size.
    pub fn map_words(&self, levels: &[u8]) -> Option<Vec<u8>> {
        let GreyStorage::Packed { bytes, layout } = &self.storage else {
            return None;
        };
        // Arrays of exactly 2^8 or 2^16 entries: every index is in bounds, no check is made.
        if layout.wide {
            let levels: &[u8; 1 << 16] = levels.try_into().ok()?;
            let level = |word: u64| levels[(word & 0xFFFF) as usize];
            let mut out = vec![0; bytes.len() / 2];
            // Four samples per 8-byte load (byte-wise loads cost twice the instructions).
            let (quads, rest) = bytes.as_chunks::<8>();
            let (out_quads, out_rest) = out.as_chunks_mut::<4>();
            for (o, quad) in out_quads.iter_mut().zip(quads) {
                let x = u64::from_le_bytes(*quad);
                *o = [level(x), level(x >> 16), level(x >> 32), level(x >> 48)];
            }
            for (o, pair) in out_rest.iter_mut().zip(rest.as_chunks::<2>().0) {
                *o = level(u64::from(u16::from_le_bytes(*pair)));
            }
            Some(out)
        } else {
            let levels: &[u8; 1 << 8] = levels.try_into().ok()?;
            Some(bytes.iter().map(|&b| levels[usize::from(b)]).collect())
        }
    }

    /// Calls `f` with every value in pixel order.
    #[inline]
    pub fn for_each(&self, f: impl FnMut(i64)) {
        struct ForEach<F>(F);
        impl<F: FnMut(i64)> SampleVisitor for ForEach<F> {
            type Output = ();
            fn visit<T: Sample>(self, samples: impl Iterator<Item = T>) {
                let mut f = self.0;
                samples.for_each(|v| f(v.into()));
            }
        }
        self.visit(ForEach(f));
    }

    /// Hands `visitor` an iterator over the values, of a concrete type per sample layout
    /// (8/16 bits, signed or not), so that each layout's loop is compiled on its own and
    /// vectorises: the layout is matched once per frame, not once per value.
    #[inline]
    fn visit<V: SampleVisitor>(&self, visitor: V) -> V::Output {
        let (bytes, layout) = match &self.storage {
            GreyStorage::Unpacked(values) => return visitor.visit(values.iter().copied()),
            GreyStorage::Packed { bytes, layout } => (bytes, *layout),
        };
        let (mask, sign) = (layout.mask(), layout.sign_bit());
        let unsigned = move |word: u16| PackedLayout::extend(word, mask, 0);
        let signed = move |word: u16| PackedLayout::extend(word, mask, sign);
        let word = |c: &[u8]| u16::from_le_bytes([c[0], c[1]]);
        match (layout.wide, layout.signed) {
            (false, false) => visitor.visit(bytes.iter().map(move |&b| unsigned(u16::from(b)))),
            (false, true) => visitor.visit(bytes.iter().map(move |&b| signed(u16::from(b)))),
            (true, false) => visitor.visit(bytes.chunks_exact(2).map(move |c| unsigned(word(c)))),
            (true, true) => visitor.visit(bytes.chunks_exact(2).map(move |c| signed(word(c)))),
        }
    }

    fn fold_range(&self) -> Option<(i64, i64)> {
        struct Range;
        impl SampleVisitor for Range {
            type Output = Option<(i64, i64)>;
            fn visit<T: Sample>(self, samples: impl Iterator<Item = T>) -> Self::Output {
                let (lo, hi) = samples.fold((T::MAX, T::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
                (lo <= hi).then(|| (lo.into(), hi.into()))
            }
        }
        self.visit(Range)
    }

    /// Maps every value to its 8-bit level with `levels`, into `out`, one byte per value.
    pub fn map_levels(&self, levels: Levels<'_>, out: &mut Vec<u8>) {
        struct Mapper<'a> {
            levels: Levels<'a>,
            out: &'a mut Vec<u8>,
        }
        impl SampleVisitor for Mapper<'_> {
            type Output = ();
            fn visit<T: Sample>(self, samples: impl Iterator<Item = T>) {
                // Everything the loops read is copied into locals first: a store through
                // `out` could alias it, which would reload it on every value.
                match self.levels {
                    Levels::Table { entries, first } => {
                        let Some(last) = entries.len().checked_sub(1) else {
                            return;
                        };
                        // `min(last)` makes the index provably in bounds: one conditional
                        // move per value instead of two branches. A value outside the table
                        // (never for a table built over the frame's range) takes the last
                        // entry.
                        for (slot, v) in self.out.iter_mut().zip(samples) {
                            *slot = entries[((v.into() - first) as usize).min(last)];
                        }
                    }
                    Levels::Affine(affine) => {
                        for (slot, v) in self.out.iter_mut().zip(samples) {
                            *slot = affine.level(v.to_f64());
                        }
                    }
                }
            }
        }
        out.clear();
        out.resize(self.len(), 0);
        self.visit(Mapper { levels, out });
    }

    /// Every value, widened.
    pub fn to_vec(&self) -> Vec<i64> {
        let mut out = Vec::with_capacity(self.len());
        self.for_each(|v| out.push(v));
        out
    }
}

/// Grey values of `pixels` samples starting at sample `first` (bit-addressed for 1-bit data);
/// 8- and 16-bit samples stay in (a shared slice of) `data`.
pub fn grey_values(
    data: Bytes,
    first: usize,
    pixels: usize,
    bits_allocated: u16,
    bits_stored: u16,
    signed: bool,
) -> Result<GreyValues, DecodeError> {
    if matches!(bits_allocated, 8 | 16) {
        let width = usize::from(bits_allocated / 8);
        let range = first * width..(first + pixels) * width;
        if range.end > data.len() {
            return Err(too_short(pixels, bits_allocated));
        }
        return Ok(GreyValues::packed(
            data.slice(range),
            width == 2,
            bits_stored,
            signed,
        ));
    }
    grey_samples(&data, first, pixels, bits_allocated, bits_stored, signed)
        .map(GreyValues::unpacked)
}

/// JPEG 2000 transfer syntaxes (lossless, lossy, and the HTJ2K ones).
const J2K_SYNTAXES: [&str; 5] = [
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.4.203",
];

/// Width, height and component count a compressed frame's own header declares.
type CodestreamSize = (u32, u32, u16);

/// Reads the [`CodestreamSize`] of one kind of codestream.
type SizeParser = fn(&[u8]) -> Option<CodestreamSize>;

/// JPEG (baseline, extended, lossless) and JPEG-LS transfer syntaxes.
const JPEG_SYNTAXES: [&str; 6] = [
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.81",
];

/// Decoded samples of one compressed frame above which it is refused (2^28: 16384 x 16384; a
/// codec allocates several bytes per sample).
const MAX_DECODED_SAMPLES: usize = 1 << 28;

/// Width, height and component count from the SIZ marker of a JPEG 2000 codestream (raw, or
/// inside a JP2 wrapper), found in its first kilobyte.
fn j2k_siz(bytes: &[u8]) -> Option<CodestreamSize> {
    let head = &bytes[..bytes.len().min(1024)];
    let at = head
        .windows(4)
        .position(|w| w == [0xFF, 0x4F, 0xFF, 0x51])?
        + 4;
    let u32_at = |i: usize| {
        let b = bytes.get(at + i..at + i + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    // Lsiz, Rsiz, then Xsiz, Ysiz, XOsiz, YOsiz, four tile fields, Csiz.
    let (x, y, x0, y0) = (u32_at(4)?, u32_at(8)?, u32_at(12)?, u32_at(16)?);
    let c = bytes.get(at + 36..at + 38)?;
    Some((
        x.saturating_sub(x0),
        y.saturating_sub(y0),
        u16::from_be_bytes([c[0], c[1]]),
    ))
}

/// Width, height and component count from the SOF marker of a JPEG or JPEG-LS codestream
/// (SOF0-SOF15 but DHT, JPG and DAC; SOF55 for JPEG-LS), walking the marker segments from
/// SOI up to the first scan. A height of 0 (defined later by a DNL marker) is returned as is.
fn jpeg_sof(bytes: &[u8]) -> Option<CodestreamSize> {
    let u16_at = |i: usize| {
        bytes
            .get(i..i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    if bytes.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut at = 2;
    loop {
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(at + 1)?;
        match marker {
            // Fill bytes, and markers without a length (TEM, RSTn).
            0xFF => at += 1,
            0x01 | 0xD0..=0xD7 => at += 2,
            0xC0..=0xCF | 0xF7 if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                // Lf, P, Y, X, Nf.
                let (height, width) = (u16_at(at + 5)?, u16_at(at + 7)?);
                let components = *bytes.get(at + 9)?;
                return Some((width.into(), height.into(), components.into()));
            }
            0xDA | 0xD9 => return None,
            _ => at += 2 + usize::from(u16_at(at + 2)?),
        }
    }
}

/// The error for pixel data that ends before `pixels` samples of `bits` bits.
fn too_short(pixels: usize, bits: u16) -> DecodeError {
    DecodeError(format!(
        "pixel data too short for {pixels} samples of {bits} bits"
    ))
}

/// Extracts `pixels` grey samples starting at sample `first`, masked and sign-extended.
pub fn grey_samples(
    data: &[u8],
    first: usize,
    pixels: usize,
    bits_allocated: u16,
    bits_stored: u16,
    signed: bool,
) -> Result<Vec<i64>, DecodeError> {
    let short = || too_short(pixels, bits_allocated);
    let bits_stored = u32::from(bits_stored.clamp(1, bits_allocated.max(1)));
    let mask: u64 = if bits_stored >= 64 {
        u64::MAX
    } else {
        (1u64 << bits_stored) - 1
    };
    let extend = |raw: u64| -> i64 {
        let v = raw & mask;
        if signed && bits_stored < 64 && v & (1 << (bits_stored - 1)) != 0 {
            v as i64 - (1i64 << bits_stored)
        } else {
            v as i64
        }
    };
    match bits_allocated {
        1 => {
            let end_bit = first + pixels;
            if data.len() * 8 < end_bit {
                return Err(short());
            }
            Ok((first..end_bit)
                .map(|i| i64::from((data[i / 8] >> (i % 8)) & 1))
                .collect())
        }
        8 | 16 | 32 => {
            let width = usize::from(bits_allocated / 8);
            let slice = data
                .get(first * width..(first + pixels) * width)
                .ok_or_else(short)?;
            Ok(slice
                .chunks_exact(width)
                .map(|c| {
                    let raw = match width {
                        1 => u64::from(c[0]),
                        2 => u64::from(u16::from_le_bytes([c[0], c[1]])),
                        _ => u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                    };
                    extend(raw)
                })
                .collect())
        }
        other => Err(DecodeError(format!(
            "BitsAllocated {other} is not supported"
        ))),
    }
}

/// Interleaved RGB of 8, 16 or 32-bit samples to 8-bit (deeper samples keep their top 8 stored bits).
fn rgb_from_interleaved(
    data: &[u8],
    pixels: usize,
    bytes: usize,
    bits_stored: u16,
) -> Result<Samples, DecodeError> {
    let needed = pixels * 3 * bytes;
    let data = data.get(..needed).ok_or_else(|| {
        DecodeError(format!(
            "colour pixel data holds {} bytes, needs {needed}",
            data.len()
        ))
    })?;
    if bytes == 1 {
        return Ok(Samples::Rgb(data.to_vec()));
    }
    // BitsStored comes from the header: clamped to the sample size so the shift stays in range.
    let shift = u32::from(bits_stored).clamp(8, 8 * bytes as u32) - 8;
    Ok(Samples::Rgb(
        data.chunks_exact(bytes)
            .map(|c| {
                let v = match bytes {
                    2 => u64::from(u16::from_le_bytes([c[0], c[1]])),
                    _ => u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                };
                (v >> shift).min(255) as u8
            })
            .collect(),
    ))
}

/// Planar configuration 1 (RRR…GGG…BBB…) to interleaved.
fn interleave_planes(data: &[u8], pixels: usize, bytes: usize) -> Vec<u8> {
    let plane = pixels * bytes;
    let mut out = Vec::with_capacity(plane * 3);
    for p in 0..pixels {
        for c in 0..3 {
            let at = c * plane + p * bytes;
            out.extend_from_slice(&data[at..at + bytes]);
        }
    }
    out
}

/// Full-range YCbCr (YBR_FULL) to RGB, as in JPEG/JFIF.
fn ybr_to_rgb(ybr: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ybr.len());
    for px in ybr.chunks_exact(3) {
        out.extend_from_slice(&ycbcr_pixel(px[0], px[1], px[2]));
    }
    out
}

/// Native YBR_FULL_422: each pair of pixels is stored as Y1 Y2 Cb Cr.
fn ybr_422_to_rgb(data: &[u8], pixels: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(pixels * 3);
    for pair in data.chunks_exact(4) {
        let [y1, y2, cb, cr] = [pair[0], pair[1], pair[2], pair[3]];
        out.extend_from_slice(&ycbcr_pixel(y1, cb, cr));
        out.extend_from_slice(&ycbcr_pixel(y2, cb, cr));
    }
    out.truncate(pixels * 3);
    out
}

fn ycbcr_pixel(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let (y, cb, cr) = (f64::from(y), f64::from(cb) - 128.0, f64::from(cr) - 128.0);
    let clamp = |v: f64| v.round().clamp(0.0, 255.0) as u8;
    [
        clamp(y + 1.402 * cr),
        clamp(y - 0.344136 * cb - 0.714136 * cr),
        clamp(y + 1.772 * cb),
    ]
}

// Elements are looked up with `get`: `element` builds an error for a missing one, with a
// backtrace when RUST_BACKTRACE is set, costly for attributes that are usually absent.

fn int_value(object: &DefaultDicomObject, tag: Tag) -> Option<i64> {
    object.get(tag)?.to_int::<i64>().ok()
}

fn text_value(object: &DefaultDicomObject, tag: Tag) -> Option<String> {
    let text = object.get(tag)?.to_str().ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn first_item(object: &DefaultDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    object.get(tag)?.items()?.first()
}

/// Reads LUT Descriptor + LUT Data of a Modality/VOI LUT Sequence item.
fn read_lut<D: DataDictionary + Clone>(item: &InMemDicomObject<D>) -> Option<LutTable> {
    let descriptor: Vec<i64> = item.get(tags::LUT_DESCRIPTOR)?.to_multi_int().ok()?;
    lut_from(&descriptor, item.get(tags::LUT_DATA)?.value().primitive()?)
}

/// Builds a table from a descriptor (entries, first mapped value, bits) and its data; 8-bit
/// entries may come packed in bytes or one per 16-bit word.
fn lut_from(descriptor: &[i64], data: &PrimitiveValue) -> Option<LutTable> {
    let [entries, first, bits] = descriptor.get(..3)?.try_into().ok()?;
    let entries = if entries == 0 {
        65536
    } else {
        entries as usize
    };
    let bytes = data.to_bytes();
    let values: Vec<f64> = if bits <= 8 && bytes.len() == entries {
        bytes.iter().map(|&b| f64::from(b)).collect()
    } else {
        bytes
            .chunks_exact(2)
            .take(entries)
            .map(|c| f64::from(u16::from_le_bytes([c[0], c[1]])))
            .collect()
    };
    (!values.is_empty()).then(|| LutTable {
        first: first as f64,
        values,
        bits: bits.clamp(1, 16) as u32,
    })
}

fn read_palette(object: &DefaultDicomObject) -> Result<[LutTable; 3], DecodeError> {
    let channel = |descriptor: Tag, data: Tag, name: &str| -> Result<LutTable, DecodeError> {
        let missing = || {
            DecodeError(format!(
                "PALETTE COLOR without a usable {name} palette (segmented palettes are not supported)"
            ))
        };
        let descriptor: Vec<i64> = object
            .get(descriptor)
            .and_then(|e| e.to_multi_int().ok())
            .ok_or_else(missing)?;
        object
            .get(data)
            .ok_or_else(missing)?
            .value()
            .primitive()
            .and_then(|p| lut_from(&descriptor, p))
            .ok_or_else(missing)
    };
    Ok([
        channel(
            tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
            tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            "red",
        )?,
        channel(
            tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
            tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            "green",
        )?,
        channel(
            tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
            tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            "blue",
        )?,
    ])
}

/// An error and its sources, joined with ": " (the crates' top-level messages are vague).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let message = inner.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = inner.source();
    }
    text
}

/// A short name for the transfer syntaxes users meet, for error messages.
pub fn transfer_syntax_name(uid: &str) -> &'static str {
    match uid {
        "1.2.840.10008.1.2" => "Implicit VR Little Endian",
        "1.2.840.10008.1.2.1" => "Explicit VR Little Endian",
        "1.2.840.10008.1.2.2" => "Explicit VR Big Endian",
        "1.2.840.10008.1.2.1.99" => "Deflated Explicit VR Little Endian",
        "1.2.840.10008.1.2.4.50" => "JPEG Baseline",
        "1.2.840.10008.1.2.4.51" => "JPEG Extended (12-bit)",
        "1.2.840.10008.1.2.4.57" => "JPEG Lossless",
        "1.2.840.10008.1.2.4.70" => "JPEG Lossless SV1",
        "1.2.840.10008.1.2.4.80" => "JPEG-LS Lossless",
        "1.2.840.10008.1.2.4.81" => "JPEG-LS Near-Lossless",
        "1.2.840.10008.1.2.4.90" => "JPEG 2000 Lossless",
        "1.2.840.10008.1.2.4.91" => "JPEG 2000",
        "1.2.840.10008.1.2.5" => "RLE Lossless",
        _ => "unknown transfer syntax",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn jpeg_sof_gives_the_declared_size() {
        // SOI, an APP0 segment, a fill byte, then SOF0: 8 bits, 256 high, 65280 wide, 3 components.
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0xAA, 0xBB, 0xFF];
        jpeg.extend_from_slice(&[0xFF, 0xC0, 0, 17, 8, 1, 0, 0xFF, 0, 3]);
        assert_eq!(jpeg_sof(&jpeg), Some((65_280, 256, 3)));
        // JPEG-LS (SOF55) and a DHT segment before it.
        let ls = [
            0xFF, 0xD8, 0xFF, 0xC4, 0, 3, 0, 0xFF, 0xF7, 0, 11, 8, 0, 64, 0, 32, 1,
        ];
        assert_eq!(jpeg_sof(&ls), Some((32, 64, 1)));
        assert_eq!(jpeg_sof(&jpeg[..12]), None, "truncated");
        assert_eq!(
            jpeg_sof(&[0xFF, 0xD8, 0xFF, 0xDA, 0, 2]),
            None,
            "scan before any SOF"
        );
        assert_eq!(jpeg_sof(b"not a codestream"), None);
    }

    #[test]
    fn j2k_siz_gives_the_declared_size() {
        let mut siz = vec![0xFF, 0x4F, 0xFF, 0x51, 0, 41, 0, 0];
        for v in [70_000u32, 600, 10, 100, 512, 512, 0, 0] {
            siz.extend_from_slice(&v.to_be_bytes());
        }
        siz.extend_from_slice(&3u16.to_be_bytes());
        assert_eq!(j2k_siz(&siz), Some((69_990, 500, 3)));
        assert_eq!(j2k_siz(&siz[..20]), None, "truncated");
        assert_eq!(j2k_siz(b"not a codestream"), None);
    }

    use super::*;

    #[test]
    fn grey_samples_mask_and_sign_extend() {
        // 12 bits stored in 16, signed: 0x0FFF is -1, 0xF001 masks to 0x001.
        let data = [0xFF, 0x0F, 0x01, 0xF0];
        assert_eq!(
            grey_samples(&data, 0, 2, 16, 12, true).unwrap(),
            vec![-1, 1]
        );
        assert_eq!(
            grey_samples(&data, 0, 2, 16, 12, false).unwrap(),
            vec![4095, 1]
        );
        assert_eq!(grey_samples(&[0x80], 0, 1, 8, 8, true).unwrap(), vec![-128]);
        assert_eq!(grey_samples(&[0x7F], 0, 1, 8, 7, true).unwrap(), vec![-1]);
        let full = [0x00, 0x80, 0xFF, 0x7F];
        assert_eq!(
            grey_samples(&full, 0, 2, 16, 16, true).unwrap(),
            vec![-32768, 32767]
        );
        assert!(grey_samples(&data, 0, 3, 16, 16, false).is_err());
    }

    #[test]
    fn one_bit_samples_are_lsb_first_and_frame_addressed() {
        let data = [0b0000_0101, 0b1000_0000];
        assert_eq!(
            grey_samples(&data, 0, 4, 1, 1, false).unwrap(),
            vec![1, 0, 1, 0]
        );
        assert_eq!(
            grey_samples(&data, 12, 4, 1, 1, false).unwrap(),
            vec![0, 0, 0, 1]
        );
    }

    /// A 3x3, 3-frame, 1-bit grey file in `transfer_syntax`: 27 bits, so frames 1 and 2 start
    /// inside a byte. Bit `i` of the Pixel Data (LSB first) is set when `i % 4 == 1`.
    fn one_bit_file(transfer_syntax: &str) -> Vec<u8> {
        use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
        let mut object = InMemDicomObject::new_empty();
        let uint = |tag, value: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(value));
        object.put(uint(tags::ROWS, 3));
        object.put(uint(tags::COLUMNS, 3));
        object.put(uint(tags::BITS_ALLOCATED, 1));
        object.put(uint(tags::BITS_STORED, 1));
        object.put(uint(tags::HIGH_BIT, 0));
        object.put(uint(tags::SAMPLES_PER_PIXEL, 1));
        object.put(uint(tags::PIXEL_REPRESENTATION, 0));
        object.put(DataElement::new(
            tags::NUMBER_OF_FRAMES,
            VR::IS,
            PrimitiveValue::from("3"),
        ));
        object.put(DataElement::new(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            PrimitiveValue::from("MONOCHROME2"),
        ));
        object.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            PrimitiveValue::U8(vec![0x22, 0x22, 0x22, 0x02].into()),
        ));
        let meta = FileMetaTableBuilder::new()
            .transfer_syntax(transfer_syntax)
            .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.7")
            .media_storage_sop_instance_uid("1.2.3.4");
        let mut bytes = Vec::new();
        object
            .with_meta(meta)
            .unwrap()
            .write_all(&mut bytes)
            .unwrap();
        bytes
    }

    #[test]
    fn one_bit_frames_start_mid_byte_in_place_and_copied() {
        // Little endian: read in place; big endian: copied out of dicom-object's value.
        for syntax in ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"] {
            let image = DicomImage::from_bytes(&one_bit_file(syntax)).unwrap();
            for frame in 0..3 {
                let Samples::Grey(grey) = image.frame(frame).unwrap().samples else {
                    panic!("{syntax}: frame {frame} is not grey");
                };
                let expected: Vec<i64> = (frame as usize * 9..frame as usize * 9 + 9)
                    .map(|bit| i64::from(bit % 4 == 1))
                    .collect();
                assert_eq!(grey.to_vec(), expected, "{syntax}, frame {frame}");
            }
            assert!(image.frame(3).is_err(), "{syntax}");
        }
    }

    #[test]
    fn colour_conversions() {
        assert_eq!(ycbcr_pixel(128, 128, 128), [128, 128, 128]);
        assert_eq!(ycbcr_pixel(255, 128, 128), [255, 255, 255]);
        let red = ycbcr_pixel(76, 85, 255);
        assert!(red[0] > 250 && red[1] < 5 && red[2] < 5, "{red:?}");
        assert_eq!(
            ybr_422_to_rgb(&[10, 20, 128, 128], 2),
            vec![10, 10, 10, 20, 20, 20]
        );
        assert_eq!(
            interleave_planes(&[1, 2, 3, 4, 5, 6], 2, 1),
            vec![1, 3, 5, 2, 4, 6]
        );
    }

    #[test]
    fn deep_rgb_keeps_the_top_stored_bits() {
        let data = 0xFFFFu16.to_le_bytes().repeat(3);
        assert_eq!(
            rgb_from_interleaved(&data, 1, 2, 16).unwrap(),
            Samples::Rgb(vec![255, 255, 255])
        );
        // Found by the render fuzzer: BitsStored 65535 overflowed the shift.
        assert_eq!(
            rgb_from_interleaved(&data, 1, 2, u16::MAX).unwrap(),
            Samples::Rgb(vec![255, 255, 255])
        );
    }
}
