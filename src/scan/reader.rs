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

use dicom_core::Tag;
use dicom_dictionary_std::{StandardDataDictionary, tags};

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

/// Top-level tags whose values the scan keeps.
const TOP_LEVEL_TAGS: &[Tag] = &[
    tags::SPECIFIC_CHARACTER_SET,
    tags::IMAGE_TYPE,
    tags::SOP_CLASS_UID,
    tags::SOP_INSTANCE_UID,
    tags::MODALITY,
    tags::SERIES_DESCRIPTION,
    tags::SLICE_THICKNESS,
    tags::ECHO_NUMBERS,
    tags::STUDY_INSTANCE_UID,
    tags::SERIES_INSTANCE_UID,
    tags::SERIES_NUMBER,
    tags::ACQUISITION_NUMBER,
    tags::INSTANCE_NUMBER,
    tags::IMAGE_POSITION_PATIENT,
    tags::IMAGE_ORIENTATION_PATIENT,
    tags::TEMPORAL_POSITION_IDENTIFIER,
    tags::SLICE_LOCATION,
    tags::SAMPLES_PER_PIXEL,
    tags::PHOTOMETRIC_INTERPRETATION,
    tags::NUMBER_OF_FRAMES,
    tags::ROWS,
    tags::COLUMNS,
    tags::PIXEL_SPACING,
    tags::BITS_ALLOCATED,
    tags::BITS_STORED,
    tags::PIXEL_REPRESENTATION,
    tags::WINDOW_CENTER,
    tags::WINDOW_WIDTH,
    tags::RESCALE_INTERCEPT,
    tags::RESCALE_SLOPE,
];

/// Sequences inside a functional-group item that the scan descends into.
const FUNCTIONAL_GROUP_SEQUENCES: &[Tag] = &[
    tags::FRAME_CONTENT_SEQUENCE,
    tags::PLANE_POSITION_SEQUENCE,
    tags::PLANE_ORIENTATION_SEQUENCE,
    tags::PIXEL_MEASURES_SEQUENCE,
    tags::FRAME_VOILUT_SEQUENCE,
    tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE,
];

/// Leaf tags kept from inside those sequences.
const FUNCTIONAL_GROUP_TAGS: &[Tag] = &[
    tags::SLICE_THICKNESS,
    tags::IMAGE_POSITION_PATIENT,
    tags::IMAGE_ORIENTATION_PATIENT,
    tags::STACK_ID,
    tags::IN_STACK_POSITION_NUMBER,
    tags::TEMPORAL_POSITION_INDEX,
    tags::DIMENSION_INDEX_VALUES,
    tags::PIXEL_SPACING,
    tags::WINDOW_CENTER,
    tags::WINDOW_WIDTH,
    tags::RESCALE_INTERCEPT,
    tags::RESCALE_SLOPE,
];

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
    /// The dataset is written in the other VR mode than its transfer syntax declares.
    pub vr_mode_corrected: bool,
    /// Kept top-level elements, in file order.
    pub elements: Vec<RawElement<'a>>,
    /// Kept elements of the Shared Functional Groups Sequence.
    pub shared_group: Vec<RawElement<'a>>,
    /// Kept elements of each Per-Frame Functional Groups item, one list per frame.
    pub per_frame_groups: Vec<Vec<RawElement<'a>>>,
    /// `None` when the dataset ends without Pixel Data.
    pub pixel_data: Option<PixelDataInfo>,
}

