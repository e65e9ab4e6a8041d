//! What the first file of a volume says about its acquisition, beyond the scan record: the
//! facts the voxel layout and geometry depend on. Pure code over a data set.

use crate::scan::reader::Dataset;
use dicom_core::Tag;
use dicom_dictionary_std::tags;

use super::values::{Vendor, first_item, float, text};
use crate::scan::Mosaic;
/// Philips private "scale slope" (FL), and the private per-frame item that holds it in
/// enhanced objects.
const PHILIPS_SCALE_SLOPE: Tag = Tag(0x2005, 0x100E);
const PHILIPS_PRIVATE_FRAME_SEQUENCE: Tag = Tag(0x2005, 0x140F);

/// What the headers of the stack's first file tell beyond the scan record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Acquisition {
    /// Tiles of a Siemens mosaic (CSA NumberOfImagesInMosaic, else (0019,100A)).
    pub mosaic_tiles: Option<u32>,
    /// CSA SliceNormalVector of a mosaic: the direction its tiles are stored in.
    pub mosaic_normal: Option<[f64; 3]>,
    /// The mosaic's first tile is not protocol slice 0 (CSA ProtocolSliceNumber > 1: image
    /// numbering reversed on the scanner): dcm2niix stores its tiles in reverse.
    pub mosaic_reversed: bool,
    /// SpacingBetweenSlices (0018,0088), mm.
    pub spacing_between_slices: Option<f64>,
    /// MRAcquisitionType 3D and not echo-planar: dcm2niix reorients these to the closest
    /// canonical orientation.
    pub reorient_3d: bool,
    /// RepetitionTime, seconds (pixdim[4] of 4D files).
    pub repetition_time: Option<f64>,
    /// GantryDetectorTilt (0018,1120), degrees: dcm2niix measures slice spacing across the
    /// tilt (the distance between slice origins times its cosine).
    pub gantry_tilt: Option<f64>,
    /// Philips "scale slope" (2005,100E): dcm2niix stores Philips floating-point values
    /// (PV·RS + RI) / (RS·SS) instead of the displayed ones.
    pub philips_scale: Option<f64>,
}

/// The acquisition facts of `ds`, the first file of a volume (its frame `frame` for an
/// enhanced object), with the mosaic layout the scan found in it.
pub fn acquisition(ds: &Dataset<'_>, frame: u32, mosaic: Option<&Mosaic>) -> Acquisition {
    let three_d = text(ds, tags::MR_ACQUISITION_TYPE).is_some_and(|t| t == "3D");
    let epi = text(ds, tags::SCANNING_SEQUENCE).is_some_and(|t| t.contains("EP"))
        || text(ds, tags::ECHO_PLANAR_PULSE_SEQUENCE).is_some_and(|t| t.starts_with('Y'));
    Acquisition {
        mosaic_tiles: mosaic.map(|m| m.tiles),
        mosaic_normal: mosaic.and_then(|m| m.slice_normal),
        mosaic_reversed: mosaic.is_some_and(|m| m.reversed),
        spacing_between_slices: float(ds, tags::SPACING_BETWEEN_SLICES).filter(|v| *v > 0.0),
        reorient_3d: three_d && !epi,
        repetition_time: float(ds, tags::REPETITION_TIME).map(|ms| ms / 1000.0),
        gantry_tilt: float(ds, tags::GANTRY_DETECTOR_TILT).filter(|t| *t != 0.0),
        philips_scale: (Vendor::of(ds) == Vendor::Philips)
            .then(|| philips_scale(ds, frame))
            .flatten(),
    }
}

/// Philips' scale slope: at the top level, else in frame `frame`'s private Philips item.
fn philips_scale(ds: &Dataset<'_>, frame: u32) -> Option<f64> {
    let own = |item: &Dataset<'_>| {
        let bytes = item.get(PHILIPS_SCALE_SLOPE)?.bytes();
        let value = f32::from_le_bytes(bytes.get(..4)?.try_into().ok()?);
        (bytes.len() == 4 && value.is_finite() && value != 0.0).then_some(f64::from(value))
    };
    own(ds).or_else(|| {
        let frame = frame_item(ds, frame)?;
        own(&first_item(&frame, PHILIPS_PRIVATE_FRAME_SEQUENCE)?)
    })
}

/// The Per-frame Functional Groups item of frame `frame` (0-based) of an enhanced object.
pub fn frame_item<'t>(ds: &Dataset<'t>, frame: u32) -> Option<Dataset<'t>> {
    ds.item(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, frame as usize)
}
