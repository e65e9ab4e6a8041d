//! One label object placed on item frames: its shapes by target, and what could not be placed.

use std::collections::BTreeMap;

use bytes::Bytes;
use rayon::prelude::*;

use super::Segment;
use super::mask::Mask;
use super::place::{Frames, Miss, Target};
use super::plane::Plane;
use super::rtstruct::{Contour, Geometry, StructureSet};
use super::seg::{Segmentation, frame_masks};
use crate::render::decode::{DicomImage, open_dataset};
use crate::scan::{InstanceHeader, LabelClass};

/// How labels are read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelOptions {
    /// Fraction of MaximumFractionalValue from which a fractional SEG pixel is in its segment.
    pub seg_threshold: f64,
}

impl Default for LabelOptions {
    fn default() -> Self {
        LabelOptions { seg_threshold: 0.5 }
    }
}

/// A label on one frame, in that frame's pixel coordinates (pixel centres at whole numbers).
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Mask(Mask),
    /// Closed contours, filled together by the even-odd rule (holes inside).
    Polygons(Vec<Vec<[f64; 2]>>),
    Line(Vec<[f64; 2]>),
    Points(Vec<[f64; 2]>),
}

/// A label object placed on item frames.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub class: LabelClass,
    pub segments: Vec<Segment>,
    /// Shapes by frame and segment number, in frame order.
    pub shapes: BTreeMap<(Target, u16), Vec<Shape>>,
    /// Parts not placed: (what, why).
    pub problems: Vec<(String, String)>,
    /// Placed, with a caveat.
    pub warnings: Vec<String>,
}

/// Reads the label object `header` (its file is `bytes`) and places it on `frames`. An error
/// means the object as a whole cannot be used; parts that cannot be placed are its problems.
pub fn place_object(
    bytes: Bytes,
    header: &InstanceHeader,
    frames: &Frames<'_>,
    options: LabelOptions,
) -> Result<Placed, String> {
    let class = LabelClass::of(header.sop_class_uid.as_deref()).ok_or("not a label object")?;
    let placed = match class {
        LabelClass::Segmentation => place_seg(bytes, header, frames, options)?,
        LabelClass::StructureSet => place_contours(&bytes, frames)?,
    };
    if placed.shapes.is_empty() {
        let why = match placed.problems.first() {
            Some((what, reason)) => format!("placed on no frame: {what}: {reason}"),
            None => "placed on no frame: it holds no label".into(),
        };
        return Err(why);
    }
    Ok(placed)
}