impl RawHeader<'_> {
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
    fn is_complete(&self) -> bool {
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
        return read_without_meta(input);
    };

    let mut cursor = Cursor::new(input, meta_start, EXPLICIT_LE);
    let meta = read_meta(&mut cursor)?;
    let dataset_start = cursor.pos;
    let ts = meta.transfer_syntax.as_deref();

    let mut vr_mode_corrected = false;
    let (mut cursor, encoding) = if ts == Some(TS_DEFLATED) {
        if !input.is_complete() {
            return Err(ReadError::NeedMore(input.file_size));
        }
        inflate_into(&bytes[dataset_start..], inflate_buf)?;
        let inflated = Input {
            bytes: inflate_buf.as_slice(),
            file_size: inflate_buf.len() as u64,
        };
        (Cursor::new(inflated, 0, EXPLICIT_LE), EXPLICIT_LE)
    } else {
        let encoding = match ts {
            Some(TS_IMPLICIT_LE) => IMPLICIT_LE,
            Some(TS_EXPLICIT_BE) => EXPLICIT_BE,
            Some(_) => EXPLICIT_LE,
            None => sniff_encoding(&bytes[dataset_start..]).unwrap_or(IMPLICIT_LE),
        };
        let corrected = correct_vr_mode(encoding, &bytes[dataset_start..], input.file_size);
        vr_mode_corrected = corrected != encoding;
        (Cursor::new(input, dataset_start, corrected), corrected)
    };

    let mut header = RawHeader {
        transfer_syntax: meta.transfer_syntax,
        media_storage_sop_class: meta.media_storage_sop_class,
        encoding,
        vr_mode_corrected,
        elements: Vec::with_capacity(TOP_LEVEL_TAGS.len()),
        shared_group: Vec::new(),
        per_frame_groups: Vec::new(),
        pixel_data: None,
    };
    // A media directory holds no image: its records (often with stale lengths) are not walked.
    if !header.is_dicomdir() {
        read_dataset(&mut cursor, &mut header, false)?;
    }
    Ok(header)
}

/// File meta values the scan uses.
struct Meta {
    transfer_syntax: Option<String>,
    media_storage_sop_class: Option<String>,
}

fn read_meta(cursor: &mut Cursor<'_>) -> Result<Meta, ReadError> {
    let mut meta = Meta {
        transfer_syntax: None,
        media_storage_sop_class: None,
    };
    let mut group_end: Option<usize> = None;
    loop {
        if let Some(end) = group_end
            && cursor.pos >= end
        {
            break;
        }
        if cursor.remaining() < 4 {
            cursor.need(4)?;
        }
        if cursor.peek_u16(0) != 0x0002 {
            break;
        }
        let header = cursor.element_header()?;
        let value = cursor.value(&header)?;
        match header.tag {
            Tag(0x0002, 0x0000) if value.len() == 4 => {
                let length = u32::from_le_bytes([value[0], value[1], value[2], value[3]]);
                group_end = Some(cursor.pos.saturating_add(length as usize));
            }
            tags::TRANSFER_SYNTAX_UID => meta.transfer_syntax = Some(trim_text(value)),
            tags::MEDIA_STORAGE_SOP_CLASS_UID => {
                meta.media_storage_sop_class = Some(trim_text(value))
            }
            _ => {}
        }
    }
    Ok(meta)
}

