//! The walk over the top-level dataset: which elements are kept, and the functional groups of
//! enhanced multi-frame files.

use dicom_core::Tag;
use dicom_dictionary_std::tags;

use super::cursor::{Cursor, ElementHeader};
use super::diffusion::{self, read_mr_diffusion};
use super::{PixelDataInfo, RawElement, RawHeader, ReadError, UNDEFINED, fmt_tag, trim_text};

/// Top-level tags whose values the scan keeps.
pub(super) const TOP_LEVEL_TAGS: &[Tag] = &[
    tags::SPECIFIC_CHARACTER_SET,
    tags::IMAGE_TYPE,
    tags::SOP_CLASS_UID,
    tags::SOP_INSTANCE_UID,
    tags::STUDY_DATE,
    tags::MODALITY,
    tags::MANUFACTURER,
    tags::STUDY_DESCRIPTION,
    tags::SERIES_DESCRIPTION,
    tags::MANUFACTURER_MODEL_NAME,
    tags::BODY_PART_EXAMINED,
    tags::SLICE_THICKNESS,
    tags::ECHO_NUMBERS,
    tags::SPACING_BETWEEN_SLICES,
    tags::PROTOCOL_NAME,
    tags::STUDY_INSTANCE_UID,
    tags::SERIES_INSTANCE_UID,
    tags::SERIES_NUMBER,
    tags::ACQUISITION_NUMBER,
    tags::INSTANCE_NUMBER,
    tags::IMAGE_POSITION_PATIENT,
    tags::IMAGE_ORIENTATION_PATIENT,
    tags::FRAME_OF_REFERENCE_UID,
    tags::TEMPORAL_POSITION_IDENTIFIER,
    tags::SOP_INSTANCE_UID_OF_CONCATENATION_SOURCE,
    tags::IMAGES_IN_ACQUISITION,
    tags::SLICE_LOCATION,
    tags::CONCATENATION_UID,
    tags::IN_CONCATENATION_NUMBER,
    tags::CONCATENATION_FRAME_OFFSET_NUMBER,
    tags::DIMENSION_ORGANIZATION_TYPE,
    tags::SAMPLES_PER_PIXEL,
    tags::PHOTOMETRIC_INTERPRETATION,
    tags::NUMBER_OF_FRAMES,
    tags::ROWS,
    tags::COLUMNS,
    tags::PIXEL_SPACING,
    tags::BITS_ALLOCATED,
    tags::BITS_STORED,
    tags::PIXEL_REPRESENTATION,
    tags::BURNED_IN_ANNOTATION,
    tags::WINDOW_CENTER,
    tags::WINDOW_WIDTH,
    tags::RESCALE_INTERCEPT,
    tags::RESCALE_SLOPE,
    tags::TOTAL_PIXEL_MATRIX_COLUMNS,
    tags::TOTAL_PIXEL_MATRIX_ROWS,
    tags::NUMBER_OF_OPTICAL_PATHS,
    tags::TOTAL_PIXEL_MATRIX_FOCAL_PLANES,
];

/// Sequences inside a functional-group item that the scan descends into.
const FUNCTIONAL_GROUP_SEQUENCES: &[Tag] = &[
    tags::FRAME_CONTENT_SEQUENCE,
    tags::PLANE_POSITION_SEQUENCE,
    tags::PLANE_ORIENTATION_SEQUENCE,
    tags::PIXEL_MEASURES_SEQUENCE,
    tags::FRAME_VOILUT_SEQUENCE,
    tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE,
    tags::MR_IMAGE_FRAME_TYPE_SEQUENCE,
    tags::MR_ECHO_SEQUENCE,
    tags::PLANE_POSITION_SLIDE_SEQUENCE,
    tags::OPTICAL_PATH_IDENTIFICATION_SEQUENCE,
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
    tags::COMPLEX_IMAGE_COMPONENT,
    tags::EFFECTIVE_ECHO_TIME,
    tags::COLUMN_POSITION_IN_TOTAL_IMAGE_PIXEL_MATRIX,
    tags::ROW_POSITION_IN_TOTAL_IMAGE_PIXEL_MATRIX,
    tags::Z_OFFSET_IN_SLIDE_COORDINATE_SYSTEM,
    tags::OPTICAL_PATH_IDENTIFIER,
];

/// GE's image type (0043,102F, SS): 0/1/2/3 for magnitude/phase/real/imaginary.
pub(crate) const GE_IMAGE_TYPE: Tag = Tag(0x0043, 0x102F);
/// GE's pulse sequence name (0019,109C) and internal one (0019,109E), both LO.
pub(crate) const GE_PULSE_SEQUENCE: Tag = Tag(0x0019, 0x109C);
pub(crate) const GE_INTERNAL_PULSE_SEQUENCE: Tag = Tag(0x0019, 0x109E);
/// GE's locations in acquisition (0021,104F, SS): slices per volume.
pub(crate) const GE_LOCATIONS: Tag = Tag(0x0021, 0x104F);