fn place_seg(
    bytes: Bytes,
    header: &InstanceHeader,
    frames: &Frames<'_>,
    options: LabelOptions,
) -> Result<Placed, String> {
    let image = DicomImage::from_shared(bytes)
        .map_err(|e| e.0)?
        .without_palette();
    let sop_class = header.sop_class_uid.as_deref().unwrap_or_default();
    let seg = Segmentation::read(&image, sop_class)?;
    let orientation = seg.orientation.and_then(|o| {
        let probe = InstanceHeader {
            image_position_patient: Some([0.0; 3]),
            image_orientation_patient: Some(o),
            pixel_spacing: Some([1.0, 1.0]),
            rows: Some(1),
            columns: Some(1),
            ..Default::default()
        };
        Plane::of(&probe, 0)
    });
    struct FrameResult {
        shapes: Vec<(Target, u16, Mask)>,
        problems: Vec<(String, String)>,
        warning: Option<String>,
    }
    let results: Vec<FrameResult> = (0..seg.frames.len())
        .into_par_iter()
        .map(|i| {
            let what = format!("frame {}", i + 1);
            let mut result = FrameResult {
                shapes: Vec::new(),
                problems: Vec::new(),
                warning: None,
            };
            let frame = &seg.frames[i];
            let targets: Vec<Result<Vec<Target>, Miss>> = if frame.sources.is_empty() {
                match frame.position {
                    Some(at) => vec![frames.by_plane(
                        seg.frame_of_reference_uid.as_deref(),
                        &[at],
                        orientation.as_ref(),
                    )],
                    None => vec![Err(Miss::NoPlane)],
                }
            } else {
                frame
                    .sources
                    .iter()
                    .map(|(uid, number)| frames.by_reference(uid, *number))
                    .collect()
            };
            let mut found = Vec::new();
            for target in targets {
                match target {
                    Ok(targets) => found.extend(targets),
                    Err(miss) => result.problems.push((what.clone(), miss_reason(&miss))),
                }
            }
            // Every target must be of a series the SEG names, in its Frame of Reference.
            found.retain(|&target| {
                let image = frames.header(target);
                let series = image.and_then(|h| h.series_instance_uid.as_deref());
                if !seg.referenced_series.is_empty()
                    && !series.is_some_and(|s| seg.referenced_series.iter().any(|r| r == s))
                {
                    result.problems.push((
                        what.clone(),
                        "references an image of a series the SEG's ReferencedSeriesSequence does not list".into(),
                    ));
                    return false;
                }
                let image_for = image.and_then(|h| h.frame_of_reference_uid.as_deref());
                if seg.frame_of_reference_uid.is_some()
                    && image_for.is_some()
                    && image_for != seg.frame_of_reference_uid.as_deref()
                {
                    result.warning = Some(
                        "its Frame of Reference differs from its images': placed through the image references".into(),
                    );
                }
                true
            });
            if found.is_empty() {
                return result;
            }
            match frame_masks(&image, &seg, i, options.seg_threshold) {
                Err(reason) => result.problems.push((what, reason)),
                Ok(masks) => {
                    for target in found {
                        let size = frames.plane(target).map(|p| (p.width, p.height));
                        for (number, mask) in &masks {
                            if size.is_some_and(|s| s != (mask.width, mask.height)) {
                                result.problems.push((
                                    what.clone(),
                                    format!(
                                        "{}x{} pixels, but its image has another size",
                                        mask.width, mask.height
                                    ),
                                ));
                                continue;
                            }
                            result.shapes.push((target, *number, mask.clone()));
                        }
                    }
                }
            }
            result
        })
        .collect();
    let mut placed = Placed {
        class: LabelClass::Segmentation,
        segments: seg.segments.clone(),
        shapes: BTreeMap::new(),
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    let mut masks: BTreeMap<(Target, u16), Mask> = BTreeMap::new();
    for result in results {
        placed.problems.extend(result.problems);
        if let Some(warning) = result.warning
            && !placed.warnings.contains(&warning)
        {
            placed.warnings.push(warning);
        }
        for (target, number, mask) in result.shapes {
            let merged = match masks.remove(&(target, number)) {
                Some(earlier) => earlier.union(&mask),
                None => mask,
            };
            masks.insert((target, number), merged);
        }
    }
    placed.shapes = masks
        .into_iter()
        .map(|(key, mask)| (key, vec![Shape::Mask(mask)]))
        .collect();
    Ok(placed)
}

fn place_contours(bytes: &[u8], frames: &Frames<'_>) -> Result<Placed, String> {
    let object = open_dataset(bytes).map_err(|e| e.0)?;
    let set = StructureSet::read(&object)?;
    let mut placed = Placed {
        class: LabelClass::StructureSet,
        segments: set.rois.clone(),
        shapes: BTreeMap::new(),
        problems: set.problems.clone(),
        warnings: Vec::new(),
    };
    for contour in &set.contours {
        let roi = &set.rois[contour.roi];
        let what = format!("ROI {:?} contour {}", roi.name, contour.number);
        let roi_for = set.roi_frames_of_reference[contour.roi].as_deref();
        match place_contour(contour, roi_for, frames) {
            Err(reason) => placed.problems.push((what, reason)),
            Ok(on) => {
                for (target, shape, mismatch) in on {
                    if mismatch {
                        let warning = "its Frame of Reference differs from its images': placed through the Contour Image Sequence".to_string();
                        if !placed.warnings.contains(&warning) {
                            placed.warnings.push(warning);
                        }
                    }
                    let shapes = placed.shapes.entry((target, roi.number)).or_default();
                    match (
                        shapes.iter_mut().find(|s| matches!(s, Shape::Polygons(_))),
                        shape,
                    ) {
                        (Some(Shape::Polygons(all)), Shape::Polygons(more)) => all.extend(more),
                        (_, shape) => shapes.push(shape),
                    }
                }
            }
        }
    }
    Ok(placed)
}

/// The item frames a contour lies on, its shape on each, and whether its ROI's Frame of
/// Reference differs from the image's (allowed only through an image reference).
fn place_contour(
    contour: &Contour,
    roi_for: Option<&str>,
    frames: &Frames<'_>,
) -> Result<Vec<(Target, Shape, bool)>, String> {
    let targets = match contour.images.first() {
        Some((uid, number)) => frames.by_reference(uid, *number),
        None => frames.by_plane(roi_for, &contour.points, None),
    }
    .map_err(|miss| miss_reason(&miss))?;
    targets
        .into_iter()
        .map(|target| contour_on(contour, roi_for, frames, target))
        .collect()
}

/// A contour on the frame `target`, in its pixel coordinates.
fn contour_on(
    contour: &Contour,
    roi_for: Option<&str>,
    frames: &Frames<'_>,
    target: Target,
) -> Result<(Target, Shape, bool), String> {
    let plane = frames
        .plane(target)
        .ok_or("its image has no complete geometry (position, orientation, pixel spacing)")?;
    let image_for = frames
        .header(target)
        .and_then(|h| h.frame_of_reference_uid.as_deref());
    let mismatch = roi_for.is_some() && image_for.is_some() && roi_for != image_for;
    let tolerance = frames.tolerance(target).max(0.01);
    let mut pixels = Vec::with_capacity(contour.points.len());
    for &point in &contour.points {
        let (xy, off) = plane.to_pixel(point);
        if off.abs() > tolerance {
            return Err(format!(
                "lies {:.2} mm off the plane of its image (more than half a slice)",
                off.abs()
            ));
        }
        pixels.push(xy);
    }
    let shape = match contour.geometry {
        Geometry::ClosedPlanar => Shape::Polygons(vec![pixels]),
        Geometry::OpenPlanar => Shape::Line(pixels),
        Geometry::Point => Shape::Points(pixels),
    };
    Ok((target, shape, mismatch))
}

fn miss_reason(miss: &Miss) -> String {
    match miss {
        Miss::NotInSource(uid) => {
            format!("references image {uid}, which is not among the converted images")
        }
        Miss::NoPlane => {
            "no image reference, and no converted image of its Frame of Reference lies on its plane"
                .into()
        }
        Miss::FrameOfReference => {
            "no image reference, and its Frame of Reference matches no converted image".into()
        }
    }
}
