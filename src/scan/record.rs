//! The compact per-instance record the scan keeps, decoded from a [`RawHeader`].

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_encoding::text::{SpecificCharacterSet, TextCodec};
use serde::{Deserialize, Serialize};

use super::burned_in::{self, Region};
use super::csa;
use super::frame_diffusion::{self, FrameDiffusion};
use super::mosaic::{Mosaic, MosaicSource};
use super::reader::{
    Endian, GE_IMAGE_TYPE, GE_INTERNAL_PULSE_SEQUENCE, GE_LOCATIONS, GE_PULSE_SEQUENCE, RawElement,
    RawHeader, fmt_tag, trim_text,
};
use super::slide::{self, SlideHeader};

/// Everything the pipeline needs to know about one DICOM instance, without its pixels.
///
/// Serialized as one JSON Lines record by `dicomprep scan`; absent values are omitted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceHeader {
    /// Path relative to the scanned source, with `/` separators.
    pub path: String,
    pub file_size: u64,
    /// Transfer syntax UID; for files without file meta, the encoding that was inferred.
    pub transfer_syntax: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sop_class_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sop_instance_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study_instance_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_instance_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_number: Option<i64>,
    /// StudyDate as written (YYYYMMDD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_part_examined: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer_model_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_number: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slice_location: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_position_patient: Option<[f64; 3]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_orientation_patient: Option<[f64; 6]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pixel_spacing: Option<[f64; 2]>,
    /// FrameOfReferenceUID: positions of instances that share it are in one patient space
    /// (labels placed by plane need it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_of_reference_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slice_thickness: Option<f64>,
    /// Rows of a frame (of a tile, for a Siemens mosaic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u16>,
    /// Columns of a frame (of a tile, for a Siemens mosaic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<u16>,
    /// NumberOfFrames, 1 when absent; for a Siemens mosaic, its number of tiles.
    pub number_of_frames: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples_per_pixel: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photometric_interpretation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bits_allocated: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bits_stored: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pixel_representation: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescale_slope: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescale_intercept: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub window_center: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub window_width: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_type: Vec<String>,
    /// First value of EchoNumbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo_number: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquisition_number: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporal_position_identifier: Option<i64>,
    /// The dataset is written in the other VR mode than its transfer syntax declares (read in
    /// the mode of its bytes, as pydicom and DCMTK's `-td` read it; rendering does the same).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vr_mode_corrected: bool,
    /// Byte offset of the Pixel Data element header (in the inflated stream for Deflated files).
    pub pixel_data_offset: u64,
    /// Per-frame values of enhanced multi-frame objects (shared functional groups folded in),
    /// or the tiles of a Siemens mosaic (position and orientation); empty for classic objects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<FrameHeader>,
    /// A Siemens mosaic (ImageType MOSAIC, one stored frame): how its single stored frame
    /// holds the tiles that `rows`, `columns`, `number_of_frames` and `frames` describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mosaic: Option<Mosaic>,
    /// MAGNITUDE, PHASE, REAL or IMAGINARY, where a vendor says so per image (GE's
    /// (0043,102F)): images of a series that differ in it are different volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complex_component: Option<String>,
    /// BurnedInAnnotation (0028,0301): whether the pixels carry text that identifies the
    /// patient (YES, NO; absent when not declared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burned_in_annotation: Option<bool>,
    /// The Sequence of Ultrasound Regions' regions: where the image proper lies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ultrasound_regions: Vec<Region>,
    /// Slide microscopy: the total pixel matrix its frames tile, and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slide: Option<SlideHeader>,
}

/// Per-frame values from an enhanced object's functional groups.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FrameHeader {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_position_patient: Option<[f64; 3]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_orientation_patient: Option<[f64; 6]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_stack_position: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporal_position_index: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimension_index_values: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescale_slope: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescale_intercept: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_center: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_width: Option<f64>,
    /// ComplexImageComponent (0008,9208) of the frame (MR Image Frame Type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complex_component: Option<String>,
    /// EffectiveEchoTime (0018,9082) of the frame, ms (MR Echo).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo_time: Option<f64>,
    /// Slide microscopy: the frame's first column and row in the total pixel matrix
    /// (1-based, Plane Position (Slide)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slide_position: Option<[i32; 2]>,
    /// Slide microscopy: ZOffsetInSlideCoordinateSystem (µm), its focal plane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub z_offset: Option<f64>,
    /// Slide microscopy: the frame's OpticalPathIdentifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optical_path: Option<String>,
    /// Diffusion weighting (MR Diffusion), when the scan read it exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diffusion: Option<FrameDiffusion>,
}

