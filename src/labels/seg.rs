//! DICOM SEG: segments, what each stored frame references, and its masks (binary 1-bit frames
//! that need not start on a byte, fractional frames against a threshold, label maps).

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::Segment;
use super::attributes::{array, first, floats, int, items, text};
use super::colour::{default_colour, from_dicom_lab};
use super::mask::Mask;
use crate::render::decode::{DicomImage, Samples};
use crate::scan::label_class::LABEL_MAP_SEGMENTATION;

/// How the frames hold segments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SegKind {
    /// One bit per pixel.
    Binary,
    /// Values up to `max`: a pixel is in at `threshold * max` or more.
    Fractional { max: f64 },
    /// The value is the segment number (Label Map Segmentation).
    LabelMap,
}

/// What one stored frame is of.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SegFrame {
    /// ReferencedSegmentNumber (none for label maps).
    pub segment: Option<u16>,
    /// Source images: SOP Instance UID and frame number (1-based) when given.
    pub sources: Vec<(String, Option<u32>)>,
    pub position: Option<[f64; 3]>,
}

/// A parsed SEG, pixels left in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Segmentation {
    pub kind: SegKind,
    pub segments: Vec<Segment>,
    pub frames: Vec<SegFrame>,
    pub rows: u32,
    pub columns: u32,
    pub frame_of_reference_uid: Option<String>,
    pub orientation: Option<[f64; 6]>,
    /// Series the SEG says it segments (ReferencedSeriesSequence).
    pub referenced_series: Vec<String>,
}

impl Segmentation {
    /// Reads the segments and per-frame references of `image`; fails on what makes every frame
    /// unusable (an unknown segmentation type, no segments).
    pub fn read(image: &DicomImage, sop_class: &str) -> Result<Segmentation, String> {
        let object = image.dataset();
        let kind = if sop_class == LABEL_MAP_SEGMENTATION {
            SegKind::LabelMap
        } else {
            match text(object, tags::SEGMENTATION_TYPE).as_deref() {
                Some("BINARY") => SegKind::Binary,
                Some("FRACTIONAL") => SegKind::Fractional {
                    max: int(object, tags::MAXIMUM_FRACTIONAL_VALUE)
                        .filter(|&m| m > 0)
                        .ok_or("FRACTIONAL SEG without a positive MaximumFractionalValue")?
                        as f64,
                },
                Some("LABELMAP") => SegKind::LabelMap,
                other => {
                    return Err(format!(
                        "SegmentationType {other:?} is not BINARY, FRACTIONAL or LABELMAP"
                    ));
                }
            }
        };
        let segments: Vec<Segment> = items(object, tags::SEGMENT_SEQUENCE)
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let number = u16::try_from(int(item, tags::SEGMENT_NUMBER)?).ok()?;
                let name =
                    text(item, tags::SEGMENT_LABEL).unwrap_or_else(|| format!("Segment {number}"));
                let lab = floats(item, tags::RECOMMENDED_DISPLAY_CIE_LAB_VALUE);
                let color = match lab[..] {
                    [l, a, b] => from_dicom_lab([l, a, b].map(|v| v.clamp(0.0, 65535.0) as u16)),
                    _ => default_colour(i),
                };
                Some(Segment {
                    number,
                    name,
                    color,
                })
            })
            .collect();
        if segments.is_empty() {
            return Err("SEG without a usable SegmentSequence".into());
        }
        let shared = first(object, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
        let group = |frame, tag| functional_group(frame, shared, tag);
        let per_frame = items(object, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE);
        let count = image.frame_count() as usize;
        let frames = (0..count)
            .map(|i| {
                let item = per_frame.get(i);
                let segment = group(item, tags::SEGMENT_IDENTIFICATION_SEQUENCE)
                    .and_then(|g| int(g, tags::REFERENCED_SEGMENT_NUMBER))
                    .and_then(|n| u16::try_from(n).ok());
                let sources = group(item, tags::DERIVATION_IMAGE_SEQUENCE)
                    .map(|d| items(d, tags::SOURCE_IMAGE_SEQUENCE))
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(|s| {
                        let uid = text(s, tags::REFERENCED_SOP_INSTANCE_UID)?;
                        let frame = int(s, tags::REFERENCED_FRAME_NUMBER)
                            .and_then(|n| u32::try_from(n).ok());
                        Some((uid, frame))
                    })
                    .collect();
                let position = group(item, tags::PLANE_POSITION_SEQUENCE)
                    .and_then(|p| array(p, tags::IMAGE_POSITION_PATIENT));
                SegFrame {
                    segment,
                    sources,
                    position,
                }
            })
            .collect();
        let referenced_series = super::references::referenced_series(object);
        Ok(Segmentation {
            kind,
            segments,
            frames,
            rows: int(object, tags::ROWS).unwrap_or(0) as u32,
            columns: int(object, tags::COLUMNS).unwrap_or(0) as u32,
            frame_of_reference_uid: text(object, tags::FRAME_OF_REFERENCE_UID),
            orientation: group(None, tags::PLANE_ORIENTATION_SEQUENCE)
                .and_then(|p| array(p, tags::IMAGE_ORIENTATION_PATIENT)),
            referenced_series,
        })
    }

    /// Whether segment `number` is in the SegmentSequence.
    pub fn has_segment(&self, number: u16) -> bool {
        self.segments.iter().any(|s| s.number == number)
    }
}

