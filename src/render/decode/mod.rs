//! Decoding one frame of a DICOM file into stored sample values.
//!
//! Encapsulated (compressed) pixel data goes through dicom-pixeldata's codecs, one frame at a
//! time. Native pixel data is read by this module directly from the Pixel Data element, which
//! closes gaps of the crate as it comes: uncompressed YBR_FULL_422, 32-bit samples, 1-bit
//! samples, and PALETTE COLOR (applied here).

mod attributes;
mod bounds;
mod codecs;
mod colour;
mod cost;
mod grey;
mod jpeg12;
mod lone_frame;
mod mosaic;
mod native;
mod syntax;

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
use super::jpeg_ls;
use super::lut::{AffineLevels, LutTable, ModalityLut, Voi, VoiFunction, Window};
use super::rle;
use crate::scan::InstanceHeader;
use crate::scan::reader::{Input, check_elements, check_pixel_data, gzip, read_header};
use attributes::{first_item, int_value, read_lut, read_palette, text_value};
use bounds::check_bounds;
use colour::{interleave_planes, rgb_from_interleaved, ybr_422_to_rgb, ybr_to_rgb};
use syntax::ParseSyntaxes;

pub use cost::decode_cost;
pub use grey::{GreyValues, Levels, PackedLayout, grey_samples, grey_values};
pub use native::{
    is_native_grey, native_grey_frame, native_grey_pixels, native_rgb_frame, native_rgb_pixels,
};

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

impl Frame {
    /// The `width` x `height` rectangle at column `x`, row `y`, as a frame of its own; `None`
    /// when it does not lie within the frame.
    pub fn cropped(&self, x: u32, y: u32, width: u32, height: u32) -> Option<Frame> {
        if x.checked_add(width)? > self.width || y.checked_add(height)? > self.height {
            return None;
        }
        let frame_width = self.width as usize;
        let (origin, size) = ((x as usize, y as usize), (width as usize, height as usize));
        let samples = match &self.samples {
            Samples::Grey(values) => Samples::Grey(values.crop(frame_width, origin, size)?),
            Samples::Rgb(rgb) => Samples::Rgb(crop_rgb(rgb, frame_width, origin, size)?),
        };
        Some(Frame {
            width,
            height,
            samples,
        })
    }
}