impl InstanceHeader {
    /// Rows and columns, when both are known.
    pub fn size(&self) -> Option<(u16, u16)> {
        Some((self.rows?, self.columns?))
    }

    /// Position of frame `frame` (0-based): per-frame when present, else the instance's.
    pub fn frame_position(&self, frame: u32) -> Option<[f64; 3]> {
        self.frames
            .get(frame as usize)
            .and_then(|f| f.image_position_patient)
            .or(self.image_position_patient)
    }

    /// Orientation of frame `frame` (0-based): per-frame when present, else the instance's.
    pub fn frame_orientation(&self, frame: u32) -> Option<[f64; 6]> {
        self.frames
            .get(frame as usize)
            .and_then(|f| f.image_orientation_patient)
            .or(self.image_orientation_patient)
    }
}

/// Decodes the kept elements into an [`InstanceHeader`]; fails only on values the pipeline
/// cannot do without (a NumberOfFrames that is not a number), naming the element.
pub fn decode_instance(
    raw: &RawHeader<'_>,
    path: String,
    file_size: u64,
) -> Result<InstanceHeader, String> {
    let charset = find(&raw.elements, tags::SPECIFIC_CHARACTER_SET)
        .and_then(|v| {
            let code = trim_text(v);
            // Multi-valued charsets (ISO 2022 code extensions) start with the default repertoire.
            let first = code
                .split('\\')
                .find(|c| !c.is_empty())
                .unwrap_or("")
                .to_string();
            SpecificCharacterSet::from_code(&first)
        })
        .unwrap_or(SpecificCharacterSet::ISO_IR_6);
    let endian = raw.encoding.endian;
    let text = |tag| {
        find(&raw.elements, tag)
            .map(trim_text)
            .filter(|s| !s.is_empty())
    };
    // Free text (LO), decoded with the dataset's character set.
    let described = |tag| {
        find(&raw.elements, tag)
            .map(|v| decode_text(&charset, v))
            .filter(|s| !s.is_empty())
    };
    let int = |tag| find(&raw.elements, tag).and_then(parse_int);
    let floats = |tag| {
        find(&raw.elements, tag)
            .map(parse_decimals)
            .unwrap_or_default()
    };
    let us = |tag| find(&raw.elements, tag).and_then(|v| parse_u16(v, endian));

    let number_of_frames = match find(&raw.elements, tags::NUMBER_OF_FRAMES) {
        None => 1,
        Some(v) if trim_text(v).is_empty() => 1,
        Some(v) => match parse_int(v) {
            Some(n) if (0..=i64::from(u32::MAX)).contains(&n) => (n as u32).max(1),
            _ => {
                return Err(format!(
                    "NumberOfFrames {} is {:?}, not a frame count",
                    fmt_tag(tags::NUMBER_OF_FRAMES),
                    trim_text(v)
                ));
            }
        },
    };

    let shared = &raw.shared_group;
    // Pixel measures are shared or, in some objects (Siemens XA), repeated per frame: the
    // first frame's stand for the file.
    let first_frame = raw
        .per_frame_groups
        .first()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let shared_floats = |tag| {
        find(shared, tag)
            .or_else(|| find(first_frame, tag))
            .map(parse_decimals)
            .unwrap_or_default()
    };

    let transfer_syntax = raw.transfer_syntax.clone().unwrap_or_else(|| {
        match (raw.encoding.explicit_vr, raw.encoding.endian) {
            (false, _) => "1.2.840.10008.1.2",
            (true, Endian::Little) => "1.2.840.10008.1.2.1",
            (true, Endian::Big) => "1.2.840.10008.1.2.2",
        }
        .to_string()
    });

    let frames = raw
        .per_frame_groups
        .iter()
        .map(|group| decode_frame(group, shared, endian))
        .collect();

    let mut header = InstanceHeader {
        path,
        file_size,
        transfer_syntax,
        sop_class_uid: text(tags::SOP_CLASS_UID),
        sop_instance_uid: text(tags::SOP_INSTANCE_UID),
        study_instance_uid: text(tags::STUDY_INSTANCE_UID),
        series_instance_uid: text(tags::SERIES_INSTANCE_UID),
        modality: text(tags::MODALITY),
        series_number: int(tags::SERIES_NUMBER),
        series_description: described(tags::SERIES_DESCRIPTION),
        study_date: text(tags::STUDY_DATE),
        study_description: described(tags::STUDY_DESCRIPTION),
        protocol_name: described(tags::PROTOCOL_NAME),
        body_part_examined: text(tags::BODY_PART_EXAMINED),
        manufacturer: described(tags::MANUFACTURER),
        manufacturer_model_name: described(tags::MANUFACTURER_MODEL_NAME),
        instance_number: int(tags::INSTANCE_NUMBER),
        slice_location: floats(tags::SLICE_LOCATION).first().copied(),
        image_position_patient: array(&floats(tags::IMAGE_POSITION_PATIENT)),
        image_orientation_patient: array(&floats(tags::IMAGE_ORIENTATION_PATIENT))
            .or_else(|| array(&shared_floats(tags::IMAGE_ORIENTATION_PATIENT))),
        pixel_spacing: array(&floats(tags::PIXEL_SPACING))
            .or_else(|| array(&shared_floats(tags::PIXEL_SPACING))),
        frame_of_reference_uid: text(tags::FRAME_OF_REFERENCE_UID),
        slice_thickness: floats(tags::SLICE_THICKNESS)
            .first()
            .copied()
            .or_else(|| shared_floats(tags::SLICE_THICKNESS).first().copied()),
        rows: us(tags::ROWS),
        columns: us(tags::COLUMNS),
        number_of_frames,
        samples_per_pixel: us(tags::SAMPLES_PER_PIXEL),
        photometric_interpretation: text(tags::PHOTOMETRIC_INTERPRETATION),
        bits_allocated: us(tags::BITS_ALLOCATED),
        bits_stored: us(tags::BITS_STORED),
        pixel_representation: us(tags::PIXEL_REPRESENTATION),
        rescale_slope: floats(tags::RESCALE_SLOPE).first().copied(),
        rescale_intercept: floats(tags::RESCALE_INTERCEPT).first().copied(),
        window_center: floats(tags::WINDOW_CENTER),
        window_width: floats(tags::WINDOW_WIDTH),
        image_type: text(tags::IMAGE_TYPE)
            .map(|s| s.split('\\').map(|p| p.trim().to_string()).collect())
            .unwrap_or_default(),
        echo_number: find(&raw.elements, tags::ECHO_NUMBERS).and_then(parse_int),
        acquisition_number: int(tags::ACQUISITION_NUMBER),
        temporal_position_identifier: int(tags::TEMPORAL_POSITION_IDENTIFIER),
        vr_mode_corrected: raw.vr_mode_corrected,
        pixel_data_offset: raw.pixel_data.map_or(0, |p| p.offset),
        frames,
        mosaic: None,
        complex_component: ge_fieldmap_part(raw, endian)
            .or_else(|| find(&raw.elements, GE_IMAGE_TYPE).and_then(|v| ge_component(v, endian))),
        burned_in_annotation: burned_in::declared(find(&raw.elements, tags::BURNED_IN_ANNOTATION)),
        ultrasound_regions: burned_in::regions(&raw.ultrasound_regions, endian),
        slide: slide::decode(
            &raw.elements,
            &raw.optical_paths,
            text(tags::SOP_CLASS_UID).as_deref(),
            endian,
        ),
    };
    if header.number_of_frames == 1 && header.image_type.iter().any(|t| t == "MOSAIC") {
        let source = MosaicSource {
            rows: header.rows,
            columns: header.columns,
            csa: private_value(&raw.elements, 0x0029, "SIEMENS CSA HEADER", 0x10)
                .and_then(|csa| csa::parse_wanted(csa, super::mosaic::CSA_ELEMENTS)),
            private_tiles: private_value(&raw.elements, 0x0019, "SIEMENS MR HEADER", 0x0A)
                .and_then(|v| parse_u16(v, endian)),
        };
        let spacing = floats(tags::SPACING_BETWEEN_SLICES).first().copied();
        if let Some(mosaic) = Mosaic::from_source(&source) {
            present_mosaic(&mut header, mosaic, spacing);
        }
    }
    Ok(header)
}

