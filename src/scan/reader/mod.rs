//! A lean, bounded DICOM header reader: walks the elements of a byte prefix of a file up to
//! Pixel Data without building a DICOM object or reading pixels.
//!
//! Why not `dicom_object::OpenFileOptions::read_until(PIXEL_DATA)`: it decodes every value into an
//! in-memory object (several times slower than a scan needs to be) and trusts declared element
//! lengths, so a file claiming a 3 GB element takes tens of seconds to fail. This reader checks
//! every length against the real file size, only keeps borrowed slices of the few tags
//! [`crate::scan::record`] needs, and works on any byte prefix, so the same code serves local files
//! and object-store range reads: when the prefix ends before Pixel Data it says how many bytes it
//! needs ([`ReadError::NeedMore`]).

mod cursor;
mod dataset;
pub mod diffusion;
pub(crate) use dataset::{
    GE_IMAGE_TYPE, GE_INTERNAL_PULSE_SEQUENCE, GE_LOCATIONS, GE_PULSE_SEQUENCE,
};
pub mod gzip;
mod meta;
#[cfg(test)]
mod tests;
mod tree;
mod value;
mod vr;

use dicom_core::Tag;

use cursor::Cursor;
use dataset::{TOP_LEVEL_TAGS, read_dataset};
use meta::{correct_vr_mode, inflate_into, read_meta, read_without_meta, sniff_encoding};
pub use tree::{Attribute, Dataset, HeaderTree};
pub use vr::{has_long_length, is_vr};

/// Deepest sequence nesting accepted before a file is called corrupt (hostile-input guard).
const MAX_DEPTH: u8 = 32;
/// Largest inflated dataset accepted for the Deflated transfer syntax.
pub const MAX_INFLATED: u64 = 64 << 20;

const TS_IMPLICIT_LE: &str = "1.2.840.10008.1.2";
const TS_EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";
const TS_DEFLATED: &str = "1.2.840.10008.1.2.1.99";
const SOP_CLASS_MEDIA_DIRECTORY: &str = "1.2.840.10008.1.3.10";

const ITEM: Tag = Tag(0xFFFE, 0xE000);
const ITEM_DELIMITER: Tag = Tag(0xFFFE, 0xE00D);
const SEQUENCE_DELIMITER: Tag = Tag(0xFFFE, 0xE0DD);
const UNDEFINED: u32 = u32::MAX;

/// Byte order of binary values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

/// How the dataset's elements are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoding {
    pub explicit_vr: bool,
    pub endian: Endian,
}

const EXPLICIT_LE: Encoding = Encoding {
    explicit_vr: true,
    endian: Endian::Little,
};
const IMPLICIT_LE: Encoding = Encoding {
    explicit_vr: false,
    endian: Endian::Little,
};
const EXPLICIT_BE: Encoding = Encoding {
    explicit_vr: true,
    endian: Endian::Big,
};

/// A kept element: its tag and the raw bytes of its value.
pub type RawElement<'a> = (Tag, &'a [u8]);

/// Where the Pixel Data element starts and how long it says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelDataInfo {
    /// The Pixel Data tag found (Pixel Data, Float or Double Float Pixel Data).
    pub tag: Tag,
    /// Byte offset of the element header in the file (in the inflated stream for Deflated files).
    pub offset: u64,
    /// Declared value length; `None` when undefined (encapsulated, compressed frames).
    pub length: Option<u32>,
}