/// Files without the 128-byte preamble and meta group: accepted when the first elements parse as
/// a plausible dataset (group 0008 first, the way such files are written).
fn read_without_meta(input: Input<'_>) -> Result<RawHeader<'_>, ReadError> {
    let Some(encoding) = sniff_encoding(input.bytes) else {
        return Err(ReadError::NotDicom(
            "no DICOM preamble, file meta or dataset start".into(),
        ));
    };
    let mut header = RawHeader {
        transfer_syntax: None,
        media_storage_sop_class: None,
        encoding,
        vr_mode_corrected: false,
        elements: Vec::with_capacity(TOP_LEVEL_TAGS.len()),
        shared_group: Vec::new(),
        per_frame_groups: Vec::new(),
        pixel_data: None,
    };
    let mut cursor = Cursor::new(input, 0, encoding);
    match read_dataset(&mut cursor, &mut header, true) {
        Ok(()) => Ok(header),
        Err(ReadError::Corrupt(reason)) => Err(ReadError::NotDicom(format!(
            "no DICOM preamble or file meta, and the content does not parse as a dataset ({reason})"
        ))),
        Err(other) => Err(other),
    }
}

/// Guesses the encoding of a dataset that starts at `bytes[0]` with a group 0008 (or 0002/0004)
/// element: big- or little-endian tag, explicit VR letters or an implicit 4-byte length.
fn sniff_encoding(bytes: &[u8]) -> Option<Encoding> {
    if bytes.len() < 8 {
        return None;
    }
    let plausible = |group: u16| matches!(group, 0x0002 | 0x0004 | 0x0008);
    let group_le = u16::from_le_bytes([bytes[0], bytes[1]]);
    let group_be = u16::from_be_bytes([bytes[0], bytes[1]]);
    let explicit = is_vr(&bytes[4..6]);
    if plausible(group_le) {
        Some(if explicit { EXPLICIT_LE } else { IMPLICIT_LE })
    } else if plausible(group_be) && explicit {
        Some(EXPLICIT_BE)
    } else {
        None
    }
}

/// Some writers declare one VR mode and write the other (pydicom warns and follows the bytes):
/// an "explicit" first element without VR letters is read as implicit, and an "implicit" one
/// with VR letters whose implicit length would overrun the file is read as explicit.
fn correct_vr_mode(declared: Encoding, dataset: &[u8], file_size: u64) -> Encoding {
    if dataset.len() < 8 {
        return declared;
    }
    let has_vr = is_vr(&dataset[4..6]);
    let implicit_length = match declared.endian {
        Endian::Little => u32::from_le_bytes([dataset[4], dataset[5], dataset[6], dataset[7]]),
        Endian::Big => u32::from_be_bytes([dataset[4], dataset[5], dataset[6], dataset[7]]),
    };
    match (declared.explicit_vr, has_vr) {
        (true, false) => Encoding {
            explicit_vr: false,
            ..declared
        },
        (false, true) if u64::from(implicit_length) > file_size => Encoding {
            explicit_vr: true,
            ..declared
        },
        _ => declared,
    }
}

fn inflate_into(deflated: &[u8], out: &mut Vec<u8>) -> Result<(), ReadError> {
    use std::io::Read;
    out.clear();
    let decoder = flate2::read::DeflateDecoder::new(deflated);
    decoder
        .take(MAX_INFLATED + 1)
        .read_to_end(out)
        .map_err(|e| ReadError::Corrupt(format!("deflated dataset does not inflate: {e}")))?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(ReadError::Corrupt(format!(
            "deflated dataset inflates beyond {} MiB",
            MAX_INFLATED >> 20
        )));
    }
    Ok(())
}

/// Walks the top-level dataset, keeping wanted elements and descending into functional groups.
///
/// With `strict_order`, tags must ascend (used to judge whether meta-less bytes are DICOM at all).
fn read_dataset<'a>(
    cursor: &mut Cursor<'a>,
    header: &mut RawHeader<'a>,
    strict_order: bool,
) -> Result<(), ReadError> {
    let mut previous_tag = Tag(0, 0);
    loop {
        if cursor.remaining() == 0 {
            if cursor.input.is_complete() || cursor.absolute() >= cursor.input.file_size {
                return Ok(()); // dataset ended without Pixel Data
            }
            cursor.need(8)?;
        }
        // Trailing padding of fewer bytes than an element header is tolerated.
        if cursor.input.is_complete() && cursor.remaining() < 8 {
            return Ok(());
        }
        let start = cursor.absolute();
        let element = cursor.element_header()?;
        let tag = element.tag;
        if strict_order && tag < previous_tag {
            return Err(ReadError::Corrupt(format!(
                "element {} at byte {start} is out of order after {}",
                fmt_tag(tag),
                fmt_tag(previous_tag)
            )));
        }
        previous_tag = tag;
        if matches!(
            tag,
            tags::PIXEL_DATA | tags::FLOAT_PIXEL_DATA | tags::DOUBLE_FLOAT_PIXEL_DATA
        ) {
            header.pixel_data = Some(PixelDataInfo {
                tag,
                offset: start,
                length: (element.length != UNDEFINED).then_some(element.length),
            });
            return Ok(());
        }
        match tag {
            tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE => {
                let mut items = Vec::new();
                read_functional_groups(cursor, &element, &mut items)?;
                header.shared_group = items.into_iter().next().unwrap_or_default();
            }
            tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE => {
                read_functional_groups(cursor, &element, &mut header.per_frame_groups)?;
            }
            _ if TOP_LEVEL_TAGS.binary_search(&tag).is_ok() && element.length != UNDEFINED => {
                let value = cursor.value(&element)?;
                header.elements.push((tag, value));
            }
            _ => cursor.skip_value(&element, 0)?,
        }
    }
}