/// Presents a mosaic file as a multi-frame instance of its tiles: tile size, tile count, and
/// each tile's position (when the file's position and orientation are known). The slice
/// spacing is SpacingBetweenSlices when positive, else SliceThickness, else 1 mm (as in
/// dcm2niix).
fn present_mosaic(
    header: &mut InstanceHeader,
    mosaic: Mosaic,
    spacing_between_slices: Option<f64>,
) {
    let dz = spacing_between_slices
        .filter(|v| *v > 0.0)
        .or(header.slice_thickness)
        .unwrap_or(1.0);
    let orientation = header.image_orientation_patient;
    let positions = match (header.image_position_patient, orientation) {
        (Some(position), Some(o)) => {
            let spacing = header.pixel_spacing.unwrap_or([1.0, 1.0]);
            mosaic.tile_positions(position, o, spacing, dz)
        }
        _ => Vec::new(),
    };
    header.frames = (0..mosaic.tiles as usize)
        .map(|k| FrameHeader {
            image_position_patient: positions.get(k).copied(),
            image_orientation_patient: orientation,
            ..FrameHeader::default()
        })
        .collect();
    header.rows = Some(mosaic.tile_rows);
    header.columns = Some(mosaic.tile_columns);
    header.number_of_frames = mosaic.tiles;
    header.mosaic = Some(mosaic);
}

