//! Labels in: DICOM SEG and RTSTRUCT objects placed on the frames of the items they reference,
//! as masks, polygons, lines and points in each frame's pixel coordinates.
//!
//! - [`seg`], [`rtstruct`]: what the objects say (pure over a parsed data set);
//! - [`place`], [`plane`]: which item frame each SEG frame or contour belongs to;
//! - [`mask`], [`raster`]: masks as runs, polygon fills and pixel-edge outlines;
//! - [`colour`]: display colours;
//! - [`darwin`], [`encord`]: the platforms' annotation files of one item.

mod attributes;
pub mod colour;
pub mod darwin;
pub mod encord;
pub mod label_map;
pub mod layers;

pub mod mask;
pub mod outline;
pub mod place;
mod placing;
pub mod plane;
pub mod raster;
pub mod references;
pub mod rtstruct;
pub mod seg;

pub use placing::{LabelOptions, Placed, Shape, place_object};

/// A segment of a SEG or an ROI of an RTSTRUCT.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// SegmentNumber or ROINumber.
    pub number: u16,
    /// SegmentLabel or ROIName.
    pub name: String,
    /// sRGB display colour.
    pub color: [u8; 3],
}
