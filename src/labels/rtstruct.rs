//! RTSTRUCT: ROIs, and their contours in patient millimetres with the images they lie on.

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::Segment;
use super::attributes::{floats, int, ints, items, text};
use super::colour::default_colour;

/// ContourGeometricType.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Geometry {
    ClosedPlanar,
    OpenPlanar,
    Point,
}

/// One contour of an ROI.
#[derive(Debug, Clone, PartialEq)]
pub struct Contour {
    /// Index of the ROI in [`StructureSet::rois`].
    pub roi: usize,
    /// 1-based position of the contour in its ROI's ContourSequence (for messages).
    pub number: usize,
    pub geometry: Geometry,
    /// Points in patient millimetres.
    pub points: Vec<[f64; 3]>,
    /// Images it lies on (Contour Image Sequence): SOP Instance UID and frame (1-based).
    pub images: Vec<(String, Option<u32>)>,
}

/// A parsed RTSTRUCT.
#[derive(Debug, Clone, PartialEq)]
pub struct StructureSet {
    /// ROIs as segments (number = ROINumber, name = ROIName, colour = ROIDisplayColor).
    pub rois: Vec<Segment>,
    /// Frame of Reference of each ROI (ReferencedFrameOfReferenceUID), by index.
    pub roi_frames_of_reference: Vec<Option<String>>,
    pub contours: Vec<Contour>,
    /// Problems with single contours or ROIs (the rest is placed): (what, reason).
    pub problems: Vec<(String, String)>,
}

impl StructureSet {
    /// Reads ROIs and contours; a contour that cannot be used is listed in `problems`.
    pub fn read(object: &InMemDicomObject) -> Result<StructureSet, String> {
        let mut set = StructureSet {
            rois: Vec::new(),
            roi_frames_of_reference: Vec::new(),
            contours: Vec::new(),
            problems: Vec::new(),
        };
        for item in items(object, tags::STRUCTURE_SET_ROI_SEQUENCE) {
            let Some(number) = int(item, tags::ROI_NUMBER).and_then(|n| u16::try_from(n).ok())
            else {
                set.problems
                    .push(("an ROI".into(), "no usable ROINumber".into()));
                continue;
            };
            set.rois.push(Segment {
                number,
                name: text(item, tags::ROI_NAME).unwrap_or_else(|| format!("ROI {number}")),
                color: default_colour(set.rois.len()),
            });
            set.roi_frames_of_reference
                .push(text(item, tags::REFERENCED_FRAME_OF_REFERENCE_UID));
        }
        if set.rois.is_empty() {
            return Err("RTSTRUCT without a usable StructureSetROISequence".into());
        }
        for roi_contour in items(object, tags::ROI_CONTOUR_SEQUENCE) {
            let number = int(roi_contour, tags::REFERENCED_ROI_NUMBER);
            let Some(roi) = set
                .rois
                .iter()
                .position(|r| Some(i64::from(r.number)) == number)
            else {
                set.problems.push((
                    format!(
                        "ROI contour of ROI {}",
                        number.map_or("?".into(), |n| n.to_string())
                    ),
                    "its ROI is not in the StructureSetROISequence".into(),
                ));
                continue;
            };
            if let [r, g, b] = ints(roi_contour, tags::ROI_DISPLAY_COLOR)[..] {
                set.rois[roi].color = [r, g, b].map(|c| c.clamp(0, 255) as u8);
            }
            let name = set.rois[roi].name.clone();
            for (i, contour) in items(roi_contour, tags::CONTOUR_SEQUENCE)
                .iter()
                .enumerate()
            {
                let what = format!("ROI {name:?} contour {}", i + 1);
                match read_contour(contour, roi, i + 1) {
                    Ok(contour) => set.contours.push(contour),
                    Err(reason) => set.problems.push((what, reason)),
                }
            }
        }
        Ok(set)
    }
}

fn read_contour(item: &InMemDicomObject, roi: usize, number: usize) -> Result<Contour, String> {
    let geometry = match text(item, tags::CONTOUR_GEOMETRIC_TYPE).as_deref() {
        Some("CLOSED_PLANAR") => Geometry::ClosedPlanar,
        Some("OPEN_PLANAR" | "OPEN_NONPLANAR") => Geometry::OpenPlanar,
        Some("POINT") => Geometry::Point,
        other => return Err(format!("ContourGeometricType {other:?} is not supported")),
    };
    let data = floats(item, tags::CONTOUR_DATA);
    if !data.len().is_multiple_of(3) {
        return Err(format!(
            "ContourData has {} values, not triplets",
            data.len()
        ));
    }
    if data.iter().any(|v| !v.is_finite()) {
        return Err("ContourData holds a NaN or infinite value".into());
    }
    let points: Vec<[f64; 3]> = data.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();
    let needed = match geometry {
        Geometry::ClosedPlanar => 3,
        Geometry::OpenPlanar => 2,
        Geometry::Point => 1,
    };
    if points.len() < needed {
        return Err(format!(
            "{} points, fewer than the {needed} a {geometry:?} contour needs",
            points.len()
        ));
    }
    let images = items(item, tags::CONTOUR_IMAGE_SEQUENCE)
        .iter()
        .filter_map(|image| {
            let uid = text(image, tags::REFERENCED_SOP_INSTANCE_UID)?;
            let frame =
                int(image, tags::REFERENCED_FRAME_NUMBER).and_then(|n| u32::try_from(n).ok());
            Some((uid, frame))
        })
        .collect();
    Ok(Contour {
        roi,
        number,
        geometry,
        points,
        images,
    })
}