/// The value of private element `offset` of `group` in the block reserved by `creator`
/// (block 0x10 when no element names the creator, as Siemens always writes it).
fn private_value<'a>(
    elements: &[RawElement<'a>],
    group: u16,
    creator: &str,
    offset: u16,
) -> Option<&'a [u8]> {
    let block = (0x10..=0xFFu16)
        .find(|&block| {
            find(elements, Tag(group, block))
                .is_some_and(|v| trim_text(v).eq_ignore_ascii_case(creator))
        })
        .unwrap_or(0x10);
    find(elements, Tag(group, (block << 8) | offset))
}

/// One frame's values: its own functional groups, falling back to the shared ones.
fn decode_frame(
    group: &[RawElement<'_>],
    shared: &[RawElement<'_>],
    endian: Endian,
) -> FrameHeader {
    let either = |tag| find(group, tag).or_else(|| find(shared, tag));
    let decimals = |tag| either(tag).map(parse_decimals).unwrap_or_default();
    let unsigned = |tag| {
        either(tag)
            .map(|v| parse_u32s(v, endian))
            .unwrap_or_default()
    };
    FrameHeader {
        image_position_patient: array(&decimals(tags::IMAGE_POSITION_PATIENT)),
        image_orientation_patient: array(&decimals(tags::IMAGE_ORIENTATION_PATIENT)),
        stack_id: either(tags::STACK_ID)
            .map(trim_text)
            .filter(|s| !s.is_empty()),
        in_stack_position: unsigned(tags::IN_STACK_POSITION_NUMBER).first().copied(),
        temporal_position_index: unsigned(tags::TEMPORAL_POSITION_INDEX).first().copied(),
        dimension_index_values: unsigned(tags::DIMENSION_INDEX_VALUES),
        rescale_slope: decimals(tags::RESCALE_SLOPE).first().copied(),
        rescale_intercept: decimals(tags::RESCALE_INTERCEPT).first().copied(),
        window_center: decimals(tags::WINDOW_CENTER).first().copied(),
        window_width: decimals(tags::WINDOW_WIDTH).first().copied(),
        complex_component: either(tags::COMPLEX_IMAGE_COMPONENT)
            .map(trim_text)
            .filter(|s| !s.is_empty()),
        // FD: one binary float64.
        echo_time: either(tags::EFFECTIVE_ECHO_TIME)
            .and_then(|v| {
                let bytes: [u8; 8] = v.get(..8)?.try_into().ok()?;
                Some(match endian {
                    Endian::Little => f64::from_le_bytes(bytes),
                    Endian::Big => f64::from_be_bytes(bytes),
                })
            })
            .filter(|te| te.is_finite()),
        slide_position: slide::frame_position(&either, endian),
        z_offset: decimals(tags::Z_OFFSET_IN_SLIDE_COORDINATE_SYSTEM)
            .first()
            .copied(),
        optical_path: either(tags::OPTICAL_PATH_IDENTIFIER)
            .map(trim_text)
            .filter(|s| !s.is_empty()),
        diffusion: frame_diffusion::decode(group, shared, endian),
    }
}

/// The part of a GE B0 fieldmap series an image belongs to: the first volume (InstanceNumber
/// up to GE's locations in acquisition) is the field map in Hz (REAL), the second the
/// magnitude; dcm2niix writes them apart. `None` for other images.
fn ge_fieldmap_part(raw: &RawHeader<'_>, endian: Endian) -> Option<String> {
    let text = |tag| find(&raw.elements, tag).map(trim_text);
    let locations = find(&raw.elements, GE_LOCATIONS)
        .and_then(|v| parse_u16(v, endian))
        .map(|l| i64::from(l as i16));
    let hz = super::ge_fieldmap::is_hz_map(
        text(GE_INTERNAL_PULSE_SEQUENCE).as_deref(),
        text(GE_PULSE_SEQUENCE).as_deref(),
        locations,
        find(&raw.elements, tags::IMAGES_IN_ACQUISITION).and_then(parse_int),
        find(&raw.elements, tags::INSTANCE_NUMBER).and_then(parse_int),
    )?;
    Some(if hz { "REAL" } else { "MAGNITUDE" }.to_string())
}

/// GE's image type as a ComplexImageComponent term.
fn ge_component(value: &[u8], endian: Endian) -> Option<String> {
    let term = match parse_u16(value, endian)? as i16 {
        0 => "MAGNITUDE",
        1 => "PHASE",
        2 => "REAL",
        3 => "IMAGINARY",
        _ => return None,
    };
    Some(term.to_string())
}

fn find<'a>(elements: &[RawElement<'a>], tag: Tag) -> Option<&'a [u8]> {
    elements.iter().find(|(t, _)| *t == tag).map(|(_, v)| *v)
}