/// Reads a functional groups sequence: one list of kept leaf elements per item.
fn read_functional_groups<'a>(
    cursor: &mut Cursor<'a>,
    sequence: &ElementHeader,
    out: &mut Vec<Vec<RawElement<'a>>>,
) -> Result<(), ReadError> {
    cursor.for_each_item(sequence, 1, &mut |cursor, item_end| {
        let mut kept = Vec::new();
        cursor.for_each_element(item_end, 2, &mut |cursor, element| {
            if FUNCTIONAL_GROUP_SEQUENCES.contains(&element.tag) {
                cursor.for_each_item(&element, 3, &mut |cursor, inner_end| {
                    cursor.for_each_element(inner_end, 4, &mut |cursor, leaf| {
                        if FUNCTIONAL_GROUP_TAGS.contains(&leaf.tag) && leaf.length != UNDEFINED {
                            kept.push((leaf.tag, cursor.value(&leaf)?));
                            Ok(())
                        } else {
                            cursor.skip_value(&leaf, 5)
                        }
                    })
                })
            } else {
                cursor.skip_value(&element, 3)
            }
        })?;
        out.push(kept);
        Ok(())
    })
}

/// An element's tag, VR (explicit encodings only) and declared length.
#[derive(Debug, Clone, Copy)]
struct ElementHeader {
    tag: Tag,
    vr: Option<[u8; 2]>,
    length: u32,
}

impl ElementHeader {
    /// Undefined-length UN values hold implicit little-endian items (PS3.5 6.2.2).
    fn is_undefined_un(&self) -> bool {
        self.vr == Some(*b"UN") && self.length == UNDEFINED
    }
}

/// Where an item or element list ends: at a byte offset, or at a delimiter item.
#[derive(Debug, Clone, Copy)]
enum End {
    At(usize),
    Delimited,
}