/// Walks the top-level dataset, keeping wanted elements and descending into functional groups.
///
/// With `strict_order`, tags must ascend (used to judge whether meta-less bytes are DICOM at all).
pub(super) fn read_dataset<'a>(
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
            tags::SEQUENCE_OF_ULTRASOUND_REGIONS => {
                read_items(
                    cursor,
                    &element,
                    REGION_TAGS,
                    &mut header.ultrasound_regions,
                )?;
            }
            tags::OPTICAL_PATH_SEQUENCE => {
                read_items(
                    cursor,
                    &element,
                    OPTICAL_PATH_TAGS,
                    &mut header.optical_paths,
                )?;
            }
            _ if element.length != UNDEFINED
                && (TOP_LEVEL_TAGS.binary_search(&tag).is_ok() || keeps_private(tag, header)) =>
            {
                let value = cursor.value(&element)?;
                header.elements.push((tag, value));
            }
            _ => cursor.skip_value(&element, 0)?,
        }
    }
}

/// GE's image type and fieldmap facts, and the Siemens private elements a mosaic needs ([`crate::scan::mosaic`]): the private creators of
/// groups 0019 and 0029 (short), and, once ImageType says MOSAIC, the candidates for
/// NumberOfImagesInMosaic (0019,xx0A) and the CSA image header (0029,xx10). Which block is
/// Siemens' is decided from the creators when the header is decoded.
fn keeps_private(tag: Tag, header: &RawHeader<'_>) -> bool {
    if matches!(
        tag,
        GE_IMAGE_TYPE | GE_PULSE_SEQUENCE | GE_INTERNAL_PULSE_SEQUENCE | GE_LOCATIONS
    ) {
        return true;
    }
    let (group, element) = (tag.0, tag.1);
    if group != 0x0019 && group != 0x0029 {
        return false;
    }
    if (0x0010..=0x00FF).contains(&element) {
        return true;
    }
    let block = element >> 8;
    let offset = element & 0xFF;
    (0x10..=0xFF).contains(&block)
        && ((group, offset) == (0x0019, 0x0A) || (group, offset) == (0x0029, 0x10))
        && is_mosaic_so_far(header)
}

/// Whether the ImageType kept so far (it precedes the private groups) holds MOSAIC.
fn is_mosaic_so_far(header: &RawHeader<'_>) -> bool {
    header
        .elements
        .iter()
        .find(|(t, _)| *t == tags::IMAGE_TYPE)
        .is_some_and(|(_, v)| {
            v.split(|&b| b == b'\\')
                .any(|part| trim_text(part) == "MOSAIC")
        })
}

/// The location of each item of a Sequence of Ultrasound Regions.
const REGION_TAGS: &[Tag] = &[
    tags::REGION_LOCATION_MIN_X0,
    tags::REGION_LOCATION_MIN_Y0,
    tags::REGION_LOCATION_MAX_X1,
    tags::REGION_LOCATION_MAX_Y1,
];

/// The identifier and objective of each item of an Optical Path Sequence (slides).
const OPTICAL_PATH_TAGS: &[Tag] = &[tags::OPTICAL_PATH_IDENTIFIER, tags::OBJECTIVE_LENS_POWER];

/// Reads a top-level sequence: the `wanted` elements of each item (nothing nested).
fn read_items<'a>(
    cursor: &mut Cursor<'a>,
    sequence: &ElementHeader,
    wanted: &[Tag],
    out: &mut Vec<Vec<RawElement<'a>>>,
) -> Result<(), ReadError> {
    cursor.for_each_item(sequence, 1, &mut |cursor, item_end| {
        let mut kept = Vec::new();
        cursor.for_each_element(item_end, 2, &mut |cursor, element| {
            if wanted.contains(&element.tag) && element.length != UNDEFINED {
                kept.push((element.tag, cursor.value(&element)?));
                Ok(())
            } else {
                if diffusion::is_loose(element.tag) {
                    kept.push(diffusion::UNREAD);
                }
                cursor.skip_value(&element, 3)
            }
        })?;
        out.push(kept);
        Ok(())
    })
}

/// Reads a functional groups sequence: one list of kept leaf elements per item (with the
/// diffusion weighting, see [`diffusion`]).
fn read_functional_groups<'a>(
    cursor: &mut Cursor<'a>,
    sequence: &ElementHeader,
    out: &mut Vec<Vec<RawElement<'a>>>,
) -> Result<(), ReadError> {
    cursor.for_each_item(sequence, 1, &mut |cursor, item_end| {
        let mut kept = Vec::new();
        cursor.for_each_element(item_end, 2, &mut |cursor, element| {
            if element.tag == tags::MR_DIFFUSION_SEQUENCE {
                read_mr_diffusion(cursor, &element, 2, &mut kept)
            } else if FUNCTIONAL_GROUP_SEQUENCES.contains(&element.tag) {
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