fn decode_text(charset: &SpecificCharacterSet, value: &[u8]) -> String {
    charset
        .decode(value)
        .map(|s| s.trim_matches(|c: char| c == ' ' || c == '\0').to_string())
        .unwrap_or_else(|_| trim_text(value))
}

fn array<const N: usize>(values: &[f64]) -> Option<[f64; N]> {
    values.get(..N)?.try_into().ok()
}

/// Parses an IS value (first of several); tolerates padding, a sign and integral decimals ("3.0").
pub fn parse_int(value: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(value).ok()?;
    let first = text
        .split('\\')
        .next()?
        .trim_matches(|c: char| c == ' ' || c == '\0');
    if let Ok(n) = first.parse::<i64>() {
        return Some(n);
    }
    let f = first.parse::<f64>().ok()?;
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

/// Parses a multi-valued DS value; stops at the first value that is not a finite number.
pub fn parse_decimals(value: &[u8]) -> Vec<f64> {
    let Ok(text) = std::str::from_utf8(value) else {
        return Vec::new();
    };
    text.trim_matches(|c: char| c == ' ' || c == '\0')
        .split('\\')
        .map(|p| {
            p.trim_matches(|c: char| c == ' ' || c == '\0')
                .parse::<f64>()
        })
        .map_while(|r| r.ok().filter(|f| f.is_finite()))
        .collect()
}

fn parse_u16(value: &[u8], endian: Endian) -> Option<u16> {
    let bytes: [u8; 2] = value.get(..2)?.try_into().ok()?;
    Some(match endian {
        Endian::Little => u16::from_le_bytes(bytes),
        Endian::Big => u16::from_be_bytes(bytes),
    })
}

fn parse_u32s(value: &[u8], endian: Endian) -> Vec<u32> {
    value
        .chunks_exact(4)
        .map(|c| {
            let bytes = [c[0], c[1], c[2], c[3]];
            match endian {
                Endian::Little => u32::from_le_bytes(bytes),
                Endian::Big => u32::from_be_bytes(bytes),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_tolerate_padding_signs_and_integral_decimals() {
        assert_eq!(parse_int(b" 12 "), Some(12));
        assert_eq!(parse_int(b"+3\0"), Some(3));
        assert_eq!(parse_int(b"-4"), Some(-4));
        assert_eq!(parse_int(b"5.0"), Some(5));
        assert_eq!(parse_int(b"7\\8"), Some(7));
        assert_eq!(parse_int(b"1A"), None);
        assert_eq!(parse_int(b"2.5"), None);
        assert_eq!(parse_int(b""), None);
    }

    #[test]
    fn decimals_are_multi_valued_and_reject_non_finite() {
        assert_eq!(parse_decimals(b"-1.5\\2e1\\ 3 "), vec![-1.5, 20.0, 3.0]);
        assert_eq!(parse_decimals(b"1\\NaN\\3"), vec![1.0]);
        assert!(parse_decimals(b"").is_empty());
        assert_eq!(array::<3>(&parse_decimals(b"1\\2")), None);
    }

    #[test]
    fn binary_values_follow_the_byte_order() {
        assert_eq!(parse_u16(&[0x00, 0x02], Endian::Little), Some(512));
        assert_eq!(parse_u16(&[0x02, 0x00], Endian::Big), Some(512));
        assert_eq!(
            parse_u32s(&[1, 0, 0, 0, 2, 0, 0, 0], Endian::Little),
            vec![1, 2]
        );
    }
}