/// What the header walk kept from one file, borrowing from the bytes read.
#[derive(Debug)]
pub struct RawHeader<'a> {
    /// Transfer syntax UID from the file meta group (`None` when there is no meta group).
    pub transfer_syntax: Option<String>,
    /// Media Storage SOP Class UID from the file meta group.
    pub media_storage_sop_class: Option<String>,
    /// Encoding the dataset was read with.
    pub encoding: Encoding,
    /// Where the dataset starts: its byte offset in the file (in the inflated stream for
    /// Deflated files).
    pub dataset_start: usize,
    /// The dataset is written in the other VR mode than its transfer syntax declares.
    pub vr_mode_corrected: bool,
    /// Kept top-level elements, in file order.
    pub elements: Vec<RawElement<'a>>,
    /// Kept elements of the Shared Functional Groups Sequence.
    pub shared_group: Vec<RawElement<'a>>,
    /// Kept elements of each Per-Frame Functional Groups item, one list per frame.
    pub per_frame_groups: Vec<Vec<RawElement<'a>>>,
    /// Kept location elements of each Sequence of Ultrasound Regions item.
    pub ultrasound_regions: Vec<Vec<RawElement<'a>>>,
    /// Kept elements of each Optical Path Sequence item (slide microscopy).
    pub optical_paths: Vec<Vec<RawElement<'a>>>,
    /// `None` when the dataset ends without Pixel Data.
    pub pixel_data: Option<PixelDataInfo>,
}

impl RawHeader<'_> {
    /// A header with nothing read yet of the dataset that starts at `dataset_start`.
    fn before_dataset(meta: meta::Meta, encoding: Encoding, dataset_start: usize) -> Self {
        RawHeader {
            transfer_syntax: meta.transfer_syntax,
            media_storage_sop_class: meta.media_storage_sop_class,
            encoding,
            dataset_start,
            vr_mode_corrected: false,
            elements: Vec::with_capacity(TOP_LEVEL_TAGS.len()),
            shared_group: Vec::new(),
            per_frame_groups: Vec::new(),
            ultrasound_regions: Vec::new(),
            optical_paths: Vec::new(),
            pixel_data: None,
        }
    }

    /// Whether the file is a media directory (DICOMDIR) rather than an instance.
    pub fn is_dicomdir(&self) -> bool {
        self.media_storage_sop_class.as_deref() == Some(SOP_CLASS_MEDIA_DIRECTORY)
    }
}

/// Why a header could not be read from the bytes given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The prefix ended before Pixel Data; read at least this many bytes of the file and retry.
    NeedMore(u64),
    /// The bytes do not look like DICOM at all.
    NotDicom(String),
    /// The file looks like DICOM but is truncated or malformed.
    Corrupt(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NeedMore(n) => write!(f, "header continues past the bytes read (needs {n})"),
            ReadError::NotDicom(why) => write!(f, "not a DICOM file: {why}"),
            ReadError::Corrupt(why) => write!(f, "corrupt or truncated DICOM: {why}"),
        }
    }
}

/// The bytes to parse: a prefix of the file (or all of it) plus the file's real size.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub bytes: &'a [u8],
    /// Size of the whole file; lengths reaching past it mean corruption, not "read more".
    pub file_size: u64,
}

impl Input<'_> {
    pub(super) fn is_complete(&self) -> bool {
        self.bytes.len() as u64 >= self.file_size
    }
}

/// Reads the header of a DICOM file from `input`, stopping at Pixel Data.
///
/// `inflate_buf` receives the inflated dataset of Deflated files (the returned header borrows from
/// it); other files never touch it.
pub fn read_header<'a>(
    input: Input<'a>,
    inflate_buf: &'a mut Vec<u8>,
) -> Result<RawHeader<'a>, ReadError> {
    let Some(start) = locate_dataset(input, inflate_buf)? else {
        return read_without_meta(input);
    };
    let mut cursor = start.cursor;
    let mut header = RawHeader::before_dataset(start.meta, cursor.encoding, cursor.pos);
    header.vr_mode_corrected = start.vr_mode_corrected;
    // A media directory holds no image: its records (often with stale lengths) are not walked.
    if !header.is_dicomdir() {
        read_dataset(&mut cursor, &mut header, false)?;
    }
    Ok(header)
}

/// Where a file's dataset starts, after its file meta group.
struct DatasetStart<'a> {
    meta: meta::Meta,
    /// At the first dataset element, with the encoding in force.
    cursor: Cursor<'a>,
    vr_mode_corrected: bool,
}

