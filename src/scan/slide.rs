//! What a slide-microscopy header says (VL Whole Slide Microscopy, PS3.3 A.32.8): the size of
//! the whole pixel matrix its frames tile, how they tile it, its optical paths and focal
//! planes, and the concatenation it is part of.

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use serde::{Deserialize, Serialize};

use super::reader::{Endian, RawElement, trim_text};

/// VL Whole Slide Microscopy Image Storage.
pub const WHOLE_SLIDE_CLASS: &str = "1.2.840.10008.5.1.4.1.1.77.1.6";

/// The slide facts of one instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlideHeader {
    /// TotalPixelMatrixColumns and Rows: the size of the image its frames tile.
    pub total_columns: u32,
    pub total_rows: u32,
    /// DimensionOrganizationType: `TILED_FULL`, `TILED_SPARSE`, or absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// TotalPixelMatrixFocalPlanes (1 when absent).
    pub focal_planes: u32,
    /// OpticalPathIdentifier of each Optical Path Sequence item, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub optical_paths: Vec<String>,
    /// ObjectiveLensPower of the first optical path that gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective_power: Option<f64>,
    /// Part of a concatenation: one image whose frames are split over several instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concatenation: Option<Concatenation>,
}

/// Where an instance lies in a concatenation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Concatenation {
    /// ConcatenationUID, shared by every part.
    pub uid: String,
    /// InConcatenationNumber (1-based).
    pub number: u32,
    /// ConcatenationFrameOffsetNumber: frames of the parts before this one.
    pub frame_offset: u32,
}

/// The slide facts of a whole-slide image (`None` for other SOP classes, or without a total
/// pixel matrix).
pub(super) fn decode<'a>(
    elements: &[RawElement<'a>],
    optical_paths: &[Vec<RawElement<'a>>],
    sop_class: Option<&str>,
    endian: Endian,
) -> Option<SlideHeader> {
    if sop_class != Some(WHOLE_SLIDE_CLASS) {
        return None;
    }
    fn find<'a>(items: &[RawElement<'a>], tag: Tag) -> Option<&'a [u8]> {
        items.iter().find(|(t, _)| *t == tag).map(|(_, v)| *v)
    }
    let ul = |tag| {
        let bytes: [u8; 4] = find(elements, tag)?.get(..4)?.try_into().ok()?;
        Some(match endian {
            Endian::Little => u32::from_le_bytes(bytes),
            Endian::Big => u32::from_be_bytes(bytes),
        })
    };
    let text =
        |items: &[RawElement<'_>], tag| find(items, tag).map(trim_text).filter(|s| !s.is_empty());
    let us = |tag| {
        let bytes: [u8; 2] = find(elements, tag)?.get(..2)?.try_into().ok()?;
        Some(u32::from(match endian {
            Endian::Little => u16::from_le_bytes(bytes),
            Endian::Big => u16::from_be_bytes(bytes),
        }))
    };
    let concatenation = text(elements, tags::CONCATENATION_UID).map(|uid| Concatenation {
        uid,
        number: us(tags::IN_CONCATENATION_NUMBER).unwrap_or(1),
        frame_offset: ul(tags::CONCATENATION_FRAME_OFFSET_NUMBER).unwrap_or(0),
    });
    Some(SlideHeader {
        total_columns: ul(tags::TOTAL_PIXEL_MATRIX_COLUMNS)?,
        total_rows: ul(tags::TOTAL_PIXEL_MATRIX_ROWS)?,
        organization: text(elements, tags::DIMENSION_ORGANIZATION_TYPE),
        focal_planes: ul(tags::TOTAL_PIXEL_MATRIX_FOCAL_PLANES)
            .unwrap_or(1)
            .max(1),
        optical_paths: optical_paths
            .iter()
            .filter_map(|item| text(item, tags::OPTICAL_PATH_IDENTIFIER))
            .collect(),
        objective_power: optical_paths.iter().find_map(|item| {
            text(item, tags::OBJECTIVE_LENS_POWER).and_then(|s| s.parse::<f64>().ok())
        }),
        concatenation,
    })
}

/// A frame's position in the total pixel matrix (Plane Position (Slide): column and row,
/// 1-based; SL).
pub(super) fn frame_position<'a>(
    either: &dyn Fn(Tag) -> Option<&'a [u8]>,
    endian: Endian,
) -> Option<[i32; 2]> {
    let sl = |tag| {
        let bytes: [u8; 4] = either(tag)?.get(..4)?.try_into().ok()?;
        Some(match endian {
            Endian::Little => i32::from_le_bytes(bytes),
            Endian::Big => i32::from_be_bytes(bytes),
        })
    };
    Some([
        sl(tags::COLUMN_POSITION_IN_TOTAL_IMAGE_PIXEL_MATRIX)?,
        sl(tags::ROW_POSITION_IN_TOTAL_IMAGE_PIXEL_MATRIX)?,
    ])
}