type Visit<'v, 'a> = dyn FnMut(&mut Cursor<'a>, ElementHeader) -> Result<(), ReadError> + 'v;
type VisitItem<'v, 'a> = dyn FnMut(&mut Cursor<'a>, End) -> Result<(), ReadError> + 'v;

/// A position in the input with the encoding in force, checking every length it follows.
struct Cursor<'a> {
    input: Input<'a>,
    pos: usize,
    encoding: Encoding,
}

impl<'a> Cursor<'a> {
    fn new(input: Input<'a>, pos: usize, encoding: Encoding) -> Self {
        Cursor {
            input,
            pos,
            encoding,
        }
    }

    fn remaining(&self) -> usize {
        self.input.bytes.len().saturating_sub(self.pos)
    }

    fn absolute(&self) -> u64 {
        self.pos as u64
    }

    /// Fails unless `n` more bytes are available: asks for more input when the file has them.
    fn need(&self, n: usize) -> Result<(), ReadError> {
        if self.remaining() >= n {
            return Ok(());
        }
        let wanted = self.pos as u64 + n as u64;
        if self.input.is_complete() || wanted > self.input.file_size {
            Err(ReadError::Corrupt(format!(
                "file ends at byte {} inside an element that needs {wanted} bytes (truncated?)",
                self.input.file_size.min(self.input.bytes.len() as u64)
            )))
        } else {
            Err(ReadError::NeedMore(wanted))
        }
    }

    fn peek_u16(&self, at: usize) -> u16 {
        let b = &self.input.bytes[self.pos + at..self.pos + at + 2];
        match self.encoding.endian {
            Endian::Little => u16::from_le_bytes([b[0], b[1]]),
            Endian::Big => u16::from_be_bytes([b[0], b[1]]),
        }
    }

    fn peek_u32(&self, at: usize) -> u32 {
        let b = &self.input.bytes[self.pos + at..self.pos + at + 4];
        match self.encoding.endian {
            Endian::Little => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            Endian::Big => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        }
    }

    fn element_header(&mut self) -> Result<ElementHeader, ReadError> {
        self.need(8)?;
        let tag = Tag(self.peek_u16(0), self.peek_u16(2));
        if tag.0 == 0xFFFE || !self.encoding.explicit_vr {
            let length = self.peek_u32(4);
            // The same check as below for implicit VR, with the VR dicom-object gives the tag.
            if tag.0 != 0xFFFE
                && let Some(size) = implicit_number_size(tag)
                && length != UNDEFINED
                && !length.is_multiple_of(size)
            {
                return Err(ReadError::Corrupt(format!(
                    "element {} at byte {} is a binary number of {size} bytes but has a length of {length}",
                    fmt_tag(tag),
                    self.pos,
                )));
            }
            self.pos += 8;
            return Ok(ElementHeader {
                tag,
                vr: None,
                length,
            });
        }
        let vr = [
            self.input.bytes[self.pos + 4],
            self.input.bytes[self.pos + 5],
        ];
        if !is_vr(&vr) {
            return Err(ReadError::Corrupt(format!(
                "element {} at byte {} has an invalid VR {:?}",
                fmt_tag(tag),
                self.pos,
                String::from_utf8_lossy(&vr)
            )));
        }
        let (length, header) = if has_long_length(&vr) {
            self.need(12)?;
            (self.peek_u32(8), 12)
        } else {
            (u32::from(self.peek_u16(6)), 8)
        };
        // A binary number's length is a multiple of its size; dicom-object would step over
        // such a value differently from us and read whatever follows as lengths.
        if let Some(size) = number_size(&vr)
            && length != UNDEFINED
            && length % size != 0
        {
            return Err(ReadError::Corrupt(format!(
                "element {} at byte {} has VR {} but a length of {length}, not a multiple of {size}",
                fmt_tag(tag),
                self.pos,
                String::from_utf8_lossy(&vr)
            )));
        }
        self.pos += header;
        Ok(ElementHeader {
            tag,
            vr: Some(vr),
            length,
        })
    }

    /// Checks a defined length against the bytes available and the file size.
    fn check_length(&self, element: &ElementHeader) -> Result<usize, ReadError> {
        let length = element.length as usize;
        let end = self.pos as u64 + element.length as u64;
        if end > self.input.file_size {
            return Err(ReadError::Corrupt(format!(
                "element {} at byte {} declares {} bytes, beyond the end of the file ({} bytes)",
                fmt_tag(element.tag),
                self.pos,
                element.length,
                self.input.file_size
            )));
        }
        self.need(length)?;
        Ok(length)
    }

    fn value(&mut self, element: &ElementHeader) -> Result<&'a [u8], ReadError> {
        let length = self.check_length(element)?;
        let bytes = self.input.bytes;
        let value = &bytes[self.pos..self.pos + length];
        self.pos += length;
        Ok(value)
    }

    /// Skips a value; sequences are walked item by item even with a defined length, so that
    /// nesting stays bounded for every later reader (dicom-object recurses into them).
    fn skip_value(&mut self, element: &ElementHeader, depth: u8) -> Result<(), ReadError> {
        if element.length != UNDEFINED && !is_sequence(element) {
            let length = self.check_length(element)?;
            self.pos += length;
            return Ok(());
        }
        self.for_each_item(element, depth + 1, &mut |cursor, end| {
            cursor.for_each_element(end, depth + 2, &mut |cursor, inner| {
                cursor.skip_value(&inner, depth + 2)
            })
        })
    }

    /// Calls `visit` for each item of a sequence (defined or undefined length).
    fn for_each_item(
        &mut self,
        sequence: &ElementHeader,
        depth: u8,
        visit: &mut VisitItem<'_, 'a>,
    ) -> Result<(), ReadError> {
        if depth > MAX_DEPTH {
            return Err(ReadError::Corrupt(format!(
                "sequences nested deeper than {MAX_DEPTH}"
            )));
        }
        let saved = self.encoding;
        if sequence.is_undefined_un() {
            self.encoding = IMPLICIT_LE;
        }
        let result = self.items(sequence, visit);
        self.encoding = saved;
        result
    }

    fn items(
        &mut self,
        sequence: &ElementHeader,
        visit: &mut VisitItem<'_, 'a>,
    ) -> Result<(), ReadError> {
        let end = if sequence.length == UNDEFINED {
            End::Delimited
        } else {
            End::At(self.pos + self.check_length(sequence)?)
        };
        loop {
            if let End::At(end) = end
                && self.pos >= end
            {
                return Ok(());
            }
            let item = self.element_header()?;
            match item.tag {
                SEQUENCE_DELIMITER => return Ok(()),
                ITEM if item.length == UNDEFINED => visit(self, End::Delimited)?,
                ITEM => {
                    let item_end = self.pos + self.check_length(&item)?;
                    visit(self, End::At(item_end))?;
                    self.pos = item_end;
                }
                other => {
                    return Err(ReadError::Corrupt(format!(
                        "expected an item in sequence {} but found {} at byte {}",
                        fmt_tag(sequence.tag),
                        fmt_tag(other),
                        self.pos
                    )));
                }
            }
        }
    }

    /// Calls `visit` for each element of an item; `visit` must consume or skip the value.
    fn for_each_element(
        &mut self,
        end: End,
        depth: u8,
        visit: &mut Visit<'_, 'a>,
    ) -> Result<(), ReadError> {
        if depth > MAX_DEPTH {
            return Err(ReadError::Corrupt(format!(
                "sequences nested deeper than {MAX_DEPTH}"
            )));
        }
        loop {
            if let End::At(end) = end
                && self.pos >= end
            {
                return Ok(());
            }
            let element = self.element_header()?;
            if element.tag == ITEM_DELIMITER {
                return Ok(());
            }
            visit(self, element)?;
            if let End::At(end) = end
                && self.pos > end
            {
                return Err(ReadError::Corrupt(format!(
                    "element {} runs past the end of its item at byte {end}",
                    fmt_tag(element.tag)
                )));
            }
        }
    }
}