/// The `width` x `height` rectangle at (`x`, `y`) of interleaved RGB `frame_width` pixels wide.
fn crop_rgb(
    rgb: &[u8],
    frame_width: usize,
    (x, y): (usize, usize),
    (width, height): (usize, usize),
) -> Option<Vec<u8>> {
    if x.checked_add(width)? > frame_width
        || y.checked_add(height)?
            .checked_mul(frame_width)?
            .checked_mul(3)?
            > rgb.len()
    {
        return None;
    }
    let mut out = Vec::with_capacity(width * height * 3);
    for row in y..y + height {
        let start = (row * frame_width + x) * 3;
        out.extend_from_slice(&rgb[start..start + width * 3]);
    }
    Some(out)
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
    /// A Siemens mosaic's tiles, given as its frames ([`DicomImage::with_mosaic`]).
    tiles: Option<mosaic::Tiles>,
    /// The number of its first frame in its instance, in messages: 0, but for a frame read on
    /// its own ([`DicomImage::from_frame`]).
    frame_base: u32,
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

/// Parses a DICOM file's data set up to Pixel Data (all of a structure set, which has none)
/// once the bounded reader has walked it, so that dicom-object only sees element lengths that
/// fit in the data. A gzip-compressed file is inflated first.
pub fn open_dataset(bytes: &[u8]) -> Result<DefaultDicomObject, DecodeError> {
    let inflated_file;
    let bytes = if gzip::is_gzip(bytes) {
        inflated_file = gzip::gunzip(bytes).map_err(DecodeError)?;
        &inflated_file[..]
    } else {
        bytes
    };
    let whole = Input {
        bytes,
        file_size: bytes.len() as u64,
    };
    let mut inflated = Vec::new();
    let header = read_header(whole, &mut inflated).map_err(|e| DecodeError(e.to_string()))?;
    let syntax = header.transfer_syntax.clone().unwrap_or_default();
    let explicit_vr = header
        .vr_mode_corrected
        .then_some(header.encoding.explicit_vr);
    OpenFileOptions::new()
        .transfer_syntax_index(ParseSyntaxes::new(&syntax, explicit_vr))
        .read_until(tags::PIXEL_DATA)
        .from_reader(bytes)
        .map_err(|e| DecodeError(format!("cannot open as DICOM: {}", error_chain(&e))))
}

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
    ///
    /// A gzip-compressed file (recognised by its first bytes) is inflated first, within the
    /// bound of [`crate::scan::reader::gzip`].
    pub fn from_shared(bytes: Bytes) -> Result<Self, DecodeError> {
        let bytes = if gzip::is_gzip(&bytes) {
            Bytes::from(gzip::gunzip(&bytes).map_err(DecodeError)?)
        } else {
            bytes
        };
        let bounds = check_bounds(&bytes).map_err(DecodeError)?;
        let syntaxes = ParseSyntaxes::new(&bounds.transfer_syntax, bounds.explicit_vr);
        let options = OpenFileOptions::new().transfer_syntax_index(syntaxes);
        let options = if bounds.native_value.is_some() {
            options.read_until(tags::PIXEL_DATA)
        } else {
            options.read_to(tags::PIXEL_DATA)
        };
        let object = options
            .from_reader(&bytes[..bounds.end])
            .map_err(|e| DecodeError(format!("cannot open as DICOM: {}", error_chain(&e))))?;
        let native = bounds
            .native_value
            .map(|value| NativePixels { file: bytes, value });
        Self::from_object(object, native)
    }

    /// The image of a parsed data set: its Pixel Data in `object`, or, for a native
    /// little-endian file, left in its bytes (`native`).
    fn from_object(
        object: DefaultDicomObject,
        native: Option<NativePixels>,
    ) -> Result<Self, DecodeError> {
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
            native,
            tiles: None,
            frame_base: 0,
        })
    }

    /// The image with its palette set aside: PALETTE COLOR frames decode to their stored
    /// indices (a label map's values are segment numbers; its palette only shows them).
    pub fn without_palette(mut self) -> Self {
        self.palette = None;
        self
    }

    /// The file's data set, up to the pixels (every element, private ones included), for the
    /// writers that need more of the header than the scan keeps (NIfTI sidecars).
    pub fn dataset(&self) -> &InMemDicomObject {
        &self.object
    }

    /// Number of frames (1 for single-frame files; the tiles of a mosaic).
    pub fn frame_count(&self) -> u32 {
        self.tiles.as_ref().map_or(self.frames, |t| t.count())
    }

    /// Transfer syntax UID of the file.
    pub fn transfer_syntax(&self) -> &str {
        &self.transfer_syntax
    }

    /// Whether low values are white.
    /// BitsStored (BitsAllocated when absent).
    pub fn bits_stored(&self) -> u16 {
        self.bits_stored
    }

    pub fn is_monochrome1(&self) -> bool {
        self.photometric == "MONOCHROME1"
    }

    /// Decodes frame `frame` (0-based); of a mosaic, tile `frame`.
    pub fn frame(&self, frame: u32) -> Result<Frame, DecodeError> {
        match &self.tiles {
            Some(tiles) => self.tile(tiles, frame),
            None => self.stored_frame(frame),
        }
    }

    /// Decodes frame `frame` (0-based) as stored in the file (of a mosaic, the whole grid).
    pub fn stored_frame(&self, frame: u32) -> Result<Frame, DecodeError> {
        if frame >= self.frames {
            return Err(DecodeError(format!(
                "frame {} out of range ({} frames)",
                self.number(frame),
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

    /// Frame `frame`'s number in its instance (0-based), for messages.
    fn number(&self, frame: u32) -> u32 {
        self.frame_base.saturating_add(frame)
    }

    fn pixel_count(&self) -> usize {
        self.rows as usize * self.columns as usize
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
}

impl DicomImage {
    /// The overlay planes (60xx) of the file; none for a mosaic (its planes would cover the
    /// whole grid, not a tile).
    pub fn overlays(&self) -> Result<Vec<OverlayPlane>, DecodeError> {
        if self.tiles.is_some() {
            return Ok(Vec::new());
        }
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