/// Reads the file meta group and finds how the dataset after it is encoded; `None` for a file
/// without preamble and meta group.
fn locate_dataset<'a>(
    input: Input<'a>,
    inflate_buf: &'a mut Vec<u8>,
) -> Result<Option<DatasetStart<'a>>, ReadError> {
    let bytes = input.bytes;
    let meta_start = if bytes.len() >= 132 && &bytes[128..132] == b"DICM" {
        Some(132)
    } else if bytes.len() >= 6 && bytes[0..2] == [0x02, 0x00] && is_vr(&bytes[4..6]) {
        Some(0)
    } else {
        None
    };
    let Some(meta_start) = meta_start else {
        if !input.is_complete() && bytes.len() < 132 {
            return Err(ReadError::NeedMore(132.min(input.file_size)));
        }
        return Ok(None);
    };

    let mut cursor = Cursor::new(input, meta_start, EXPLICIT_LE);
    let meta = read_meta(&mut cursor)?;
    let dataset_start = cursor.pos;
    let ts = meta.transfer_syntax.as_deref();

    let mut vr_mode_corrected = false;
    let cursor = if ts == Some(TS_DEFLATED) {
        if !input.is_complete() {
            return Err(ReadError::NeedMore(input.file_size));
        }
        inflate_into(&bytes[dataset_start..], inflate_buf)?;
        let inflated = Input {
            bytes: inflate_buf.as_slice(),
            file_size: inflate_buf.len() as u64,
        };
        Cursor::new(inflated, 0, EXPLICIT_LE)
    } else {
        let encoding = match ts {
            Some(TS_IMPLICIT_LE) => IMPLICIT_LE,
            Some(TS_EXPLICIT_BE) => EXPLICIT_BE,
            Some(_) => EXPLICIT_LE,
            None => sniff_encoding(&bytes[dataset_start..]).unwrap_or(IMPLICIT_LE),
        };
        let dataset = &bytes[dataset_start..];
        // The first element decides the VR mode: its first 6 bytes are needed when the file has them.
        if dataset.len() < 6 && !input.is_complete() {
            return Err(ReadError::NeedMore(
                (dataset_start as u64 + 6).min(input.file_size),
            ));
        }
        let corrected = correct_vr_mode(encoding, dataset);
        vr_mode_corrected = corrected != encoding;
        Cursor::new(input, dataset_start, corrected)
    };
    Ok(Some(DatasetStart {
        meta,
        cursor,
        vr_mode_corrected,
    }))
}

/// Checks that the Pixel Data element found at `pixel` lies within `input`: a defined length
/// fits, and so does every fragment item of encapsulated data, up to the sequence delimiter.
/// Returns the offset where the element ends. (The header walk stops at Pixel Data; this is for
/// readers that go on to load it.)
pub fn check_pixel_data(
    input: Input<'_>,
    encoding: Encoding,
    pixel: PixelDataInfo,
) -> Result<usize, ReadError> {
    let mut cursor = Cursor::new(input, pixel.offset as usize, encoding);
    let element = cursor.element_header()?;
    if element.length == UNDEFINED {
        // Fragments hold codec bytes, not elements: each item is checked and stepped over.
        cursor.for_each_item(&element, 1, &mut |_, _| Ok(()))?;
    } else {
        cursor.pos += cursor.check_length(&element)?;
    }
    Ok(cursor.pos)
}

/// Checks every top-level element from byte `start` to the end of `input` (lengths within the
/// data, nesting bounded), keeping nothing.
pub fn check_elements(input: Input<'_>, encoding: Encoding, start: usize) -> Result<(), ReadError> {
    let mut cursor = Cursor::new(input, start, encoding);
    // Trailing padding of fewer bytes than an element header is tolerated.
    while cursor.remaining() >= 8 {
        let element = cursor.element_header()?;
        cursor.skip_value(&element, 0)?;
    }
    Ok(())
}

/// Formats a tag as `(gggg,eeee)`.
pub fn fmt_tag(tag: Tag) -> String {
    format!("({:04X},{:04X})", tag.0, tag.1)
}

/// A text value without trailing padding (spaces and NULs) or leading spaces.
pub fn trim_text(value: &[u8]) -> String {
    String::from_utf8_lossy(value)
        .trim_matches(|c: char| c == ' ' || c == '\0')
        .to_string()
}