/// Whether an element is a sequence: by its VR, or (implicit VR) by the standard dictionary, as
/// dicom-object decides.
fn is_sequence(element: &ElementHeader) -> bool {
    use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
    match element.vr {
        Some(vr) => &vr == b"SQ",
        None => {
            element.tag.0 != 0xFFFE
                && StandardDataDictionary
                    .by_tag(element.tag)
                    .is_some_and(|entry| entry.vr() == VirtualVr::Exact(dicom_core::VR::SQ))
        }
    }
}

/// Whether two bytes can be an explicit VR (unknown VRs included, as dicom-rs reads them).
pub fn is_vr(bytes: &[u8]) -> bool {
    bytes.len() == 2 && bytes[0].is_ascii_uppercase() && bytes[1].is_ascii_uppercase()
}

/// Whether an explicit VR has a 4-byte length field: every VR but the short ones of PS3.5
/// 7.1.2, unknown ones included (dicom-rs reads an unknown VR as UN, so must we to agree on
/// where elements end).
pub fn has_long_length(vr: &[u8; 2]) -> bool {
    !matches!(
        vr,
        b"AE"
            | b"AS"
            | b"AT"
            | b"CS"
            | b"DA"
            | b"DS"
            | b"DT"
            | b"FL"
            | b"FD"
            | b"IS"
            | b"LO"
            | b"LT"
            | b"PN"
            | b"SH"
            | b"SL"
            | b"SS"
            | b"ST"
            | b"TM"
            | b"UI"
            | b"UL"
            | b"US"
    )
}

/// The size of one value of a binary number VR (`US` 2, `UL` 4, `FD` 8...).
fn number_size(vr: &[u8; 2]) -> Option<u32> {
    match vr {
        b"SS" | b"US" => Some(2),
        b"SL" | b"UL" | b"FL" | b"AT" => Some(4),
        b"FD" | b"SV" | b"UV" => Some(8),
        _ => None,
    }
}