/// The segment stored frame `index` is of (binary and fractional SEGs).
fn frame_segment(seg: &Segmentation, index: usize) -> Result<u16, String> {
    let number = seg.frames[index]
        .segment
        .ok_or("names no segment (SegmentIdentificationSequence)")?;
    if !seg.has_segment(number) {
        return Err(format!(
            "is of segment {number}, which the SegmentSequence does not list"
        ));
    }
    Ok(number)
}

/// Functional group `tag` of a frame's item, else of the shared item.
fn functional_group<'a>(
    frame: Option<&'a InMemDicomObject>,
    shared: Option<&'a InMemDicomObject>,
    tag: dicom_core::Tag,
) -> Option<&'a InMemDicomObject> {
    frame
        .and_then(|f| first(f, tag))
        .or_else(|| shared.and_then(|s| first(s, tag)))
}

/// The masks of stored frame `index` (errors say what is wrong with the frame): `(segment number, mask)` for each segment with a pixel
/// in it (one for binary and fractional frames; each value present for label maps).
/// `threshold` is the fraction of MaximumFractionalValue a fractional pixel needs.
pub fn frame_masks(
    image: &DicomImage,
    seg: &Segmentation,
    index: usize,
    threshold: f64,
) -> Result<Vec<(u16, Mask)>, String> {
    if seg.kind == SegKind::Binary
        && let Some((bytes, offset)) = image.bit_frame(index as u32)
    {
        // 1-bit frames straight from their bits: no widened copy of 262,144 pixels a frame.
        let number = frame_segment(seg, index)?;
        let mask = Mask::from_bits(seg.columns, seg.rows, &bytes, offset);
        return Ok(if mask.is_empty() {
            vec![]
        } else {
            vec![(number, mask)]
        });
    }
    let frame = image.stored_frame(index as u32).map_err(|e| e.0)?;
    let Samples::Grey(values) = frame.samples else {
        return Err("colour pixels in a SEG".into());
    };
    let (width, height) = (frame.width, frame.height);
    let mut all = Vec::with_capacity(values.len());
    values.for_each_in(0..values.len(), |v| all.push(v));
    let in_segment = |cut: i64| Mask::from_pixels(width, height, all.iter().map(|&v| v >= cut));
    match seg.kind {
        SegKind::Binary | SegKind::Fractional { .. } => {
            let number = frame_segment(seg, index)?;
            let cut = match seg.kind {
                SegKind::Fractional { max } => ((threshold * max).ceil() as i64).max(1),
                _ => 1,
            };
            let mask = in_segment(cut);
            Ok(if mask.is_empty() {
                vec![]
            } else {
                vec![(number, mask)]
            })
        }
        SegKind::LabelMap => {
            let mut present: Vec<i64> = all.iter().copied().filter(|&v| v != 0).collect();
            present.sort_unstable();
            present.dedup();
            present
                .into_iter()
                .map(|value| {
                    let number = u16::try_from(value)
                        .ok()
                        .filter(|&n| seg.has_segment(n))
                        .ok_or_else(|| {
                            format!("label value {value} is not a segment of the SegmentSequence")
                        })?;
                    let mask = Mask::from_pixels(width, height, all.iter().map(|&v| v == value));
                    Ok((number, mask))
                })
                .collect()
        }
    }
}