/// The size of a binary number the VR of `tag` in an implicit-VR dataset holds, as dicom-object
/// decides that VR: UL for group lengths, else the standard dictionary's (US for US-or-SS).
fn implicit_number_size(tag: Tag) -> Option<u32> {
    use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
    if tag.1 == 0 {
        return Some(4);
    }
    match StandardDataDictionary.by_tag(tag)?.vr() {
        VirtualVr::Exact(vr) => number_size(&vr.to_bytes()),
        VirtualVr::Xs => Some(2),
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds explicit VR little-endian bytes for tests.
    struct Writer(Vec<u8>);

    impl Writer {
        fn part10() -> Self {
            let mut w = Writer(vec![0; 128]);
            w.0.extend_from_slice(b"DICM");
            w.element(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1\0");
            w
        }
        fn element(&mut self, group: u16, elem: u16, vr: &[u8; 2], value: &[u8]) -> &mut Self {
            self.0.extend_from_slice(&group.to_le_bytes());
            self.0.extend_from_slice(&elem.to_le_bytes());
            self.0.extend_from_slice(vr);
            if has_long_length(vr) {
                self.0.extend_from_slice(&[0, 0]);
                self.0
                    .extend_from_slice(&(value.len() as u32).to_le_bytes());
            } else {
                self.0
                    .extend_from_slice(&(value.len() as u16).to_le_bytes());
            }
            self.0.extend_from_slice(value);
            self
        }
        fn raw(&mut self, bytes: &[u8]) -> &mut Self {
            self.0.extend_from_slice(bytes);
            self
        }
    }

    fn read(bytes: &[u8]) -> Result<RawHeader<'_>, ReadError> {
        // The inflate buffer is leaked so the header can borrow it in tests.
        let buf = Box::leak(Box::new(Vec::new()));
        read_header(
            Input {
                bytes,
                file_size: bytes.len() as u64,
            },
            buf,
        )
    }

    #[test]
    fn kept_tag_list_is_sorted_for_binary_search() {
        assert!(TOP_LEVEL_TAGS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn stops_at_pixel_data_and_keeps_wanted_tags() {
        let mut w = Writer::part10();
        w.element(0x0020, 0x0013, b"IS", b"7 ")
            .element(0x0020, 0x0020, b"CS", b"A ") // not wanted
            .element(0x7FE0, 0x0010, b"OW", &[0; 8]);
        let header = read(&w.0).unwrap();
        assert_eq!(
            header.transfer_syntax.as_deref(),
            Some("1.2.840.10008.1.2.1")
        );
        assert_eq!(header.elements, vec![(tags::INSTANCE_NUMBER, &b"7 "[..])]);
        let pixel = header.pixel_data.unwrap();
        assert_eq!(pixel.length, Some(8));
        assert_eq!(pixel.offset, 132 + 28 + 10 + 10);
    }

    #[test]
    fn asks_for_more_bytes_when_prefix_ends_early() {
        let mut w = Writer::part10();
        w.element(0x0010, 0x0010, b"PN", &[b'A'; 200])
            .element(0x7FE0, 0x0010, b"OW", &[0; 8]);
        let full = w.0.len() as u64;
        let mut buf = Vec::new();
        let err = read_header(
            Input {
                bytes: &w.0[..200],
                file_size: full,
            },
            &mut buf,
        )
        .unwrap_err();
        assert!(matches!(err, ReadError::NeedMore(n) if n > 200 && n <= full));
    }

    #[test]
    fn a_binary_number_of_the_wrong_length_is_corrupt() {
        let mut w = Writer::part10();
        w.element(0x0028, 0x0102, b"SL", &[7, 0]);
        let err = read(&w.0).unwrap_err();
        assert!(
            matches!(&err, ReadError::Corrupt(m) if m.contains("(0028,0102)") && m.contains("not a multiple of 4")),
            "{err:?}"
        );
        let mut w = Writer::part10();
        w.element(0x0028, 0x0102, b"US", &[7, 0]);
        assert!(read(&w.0).is_ok());
    }

    #[test]
    fn a_length_beyond_the_file_fails_fast() {
        let mut w = Writer::part10();
        w.raw(&[0x10, 0x00, 0x10, 0x00, b'O', b'B', 0, 0])
            .raw(&0x4000_0000u32.to_le_bytes());
        let err = read(&w.0).unwrap_err();
        assert!(
            matches!(&err, ReadError::Corrupt(m) if m.contains("beyond the end of the file")),
            "{err:?}"
        );
    }

    #[test]
    fn non_dicom_bytes_are_not_dicom() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01";
        assert!(matches!(read(png), Err(ReadError::NotDicom(_))));
        assert!(matches!(read(b""), Err(ReadError::NotDicom(_))));
        assert!(matches!(read(b"x"), Err(ReadError::NotDicom(_))));
    }

    #[test]
    fn dataset_without_pixel_data_has_none() {
        let mut w = Writer::part10();
        w.element(0x0008, 0x0060, b"CS", b"SR");
        let header = read(&w.0).unwrap();
        assert!(header.pixel_data.is_none());
        assert_eq!(header.elements, vec![(tags::MODALITY, &b"SR"[..])]);
    }

    #[test]
    fn reads_per_frame_functional_groups_with_undefined_lengths() {
        let mut w = Writer::part10();
        // (5200,9230) SQ undefined length, one item, undefined length, with a Plane Position
        // Sequence holding IPP, then item and sequence delimiters.
        w.raw(&[0x00, 0x52, 0x30, 0x92, b'S', b'Q', 0, 0])
            .raw(&UNDEFINED.to_le_bytes());
        w.raw(&[0xFE, 0xFF, 0x00, 0xE0])
            .raw(&UNDEFINED.to_le_bytes());
        let mut inner = Writer(Vec::new());
        inner.element(0x0020, 0x0032, b"DS", b"1\\2\\3 ");
        let mut item = Vec::new();
        item.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
        item.extend_from_slice(&(inner.0.len() as u32).to_le_bytes());
        item.extend_from_slice(&inner.0);
        w.element(0x0020, 0x9113, b"SQ", &item);
        w.raw(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0])
            .raw(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        w.element(0x7FE0, 0x0010, b"OB", &[]);
        let header = read(&w.0).unwrap();
        assert_eq!(
            header.per_frame_groups,
            vec![vec![(tags::IMAGE_POSITION_PATIENT, &b"1\\2\\3 "[..])]]
        );
        assert!(header.pixel_data.is_some());
    }

    #[test]
    fn deeply_nested_sequences_are_rejected_not_recursed_forever() {
        let mut w = Writer::part10();
        for _ in 0..100 {
            w.raw(&[0x09, 0x00, 0x10, 0x10, b'S', b'Q', 0, 0])
                .raw(&UNDEFINED.to_le_bytes());
            w.raw(&[0xFE, 0xFF, 0x00, 0xE0])
                .raw(&UNDEFINED.to_le_bytes());
        }
        let err = read(&w.0).unwrap_err();
        assert!(
            matches!(&err, ReadError::Corrupt(m) if m.contains("nested")),
            "{err:?}"
        );
    }

    #[test]
    fn pixel_data_extent_is_checked_and_trailing_elements_are_not_needed() {
        let mut w = Writer::part10();
        w.element(0x7FE0, 0x0010, b"OW", &[0; 8]);
        let end = w.0.len();
        // A trailing element declaring 4 GB: beyond Pixel Data, so not part of the extent.
        w.raw(&[0x0E, 0x00, 0x98, 0xE0, b'O', b'B', 0, 0])
            .raw(&0xEC4F_C80Eu32.to_le_bytes());
        let header = read(&w.0).unwrap();
        let input = Input {
            bytes: &w.0,
            file_size: w.0.len() as u64,
        };
        let pixel = header.pixel_data.unwrap();
        assert_eq!(check_pixel_data(input, header.encoding, pixel), Ok(end));
        assert!(check_elements(input, header.encoding, end).is_err());
        let short = Input {
            bytes: &w.0[..end - 1],
            file_size: end as u64 - 1,
        };
        assert!(check_pixel_data(short, header.encoding, pixel).is_err());
    }

    #[test]
    fn deep_nesting_with_defined_lengths_is_rejected_too() {
        // Built from the inside out: each level is a sequence holding one item holding the next.
        let mut nest = Vec::new();
        for _ in 0..100 {
            let mut item = vec![0xFE, 0xFF, 0x00, 0xE0];
            item.extend_from_slice(&(nest.len() as u32).to_le_bytes());
            item.extend_from_slice(&nest);
            let mut sequence = Writer(Vec::new());
            sequence.element(0x0009, 0x1010, b"SQ", &item);
            nest = sequence.0;
        }
        let mut w = Writer::part10();
        w.raw(&nest).element(0x7FE0, 0x0010, b"OW", &[0; 8]);
        let err = read(&w.0).unwrap_err();
        assert!(
            matches!(&err, ReadError::Corrupt(m) if m.contains("nested")),
            "{err:?}"
        );
    }
}
